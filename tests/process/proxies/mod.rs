//! Readers behind real reverse proxies: nginx (Debian's `nginx-light`,
//! 1.22) and Varnish (Debian's `varnish`, 7.1), each started by the test in
//! front of the real binary's reader port, as a deployment puts them.
//!
//! Through each proxy: a live line reaches `curl -N` readers within 1 s of
//! its write (two whole-log readers and one resuming with `Range`, each a
//! backend reader of its own), and every byte arrives exactly; the event
//! stream is live and ends with its `end` event; the viewer page loads with
//! its policy, and its event stream works as the page drives it (resume by
//! `?from=` and `Last-Event-ID`, the `HEAD`, `204` at the end); error
//! statuses keep their status and CORS; a broken upload still ends its raw
//! readers incomplete and its event streams with `"complete": false`.
//!
//! The configurations are docs/fleet-and-proxies.md's and the README's,
//! read from them: the proxies'
//! defaults but for what a deployment has to set, each said where it is
//! set: [`server::nginx_conf`] (HTTP/1.1 to livelog) and [`server::vcl`] with
//! [`server::varnish_params`] (pass livelog's answers, which are never cacheable,
//! and let `Content-Range: …/*` through). What Varnish does with the
//! built-in VCL alone, `Cache-Control: no-store`
//! included, is [`varnish_builtin_vcl_neither_caches_nor_merges_readers`].
//!
//! These need the two Debian packages, so they are `#[ignore]`d in a plain
//! `cargo test`; `scripts/proxy-tests.sh` installs them and runs
//! `cargo test --test process -- --ignored proxies::`.

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::common::{Checker, CurlReader, Daemon, SOON, TOKEN, Uploader, client, curl, wait_until};

const KIB: usize = 1024;
const MIB: usize = 1024 * KIB;
/// Every line of [`text_log`] is this long.
const LINE: usize = 64;
const SSE: &str = "Accept: text/event-stream";
/// The most a line may take from its write to a reader behind a proxy.
const LIVE_WITHIN: Duration = Duration::from_secs(1);

mod server;
mod shared_cache;

use server::{Kind, Proxy};

// ------------------------------------------------------------ helpers

/// A text log of `len` bytes (a multiple of [`LINE`]) in lines of [`LINE`]
/// bytes: line number, then deterministic hex.
fn text_log(len: usize) -> Vec<u8> {
    assert_eq!(len % LINE, 0);
    let hex = crate::common::pattern(len, 11);
    let mut out = Vec::with_capacity(len);
    for (i, bytes) in hex.chunks(LINE).enumerate() {
        let mut line = format!("{i:08} ");
        for b in bytes {
            if line.len() == LINE - 1 {
                break;
            }
            line.push(char::from(b"0123456789abcdef"[usize::from(b & 15)]));
        }
        line.push('\n');
        out.extend_from_slice(line.as_bytes());
    }
    out
}

/// Sends `data` in chunks of 64 KiB.
fn upload_in_chunks(up: &mut Uploader, data: &[u8]) {
    for chunk in data.chunks(64 * KIB) {
        up.chunk(chunk);
    }
}

/// Writes `line` (the upload's next bytes) and returns how long each of `n`
/// readers (`len(i)`: what reader `i` has received so far) took to have
/// `want` bytes, timed from the write; panics past [`SOON`].
fn time_arrival(
    up: &mut Uploader,
    line: &[u8],
    want: usize,
    n: usize,
    len: impl Fn(usize) -> usize,
) -> Vec<Duration> {
    let mut arrived: Vec<Option<Duration>> = vec![None; n];
    let written = Instant::now();
    up.chunk(line);
    while arrived.iter().any(Option::is_none) {
        for (i, at) in arrived.iter_mut().enumerate() {
            if at.is_none() && len(i) >= want {
                *at = Some(written.elapsed());
            }
        }
        assert!(
            written.elapsed() < SOON,
            "the line reached {} of {n} readers within {SOON:?}",
            arrived.iter().flatten().count(),
        );
        std::thread::sleep(Duration::from_millis(1));
    }
    arrived.into_iter().flatten().collect()
}

