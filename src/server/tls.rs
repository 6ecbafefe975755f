//! HTTPS for the reader port: loads the PEM certificate chain and key named by
//! `SERVER_CRT_FILE` / `SERVER_KEY_FILE` into a rustls server config.
//!
//! ALPN offers `h2` then `http/1.1`, so `curl --http2` and browsers get
//! HTTP/2 as they did from the Go livelog. PEM is read with
//! `rustls-pki-types`' `PemObject` (`rustls-pemfile` is unmaintained,
//! RUSTSEC-2025-0134).

use std::path::Path;
use std::sync::Arc;

use rustls::ServerConfig;
use rustls_pki_types::pem::{self, PemObject};
use rustls_pki_types::{CertificateDer, PrivateKeyDer};

use crate::config::TlsFiles;
use crate::error::TlsError;

/// ALPN protocol id for HTTP/2 (RFC 7540 §3.3).
pub const ALPN_H2: &[u8] = b"h2";
/// ALPN protocol id for HTTP/1.1 (RFC 7301 §6).
pub const ALPN_HTTP11: &[u8] = b"http/1.1";

/// Loads `files` into a server config with ALPN `h2`, `http/1.1`.
///
/// # Errors
/// [`TlsError`] naming the file: unreadable, not PEM, holding no certificate
/// or key, or a key that does not match the certificate.
pub fn load(files: &TlsFiles) -> Result<Arc<ServerConfig>, TlsError> {
    let cert_err = |reason: String| TlsError {
        variable: "SERVER_CRT_FILE",
        path: files.cert.clone(),
        reason,
    };
    let key_err = |reason: String| TlsError {
        variable: "SERVER_KEY_FILE",
        path: files.key.clone(),
        reason,
    };

    readable(&files.cert).map_err(cert_err)?;
    readable(&files.key).map_err(key_err)?;

    let certs = CertificateDer::pem_file_iter(&files.cert)
        .map_err(|e| cert_err(pem_reason(e)))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| cert_err(pem_reason(e)))?;
    if certs.is_empty() {
        return Err(cert_err(
            "holds no PEM certificate (-----BEGIN CERTIFICATE-----)".into(),
        ));
    }
    let key = PrivateKeyDer::from_pem_file(&files.key).map_err(|e| key_err(pem_reason(e)))?;

    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| cert_err(format!("no usable TLS versions: {e}")))?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(|e| match e {
            rustls::Error::InconsistentKeys(_) => key_err(format!(
                "does not match the certificate in SERVER_CRT_FILE {}",
                files.cert.display()
            )),
            other => key_err(format!("cannot be used with the certificate: {other}")),
        })?;
    config.alpn_protocols = vec![ALPN_H2.to_vec(), ALPN_HTTP11.to_vec()];
    Ok(Arc::new(config))
}

/// Opens the file once so that "missing" and "permission denied" are told
/// apart from "not PEM".
fn readable(path: &Path) -> Result<(), String> {
    std::fs::File::open(path)
        .map(drop)
        .map_err(|e| format!("cannot be read: {e}"))
}

fn pem_reason(e: pem::Error) -> String {
    match e {
        pem::Error::NoItemsFound => {
            "holds no PEM item of the expected kind (-----BEGIN ...)".into()
        }
        pem::Error::Io(e) => format!("cannot be read: {e}"),
        other => format!("is not valid PEM: {other:?}"),
    }
}
