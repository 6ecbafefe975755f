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
//! included, is [`builtin_vcl::varnish_builtin_vcl_neither_caches_nor_merges_readers`].
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

mod builtin_vcl;
mod clients;
mod errors;
mod heartbeats;
mod server;
mod shared_cache;
mod viewer;

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
