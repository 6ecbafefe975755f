//! What livelog knows about the log's *text*, built once as the upload is
//! stored, for every reader: where each line starts (`lines.rs`), and the
//! outline, the sections CI systems mark and the error lines
//! (`outline/`). When each byte arrived is the store's own record
//! (`store::Arrivals`), written by the upload itself.
//!
//! One indexer per log (`indexer.rs`) follows it like a reader (a
//! `store::Cursor`, so it never holds back the upload) on a thread of its
//! own (`crate::runtime_thread`, at the lowest CPU priority on Linux),
//! off the upload's thread and off the runtime that serves readers; while
//! the log arrives in a burst (faster than any CI task writes) it waits for
//! the burst to end rather than take the upload's caches and CPU. For
//! each chunk it finds the newlines (`memchr`) and the stems of error
//! patterns and of mid-line markers (one Aho-Corasick pass over the
//! chunk), records the line starts with one lock, and hands the outline
//! only the lines that matter to it: a line that may be a section marker in
//! the log's dialect (by its first bytes, or a marker stem in it), that
//! tells the dialect, or that an error rule matches (only lines holding an
//! error stem are checked). A line is looked at in place in its chunk, not
//! copied, unless it spans two.
//! Readers wait for it through a notifier, as they wait for the upload:
//! [`LogIndex::wait_for`].
//!
//! Dependencies flow `http` → `index` → `store`.

mod indexer;
mod lines;
pub mod outline;

use std::io;
use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard};

use tokio::sync::watch;

pub use lines::LineIndex;
pub use outline::{Dialect, ERROR_PATTERNS, ErrorLine, Kind, Outline, Section};

use crate::runtime_thread::{OwnRuntime, RuntimeThread};
use crate::store::{LogStore, Phase};

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
        let indexer = indexer::Indexer::new(self.clone());
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

#[cfg(test)]
mod tests;
