//! What an internet-facing reader port needs: the client address in every
//! request line (and a trusted proxy's `X-Forwarded-For` / `Forwarded`),
//! the wrong-token limit per address (`429` with `Retry-After` for the rest
//! of the minute, counted in `/metrics`), the per-address reader cap, CORS
//! on every answer, `X-Accel-Buffering: no` on live ones, and the ready
//! file. Every client here arrives from loopback, as readers behind a
//! forwarder on the same host do (generic-worker's websocktunnel, nginx,
//! Varnish): one that no header names is no single client, and one named
//! by the forwarder's `X-Forwarded-For` is counted by that name.

use std::time::Duration;

use crate::common::{CurlReader, Daemon, SOON, TOKEN, Uploader, curl, wait_until};

/// `curl -sS -D - ARGS` from the local address `from`: (head, body).
fn curl_from(from: &str, args: &[&str]) -> (String, String) {
    let mut all = vec!["-sS", "-D", "-", "--interface", from];
    all.extend_from_slice(args);
    let (_, out, err) = curl(&all);
    let text = String::from_utf8_lossy(&out).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    (head.to_ascii_lowercase(), format!("{body}{err}"))
}

fn status(head: &str) -> u16 {
    head.split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0)
}

fn metrics(d: &Daemon) -> String {
    String::from_utf8(curl(&["-s", &format!("http://{}/metrics", d.put)]).1).unwrap()
}

