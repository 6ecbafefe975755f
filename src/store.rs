//! The log store: one append-only log, kept in an unlinked temp file plus a
//! bounded in-memory ring of its most recent chunks, with a notifier that
//! wakes readers when it grows.
//!
//! Shape, in the style of `mini-redis`' `Db`: [`LogStore`] is a cheap-to-clone
//! handle over `Arc<Shared>`. There is exactly one writer ([`Upload`], handed
//! out once by [`LogStore::begin_upload`]) and any number of readers
//! ([`Cursor`]).
//!
//! The rules that make slow readers harmless:
//!
//! * The writer never waits for a reader. It writes each chunk to the file,
//!   pushes it onto the ring (evicting the oldest chunks past the ring's byte
//!   budget) and publishes the new length on a `tokio::sync::watch` channel,
//!   which only *marks* the value changed and wakes whoever is waiting.
//! * A reader at the head of the log gets ring chunks as `Bytes` slices: shared,
//!   never copied per reader.
//! * A reader behind the ring reads the file at its own pace with positional
//!   reads: from the page cache on the worker when the bytes are cached
//!   (`preadv2` with `RWF_NOWAIT`), else on the blocking pool. Its 256 KiB
//!   buffers are admitted by a byte budget (a semaphore), so memory stays
//!   bounded however many readers fall behind. A reader never *waits* for
//!   the budget, since stalled readers may hold it: with none left it reads
//!   16 KiB pieces outside it, no more than its connection may buffer.
//! * Bytes become visible to readers only after they are in the file, so the
//!   stored length readers see is always bytes that are really stored.

use std::collections::VecDeque;
use std::fmt;
use std::fs::File;
use std::io;
use std::os::unix::fs::FileExt;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, watch};

/// Largest positional read a catching-up reader makes at once, in bytes.
///
/// Big enough that the blocking-pool round trip and the semaphore are small
/// next to the copy (the `/dev/null` fan-out benchmark's last reader finished
/// ~20% sooner than with 64 KiB reads); the catch-up budget holds at least 16
/// such reads in flight at once.
pub const FILE_READ_BYTES: usize = 256 * 1024;

/// Largest file read made when the catch-up budget is all taken, in bytes.
///
/// The budget may be held by stalled readers until their stall timeout; a
/// reader that finds none left reads this much at a time outside it rather
/// than wait for them. 16 KiB is about what each connection already costs
/// (~15 KiB), so this adds at most that per reader catching up at once.
pub const UNBUDGETED_READ_BYTES: usize = 16 * 1024;

/// How long the catch-up budget may go without a share coming back before
/// readers stop waiting for it (its holders are then taken to be stalled).
///
/// With hundreds of readers catching up at once the budget is always all
/// taken, yet a share comes back every few milliseconds: waiting for it
/// keeps reads large. (1000 readers of an 8 MiB upload were delivered ~30%
/// slower, with ~50% more memory, when they read small pieces instead.)
pub const BUDGET_WAIT: Duration = Duration::from_millis(100);

/// Chunks smaller than this are merged into the ring's newest chunk (while the
/// merged chunk stays under this size), in bytes.
///
/// A log written a line at a time arrives as many tiny chunks; merging them
/// keeps the ring's entry count (and the per-`Bytes` overhead, and the read
/// buffers tiny slices would pin) proportional to its byte size.
const MERGE_BELOW_BYTES: usize = 4 * 1024;

/// Where the upload stands. Readers decide how to end their response from it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Phase {
    /// No upload has started yet; readers wait for one.
    AwaitingUpload,
    /// The upload is running; the log may still grow.
    Uploading,
    /// The upload ended cleanly: the log is complete and its length final.
    Complete,
    /// The upload broke (client gone, bad framing, storage error). The stored
    /// bytes stay readable, but every response must end *incomplete*.
    Broken,
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

struct Shared {
    /// The unlinked temp file. Written only by the upload, with `pwrite`;
    /// read by catching-up readers with `pread`, so no seek position is shared.
    file: Arc<File>,
    ring: Mutex<Ring>,
    progress: watch::Sender<Progress>,
    /// The budget, and the buffers, of readers catching up from the file.
    catch_up: Arc<CatchUp>,
}

