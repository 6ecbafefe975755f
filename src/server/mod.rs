//! Sockets, TLS, protocols and the daemon's lifecycle: bind everything,
//! serve until told to stop, then shut down gracefully.
//!
//! * `listen.rs` — binding the listening sockets, IPv4 and IPv6;
//! * `ready.rs` — the ready line, and `LIVELOG_READY_FILE`;
//! * `accept.rs` — each port's accept loop and connection cap;
//! * `limits.rs` — the open-files limit;
//! * `conn.rs` — one connection: HTTP/1.1, TLS, HTTP/2, timeouts;
//! * `services.rs` — the hyper services a connection hands requests to;
//! * `h1_io.rs` — what an HTTP/1.1 connection's I/O adds to hyper's;
//! * `stall.rs` — the stall timeout for each HTTP/2 stream;
//! * [`tls`] — loading the certificate and key.
//!
//! What a request gets is `crate::http`'s business; this module only carries
//! requests to it and responses back.

mod accept;
mod conn;
mod context;
mod h1_io;
mod limits;
mod listen;
mod ready;
mod services;
mod stall;
pub mod tls;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use hyper_util::server::graceful::GracefulShutdown;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio_rustls::TlsAcceptor;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

pub use conn::{H2_MAX_CONCURRENT_STREAMS, H2_MAX_HEADER_LIST_BYTES};
pub use h1_io::MAX_HEAD_BYTES;

use self::accept::{UPLOAD_MAX_CONNECTIONS, accept_loop};
use self::context::ConnContext;
use self::listen::Listeners;
use self::ready::{Ready, ReadyFile};
use crate::config::{Config, Port};
use crate::error::StartupError;
use crate::http::observe::{Limits, Observer};
use crate::http::reader::ReadHandler;
use crate::http::upload::UploadHandler;
use crate::index::LogIndex;
use crate::metrics::Metrics;
use crate::runtime_thread::{OwnRuntime, RuntimeThread};
use crate::signals::Signals;
use crate::store::{Encodings, LogStore, Phase, StoreLimits};

/// How long connections get, after SIGTERM/SIGINT, to finish their
/// responses: a complete log drains, an upload in progress may finish; a
/// live log's readers still open when it runs out end incomplete.
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

/// A bound (but not yet serving) livelog: the temp file exists and both
/// ports are bound.
pub struct Server {
    upload: UploadListener,
    readers: Vec<TcpListener>,
    /// Where the reader port listens, the ready line's first address first.
    reader_addrs: Vec<SocketAddr>,
    max_connections: usize,
    /// `LIVELOG_READY_FILE`.
    ready_file: Option<std::path::PathBuf>,
    store: LogStore,
    /// The line index and outline, whose indexer `serve` starts.
    index: Option<LogIndex>,
    ctx: Arc<ConnContext>,
}

/// The upload port, bound and waiting to be served on a thread of its own,
/// by a runtime of its own.
///
/// The main runtime's workers may be busy writing to thousands of readers,
/// and a task queued behind them would wait for every one of those writes
/// before receiving the next chunk. On its own thread the upload is polled as
/// soon as its bytes arrive; readers share the CPU with it, but never hold
/// its place in a queue.
struct UploadListener {
    /// Not registered with any runtime yet: the upload's runtime does it.
    listeners: Listeners,
    /// Where the upload port listens, the ready line's first address first.
    addrs: Vec<SocketAddr>,
}

