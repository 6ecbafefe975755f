//! Hardening: bad input, faults and abuse, against the real binary
//! over real sockets. Each test names the behaviour it proves; timing bounds
//! are generous (a busy 2-core machine), and every assertion is on what a
//! user would see: status codes, exact bytes, exit codes, stderr lines.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::common;
use crate::common::{
    CurlUpload, Daemon, DaemonBuilder, Streamed, TOKEN, UploadFrom, client, curl, pattern,
    raw_exchange, read_body, self_signed_cert, wait_until,
};

/// Generous bound for "cut off by a 1 s timeout".
const CUT_OFF_WITHIN: Duration = Duration::from_secs(5);

/// Connects, sends `prefix`, then waits for the server to close the
/// connection; returns how long that took. Panics if it stays open 15 s.
fn time_until_closed(addr: SocketAddr, prefix: &[u8]) -> (Duration, Vec<u8>) {
    let started = Instant::now();
    let mut stream = TcpStream::connect(addr).unwrap();
    stream.write_all(prefix).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(15)))
        .unwrap();
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match stream.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => got.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => break,
            Err(e) => panic!("connection still open after {:?}: {e}", started.elapsed()),
        }
    }
    (started.elapsed(), got)
}

/// Status code of a raw HTTP/1.1 response (`HTTP/1.1 431 ...`).
fn status_of(raw: &[u8]) -> Option<u16> {
    let text = String::from_utf8_lossy(raw);
    text.strip_prefix("HTTP/1.1 ")?.get(..3)?.parse().ok()
}

/// GET on the reader port with reqwest: status only.
fn get_status(d: &Daemon, path: &str) -> u16 {
    client()
        .get(format!("http://{}{path}", d.get))
        .send()
        .unwrap()
        .status()
        .as_u16()
}

/// Uploads `data` in one chunked PUT and checks it is stored.
fn upload_all(d: &Daemon, data: &[u8]) {
    let mut up = common::Uploader::start(d.put);
    up.chunk(data);
    let (status, body) = up.finish();
    assert_eq!(status, 201, "{body}");
}

// ---------------------------------------------------------------------------
// 1. Slow or stuck request heads, oversized heads, HTTP/2 stream cap.

#[test]
fn stuck_request_heads_are_cut_off_on_both_ports() {
    let d = Daemon::builder()
        .env("LIVELOG_HEADER_TIMEOUT_SECS", "1")
        .start_process();
    // (port, what the client sends, what that is), all run at once.
    let cases: [(&str, SocketAddr, &[u8], &str); 6] = [
        (
            "upload",
            d.put,
            b"PUT /log HTTP/1.1\r\nHost: x\r\n",
            "half a head",
        ),
        ("upload", d.put, b"", "nothing"),
        // A whole request: answered, then the idle keep-alive connection
        // waits for its next request head.
        (
            "upload",
            d.put,
            b"GET /log HTTP/1.1\r\nHost: x\r\n\r\n",
            "one request",
        ),
        (
            "reader",
            d.get,
            b"GET /log/secretpuppy HTTP/1.1\r\nHost: x\r\n",
            "half a head",
        ),
        ("reader", d.get, b"", "nothing"),
        (
            "reader",
            d.get,
            b"GET /log/wrong HTTP/1.1\r\nHost: x\r\n\r\n",
            "one request",
        ),
    ];
    let clients: Vec<_> = cases
        .into_iter()
        .map(|(port, addr, prefix, what)| {
            let t = std::thread::spawn(move || time_until_closed(addr, prefix));
            (port, what, t)
        })
        .collect();
    for (port, what, t) in clients {
        let (took, reply) = t.join().unwrap();
        assert!(
            took < CUT_OFF_WITHIN,
            "{port} port: a client sending {what} was cut off only after {took:?}"
        );
        if what == "one request" {
            assert!(matches!(status_of(&reply), Some(401 | 405)), "{port}");
        }
    }
    // The daemon still serves after cutting them off.
    assert_eq!(get_status(&d, "/log/wrong"), 401);
}

