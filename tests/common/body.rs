//! The one streaming body reader: reads any body (a reqwest response, a
//! curl's stdout, a decoded raw HTTP/1.1 body) to its end, into a [`Sink`],
//! and tells whether it ended complete (`read` returned 0) or was cut off
//! (`read` failed: a missing last chunk, a reset stream, a short body).

use std::io::Read;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use super::data::Checker;

/// Where a body's bytes go.
pub trait Sink: Send + 'static {
    /// The next bytes of the body.
    fn feed(&mut self, data: &[u8]);
    /// Bytes fed so far.
    fn received(&self) -> usize;
}

/// Keeps every byte.
impl Sink for Vec<u8> {
    fn feed(&mut self, data: &[u8]) {
        self.extend_from_slice(data);
    }

    fn received(&self) -> usize {
        self.len()
    }
}

/// Compares the bytes with the expected log as they stream, keeping none
/// (for bodies of hundreds of MiB).
impl Sink for Checker {
    fn feed(&mut self, data: &[u8]) {
        Checker::feed(self, data);
    }

    fn received(&self) -> usize {
        self.received
    }
}

/// Reads `body` to its end into `sink`; `true` if it ended complete.
pub fn read_into(mut body: impl Read, sink: &mut impl Sink) -> bool {
    let mut buf = vec![0u8; 256 * 1024];
    loop {
        match body.read(&mut buf) {
            Ok(0) => return true,
            Ok(n) => sink.feed(&buf[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(_) => return false,
        }
    }
}

/// Reads `body` to its end: its bytes, and `true` if it ended complete.
pub fn read_body(body: impl Read) -> (Vec<u8>, bool) {
    let mut bytes = Vec::new();
    let complete = read_into(body, &mut bytes);
    (bytes, complete)
}

/// How a body read by [`Streamed`] ended.
pub struct Ended<S> {
    /// The sink: the bytes, or the checker that saw them.
    pub data: S,
    /// `true` if the body ended complete, `false` if it was cut off.
    pub complete: bool,
    /// When the end was read.
    pub at: Instant,
}

/// A body read to its end on its own thread, so a test can watch it arrive
/// (`len`, `wait_len`) while it keeps uploading.
pub struct Streamed<S = Vec<u8>> {
    sink: Arc<Mutex<S>>,
    thread: JoinHandle<(bool, Instant)>,
}

/// Bound for a body to end once the test expects it to: only a failing test
/// waits this long.
const END_WITHIN: Duration = Duration::from_secs(120);

impl Streamed<Vec<u8>> {
    /// Reads `body`, keeping its bytes.
    pub fn new(body: impl Read + Send + 'static) -> Self {
        Streamed::into_sink(body, Vec::new())
    }

    /// The bytes so far.
    pub fn bytes(&self) -> Vec<u8> {
        self.sink.lock().unwrap().clone()
    }
}

impl<S: Sink> Streamed<S> {
    /// Reads `body` into `sink`.
    pub fn into_sink(body: impl Read + Send + 'static, sink: S) -> Self {
        let sink = Arc::new(Mutex::new(sink));
        let shared = Arc::clone(&sink);
        let thread = std::thread::spawn(move || {
            struct Shared<S>(Arc<Mutex<S>>);
            impl<S: Sink> Sink for Shared<S> {
                fn feed(&mut self, data: &[u8]) {
                    self.0.lock().unwrap().feed(data);
                }
                fn received(&self) -> usize {
                    self.0.lock().unwrap().received()
                }
            }
            let complete = read_into(body, &mut Shared(shared));
            (complete, Instant::now())
        });
        Streamed { sink, thread }
    }

    /// Bytes received so far.
    pub fn len(&self) -> usize {
        self.sink.lock().unwrap().received()
    }

    /// Waits (up to [`super::SOON`]) until at least `len` bytes arrived.
    pub fn wait_len(&self, len: usize) {
        let arrived = super::wait_until(super::SOON, || self.len() >= len || self.is_finished());
        assert!(
            arrived && self.len() >= len,
            "only {} of {len} bytes arrived{}",
            self.len(),
            if self.is_finished() {
                " before the body ended"
            } else {
                ""
            }
        );
    }

    /// Whether the body has ended.
    pub fn is_finished(&self) -> bool {
        self.thread.is_finished()
    }

    /// Waits for the body to end (a failing test after two minutes).
    pub fn finish(self) -> Ended<S> {
        let ended = super::wait_until(END_WITHIN, || self.is_finished());
        assert!(
            ended,
            "the body did not end within {END_WITHIN:?} (got {} bytes)",
            self.len()
        );
        let (complete, at) = self.thread.join().expect("body reader panicked");
        let data = Arc::try_unwrap(self.sink)
            .ok()
            .expect("the reader thread is done")
            .into_inner()
            .unwrap();
        Ended { data, complete, at }
    }
}

/// Reads `body` to its end and returns its bytes; panics if it ended
/// incomplete.
pub fn read_complete(body: impl Read) -> Vec<u8> {
    let (bytes, complete) = read_body(body);
    assert!(
        complete,
        "the body ended incomplete after {} bytes",
        bytes.len()
    );
    bytes
}
