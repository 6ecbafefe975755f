//! The indexer: one per log, on a thread of its own, it follows the log
//! like a reader and indexes each chunk (see the module above for what it
//! records and why it never holds back the upload).

use std::io;
use std::time::Duration;

use aho_corasick::{AhoCorasick, MatchKind};
use bytes::Bytes;
use tokio::time::Instant;

use super::outline::{ERROR_STEMS, LINE_SCAN_BYTES, LineReader, MARKER_STEMS};
use super::{Indexed, LogIndex};
use crate::store::{ArrivalWalk, Cursor, Phase, ReadError};

/// The indexer: follows the log and indexes each chunk.
pub(super) struct Indexer {
    index: LogIndex,
    cursor: Cursor,
    arrivals: Option<ArrivalWalk>,
    /// The error stems and the mid-line marker stems, in one automaton.
    errors: Option<AhoCorasick>,
    /// The dialect so far, and what the error rules remember.
    reader: LineReader,
    /// Where the next chunk starts.
    pos: u64,
    /// The line being read: its number, start, and first bytes.
    line: u64,
    line_start: u64,
    prefix: Vec<u8>,
    /// Whether it holds an error stem (a candidate error line), and a
    /// mid-line marker's stem.
    line_error: bool,
    line_marker: bool,
    /// The end of the last chunk, for patterns split between two chunks.
    overlap: Vec<u8>,
    /// When the log's length was last looked at, and what it was: how the
    /// indexer tells a burst (see [`BURST_RATE`]).
    looked: (Instant, u64),
}

/// A burst: the log grows at this many bytes per second or more (320 MiB/s,
/// a rate no CI task writes at for long; a task that `cat`s a huge file
/// does, for a moment), measured over [`BURST_WINDOW`] or longer.
const BURST_RATE: f64 = 320.0 * 1024.0 * 1024.0;
/// How often the indexer looks at the log's growth, and how long it waits
/// at a time during a burst: 20 ms, so that it starts waiting soon after a
/// burst starts and resumes soon after it ends.
const BURST_WINDOW: Duration = Duration::from_millis(20);

/// Lowers the calling thread's (the indexer's) CPU priority
/// ([`crate::priority`]: nice 19 on Linux), so that when the CPU is short
/// the upload, the readers and the task beside livelog go first and the
/// index catches up when they leave it time. Indexing 1 GiB takes about
/// 1.1 s of CPU, against 1.4 s for storing it; a CI task writes its log far
/// slower than that, and even at nice 19 the indexer keeps pace (10 MB/s
/// needs about 1 % of a core). A weight is not a guarantee, so the indexer
/// also waits out bursts ([`Indexer::wait_out_a_burst`]).
fn yield_the_cpu() {
    crate::priority::lower_this_thread("the indexer");
}

/// Bytes of the last chunk searched again with the next one: one less than
/// the longest stem.
fn overlap_bytes() -> usize {
    stems().map(str::len).max().unwrap_or(1) - 1
}

/// What the automaton looks for: the error stems, then the marker stems.
fn stems() -> impl Iterator<Item = &'static str> {
    ERROR_STEMS.iter().chain(MARKER_STEMS.iter()).copied()
}

impl Indexer {
    pub(super) fn new(index: LogIndex) -> Self {
        let store = index.store().clone();
        // Leftmost-first, not the standard semantics: only a leftmost
        // automaton gets the SIMD prefilter (Teddy) that skips the bytes no
        // stem starts with; the standard one steps through every byte, and
        // cost a 1 GiB upload half its throughput. Any stem in a line makes
        // it a candidate, so which of two overlapping stems is found does
        // not matter.
        let errors = match AhoCorasick::builder()
            .match_kind(MatchKind::LeftmostFirst)
            .build(stems())
        {
            Ok(automaton) => Some(automaton),
            Err(err) => {
                tracing::error!("cannot build the error patterns' matcher: {err}");
                None
            }
        };
        let arrivals = store
            .arrivals()
            .and_then(|arrivals| arrivals.walk_from(0).ok());
        Indexer {
            cursor: store.cursor(0, None),
            index,
            arrivals,
            errors,
            reader: LineReader::default(),
            pos: 0,
            line: 1,
            line_start: 0,
            prefix: Vec::with_capacity(1024),
            line_error: false,
            line_marker: false,
            overlap: Vec::new(),
            looked: (Instant::now(), 0),
        }
    }

