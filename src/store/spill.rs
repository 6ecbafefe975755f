//! [`Spilled`]: an append-only array of fixed-width records (`u64`s) that
//! keeps memory bounded however long it grows: the newest records wait in
//! a small block in memory, full blocks go to an unlinked temp file (made
//! like the log's own, `file.rs`) and are read back with positional reads,
//! from the page cache as long as the machine has memory to spare.
//!
//! The line index and the arrival-time index are such arrays: one record
//! per line start, one per stored chunk. One writer appends; any number of
//! readers look records up at once. A `std` mutex guards the block and the
//! flushed count; it is held for a copy or a push, never across a file
//! write or an `.await`.

use std::io;
use std::path::Path;
use std::sync::{Mutex, MutexGuard};

use super::file::LogFile;

/// Records the memory block holds before it is written to the file: a
/// 64 KiB block of one-`u64` records.
const BLOCK_WORDS: usize = 8 * 1024;

/// An append-only array of records of `width` `u64`s each.
#[derive(Debug)]
pub struct Spilled {
    width: usize,
    file: LogFile,
    state: Mutex<State>,
}

#[derive(Debug, Default)]
struct State {
    /// Records in the file.
    flushed: u64,
    /// The records after them, `width` words each.
    block: Vec<u64>,
    /// The file write failed: the array holds what it had, and no more.
    failed: bool,
}

impl Spilled {
    /// An empty array of `width`-word records, its file in `dir`.
    ///
    /// # Errors
    /// The I/O error from creating the file.
    pub fn create_in(dir: &Path, width: usize) -> io::Result<Self> {
        Ok(Self::with_file(LogFile::create_in(dir)?, width))
    }

    /// An empty array over an already-open, empty, read-write file.
    pub fn with_file(file: LogFile, width: usize) -> Self {
        Spilled {
            width: width.max(1),
            file,
            state: Mutex::new(State::default()),
        }
    }

    fn state(&self) -> MutexGuard<'_, State> {
        // Each use is a push or a copy; a poisoned state is still whole.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Records held.
    pub fn len(&self) -> u64 {
        let state = self.state();
        state.flushed + (state.block.len() / self.width) as u64
    }

    /// Whether it holds no record.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Appends records (`records.len()` a multiple of the width), with
    /// one lock however many. When the memory block is full it is written
    /// to the file.
    ///
    /// # Errors
    /// The file's write error; the array then keeps what it had and takes
    /// nothing more (its owner reports the failure once).
    pub fn push(&self, records: &[u64]) -> io::Result<()> {
        debug_assert_eq!(records.len() % self.width, 0);
        let full = {
            let mut state = self.state();
            if state.failed {
                return Err(io::Error::other("the index file failed earlier"));
            }
            state.block.extend_from_slice(records);
            (state.block.len() >= BLOCK_WORDS).then(|| (state.flushed, state.block.clone()))
        };
        if let Some((flushed, block)) = full {
            self.flush(flushed, &block)?;
        }
        Ok(())
    }

    /// Writes `block` (the records after the first `flushed`) to the file,
    /// then drops them from memory.
    fn flush(&self, flushed: u64, block: &[u64]) -> io::Result<()> {
        let bytes: Vec<u8> = block.iter().flat_map(|w| w.to_le_bytes()).collect();
        let at = flushed * self.width as u64 * 8;
        let written = self.file.write_all_at(&bytes, at);
        let mut state = self.state();
        if let Some(err) = written.error {
            state.failed = true;
            return Err(err);
        }
        let records = (block.len() / self.width) as u64;
        state.flushed += records;
        state.block.drain(..block.len());
        Ok(())
    }

    /// Record `index` into `out` (`width` words); `false` if there is none.
    ///
    /// A record in the file is read with a positional read: from the page
    /// cache, microseconds; a cold page waits for the disk.
    ///
    /// # Errors
    /// The file's read error.
    pub fn get(&self, index: u64, out: &mut [u64]) -> io::Result<bool> {
        let flushed = {
            let state = self.state();
            if index >= state.flushed {
                let at = ((index - state.flushed) as usize) * self.width;
                return match state.block.get(at..at + self.width) {
                    Some(record) => {
                        out.copy_from_slice(record);
                        Ok(true)
                    }
                    None => Ok(false),
                };
            }
            state.flushed
        };
        debug_assert!(index < flushed);
        let mut bytes = vec![0u8; self.width * 8];
        self.file
            .read_exact_at(&mut bytes, index * self.width as u64 * 8)?;
        for (word, chunk) in out.iter_mut().zip(bytes.chunks_exact(8)) {
            let mut le = [0u8; 8];
            le.copy_from_slice(chunk);
            *word = u64::from_le_bytes(le);
        }
        Ok(true)
    }

    /// The first record whose word `key` is greater than `value`, by binary
    /// search (records must be sorted by that word): its index, or
    /// [`Spilled::len`] if there is none.
    ///
    /// # Errors
    /// The file's read error.
    pub fn partition_point(&self, key: usize, value: u64) -> io::Result<u64> {
        let mut record = vec![0u64; self.width];
        let (mut lo, mut hi) = (0, self.len());
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            if !self.get(mid, &mut record)? {
                hi = mid;
                continue;
            }
            if record[key] <= value {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        Ok(lo)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spilled(width: usize) -> Spilled {
        Spilled::with_file(LogFile::from_file(tempfile::tempfile().unwrap()), width)
    }

    #[test]
    fn records_survive_the_spill_and_are_found_by_key() {
        let a = spilled(2);
        let n = (BLOCK_WORDS * 3) as u64; // three blocks' worth and more
        for i in 0..n {
            a.push(&[i * 10, i]).unwrap();
        }
        assert_eq!(a.len(), n);
        let mut r = [0; 2];
        for i in [0, 1, 4095, 4096, 8191, 8192, n - 1] {
            assert!(a.get(i, &mut r).unwrap());
            assert_eq!(r, [i * 10, i], "record {i}");
        }
        assert!(!a.get(n, &mut r).unwrap());
        assert_eq!(a.partition_point(0, 0).unwrap(), 1);
        assert_eq!(a.partition_point(0, 45).unwrap(), 5);
        assert_eq!(a.partition_point(0, u64::MAX).unwrap(), n);
        // Memory holds less than a block; the rest is in the file.
        assert!(a.state().block.len() < BLOCK_WORDS);
    }
}
