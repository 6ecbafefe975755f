//! `GET /log/<ACCESS_TOKEN>/outline`: the log's sections and error lines
//! (`index/outline/`), as one JSON document; with `Accept:
//! text/event-stream`, as Server-Sent Events that carry the document again
//! each time it changes, until the log ends.
//!
//! The document:
//!
//! ```json
//! {"state": "live", "bytes": 1234, "lines": 56,
//!  "sections": [{"index": 0, "name": "Build", "kind": "github",
//!                "first_line": 3, "last_line": 40, "open": false,
//!                "start": "2026-12-03T07:31:51.123456Z", "duration_secs": 12.5,
//!                "times": "log", "depth": 0, "parent": null, "errors": 1}],
//!  "sections_dropped": 0, "dialect": "github",
//!  "errors": {"total": 1, "first": {"line": 20, "offset": 900,
//!             "text": "##[error]...", "section": 0, "rank": 1},
//!             "lines": [...], "patterns": [["^##[error]", ...], ["error:", ...]]}}
//! ```
//!
//! `bytes` and `lines` say how much of the log the outline covers.
//! `dialect` is the CI system the log's markers were read as (`plain`
//! until the log shows which). A section's `times` says where its `start`
//! and `duration_secs` come from: `"log"`, the times the log itself gives
//! (the runner's line prefixes, Buildkite's `_bk;t=` milliseconds, GitLab's
//! marker epochs, Taskcluster's bracketed times, Travis' timers, Jenkins'
//! Timestamper), so a log replayed after the fact shows the durations the
//! job had; `"arrival"`, the arrival of its first line and of the line that
//! closed it. `duration_secs` is `null` while it is open. An error line's
//! `rank` is 1 for the job's own failure lines, 2 for tools' errors;
//! `first` is the first rank-1 line, else the first error line.

use std::sync::Arc;
use std::time::{Duration, UNIX_EPOCH};

use bytes::Bytes;
use futures_util::stream;
use http::{Method, Response, StatusCode, header};
use http_body::Frame;
use http_body_util::{BodyExt, Full, StreamBody};
use serde::Serialize;
use tokio::time::Instant;

use super::head::{X_ACCEL_BUFFERING, insert, with_cors};
use super::lines::rfc3339_micros;
use super::slots::Admitted;
use super::{Ask, ReadHandler};
use crate::http::{BoxError, ResponseBody, empty, sse};
use crate::index::{Dialect, ERROR_PATTERNS, ErrorLine, Indexed, Kind, LogIndex, Section};
use crate::store::{Arrivals, Phase};

/// Least time between two documents of a live outline's event stream
/// while its sections or errors change, and while only its line count does.
const EVERY_CHANGE: Duration = Duration::from_millis(500);
const EVERY_GROWTH: Duration = Duration::from_secs(2);

impl ReadHandler {
    /// The outline of the log, or its event stream.
    pub(super) fn outline<B>(&self, ask: &Ask<'_, B>) -> Response<ResponseBody> {
        let Some(index) = &self.index else {
            return super::index_off();
        };
        self.metrics.outline_requests.inc();
        let req = ask.req;
        if sse::wants_events(req.headers()) {
            let body = if req.method() == Method::HEAD {
                empty()
            } else {
                match self.slots.take(ask.client, req.version(), "outline") {
                    Ok(admitted) => events(index.clone(), self.heartbeat, admitted),
                    Err(refused) => return self.slots.refuse(refused),
                }
            };
            let mut resp = Response::new(body);
            insert(&mut resp, header::CONTENT_TYPE, sse::EVENT_STREAM);
            insert(&mut resp, header::CACHE_CONTROL, "no-store");
            insert(&mut resp, header::VARY, "Accept");
            insert(&mut resp, X_ACCEL_BUFFERING, "no");
            return with_cors(resp);
        }
        let json = document(index);
        let len = json.len();
        let body = if req.method() == Method::HEAD {
            empty()
        } else {
            Full::new(Bytes::from(json))
                .map_err(|never| match never {})
                .boxed_unsync()
        };
        let mut resp = Response::new(body);
        *resp.status_mut() = StatusCode::OK;
        insert(&mut resp, header::CONTENT_TYPE, "application/json");
        insert(&mut resp, header::CACHE_CONTROL, "no-store");
        insert(&mut resp, header::VARY, "Accept");
        insert(&mut resp, header::CONTENT_LENGTH, &len.to_string());
        with_cors(resp)
    }
}

#[derive(Serialize)]
struct Document<'a> {
    state: &'static str,
    bytes: u64,
    lines: u64,
    sections: Vec<SectionDoc<'a>>,
    sections_dropped: u64,
    dialect: Dialect,
    errors: Errors<'a>,
}

#[derive(Serialize)]
struct SectionDoc<'a> {
    index: usize,
    name: &'a str,
    kind: Kind,
    first_line: u64,
    last_line: Option<u64>,
    open: bool,
    start: Option<String>,
    duration_secs: Option<f64>,
    times: &'static str,
    depth: usize,
    parent: Option<usize>,
    errors: u64,
}

