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

/// Resuming from any event's id, by `Last-Event-ID` or `?from=`, gives the
/// rest of the log: joined to what came before, exactly the log. An offset
/// inside a character gives U+FFFD for its remaining bytes (as decoding
/// those bytes would). `Last-Event-ID` wins over `?from=`.
#[test]
fn resume_by_last_event_id_or_from_continues_exactly() {
    let d = Daemon::start();
    // Several events' worth (events carry at most 64 KiB).
    let log = text_log(300 * 1024, 5);
    upload_all(&d, log.as_bytes());
    let (status, _, body) = exchange(&["-H", ACCEPT, &d.get_url()]);
    assert_eq!(status, 200);
    let whole = parse(&body);
    assert!(whole.logs().len() >= 5, "{} events", whole.logs().len());
    assert!(whole.text() == log);
    whole.assert_ids_are_end_offsets(0);

    let mut before = String::new();
    for e in whole.logs() {
        before.push_str(&e.text());
        let id = e.id.unwrap();
        if id == log.len() as u64 {
            break;
        }
        for how in ["header", "query"] {
            let id_header = format!("Last-Event-ID: {id}");
            let args = match how {
                "header" => vec!["-H", ACCEPT, "-H", &id_header],
                _ => vec!["-H", ACCEPT],
            };
            let url = match how {
                "header" => d.get_url(),
                _ => sse_url(&d, &format!("?from={id}")),
            };
            let mut all = args.clone();
            all.push(&url);
            let (status, _, body) = exchange(&all);
            assert_eq!(status, 200, "{how} {id}");
            let rest = parse(&body);
            rest.assert_ids_are_end_offsets(id);
            let joined = before.clone() + &rest.text();
            assert!(joined == log, "resumed by {how} at {id}: not the log");
        }
    }

    // Any offset, not only an event's id; inside a character, its
    // remaining bytes are U+FFFD, exactly as decoding them would give.
    for at in [1, 4095, 65536, 100_001, log.len() - 1] {
        let (status, _, body) = exchange(&["-H", ACCEPT, &sse_url(&d, &format!("?from={at}"))]);
        assert_eq!(status, 200);
        let rest = parse(&body);
        assert_eq!(
            rest.text(),
            String::from_utf8_lossy(&log.as_bytes()[at..]),
            "from {at}"
        );
        assert_eq!(rest.last_id(), log.len() as u64);
    }

    // Both: EventSource keeps the URL it opened (?from= included) and sends
    // the newer offset in Last-Event-ID.
    let (_, _, body) = exchange(&[
        "-H",
        ACCEPT,
        "-H",
        "Last-Event-ID: 100",
        &sse_url(&d, "?from=7"),
    ]);
    let rest = parse(&body);
    rest.assert_ids_are_end_offsets(100);
    assert_eq!(rest.text(), String::from_utf8_lossy(&log.as_bytes()[100..]));
}

