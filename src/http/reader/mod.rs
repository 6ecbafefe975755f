//! The readers: `GET`/`HEAD`/`OPTIONS /log/<ACCESS_TOKEN>` on the reader port.
//!
//! Each admitted reader gets a [`Cursor`] into the store and a streaming body
//! that yields the log from its start (or its range) and then every new chunk
//! as it is stored, until the upload ends. An upload that breaks ends the body
//! with an error, which the connection turns into an incomplete response (no
//! last chunk, short of `Content-Length`, or `RST_STREAM` on HTTP/2) once
//! every byte handed over has been sent, so that no client mistakes a
//! truncated log for a whole one and none misses a stored byte.
//!
//! Serving a request is two steps: first *which representation* — the
//! coding, negotiated from `Accept-Encoding` ([`encoding::choose`]):
//! identity is the log store itself (with byte ranges); gzip or zstd is that
//! coding's compressed store ([`Encodings`]), written once by one compressor
//! and read by every reader of that coding — then *which part of it*, and
//! the same streaming body over that store's cursor.
//!
//! Before both, `Accept: text/event-stream` gets the log as Server-Sent
//! Events (`sse/`; never ranged, never compressed). `/view/<ACCESS_TOKEN>`
//! gets the viewer page (`viewer.rs`).

use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;

use http::header::{self, HeaderValue};
use http::{Method, Request, Response, StatusCode, Version};
use percent_encoding::percent_decode_str;
use subtle::ConstantTimeEq;
use tokio::sync::Semaphore;

mod body;
mod head;

use body::{Admitted, Reader, stream_body};
use head::{Span, insert, log_response, preflight, unsatisfiable, with_cors};

use crate::config::{AccessToken, DEFAULT_HEARTBEAT_SECS, Port};
use crate::http::access_log::{LoggedResponse, logged};
use crate::http::encoding;
use crate::http::ranges;
use crate::http::route::Route;
use crate::http::viewer::Viewer;
use crate::http::{ResponseBody, empty, plain, sse};
use crate::metrics::{Metrics, ReaderLabels};
use crate::store::{Codec, Cursor, Encodings, LogStore, Phase, Progress};

/// Seconds a client is told to wait (`Retry-After`) when all reader slots are
/// taken.
pub const RETRY_AFTER_SECS: u64 = 5;

/// The response header telling a reader what it is reading: `waiting` (no
/// upload yet), `live`, `complete` or `incomplete` (the upload broke), as of
/// the moment the response was sent.
pub const LIVELOG_STATE: header::HeaderName = header::HeaderName::from_static("livelog-state");

/// Handles requests on the reader port: checks the token, takes a reader
/// slot, and streams the log.
pub struct ReadHandler {
    store: LogStore,
    encodings: Encodings,
    token: AccessToken,
    slots: Arc<Semaphore>,
    max_readers: usize,
    metrics: Arc<Metrics>,
    /// Heartbeat period of event streams (`LIVELOG_HEARTBEAT_SECS`).
    heartbeat: Duration,
    /// The viewer page, built once.
    viewer: Viewer,
}

impl ReadHandler {
    /// Readers of `store` (and of its compressed copies, `encodings`),
    /// admitted with `token`, at most `max_readers` at once, counted in
    /// `metrics`.
    pub fn new(
        store: LogStore,
        encodings: Encodings,
        token: &AccessToken,
        max_readers: usize,
        metrics: Arc<Metrics>,
    ) -> Self {
        ReadHandler {
            store,
            encodings,
            token: token.clone(),
            slots: Arc::new(Semaphore::new(max_readers)),
            max_readers,
            metrics,
            heartbeat: Duration::from_secs(DEFAULT_HEARTBEAT_SECS),
            viewer: Viewer::new(),
        }
    }

    /// Sends event streams a heartbeat after every `heartbeat` without an
    /// event (by default every [`DEFAULT_HEARTBEAT_SECS`] seconds).
    pub fn with_heartbeat(mut self, heartbeat: Duration) -> Self {
        self.heartbeat = heartbeat;
        self
    }

    /// Stops the compressors readers started, and waits for their threads
    /// (livelog is stopping).
    pub async fn stop_compressors(&self) {
        self.encodings.stop().await;
    }

    /// Answers one request, logging its line when the response is done.
    /// Never waits: a streaming body does its waiting as it is polled.
    pub fn call<B>(&self, req: &Request<B>) -> LoggedResponse {
        let started = Instant::now();
        let resp = self.handle(req);
        logged(
            resp,
            Port::Reader,
            req.method().clone(),
            req.uri().path(),
            started,
        )
    }