/// livelog's `/status` (on its upload port).
fn status(d: &Daemon) -> Value {
    let text = client()
        .get(format!("http://{}/status", d.put))
        .send()
        .and_then(|r| r.text())
        .unwrap();
    serde_json::from_str(&text).unwrap()
}

/// How many requests for the log (or its viewer) livelog logged: each one
/// a proxy sent it.
fn logged_requests(d: &Daemon, path: &str) -> usize {
    d.stderr()
        .lines()
        .filter(|l| l.contains(&format!("path={path} ")) && l.contains("status="))
        .count()
}

/// `curl -sS -D - <args>`: the response head, lower-cased, and the body.
fn fetch(args: &[&str]) -> (u16, String, Vec<u8>) {
    let mut all = vec!["-sS", "-D", "-", "-o", "-"];
    all.extend_from_slice(args);
    let (code, out, err) = curl(&all);
    assert_eq!(code, 0, "curl {args:?}: {err}");
    let end = out
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .unwrap_or_else(|| panic!("no head in {:?}", String::from_utf8_lossy(&out)))
        + 4;
    let head = String::from_utf8_lossy(&out[..end]).to_ascii_lowercase();
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no status in {head}"));
    (status, head, out[end..].to_vec())
}

/// The value of `name` (lower-case) in a lower-cased head.
fn header<'a>(head: &'a str, name: &str) -> Option<&'a str> {
    head.lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(':'))
        .map(str::trim)
}

// ------------------------------------------------------------ SSE

/// One event of an event stream.
#[derive(Debug)]
struct Event {
    event: String,
    id: Option<u64>,
    data: String,
}

/// The complete events in `bytes` (a stream so far: a last event without its
/// blank line is not yet dispatched).
fn events(bytes: &[u8]) -> Vec<Event> {
    let text = String::from_utf8_lossy(bytes);
    let complete = text.rfind("\n\n").map_or("", |at| &text[..at + 2]);
    let mut out = vec![];
    for block in complete.split("\n\n").filter(|b| !b.is_empty()) {
        let mut event = Event {
            event: "message".into(),
            id: None,
            data: String::new(),
        };
        let mut fields = 0;
        for line in block.lines().filter(|l| !l.starts_with(':')) {
            let (field, value) = line.split_once(": ").unwrap_or((line, ""));
            match field {
                "event" => event.event = value.into(),
                "id" => event.id = Some(value.parse().unwrap()),
                "data" => event.data = value.into(),
                _ => continue,
            }
            fields += 1;
        }
        if fields > 0 {
            out.push(event);
        }
    }
    out
}

/// The text of the `log` events, joined, and the last id.
fn log_text(events: &[Event]) -> (Vec<u8>, u64) {
    let mut text = Vec::new();
    let mut last = 0;
    for e in events.iter().filter(|e| e.event == "log") {
        let s: String = serde_json::from_str(&e.data).unwrap();
        text.extend_from_slice(s.as_bytes());
        let id = e.id.expect("every log event has an id");
        assert!(id > last, "ids grow: {id} after {last}");
        last = id;
    }
    (text, last)
}

/// The `end` event's data, if the stream has one.
fn end_event(events: &[Event]) -> Option<Value> {
    events
        .iter()
        .find(|e| e.event == "end")
        .map(|e| serde_json::from_str(&e.data).unwrap())
}

// ------------------------------------------------------------ the tests

/// A daemon, the proxy `kind` in front of it, and a 4 MiB log uploading:
/// its first 64 KiB sent.
fn live_upload(kind: Kind) -> (Daemon, Proxy, Arc<Vec<u8>>, Uploader) {
    let d = Daemon::start_process();
    let proxy = Proxy::start(kind, d.get);
    let log = Arc::new(text_log(4 * MIB));
    let mut up = Uploader::start(d.put);
    up.chunk(&log[..FIRST]);
    (d, proxy, log, up)
}

/// What [`live_upload`] sends first (whole lines).
const FIRST: usize = 64 * KIB;

