//! The log as Server-Sent Events, with real clients over real
//! sockets: `curl -N -H 'Accept: text/event-stream'` as docs/browsers.md
//! writes it, raw sockets where a test must control reading, reqwest for
//! HTTP/2 stream windows. The browser's side (EventSource, the viewer page)
//! is in `tests/browser/`.
//!
//! What is checked: the stream's format (`retry`, `event: log` with JSON
//! text and ids that are end offsets, `event: end`), UTF-8 never split
//! between events, exact resume by `Last-Event-ID` or `?from=`, `204` past
//! the end, `400` for a bad offset, heartbeats, the end of complete and
//! broken uploads, reader slots and the stall timeout on HTTP/1.1 and
//! HTTP/2, and the viewer page's response.

use std::io::{BufRead, BufReader, Read};
use std::sync::Arc;
use std::thread;
use std::time::Duration;

use crate::common::{
    CurlReader, Daemon, RawReader, SOON, TOKEN, Uploader, curl, pattern, read_body,
    self_signed_cert, wait_until,
};
use serde_json::{Value, json};

mod lifetime;
mod resume;
mod viewer_page;

const MIB: usize = 1024 * 1024;
const ACCEPT: &str = "Accept: text/event-stream";

// ------------------------------------------------------------ SSE parsing

/// One dispatched event, as EventSource would see it.
#[derive(Debug, Clone, PartialEq)]
struct Event {
    event: String,
    id: Option<u64>,
    data: String,
}

impl Event {
    /// The text of a `log` event (its data is one JSON string).
    fn text(&self) -> String {
        serde_json::from_str(&self.data)
            .unwrap_or_else(|e| panic!("data is not a JSON string ({e}): {:?}", self.data))
    }
}

/// An event stream, parsed as WHATWG HTML's "event stream interpretation"
/// does (livelog ends lines with `\n` only).
#[derive(Debug, Default)]
struct Stream {
    /// `retry:` values, in order.
    retries: Vec<String>,
    /// Comment lines (without the colon), in order.
    comments: Vec<String>,
    events: Vec<Event>,
    /// The field lines in order, as sent (to check what comes first).
    lines: Vec<String>,
}

fn parse(bytes: &[u8]) -> Stream {
    let text = std::str::from_utf8(bytes).expect("an event stream is UTF-8");
    let mut out = Stream::default();
    let mut current: Option<Event> = None;
    for line in text.split('\n') {
        if line.is_empty() {
            if let Some(event) = current.take() {
                out.events.push(event);
            }
            continue;
        }
        out.lines.push(line.to_string());
        if let Some(comment) = line.strip_prefix(':') {
            out.comments.push(comment.trim_start().to_string());
            continue;
        }
        let (field, value) = line.split_once(": ").unwrap_or((line, ""));
        if field == "retry" {
            out.retries.push(value.to_string());
            continue;
        }
        let event = current.get_or_insert(Event {
            event: "message".into(),
            id: None,
            data: String::new(),
        });
        match field {
            "event" => event.event = value.to_string(),
            "id" => event.id = Some(value.parse().expect("ids are byte offsets")),
            "data" => {
                assert!(event.data.is_empty(), "one data line per event: {line:?}");
                event.data = value.to_string();
            }
            other => panic!("unexpected field {other:?} in {line:?}"),
        }
    }
    assert!(
        current.is_none(),
        "the stream ended inside an event: {current:?}"
    );
    out
}

impl Stream {
    fn logs(&self) -> Vec<&Event> {
        self.events.iter().filter(|e| e.event == "log").collect()
    }

    /// The text of every log event, joined.
    fn text(&self) -> String {
        self.logs().iter().map(|e| e.text()).collect()
    }

    /// The id of the last log event (0 if none).
    fn last_id(&self) -> u64 {
        self.logs().last().map_or(0, |e| e.id.unwrap())
    }

