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
use tokio::time::{Duration, Instant};

use super::scans::SharedSlot;
use super::search_matcher::{MAX_LINE_BYTES, Matcher, TEXT_BYTES};
use crate::http::BoxError;
use crate::http::json_text::escape_into;
use crate::store::{Codec, Cursor, Encoder, ReadError};

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

/// Results a scan gathers before it hands them over, in bytes: each
/// hand-over wakes the response body on the runtime that serves readers
/// (a cross-thread wake-up, and a frame to write), so a search with many
/// matches hands them over in fewer, larger batches than one a chunk.
pub(super) const BATCH_BYTES: usize = 64 * 1024;

/// Longest a scan keeps results it has before handing them over, so that
/// a search with few matches shows them as it goes.
pub(super) const BATCH_WAIT: Duration = Duration::from_millis(100);

/// What one step of a scan did.
enum Step {
    /// Scanned a chunk (its results appended).
    Scanned,
    /// Reached the end (the total appended).
    Ended,
    /// Reading the log failed.
    Failed(BoxError),
}

/// How a scan's results become the response's frames: as they are, or
/// compressed in the content coding the client asked for (RFC 9110
/// §8.4.1). Compressing here puts that CPU work on the scan thread, at its
/// low priority, and leaves the runtime that serves live readers fewer
/// bytes to send.
pub(super) struct Framer {
    /// `None`: the identity coding.
    encoder: Option<Encoder>,
}

impl Framer {
    /// Frames in `codec`'s coding, or as they are for `None`.
    ///
    /// # Errors
    /// The encoder's, if it cannot be made.
    pub(super) fn new(codec: Option<Codec>) -> std::io::Result<Self> {
        let encoder = codec.map(Encoder::new).transpose()?;
        Ok(Framer { encoder })
    }

    /// Frames as they are (the identity coding).
    pub(super) fn identity() -> Self {
        Framer { encoder: None }
    }

    /// `results` as the next frame, which the client can decode at once
    /// (a sync flush).
    fn frame(&mut self, results: Vec<u8>) -> Result<Bytes, BoxError> {
        let Some(encoder) = &mut self.encoder else {
            return Ok(Bytes::from(results));
        };
        encoder.write(&results)?;
        encoder.flush()?;
        Ok(Bytes::from(encoder.take()))
    }

    /// `results` as the last frame, the coding's end included.
    fn last(&mut self, results: Vec<u8>) -> Result<Bytes, BoxError> {
        let Some(mut encoder) = self.encoder.take() else {
            return Ok(Bytes::from(results));
        };
        encoder.write(&results)?;
        Ok(Bytes::from(encoder.finish()?))
    }
}

/// Runs `search` until it ends or `tx`'s receiver (the response body) is
/// dropped, holding `slot` (with the body) while it scans: to the end for
/// a search of the stored log, until it has caught up with the log's end
/// if it `follow`s. Its results go out through `framer`.
pub(super) async fn scan(
    mut search: Search,
    slot: SharedSlot,
    follow: bool,
    mut framer: Framer,
    tx: mpsc::Sender<Batch>,
) {
    let mut out = Vec::new();
    let mut since = Instant::now();
    loop {
        let step = tokio::select! {
            // The client went away: the work stops here, whatever it waits
            // for (a chunk, or the upload's next bytes when following).
            () = tx.closed() => return,
            step = search.next(&mut out) => step,
        };
        let caught_up = search.caught_up();
        // The slot comes back before the last batch goes: a client that has
        // its total may search again at once, and find its slot free.
        if (follow && caught_up) || !matches!(step, Step::Scanned) {
            slot.release();
        }
        let batch = match step {
            Step::Scanned => {
                let due = out.len() >= BATCH_BYTES
                    || (!out.is_empty() && (caught_up || since.elapsed() >= BATCH_WAIT));
                if !due {
                    continue;
                }
                match framer.frame(std::mem::take(&mut out)) {
                    Ok(frame) => Batch::Results(frame),
                    Err(err) => Batch::Failed(err),
                }
            }
            Step::Ended => match framer.last(std::mem::take(&mut out)) {
                Ok(frame) => Batch::Last(frame),
                Err(err) => Batch::Failed(err),
            },
            Step::Failed(err) => {
                // What was found is still the client's, then the error (a
                // compressed answer is left without its end: incomplete).
                if !out.is_empty() {
                    let found = match framer.frame(std::mem::take(&mut out)) {
                        Ok(frame) => Batch::Results(frame),
                        Err(err) => Batch::Failed(err),
                    };
                    if tx.send(found).await.is_err() {
                        return;
                    }
                }
                Batch::Failed(err)
            }
        };
        let last = !matches!(batch, Batch::Results(_));
        if tx.send(batch).await.is_err() || last {
            return;
        }
        since = Instant::now();
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

    /// Scans the next chunk, or ends, appending to `out` the results or
    /// the last ones and the total.
    async fn next(&mut self, out: &mut Vec<u8>) -> Step {
        // Scans may share a scan thread (following ones do): let the
        // others run between chunks, also when every chunk is cached.
        tokio::task::consume_budget().await;
        match self.cursor.next_chunk().await {
            Ok(Some(chunk)) => {
                self.chunk(&chunk, out);
                Step::Scanned
            }
            Ok(None) => {
                self.end(true, out);
                Step::Ended
            }
            Err(ReadError::Incomplete(_)) => {
                self.end(false, out);
                Step::Ended
            }
            Err(err) => Step::Failed(BoxError::from(err)),
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