/// Asserts every time in `took` is under [`LIVE_WITHIN`], and says them.
fn assert_live(kind: Kind, what: &str, took: &[Duration]) {
    eprintln!("{kind:?}: a live line reached {what} after {took:?}");
    assert!(
        took.iter().all(|t| *t < LIVE_WITHIN),
        "{kind:?}: a live line reached {what} after {took:?}"
    );
}

/// Two `curl -N` readers of the whole log and one resuming with `Range`
/// (`bytes=FIRST-9007199254740991`, RFC 8673's follow-to-the-end) get the
/// first bytes through the proxy, each through a backend reader of its own;
/// the next line reaches all three within [`LIVE_WITHIN`] of its write; the
/// rest (4 MiB in all) arrives byte for byte; a reader after the end gets
/// the complete log from livelog, not a copy the proxy kept.
fn a_live_log_streams_exactly(kind: Kind) {
    let (d, proxy, log, mut up) = live_upload(kind);
    let mut readers: Vec<CurlReader<Checker>> = (0..2)
        .map(|_| {
            CurlReader::into_sink(
                &["-sS", "-N", &proxy.log_url()],
                Checker::new(Arc::clone(&log)),
            )
        })
        .collect();
    for r in &readers {
        r.out.wait_len(FIRST);
    }
    let resumed = Arc::new(log[FIRST..].to_vec());
    let range = format!("Range: bytes={FIRST}-9007199254740991");
    readers.push(CurlReader::into_sink(
        &[
            "-sS",
            "-N",
            "-H",
            &range,
            "-w",
            "%{http_code}",
            &proxy.log_url(),
        ],
        // The status, written after the body, is checked apart.
        Checker::new(Arc::new([&resumed[..], b"206"].concat())),
    ));
    readers[2].wait_head();
    let connected = wait_until(SOON, || status(&d)["readers"]["connected"] == 3);
    assert!(
        connected,
        "{kind:?}: livelog serves {}",
        status(&d)["readers"]
    );
    let line = &log[FIRST..FIRST + LINE];
    let took = time_arrival(&mut up, line, FIRST + LINE, 3, |i| {
        readers[i].out.len() + if i == 2 { FIRST } else { 0 }
    });
    assert_live(kind, "three readers", &took);
    upload_in_chunks(&mut up, &log[FIRST + LINE..]);
    assert_eq!(up.finish().0, 201);
    for (i, r) in readers.into_iter().enumerate() {
        let (code, checker) = r.finish();
        assert!(
            code == 0 && checker.exact(),
            "{kind:?}: reader {i}: curl exited {code}, {} bytes, {} matching",
            checker.received,
            checker.matched
        );
    }
    let (status, head, body) = fetch(&[&proxy.log_url()]);
    assert_eq!(status, 200, "{head}");
    assert_eq!(header(&head, "content-length"), Some("4194304"), "{head}");
    assert!(body == *log, "{kind:?}: {} bytes after the end", body.len());
    assert_eq!(
        logged_requests(&d, "/log/<redacted>"),
        4,
        "{kind:?}: every reader reaches livelog:\n{}",
        d.stderr()
    );
}

#[test]
#[ignore = "needs nginx (apt-get install nginx-light); scripts/proxy-tests.sh runs it"]
fn nginx_streams_a_live_log_exactly() {
    a_live_log_streams_exactly(Kind::Nginx);
}

#[test]
#[ignore = "needs Varnish (apt-get install varnish); scripts/proxy-tests.sh runs it"]
fn varnish_streams_a_live_log_exactly() {
    a_live_log_streams_exactly(Kind::Varnish);
}