    /// The end event's data as JSON, if the stream has one (and it is last).
    fn end(&self) -> Option<Value> {
        let end = self.events.iter().position(|e| e.event == "end")?;
        assert_eq!(end, self.events.len() - 1, "the end event is the last");
        Some(serde_json::from_str(&self.events[end].data).expect("end data is JSON"))
    }

    /// Every log event has an id, ids strictly grow from `start`, and each
    /// is the offset where its text ends: `start` plus the UTF-8 length of
    /// all text so far (for a log that is valid UTF-8).
    fn assert_ids_are_end_offsets(&self, start: u64) {
        let mut at = start;
        for e in self.logs() {
            let id =
                e.id.unwrap_or_else(|| panic!("a log event without an id: {e:?}"));
            at += e.text().len() as u64;
            assert_eq!(id, at, "id of {e:?}");
        }
    }
}

// ---------------------------------------------------------------- helpers

fn sse_url(d: &Daemon, query: &str) -> String {
    format!("{}{query}", d.get_url())
}

/// `curl -sN -H 'Accept: text/event-stream' [args] <url>` in the background.
fn sse_reader(url: &str, args: &[&str]) -> CurlReader {
    let mut all = vec!["-sS", "-N", "-H", ACCEPT];
    all.extend_from_slice(args);
    all.push(url);
    CurlReader::spawn(&all)
}

/// One `curl -s -i` exchange: (status, lower-cased headers, body).
fn exchange(args: &[&str]) -> (u16, Vec<(String, String)>, Vec<u8>) {
    let mut all = vec!["-sS", "-i"];
    all.extend_from_slice(args);
    let (code, out, err) = curl(&all);
    assert_eq!(code, 0, "curl {args:?}: {err}");
    let split = out
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("a response head");
    let head = String::from_utf8_lossy(&out[..split]).into_owned();
    let mut lines = head.lines();
    let status = lines
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|s| s.parse().ok())
        .expect("status line");
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    (status, headers, out[split + 4..].to_vec())
}

fn header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

/// Uploads `data` as one complete log.
fn upload_all(d: &Daemon, data: &[u8]) {
    let mut up = Uploader::start(d.put);
    for piece in data.chunks(64 * 1024) {
        up.chunk(piece);
    }
    let (status, reply) = up.finish();
    assert_eq!(status, 201, "{reply}");
}

/// A log of valid UTF-8 of about `len` bytes: ASCII words, 2-, 3- and
/// 4-byte characters, `\r\n`, `\r`, quotes, backslashes, colour codes.
fn text_log(len: usize, seed: u64) -> String {
    const PIECES: &[&str] = &[
        "build",
        " ",
        "é",
        "€",
        "𝄞",
        "日本",
        "\r\n",
        "\n",
        "\r",
        "\x1b[31m",
        "\x1b[0m",
        "\"",
        "\\",
        "\t",
        "ok",
        "\u{2028}",
        "data: x",
        ": no comment",
    ];
    let random = pattern(len, seed);
    let mut out = String::with_capacity(len + 8);
    let mut i = 0;
    while out.len() < len {
        out.push_str(PIECES[random[i % random.len()] as usize % PIECES.len()]);
        i += 1;
    }
    out
}

/// `/status` of the daemon.
fn status_doc(d: &Daemon) -> Value {
    let (code, out, err) = curl(&["-sS", &format!("http://{}/status", d.put)]);
    assert_eq!(code, 0, "{err}");
    serde_json::from_slice(&out).expect("/status is JSON")
}

/// Waits until curl's output holds `needle`.
fn wait_for_output(reader: &CurlReader, needle: &str) {
    assert!(
        wait_until(SOON, || String::from_utf8_lossy(&reader.out.bytes())
            .contains(needle)),
        "no {needle:?} within {SOON:?}; got {:?}",
        String::from_utf8_lossy(&reader.out.bytes())
    );
}

// ------------------------------------------------------------------ tests

