//! Connections: answers to requests hyper refuses, plain HTTP on
//! the HTTPS port, every stored byte ahead of an incomplete end, the token
//! on every port, and connections that never make a request. Real sockets;
//! the connection cap, a full disk and a quick stop on SIGTERM are
//! `tests/process/connections.rs`.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::thread;
use std::time::{Duration, Instant};

use crate::common::{
    Daemon, TOKEN, Uploader, curl, pattern, raw_exchange, self_signed_cert, wait_until,
};

const MIB: usize = 1024 * 1024;

/// Sends `request` and returns the raw reply as text.
fn exchange(addr: SocketAddr, request: &[u8]) -> String {
    String::from_utf8_lossy(&raw_exchange(addr, request)).into_owned()
}

/// Splits a raw HTTP/1.x reply into (status, head, body).
fn parse_reply(reply: &str) -> (u16, String, String) {
    let (head, body) = reply.split_once("\r\n\r\n").unwrap_or((reply, ""));
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no status in {reply:?}"));
    (status, head.to_ascii_lowercase(), body.to_owned())
}

/// A reply whose body is one line saying why, with a matching length.
fn assert_one_line_reason(reply: &str, status: u16, starts: &str) {
    let (got, head, body) = parse_reply(reply);
    assert_eq!(got, status, "{reply}");
    assert!(body.starts_with(starts), "{reply}");
    assert!(
        body.ends_with('\n') && body.matches('\n').count() == 1,
        "{reply}"
    );
    assert!(
        head.contains(&format!("content-length: {}", body.len())),
        "{reply}"
    );
}

#[test]
fn requests_hyper_refuses_get_a_one_line_reason_and_a_log_line() {
    let d = Daemon::start();
    for (addr, listener) in [(d.get, "reader"), (d.put, "upload")] {
        let reply = exchange(addr, b"GARBAGE /log HTTP/1.1 extra\r\n\r\n");
        assert_one_line_reason(&reply, 400, "bad request: ");

        let big = format!(
            "GET /log/{TOKEN} HTTP/1.1\r\nHost: x\r\nX-Big: {}\r\n\r\n",
            "a".repeat(70 * 1024)
        );
        let reply = exchange(addr, big.as_bytes());
        assert_one_line_reason(&reply, 431, "request header fields too large: ");

        for status in ["status=400", "status=431"] {
            let line = format!("listener=\"{listener}\" method=- path=- {status}");
            assert!(
                d.wait_for_log(&line, Duration::from_secs(5)),
                "no line {line:?}:\n{}",
                d.stderr()
            );
        }
    }
    assert!(!d.stderr().contains(TOKEN));
}

#[test]
fn plain_http_sent_to_the_https_port_is_told_so() {
    let (_dir, cert, key, _) = self_signed_cert();
    let d = Daemon::builder()
        .env("SERVER_CRT_FILE", cert.to_str().unwrap())
        .env("SERVER_KEY_FILE", key.to_str().unwrap())
        .start();
    let (code, out, err) = curl(&["-sS", "-w", "\n%{http_code}", &d.get_url()]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(
        String::from_utf8_lossy(&out),
        "Client sent an HTTP request to an HTTPS server.\n\n400"
    );
    assert!(
        d.wait_for_log("Client sent an HTTP request", Duration::from_secs(5)),
        "{}",
        d.stderr()
    );
    // HTTPS on the same port still works.
    let (code, _, err) = curl(&[
        "-sS",
        "-k",
        "-I",
        "--resolve",
        &format!("localhost:{}:127.0.0.1", d.get.port()),
        &d.https_url(),
    ]);
    assert_eq!(code, 0, "{err}");
}

/// Reads the body of a chunked HTTP/1.1 response at `rate` bytes a second;
/// returns the data and whether the last chunk arrived.
fn read_chunked_slowly(mut s: TcpStream, rate: usize) -> (Vec<u8>, bool) {
    s.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
    let mut raw = Vec::new();
    let mut buf = [0u8; 4096];
    let started = Instant::now();
    loop {
        match s.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => raw.extend_from_slice(&buf[..n]),
        }
        // Pacing on purpose: a slow reader, not synchronisation.
        let due = Duration::from_secs_f64(raw.len() as f64 / rate as f64);
        if let Some(wait) = due.checked_sub(started.elapsed()) {
            thread::sleep(wait);
        }
    }
    let at = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("a response head");
    assert!(raw.starts_with(b"HTTP/1.1 200"), "{:?}", &raw[..at]);
    let mut rest = &raw[at + 4..];
    let mut data = Vec::new();
    loop {
        let Some(eol) = rest.windows(2).position(|w| w == b"\r\n") else {
            return (data, false);
        };
        let size = usize::from_str_radix(std::str::from_utf8(&rest[..eol]).unwrap(), 16).unwrap();
        if size == 0 {
            return (data, true);
        }
        let chunk = &rest[eol + 2..];
        if chunk.len() < size {
            data.extend_from_slice(chunk);
            return (data, false);
        }
        data.extend_from_slice(&chunk[..size]);
        rest = &chunk[(size + 2).min(chunk.len())..];
    }
}