impl fmt::Debug for LogStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LogStore")
            .field("progress", &self.progress())
            .finish_non_exhaustive()
    }
}

impl LogStore {
    /// Creates the store with its temp file in `dir`.
    ///
    /// The file is unlinked at creation (`tempfile::tempfile_in`), so nothing
    /// is left behind however the process ends, `kill -9` included.
    ///
    /// # Errors
    /// The I/O error from creating the file (missing or unwritable `dir`).
    pub fn create_in(dir: &Path, limits: StoreLimits) -> io::Result<Self> {
        let file = tempfile::tempfile_in(dir)?;
        Ok(Self::with_file(file, limits))
    }

    /// Creates the store over an already-open, empty, read-write `file`.
    pub fn with_file(file: File, limits: StoreLimits) -> Self {
        let (progress, _) = watch::channel(Progress {
            len: 0,
            phase: Phase::AwaitingUpload,
        });
        // A semaphore counts in u32 permits; budgets past 4 GiB are clamped.
        let catch_up = limits
            .catch_up_bytes
            .clamp(FILE_READ_BYTES, u32::MAX as usize);
        LogStore {
            shared: Arc::new(Shared {
                file: Arc::new(file),
                ring: Mutex::new(Ring::new(limits.ring_bytes)),
                progress,
                catch_up: Arc::new(CatchUp::new(catch_up)),
            }),
        }
    }

    /// The stored length and phase right now.
    pub fn progress(&self) -> Progress {
        *self.shared.progress.borrow()
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

    /// A reader positioned at byte `start`, reading up to `end` (exclusive;
    /// `None` follows the log until the upload ends).
    pub fn cursor(&self, start: u64, end: Option<u64>) -> Cursor {
        Cursor {
            store: self.clone(),
            pos: start,
            end,
            progress: self.shared.progress.subscribe(),
        }
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
        let mut written = 0;
        let mut failure = None;
        while written < chunk.len() {
            match self
                .store
                .shared
                .file
                .write_at(&chunk[written..], self.len + written as u64)
            {
                Ok(0) => {
                    failure = Some(io::Error::from(io::ErrorKind::WriteZero));
                    break;
                }
                Ok(n) => written += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => {
                    failure = Some(e);
                    break;
                }
            }
        }
        // Publish what reached the file, even when the write stopped short
        // (a file-size limit lets part of a chunk through): those bytes are
        // stored, and readers get exactly them before the incomplete end.
        if written > 0 {
            let offset = self.len;
            self.len += written as u64;
            self.store.ring().push(offset, chunk.slice(..written));
            let len = self.len;
            self.store.shared.progress.send_modify(|p| p.len = len);
        }
        match failure {
            None => Ok(()),
            Some(err) => {
                self.end(Phase::Broken);
                Err(err)
            }
        }
    }

    /// Bytes stored by this upload so far.
    pub fn len(&self) -> u64 {
        self.len
    }

    /// `true` while nothing has been stored.
    pub fn is_empty(&self) -> bool {
        self.len == 0
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

/// The upload broke before the range a reader asked for was stored; its
/// response must end incomplete.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Incomplete {
    /// Bytes stored when the upload broke.
    pub stored: u64,
}

impl fmt::Display for Incomplete {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "the upload broke after {} bytes; the log is incomplete",
            self.stored
        )
    }
}

impl std::error::Error for Incomplete {}

/// Errors a [`Cursor`] can end with.
#[derive(Debug)]
pub enum ReadError {
    /// The upload broke; the response must end incomplete.
    Incomplete(Incomplete),
    /// Reading the temp file failed.
    Io(io::Error),
}

impl fmt::Display for ReadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ReadError::Incomplete(e) => e.fmt(f),
            ReadError::Io(e) => write!(f, "reading the log file failed: {e}"),
        }
    }
}

impl std::error::Error for ReadError {}

