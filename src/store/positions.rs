//! Where the readers are, coarsely: enough to tell how far behind the
//! furthest-behind reader is, in O(log n) per question, without a walk over
//! the readers.
//!
//! Each cursor counts in the 64 KiB block its position is in, and moves
//! only when it crosses into another block: the cost is one short lock per
//! 64 KiB a reader reads (per chunk would be a lock for every line every
//! tail receives), and the answer is exact to within a block.

use std::collections::BTreeMap;
use std::sync::{Mutex, MutexGuard};

/// log2 of the block size: 64 KiB.
const BLOCK_BITS: u32 = 16;

/// The block holding byte offset `pos`.
pub fn block_of(pos: u64) -> u64 {
    pos >> BLOCK_BITS
}

/// How many cursors are in each block.
#[derive(Debug, Default)]
pub struct Positions {
    /// A `std` mutex: each use is one map update or one lookup of the first
    /// key, never held across an `.await`.
    blocks: Mutex<BTreeMap<u64, u64>>,
}

impl Positions {
    fn blocks(&self) -> MutexGuard<'_, BTreeMap<u64, u64>> {
        // Each operation leaves the map consistent; a poisoned map is still
        // a map.
        self.blocks.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// A cursor entered `block`.
    pub fn enter(&self, block: u64) {
        *self.blocks().entry(block).or_default() += 1;
    }

    /// A cursor left `block`.
    pub fn leave(&self, block: u64) {
        let mut blocks = self.blocks();
        if let Some(n) = blocks.get_mut(&block) {
            *n -= 1;
            if *n == 0 {
                blocks.remove(&block);
            }
        }
    }

    /// A cursor moved from block `from` to block `to`.
    pub fn moved(&self, from: u64, to: u64) {
        if from != to {
            self.leave(from);
            self.enter(to);
        }
    }

    /// How far the furthest-behind cursor is behind `stored` (the stored
    /// length), in bytes, counting the whole block it is in as read: 0 when
    /// every cursor is within 64 KiB of the end (or there is none).
    pub fn max_lag(&self, stored: u64) -> u64 {
        match self.blocks().first_key_value() {
            Some((block, _)) => stored.saturating_sub((block + 1) << BLOCK_BITS),
            None => 0,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_lag_is_the_furthest_behind_cursor_to_within_a_block() {
        let p = Positions::default();
        assert_eq!(p.max_lag(1 << 30), 0, "no readers");
        p.enter(block_of(0));
        p.enter(block_of(10 << 20));
        assert_eq!(p.max_lag(10 << 20), (10 << 20) - (64 << 10));
        p.moved(block_of(0), block_of(10 << 20));
        assert_eq!(p.max_lag((10 << 20) + 100), 0, "both within a block");
        p.leave(block_of(10 << 20));
        p.leave(block_of(10 << 20));
        assert_eq!(p.max_lag(1 << 30), 0);
    }
}
