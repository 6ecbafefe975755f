//! The core contract: one upload streamed live to token-checked
//! readers, over real sockets. (A missing token's exit, the temp file after
//! SIGKILL and SIGTERM are `tests/process/core.rs`.)

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use crate::common::{
    CurlReader, Daemon, SOON, Streamed, TOKEN, UploadFrom, Uploader, client, curl, curl_upload,
    pattern, read_body, read_complete, read_response, self_signed_cert, wait_until,
};

#[test]
fn write_then_read_with_curl() {
    let d = Daemon::start();
    let data = pattern(300_000, 1);
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("log.bin");
    std::fs::write(&file, &data).unwrap();

    let up = curl_upload(&d.put_url(), &file, UploadFrom::File);
    assert_eq!(up.code, 0, "{}", up.stderr);
    assert!(
        up.body.starts_with("created: stored 300000 bytes"),
        "{}",
        up.body
    );

    let resp = client().get(d.get_url()).send().unwrap();
    assert_eq!(resp.status(), 200);
    let h = resp.headers();
    assert_eq!(h["content-type"], "text/plain; charset=utf-8");
    assert_eq!(
        h["content-length"], "300000",
        "a completed log has a length"
    );
    assert_eq!(h["access-control-allow-origin"], "*");
    let exposed = h["access-control-expose-headers"]
        .to_str()
        .unwrap()
        .to_owned();
    for name in ["Content-Length", "Content-Range", "Accept-Ranges"] {
        assert!(exposed.contains(name), "{exposed}");
    }
    assert_eq!(read_complete(resp), data);

    // The daemon's request line says the read was complete.
    let needle = "method=GET path=/log/<redacted> status=200 bytes=300000";
    assert!(
        d.wait_for_log(needle, Duration::from_secs(5)),
        "{}",
        d.stderr()
    );
    let stderr = d.stderr();
    let line = stderr.lines().find(|l| l.contains(needle)).unwrap();
    assert!(line.contains("outcome=\"complete\""), "{line}");
}

#[test]
fn upload_with_content_length_and_expect_continue() {
    let d = Daemon::start();
    let data = pattern(10_000, 2);
    let mut s = TcpStream::connect(d.put).unwrap();
    write!(
        s,
        "PUT /log HTTP/1.1\r\nHost: x\r\nContent-Length: {}\r\nExpect: 100-continue\r\n\r\n",
        data.len()
    )
    .unwrap();
    // The server must invite the body before we send it.
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut line = String::new();
    let mut r = BufReader::new(s.try_clone().unwrap());
    r.read_line(&mut line).unwrap();
    assert!(line.starts_with("HTTP/1.1 100"), "{line:?}");
    let mut blank = String::new();
    r.read_line(&mut blank).unwrap();
    assert_eq!(blank, "\r\n");
    s.write_all(&data).unwrap();
    drop(r);
    let (status, body) = read_response(&mut s);
    assert_eq!(status, 201, "{body}");
    assert_eq!(
        read_complete(client().get(d.get_url()).send().unwrap()),
        data
    );
}

#[test]
fn five_thousand_paced_chunks_reach_concurrent_readers_exactly() {
    let d = Daemon::start();
    let chunks: Vec<Vec<u8>> = (0..5000)
        .map(|i| format!("chunk {i:05} {}\n", "x".repeat(i % 97)).into_bytes())
        .collect();
    let want: Vec<u8> = chunks.concat();

    // Each reader has its response head before the upload starts (a log
    // not yet begun answers at once), so all four read it live.
    let readers: Vec<_> = (0..4)
        .map(|_| {
            let resp = client().get(d.get_url()).send().unwrap();
            assert_eq!(resp.status(), 200);
            Streamed::new(resp)
        })
        .collect();
    let mut up = Uploader::start(d.put);
    for (i, c) in chunks.iter().enumerate() {
        up.chunk(c);
        if i % 50 == 0 {
            // Pacing on purpose, not synchronisation: the readers see the
            // log grow in many small steps rather than in one burst.
            thread::sleep(Duration::from_millis(1));
        }
    }
    let (status, _) = up.finish();
    assert_eq!(status, 201);
    for r in readers {
        let end = r.finish();
        assert!(end.complete, "complete response");
        let got = end.data;
        assert_eq!(got.len(), want.len());
        assert!(got == want, "bytes differ");
    }
}

#[test]
fn wrong_or_missing_token_is_denied() {
    let d = Daemon::start();
    let c = client();
    for path in [
        "/log/wrong",
        "/log/",
        "/log",
        "/log/secretpuppyx",
        "/log/secretpupp",
    ] {
        let resp = c.get(format!("http://{}{path}", d.get)).send().unwrap();
        assert_eq!(resp.status(), 401, "{path}");
        assert_eq!(resp.text().unwrap(), "Access denied\n", "{path}");
    }
    let resp = c.get(format!("http://{}/other", d.get)).send().unwrap();
    assert_eq!(resp.status(), 404);
    let resp = c.put(d.get_url()).body("x").send().unwrap();
    assert_eq!(resp.status(), 405);
    let resp = c.post(d.get_url()).body("x").send().unwrap();
    assert_eq!(resp.status(), 405);
}

