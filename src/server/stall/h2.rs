//! The stall timeout for HTTP/2 streams.
//!
//! On HTTP/1.1 a reader owns its TCP connection, so a write timeout on the
//! socket (`h1.rs`) catches a reader that stops reading. On HTTP/2
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
//!
//! The same accounting keeps every stored byte ahead of an incomplete end:
//! when the body fails (the upload broke), hyper resets the stream, and h2
//! discards the stream's data not yet handed to the connection. So [`Watched`]
//! reports the failure only once no handed-over byte is waiting.
//!
//! Deadlines use `tokio::time`, so tests can drive them with a paused clock.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::ready;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::{Buf, Bytes};
use futures_util::task::AtomicWaker;
use http_body::{Body, Frame, SizeHint};
use prometheus_client::metrics::counter::Counter;
use tokio::time::{Instant, Sleep};
use tracing::Instrument;

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
    /// When the stream last moved, in milliseconds since `epoch`: bytes
    /// written, or a chunk handed over while nothing was waiting (the
    /// moment the reader starts to owe bytes).
    moved_ms: AtomicU64,
    epoch: Instant,
    /// The stream's task while its failed body waits for `waiting` to reach 0.
    drained: AtomicWaker,
}

impl StreamProgress {
    fn new() -> Self {
        StreamProgress {
            waiting: AtomicU64::new(0),
            moved_ms: AtomicU64::new(0),
            epoch: Instant::now(),
            drained: AtomicWaker::new(),
        }
    }

    fn touch(&self) {
        let ms = self.epoch.elapsed().as_millis() as u64;
        self.moved_ms.store(ms, Ordering::Relaxed);
    }

    /// Only the first chunk to wait starts the clock: more chunks handed over
    /// while earlier ones still wait (a Server-Sent Events heartbeat, say)
    /// are not the reader accepting anything, so they must not put its
    /// deadline off.
    fn handed_over(&self, bytes: usize) {
        // The clock starts before the bytes count as waiting, so no one
        // sees them waiting since a stale moment. (If the connection takes
        // the last waiting byte in between, it touched the clock itself.)
        if self.waiting.load(Ordering::Acquire) == 0 {
            self.touch();
        }
        self.waiting.fetch_add(bytes as u64, Ordering::AcqRel);
    }

    fn written(&self, bytes: usize) {
        self.touch();
        self.taken(bytes);
    }

    /// `bytes` handed over are no longer waiting (written, or dropped with
    /// their stream).
    fn taken(&self, bytes: usize) {
        let before = self.waiting.fetch_sub(bytes as u64, Ordering::AcqRel);
        if before == bytes as u64 {
            self.drained.wake();
        }
    }

