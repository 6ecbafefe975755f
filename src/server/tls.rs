//! HTTPS for the reader port: loads the PEM certificate chain and key named by
//! `SERVER_CRT_FILE` / `SERVER_KEY_FILE` into a rustls server config.
//!
//! Whatever the Go livelog serves, this serves: X.509 v1 and v3
//! certificates, chains with intermediates (leaf first), RSA, ECDSA P-256
//! and P-384, and Ed25519 keys in PKCS#1, PKCS#8 or SEC1. The key must match
//! the certificate (their public keys are compared, as rustls and Go do).
//!
//! ALPN offers `h2` then `http/1.1`, so `curl --http2` and browsers get
//! HTTP/2 as they did from the Go livelog. PEM is read with
//! `rustls-pki-types`' `PemObject` (`rustls-pemfile` is unmaintained,
//! RUSTSEC-2025-0134).

use std::path::Path;
use std::sync::Arc;

use rustls::ServerConfig;
use rustls::sign::{CertifiedKey, SingleCertAndKey};
use rustls_pki_types::pem::{self, PemObject};
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use x509_parser::certificate::X509Certificate;
use x509_parser::prelude::FromDer;

use crate::config::TlsFiles;
use crate::error::{BoxError, TlsError};

/// ALPN protocol id for HTTP/2 (RFC 7540 §3.3).
pub const ALPN_H2: &[u8] = b"h2";
/// ALPN protocol id for HTTP/1.1 (RFC 7301 §6).
pub const ALPN_HTTP11: &[u8] = b"http/1.1";

/// Loads `files` into a server config with ALPN `h2`, `http/1.1`.
///
/// # Errors
/// [`TlsError`] naming the file: unreadable, not PEM, holding no certificate
/// or key, a certificate that is not X.509, a key of a kind TLS cannot use,
/// or a key that does not match the certificate.
pub fn load(files: &TlsFiles) -> Result<Arc<ServerConfig>, TlsError> {
    let cert_err = |Problem(reason, source)| TlsError {
        variable: "SERVER_CRT_FILE",
        path: files.cert.clone(),
        reason,
        source,
    };
    let key_err = |Problem(reason, source)| TlsError {
        variable: "SERVER_KEY_FILE",
        path: files.key.clone(),
        reason,
        source,
    };

    readable(&files.cert).map_err(cert_err)?;
    readable(&files.key).map_err(key_err)?;

    let certs = CertificateDer::pem_file_iter(&files.cert)
        .map_err(|e| cert_err(pem_problem(e)))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| cert_err(pem_problem(e)))?;
    let Some(leaf) = certs.first() else {
        return Err(cert_err(Problem::new(
            "holds no PEM certificate (-----BEGIN CERTIFICATE-----)",
        )));
    };
    let leaf_spki = leaf_public_key(leaf).map_err(cert_err)?;
    let key = PrivateKeyDer::from_pem_file(&files.key).map_err(|e| key_err(pem_problem(e)))?;

    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let signing_key = provider
        .key_provider
        .load_private_key(key)
        .map_err(|e| key_err(rustls_problem(e)))?;
    match signing_key.public_key() {
        Some(key_spki) if key_spki.as_ref() == leaf_spki.as_slice() => {}
        Some(_) => {
            return Err(key_err(Problem::new(format!(
                "does not match the certificate in SERVER_CRT_FILE {} (their public keys differ)",
                files.cert.display()
            ))));
        }
        None => {
            return Err(key_err(Problem::new(
                "cannot be used: its public key is unknown, so it cannot be checked against the certificate",
            )));
        }
    }
    // The key was checked against the certificate above, with a parser that
    // reads every X.509 version; rustls's own check (`with_single_cert`)
    // refuses version 1 certificates, which the Go livelog serves.
    let certified = CertifiedKey::new(certs, signing_key);
    let mut config = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| cert_err(Problem::caused("no usable TLS versions", e)))?
        .with_no_client_auth()
        .with_cert_resolver(Arc::new(SingleCertAndKey::from(certified)));
    config.alpn_protocols = vec![ALPN_H2.to_vec(), ALPN_HTTP11.to_vec()];
    Ok(Arc::new(config))
}

/// What is wrong with one of the files: a few words, and the error of the
/// library that found it, if any (the [`TlsError`]'s source).
struct Problem(String, Option<BoxError>);

impl Problem {
    fn new(reason: impl Into<String>) -> Self {
        Problem(reason.into(), None)
    }

    fn caused(reason: &str, source: impl Into<BoxError>) -> Self {
        Problem(reason.into(), Some(source.into()))
    }
}

/// The DER `SubjectPublicKeyInfo` of the first certificate in the chain
/// (the server's own), from any X.509 version (1, 2 or 3).
fn leaf_public_key(leaf: &CertificateDer<'_>) -> Result<Vec<u8>, Problem> {
    match X509Certificate::from_der(leaf.as_ref()) {
        Ok((_, cert)) => Ok(cert.public_key().raw.to_vec()),
        Err(e) => Err(Problem::caused(
            "its first certificate (the server's) is not a valid X.509 certificate",
            e,
        )),
    }
}

/// Opens the file once so that "missing" and "permission denied" are told
/// apart from "not PEM".
fn readable(path: &Path) -> Result<(), Problem> {
    std::fs::File::open(path)
        .map(drop)
        .map_err(|e| Problem::caused("cannot be read", e))
}

/// rustls's refusal of a key: its own words when it has only words.
fn rustls_problem(e: rustls::Error) -> Problem {
    match e {
        rustls::Error::General(reason) => Problem::new(format!("cannot be used: {reason}")),
        other => Problem::caused("cannot be used", other),
    }
}

fn pem_problem(e: pem::Error) -> Problem {
    match e {
        pem::Error::NoItemsFound => {
            Problem::new("holds no PEM item of the expected kind (-----BEGIN ...)")
        }
        pem::Error::Io(e) => Problem::caused("cannot be read", e),
        other => Problem::caused("is not valid PEM", other),
    }
}