/// A reader with a 4 KiB receive buffer, reading 200 KB/s, gets every byte
/// of a 1 MiB log whose upload then breaks, then the incomplete end (no
/// last chunk): the failure waits for hyper's buffered bytes to be sent.
#[test]
fn a_slow_reader_gets_every_stored_byte_before_the_incomplete_end() {
    slow_reader_gets_every_stored_byte(MIB, 200_000);
}

fn slow_reader_gets_every_stored_byte(size: usize, rate: usize) {
    let d = Daemon::start();
    let data = pattern(size, 21);
    let socket = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
    socket.set_recv_buffer_size(4096).unwrap();
    socket.connect(&d.get.into()).unwrap();
    let mut reader: TcpStream = socket.into();
    write!(reader, "GET /log/{TOKEN} HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
    let reading = thread::spawn(move || read_chunked_slowly(reader, rate));

    // Small chunks, as a log written line by line: the reader's response
    // is then many small chunks, several of which hyper buffers at a time.
    let mut up = Uploader::start(d.put);
    for piece in data.chunks(4000) {
        up.chunk(piece);
    }
    // Stored (a ranged read of the last byte answers at once), then broken.
    let last = format!("{}-{}", size - 1, size - 1);
    let (code, out, _) = curl(&["-s", "-r", &last, &d.get_url()]);
    assert_eq!((code, out.as_slice()), (0, &data[size - 1..]));
    up.abort();

    let (got, complete) = reading.join().unwrap();
    assert!(!complete, "a broken upload must not end complete");
    assert!(
        got == data,
        "got {} of {} bytes before the end",
        got.len(),
        data.len()
    );
}

/// The same with a log larger than the kernel's largest send buffer
/// (`tcp_wmem`, 4 MiB by default), so that hyper still holds bytes of its
/// own when the upload breaks: how many depends on where the last chunks
/// fall in hyper's buffering, so three rounds (without the mechanism, each
/// round loses bytes about three times in four).
#[test]
fn a_slow_reader_of_a_big_log_gets_every_stored_byte_before_the_incomplete_end() {
    for _ in 0..3 {
        slow_reader_gets_every_stored_byte(12 * MIB, 6_000_000);
    }
}

/// The same over HTTP/2: the stream is reset only after every stored byte.
#[test]
fn a_slow_http2_reader_gets_every_stored_byte_before_the_reset() {
    let (_dir, cert, key, cert_pem) = self_signed_cert();
    let d = Daemon::builder()
        .env("SERVER_CRT_FILE", cert.to_str().unwrap())
        .env("SERVER_KEY_FILE", key.to_str().unwrap())
        .start();
    let data = pattern(MIB, 22);
    let client = reqwest::blocking::Client::builder()
        .no_proxy()
        .add_root_certificate(reqwest::Certificate::from_pem(cert_pem.as_bytes()).unwrap())
        .resolve("localhost", d.get)
        .http2_prior_knowledge()
        .http2_initial_stream_window_size(16 * 1024)
        .http2_initial_connection_window_size(16 * 1024)
        .build()
        .unwrap();
    let mut resp = client.get(d.https_url()).send().unwrap();
    assert_eq!(resp.version(), reqwest::Version::HTTP_2);

    let mut up = Uploader::start(d.put);
    for piece in data.chunks(64 * 1024) {
        up.chunk(piece);
    }
    let last = format!("{}-{}", MIB - 1, MIB - 1);
    let (code, out, _) = curl(&[
        "-sk",
        "-r",
        &last,
        "--resolve",
        &format!("localhost:{}:127.0.0.1", d.get.port()),
        &d.https_url(),
    ]);
    assert_eq!((code, out.as_slice()), (0, &data[MIB - 1..]));
    up.abort();

    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    let started = Instant::now();
    let end = loop {
        match resp.read(&mut buf) {
            Ok(0) => break Ok(()),
            Ok(n) => got.extend_from_slice(&buf[..n]),
            Err(e) => break Err(e),
        }
        // Pacing on purpose (200 KB/s), not synchronisation.
        let due = Duration::from_secs_f64(got.len() as f64 / 200_000.0);
        if let Some(wait) = due.checked_sub(started.elapsed()) {
            thread::sleep(wait);
        }
    };
    assert!(end.is_err(), "a broken upload must not end complete");
    assert!(
        got == data,
        "got {} of {} bytes before the reset",
        got.len(),
        data.len()
    );
}

/// The token, sent to both ports with every method, in the path, the query
/// and headers (and in requests hyper refuses), never reaches the log, even
/// at trace level; every request is logged, so the check is not vacuous.
#[test]
fn the_token_sent_anywhere_never_reaches_the_log() {
    let d = Daemon::builder()
        .env("DEBUG", "1")
        .env("RUST_LOG", "trace")
        .start();
    let mut sent = 0;
    for addr in [d.put, d.get] {
        for method in ["GET", "HEAD", "PUT", "POST", "DELETE", "OPTIONS", "PATCH"] {
            for target in [
                format!("/log/{TOKEN}"),
                format!("/view/{TOKEN}"),
                format!("/{TOKEN}"),
                format!("/log?token={TOKEN}"),
                format!("/x/{TOKEN}/y?{TOKEN}"),
            ] {
                let body = if method == "PUT" || method == "POST" {
                    "content-length: 0\r\n"
                } else {
                    ""
                };
                let request = format!(
                    "{method} {target} HTTP/1.1\r\nHost: {TOKEN}\r\nAuthorization: Bearer {TOKEN}\r\nCookie: t={TOKEN}\r\nX-Token: {TOKEN}\r\n{body}connection: close\r\n\r\n"
                );
                exchange(addr, request.as_bytes());
                sent += 1;
            }
        }
        // Refused by hyper before livelog sees a request.
        exchange(
            addr,
            format!("G@T /log/{TOKEN} HTTP/1.1\r\n\r\n").as_bytes(),
        );
        let big = format!("GET /{TOKEN} HTTP/1.1\r\nX: {}\r\n\r\n", "a".repeat(70_000));
        exchange(addr, big.as_bytes());
        sent += 2;
    }
    let count = || d.stderr().matches(" request ").count();
    assert!(
        wait_until(Duration::from_secs(10), || count() >= sent),
        "{} of {sent} request lines:\n{}",
        count(),
        d.stderr()
    );
    let log = d.stderr();
    assert!(log.contains("TRACE") || log.contains("DEBUG"), "{log}");
    assert!(!log.contains(TOKEN), "the token is in the log:\n{log}");
}

/// Connections that never make a request are logged at debug level, each
/// with why it ended: closed by the client, a header timeout, a failed or
/// slow TLS handshake. (Each is a line an operator can count.)
#[test]
fn connections_without_a_request_get_a_debug_line() {
    let d = Daemon::builder()
        .env("DEBUG", "1")
        .env("LIVELOG_HEADER_TIMEOUT_SECS", "1")
        .start();
    drop(TcpStream::connect(d.get).unwrap());
    assert!(
        d.wait_for_log(
            "connection closed before a request",
            Duration::from_secs(10)
        ),
        "{}",
        d.stderr()
    );
    let mut slow = TcpStream::connect(d.put).unwrap();
    slow.write_all(b"PUT /log HTTP/1.1\r\n").unwrap();
    assert!(
        d.wait_for_log(
            "no complete request head within the header timeout",
            Duration::from_secs(10)
        ),
        "{}",
        d.stderr()
    );

    let (_dir, cert, key, _) = self_signed_cert();
    let tls = Daemon::builder()
        .env("DEBUG", "1")
        .env("LIVELOG_HEADER_TIMEOUT_SECS", "1")
        .env("SERVER_CRT_FILE", cert.to_str().unwrap())
        .env("SERVER_KEY_FILE", key.to_str().unwrap())
        .start();
    // Not a TLS record, not an HTTP request: the handshake fails.
    exchange(tls.get, b"\x16\x03\x01\x00\x05hello");
    assert!(
        tls.wait_for_log("TLS handshake failed", Duration::from_secs(10)),
        "{}",
        tls.stderr()
    );
    let _silent = TcpStream::connect(tls.get).unwrap();
    assert!(
        tls.wait_for_log("TLS handshake timed out", Duration::from_secs(10)),
        "{}",
        tls.stderr()
    );
    drop(slow);
}
