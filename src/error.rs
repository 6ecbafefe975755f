//! Why livelog could not start: [`StartupError`], whose exit code follows
//! the Go livelog's, and [`Chain`], the one line `main` prints for it.
//!
//! Errors keep their cause, as hyper's and std's do: `Display` says what
//! failed, `source()` says why, and [`Chain`] joins the two into one line
//! for people ("cannot listen on port 60022 (...): the port is in use:
//! Address already in use (os error 98)").

use std::error::Error;
use std::fmt;
use std::io;
use std::net::SocketAddr;
use std::path::PathBuf;

use crate::config::{ConfigError, Port};

/// An error from a cause not of livelog's making (a PEM parser's, rustls's),
/// kept as the cause of livelog's own error.
pub type BoxError = Box<dyn Error + Send + Sync>;

/// Why livelog could not start. [`Chain`] gives one line naming the culprit
/// and the cause.
#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    /// A bad environment variable.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// A certificate or key file that cannot be used.
    #[error(transparent)]
    Tls(#[from] TlsError),
    /// The temp file cannot be created in the directory.
    #[error("LIVELOG_TEMP_DIR {}: cannot create the temp file there", dir.display())]
    TempDir {
        /// `LIVELOG_TEMP_DIR` or the system temp dir.
        dir: PathBuf,
        /// Why.
        source: io::Error,
    },
    /// A listener cannot bind its port.
    #[error(
        "cannot listen on port {} ({addr}) for the {port} listener ({}){}",
        addr.port(),
        port.variable(),
        bind_hint(source)
    )]
    Bind {
        /// Which port.
        port: Port,
        /// The address it tried.
        addr: SocketAddr,
        /// Why.
        source: io::Error,
    },
    /// Signal handlers cannot be installed.
    #[error("cannot install signal handlers")]
    Signals(#[source] io::Error),
    /// `LIVELOG_READY_FILE` cannot be written.
    #[error("LIVELOG_READY_FILE {}: cannot write the ready file", path.display())]
    ReadyFile {
        /// The file.
        path: PathBuf,
        /// Why.
        source: io::Error,
    },
    /// A thread of livelog's own (the upload's) cannot be started.
    #[error("cannot start the {0} thread")]
    Thread(&'static str, #[source] io::Error),
}

/// A bind error said in words too: some systems' own text for these is
/// cryptic ("Cannot assign requested address") or missing.
fn bind_hint(source: &io::Error) -> &'static str {
    match source.kind() {
        io::ErrorKind::AddrInUse => ": the port is in use",
        io::ErrorKind::AddrNotAvailable => ": no such address on this host",
        _ => "",
    }
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

/// A certificate or key that could not be used; names the file and variable.
#[derive(Debug, thiserror::Error)]
#[error("{variable} {}: {reason}", path.display())]
pub struct TlsError {
    /// The variable the file came from (`SERVER_CRT_FILE` / `SERVER_KEY_FILE`).
    pub variable: &'static str,
    /// The file.
    pub path: PathBuf,
    /// What is wrong with it, in a few words.
    pub reason: String,
    /// The parser's or TLS library's own error, if there is one.
    #[source]
    pub source: Option<BoxError>,
}

/// An error and its causes on one line, joined by `": "` (`{:#}` in
/// `anyhow`'s terms): what logs and `main` print.
pub struct Chain<'a>(pub &'a (dyn Error + 'static));

impl fmt::Display for Chain<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)?;
        let mut cause = self.0.source();
        while let Some(err) = cause {
            write!(f, ": {err}")?;
            cause = err.source();
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_chain_names_the_culprit_and_the_cause() {
        let err = StartupError::Bind {
            port: Port::Upload,
            addr: "127.0.0.1:60022".parse().unwrap(),
            source: io::Error::new(io::ErrorKind::AddrInUse, "Address already in use"),
        };
        assert!(err.source().is_some());
        assert_eq!(
            Chain(&err).to_string(),
            "cannot listen on port 60022 (127.0.0.1:60022) for the upload listener \
             (LIVELOG_PUT_PORT): the port is in use: Address already in use"
        );
    }
}
