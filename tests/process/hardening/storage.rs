//! Storage and upload faults: a full disk (a file-size limit) answers `507`
//! and ends readers incomplete after every stored byte (bursty readers and
//! TLS included); bad chunk framing and a `Content-Length` upload cut short
//! end readers incomplete.

use super::*;

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
