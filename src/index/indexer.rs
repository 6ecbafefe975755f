//! The indexer: one per log, on a thread of its own, it follows the log
//! like a reader and indexes each chunk (see the module above for what it
//! records and why it never holds back the upload).

use std::io;

use aho_corasick::{AhoCorasick, MatchKind};
use bytes::Bytes;

use super::outline::{self, ERROR_STEMS, LINE_PREFIX_BYTES};
use super::{Indexed, LogIndex};
use crate::store::{ArrivalWalk, Cursor, Phase, ReadError};

/// The indexer: follows the log and indexes each chunk.
pub(super) struct Indexer {
    index: LogIndex,
    cursor: Cursor,
    arrivals: Option<ArrivalWalk>,
    errors: Option<AhoCorasick>,
    /// Where the next chunk starts.
    pos: u64,
    /// The line being read: its number, start, and first bytes.
    line: u64,
    line_start: u64,
    prefix: Vec<u8>,
    /// Whether it holds an error stem (a candidate error line).
    line_error: bool,
    /// The end of the last chunk, for patterns split between two chunks.
    overlap: Vec<u8>,
}

/// The indexer's nice value on Linux: the largest, the smallest share of
/// the CPU among normal threads (lowering a thread's own priority needs no
/// privilege).
#[cfg(target_os = "linux")]
const INDEXER_NICE: i32 = 19;

/// Lowers the calling thread's (the indexer's) CPU priority to nice 19
/// (`INDEXER_NICE`), so that when the CPU is short the upload, the readers
/// and the task beside livelog go first and the index catches up when they
/// leave it time. Indexing 1 GiB takes about 1.1 s of CPU, against 1.4 s
/// for storing it; a CI task writes its log far slower than that, and even
/// at nice 19 the indexer keeps pace (10 MB/s needs about 1 % of a core).
/// Nice 19 is a weight, not a guarantee: on 2 cores an upload at full
/// loopback speed still takes 1.44× as long with the index as without
/// (`benches/index.rs`, README "Performance"). Elsewhere (macOS, Windows,
/// FreeBSD) the indexer keeps the default priority.
fn yield_the_cpu() {
    #[cfg(target_os = "linux")]
    {
        let thread = rustix::thread::gettid();
        // On Linux the nice value is each thread's own (setpriority(2)).
        if let Err(err) = rustix::process::setpriority_process(Some(thread), INDEXER_NICE) {
            tracing::debug!("the indexer keeps its priority: {err}");
        }
    }
}

/// Bytes of the last chunk searched again with the next one: one less than
/// the longest stem.
fn overlap_bytes() -> usize {
    ERROR_STEMS.iter().map(|p| p.len()).max().unwrap_or(1) - 1
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
            .build(ERROR_STEMS)
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
            pos: 0,
            line: 1,
            line_start: 0,
            prefix: Vec::with_capacity(LINE_PREFIX_BYTES),
            line_error: false,
            overlap: Vec::new(),
        }
    }

    pub(super) async fn run(mut self) {
        yield_the_cpu();
        loop {
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
        for newline in memchr::memchr_iter(b'\n', chunk) {
            let end = self.pos + newline as u64;
            self.take_prefix(&chunk[from..newline]);
            while errors.next_if(|&&at| at <= end).is_some() {
                self.line_error = true;
            }
            self.end_line();
            starts.push(end + 1);
            self.line += 1;
            self.line_start = end + 1;
            from = newline + 1;
        }
        self.take_prefix(&chunk[from..]);
        if errors.next().is_some() {
            self.line_error = true;
        }
        self.pos += chunk.len() as u64;
        self.index.lines().push(&starts)
    }

    /// Absolute offsets where an error pattern *ends* in `chunk` (or in the
    /// last chunk's end and this one's start), in order. A match that ended
    /// in the last chunk was counted there.
    fn error_ends(&mut self, chunk: &[u8]) -> Vec<u64> {
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
        let mut ends: Vec<u64> = automaton
            .find_iter(&seam)
            .filter(|m| m.start() < before && m.end() > before)
            .map(|m| base + m.end() as u64)
            .collect();
        ends.extend(
            automaton
                .find_iter(chunk)
                .map(|m| self.pos + m.end() as u64),
        );
        // What the next seam needs: the last `keep` bytes of the log so far.
        seam.truncate(before);
        seam.extend_from_slice(chunk);
        let drop = seam.len().saturating_sub(keep);
        seam.drain(..drop);
        self.overlap = seam;
        ends
    }

    /// Keeps the start of the current line, up to [`LINE_PREFIX_BYTES`].
    fn take_prefix(&mut self, bytes: &[u8]) {
        let room = LINE_PREFIX_BYTES.saturating_sub(self.prefix.len());
        self.prefix
            .extend_from_slice(&bytes[..room.min(bytes.len())]);
    }

    /// The current line is complete: the outline gets it if it may matter.
    fn end_line(&mut self) {
        let prefix = std::mem::take(&mut self.prefix);
        let error = std::mem::take(&mut self.line_error) && outline::is_error_line(&prefix);
        if error || outline::may_be_marker(&prefix) {
            let micros = self.micros_at(self.line_start);
            self.index
                .outline_lock()
                .line(self.line, self.line_start, micros, &prefix, error);
        }
        self.prefix = prefix;
        self.prefix.clear();
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
            self.end_line();
            last = self.line;
        }
        let end = self.pos.saturating_sub(1);
        let micros = self.micros_at(end.max(self.line_start));
        self.index.outline_lock().finish(last, micros);
    }
}
