//! The access log: one line per request, on every port, written when the
//! response is done (so it can say how the body ended).
//!
//! Paths are redacted the same way on every port ([`redact_path`]): a token
//! sent to the upload port by mistake is as secret as one sent to the reader
//! port. Query strings and headers are never logged.

use std::pin::Pin;
use std::task::{Context, Poll};
use tokio::time::Instant;

use bytes::Bytes;
use std::net::IpAddr;

use http::{Method, Response, StatusCode, header};
use http_body::{Body, Frame, SizeHint};

use super::route::Route;
use super::{BoxError, ResponseBody};
use crate::config::Port;
use crate::http::client::Client;

/// A response whose body logs the request's line when it is dropped.
pub type LoggedResponse = Response<AccessLogged<ResponseBody>>;

/// A request path as it may be logged, on any port: its route's redacted
/// form ([`Route::redacted`]), since any segment a client sends may be a
/// mistyped or guessed token, which is as secret as the real one.
pub fn redact_path(path: &str) -> &'static str {
    Route::of(path).redacted()
}

/// What the access log line says about one request.
#[derive(Debug)]
struct RequestLog {
    port: Port,
    /// Who sent it (`http/client.rs`): the peer, or the address a trusted
    /// proxy forwarded for.
    client: IpAddr,
    /// What an untrusted forwarder on this host said the client was.
    forwarded_for: Option<IpAddr>,
    method: Method,
    /// Already redacted ([`redact_path`]).
    path: &'static str,
    status: StatusCode,
    started: Instant,
    /// The response's `Content-Length`, in bytes, if it has one.
    content_length: Option<u64>,
}

/// Wraps `resp`, the answer to `method` `path` from `client` on `port`, so
/// that one line is logged for the request when its body is done or
/// dropped: port, client address (and, from an untrusted forwarder on this
/// host, the address its header gave, as `forwarded_for`), method, redacted path, status, bytes
/// sent, milliseconds since `started`, and how the body ended (`complete`,
/// `incomplete: <why>`, or `aborted` when the connection went away first).
pub fn logged(
    resp: Response<ResponseBody>,
    port: Port,
    (method, path): (Method, &str),
    client: Client,
    started: Instant,
) -> LoggedResponse {
    let status = resp.status();
    let content_length = resp
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok());
    let log = RequestLog {
        port,
        client: client.addr,
        forwarded_for: client.forwarded_for,
        method,
        path: redact_path(path),
        status,
        started,
        content_length,
    };
    resp.map(|inner| AccessLogged {
        inner,
        log,
        bytes: 0,
        outcome: None,
    })
}

/// Logs the line of a request hyper refused before livelog saw it (a
/// malformed or oversized request head): there is no method or path to
/// show, only the status it was answered with and why.
pub fn log_refused_head(port: Port, status: StatusCode, reason: &str) {
    tracing::warn!(
        listener = port.name(),
        method = %"-",
        path = %"-",
        status = status.as_u16(),
        outcome = reason,
        "request"
    );
}

/// A response body that counts the bytes it yields and logs the request's
/// line when it is dropped (see [`logged`]).
pub struct AccessLogged<B: Body> {
    inner: B,
    log: RequestLog,
    bytes: u64,
    outcome: Option<String>,
}

impl<B> Body for AccessLogged<B>
where
    B: Body<Data = Bytes, Error = BoxError> + Unpin,
{
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let this = &mut *self;
        let polled = Pin::new(&mut this.inner).poll_frame(cx);
        match &polled {
            Poll::Ready(Some(Ok(frame))) => {
                if let Some(data) = frame.data_ref() {
                    this.bytes += data.len() as u64;
                }
                // hyper stops polling a body whose size is known once it has
                // all of it, so the end may never be seen as `None`.
                if this.inner.is_end_stream() {
                    this.outcome = Some("complete".into());
                }
            }
            Poll::Ready(Some(Err(e))) => this.outcome = Some(format!("incomplete: {e}")),
            Poll::Ready(None) => this.outcome = Some("complete".into()),
            Poll::Pending => {}
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

impl<B: Body> Drop for AccessLogged<B> {
    fn drop(&mut self) {
        let log = &self.log;
        let outcome = match self.outcome.as_deref() {
            Some(outcome) => outcome,
            // An empty body (HEAD, 204) is never polled: it ended as it began.
            None if self.inner.is_end_stream() => "complete",
            // hyper stops polling a body once it has written all of its
            // `Content-Length`, so the body never sees its own end.
            None if log.content_length == Some(self.bytes) => "complete",
            None => "aborted",
        };
        let ms = log.started.elapsed().as_secs_f64() * 1e3;
        macro_rules! line {
            ($level:ident) => {
                tracing::$level!(
                    listener = log.port.name(),
                    client = %log.client,
                    forwarded_for = log.forwarded_for.map(tracing::field::display),
                    method = %log.method,
                    path = %log.path,
                    status = log.status.as_u16(),
                    bytes = self.bytes,
                    ms = format_args!("{ms:.1}"),
                    outcome,
                    "request"
                )
            };
        }
        // A scraper asks every few seconds: its answered requests are
        // logged at debug level, so they do not drown the upload's lines.
        let scrape = matches!(log.path, "/metrics" | "/status");
        match (outcome == "complete", scrape && log.status.is_success()) {
            (true, true) => line!(debug),
            (true, false) => line!(info),
            (false, _) => line!(warn),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn redacts_everything_but_the_log_route() {
        assert_eq!(redact_path("/log/secretpuppy"), "/log/<redacted>");
        assert_eq!(redact_path("/log/"), "/log/<redacted>");
        assert_eq!(redact_path("/log"), "/log");
        assert_eq!(redact_path("/view/secretpuppy"), "/view/<redacted>");
        assert_eq!(redact_path("/view/"), "/view/<redacted>");
        assert_eq!(redact_path("/view"), "/view");
        assert_eq!(redact_path("/viewsecretpuppy"), "/<redacted>");
        assert_eq!(redact_path("/"), "/");
        assert_eq!(redact_path("/secretpuppy"), "/<redacted>");
        assert_eq!(redact_path("/a/b/c"), "/<redacted>");
    }

    proptest! {
        /// Whatever the path, the logged form is one of ten fixed strings.
        #[test]
        fn logged_path_is_always_fixed(path in "\\PC{0,200}") {
            let logged = redact_path(&path);
            prop_assert!([
                                "/", "/log", "/view", "/metrics", "/status",
                "/log/<redacted>", "/view/<redacted>", "/<redacted>",
                "/log/<redacted>/outline", "/log/<redacted>/search",
            ].contains(&logged));
        }
    }
}
