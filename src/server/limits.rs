//! The process's open-files limit, where the platform has one.

/// Raises the soft open-files limit to the hard one: thousands of readers
/// need thousands of descriptors, and the soft limit is often 1024 (Go
/// programs do the same at startup). `rlimit` knows each Unix's ceiling
/// (macOS caps it at `kern.maxfilesperproc`). A failure is logged, not fatal:
/// livelog then serves as many readers as the limit allows.
#[cfg(unix)]
pub(super) fn raise_open_files_limit() {
    match rlimit::increase_nofile_limit(u64::MAX) {
        Ok(limit) => tracing::debug!(limit, "open-files limit raised to the hard limit"),
        Err(err) => tracing::warn!("cannot raise the open-files limit: {err}"),
    }
}

/// Windows has no per-process limit on sockets and file handles to raise
/// (the C runtime's `_setmaxstdio` limit is for C `FILE` streams, which
/// livelog does not use).
#[cfg(not(unix))]
pub(super) fn raise_open_files_limit() {}
