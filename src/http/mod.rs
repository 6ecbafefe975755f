//! What a request gets: livelog's HTTP semantics, with no sockets, TLS or
//! connection handling (that is `server`) and no storage details (that is
//! `store`).
//!
//! * [`upload`] — `PUT /log` on the upload port;
//! * [`reader`] — `GET`/`HEAD`/`OPTIONS /log/<ACCESS_TOKEN>` on the reader port,
//!   and `/view/<ACCESS_TOKEN>`;
//! * [`sse`] — the log as Server-Sent Events, for `Accept: text/event-stream`;
//! * [`viewer`] — the log viewer page (`assets/viewer/`);
//! * [`ranges`] — RFC 9110 / RFC 8673 byte ranges of a log that may still grow;
//! * [`conditional`] — the log's entity tag, `If-Match`, `If-None-Match`,
//!   `If-Range` (RFC 9110 §8.8, §13);
//! * [`query`] — query strings, and the line views they ask for;
//! * [`encoding`] — which coding a reader gets (`Accept-Encoding`);
//! * [`route`] — which resource a path names, and how it is logged;
//! * [`client`] — who a request is from (the peer, or what a trusted proxy
//!   says);
//! * [`access_log`] — one line per request, the path redacted;
//! * [`observe`] — `GET /metrics` and `GET /status` on the upload port.
//!
//! Every response has the body type [`ResponseBody`]; every error response
//! is [`plain`]: a status and a one-line reason.

pub mod access_log;
pub mod client;
pub mod conditional;
pub mod encoding;
pub mod json_text;
pub mod observe;
pub mod query;
pub mod ranges;
pub mod reader;
pub mod route;
pub mod sse;
pub mod upload;
pub mod viewer;

use bytes::Bytes;
use http::{Response, StatusCode, header};
use http_body_util::combinators::UnsyncBoxBody;
use http_body_util::{BodyExt, Empty, Full};

/// The error a response body ends with: an upload that broke, a file that
/// could not be read.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Body type of every response livelog sends: a stream of `Bytes` chunks that
/// may end with an error, which the connection turns into an incomplete
/// response (RFC 9112 §7.1: no last chunk; RFC 9113 §8.1: `RST_STREAM`).
pub type ResponseBody = UnsyncBoxBody<Bytes, BoxError>;

/// A plain-text response: `status` with a one-line `reason` (which should end
/// in a newline, so `curl` prints it as a line).
pub fn plain(status: StatusCode, reason: &str) -> Response<ResponseBody> {
    let mut resp = Response::new(
        Full::new(Bytes::copy_from_slice(reason.as_bytes()))
            .map_err(|never| match never {})
            .boxed_unsync(),
    );
    *resp.status_mut() = status;
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    resp
}

/// An empty body (`HEAD`, `204`).
pub fn empty() -> ResponseBody {
    Empty::new().map_err(|never| match never {}).boxed_unsync()
}
