//! What livelog knows about the log's *text*, built once as the upload is
//! stored, for every reader: where each line starts (`lines.rs`), and the
//! outline, the sections CI systems mark and the error lines
//! (`outline/`). When each byte arrived is the store's own record
//! (`store::Arrivals`), written by the upload itself.
//!
//! One indexer per log follows it like a reader (a [`Cursor`], so it never
//! holds back the upload) on a thread of its own (`crate::runtime_thread`),
//! off the upload's thread and off the runtime that serves readers. For
//! each chunk it finds the newlines (`memchr`) and the error patterns
//! (one Aho-Corasick pass over the chunk), records the line starts with one
//! lock, and hands the outline only the lines that matter to it: a line
//! that may be a section marker (by its first byte) or holds an error.
//! Readers wait for it through a notifier, as they wait for the upload:
//! [`LogIndex::wait_for`].
//!
//! Dependencies flow `http` → `index` → `store`.

mod lines;
pub mod outline;

use std::io;
use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard};

use aho_corasick::{AhoCorasick, MatchKind};
use bytes::Bytes;
use tokio::sync::watch;

pub use lines::LineIndex;
use outline::ERROR_STEMS;
pub use outline::{ERROR_PATTERNS, ErrorLine, Kind, Outline, Section};

use crate::runtime_thread::{OwnRuntime, RuntimeThread};
use crate::store::{ArrivalWalk, Cursor, LogStore, Phase, ReadError};
use outline::LINE_PREFIX_BYTES;

/// How far the indexer has got.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Indexed {
    /// Bytes of the log indexed (every line start before this is known).
    pub offset: u64,
    /// Newlines in those bytes.
    pub newlines: u64,
    /// Whether the bytes indexed are the whole log: `Complete` or `Broken`
    /// once the indexer reached the end of a log that ended; else
    /// `Uploading`.
    pub phase: Phase,
}

impl Indexed {
    /// Lines in the indexed bytes: one per newline, plus a last line without
    /// one (a line being written, or a log that ends without a newline).
    pub fn lines(&self, last_line_start: u64) -> u64 {
        self.newlines + u64::from(self.offset > last_line_start)
    }

    /// Whether the indexer has passed the end of the log, which ended.
    pub fn ended(&self) -> bool {
        matches!(self.phase, Phase::Complete | Phase::Broken)
    }
}

/// A cheap-to-clone handle to the log's index.
#[derive(Clone, Debug)]
pub struct LogIndex {
    shared: Arc<Shared>,
}

#[derive(Debug)]
struct Shared {
    store: LogStore,
    lines: LineIndex,
    /// A `std` mutex: the indexer holds it to update one marker or error
    /// line, readers to copy what they show; never across an `.await`.
    outline: Mutex<Outline>,
    progress: watch::Sender<Indexed>,
}

impl LogIndex {
    /// An empty index of `store`, its line index's file in `dir`. Nothing is
    /// indexed until [`LogIndex::start`].
    ///
    /// # Errors
    /// The I/O error from creating the file.
    pub fn create_in(store: &LogStore, dir: &Path) -> io::Result<Self> {
        let (progress, _) = watch::channel(Indexed {
            offset: 0,
            newlines: 0,
            phase: Phase::AwaitingUpload,
        });
        Ok(LogIndex {
            shared: Arc::new(Shared {
                store: store.clone(),
                lines: LineIndex::create_in(dir)?,
                outline: Mutex::new(Outline::default()),
                progress,
            }),
        })
    }

    /// Starts the indexer on its own thread, its events in `span`.
    ///
    /// # Errors
    /// The I/O error from starting the thread or its runtime.
    pub fn start(&self, span: tracing::Span) -> io::Result<RuntimeThread> {
        let indexer = Indexer::new(self.clone());
        OwnRuntime::new("livelog-index", span)?.run(indexer.run())
    }

    /// The log's store.
    pub fn store(&self) -> &LogStore {
        &self.shared.store
    }

    /// How far the indexer has got now.
    pub fn indexed(&self) -> Indexed {
        *self.shared.progress.borrow()
    }

    /// Waits until the indexer has passed byte `offset` (or the end of a
    /// log that ended before it), and says how far it got.
    pub async fn wait_for(&self, offset: u64) -> Indexed {
        self.wait_until(|now| now.offset >= offset).await
    }

    /// Waits until `done` holds for how far the indexer got, or it reached
    /// the end of a log that ended; says how far it got.
    pub async fn wait_until(&self, done: impl Fn(&Indexed) -> bool) -> Indexed {
        let mut progress = self.shared.progress.subscribe();
        loop {
            let now = *progress.borrow_and_update();
            if done(&now) || now.ended() {
                return now;
            }
            if progress.changed().await.is_err() {
                return now;
            }
        }
    }

    /// The line index.
    pub fn lines(&self) -> &LineIndex {
        &self.shared.lines
    }

    /// Where the last line of `indexed` starts.
    ///
    /// # Errors
    /// The index file's read error.
    pub fn last_line_start(&self, indexed: Indexed) -> io::Result<u64> {
        Ok(self
            .shared
            .lines
            .start_of(indexed.newlines + 1)?
            .unwrap_or(0))
    }

    /// The outline as it stands, and how far the indexer had got for it.
    pub fn outline(&self) -> (Outline, Indexed) {
        let outline = self.outline_lock().clone();
        (outline, self.indexed())
    }

    /// Waits until the outline changes after `version`, or the index ends.
    pub async fn outline_changed(&self, version: u64) {
        let mut progress = self.shared.progress.subscribe();
        loop {
            if self.outline_lock().version != version || progress.borrow_and_update().ended() {
                return;
            }
            if progress.changed().await.is_err() {
                return;
            }
        }
    }

    fn outline_lock(&self) -> MutexGuard<'_, Outline> {
        // Each update leaves it whole; a poisoned outline is still an outline.
        self.shared
            .outline
            .lock()
            .unwrap_or_else(|p| p.into_inner())
    }
}

/// The indexer: follows the log and indexes each chunk.
struct Indexer {
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

/// Bytes of the last chunk searched again with the next one: one less than
/// the longest stem.
fn overlap_bytes() -> usize {
    ERROR_STEMS.iter().map(|p| p.len()).max().unwrap_or(1) - 1
}

impl Indexer {
    fn new(index: LogIndex) -> Self {
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

    async fn run(mut self) {
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

#[cfg(test)]
mod tests;
