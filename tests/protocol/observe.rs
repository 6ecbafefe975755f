//! Seeing what livelog is doing: `/metrics` and `/status` on the
//! upload port, scraped while an upload and readers run; `Livelog-State` on
//! reader responses; progress lines. (JSON logs, which only the binary
//! writes, are `tests/process/observe.rs`.)

use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::thread;
use std::time::{Duration, Instant};

use crate::common::{Daemon, TOKEN, Uploader, client, curl, pattern, wait_until};

const MIB: usize = 1024 * 1024;

/// The samples of a Prometheus text exposition: `name{labels}` → value.
fn scrape(d: &Daemon) -> HashMap<String, f64> {
    let (code, out, err) = curl(&["-sS", "--fail", &format!("http://{}/metrics", d.put)]);
    assert_eq!(code, 0, "{err}");
    let text = String::from_utf8(out).unwrap();
    assert!(!text.contains(TOKEN), "the token is in /metrics");
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .filter_map(|l| {
            let (name, value) = l.rsplit_once(' ')?;
            Some((name.to_string(), value.parse().ok()?))
        })
        .collect()
}

/// One sample's value (0 if absent).
fn sample(samples: &HashMap<String, f64>, name: &str) -> f64 {
    samples.get(name).copied().unwrap_or(0.0)
}

/// `/status`, parsed.
fn status(d: &Daemon) -> serde_json::Value {
    let (code, out, err) = curl(&["-sS", "--fail", &format!("http://{}/status", d.put)]);
    assert_eq!(code, 0, "{err}");
    assert!(!String::from_utf8_lossy(&out).contains(TOKEN));
    serde_json::from_slice(&out).unwrap()
}