/// A reader drops mid-stream while the upload goes on; a new request with
/// the last id it received continues exactly there: nothing lost, nothing
/// repeated, on a live log.
#[test]
fn resume_on_a_live_log_loses_and_repeats_nothing() {
    let d = Daemon::start();
    let log = text_log(200 * 1024, 8);
    let bytes = log.as_bytes();
    let mut up = Uploader::start(d.put);
    // A cut inside a character: its first bytes are held back.
    let mut cut = 100 * 1024;
    while log.is_char_boundary(cut) {
        cut += 1;
    }
    up.chunk(&bytes[..cut]);

    // Read events over a raw socket until the first part has arrived, then
    // drop the connection.
    let mut reader = RawReader::connect_with(
        d.get,
        None,
        &format!("/log/{TOKEN}"),
        &format!("{ACCEPT}\r\n"),
    );
    let (status, _) = reader.head();
    assert_eq!(status, 200);
    let mut lines = BufReader::new(reader.body());
    let mut first = Vec::new();
    let mut last_id = 0u64;
    while last_id + 3 < cut as u64 {
        let mut line = String::new();
        assert!(lines.read_line(&mut line).unwrap() > 0, "the stream ended");
        if let Some(id) = line.strip_prefix("id: ") {
            last_id = id.trim().parse().unwrap();
        }
        first.extend_from_slice(line.as_bytes());
    }
    // The rest of that event.
    loop {
        let mut line = String::new();
        lines.read_line(&mut line).unwrap();
        first.extend_from_slice(line.as_bytes());
        if line == "\n" {
            break;
        }
    }
    drop(lines);
    let first = parse(&first);
    assert!(
        (cut - 3..cut).contains(&(last_id as usize)),
        "held back: {last_id} of {cut}"
    );

    // More of the log while no one reads, then resume and finish.
    up.chunk(&bytes[cut..cut + 50 * 1024]);
    let resumed = sse_reader(&d.get_url(), &["-H", &format!("Last-Event-ID: {last_id}")]);
    resumed.wait_head();
    up.chunk(&bytes[cut + 50 * 1024..]);
    assert_eq!(up.finish().0, 201);
    let (code, out) = resumed.finish();
    assert_eq!(code, 0);
    let rest = parse(&out);
    rest.assert_ids_are_end_offsets(last_id);
    assert!(
        first.text() + &rest.text() == log,
        "the two streams do not join to the log"
    );
    assert_eq!(
        rest.end(),
        Some(json!({"complete": true, "length": bytes.len()}))
    );
}

/// At or past the end of a complete log: `204 No Content` (EventSource
/// stops reconnecting). Past the end of a live log: the stream waits for
/// those bytes and starts exactly there.
#[test]
fn resuming_at_or_past_the_end_of_a_complete_log_is_204() {
    let d = Daemon::start();
    let mut up = Uploader::start(d.put);
    up.chunk(b"12345");
    // Live: byte 8 does not exist yet; the stream waits for it.
    let ahead = sse_reader(&d.get_url(), &["-H", "Last-Event-ID: 8"]);
    ahead.wait_head();
    up.chunk(b"67890");
    let (status, reply) = up.finish();
    assert_eq!(status, 201, "{reply}");
    let (code, out) = ahead.finish();
    assert_eq!(code, 0);
    let s = parse(&out);
    assert_eq!(s.logs().len(), 1);
    assert_eq!(
        (s.logs()[0].id, s.logs()[0].text()),
        (Some(10), "90".into())
    );
    assert_eq!(s.end(), Some(json!({"complete": true, "length": 10})));

    for (extra, query) in [
        ("Last-Event-ID: 10", ""),
        ("Last-Event-ID: 11", ""),
        ("Last-Event-ID: 18446744073709551615", ""),
        ("X-None: 0", "?from=10"),
        ("X-None: 0", "?from=4000"),
    ] {
        let (status, headers, body) = exchange(&["-H", ACCEPT, "-H", extra, &sse_url(&d, query)]);
        assert_eq!(status, 204, "{extra} {query}");
        assert!(body.is_empty());
        assert_eq!(header(&headers, "livelog-state"), Some("complete"));
        assert_eq!(header(&headers, "access-control-allow-origin"), Some("*"));
    }
    let (status, _, body) = exchange(&["-H", ACCEPT, "-H", "Last-Event-ID: 9", &d.get_url()]);
    assert_eq!(status, 200);
    assert_eq!(parse(&body).text(), "0");
}

/// An offset that is not a whole number is `400` with a one-line reason,
/// and takes no reader slot.
#[test]
fn a_resume_offset_that_is_not_a_number_is_400() {
    let d = Daemon::builder().env("LIVELOG_MAX_READERS", "1").start();
    upload_all(&d, b"some log\n");
    for (extra, query) in [
        ("Last-Event-ID: abc", ""),
        ("Last-Event-ID: -1", ""),
        ("Last-Event-ID: 1.5", ""),
        ("Last-Event-ID: 0x10", ""),
        ("Last-Event-ID: 99999999999999999999", ""),
        ("X-None: 0", "?from="),
        ("X-None: 0", "?from=ten"),
        ("X-None: 0", "?from=1&from=2"),
    ] {
        let (status, headers, body) = exchange(&["-H", ACCEPT, "-H", extra, &sse_url(&d, query)]);
        assert_eq!(status, 400, "{extra} {query}");
        let body = String::from_utf8(body).unwrap();
        assert!(
            body.starts_with("bad request: ") && body.ends_with('\n') && body.lines().count() == 1,
            "{body:?}"
        );
        assert_eq!(header(&headers, "access-control-allow-origin"), Some("*"));
    }
    // Last-Event-ID wins, so a bad ?from= beside a good one is not looked at.
    let (status, _, body) = exchange(&[
        "-H",
        ACCEPT,
        "-H",
        "Last-Event-ID: 5",
        &sse_url(&d, "?from=junk"),
    ]);
    assert_eq!(status, 200);
    assert_eq!(parse(&body).text(), "log\n");
}

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

