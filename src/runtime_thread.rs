//! Threads of livelog's own, each with a current-thread tokio runtime: the
//! upload's (so it is never queued behind the main runtime's readers) and
//! each compressor's (so compressing never occupies a worker that serves
//! readers).
//!
//! A [`RuntimeThread`] is owned by whoever started it and stopped by it:
//! nothing is left running, detached, when livelog stops. Its events carry
//! the span that was current when it was built, so a thread's lines say
//! which livelog they belong to as a task's do.

use std::future::Future;
use std::io;

use tokio::runtime::Runtime;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

/// A current-thread runtime that is built now and runs, on a thread of its
/// own, once [`OwnRuntime::run`] is called. In between, sockets can be
/// registered with it ([`OwnRuntime::enter`]).
pub struct OwnRuntime {
    /// `Some` until it runs.
    runtime: Option<Runtime>,
    name: String,
    span: tracing::Span,
}

impl OwnRuntime {
    /// A runtime for the thread `name`, whose events are in `span` (the
    /// span of what it belongs to, not necessarily the current one: a
    /// compressor is started by a reader, but outlives it).
    ///
    /// # Errors
    /// The I/O error from building the runtime (its I/O driver).
    pub fn new(name: impl Into<String>, span: tracing::Span) -> io::Result<Self> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        Ok(OwnRuntime {
            runtime: Some(runtime),
            name: name.into(),
            span,
        })
    }

    /// Enters the runtime's context on this thread until the guard drops:
    /// sockets made meanwhile are registered with this runtime.
    pub fn enter(&self) -> Option<tokio::runtime::EnterGuard<'_>> {
        self.runtime.as_ref().map(Runtime::enter)
    }

    /// Runs `main` on the runtime's own thread until it completes or
    /// [`RuntimeThread::stop`] is called; the runtime is then dropped on
    /// that thread, with every task it still has.
    ///
    /// # Errors
    /// The I/O error from starting the thread.
    pub fn run<F>(mut self, main: F) -> io::Result<RuntimeThread>
    where
        F: Future<Output = ()> + Send + 'static,
    {
        let stop = CancellationToken::new();
        let stopped = stop.clone();
        let runtime = self.runtime.take();
        let span = self.span.clone();
        let thread = std::thread::Builder::new()
            .name(self.name.clone())
            .spawn(move || {
                let Some(runtime) = runtime else { return };
                let main = async move {
                    tokio::select! {
                        () = main => {}
                        () = stopped.cancelled() => {}
                    }
                };
                runtime.block_on(main.instrument(span));
            })?;
        Ok(RuntimeThread {
            name: std::mem::take(&mut self.name),
            stop,
            thread: Some(thread),
        })
    }
}

impl Drop for OwnRuntime {
    fn drop(&mut self) {
        // Never run (a startup error came first). Dropping a runtime waits
        // for its tasks, which tokio forbids inside another runtime's async
        // context, where this may be: let it go without waiting (it has
        // nothing to wait for).
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}

/// A running [`OwnRuntime`]'s thread. Dropping it tells the thread to stop
/// without waiting for it; [`RuntimeThread::stop`] also waits.
#[derive(Debug)]
pub struct RuntimeThread {
    name: String,
    stop: CancellationToken,
    /// `None` once joined.
    thread: Option<std::thread::JoinHandle<()>>,
}

impl RuntimeThread {
    /// Stops the thread's main future (if it has not completed), drops its
    /// runtime with whatever it still runs, and waits for the thread to end.
    pub async fn stop(mut self) {
        self.stop.cancel();
        let Some(thread) = self.thread.take() else {
            return;
        };
        match tokio::task::spawn_blocking(move || thread.join()).await {
            Ok(Ok(())) => {}
            _ => tracing::error!(thread = %self.name, "a thread of livelog's panicked"),
        }
    }

    /// Whether the thread has ended (its main future completed).
    pub fn is_finished(&self) -> bool {
        self.thread.as_ref().is_none_or(|t| t.is_finished())
    }
}

impl Drop for RuntimeThread {
    fn drop(&mut self) {
        // Whoever owned it is gone (a server future dropped without its
        // graceful stop): nothing may keep running on its behalf.
        self.stop.cancel();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};

    #[tokio::test]
    async fn stop_drops_what_the_thread_still_runs_and_joins_it() {
        struct Flag(Arc<AtomicBool>);
        impl Drop for Flag {
            fn drop(&mut self) {
                self.0.store(true, Ordering::SeqCst);
            }
        }
        let dropped = Arc::new(AtomicBool::new(false));
        let flag = Flag(Arc::clone(&dropped));
        let runtime = OwnRuntime::new("test-thread", tracing::Span::none()).unwrap();
        let thread = runtime
            .run(async move {
                // A task of the runtime, still running when it is stopped.
                tokio::spawn(async move {
                    let _flag = flag;
                    std::future::pending::<()>().await;
                });
                std::future::pending::<()>().await;
            })
            .unwrap();
        assert!(!thread.is_finished());
        thread.stop().await;
        assert!(dropped.load(Ordering::SeqCst), "the task was dropped");
    }

    #[tokio::test]
    async fn an_unrun_runtime_drops_inside_another_runtime() {
        drop(OwnRuntime::new("never-run", tracing::Span::none()).unwrap());
    }
}