#[test]
fn upload_port_routes_and_methods() {
    let d = Daemon::start();
    let c = client();
    let resp = c.get(d.put_url()).send().unwrap();
    assert_eq!(resp.status(), 405);
    assert_eq!(resp.headers()["allow"], "PUT");
    let resp = c
        .put(format!("http://{}/other", d.put))
        .body("x")
        .send()
        .unwrap();
    assert_eq!(resp.status(), 404);
    // Neither touched the log: the one upload is still available.
    let resp = c.put(d.put_url()).body("hello\n").send().unwrap();
    assert_eq!(resp.status(), 201);
    assert_eq!(
        c.get(d.get_url()).send().unwrap().text().unwrap(),
        "hello\n"
    );
}

#[test]
fn reader_before_upload_waits_then_streams() {
    let d = Daemon::start();
    // The head comes at once, before any upload exists.
    let resp = client().get(d.get_url()).send().unwrap();
    assert_eq!(resp.status(), 200);
    assert!(resp.headers().get("content-length").is_none());
    let reader = Streamed::new(resp);
    assert!(!reader.is_finished(), "the reader waits for the upload");
    let mut up = Uploader::start(d.put);
    up.chunk(b"first\n");
    // It waited: it gets the first line, uploaded after it connected, and
    // stays open while the upload does.
    reader.wait_len(6);
    assert!(!reader.is_finished(), "the reader waits for the upload");
    up.chunk(b"second\n");
    assert_eq!(up.finish().0, 201);
    let end = reader.finish();
    assert!(end.complete, "complete response");
    assert_eq!(end.data, b"first\nsecond\n");
}

#[test]
fn second_upload_conflicts_and_leaves_the_first_untouched() {
    let d = Daemon::start();
    let mut up = Uploader::start(d.put);
    up.chunk(b"one\n");
    let c = client();
    let resp = c.put(d.put_url()).body("intruder\n").send().unwrap();
    assert_eq!(resp.status(), 409);
    let reason = resp.text().unwrap();
    assert!(reason.contains("in progress"), "{reason}");
    assert_eq!(reason.lines().count(), 1);
    up.chunk(b"two\n");
    assert_eq!(up.finish().0, 201);
    let resp = c.put(d.put_url()).body("late\n").send().unwrap();
    assert_eq!(resp.status(), 409);
    assert_eq!(
        c.get(d.get_url()).send().unwrap().text().unwrap(),
        "one\ntwo\n"
    );
}

#[test]
fn aborted_upload_ends_every_reader_incomplete() {
    let d = Daemon::start();
    // An early reader, with curl as a user would run it: it has its
    // response head before the upload starts.
    let early = CurlReader::spawn(&["-sN", &d.get_url()]);
    early.wait_head();
    let mut up = Uploader::start(d.put);
    up.chunk(b"partial line 1\n");
    up.chunk(b"partial line 2\n");
    // Both lines reached it before the upload breaks.
    early.out.wait_len(30);
    up.abort();
    let (code, out) = early.finish();
    assert_ne!(code, 0, "curl must see the log as incomplete");
    assert_eq!(out, b"partial line 1\npartial line 2\n");

    // A later reader gets the stored bytes and the same incomplete end.
    let (code, out, _) = curl(&["-sN", "--max-time", "10", &d.get_url()]);
    assert_ne!(code, 0);
    assert_ne!(code, 28, "must end at once, not hang");
    assert_eq!(out, b"partial line 1\npartial line 2\n");
    let resp = client().get(d.get_url()).send().unwrap();
    assert!(resp.headers().get("content-length").is_none());
    let (_, complete) = read_body(resp);
    assert!(!complete);
    // And the daemon stays up.
    let resp = client()
        .get(format!("http://{}/log/nope", d.get))
        .send()
        .unwrap();
    assert_eq!(resp.status(), 401);
}

#[test]
fn token_never_appears_in_logs() {
    let d = Daemon::builder().env("DEBUG", "*").start();
    let c = client();
    c.put(d.put_url()).body("log\n").send().unwrap();
    c.get(d.get_url()).send().unwrap().text().unwrap();
    c.get(format!("http://{}/log/{TOKEN}-guess", d.get))
        .send()
        .unwrap();
    c.get(format!("http://{}/{TOKEN}", d.get)).send().unwrap();
    // Every request's line is out (the checks below are not vacuous).
    assert!(d.wait_for_log("status=200", SOON), "{}", d.stderr());
    assert!(d.wait_for_log("status=401", Duration::from_secs(5)));
    assert!(d.wait_for_log("/<redacted>", Duration::from_secs(5)));
    let logs = d.stderr();
    assert!(logs.contains("/log/<redacted>"), "{logs}");
    assert!(!logs.contains(TOKEN), "{logs}");
}

fn tls_daemon() -> (Daemon, tempfile::TempDir, std::path::PathBuf, String) {
    let (dir, cert, key, cert_pem) = self_signed_cert();
    let d = Daemon::builder()
        .env("SERVER_CRT_FILE", cert.to_str().unwrap())
        .env("SERVER_KEY_FILE", key.to_str().unwrap())
        .start();
    (d, dir, cert, cert_pem)
}

