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
//! * `ring.rs` — the ring of recent chunks;
//! * `cursor.rs` — a reader's position and how it gets the next chunk;
//! * `catch_up.rs` — reads behind the ring, within a shared memory budget;
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

mod catch_up;
mod compressed;
mod cursor;
mod file;
mod positions;
mod ring;

use std::fmt;
use std::fs::File;
use std::io;
use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Instant;

use bytes::Bytes;
use tokio::sync::watch;

pub use catch_up::{BUDGET_WAIT, FILE_READ_BYTES, UNBUDGETED_READ_BYTES};
pub use compressed::{Codec, Encodings};
pub use cursor::{Cursor, Incomplete, ReadError};

use catch_up::CatchUp;
use file::LogFile;
use positions::Positions;
use ring::Ring;

use crate::metrics::StoreMetrics;

/// Where the upload stands. Readers decide how to end their response from it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Phase {
    /// No upload has started yet; readers wait for one.
    AwaitingUpload,
    /// The upload is running; the log may still grow.
    Uploading,
    /// The upload ended cleanly: the log is complete and its length final.
    Complete,
    /// The upload broke (client gone, bad framing, storage error), or none
    /// will ever come (livelog is stopping). The stored bytes stay readable,
    /// but every response must end *incomplete*.
    Broken,
}

impl Phase {
    /// The log's state as readers are told it (the `Livelog-State` header,
    /// `/status`, `/metrics`): `waiting` for the upload, `live` while it
    /// runs, `complete`, or `incomplete` when it broke.
    pub fn name(self) -> &'static str {
        match self {
            Phase::AwaitingUpload => "waiting",
            Phase::Uploading => "live",
            Phase::Complete => "complete",
            Phase::Broken => "incomplete",
        }
    }

    /// Every phase, in the order a log goes through them.
    pub const ALL: [Phase; 4] = [
        Phase::AwaitingUpload,
        Phase::Uploading,
        Phase::Complete,
        Phase::Broken,
    ];
}

/// What readers are told each time the log changes: the stored length in bytes
/// and the upload's phase.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Progress {
    /// Bytes stored so far (in the file, and readable).
    pub len: u64,
    /// Where the upload stands.
    pub phase: Phase,
}

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
        Ok(Self::with_log_file(
            LogFile::create_in(dir)?,
            limits,
            metrics,
        ))
    }

    /// Creates the store over an already-open, empty, read-write `file`,
    /// counting into metrics of its own.
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
            }),
        }
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
            Ok(Upload {
                store: self.clone(),
                len: 0,
                done: false,
            })
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

/// A second upload was attempted; carries the phase the log is in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UploadConflict(pub Phase);

impl fmt::Display for UploadConflict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Phase::Uploading => f.write_str("an upload is already in progress"),
            _ => f.write_str("the log was already uploaded; livelog accepts one upload"),
        }
    }
}

impl std::error::Error for UploadConflict {}

/// The writing end of the log. Dropping it without [`Upload::finish`] marks
/// the log broken, so an upload cut off any way at all (a cancelled task
/// included) never looks complete to a reader.
pub struct Upload {
    store: LogStore,
    len: u64,
    done: bool,
}

impl Upload {
    /// Appends `chunk`: writes it to the file, then makes it visible to
    /// readers (ring + notifier). Never waits for a reader.
    ///
    /// The file write is a `pwrite` on the calling task: it lands in the page
    /// cache in microseconds, and a blocking-pool round trip per chunk would
    /// cost more than the write and add to every reader's latency.
    ///
    /// # Errors
    /// The I/O error from the write (`ENOSPC`, `EFBIG`, `EIO`, ...). The log is
    /// then marked broken: readers get the bytes stored before it and an
    /// incomplete end.
    pub fn append(&mut self, chunk: Bytes) -> io::Result<()> {
        let shared = &self.store.shared;
        let written = shared.file.write_all_at(&chunk, self.len);
        // Publish what reached the file, even when the write stopped short:
        // those bytes are stored, and readers get exactly them before the
        // incomplete end.
        if written.bytes > 0 {
            let offset = self.len;
            self.len += written.bytes as u64;
            let chunk = chunk.slice(..written.bytes);
            self.store.ring().push(offset, chunk, Instant::now());
            shared.metrics.upload_bytes.inc_by(written.bytes as u64);
            let len = self.len;
            shared.progress.send_modify(|p| p.len = len);
        }
        match written.error {
            None => Ok(()),
            Some(err) => {
                self.end(Phase::Broken);
                Err(err)
            }
        }
    }

