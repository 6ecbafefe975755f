//! Compressed readers: `curl --compressed` gets gzip or zstd that
//! decodes to exactly the log, complete or live, on HTTP/1.1 and HTTP/2; a
//! live line reaches a compressed reader at once; a broken upload ends a
//! compressed response incomplete; `Range` and q-values are honoured; `HEAD`
//! says what a `GET` would get; one compressor serves every reader of a
//! coding. Real sockets, real curl.

use std::io::Read;
use std::time::{Duration, Instant};

use crate::common::{
    CurlReader, Daemon, SOON, Uploader, curl, pattern, self_signed_cert, wait_until,
};

/// How soon a line written by the uploader must reach a compressed reader:
/// without a flush at the head it would arrive only when the upload ends,
/// which these tests hold back for far longer.
const LIVE: Duration = Duration::from_secs(2);

/// A CI-like log of about `len` bytes: numbered, coloured lines (and some
/// binary noise, which compresses badly, so both kinds of block occur).
fn log_text(len: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(len + 100);
    let mut i = 0u64;
    while out.len() < len {
        if i % 500 == 499 {
            out.extend_from_slice(&pattern(300, i));
            out.push(b'\n');
        } else {
            out.extend_from_slice(
                format!(
                    "\x1b[1m\x1b[32m   Compiling\x1b[0m crate-{} v0.{}.{} (step {i})\n",
                    i % 37,
                    i % 7,
                    i % 11
                )
                .as_bytes(),
            );
        }
        i += 1;
    }
    out
}

/// Waits (up to `limit`) until `reader`'s output is exactly `want`.
fn has(reader: &CurlReader, want: &[u8], limit: Duration) -> bool {
    wait_until(limit, || reader.out.bytes() == want)
}

/// A daemon serving HTTPS (HTTP/1.1 and HTTP/2 by ALPN), and the curl
/// arguments that reach it as `localhost`.
struct Tls {
    d: Daemon,
    _dir: tempfile::TempDir,
    args: Vec<String>,
}

fn tls_daemon() -> Tls {
    let (dir, cert, key, _) = self_signed_cert();
    let d = Daemon::builder()
        .env("SERVER_CRT_FILE", cert.to_str().unwrap())
        .env("SERVER_KEY_FILE", key.to_str().unwrap())
        .start();
    let args = vec![
        "--cacert".to_string(),
        cert.to_str().unwrap().to_string(),
        "--resolve".to_string(),
        format!("localhost:{}:127.0.0.1", d.get.port()),
    ];
    Tls { d, _dir: dir, args }
}

/// Checks that this `curl` decodes zstd (Debian's does), so a failure says
/// so rather than showing as wrong bytes.
fn require_curl_zstd() {
    let (_, version, _) = curl(&["--version"]);
    let version = String::from_utf8_lossy(&version);
    let features = version
        .lines()
        .find(|l| l.starts_with("Features:"))
        .unwrap_or("");
    assert!(
        features.split_whitespace().any(|f| f == "zstd"),
        "this curl cannot decode zstd (install Debian's curl): {version}"
    );
}

/// The `Accept-Encoding` that asks for `coding` alone.
pub(crate) fn accept(coding: &str) -> String {
    format!("Accept-Encoding: {coding}")
}

/// `(status, lower-cased head, body)` of a request with extra `args`.
pub(crate) fn fetch(args: &[&str]) -> (u16, String, Vec<u8>) {
    let dir = tempfile::tempdir().unwrap();
    let head_file = dir.path().join("head");
    let mut all = vec!["-sS", "-D", head_file.to_str().unwrap()];
    all.extend_from_slice(args);
    let (code, body, err) = curl(&all);
    assert_eq!(code, 0, "curl {args:?}: {err}");
    let head = std::fs::read_to_string(&head_file)
        .unwrap()
        .to_ascii_lowercase();
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no status in {head:?}"));
    (status, head, body)
}

/// The value of header `name` (lower case) in a lower-cased head.
pub(crate) fn header<'a>(head: &'a str, name: &str) -> Option<&'a str> {
    head.lines().find_map(|l| {
        let (k, v) = l.split_once(':')?;
        (k.trim() == name).then(|| v.trim())
    })
}

