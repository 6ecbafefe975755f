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

/// This project's `cargo build -vv --color always` output
/// (`tests/data/cargo-build-vv.log.gz`) repeated to at least `size` bytes,
/// in whole copies, as `dir/ci-<MiB>.log`: made once (a file already that
/// long is reused) and synced, so its dirty pages do not throttle the
/// benchmark that writes it next.
pub fn repeated_cargo_log(dir: &std::path::Path, size: u64) -> std::path::PathBuf {
    use std::io::{Read, Write};
    let path = dir.join(format!("ci-{}.log", size >> 20));
    if std::fs::metadata(&path).is_ok_and(|m| m.len() >= size) {
        return path;
    }
    let gz: &[u8] = include_bytes!("../data/cargo-build-vv.log.gz");
    let mut one = Vec::new();
    flate2::read::GzDecoder::new(gz)
        .read_to_end(&mut one)
        .unwrap();
    let mut file = std::io::BufWriter::new(std::fs::File::create(&path).unwrap());
    let mut written = 0;
    while written < size {
        file.write_all(&one).unwrap();
        written += one.len() as u64;
    }
    file.into_inner().unwrap().sync_all().unwrap();
    std::process::Command::new("sync").status().unwrap();
    path
}
