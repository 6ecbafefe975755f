//! Event streams outlast the proxies' read timeouts: their heartbeats keep
//! a quiet stream open where a raw reader would be cut off.

use super::*;

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