/// One reader's position in the log. Small and fixed-size: a position, an
/// end, and a notifier subscription.
pub struct Cursor {
    store: LogStore,
    pos: u64,
    end: Option<u64>,
    progress: watch::Receiver<Progress>,
}

impl Cursor {
    /// The next chunk of the log, waiting for the upload if the cursor is at
    /// the head.
    ///
    /// Returns `Ok(None)` when the cursor reached its end or the log is
    /// complete, `Err(ReadError::Incomplete)` when the upload broke before
    /// that.
    ///
    /// # Errors
    /// See above; also [`ReadError::Io`] if the temp file cannot be read.
    pub async fn next_chunk(&mut self) -> Result<Option<Bytes>, ReadError> {
        loop {
            if self.end.is_some_and(|end| self.pos >= end) {
                return Ok(None);
            }
            let progress = *self.progress.borrow_and_update();
            if self.pos < progress.len {
                let limit = self.end.map_or(progress.len, |end| end.min(progress.len));
                let chunk = self.read(limit).await?;
                self.pos += chunk.len() as u64;
                return Ok(Some(chunk));
            }
            match progress.phase {
                Phase::Complete => return Ok(None),
                Phase::Broken => {
                    return Err(ReadError::Incomplete(Incomplete {
                        stored: progress.len,
                    }));
                }
                Phase::AwaitingUpload | Phase::Uploading => {
                    // At the head: sleep until the writer publishes more.
                    if self.progress.changed().await.is_err() {
                        // The store (and so the sender) outlives every
                        // cursor; treat the impossible as a broken log
                        // rather than a clean end.
                        return Err(ReadError::Incomplete(Incomplete {
                            stored: progress.len,
                        }));
                    }
                }
            }
        }
    }

    /// Reads from `self.pos` up to `limit` (exclusive; `pos < limit <=
    /// stored length`): a ring slice if the ring still holds `pos`, else a
    /// positional read of the file.
    async fn read(&self, limit: u64) -> Result<Bytes, ReadError> {
        if let Some(chunk) = self.store.ring().slice(self.pos, limit) {
            return Ok(chunk);
        }
        let shared = &self.store.shared;
        let want = (limit - self.pos).min(FILE_READ_BYTES as u64) as usize;
        // `len` may be less than `want`: a small read when no budget is free.
        let mut buf = shared.catch_up.admit(want).await;
        let len = buf.len;
        let pos = self.pos;
        // Catching up usually reads bytes written moments ago, still in the
        // page cache: copy them here, sparing a blocking-pool round trip
        // (two thread wake-ups) per read. Only what is not cached goes to
        // the blocking pool, where a disk read cannot stall this worker.
        let cached = read_cached_at(&shared.file, &mut buf.buf[..len], pos);
        if cached < len {
            let file = Arc::clone(&shared.file);
            buf = tokio::task::spawn_blocking(move || {
                // Only bytes below the published length are asked for, and
                // they were written before being published, so a short read
                // means the file changed under us: report it rather than
                // return a hole.
                file.read_exact_at(&mut buf.buf[cached..len], pos + cached as u64)?;
                Ok(buf)
            })
            .await
            .map_err(|e| ReadError::Io(io::Error::other(e)))?
            .map_err(ReadError::Io)?;
        }
        Ok(Bytes::from_owner(buf))
    }
}

/// Reads into `buf` from `pos` as much as the page cache holds, without
/// blocking (`preadv2` with `RWF_NOWAIT`, Linux 4.14+), in bytes. Stops at
/// the first byte that would need the disk; returns 0 where the kernel or
/// filesystem cannot read without blocking (`EOPNOTSUPP`), so the caller
/// reads the rest the ordinary way.
fn read_cached_at(file: &File, buf: &mut [u8], pos: u64) -> usize {
    let mut done = 0;
    while done < buf.len() {
        let mut slices = [io::IoSliceMut::new(&mut buf[done..])];
        match rustix::io::preadv2(
            file,
            &mut slices,
            pos + done as u64,
            rustix::io::ReadWriteFlags::NOWAIT,
        ) {
            Ok(0) => break,
            Ok(n) => done += n,
            Err(rustix::io::Errno::INTR) => {}
            Err(_) => break,
        }
    }
    done
}

