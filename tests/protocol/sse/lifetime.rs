//! How an event stream lives and ends: heartbeats on a silent log, the
//! end of a broken upload, reader slots, HTTP/2 over TLS, the stall timeout
//! on HTTP/1.1 and HTTP/2, and a stop request.

use super::*;

/// `LIVELOG_HEARTBEAT_SECS=1`: a silent stream gets `: heartbeat` comments,
/// before the upload and between lines, and they are whole comment lines
/// between events.
#[test]
fn heartbeats_keep_a_silent_stream_open() {
    let d = Daemon::builder().env("LIVELOG_HEARTBEAT_SECS", "1").start();
    let reader = sse_reader(&d.get_url(), &[]);
    reader.wait_head();
    let beats = |r: &CurlReader| {
        String::from_utf8_lossy(&r.out.bytes())
            .matches(": heartbeat\n\n")
            .count()
    };
    assert!(
        wait_until(SOON, || beats(&reader) >= 2),
        "no heartbeats before the upload: {:?}",
        String::from_utf8_lossy(&reader.out.bytes())
    );
    let mut up = Uploader::start(d.put);
    up.chunk(b"a line\n");
    wait_for_output(&reader, "id: 7\n");
    let before = beats(&reader);
    assert!(
        wait_until(SOON, || beats(&reader) >= before + 2),
        "no heartbeats while the upload is quiet"
    );
    up.chunk(b"another\n");
    assert_eq!(up.finish().0, 201);
    let (code, out) = reader.finish();
    assert_eq!(code, 0);
    let s = parse(&out);
    assert!(s.comments.len() >= 4, "{:?}", s.comments);
    assert!(
        s.comments.iter().all(|c| c == "heartbeat"),
        "{:?}",
        s.comments
    );
    assert_eq!(s.text(), "a line\nanother\n");

    // The period is bounded like the other timeouts.
    for bad in ["0", "x", "31536001"] {
        let (status, err) = Daemon::builder()
            .env("LIVELOG_HEARTBEAT_SECS", bad)
            .run_to_exit(Duration::from_secs(10));
        assert_eq!(status.code(), Some(1), "{bad}: {err}");
        assert!(err.contains("LIVELOG_HEARTBEAT_SECS"), "{err}");
        assert_eq!(err.trim().lines().count(), 1, "{err}");
    }
}

/// A broken upload ends the stream with `"complete": false` and the stored
/// length, and a clean end of the response (curl exits 0): the end event,
/// not the HTTP framing, says the log is incomplete. A raw reader of the
/// same upload still ends incomplete.
#[test]
fn a_broken_upload_ends_the_stream_cleanly_with_an_incomplete_end_event() {
    let d = Daemon::start();
    let sse = sse_reader(&d.get_url(), &[]);
    let raw = CurlReader::spawn(&["-sS", "-N", &d.get_url()]);
    sse.wait_head();
    raw.wait_head();
    let mut up = Uploader::start(d.put);
    up.chunk(b"the first line\n");
    up.chunk(b"and half a");
    wait_for_output(&sse, "id: 25\n");
    up.abort();
    let (code, out) = sse.finish();
    assert_eq!(code, 0, "the event stream ends cleanly");
    let s = parse(&out);
    assert_eq!(s.text(), "the first line\nand half a");
    assert_eq!(s.end(), Some(json!({"complete": false, "length": 25})));
    let (code, out) = raw.finish();
    assert_ne!(code, 0, "the raw reader ends incomplete");
    assert_eq!(out, b"the first line\nand half a");

    // Reconnecting afterwards gets the same end at once.
    let (status, headers, body) =
        exchange(&["-H", ACCEPT, "-H", "Last-Event-ID: 25", &d.get_url()]);
    assert_eq!(status, 200);
    assert_eq!(header(&headers, "livelog-state"), Some("incomplete"));
    let s = parse(&body);
    assert!(s.logs().is_empty());
    assert_eq!(s.end(), Some(json!({"complete": false, "length": 25})));
    assert!(d.wait_for_log("status=200", SOON));
}

