//! The two listeners and the connections they accept.
//!
//! * The upload listener speaks HTTP/1.1 only (`curl -T`, workers' chunked
//!   uploads), on loopback unless `LIVELOG_PUT_HOST` says otherwise.
//! * The reader listener speaks HTTP/1.1 in clear text, and over TLS whatever
//!   ALPN chose (`h2` or `http/1.1`).
//!
//! Every connection gets the same protections: a deadline for a complete
//! request head (and for the TLS handshake), TCP_NODELAY so a log line leaves
//! at once, and on the reader side a write timeout (`tokio-io-timeout`) that
//! fires only while the socket refuses bytes, i.e. the reader is stalled with
//! data waiting for it, never while it simply waits for new log lines.

use std::convert::Infallible;
use std::fmt;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::{Request, Response, StatusCode, header};
use http_body_util::combinators::UnsyncBoxBody;
use http_body_util::{BodyExt, Empty, Full};
use hyper::body::Incoming;
use hyper::server::conn::{http1, http2};
use hyper::service::Service;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulConnection;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, watch};
use tokio_io_timeout::TimeoutStream;
use tokio_rustls::TlsAcceptor;

use crate::logging::{BoxError, Logged, RequestLog, redact_path, short_path};
use crate::reader::Readers;
use crate::stall::{StallExecutor, Watched};
use crate::store::LogStore;
use crate::tls::ALPN_H2;
use crate::upload;

/// Body type of every response livelog sends.
pub type ResponseBody = UnsyncBoxBody<Bytes, BoxError>;

/// Largest request head (request line and headers) accepted on the reader
/// port, in bytes: a longer one gets `431 Request Header Fields Too Large`
/// and the connection is closed. Also caps how much hyper queues for one
/// reader's socket (`max_buf_size`), which bounds what a stalled reader can
/// pin. The token path is short; 5,000-byte paths still fit.
///
/// hyper's `max_buf_size` alone is a soft cap (a read may take the buffer
/// past it and complete a longer head), so `max_header_size` is set too.
pub const READER_MAX_HEAD_BYTES: usize = 64 * 1024;

/// Largest request head accepted on the upload port, in bytes (and the cap
/// on chunked trailers there); longer ones get `431`. An upload's head is a
/// few hundred bytes.
pub const UPLOAD_MAX_HEAD_BYTES: usize = 64 * 1024;

/// HTTP/2 streams one connection may have open at once.
pub const H2_MAX_CONCURRENT_STREAMS: u32 = 64;

/// HTTP/2 header list cap (RFC 9113 `SETTINGS_MAX_HEADER_LIST_SIZE`), bytes.
pub const H2_MAX_HEADER_LIST_BYTES: u32 = 64 * 1024;

/// A plain-text response: `status` with a one-line reason.
pub fn plain(status: StatusCode, reason: &str) -> Response<ResponseBody> {
    let mut resp = Response::new(
        Full::new(Bytes::copy_from_slice(reason.as_bytes()))
            .map_err(|never| match never {})
            .boxed_unsync(),
    );
    *resp.status_mut() = status;
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    resp
}

/// An empty body.
pub fn empty() -> ResponseBody {
    Empty::new().map_err(|never| match never {}).boxed_unsync()
}

/// Which listener a connection came in on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Listener {
    /// `PUT /log`.
    Upload,
    /// `GET /log/<token>`.
    Reader,
}

impl Listener {
    /// `"upload"` or `"reader"`, as logs name it.
    pub fn as_str(self) -> &'static str {
        match self {
            Listener::Upload => "upload",
            Listener::Reader => "reader",
        }
    }
}