/// A file-read buffer holding its share of the catch-up budget until the
/// connection has written (and dropped) it; a full-size buffer then goes
/// back to the pool.
struct Budgeted {
    buf: Vec<u8>,
    /// Bytes of `buf` read from the file.
    len: usize,
    catch_up: Arc<CatchUp>,
    /// The budget share; `None` for a small read made without one.
    permit: Option<OwnedSemaphorePermit>,
}

impl AsRef<[u8]> for Budgeted {
    fn as_ref(&self) -> &[u8] {
        &self.buf[..self.len]
    }
}

impl Drop for Budgeted {
    fn drop(&mut self) {
        if self.permit.is_some() {
            self.catch_up.budget_returned();
        }
        self.catch_up.give(std::mem::take(&mut self.buf));
    }
}

/// What readers catching up from the file share: a byte budget for their
/// read buffers, and the full-size ([`FILE_READ_BYTES`]) buffers themselves,
/// kept for reuse.
///
/// A fresh 256 KiB buffer costs a zeroing pass and, from the allocator, page
/// faults: together more CPU than the read itself (the `/dev/null` fan-out
/// profile showed `memset` at 11% of the daemon). Buffers are only
/// allocated while holding a full read's worth of the catch-up budget and
/// the pool keeps at most the budget's number of reads, so the buffers in
/// existence never exceed the budget.
///
/// It also keeps the time a budget share last came back, which tells busy
/// readers (shares return every few milliseconds) from stalled ones (none
/// return until the stall timeout).
struct CatchUp {
    /// Bytes of read buffers that may be out at once.
    budget: Arc<Semaphore>,
    free: Mutex<Vec<Vec<u8>>>,
    /// Most buffers `free` keeps: the budget's number of full-size reads.
    max: usize,
    epoch: Instant,
    /// When a budget share last came back, in milliseconds since `epoch`
    /// (`u64::MAX`: never).
    returned_ms: AtomicU64,
}

impl CatchUp {
    /// A budget of `bytes`.
    fn new(bytes: usize) -> Self {
        CatchUp {
            budget: Arc::new(Semaphore::new(bytes)),
            free: Mutex::new(Vec::new()),
            max: bytes / FILE_READ_BYTES,
            epoch: Instant::now(),
            returned_ms: AtomicU64::new(u64::MAX),
        }
    }

    /// A buffer for a read of `want` bytes holding its share of the budget,
    /// or, when none is to be had, a smaller buffer without one.
    ///
    /// Whoever holds the budget may be a stalled reader (its last chunk
    /// stays queued in its connection until the stall timeout), so waiting
    /// for it could let a stalled reader hold this one back. The budget is
    /// waited for only while it is moving (some share came back within the
    /// last [`BUDGET_WAIT`]); once none has for that long, the reader reads
    /// [`UNBUDGETED_READ_BYTES`] outside it, no more than the connection
    /// buffer any reader may hold.
    async fn admit(self: &Arc<Self>, want: usize) -> Budgeted {
        let permit = match Arc::clone(&self.budget).try_acquire_many_owned(want as u32) {
            Ok(permit) => Some(permit),
            Err(_) => self.wait_for_budget(want).await,
        };
        let len = if permit.is_some() {
            want
        } else {
            want.min(UNBUDGETED_READ_BYTES)
        };
        Budgeted {
            buf: self.take(len),
            len,
            catch_up: Arc::clone(self),
            permit,
        }
    }