/// A `curl -N -H 'Accept: text/event-stream'` reader through the proxy
/// gets `retry`, then the log as events; the next line's event arrives
/// within [`LIVE_WITHIN`]; the stream's text is the log, its ids the end
/// offsets, and it ends with `end` `{"complete": true, "length": N}`.
fn the_event_stream_is_live(kind: Kind) {
    let (d, proxy, log, mut up) = live_upload(kind);
    let reader = CurlReader::spawn(&["-sS", "-N", "-H", SSE, &proxy.log_url()]);
    let text_len = |bytes: &[u8]| log_text(&events(bytes)).0.len();
    assert!(
        wait_until(SOON, || text_len(&reader.out.bytes()) >= FIRST),
        "{kind:?}: {:?}",
        String::from_utf8_lossy(&reader.out.bytes())
    );
    let took = time_arrival(&mut up, &log[FIRST..FIRST + LINE], FIRST + LINE, 1, |_| {
        text_len(&reader.out.bytes())
    });
    assert_live(kind, "an event stream", &took);
    upload_in_chunks(&mut up, &log[FIRST + LINE..]);
    assert_eq!(up.finish().0, 201);
    let (code, bytes) = reader.finish();
    assert_eq!(code, 0, "{kind:?}");
    assert!(bytes.starts_with(b"retry: 2000\n"), "{kind:?}");
    let events = events(&bytes);
    let (text, last_id) = log_text(&events);
    assert!(text == *log, "{kind:?}: {} bytes of text", text.len());
    assert_eq!(last_id, log.len() as u64);
    assert_eq!(
        end_event(&events),
        Some(serde_json::json!({"complete": true, "length": log.len()})),
        "{kind:?}"
    );
    assert_eq!(logged_requests(&d, "/log/<redacted>"), 1);
}

#[test]
#[ignore = "needs nginx (apt-get install nginx-light); scripts/proxy-tests.sh runs it"]
fn nginx_event_stream_is_live() {
    the_event_stream_is_live(Kind::Nginx);
}

#[test]
#[ignore = "needs Varnish (apt-get install varnish); scripts/proxy-tests.sh runs it"]
fn varnish_event_stream_is_live() {
    the_event_stream_is_live(Kind::Varnish);
}

/// The viewer page through the proxy is the page livelog serves, with its
/// `Content-Security-Policy` and `Cache-Control: no-store`; then its
/// requests, as the page makes them (assets/viewer/README.md): the event
/// stream with EventSource's headers (live within [`LIVE_WITHIN`]), a new
/// EventSource resuming with `?from=N`, EventSource's own reconnect with
/// `Last-Event-ID` (which wins over `?from=`), the `HEAD` that finds a
/// finished log's length, and `204` for a resume at its end.
fn the_viewer_works(kind: Kind) {
    let (d, proxy, log, mut up) = live_upload(kind);
    let page = format!("/view/{TOKEN}");
    let (_, direct_head, direct_page) = fetch(&[&format!("http://{}{page}", d.get)]);
    let (status, head, body) = fetch(&[&proxy.url(&page)]);
    assert_eq!(status, 200, "{kind:?}: {head}");
    assert_eq!(
        header(&head, "content-type"),
        Some("text/html; charset=utf-8")
    );
    let csp = header(&head, "content-security-policy");
    assert!(
        csp.is_some_and(|c| c.contains("default-src 'none'"))
            && csp == header(&direct_head, "content-security-policy"),
        "{kind:?}: {head}"
    );
    assert_eq!(header(&head, "cache-control"), Some("no-store"), "{head}");
    assert!(body == direct_page, "{kind:?}: the page differs");
    // EventSource's request.
    let source = |extra: &[&str], url: &str| {
        let mut args = vec!["-sS", "-N", "-H", SSE, "-H", "Cache-Control: no-cache"];
        args.extend_from_slice(extra);
        args.push(url);
        CurlReader::spawn(&args)
    };
    let first = source(&[], &proxy.log_url());
    let text_len = |bytes: &[u8]| log_text(&events(bytes)).0.len();
    assert!(wait_until(SOON, || text_len(&first.out.bytes()) >= FIRST));
    let took = time_arrival(&mut up, &log[FIRST..FIRST + LINE], FIRST + LINE, 1, |_| {
        text_len(&first.out.bytes())
    });
    assert_live(kind, "the viewer's event stream", &took);
    // A new EventSource after a non-stream answer, and EventSource's own
    // reconnect after a drop (its URL keeps the `?from=` it was opened with).
    let (from, last_id) = (1000 * LINE, FIRST + LINE);
    let resumed = source(&[], &format!("{}?from={from}", proxy.log_url()));
    let reconnected = source(
        &["-H", &format!("Last-Event-ID: {last_id}")],
        &format!("{}?from={from}", proxy.log_url()),
    );
    resumed.wait_head();
    reconnected.wait_head();
    upload_in_chunks(&mut up, &log[FIRST + LINE..]);
    assert_eq!(up.finish().0, 201);
    for (reader, start) in [(first, 0), (resumed, from), (reconnected, last_id)] {
        let (code, bytes) = reader.finish();
        let events = events(&bytes);
        let (text, last) = log_text(&events);
        assert!(
            code == 0 && text == log[start..] && last == log.len() as u64,
            "{kind:?}: from {start}: curl exited {code}, {} bytes of text",
            text.len()
        );
        assert_eq!(end_event(&events).unwrap()["complete"], true);
    }
    // The page's HEAD once a stream closes without its end event, and a
    // resume at the end.
    let (status, head, _) = fetch(&["-I", &proxy.log_url()]);
    assert_eq!(status, 200, "{kind:?}: {head}");
    assert_eq!(header(&head, "content-length"), Some("4194304"), "{head}");
    let at_end = format!("{}?from={}", proxy.log_url(), log.len());
    let (status, head, _) = fetch(&["-H", SSE, &at_end]);
    assert_eq!(status, 204, "{kind:?}: {head}");
}

