//! One connection, from accept to close.
//!
//! * The upload port speaks HTTP/1.1 only (`curl -T`, workers' chunked
//!   uploads).
//! * The reader port speaks HTTP/1.1 in clear text, and over TLS whatever
//!   ALPN chose (`h2` or `http/1.1`). Plain HTTP sent to it while it serves
//!   HTTPS is answered `400`, as Go's `net/http` does.
//!
//! Every connection gets the same protections: a deadline for a complete
//! request head (and for the TLS handshake, and for HTTP/2's first request),
//! TCP_NODELAY so a log line leaves at once, and on the reader side a write
//! timeout (`tokio-io-timeout`) that fires only while the socket refuses
//! bytes, i.e. the reader is stalled with data waiting for it, never while
//! it simply waits for new log lines. HTTP/2 streams get their own stall
//! deadline (`stall.rs`).

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use http::{Request, Response, StatusCode};
use hyper::body::Incoming;
use hyper::server::conn::{http1, http2};
use hyper::service::Service;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::Watcher;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_rustls::TlsAcceptor;

use super::context::ConnContext;
use super::h1_io::{H1Io, H1State, MAX_HEAD_BYTES};
use super::services::{H2ReadService, ReadService, UploadService};
use super::stall::{StallExecutor, StallTimeoutStream, is_stall};
use super::tls::ALPN_H2;
use crate::config::Port;
use crate::error::{BoxError, Chain};
use crate::http::access_log::log_refused_head;
use crate::metrics::PortLabels;

/// HTTP/2 streams one connection may have open at once.
pub const H2_MAX_CONCURRENT_STREAMS: u32 = 64;

/// HTTP/2 header list cap (RFC 9113 `SETTINGS_MAX_HEADER_LIST_SIZE`), bytes.
pub const H2_MAX_HEADER_LIST_BYTES: u32 = 64 * 1024;

/// What Go's `net/http` answers plain HTTP sent to an HTTPS port with; a
/// client that mixes up `http://` and `https://` gets the same here.
const PLAIN_HTTP_TO_HTTPS: &str = "Client sent an HTTP request to an HTTPS server.\n";

/// How long, and how many bytes, the request of a plain-HTTP client on the
/// HTTPS port is read and discarded after the answer, so that closing with
/// unread bytes does not reset the connection before the client reads it.
const PLAIN_HTTP_LINGER: Duration = Duration::from_secs(1);
const PLAIN_HTTP_LINGER_BYTES: usize = 64 * 1024;

/// Serves one connection accepted on `port` until it ends, in the
/// connection's span (`port`, `peer`, and `protocol` once known), which the
/// caller entered. `watcher` lets a graceful shutdown finish the response
/// in flight and then close it.
pub async fn serve(
    port: Port,
    stream: TcpStream,
    peer: SocketAddr,
    ctx: Arc<ConnContext>,
    watcher: Watcher,
) {
    let _ = stream.set_nodelay(true);
    match port {
        Port::Upload => {
            let handler = ctx.upload.clone();
            let service = move |state| UploadService {
                handler,
                state,
                peer,
            };
            serve_http1(stream, Port::Upload, &ctx, watcher, service).await;
        }
        Port::Reader => serve_reader(stream, peer, &ctx, watcher).await,
    }
}

async fn serve_reader(
    stream: TcpStream,
    peer: SocketAddr,
    ctx: &Arc<ConnContext>,
    watcher: Watcher,
) {
    // Each protocol path is boxed: a future is as large as its largest
    // branch, and the TLS and HTTP/2 paths hold several KiB that a plain-text
    // reader (the common case, and the one there may be thousands of) should
    // not carry for the life of its connection.
    match &ctx.tls {
        None => {
            let io = StallTimeoutStream::new(stream, ctx.stall_timeout);
            let service = read_service(ctx, peer);
            Box::pin(serve_http1(io, Port::Reader, ctx, watcher, service)).await;
        }
        Some(acceptor) => Box::pin(serve_tls_reader(stream, acceptor, peer, ctx, watcher)).await,
    }
}

/// The reader port's HTTP/1.1 service for a connection whose state is
/// `state`: each body reports its failure only after everything before it
/// is flushed ([`FlushFirst`]).
fn read_service(
    ctx: &Arc<ConnContext>,
    peer: SocketAddr,
) -> impl FnOnce(Arc<H1State>) -> ReadService {
    let ctx = Arc::clone(ctx);
    move |state| ReadService { ctx, state, peer }
}