    /// A share of `want` bytes, waited for while the budget is moving.
    async fn wait_for_budget(&self, want: usize) -> Option<OwnedSemaphorePermit> {
        if self.budget_moving() {
            // One queued acquire, kept across checks so the reader keeps its
            // place in the (first-come, first-served) queue.
            let wait = Arc::clone(&self.budget).acquire_many_owned(want as u32);
            let mut wait = std::pin::pin!(wait);
            loop {
                match tokio::time::timeout(BUDGET_WAIT, wait.as_mut()).await {
                    Ok(Ok(permit)) => return Some(permit),
                    Ok(Err(_closed)) => break,
                    Err(_) if self.budget_moving() => {}
                    Err(_) => break,
                }
            }
        }
        None
    }

    fn now_ms(&self) -> u64 {
        self.epoch.elapsed().as_millis() as u64
    }

    fn budget_returned(&self) {
        self.returned_ms.store(self.now_ms(), Ordering::Relaxed);
    }

    /// `true` if a budget share came back within the last [`BUDGET_WAIT`].
    fn budget_moving(&self) -> bool {
        match self.returned_ms.load(Ordering::Relaxed) {
            u64::MAX => false,
            at => self.now_ms().saturating_sub(at) < BUDGET_WAIT.as_millis() as u64,
        }
    }

    fn free(&self) -> MutexGuard<'_, Vec<Vec<u8>>> {
        // Each operation is one push or pop; a poisoned list is still a list.
        self.free.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// A buffer of at least `len` bytes: a pooled one for full-size reads,
    /// else one of exactly `len` (small reads would otherwise pin a full
    /// buffer against a small permit).
    fn take(&self, len: usize) -> Vec<u8> {
        if len == FILE_READ_BYTES {
            if let Some(buf) = self.free().pop() {
                return buf;
            }
        }
        vec![0; len]
    }

    fn give(&self, buf: Vec<u8>) {
        if buf.len() == FILE_READ_BYTES {
            let mut free = self.free();
            if free.len() < self.max {
                free.push(buf);
            }
        }
    }
}

/// The most recent chunks of the log, within a byte budget.
struct Ring {
    /// `(offset of the chunk's first byte in the log, chunk)`, oldest first,
    /// contiguous: each chunk starts where the previous one ends.
    chunks: VecDeque<(u64, Bytes)>,
    /// Sum of the chunks' lengths, in bytes.
    bytes: usize,
    /// The byte budget.
    capacity: usize,
}

impl Ring {
    fn new(capacity: usize) -> Self {
        Ring {
            chunks: VecDeque::new(),
            bytes: 0,
            capacity,
        }
    }

    fn push(&mut self, offset: u64, chunk: Bytes) {
        if self.capacity == 0 {
            return;
        }
        // Merged or appended, the ring grows by exactly the chunk's length.
        let added = chunk.len();
        let merged = match self.chunks.back_mut() {
            Some((_, last))
                if chunk.len() < MERGE_BELOW_BYTES
                    && last.len() + chunk.len() <= MERGE_BELOW_BYTES =>
            {
                // Copy both into one small buffer; readers holding the old
                // `last` keep their own reference to it.
                let mut both = BytesMut::with_capacity(last.len() + chunk.len());
                both.extend_from_slice(last);
                both.extend_from_slice(&chunk);
                *last = both.freeze();
                true
            }
            _ => false,
        };
        if !merged {
            // A tiny chunk that could not be merged is copied out anyway, so
            // it does not pin the (much larger) receive buffer it slices.
            let chunk = if chunk.len() < MERGE_BELOW_BYTES {
                Bytes::copy_from_slice(&chunk)
            } else {
                chunk
            };
            self.chunks.push_back((offset, chunk));
        }
        self.bytes += added;
        while self.bytes > self.capacity {
            match self.chunks.pop_front() {
                Some((_, old)) => self.bytes -= old.len(),
                None => break,
            }
        }
    }

