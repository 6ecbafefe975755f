//! The log as Server-Sent Events (WHATWG HTML, "Server-sent events"), for
//! `GET /log/<ACCESS_TOKEN>` with `Accept: text/event-stream`, which is what
//! a browser's `EventSource` sends. [`super::reader`] decides who gets this
//! (token, reader slot, status); this module is the event stream itself:
//!
//! * `retry: 2000` first;
//! * `event: log` with `data:` the text as one JSON string (SSE cannot carry
//!   a bare `\r`, and logs have them) and `id:` the byte offset of the end
//!   of that text in the log. An event carries the chunk the cursor
//!   returned, or several coalesced while the reader is behind, up to
//!   [`EVENT_BYTES`] of log;
//! * bytes that are not UTF-8 become U+FFFD, one per maximal invalid
//!   sequence (as a browser's `TextDecoder` does), but a character split
//!   between two uploaded chunks is never split between two events: an
//!   incomplete sequence at the end is held back until its rest arrives or
//!   the log ends (`Utf8Text`, in `text.rs`). Ids always count raw bytes;
//! * `: heartbeat` after every heartbeat period with no event, so proxies
//!   and browsers keep a silent stream open;
//! * `event: end` with `data: {"complete": true|false, "length": N}` once
//!   the upload has ended, then the response ends cleanly: the end event,
//!   not the HTTP framing, says whether the log is whole.
//!
//! The stream reads the log through the store's [`Cursor`], so an SSE reader
//! is served from the ring at the head and catches up from the temp file
//! like any reader.

use std::collections::VecDeque;
use std::fmt;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use bytes::{Buf, Bytes};
use futures_util::{StreamExt, stream};
use http::HeaderMap;
use http::header::{self, HeaderName};
use http_body::Frame;
use http_body_util::{BodyExt, StreamBody};
use tokio::time::{Instant, Sleep};

mod text;

use text::{JsonText, Utf8Text};

use super::{BoxError, ResponseBody};
use crate::metrics::Metrics;
use crate::store::{Cursor, ReadError};

/// The media type of an event stream.
pub const EVENT_STREAM: &str = "text/event-stream";

/// Most bytes of log one event carries. Coalescing makes catching up on a
/// long log cheap in the browser (per-event overhead); the bound keeps each
/// reader's event buffer small (its JSON is at most ~6× this, for a log of
/// control characters, and about this much for text).
pub const EVENT_BYTES: usize = 64 * 1024;

/// The reconnection delay EventSource is told, in milliseconds.
pub const RETRY_MS: u64 = 2000;

/// The request header EventSource sends when it reconnects.
pub const LAST_EVENT_ID: HeaderName = HeaderName::from_static("last-event-id");

const RETRY: &[u8] = b"retry: 2000\n\n";
const HEARTBEAT: &[u8] = b": heartbeat\n\n";

/// `true` if `Accept` asks for [`EVENT_STREAM`] (with a non-zero `q`).
/// Anything else — no `Accept`, `*/*`, `text/*` — gets the raw log, so
/// `curl` and the Go livelog's clients see no change.
pub fn wants_events(headers: &HeaderMap) -> bool {
    headers
        .get_all(header::ACCEPT)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|range| {
            let mut parts = range.split(';');
            let media = parts.next().unwrap_or_default().trim();
            media.eq_ignore_ascii_case(EVENT_STREAM)
                && !parts.any(|param| {
                    let (name, value) = param.split_once('=').unwrap_or((param, ""));
                    name.trim().eq_ignore_ascii_case("q")
                        && value.trim().parse::<f32>().is_ok_and(|q| q <= 0.0)
                })
        })
}

/// A resume offset that is not a byte offset.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BadOffset(&'static str);

impl fmt::Display for BadOffset {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "bad request: {} must be one byte offset (a whole number): the id of the last event received",
            self.0
        )
    }
}