impl Server {
    /// Checks the configuration against the machine: raises the open-files
    /// limit, loads the TLS files, creates the temp file and binds both
    /// ports. Everything that can fail at startup fails here.
    ///
    /// # Errors
    /// [`StartupError`] naming the file, directory or port at fault.
    pub async fn bind(config: Config) -> Result<Server, StartupError> {
        // `Config`'s `Debug` leaves the token out.
        tracing::debug!(?config, "starting");
        limits::raise_open_files_limit();

        let tls = config
            .tls
            .as_ref()
            .map(tls::load)
            .transpose()
            .map_err(StartupError::Tls)?
            .map(TlsAcceptor::from);

        let metrics = Arc::new(Metrics::new());
        // The log and its compressed copies (empty until a reader asks for
        // one): every temp file exists before livelog reports ready.
        let temp_dir_error = |source| StartupError::TempDir {
            dir: config.temp_dir.clone(),
            source,
        };
        let store = LogStore::create_in(
            &config.temp_dir,
            StoreLimits::from_ring_bytes(config.ring_bytes),
            metrics.store.clone(),
        )
        .map_err(temp_dir_error)?;
        let encodings = Encodings::create_in(&store, &config.temp_dir, config.ring_bytes)
            .map_err(temp_dir_error)?;
        let index = config
            .line_index
            .then(|| LogIndex::create_in(&store, &config.temp_dir))
            .transpose()
            .map_err(temp_dir_error)?;

        let upload = UploadListener::bind(config.put_host, config.put_port)?;
        let readers = listen::bind_port(Port::Reader, config.get_host, config.get_port)?;
        let reader_addrs = readers.addrs();
        let readers = readers.register(Port::Reader)?;
        if let Some(put_host) = config.put_host.filter(|h| !h.is_loopback()) {
            tracing::warn!(
                put_host = %put_host,
                "the upload port is bound to a non-loopback address: anyone who can reach it can write the log"
            );
        }

        let logs = Logs {
            store: store.clone(),
            encodings,
            index: index.clone(),
        };
        let ctx = Arc::new(connection_context(&config, logs, metrics, tls));
        Ok(Server {
            upload,
            reader_addrs,
            readers,
            max_connections: config.max_connections,
            ready_file: config.ready_file.clone(),
            store,
            index,
            ctx,
        })
    }

    /// Where the upload port listens, the first address first (127.0.0.1,
    /// then ::1, by default): the bound ports, also when 0 was asked for.
    pub fn upload_addrs(&self) -> &[SocketAddr] {
        &self.upload.addrs
    }

    /// Where the reader port listens, the first address first (`[::]`,
    /// taking IPv4 too, by default).
    pub fn reader_addrs(&self) -> &[SocketAddr] {
        &self.reader_addrs
    }

    /// Serves both ports until `shutdown` resolves; then stops accepting and
    /// gives open connections [`SHUTDOWN_GRACE`] to finish. Returns sooner
    /// when nothing is left to wait for: no upload in progress, and every
    /// reader sent all there is.
    ///
    /// # Errors
    /// [`StartupError::Thread`] if the upload's thread or runtime cannot
    /// start, [`StartupError::ReadyFile`] if `LIVELOG_READY_FILE` cannot be
    /// written (both before livelog reports ready).
    pub async fn serve(self, shutdown: impl Future<Output = ()>) -> Result<(), StartupError> {
        let Server {
            upload,
            readers,
            reader_addrs,
            max_connections,
            ready_file,
            store,
            index,
            ctx,
        } = self;
        let graceful = Arc::new(GracefulShutdown::new());
        let upload_addrs = upload.addrs.clone();
        let indexer = index
            .map(|index| index.start(tracing::Span::current()))
            .transpose()
            .map_err(|err| StartupError::Thread("line index", err))?;
        let upload_thread = upload.start(Arc::clone(&ctx), Arc::clone(&graceful))?;
        let ready = Ready {
            put_port: upload_addrs.first().map_or(0, SocketAddr::port),
            get_port: reader_addrs.first().map_or(0, SocketAddr::port),
            put_addrs: &upload_addrs,
            get_addrs: &reader_addrs,
            tls: ctx.tls.is_some(),
            pid: std::process::id(),
            version: crate::VERSION,
        };
        // Both ports listen (since `bind`): say so, in the file first, so
        // that a worker waiting for the file never misses the ports.
        let _ready_file = match ready_file {
            Some(path) => match ready.write_to(&path) {
                Ok(()) => Some(ReadyFile(path)),
                Err(source) => {
                    upload_thread.thread.stop().await;
                    return Err(StartupError::ReadyFile { path, source });
                }
            },
            None => None,
        };
        let readers = tokio::spawn(
            accept_loop(
                readers,
                Port::Reader,
                max_connections,
                Arc::clone(&ctx),
                Arc::clone(&graceful),
            )
            .in_current_span(),
        );
        ready.log();

        shutdown.await;
        // Stop accepting; connections that have not sent a request give up.
        ctx.stopping.cancel();
        let _ = readers.await;
        let _ = upload_thread.accepting.await;
        // No upload can start now: readers waiting for one end.
        if store.close_if_awaiting() == Phase::Broken {
            tracing::debug!("no upload in progress: readers at the end of the log end now");
        }
        // Finish the responses in flight, within the grace.
        match Arc::into_inner(graceful) {
            Some(graceful) => {
                if tokio::time::timeout(SHUTDOWN_GRACE, graceful.shutdown())
                    .await
                    .is_err()
                {
                    tracing::warn!(
                        "connections still open after {}s; closing them",
                        SHUTDOWN_GRACE.as_secs()
                    );
                }
            }
            None => tracing::warn!("connections are still being accepted; closing them"),
        }
        upload_thread.thread.stop().await;
        ctx.read.stop_compressors().await;
        if let Some(indexer) = indexer {
            indexer.stop().await;
        }
        tracing::info!(stored = store.progress().len, "livelog stopped");
        Ok(())
    }
}

