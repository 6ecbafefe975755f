//! The stall timeout for HTTP/2 streams.
//!
//! On HTTP/1.1 a reader owns its TCP connection, so a write timeout on the
//! socket (see `server.rs`) catches a reader that stops reading. On HTTP/2
//! many streams share one connection, and each has its own flow-control
//! window (RFC 9113 §5.2): a client can stop reading one stream (a fetch in a
//! background tab, say) while it keeps reading the others. The socket then
//! never blocks and the write timeout never fires, yet the stalled stream
//! keeps its reader slot and the chunk h2 holds for it, for ever.
//!
//! hyper runs each HTTP/2 response as a task spawned through the connection's
//! executor. [`StallExecutor`] wraps each such task in a [`WatchedStream`],
//! which owns a deadline, and lends the task a [`StreamProgress`] through a
//! task-local while it runs. The response body, wrapped in [`Watched`], finds
//! that progress record on its first poll and hands out each chunk as a
//! [`Tracked`] buffer. h2's connection task advances that buffer as the
//! socket accepts the bytes, which is exactly the reader accepting bytes.
//!
//! So the rule is the one HTTP/1.1 readers get: a stream is stalled when
//! bytes are waiting for it and none has been accepted for the stall
//! timeout. A stream whose body is waiting for new log data has nothing
//! waiting and is never timed out. Dropping a stalled stream's task drops its
//! h2 send stream, and h2 resets the stream (`RST_STREAM` with `CANCEL`), so
//! the client sees an incomplete response, as RFC 9113 §8.1 has it.

use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use bytes::{Buf, Bytes};
use http_body::{Body, Frame, SizeHint};
use tokio::time::Sleep;

tokio::task_local! {
    /// The progress record of the HTTP/2 stream whose task is running.
    static STREAM: Arc<StreamProgress>;
}

/// Byte accounting of one HTTP/2 stream, shared by its task (which yields
/// chunks) and the connection task (which writes them to the socket).
#[derive(Debug)]
pub struct StreamProgress {
    /// Bytes the body handed to hyper that the socket has not taken yet.
    waiting: AtomicU64,
    /// When the stream last moved (a chunk handed over or bytes written), in
    /// milliseconds since `epoch`.
    moved_ms: AtomicU64,
    epoch: Instant,
}

impl StreamProgress {
    fn new() -> Self {
        StreamProgress {
            waiting: AtomicU64::new(0),
            moved_ms: AtomicU64::new(0),
            epoch: Instant::now(),
        }
    }

    fn touch(&self) {
        let ms = self.epoch.elapsed().as_millis() as u64;
        self.moved_ms.store(ms, Ordering::Relaxed);
    }

    fn handed_over(&self, bytes: usize) {
        self.touch();
        self.waiting.fetch_add(bytes as u64, Ordering::Relaxed);
    }

    fn written(&self, bytes: usize) {
        self.touch();
        self.waiting.fetch_sub(bytes as u64, Ordering::Relaxed);
    }

    /// The instant the stream is stalled at if nothing moves before it, or
    /// `None` when no bytes are waiting (an idle stream cannot stall).
    fn deadline(&self, timeout: Duration) -> Option<Instant> {
        if self.waiting.load(Ordering::Relaxed) == 0 {
            return None;
        }
        let moved = Duration::from_millis(self.moved_ms.load(Ordering::Relaxed));
        Some(self.epoch + moved + timeout)
    }
}

/// The executor given to hyper's HTTP/2 server: spawns each stream's task on
/// tokio, under a stall deadline of `timeout`.
#[derive(Clone, Debug)]
pub struct StallExecutor {
    timeout: Duration,
    peer: SocketAddr,
}

impl StallExecutor {
    /// Streams of the connection from `peer` are reset once they accept no
    /// bytes for `timeout` while bytes wait for them.
    pub fn new(timeout: Duration, peer: SocketAddr) -> Self {
        StallExecutor { timeout, peer }
    }
}

impl<F> hyper::rt::Executor<F> for StallExecutor
where
    F: Future<Output = ()> + Send + 'static,
{
    fn execute(&self, fut: F) {
        tokio::spawn(WatchedStream {
            task: Box::pin(fut),
            progress: Arc::new(StreamProgress::new()),
            timer: Box::pin(tokio::time::sleep(self.timeout)),
            timeout: self.timeout,
            peer: self.peer,
        });
    }
}

/// One HTTP/2 stream's task, ended (and so its stream reset) if it stalls.
pub struct WatchedStream<F> {
    task: Pin<Box<F>>,
    progress: Arc<StreamProgress>,
    timer: Pin<Box<Sleep>>,
    timeout: Duration,
    peer: SocketAddr,
}

