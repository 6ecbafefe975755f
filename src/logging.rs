//! Logging: the `tracing` subscriber (stderr), and the one line per request.
//!
//! The access token must never reach a log line, at any level. livelog's own
//! lines only ever carry a redacted path ([`redact_path`]); and because the
//! HTTP/2 crate's debug and trace events print request headers (`:path`
//! included), events from `h2` and `hyper` below INFO are dropped whatever
//! `RUST_LOG` asks for.

use std::io::IsTerminal;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Instant;

use bytes::Bytes;
use http::{Method, StatusCode};
use http_body::{Body, Frame, SizeHint};
use tracing::Level;
use tracing_subscriber::EnvFilter;
use tracing_subscriber::filter::filter_fn;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{Layer, fmt};

/// Boxed error type used by response bodies.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Installs the global subscriber: stderr, `RUST_LOG` if set, else `debug`
/// for livelog when `debug` (the `DEBUG` variable) is on, else `info`.
/// Does nothing if a subscriber is already installed (tests, embedders).
pub fn init(debug: bool) {
    let filter = match std::env::var("RUST_LOG") {
        Ok(spec) if !spec.is_empty() => EnvFilter::new(spec),
        _ if debug => EnvFilter::new("info,livelog=debug"),
        _ => EnvFilter::new("info"),
    };
    let never_headers = filter_fn(|meta| {
        let target = meta.target();
        let header_printing = target.starts_with("h2") || target.starts_with("hyper");
        !header_printing || *meta.level() <= Level::INFO
    });
    let layer = fmt::layer()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .with_filter(filter)
        .with_filter(never_headers);
    let _ = tracing_subscriber::registry().with(layer).try_init();
}

/// A reader-port path as it may be logged: `/log` and `/log/<redacted>`, and
/// `/<redacted>` for anything else, since any segment a client sends may be a
/// mistyped or guessed token, which is as secret as the real one. Query
/// strings are never logged.
pub fn redact_path(path: &str) -> String {
    match path {
        "" | "/" => "/".into(),
        "/log" => "/log".into(),
        p if p.starts_with("/log/") => "/log/<redacted>".into(),
        _ => "/<redacted>".into(),
    }
}

/// An upload-port path as logged: at most 64 bytes of it (nothing secret
/// travels there, but a client chooses its length).
pub fn short_path(path: &str) -> String {
    truncate(path).to_owned()
}

fn truncate(segment: &str) -> &str {
    const MAX: usize = 64;
    if segment.len() <= MAX {
        return segment;
    }
    let mut end = MAX;
    while !segment.is_char_boundary(end) {
        end -= 1;
    }
    &segment[..end]
}

/// What the request line of the log says about one request.
#[derive(Debug)]
pub struct RequestLog {
    /// Which listener: `"upload"` or `"reader"`.
    pub listener: &'static str,
    /// Request method.
    pub method: Method,
    /// Redacted path ([`redact_path`]).
    pub path: String,
    /// Response status.
    pub status: StatusCode,
    /// When the request arrived.
    pub started: Instant,
    /// The response's `Content-Length`, in bytes, if it has one.
    pub content_length: Option<u64>,
}

/// A response body that counts the bytes it yields and logs one line for the
/// request when it is dropped: status, bytes, duration, and how the body
/// ended (`complete`, `incomplete: <why>`, or `aborted` when the connection
/// went away first).
pub struct Logged<B: Body> {
    inner: B,
    log: RequestLog,
    bytes: u64,
    outcome: Option<String>,
}

impl<B: Body> Logged<B> {
    /// Wraps `inner`.
    pub fn new(inner: B, log: RequestLog) -> Self {
        Logged {
            inner,
            log,
            bytes: 0,
            outcome: None,
        }
    }
}

impl<B> Body for Logged<B>
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

impl<B: Body> Drop for Logged<B> {
    fn drop(&mut self) {
        let log = &self.log;
        // An empty body (HEAD, 204) is never polled: it ended as it began.
        let outcome = match self.outcome.as_deref() {
            Some(outcome) => outcome,
            None if self.inner.is_end_stream() => "complete",
            // hyper stops polling a body once it has written all of its
            // `Content-Length`, so the body never sees its own end.
            None if log.content_length == Some(self.bytes) => "complete",
            None => "aborted",
        };
        let ms = log.started.elapsed().as_secs_f64() * 1e3;
        if outcome == "complete" {
            tracing::info!(
                listener = log.listener,
                method = %log.method,
                path = %log.path,
                status = log.status.as_u16(),
                bytes = self.bytes,
                ms = format_args!("{ms:.1}"),
                outcome,
                "request"
            );
        } else {
            tracing::warn!(
                listener = log.listener,
                method = %log.method,
                path = %log.path,
                status = log.status.as_u16(),
                bytes = self.bytes,
                ms = format_args!("{ms:.1}"),
                outcome,
                "request"
            );
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
        assert_eq!(redact_path("/"), "/");
        assert_eq!(redact_path("/secretpuppy"), "/<redacted>");
        assert_eq!(redact_path("/a/b/c"), "/<redacted>");
        assert_eq!(short_path(&"x".repeat(5000)).len(), 64);
    }

    proptest! {
        /// Whatever the path, the logged form is one of four fixed strings.
        #[test]
        fn logged_path_is_always_fixed(path in "\\PC{0,200}") {
            let logged = redact_path(&path);
            prop_assert!(["/", "/log", "/log/<redacted>", "/<redacted>"].contains(&logged.as_str()));
        }
    }
}
