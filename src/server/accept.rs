//! The accept loop of one port, with its connection cap.
//!
//! Only a `GET` body takes a reader slot; a connection costs a socket and
//! memory before that (a TLS handshake, a request head on its way, an HTTP/2
//! connection with no stream). So each port caps its open connections:
//! beyond the cap a connection is accepted and closed at once, and the
//! refusals are logged at most once a second.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::future::join_all;
use hyper_util::server::graceful::GracefulShutdown;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tokio::time::Instant;
use tracing::Instrument;

use super::conn;
use super::context::ConnContext;
use crate::config::Port;
use crate::http::client::canonical;
use crate::metrics::PortLabels;

/// Open connections the upload port takes at once: one upload, and a few
/// mistaken or probing clients beside it.
pub const UPLOAD_MAX_CONNECTIONS: usize = 64;

/// How often, at most, refused connections are logged.
const REFUSALS_LOGGED_EVERY: Duration = Duration::from_secs(1);

/// How long accepting pauses after an error such as `EMFILE` (no free file
/// descriptor), rather than spinning; open connections keep being served.
const ACCEPT_ERROR_PAUSE: Duration = Duration::from_millis(50);

/// Accepts connections on `listeners` (the `port`'s sockets: one per
/// address it listens on) until `ctx.stopping` is cancelled, serving each on
/// a task of its own while fewer than `max_connections` are open on all of
/// them together. Each connection is watched by `graceful`, which the caller
/// shuts down once this returns.
pub async fn accept_loop(
    listeners: Vec<TcpListener>,
    port: Port,
    max_connections: usize,
    ctx: Arc<ConnContext>,
    graceful: Arc<GracefulShutdown>,
) {
    let open = Arc::new(Semaphore::new(max_connections));
    let refusals = Mutex::new(Refusals::default());
    join_all(listeners.iter().map(|listener| {
        accept_from(
            listener,
            port,
            max_connections,
            &open,
            &refusals,
            &ctx,
            &graceful,
        )
    }))
    .await;
}

/// [`accept_loop`] for one of the port's sockets.
async fn accept_from(
    listener: &TcpListener,
    port: Port,
    max_connections: usize,
    open: &Arc<Semaphore>,
    refusals: &Mutex<Refusals>,
    ctx: &Arc<ConnContext>,
    graceful: &GracefulShutdown,
) {
    loop {
        let accepted = tokio::select! {
            _ = ctx.stopping.cancelled() => break,
            accepted = listener.accept() => accepted,
        };
        match accepted {
            Ok((stream, peer)) => {
                let Ok(permit) = Arc::clone(open).try_acquire_owned() else {
                    drop(stream);
                    ctx.metrics
                        .connections_refused
                        .get_or_create(&PortLabels::of(port))
                        .inc();
                    // Held for a counter update; never across an `.await`.
                    let mut refusals = refusals.lock().unwrap_or_else(|e| e.into_inner());
                    refusals.count(port, max_connections);
                    continue;
                };
                let counted = ctx.metrics.connection_opened(port);
                let ctx = Arc::clone(ctx);
                let watcher = graceful.watcher();
                // Every event of the connection, and of its HTTP/2 streams,
                // says which port and peer it is about.
                let span = tracing::info_span!(
                    "conn",
                    port = port.name(),
                                        peer = %SocketAddr::new(canonical(peer.ip()), peer.port()),
                    protocol = tracing::field::Empty,
                );
                let connection = async move {
                    conn::serve(port, stream, peer, ctx, watcher).await;
                    drop((permit, counted));
                };
                tokio::spawn(connection.instrument(span));
            }
            Err(err) => {
                tracing::warn!(listener = port.name(), "accept failed: {err}");
                tokio::time::sleep(ACCEPT_ERROR_PAUSE).await;
            }
        }
    }
}

/// Connections closed at the cap, logged at most once a second.
#[derive(Default)]
struct Refusals {
    /// Refused since the last log line.
    unlogged: u64,
    last_logged: Option<Instant>,
}

impl Refusals {
    fn count(&mut self, port: Port, max: usize) {
        self.unlogged += 1;
        let now = Instant::now();
        if self
            .last_logged
            .is_none_or(|at| now.duration_since(at) >= REFUSALS_LOGGED_EVERY)
        {
            let variable = match port {
                Port::Reader => "LIVELOG_MAX_CONNECTIONS",
                Port::Upload => "the upload port's own cap",
            };
            tracing::warn!(
                listener = port.name(),
                refused = self.unlogged,
                max_connections = max,
                "connections closed at once: {max} are open ({variable})"
            );
            self.unlogged = 0;
            self.last_logged = Some(now);
        }
    }
}