impl<F: Future<Output = ()>> Future for WatchedStream<F> {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = &mut *self;
        let progress = Arc::clone(&this.progress);
        if STREAM
            .sync_scope(progress, || this.task.as_mut().poll(cx))
            .is_ready()
        {
            return Poll::Ready(());
        }
        // The deadline moves whenever the stream does; the timer only wakes
        // this task to look again, so a stream that kept moving is re-armed
        // rather than dropped.
        while let Some(deadline) = this.progress.deadline(this.timeout) {
            let deadline = tokio::time::Instant::from_std(deadline);
            if this.timer.deadline() != deadline {
                this.timer.as_mut().reset(deadline);
            }
            if this.timer.as_mut().poll(cx).is_pending() {
                return Poll::Pending;
            }
            if this.progress.deadline(this.timeout) == Some(deadline.into_std()) {
                tracing::warn!(
                    peer = %this.peer,
                    stall_timeout_secs = this.timeout.as_secs(),
                    "reader disconnected: its HTTP/2 stream accepted no bytes for the stall timeout while log data was waiting"
                );
                // Dropping the task drops its h2 send stream: h2 resets it.
                return Poll::Ready(());
            }
        }
        Poll::Pending
    }
}

/// A response body whose chunks report to the running HTTP/2 stream's
/// progress record when the socket takes them.
pub struct Watched<B> {
    inner: B,
    progress: Option<Arc<StreamProgress>>,
}

impl<B> Watched<B> {
    /// Wraps `inner`. Outside a [`StallExecutor`] task it only forwards.
    pub fn new(inner: B) -> Self {
        Watched {
            inner,
            progress: None,
        }
    }
}

impl<B> Body for Watched<B>
where
    B: Body<Data = Bytes> + Unpin,
{
    type Data = Tracked;
    type Error = B::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Tracked>, B::Error>>> {
        let this = &mut *self;
        if this.progress.is_none() {
            this.progress = STREAM.try_with(Arc::clone).ok();
        }
        let frame = match Pin::new(&mut this.inner).poll_frame(cx) {
            Poll::Ready(Some(Ok(frame))) => frame,
            Poll::Ready(Some(Err(e))) => return Poll::Ready(Some(Err(e))),
            Poll::Ready(None) => return Poll::Ready(None),
            Poll::Pending => return Poll::Pending,
        };
        let progress = this.progress.clone();
        Poll::Ready(Some(Ok(frame.map_data(|data| {
            if let Some(p) = &progress {
                p.handed_over(data.len());
            }
            Tracked { data, progress }
        }))))
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// A chunk on its way to the socket; reports each byte written.
pub struct Tracked {
    data: Bytes,
    progress: Option<Arc<StreamProgress>>,
}

impl Buf for Tracked {
    fn remaining(&self) -> usize {
        self.data.len()
    }

    fn chunk(&self) -> &[u8] {
        &self.data
    }

    fn chunks_vectored<'a>(&'a self, dst: &mut [std::io::IoSlice<'a>]) -> usize {
        self.data.chunks_vectored(dst)
    }

    fn advance(&mut self, cnt: usize) {
        self.data.advance(cnt);
        if let Some(p) = &self.progress {
            p.written(cnt);
        }
    }

    fn copy_to_bytes(&mut self, len: usize) -> Bytes {
        let bytes = self.data.copy_to_bytes(len);
        if let Some(p) = &self.progress {
            p.written(len);
        }
        bytes
    }
}

impl Drop for Tracked {
    fn drop(&mut self) {
        // Bytes dropped unsent (the stream was reset or the connection
        // closed) are no longer waiting for anyone.
        if let Some(p) = &self.progress {
            if !self.data.is_empty() {
                p.waiting
                    .fetch_sub(self.data.len() as u64, Ordering::Relaxed);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deadline_needs_waiting_bytes_and_moves_with_progress() {
        let p = StreamProgress::new();
        let t = Duration::from_secs(5);
        assert_eq!(p.deadline(t), None, "nothing waiting: no deadline");
        p.handed_over(100);
        let first = p.deadline(t).unwrap();
        assert!(first >= p.epoch + t);
        std::thread::sleep(Duration::from_millis(20));
        p.written(40);
        let second = p.deadline(t).unwrap();
        assert!(second > first, "a write moves the deadline");
        p.written(60);
        assert_eq!(p.deadline(t), None, "all written: no deadline");
    }

    #[test]
    fn tracked_reports_writes_and_unsent_drops() {
        let p = Arc::new(StreamProgress::new());
        p.handed_over(10);
        let mut buf = Tracked {
            data: Bytes::from_static(b"0123456789"),
            progress: Some(Arc::clone(&p)),
        };
        buf.advance(4);
        assert_eq!(p.waiting.load(Ordering::Relaxed), 6);
        assert_eq!(&buf.copy_to_bytes(2)[..], b"45");
        assert_eq!(p.waiting.load(Ordering::Relaxed), 4);
        drop(buf);
        assert_eq!(p.waiting.load(Ordering::Relaxed), 0);
    }
}