    fn handle<B>(&self, req: &Request<B>) -> Response<ResponseBody> {
        let token = match Route::of(req.uri().path()) {
            Route::View(token) => return self.view(req.method(), token.unwrap_or("")),
            Route::Log(token) => token.unwrap_or(""),
            _ => {
                return plain(
                    StatusCode::NOT_FOUND,
                    "not found: the log is at /log/<ACCESS_TOKEN>, its viewer at /view/<ACCESS_TOKEN>\n",
                );
            }
        };
        let method = req.method();
        if method == Method::OPTIONS {
            return preflight();
        }
        if method != Method::GET && method != Method::HEAD {
            let mut resp = plain(
                StatusCode::METHOD_NOT_ALLOWED,
                "method not allowed: read the log with GET or HEAD\n",
            );
            resp.headers_mut().insert(
                header::ALLOW,
                HeaderValue::from_static("GET, HEAD, OPTIONS"),
            );
            return resp;
        }
        if !self.token_matches(token) {
            return with_cors(plain(StatusCode::UNAUTHORIZED, "Access denied\n"));
        }
        self.read(req)
    }

    /// Compares the path's token with `ACCESS_TOKEN` in constant time, after
    /// percent-decoding it (as the Go livelog's router did), so `%41` and `A`
    /// are the same token. The comparison leaks only the length.
    fn token_matches(&self, raw: &str) -> bool {
        let decoded: Vec<u8> = percent_decode_str(raw).collect();
        bool::from(decoded.as_slice().ct_eq(self.token.as_bytes()))
    }

    /// The viewer page: the same token as the log, no reader slot (the page
    /// takes one when it opens the event stream).
    fn view(&self, method: &Method, token: &str) -> Response<ResponseBody> {
        if method != Method::GET && method != Method::HEAD {
            return self.viewer.respond(method);
        }
        if !self.token_matches(token) {
            return with_cors(plain(StatusCode::UNAUTHORIZED, "Access denied\n"));
        }
        self.viewer.respond(method)
    }

    /// The log (or the range asked for, or its event stream), with the log's
    /// state as of now.
    fn read<B>(&self, req: &Request<B>) -> Response<ResponseBody> {
        let progress = self.store.progress();
        // Step 0: an event stream (`sse/`) is a representation of its
        // own. Step 1: the coding. Compression and byte ranges do not mix (a
        // `Range` gets identity), so each coding has its own path.
        let mut resp = if sse::wants_events(req.headers()) {
            self.events(req, progress)
        } else {
            match encoding::choose(req.headers()) {
                None => self.read_identity(req, progress),
                Some(codec) => self.read_encoded(req, codec),
            }
        };
        insert(&mut resp, LIVELOG_STATE, progress.phase.name());
        resp
    }

    /// The log as Server-Sent Events from the offset the request resumes at
    /// (`sse/`): `400` for an offset that is not one, `204` (which tells
    /// EventSource to stop) at or past the end of a complete log.
    ///
    /// Always identity: livelog compresses nothing per reader, and each event
    /// stream is framed for its reader alone (its own start, its own event
    /// boundaries). `Range` does not apply: events resume by offset.
    fn events<B>(&self, req: &Request<B>, progress: Progress) -> Response<ResponseBody> {
        let start = match sse::start_offset(req.headers(), req.uri().query()) {
            Ok(start) => start,
            Err(bad) => return with_cors(plain(StatusCode::BAD_REQUEST, &format!("{bad}\n"))),
        };
        if progress.phase == Phase::Complete && start >= progress.len {
            let mut resp = Response::new(empty());
            *resp.status_mut() = StatusCode::NO_CONTENT;
            insert(&mut resp, header::CACHE_CONTROL, "no-store");
            return with_cors(resp);
        }
        let body = if req.method() == Method::HEAD {
            empty()
        } else {
            let Some(held) = self.take_slot(req, "sse") else {
                return self.busy();
            };
            sse::body(
                self.store.cursor(start, None),
                self.heartbeat,
                Arc::clone(&self.metrics),
                held,
            )
        };
        let mut resp = Response::new(body);
        insert(&mut resp, header::CONTENT_TYPE, sse::EVENT_STREAM);
        insert(&mut resp, header::CACHE_CONTROL, "no-store");
        insert(&mut resp, header::X_CONTENT_TYPE_OPTIONS, "nosniff");
        with_cors(resp)
    }

