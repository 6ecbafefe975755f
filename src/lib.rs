//! livelog: stream one growing log, uploaded once over loopback, to any number
//! of token-checked HTTP(S) readers, live.
//!
//! A drop-in for the Taskcluster Go livelog (same environment variables,
//! ports and URLs), built so that a slow reader never costs the writer or
//! another reader, and never loses data.
//!
//! Modules, one responsibility each:
//! * [`config`] — the environment, typed and checked;
//! * [`store`] — the log itself (temp file, ring of recent chunks, notifier);
//! * [`upload`] — `PUT /log`;
//! * [`reader`] — `GET`/`HEAD /log/<token>`;
//! * [`ranges`] — RFC 9110 / RFC 8673 byte ranges of a live log;
//! * [`tls`] — HTTPS for the reader port;
//! * [`server`] — listeners, connections, timeouts;
//! * [`shutdown`] — signals;
//! * [`stall`] — the stall timeout for each HTTP/2 stream;
//! * [`logging`] — the subscriber and the per-request line.
//!
//! [`run`] is what the binary calls; [`Server`] lets tests and embedders bind
//! first, learn the addresses, and serve until a future of their choosing.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod config;
pub mod logging;
pub mod ranges;
pub mod reader;
pub mod server;
pub mod shutdown;
pub mod stall;
pub mod store;
pub mod tls;
pub mod upload;

use std::fmt;
use std::future::Future;
use std::io;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::{mpsc, watch};
use tokio_rustls::TlsAcceptor;

use crate::config::{Config, ConfigError};
use crate::reader::Readers;
use crate::server::{Listener, Shared};
use crate::shutdown::Signals;
use crate::store::{LogStore, StoreLimits};
use crate::tls::TlsError;

/// The crate version (`Cargo.toml`), printed by `livelog --version`.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// How long readers get, after SIGTERM/SIGINT, to finish their responses
/// (a complete log drains; a live one ends incomplete when this runs out).
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// Runs livelog until SIGTERM or SIGINT, then shuts down gracefully.
///
/// # Errors
/// [`StartupError`] if it cannot start: every variant's message is one line
/// naming the variable, file or port at fault.
pub async fn run(config: Config) -> Result<(), StartupError> {
    let mut signals = Signals::register().map_err(StartupError::Signals)?;
    let server = Server::bind(config).await?;
    server
        .serve(async move {
            let name = signals.recv().await;
            tracing::info!("{name} received: shutting down");
        })
        .await
}

/// Binds a non-blocking std listener (with `SO_REUSEADDR`, as tokio does),
/// for a runtime other than the current one to serve.
fn bind_std(addr: SocketAddr) -> io::Result<std::net::TcpListener> {
    let socket = if addr.is_ipv4() {
        tokio::net::TcpSocket::new_v4()?
    } else {
        tokio::net::TcpSocket::new_v6()?
    };
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    let listener = socket.listen(1024)?;
    listener.into_std()
}

/// A bound (but not yet serving) livelog: both listeners are open and the
/// temp file exists.
pub struct Server {
    /// A std listener: it is registered with the upload thread's own runtime
    /// when serving starts (see [`Server::serve`]).
    upload: std::net::TcpListener,
    reader: TcpListener,
    upload_addr: SocketAddr,
    reader_addr: SocketAddr,
    shared: Arc<Shared>,
}

impl Server {
    /// Checks the configuration against the machine: loads the TLS files,
    /// creates the unlinked temp file, binds both ports, and raises the soft
    /// open-files limit to the hard one (thousands of readers need thousands
    /// of descriptors; Go programs do the same at startup).
    ///
    /// # Errors
    /// [`StartupError`] naming the file, directory or port at fault.
    pub async fn bind(config: Config) -> Result<Server, StartupError> {
        match rlimit::increase_nofile_limit(u64::MAX) {
            Ok(limit) => tracing::debug!(limit, "open-files limit raised to the hard limit"),
            Err(err) => tracing::warn!("cannot raise the open-files limit: {err}"),
        }

        let tls = config
            .tls
            .as_ref()
            .map(tls::load)
            .transpose()
            .map_err(StartupError::Tls)?
            .map(TlsAcceptor::from);

        let store = LogStore::create_in(
            &config.temp_dir,
            StoreLimits::from_ring_bytes(config.ring_bytes),
        )
        .map_err(|source| StartupError::TempDir {
            dir: config.temp_dir.clone(),
            source,
        })?;

        let upload_addr = SocketAddr::new(config.put_host, config.put_port);
        let upload = bind_std(upload_addr).map_err(|source| StartupError::Bind {
            listener: Listener::Upload,
            variable: "LIVELOG_PUT_PORT",
            addr: upload_addr,
            source,
        })?;
        let reader_addr = SocketAddr::new(IpAddr::V4(Ipv4Addr::UNSPECIFIED), config.get_port);
        let reader = TcpListener::bind(reader_addr)
            .await
            .map_err(|source| StartupError::Bind {
                listener: Listener::Reader,
                variable: "LIVELOG_GET_PORT",
                addr: reader_addr,
                source,
            })?;
        if !config.put_host.is_loopback() {
            tracing::warn!(
                put_host = %config.put_host,
                "the upload port is bound to a non-loopback address: anyone who can reach it can write the log"
            );
        }

        let upload_addr = upload.local_addr().unwrap_or(upload_addr);
        let reader_addr = reader.local_addr().unwrap_or(reader_addr);
        let shared = Arc::new(Shared {
            readers: Readers::new(store.clone(), &config.access_token, config.max_readers),
            store,
            tls,
            header_timeout: config.header_timeout,
            stall_timeout: config.stall_timeout,
        });
        Ok(Server {
            upload,
            reader,
            upload_addr,
            reader_addr,
            shared,
        })
    }

