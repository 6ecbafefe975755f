//! Process signals: the requests to stop that start a graceful shutdown.
//!
//! * Unix: SIGTERM and SIGINT. SIGXFSZ is caught (and so ignored) so that a
//!   file-size limit (`ulimit -f`) surfaces as an `EFBIG` write error on the
//!   upload instead of killing the daemon.
//! * Windows: Ctrl-C, Ctrl-Break and the console closing
//!   (`tokio::signal::windows`). On a console close, Windows ends the
//!   process a few seconds later whatever it is doing (tokio holds the
//!   system's handler until then), so the shutdown gets at most that.
//!
//! A hard kill (SIGKILL, `TerminateProcess`) cannot be caught anywhere;
//! nothing depends on it being caught (see `store::file` for the temp file).

pub use os::Signals;

#[cfg(unix)]
mod os {
    use std::io;

    use tokio::signal::unix::{Signal, SignalKind, signal};

    /// The shutdown signals, registered up front so that one arriving right
    /// after startup is not missed (before registration it would kill the
    /// process with the default action).
    pub struct Signals {
        term: Signal,
        int: Signal,
        // Registering a handler replaces SIGXFSZ's default action
        // (terminate); tokio keeps the handler installed for the life of the
        // process, and nothing ever reads this stream.
        _xfsz: Signal,
    }

    impl Signals {
        /// Registers the handlers.
        ///
        /// # Errors
        /// The I/O error from registering a handler.
        pub fn register() -> io::Result<Self> {
            Ok(Signals {
                term: signal(SignalKind::terminate())?,
                int: signal(SignalKind::interrupt())?,
                _xfsz: signal(SignalKind::from_raw(libc::SIGXFSZ))?,
            })
        }

        /// Resolves with the signal's name when SIGTERM or SIGINT arrives.
        pub async fn recv(&mut self) -> &'static str {
            tokio::select! {
                _ = self.term.recv() => "SIGTERM",
                _ = self.int.recv() => "SIGINT",
            }
        }
    }
}

#[cfg(windows)]
mod os {
    use std::io;

    use tokio::signal::windows::{CtrlBreak, CtrlC, CtrlClose, ctrl_break, ctrl_c, ctrl_close};

    /// The console's stop events, registered up front so that one arriving
    /// right after startup is not missed (before registration the default
    /// handler would end the process at once).
    pub struct Signals {
        c: CtrlC,
        brk: CtrlBreak,
        close: CtrlClose,
    }

    impl Signals {
        /// Registers the handlers.
        ///
        /// # Errors
        /// The I/O error from registering a handler.
        pub fn register() -> io::Result<Self> {
            Ok(Signals {
                c: ctrl_c()?,
                brk: ctrl_break()?,
                close: ctrl_close()?,
            })
        }

        /// Resolves with the event's name when Ctrl-C, Ctrl-Break or a
        /// console close arrives.
        pub async fn recv(&mut self) -> &'static str {
            tokio::select! {
                _ = self.c.recv() => "Ctrl-C",
                _ = self.brk.recv() => "Ctrl-Break",
                _ = self.close.recv() => "console close",
            }
        }
    }
}
