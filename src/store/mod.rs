//! The log store: one append-only log, kept in an unlinked temp file plus a
//! bounded in-memory ring of its most recent chunks, with a notifier that
//! wakes readers when it grows. No HTTP here: bytes, positions and phases.
//!
//! Shape, in the style of `mini-redis`' `Db`: [`LogStore`] is a cheap-to-clone
//! handle over `Arc<Shared>`. There is exactly one writer ([`Upload`], handed
//! out once by [`LogStore::begin_upload`]) and any number of readers
//! ([`Cursor`]). Each job has its file:
//!
//! * `file.rs` — the temp file and positional I/O on it;
//! * `progress.rs` — what the notifier tells readers: length and phase;
//! * `ring.rs` — the ring of recent chunks;
//! * `upload.rs` — the one writer: append, then publish;
//! * `cursor.rs` — a reader's position and how it gets the next chunk;
//! * `catch_up.rs` — reads behind the ring, within a shared memory budget;
//! * `arrivals.rs` — when each chunk arrived (the arrival-time index),
//!   kept in a `spill.rs` array that memory never holds whole;
//! * `compressed.rs` — the log's compressed copies (gzip, zstd): one
//!   compressor per coding writes a second store that readers read.
//!
//! The rules that make slow readers harmless:
//!
//! * The writer never waits for a reader. It writes each chunk to the file,
//!   pushes it onto the ring (evicting the oldest chunks past the ring's byte
//!   budget) and publishes the new length on a `tokio::sync::watch` channel,
//!   which only *marks* the value changed and wakes whoever is waiting.
//! * A reader at the head gets ring chunks as `Bytes` slices: shared, never
//!   copied per reader.
//! * A reader behind the ring reads the file at its own pace, within the
//!   catch-up budget, and never waits on a stalled reader (`catch_up.rs`).
//! * Bytes become visible to readers only after they are in the file, so the
//!   stored length readers see is always bytes that are really stored.
//! * An [`Upload`] dropped without [`Upload::finish`] marks the log broken, so
//!   an upload cut off any way at all never looks complete.

mod arrivals;
mod catch_up;
mod compressed;
mod cursor;
mod file;
mod positions;
mod progress;
mod ring;
mod spill;
mod upload;

use std::fmt;
use std::fs::File;
use std::io;
use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard};

use tokio::sync::watch;

pub use arrivals::{ArrivalWalk, Arrivals};
pub use catch_up::{BUDGET_WAIT, FILE_READ_BYTES, UNBUDGETED_READ_BYTES};
pub use compressed::{Codec, Encoder, Encodings};
pub use cursor::{Cursor, Incomplete, ReadError};
pub use progress::{Phase, Progress};
pub use spill::Spilled;
pub use upload::{Upload, UploadConflict};

use catch_up::CatchUp;
use file::LogFile;
use positions::Positions;
use ring::Ring;

use crate::metrics::StoreMetrics;

/// Sizes of the store's memory, in bytes.
#[derive(Clone, Copy, Debug)]
pub struct StoreLimits {
    /// Byte budget of the ring of recent chunks (`LIVELOG_RING_BYTES`).
    pub ring_bytes: usize,
    /// Byte budget for catching-up readers' file-read buffers in flight.
    pub catch_up_bytes: usize,
}

impl StoreLimits {
    /// Limits derived from the ring size: the catch-up budget is the same size
    /// as the ring but never less than 16 reads, so the store's log data never
    /// exceeds about twice `ring_bytes` (plus what readers' sockets hold).
    pub fn from_ring_bytes(ring_bytes: usize) -> Self {
        StoreLimits {
            ring_bytes,
            catch_up_bytes: ring_bytes.max(16 * FILE_READ_BYTES),
        }
    }
}

/// A cheap-to-clone handle to the one log this process serves.
#[derive(Clone)]
pub struct LogStore {
    shared: Arc<Shared>,
}

/// What every handle shares.
struct Shared {
    /// The unlinked temp file. Written only by the upload; read by
    /// catching-up readers at their own offsets.
    file: Arc<LogFile>,
    /// A `std` mutex: each use is one push or one slice, never held across
    /// an `.await`, so readers and the writer only ever wait microseconds.
    ring: Mutex<Ring>,
    /// The notifier: the stored length and phase, watched by every cursor.
    progress: watch::Sender<Progress>,
    /// The budget, and the buffers, of readers catching up from the file.
    catch_up: Arc<CatchUp>,
    /// Where the readers are, for the furthest-behind reader's lag.
    positions: Positions,
    /// What the store counts.
    metrics: StoreMetrics,
    /// When each chunk arrived (the log's own store only, not the
    /// compressed copies).
    arrivals: Option<Arc<Arrivals>>,
}

impl fmt::Debug for LogStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LogStore")
            .field("progress", &self.progress())
            .finish_non_exhaustive()
    }
}

impl LogStore {
    /// Creates the store with its temp file in `dir`, unlinked at creation so
    /// nothing is left behind however the process ends, `kill -9` included;
    /// it counts into `metrics`.
    ///
    /// # Errors
    /// The I/O error from creating the file (missing or unwritable `dir`).
    pub fn create_in(dir: &Path, limits: StoreLimits, metrics: StoreMetrics) -> io::Result<Self> {
        let mut store = Self::with_log_file(LogFile::create_in(dir)?, limits, metrics);
        let arrivals = Arc::new(Arrivals::create_in(dir)?);
        // Not shared with anyone yet: the handle was just made.
        if let Some(shared) = Arc::get_mut(&mut store.shared) {
            shared.arrivals = Some(arrivals);
        }
        Ok(store)
    }