#[test]
fn tls_clients_that_never_handshake_or_never_ask_are_cut_off() {
    let (_dir, cert, key, pem) = self_signed_cert();
    let d = Daemon::builder()
        .env("LIVELOG_HEADER_TIMEOUT_SECS", "1")
        .env("SERVER_CRT_FILE", cert.to_string_lossy())
        .env("SERVER_KEY_FILE", key.to_string_lossy())
        .start_process();

    // TCP only, no ClientHello.
    let (took, _) = time_until_closed(d.get, b"");
    assert!(took < CUT_OFF_WITHIN, "no-handshake client lasted {took:?}");
    // Half a ClientHello (a TLS record header promising more).
    let (took, _) = time_until_closed(d.get, &[0x16, 0x03, 0x01, 0x02, 0x00, 0x01]);
    assert!(
        took < CUT_OFF_WITHIN,
        "half-handshake client lasted {took:?}"
    );

    // A full handshake (ALPN h2), then no request at all: HTTP/2 has no
    // header timeout of its own; livelog closes the connection itself.
    let rt = tokio::runtime::Runtime::new().unwrap();
    let took = rt.block_on(async {
        use tokio::io::AsyncReadExt;
        let mut roots = rustls::RootCertStore::empty();
        use rustls_pki_types::pem::PemObject;
        let der = rustls_pki_types::CertificateDer::from_pem_slice(pem.as_bytes()).unwrap();
        roots.add(der).unwrap();
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut config = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(roots)
            .with_no_client_auth();
        config.alpn_protocols = vec![b"h2".to_vec()];
        let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
        let started = Instant::now();
        let tcp = tokio::net::TcpStream::connect(d.get).await.unwrap();
        let name = rustls_pki_types::ServerName::try_from("localhost").unwrap();
        let mut tls = connector.connect(name, tcp).await.unwrap();
        assert_eq!(tls.get_ref().1.alpn_protocol(), Some(&b"h2"[..]));
        let mut buf = vec![0u8; 4096];
        let closed = tokio::time::timeout(Duration::from_secs(15), async {
            loop {
                match tls.read(&mut buf).await {
                    Ok(0) | Err(_) => break,
                    Ok(_) => {} // the server's SETTINGS / GOAWAY
                }
            }
        })
        .await;
        assert!(
            closed.is_ok(),
            "idle HTTP/2 connection still open after 15 s"
        );
        started.elapsed()
    });
    assert!(
        took < CUT_OFF_WITHIN,
        "idle HTTP/2 connection lasted {took:?}"
    );
    let (code, out, err) = curl(&[
        "-sS",
        "-o",
        "/dev/null",
        "-w",
        "%{http_code}",
        "--cacert",
        &cert.to_string_lossy(),
        &format!("https://localhost:{}/log/wrong", d.get.port()),
    ]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(out, b"401");
}

#[test]
fn oversized_request_heads_are_refused_on_both_ports() {
    let d = Daemon::start_process();
    // Reader port: 64 KiB head cap. Upload port: hyper's default (~400 KiB).
    for (port, addr, size) in [
        ("reader", d.get, 100 * 1024),
        ("upload", d.put, 1024 * 1024),
    ] {
        let mut req = format!("GET /log/{TOKEN} HTTP/1.1\r\nHost: x\r\nX-Big: ").into_bytes();
        req.extend(std::iter::repeat_n(b'a', size));
        req.extend_from_slice(b"\r\n\r\n");
        let reply = raw_exchange(addr, &req);
        assert_eq!(
            status_of(&reply),
            Some(431),
            "{port} port, {size}-byte header: {:?}",
            String::from_utf8_lossy(&reply[..reply.len().min(200)])
        );
    }
    assert_eq!(get_status(&d, "/log/wrong"), 401);
}

#[test]
fn http2_connections_are_capped_at_64_concurrent_streams() {
    let (_dir, cert, key, pem) = self_signed_cert();
    let d = Daemon::builder()
        .env("SERVER_CRT_FILE", cert.to_string_lossy())
        .env("SERVER_KEY_FILE", key.to_string_lossy())
        .start_process();
    let url = format!("https://localhost:{}/log/{TOKEN}", d.get.port());
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let client = reqwest::Client::builder()
            .no_proxy()
            .add_root_certificate(reqwest::Certificate::from_pem(pem.as_bytes()).unwrap())
            .build()
            .unwrap();
        // One request first, so that exactly one HTTP/2 connection exists and
        // every later request is a stream on it.
        let first = client
            .get(format!("https://localhost:{}/log/wrong", d.get.port()))
            .send()
            .await
            .unwrap();
        assert_eq!(first.version(), reqwest::Version::HTTP_2);
        assert_eq!(first.status(), 401);
        drop(first);

        // 64 readers of a log that has not started: each holds its stream open.
        let mut open = Vec::new();
        for _ in 0..64 {
            let resp = tokio::time::timeout(Duration::from_secs(10), client.get(&url).send())
                .await
                .expect("one of the first 64 streams was not answered")
                .unwrap();
            assert_eq!(resp.status(), 200);
            open.push(resp);
        }
        // The 65th stream has to wait for one of them to close.
        let extra = tokio::spawn({
            let client = client.clone();
            let url = url.clone();
            async move { client.get(&url).send().await.map(|r| r.status()) }
        });
        // An observation window for something that must not happen (not
        // synchronisation): a cap that is not enforced answers at once.
        tokio::time::sleep(Duration::from_secs(2)).await;
        assert!(
            !extra.is_finished(),
            "a 65th concurrent stream was answered: the cap is not enforced"
        );
        drop(open.pop());
        let status = tokio::time::timeout(Duration::from_secs(10), extra)
            .await
            .expect("the 65th stream was not answered after one closed")
            .unwrap()
            .unwrap();
        assert_eq!(status, 200);
    });
}

