//! The Go livelog's own four test cases (taskcluster `tools/livelog`:
//! `TestWrongAccessToken`, `TestWithTls`, `TestSequence`,
//! `TestWriteThenReadToEof`), as integration tests of this binary: the same
//! requests with the same kind of clients (plain HTTP clients, not curl),
//! and the same expectations. `TestWithTls` uses, as the Go test does, an
//! X.509 version 1 certificate (RSA 2048, SHA-1), made here with openssl,
//! and a client that does not verify it. `.ci/run` runs this file against
//! the Windows build under wine too.

use std::io::Read;
use std::process::{Command, Stdio};
use std::time::Duration;

use crate::common::{Daemon, TOKEN};

/// A plain client with no timeouts of its own (as Go's `http.Client{}`).
fn client() -> reqwest::blocking::Client {
    reqwest::blocking::Client::builder()
        .no_proxy()
        .build()
        .unwrap()
}

/// `PUT http://127.0.0.1:<put>/log` with `body`; returns the status code.
fn put(d: &Daemon, body: reqwest::blocking::Body) -> u16 {
    let resp = client()
        .put(format!("http://127.0.0.1:{}/log", d.put.port()))
        .body(body)
        .send()
        .expect("PUT /log");
    resp.status().as_u16()
}

#[test]
fn wrong_access_token() {
    let d = Daemon::builder().own_temp_dir().start_process();
    assert_eq!(put(&d, "hi".into()), 201);
    let resp = client()
        .get(format!(
            "http://127.0.0.1:{}/log/not-the-token",
            d.get.port()
        ))
        .send()
        .unwrap();
    assert_eq!(resp.status().as_u16(), 401);
}

#[test]
fn with_tls_and_a_version_1_certificate() {
    let dir = tempfile::tempdir().unwrap();
    let run = |args: &[&str]| {
        let out = Command::new("openssl")
            .args(args)
            .current_dir(dir.path())
            .stdin(Stdio::null())
            .output()
            .expect("openssl is installed");
        assert!(out.status.success(), "openssl {args:?}: {out:?}");
    };
    // Version 1 (no extensions), RSA 2048, SHA-1: the kind of certificate
    // the Go livelog's test serves.
    run(&["genrsa", "-out", "server.key", "2048"]);
    run(&[
        "req",
        "-new",
        "-key",
        "server.key",
        "-subj",
        "/CN=localhost",
        "-out",
        "server.csr",
    ]);
    run(&[
        "x509",
        "-req",
        "-in",
        "server.csr",
        "-signkey",
        "server.key",
        "-sha1",
        "-days",
        "2",
        "-out",
        "server.crt",
    ]);
    let d = Daemon::builder()
        .env(
            "SERVER_CRT_FILE",
            dir.path().join("server.crt").to_string_lossy(),
        )
        .env(
            "SERVER_KEY_FILE",
            dir.path().join("server.key").to_string_lossy(),
        )
        .own_temp_dir()
        .start_process();

    let contents = "a\nshort\nlog\nover\nTLS";
    assert_eq!(put(&d, contents.into()), 201);
    // The Go test's client skips verification, as this one does.
    let insecure = reqwest::blocking::Client::builder()
        .no_proxy()
        .danger_accept_invalid_certs(true)
        .build()
        .unwrap();
    let resp = insecure
        .get(format!("https://localhost:{}/log/{TOKEN}", d.get.port()))
        .send()
        .expect("GET over TLS");
    assert_eq!(resp.status().as_u16(), 200);
    assert_eq!(resp.text().unwrap(), contents);
}

/// A body read in pieces of at most one chunk, each after a short pause, so
/// the upload streams while the reader reads (the Go test's `ChunkReader`).
struct SlowChunks {
    chunks: Vec<Vec<u8>>,
    next: usize,
    offset: usize,
}

impl Read for SlowChunks {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let Some(chunk) = self.chunks.get(self.next) else {
            return Ok(0);
        };
        std::thread::sleep(Duration::from_micros(200));
        let n = (chunk.len() - self.offset).min(buf.len());
        buf[..n].copy_from_slice(&chunk[self.offset..self.offset + n]);
        self.offset += n;
        if self.offset == chunk.len() {
            self.next += 1;
            self.offset = 0;
        }
        Ok(n)
    }
}

#[test]
fn sequence() {
    let d = Daemon::builder().own_temp_dir().start_process();
    let text = "The quick brown fox jumps over the lazy dog, again and again, \
                while the log keeps growing line by line for every reader who waits.";
    let chunks: Vec<Vec<u8>> = (0..5000)
        .map(|i| format!("{i}|{text}\n").into_bytes())
        .collect();
    let expected: Vec<u8> = chunks.concat();

    let put_port = d.put.port();
    let writer = std::thread::spawn(move || {
        let body = reqwest::blocking::Body::new(SlowChunks {
            chunks,
            next: 0,
            offset: 0,
        });
        client()
            .put(format!("http://127.0.0.1:{put_port}/log"))
            .body(body)
            .send()
            .expect("PUT /log")
            .status()
            .as_u16()
    });
    // Read while the writer writes, until the end of the log.
    let resp = client()
        .get(format!("http://127.0.0.1:{}/log/{TOKEN}", d.get.port()))
        .send()
        .expect("GET");
    assert_eq!(resp.status().as_u16(), 200);
    let got = resp.bytes().expect("the whole log").to_vec();
    assert_eq!(writer.join().unwrap(), 201);
    assert_eq!(got.len(), expected.len());
    assert!(got == expected, "the log read differs from the log written");
}

#[test]
fn write_then_read_to_eof() {
    let d = Daemon::builder().own_temp_dir().start_process();
    let contents = "a\nshort\nlog\nread\nto the end";
    assert_eq!(put(&d, contents.into()), 201);
    let resp = client()
        .get(format!("http://127.0.0.1:{}/log/{TOKEN}", d.get.port()))
        .send()
        .unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    assert_eq!(resp.text().unwrap(), contents);
}
