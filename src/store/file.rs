//! The log's temp file and positional I/O on it.
//!
//! The upload writes at its own offset and every reader reads at its own, so
//! no seek position is shared: writes and reads are positional (`pwrite` and
//! `pread` on Unix, `WriteFile`/`ReadFile` with an offset on Windows). Bytes
//! still in the page cache can be read without blocking the worker on Linux
//! (`preadv2` with `RWF_NOWAIT`, Linux 4.14+); every other platform, and
//! every filesystem that cannot, reads them on the blocking pool instead.
//!
//! The platform code is the `os` module at the end: the rest of the file is
//! the same everywhere.

use std::fs::File;
use std::io;
use std::path::Path;

/// The temp file holding every stored byte of the log, gone from its
/// directory however the process ends.
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
    /// Why the write stopped short (disk full, file-size limit, I/O error...).
    pub error: Option<io::Error>,
}

impl LogFile {
    /// Creates the file in `dir` with `tempfile::tempfile_in`, so nothing is
    /// left behind however the process ends, a hard kill included: on Unix
    /// it is unlinked at once; on Windows it is opened delete-on-close
    /// (`FILE_FLAG_DELETE_ON_CLOSE`), so the system deletes it when the
    /// process's last handle closes, which it does for a killed process too.
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
            match os::write_at(&self.file, &buf[bytes..], pos + bytes as u64) {
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
    pub fn read_exact_at(&self, mut buf: &mut [u8], mut pos: u64) -> io::Result<()> {
        while !buf.is_empty() {
            match os::read_at(&self.file, buf, pos) {
                Ok(0) => {
                    return Err(io::Error::new(
                        io::ErrorKind::UnexpectedEof,
                        "the temp file is shorter than the bytes stored in it",
                    ));
                }
                Ok(n) => {
                    buf = &mut buf[n..];
                    pos += n as u64;
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    /// Reads into `buf` from `pos` as much as the page cache holds, without
    /// blocking, in bytes. Stops at the first byte that would need the disk;
    /// returns 0 where the platform, kernel or filesystem cannot read without
    /// blocking (everywhere but Linux; `EOPNOTSUPP`), so the caller reads the
    /// rest with [`LogFile::read_exact_at`].
    pub fn read_cached_at(&self, buf: &mut [u8], pos: u64) -> usize {
        os::read_cached_at(&self.file, buf, pos)
    }
}

/// Unix: `pwrite`/`pread` (`std::os::unix::fs::FileExt`).
#[cfg(unix)]
mod os {
    use std::fs::File;
    use std::io;
    use std::os::unix::fs::FileExt;

    pub(super) fn write_at(file: &File, buf: &[u8], pos: u64) -> io::Result<usize> {
        file.write_at(buf, pos)
    }

    pub(super) fn read_at(file: &File, buf: &mut [u8], pos: u64) -> io::Result<usize> {
        file.read_at(buf, pos)
    }

    /// Linux: `preadv2` with `RWF_NOWAIT` reads what the page cache holds.
    #[cfg(target_os = "linux")]
    pub(super) fn read_cached_at(file: &File, buf: &mut [u8], pos: u64) -> usize {
        let mut done = 0;
        while done < buf.len() {
            let mut slices = [io::IoSliceMut::new(&mut buf[done..])];
            match rustix::io::preadv2(
                file,
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

    /// Other Unix systems have no non-blocking file read: every read goes to
    /// the blocking pool.
    #[cfg(not(target_os = "linux"))]
    pub(super) fn read_cached_at(_file: &File, _buf: &mut [u8], _pos: u64) -> usize {
        0
    }
}

/// Windows: `seek_write`/`seek_read` (`std::os::windows::fs::FileExt`),
/// `WriteFile`/`ReadFile` at an offset. They also move the handle's file
/// pointer, which nothing here uses.
#[cfg(windows)]
mod os {
    use std::fs::File;
    use std::io;
    use std::os::windows::fs::FileExt;

    pub(super) fn write_at(file: &File, buf: &[u8], pos: u64) -> io::Result<usize> {
        file.seek_write(buf, pos)
    }

    pub(super) fn read_at(file: &File, buf: &mut [u8], pos: u64) -> io::Result<usize> {
        match file.seek_read(buf, pos) {
            // Reading at or past the end of a file opened for synchronous
            // I/O answers ERROR_HANDLE_EOF (38): that is the end, not an
            // error.
            Err(e) if e.raw_os_error() == Some(38) => Ok(0),
            other => other,
        }
    }

    /// Windows has no read that stops short of the disk: every read goes to
    /// the blocking pool.
    pub(super) fn read_cached_at(_file: &File, _buf: &mut [u8], _pos: u64) -> usize {
        0
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