/// docs/browsers.md's example: `curl -N -H 'Accept: text/event-stream' <url>`
/// while the log is uploaded. `retry` first, one `log` event per chunk with
/// the end offset as its id (5 bytes after a clean start: `id: 5`), the text
/// as JSON, then the end event, and curl exits 0.
#[test]
fn curl_sees_retry_then_log_events_with_end_offsets_then_the_end() {
    let d = Daemon::start();
    let reader = sse_reader(&d.get_url(), &[]);
    reader.wait_head();
    wait_for_output(&reader, "retry: 2000\n\n");
    let mut up = Uploader::start(d.put);
    up.chunk(b"hello");
    wait_for_output(&reader, "id: 5\n");
    let rest: &[&[u8]] = &[
        b"\r\n",
        b"\x1b[32mgreen\x1b[0m \"quoted\" \\ tab\t\n",
        b"last",
    ];
    let mut log = b"hello".to_vec();
    for piece in rest {
        up.chunk(piece);
        log.extend_from_slice(piece);
        // One chunk at a time: each is its own event.
        wait_for_output(&reader, &format!("id: {}\n", log.len()));
    }
    assert_eq!(up.finish().0, 201);
    let (code, out) = reader.finish();
    assert_eq!(code, 0, "the stream ends cleanly");
    let s = parse(&out);
    assert_eq!(s.lines[0], "retry: 2000", "retry comes first");
    assert_eq!(s.retries, ["2000"]);
    assert_eq!(
        s.logs().iter().map(|e| e.id.unwrap()).collect::<Vec<_>>(),
        [5, 7, 38, 42]
    );
    assert_eq!(s.logs()[0].data, "\"hello\"");
    assert_eq!(s.logs()[1].data, "\"\\r\\n\"");
    assert_eq!(
        s.logs()[2].data,
        r#""\u001b[32mgreen\u001b[0m \"quoted\" \\ tab\t\n""#
    );
    s.assert_ids_are_end_offsets(0);
    assert_eq!(s.text().as_bytes(), log);
    assert_eq!(s.end(), Some(json!({"complete": true, "length": 42})));
    // The end event as a person reads it.
    assert!(
        String::from_utf8_lossy(&out)
            .ends_with("event: end\ndata: {\"complete\": true, \"length\": 42}\n\n"),
        "{}",
        String::from_utf8_lossy(&out)
    );

    // The head: an event stream, not cached, readable cross-origin, with
    // the log's state.
    let (status, headers, body) = exchange(&["-H", ACCEPT, &d.get_url()]);
    assert_eq!(status, 200);
    assert_eq!(header(&headers, "content-type"), Some("text/event-stream"));
    assert_eq!(header(&headers, "cache-control"), Some("no-store"));
    assert_eq!(header(&headers, "access-control-allow-origin"), Some("*"));
    assert_eq!(header(&headers, "livelog-state"), Some("complete"));
    assert_eq!(header(&headers, "content-encoding"), None);
    // A complete log read at once is coalesced into one event.
    let whole = parse(&body);
    assert_eq!(whole.logs().len(), 1, "{whole:?}");
    assert_eq!(whole.text().as_bytes(), log);
}

/// Without `Accept: text/event-stream` nothing changes: `*/*`, `text/*` and
/// `text/plain` get the raw bytes.
#[test]
fn other_accept_values_get_the_raw_log() {
    let d = Daemon::start();
    upload_all(&d, b"raw \xff bytes\r\n");
    for accept in ["*/*", "text/*", "text/plain", "text/event-stream;q=0"] {
        let (status, headers, body) = exchange(&["-H", &format!("Accept: {accept}"), &d.get_url()]);
        assert_eq!(status, 200, "{accept}");
        assert_eq!(
            header(&headers, "content-type"),
            Some("text/plain; charset=utf-8")
        );
        assert_eq!(body, b"raw \xff bytes\r\n", "{accept}");
    }
}

