//! The upload port: `PUT /log`, the upload; and `GET /metrics` and
//! `GET /status` for operators (`observe/`).
//!
//! Exactly one upload is accepted (chunked or with `Content-Length`; hyper
//! answers `Expect: 100-continue` when the body is first read). Each body
//! chunk is appended to the store as it arrives. The reply is `201 Created`
//! only once the body ended cleanly and every byte is stored; anything else
//! marks the log broken so readers end incomplete.
//!
//! A refused request (wrong path or method, a second upload, a full disk)
//! is answered at once, while the client may still be sending its body. If
//! livelog then closed the connection, the unread bytes would make the
//! kernel reset it, and the client would see "connection reset" or "broken
//! pipe" instead of the answer. So the rest of the body is read and
//! discarded for a while ([`LINGER`], [`LINGER_BYTES`]), as nginx's
//! `lingering_close` does, giving the client time to read why.

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;

use http::{Method, Request, Response, StatusCode, header};
use http_body::Frame;
use http_body_util::BodyExt;
use hyper::body::Incoming;
use tracing::Instrument;

use super::access_log::{LoggedResponse, logged};
use super::client::{Client, canonical};
use super::observe::Observer;
use super::route::Route;
use super::{ResponseBody, plain};
use crate::config::Port;
use crate::metrics::Metrics;
use crate::store::{LogStore, Upload};

/// Longest time the rest of a refused upload's body is read and discarded.
pub const LINGER: Duration = Duration::from_secs(10);

/// Most bytes of a refused upload's body read and discarded.
pub const LINGER_BYTES: u64 = 64 * 1024 * 1024;

/// Handles requests on the upload port.
#[derive(Clone, Debug)]
pub struct UploadHandler {
    store: LogStore,
    observer: Arc<Observer>,
    progress_every: Duration,
}

impl UploadHandler {
    /// Uploads go to `store`, logging progress at most every
    /// `progress_every`; `/metrics` and `/status` are `observer`'s.
    pub fn new(store: LogStore, observer: Arc<Observer>, progress_every: Duration) -> Self {
        UploadHandler {
            store,
            observer,
            progress_every,
        }
    }

    /// Answers one request from `peer` (on loopback: the client itself),
    /// logging its line when the response is done.
    pub async fn call(&self, req: Request<Incoming>, peer: SocketAddr) -> LoggedResponse {
        let started = Instant::now();
        let method = req.method().clone();
        let path = req.uri().path().to_owned();
        let resp = self.upload(req).await;
        let client = canonical(peer.ip());
        logged(
            resp,
            Port::Upload,
            (method, &path),
            Client::direct(client),
            started,
        )
    }

    async fn upload(&self, req: Request<Incoming>) -> Response<ResponseBody> {
        let (method, path) = (req.method(), req.uri().path());
        if let Some(resp) = self.observer.answer(method, path, req.headers()).await {
            return resp;
        }
        if Route::of(req.uri().path()) != Route::Log(None) {
            let resp = plain(
                StatusCode::NOT_FOUND,
                "not found: upload with PUT /log; GET /metrics or /status\n",
            );
            return refuse(req.into_body(), resp);
        }
        if req.method() != Method::PUT {
            let mut resp = plain(
                StatusCode::METHOD_NOT_ALLOWED,
                "method not allowed: upload with PUT /log\n",
            );
            resp.headers_mut()
                .insert(header::ALLOW, header::HeaderValue::from_static("PUT"));
            return refuse(req.into_body(), resp);
        }
        let mut upload = match self.store.begin_upload() {
            Ok(upload) => upload,
            Err(conflict) => {
                tracing::warn!("refused a second upload: {conflict}");
                let resp = plain(StatusCode::CONFLICT, &format!("conflict: {conflict}\n"));
                return refuse(req.into_body(), resp);
            }
        };
        tracing::info!("upload started");
        let progress = ProgressLine::new(self.progress_every, self.observer.metrics());
        match store_body(&mut upload, req.into_body(), progress).await {
            Ok(()) => {
                let stored = upload.stored();
                upload.finish();
                tracing::info!(stored, "upload complete");
                plain(
                    StatusCode::CREATED,
                    &format!("created: stored {stored} bytes\n"),
                )
            }
            // Dropping `upload` unfinished marks the log broken.
            Err(refusal) => refusal,
        }
    }
}

