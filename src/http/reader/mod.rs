//! The readers: `GET`/`HEAD`/`OPTIONS /log/<ACCESS_TOKEN>` on the reader port.
//!
//! Each admitted reader gets a [`Cursor`](crate::store::Cursor) into the
//! store and a streaming body that yields the log from its start (or its
//! range) and then every new chunk as it is stored, until the upload ends.
//! An upload that breaks ends the body with an error, which the connection
//! turns into an incomplete response (no last chunk, short of
//! `Content-Length`, or `RST_STREAM` on HTTP/2) once every byte handed over
//! has been sent, so that no client mistakes a truncated log for a whole one
//! and none misses a stored byte.
//!
//! A request goes through, in order:
//! * this file — the route, the method, the client address (`client.rs`),
//!   the wrong-token limit (`admission.rs`) and the token;
//! * `log.rs` — *which representation*: Server-Sent Events for `Accept:
//!   text/event-stream` (`sse/`), else the coding negotiated from
//!   `Accept-Encoding` ([`encoding::choose`](crate::http::encoding::choose)):
//!   identity is the log store itself (with byte ranges); gzip or zstd is
//!   that coding's compressed store, written once by one compressor and read
//!   by every reader of that coding;
//! * `slots.rs` — a reader slot, global and per address;
//! * `head.rs` and `body.rs` — the response head and the streaming body.
//!
//! `/view/<ACCESS_TOKEN>` gets the viewer page (`viewer.rs`).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use http::header;
use http::{Method, Request, Response, StatusCode};
use percent_encoding::percent_decode_str;
use subtle::ConstantTimeEq;
use tokio::time::Instant;

mod admission;
mod body;
mod head;
mod lines;
mod log;
mod outline;
mod scans;
mod search;
mod search_matcher;
mod search_scan;
mod slots;

pub use scans::{MAX_SEARCHES_LIMIT, SEARCH_RETRY_AFTER_SECS};
pub use slots::RETRY_AFTER_SECS;

use admission::TokenFailures;
use head::{insert, preflight, with_cors};
use slots::{Slots, retry_later};

use crate::config::{Config, Port};
use crate::http::access_log::{LoggedResponse, logged};
use crate::http::client::{Client, TrustedProxies};
use crate::http::route::{Part, Route};
use crate::http::viewer::Viewer;
use crate::http::{ResponseBody, plain};
use crate::index::LogIndex;
use crate::metrics::{LimitLabels, Metrics};
use crate::store::{Encodings, LogStore};

/// The response header telling a reader what it is reading: `waiting` (no
/// upload yet), `live`, `complete` or `incomplete` (the upload broke), as of
/// the moment the response was sent.
pub const LIVELOG_STATE: header::HeaderName = header::HeaderName::from_static("livelog-state");

/// Handles requests on the reader port: checks the token, takes a reader
/// slot, and streams the log.
pub struct ReadHandler {
    store: LogStore,
    encodings: Encodings,
    token: crate::config::AccessToken,
    slots: Slots,
    /// Scan slots and threads, for searches.
    scans: scans::Scans,
    metrics: Arc<Metrics>,
    /// Heartbeat period of event streams (`LIVELOG_HEARTBEAT_SECS`).
    heartbeat: Duration,
    /// Whose forwarding headers name the client.
    proxies: TrustedProxies,
    /// Wrong tokens per client address.
    failures: TokenFailures,
    /// The viewer page, built once.
    viewer: Viewer,
    /// The line index and outline (`None`: `LIVELOG_LINE_INDEX=off`).
    index: Option<LogIndex>,
    /// What names this log in its entity tags (`conditional.rs`): drawn at
    /// random when livelog starts, so no other log, before or after a
    /// restart, has it.
    log_id: String,
    /// `LIVELOG_SHARED_CACHE_SECS`: how long a shared cache may keep the
    /// log read from its start (`log.rs`).
    shared_cache: Option<Duration>,
}

/// Which of the token-guarded resources a request is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum What {
    /// `/view/<token>`.
    View,
    /// `/log/<token>`.
    Log,
    /// `/log/<token>/outline` or `/search`.
    Part(Part),
}