    pub(super) async fn run(mut self) {
        yield_the_cpu();
        loop {
            self.wait_out_a_burst().await;
            let phase = match self.cursor.next_chunk().await {
                Ok(Some(chunk)) => {
                    if let Err(err) = self.chunk(&chunk) {
                        tracing::error!("the line index stopped: cannot store it: {err}");
                        return self.publish(Phase::Broken);
                    }
                    self.publish(Phase::Uploading);
                    continue;
                }
                Ok(None) => Phase::Complete,
                Err(ReadError::Incomplete(_)) => Phase::Broken,
                Err(ReadError::Io(err)) => {
                    tracing::error!("the line index stopped: cannot read the log: {err}");
                    Phase::Broken
                }
            };
            self.finish();
            return self.publish(phase);
        }
    }

    /// Waits while the log arrives in a burst (at [`BURST_RATE`] or more),
    /// then returns; otherwise returns at once. At nice 19 the indexer still
    /// slowed an upload at full loopback speed to 1.44× its time without
    /// the index (2 cores: the caches and the memory bus are shared, and
    /// every chunk woke the indexer); waiting out the burst brings that to
    /// 1.00× (`benches/index.rs`, README "Performance"). At the rates CI
    /// tasks write, the indexer follows the log chunk by chunk; after a
    /// burst it catches up (from the file, past the ring), and readers
    /// waiting for line numbers wait for it: 1 GiB is indexed about a
    /// second after its upload ends.
    async fn wait_out_a_burst(&mut self) {
        let mut waited = false;
        loop {
            let (at, len) = self.looked;
            let elapsed = at.elapsed();
            if elapsed < BURST_WINDOW {
                return;
            }
            let now = self.index.store().progress();
            self.looked = (Instant::now(), now.len);
            let grown = now.len.saturating_sub(len) as f64;
            let burst =
                now.phase == Phase::Uploading && grown >= BURST_RATE * elapsed.as_secs_f64();
            if !burst {
                return;
            }
            if !waited {
                waited = true;
                tracing::debug!(
                    stored = now.len,
                    "the log arrives in a burst: the indexer waits for it to end"
                );
            }
            tokio::time::sleep(BURST_WINDOW).await;
        }
    }

    fn publish(&self, phase: Phase) {
        let indexed = Indexed {
            offset: self.pos,
            newlines: self.index.lines().newlines(),
            phase,
        };
        self.index.shared.progress.send_replace(indexed);
    }

    /// Indexes `chunk`, which starts at `self.pos`.
    fn chunk(&mut self, chunk: &Bytes) -> io::Result<()> {
        let errors = self.error_ends(chunk);
        let mut errors = errors.iter().peekable();
        let mut starts = Vec::new();
        let mut from = 0;
        // The last lines of the chunk that are whole in it (their starts):
        // the outline takes the time of the last one that has one.
        let mut recent = [usize::MAX; 4];
        for newline in memchr::memchr_iter(b'\n', chunk) {
            let end = self.pos + newline as u64;
            while let Some(&(_, marker)) = errors.next_if(|&&(at, _)| at <= end) {
                if marker {
                    self.line_marker = true;
                } else {
                    self.line_error = true;
                }
            }
            let line = &chunk[from..newline];
            if self.line_start >= self.pos {
                // The whole line is in this chunk: its start is looked at
                // in place (most lines; copying them cost a tenth of the
                // indexer's time).
                self.end_line(&line[..line.len().min(LINE_SCAN_BYTES)]);
                recent.rotate_right(1);
                recent[0] = from;
            } else {
                // It began in an earlier chunk: its start was kept.
                self.take_prefix(line);
                let prefix = std::mem::take(&mut self.prefix);
                self.end_line(&prefix);
                self.prefix = prefix;
                self.prefix.clear();
            }
            starts.push(end + 1);
            self.line += 1;
            self.line_start = end + 1;
            from = newline + 1;
        }
        self.take_prefix(&chunk[from..]);
        for &(_, marker) in errors {
            if marker {
                self.line_marker = true;
            } else {
                self.line_error = true;
            }
        }
        self.note_time(chunk, &recent);
        self.pos += chunk.len() as u64;
        self.index.lines().push(&starts)
    }