impl fmt::Display for Listener {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What every connection task shares.
pub struct Shared {
    /// The log.
    pub store: LogStore,
    /// The reader side's state.
    pub readers: Readers,
    /// HTTPS on the reader port, if configured.
    pub tls: Option<TlsAcceptor>,
    /// Deadline for a complete request head / TLS handshake.
    pub header_timeout: Duration,
    /// Write timeout for readers whose socket accepts nothing.
    pub stall_timeout: Duration,
}

/// Accepts connections on `listener` until `shutdown` flips, spawning one
/// task each. Each task holds a clone of `alive`, so whoever owns the
/// receiving end learns when the last connection is gone.
pub async fn accept_loop(
    listener: TcpListener,
    kind: Listener,
    shared: Arc<Shared>,
    mut shutdown: watch::Receiver<bool>,
    alive: mpsc::Sender<()>,
) {
    loop {
        let accepted = tokio::select! {
            _ = shutdown.wait_for(|stop| *stop) => break,
            accepted = listener.accept() => accepted,
        };
        match accepted {
            Ok((stream, peer)) => {
                let shared = Arc::clone(&shared);
                let shutdown = shutdown.clone();
                let alive = alive.clone();
                tokio::spawn(async move {
                    match kind {
                        Listener::Upload => serve_upload(stream, peer, shared, shutdown).await,
                        Listener::Reader => serve_reader(stream, peer, shared, shutdown).await,
                    }
                    drop(alive);
                });
            }
            Err(err) => {
                // Usually EMFILE/ENFILE: back off briefly rather than spin;
                // connections already open keep being served.
                tracing::warn!(listener = %kind, "accept failed: {err}");
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    }
}

/// [`accept_loop`] for a std listener, registered with the runtime that
/// polls the returned future (the upload thread's own).
pub async fn accept_loop_std(
    listener: std::net::TcpListener,
    kind: Listener,
    shared: Arc<Shared>,
    shutdown: watch::Receiver<bool>,
    alive: mpsc::Sender<()>,
) {
    match TcpListener::from_std(listener) {
        Ok(listener) => accept_loop(listener, kind, shared, shutdown, alive).await,
        Err(err) => tracing::error!(listener = %kind, "cannot serve the listener: {err}"),
    }
}

async fn serve_upload(
    stream: TcpStream,
    peer: SocketAddr,
    shared: Arc<Shared>,
    shutdown: watch::Receiver<bool>,
) {
    let _ = stream.set_nodelay(true);
    let svc = upload_service(&shared);
    let conn = http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(shared.header_timeout)
        .max_header_size(UPLOAD_MAX_HEAD_BYTES)
        .serve_connection(TokioIo::new(stream), svc);
    if let Err(err) = drive(conn, shutdown, None, shared.header_timeout).await {
        tracing::debug!(%peer, "upload connection ended: {err}");
    }
}

/// A response whose body logs the request line when it is done.
type LoggedResponse = Response<Logged<ResponseBody>>;

type BoxedResponse =
    Pin<Box<dyn Future<Output = Result<Response<Logged<ResponseBody>>, Infallible>> + Send>>;

/// The upload listener's service. Named types (rather than an inferred
/// closure) keep rustc able to prove the connection future `Send`.
fn upload_service(
    shared: &Arc<Shared>,
) -> impl hyper::service::Service<
    Request<Incoming>,
    Response = Response<Logged<ResponseBody>>,
    Error = Infallible,
    Future = BoxedResponse,
> + Clone {
    let store = shared.store.clone();
    service_fn(move |req: Request<Incoming>| -> BoxedResponse {
        let store = store.clone();
        Box::pin(async move {
            let started = Instant::now();
            let method = req.method().clone();
            let path = short_path(req.uri().path());
            let resp = upload::handle(store, req).await;
            Ok(logged(resp, Listener::Upload, method, path, started))
        })
    })
}

async fn serve_reader(
    stream: TcpStream,
    peer: SocketAddr,
    shared: Arc<Shared>,
    shutdown: watch::Receiver<bool>,
) {
    let _ = stream.set_nodelay(true);
    // The write timeout runs only while a write is pending (the socket's send
    // buffer is full): a stalled reader with data waiting. An idle tail
    // writes nothing, so it is never timed out.
    let mut io = TimeoutStream::new(stream);
    io.set_write_timeout(Some(shared.stall_timeout));
    let io = Box::pin(io);

    // Each protocol path is boxed: a future is as large as its largest
    // branch, and the TLS and HTTP/2 paths hold several KiB that a plain-text
    // reader (the common case, and the one there may be thousands of) should
    // not carry for the life of its connection.
    let result = match &shared.tls {
        None => Box::pin(serve_http1_reader(io, &shared, shutdown)).await,
        Some(acceptor) => Box::pin(serve_tls_reader(io, acceptor, peer, &shared, shutdown)).await,
    };
    if let Err(err) = result {
        if is_stall(&err) {
            tracing::warn!(
                %peer,
                stall_timeout_secs = shared.stall_timeout.as_secs(),
                "reader disconnected: it accepted no bytes for the stall timeout while log data was waiting"
            );
        } else {
            tracing::debug!(%peer, "reader connection ended: {err}");
        }
    }
}

/// The TLS handshake (bounded by the header timeout), then HTTP/2 or
/// HTTP/1.1 as ALPN chose. A failed or slow handshake ends the connection
/// quietly (debug log): there was no request to answer.
async fn serve_tls_reader<I>(
    io: I,
    acceptor: &TlsAcceptor,
    peer: SocketAddr,
    shared: &Arc<Shared>,
    shutdown: watch::Receiver<bool>,
) -> Result<(), hyper::Error>
where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let tls = match tokio::time::timeout(shared.header_timeout, acceptor.accept(io)).await {
        Ok(Ok(tls)) => tls,
        Ok(Err(err)) => {
            tracing::debug!(%peer, "TLS handshake failed: {err}");
            return Ok(());
        }
        Err(_) => {
            tracing::debug!(%peer, "TLS handshake timed out");
            return Ok(());
        }
    };
    if tls.get_ref().1.alpn_protocol() == Some(ALPN_H2) {
        serve_h2_reader(tls, peer, shared, shutdown).await
    } else {
        serve_http1_reader(tls, shared, shutdown).await
    }
}

fn reader_service(
    shared: &Arc<Shared>,
    got_request: Option<Arc<AtomicBool>>,
) -> impl hyper::service::Service<
    Request<Incoming>,
    Response = LoggedResponse,
    Error = Infallible,
    Future = std::future::Ready<Result<LoggedResponse, Infallible>>,
> + Clone {
    let shared = Arc::clone(shared);
    service_fn(move |req: Request<Incoming>| {
        if let Some(flag) = &got_request {
            flag.store(true, Ordering::Relaxed);
        }
        let started = Instant::now();
        let resp = shared.readers.handle(&req);
        let path = redact_path(req.uri().path());
        std::future::ready(Ok(logged(
            resp,
            Listener::Reader,
            req.method().clone(),
            path,
            started,
        )))
    })
}

/// A reader response on HTTP/2: its body reports the bytes the socket takes.
type H2Response = Response<Watched<Logged<ResponseBody>>>;

/// [`reader_service`] with each body [`Watched`] for stalls.
fn h2_reader_service(
    shared: &Arc<Shared>,
    got_request: Arc<AtomicBool>,
) -> impl hyper::service::Service<
    Request<Incoming>,
    Response = H2Response,
    Error = Infallible,
    Future = std::future::Ready<Result<H2Response, Infallible>>,
> + Clone {
    let inner = reader_service(shared, Some(got_request));
    service_fn(move |req: Request<Incoming>| {
        // `reader_service` answers at once, so its future is already ready.
        let resp = inner.call(req).into_inner();
        std::future::ready(resp.map(|resp| resp.map(Watched::new)))
    })
}

async fn serve_http1_reader<I>(
    io: I,
    shared: &Arc<Shared>,
    shutdown: watch::Receiver<bool>,
) -> Result<(), hyper::Error>
where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let conn = http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(shared.header_timeout)
        .max_buf_size(READER_MAX_HEAD_BYTES)
        .max_header_size(READER_MAX_HEAD_BYTES)
        .serve_connection(TokioIo::new(io), reader_service(shared, None));
    drive(conn, shutdown, None, shared.header_timeout).await
}

/// HTTP/2 readers share one socket, so the socket's write timeout cannot
/// tell one stalled stream from its busy neighbours: each stream's task gets
/// its own stall deadline ([`StallExecutor`]) and its body reports the bytes
/// the socket takes ([`Watched`]).
async fn serve_h2_reader<I>(
    io: I,
    peer: SocketAddr,
    shared: &Arc<Shared>,
    shutdown: watch::Receiver<bool>,
) -> Result<(), hyper::Error>
where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let got_request = Arc::new(AtomicBool::new(false));
    let service = h2_reader_service(shared, Arc::clone(&got_request));
    let conn = http2::Builder::new(StallExecutor::new(shared.stall_timeout, peer))
        .timer(TokioTimer::new())
        .max_concurrent_streams(H2_MAX_CONCURRENT_STREAMS)
        .max_header_list_size(H2_MAX_HEADER_LIST_BYTES)
        .keep_alive_interval(Duration::from_secs(30))
        .keep_alive_timeout(Duration::from_secs(20))
        .serve_connection(TokioIo::new(io), service);
    drive(conn, shutdown, Some(got_request), shared.header_timeout).await
}