    /// Creates the store over an already-open, empty, read-write `file`,
    /// counting into metrics of its own, without an arrival-time index.
    pub fn with_file(file: File, limits: StoreLimits) -> Self {
        Self::with_log_file(LogFile::from_file(file), limits, StoreMetrics::default())
    }

    fn with_log_file(file: LogFile, limits: StoreLimits, metrics: StoreMetrics) -> Self {
        Self::with_parts(
            file,
            limits.ring_bytes,
            Arc::new(CatchUp::new(limits.catch_up_bytes)),
            metrics,
        )
    }

    /// Creates another store, with its own temp file in `dir` (created as
    /// [`LogStore::create_in`] creates the log's) and its own ring of `ring_bytes`, whose readers catching up
    /// from the file share *this* store's catch-up budget: the memory of
    /// catch-up reads stays one budget however many stores there are. Its
    /// readers count in this store's reader metrics (ring hits, catch-up
    /// reads, live latency from its own appends); its appends are not the
    /// upload's and count nowhere.
    ///
    /// # Errors
    /// The I/O error from creating the file.
    pub fn sibling_in(&self, dir: &Path, ring_bytes: usize) -> io::Result<LogStore> {
        Ok(Self::with_parts(
            LogFile::create_in(dir)?,
            ring_bytes,
            Arc::clone(&self.shared.catch_up),
            StoreMetrics {
                upload_bytes: Default::default(),
                ..self.shared.metrics.clone()
            },
        ))
    }

    fn with_parts(
        file: LogFile,
        ring_bytes: usize,
        catch_up: Arc<CatchUp>,
        metrics: StoreMetrics,
    ) -> Self {
        let (progress, _) = watch::channel(Progress {
            len: 0,
            phase: Phase::AwaitingUpload,
        });
        LogStore {
            shared: Arc::new(Shared {
                file: Arc::new(file),
                ring: Mutex::new(Ring::new(ring_bytes)),
                progress,
                catch_up,
                positions: Positions::default(),
                metrics,
                arrivals: None,
            }),
        }
    }

    /// When each stored chunk arrived, if this store keeps that (the log's
    /// own store does; its compressed copies do not).
    pub fn arrivals(&self) -> Option<&Arc<Arrivals>> {
        self.shared.arrivals.as_ref()
    }

    /// The stored length and phase right now.
    pub fn progress(&self) -> Progress {
        *self.shared.progress.borrow()
    }

    /// Bytes the ring of recent chunks holds now.
    pub fn ring_bytes(&self) -> usize {
        self.ring().bytes()
    }

    /// Bytes of the catch-up budget held by reads in flight now.
    pub fn catch_up_bytes(&self) -> usize {
        self.shared.catch_up.in_use()
    }

    /// How far the furthest-behind reader is behind the end of the log, in
    /// bytes, to within 64 KiB (readers closer than that count as 0).
    pub fn max_reader_lag(&self) -> u64 {
        self.shared.positions.max_lag(self.progress().len)
    }

    /// Claims the one upload this store accepts.
    ///
    /// # Errors
    /// [`UploadConflict`] with the current phase if an upload already started
    /// (running, complete or broken): a log is written once.
    pub fn begin_upload(&self) -> Result<Upload, UploadConflict> {
        let claimed = self.shared.progress.send_if_modified(|p| {
            if p.phase == Phase::AwaitingUpload {
                p.phase = Phase::Uploading;
                true
            } else {
                false
            }
        });
        if claimed {
            Ok(Upload::new(self.clone()))
        } else {
            Err(UploadConflict(self.progress().phase))
        }
    }

    /// Declares that no upload will come (livelog is stopping and accepts no
    /// more connections): a log still awaiting its upload becomes
    /// [`Phase::Broken`], so readers waiting for its first byte end
    /// (incomplete) instead of waiting for ever. A running, complete or
    /// broken log is left as it is. Returns the phase after the call.
    pub fn close_if_awaiting(&self) -> Phase {
        self.shared.progress.send_if_modified(|p| {
            let awaiting = p.phase == Phase::AwaitingUpload;
            if awaiting {
                p.phase = Phase::Broken;
            }
            awaiting
        });
        self.progress().phase
    }

    /// A reader positioned at byte `start`, reading up to `end` (exclusive;
    /// `None` follows the log until the upload ends).
    pub fn cursor(&self, start: u64, end: Option<u64>) -> Cursor {
        Cursor::new(self.clone(), start, end)
    }

    fn subscribe(&self) -> watch::Receiver<Progress> {
        self.shared.progress.subscribe()
    }

    fn ring(&self) -> MutexGuard<'_, Ring> {
        // A panic while holding this lock cannot leave the ring inconsistent
        // in a way readers could observe (each mutation is one push/pop), so a
        // poisoned lock is simply taken over.
        self.shared
            .ring
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

#[cfg(test)]
mod tests;