/// Where a request's token came from.
#[derive(Clone, Copy, Debug)]
enum Token<'a> {
    /// The path's segment, still percent-encoded (the Go livelog's form).
    Path(&'a str),
    /// `Authorization: Bearer <token>`, which keeps it out of URLs, proxy
    /// access logs and browser history.
    Bearer(&'a str),
}

/// The token of an `Authorization: Bearer <token>` field (RFC 6750 §2.1;
/// the scheme is case-insensitive, RFC 9110 §11.1), if there is one.
fn bearer_token(headers: &http::HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?.trim();
    let (scheme, token) = value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim())
        .filter(|t| !t.is_empty())
}

/// `401` with the challenge RFC 9110 §15.5.2 requires: `Bearer` (RFC 6750
/// §3), so a client knows it may present the token in `Authorization`;
/// `error="invalid_token"` when one was presented.
fn unauthorized(token: Token<'_>) -> Response<ResponseBody> {
    let presented = match token {
        Token::Path(raw) => !raw.is_empty(),
        Token::Bearer(_) => true,
    };
    let challenge = if presented {
        "Bearer realm=\"livelog\", error=\"invalid_token\""
    } else {
        "Bearer realm=\"livelog\""
    };
    let mut resp = with_cors(plain(StatusCode::UNAUTHORIZED, "Access denied\n"));
    insert(&mut resp, header::WWW_AUTHENTICATE, challenge);
    resp
}

/// A new log id: 128 random bits, URL-safe base64 (22 characters). If the
/// system's random source fails, the clock and the process id stand in:
/// still different from any earlier run's.
fn new_log_id() -> String {
    use base64::Engine;
    use ring::rand::SecureRandom;
    let mut bits = [0u8; 16];
    if ring::rand::SystemRandom::new().fill(&mut bits).is_err() {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        bits = (nanos ^ (u128::from(std::process::id()) << 96)).to_le_bytes();
    }
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bits)
}

/// `404` for what needs the line index when `LIVELOG_LINE_INDEX=off`.
fn index_off() -> Response<ResponseBody> {
    let reason = "not found: this needs the line index, which is off (LIVELOG_LINE_INDEX=off)\n";
    with_cors(plain(StatusCode::NOT_FOUND, reason))
}

/// One request, and who sent it.
pub(crate) struct Ask<'a, B> {
    req: &'a Request<B>,
    client: Client,
}

impl ReadHandler {
    /// Readers of `store` (and of its compressed copies, `encodings`), with
    /// the token, limits, proxies and heartbeat `config` sets, counted in
    /// `metrics`.
    pub fn new(
        store: LogStore,
        encodings: Encodings,
        index: Option<LogIndex>,
        config: &Config,
        metrics: Arc<Metrics>,
    ) -> Self {
        ReadHandler {
            store,
            encodings,
            token: config.access_token.clone(),
            slots: Slots::new(
                config.max_readers,
                config.readers_per_address(),
                Arc::clone(&metrics),
            ),
            scans: scans::Scans::new(config, Arc::clone(&metrics)),
            metrics,
            heartbeat: config.heartbeat,
            proxies: TrustedProxies::new(config.trusted_proxies.clone()),
            failures: TokenFailures::new(config.max_token_failures),
            viewer: Viewer::new(),
            index,
            log_id: new_log_id(),
            shared_cache: config.shared_cache,
        }
    }

    /// Stops the compressors readers started, and waits for their threads
    /// (livelog is stopping).
    pub async fn stop_compressors(&self) {
        self.encodings.stop().await;
    }

    /// Answers one request from `peer`, logging its line (with the client
    /// address) when the response is done. Never waits: a streaming body
    /// does its waiting as it is polled.
    pub fn call<B>(&self, req: &Request<B>, peer: SocketAddr) -> LoggedResponse {
        let started = Instant::now();
        let ask = Ask {
            req,
            client: self.proxies.identify(peer, req.headers()),
        };
        let resp = self.handle(&ask);
        let line = (req.method().clone(), req.uri().path());
        logged(resp, Port::Reader, line, ask.client, started)
    }

