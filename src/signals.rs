//! Process signals: SIGTERM/SIGINT start a graceful shutdown; SIGXFSZ is
//! caught (and so ignored) so that a file-size limit (`ulimit -f`) surfaces as
//! an `EFBIG` write error on the upload instead of killing the daemon.

use std::io;

use tokio::signal::unix::{Signal, SignalKind, signal};

/// The shutdown signals, registered up front so that one arriving right
/// after startup is not missed (before registration it would kill the
/// process with the default action).
pub struct Signals {
    term: Signal,
    int: Signal,
    // Registering a handler replaces SIGXFSZ's default action (terminate);
    // tokio keeps the handler installed for the life of the process, and
    // nothing ever reads this stream.
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
