//! Resuming an event stream: `Last-Event-ID` or `?from=` continue exactly
//! (on a complete log and a live one), `204` at or past the end of a
//! complete log, `400` for an offset that is not a number.

use super::*;

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
