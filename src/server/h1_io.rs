//! An HTTP/1.1 connection's I/O as hyper sees it, with two things livelog
//! needs that hyper does not offer:
//!
//! * **Every stored byte before an incomplete end.** When a response body
//!   fails (the upload broke), hyper drops whatever it still buffers for the
//!   socket and closes. So a failing body first waits until hyper's write
//!   buffer is empty ([`FlushFirst`]): hyper calls the I/O's `poll_flush`
//!   only once it has written out its whole buffer (`Buffered::poll_flush`),
//!   so the first `poll_flush` that completes after the body began to wait
//!   means every byte the body handed over has reached the socket (through
//!   TLS too: the TLS stream's flush writes out its records). A reader that
//!   never takes the bytes is ended by the stall timeout instead.
//! * **A one-line reason with hyper's own refusals.** hyper answers a request
//!   head it cannot parse (`400`, `414`, `431`) itself, with an empty body,
//!   before livelog sees a request. While no request of the connection has
//!   reached livelog, whatever hyper writes is such an answer: it is
//!   replaced by the same status with a one-line reason, and logged.

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll, ready};

use bytes::Bytes;
use futures_util::task::AtomicWaker;
use http::StatusCode;
use http_body::{Body, Frame, SizeHint};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

use crate::config::Port;
use crate::http::access_log::log_refused_head;

/// Largest request head (request line and headers) accepted on either port,
/// in bytes: a longer one gets `431 Request Header Fields Too Large` and the
/// connection is closed. On the reader port it also caps how much hyper
/// queues for one reader's socket (`max_buf_size`), which bounds what a
/// stalled reader can pin; the upload port keeps hyper's larger read buffer
/// (`conn.rs`, `http1_builder`). The token path is short; 5,000-byte paths
/// still fit.
///
/// hyper's `max_buf_size` alone is a soft cap (a read may take the buffer
/// past it and complete a longer head), so `max_header_size` is set too.
pub const MAX_HEAD_BYTES: usize = 64 * 1024;

/// What an [`H1Io`] shares with its connection's service and response bodies.
#[derive(Debug, Default)]
pub struct H1State {
    /// A request of this connection reached livelog's service.
    request_seen: AtomicBool,
    /// A failing body waits for the next completed flush.
    flush_wanted: AtomicBool,
    /// That flush completed.
    flushed: AtomicBool,
    /// The waiting body's task.
    waker: AtomicWaker,
}

impl H1State {
    /// Marks that a request reached livelog: from now on hyper writes only
    /// livelog's responses.
    pub fn request_seen(&self) {
        self.request_seen.store(true, Ordering::Relaxed);
    }

    /// `true` once a request of this connection reached livelog.
    pub fn was_request_seen(&self) -> bool {
        self.request_seen.load(Ordering::Relaxed)
    }

    /// `Ready` once a flush completed after the first call (which arms it).
    fn poll_flushed(&self, cx: &mut Context<'_>) -> Poll<()> {
        self.waker.register(cx.waker());
        if self.flushed.swap(false, Ordering::AcqRel) {
            return Poll::Ready(());
        }
        self.flush_wanted.store(true, Ordering::Release);
        Poll::Pending
    }

    fn on_flushed(&self) {
        if self.flush_wanted.swap(false, Ordering::AcqRel) {
            self.flushed.store(true, Ordering::Release);
            self.waker.wake();
        }
    }
}

/// The connection's I/O stream `I`, wrapped (see the module documentation).
pub struct H1Io<I> {
    inner: I,
    state: Arc<H1State>,
    port: Port,
    /// livelog's replacement for a refusal hyper is writing, and how much of
    /// it has been written.
    refusal: Option<(Bytes, usize)>,
}

impl<I> H1Io<I> {
    /// Wraps `inner`, a connection to `port`, sharing `state` with its
    /// service and bodies.
    pub fn new(inner: I, state: Arc<H1State>, port: Port) -> Self {
        H1Io {
            inner,
            state,
            port,
            refusal: None,
        }
    }
}

impl<I: AsyncWrite + Unpin> H1Io<I> {
    /// Writes the rest of the replacement refusal, if there is one.
    fn poll_refusal(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        if let Some((reply, written)) = &mut self.refusal {
            while *written < reply.len() {
                let n = ready!(Pin::new(&mut self.inner).poll_write(cx, &reply[*written..]))?;
                if n == 0 {
                    return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
                }
                *written += n;
            }
        }
        Poll::Ready(Ok(()))
    }

    /// `true` if `buf`, written before any request reached livelog, is
    /// hyper's refusal; the replacement is then queued.
    fn replaces(&mut self, buf: &[u8]) -> bool {
        if self.refusal.is_none() && !self.state.request_seen.load(Ordering::Relaxed) {
            if let Some(status) = status_of(buf) {
                let reason = refusal_reason(status);
                log_refused_head(self.port, status, reason.trim_end());
                self.refusal = Some((refusal_reply(status, &reason), 0));
            }
        }
        self.refusal.is_some()
    }
}