/// The log, its compressed copies and its index: what readers read.
struct Logs {
    store: LogStore,
    encodings: Encodings,
    index: Option<LogIndex>,
}

/// What every connection's service needs: the upload and reader handlers
/// over `logs`, the metrics, TLS, and the timeouts `config` sets.
fn connection_context(
    config: &Config,
    logs: Logs,
    metrics: Arc<Metrics>,
    tls: Option<TlsAcceptor>,
) -> ConnContext {
    let Logs {
        store,
        encodings,
        index,
    } = logs;
    let observer = Observer::new(
        store.clone(),
        Arc::clone(&metrics),
        Limits::of(config),
        tokio::runtime::Handle::current(),
    );
    ConnContext {
        upload: UploadHandler::new(store.clone(), Arc::new(observer), config.progress_every),
        read: ReadHandler::new(store, encodings, index, config, Arc::clone(&metrics)),
        metrics,
        tls,
        header_timeout: config.header_timeout,
        stall_timeout: config.stall_timeout,
        stopping: CancellationToken::new(),
    }
}

impl UploadListener {
    /// Binds the upload port: on `host`, else on loopback (both families).
    fn bind(host: Option<std::net::IpAddr>, port: u16) -> Result<Self, StartupError> {
        let listeners = listen::bind_port(Port::Upload, host, port)?;
        Ok(UploadListener {
            addrs: listeners.addrs(),
            listeners,
        })
    }

    /// Starts the upload's thread and runtime, accepting until
    /// `ctx.stopping`, then serving what it accepted until stopped.
    fn start(
        self,
        ctx: Arc<ConnContext>,
        graceful: Arc<GracefulShutdown>,
    ) -> Result<UploadThread, StartupError> {
        let thread_error = |err| StartupError::Thread("upload", err);
        let runtime =
            OwnRuntime::new("livelog-upload", tracing::Span::current()).map_err(thread_error)?;
        let listeners = {
            let _on_upload_runtime = runtime.enter();
            self.listeners.register(Port::Upload)?
        };
        let (accepted, accepting) = oneshot::channel();
        let main = async move {
            accept_loop(
                listeners,
                Port::Upload,
                UPLOAD_MAX_CONNECTIONS,
                ctx,
                graceful,
            )
            .await;
            let _ = accepted.send(());
            // Serves what it accepted until stopped; dropping the runtime
            // then drops any upload still open, which marks the log broken.
            std::future::pending::<()>().await;
        };
        let thread = runtime.run(main).map_err(thread_error)?;
        Ok(UploadThread { accepting, thread })
    }
}

/// The running upload thread.
struct UploadThread {
    /// Resolves once the accept loop ended (`ConnContext::stopping`).
    accepting: oneshot::Receiver<()>,
    thread: RuntimeThread,
}
