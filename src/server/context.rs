//! What every connection shares: the handlers its requests go to, the
//! metrics, TLS, the timeouts and the stop signal. Its own module so that
//! the connection code (`conn.rs`) and the services it builds
//! (`services.rs`) both read it without reading each other.

use std::sync::Arc;
use std::time::Duration;

use tokio_rustls::TlsAcceptor;
use tokio_util::sync::CancellationToken;

use crate::http::reader::ReadHandler;
use crate::http::upload::UploadHandler;
use crate::metrics::Metrics;

/// What every connection needs, shared by all of them.
pub struct ConnContext {
    /// Answers the upload port's requests.
    pub upload: UploadHandler,
    /// Answers the reader port's requests.
    pub read: ReadHandler,
    /// Connection counts (and the stall counter).
    pub metrics: Arc<Metrics>,
    /// HTTPS on the reader port, if configured.
    pub tls: Option<TlsAcceptor>,
    /// Deadline for a complete request head, a TLS handshake, and HTTP/2's
    /// first request.
    pub header_timeout: Duration,
    /// How long a reader may accept no bytes while data waits for it.
    pub stall_timeout: Duration,
    /// Cancelled when livelog stops accepting: connections that have not
    /// sent a request yet give up at once.
    pub stopping: CancellationToken,
}
