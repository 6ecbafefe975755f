//! What an admitted request for the log gets: its representation (the
//! raw log, a byte range, a coding, or Server-Sent Events) and the body
//! that streams it.

use std::sync::Arc;

use http::header;
use http::{Method, Response, StatusCode};

use super::body::{Reader, stream_body};
use super::head::{
    Span, VARY_LOG, X_ACCEL_BUFFERING, insert, log_response, not_modified, precondition_failed,
    unsatisfiable, with_cors,
};
use super::lines;
use super::slots::Refused;
use super::{Ask, LIVELOG_STATE, ReadHandler};
use crate::http::conditional::{self, EntityTag, Precondition};
use crate::http::encoding;
use crate::http::query::{LineView, Query};
use crate::http::ranges;
use crate::http::{ResponseBody, empty, plain, sse};
use crate::store::{Codec, Cursor, Phase, Progress};

/// `Surrogate-Control` (W3C Edge Architecture Specification 1.0 §3): cache
/// directives for a surrogate (a reverse proxy cache such as Varnish, or a
/// CDN), which removes it before passing the response on.
const SURROGATE_CONTROL: header::HeaderName = header::HeaderName::from_static("surrogate-control");

impl ReadHandler {
    /// The log (or the range asked for, or its event stream), with the log's
    /// state as of now.
    pub(super) fn read<B>(&self, ask: &Ask<'_, B>) -> Response<ResponseBody> {
        let req = ask.req;
        let progress = self.store.progress();
        let view = match LineView::of(&Query::of(req.uri().query())) {
            Ok(view) => view,
            Err(bad) => return with_cors(plain(StatusCode::BAD_REQUEST, &format!("{bad}\n"))),
        };
        // Step 0: a line view, or an event stream (`sse/`), is a
        // representation of its own. Step 1: the coding. Compression and
        // byte ranges do not mix (a `Range` gets identity), so each coding
        // has its own path.
        let mut resp = if let Some(view) = view {
            self.read_lines(ask, view, progress)
        } else if sse::wants_events(req.headers()) {
            self.events(ask, progress)
        } else {
            match encoding::choose(req.headers()) {
                None => self.read_identity(ask, progress),
                Some(codec) => self.read_encoded(ask, codec),
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
    fn events<B>(&self, ask: &Ask<'_, B>, progress: Progress) -> Response<ResponseBody> {
        let req = ask.req;
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
            let held = match self.slots.take(ask.client, req.version(), "sse") {
                Ok(held) => held,
                Err(refused) => return self.slots.refuse(refused),
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
        insert(&mut resp, header::VARY, VARY_LOG);
        insert(&mut resp, header::X_CONTENT_TYPE_OPTIONS, "nosniff");
        // Proxies pass each event on at once (nginx buffers otherwise).
        insert(&mut resp, X_ACCEL_BUFFERING, "no");
        with_cors(resp)
    }

    /// A line view (`lines.rs`): the log's own bytes from the first line
    /// asked for, with arrival times if asked. Like a byte range, it is
    /// never compressed (identity is always acceptable, RFC 9110 §12.5.3),
    /// and its length is not known up front.
    fn read_lines<B>(
        &self,
        ask: &Ask<'_, B>,
        view: LineView,
        progress: Progress,
    ) -> Response<ResponseBody> {
        let req = ask.req;
        if sse::wants_events(req.headers()) {
            let reason = "bad request: tail, lines and timestamps are for the log's text; \
                          an event stream resumes with from= or Last-Event-ID\n";
            return with_cors(plain(StatusCode::BAD_REQUEST, reason));
        }
        let Some(index) = &self.index else {
            return super::index_off();
        };
        let body = if req.method() == Method::HEAD {
            empty()
        } else {
            match self.slots.take(ask.client, req.version(), "lines") {
                Ok(admitted) => {
                    let metrics = Arc::clone(&self.metrics);
                    lines::body(index.clone(), view, progress.len, admitted, metrics)
                }
                Err(refused) => return self.slots.refuse(refused),
            }
        };
        log_response(body, &Span::streamed())
    }

    /// The log's own bytes: all of it, or the range asked for, after the
    /// request's preconditions (`conditional.rs`).
    fn read_identity<B>(&self, ask: &Ask<'_, B>, progress: Progress) -> Response<ResponseBody> {
        let req = ask.req;
        let etag = EntityTag::of_log(&self.log_id, None);
        if let Some(answered) = preconditions(req.headers(), &etag) {
            return answered;
        }
        let range = conditional::range_allowed(req.headers(), &etag)
            .then(|| ranges::requested(req.headers()))
            .flatten();
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
            match self.admit(ask, kind, open) {
                Ok(body) => body,
                Err(refused) => return self.slots.refuse(refused),
            }
        };
        let whole = span.start == 0 && span.end.is_none();
        let mut resp = log_response(body, &span);
        insert(&mut resp, header::ACCEPT_RANGES, "bytes");
        insert(&mut resp, header::ETAG, etag.as_str());
        if let (Some(ttl), true) = (self.shared_cache, whole) {
            // For the shared cache in front (Varnish, a CDN) alone: one
            // fetch of the log from its start, streamed to every reader
            // while it grows (W3C Edge Architecture 1.0, Surrogate-Control;
            // `deploy/varnish/livelog.vcl` honours it). `Cache-Control:
            // no-store` stays, for browsers and every other cache.
            let value = format!("max-age={}", ttl.as_secs());
            insert(&mut resp, SURROGATE_CONTROL, &value);
        }
        resp
    }

    /// The whole log in `codec`: the compressed store, its compressor started
    /// by the first `GET` that asks for it (a `HEAD` starts nothing). Its
    /// length is known once the compressed stream is complete.
    ///
    /// No `Accept-Ranges`: ranges count the log's own bytes, not these (as
    /// nginx drops it from what it compresses).
    fn read_encoded<B>(&self, ask: &Ask<'_, B>, codec: Codec) -> Response<ResponseBody> {
        let etag = EntityTag::of_log(&self.log_id, Some(codec.name()));
        if let Some(answered) = preconditions(ask.req.headers(), &etag) {
            return answered;
        }
        let body = if ask.req.method() == Method::HEAD {
            empty()
        } else {
            let open = || self.encodings.start(codec).cursor(0, None);
            match self.admit(ask, codec.name(), open) {
                Ok(body) => body,
                Err(refused) => return self.slots.refuse(refused),
            }
        };
        let store = self.encodings.store(codec);
        let mut resp = log_response(body, &Span::whole(store.progress()));
        insert(&mut resp, header::CONTENT_ENCODING, codec.name());
        insert(&mut resp, header::ETAG, etag.as_str());
        resp
    }

    /// Takes a reader slot and streams the chunks of the cursor `open`
    /// makes (only once the slot is taken), counted as a reader of `kind`.
    ///
    /// # Errors
    /// Why no slot is to be had (`slots.rs`).
    fn admit<B>(
        &self,
        ask: &Ask<'_, B>,
        kind: &'static str,
        open: impl FnOnce() -> Cursor,
    ) -> Result<ResponseBody, Refused> {
        let admitted = self.slots.take(ask.client, ask.req.version(), kind)?;
        Ok(stream_body(Reader {
            cursor: open(),
            _admitted: admitted,
            metrics: Arc::clone(&self.metrics),
        }))
    }
}

/// The answer the preconditions give a request for the representation
/// tagged `etag` (`304`, `412`), or `None` to answer it in full.
fn preconditions(headers: &http::HeaderMap, etag: &EntityTag) -> Option<Response<ResponseBody>> {
    match conditional::evaluate(headers, etag) {
        Precondition::Proceed => None,
        Precondition::NotModified => Some(not_modified(etag)),
        Precondition::Failed => Some(precondition_failed(etag)),
    }
}