    /// Absolute offsets where a stem *ends* in `chunk` (or in the last
    /// chunk's end and this one's start), in order, each with whether it is
    /// a marker's stem (else an error's). A match that ended in the last
    /// chunk was counted there.
    fn error_ends(&mut self, chunk: &[u8]) -> Vec<(u64, bool)> {
        let Some(automaton) = &self.errors else {
            return Vec::new();
        };
        let keep = overlap_bytes();
        // The seam: the last chunks' end and this one's start, copied (a
        // few bytes); the chunk itself is searched in place. Only matches
        // that start before this chunk are the seam's: the rest are found
        // in the chunk.
        let mut seam = std::mem::take(&mut self.overlap);
        let before = seam.len();
        let base = self.pos - before as u64;
        seam.extend_from_slice(&chunk[..keep.min(chunk.len())]);
        let marker = |m: &aho_corasick::Match| m.pattern().as_usize() >= ERROR_STEMS.len();
        let mut ends: Vec<(u64, bool)> = automaton
            .find_iter(&seam)
            .filter(|m| m.start() < before && m.end() > before)
            .map(|m| (base + m.end() as u64, marker(&m)))
            .collect();
        ends.extend(
            automaton
                .find_iter(chunk)
                .map(|m| (self.pos + m.end() as u64, marker(&m))),
        );
        // What the next seam needs: the last `keep` bytes of the log so far
        // (all from this chunk unless it is shorter than that).
        seam.truncate(before);
        if chunk.len() >= keep {
            seam.clear();
            seam.extend_from_slice(&chunk[chunk.len() - keep..]);
        } else {
            seam.extend_from_slice(chunk);
            let drop = seam.len().saturating_sub(keep);
            seam.drain(..drop);
        }
        self.overlap = seam;
        ends
    }

    /// Keeps the start of the current line, up to [`LINE_SCAN_BYTES`]:
    /// what a line that continues in the next chunk needs.
    fn take_prefix(&mut self, bytes: &[u8]) {
        let room = LINE_SCAN_BYTES.saturating_sub(self.prefix.len());
        self.prefix
            .extend_from_slice(&bytes[..room.min(bytes.len())]);
    }

    /// The current line is complete, `prefix` its first bytes (at most
    /// [`LINE_SCAN_BYTES`]): the outline gets it if it may matter.
    fn end_line(&mut self, prefix: &[u8]) {
        let error = std::mem::take(&mut self.line_error);
        let marker = std::mem::take(&mut self.line_marker);
        let look = self.reader.look(prefix, error, marker);
        if look.matters() {
            let micros = self.micros_at(self.line_start);
            self.index
                .outline_lock()
                .line(self.line, self.line_start, micros, prefix, look);
        }
    }

    /// Gives the outline the time of the chunk's last line that has one
    /// (of the last few whole lines, `recent`, latest first), so that a
    /// section open at the log's end ends at the log's last time. Once per
    /// chunk, and only in a log whose lines carry times.
    fn note_time(&mut self, chunk: &[u8], recent: &[usize; 4]) {
        if !super::outline::has_line_times(self.reader.dialect()) {
            return;
        }
        let mut outline = self.index.outline_lock();
        for &from in recent.iter().filter(|&&f| f != usize::MAX) {
            let end = memchr::memchr(b'\n', &chunk[from..]).map_or(chunk.len(), |n| from + n);
            let line = &chunk[from..end.min(from + 256)];
            if outline.time(line) {
                return;
            }
        }
    }

    fn micros_at(&mut self, offset: u64) -> u64 {
        self.arrivals
            .as_mut()
            .and_then(|walk| walk.micros_at(offset).ok())
            .unwrap_or(0)
    }

    /// The log ended: a last line without a newline is a line too, and
    /// every open section ends with it.
    fn finish(&mut self) {
        let mut last = self.line - 1;
        if self.pos > self.line_start {
            let prefix = std::mem::take(&mut self.prefix);
            self.end_line(&prefix);
            self.index.outline_lock().time(&prefix);
            last = self.line;
        }
        let end = self.pos.saturating_sub(1);
        let micros = self.micros_at(end.max(self.line_start));
        self.index.outline_lock().finish(last, micros);
    }
}
