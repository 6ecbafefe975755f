//! Catching up: how readers behind the ring read the temp file, within a
//! shared memory budget that no stalled reader can hold the others back with.
//!
//! * A read is at most [`FILE_READ_BYTES`]; its buffer holds a share of the
//!   catch-up budget (a semaphore, in bytes) until the connection has written
//!   and dropped it, so the buffers in flight never exceed the budget however
//!   many readers fall behind.
//! * Full-size buffers are reused: a fresh 256 KiB buffer costs a zeroing
//!   pass and, from the allocator, page faults, together more CPU than the
//!   read itself (a profile of the fan-out benchmark showed it:
//!   docs/bench/decisions.md). The pool keeps at most the budget's number
//!   of reads.
//! * Bytes still in the page cache are copied on the worker; only what is not
//!   cached goes to the blocking pool, where a disk read cannot stall it.
//! * A reader never *waits* on a stalled reader: a stalled reader's last read
//!   stays queued in its connection until the stall timeout, so the budget
//!   may be all taken by stalled readers. A reader waits for a share only
//!   while shares keep coming back (one did within [`BUDGET_WAIT`]); once
//!   none has for that long, it reads [`UNBUDGETED_READ_BYTES`] outside the
//!   budget, no more than any connection may buffer anyway.
//!
//! The budget's clock is `tokio::time`, so tests drive it with a paused clock.

use std::io;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use bytes::Bytes;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::time::Instant;

use super::file::LogFile;

/// Largest positional read a catching-up reader makes at once, in bytes.
///
/// Big enough that the blocking-pool round trip and the semaphore are small
/// next to the copy (smaller reads made the fan-out benchmark measurably
/// slower: docs/bench/decisions.md); the catch-up budget holds at least 16
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
/// keeps reads large, where reading small pieces at once made many readers
/// both slower and larger (docs/bench/decisions.md).
pub const BUDGET_WAIT: Duration = Duration::from_millis(100);

/// What readers catching up from the file share: the byte budget for their
/// read buffers, the reusable full-size buffers, and the time a share last
/// came back (which tells busy holders from stalled ones).
#[derive(Debug)]
pub struct CatchUp {
    /// Bytes of read buffers that may be out at once.
    budget: Arc<Semaphore>,
    /// Full-size buffers for reuse; a `std` mutex, held for one push or pop
    /// and never across an `.await`.
    free: Mutex<Vec<Vec<u8>>>,
    /// Most buffers `free` keeps: the budget's number of full-size reads.
    max_free: usize,
    /// The budget, in bytes.
    total: usize,
    epoch: Instant,
    /// When a budget share last came back, in milliseconds since `epoch`
    /// (`u64::MAX`: never).
    returned_ms: AtomicU64,
}

impl CatchUp {
    /// A budget of `bytes` (clamped to one full read at least, and to what a
    /// semaphore counts: `u32::MAX`).
    pub fn new(bytes: usize) -> Self {
        let bytes = bytes.clamp(FILE_READ_BYTES, u32::MAX as usize);
        CatchUp {
            budget: Arc::new(Semaphore::new(bytes)),
            free: Mutex::new(Vec::new()),
            max_free: bytes / FILE_READ_BYTES,
            total: bytes,
            epoch: Instant::now(),
            returned_ms: AtomicU64::new(u64::MAX),
        }
    }

    /// Reads up to `want` bytes (at most [`FILE_READ_BYTES`]) of `file` from
    /// `pos`: all of them with a share of the budget, or fewer (at most
    /// [`UNBUDGETED_READ_BYTES`]) when the budget is stuck. The returned
    /// `Bytes` holds the share until it is dropped.
    ///
    /// # Errors
    /// The file's read error; `UnexpectedEof` if fewer than `want` bytes
    /// exist from `pos` (callers ask only for stored bytes).
    pub async fn read(
        self: &Arc<Self>,
        file: &Arc<LogFile>,
        pos: u64,
        want: usize,
    ) -> io::Result<Bytes> {
        let mut buf = self.admit(want.min(FILE_READ_BYTES)).await;
        let len = buf.len;
        // Catching up usually reads bytes written moments ago, still in the
        // page cache: copy them here, sparing a blocking-pool round trip
        // (two thread wake-ups) per read.
        let cached = file.read_cached_at(&mut buf.buf[..len], pos);
        if cached < len {
            let file = Arc::clone(file);
            buf = tokio::task::spawn_blocking(move || {
                file.read_exact_at(&mut buf.buf[cached..len], pos + cached as u64)?;
                Ok::<_, io::Error>(buf)
            })
            .await
            .map_err(io::Error::other)??;
        }
        Ok(Bytes::from_owner(buf))
    }

