//! The stall timeout of a reader that owns its connection (HTTP/1.1, in
//! clear text or over TLS).
//!
//! The socket gets a write timeout (`tokio-io-timeout`). It runs only while
//! a write is pending, that is while the socket's send buffer is full: it
//! fires for a reader that stopped reading with data waiting for it, never
//! for an idle tail to which nothing is written.
//!
//! The timer's error is told apart from every other `TimedOut` (a kernel's
//! `ETIMEDOUT`, when a peer vanished mid-connection, is one too): this
//! stream marks its own with [`Stalled`], and [`is_stall`] looks for that
//! mark and nothing else.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio_io_timeout::TimeoutStream;

/// The cause of a write that failed because the stall timeout ran out.
#[derive(Debug, thiserror::Error)]
#[error("the reader accepted no bytes for the stall timeout while log data was waiting")]
pub struct Stalled;

/// A reader's socket with the stall timeout on its writes.
pub struct StallTimeoutStream<S> {
    inner: Pin<Box<TimeoutStream<S>>>,
}

impl<S: AsyncRead + AsyncWrite> StallTimeoutStream<S> {
    /// `stream`, whose writes fail with a [`Stalled`] cause once one has
    /// been pending for `timeout`.
    pub fn new(stream: S, timeout: Duration) -> Self {
        let mut inner = TimeoutStream::new(stream);
        inner.set_write_timeout(Some(timeout));
        StallTimeoutStream {
            inner: Box::pin(inner),
        }
    }
}

/// The timer's own error is a bare `TimedOut`: no OS code, no inner error.
/// Only it is marked; any other error passes as it is.
fn mark(e: io::Error) -> io::Error {
    let the_timers =
        e.kind() == io::ErrorKind::TimedOut && e.raw_os_error().is_none() && e.get_ref().is_none();
    if the_timers {
        io::Error::new(io::ErrorKind::TimedOut, Stalled)
    } else {
        e
    }
}

impl<S: AsyncRead + AsyncWrite> AsyncRead for StallTimeoutStream<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        self.inner.as_mut().poll_read(cx, buf)
    }
}

impl<S: AsyncRead + AsyncWrite> AsyncWrite for StallTimeoutStream<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.inner.as_mut().poll_write(cx, buf).map_err(mark)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        self.inner
            .as_mut()
            .poll_write_vectored(cx, bufs)
            .map_err(mark)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.inner.as_mut().poll_flush(cx).map_err(mark)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.inner.as_mut().poll_shutdown(cx).map_err(mark)
    }
}

/// `true` if `err` (or one of its causes) is the stall timeout's, and not
/// any other timeout.
pub fn is_stall(err: &(dyn std::error::Error + 'static)) -> bool {
    let mut source = Some(err);
    while let Some(e) = source {
        if e.is::<Stalled>() {
            return true;
        }
        if let Some(inner) = e.downcast_ref::<io::Error>().and_then(|io| io.get_ref()) {
            if inner.is::<Stalled>() {
                return true;
            }
        }
        source = e.source();
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_timers_own_timeout_is_a_stall() {
        let marked = mark(io::ErrorKind::TimedOut.into());
        assert!(is_stall(&marked));
        // A kernel ETIMEDOUT (the peer vanished) is not a stall.
        #[cfg(unix)]
        {
            let kernel = mark(io::Error::from_raw_os_error(libc::ETIMEDOUT));
            assert_eq!(kernel.kind(), io::ErrorKind::TimedOut);
            assert!(!is_stall(&kernel));
        }
        let other = io::Error::new(io::ErrorKind::TimedOut, "handshake timed out");
        assert!(!is_stall(&mark(other)));
    }

    #[tokio::test(start_paused = true)]
    async fn a_pending_write_times_out_as_a_stall() {
        use tokio::io::AsyncWriteExt;
        // A peer that reads nothing: the duplex buffer fills, the write
        // stays pending, and the timer fires.
        let (near, _far) = tokio::io::duplex(16);
        let mut stream = StallTimeoutStream::new(near, Duration::from_secs(5));
        let err = stream.write_all(&[0; 64]).await.unwrap_err();
        assert!(is_stall(&err), "{err}");
    }
}