// ---------------------------------------------------------------------------
// 2. Storage failure: a file-size limit of 1 MiB, a 2 MiB upload.

const ONE_MIB: usize = 1024 * 1024;

fn fsize_limited_daemon() -> Daemon {
    Daemon::builder()
        .own_temp_dir()
        .wrapper(&["prlimit", "--fsize=1048576", "--"])
        .start_process()
}

/// Uploads `data` with `curl -T <file>` (a Content-Length upload).
fn curl_upload(d: &Daemon, data: &[u8]) -> CurlUpload {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("upload.bin");
    std::fs::write(&file, data).unwrap();
    common::curl_upload(&d.put_url(), &file, UploadFrom::File)
}

#[test]
#[cfg_attr(not(target_os = "linux"), ignore = "needs prlimit (util-linux)")]
fn storage_failure_gives_507_and_readers_end_incomplete() {
    let mut d = fsize_limited_daemon();
    let data = pattern(2 * ONE_MIB, 5);

    // A reader connected before the upload starts.
    let early = client().get(d.get_url()).send().unwrap();
    assert_eq!(early.status(), 200);
    let early = std::thread::spawn(move || read_body(early));

    let up = curl_upload(&d, &data);
    assert_eq!(up.code, 0, "{up:?}");
    assert_eq!(up.status, 507, "{up:?}");
    let reason = up.body;
    assert_eq!(reason.lines().count(), 1, "one-line reason: {reason:?}");
    assert!(
        reason.starts_with("insufficient storage: stored 1048576 bytes"),
        "{reason:?}"
    );

    let (got, clean) = early.join().unwrap();
    assert!(!clean, "the early reader's response ended as if complete");
    assert!(got.len() <= ONE_MIB, "reader got {} bytes", got.len());
    assert_eq!(
        got,
        data[..got.len()],
        "reader bytes differ from the upload"
    );

    // Still serving: a new reader gets the stored bytes and an incomplete end.
    let (code, out, err) = curl(&["-sS", &d.get_url()]);
    assert_ne!(code, 0, "curl exited 0 on a broken log: {err}");
    assert_eq!(out.len(), ONE_MIB, "later reader");
    assert!(
        out == data[..ONE_MIB],
        "later reader's bytes differ from the upload"
    );
    assert_eq!(get_status(&d, "/log/wrong"), 401);
    assert_eq!(get_status(&d, &format!("/log/{TOKEN}x")), 401);

    // The cause is logged; SIGXFSZ did not kill the daemon.
    assert!(
        d.wait_for_log("File too large", Duration::from_secs(5)),
        "stderr:\n{}",
        d.stderr()
    );
    assert!(d.stderr().contains("upload failed"), "{}", d.stderr());
    assert!(d.child().try_wait().unwrap().is_none(), "the daemon died");
    // And it still shuts down cleanly.
    d.signal("TERM");
    let status = d.wait_exit(Duration::from_secs(10)).expect("exit");
    assert!(status.success(), "{status:?}");
}

