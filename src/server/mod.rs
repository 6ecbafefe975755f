//! Sockets, TLS, protocols and the daemon's lifecycle: bind everything,
//! serve until told to stop, then shut down gracefully.
//!
//! * `listen.rs` — binding the listening sockets;
//! * `accept.rs` — each listener's accept loop and connection cap;
//! * `conn.rs` — one connection: HTTP/1.1, TLS, HTTP/2, timeouts;
//! * `h1_io.rs` — what an HTTP/1.1 connection's I/O adds to hyper's;
//! * `stall.rs` — the stall timeout for each HTTP/2 stream;
//! * [`tls`] — loading the certificate and key.
//!
//! What a request gets is `crate::http`'s business; this module only carries
//! requests to it and responses back.

mod accept;
mod conn;
mod h1_io;
mod listen;
mod stall;
pub mod tls;

use std::future::Future;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use hyper_util::server::graceful::GracefulShutdown;
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;
use tokio_util::sync::CancellationToken;

pub use conn::{H2_MAX_CONCURRENT_STREAMS, H2_MAX_HEADER_LIST_BYTES};
pub use h1_io::MAX_HEAD_BYTES;

use self::accept::{UPLOAD_MAX_CONNECTIONS, accept_loop};
use self::conn::ConnContext;
use crate::config::{Config, Port};
use crate::error::StartupError;
use crate::http::observe::{Limits, Observer};
use crate::http::reader::ReadHandler;
use crate::http::upload::UploadHandler;
use crate::metrics::Metrics;
use crate::signals::Signals;
use crate::store::{LogStore, Phase, StoreLimits};

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
    reader: TcpListener,
    reader_addr: SocketAddr,
    max_connections: usize,
    store: LogStore,
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
    /// Deregistered from the main runtime: the upload's runtime registers it.
    listener: std::net::TcpListener,
    addr: SocketAddr,
}

impl Server {
    /// Checks the configuration against the machine: loads the TLS files,
    /// creates the unlinked temp file, binds both ports, and raises the soft open-files limit to the hard one
    /// (thousands of readers need thousands of descriptors; Go programs do
    /// the same at startup). Everything that can fail at startup fails here.
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

        let metrics = Arc::new(Metrics::new());
        let store = LogStore::create_in(
            &config.temp_dir,
            StoreLimits::from_ring_bytes(config.ring_bytes),
            metrics.store.clone(),
        )
        .map_err(|source| StartupError::TempDir {
            dir: config.temp_dir.clone(),
            source,
        })?;

        let upload = UploadListener::bind(SocketAddr::new(config.put_host, config.put_port))?;
        let reader_addr = SocketAddr::new(IpAddr::V4(Ipv4Addr::UNSPECIFIED), config.get_port);
        let reader = listen::bind(reader_addr).map_err(|source| StartupError::Bind {
            port: Port::Reader,
            addr: reader_addr,
            source,
        })?;
        if !config.put_host.is_loopback() {
            tracing::warn!(
                put_host = %config.put_host,
                "the upload port is bound to a non-loopback address: anyone who can reach it can write the log"
            );
        }