/// An SSE reader takes a reader slot (`LIVELOG_MAX_READERS`), counts as
/// `kind="sse"`, and frees its slot when its stream ends; a `HEAD` takes
/// none.
#[test]
fn sse_readers_take_reader_slots_and_count_as_sse() {
    let d = Daemon::builder().env("LIVELOG_MAX_READERS", "1").start();
    let first = sse_reader(&d.get_url(), &[]);
    first.wait_head();
    assert!(
        wait_until(SOON, || status_doc(&d)["readers"]["by_kind"]["sse"] == 1),
        "{}",
        status_doc(&d)
    );
    let (code, metrics, _) = curl(&["-sS", &format!("http://{}/metrics", d.put)]);
    assert_eq!(code, 0);
    assert!(
        String::from_utf8_lossy(&metrics)
            .contains("livelog_readers{protocol=\"http1\",kind=\"sse\"} 1"),
        "{}",
        String::from_utf8_lossy(&metrics)
    );
    for accept in [ACCEPT, "Accept: */*"] {
        let (status, headers, body) = exchange(&["-H", accept, &d.get_url()]);
        assert_eq!(status, 503, "{accept}");
        assert_eq!(header(&headers, "retry-after"), Some("5"));
        assert!(String::from_utf8_lossy(&body).contains("readers already connected"));
    }
    let (status, headers, _) = exchange(&["-I", "-H", ACCEPT, &d.get_url()]);
    assert_eq!(status, 200, "HEAD takes no slot");
    assert_eq!(header(&headers, "content-type"), Some("text/event-stream"));

    upload_all(&d, b"done\n");
    let (code, out) = first.finish();
    assert_eq!(code, 0);
    assert_eq!(parse(&out).text(), "done\n");
    assert!(
        wait_until(SOON, || status_doc(&d)["readers"]["connected"] == 0),
        "the slot was not freed: {}",
        status_doc(&d)
    );
    let (status, _, body) = exchange(&["-H", ACCEPT, &d.get_url()]);
    assert_eq!(status, 200);
    assert_eq!(parse(&body).text(), "done\n");
}

/// HTTP/2 over TLS (ALPN, as browsers connect): the same stream, ids and
/// end, for a complete and for a broken upload.
#[test]
fn sse_over_http2_with_tls() {
    let (_dir, cert, key, _) = self_signed_cert();
    let d = Daemon::builder()
        .env("SERVER_CRT_FILE", cert.to_str().unwrap())
        .env("SERVER_KEY_FILE", key.to_str().unwrap())
        .start();
    let port = d.get.port().to_string();
    let resolve = format!("localhost:{port}:127.0.0.1");
    let tls = [
        "--http2",
        "--cacert",
        cert.to_str().unwrap(),
        "--resolve",
        &resolve,
        "-w",
        "\nhttp version %{http_version}",
    ];
    let reader = sse_reader(&d.https_url(), &tls);
    reader.wait_head();
    let log = text_log(256 * 1024, 12);
    let mut up = Uploader::start(d.put);
    up.chunk(&log.as_bytes()[..1000]);
    wait_for_output(&reader, "id: ");
    up.chunk(&log.as_bytes()[1000..]);
    up.abort();
    let (code, out) = reader.finish();
    assert_eq!(code, 0);
    let out = String::from_utf8(out).unwrap();
    let (stream, version) = out.rsplit_once('\n').unwrap();
    assert_eq!(version, "http version 2");
    let s = parse(stream.as_bytes());
    s.assert_ids_are_end_offsets(0);
    assert!(s.text() == log);
    assert_eq!(
        s.end(),
        Some(json!({"complete": false, "length": log.len()}))
    );
}

/// The stall timeout applies to event streams: a reader that stops reading
/// while events wait for it is disconnected, even though heartbeats (every
/// second here) keep being due; an idle stream that only gets heartbeats
/// for several stall timeouts is not.
#[test]
fn a_stalled_sse_reader_is_disconnected_on_http1_despite_heartbeats() {
    let d = Daemon::builder()
        .own_temp_dir()
        .env("LIVELOG_STALL_TIMEOUT_SECS", "2")
        .env("LIVELOG_HEARTBEAT_SECS", "1")
        .start();
    let mut stalled = RawReader::connect_with(
        d.get,
        Some(4096),
        &format!("/log/{TOKEN}"),
        &format!("{ACCEPT}\r\n"),
    );
    assert_eq!(stalled.head().0, 200);
    let tail = sse_reader(&d.get_url(), &[]);
    tail.wait_head();
    // More than the stalled reader's socket buffers can take.
    let log = text_log(16 * MIB, 21);
    let mut up = Uploader::start(d.put);
    for piece in log.as_bytes().chunks(256 * 1024) {
        up.chunk(piece);
    }
    assert!(
        d.wait_for_log("reader disconnected", SOON),
        "no stall logged; stderr:\n{}",
        d.stderr()
    );
    // Whatever the stalled reader got is a prefix of the stream, cut short.
    let mut got = Vec::new();
    let complete = stalled.body().read_to_end(&mut got).is_ok();
    assert!(!complete, "the stalled stream ended complete");
    // The tail now only gets heartbeats, for longer than the stall timeout.
    // (The time itself is what is tested, not a stand-in for a condition.)
    thread::sleep(Duration::from_secs(5));
    up.chunk(b"\nafter the quiet spell\n");
    assert_eq!(up.finish().0, 201);
    let (code, out) = tail.finish();
    assert_eq!(code, 0);
    let s = parse(&out);
    assert!(s.text() == log.clone() + "\nafter the quiet spell\n");
    assert!(s.comments.len() >= 3, "{:?}", s.comments);
    assert_eq!(d.stderr().matches("reader disconnected").count(), 1);
}

