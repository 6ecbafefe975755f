//! A search's scan: the state that reads the log chunk by chunk and writes
//! the matching lines as JSON, and the task that runs it on a scan thread
//! (`scans.rs`), handing result batches to the response body over a
//! bounded channel.
//!
//! The task stops as soon as the body is dropped (the client went away):
//! it waits for each chunk, and each batch's place in the channel, only
//! while the body is there. A following search gives its scan slot back
//! once it has caught up with the log's end: from then on it scans each
//! new chunk as the live readers get it, which costs little.

use std::borrow::Cow;
use std::io::Write as _;

use bytes::Bytes;
use serde::Serialize;
use tokio::sync::mpsc;

use super::scans::ScanSlot;
use super::search::{MAX_LINE_BYTES, Matcher, TEXT_BYTES};
use crate::http::BoxError;
use crate::http::json_text::escape_into;
use crate::store::{Cursor, ReadError};

/// Result batches the channel between a scan and its response body holds:
/// a scan runs at most this far ahead of a slow client.
pub(super) const BATCHES_AHEAD: usize = 4;

/// What a scan hands its response body.
#[derive(Debug)]
pub(super) enum Batch {
    /// Results (JSON lines, possibly none).
    Results(Bytes),
    /// The last results and the total line: the search is complete.
    Last(Bytes),
    /// Reading the log failed: the response ends incomplete.
    Failed(BoxError),
}

/// The last line.
#[derive(Serialize)]
struct Total {
    total: u64,
    complete: bool,
    bytes: u64,
}

/// One search's position and findings.
pub(super) struct Search {
    cursor: Cursor,
    matcher: Matcher,
    /// The start of the line being read (its end not seen yet).
    line: Vec<u8>,
    /// Its offset and number.
    line_start: u64,
    line_number: u64,
    /// Matching lines so far.
    total: u64,
}

/// Runs `search` until it ends or `tx`'s receiver (the response body) is
/// dropped, holding `slot` while it scans: to the end for a search of the
/// stored log, until it has caught up with the log's end if it `follow`s.
pub(super) async fn scan(
    mut search: Search,
    slot: ScanSlot,
    follow: bool,
    tx: mpsc::Sender<Batch>,
) {
    let mut slot = Some(slot);
    loop {
        let batch = tokio::select! {
            // The client went away: the work stops here, whatever it waits
            // for (a chunk, or the upload's next bytes when following).
            () = tx.closed() => return,
            batch = search.next() => batch,
        };
        if follow && slot.is_some() && search.caught_up() {
            drop(slot.take());
        }
        let last = !matches!(batch, Batch::Results(_));
        let empty = matches!(&batch, Batch::Results(b) if b.is_empty());
        if !empty && tx.send(batch).await.is_err() {
            return;
        }
        if last {
            return;
        }
    }
}

impl Search {
    /// A search of `cursor`'s log for what `matcher` matches.
    pub(super) fn new(cursor: Cursor, matcher: Matcher) -> Self {
        Search {
            cursor,
            matcher,
            line: Vec::new(),
            line_start: 0,
            line_number: 1,
            total: 0,
        }
    }

    /// Whether it has scanned every byte stored (as far as it knows).
    fn caught_up(&self) -> bool {
        self.cursor.position() >= self.cursor.stored()
    }

    /// The next results (possibly none), or the last with the total.
    async fn next(&mut self) -> Batch {
        // Scans may share a scan thread (following ones do): let the
        // others run between chunks, also when every chunk is cached.
        tokio::task::consume_budget().await;
        let mut out = Vec::new();
        match self.cursor.next_chunk().await {
            Ok(Some(chunk)) => {
                self.chunk(&chunk, &mut out);
                Batch::Results(Bytes::from(out))
            }
            Ok(None) => {
                self.end(true, &mut out);
                Batch::Last(Bytes::from(out))
            }
            Err(ReadError::Incomplete(_)) => {
                self.end(false, &mut out);
                Batch::Last(Bytes::from(out))
            }
            Err(err) => Batch::Failed(BoxError::from(err)),
        }
    }

