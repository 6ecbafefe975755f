//! The ring: the most recent chunks of the log, within a byte budget, shared
//! by every reader at the head as `Bytes` slices (never copied per reader).

use std::collections::VecDeque;
use tokio::time::Instant;

use bytes::{Bytes, BytesMut};

/// Chunks smaller than this are merged into the ring's newest chunk (while the
/// merged chunk stays under this size), in bytes.
///
/// A log written a line at a time arrives as many tiny chunks; merging them
/// keeps the ring's entry count (and the per-`Bytes` overhead, and the read
/// buffers tiny slices would pin) proportional to its byte size.
const MERGE_BELOW_BYTES: usize = 4 * 1024;

/// The most recent chunks of the log, within a byte budget.
#[derive(Debug)]
pub struct Ring {
    /// `(offset of the chunk's first byte in the log, chunk, when its last
    /// bytes were appended)`, oldest first, contiguous: each chunk starts
    /// where the previous one ends.
    chunks: VecDeque<(u64, Bytes, Instant)>,
    /// Sum of the chunks' lengths, in bytes.
    bytes: usize,
    /// The byte budget.
    capacity: usize,
}

impl Ring {
    /// An empty ring holding at most `capacity` bytes (0: keeps nothing).
    pub fn new(capacity: usize) -> Self {
        Ring {
            chunks: VecDeque::new(),
            bytes: 0,
            capacity,
        }
    }

    /// Appends `chunk`, whose first byte is at `offset` in the log (where the
    /// previous chunk ended) and which was appended at `at`, evicting the
    /// oldest chunks past the budget.
    pub fn push(&mut self, offset: u64, chunk: Bytes, at: Instant) {
        if self.capacity == 0 {
            return;
        }
        // Merged or appended, the ring grows by exactly the chunk's length.
        let added = chunk.len();
        let merged = match self.chunks.back_mut() {
            Some((_, last, last_at))
                if chunk.len() < MERGE_BELOW_BYTES
                    && last.len() + chunk.len() <= MERGE_BELOW_BYTES =>
            {
                // Copy both into one small buffer; readers holding the old
                // `last` keep their own reference to it. Readers at the head
                // read the merged chunk from the new bytes on, so the time of
                // the newest append is theirs.
                let mut both = BytesMut::with_capacity(last.len() + chunk.len());
                both.extend_from_slice(last);
                both.extend_from_slice(&chunk);
                *last = both.freeze();
                *last_at = at;
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
            self.chunks.push_back((offset, chunk, at));
        }
        self.bytes += added;
        while self.bytes > self.capacity {
            match self.chunks.pop_front() {
                Some((_, old, _)) => self.bytes -= old.len(),
                None => break,
            }
        }
    }

    /// The bytes from `pos` to the end of the chunk holding it (but not past
    /// `limit`), with the time they were appended, or `None` if `pos` is
    /// older than the ring (or not yet in it).
    pub fn slice(&self, pos: u64, limit: u64) -> Option<(Bytes, Instant)> {
        let (first, _, _) = self.chunks.front()?;
        if pos < *first {
            return None;
        }
        // Chunks are contiguous and sorted by offset: binary search for the
        // last chunk starting at or before `pos`.
        let idx = self.chunks.partition_point(|(off, _, _)| *off <= pos) - 1;
        let (off, chunk, at) = &self.chunks[idx];
        let from = (pos - off) as usize;
        if from >= chunk.len() {
            return None;
        }
        let to = chunk.len().min((limit - off) as usize);
        Some((chunk.slice(from..to), *at))
    }

    /// Bytes held now.
    pub fn bytes(&self) -> usize {
        self.bytes
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_the_newest_bytes_within_its_budget_and_merges_small_chunks() {
        let mut ring = Ring::new(10_000);
        let mut offset = 0;
        for i in 0..150u8 {
            let chunk = Bytes::from(vec![i; 100]);
            ring.push(offset, chunk, Instant::now());
            offset += 100;
        }
        assert!(ring.bytes <= 10_000, "{}", ring.bytes);
        assert!(ring.slice(0, offset).is_none(), "evicted");
        let (tail, _) = ring.slice(offset - 100, offset).unwrap();
        assert_eq!(tail[..], [149; 100]);
        // 100-byte chunks were merged: a slice runs to the end of its merged
        // chunk, not just its own 100 bytes.
        let (merged, _) = ring.slice(offset - 1000, offset).unwrap();
        assert!(merged.len() > 100, "{}", merged.len());
        assert!(ring.slice(offset, offset + 1).is_none(), "not stored yet");
    }

    #[test]
    fn a_zero_budget_keeps_nothing() {
        let mut ring = Ring::new(0);
        ring.push(0, Bytes::from_static(b"hello"), Instant::now());
        assert_eq!(ring.bytes, 0);
        assert!(ring.slice(0, 5).is_none());
    }
}
