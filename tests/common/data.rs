//! Test data: a deterministic log and a streaming byte-exactness check.

use std::sync::Arc;

/// Deterministic pseudo-random bytes (xorshift), for byte-exact checks.
pub fn pattern(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed | 1;
    let mut out = Vec::with_capacity(len + 8);
    while out.len() < len {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        out.extend_from_slice(&x.to_le_bytes());
    }
    out.truncate(len);
    out
}

/// Compares streamed bytes with `expected` without keeping them.
pub struct Checker {
    expected: Arc<Vec<u8>>,
    /// Bytes fed so far.
    pub received: usize,
    /// Leading bytes that matched `expected`.
    pub matched: usize,
}

impl Checker {
    pub fn new(expected: Arc<Vec<u8>>) -> Self {
        Checker {
            expected,
            received: 0,
            matched: 0,
        }
    }

    /// Feeds the next bytes of the stream.
    pub fn feed(&mut self, data: &[u8]) {
        if self.matched == self.received {
            let end = (self.received + data.len()).min(self.expected.len());
            let want = &self.expected[self.received..end];
            self.matched += want.iter().zip(data).take_while(|(a, b)| a == b).count();
        }
        self.received += data.len();
    }

    /// `true` when exactly `expected` was fed.
    pub fn exact(&self) -> bool {
        self.received == self.expected.len() && self.matched == self.received
    }
}