/// A reader that is reading slowly when the upload fails (its socket full,
/// the last chunks still queued in hyper) must still get every stored byte
/// before the incomplete end.
#[test]
#[cfg_attr(not(target_os = "linux"), ignore = "needs prlimit (util-linux)")]
fn storage_failure_bursty_reader_gets_every_stored_byte() {
    const LIMIT: usize = 8 * ONE_MIB;
    let d = Daemon::builder()
        .own_temp_dir()
        .wrapper(&["prlimit", &format!("--fsize={LIMIT}"), "--"])
        .start_process();
    let data = pattern(LIMIT + ONE_MIB, 8);
    let mut early = client().get(d.get_url()).send().unwrap();
    assert_eq!(early.status(), 200);
    let up = curl_upload(&d, &data);
    assert_eq!(up.code, 0, "{up:?}");
    assert_eq!(up.status, 507, "{up:?}");
    // Read in bursts: 1 MiB, then a 200 ms pause (about 5 MiB/s), so the
    // reader is most likely pausing, its socket full, when the end comes.
    // (The pause paces the reader on purpose; it synchronises nothing.)
    let mut got = Vec::new();
    let mut buf = vec![0u8; 64 * 1024];
    let mut burst = 0;
    let clean = loop {
        match early.read(&mut buf) {
            Ok(0) => break true,
            Ok(n) => {
                got.extend_from_slice(&buf[..n]);
                burst += n;
            }
            Err(_) => break false,
        }
        if burst >= ONE_MIB {
            burst = 0;
            std::thread::sleep(Duration::from_millis(200));
        }
    };
    assert!(!clean, "the slow reader's response ended as if complete");
    assert_eq!(
        got.len(),
        LIMIT,
        "slow reader got {} of {LIMIT} stored bytes",
        got.len()
    );
    assert!(
        got == data[..LIMIT],
        "slow reader's bytes differ from the upload"
    );
}

/// The same over HTTPS: an HTTP/2 reader and an HTTP/1.1 reader, connected
/// from the start, get exactly the stored bytes and then an incomplete end
/// (`RST_STREAM` / no last chunk).
#[test]
#[cfg_attr(not(target_os = "linux"), ignore = "needs prlimit (util-linux)")]
fn storage_failure_over_tls_gives_every_stored_byte_then_incomplete() {
    let (_dir, cert, key, pem) = self_signed_cert();
    let d = Daemon::builder()
        .own_temp_dir()
        .env("SERVER_CRT_FILE", cert.to_string_lossy())
        .env("SERVER_KEY_FILE", key.to_string_lossy())
        .wrapper(&["prlimit", "--fsize=1048576", "--"])
        .start_process();
    let data = pattern(2 * ONE_MIB, 9);
    let root = reqwest::Certificate::from_pem(pem.as_bytes()).unwrap();
    let mut readers = Vec::new();
    for (h1, version) in [
        (false, reqwest::Version::HTTP_2),
        (true, reqwest::Version::HTTP_11),
    ] {
        let mut b = reqwest::blocking::Client::builder()
            .no_proxy()
            .add_root_certificate(root.clone());
        if h1 {
            b = b.http1_only();
        }
        let resp = b.build().unwrap().get(d.https_url()).send().unwrap();
        assert_eq!(resp.status(), 200);
        assert_eq!(resp.version(), version);
        readers.push((version, std::thread::spawn(move || read_body(resp))));
    }
    let up = curl_upload(&d, &data);
    assert_eq!(up.status, 507, "{up:?}");
    assert_eq!(up.stderr, "", "curl reported an error: {up:?}");
    for (version, reader) in readers {
        let (got, clean) = reader.join().unwrap();
        assert!(!clean, "{version:?} reader ended as if complete");
        assert_eq!(got.len(), ONE_MIB, "{version:?} reader");
        assert!(got == data[..ONE_MIB], "{version:?} reader's bytes differ");
    }
}

