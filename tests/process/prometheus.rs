//! `/metrics` against Prometheus itself: its own linter
//! (`promtool check metrics`) and a real `prometheus` server scraping the
//! real binary.
//!
//! These need Debian's `prometheus` package (`promtool` and `prometheus` on
//! `PATH`), so they are `#[ignore]`d in a plain `cargo test`; `.ci/run`
//! installs the package and runs them with
//! `cargo test --test process -- --ignored prometheus::`.

use std::io::Write;
use std::net::TcpListener;
use std::process::{Command, Stdio};
use std::thread;
use std::time::Duration;

use crate::common::{Daemon, Uploader, client, curl, wait_until};

/// A `curl -N` reader on its thread: (exit code, stdout, stderr).
type CurlReader = thread::JoinHandle<(i32, Vec<u8>, String)>;

/// A daemon with an upload running and two readers following it, so that
/// every metric (the latency histogram included) has values.
fn busy_daemon() -> (Daemon, Uploader, Vec<CurlReader>) {
    let d = Daemon::start_process();
    let mut up = Uploader::start(d.put);
    up.chunk(b"a first line\n");
    let readers = (0..2)
        .map(|_| {
            let url = d.get_url();
            thread::spawn(move || curl(&["-sN", &url]))
        })
        .collect();
    up.chunk(b"a second line\n");
    (d, up, readers)
}

/// The Prometheus text format passes `promtool check metrics` with nothing
/// to say. (promtool reads only that format; the OpenMetrics one is what a
/// Prometheus server asks for, and the next test has one parse it.)
#[test]
#[ignore = "needs Prometheus (apt-get install prometheus); .ci/run runs it"]
fn promtool_finds_nothing_to_fix() {
    let (d, up, readers) = busy_daemon();
    let url = format!("http://{}/metrics", d.put);
    {
        let accept = "text/plain";
        let (code, body, err) = curl(&["-sS", "--fail", "-H", &format!("Accept: {accept}"), &url]);
        assert_eq!(code, 0, "{err}");
        let mut promtool = Command::new("promtool")
            .args(["check", "metrics"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("promtool is installed (apt-get install prometheus)");
        promtool.stdin.take().unwrap().write_all(&body).unwrap();
        let out = promtool.wait_with_output().unwrap();
        let said = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(
            out.status.success() && said.trim().is_empty(),
            "promtool check metrics ({accept}): {said}\n{}",
            String::from_utf8_lossy(&body)
        );
    }
    assert_eq!(up.finish().0, 201);
    for r in readers {
        assert_eq!(r.join().unwrap().0, 0);
    }
}

/// A Prometheus server (which asks for OpenMetrics) scrapes the daemon and
/// has `livelog_readers` with the two readers connected.
#[test]
#[ignore = "needs Prometheus (apt-get install prometheus); .ci/run runs it"]
fn a_real_prometheus_scrapes_livelog() {
    let (d, up, readers) = busy_daemon();
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("prometheus.yml");
    std::fs::write(
        &config,
        format!(
            "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\nscrape_configs:\n  - job_name: livelog\n    static_configs:\n      - targets: ['{}']\n",
            d.put
        ),
    )
    .unwrap();
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut prometheus = Command::new("prometheus")
        .arg(format!("--config.file={}", config.display()))
        .arg(format!(
            "--storage.tsdb.path={}",
            dir.path().join("data").display()
        ))
        .arg(format!("--web.listen-address=127.0.0.1:{port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("prometheus is installed (apt-get install prometheus)");
    let api = format!("http://127.0.0.1:{port}/api/v1");
    let query = |q: &str| -> Option<serde_json::Value> {
        let resp = client()
            .get(format!("{api}/query"))
            .query(&[("query", q)])
            .send()
            .ok()?;
        let v: serde_json::Value = serde_json::from_str(&resp.text().ok()?).ok()?;
        v["data"]["result"]
            .as_array()
            .filter(|r| !r.is_empty())
            .cloned()
            .map(serde_json::Value::Array)
    };
    let scraped = wait_until(Duration::from_secs(60), || {
        query(r#"up{job="livelog"} == 1"#).is_some()
            && query("sum(livelog_readers)").is_some_and(|r| r[0]["value"][1] == "2")
    });
    let targets = client()
        .get(format!("{api}/targets"))
        .send()
        .and_then(|r| r.text())
        .unwrap_or_default();
    let _ = prometheus.kill();
    let _ = prometheus.wait();
    assert!(
        scraped,
        "Prometheus did not scrape livelog_readers = 2: {targets}"
    );
    assert!(targets.contains(r#""health":"up""#), "{targets}");
    assert_eq!(up.finish().0, 201);
    for r in readers {
        assert_eq!(r.join().unwrap().0, 0);
    }
}
