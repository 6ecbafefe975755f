//! The reader side: `GET`/`HEAD /log/<ACCESS_TOKEN>` on the reader listener.
//!
//! Each admitted reader gets a [`Cursor`] into the store and a streaming body
//! that yields the log from its start (or its range) and then every new chunk
//! as it is stored, until the upload ends. An upload that breaks ends the body
//! with an error, which hyper turns into an incomplete response (no last
//! chunk, short of `Content-Length`, or `RST_STREAM` on HTTP/2), so that no
//! client mistakes a truncated log for a whole one.

use std::sync::Arc;

use futures_util::stream;
use http::header::{self, HeaderValue};
use http::{Method, Request, Response, StatusCode};
use http_body::Frame;
use http_body_util::{BodyExt, StreamBody};
use percent_encoding::percent_decode_str;
use subtle::ConstantTimeEq;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::logging::BoxError;
use crate::ranges::{self, Selection};
use crate::server::{ResponseBody, empty, plain};
use crate::store::{Cursor, LogStore};

/// Seconds a client is told to wait (`Retry-After`) when all reader slots are
/// taken.
pub const RETRY_AFTER_SECS: u64 = 5;

/// How long a failing body waits before reporting the failure, so the stored
/// bytes already handed to hyper reach the socket first.
const FLUSH_BEFORE_FAILING: std::time::Duration = std::time::Duration::from_millis(50);

/// Headers a browser's `fetch()` may read from a cross-origin response
/// (the fetch standard's CORS-safelisted response headers exclude these).
const EXPOSE_HEADERS: &str = "Content-Length, Content-Range, Accept-Ranges";

/// What the reader listener needs to answer a request.
pub struct Readers {
    store: LogStore,
    token: Vec<u8>,
    slots: Arc<Semaphore>,
    max_readers: usize,
}

impl Readers {
    /// Readers of `store`, admitted with `token`, at most `max_readers` at once.
    pub fn new(store: LogStore, token: &str, max_readers: usize) -> Self {
        Readers {
            store,
            token: token.as_bytes().to_vec(),
            slots: Arc::new(Semaphore::new(max_readers)),
            max_readers,
        }
    }