#[test]
#[ignore = "needs nginx (apt-get install nginx-light); scripts/proxy-tests.sh runs it"]
fn nginx_viewer_works() {
    the_viewer_works(Kind::Nginx);
}

#[test]
#[ignore = "needs Varnish (apt-get install varnish); scripts/proxy-tests.sh runs it"]
fn varnish_viewer_works() {
    the_viewer_works(Kind::Varnish);
}

/// Errors through the proxy keep livelog's status and its
/// `Access-Control-Allow-Origin: *`, so a page's `fetch()` can read them:
/// 401 (wrong token), 404, 405 (`POST`), 416 (a range past a complete log,
/// with its `Content-Range`).
fn errors_keep_status_and_cors(kind: Kind) {
    let d = Daemon::start_process();
    let proxy = Proxy::start(kind, d.get);
    let mut up = Uploader::start(d.put);
    up.chunk(b"done\n");
    assert_eq!(up.finish().0, 201);
    let cases: [(&str, &[&str], u16); 4] = [
        ("/log/wrong", &[], 401),
        ("/nowhere", &[], 404),
        (&format!("/log/{TOKEN}"), &["-X", "POST"], 405),
        (
            &format!("/log/{TOKEN}"),
            &["-H", "Range: bytes=999999-"],
            416,
        ),
    ];
    for (path, args, want) in cases {
        for url in [format!("http://{}{path}", d.get), proxy.url(path)] {
            let mut all = args.to_vec();
            all.push(&url);
            let (status, head, _) = fetch(&all);
            assert_eq!(status, want, "{kind:?}: {url} {args:?}: {head}");
            assert_eq!(
                header(&head, "access-control-allow-origin"),
                Some("*"),
                "{kind:?}: {url} {args:?}: {head}"
            );
            if want == 416 {
                assert_eq!(header(&head, "content-range"), Some("bytes */5"), "{head}");
            }
            if want == 405 {
                assert!(header(&head, "allow").is_some(), "{kind:?}: {head}");
            }
        }
    }
}

#[test]
#[ignore = "needs nginx (apt-get install nginx-light); scripts/proxy-tests.sh runs it"]
fn nginx_errors_keep_status_and_cors() {
    errors_keep_status_and_cors(Kind::Nginx);
}

#[test]
#[ignore = "needs Varnish (apt-get install varnish); scripts/proxy-tests.sh runs it"]
fn varnish_errors_keep_status_and_cors() {
    errors_keep_status_and_cors(Kind::Varnish);
}