/// Where the stream starts: `Last-Event-ID` (what EventSource sends when it
/// reconnects), else `?from=` in the query (for clients that cannot set
/// headers; EventSource keeps the URL it was opened with, so the header is
/// the newer of the two), else 0.
///
/// # Errors
/// [`BadOffset`] when the one that counts is not a whole number (or is
/// given twice).
pub fn start_offset(headers: &HeaderMap, query: Option<&str>) -> Result<u64, BadOffset> {
    let mut ids = headers.get_all(LAST_EVENT_ID).iter();
    if let Some(id) = ids.next() {
        let bad = BadOffset("Last-Event-ID");
        if ids.next().is_some() {
            return Err(bad);
        }
        return id.to_str().ok().and_then(offset).ok_or(bad);
    }
    let mut froms = query
        .unwrap_or_default()
        .split('&')
        .filter_map(|pair| pair.strip_prefix("from="));
    match (froms.next(), froms.next()) {
        (None, _) => Ok(0),
        (Some(from), None) => offset(from).ok_or(BadOffset("from")),
        (Some(_), Some(_)) => Err(BadOffset("from")),
    }
}

/// A decimal byte offset: ASCII digits only (no sign, no spaces inside).
fn offset(text: &str) -> Option<u64> {
    let text = text.trim_matches([' ', '\t']);
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse().ok()
}

/// How the log ended, as the end event tells it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct End {
    complete: bool,
    length: u64,
}

/// What the stream sends next.
enum Step {
    Event(Bytes),
    End(Bytes),
    Fail(BoxError),
}

/// The log side of the stream: the cursor, the bytes taken from it and not
/// yet sent, and how the log ended once it has.
struct Source {
    cursor: Cursor,
    /// Bytes taken from the cursor and not yet in an event, oldest first.
    pending: VecDeque<Bytes>,
    /// Their total length.
    pending_len: usize,
    text: Utf8Text,
    /// The offset the last event ended at (its id).
    sent_to: u64,
    end: Option<End>,
    metrics: Arc<Metrics>,
}

impl Source {
    /// The next event, waiting for the log to grow if need be.
    ///
    /// Cancel-safe (the heartbeat races it): its only wait is the cursor's,
    /// which is cancel-safe, and what that returns is stored in `self`
    /// before anything else happens.
    async fn next(&mut self) -> Step {
        loop {
            // Send what is pending once it fills an event, once no more is
            // stored (a reader at the head gets each chunk at once), or once
            // the log ended; while the reader is behind, coalesce.
            let ready = self.pending_len >= EVENT_BYTES
                || self.end.is_some()
                || self.cursor.stored() <= self.cursor.position();
            if self.pending_len > 0 && ready {
                if let Some(event) = self.log_event() {
                    return Step::Event(event);
                }
                // Only the start of a character came: wait for its rest.
                continue;
            }
            if let Some(end) = self.end {
                if let Some(event) = self.log_event() {
                    return Step::Event(event);
                }
                return Step::End(self.end_event(end));
            }
            match self.cursor.next_chunk().await {
                Ok(Some(chunk)) => {
                    self.pending_len += chunk.len();
                    self.pending.push_back(chunk);
                }
                Ok(None) => {
                    self.end = Some(End {
                        complete: true,
                        length: self.cursor.stored(),
                    });
                }
                Err(ReadError::Incomplete(broke)) => {
                    self.end = Some(End {
                        complete: false,
                        length: broke.stored,
                    });
                }
                Err(err @ ReadError::Io(_)) => return Step::Fail(BoxError::from(err)),
            }
        }
    }

    /// An event of up to [`EVENT_BYTES`] of the pending bytes (all of what
    /// is held back too, once the log ended), or `None` if they hold no
    /// whole character yet.
    fn log_event(&mut self) -> Option<Bytes> {
        let mut text = JsonText(event_head(self.pending_len.min(EVENT_BYTES)));
        let start = text.0.len();
        let mut budget = EVENT_BYTES;
        while budget > 0 {
            let Some(front) = self.pending.front_mut() else {
                break;
            };
            let piece = if front.len() <= budget {
                self.pending.pop_front().unwrap_or_default()
            } else {
                front.split_to(budget)
            };
            budget -= piece.len();
            self.pending_len -= piece.len();
            self.text.push(piece.chunk(), &mut text);
        }
        if self.end.is_some() && self.pending_len == 0 {
            self.text.finish(&mut text);
        }
        if text.0.len() == start {
            return None;
        }
        let id = self.cursor.position() - self.pending_len as u64 - self.text.held() as u64;
        self.metrics.sent_bytes.inc_by(id - self.sent_to);
        self.sent_to = id;
        Some(log_frame(id, text.0))
    }

