//! Byte ranges on the reader port, over real sockets: RFC 9110
//! ranges of a completed log, RFC 8673 live ranges of a growing one,
//! ignored `Range` headers, `If-Range`, `HEAD`, CORS, resuming with `curl`
//! exactly as docs/ranges-and-compression.md writes it (`docs_examples`), a
//! ranged read cut short by a broken upload (`live`), and the same
//! semantics over HTTP/2 (`http2`).

use std::collections::BTreeMap;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::common;
use crate::common::{
    CurlReader, Daemon, Ended, SOON, Streamed, Uploader, curl, pattern, self_signed_cert,
};
use reqwest::StatusCode;
use reqwest::blocking::{Client, Response};

mod docs_examples;
mod http2;
mod live;

/// RFC 8673 §2.2's "very large end" (2^53 - 1, the largest integer a
/// JavaScript client can hold exactly), as the resume example of
/// docs/ranges-and-compression.md uses.
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
