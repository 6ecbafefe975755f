//! The writing end of the log: [`Upload`], handed out once by
//! [`LogStore::begin_upload`]. Each chunk goes to the file first, then to the
//! ring, then to the notifier, so readers only ever see stored bytes.

use std::fmt;
use std::io;
use tokio::time::Instant;

use bytes::Bytes;

use super::{LogStore, Phase};

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
    pub(super) fn new(store: LogStore) -> Self {
        Upload {
            store,
            len: 0,
            done: false,
        }
    }

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
        let arrived = Instant::now();
        let shared = &self.store.shared;
        let written = shared.file.write_all_at(&chunk, self.len);
        // Publish what reached the file, even when the write stopped short:
        // those bytes are stored, and readers get exactly them before the
        // incomplete end.
        if written.bytes > 0 {
            let offset = self.len;
            self.len += written.bytes as u64;
            let chunk = chunk.slice(..written.bytes);
            // Its arrival is recorded before readers can see it, so a reader
            // always finds the time of the bytes it got.
            if let Some(arrivals) = &shared.arrivals {
                arrivals.record(offset, arrived);
            }
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