/// Appends every data frame of `body` to `upload`, until the body ends,
/// logging its `progress`.
///
/// # Errors
/// The response for a body that broke (`400`: bad framing, or the client
/// went away) or could not be stored (`507`/`500`). The log is then broken.
async fn store_body(
    upload: &mut Upload,
    mut body: Incoming,
    mut progress: ProgressLine<'_>,
) -> Result<(), Response<ResponseBody>> {
    while let Some(frame) = body.frame().await {
        let data = match frame.map(Frame::into_data) {
            Ok(Ok(data)) => data,
            Ok(Err(_trailers)) => continue, // trailers carry nothing for the log
            Err(err) => {
                let stored = upload.stored();
                tracing::warn!(stored, "upload broke: {err}");
                // If the client is still there (bad chunk framing), it reads
                // this; if it is gone, hyper drops the reply.
                return Err(plain(
                    StatusCode::BAD_REQUEST,
                    &format!("bad request: the upload body broke after {stored} bytes: {err}\n"),
                ));
            }
        };
        if let Err(err) = upload.append(data) {
            let stored = upload.stored();
            tracing::error!(stored, "upload failed: cannot store the log: {err}");
            let (status, what) = storage_status(&err);
            let reason = format!("{what}: stored {stored} bytes, then: {err}\n");
            return Err(refuse(body, plain(status, &reason)));
        }
        progress.maybe_log(upload.stored());
    }
    Ok(())
}

/// The upload's progress line: bytes stored, the rate since the last line,
/// readers connected; so an operator tailing livelog's output sees it is
/// alive.
struct ProgressLine<'a> {
    every: Duration,
    metrics: &'a Metrics,
    /// When the last line was logged (or the upload started), and the
    /// bytes stored then.
    at: Instant,
    stored: u64,
}

impl<'a> ProgressLine<'a> {
    fn new(every: Duration, metrics: &'a Metrics) -> Self {
        ProgressLine {
            every,
            metrics,
            at: Instant::now(),
            stored: 0,
        }
    }

    /// Logs a line if `every` has passed since the last one.
    fn maybe_log(&mut self, stored: u64) {
        let elapsed = self.at.elapsed();
        if elapsed < self.every {
            return;
        }
        let rate = (stored - self.stored) as f64 / elapsed.as_secs_f64();
        tracing::info!(
            stored,
            bytes_per_second = rate.round() as u64,
            readers = self.metrics.readers_now(),
            "upload progress"
        );
        self.at = Instant::now();
        self.stored = stored;
    }
}

/// Answers `resp` while what is left of `body` is read and discarded in the
/// background (see the module documentation).
fn refuse(body: Incoming, resp: Response<ResponseBody>) -> Response<ResponseBody> {
    tokio::spawn(linger(body).in_current_span());
    resp
}

/// Reads and discards `body` until it ends, [`LINGER`] passes or
/// [`LINGER_BYTES`] were read.
async fn linger(mut body: Incoming) {
    let deadline = tokio::time::Instant::now() + LINGER;
    let mut discarded = 0u64;
    while discarded < LINGER_BYTES {
        match tokio::time::timeout_at(deadline, body.frame()).await {
            Ok(Some(Ok(frame))) => {
                discarded += frame.data_ref().map_or(0, |d| d.len() as u64);
            }
            _ => break,
        }
    }
    tracing::debug!(discarded, "discarded the rest of a refused upload");
}

/// `507 Insufficient Storage` (RFC 4918 §11.5) when the disk, quota or a
/// file-size limit is full; `500` for other I/O errors.
///
/// std sorts the platforms' error codes into these kinds: `ENOSPC`,
/// `EDQUOT` and `EFBIG` on Unix; `ERROR_DISK_FULL` (112),
/// `ERROR_HANDLE_DISK_FULL` (39), `ERROR_DISK_QUOTA_EXCEEDED` (1295) and
/// `ERROR_FILE_TOO_LARGE` (223) on Windows.
fn storage_status(err: &io::Error) -> (StatusCode, &'static str) {
    match err.kind() {
        io::ErrorKind::StorageFull | io::ErrorKind::QuotaExceeded | io::ErrorKind::FileTooLarge => {
            (StatusCode::INSUFFICIENT_STORAGE, "insufficient storage")
        }
        _ => (StatusCode::INTERNAL_SERVER_ERROR, "storage error"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The raw codes each platform reports for a full disk, a quota and a
    /// file-size limit, and one that is none of these.
    #[cfg(unix)]
    const FULL: &[i32] = &[libc::ENOSPC, libc::EDQUOT, libc::EFBIG];
    #[cfg(unix)]
    const OTHER: i32 = libc::EIO;
    // ERROR_DISK_FULL, ERROR_HANDLE_DISK_FULL, ERROR_DISK_QUOTA_EXCEEDED,
    // ERROR_FILE_TOO_LARGE (winerror.h); ERROR_CRC.
    #[cfg(windows)]
    const FULL: &[i32] = &[112, 39, 1295, 223];
    #[cfg(windows)]
    const OTHER: i32 = 23;

    #[test]
    fn full_storage_is_507_and_other_errors_500() {
        for &code in FULL {
            let err = io::Error::from_raw_os_error(code);
            assert_eq!(
                storage_status(&err).0,
                StatusCode::INSUFFICIENT_STORAGE,
                "{err}"
            );
        }
        let err = io::Error::from_raw_os_error(OTHER);
        assert_eq!(storage_status(&err).0, StatusCode::INTERNAL_SERVER_ERROR);
    }
}