/// Runs a connection to its end, shutting it down gracefully (finish the
/// response in flight, accept no more) when `shutdown` flips. HTTP/2 has no
/// header-read timeout of its own, so a connection that has sent no request
/// within `header_timeout` (tracked by `got_request`) is closed.
async fn drive<C>(
    conn: C,
    mut shutdown: watch::Receiver<bool>,
    got_request: Option<Arc<AtomicBool>>,
    header_timeout: Duration,
) -> Result<(), C::Error>
where
    C: GracefulConnection,
{
    let mut conn = std::pin::pin!(conn);
    let first_request_deadline = tokio::time::sleep(header_timeout);
    let mut first_request_deadline = std::pin::pin!(first_request_deadline);
    let mut watching_first_request = got_request.is_some();
    let mut shutting_down = false;
    loop {
        tokio::select! {
            result = conn.as_mut() => return result,
            _ = shutdown.wait_for(|stop| *stop), if !shutting_down => {
                shutting_down = true;
                conn.as_mut().graceful_shutdown();
            }
            _ = first_request_deadline.as_mut(), if watching_first_request => {
                watching_first_request = false;
                if got_request.as_ref().is_some_and(|f| !f.load(Ordering::Relaxed)) {
                    // No stream was ever opened, so nothing is lost by
                    // dropping the connection outright. A graceful shutdown
                    // would not do: hyper defers it until the client's
                    // preface arrives, and then waits for a PING reply, so
                    // a client that sends nothing would stay forever.
                    tracing::debug!("HTTP/2 connection sent no request in time; closing it");
                    return Ok(());
                }
            }
        }
    }
}

fn logged(
    resp: Response<ResponseBody>,
    listener: Listener,
    method: http::Method,
    path: String,
    started: Instant,
) -> Response<Logged<ResponseBody>> {
    let status = resp.status();
    let content_length = resp
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok());
    resp.map(|body| {
        Logged::new(
            body,
            RequestLog {
                listener: listener.as_str(),
                method,
                path,
                status,
                started,
                content_length,
            },
        )
    })
}

/// `true` if `err` came from the reader's write timeout.
fn is_stall(err: &hyper::Error) -> bool {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(err);
    while let Some(e) = source {
        if let Some(io) = e.downcast_ref::<std::io::Error>() {
            if io.kind() == std::io::ErrorKind::TimedOut {
                return true;
            }
        }
        source = e.source();
    }
    false
}