    fn handle<B>(&self, ask: &Ask<'_, B>) -> Response<ResponseBody> {
        let req = ask.req;
        let bearer = bearer_token(req.headers());
        let (token, what) = match (Route::of(req.uri().path()), bearer) {
            // The token in `Authorization: Bearer` (RFC 6750 §2.1): the
            // path leaves it out.
            (Route::Log(None), Some(t)) => (Token::Bearer(t), What::Log),
            (Route::Log(Some("outline")), Some(t)) => (Token::Bearer(t), What::Part(Part::Outline)),
            (Route::Log(Some("search")), Some(t)) => (Token::Bearer(t), What::Part(Part::Search)),
            (Route::View(None), Some(t)) => (Token::Bearer(t), What::View),
            (Route::View(token), _) => (Token::Path(token.unwrap_or("")), What::View),
            (Route::Log(token), _) => (Token::Path(token.unwrap_or("")), What::Log),
            (Route::LogPart(token, part), _) => (Token::Path(token), What::Part(part)),
            _ => {
                return with_cors(plain(
                    StatusCode::NOT_FOUND,
                    "not found: the log is at /log/<ACCESS_TOKEN>, its viewer at /view/<ACCESS_TOKEN>\n",
                ));
            }
        };
        let method = req.method();
        let view = what == What::View;
        if view && method != Method::GET && method != Method::HEAD {
            return with_cors(self.viewer.respond(method));
        }
        if method == Method::OPTIONS {
            return preflight();
        }
        if method != Method::GET && method != Method::HEAD {
            let mut resp = plain(
                StatusCode::METHOD_NOT_ALLOWED,
                "method not allowed: read the log with GET or HEAD\n",
            );
            insert(&mut resp, header::ALLOW, "GET, HEAD, OPTIONS");
            return with_cors(resp);
        }
        // Only a client told apart from others is limited (`client.rs`): a
        // forwarder on this host stands for every reader behind it.
        let limit_key = ask.client.limit_key;
        if let Some(left) = limit_key.and_then(|key| self.failures.limited(key)) {
            return self.guessing(left);
        }
        let matches = match token {
            Token::Path(raw) => self.token_matches(raw),
            Token::Bearer(sent) => bool::from(sent.as_bytes().ct_eq(self.token.as_bytes())),
        };
        if !matches {
            self.metrics.tokens_refused.inc();
            if let Some(left) = limit_key.and_then(|key| self.failures.failed(key)) {
                return self.guessing(left);
            }
            return unauthorized(token);
        }
        let mut resp = match what {
            // No reader slot: the page takes one when it opens its stream.
            What::View => self.viewer.respond(method),
            What::Log => self.read(ask),
            What::Part(Part::Outline) => self.outline(ask),
            What::Part(Part::Search) => self.search(ask),
        };
        if matches!(token, Token::Bearer(_)) {
            // The same path answers otherwise without the header.
            let vary = match resp.headers().get(header::VARY).map(|v| v.to_str()) {
                Some(Ok(listed)) => format!("{listed}, Authorization"),
                _ => "Authorization".to_owned(),
            };
            insert(&mut resp, header::VARY, &vary);
        }
        resp
    }

    /// Compares the path's token with `ACCESS_TOKEN` in constant time, after
    /// percent-decoding it (as the Go livelog's router did), so `%41` and `A`
    /// are the same token. The comparison leaks only the length.
    fn token_matches(&self, raw: &str) -> bool {
        let decoded: Vec<u8> = percent_decode_str(raw).collect();
        bool::from(decoded.as_slice().ct_eq(self.token.as_bytes()))
    }

    /// `429` for a client address over the wrong-token limit, until the
    /// minute it is counted in ends (`left`).
    fn guessing(&self, left: Duration) -> Response<ResponseBody> {
        let labels = LimitLabels {
            reason: "token_failures",
        };
        self.metrics.requests_limited.get_or_create(&labels).inc();
        tracing::warn!("client refused: too many wrong tokens this minute");
        // Whole seconds, rounded up: never a retry before the minute ends.
        let secs = left.as_secs() + u64::from(left.subsec_nanos() > 0);
        let reason = format!(
            "too many requests: too many wrong tokens from this address; retry in {secs} s\n"
        );
        retry_later(StatusCode::TOO_MANY_REQUESTS, &reason, secs)
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
        let config = Config {
            max_readers: 4,
            ..Config::new(token)
        };
        ReadHandler::new(store, encodings, None, &config, Arc::new(Metrics::new()))
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
