//! Lowering a thread's CPU priority, for the threads whose work may wait:
//! the indexer's (`index/indexer.rs`) and the scan threads that run
//! searches (`http/reader/scans.rs`). When the CPU is short, the upload,
//! the readers and the CI task beside livelog go first; these catch up
//! when they are left time.
//!
//! What "lowest" means differs by platform, and each choice keeps the
//! thread able to run soon when it holds a lock the upload also takes (the
//! ring's, the progress channel's):
//!
//! * **Linux**: nice 19, the calling thread's own (setpriority(2) takes a
//!   thread id there; lowering one's own priority needs no privilege). Not
//!   `SCHED_IDLE`: a thread of that policy, preempted while it holds such
//!   a lock on a machine the CI task keeps busy, may wait seconds for a CPU
//!   while the upload waits for it; at nice 19 the wait is a fraction of
//!   that. Nor did `SCHED_IDLE` make the live line measurably faster while
//!   searches ran (`docs/performance.md`, searches while the log is live).
//! * **Windows**: `THREAD_PRIORITY_LOWEST`, two steps below normal, and
//!   not `THREAD_PRIORITY_IDLE`, for the same reason (SetThreadPriority).
//! * **macOS**: the lowest priority of the thread's policy (`SCHED_OTHER`),
//!   set with pthread_setschedparam, which is per thread.
//! * **Elsewhere** (FreeBSD and the rest): the default. setpriority(2)
//!   there would lower the whole process, the upload and the readers with
//!   it.
//!
//! The library calls are the `thread-priority` crate's on Windows and
//! macOS, `rustix`'s on Linux: livelog itself has no unsafe code.

/// The nice value of a lowered thread on Linux: the largest, the smallest
/// share of a busy CPU.
#[cfg(target_os = "linux")]
pub const LOWERED_NICE: i32 = 19;

/// Lowers the calling thread's CPU priority as the module documentation
/// says for this platform. `what` names the thread in the debug line
/// logged if the platform refuses (the thread then keeps its priority:
/// livelog works the same, only less politely).
pub fn lower_this_thread(what: &str) {
    if let Err(err) = lower() {
        tracing::debug!("{what} keeps its priority: {err}");
    }
}

#[cfg(target_os = "linux")]
fn lower() -> Result<(), String> {
    let thread = rustix::thread::gettid();
    rustix::process::setpriority_process(Some(thread), LOWERED_NICE).map_err(|e| e.to_string())
}

#[cfg(any(windows, target_os = "macos"))]
fn lower() -> Result<(), String> {
    // `Min` is THREAD_PRIORITY_LOWEST on Windows and the policy's minimum
    // on macOS (the crate's mapping).
    thread_priority::set_current_thread_priority(thread_priority::ThreadPriority::Min)
        .map_err(|e| e.to_string())
}

#[cfg(not(any(target_os = "linux", windows, target_os = "macos")))]
fn lower() -> Result<(), String> {
    Ok(())
}