/// Uploads `data` whole (chunked) and waits for `201`.
fn upload_all(d: &Daemon, data: &[u8]) {
    let mut up = Uploader::start(d.put);
    for piece in data.chunks(64 * 1024) {
        up.chunk(piece);
    }
    let (status, body) = up.finish();
    assert_eq!(status, 201, "{body}");
}

/// Decodes `data` in `coding` with the reference tools' libraries (flate2,
/// zstd): exactly what a client decodes.
fn decode(coding: &str, data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    match coding {
        "gzip" => flate2::read::GzDecoder::new(data)
            .read_to_end(&mut out)
            .unwrap(),
        "zstd" => zstd::stream::read::Decoder::new(data)
            .unwrap()
            .read_to_end(&mut out)
            .unwrap(),
        other => panic!("no decoder for {other}"),
    };
    out
}

#[test]
fn curl_compressed_reads_a_complete_log_exactly_with_its_compressed_length() {
    require_curl_zstd();
    let d = Daemon::start();
    let url = d.get_url();
    let log = log_text(3 << 20);
    upload_all(&d, &log);

    // `curl --compressed` asks for every coding it has ("deflate, gzip, br,
    // zstd" here): zstd wins between equals.
    let (status, head, body) = fetch(&["--compressed", &url]);
    assert_eq!(status, 200);
    assert_eq!(header(&head, "content-encoding"), Some("zstd"), "{head}");
    assert_eq!(
        header(&head, "vary"),
        Some("accept, accept-encoding"),
        "{head}"
    );
    assert!(body == log, "zstd: {} of {} bytes", body.len(), log.len());

    for coding in ["gzip", "zstd"] {
        // The first GET of a coding starts its compressor; once the stream
        // is complete, every response carries its compressed length.
        let (_, _, first) = fetch(&["--compressed", "-H", &accept(coding), &url]);
        assert!(
            first == log,
            "{coding}: {} of {} bytes",
            first.len(),
            log.len()
        );
        let (status, head, compressed) = fetch(&["-H", &accept(coding), &url]);
        assert_eq!(status, 200);
        assert_eq!(header(&head, "content-encoding"), Some(coding), "{head}");
        let length = compressed.len().to_string();
        assert_eq!(header(&head, "content-length"), Some(&*length), "{head}");
        assert_eq!(header(&head, "accept-ranges"), None, "{head}");
        assert!(
            compressed.len() * 5 < log.len(),
            "{coding}: {} bytes for {}",
            compressed.len(),
            log.len()
        );
        assert!(decode(coding, &compressed) == log, "{coding} decodes");

        // HEAD says what a GET gets.
        let (status, head, _) = fetch(&["-I", "-H", &accept(coding), &url]);
        assert_eq!(status, 200);
        assert_eq!(header(&head, "content-encoding"), Some(coding), "{head}");
        assert_eq!(header(&head, "content-length"), Some(&*length), "{head}");
        assert_eq!(
            header(&head, "vary"),
            Some("accept, accept-encoding"),
            "{head}"
        );
    }
    // No Accept-Encoding: the log itself, as before.
    let (_, head, body) = fetch(&[&url]);
    assert_eq!(header(&head, "content-encoding"), None, "{head}");
    assert_eq!(header(&head, "accept-ranges"), Some("bytes"), "{head}");
    assert_eq!(
        header(&head, "vary"),
        Some("accept, accept-encoding"),
        "{head}"
    );
    assert!(body == log);
}

#[test]
fn curl_compressed_reads_a_complete_log_over_http2() {
    require_curl_zstd();
    let tls = tls_daemon();
    let log = log_text(1 << 20);
    upload_all(&tls.d, &log);
    let url = tls.d.https_url();
    for coding in ["gzip", "zstd"] {
        let accept = accept(coding);
        let tls_args = || tls.args.iter().map(String::as_str).collect::<Vec<&str>>();
        let mut args = tls_args();
        args.extend(["--http2", "-w", "%{http_version}", "-o", "/dev/null"]);
        args.extend(["--compressed", "-H", &accept, &url]);
        let (code, version, err) = curl(&args);
        assert_eq!(code, 0, "{err}");
        assert_eq!(version, b"2", "HTTP/2 by ALPN");
        let mut args = tls_args();
        args.extend(["--http2", "--compressed", "-H", &accept, &url]);
        let (_, head, body) = fetch(&args);
        assert_eq!(header(&head, "content-encoding"), Some(coding), "{head}");
        assert!(
            body == log,
            "{coding}: {} of {} bytes",
            body.len(),
            log.len()
        );
    }
}

