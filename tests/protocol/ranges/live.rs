//! RFC 8673 ranges of a log still growing: stored ranges answered at once,
//! the `HEAD` on the wire, follow ranges (`bytes=N-`) streaming until the
//! upload ends or their last byte, a range past the end waiting for its
//! first byte, and a ranged read cut short by a broken upload ending
//! incomplete.

use super::*;

/// RFC 8673 on a live log of current length W: `bytes=a-` gets what exists
/// now (`a-(W-1)/*`) and ends; `bytes=a-b` with `b < W` gets those bytes;
/// `a >= W` with an open end is 416 with the current length; `HEAD` agrees
/// with `GET` and never claims a length for the live whole log.
#[test]
fn live_log_stored_ranges_end_at_once() {
    let d = Daemon::start();
    let log = pattern(60_000, 7);
    let url = d.get_url();
    let mut up = Uploader::start(d.put);
    up.chunk(&log[..20_000]);
    up.chunk(&log[20_000..40_000]);
    wait_stored(&d, 40_000);

    let cases: [(&str, u64, u64); 4] = [
        ("bytes=1000-", 1000, 39_999),
        ("bytes=0-", 0, 39_999),
        ("bytes=39999-", 39_999, 39_999),
        ("bytes=100-39999", 100, 39_999),
    ];
    let cases = cases
        .into_iter()
        .chain([("bytes=-500", 39_500, 39_999), ("bytes=30-59", 30, 59)]);
    for (range, first, last) in cases {
        let started = Instant::now();
        let resp = get(&url, Some(range));
        assert_eq!(resp.status(), StatusCode::PARTIAL_CONTENT, "{range}");
        assert_common_headers(&resp, range);
        assert_eq!(
            header(&resp, "content-range"),
            Some(format!("bytes {first}-{last}/*")),
            "{range}"
        );
        assert_eq!(
            header(&resp, "content-length"),
            Some((last - first + 1).to_string()),
            "{range}"
        );
        let get_headers = comparable_headers(&resp);
        // The response ends although the upload is still running.
        assert_eq!(
            &resp.bytes().unwrap()[..],
            &log[first as usize..=last as usize],
            "{range}"
        );
        assert!(
            started.elapsed() < AT_ONCE,
            "{range} took {:?}",
            started.elapsed()
        );

        let h = head(&url, Some(range));
        assert_eq!(h.status(), StatusCode::PARTIAL_CONTENT, "HEAD {range}");
        assert_eq!(comparable_headers(&h), get_headers, "HEAD {range}");
    }

    // An open-ended range starting at or past the live end: 416 with the
    // current length.
    let resp = get(&url, Some("bytes=40000-"));
    assert_eq!(resp.status(), StatusCode::RANGE_NOT_SATISFIABLE);
    assert_common_headers(&resp, "live 416");
    assert_eq!(
        header(&resp, "content-range").as_deref(),
        Some("bytes */40000")
    );

    // The whole live log: 200, chunked, no length; HEAD the same, and in
    // particular no `Content-Length: 0`.
    let resp = get(&url, None);
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(header(&resp, "content-length"), None);
    assert_eq!(
        header(&resp, "transfer-encoding").as_deref(),
        Some("chunked")
    );
    let get_headers = comparable_headers(&resp);
    drop(resp);
    let h = head(&url, None);
    assert_eq!(h.status(), StatusCode::OK);
    assert_common_headers(&h, "HEAD live");
    assert_eq!(header(&h, "content-length"), None);
    assert_eq!(comparable_headers(&h), get_headers);

    // Once the upload completes, the same open range gets the real length.
    up.chunk(&log[40_000..]);
    assert_eq!(up.finish().0, 201);
    let resp = get(&url, Some("bytes=1000-"));
    assert_eq!(
        header(&resp, "content-range").as_deref(),
        Some("bytes 1000-59999/60000")
    );
    assert_eq!(&resp.bytes().unwrap()[..], &log[1000..]);
}

