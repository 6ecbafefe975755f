//! The log's temp file and positional I/O on it.
//!
//! The upload writes at its own offset and every reader reads at its own, so
//! no seek position is shared: writes are `pwrite`, reads `pread`. Bytes still
//! in the page cache can be read without blocking the worker (`preadv2` with
//! `RWF_NOWAIT`, Linux 4.14+); every other platform, and every filesystem that
//! cannot, reads them on the blocking pool instead.

use std::fs::File;
use std::io;
use std::os::unix::fs::FileExt;
use std::path::Path;

/// The unlinked temp file holding every stored byte of the log.
#[derive(Debug)]
pub struct LogFile {
    file: File,
}

/// How far a write got before it stopped: bytes written, and the error that
/// stopped it, if any.
#[derive(Debug)]
pub struct Written {
    /// Bytes that reached the file, from the requested offset on.
    pub bytes: usize,
    /// Why the write stopped short (`ENOSPC`, `EFBIG`, `EIO`, ...).
    pub error: Option<io::Error>,
}

impl LogFile {
    /// Creates the file in `dir`, unlinked at once (`tempfile::tempfile_in`),
    /// so nothing is left behind however the process ends, `kill -9`
    /// included.
    ///
    /// # Errors
    /// The I/O error from creating the file (missing or unwritable `dir`).
    pub fn create_in(dir: &Path) -> io::Result<Self> {
        Ok(Self::from_file(tempfile::tempfile_in(dir)?))
    }

    /// Uses an already-open, empty, read-write `file`.
    pub fn from_file(file: File) -> Self {
        LogFile { file }
    }

    /// Writes all of `buf` at `pos`, retrying short writes and `EINTR`.
    ///
    /// Returns how many bytes reached the file even when it fails part way (a
    /// file-size limit lets part of a buffer through): those bytes are
    /// stored, and the caller publishes exactly them.
    pub fn write_all_at(&self, buf: &[u8], pos: u64) -> Written {
        let mut bytes = 0;
        while bytes < buf.len() {
            match self.file.write_at(&buf[bytes..], pos + bytes as u64) {
                Ok(0) => {
                    return Written {
                        bytes,
                        error: Some(io::ErrorKind::WriteZero.into()),
                    };
                }
                Ok(n) => bytes += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => {
                    return Written {
                        bytes,
                        error: Some(e),
                    };
                }
            }
        }
        Written { bytes, error: None }
    }

    /// Fills `buf` from `pos`; may block on the disk, so call it on the
    /// blocking pool.
    ///
    /// # Errors
    /// The read's I/O error; `UnexpectedEof` if the file is shorter than
    /// `pos + buf.len()` (readers only ask for published bytes, so that means
    /// the file changed under us).
    pub fn read_exact_at(&self, buf: &mut [u8], pos: u64) -> io::Result<()> {
        self.file.read_exact_at(buf, pos)
    }

    /// Reads into `buf` from `pos` as much as the page cache holds, without
    /// blocking, in bytes. Stops at the first byte that would need the disk;
    /// returns 0 where the kernel or filesystem cannot read without blocking
    /// (`EOPNOTSUPP`), so the caller reads the rest with
    /// [`LogFile::read_exact_at`].
    pub fn read_cached_at(&self, buf: &mut [u8], pos: u64) -> usize {
        let mut done = 0;
        while done < buf.len() {
            let mut slices = [io::IoSliceMut::new(&mut buf[done..])];
            match rustix::io::preadv2(
                &self.file,
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
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn read_cached_at_reads_fresh_bytes_or_nothing() {
        let file = LogFile::from_file(tempfile::tempfile().unwrap());
        let data: Vec<u8> = (0..600_000).map(|i| (i % 251) as u8).collect();
        let written = file.write_all_at(&data, 0);
        assert_eq!(written.bytes, data.len());
        assert!(written.error.is_none());
        let mut buf = vec![0; 300_000];
        let n = file.read_cached_at(&mut buf, 1000);
        // Just written, so cached; a kernel or filesystem without
        // RWF_NOWAIT reads nothing, which the caller handles.
        assert!(n == 0 || n == buf.len(), "read {n}");
        if n > 0 {
            assert_eq!(buf, data[1000..301_000]);
        }
        assert_eq!(file.read_cached_at(&mut buf, 600_000), 0, "past the end");
    }
}
