//! The log's compressed copies: compress once, serve many.
//!
//! Every reader of the whole log receives the same bytes, so the compressed
//! representation is the same for all of them too: it is computed once per
//! coding, not once per reader. For each [`Codec`] there is at most one
//! compressor per log, started by the first reader that asks for that coding
//! ([`Encodings::start`]). It follows the log like a reader (a [`Cursor`],
//! at its own pace, so it never holds back the upload) and appends what it
//! produces to a second [`LogStore`], with its own ring and temp file
//! (which nothing outlives, as the log's). Compressed readers are ordinary
//! cursors of that store: no compressor state and no compression CPU per
//! reader.
//!
//! * At the head of the log (nothing more stored yet) the compressor does a
//!   sync flush, so a line just written reaches compressed readers at once.
//!   When it is behind, it compresses everything already stored before it
//!   flushes: a better ratio and fewer appends.
//! * When the log completes, it writes the end of the stream (gzip trailer,
//!   zstd frame end with its checksum) and finishes its store. When the log
//!   breaks, it drops its [`Upload`] unfinished, so the compressed store is
//!   broken too: its readers get every compressed byte stored, then an
//!   incomplete end, and no trailer that would make the stream look whole.
//! * It runs on a thread of its own with a current-thread runtime
//!   (`crate::runtime_thread`), so compressing never occupies a runtime
//!   worker that serves readers. [`Encodings`] owns the thread, and
//!   [`Encodings::stop`] stops and joins it when livelog stops.

use std::fmt;
use std::io;
use std::path::Path;
use std::sync::{Mutex, MutexGuard};

use super::LogStore;
use crate::runtime_thread::RuntimeThread;

mod compressor;
mod encoder;

pub use encoder::Encoder;

/// gzip compression level (zlib's 1–9).
///
/// Almost all of level 6's ratio on a real build log at clearly more speed,
/// which a compressor sharing two cores with the upload needs; higher levels
/// gain little for their cost (figures in docs/bench/decisions.md).
pub const GZIP_LEVEL: u32 = 4;

/// zstd compression level.
///
/// Chosen as [`GZIP_LEVEL`] was: zstd's default compresses a build log
/// better than gzip's best, several times faster than [`GZIP_LEVEL`], and
/// higher levels cost far more than they gain (docs/bench/decisions.md).
/// Its window, 2 MiB, is well within the 8 MiB browsers accept for
/// `Content-Encoding: zstd` (RFC 9659).
pub const ZSTD_LEVEL: i32 = 3;

/// Each compressed store's ring holds `LIVELOG_RING_BYTES` divided by this.
///
/// Compressed bytes are several times fewer than the log's, so a quarter of
/// the ring still holds more of the log than the raw ring does, and both
/// compressed rings together add half of `LIVELOG_RING_BYTES`.
pub const RING_SHARE_DIVISOR: usize = 4;

/// Compressed output is appended to the store once this much has
/// accumulated, also while the compressor is behind (at the head it is
/// appended at once, after a sync flush), in bytes.
const APPEND_BYTES: usize = 64 * 1024;

/// A content coding livelog can serve (RFC 9110 §8.4.1).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Codec {
    /// `gzip` (RFC 1952).
    Gzip,
    /// `zstd` (RFC 8878).
    Zstd,
}

impl Codec {
    /// Every codec livelog has.
    pub const ALL: [Codec; 2] = [Codec::Gzip, Codec::Zstd];

    /// The content-coding name, as `Content-Encoding` says it.
    pub fn name(self) -> &'static str {
        match self {
            Codec::Gzip => "gzip",
            Codec::Zstd => "zstd",
        }
    }

    fn index(self) -> usize {
        match self {
            Codec::Gzip => 0,
            Codec::Zstd => 1,
        }
    }
}

impl fmt::Display for Codec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The log's compressed copies, one store per [`Codec`], each filled by one
/// compressor once a reader asks for it.
#[derive(Debug)]
pub struct Encodings {
    raw: LogStore,
    coded: [Coded; 2],
    /// The span compressors log in: the server's, not that of the reader
    /// who happened to start one.
    span: tracing::Span,
}

#[derive(Debug)]
struct Coded {
    /// The compressed stream, readable like the log itself.
    store: LogStore,
    /// The compressor's thread. A `std` mutex, held to start or take the
    /// thread and never across an `.await`.
    compressor: Mutex<CompressorThread>,
}

/// Where a codec's compressor stands.
#[derive(Debug)]
enum CompressorThread {
    /// No reader has asked for this coding yet.
    NotStarted,
    /// Compressing (or done, its thread ended, until joined).
    Running(RuntimeThread),
    /// It could not start (logged), or it was stopped.
    Gone,
}

impl Encodings {
    /// Creates a compressed store for each codec beside `raw`: temp files in
    /// `dir` (nothing outlives them; empty until a compressor starts), rings of
    /// `ring_bytes /` `RING_SHARE_DIVISOR`, and `raw`'s catch-up budget.
    /// No compressor runs yet.
    ///
    /// # Errors
    /// The I/O error from creating a temp file.
    pub fn create_in(raw: &LogStore, dir: &Path, ring_bytes: usize) -> io::Result<Self> {
        let ring_bytes = ring_bytes / RING_SHARE_DIVISOR;
        let coded = || -> io::Result<Coded> {
            Ok(Coded {
                store: raw.sibling_in(dir, ring_bytes)?,
                compressor: Mutex::new(CompressorThread::NotStarted),
            })
        };
        Ok(Encodings {
            raw: raw.clone(),
            // One per codec, in `Codec::index` order.
            coded: [coded()?, coded()?],
            span: tracing::Span::current(),
        })
    }

    /// The compressed store of `codec` as it stands, without starting its
    /// compressor (for `HEAD`): awaiting its upload until a reader starts it.
    pub fn store(&self, codec: Codec) -> &LogStore {
        &self.coded[codec.index()].store
    }

    /// The compressed store of `codec`, its compressor started if it was not
    /// yet. Returns at once; the compressor's upload has begun by then, so a
    /// cursor of the store follows it.
    pub fn start(&self, codec: Codec) -> &LogStore {
        let coded = &self.coded[codec.index()];
        let mut compressor = coded.lock();
        if let CompressorThread::NotStarted = *compressor {
            let span = self.span.clone();
            *compressor = match compressor::start(codec, &self.raw, &coded.store, span) {
                Some(thread) => CompressorThread::Running(thread),
                None => CompressorThread::Gone,
            };
        }
        &coded.store
    }

    /// Stops every compressor still running and waits for its thread to
    /// end (livelog is stopping: no reader is left to read it). A stopped
    /// compressor leaves its store broken, as a broken log would.
    pub async fn stop(&self) {
        for coded in &self.coded {
            let running = std::mem::replace(&mut *coded.lock(), CompressorThread::Gone);
            if let CompressorThread::Running(thread) = running {
                thread.stop().await;
            }
        }
    }
}

impl Coded {
    fn lock(&self) -> MutexGuard<'_, CompressorThread> {
        // Each use replaces the state whole; a poisoned lock still holds a
        // valid one.
        self.compressor
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

#[cfg(test)]
mod tests;