/// HEAD on a live log over a raw socket: the exact bytes on the wire carry
/// no `Content-Length` for the whole live log or a follow range (GET would
/// stream them chunked), the right one for a stored range, and no body.
#[test]
fn head_of_a_live_log_on_the_wire() {
    let d = Daemon::start();
    let mut up = Uploader::start(d.put);
    up.chunk(b"hello, live log\n");
    wait_stored(&d, 16);
    let wire = |range: &str| {
        let req = format!(
            "HEAD /log/{} HTTP/1.1\r\nHost: x\r\n{range}Connection: close\r\n\r\n",
            common::TOKEN
        );
        String::from_utf8(common::raw_exchange(d.get, req.as_bytes()))
            .unwrap()
            .to_ascii_lowercase()
    };
    let whole = wire("");
    assert!(whole.starts_with("http/1.1 200 ok\r\n"), "{whole}");
    assert!(!whole.contains("\ncontent-length:"), "{whole}");
    assert!(whole.ends_with("\r\n\r\n"), "no body: {whole}");
    assert!(whole.contains("accept-ranges: bytes\r\n"), "{whole}");

    let follow = wire("Range: bytes=3-9007199254740991\r\n");
    assert!(
        follow.starts_with("http/1.1 206 partial content\r\n"),
        "{follow}"
    );
    assert!(!follow.contains("\ncontent-length:"), "{follow}");
    assert!(
        follow.contains("content-range: bytes 3-9007199254740991/*\r\n"),
        "{follow}"
    );
    assert!(follow.ends_with("\r\n\r\n"), "no body: {follow}");

    let stored = wire("Range: bytes=3-\r\n");
    assert!(stored.contains("content-length: 13\r\n"), "{stored}");
    assert!(
        stored.contains("content-range: bytes 3-15/*\r\n"),
        "{stored}"
    );
    assert!(stored.ends_with("\r\n\r\n"), "no body: {stored}");

    assert_eq!(up.finish().0, 201);
    let done = wire("");
    assert!(done.contains("content-length: 16\r\n"), "{done}");
    assert!(done.ends_with("\r\n\r\n"), "no body: {done}");
}

/// RFC 8673 §2.2: `bytes=a-b` with `b >= W` echoes `b`, streams from `a` and
/// keeps following the log while it grows, and ends cleanly when the upload
/// completes.
#[test]
fn live_follow_range_streams_until_the_upload_ends() {
    let d = Daemon::builder().env("LIVELOG_RING_BYTES", "8192").start();
    let log = pattern(300_000, 13);
    let url = d.get_url();
    let mut up = Uploader::start(d.put);
    up.chunk(&log[..100_000]);
    wait_stored(&d, 100_000);

    let resp = get(&url, Some(&format!("bytes=5000-{FOLLOW_END}")));
    assert_eq!(resp.status(), StatusCode::PARTIAL_CONTENT);
    assert_common_headers(&resp, "follow");
    assert_eq!(
        header(&resp, "content-range"),
        Some(format!("bytes 5000-{FOLLOW_END}/*"))
    );
    assert_eq!(header(&resp, "content-length"), None);
    let body = Streamed::new(resp);
    body.wait_len(95_000);
    for end in [150_000, 200_000, 250_000, 300_000] {
        up.chunk(&log[end - 50_000..end]);
        body.wait_len(end - 5000);
        assert!(!body.is_finished(), "ended while the upload runs");
    }
    assert_eq!(up.finish().0, 201);
    let Ended {
        data: bytes,
        complete,
        ..
    } = body.finish();
    assert!(complete, "a clean end");
    assert_eq!(bytes, &log[5000..]);
}

/// A follow range whose end lies past the live end stops at that end, cleanly,
/// while the upload carries on.
#[test]
fn live_follow_range_stops_at_its_last_byte() {
    let d = Daemon::start();
    let log = pattern(40_000, 17);
    let url = d.get_url();
    let mut up = Uploader::start(d.put);
    up.chunk(&log[..10_000]);
    wait_stored(&d, 10_000);

    let resp = get(&url, Some("bytes=9000-24999"));
    assert_eq!(resp.status(), StatusCode::PARTIAL_CONTENT);
    assert_eq!(
        header(&resp, "content-range").as_deref(),
        Some("bytes 9000-24999/*")
    );
    assert_eq!(header(&resp, "content-length"), None);
    let body = Streamed::new(resp);
    body.wait_len(1000);
    up.chunk(&log[10_000..40_000]);
    let Ended {
        data: bytes,
        complete,
        ..
    } = body.finish();
    assert!(complete, "a clean end at byte 24999");
    assert_eq!(bytes, &log[9000..25_000]);
    // The upload was not disturbed.
    assert_eq!(up.finish().0, 201);
}

