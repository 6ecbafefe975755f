//! A reader's cursor: its position in the log, and how it gets the next
//! chunk — a ring slice at the head, a catch-up read behind it, or a wait on
//! the notifier when there is nothing new.

use std::fmt;
use std::io;

use bytes::Bytes;
use tokio::sync::watch;

use super::positions::block_of;
use super::{LogStore, Phase, Progress};

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
#[derive(Debug)]
pub struct Cursor {
    store: LogStore,
    pos: u64,
    end: Option<u64>,
    progress: watch::Receiver<Progress>,
}

impl Cursor {
    pub(super) fn new(store: LogStore, start: u64, end: Option<u64>) -> Self {
        let progress = store.subscribe();
        store.shared.positions.enter(block_of(start));
        Cursor {
            store,
            pos: start,
            end,
            progress,
        }
    }

    /// Where the cursor is: the offset of the next byte it returns.
    pub fn position(&self) -> u64 {
        self.pos
    }

    /// Bytes of the log stored as of the latest change the cursor was told
    /// of (the log's length once the upload has ended). More than
    /// [`Cursor::position`] means [`Cursor::next_chunk`] returns at once.
    pub fn stored(&self) -> u64 {
        self.progress.borrow().len
    }

    /// The next chunk of the log, waiting for the upload if the cursor is at
    /// the head.
    ///
    /// Cancel-safe: a call dropped before it returns has not moved the
    /// cursor, so the next call returns the same bytes.
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
                let from = block_of(self.pos);
                self.pos += chunk.len() as u64;
                self.store.shared.positions.moved(from, block_of(self.pos));
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
    /// catch-up read of the file.
    async fn read(&self, limit: u64) -> Result<Bytes, ReadError> {
        let shared = &self.store.shared;
        let sliced = self.store.ring().slice(self.pos, limit);
        if let Some((chunk, appended)) = sliced {
            shared.metrics.ring_hits.inc();
            // Handed to the connection as soon as this returns.
            let latency = appended.elapsed().as_secs_f64();
            shared.metrics.live_latency.observe(latency);
            return Ok(chunk);
        }
        let want = usize::try_from(limit - self.pos).unwrap_or(usize::MAX);
        let chunk = shared
            .catch_up
            .read(&shared.file, self.pos, want)
            .await
            .map_err(ReadError::Io)?;
        shared.metrics.catch_up_reads.inc();
        shared
            .metrics
            .catch_up_read_bytes
            .inc_by(chunk.len() as u64);
        Ok(chunk)
    }
}

impl Drop for Cursor {
    fn drop(&mut self) {
        self.store.shared.positions.leave(block_of(self.pos));
    }
}