    fn end_event(&self, end: End) -> Bytes {
        if !end.complete {
            self.metrics.readers_incomplete.inc();
        }
        Bytes::from(format!(
            "event: end\ndata: {{\"complete\": {}, \"length\": {}}}\n\n",
            end.complete, end.length
        ))
    }
}

/// The start of a `log` event's frame, with room for `text_bytes` of text:
/// the event's text is escaped into it, and [`log_frame`] finishes it.
/// (The id is known only once the text is: it goes last, which SSE allows.)
fn event_head(text_bytes: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(text_bytes + text_bytes / 8 + 64);
    out.extend_from_slice(b"event: log\ndata: \"");
    out
}

/// Finishes a `log` event: `event: log`, `data: <text as a JSON string>`,
/// `id: <end offset>`. JSON escapes every control character (`\r`, `\n`,
/// ESC...), so the data is one line whatever the log holds.
fn log_frame(id: u64, mut out: Vec<u8>) -> Bytes {
    out.extend_from_slice(b"\"\nid: ");
    out.extend_from_slice(id.to_string().as_bytes());
    out.extend_from_slice(b"\n\n");
    Bytes::from(out)
}

/// One reader's event stream after its `retry:`: the log side, the
/// heartbeat timer, and whatever the reader holds while it streams (its
/// reader slot).
struct Events<G> {
    source: Source,
    heartbeat: Pin<Box<Sleep>>,
    period: Duration,
    _held: G,
}

impl<G> Events<G> {
    /// The next frame, and whether more follow (not after the end event or
    /// a failure).
    async fn next_frame(&mut self) -> (Result<Bytes, BoxError>, bool) {
        // Data first: a heartbeat is only for a stream with nothing to send.
        let step = tokio::select! {
            biased;
            step = self.source.next() => Some(step),
            () = self.heartbeat.as_mut() => None,
        };
        self.rearm();
        match step {
            None => (Ok(Bytes::from_static(HEARTBEAT)), true),
            Some(Step::Event(event)) => (Ok(event), true),
            Some(Step::End(event)) => (Ok(event), false),
            Some(Step::Fail(err)) => (Err(err), false),
        }
    }

    /// The next heartbeat is one period after what was just sent.
    fn rearm(&mut self) {
        self.heartbeat.as_mut().reset(Instant::now() + self.period);
    }
}

/// The event stream of `cursor`, from its position, with a heartbeat after
/// every `heartbeat` without an event. `held` (the reader's slot and its
/// place in the readers gauge) is kept until the stream is dropped. Bytes of
/// log sent count in `metrics`, and so does an end that says incomplete.
///
/// The body fails (so the connection ends it incomplete, and EventSource
/// reconnects from the last id) only if the temp file cannot be read.
pub fn body<G: Send + 'static>(
    cursor: Cursor,
    heartbeat: Duration,
    metrics: Arc<Metrics>,
    held: G,
) -> ResponseBody {
    let start = cursor.position();
    let events = Events {
        source: Source {
            cursor,
            pending: VecDeque::new(),
            pending_len: 0,
            text: Utf8Text::default(),
            sent_to: start,
            end: None,
            metrics,
        },
        heartbeat: Box::pin(tokio::time::sleep(heartbeat)),
        period: heartbeat,
        _held: held,
    };
    let retry: Result<_, BoxError> = Ok(Frame::data(Bytes::from_static(RETRY)));
    let retry = stream::once(std::future::ready(retry));
    let frames = stream::unfold(Some(events), |events| async move {
        let mut events = events?;
        let (frame, more) = events.next_frame().await;
        Some((frame.map(Frame::data), more.then_some(events)))
    });
    StreamBody::new(retry.chain(frames)).boxed_unsync()
}

#[cfg(test)]
mod tests;
