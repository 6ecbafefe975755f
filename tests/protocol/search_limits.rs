//! Scan slots: a search past `LIVELOG_MAX_SEARCHES` gets `503`, past its
//! address's `LIVELOG_MAX_SEARCHES_PER_ADDRESS` `429`, each with
//! `Retry-After` and a one-line reason, counted in `/metrics`; a search
//! whose client goes away mid-scan stops (its slot comes back), and a
//! following search gives its slot back once it has caught up.
//!
//! A search is held mid-scan by a client that reads nothing, with a tiny
//! receive buffer, of a log whose every line matches: the results fill the
//! socket and the scan waits, holding its slot, until the client reads or
//! goes away.

use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpStream};

use crate::common::{CurlReader, Daemon, SOON, TOKEN, Uploader, curl, wait_until};

/// A log of `n` lines that all match `needle`, stored whole.
fn upload_matching_lines(d: &Daemon, n: usize) {
    let mut up = Uploader::start(d.put);
    let mut block = String::new();
    for i in 0..n {
        block.push_str(&format!("{i:08} needle, and enough text to make a line\n"));
        if block.len() > 256 * 1024 {
            up.chunk(block.as_bytes());
            block.clear();
        }
    }
    up.chunk(block.as_bytes());
    assert_eq!(up.finish().0, 201);
}

/// Starts `GET /log/<token>/search?q=needle` from a client named `from`
/// (by `X-Forwarded-For`, as a forwarder on this host names its clients;
/// the per-address limits count them so, `src/http/client.rs`), reads the response head (its status) and then nothing: the scan
/// stays mid-log until the returned socket is read or dropped.
fn held_search(get: SocketAddr, from: &str) -> (u16, BufReader<TcpStream>) {
    let socket = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
    socket.set_recv_buffer_size(4096).unwrap();
    socket.connect(&get.into()).unwrap();
    let mut stream: TcpStream = socket.into();
    write!(
        stream,
        "GET /log/{TOKEN}/search?q=needle HTTP/1.1\r\nHost: x\r\nX-Forwarded-For: {from}\r\n\r\n"
    )
    .unwrap();
    let mut reader = BufReader::with_capacity(1024, stream);
    let mut line = String::new();
    reader.read_line(&mut line).unwrap();
    let status = line.split_whitespace().nth(1).unwrap().parse().unwrap();
    (status, reader)
}

/// `curl -sS -D - URL` from a client named `from` (as [`held_search`]):
/// (status, head, body).
fn search_from(d: &Daemon, from: &str, query: &str) -> (u16, String, String) {
    let url = format!("{}/search?{query}", d.get_url());
    let named = format!("X-Forwarded-For: {from}");
    let (_, out, err) = curl(&["-sS", "-D", "-", "-H", &named, &url]);
    let text = String::from_utf8_lossy(&out).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    (status, head.to_ascii_lowercase(), format!("{body}{err}"))
}

/// The value of the sample `name` (with its labels) in `/metrics`.
fn sample(d: &Daemon, name: &str) -> f64 {
    let (_, out, _) = curl(&["-s", &format!("http://{}/metrics", d.put)]);
    let text = String::from_utf8(out).unwrap();
    text.lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
        .unwrap_or_else(|| panic!("{name} missing from /metrics:\n{text}"))
}

#[test]
fn searches_past_the_slots_are_refused_with_retry_after_and_counted() {
    let d = Daemon::builder()
        .env("LIVELOG_MAX_SEARCHES", "2")
        .env("LIVELOG_MAX_SEARCHES_PER_ADDRESS", "1")
        .start();
    upload_matching_lines(&d, 200_000);
    assert_eq!(sample(&d, "livelog_searches_scanning"), 0.0);
    assert_eq!(sample(&d, "livelog_searches_refused_total"), 0.0);

    // One scan from 192.0.2.1 holds its address's only slot.
    let (status, first) = held_search(d.get, "192.0.2.1");
    assert_eq!(status, 200);
    assert!(wait_until(SOON, || sample(&d, "livelog_searches_scanning") == 1.0));
    let (status, head, body) = search_from(&d, "192.0.2.1", "q=needle");
    assert_eq!(status, 429, "{head}{body}");
    assert!(head.contains("retry-after: 1\r\n"), "{head}");
    assert_eq!(
        body,
        "too many requests: 1 searches from this address already running \
         (LIVELOG_MAX_SEARCHES_PER_ADDRESS); retry later\n"
    );
    let limited = r#"livelog_requests_limited_total{reason="address_searches"}"#;
    assert_eq!(sample(&d, limited), 1.0);

    // Another address takes the second slot; then every slot is taken.
    let (status, second) = held_search(d.get, "192.0.2.2");
    assert_eq!(status, 200);
    assert!(wait_until(SOON, || sample(&d, "livelog_searches_scanning") == 2.0));
    let (status, head, body) = search_from(&d, "192.0.2.3", "q=needle");
    assert_eq!(status, 503, "{head}{body}");
    assert!(head.contains("retry-after: 1\r\n"), "{head}");
    assert_eq!(
        body,
        "service unavailable: 2 searches already running (LIVELOG_MAX_SEARCHES); retry later\n"
    );
    assert_eq!(sample(&d, "livelog_searches_refused_total"), 1.0);
    assert_eq!(sample(&d, limited), 1.0);

    // The scans are mid-log: their cursors are the readers furthest behind.
    assert!(sample(&d, "livelog_reader_lag_bytes") > 1_000_000.0);

    // The clients go away mid-scan: the slots come back, and the scans
    // stop (their cursors are gone); a search is answered whole again.
    drop((first, second));
    assert!(
        wait_until(SOON, || sample(&d, "livelog_searches_scanning") == 0.0),
        "the slots were not given back"
    );
    assert!(
        wait_until(SOON, || sample(&d, "livelog_reader_lag_bytes") == 0.0),
        "the scans went on without their clients"
    );
    let (status, _, body) = search_from(&d, "192.0.2.3", "q=%5E00000007%20&regex=true");
    assert_eq!(status, 200, "{body}");
    let last = body.lines().last().unwrap();
    let total: serde_json::Value = serde_json::from_str(last).unwrap();
    assert_eq!(total["total"], 1, "{body}");
    assert_eq!(total["complete"], true, "{body}");
}

#[test]
fn a_following_search_gives_its_slot_back_once_caught_up() {
    let d = Daemon::builder().env("LIVELOG_MAX_SEARCHES", "1").start();
    let mut up = Uploader::start(d.put);
    up.chunk(b"one\nerror: first\nthree\n");
    let url = format!("{}/search?q=error&follow=true", d.get_url());
    let follower = CurlReader::spawn(&["-sN", &url]);
    let text = |r: &CurlReader| String::from_utf8_lossy(&r.out.bytes()).into_owned();
    assert!(wait_until(SOON, || text(&follower).contains("error: first")));
    assert!(wait_until(SOON, || sample(&d, "livelog_searches_scanning") == 0.0));

    // The one slot is free for a search of the stored log.
    let (status, _, body) = search_from(&d, "192.0.2.1", "q=three");
    assert_eq!(status, 200, "{body}");
    // The follower still gets new lines.
    up.chunk(b"error: second\n");
    assert!(wait_until(SOON, || text(&follower).contains("error: second")));
    assert_eq!(up.finish().0, 201);
    let (code, body) = follower.finish();
    assert_eq!(code, 0);
    let body = String::from_utf8(body).unwrap();
    assert!(
        body.ends_with("{\"total\":2,\"complete\":true,\"bytes\":37}\n"),
        "{body}"
    );
}
