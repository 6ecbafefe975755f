//! What the head of a reader's response says: the status, the
//! representation's headers for the span of the log it carries
//! (`Content-Length`, `Content-Range`, RFC 9110 §14.4; `416` with the
//! current length, §15.5.17), caching, and CORS for browsers' `fetch()`.

use http::header::{self, HeaderValue};
use http::{Response, StatusCode};

use crate::http::conditional::EntityTag;
use crate::http::ranges::{self, Selection};
use crate::http::{ResponseBody, empty, plain};
use crate::store::{Phase, Progress};

/// Headers a browser's `fetch()` may read from a cross-origin response
/// (the fetch standard's CORS-safelisted response headers exclude these).
const EXPOSE_HEADERS: &str = "Content-Length, Content-Range, Accept-Ranges, ETag, Livelog-State, Retry-After, WWW-Authenticate";

/// The request headers that choose between the log's representations
/// (RFC 9110 §12.5.5): `Accept` (an event stream or the text) and
/// `Accept-Encoding` (the coding). A shared cache keys on them.
pub(super) const VARY_LOG: &str = "Accept, Accept-Encoding";

/// Tells nginx (and the proxies and CDNs that honour it) not to buffer a
/// response: a live log must reach its reader line by line.
pub const X_ACCEL_BUFFERING: header::HeaderName =
    header::HeaderName::from_static("x-accel-buffering");

/// The part of the log a `200` or `206` response carries, and what its head
/// says about it.
pub(super) struct Span {
    status: StatusCode,
    /// First byte offset.
    pub(super) start: u64,
    /// End offset (exclusive); `None` follows the log to its end.
    pub(super) end: Option<u64>,
    content_length: Option<u64>,
    content_range: Option<String>,
}

impl Span {
    /// All of a log (or a compressed stream) standing at `progress`: its
    /// length is known once it is complete.
    pub(super) fn whole(progress: Progress) -> Span {
        Span {
            status: StatusCode::OK,
            start: 0,
            end: None,
            content_length: (progress.phase == Phase::Complete).then_some(progress.len),
            content_range: None,
        }
    }

    /// A representation streamed from the log whose length is not known up
    /// front (a line view).
    pub(super) fn streamed() -> Span {
        Span {
            status: StatusCode::OK,
            start: 0,
            end: None,
            content_length: None,
            content_range: None,
        }
    }

    /// The span a selection stands for, or `Err(current_length)` when it is
    /// unsatisfiable.
    pub(super) fn of(selection: Selection) -> Result<Span, u64> {
        match selection {
            Selection::Full { content_length } => Ok(Span {
                status: StatusCode::OK,
                start: 0,
                end: None,
                content_length,
                content_range: None,
            }),
            Selection::Partial(part) => Ok(Span {
                status: StatusCode::PARTIAL_CONTENT,
                start: part.first,
                // `last` may be near u64::MAX (a client's "follow forever").
                end: Some(part.last.saturating_add(1)),
                content_length: part.stored.then(|| part.len()),
                content_range: Some(part.content_range()),
            }),
            Selection::Unsatisfiable { current_length } => Err(current_length),
        }
    }
}

/// A `200` or `206` of the log: `body` with the head `span` describes. The
/// coding depends on `Accept-Encoding`, so every such response says so
/// (`Vary`), whichever coding it has.
pub(super) fn log_response(body: ResponseBody, span: &Span) -> Response<ResponseBody> {
    let mut resp = Response::new(body);
    *resp.status_mut() = span.status;
    insert(&mut resp, header::CONTENT_TYPE, "text/plain; charset=utf-8");
    insert(&mut resp, header::VARY, VARY_LOG);
    // A live log changes under any cache; a complete one is still
    // private to whoever holds the token.
    insert(&mut resp, header::CACHE_CONTROL, "no-store");
    insert(&mut resp, header::X_CONTENT_TYPE_OPTIONS, "nosniff");
    match span.content_length {
        Some(len) => insert(&mut resp, header::CONTENT_LENGTH, &len.to_string()),
        // Its length is not known: it may still grow, live.
        None => insert(&mut resp, X_ACCEL_BUFFERING, "no"),
    }
    if let Some(range) = &span.content_range {
        insert(&mut resp, header::CONTENT_RANGE, range);
    }
    with_cors(resp)
}

/// `304 Not Modified` for the representation tagged `etag`: the headers a
/// `200` would have had that a cache needs (RFC 9110 §15.4.5), no body.
pub(super) fn not_modified(etag: &EntityTag) -> Response<ResponseBody> {
    let mut resp = Response::new(empty());
    *resp.status_mut() = StatusCode::NOT_MODIFIED;
    insert(&mut resp, header::ETAG, etag.as_str());
    insert(&mut resp, header::VARY, VARY_LOG);
    insert(&mut resp, header::CACHE_CONTROL, "no-store");
    with_cors(resp)
}

/// `412 Precondition Failed`: `If-Match` named another log (RFC 9110
/// §13.1.1, §15.5.13).
pub(super) fn precondition_failed(etag: &EntityTag) -> Response<ResponseBody> {
    let reason = format!(
        "precondition failed: If-Match does not name this log, which is {}\n",
        etag.as_str()
    );
    let mut resp = with_cors(plain(StatusCode::PRECONDITION_FAILED, &reason));
    insert(&mut resp, header::ETAG, etag.as_str());
    resp
}

/// `416` with the log's current length (RFC 9110 §15.5.17).
pub(super) fn unsatisfiable(current_length: u64) -> Response<ResponseBody> {
    let mut resp = with_cors(plain(
        StatusCode::RANGE_NOT_SATISFIABLE,
        &format!("range not satisfiable: the log has {current_length} bytes now\n"),
    ));
    insert(
        &mut resp,
        header::CONTENT_RANGE,
        &ranges::unsatisfied_range(current_length),
    );
    insert(&mut resp, header::ACCEPT_RANGES, "bytes");
    resp
}

/// Answers a CORS preflight (a `Range` that is not CORS-safelisted, such as a
/// suffix range, makes browsers send one).
pub(super) fn preflight() -> Response<ResponseBody> {
    let mut resp = Response::new(empty());
    *resp.status_mut() = StatusCode::NO_CONTENT;
    insert(&mut resp, header::ACCESS_CONTROL_ALLOW_ORIGIN, "*");
    insert(&mut resp, header::ACCESS_CONTROL_ALLOW_METHODS, "GET, HEAD");
    insert(
        &mut resp,
        header::ACCESS_CONTROL_ALLOW_HEADERS,
        "Range, If-Range, If-Match, If-None-Match, Last-Event-ID, Authorization",
    );
    insert(&mut resp, header::ACCESS_CONTROL_MAX_AGE, "86400");
    resp
}

/// Lets a cross-origin page (`fetch()`, `EventSource`) read the response,
/// its status and [`EXPOSE_HEADERS`]; every response of the reader port but
/// the viewer page carries it, errors included.
pub(super) fn with_cors(mut resp: Response<ResponseBody>) -> Response<ResponseBody> {
    insert(&mut resp, header::ACCESS_CONTROL_ALLOW_ORIGIN, "*");
    insert(
        &mut resp,
        header::ACCESS_CONTROL_EXPOSE_HEADERS,
        EXPOSE_HEADERS,
    );
    resp
}

pub(super) fn insert(resp: &mut Response<ResponseBody>, name: header::HeaderName, value: &str) {
    // Every value here is ASCII built by livelog, so this never fails; a
    // failure would only drop the header.
    if let Ok(v) = HeaderValue::from_str(value) {
        resp.headers_mut().insert(name, v);
    }
}