/// An event stream is identity whatever `Accept-Encoding` offers (each is
/// framed for its reader alone; livelog compresses only what all readers
/// of a coding share), while the raw log beside it is compressed.
#[test]
fn event_streams_are_never_compressed() {
    let d = Daemon::start();
    let log = text_log(64 * 1024, 4);
    upload_all(&d, log.as_bytes());
    for offer in ["gzip", "zstd", "gzip, deflate, br, zstd"] {
        let encoding = format!("Accept-Encoding: {offer}");
        let (status, headers, body) = exchange(&["-H", ACCEPT, "-H", &encoding, &d.get_url()]);
        assert_eq!(status, 200, "{offer}");
        assert_eq!(header(&headers, "content-encoding"), None, "{offer}");
        assert_eq!(header(&headers, "content-type"), Some("text/event-stream"));
        assert!(parse(&body).text() == log, "{offer}");
    }
    let (_, headers, _) = exchange(&["-H", "Accept-Encoding: gzip", &d.get_url()]);
    assert_eq!(header(&headers, "content-encoding"), Some("gzip"));
}

/// A character split between uploaded chunks arrives whole, in one event;
/// the bytes before it are not held back; invalid bytes become U+FFFD; an
/// incomplete character left when the log ends becomes U+FFFD before the
/// end event. Ids count raw bytes throughout.
#[test]
fn a_character_split_across_chunks_is_never_split_across_events() {
    let d = Daemon::start();
    let reader = sse_reader(&d.get_url(), &[]);
    reader.wait_head();
    let mut up = Uploader::start(d.put);
    // "a€": the euro sign's first two bytes, then its last.
    up.chunk(b"a\xe2\x82");
    wait_for_output(&reader, "data: \"a\"\nid: 1\n");
    up.chunk(b"\xac!");
    wait_for_output(&reader, "data: \"€!\"\nid: 5\n");
    // A 4-byte character in three chunks.
    up.chunk(b"\xf0");
    up.chunk(b"\x9d");
    up.chunk(b"\x84\x9e.");
    wait_for_output(&reader, "id: 10\n");
    // Not UTF-8 at all, then a character the log never finishes.
    up.chunk(b"\xff\xfex");
    wait_for_output(&reader, "id: 13\n");
    up.chunk(b"\xe6\x97");
    up.abort();
    let (code, out) = reader.finish();
    assert_eq!(code, 0);
    let s = parse(&out);
    let events: Vec<(u64, String)> = s.logs().iter().map(|e| (e.id.unwrap(), e.text())).collect();
    assert_eq!(
        events,
        [
            (1, "a".to_string()),
            (5, "€!".into()),
            (10, "𝄞.".into()),
            (13, "\u{FFFD}\u{FFFD}x".into()),
            (15, "\u{FFFD}".into()),
        ]
    );
    assert_eq!(s.end(), Some(json!({"complete": false, "length": 15})));

    // Many random chunk boundaries through a bigger log: the events join
    // to exactly the log, with no U+FFFD anywhere.
    let d = Daemon::start();
    let log = text_log(MIB, 3);
    let reader = sse_reader(&d.get_url(), &[]);
    reader.wait_head();
    let mut up = Uploader::start(d.put);
    let sizes = pattern(4096, 9);
    let (mut pos, mut split) = (0, 0);
    for size in sizes.iter().cycle() {
        if pos >= log.len() {
            break;
        }
        let end = (pos + *size as usize % 700 + 1).min(log.len());
        split += usize::from(!log.is_char_boundary(end));
        up.chunk(&log.as_bytes()[pos..end]);
        pos = end;
    }
    assert!(split > 100, "only {split} chunks split a character");
    assert_eq!(up.finish().0, 201);
    let (code, out) = reader.finish();
    assert_eq!(code, 0);
    let s = parse(&out);
    s.assert_ids_are_end_offsets(0);
    assert!(s.text() == log, "the events' text differs from the log");
    assert_eq!(
        s.end(),
        Some(json!({"complete": true, "length": log.len()}))
    );
}
