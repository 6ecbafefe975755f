//! The upload side: `PUT /log` on the loopback listener.
//!
//! Exactly one upload is accepted (chunked or with `Content-Length`; hyper
//! answers `Expect: 100-continue` when the body is first read). Each body
//! chunk is appended to the store as it arrives. The reply is `201 Created`
//! only once the body ended cleanly and every byte is stored; anything else
//! marks the log broken so readers end incomplete.

use std::io;

use http::{Method, Request, Response, StatusCode, header};
use http_body_util::BodyExt;
use hyper::body::Incoming;

use crate::server::{ResponseBody, plain};
use crate::store::LogStore;

/// The one path the upload listener serves.
pub const UPLOAD_PATH: &str = "/log";

/// Handles one request on the upload listener.
pub async fn handle(store: LogStore, req: Request<Incoming>) -> Response<ResponseBody> {
    if req.uri().path() != UPLOAD_PATH {
        return plain(StatusCode::NOT_FOUND, "not found: upload with PUT /log\n");
    }
    if req.method() != Method::PUT {
        let mut resp = plain(
            StatusCode::METHOD_NOT_ALLOWED,
            "method not allowed: upload with PUT /log\n",
        );
        resp.headers_mut()
            .insert(header::ALLOW, header::HeaderValue::from_static("PUT"));
        return resp;
    }
    let mut upload = match store.begin_upload() {
        Ok(upload) => upload,
        Err(conflict) => {
            tracing::warn!("refused a second upload: {conflict}");
            return plain(StatusCode::CONFLICT, &format!("conflict: {conflict}\n"));
        }
    };
    tracing::info!("upload started");

    let mut body = req.into_body();
    loop {
        match body.frame().await {
            None => break,
            Some(Ok(frame)) => {
                let Ok(data) = frame.into_data() else {
                    continue; // trailers carry nothing for the log
                };
                if let Err(err) = upload.append(data) {
                    // `append` already marked the log broken.
                    let stored = store.progress().len;
                    tracing::error!(stored, "upload failed: cannot store the log: {err}");
                    let (status, what) = storage_status(&err);
                    return plain(
                        status,
                        &format!("{what}: stored {stored} bytes, then: {err}\n"),
                    );
                }
            }
            Some(Err(err)) => {
                let stored = upload.len();
                upload.abort();
                tracing::warn!(stored, "upload broke: {err}");
                // If the client is still there (bad chunk framing), it reads
                // this; if it is gone, hyper drops the reply.
                return plain(
                    StatusCode::BAD_REQUEST,
                    &format!("bad request: the upload body broke after {stored} bytes: {err}\n"),
                );
            }
        }
    }
    let stored = upload.len();
    upload.finish();
    tracing::info!(stored, "upload complete");
    plain(
        StatusCode::CREATED,
        &format!("created: stored {stored} bytes\n"),
    )
}

/// `507 Insufficient Storage` (RFC 4918 §11.5) when the disk, quota or a
/// file-size limit is full; `500` for other I/O errors.
fn storage_status(err: &io::Error) -> (StatusCode, &'static str) {
    match err.raw_os_error() {
        Some(libc::ENOSPC | libc::EFBIG | libc::EDQUOT) => {
            (StatusCode::INSUFFICIENT_STORAGE, "insufficient storage")
        }
        _ => (StatusCode::INTERNAL_SERVER_ERROR, "storage error"),
    }
}