    /// `Ready` once no handed-over byte is waiting.
    fn poll_drained(&self, cx: &mut Context<'_>) -> Poll<()> {
        self.drained.register(cx.waker());
        if self.waiting.load(Ordering::Acquire) == 0 {
            Poll::Ready(())
        } else {
            Poll::Pending
        }
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
/// tokio, under a stall deadline of `timeout`, in the connection's span.
#[derive(Clone, Debug)]
pub struct StallExecutor {
    timeout: Duration,
    stalls: Counter,
    /// The connection's span: a stream's events are the connection's.
    span: tracing::Span,
}

impl StallExecutor {
    /// Streams of the connection whose span is current are reset once they
    /// accept no bytes for `timeout` while bytes wait for them; each reset
    /// counts in `stalls`.
    pub fn new(timeout: Duration, stalls: Counter) -> Self {
        StallExecutor {
            timeout,
            stalls,
            span: tracing::Span::current(),
        }
    }
}

impl<F> hyper::rt::Executor<F> for StallExecutor
where
    F: Future<Output = ()> + Send + 'static,
{
    fn execute(&self, fut: F) {
        let stream = WatchedStream {
            task: Box::pin(fut),
            progress: Arc::new(StreamProgress::new()),
            timer: Box::pin(tokio::time::sleep(self.timeout)),
            timeout: self.timeout,
            stalls: self.stalls.clone(),
        };
        tokio::spawn(stream.instrument(self.span.clone()));
    }
}

/// One HTTP/2 stream's task, ended (and so its stream reset) if it stalls.
pub struct WatchedStream<F> {
    task: Pin<Box<F>>,
    progress: Arc<StreamProgress>,
    timer: Pin<Box<Sleep>>,
    timeout: Duration,
    stalls: Counter,
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
            if this.timer.deadline() != deadline {
                this.timer.as_mut().reset(deadline);
            }
            if this.timer.as_mut().poll(cx).is_pending() {
                return Poll::Pending;
            }
            if this.progress.deadline(this.timeout) == Some(deadline) {
                this.stalls.inc();
                tracing::warn!(
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
/// progress record when the socket takes them, and whose failure is reported
/// only once every chunk before it has been taken.
pub struct Watched<B: Body> {
    inner: B,
    progress: Option<Arc<StreamProgress>>,
    failure: Option<B::Error>,
}

impl<B: Body> Watched<B> {
    /// Wraps `inner`. Outside a [`StallExecutor`] task it only forwards.
    pub fn new(inner: B) -> Self {
        Watched {
            inner,
            progress: None,
            failure: None,
        }
    }
}

impl<B> Body for Watched<B>
where
    B: Body<Data = Bytes> + Unpin,
    B::Error: Unpin,
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
        if this.failure.is_none() {
            match ready!(Pin::new(&mut this.inner).poll_frame(cx)) {
                Some(Ok(frame)) => return Poll::Ready(Some(Ok(this.track(frame)))),
                Some(Err(e)) => this.failure = Some(e),
                None => return Poll::Ready(None),
            }
        }
        if let Some(progress) = &this.progress {
            ready!(progress.poll_drained(cx));
        }
        Poll::Ready(this.failure.take().map(Err))
    }

    fn is_end_stream(&self) -> bool {
        self.failure.is_none() && self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

impl<B: Body<Data = Bytes>> Watched<B> {
    /// Hands `frame`'s data over as a [`Tracked`] buffer.
    fn track(&self, frame: Frame<Bytes>) -> Frame<Tracked> {
        let progress = self.progress.clone();
        frame.map_data(|data| {
            if let Some(p) = &progress {
                p.handed_over(data.len());
            }
            Tracked { data, progress }
        })
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
                p.taken(self.data.len());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn deadline_needs_waiting_bytes_and_moves_with_progress() {
        let p = StreamProgress::new();
        let t = Duration::from_secs(5);
        assert_eq!(p.deadline(t), None, "nothing waiting: no deadline");
        p.handed_over(100);
        let first = p.deadline(t).unwrap();
        assert_eq!(first, p.epoch + t);
        tokio::time::sleep(Duration::from_millis(20)).await;
        p.written(40);
        let second = p.deadline(t).unwrap();
        assert!(second > first, "a write moves the deadline");
        p.written(60);
        assert_eq!(p.deadline(t), None, "all written: no deadline");
    }

    #[tokio::test(start_paused = true)]
    async fn chunks_handed_over_while_others_wait_do_not_move_the_deadline() {
        let p = StreamProgress::new();
        let t = Duration::from_secs(5);
        p.handed_over(100);
        let first = p.deadline(t).unwrap();
        // A heartbeat every second while nothing is written: the reader
        // accepted nothing, so the deadline stays.
        for _ in 0..3 {
            tokio::time::sleep(Duration::from_secs(1)).await;
            p.handed_over(13);
            assert_eq!(p.deadline(t), Some(first));
        }
        p.written(139);
        assert_eq!(p.deadline(t), None);
        tokio::time::sleep(Duration::from_secs(1)).await;
        p.handed_over(13);
        assert!(
            p.deadline(t).unwrap() > first,
            "a chunk waiting alone starts a new clock"
        );
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
