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
//!   the log ends ([`Utf8Text`]). Ids always count raw bytes;
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
use futures_util::stream;
use http::HeaderMap;
use http::header::{self, HeaderName};
use http_body::Frame;
use http_body_util::{BodyExt, StreamBody};
use tokio::time::{Instant, Sleep};

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

/// Where decoded text goes: a `String`, or an event's JSON string being
/// written ([`JsonText`]).
pub trait TextOut {
    /// Appends `s`.
    fn push_str(&mut self, s: &str);

    /// Appends `c`.
    fn push(&mut self, c: char) {
        self.push_str(c.encode_utf8(&mut [0; 4]));
    }
}

impl TextOut for String {
    fn push_str(&mut self, s: &str) {
        String::push_str(self, s);
    }
}

/// The contents of a JSON string (without its quotes), escaped as
/// `serde_json` escapes (`\"`, `\\`, `\n`, `\r`, `\t`, `\b`, `\f`, other
/// control characters as `\u00XX`; everything else as it is), written
/// straight from the log's bytes: no copy of the text in between.
#[derive(Debug, Default)]
pub struct JsonText(pub Vec<u8>);

impl TextOut for JsonText {
    fn push_str(&mut self, s: &str) {
        let bytes = s.as_bytes();
        let out = &mut self.0;
        out.reserve(bytes.len());
        let (mut start, mut i) = (0, 0);
        while i < bytes.len() {
            // Eight bytes at a time while none needs escaping (log text
            // mostly does not): one test per word instead of eight.
            while let Some(word) = bytes.get(i..i + 8) {
                let word = u64::from_le_bytes(word.try_into().unwrap_or([0; 8]));
                if needs_escape(word) {
                    break;
                }
                i += 8;
            }
            let Some(&b) = bytes.get(i) else {
                break;
            };
            i += 1;
            let escaped: &[u8] = match b {
                b'"' => b"\\\"",
                b'\\' => b"\\\\",
                b'\n' => b"\\n",
                b'\r' => b"\\r",
                b'\t' => b"\\t",
                0x08 => b"\\b",
                0x0c => b"\\f",
                0..0x20 => &[
                    b'\\',
                    b'u',
                    b'0',
                    b'0',
                    HEX[usize::from(b >> 4)],
                    HEX[usize::from(b & 0xf)],
                ],
                _ => continue,
            };
            out.extend_from_slice(&bytes[start..i - 1]);
            out.extend_from_slice(escaped);
            start = i;
        }
        out.extend_from_slice(&bytes[start..]);
    }
}

const HEX: &[u8; 16] = b"0123456789abcdef";

/// `true` if a byte of `word` is a control character, `"` or `\\` (the
/// bytes a JSON string escapes). Exact, by the classic "has a byte less
/// than n" and "has a zero byte" word tricks.
fn needs_escape(word: u64) -> bool {
    const ONES: u64 = u64::MAX / 255;
    const HIGHS: u64 = ONES * 0x80;
    let below_space = word.wrapping_sub(ONES * 0x20) & !word;
    let quote = word ^ (ONES * u64::from(b'"'));
    let backslash = word ^ (ONES * u64::from(b'\\'));
    let is_quote = quote.wrapping_sub(ONES) & !quote;
    let is_backslash = backslash.wrapping_sub(ONES) & !backslash;
    (below_space | is_quote | is_backslash) & HIGHS != 0
}

/// Log bytes as text, fed piece by piece: valid UTF-8 as it is, each
/// maximal invalid sequence as one U+FFFD, and an incomplete sequence at the
/// end of a piece held back until the next piece completes it (or shows it
/// invalid), or [`Utf8Text::finish`] gives up on it.
#[derive(Debug, Default)]
pub struct Utf8Text {
    held: [u8; 4],
    held_len: usize,
}

impl Utf8Text {
    /// Bytes held back: the start of a character not complete yet (0 to 3).
    pub fn held(&self) -> usize {
        self.held_len
    }