// ------------------------------------------------------------------ viewer

/// `GET /view/<token>`: one response holding the page with its script and
/// style inline, the headers of the contract (assets/viewer/README.md), a
/// policy whose hashes are those of the inline script and style. `HEAD` has
/// the same head; a wrong token is `401`, another method `405`; the access
/// log shows `/view/<redacted>`.
#[test]
fn the_viewer_page_is_one_response_with_a_hashed_policy() {
    use base64::Engine;
    let d = Daemon::start();
    let url = format!("http://{}/view/{TOKEN}", d.get);
    let (status, headers, body) = exchange(&[url.as_str()]);
    assert_eq!(status, 200);
    let page = String::from_utf8(body).unwrap();
    for (name, value) in [
        ("content-type", "text/html; charset=utf-8"),
        ("referrer-policy", "no-referrer"),
        ("x-content-type-options", "nosniff"),
        ("x-frame-options", "DENY"),
        ("cross-origin-opener-policy", "same-origin"),
        ("cross-origin-resource-policy", "same-origin"),
        ("cache-control", "no-store"),
    ] {
        assert_eq!(header(&headers, name), Some(value), "{name}");
    }
    assert_eq!(
        header(&headers, "content-length"),
        Some(page.len().to_string().as_str())
    );
    assert_eq!(header(&headers, "access-control-allow-origin"), None);
    let inline = |open: &str, close: &str| {
        let start = page.find(open).expect(open) + open.len();
        let end = start + page[start..].find(close).expect(close);
        let digest = ring::digest::digest(&ring::digest::SHA256, &page.as_bytes()[start..end]);
        base64::engine::general_purpose::STANDARD.encode(digest)
    };
    let csp = header(&headers, "content-security-policy").expect("a CSP");
    assert_eq!(
        csp,
        format!(
            "default-src 'none'; script-src 'sha256-{}'; style-src 'sha256-{}'; connect-src 'self'; \
             img-src data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'; \
             require-trusted-types-for 'script'; trusted-types 'none'",
            inline("<script>", "</script>"),
            inline("<style>", "</style>")
        )
    );
    assert_eq!(page.matches("<script").count(), 1, "one script, inline");
    assert!(!page.contains("src="), "nothing loaded from elsewhere");
    assert!(!page.contains(TOKEN));

    // HEAD: the same head (Content-Length included), no body.
    let (status, head_headers, body) = exchange(&["-I", &url]);
    assert_eq!(status, 200);
    assert!(body.is_empty());
    for (name, value) in headers.iter().filter(|(k, _)| k != "date") {
        assert_eq!(header(&head_headers, name), Some(value.as_str()), "{name}");
    }

    for (args, want) in [
        (vec![format!("http://{}/view/{TOKEN}x", d.get)], 401),
        (vec![format!("http://{}/view/", d.get)], 401),
        (vec![format!("http://{}/view", d.get)], 401),
        (vec!["-X".into(), "POST".into(), url.clone()], 405),
    ] {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let (status, headers, _) = exchange(&args);
        assert_eq!(status, want, "{args:?}");
        if want == 405 {
            assert_eq!(header(&headers, "allow"), Some("GET, HEAD"));
        }
    }
    assert!(d.wait_for_log("status=405", SOON));
    let log = d.stderr();
    assert!(log.contains("path=/view/<redacted> status=200"), "{log}");
    assert!(!log.contains(TOKEN), "{log}");
}