/// An upload that breaks: a raw reader through the proxy gets every stored
/// byte and then an incomplete end (curl exits non-zero: the proxy does not
/// make a truncated log look complete), and an event stream gets its `end`
/// event with `"complete": false`.
fn a_broken_upload_stays_incomplete(kind: Kind) {
    let (d, proxy, log, up) = live_upload(kind);
    let raw = CurlReader::spawn(&["-sS", "-N", &proxy.log_url()]);
    let sse = CurlReader::spawn(&["-sS", "-N", "-H", SSE, &proxy.log_url()]);
    raw.out.wait_len(FIRST);
    assert!(wait_until(SOON, || log_text(&events(&sse.out.bytes()))
        .0
        .len()
        >= FIRST));
    up.abort();
    let (code, bytes) = raw.finish();
    assert!(
        code != 0 && bytes == log[..FIRST],
        "{kind:?}: curl exited {code} after {} bytes",
        bytes.len()
    );
    let (code, bytes) = sse.finish();
    assert_eq!(code, 0, "{kind:?}: the event stream ends cleanly");
    assert_eq!(
        end_event(&events(&bytes)),
        Some(serde_json::json!({"complete": false, "length": FIRST})),
        "{kind:?}"
    );
    drop(d);
}

#[test]
#[ignore = "needs nginx (apt-get install nginx-light); scripts/proxy-tests.sh runs it"]
fn nginx_broken_upload_stays_incomplete() {
    a_broken_upload_stays_incomplete(Kind::Nginx);
}

#[test]
#[ignore = "needs Varnish (apt-get install varnish); scripts/proxy-tests.sh runs it"]
fn varnish_broken_upload_stays_incomplete() {
    a_broken_upload_stays_incomplete(Kind::Varnish);
}

/// What Varnish 7.1 does with livelog and the built-in VCL alone: the
/// answers' `Cache-Control: no-store` makes each a hit-for-miss object, so
/// readers are neither served from a cache nor merged onto one backend
/// fetch (each is a livelog reader of its own, also after the end), and
/// streaming is on (`beresp.do_stream`). Varnish asks livelog for gzip on
/// every such fetch: a reader that accepts gzip (`curl --compressed`, as
/// browsers do) gets it as livelog compresses it, live; the event stream,
/// never compressed, is live too; a reader that does not accept gzip gets
/// Varnish's gunzip of it, exact but not live (see [`vcl`]), so it is only
/// checked for its bytes here.
#[test]
#[ignore = "needs Varnish (apt-get install varnish); scripts/proxy-tests.sh runs it"]
fn varnish_builtin_vcl_neither_caches_nor_merges_readers() {
    let kind = Kind::VarnishBuiltin;
    let (d, proxy, log, mut up) = live_upload(kind);
    let url = proxy.log_url();
    let gzip: Vec<CurlReader<Checker>> = (0..2)
        .map(|_| {
            CurlReader::into_sink(
                &["-sS", "-N", "--compressed", &url],
                Checker::new(Arc::clone(&log)),
            )
        })
        .collect();
    let sse = CurlReader::spawn(&["-sS", "-N", "-H", SSE, &url]);
    let plain = CurlReader::into_sink(&["-sS", "-N", &url], Checker::new(Arc::clone(&log)));
    for r in &gzip {
        r.out.wait_len(FIRST);
    }
    let text_len = |bytes: &[u8]| log_text(&events(bytes)).0.len();
    assert!(wait_until(SOON, || text_len(&sse.out.bytes()) >= FIRST));
    plain.wait_head();
    // Four readers, four livelog readers, three of them gzip (Varnish asked
    // for it, whatever the client accepts).
    let readers = || status(&d)["readers"].clone();
    let merged_none = wait_until(SOON, || readers()["connected"] == 4);
    assert!(merged_none, "{:?}", readers());
    assert_eq!(readers()["by_kind"]["gzip"], 3, "{:?}", readers());
    let took = time_arrival(
        &mut up,
        &log[FIRST..FIRST + LINE],
        FIRST + LINE,
        3,
        |i| match i {
            0 | 1 => gzip[i].out.len(),
            _ => text_len(&sse.out.bytes()),
        },
    );
    assert_live(kind, "two gzip readers and an event stream", &took);
    upload_in_chunks(&mut up, &log[FIRST + LINE..]);
    assert_eq!(up.finish().0, 201);
    for r in gzip.into_iter().chain([plain]) {
        let (code, checker) = r.finish();
        assert!(
            code == 0 && checker.exact(),
            "curl exited {code}, {} bytes, {} matching",
            checker.received,
            checker.matched
        );
    }
    let (code, bytes) = sse.finish();
    assert_eq!(code, 0);
    assert!(log_text(&events(&bytes)).0 == *log);
    // After the end, two more readers: each is a livelog request again
    // (nothing was cached), and each gets the complete log.
    for _ in 0..2 {
        let (status, head, body) = fetch(&[&url]);
        assert_eq!(status, 200, "{head}");
        assert!(body == *log, "{} bytes after the end", body.len());
    }
    assert_eq!(
        logged_requests(&d, "/log/<redacted>"),
        6,
        "every reader reaches livelog:\n{}",
        d.stderr()
    );
}

