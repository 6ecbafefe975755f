//! Byte ranges on the reader port, over real sockets: RFC 9110
//! ranges of a completed log, RFC 8673 live ranges of a growing one,
//! ignored `Range` headers, `If-Range`, `HEAD`, CORS, resuming with `curl`
//! exactly as the README writes it, a ranged read cut short by a broken
//! upload, and the same semantics over HTTP/2.

use std::collections::BTreeMap;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::common;
use crate::common::{
    CurlReader, Daemon, Ended, SOON, Streamed, Uploader, curl, pattern, self_signed_cert,
};
use reqwest::StatusCode;
use reqwest::blocking::{Client, Response};

/// RFC 8673 §2.2's "very large end" (2^53 - 1, the largest integer a
/// JavaScript client can hold exactly), as the README's resume example uses.
const FOLLOW_END: u64 = 9_007_199_254_740_991;

/// Generous bound for a response that must end at once (rather than follow
/// the log until the 30 s client timeout).
const AT_ONCE: Duration = Duration::from_secs(10);

const EXPOSED: [&str; 3] = ["content-range", "content-length", "accept-ranges"];

/// A client whose every request (body included) must finish within 30 s,
/// so a response that wrongly keeps following fails the test instead of
/// hanging it.
fn http() -> Client {
    Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap()
}

fn get(url: &str, range: Option<&str>) -> Response {
    let mut req = http().get(url);
    if let Some(range) = range {
        req = req.header("Range", range);
    }
    req.send().unwrap()
}

fn head(url: &str, range: Option<&str>) -> Response {
    let mut req = http().head(url);
    if let Some(range) = range {
        req = req.header("Range", range);
    }
    req.send().unwrap()
}

fn header(resp: &Response, name: &str) -> Option<String> {
    resp.headers()
        .get(name)
        .map(|v| v.to_str().unwrap().to_owned())
}

/// The response headers that `HEAD` must repeat from `GET` (RFC 9110
/// §9.3.2): all but `Date` and the framing hyper chooses for a body it does
/// not send.
fn comparable_headers(resp: &Response) -> BTreeMap<String, String> {
    resp.headers()
        .iter()
        .filter(|(k, _)| !["date", "transfer-encoding"].contains(&k.as_str()))
        .map(|(k, v)| (k.as_str().to_owned(), v.to_str().unwrap().to_owned()))
        .collect()
}

/// Checks `Accept-Ranges: bytes` and the CORS headers every log response has.
fn assert_common_headers(resp: &Response, what: &str) {
    assert_eq!(
        header(resp, "accept-ranges").as_deref(),
        Some("bytes"),
        "{what}"
    );
    assert_eq!(
        header(resp, "access-control-allow-origin").as_deref(),
        Some("*"),
        "{what}"
    );
    let exposed = header(resp, "access-control-expose-headers")
        .unwrap_or_default()
        .to_ascii_lowercase();
    let exposed: Vec<&str> = exposed.split(',').map(str::trim).collect();
    for name in EXPOSED {
        assert!(
            exposed.contains(&name),
            "{what}: {name} not exposed: {exposed:?}"
        );
    }
}

/// Uploads `log` in a few chunks and completes the upload.
fn upload_complete(d: &Daemon, log: &[u8]) {
    let mut up = Uploader::start(d.put);
    for part in log.chunks(7_000) {
        up.chunk(part);
    }
    let (status, body) = up.finish();
    assert_eq!(status, 201, "{body}");
}

/// Waits until the live log holds exactly `len` bytes, asking the daemon the
/// way a client would (`HEAD` with `Range: bytes=0-`).
fn wait_stored(d: &Daemon, len: u64) {
    wait_stored_at(&http(), &d.get_url(), len);
}