        let observer = Observer::new(
            store.clone(),
            Arc::clone(&metrics),
            Limits::of(&config),
            tokio::runtime::Handle::current(),
        );
        let ctx = Arc::new(ConnContext {
            upload: UploadHandler::new(store.clone(), Arc::new(observer), config.progress_every),
            read: ReadHandler::new(
                store.clone(),
                &config.access_token,
                config.max_readers,
                Arc::clone(&metrics),
            ),
            metrics,
            tls,
            header_timeout: config.header_timeout,
            stall_timeout: config.stall_timeout,
            stopping: CancellationToken::new(),
        });
        Ok(Server {
            upload,
            reader_addr: reader.local_addr().unwrap_or(reader_addr),
            reader,
            max_connections: config.max_connections,
            store,
            ctx,
        })
    }

    /// Serves both ports until `shutdown` resolves; then stops accepting and
    /// gives open connections [`SHUTDOWN_GRACE`] to finish. Returns sooner
    /// when nothing is left to wait for: no upload in progress, and every
    /// reader sent all there is.
    ///
    /// # Errors
    /// [`StartupError::UploadThread`] if the upload's thread or runtime
    /// cannot start (before livelog reports ready).
    pub async fn serve(self, shutdown: impl Future<Output = ()>) -> Result<(), StartupError> {
        let Server {
            upload,
            reader,
            reader_addr,
            max_connections,
            store,
            ctx,
        } = self;
        let graceful = Arc::new(GracefulShutdown::new());
        let upload_addr = upload.addr;
        let mut upload_thread = upload.spawn(Arc::clone(&ctx), Arc::clone(&graceful))?;
        let readers = tokio::spawn(accept_loop(
            reader,
            Port::Reader,
            max_connections,
            Arc::clone(&ctx),
            Arc::clone(&graceful),
        ));
        let tls = ctx.tls.is_some();
        tracing::info!(
            put = %upload_addr,
            get = %reader_addr,
            tls = %if tls { "on" } else { "off" },
            "livelog ready: upload with PUT http://{upload_addr}/log, read with GET {}://{reader_addr}/log/<ACCESS_TOKEN>",
            if tls { "https" } else { "http" },
        );

        shutdown.await;
        // Stop accepting; connections that have not sent a request give up.
        ctx.stopping.cancel();
        let _ = readers.await;
        let _ = (&mut upload_thread.accepting).await;
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
        upload_thread.stop().await;
        tracing::info!(stored = store.progress().len, "livelog stopped");
        Ok(())
    }
}

impl UploadListener {
    /// Binds `addr`.
    fn bind(addr: SocketAddr) -> Result<Self, StartupError> {
        let listener = listen::bind(addr)
            .and_then(|listener| listener.into_std())
            .map_err(|source| StartupError::Bind {
                port: Port::Upload,
                addr,
                source,
            })?;
        Ok(UploadListener {
            addr: listener.local_addr().unwrap_or(addr),
            listener,
        })
    }

    /// Starts the upload's thread and runtime, accepting until
    /// `ctx.stopping`; returns once it accepts (or could not start).
    ///
    /// The runtime is built, used and dropped on that thread alone: tokio
    /// refuses to drop a runtime (which waits for its tasks) inside another
    /// runtime's async context, where a startup error would drop it.
    fn spawn(
        self,
        ctx: Arc<ConnContext>,
        graceful: Arc<GracefulShutdown>,
    ) -> Result<UploadThread, StartupError> {
        let listener = self.listener;
        let done = CancellationToken::new();
        let finish = done.clone();
        let (started, start) = std::sync::mpsc::sync_channel(1);
        let thread = std::thread::Builder::new()
            .name("livelog-upload".into())
            .spawn(move || {
                let runtime = match tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                {
                    Ok(runtime) => runtime,
                    Err(err) => return drop(started.send(Err(err))),
                };
                let listener = {
                    let _on_upload_runtime = runtime.enter();
                    match TcpListener::from_std(listener) {
                        Ok(listener) => listener,
                        Err(err) => return drop(started.send(Err(err))),
                    }
                };
                let accepting = runtime.spawn(accept_loop(
                    listener,
                    Port::Upload,
                    UPLOAD_MAX_CONNECTIONS,
                    ctx,
                    graceful,
                ));
                let _ = started.send(Ok(accepting));
                // Serves until told to stop; dropping the runtime then drops
                // any upload still open, which marks the log broken.
                runtime.block_on(finish.cancelled());
            })
            .map_err(StartupError::UploadThread)?;
        // A blocking wait, once, at startup: the thread answers within
        // microseconds.
        match start.recv() {
            Ok(Ok(accepting)) => Ok(UploadThread {
                accepting,
                done,
                thread,
            }),
            Ok(Err(err)) => Err(StartupError::UploadThread(err)),
            Err(_) => Err(StartupError::UploadThread(std::io::Error::other(
                "the upload thread ended before it started",
            ))),
        }
    }
}

/// The running upload thread.
struct UploadThread {
    /// The accept loop, which ends once `ConnContext::stopping` is cancelled.
    accepting: tokio::task::JoinHandle<()>,
    done: CancellationToken,
    thread: std::thread::JoinHandle<()>,
}

impl UploadThread {
    /// Stops the thread's runtime (dropping whatever it still serves) and
    /// waits for the thread to end.
    async fn stop(self) {
        self.done.cancel();
        let thread = self.thread;
        match tokio::task::spawn_blocking(move || thread.join()).await {
            Ok(Ok(())) => {}
            _ => tracing::error!("the upload thread panicked"),
        }
    }
}