#[test]
fn get_over_tls_http1_and_http2() {
    let (d, _dir, cert, cert_pem) = tls_daemon();
    assert!(d.stderr().contains("tls=on"), "{}", d.stderr());
    let data = pattern(200_000, 5);
    assert_eq!(
        client()
            .put(d.put_url())
            .body(data.clone())
            .send()
            .unwrap()
            .status(),
        201
    );
    let root = reqwest::Certificate::from_pem(cert_pem.as_bytes()).unwrap();
    let tls_client = |h2: bool| {
        let b = reqwest::blocking::Client::builder()
            .no_proxy()
            .add_root_certificate(root.clone())
            .resolve("localhost", d.get);
        let b = if h2 {
            b.http2_prior_knowledge()
        } else {
            b.http1_only()
        };
        b.build().unwrap()
    };
    for h2 in [false, true] {
        let resp = tls_client(h2).get(d.https_url()).send().unwrap();
        assert_eq!(resp.status(), 200);
        let want = if h2 {
            reqwest::Version::HTTP_2
        } else {
            reqwest::Version::HTTP_11
        };
        assert_eq!(resp.version(), want);
        assert_eq!(read_complete(resp), data);
    }
    // curl negotiates HTTP/2 by ALPN, as a browser would.
    let port = d.get.port().to_string();
    let (code, out, err) = curl(&[
        "-sS",
        "--http2",
        "--cacert",
        cert.to_str().unwrap(),
        "--resolve",
        &format!("localhost:{port}:127.0.0.1"),
        "-w",
        "%{http_version}",
        "-o",
        "/dev/null",
        &d.https_url(),
    ]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(String::from_utf8_lossy(&out), "2");
    // Plain HTTP on the TLS port is refused, not served, and told why (as
    // Go's net/http tells it).
    let resp = client().get(d.get_url()).send().unwrap();
    assert_eq!(resp.status(), 400);
    assert_eq!(
        resp.text().unwrap(),
        "Client sent an HTTP request to an HTTPS server.\n"
    );
}

#[test]
fn live_http2_reader_is_incomplete_when_upload_breaks() {
    let (d, _dir, cert, _) = tls_daemon();
    let mut up = Uploader::start(d.put);
    up.chunk(b"line\n");
    let port = d.get.port().to_string();
    let reader = CurlReader::spawn(&[
        "-sN",
        "--http2",
        "--cacert",
        cert.to_str().unwrap(),
        "--resolve",
        &format!("localhost:{port}:127.0.0.1"),
        &d.https_url(),
    ]);
    // The reader is live: it has the line uploaded so far.
    reader.out.wait_len(5);
    up.abort();
    let (code, out) = reader.finish();
    assert_eq!(out, b"line\n");
    assert_ne!(code, 0);
}

/// The README's three-terminal example: a `curl -T -` upload fed by a
/// shell loop, and a `curl -N` reader that sees each line as it is written
/// and exits 0 at the end.
///
/// README: `(for i in $(seq 1 500); do echo "Log line $i"; sleep 1; done) | curl -T - …`,
/// shortened to 8 lines. Instead of `sleep`, the loop writes line i+1 only
/// once the reader has shown line i (the test then sends a line to the
/// loop's stdin): each line must arrive while the next one is not even
/// written. A daemon (or curl) that held lines back would stall the loop and
/// fail here after 30 s, however busy the machine; no bound on how fast a
/// line travels is assumed.
#[test]
#[cfg_attr(windows, ignore = "runs a README block with bash")]
fn readme_example_streams_each_line_as_written() {
    let d = Daemon::start();
    let reader = CurlReader::spawn(&["-sN", &d.get_url()]);
    reader.wait_head();
    // When the loop was let go to write the line the reader waits for.
    let mut released = Instant::now();
    let mut writer = Command::new("bash")
        .args([
            "-c",
            &format!(
                "(for i in $(seq 1 8); do echo \"Log line $i\"; read -r _; done) | curl -sS -T - {}",
                d.put_url()
            ),
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut next = writer.stdin.take().unwrap();
    let mut want = String::new();
    for i in 1..=8 {
        // Line i is being written now; line i+1 is not.
        want.push_str(&format!("Log line {i}\n"));
        let arrived = wait_until(SOON, || reader.out.len() >= want.len());
        let got = String::from_utf8_lossy(&reader.out.bytes()).into_owned();
        assert!(
            arrived,
            "line {i} did not arrive within {SOON:?} of being written; the reader has {got:?}"
        );
        assert_eq!(got, want, "after line {i}");
        eprintln!("line {i} arrived within {:?}", released.elapsed());
        released = Instant::now();
        writeln!(next).unwrap();
    }
    drop(next);
    let status = writer.wait().unwrap();
    assert!(status.success());
    let mut reply = String::new();
    writer
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut reply)
        .unwrap();
    assert!(reply.starts_with("created: stored"), "{reply}");
    let (code, _) = reader.finish();
    assert_eq!(code, 0, "the reading curl exits 0");
}