#[test]
fn live_compressed_readers_get_each_line_at_once_on_http1_and_http2() {
    require_curl_zstd();
    let tls = tls_daemon();
    let mut up = Uploader::start(tls.d.put);
    let first = log_text(300_000);
    up.chunk(&first);
    let url = tls.d.https_url();
    let mut readers = vec![];
    for (coding, protocol) in [
        ("gzip", "--http1.1"),
        ("gzip", "--http2"),
        ("zstd", "--http1.1"),
        ("zstd", "--http2"),
    ] {
        let mut args: Vec<&str> = tls.args.iter().map(String::as_str).collect();
        let accept = accept(coding);
        args.extend(["-sN", protocol, "--compressed", "-H", &accept, &url]);
        readers.push((coding, protocol, CurlReader::spawn(&args)));
    }
    let mut log = first.clone();
    for (coding, protocol, reader) in &readers {
        assert!(
            has(reader, &log, SOON),
            "{coding} {protocol}: got {} of {} bytes",
            reader.out.len(),
            log.len()
        );
    }
    // Each line reaches every compressed reader while the upload goes on.
    for i in 0..5 {
        let line = format!("live line {i}: \x1b[33mwarning\x1b[0m: unused variable\n");
        let written = Instant::now();
        up.chunk(line.as_bytes());
        log.extend_from_slice(line.as_bytes());
        for (coding, protocol, reader) in &readers {
            assert!(
                has(reader, &log, LIVE),
                "{coding} {protocol}: line {i} not received within {LIVE:?}"
            );
        }
        assert!(written.elapsed() < LIVE * 4);
    }
    let rest = log_text(2 << 20);
    for piece in rest.chunks(100_000) {
        up.chunk(piece);
    }
    log.extend_from_slice(&rest);
    let (status, body) = up.finish();
    assert_eq!(status, 201, "{body}");
    for (coding, protocol, reader) in readers {
        let (code, out) = reader.finish();
        assert_eq!(code, 0, "{coding} {protocol}: curl exits 0 at the end");
        assert!(
            out == log,
            "{coding} {protocol}: {} of {} bytes",
            out.len(),
            log.len()
        );
    }
}

#[test]
fn a_broken_upload_ends_compressed_readers_incomplete_after_every_stored_byte() {
    require_curl_zstd();
    let tls = tls_daemon();
    let mut up = Uploader::start(tls.d.put);
    let stored = log_text(500_000);
    up.chunk(&stored);
    let url = tls.d.https_url();
    let mut readers = vec![];
    for coding in ["gzip", "zstd"] {
        for protocol in ["--http1.1", "--http2"] {
            let mut args: Vec<&str> = tls.args.iter().map(String::as_str).collect();
            let accept = accept(coding);
            args.extend(["-sN", protocol, "--compressed", "-H", &accept, &url]);
            readers.push((coding, protocol, CurlReader::spawn(&args)));
        }
    }
    for (coding, protocol, reader) in &readers {
        assert!(has(reader, &stored, SOON), "{coding} {protocol}");
    }
    up.abort();
    for (coding, protocol, reader) in readers {
        let (code, out) = reader.finish();
        assert_ne!(code, 0, "{coding} {protocol}: a broken log is incomplete");
        assert!(out == stored, "{coding} {protocol}: every stored byte");
    }
    // A reader arriving after the break gets the same: every stored byte,
    // then an incomplete end (no gzip trailer).
    let (code, compressed, _) = curl(&{
        let mut a: Vec<&str> = tls.args.iter().map(String::as_str).collect();
        a.extend(["-sS", "-H", "Accept-Encoding: gzip", &url]);
        a
    });
    assert_ne!(code, 0);
    let mut decoded = Vec::new();
    let end = flate2::read::GzDecoder::new(&compressed[..]).read_to_end(&mut decoded);
    assert!(end.is_err(), "no gzip trailer after a broken upload");
    assert!(
        decoded == stored,
        "{} of {} bytes",
        decoded.len(),
        stored.len()
    );
}

