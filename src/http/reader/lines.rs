//! Line views of the log: `?tail=N`, `?lines=A-B` and `?timestamps=true`
//! (`http/query.rs` reads them). The line index finds where the first line
//! asked for starts; from there the body streams the log's own bytes,
//! through the store's cursor like any reader (ring at the head, temp file
//! behind), up to the last line asked for, or live for ever.
//!
//! With timestamps, each line is prefixed with the arrival time of its first
//! byte (the store's arrival index), in RFC 3339 with microseconds, UTC, and
//! a space: `2026-12-03T07:31:51.123456Z make: Entering directory`. A
//! line's prefix is written when its first byte is, so a live reader never
//! sees the time of a line that does not exist yet.

use std::sync::Arc;

use bytes::{Bytes, BytesMut};
use futures_util::stream;
use http_body::Frame;
use http_body_util::{BodyExt, StreamBody};
use time::OffsetDateTime;

use super::slots::Admitted;
use crate::http::query::{LineView, Lines};
use crate::http::{BoxError, ResponseBody};
use crate::index::LogIndex;
use crate::metrics::Metrics;
use crate::store::{ArrivalWalk, Cursor};

/// The body of a line view of `index`'s log, for a request that arrived
/// when `stored` bytes were stored; `admitted` (the reader's slot) is held
/// until it ends.
pub(super) fn body(
    index: LogIndex,
    view: LineView,
    stored: u64,
    admitted: Admitted,
    metrics: Arc<Metrics>,
) -> ResponseBody {
    let state = LineStream {
        index,
        view,
        stored,
        cursor: None,
        lines_left: None,
        walk: None,
        at_line_start: true,
        last_stamp: None,
        _admitted: admitted,
        metrics,
    };
    let frames = stream::unfold(Some(state), |state| async move {
        let mut state = state?;
        match state.next().await {
            Ok(Some(bytes)) => Some((Ok(Frame::data(bytes)), Some(state))),
            Ok(None) => None,
            Err(err) => {
                state.metrics.readers_incomplete.inc();
                Some((Err(err), None))
            }
        }
    });
    StreamBody::new(frames).boxed_unsync()
}

struct LineStream {
    index: LogIndex,
    view: LineView,
    /// Bytes stored when the request arrived (what `tail` counts back from).
    stored: u64,
    /// Where the view is; `None` until its first line is found.
    cursor: Option<Cursor>,
    /// Newlines still to send, for a range with a last line.
    lines_left: Option<u64>,
    /// Arrival times, for timestamps.
    walk: Option<ArrivalWalk>,
    /// The next byte sent starts a line.
    at_line_start: bool,
    /// The last prefix written, and the time it is for: consecutive lines
    /// of one chunk share their arrival time, and so their prefix.
    last_stamp: Option<(u64, Bytes)>,
    _admitted: Admitted,
    metrics: Arc<Metrics>,
}

impl LineStream {
    /// The next piece of the view; `None` at its end.
    async fn next(&mut self) -> Result<Option<Bytes>, BoxError> {
        if self.cursor.is_none() {
            let Some(start) = self.start().await? else {
                return Ok(None);
            };
            let store = self.index.store();
            self.cursor = Some(store.cursor(start, None));
            if self.view.timestamps {
                if let Some(arrivals) = store.arrivals() {
                    self.walk = Some(arrivals.walk_from(start)?);
                }
            }
        }
        loop {
            if self.lines_left == Some(0) {
                return Ok(None);
            }
            let Some(cursor) = self.cursor.as_mut() else {
                return Ok(None);
            };
            let start = cursor.position();
            let chunk = match cursor.next_chunk().await {
                Ok(Some(chunk)) => chunk,
                Ok(None) => return Ok(None),
                Err(err) => return Err(BoxError::from(err)),
            };
            let chunk = self.cut(chunk);
            if chunk.is_empty() {
                continue;
            }
            self.metrics.sent_bytes.inc_by(chunk.len() as u64);
            if self.walk.is_none() {
                self.at_line_start = chunk.last() == Some(&b'\n');
                return Ok(Some(chunk));
            }
            return self.stamp(start, &chunk).map(Some);
        }
    }

