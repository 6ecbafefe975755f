//! Why livelog could not start: [`StartupError`], whose `Display` is the one
//! line `main` prints and whose exit code follows the Go livelog's.

use std::fmt;
use std::io;
use std::net::SocketAddr;
use std::path::PathBuf;

use crate::config::{ConfigError, Port};

/// Why livelog could not start. `Display` gives one line naming the culprit.
#[derive(Debug)]
pub enum StartupError {
    /// A bad environment variable.
    Config(ConfigError),
    /// A certificate or key file that cannot be used.
    Tls(TlsError),
    /// The temp file cannot be created in the directory.
    TempDir {
        /// `LIVELOG_TEMP_DIR` or the system temp dir.
        dir: PathBuf,
        /// Why.
        source: io::Error,
    },
    /// A listener cannot bind its port.
    Bind {
        /// Which port.
        port: Port,
        /// The address it tried.
        addr: SocketAddr,
        /// Why.
        source: io::Error,
    },
    /// Signal handlers cannot be installed.
    Signals(io::Error),
    /// The upload's runtime or thread cannot be started.
    UploadThread(io::Error),
}

impl StartupError {
    /// The process exit code: the configuration's own code for a bad
    /// variable (64–67 for ports, as in the Go livelog), else 1.
    pub fn exit_code(&self) -> i32 {
        match self {
            StartupError::Config(e) => e.exit_code,
            _ => 1,
        }
    }
}

impl fmt::Display for StartupError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StartupError::Config(e) => e.fmt(f),
            StartupError::Tls(e) => e.fmt(f),
            StartupError::TempDir { dir, source } => write!(
                f,
                "LIVELOG_TEMP_DIR {}: cannot create the temp file there: {source}",
                dir.display()
            ),
            StartupError::Bind { port, addr, source } => {
                // Said in words too: some systems' own text for these is
                // cryptic ("Cannot assign requested address") or missing.
                let what = match source.kind() {
                    io::ErrorKind::AddrInUse => "the port is in use: ",
                    io::ErrorKind::AddrNotAvailable => "no such address on this host: ",
                    _ => "",
                };
                write!(
                    f,
                    "cannot listen on port {} ({addr}) for the {port} listener ({}): {what}{source}",
                    addr.port(),
                    port.variable()
                )
            }
            StartupError::Signals(e) => write!(f, "cannot install signal handlers: {e}"),
            StartupError::UploadThread(e) => {
                write!(f, "cannot start the upload listener's thread: {e}")
            }
        }
    }
}

impl std::error::Error for StartupError {}

impl From<ConfigError> for StartupError {
    fn from(e: ConfigError) -> Self {
        StartupError::Config(e)
    }
}

/// A certificate or key that could not be used; names the file and variable.
#[derive(Debug)]
pub struct TlsError {
    /// The variable the file came from (`SERVER_CRT_FILE` / `SERVER_KEY_FILE`).
    pub variable: &'static str,
    /// The file.
    pub path: PathBuf,
    /// What is wrong with it, in one line.
    pub reason: String,
}

impl fmt::Display for TlsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {}: {}",
            self.variable,
            self.path.display(),
            self.reason
        )
    }
}

impl std::error::Error for TlsError {}