    /// The log's own bytes: all of it, or the range asked for.
    fn read_identity<B>(&self, req: &Request<B>, progress: Progress) -> Response<ResponseBody> {
        let range = ranges::requested(req.headers());
        let span = match Span::of(ranges::select(range, progress)) {
            Ok(span) => span,
            Err(current_length) => return unsatisfiable(current_length),
        };
        let body = if req.method() == Method::HEAD {
            empty()
        } else {
            let kind = if span.start == 0 && span.end.is_none() {
                "raw"
            } else {
                "ranged"
            };
            let open = || self.store.cursor(span.start, span.end);
            match self.admit(req, kind, open) {
                Some(body) => body,
                None => return self.busy(),
            }
        };
        let mut resp = log_response(body, &span);
        insert(&mut resp, header::ACCEPT_RANGES, "bytes");
        resp
    }

    /// The whole log in `codec`: the compressed store, its compressor started
    /// by the first `GET` that asks for it (a `HEAD` starts nothing). Its
    /// length is known once the compressed stream is complete.
    ///
    /// No `Accept-Ranges`: ranges count the log's own bytes, not these (as
    /// nginx drops it from what it compresses).
    fn read_encoded<B>(&self, req: &Request<B>, codec: Codec) -> Response<ResponseBody> {
        let body = if req.method() == Method::HEAD {
            empty()
        } else {
            let open = || self.encodings.start(codec).cursor(0, None);
            match self.admit(req, codec.name(), open) {
                Some(body) => body,
                None => return self.busy(),
            }
        };
        let store = self.encodings.store(codec);
        let mut resp = log_response(body, &Span::whole(store.progress()));
        insert(&mut resp, header::CONTENT_ENCODING, codec.name());
        resp
    }

    /// Takes a reader slot for `req`, counted as a reader of `kind`
    /// (`ReaderLabels`); `None` when every slot is taken.
    fn take_slot<B>(&self, req: &Request<B>, kind: &'static str) -> Option<Admitted> {
        let slot = Arc::clone(&self.slots).try_acquire_owned().ok()?;
        let labels = ReaderLabels {
            protocol: protocol_of(req.version()),
            kind,
        };
        Some(Admitted {
            _slot: slot,
            _counted: self.metrics.reader_connected(&labels),
        })
    }

    /// Takes a reader slot and streams the chunks of the cursor `open`
    /// makes (only once the slot is taken), counted as a reader of `kind`;
    /// `None` when every slot is taken.
    fn admit<B>(
        &self,
        req: &Request<B>,
        kind: &'static str,
        open: impl FnOnce() -> Cursor,
    ) -> Option<ResponseBody> {
        let admitted = self.take_slot(req, kind)?;
        Some(stream_body(Reader {
            cursor: open(),
            _admitted: admitted,
            metrics: Arc::clone(&self.metrics),
        }))
    }

    /// `503` when every reader slot is taken.
    fn busy(&self) -> Response<ResponseBody> {
        self.metrics.readers_refused.inc();
        tracing::warn!(
            max = self.max_readers,
            "reader refused: all reader slots taken"
        );
        let mut resp = plain(
            StatusCode::SERVICE_UNAVAILABLE,
            &format!(
                "service unavailable: {} readers already connected; retry later\n",
                self.max_readers
            ),
        );
        insert(
            &mut resp,
            header::RETRY_AFTER,
            &RETRY_AFTER_SECS.to_string(),
        );
        insert(&mut resp, header::ACCEPT_RANGES, "bytes");
        with_cors(resp)
    }
}

/// `http1` or `http2`, the protocol label of a request of `version`.
fn protocol_of(version: Version) -> &'static str {
    if version == Version::HTTP_2 {
        "http2"
    } else {
        "http1"
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::StoreLimits;

    fn readers(token: &str) -> ReadHandler {
        let file = tempfile::tempfile().unwrap();
        let store = LogStore::with_file(file, StoreLimits::from_ring_bytes(1024));
        let encodings = Encodings::create_in(&store, &std::env::temp_dir(), 1024).unwrap();
        ReadHandler::new(
            store,
            encodings,
            &AccessToken::new(token),
            4,
            Arc::new(Metrics::new()),
        )
    }

    #[test]
    fn token_is_compared_after_percent_decoding() {
        let r = readers("secret-puppy_1");
        assert!(r.token_matches("secret-puppy_1"));
        assert!(r.token_matches("%73ecret-puppy_1"));
        assert!(!r.token_matches("secret-puppy_"));
        assert!(!r.token_matches("secret-puppy_1/"));
        assert!(!r.token_matches(""));
        assert!(!r.token_matches(&"x".repeat(5000)));
    }
}