    /// Bytes stored by this upload so far.
    pub fn stored(&self) -> u64 {
        self.len
    }

    /// Ends the upload cleanly: the log is complete at its current length.
    pub fn finish(mut self) {
        self.end(Phase::Complete);
    }

    /// Ends the upload as broken: readers end incomplete after the stored bytes.
    pub fn abort(mut self) {
        self.end(Phase::Broken);
    }

    fn end(&mut self, phase: Phase) {
        if !self.done {
            self.done = true;
            self.store.shared.progress.send_modify(|p| p.phase = phase);
        }
    }
}

impl Drop for Upload {
    fn drop(&mut self) {
        self.end(Phase::Broken);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A complete log of `len` bytes behind a 64 KiB ring.
    fn complete_log(len: usize) -> (LogStore, Vec<u8>) {
        let file = tempfile::tempfile().unwrap();
        let store = LogStore::with_file(file, StoreLimits::from_ring_bytes(64 * 1024));
        let data: Vec<u8> = (0..len).map(|i| (i % 251) as u8).collect();
        let mut upload = store.begin_upload().unwrap();
        for piece in data.chunks(100_000) {
            upload.append(Bytes::copy_from_slice(piece)).unwrap();
        }
        upload.finish();
        (store, data)
    }

    async fn read_to_end(mut cursor: Cursor) -> Result<Vec<u8>, ReadError> {
        let mut got = Vec::new();
        while let Some(chunk) = cursor.next_chunk().await? {
            got.extend_from_slice(&chunk);
        }
        Ok(got)
    }

    #[tokio::test]
    async fn a_reader_behind_the_ring_gets_every_byte() {
        let (store, data) = complete_log(4 << 20);
        let got = read_to_end(store.cursor(0, None)).await.unwrap();
        assert!(got == data, "got {} of {} bytes", got.len(), data.len());
        let part = read_to_end(store.cursor(1000, Some(5000))).await.unwrap();
        assert_eq!(part, data[1000..5000]);
    }

    #[tokio::test]
    async fn a_dropped_upload_breaks_the_log_and_readers_end_incomplete() {
        let store = LogStore::with_file(
            tempfile::tempfile().unwrap(),
            StoreLimits::from_ring_bytes(1024),
        );
        let mut upload = store.begin_upload().unwrap();
        upload.append(Bytes::from_static(b"partial")).unwrap();
        let reader = tokio::spawn(read_to_end(store.cursor(0, None)));
        drop(upload);
        match reader.await.unwrap() {
            Err(ReadError::Incomplete(Incomplete { stored: 7 })) => {}
            other => panic!("{other:?}"),
        }
        assert!(store.begin_upload().is_err(), "a log is written once");
    }

    #[tokio::test]
    async fn closing_a_store_awaiting_its_upload_ends_waiting_readers() {
        let store = LogStore::with_file(
            tempfile::tempfile().unwrap(),
            StoreLimits::from_ring_bytes(1024),
        );
        let reader = tokio::spawn(read_to_end(store.cursor(0, None)));
        assert_eq!(store.close_if_awaiting(), Phase::Broken);
        assert!(matches!(
            reader.await.unwrap(),
            Err(ReadError::Incomplete(Incomplete { stored: 0 }))
        ));
        let (complete, _) = complete_log(10);
        assert_eq!(complete.close_if_awaiting(), Phase::Complete);
    }
}