impl<I: AsyncRead + Unpin> AsyncRead for H1Io<I> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl<I: AsyncWrite + Unpin> AsyncWrite for H1Io<I> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        if self.replaces(buf) {
            // hyper's own bytes are taken and dropped; livelog's go out.
            ready!(self.poll_refusal(cx))?;
            return Poll::Ready(Ok(buf.len()));
        }
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        if self.refusal.is_some() || !self.state.request_seen.load(Ordering::Relaxed) {
            let first = bufs.iter().find(|b| !b.is_empty()).map_or(&[][..], |b| b);
            return self.poll_write(cx, first);
        }
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        ready!(self.poll_refusal(cx))?;
        ready!(Pin::new(&mut self.inner).poll_flush(cx))?;
        self.state.on_flushed();
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        ready!(self.poll_refusal(cx))?;
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

/// The status code of a response head (`HTTP/1.x NNN ...`) at the start of
/// `buf`.
fn status_of(buf: &[u8]) -> Option<StatusCode> {
    let rest = buf
        .strip_prefix(b"HTTP/1.1 ")
        .or_else(|| buf.strip_prefix(b"HTTP/1.0 "))?;
    StatusCode::from_bytes(rest.get(..3)?).ok()
}

/// The one-line reason for a status hyper refuses a request head with.
fn refusal_reason(status: StatusCode) -> String {
    match status {
        StatusCode::BAD_REQUEST => {
            "bad request: the request line or a header field is malformed\n".into()
        }
        StatusCode::URI_TOO_LONG => "URI too long: the request target is too long\n".into(),
        StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE => format!(
            "request header fields too large: the request head is over {} KiB\n",
            MAX_HEAD_BYTES / 1024
        ),
        other => format!(
            "{}: the request head was refused\n",
            other.canonical_reason().unwrap_or("error")
        ),
    }
}

/// A whole HTTP/1.1 response: `status`, `reason` as its plain-text body,
/// and `Connection: close` (hyper closes the connection after a refusal).
fn refusal_reply(status: StatusCode, reason: &str) -> Bytes {
    Bytes::from(format!(
        "HTTP/1.1 {} {}\r\ncontent-type: text/plain; charset=utf-8\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{reason}",
        status.as_str(),
        status.canonical_reason().unwrap_or(""),
        reason.len(),
    ))
}

/// A response body that, when its inner body fails, reports the failure
/// only once hyper has flushed every byte handed over before it.
pub struct FlushFirst<B: Body> {
    inner: B,
    state: Arc<H1State>,
    failure: Option<B::Error>,
}

impl<B: Body> FlushFirst<B> {
    /// Wraps `inner`, a response on the connection `state` belongs to.
    pub fn new(inner: B, state: Arc<H1State>) -> Self {
        FlushFirst {
            inner,
            state,
            failure: None,
        }
    }
}

impl<B> Body for FlushFirst<B>
where
    B: Body + Unpin,
    B::Error: Unpin,
{
    type Data = B::Data;
    type Error = B::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<B::Data>, B::Error>>> {
        let this = &mut *self;
        if this.failure.is_none() {
            match ready!(Pin::new(&mut this.inner).poll_frame(cx)) {
                Some(Err(e)) => this.failure = Some(e),
                other => return Poll::Ready(other),
            }
        }
        ready!(this.state.poll_flushed(cx));
        Poll::Ready(this.failure.take().map(Err))
    }

    fn is_end_stream(&self) -> bool {
        self.failure.is_none() && self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_status_of_a_response_head() {
        assert_eq!(
            status_of(b"HTTP/1.1 431 Request Header Fields Too Large\r\n"),
            Some(StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE)
        );
        assert_eq!(status_of(b"HTTP/1.0 400 "), Some(StatusCode::BAD_REQUEST));
        assert_eq!(status_of(b"hello"), None);
        assert_eq!(status_of(b"HTTP/1.1 4"), None);
    }

    #[test]
    fn a_refusal_reply_is_a_whole_response_with_its_reason() {
        let reply = refusal_reply(
            StatusCode::BAD_REQUEST,
            &refusal_reason(StatusCode::BAD_REQUEST),
        );
        let text = std::str::from_utf8(&reply).unwrap();
        let (head, body) = text.split_once("\r\n\r\n").unwrap();
        assert!(head.starts_with("HTTP/1.1 400 Bad Request\r\n"), "{head}");
        assert!(head.contains(&format!("content-length: {}", body.len())));
        assert!(body.starts_with("bad request: ") && body.ends_with('\n'));
    }
}