// ---------------------------------------------------------------------------
// 3. Malformed uploads.

#[test]
fn bad_chunk_framing_gives_400_and_readers_end_incomplete() {
    let d = Daemon::start_process();
    let early = Streamed::new(client().get(d.get_url()).send().unwrap());

    let mut up = TcpStream::connect(d.put).unwrap();
    up.write_all(b"PUT /log HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n")
        .unwrap();
    up.write_all(b"6\r\nhello\n\r\n").unwrap();
    up.flush().unwrap();
    // The good chunk is stored (the reader has it) before the bad one arrives.
    early.wait_len(6);
    up.write_all(b"zz\r\nmore\r\n").unwrap();
    let (status, body) = common::read_response(&mut up);
    assert_eq!(status, 400, "{body}");
    assert!(body.starts_with("bad request:"), "{body}");

    let end = early.finish();
    let (got, clean) = (end.data, end.complete);
    assert!(!clean, "reader ended cleanly after a malformed chunk");
    assert_eq!(got, b"hello\n");
    let (code, out, _) = curl(&["-sS", &d.get_url()]);
    assert_ne!(code, 0);
    assert_eq!(out, b"hello\n");
    assert_eq!(get_status(&d, "/log/wrong"), 401);
}

#[test]
fn content_length_upload_cut_short_ends_readers_incomplete() {
    for half_close in [true, false] {
        let d = Daemon::start_process();
        let early = Streamed::new(client().get(d.get_url()).send().unwrap());

        let data = pattern(1000, 7);
        let mut up = TcpStream::connect(d.put).unwrap();
        up.write_all(b"PUT /log HTTP/1.1\r\nHost: x\r\nContent-Length: 5000\r\n\r\n")
            .unwrap();
        up.write_all(&data).unwrap();
        up.flush().unwrap();
        // Everything sent is stored (the reader has it) before the client
        // stops.
        early.wait_len(data.len());
        if half_close {
            // The client says it is done sending and waits for a reply: the
            // body is short of its Content-Length, so that reply is a 400.
            up.shutdown(std::net::Shutdown::Write).unwrap();
            let (status, body) = common::read_response(&mut up);
            assert_eq!(status, 400, "{body}");
            assert!(body.starts_with("bad request:"), "{body}");
        }
        // Either way the client goes away.
        drop(up);

        let end = early.finish();
        let (got, clean) = (end.data, end.complete);
        assert!(!clean, "reader ended cleanly after a short upload");
        assert_eq!(got, data);
        let (code, out, _) = curl(&["-sS", &d.get_url()]);
        assert_ne!(code, 0);
        assert_eq!(out, data);
        assert!(d.wait_for_log("upload broke", Duration::from_secs(5)));
    }
}

// ---------------------------------------------------------------------------
// 4. Startup errors: non-zero exit, one stderr line naming the culprit.

/// Runs the daemon expecting it to fail at startup; returns (exit code, the
/// one stderr line).
fn startup_failure(builder: DaemonBuilder) -> (i32, String) {
    let started = Instant::now();
    let (status, stderr) = builder.run_to_exit(Duration::from_secs(5));
    let took = started.elapsed();
    assert!(took < Duration::from_secs(3), "took {took:?} to fail");
    let code = status.code().expect("exited, not killed");
    assert_ne!(code, 0, "stderr: {stderr}");
    let lines: Vec<&str> = stderr.lines().collect();
    assert_eq!(lines.len(), 1, "one stderr line, got: {stderr:?}");
    assert!(lines[0].starts_with("livelog: error: "), "{stderr:?}");
    (code, lines[0].to_owned())
}