    /// Appends the text of `input` (after whatever was held back) to `out`.
    pub fn push(&mut self, mut input: &[u8], out: &mut impl TextOut) {
        if self.held_len > 0 {
            input = self.complete_held(input, out);
            if self.held_len > 0 {
                return; // still incomplete: `input` is used up
            }
        }
        // Mostly the whole piece is valid: `from_utf8` checks it a word at a
        // time where `utf8_chunks` goes byte by byte.
        if let Ok(text) = std::str::from_utf8(input) {
            out.push_str(text);
            return;
        }
        let mut chunks = input.utf8_chunks().peekable();
        while let Some(chunk) = chunks.next() {
            out.push_str(chunk.valid());
            let invalid = chunk.invalid();
            if invalid.is_empty() {
                continue;
            }
            if chunks.peek().is_none() && is_incomplete(invalid) {
                // The end of `input` is the start of a character.
                self.held[..invalid.len()].copy_from_slice(invalid);
                self.held_len = invalid.len();
            } else {
                out.push(char::REPLACEMENT_CHARACTER);
            }
        }
    }

    /// The log ended: what is held back will never be completed.
    pub fn finish(&mut self, out: &mut impl TextOut) {
        if self.held_len > 0 {
            self.held_len = 0;
            out.push(char::REPLACEMENT_CHARACTER);
        }
    }

    /// Completes the held-back character with the first bytes of `input`
    /// (or finds it invalid, or still incomplete); returns the rest of
    /// `input`.
    fn complete_held<'a>(&mut self, input: &'a [u8], out: &mut impl TextOut) -> &'a [u8] {
        let held = self.held_len;
        // A character is at most 4 bytes: that many decide it.
        let take = input.len().min(4 - held);
        let mut joined = [0u8; 4];
        joined[..held].copy_from_slice(&self.held[..held]);
        joined[held..held + take].copy_from_slice(&input[..take]);
        let joined = &joined[..held + take];
        let Some(first) = joined.utf8_chunks().next() else {
            return input;
        };
        if let Some(c) = first.valid().chars().next() {
            // Completed: the held bytes were its start.
            out.push(c);
            self.held_len = 0;
            return &input[c.len_utf8() - held..];
        }
        let invalid = first.invalid();
        if invalid.len() == joined.len() && take == input.len() && is_incomplete(invalid) {
            // Still the start of a character, and `input` is used up.
            self.held[..joined.len()].copy_from_slice(joined);
            self.held_len = joined.len();
            return &[];
        }
        // Invalid: the held bytes (and any that continued them) are one
        // maximal invalid sequence.
        out.push(char::REPLACEMENT_CHARACTER);
        self.held_len = 0;
        &input[invalid.len().saturating_sub(held)..]
    }
}