/// A reader that sends `GET /log/<token>` over a socket with a tiny receive
/// buffer and then reads nothing: it stalls as soon as data waits for it.
fn stalled_reader(get: SocketAddr) -> TcpStream {
    let socket = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
    socket.set_recv_buffer_size(4096).unwrap();
    socket.connect(&get.into()).unwrap();
    let mut stream: TcpStream = socket.into();
    write!(stream, "GET /log/{TOKEN} HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
    stream
}

#[test]
fn metrics_follow_the_upload_and_the_readers() {
    let d = Daemon::builder()
        .own_temp_dir()
        .env("LIVELOG_MAX_READERS", "3")
        .env("LIVELOG_MAX_READERS_PER_ADDRESS", "3")
        .env("LIVELOG_STALL_TIMEOUT_SECS", "2")
        .start();
    let m = scrape(&d);
    assert_eq!(sample(&m, r#"livelog_upload_state{state="waiting"}"#), 1.0);
    for name in [
        r#"livelog_readers{protocol="http1",kind="raw"}"#,
        "livelog_readers_refused_total",
        "livelog_reader_lag_bytes",
    ] {
        assert!(m.contains_key(name), "{name} missing from a fresh scrape");
    }

    // Two raw readers and one ranged reader following the log.
    let mut up = Uploader::start(d.put);
    up.chunk(b"first line\n");
    let readers: Vec<_> = (0..2)
        .map(|_| {
            let url = d.get_url();
            thread::spawn(move || curl(&["-sN", &url]))
        })
        .collect();
    let ranged = {
        let url = d.get_url();
        thread::spawn(move || curl(&["-sN", "-r", "5-9007199254740991", &url]))
    };
    assert!(
        wait_until(Duration::from_secs(10), || {
            let m = scrape(&d);
            sample(&m, r#"livelog_readers{protocol="http1",kind="raw"}"#) == 2.0
                && sample(&m, r#"livelog_readers{protocol="http1",kind="ranged"}"#) == 1.0
        }),
        "{:?}",
        scrape(&d)
    );
    let m = scrape(&d);
    assert_eq!(sample(&m, r#"livelog_upload_state{state="live"}"#), 1.0);
    assert_eq!(sample(&m, "livelog_upload_bytes_total"), 11.0);
    let s = status(&d);
    assert_eq!(s["upload"]["state"], "live");
    assert_eq!(s["readers"]["connected"], 3);
    assert_eq!(s["readers"]["by_kind"]["ranged"], 1);
    assert_eq!(s["limits"]["max_readers"], 3);

    // A fourth reader is refused: the counter says so.
    let (code, _, _) = curl(&["-s", "--fail", &d.get_url()]);
    assert_ne!(code, 0);
    assert_eq!(sample(&scrape(&d), "livelog_readers_refused_total"), 1.0);

    up.chunk(b"second line\n");
    let (status_code, _) = up.finish();
    assert_eq!(status_code, 201);
    for r in readers {
        assert_eq!(r.join().unwrap().0, 0);
    }
    assert_eq!(ranged.join().unwrap().0, 0);
    assert!(wait_until(Duration::from_secs(10), || {
        let m = scrape(&d);
        sample(&m, r#"livelog_readers{protocol="http1",kind="raw"}"#) == 0.0
            && sample(&m, r#"livelog_upload_state{state="complete"}"#) == 1.0
    }));
    let m = scrape(&d);
    assert_eq!(sample(&m, "livelog_readers_served_total"), 3.0);
    assert_eq!(
        sample(&m, "livelog_sent_bytes_total"),
        (23 + 23 + 18) as f64,
        "{m:?}"
    );
}

/// The standard process metrics, where the platform has them (Linux).
#[test]
#[cfg_attr(
    not(target_os = "linux"),
    ignore = "process metrics are read from /proc"
)]
fn process_metrics_are_exposed() {
    let d = Daemon::start();
    let m = scrape(&d);
    // A fresh process may not have used a whole clock tick of CPU yet.
    assert!(m.contains_key("process_cpu_seconds_total"), "{m:?}");
    for name in [
        "process_resident_memory_bytes",
        "process_open_fds",
        "process_max_fds",
        "process_start_time_seconds",
    ] {
        assert!(sample(&m, name) > 0.0, "{name} missing or 0 in {m:?}");
    }
}

/// A stalled reader shows as lag, then as a stall disconnect.
#[test]
fn a_stalled_reader_shows_as_lag_then_as_a_stall() {
    let d = Daemon::builder()
        .own_temp_dir()
        .env("LIVELOG_STALL_TIMEOUT_SECS", "2")
        .start();
    let stalled = stalled_reader(d.get);
    let data = pattern(16 * MIB, 3);
    let mut up = Uploader::start(d.put);
    for piece in data.chunks(256 * 1024) {
        up.chunk(piece);
    }
    // Behind by most of the log: the kernel's buffers hold a few MiB at
    // most, and it reads nothing.
    let lag = |m: &HashMap<String, f64>| sample(m, "livelog_reader_lag_bytes");
    assert!(
        wait_until(Duration::from_secs(10), || lag(&scrape(&d))
            > 4.0 * MIB as f64),
        "{:?}",
        scrape(&d)
    );
    assert!(status(&d)["readers"]["slowest_lag_bytes"].as_u64().unwrap() > 4 * MIB as u64);
    assert!(
        wait_until(Duration::from_secs(15), || sample(
            &scrape(&d),
            "livelog_readers_stalled_total"
        ) == 1.0),
        "{}",
        d.stderr()
    );
    assert_eq!(lag(&scrape(&d)), 0.0, "the stalled reader is gone");
    drop(stalled);
    drop(up);
}

/// Every reader response and HEAD says what the reader is reading.
#[test]
fn livelog_state_tells_waiting_live_complete_and_incomplete() {
    let state = |d: &Daemon| -> String {
        let resp = client().head(d.get_url()).send().unwrap();
        assert_eq!(resp.status(), 200);
        resp.headers()["livelog-state"].to_str().unwrap().to_owned()
    };
    let d = Daemon::start();
    assert_eq!(state(&d), "waiting");
    let mut up = Uploader::start(d.put);
    up.chunk(b"x\n");
    assert!(wait_until(Duration::from_secs(10), || state(&d) == "live"));
    assert_eq!(up.finish().0, 201);
    assert_eq!(state(&d), "complete");
    let resp = client().get(d.get_url()).send().unwrap();
    assert_eq!(resp.headers()["livelog-state"], "complete");
    let exposed = resp.headers()["access-control-expose-headers"]
        .to_str()
        .unwrap();
    assert!(exposed.contains("Livelog-State"), "{exposed}");

    let broken = Daemon::start();
    let mut up = Uploader::start(broken.put);
    up.chunk(b"x\n");
    up.abort();
    assert!(wait_until(Duration::from_secs(10), || state(&broken) == "incomplete"));
}

/// A running upload logs a progress line (bytes, rate, readers) at most
/// every `LIVELOG_PROGRESS_SECS` while bytes arrive.
#[test]
fn a_running_upload_logs_its_progress() {
    let d = Daemon::builder().env("LIVELOG_PROGRESS_SECS", "1").start();
    let mut up = Uploader::start(d.put);
    let started = Instant::now();
    // Paced on purpose: a line every 100 ms for 2.5 s.
    while started.elapsed() < Duration::from_millis(2500) {
        up.chunk(b"a line of the log\n");
        thread::sleep(Duration::from_millis(100));
    }
    let lines = d.stderr().matches("upload progress").count();
    assert!((1..=3).contains(&lines), "{lines} lines:\n{}", d.stderr());
    assert!(d.stderr().contains("bytes_per_second="), "{}", d.stderr());
    assert_eq!(up.finish().0, 201);
}

/// `/metrics` and `/status` answer only `GET`/`HEAD`; other paths are 404;
/// OpenMetrics when asked for.
#[test]
fn metrics_negotiates_openmetrics_and_refuses_other_methods() {
    let d = Daemon::start();
    let url = format!("http://{}/metrics", d.put);
    let (_, out, _) = curl(&[
        "-s",
        "-D",
        "-",
        "-H",
        "Accept: application/openmetrics-text",
        &url,
    ]);
    let text = String::from_utf8(out).unwrap();
    assert!(
        text.to_ascii_lowercase()
            .contains("content-type: application/openmetrics-text; version=1.0.0"),
        "{text}"
    );
    assert!(text.trim_end().ends_with("# EOF"), "{text}");
    let (_, out, _) = curl(&["-s", "-D", "-", &url]);
    let text = String::from_utf8(out).unwrap();
    assert!(text.contains("version=0.0.4"), "{text}");
    let (_, out, _) = curl(&["-s", "-w", "%{http_code}", "-X", "POST", &url]);
    assert!(String::from_utf8_lossy(&out).ends_with("405"));
    let (_, out, _) = curl(&[
        "-s",
        "-w",
        "%{http_code}",
        &format!("http://{}/nope", d.put),
    ]);
    assert!(String::from_utf8_lossy(&out).ends_with("404"));
    // Scraping takes no reader slot and never touches the reader port.
    let mut s = TcpStream::connect(d.put).unwrap();
    write!(
        s,
        "GET /status HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut reply = String::new();
    s.read_to_string(&mut reply).unwrap();
    assert!(reply.starts_with("HTTP/1.1 200"), "{reply}");
}