    /// Handles one request on the reader listener.
    pub fn handle<B>(&self, req: &Request<B>) -> Response<ResponseBody> {
        let path = req.uri().path();
        let Some(token) = path
            .strip_prefix("/log/")
            .or_else(|| (path == "/log").then_some(""))
        else {
            return plain(
                StatusCode::NOT_FOUND,
                "not found: the log is at /log/<ACCESS_TOKEN>\n",
            );
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
        bool::from(decoded.as_slice().ct_eq(&self.token))
    }

    fn read<B>(&self, req: &Request<B>) -> Response<ResponseBody> {
        // RFC 9110 §13.1.5: If-Range holds a validator; livelog issues none
        // (a live log has no stable ETag), so no If-Range can match and the
        // Range is ignored, sending the whole log.
        // Two `Range` fields are one list of ranges (RFC 9110 §5.3): a
        // multi-range request, which livelog ignores like any other.
        let mut fields = req.headers().get_all(header::RANGE).iter();
        let range = match (fields.next(), fields.next()) {
            _ if req.headers().contains_key(header::IF_RANGE) => None,
            (Some(value), None) => value.to_str().ok().and_then(ranges::parse),
            _ => None,
        };
        let progress = self.store.progress();
        let selection = ranges::select(range, progress);

        let (status, start, end, content_length, content_range) = match selection {
            Selection::Full { content_length } => (StatusCode::OK, 0, None, content_length, None),
            Selection::Partial(part) => (
                StatusCode::PARTIAL_CONTENT,
                part.first,
                // `last` may be near u64::MAX (a client's "follow forever").
                Some(part.last.saturating_add(1)),
                part.stored.then(|| part.len()),
                Some(part.content_range()),
            ),
            Selection::Unsatisfiable { current_length } => {
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
                return resp;
            }
        };

        let body = if req.method() == Method::HEAD {
            empty()
        } else {
            let Ok(slot) = Arc::clone(&self.slots).try_acquire_owned() else {
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
                return with_cors(resp);
            };
            stream_body(self.store.cursor(start, end), slot)
        };

        let mut resp = Response::new(body);
        *resp.status_mut() = status;
        insert(&mut resp, header::CONTENT_TYPE, "text/plain; charset=utf-8");
        insert(&mut resp, header::ACCEPT_RANGES, "bytes");
        // A live log changes under any cache; a complete one is still
        // private to whoever holds the token.
        insert(&mut resp, header::CACHE_CONTROL, "no-store");
        insert(&mut resp, header::X_CONTENT_TYPE_OPTIONS, "nosniff");
        if let Some(len) = content_length {
            insert(&mut resp, header::CONTENT_LENGTH, &len.to_string());
        }
        if let Some(range) = content_range {
            insert(&mut resp, header::CONTENT_RANGE, &range);
        }
        with_cors(resp)
    }
}

/// The body of one reader: the cursor's chunks, one frame each, ending
/// cleanly at the cursor's end and with an error if the upload broke. Holds
/// the reader's slot until the response is dropped.
fn stream_body(cursor: Cursor, slot: OwnedSemaphorePermit) -> ResponseBody {
    // The state is `None` once the body failed, so it ends there instead of
    // reporting the same error again.
    let chunks = stream::unfold(Some((cursor, slot)), |state| async move {
        let (mut cursor, slot) = state?;
        match cursor.next_chunk().await {
            Ok(Some(chunk)) => Some((Ok(Frame::data(chunk)), Some((cursor, slot)))),
            Ok(None) => None,
            Err(err) => {
                // hyper drops whatever it still buffers for this socket the
                // moment a body fails. Pause first: hyper flushes while the
                // body is pending, so a reader keeping up receives every
                // stored byte before the incomplete end.
                tokio::time::sleep(FLUSH_BEFORE_FAILING).await;
                Some((Err(BoxError::from(err)), None))
            }
        }
    });
    StreamBody::new(chunks).boxed_unsync()
}

/// Answers a CORS preflight (a `Range` that is not CORS-safelisted, such as a
/// suffix range, makes browsers send one).
fn preflight() -> Response<ResponseBody> {
    let mut resp = Response::new(empty());
    *resp.status_mut() = StatusCode::NO_CONTENT;
    insert(&mut resp, header::ACCESS_CONTROL_ALLOW_ORIGIN, "*");
    insert(&mut resp, header::ACCESS_CONTROL_ALLOW_METHODS, "GET, HEAD");
    insert(
        &mut resp,
        header::ACCESS_CONTROL_ALLOW_HEADERS,
        "Range, If-Range",
    );
    insert(&mut resp, header::ACCESS_CONTROL_MAX_AGE, "86400");
    resp
}

fn with_cors(mut resp: Response<ResponseBody>) -> Response<ResponseBody> {
    insert(&mut resp, header::ACCESS_CONTROL_ALLOW_ORIGIN, "*");
    insert(
        &mut resp,
        header::ACCESS_CONTROL_EXPOSE_HEADERS,
        EXPOSE_HEADERS,
    );
    resp
}

fn insert(resp: &mut Response<ResponseBody>, name: header::HeaderName, value: &str) {
    // Every value here is ASCII built by livelog, so this never fails; a
    // failure would only drop the header.
    if let Ok(v) = HeaderValue::from_str(value) {
        resp.headers_mut().insert(name, v);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::StoreLimits;

    fn readers(token: &str) -> Readers {
        let file = tempfile::tempfile().unwrap();
        let store = LogStore::with_file(file, StoreLimits::from_ring_bytes(1024));
        Readers::new(store, token, 4)
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