/// `true` if `bytes` is the start of a UTF-8 character, cut short.
fn is_incomplete(bytes: &[u8]) -> bool {
    std::str::from_utf8(bytes).is_err_and(|e| e.error_len().is_none())
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

/// Where the stream is.
enum Phase {
    /// `retry:` not sent yet.
    Starting,
    Streaming,
    Done,
}

/// One reader's event stream: the log side, the heartbeat timer, and
/// whatever the reader holds while it streams (its reader slot).
struct Events<G> {
    source: Source,
    heartbeat: Pin<Box<Sleep>>,
    period: Duration,
    phase: Phase,
    _held: G,
}

impl<G> Events<G> {
    async fn next_frame(&mut self) -> Option<Result<Bytes, BoxError>> {
        match self.phase {
            Phase::Starting => {
                self.phase = Phase::Streaming;
                self.rearm();
                return Some(Ok(Bytes::from_static(RETRY)));
            }
            Phase::Streaming => {}
            Phase::Done => return None,
        }
        // Data first: a heartbeat is only for a stream with nothing to send.
        let step = tokio::select! {
            biased;
            step = self.source.next() => Some(step),
            () = self.heartbeat.as_mut() => None,
        };
        self.rearm();
        match step {
            None => Some(Ok(Bytes::from_static(HEARTBEAT))),
            Some(Step::Event(event)) => Some(Ok(event)),
            Some(Step::End(event)) => {
                self.phase = Phase::Done;
                Some(Ok(event))
            }
            Some(Step::Fail(err)) => {
                self.phase = Phase::Done;
                Some(Err(err))
            }
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
        phase: Phase::Starting,
        _held: held,
    };
    let frames = stream::unfold(events, |mut events| async move {
        let frame = events.next_frame().await?;
        Some((frame.map(Frame::data), events))
    });
    StreamBody::new(frames).boxed_unsync()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{LogStore, StoreLimits};
    use http::HeaderValue;
    use proptest::prelude::*;

    fn decode_pieces(pieces: &[&[u8]]) -> (String, usize) {
        let mut text = Utf8Text::default();
        let mut out = String::new();
        let mut most_held = 0;
        for piece in pieces {
            text.push(piece, &mut out);
            most_held = most_held.max(text.held());
        }
        text.finish(&mut out);
        (out, most_held)
    }

    #[test]
    fn a_character_split_across_pieces_is_held_back_whole() {
        let euro = "€".as_bytes(); // e2 82 ac
        let mut text = Utf8Text::default();
        let mut out = String::new();
        text.push(&[b'a', euro[0]], &mut out);
        assert_eq!((out.as_str(), text.held()), ("a", 1));
        text.push(&euro[1..2], &mut out);
        assert_eq!((out.as_str(), text.held()), ("a", 2));
        text.push(&[euro[2], b'b'], &mut out);
        assert_eq!((out.as_str(), text.held()), ("a€b", 0));
    }

    #[test]
    fn invalid_bytes_become_one_replacement_each_maximal_sequence() {
        assert_eq!(decode_pieces(&[b"a\xffb"]).0, "a\u{FFFD}b");
        assert_eq!(decode_pieces(&[b"a\xe2\x82", b"b"]).0, "a\u{FFFD}b");
        assert_eq!(decode_pieces(&[b"\xf0\x90", b"A"]).0, "\u{FFFD}A");
        assert_eq!(decode_pieces(&[b"\xf0", b"\x90", b"\x80"]).0, "\u{FFFD}");
        // A lone continuation byte is not the start of anything.
        assert_eq!(decode_pieces(&[b"x\x80"]), ("x\u{FFFD}".into(), 0));
    }

    proptest! {
        /// However the bytes are cut, the text is what decoding them whole
        /// gives (`from_utf8_lossy`, like a browser's `TextDecoder`).
        #[test]
        fn pieces_decode_like_the_whole(
            bytes in prop::collection::vec(
                prop_oneof![any::<u8>(), Just(0xe2u8), Just(0x82), Just(0xac), Just(0xf0), Just(0x9d), Just(b'a')],
                0..64,
            ),
            cuts in prop::collection::vec(0usize..64, 0..8),
        ) {
            let mut cuts: Vec<usize> = cuts.into_iter().map(|c| c.min(bytes.len())).collect();
            cuts.sort_unstable();
            let mut pieces = vec![];
            let mut from = 0;
            for cut in cuts.into_iter().chain([bytes.len()]) {
                pieces.push(&bytes[from..cut]);
                from = cut;
            }
            let (text, most_held) = decode_pieces(&pieces);
            prop_assert_eq!(text, String::from_utf8_lossy(&bytes).into_owned());
            prop_assert!(most_held <= 3);
        }
    }

    proptest! {
        /// Escaping is exactly `serde_json`'s, whatever the text.
        #[test]
        fn json_text_escapes_as_serde_json_does(
            text in prop_oneof!["\\PC{0,80}", "[\\x00-\\x7f]{0,80}", "[\"\\\\\\x00-\\x1f a]{0,40}"],
        ) {
            let mut json = JsonText(b"\"".to_vec());
            json.push_str(&text);
            json.0.push(b'"');
            prop_assert_eq!(String::from_utf8(json.0).unwrap(), serde_json::to_string(&text).unwrap());
        }
    }

    #[test]
    fn needs_escape_finds_every_escaped_byte_in_any_lane() {
        for b in 0..=255u8 {
            let escaped = b < 0x20 || b == b'"' || b == b'\\';
            for lane in 0..8 {
                let mut word = [b'a'; 8];
                word[lane] = b;
                assert_eq!(
                    needs_escape(u64::from_le_bytes(word)),
                    escaped,
                    "{b:#x} in lane {lane}"
                );
            }
        }
        assert!(!needs_escape(u64::from_le_bytes(*b"\x7f\xff\x80 ~!#a")));
    }

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(
                HeaderName::from_bytes(k.as_bytes()).unwrap(),
                HeaderValue::from_str(v).unwrap(),
            );
        }
        h
    }

    #[test]
    fn only_an_explicit_event_stream_accept_gets_events() {
        let wants = |v: &str| wants_events(&headers(&[("accept", v)]));
        assert!(wants("text/event-stream"));
        assert!(wants("Text/Event-Stream"));
        assert!(wants("text/html, text/event-stream;q=0.5"));
        assert!(!wants("text/event-stream;q=0"));
        assert!(!wants("text/event-stream; q=0.000"));
        assert!(!wants("*/*"));
        assert!(!wants("text/*"));
        assert!(!wants("text/plain"));
        assert!(!wants_events(&HeaderMap::new()));
    }

    #[test]
    fn last_event_id_wins_over_from() {
        let at = |pairs: &[(&str, &str)], query: Option<&str>| start_offset(&headers(pairs), query);
        assert_eq!(at(&[], None), Ok(0));
        assert_eq!(at(&[], Some("from=42")), Ok(42));
        assert_eq!(at(&[], Some("x=1&from=7")), Ok(7));
        assert_eq!(at(&[("last-event-id", "5")], Some("from=42")), Ok(5));
        assert_eq!(at(&[("last-event-id", "007")], None), Ok(7));
        for bad in ["", "-1", "1.5", "abc", "1 2", "18446744073709551616", "+3"] {
            assert!(at(&[("last-event-id", bad)], None).is_err(), "{bad:?}");
            assert!(at(&[], Some(&format!("from={bad}"))).is_err(), "{bad:?}");
        }
        assert!(at(&[("last-event-id", "1"), ("last-event-id", "2")], None).is_err());
        assert!(at(&[], Some("from=1&from=2")).is_err());
    }

    /// The frames of a stream of `store` from `start`, until it ends.
    async fn frames(store: &LogStore, start: u64) -> Vec<String> {
        let mut body = body(
            store.cursor(start, None),
            Duration::from_secs(3600),
            Arc::new(Metrics::new()),
            (),
        );
        let mut out = vec![];
        while let Some(frame) = body.frame().await {
            let data = frame.unwrap().into_data().unwrap();
            out.push(String::from_utf8(data.to_vec()).unwrap());
        }
        out
    }

    #[tokio::test]
    async fn events_have_end_offsets_as_ids_and_end_with_the_length() {
        let store = LogStore::with_file(
            tempfile::tempfile().unwrap(),
            StoreLimits::from_ring_bytes(1 << 20),
        );
        let mut up = store.begin_upload().unwrap();
        up.append(Bytes::from_static(b"hello\r\n\"\x1b[31m\" \xe2\x82"))
            .unwrap();
        up.append(Bytes::from_static(b"\xac!")).unwrap();
        up.finish();
        assert_eq!(
            frames(&store, 0).await,
            [
                "retry: 2000\n\n",
                "event: log\ndata: \"hello\\r\\n\\\"\\u001b[31m\\\" €!\"\nid: 19\n\n",
                "event: end\ndata: {\"complete\": true, \"length\": 19}\n\n",
            ]
        );
        // From inside the log, and from its end.
        assert_eq!(
            frames(&store, 17).await[1],
            "event: log\ndata: \"\u{FFFD}!\"\nid: 19\n\n"
        );
        assert_eq!(
            frames(&store, 19).await[1..],
            ["event: end\ndata: {\"complete\": true, \"length\": 19}\n\n"]
        );
    }

    #[tokio::test]
    async fn a_broken_log_ends_with_an_incomplete_end_event_after_every_byte() {
        let store = LogStore::with_file(
            tempfile::tempfile().unwrap(),
            StoreLimits::from_ring_bytes(1 << 20),
        );
        let mut up = store.begin_upload().unwrap();
        up.append(Bytes::from_static(b"cut \xe2\x82")).unwrap();
        up.abort();
        assert_eq!(
            frames(&store, 0).await[1..],
            [
                "event: log\ndata: \"cut \"\nid: 4\n\n",
                "event: log\ndata: \"\u{FFFD}\"\nid: 6\n\n",
                "event: end\ndata: {\"complete\": false, \"length\": 6}\n\n",
            ]
        );
    }
}