/// HTTP/2: an event stream whose client stops reading it (its stream window
/// full) is reset after the stall timeout while heartbeats are due, and its
/// neighbour on the same connection is untouched.
#[test]
fn a_stalled_sse_stream_is_reset_on_http2_despite_heartbeats() {
    let (_dir, cert, key, cert_pem) = self_signed_cert();
    let d = Daemon::builder()
        .env("SERVER_CRT_FILE", cert.to_str().unwrap())
        .env("SERVER_KEY_FILE", key.to_str().unwrap())
        .env("LIVELOG_STALL_TIMEOUT_SECS", "3")
        .env("LIVELOG_HEARTBEAT_SECS", "1")
        .start();
    let client = reqwest::blocking::Client::builder()
        .no_proxy()
        .add_root_certificate(reqwest::Certificate::from_pem(cert_pem.as_bytes()).unwrap())
        .resolve("localhost", d.get)
        .http2_prior_knowledge()
        .http2_initial_stream_window_size(65_535)
        .http2_initial_connection_window_size(64 * MIB as u32)
        .build()
        .unwrap();
    let url = d.https_url();
    let stalled = client
        .get(&url)
        .header("Accept", "text/event-stream")
        .send()
        .unwrap();
    assert_eq!(stalled.version(), reqwest::Version::HTTP_2);
    assert_eq!(stalled.status(), 200);
    let busy = {
        let (client, url) = (client.clone(), url.clone());
        thread::spawn(move || {
            let resp = client
                .get(&url)
                .header("Accept", "text/event-stream")
                .send()
                .unwrap();
            read_body(resp)
        })
    };
    let log = Arc::new(text_log(4 * MIB, 33));
    let mut up = Uploader::start(d.put);
    for piece in log.as_bytes().chunks(256 * 1024) {
        up.chunk(piece);
    }
    assert!(
        d.wait_for_log("HTTP/2 stream accepted no bytes", SOON),
        "no HTTP/2 stall logged; stderr:\n{}",
        d.stderr()
    );
    assert_eq!(up.finish().0, 201);
    let (busy, complete) = busy.join().unwrap();
    assert!(complete, "the busy stream ends cleanly");
    let s = parse(&busy);
    assert!(s.text() == *log, "the busy stream's text is not the log");
    let (_, complete) = read_body(stalled);
    assert!(!complete, "the stalled stream was reset, not ended");
    assert_eq!(d.stderr().matches("reader disconnected").count(), 1);
}

/// A stop request (SIGINT here: Ctrl-C, which wine also delivers to the
/// Windows binary) with an event stream waiting for an upload that has not
/// started: livelog exits at once (none can start any more), and the
/// stream gets its end event, incomplete, before the response ends cleanly.
#[test]
fn a_stop_request_ends_a_waiting_event_stream_with_an_incomplete_end() {
    // A stop request is a signal to the process: the binary.
    let mut d = Daemon::builder()
        .env("LIVELOG_HEARTBEAT_SECS", "1")
        .start_process();
    let reader = sse_reader(&d.get_url(), &[]);
    reader.wait_head();
    // Heartbeats flowing: the stream is being served.
    wait_for_output(&reader, ": heartbeat\n\n");
    d.signal("INT");
    let status = d.wait_exit(SOON).expect("livelog exits");
    assert_eq!(status.code(), Some(0));
    assert!(
        d.stderr().contains("livelog stopped") && !d.stderr().contains("still open"),
        "it waited out the grace: {}",
        d.stderr()
    );
    let (code, out) = reader.finish();
    assert_eq!(code, 0);
    let s = parse(&out);
    assert!(s.logs().is_empty());
    assert_eq!(s.end(), Some(json!({"complete": false, "length": 0})));
}