/// The TLS handshake (bounded by the header timeout), then HTTP/2 or
/// HTTP/1.1 as ALPN chose. A failed or slow handshake ends the connection
/// with a debug line: there was no request to answer.
async fn serve_tls_reader(
    stream: TcpStream,
    acceptor: &TlsAcceptor,
    peer: SocketAddr,
    ctx: &Arc<ConnContext>,
    watcher: Watcher,
) {
    let handshake = async {
        if sends_plain_http(&stream).await {
            answer_plain_http(stream).await;
            return None;
        }
        let io = StallTimeoutStream::new(stream, ctx.stall_timeout);
        match acceptor.accept(io).await {
            Ok(tls) => Some(tls),
            Err(err) => {
                ctx.metrics.tls_handshake_failures.inc();
                tracing::debug!("TLS handshake failed: {}", Chain(&err));
                None
            }
        }
    };
    let tls = tokio::select! {
        _ = ctx.stopping.cancelled() => return,
        done = tokio::time::timeout(ctx.header_timeout, handshake) => match done {
            Ok(Some(tls)) => tls,
            Ok(None) => return,
            Err(_) => {
                ctx.metrics.tls_handshake_failures.inc();
                tracing::debug!("TLS handshake timed out");
                return;
            }
        },
    };
    if tls.get_ref().1.alpn_protocol() == Some(ALPN_H2) {
        serve_h2_reader(tls, peer, ctx, watcher).await;
    } else {
        serve_http1(tls, Port::Reader, ctx, watcher, read_service(ctx, peer)).await;
    }
}

/// `true` if the client's first byte starts an HTTP request rather than a
/// TLS record (a handshake record starts with 0x16; a request with an ASCII
/// method).
async fn sends_plain_http(stream: &TcpStream) -> bool {
    let mut first = [0u8; 1];
    matches!(stream.peek(&mut first).await, Ok(1) if first[0].is_ascii_uppercase())
}

/// Answers plain HTTP on the HTTPS port as Go's `net/http` does, then reads
/// and discards the request for a moment so the answer is not lost to a
/// reset.
async fn answer_plain_http(mut stream: TcpStream) {
    let status = StatusCode::BAD_REQUEST;
    log_refused_head(Port::Reader, status, PLAIN_HTTP_TO_HTTPS.trim_end());
    let reply = format!(
        "HTTP/1.0 400 Bad Request\r\ncontent-type: text/plain; charset=utf-8\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{PLAIN_HTTP_TO_HTTPS}",
        PLAIN_HTTP_TO_HTTPS.len()
    );
    if stream.write_all(reply.as_bytes()).await.is_err() || stream.shutdown().await.is_err() {
        return;
    }
    let mut sink = vec![0; 4096];
    let mut discarded = 0;
    let linger = async {
        while discarded < PLAIN_HTTP_LINGER_BYTES {
            match stream.read(&mut sink).await {
                Ok(0) | Err(_) => break,
                Ok(n) => discarded += n,
            }
        }
    };
    let _ = tokio::time::timeout(PLAIN_HTTP_LINGER, linger).await;
}

/// The HTTP/1.1 settings of `port`'s connections.
fn http1_builder(header_timeout: Duration, port: Port) -> http1::Builder {
    let mut builder = http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(header_timeout)
        .max_header_size(MAX_HEAD_BYTES);
    if port == Port::Reader {
        // Caps what hyper queues for one reader's socket. Not on the upload
        // port: the cap also sizes hyper's read buffer, and a small read
        // buffer makes the upload take many more `recvfrom` calls and run
        // measurably slower (docs/bench/decisions.md).
        builder.max_buf_size(MAX_HEAD_BYTES);
    }
    builder
}

