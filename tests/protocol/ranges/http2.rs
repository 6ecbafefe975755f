//! The same range semantics over HTTP/2 (TLS, ALPN `h2`) as over
//! HTTP/1.1.

use super::*;

/// The same range semantics over HTTP/2 (TLS, ALPN h2), with curl: a
/// completed log's tail and 416, a live follow range that ends cleanly, a
/// live HEAD without a length, and a follow range cut short by a broken
/// upload.
#[test]
fn http2_gives_the_same_range_semantics() {
    let (_dir, cert, key, cert_pem) = self_signed_cert();
    let cert = cert.to_str().unwrap().to_owned();
    let tls_client = Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(30))
        .add_root_certificate(reqwest::Certificate::from_pem(cert_pem.as_bytes()).unwrap())
        .build()
        .unwrap();
    let start = || {
        Daemon::builder()
            .env("SERVER_CRT_FILE", cert.clone())
            .env("SERVER_KEY_FILE", key.to_str().unwrap())
            .start()
    };
    let h2 = |extra: &[&str], url: &str| {
        let mut args = vec!["--http2", "--cacert", &cert, "-sS"];
        args.extend_from_slice(extra);
        args.push(url);
        curl(&args)
    };

    // Live: a stored range, a HEAD, a follow range.
    let d = start();
    let url = d.https_url();
    let log = pattern(80_000, 29);
    let mut up = Uploader::start(d.put);
    up.chunk(&log[..30_000]);
    wait_stored_at(&tls_client, &url, 30_000);

    let (code, out, err) = h2(&["-D", "-", "-o", "/dev/null", "-r", "100-"], &url);
    assert_eq!(code, 0, "{err}");
    let headers = String::from_utf8(out).unwrap().to_ascii_lowercase();
    assert!(headers.starts_with("http/2 206"), "{headers}");
    assert!(
        headers.contains("content-range: bytes 100-29999/*\r\n"),
        "{headers}"
    );
    assert!(headers.contains("content-length: 29900\r\n"), "{headers}");

    let (code, out, err) = h2(&["-I"], &url);
    assert_eq!(code, 0, "{err}");
    let headers = String::from_utf8(out).unwrap().to_ascii_lowercase();
    assert!(headers.starts_with("http/2 200"), "{headers}");
    assert!(headers.contains("accept-ranges: bytes\r\n"), "{headers}");
    assert!(!headers.contains("\ncontent-length:"), "{headers}");

    let hdr_file = tempfile::NamedTempFile::new().unwrap();
    let hdr_path = hdr_file.path().to_str().unwrap().to_owned();
    let mut args = vec!["--http2", "--cacert", &cert, "-sS", "-D", &hdr_path, "-N"];
    args.extend(["-H", "Range: bytes=25000-9007199254740991", &url]);
    let mut follower = CurlReader::spawn(&args);
    follower.out.wait_len(5000);
    up.chunk(&log[30_000..]);
    follower.out.wait_len(55_000);
    assert!(follower.is_running(), "curl ended early");
    assert_eq!(up.finish().0, 201);
    let (code, bytes) = follower.finish();
    assert_eq!(code, 0);
    assert_eq!(bytes, &log[25_000..]);
    let headers = std::fs::read_to_string(&hdr_path)
        .unwrap()
        .to_ascii_lowercase();
    assert!(headers.starts_with("http/2 206"), "{headers}");
    assert!(
        headers.contains("content-range: bytes 25000-9007199254740991/*\r\n"),
        "{headers}"
    );
    assert!(!headers.contains("\ncontent-length:"), "{headers}");

    // Completed (the same daemon, now finished): tail, clamp, 416, HEAD.
    let (code, out, err) = h2(&["-r", "-1024"], &url);
    assert_eq!(code, 0, "{err}");
    assert_eq!(out, &log[log.len() - 1024..]);
    let (code, out, err) = h2(&["-D", "-", "-o", "/dev/null", "-r", "79990-99999"], &url);
    assert_eq!(code, 0, "{err}");
    let headers = String::from_utf8(out).unwrap().to_ascii_lowercase();
    assert!(headers.starts_with("http/2 206"), "{headers}");
    assert!(
        headers.contains("content-range: bytes 79990-79999/80000\r\n"),
        "{headers}"
    );
    let (code, out, err) = h2(&["-D", "-", "-o", "/dev/null", "-r", "80000-"], &url);
    assert_eq!(code, 0, "{err}");
    let headers = String::from_utf8(out).unwrap().to_ascii_lowercase();
    assert!(headers.starts_with("http/2 416"), "{headers}");
    assert!(
        headers.contains("content-range: bytes */80000\r\n"),
        "{headers}"
    );
    let (code, out, err) = h2(&["-I"], &url);
    assert_eq!(code, 0, "{err}");
    let headers = String::from_utf8(out).unwrap().to_ascii_lowercase();
    assert!(headers.contains("content-length: 80000\r\n"), "{headers}");

    // A follow range cut short by a broken upload: the stream is reset.
    let d = start();
    let url = d.https_url();
    let mut up = Uploader::start(d.put);
    up.chunk(&log[..10_000]);
    wait_stored_at(&tls_client, &url, 10_000);
    let mut args = vec!["--http2", "--cacert", &cert, "-sS", "-N"];
    args.extend(["-H", "Range: bytes=1000-9007199254740991", &url]);
    let follower = CurlReader::spawn(&args);
    follower.out.wait_len(9000);
    up.abort();
    let (code, bytes) = follower.finish();
    assert_ne!(code, 0, "curl must not see a clean end");
    assert_eq!(bytes, &log[1000..10_000]);
}