    /// Searches the whole lines `chunk` completes; keeps the start of the
    /// line it leaves open.
    fn chunk(&mut self, chunk: &[u8], out: &mut Vec<u8>) {
        let Some(last_newline) = memchr::memrchr(b'\n', chunk) else {
            self.hold(chunk, out);
            return;
        };
        // The line held from earlier chunks ends in this one.
        let first_end = memchr::memchr(b'\n', chunk).unwrap_or(last_newline);
        if !self.line.is_empty() {
            let mut line = std::mem::take(&mut self.line);
            line.extend_from_slice(&chunk[..first_end]);
            if self.matcher.is_match(&line) {
                self.hit(self.line_start, &line, out);
            }
            self.line_number += 1;
            self.line_start += line.len() as u64 + 1;
            line.clear();
            self.line = line;
            self.lines(&chunk[first_end + 1..=last_newline], out);
        } else {
            self.lines(&chunk[..=last_newline], out);
        }
        self.hold(&chunk[last_newline + 1..], out);
    }

    /// Searches `block`, whole lines starting at `self.line_start`.
    fn lines(&mut self, block: &[u8], out: &mut Vec<u8>) {
        let mut counted = 0; // lines of `block` before this are numbered
        let mut from = 0;
        while let Some((start, end)) = self.matcher.find_at(block, from) {
            let line_from = memchr::memrchr(b'\n', &block[..start]).map_or(0, |i| i + 1);
            let line_to = memchr::memchr(b'\n', &block[start..]).map_or(block.len(), |i| start + i);
            // A pattern that matched across a newline is checked against
            // the line it started in alone.
            let matched = end <= line_to || self.matcher.is_match(&block[line_from..line_to]);
            self.line_number +=
                memchr::memchr_iter(b'\n', &block[counted..line_from]).count() as u64;
            counted = line_from;
            if matched {
                let offset = self.line_start + line_from as u64;
                self.hit(offset, &block[line_from..line_to], out);
            }
            from = line_to + 1;
            if from >= block.len() {
                break;
            }
        }
        self.line_number += memchr::memchr_iter(b'\n', &block[counted..]).count() as u64;
        self.line_start += block.len() as u64;
    }

    /// Holds `rest`, the start of a line not yet ended; a line longer than
    /// [`MAX_LINE_BYTES`] is searched in pieces.
    fn hold(&mut self, rest: &[u8], out: &mut Vec<u8>) {
        self.line.extend_from_slice(rest);
        if self.line.len() > MAX_LINE_BYTES {
            let line = std::mem::take(&mut self.line);
            if self.matcher.is_match(&line) {
                self.hit(self.line_start, &line, out);
            }
            self.line_start += line.len() as u64;
        }
    }

    /// The log ended: its last line (if it has no newline) is searched,
    /// then the total.
    fn end(&mut self, complete: bool, out: &mut Vec<u8>) {
        let line = std::mem::take(&mut self.line);
        if !line.is_empty() && self.matcher.is_match(&line) {
            self.hit(self.line_start, &line, out);
        }
        let total = Total {
            total: self.total,
            complete,
            bytes: self.cursor.position(),
        };
        let _ = serde_json::to_writer(&mut *out, &total);
        out.push(b'\n');
    }

    fn hit(&mut self, offset: u64, line: &[u8], out: &mut Vec<u8>) {
        self.total += 1;
        let shown = &line[..line.len().min(TEXT_BYTES)];
        // Most lines are valid UTF-8: checked in one pass, and only the
        // rest (or a character cut at `TEXT_BYTES`) gets replacements.
        let text = match std::str::from_utf8(shown) {
            Ok(text) => Cow::Borrowed(text),
            Err(_) => String::from_utf8_lossy(shown),
        };
        // The result (`line`, `offset`, `text`, `truncated` when cut) is
        // written by hand, its text escaped fast: a search can
        // answer with as many bytes as the log holds.
        let _ = write!(
            out,
            "{{\"line\":{},\"offset\":{offset},\"text\":",
            self.line_number
        );
        out.push(b'"');
        escape_into(out, &text);
        out.push(b'"');
        if shown.len() < line.len() {
            out.extend_from_slice(b",\"truncated\":true");
        }
        out.extend_from_slice(b"}\n");
    }
}