#[test]
fn port_in_use_names_the_port_and_listener() {
    let taken = TcpListener::bind("0.0.0.0:0").unwrap();
    let port = taken.local_addr().unwrap().port().to_string();
    for (var, listener) in [
        ("LIVELOG_PUT_PORT", "upload"),
        ("LIVELOG_GET_PORT", "reader"),
    ] {
        let (code, line) = startup_failure(Daemon::builder().env(var, &*port));
        assert_eq!(code, 1);
        assert!(line.contains(&format!("port {port}")), "{line}");
        assert!(line.contains(&format!("{listener} listener")), "{line}");
        assert!(line.contains(var), "{line}");
        assert!(line.to_lowercase().contains("in use"), "{line}");
    }
}

#[test]
fn bad_temp_dirs_are_named() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("a-file");
    std::fs::write(&file, b"x").unwrap();
    let missing = dir.path().join("missing");
    // Root may write anywhere, but not under a regular file.
    let under_file = file.join("sub");
    for bad in [&missing, &under_file, &file] {
        let bad = bad.to_string_lossy();
        let (code, line) = startup_failure(Daemon::builder().env("LIVELOG_TEMP_DIR", &*bad));
        assert_eq!(code, 1);
        assert!(line.contains("LIVELOG_TEMP_DIR"), "{line}");
        assert!(line.contains(&*bad), "{line}");
    }
}

#[test]
fn bad_tls_files_are_named() {
    let (_dir, cert, key, _) = self_signed_cert();
    let (_dir2, _, other_key, _) = self_signed_cert();
    let junk_dir = tempfile::tempdir().unwrap();
    let junk = junk_dir.path().join("junk.pem");
    std::fs::write(&junk, "this is not PEM\n").unwrap();
    let missing = junk_dir.path().join("missing.pem");
    let s = |p: &std::path::Path| p.to_string_lossy().into_owned();

    let cases = [
        (s(&missing), s(&key), "SERVER_CRT_FILE", s(&missing)),
        (s(&cert), s(&missing), "SERVER_KEY_FILE", s(&missing)),
        (s(&junk), s(&key), "SERVER_CRT_FILE", s(&junk)),
        (s(&cert), s(&junk), "SERVER_KEY_FILE", s(&junk)),
        // A certificate where the key should be: PEM, but not a key.
        (s(&cert), s(&cert), "SERVER_KEY_FILE", s(&cert)),
        (s(&cert), s(&other_key), "SERVER_KEY_FILE", s(&other_key)),
    ];
    for (crt, k, var, culprit) in cases {
        let (code, line) = startup_failure(
            Daemon::builder()
                .env("SERVER_CRT_FILE", &*crt)
                .env("SERVER_KEY_FILE", &*k),
        );
        assert_eq!(code, 1);
        assert!(
            line.contains(&format!("{var} {culprit}")),
            "crt={crt} key={k}: {line}"
        );
    }
    // The mismatch says so.
    let (_, line) = startup_failure(
        Daemon::builder()
            .env("SERVER_CRT_FILE", s(&cert))
            .env("SERVER_KEY_FILE", s(&other_key)),
    );
    assert!(line.contains("does not match"), "{line}");
}

#[test]
fn bad_environment_exits_with_its_code() {
    let (code, line) = startup_failure(Daemon::builder().without("ACCESS_TOKEN"));
    assert_eq!(code, 1);
    assert!(line.contains("ACCESS_TOKEN"), "{line}");
    let cases = [
        ("LIVELOG_PUT_PORT", "http", 64),
        ("LIVELOG_PUT_PORT", "70000", 65),
        ("LIVELOG_GET_PORT", "6o023", 66),
        ("LIVELOG_GET_PORT", "-5", 67),
        ("LIVELOG_HEADER_TIMEOUT_SECS", "0", 1),
        ("LIVELOG_MAX_READERS", "many", 1),
        ("LIVELOG_MAX_READERS", "18446744073709551615", 1),
        ("LIVELOG_STALL_TIMEOUT_SECS", "18446744073709551615", 1),
        ("LIVELOG_HEADER_TIMEOUT_SECS", "18446744073709551615", 1),
    ];
    for (var, value, want) in cases {
        let (code, line) = startup_failure(Daemon::builder().env(var, value));
        assert_eq!(code, want, "{var}={value}: {line}");
        assert!(line.contains(var), "{line}");
    }
    // Bad arguments: exit 2.
    let out = Command::new(common::binary())
        .arg("--bogus")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(String::from_utf8_lossy(&out.stderr).lines().count(), 1);
}