/// `bytes=a-b` with `a >= W` waits for byte `a` instead of refusing (RFC
/// 8673 §2.2), even before the upload has started.
#[test]
fn live_range_past_the_end_waits_for_its_first_byte() {
    let d = Daemon::start();
    let log = pattern(30_000, 19);
    let url = d.get_url();

    // No upload yet: the reader is told 206 at once and then waits.
    let resp = get(&url, Some("bytes=12000-12999"));
    assert_eq!(resp.status(), StatusCode::PARTIAL_CONTENT);
    assert_eq!(
        header(&resp, "content-range").as_deref(),
        Some("bytes 12000-12999/*")
    );
    let early = Streamed::new(resp);

    let mut up = Uploader::start(d.put);
    up.chunk(&log[..10_000]);
    wait_stored(&d, 10_000);

    // Byte 12000 does not exist yet: another reader asks past the end too.
    let resp = get(&url, Some("bytes=20000-9007199254740991"));
    assert_eq!(resp.status(), StatusCode::PARTIAL_CONTENT);
    assert_eq!(
        header(&resp, "content-range").as_deref(),
        Some("bytes 20000-9007199254740991/*")
    );
    let late = Streamed::new(resp);
    // An observation window for bytes that must not come (not
    // synchronisation): a reader that did not wait would be sent the stored
    // bytes at once.
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(early.len(), 0);
    assert_eq!(late.len(), 0);

    up.chunk(&log[10_000..]);
    let Ended {
        data: bytes,
        complete,
        ..
    } = early.finish();
    assert!(complete, "a clean end at byte 12999");
    assert_eq!(bytes, &log[12_000..13_000]);
    late.wait_len(10_000);
    assert!(!late.is_finished());
    assert_eq!(up.finish().0, 201);
    let Ended {
        data: bytes,
        complete,
        ..
    } = late.finish();
    assert!(complete, "a clean end when the upload completes");
    assert_eq!(bytes, &log[20_000..]);
}

/// A ranged read cut short by a broken upload ends incomplete, like a full
/// one: curl exits non-zero, reqwest's body errors, after exactly the stored
/// bytes of the range.
#[test]
fn ranged_read_cut_short_by_a_broken_upload_ends_incomplete() {
    let d = Daemon::start();
    let log = pattern(30_000, 23);
    let url = d.get_url();
    let mut up = Uploader::start(d.put);
    up.chunk(&log[..10_000]);
    wait_stored(&d, 10_000);

    let range = "Range: bytes=2000-9007199254740991";
    let curl_reader = CurlReader::spawn(&["-N", "-H", range, &url]);
    let out = &curl_reader.out;
    let resp = get(&url, Some("bytes=4000-9007199254740991"));
    assert_eq!(resp.status(), StatusCode::PARTIAL_CONTENT);
    let body = Streamed::new(resp);
    // A stored range of the live log must not be affected.
    let stored = Streamed::new(get(&url, Some("bytes=0-")));
    out.wait_len(8000);
    body.wait_len(6000);
    up.chunk(&log[10_000..]);
    out.wait_len(28_000);
    body.wait_len(26_000);
    up.abort();

    let (code, bytes) = curl_reader.finish();
    assert_ne!(code, 0, "curl must not see a clean end");
    assert_eq!(bytes, &log[2000..]);
    let Ended {
        data: bytes,
        complete,
        ..
    } = body.finish();
    assert!(!complete, "reqwest must see an incomplete body");
    assert_eq!(bytes, &log[4000..]);
    let Ended {
        data: bytes,
        complete,
        ..
    } = stored.finish();
    assert!(complete, "the stored range was complete");
    assert_eq!(bytes, &log[..10_000]);

    // After the break, a range that needs more than is stored ends
    // incomplete too; one within the stored bytes is served whole.
    let (code, out, _) = curl(&["-sS", "-H", "Range: bytes=29000-9007199254740991", &url]);
    assert_ne!(code, 0);
    assert_eq!(out, &log[29_000..]);
    let (code, out, err) = curl(&["-sS", "-r", "100-199", &url]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(out, &log[100..200]);
}