/// Serves an HTTP/1.1 connection to `port` over `io`, with the service
/// `service` makes from the connection's [`H1State`], and logs how it ended.
async fn serve_http1<I, S, B>(
    io: I,
    port: Port,
    ctx: &ConnContext,
    watcher: Watcher,
    service: impl FnOnce(Arc<H1State>) -> S,
) where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    S: Service<Request<Incoming>, Response = Response<B>, Error = Infallible> + Send + 'static,
    S::Future: Send + 'static,
    B: http_body::Body + Send + 'static,
    B::Data: Send,
    B::Error: Into<BoxError>,
{
    tracing::Span::current().record("protocol", "http1");
    let state = Arc::new(H1State::default());
    let io = H1Io::new(io, Arc::clone(&state), port);
    let conn = http1_builder(ctx.header_timeout, port)
        .serve_connection(TokioIo::new(io), service(Arc::clone(&state)));
    let result = watcher.watch(conn).await;
    report(port, result, &state, ctx);
}

/// HTTP/2 readers share one socket, so the socket's write timeout cannot
/// tell one stalled stream from its busy neighbours: each stream's task gets
/// its own stall deadline ([`StallExecutor`]) and its body reports the bytes
/// the socket takes ([`Watched`]).
///
/// HTTP/2 has no header-read timeout of its own, so a connection that has
/// opened no stream within the header timeout (or when livelog starts
/// stopping) is dropped. A graceful shutdown would not do: hyper defers it
/// until the client's preface arrives, and then waits for a PING reply, so a
/// client that sends nothing would stay for ever; and with no stream open,
/// nothing is lost by dropping it.
async fn serve_h2_reader<I>(io: I, peer: SocketAddr, ctx: &Arc<ConnContext>, watcher: Watcher)
where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    tracing::Span::current().record("protocol", "http2");
    let got_request = Arc::new(AtomicBool::new(false));
    let service = H2ReadService {
        ctx: Arc::clone(ctx),
        got_request: Arc::clone(&got_request),
        peer,
    };
    let stalls = ctx.metrics.readers_stalled.clone();
    let conn = http2::Builder::new(StallExecutor::new(ctx.stall_timeout, stalls))
        .timer(TokioTimer::new())
        .max_concurrent_streams(H2_MAX_CONCURRENT_STREAMS)
        .max_header_list_size(H2_MAX_HEADER_LIST_BYTES)
        .keep_alive_interval(Duration::from_secs(30))
        .keep_alive_timeout(Duration::from_secs(20))
        .serve_connection(TokioIo::new(io), service);
    let mut conn = std::pin::pin!(watcher.watch(conn));
    let first_request = tokio::time::sleep(ctx.header_timeout);
    let idle = async {
        tokio::select! {
            _ = first_request => {},
            _ = ctx.stopping.cancelled() => {},
        }
    };
    let result = tokio::select! {
        result = conn.as_mut() => result,
        _ = idle, if !got_request.load(Ordering::Relaxed) => {
            if !got_request.load(Ordering::Relaxed) {
                if !ctx.stopping.is_cancelled() {
                    ctx.metrics.header_timeouts.get_or_create(&PortLabels::of(Port::Reader)).inc();
                }
                tracing::debug!("HTTP/2 connection sent no request in time; closing it");
                return;
            }
            conn.await
        }
    };
    if let Err(err) = result {
        tracing::debug!("reader connection ended: {}", Chain(&err));
    }
}

/// Logs how an HTTP/1.1 connection ended, where that says something about
/// the client (a stall, a header timeout, no request at all).
fn report(port: Port, result: Result<(), hyper::Error>, state: &H1State, ctx: &ConnContext) {
    match result {
        // Only readers have the stall timeout (`stall/h1.rs`).
        Err(err) if port == Port::Reader && is_stall(&err) => {
            ctx.metrics.readers_stalled.inc();
            tracing::warn!(
                stall_timeout_secs = ctx.stall_timeout.as_secs(),
                "reader disconnected: it accepted no bytes for the stall timeout while log data was waiting"
            )
        }
        Err(err) if err.is_timeout() => {
            ctx.metrics
                .header_timeouts
                .get_or_create(&PortLabels::of(port))
                .inc();
            tracing::debug!(
                header_timeout_secs = ctx.header_timeout.as_secs(),
                "connection closed: no complete request head within the header timeout"
            )
        }
        // A refused head was logged as it was answered (`h1_io.rs`).
        Err(err) if err.is_parse() || err.is_parse_too_large() => {}
        Err(err) => tracing::debug!("connection ended: {}", Chain(&err)),
        Ok(()) if !state.was_request_seen() => {
            tracing::debug!("connection closed before a request")
        }
        Ok(()) => {}
    }
}