    /// A buffer for a read of `want` bytes holding its share of the budget,
    /// or, when none is to be had, a smaller buffer without one.
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
            if free.len() < self.max_free {
                free.push(buf);
            }
        }
    }

    /// Bytes of budget not held by any read now.
    fn available(&self) -> usize {
        self.budget.available_permits()
    }

    /// Bytes of budget held by reads in flight now.
    pub fn in_use(&self) -> usize {
        self.total.saturating_sub(self.available())
    }

    /// Buffers kept for reuse now.
    #[cfg(test)]
    fn pooled(&self) -> usize {
        self.free().len()
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    /// A file of `len` pattern bytes.
    fn file(len: usize) -> (Arc<LogFile>, Vec<u8>) {
        let file = LogFile::from_file(tempfile::tempfile().unwrap());
        let data: Vec<u8> = (0..len).map(|i| (i % 251) as u8).collect();
        assert!(file.write_all_at(&data, 0).error.is_none());
        (Arc::new(file), data)
    }

    #[tokio::test]
    async fn full_reads_reuse_one_buffer() {
        let (file, data) = file(4 << 20);
        let catch_up = Arc::new(CatchUp::new(16 * FILE_READ_BYTES));
        let mut pos = 0;
        while pos < data.len() {
            let chunk = catch_up.read(&file, pos as u64, data.len() - pos).await;
            let chunk = chunk.unwrap();
            assert_eq!(chunk[..], data[pos..pos + chunk.len()]);
            pos += chunk.len();
        }
        assert_eq!(catch_up.pooled(), 1);
    }

    /// Readers that keep their chunks (as stalled readers' connections do)
    /// can take the whole budget; another reader then reads a small piece at
    /// once instead of waiting for them. While shares do come back, it waits
    /// for one and reads in full. The clock is paused: nothing here depends
    /// on how fast the machine is.
    #[tokio::test(start_paused = true)]
    async fn a_reader_waits_for_a_moving_budget_but_not_a_stuck_one() {
        let (file, data) = file(8 << 20);
        let catch_up = Arc::new(CatchUp::new(16 * FILE_READ_BYTES));
        let mut held = Vec::new();
        while catch_up.available() >= FILE_READ_BYTES {
            held.push(catch_up.read(&file, 0, FILE_READ_BYTES).await.unwrap());
        }

        // Stuck: no share ever came back. A small read, at once.
        let started = Instant::now();
        let chunk = catch_up.read(&file, 0, FILE_READ_BYTES).await.unwrap();
        assert_eq!(chunk[..], data[..UNBUDGETED_READ_BYTES]);
        assert_eq!(started.elapsed(), Duration::ZERO, "did not wait");

        // A share came back: the budget is moving. Another reader takes it;
        // a reader that then finds none waits for the next one and reads in
        // full.
        held.pop();
        held.push(catch_up.read(&file, 0, FILE_READ_BYTES).await.unwrap());
        assert!(catch_up.available() < FILE_READ_BYTES);
        let one_more = held.pop();
        tokio::spawn(async move {
            // Returned well within BUDGET_WAIT, after the reader has queued.
            tokio::time::sleep(BUDGET_WAIT / 2).await;
            drop(one_more);
        });
        let chunk = catch_up.read(&file, 0, FILE_READ_BYTES).await.unwrap();
        assert_eq!(chunk.len(), FILE_READ_BYTES, "waited for a full share");
        assert_eq!(started.elapsed(), BUDGET_WAIT / 2);

        // Once no share has come back for BUDGET_WAIT, the budget counts as
        // stuck again: the next reader waits out that window, then reads a
        // small piece.
        let chunk = catch_up.read(&file, 0, FILE_READ_BYTES).await.unwrap();
        assert_eq!(chunk.len(), UNBUDGETED_READ_BYTES);
        drop(held);
        assert!(catch_up.pooled() <= catch_up.max_free);
    }
}