    /// The bytes from `pos` to the end of the chunk holding it (but not past
    /// `limit`), or `None` if `pos` is older than the ring (or not yet in it).
    fn slice(&self, pos: u64, limit: u64) -> Option<Bytes> {
        let (first, _) = self.chunks.front()?;
        if pos < *first {
            return None;
        }
        // Chunks are contiguous and sorted by offset: binary search for the
        // last chunk starting at or before `pos`.
        let idx = self.chunks.partition_point(|(off, _)| *off <= pos) - 1;
        let (off, chunk) = &self.chunks[idx];
        let from = (pos - off) as usize;
        if from >= chunk.len() {
            return None;
        }
        let to = chunk.len().min((limit - off) as usize);
        Some(chunk.slice(from..to))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    const RING: usize = 64 * 1024;

    /// A complete log of `len` bytes behind a 64 KiB ring.
    fn complete_log(len: usize) -> (LogStore, Vec<u8>) {
        let file = tempfile::tempfile().unwrap();
        let store = LogStore::with_file(file, StoreLimits::from_ring_bytes(RING));
        let data: Vec<u8> = (0..len).map(|i| (i % 251) as u8).collect();
        let mut upload = store.begin_upload().unwrap();
        for piece in data.chunks(100_000) {
            upload.append(Bytes::copy_from_slice(piece)).unwrap();
        }
        upload.finish();
        (store, data)
    }

    #[test]
    fn read_cached_at_reads_fresh_bytes_or_nothing() {
        let file = tempfile::tempfile().unwrap();
        let data: Vec<u8> = (0..600_000).map(|i| (i % 251) as u8).collect();
        file.write_all_at(&data, 0).unwrap();
        let mut buf = vec![0; 300_000];
        let n = read_cached_at(&file, &mut buf, 1000);
        // Just written, so cached; a kernel or filesystem without
        // RWF_NOWAIT reads nothing, which the caller handles.
        assert!(n == 0 || n == buf.len(), "read {n}");
        if n > 0 {
            assert_eq!(buf, data[1000..301_000]);
        }
        assert_eq!(read_cached_at(&file, &mut buf, 600_000), 0, "past the end");
    }

    #[tokio::test]
    async fn a_reader_behind_the_ring_gets_every_byte_and_reuses_one_buffer() {
        let (store, data) = complete_log(4 << 20);
        let mut cursor = store.cursor(0, None);
        let mut got = Vec::new();
        while let Some(chunk) = cursor.next_chunk().await.unwrap() {
            got.extend_from_slice(&chunk);
        }
        assert!(got == data, "got {} of {} bytes", got.len(), data.len());
        assert_eq!(store.shared.catch_up.free().len(), 1);
    }

    /// Readers that keep their chunks (as stalled readers' connections do)
    /// can take the whole catch-up budget; another reader then reads small
    /// pieces at once instead of waiting for them. While shares do come
    /// back, it waits for one and reads in full.
    #[tokio::test]
    async fn a_reader_waits_for_a_moving_budget_but_not_a_stuck_one() {
        let (store, data) = complete_log(8 << 20);
        let mut held = Vec::new();
        while store.shared.catch_up.budget.available_permits() >= FILE_READ_BYTES {
            let mut stalled = store.cursor(0, None);
            held.push(stalled.next_chunk().await.unwrap().unwrap());
        }
        let mut cursor = store.cursor(0, None);
        let wait = Duration::from_secs(5);
        let next = tokio::time::timeout(wait, cursor.next_chunk());
        let chunk = next.await.expect("waited for the budget").unwrap().unwrap();
        assert_eq!(chunk[..], data[..UNBUDGETED_READ_BYTES]);

        // Shares coming back: the budget is moving, so a reader waits for
        // the next one and reads in full.
        held.pop();
        let mut other = store.cursor(0, None);
        held.push(other.next_chunk().await.unwrap().unwrap());
        assert!(store.shared.catch_up.budget.available_permits() < FILE_READ_BYTES);
        let one_more = held.pop();
        // Runs once the reader below is waiting (this runtime has one
        // thread, and the test task polls first).
        tokio::spawn(async move { drop(one_more) });
        let chunk = cursor.next_chunk().await.unwrap().unwrap();
        let at = UNBUDGETED_READ_BYTES;
        assert_eq!(chunk[..], data[at..at + FILE_READ_BYTES]);
        drop(held);
        assert!(store.shared.catch_up.free().len() <= store.shared.catch_up.max);
    }
}