#[test]
fn range_requests_get_identity_and_q_values_are_honoured() {
    let d = Daemon::start();
    let url = d.get_url();
    let log = log_text(100_000);
    upload_all(&d, &log);

    // A Range gets the log's own bytes, whatever the client accepts.
    let (status, head, body) = fetch(&["-H", "Accept-Encoding: gzip", "-r", "1000-1999", &url]);
    assert_eq!(status, 206);
    assert_eq!(header(&head, "content-encoding"), None, "{head}");
    assert_eq!(
        header(&head, "content-range"),
        Some(&*format!("bytes 1000-1999/{}", log.len()))
    );
    assert_eq!(body, log[1000..2000]);

    for (accept, want) in [
        ("gzip;q=0", None),
        ("gzip;q=0, identity", None),
        ("gzip", Some("gzip")),
        ("x-gzip", Some("gzip")),
        ("zstd;q=0.5, gzip", Some("gzip")),
        ("gzip;q=0.5, zstd;q=0.9", Some("zstd")),
        ("gzip, zstd", Some("zstd")),
        ("*", Some("zstd")),
        ("identity;q=1, gzip;q=0.5", None),
        // Nothing known is acceptable and identity is forbidden: identity
        // all the same, never 406.
        ("br, identity;q=0", None),
        ("*;q=0", None),
    ] {
        let header_line = format!("Accept-Encoding: {accept}");
        let (status, head, body) = fetch(&["-H", &header_line, &url]);
        assert_eq!(status, 200, "{accept}");
        assert_eq!(header(&head, "content-encoding"), want, "{accept}: {head}");
        match want {
            None => assert!(body == log, "{accept}: identity"),
            Some(coding) => assert!(decode(coding, &body) == log, "{accept}: {coding}"),
        }
    }
}

#[test]
fn one_compressor_serves_every_reader_of_a_coding_and_head_starts_none() {
    let d = Daemon::start();
    let url = d.get_url();
    let mut up = Uploader::start(d.put);
    let first = log_text(200_000);
    up.chunk(&first);

    // HEAD of a live log: the coding a GET would get, no length, and no
    // compressor started.
    let (status, head, _) = fetch(&["-I", "-H", "Accept-Encoding: gzip", &url]);
    assert_eq!(status, 200);
    assert_eq!(header(&head, "content-encoding"), Some("gzip"), "{head}");
    assert_eq!(header(&head, "content-length"), None, "{head}");
    assert!(
        !d.stderr().contains("compressing the log"),
        "{}",
        d.stderr()
    );

    let readers: Vec<CurlReader> = (0..8)
        .map(|_| CurlReader::spawn(&["-sN", "--compressed", "-H", "Accept-Encoding: gzip", &url]))
        .collect();
    for reader in &readers {
        assert!(has(reader, &first, SOON));
    }
    // Operators see them as gzip readers; the compressed copy's appends are
    // not counted as uploaded bytes.
    let (_, metrics, _) = curl(&["-sS", &format!("http://{}/metrics", d.put)]);
    let metrics = String::from_utf8_lossy(&metrics);
    let sample = |name: &str| {
        metrics
            .lines()
            .find_map(|l| l.strip_prefix(name)?.strip_prefix(' '))
            .unwrap_or_else(|| panic!("no {name} in {metrics}"))
            .to_owned()
    };
    assert_eq!(
        sample(r#"livelog_readers{protocol="http1",kind="gzip"}"#),
        "8"
    );
    assert_eq!(
        sample("livelog_upload_bytes_total"),
        first.len().to_string()
    );
    let rest = log_text(1 << 20);
    up.chunk(&rest);
    let (status, body) = up.finish();
    assert_eq!(status, 201, "{body}");
    let mut log = first;
    log.extend_from_slice(&rest);
    for reader in readers {
        let (code, out) = reader.finish();
        assert_eq!(code, 0);
        assert!(out == log, "{} of {} bytes", out.len(), log.len());
    }
    assert!(
        d.wait_for_log("gzip stream complete", SOON),
        "{}",
        d.stderr()
    );
    let started = d
        .stderr()
        .matches("compressing the log for gzip readers")
        .count();
    assert_eq!(started, 1, "one gzip compressor for 8 readers");
    assert!(
        !d.stderr().contains("zstd readers"),
        "no zstd reader, no zstd compressor"
    );
}