    /// Where the view starts: `None` if its first line will never exist
    /// (the log ended before it).
    async fn start(&mut self) -> Result<Option<u64>, BoxError> {
        let lines = self.index.lines();
        match self.view.lines {
            None => Ok(Some(0)),
            Some(Lines::Tail(n)) => {
                if n == 0 || self.stored == 0 {
                    return Ok(Some(self.stored));
                }
                // The lines present when the request arrived: those holding
                // its first `stored` bytes.
                self.index.wait_for(self.stored).await;
                let present = lines.line_at(self.stored - 1)?;
                let first = present.saturating_sub(n - 1).max(1);
                Ok(Some(lines.start_of(first)?.unwrap_or(0)))
            }
            Some(Lines::Range { first, last }) => {
                self.lines_left = last.map(|last| last - first + 1);
                // Line `first` starts after `first - 1` newlines; it exists
                // once a byte is stored there, which the cursor waits for.
                let want = first - 1;
                let indexed = self.index.wait_until(|i| i.newlines >= want).await;
                if indexed.newlines < want {
                    return Ok(None);
                }
                let start = lines.start_of(first)?.unwrap_or(indexed.offset);
                if indexed.ended() && start >= indexed.offset {
                    return Ok(None);
                }
                Ok(Some(start))
            }
        }
    }

    /// `chunk`, cut after the last line the view wants.
    fn cut(&mut self, chunk: Bytes) -> Bytes {
        let Some(left) = self.lines_left else {
            return chunk;
        };
        let mut seen = 0;
        for newline in memchr::memchr_iter(b'\n', &chunk) {
            seen += 1;
            if seen == left {
                self.lines_left = Some(0);
                return chunk.slice(..=newline);
            }
        }
        self.lines_left = Some(left - seen);
        chunk
    }

    /// `chunk` (from `start`) with each line's arrival time before it.
    fn stamp(&mut self, start: u64, chunk: &[u8]) -> Result<Bytes, BoxError> {
        let mut out = BytesMut::with_capacity(chunk.len() + chunk.len() / 4 + 32);
        let mut from = 0;
        while from < chunk.len() {
            if self.at_line_start {
                let prefix = self.prefix(start + from as u64)?;
                out.extend_from_slice(&prefix);
            }
            let end = memchr::memchr(b'\n', &chunk[from..]).map_or(chunk.len(), |i| from + i + 1);
            out.extend_from_slice(&chunk[from..end]);
            self.at_line_start = chunk[end - 1] == b'\n';
            from = end;
        }
        Ok(out.freeze())
    }

    /// The timestamp prefix of the line starting at `offset`.
    fn prefix(&mut self, offset: u64) -> Result<Bytes, BoxError> {
        let Some(walk) = self.walk.as_mut() else {
            return Ok(Bytes::new());
        };
        let micros = walk.micros_at(offset)?;
        if let Some((at, prefix)) = &self.last_stamp {
            if *at == micros {
                return Ok(prefix.clone());
            }
        }
        let mut text = rfc3339_micros(walk.wall_time(micros));
        text.push(' ');
        let prefix = Bytes::from(text);
        self.last_stamp = Some((micros, prefix.clone()));
        Ok(prefix)
    }
}

/// `at` in RFC 3339, UTC, with microseconds: `2026-12-03T07:31:51.123456Z`,
/// as `kubectl logs --timestamps` and `docker logs -t` write it (they give
/// nanoseconds; livelog's clock gives microseconds). `time` turns the
/// instant into a calendar date.
pub fn rfc3339_micros(at: std::time::SystemTime) -> String {
    let at = OffsetDateTime::from(at);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:06}Z",
        at.year(),
        u8::from(at.month()),
        at.day(),
        at.hour(),
        at.minute(),
        at.second(),
        at.microsecond()
    )
}