#[derive(Serialize)]
struct Errors<'a> {
    total: u64,
    first: Option<&'a ErrorLine>,
    lines: &'a [ErrorLine],
    patterns: &'static [&'static [&'static str]; 2],
}

/// The outline document as it stands, one line of JSON and a newline.
fn document(index: &LogIndex) -> String {
    let (outline, indexed) = index.outline();
    let arrivals = index.store().arrivals();
    let last_start = index.last_line_start(indexed).unwrap_or(indexed.offset);
    let doc = Document {
        state: state(indexed),
        bytes: indexed.offset,
        lines: indexed.lines(last_start),
        sections: outline
            .sections
            .iter()
            .enumerate()
            .map(|(i, s)| section_doc(i, s, arrivals.map(Arc::as_ref)))
            .collect(),
        sections_dropped: outline.sections_dropped,
        dialect: outline.dialect,
        errors: Errors {
            total: outline.error_total,
            first: outline.first_error(),
            lines: &outline.errors,
            patterns: &ERROR_PATTERNS,
        },
    };
    let mut json =
        serde_json::to_string(&doc).unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"));
    json.push('\n');
    json
}

/// A time the log gave (nanoseconds since the Unix epoch) as RFC 3339.
fn log_time(nanos: i64) -> String {
    let at = match u64::try_from(nanos) {
        Ok(n) => UNIX_EPOCH + Duration::from_nanos(n),
        Err(_) => UNIX_EPOCH - Duration::from_nanos(nanos.unsigned_abs()),
    };
    rfc3339_micros(at)
}

fn section_doc<'a>(index: usize, s: &'a Section, arrivals: Option<&Arrivals>) -> SectionDoc<'a> {
    let micros = |m: u64| Duration::from_micros(m);
    let (start, duration_secs, times) = match s.log_start {
        Some(start) => (
            Some(log_time(start)),
            s.last_line
                .and(s.log_end)
                .map(|end| end.saturating_sub(start).max(0) as f64 / 1e9),
            "log",
        ),
        None => (
            arrivals.map(|a| rfc3339_micros(a.wall_time(s.start_micros))),
            s.end_micros
                .map(|end| micros(end.saturating_sub(s.start_micros)).as_secs_f64()),
            "arrival",
        ),
    };
    SectionDoc {
        index,
        name: &s.name,
        kind: s.kind,
        first_line: s.first_line,
        last_line: s.last_line,
        open: s.last_line.is_none(),
        start,
        duration_secs,
        times,
        depth: s.depth,
        parent: s.parent,
        errors: s.errors,
    }
}

/// The log's state as far as the outline goes: `live` until the indexer
/// has passed the end of a log that ended.
fn state(indexed: Indexed) -> &'static str {
    match indexed.phase {
        Phase::AwaitingUpload => "waiting",
        Phase::Uploading => "live",
        phase => phase.name(),
    }
}

/// The outline's event stream: `retry:`, then an `outline` event with the
/// document now and again after each change (no more often than
/// [`EVERY_CHANGE`], or [`EVERY_GROWTH`] when only the line count grew),
/// heartbeats while nothing changes, and an `end` event once the indexer
/// has passed the end of the log.
fn events(index: LogIndex, heartbeat: Duration, admitted: Admitted) -> ResponseBody {
    struct Stream {
        index: LogIndex,
        heartbeat: Duration,
        /// The version and line count last sent, and when.
        sent: Option<(u64, u64, Instant)>,
        ended: bool,
        _admitted: Admitted,
    }
    let retry: Result<_, BoxError> = Ok(Frame::data(Bytes::from_static(b"retry: 2000\n\n")));
    let state = Stream {
        index,
        heartbeat,
        sent: None,
        ended: false,
        _admitted: admitted,
    };
    let frames = stream::unfold(Some(state), |state| async move {
        let mut s = state?;
        if s.ended {
            return None;
        }
        if let Some((version, offset, at)) = s.sent {
            tokio::select! {
                _ = s.index.wait_until(|now| now.offset != offset) => {}
                () = tokio::time::sleep(s.heartbeat) => {
                    let beat = Bytes::from_static(b": heartbeat\n\n");
                    return Some((Ok(Frame::data(beat)), Some(s)));
                }
            }
            let (outline, indexed) = s.index.outline();
            if !indexed.ended() {
                // Sections and errors soon; a mere line count less often.
                let changed = outline.version != version;
                let wait = if changed { EVERY_CHANGE } else { EVERY_GROWTH };
                tokio::time::sleep_until(at + wait).await;
            }
        }
        let (outline, indexed) = s.index.outline();
        let json = document(&s.index);
        s.sent = Some((outline.version, indexed.offset, Instant::now()));
        let mut frame = format!("event: outline\ndata: {}\n\n", json.trim_end());
        if indexed.ended() {
            s.ended = true;
            frame.push_str(&format!(
                "event: end\ndata: {{\"complete\": {}}}\n\n",
                indexed.phase == Phase::Complete
            ));
        }
        Some((Ok(Frame::data(Bytes::from(frame))), Some(s)))
    });
    let retry = stream::once(std::future::ready(retry));
    StreamBody::new(futures_util::StreamExt::chain(retry, frames)).boxed_unsync()
}