/// [`wait_stored`] with a given client and URL (for HTTPS).
fn wait_stored_at(client: &Client, url: &str, len: u64) {
    let started = Instant::now();
    loop {
        let resp = client.head(url).header("Range", "bytes=0-").send().unwrap();
        if resp.status() == StatusCode::PARTIAL_CONTENT
            && header(&resp, "content-length") == Some(len.to_string())
        {
            return;
        }
        assert!(
            started.elapsed() < SOON,
            "the log never reached {len} bytes; last: {} {:?}",
            resp.status(),
            header(&resp, "content-range")
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The `sh` block of docs/ranges-and-compression.md holding `needle`, run
/// against the test daemon.
fn readme_block(needle: &str, d: &Daemon) -> String {
    crate::common::doc_block("docs/ranges-and-compression.md", needle, d.get)
}

/// Runs a README block with `bash -ec` in `dir`, its stdout read as it
/// streams.
fn spawn_block(script: &str, dir: &std::path::Path) -> (Child, Streamed) {
    let mut child = Command::new("bash")
        .args(["-ec", script])
        .current_dir(dir)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("bash");
    let out = child.stdout.take().unwrap();
    (child, Streamed::new(out))
}

fn wait_exit(child: &mut Child) -> i32 {
    let started = Instant::now();
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status.code().unwrap_or(-1);
        }
        assert!(started.elapsed() < SOON, "curl did not exit");
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// RFC 9110 §14 on a completed log of length L: the three forms, clamping,
/// 416, Content-Length, exact bytes; and HEAD mirrors each GET.
#[test]
fn completed_log_serves_rfc9110_ranges() {
    // A small ring, so early ranges come from the temp file and late ones
    // from memory.
    let d = Daemon::builder()
        .env("LIVELOG_RING_BYTES", "4096")
        .own_temp_dir()
        .start();
    let log = pattern(200_000, 3);
    let l = log.len() as u64;
    upload_complete(&d, &log);
    let url = d.get_url();

    // (Range, first, last) of each satisfiable request.
    let cases: [(&str, u64, u64); 9] = [
        ("bytes=0-0", 0, 0),
        ("bytes=100-199", 100, 199),
        ("bytes=150000-150099", 150_000, 150_099),
        ("bytes=199990-9999999", 199_990, l - 1),
        ("bytes=0-9007199254740991", 0, l - 1),
        ("bytes=123456-", 123_456, l - 1),
        ("bytes=-1024", l - 1024, l - 1),
        ("bytes=-999999", 0, l - 1),
        ("bYtEs=5-9", 5, 9),
    ];
    for (range, first, last) in cases {
        let resp = get(&url, Some(range));
        assert_eq!(resp.status(), StatusCode::PARTIAL_CONTENT, "{range}");
        assert_common_headers(&resp, range);
        assert_eq!(
            header(&resp, "content-range"),
            Some(format!("bytes {first}-{last}/{l}")),
            "{range}"
        );
        assert_eq!(
            header(&resp, "content-length"),
            Some((last - first + 1).to_string()),
            "{range}"
        );
        let get_headers = comparable_headers(&resp);
        assert_eq!(
            &resp.bytes().unwrap()[..],
            &log[first as usize..=last as usize],
            "{range}"
        );

        let h = head(&url, Some(range));
        assert_eq!(h.status(), StatusCode::PARTIAL_CONTENT, "HEAD {range}");
        assert_eq!(comparable_headers(&h), get_headers, "HEAD {range}");
        assert!(h.bytes().unwrap().is_empty(), "HEAD {range} has no body");
    }

    // First byte at or past the end: 416 with the complete length.
    for range in [
        "bytes=200000-",
        "bytes=200000-200010",
        "bytes=999999-",
        "bytes=-0",
    ] {
        let resp = get(&url, Some(range));
        assert_eq!(resp.status(), StatusCode::RANGE_NOT_SATISFIABLE, "{range}");
        assert_common_headers(&resp, range);
        assert_eq!(
            header(&resp, "content-range").as_deref(),
            Some("bytes */200000"),
            "{range}"
        );
        let h = head(&url, Some(range));
        assert_eq!(
            h.status(),
            StatusCode::RANGE_NOT_SATISFIABLE,
            "HEAD {range}"
        );
        assert_eq!(
            header(&h, "content-range").as_deref(),
            Some("bytes */200000")
        );
        assert!(h.bytes().unwrap().is_empty());
    }

    // No Range: 200, the whole log, Content-Length L; HEAD says the same.
    let resp = get(&url, None);
    assert_eq!(resp.status(), StatusCode::OK);
    assert_common_headers(&resp, "full GET");
    assert_eq!(header(&resp, "content-length"), Some(l.to_string()));
    assert_eq!(header(&resp, "content-range"), None);
    let get_headers = comparable_headers(&resp);
    assert_eq!(&resp.bytes().unwrap()[..], &log[..]);
    let h = head(&url, None);
    assert_eq!(h.status(), StatusCode::OK);
    assert_eq!(comparable_headers(&h), get_headers);
    assert_eq!(header(&h, "content-length"), Some(l.to_string()));
    assert!(h.bytes().unwrap().is_empty());
}

/// The README's tail example, run as written: the last 1 KiB of a finished
/// log. And its resume example on a finished log: the rest, ending at once.
#[test]
#[cfg_attr(windows, ignore = "runs a README block with bash")]
fn readme_curl_examples_on_a_finished_log() {
    let d = Daemon::start();
    let log = pattern(50_000, 11);
    upload_complete(&d, &log);
    let url = d.get_url();

    let dir = tempfile::tempdir().unwrap();
    let tail = readme_block("curl -r -1024", &d);
    let (mut child, out) = spawn_block(&tail, dir.path());
    assert_eq!(wait_exit(&mut child), 0);
    assert_eq!(out.finish().data, &log[log.len() - 1024..]);

    let resume = readme_block("Range: bytes=N-", &d).replace("bytes=N-", "bytes=30000-");
    let (mut child, out) = spawn_block(&resume, dir.path());
    assert_eq!(wait_exit(&mut child), 0);
    assert_eq!(out.finish().data, &log[30_000..]);

    // `curl -I` as the README writes it: the complete length.
    let (code, out, err) = curl(&["-I", &url]);
    assert_eq!(code, 0, "{err}");
    let head = String::from_utf8(out).unwrap().to_ascii_lowercase();
    assert!(head.starts_with("http/1.1 200"), "{head}");
    assert!(head.contains("\ncontent-length: 50000\r\n"), "{head}");

    // curl reports the 206 and the Content-Range it was given.
    let (code, out, err) = curl(&["-sS", "-o", "/dev/null", "-D", "-", "-r", "-1024", &url]);
    assert_eq!(code, 0, "{err}");
    let head = String::from_utf8(out).unwrap().to_ascii_lowercase();
    assert!(head.starts_with("http/1.1 206"), "{head}");
    assert!(
        head.contains("content-range: bytes 48976-49999/50000\r\n"),
        "{head}"
    );
    assert!(head.contains("content-length: 1024\r\n"), "{head}");
}

/// Invalid syntax, another unit and several ranges are ignored (RFC 9110
/// §14.2): `200` with the whole log. So is any `Range` sent with an
/// `If-Range` that is not this log's tag (§13.1.5; `validators.rs`).
#[test]
fn ignored_range_headers_get_the_whole_log() {
    let d = Daemon::start();
    let log = pattern(30_000, 5);
    upload_complete(&d, &log);
    let url = d.get_url();
    for range in [
        "bytes=5-2",
        "bytes=abc",
        "bytes=",
        "bytes 0-5",
        "bytes=--5",
        "bytes=0-1,5-9",
        "bytes=0-1, 10-20",
        "items=0-5",
        "lines=-10",
        "bytes=99999999999999999999999-",
    ] {
        let resp = get(&url, Some(range));
        assert_eq!(resp.status(), StatusCode::OK, "{range}");
        assert_common_headers(&resp, range);
        assert_eq!(header(&resp, "content-range"), None, "{range}");
        assert_eq!(header(&resp, "content-length"), Some("30000".into()));
        assert_eq!(&resp.bytes().unwrap()[..], &log[..], "{range}");
        let h = head(&url, Some(range));
        assert_eq!(h.status(), StatusCode::OK, "HEAD {range}");
        assert_eq!(header(&h, "content-length"), Some("30000".into()));
    }
    // Leading zeros are valid RFC 9110 syntax, but the parser livelog uses
    // refuses them; ignoring the header is always allowed (§14.2).
    let resp = get(&url, Some("bytes=007-9"));
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(&resp.bytes().unwrap()[..], &log[..]);
    // Two Range fields make one list of two ranges (RFC 9110 §5.3).
    let req = format!(
        "GET /log/{} HTTP/1.1\r\nHost: x\r\nRange: bytes=0-9\r\nRange: bytes=20-29\r\nConnection: close\r\n\r\n",
        common::TOKEN
    );
    let raw = common::raw_exchange(d.get, req.as_bytes());
    let text = String::from_utf8_lossy(&raw).to_ascii_lowercase();
    assert!(text.starts_with("http/1.1 200 ok\r\n"), "{text}");
    assert!(text.contains("\ncontent-length: 30000\r\n"), "{text}");
    assert!(raw.ends_with(&log[29_000..]));
    for if_range in ["\"some-etag\"", "Mon, 23 Nov 2026 15:00:00 GMT"] {
        let resp = http()
            .get(&url)
            .header("Range", "bytes=0-9")
            .header("If-Range", if_range)
            .send()
            .unwrap();
        assert_eq!(resp.status(), StatusCode::OK, "If-Range {if_range}");
        assert_eq!(header(&resp, "content-range"), None);
        assert_eq!(&resp.bytes().unwrap()[..], &log[..]);
    }
}

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

/// The README's resume example, run as written while the upload continues:
/// `curl -N -H 'Range: bytes=N-9007199254740991'` yields exactly `log[N..]`
/// and exits 0 when the upload completes.
#[test]
#[cfg_attr(windows, ignore = "runs a README block with bash")]
fn readme_resume_follows_a_live_log_with_curl() {
    let d = Daemon::start();
    let log: Vec<u8> = (1..=3000)
        .flat_map(|i| format!("Log line {i}\n").into_bytes())
        .collect();
    let mut up = Uploader::start(d.put);
    up.chunk(&log[..20_000]);
    wait_stored(&d, 20_000);

    let n = 12_345;
    let resume = readme_block("Range: bytes=N-", &d).replace("bytes=N-", &format!("bytes={n}-"));
    let dir = tempfile::tempdir().unwrap();
    let (mut child, out) = spawn_block(&resume, dir.path());
    out.wait_len(20_000 - n);
    for part in log[20_000..].chunks(4096) {
        up.chunk(part);
    }
    out.wait_len(log.len() - n);
    assert!(child.try_wait().unwrap().is_none(), "curl ended early");
    assert_eq!(up.finish().0, 201);
    assert_eq!(wait_exit(&mut child), 0);
    let bytes = out.finish().data;
    assert_eq!(bytes, &log[n..]);
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

/// CORS: a preflight is answered, and the range headers are exposed to
/// `fetch()` on every kind of log response.
#[test]
fn cors_preflight_and_exposed_headers() {
    let d = Daemon::start();
    let url = d.get_url();
    let resp = http()
        .request(reqwest::Method::OPTIONS, &url)
        .header("Origin", "https://viewer.example")
        .header("Access-Control-Request-Method", "GET")
        .header("Access-Control-Request-Headers", "range")
        .send()
        .unwrap();
    assert!(resp.status().is_success(), "{}", resp.status());
    assert_eq!(
        header(&resp, "access-control-allow-origin").as_deref(),
        Some("*")
    );
    let methods = header(&resp, "access-control-allow-methods").unwrap();
    assert!(
        methods.contains("GET") && methods.contains("HEAD"),
        "{methods}"
    );
    let allowed = header(&resp, "access-control-allow-headers")
        .unwrap()
        .to_ascii_lowercase();
    assert!(allowed.contains("range"), "{allowed}");

    upload_complete(&d, b"0123456789");
    for range in [None, Some("bytes=2-5"), Some("bytes=10-")] {
        let resp = http()
            .get(&url)
            .header("Origin", "https://viewer.example")
            .header("Range", range.unwrap_or("bytes=x"))
            .send()
            .unwrap();
        assert_common_headers(&resp, &format!("{range:?}"));
    }
}

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

/// `HEAD` takes no reader slot, and a reader refused for lack of slots is
/// still told `Accept-Ranges`.
#[test]
fn head_needs_no_reader_slot() {
    let d = Daemon::builder().env("LIVELOG_MAX_READERS", "1").start();
    let url = d.get_url();
    let mut up = Uploader::start(d.put);
    up.chunk(b"0123456789");
    wait_stored(&d, 10);
    let follower = Streamed::new(get(&url, Some("bytes=0-9007199254740991")));
    follower.wait_len(10);

    let refused = get(&url, Some("bytes=0-4"));
    assert_eq!(refused.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_common_headers(&refused, "503");
    let h = head(&url, Some("bytes=2-"));
    assert_eq!(h.status(), StatusCode::PARTIAL_CONTENT);
    assert_eq!(header(&h, "content-range").as_deref(), Some("bytes 2-9/*"));

    assert_eq!(up.finish().0, 201);
    let Ended {
        data: bytes,
        complete,
        ..
    } = follower.finish();
    assert!(complete);
    assert_eq!(bytes, b"0123456789");
}

/// The README's "continue a partial build.log in place" example, run as
/// written while the upload continues: the file ends up the whole log.
#[test]
#[cfg_attr(not(target_os = "linux"), ignore = "the README block uses GNU stat")]
fn readme_continues_a_partial_file_in_place() {
    let d = Daemon::start();
    let log: Vec<u8> = (1..=4000)
        .flat_map(|i| format!("step {i}: ok\n").into_bytes())
        .collect();
    let mut up = Uploader::start(d.put);
    up.chunk(&log[..30_000]);
    wait_stored(&d, 30_000);

    // What a reader got before its connection dropped.
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("build.log");
    std::fs::write(&file, &log[..21_000]).unwrap();

    let script = readme_block("build.log", &d);
    assert!(script.contains(">> build.log"), "{script}");
    let (mut child, _) = spawn_block(&script, dir.path());
    let started = Instant::now();
    while std::fs::metadata(&file).unwrap().len() < 30_000 {
        assert!(started.elapsed() < SOON, "the resume did not catch up");
        std::thread::sleep(Duration::from_millis(10));
    }
    up.chunk(&log[30_000..]);
    assert_eq!(up.finish().0, 201);
    assert_eq!(wait_exit(&mut child), 0);
    assert_eq!(std::fs::read(&file).unwrap(), log);
}