#[test]
fn wrong_tokens_past_the_limit_get_429_for_the_rest_of_the_minute() {
    let d = Daemon::builder()
        .env("LIVELOG_MAX_TOKEN_FAILURES", "3")
        .start();
    let wrong = format!("http://{}/log/guess", d.get);
    // Behind a forwarder on this host that names its clients (nginx's
    // X-Forwarded-For), each named client is counted on its own.
    let guesser = "X-Forwarded-For: 192.0.2.2";
    for _ in 0..3 {
        let (head, _) = curl_from("127.0.0.1", &["-H", guesser, &wrong]);
        assert_eq!(status(&head), 401, "{head}");
    }
    let (head, body) = curl_from("127.0.0.1", &["-H", guesser, &wrong]);
    assert_eq!(status(&head), 429, "{head}");
    assert!(
        body.starts_with("too many requests: ") && body.lines().count() == 1,
        "{body}"
    );
    let retry: u64 = head
        .lines()
        .find_map(|l| l.strip_prefix("retry-after: "))
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    assert!((1..=60).contains(&retry), "Retry-After: {retry}");
    assert!(head.contains("access-control-allow-origin: *"), "{head}");
    // The address is limited whatever it sends, for the rest of the minute;
    // another is not, nor is the forwarder's own traffic.
    let (head, _) = curl_from("127.0.0.1", &["-H", guesser, &d.get_url()]);
    assert_eq!(status(&head), 429);
    let reader = "X-Forwarded-For: 192.0.2.3";
    let (head, _) = curl_from("127.0.0.1", &["-H", reader, "-I", &d.get_url()]);
    assert_eq!(status(&head), 200, "{head}");
    let (head, _) = curl_from("127.0.0.1", &["-I", &d.get_url()]);
    assert_eq!(status(&head), 200, "{head}");
    let m = metrics(&d);
    assert!(m.contains("livelog_tokens_refused_total 4"), "{m}");
    assert!(
        m.contains(r#"livelog_requests_limited_total{reason="token_failures"} 2"#),
        "{m}"
    );
    // The request lines name the peer and what its header said, never the
    // token.
    assert!(
        d.wait_for_log("forwarded_for=192.0.2.3", SOON),
        "{}",
        d.stderr()
    );
    let log = d.stderr();
    assert!(
        log.contains("client=127.0.0.1 forwarded_for=192.0.2.2") && log.contains("status=429"),
        "{log}"
    );
    assert!(!log.contains(TOKEN) && !log.contains("guess"), "{log}");
}

/// What generic-worker deploys: websocktunnel forwards each viewer's
/// connection, bytes unchanged, to 127.0.0.1, so every reader and every
/// stranger arrives from loopback with no header naming them. A stranger's
/// wrong tokens must not lock the readers out.
#[test]
fn a_stranger_behind_a_tunnel_cannot_lock_out_its_readers() {
    let d = Daemon::builder().start();
    let wrong = format!("http://{}/log/guess", d.get);
    for _ in 0..25 {
        let (head, _) = curl_from("127.0.0.1", &[&wrong]);
        assert_eq!(status(&head), 401, "{head}");
    }
    let (head, _) = curl_from("127.0.0.1", &["-I", &d.get_url()]);
    assert_eq!(status(&head), 200, "{head}");
    let m = metrics(&d);
    assert!(m.contains("livelog_tokens_refused_total 25"), "{m}");
    assert!(!m.contains(r#"reason="token_failures"} 1"#), "{m}");
}

#[test]
fn max_readers_are_served_through_one_forwarder() {
    let d = Daemon::builder().env("LIVELOG_MAX_READERS", "10").start();
    let mut up = Uploader::start(d.put);
    up.chunk(b"live\n");
    let url = d.get_url();
    let readers: Vec<CurlReader> = (0..10)
        .map(|_| {
            let r = CurlReader::spawn(&["-sN", &url]);
            r.wait_head();
            r
        })
        .collect();
    let (head, body) = curl_from("127.0.0.1", &[&url]);
    assert_eq!(status(&head), 503, "the 11th: {head}");
    assert!(body.contains("10 readers already connected"), "{body}");
    up.chunk(b"more\n");
    assert_eq!(up.finish().0, 201);
    for r in readers {
        assert_eq!(r.finish().0, 0);
    }
}

#[test]
fn one_address_cannot_take_every_reader_slot_when_capped() {
    let d = Daemon::builder()
        .env("LIVELOG_MAX_READERS", "8")
        .env("LIVELOG_MAX_READERS_PER_ADDRESS", "2")
        .start();
    let mut up = Uploader::start(d.put);
    up.chunk(b"live\n");
    // Two readers named 192.0.2.2, the third is refused.
    let url = d.get_url();
    let named = "X-Forwarded-For: 192.0.2.2";
    let readers: Vec<CurlReader> = (0..2)
        .map(|_| {
            let r = CurlReader::spawn(&["-sN", "-H", named, &url]);
            r.wait_head();
            r
        })
        .collect();
    let (head, body) = curl_from("127.0.0.1", &["-H", named, &url]);
    assert_eq!(status(&head), 429, "{head}");
    assert!(head.contains("retry-after: 5"), "{head}");
    assert!(body.contains("LIVELOG_MAX_READERS_PER_ADDRESS"), "{body}");
    // Another address still gets in, and a slot given back is taken again.
    let other = CurlReader::spawn(&["-sN", "-H", "X-Forwarded-For: 192.0.2.4", &url]);
    other.wait_head();
    assert!(metrics(&d).contains(r#"livelog_requests_limited_total{reason="address_readers"} 1"#));
    up.chunk(b"more\n");
    assert_eq!(up.finish().0, 201);
    for r in readers {
        assert_eq!(r.finish().0, 0);
    }
    assert_eq!(other.finish().0, 0);
    let (head, _) = curl_from("127.0.0.1", &["-H", named, &url]);
    assert_eq!(status(&head), 200);
}

#[test]
fn a_trusted_proxy_names_the_client_and_others_cannot() {
    let d = Daemon::builder()
        .env("LIVELOG_TRUSTED_PROXIES", "127.0.0.5, 10.0.0.0/8")
        .env("LIVELOG_MAX_TOKEN_FAILURES", "1")
        .start();
    let wrong = format!("http://{}/log/guess", d.get);
    let via = |from: &str, header: &str| curl_from(from, &["-H", header, &wrong]).0;
    // Through the proxy: each forwarded client is counted on its own.
    assert_eq!(
        status(&via("127.0.0.5", "X-Forwarded-For: 203.0.113.7")),
        401
    );
    assert_eq!(
        status(&via("127.0.0.5", "X-Forwarded-For: 203.0.113.7")),
        429
    );
    assert_eq!(
        status(&via("127.0.0.5", "Forwarded: for=\"[2001:db8::1]:4711\"")),
        401,
        "another client behind the same proxy"
    );
    // The trusted proxy's own requests (no header) stand for many clients.
    for _ in 0..3 {
        assert_eq!(status(&curl_from("127.0.0.5", &[&wrong]).0), 401);
    }
    // An untrusted forwarder on this host is not believed: the log names
    // it, and what its header said apart.
    assert_eq!(
        status(&via("127.0.0.6", "X-Forwarded-For: 198.51.100.1")),
        401
    );
    assert!(d.wait_for_log("client=2001:db8::1", SOON), "{}", d.stderr());
    assert!(
        d.wait_for_log("forwarded_for=198.51.100.1", SOON),
        "{}",
        d.stderr()
    );
    let log = d.stderr();
    assert!(log.contains("client=203.0.113.7"), "{log}");
    assert!(
        log.contains("client=127.0.0.6 forwarded_for=198.51.100.1")
            && !log.contains("client=198.51.100"),
        "{log}"
    );
}

#[test]
fn every_answer_carries_cors_and_live_ones_are_not_buffered() {
    let d = Daemon::builder().env("LIVELOG_MAX_READERS", "1").start();
    let base = format!("http://{}", d.get);
    let mut up = Uploader::start(d.put);
    up.chunk(b"live\n");
    let reader = CurlReader::spawn(&["-sN", &d.get_url()]);
    reader.wait_head();
    let cors = |args: &[&str], want: u16| {
        let (head, _) = curl_from("127.0.0.1", args);
        assert_eq!(status(&head), want, "{args:?}: {head}");
        assert!(
            head.contains("access-control-allow-origin: *"),
            "{want}: {head}"
        );
    };
    cors(&[&format!("{base}/log/wrong")], 401);
    cors(&[&format!("{base}/nowhere")], 404);
    cors(&["-X", "POST", &d.get_url()], 405);
    cors(&[&d.get_url()], 503);
    // A live log says so to proxies (a HEAD has the same head).
    for accept in ["*/*", "text/event-stream"] {
        let accept = format!("Accept: {accept}");
        let (head, _) = curl_from("127.0.0.1", &["-I", "-H", &accept, &d.get_url()]);
        assert!(head.contains("x-accel-buffering: no"), "{head}");
    }
    assert_eq!(up.finish().0, 201);
    assert_eq!(reader.finish().0, 0);
    cors(&["-r", "999-", &d.get_url()], 416);
    // A complete log has a length instead.
    let (head, _) = curl_from("127.0.0.1", &["-I", &d.get_url()]);
    assert!(
        !head.contains("x-accel-buffering") && head.contains("content-length: 5"),
        "{head}"
    );
}

#[test]
fn the_ready_file_names_both_ports_once_they_listen() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ready.json");
    let d = Daemon::builder()
        .env("LIVELOG_READY_FILE", path.to_str().unwrap())
        .start();
    assert!(wait_until(Duration::from_secs(10), || path.exists()));
    let doc: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    assert_eq!(doc["put_port"], d.put.port());
    assert_eq!(doc["get_port"], d.get.port());
    assert_eq!(doc["put_addrs"][0], d.put.to_string());
    assert_eq!(doc["tls"], false);
    let url = format!("http://127.0.0.1:{}/log/{TOKEN}", doc["get_port"]);
    let mut up = Uploader::start(d.put);
    up.chunk(b"via the ready file\n");
    assert_eq!(up.finish().0, 201);
    assert_eq!(curl(&["-s", &url]).1, b"via the ready file\n");
}