// ---------------------------------------------------------------------------
// 5. Odd requests on the reader port (and the upload port).

#[test]
fn odd_requests_get_clean_answers() {
    let d = Daemon::start_process();
    upload_all(&d, b"the log\n");
    let c = client();
    let get = |path: &str| {
        let resp = c.get(format!("http://{}{path}", d.get)).send().unwrap();
        let status = resp.status().as_u16();
        (status, resp.text().unwrap_or_default())
    };

    // Long tokens: refused, never a crash.
    let long = "x".repeat(5000);
    assert_eq!(get(&format!("/log/{long}")).0, 401);
    assert_eq!(get(&format!("/log/{TOKEN}{long}")).0, 401);
    // A path longer than the head cap.
    let reply = raw_exchange(
        d.get,
        &format!(
            "GET /log/{} HTTP/1.1\r\nHost: x\r\n\r\n",
            "y".repeat(100_000)
        )
        .into_bytes(),
    );
    let status = status_of(&reply);
    assert!(
        matches!(status, Some(400 | 414 | 431)),
        "100 KB path: {status:?}"
    );

    // Percent-encoded tokens are compared after decoding.
    assert_eq!(get("/log/%73ecretpuppy"), (200, "the log\n".into()));
    assert_eq!(get("/log/%73%65%63%72%65%74%70%75%70%70%79").0, 200);
    assert_eq!(get("/log/%73ecretpupp").0, 401);
    assert_eq!(get("/log/secretpuppy%00").0, 401);
    assert_eq!(get("/log/secret%2Fpuppy").0, 401);
    // Query strings are ignored for the token check.
    assert_eq!(get(&format!("/log/{TOKEN}?x=1")), (200, "the log\n".into()));
    assert_eq!(get(&format!("/log/wrong?token={TOKEN}")).0, 401);
    assert_eq!(get(&format!("/log?token={TOKEN}")).0, 401);
    // Other paths.
    assert_eq!(get("/").0, 404);
    assert_eq!(get(&format!("/{TOKEN}")).0, 404);
    assert_eq!(get(&format!("/logs/{TOKEN}")).0, 404);

    // Wrong methods.
    let resp = c.put(d.get_url()).body("x").send().unwrap();
    assert_eq!(resp.status(), 405);
    let resp = c.get(d.put_url()).send().unwrap();
    assert_eq!(resp.status(), 405);
    assert_eq!(resp.headers()["allow"], "PUT");
    let resp = c.put(format!("http://{}/other", d.put)).send().unwrap();
    assert_eq!(resp.status(), 404);
    // A second upload.
    let resp = c.put(d.put_url()).body("again").send().unwrap();
    assert_eq!(resp.status(), 409);

    // Still serving the whole log.
    assert_eq!(get(&format!("/log/{TOKEN}")), (200, "the log\n".into()));
}

// ---------------------------------------------------------------------------
// 6. The token never reaches the logs, even at trace level.