    /// The upload listener's address.
    pub fn upload_addr(&self) -> SocketAddr {
        self.upload_addr
    }

    /// The reader listener's address.
    pub fn reader_addr(&self) -> SocketAddr {
        self.reader_addr
    }

    /// Serves both listeners until `shutdown` resolves; then stops accepting
    /// and gives open connections [`SHUTDOWN_GRACE`] to finish.
    ///
    /// The upload is served on a thread of its own, with its own
    /// single-threaded runtime: the runtime's workers may be busy writing to
    /// thousands of readers, and a task queued behind them would wait for
    /// every one of those writes before receiving the next chunk. On its own
    /// thread the upload is polled as soon as its bytes arrive; readers can
    /// share the CPU with it, but never hold its place in a queue.
    ///
    /// # Errors
    /// [`StartupError::Thread`] if the upload thread cannot be started.
    pub async fn serve(self, shutdown: impl Future<Output = ()>) -> Result<(), StartupError> {
        let tls = self.shared.tls.is_some();
        tracing::info!(
            put = %self.upload_addr,
            get = %self.reader_addr,
            tls = %if tls { "on" } else { "off" },
            "livelog ready: upload with PUT http://{}/log, read with GET {}://{}/log/<ACCESS_TOKEN>",
            self.upload_addr,
            if tls { "https" } else { "http" },
            self.reader_addr,
        );

        let (stop, stopped) = watch::channel(false);
        let (alive, mut all_gone) = mpsc::channel::<()>(1);
        // Flipped when `serve` returns: the upload thread then drops its
        // runtime, and with it any upload still running.
        let (done, mut upload_thread_done) = watch::channel(false);
        let upload_task = server::accept_loop_std(
            self.upload,
            Listener::Upload,
            Arc::clone(&self.shared),
            stopped.clone(),
            alive.clone(),
        );
        std::thread::Builder::new()
            .name("livelog-upload".into())
            .spawn(move || {
                let runtime = match tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                {
                    Ok(runtime) => runtime,
                    Err(err) => {
                        tracing::error!("cannot start the upload runtime: {err}");
                        return;
                    }
                };
                runtime.block_on(async move {
                    tokio::spawn(upload_task);
                    let _ = upload_thread_done.wait_for(|done| *done).await;
                });
            })
            .map_err(StartupError::Thread)?;
        tokio::spawn(server::accept_loop(
            self.reader,
            Listener::Reader,
            Arc::clone(&self.shared),
            stopped,
            alive,
        ));

        shutdown.await;
        let _ = stop.send(true);
        // `recv` returns `None` once every accept loop and connection task
        // has dropped its sender.
        if tokio::time::timeout(SHUTDOWN_GRACE, all_gone.recv())
            .await
            .is_err()
        {
            tracing::warn!(
                "connections still open after {}s; closing them",
                SHUTDOWN_GRACE.as_secs()
            );
        }
        tracing::info!(stored = self.shared.store.progress().len, "livelog stopped");
        let _ = done.send(true);
        Ok(())
    }
}

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
        /// Which listener.
        listener: Listener,
        /// The variable that sets its port.
        variable: &'static str,
        /// The address it tried.
        addr: SocketAddr,
        /// Why.
        source: io::Error,
    },
    /// Signal handlers cannot be installed.
    Signals(io::Error),
    /// The upload thread cannot be started.
    Thread(io::Error),
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
            StartupError::Bind {
                listener,
                variable,
                addr,
                source,
            } => write!(
                f,
                "cannot listen on port {} ({addr}) for the {listener} listener ({variable}): {source}",
                addr.port()
            ),
            StartupError::Signals(e) => write!(f, "cannot install signal handlers: {e}"),
            StartupError::Thread(e) => write!(f, "cannot start the upload thread: {e}"),
        }
    }
}

impl std::error::Error for StartupError {}

impl From<ConfigError> for StartupError {
    fn from(e: ConfigError) -> Self {
        StartupError::Config(e)
    }
}