/// A log that falls silent for longer than the proxy's read timeout
/// (nginx's `proxy_read_timeout`, Varnish's `between_bytes_timeout`: 60 s by
/// default, 2 s here, with livelog's heartbeat at 1 s): the event stream
/// lives on its heartbeats and gets the next line; a raw reader, which has
/// no heartbeat, is cut by the proxy, incomplete (curl exits non-zero), never
/// as if the log had ended. A deployment whose raw readers follow logs that
/// may stay silent for a minute raises the proxy's timeout.
fn heartbeats_outlast_the_read_timeout(kind: Kind) {
    let d = Daemon::builder()
        .env("LIVELOG_HEARTBEAT_SECS", "1")
        .start_process();
    let proxy = Proxy::start_with(kind, d.get, Some(2));
    let log = text_log(4 * LINE);
    let mut up = Uploader::start(d.put);
    up.chunk(&log[..LINE]);
    let raw = CurlReader::spawn(&["-sS", "-N", &proxy.log_url()]);
    let mut sse = CurlReader::spawn(&["-sS", "-N", "-H", SSE, &proxy.log_url()]);
    raw.out.wait_len(LINE);
    assert!(wait_until(SOON, || log_text(&events(&sse.out.bytes()))
        .0
        .len()
        == LINE));
    let silent = Instant::now();
    // The proxy gives up on the raw reader after 2 s of silence.
    let (code, bytes) = raw.finish();
    assert!(
        code != 0 && bytes == log[..LINE],
        "{kind:?}: curl exited {code} after {} bytes",
        bytes.len()
    );
    // Twice the timeout, and the event stream is still there.
    let quiet = Duration::from_secs(4);
    assert!(
        !wait_until(quiet, || !sse.is_running()),
        "{kind:?}: the event stream was cut"
    );
    assert!(silent.elapsed() >= quiet);
    let took = time_arrival(&mut up, &log[LINE..2 * LINE], 2 * LINE, 1, |_| {
        log_text(&events(&sse.out.bytes())).0.len()
    });
    assert_live(kind, "an event stream after the silence", &took);
    up.chunk(&log[2 * LINE..]);
    assert_eq!(up.finish().0, 201);
    let (code, bytes) = sse.finish();
    let text = String::from_utf8_lossy(&bytes);
    assert!(
        code == 0 && text.matches(": heartbeat").count() >= 3,
        "{kind:?}: curl exited {code}: {text}"
    );
    assert_eq!(log_text(&events(&bytes)).0, log, "{kind:?}");
}

#[test]
#[ignore = "needs nginx (apt-get install nginx-light); scripts/proxy-tests.sh runs it"]
fn nginx_heartbeats_outlast_the_read_timeout() {
    heartbeats_outlast_the_read_timeout(Kind::Nginx);
}

#[test]
#[ignore = "needs Varnish (apt-get install varnish); scripts/proxy-tests.sh runs it"]
fn varnish_heartbeats_outlast_the_read_timeout() {
    heartbeats_outlast_the_read_timeout(Kind::Varnish);
}