#[test]
fn token_never_logged_even_at_trace_level() {
    const WRONG: &str = "guessedtoken42";
    let (_dir, cert, key, pem) = self_signed_cert();
    let tls = Daemon::builder()
        .env("DEBUG", "*")
        .env("RUST_LOG", "trace")
        .env("SERVER_CRT_FILE", cert.to_string_lossy())
        .env("SERVER_KEY_FILE", key.to_string_lossy())
        .start_process();
    let plain = Daemon::builder()
        .env("DEBUG", "*")
        .env("RUST_LOG", "trace")
        .start_process();
    for d in [&tls, &plain] {
        upload_all(d, b"line\n");
    }

    let root = reqwest::Certificate::from_pem(pem.as_bytes()).unwrap();
    let h2 = reqwest::blocking::Client::builder()
        .no_proxy()
        .add_root_certificate(root.clone())
        .build()
        .unwrap();
    let h1 = reqwest::blocking::Client::builder()
        .no_proxy()
        .add_root_certificate(root)
        .http1_only()
        .build()
        .unwrap();
    let base = format!("https://localhost:{}", tls.get.port());
    let mut requests = 0;
    for (client, version) in [
        (&h2, reqwest::Version::HTTP_2),
        (&h1, reqwest::Version::HTTP_11),
    ] {
        for (path, want) in [
            (format!("/log/{TOKEN}"), 200),
            (format!("/log/{WRONG}"), 401),
            (format!("/log/x?token={TOKEN}"), 401),
            (format!("/{WRONG}"), 404),
            (format!("/view/{TOKEN}"), 200),
            (format!("/view/{WRONG}"), 401),
        ] {
            let resp = client.get(format!("{base}{path}")).send().unwrap();
            assert_eq!(resp.version(), version);
            assert_eq!(resp.status(), want, "{path}");
            let _ = resp.bytes();
            requests += 1;
        }
    }
    let plain_client = client();
    for (path, want) in [
        (format!("/log/{TOKEN}"), 200),
        (format!("/log/{WRONG}"), 401),
        (format!("/{TOKEN}"), 404),
    ] {
        let resp = plain_client
            .get(format!("http://{}{path}", plain.get))
            .header("X-Echo", WRONG)
            .send()
            .unwrap();
        assert_eq!(resp.status(), want);
        let _ = resp.bytes();
    }

    // Wait until every request's log line is out, so the check is not vacuous.
    let count = |d: &Daemon| d.stderr().matches(" request ").count();
    wait_until(Duration::from_secs(30), || {
        count(&tls) > requests && count(&plain) > 3
    });
    for d in [&tls, &plain] {
        let log = d.stderr();
        assert!(log.contains("DEBUG") || log.contains("TRACE"), "{log}");
        assert!(log.contains("/log/<redacted>"), "{log}");
        assert!(!log.contains(TOKEN), "the token is in the log:\n{log}");
        assert!(
            !log.contains(WRONG),
            "a guessed token is in the log:\n{log}"
        );
    }
    assert!(count(&tls) > requests, "{}", tls.stderr());
    assert!(
        tls.stderr().contains("/view/<redacted>"),
        "{}",
        tls.stderr()
    );
    assert!(count(&plain) > 3, "{}", plain.stderr());
}

// ---------------------------------------------------------------------------
// 8. Random paths and tokens against the real daemon.

#[test]
fn random_paths_get_clean_answers() {
    use proptest::prelude::*;
    use proptest::test_runner::{Config, TestRunner};

    // Dozens of wrong tokens from one address: the limit on guessing
    // (tested on its own) is off here.
    let mut d = Daemon::builder()
        .env("LIVELOG_MAX_TOKEN_FAILURES", "0")
        .start_process();
    upload_all(&d, b"complete\n");
    let segment = "[A-Za-z0-9%._~!$&'()*+,;=:@/?-]{0,300}";
    let path = prop_oneof![
        segment.prop_map(|s| format!("/log/{s}")),
        segment.prop_map(|s| format!("/{s}")),
        Just(format!("/log/{TOKEN}")),
        segment.prop_map(|s| format!("/log/{TOKEN}?{s}")),
    ];
    let mut runner = TestRunner::new(Config::with_cases(64));
    runner
        .run(&path, |path| {
            let reply = raw_exchange(
                d.get,
                &format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                    .into_bytes(),
            );
            let status = status_of(&reply);
            prop_assert!(
                matches!(status, Some(200 | 400 | 401 | 404 | 414 | 431)),
                "{path}: {status:?}"
            );
            let token = path
                .split('?')
                .next()
                .and_then(|p| p.strip_prefix("/log/"))
                .map(|t| percent_encoding::percent_decode_str(t).collect::<Vec<u8>>());
            if status == Some(200) {
                prop_assert_eq!(token.as_deref(), Some(TOKEN.as_bytes()), "{}", path);
                prop_assert!(reply.ends_with(b"complete\n"));
            } else if token.as_deref() == Some(TOKEN.as_bytes()) {
                prop_assert!(false, "{path}: right token refused with {status:?}");
            }
            Ok(())
        })
        .unwrap();
    assert!(d.child().try_wait().unwrap().is_none(), "the daemon died");
    assert_eq!(get_status(&d, &format!("/log/{TOKEN}")), 200);
}
