//! End-to-end benchmarks of the release binary: uploads and readers
//! over real sockets, each scenario next to a raw loopback baseline measured
//! in the same run.
//!
//! ```sh
//! cargo bench --bench e2e                              # everything, 1 GiB uploads
//! LIVELOG_BENCH_MB=128 cargo bench --bench e2e         # a quick run
//! LIVELOG_BENCH_SCENARIOS=upload,fanout cargo bench --bench e2e
//! ```
//!
//! Knobs (environment): `LIVELOG_BENCH_MB` (upload size for the upload,
//! fan-out and SSE scenarios, default 1024), `LIVELOG_BENCH_SCENARIOS` (comma
//! list of `upload,fanout,fanout-null,stalled,sse,sweep,idle,many,latency,scrape`;
//! default all),
//! `LIVELOG_BENCH_SWEEP` (reader counts, default `1,2,5,10,20,50,100,200,500,1000`),
//! `LIVELOG_BENCH_SWEEP_MB` (upload size per sweep point, default 8),
//! `LIVELOG_BENCH_IDLE` (default 1000), `LIVELOG_BENCH_MANY` (default 10000),
//! `LIVELOG_BENCH_LATENCY_SECS` (default 10), `LIVELOG_BENCH_CSV` (where the
//! sweep is written, default `target/livelog-bench/readers.csv`),
//! `LIVELOG_BENCH_BIN` (the binary; default the release build cargo made),
//! `LIVELOG_BENCH_TEMP_DIR` (the daemon's `LIVELOG_TEMP_DIR`, default
//! `target/livelog-bench`), `LIVELOG_BENCH_LATENCY_READERS` (comma list,
//! default 100), `LIVELOG_BENCH_SCRAPES` (scrapes per `scrape` point, default
//! 15), `LIVELOG_BENCH_SCRAPE_READERS` (readers connected while scraping,
//! default 10000).
//!
//! Needs `curl` and `socat` on `PATH`.
//!
//! The daemon, the uploads and the readers come from the integration tests'
//! harness (`tests/common/`), so the bench runs exactly what the tests check.

// Tests and benchmarks panic on what they did not expect, and time the real
// process from outside with std's clock: the lint policy is livelog's own.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::disallowed_types)]

use std::io::Write;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use bytes::Bytes;
use hdrhistogram::Histogram;
use http_body_util::{BodyExt, Empty};
use hyper_util::rt::TokioIo;

#[path = "../tests/common/mod.rs"]
mod common;
use common::body::read_into;
use common::{
    Checker, CurlReader, Daemon, RawReader, SOON, Streamed, TOKEN, UploadFrom, Uploader, env_or,
    free_port, net, pattern, wait_heads, wait_until,
};

const MIB: usize = 1024 * 1024;

fn main() {
    // Thousands of client sockets; Windows has no such limit to raise.
    #[cfg(unix)]
    let limit = rlimit::increase_nofile_limit(u64::MAX).unwrap_or(0);
    #[cfg(not(unix))]
    let limit = 0;
    let mb: usize = env_or("LIVELOG_BENCH_MB", 1024);
    let scenarios: String = env_or(
        "LIVELOG_BENCH_SCENARIOS",
        "upload,fanout,fanout-null,stalled,sse,sweep,idle,many,latency,scrape".to_string(),
    );
    let want = |s: &str| scenarios.split(',').any(|x| x.trim() == s);
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/livelog-bench");
    std::fs::create_dir_all(&dir).unwrap();
    println!(
        "livelog e2e bench: binary {}, {} cores, open-files limit {limit}, upload {mb} MiB",
        binary(),
        thread::available_parallelism().map_or(0, |n| n.get())
    );

    let mut rows = vec![];
    if want("upload") || want("fanout") || want("stalled") || want("fanout-null") {
        let (path, expected) = data_file(&dir, mb * MIB, 1);
        if want("upload") {
            rows.push(upload_alone(&path, &expected));
        }
        if want("fanout") {
            rows.push(fanout(&path, &expected, false));
        }
        if want("stalled") {
            rows.push(fanout(&path, &expected, true));
        }
        if want("fanout-null") {
            rows.push(fanout_to_null(&path, &expected));
        }
    }
    if want("sse") {
        rows.push(sse_fanout(&dir, mb * MIB));
    }
    if want("sweep") {
        let counts: String = env_or(
            "LIVELOG_BENCH_SWEEP",
            "1,2,5,10,20,50,100,200,500,1000".to_string(),
        );
        let sweep_mb: usize = env_or("LIVELOG_BENCH_SWEEP_MB", 8);
        let (path, expected) = data_file(&dir, sweep_mb * MIB, 2);
        let csv: PathBuf = env_or("LIVELOG_BENCH_CSV", dir.join("readers.csv"));
        let mut out = String::from(
            "readers,upload_mib,seconds,aggregate_mb_s,upload_mb_s,exact,peak_rss_kib\n",
        );
        for n in counts.split(',').filter_map(|c| c.trim().parse().ok()) {
            let (row, line) = sweep_point(&path, &expected, n);
            out.push_str(&line);
            rows.push(row);
        }
        std::fs::write(&csv, out).unwrap();
        println!("sweep written to {}", csv.display());
    }
    if want("idle") {
        rows.push(idle_readers(env_or("LIVELOG_BENCH_IDLE", 1000)));
    }
    if want("many") {
        rows.push(many_readers(env_or("LIVELOG_BENCH_MANY", 10_000)));
    }
    if want("latency") {
        let readers: String = env_or("LIVELOG_BENCH_LATENCY_READERS", "100".to_string());
        for n in readers.split(',').filter_map(|c| c.trim().parse().ok()) {
            rows.push(latency(
                n,
                1000,
                env_or("LIVELOG_BENCH_LATENCY_SECS", 10),
                None,
            ));
        }
    }
    if want("scrape") {
        // The cost of a scrape, with no reader and with many; then live
        // latency with and without a scraper, alternated.
        let scrapes = env_or("LIVELOG_BENCH_SCRAPES", 15);
        rows.push(scrape_cost(0, scrapes));
        rows.push(scrape_cost(
            env_or("LIVELOG_BENCH_SCRAPE_READERS", 10_000),
            scrapes,
        ));
        let secs = env_or("LIVELOG_BENCH_LATENCY_SECS", 10);
        for _ in 0..2 {
            rows.push(latency(100, 1000, secs, None));
            rows.push(latency(100, 1000, secs, Some(Duration::from_secs(1))));
        }
    }

    println!();
    println!(
        "| scenario | MB/s | baseline MB/s | ratio | latency p50 / p99 / p99.9 / max | readers exact | peak RSS |"
    );
    println!("| --- | --- | --- | --- | --- | --- | --- |");
    for r in &rows {
        println!("{}", r.markdown());
    }
}

/// One line of the results table.
#[derive(Default)]
struct Row {
    scenario: String,
    mb_s: Option<f64>,
    baseline_mb_s: Option<f64>,
    /// Baseline time / our time, or whatever the scenario defines.
    ratio: Option<f64>,
    latency: Option<String>,
    exact: Option<(usize, usize)>,
    peak_rss_kib: Option<u64>,
    note: String,
}

impl Row {
    fn markdown(&self) -> String {
        let f = |v: Option<f64>, p: usize| v.map_or("—".into(), |v| format!("{v:.p$}"));
        format!(
            "| {}{} | {} | {} | {} | {} | {} | {} |",
            self.scenario,
            if self.note.is_empty() {
                String::new()
            } else {
                format!(" ({})", self.note)
            },
            f(self.mb_s, 0),
            f(self.baseline_mb_s, 0),
            f(self.ratio, 2),
            self.latency.clone().unwrap_or("—".into()),
            self.exact.map_or("—".into(), |(e, t)| format!("{e}/{t}")),
            self.peak_rss_kib
                .map_or("—".into(), |k| format!("{:.1} MiB", k as f64 / 1024.0)),
        )
    }
}

// ---------------------------------------------------------------- daemon

/// `LIVELOG_BENCH_BIN`, by default the release build cargo made for the bench.
fn binary() -> String {
    std::env::var("LIVELOG_BENCH_BIN").unwrap_or_else(|_| common::binary().into())
}

/// The daemon's `LIVELOG_TEMP_DIR`: `LIVELOG_BENCH_TEMP_DIR`, by default
/// `target/livelog-bench`.
fn temp_dir() -> PathBuf {
    std::env::var_os("LIVELOG_BENCH_TEMP_DIR").map_or_else(
        || PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/livelog-bench"),
        PathBuf::from,
    )
}

/// The benchmarked daemon on ephemeral ports.
fn start_daemon() -> Daemon {
    Daemon::builder()
        .program(binary())
        .env("LIVELOG_TEMP_DIR", temp_dir().to_string_lossy())
        .start_process()
}

// ---------------------------------------------------------------- data

/// The log to upload, in memory (to check readers) and in a file (for curl
/// and socat to read).
fn data_file(dir: &Path, len: usize, seed: u64) -> (PathBuf, Arc<Vec<u8>>) {
    let data = pattern(len, seed);
    let path = dir.join(format!("log-{len}-{seed}.bin"));
    if std::fs::metadata(&path).map_or(true, |m| m.len() != len as u64) {
        std::fs::write(&path, &data).unwrap();
    }
    (path, Arc::new(data))
}

fn mb_s(bytes: usize, d: Duration) -> f64 {
    bytes as f64 / 1e6 / d.as_secs_f64()
}

// ---------------------------------------------------------------- baselines

/// `n` parallel raw loopback copies of `path` with `socat -u -b 262144`,
/// each into a checker (`check`) or `/dev/null`; returns the time until the
/// last copy ended.
fn socat_copies(path: &Path, n: usize, check: Option<&Arc<Vec<u8>>>) -> Duration {
    let mut receivers = vec![];
    let mut ports = vec![];
    for _ in 0..n {
        let port = free_port();
        let mut cmd = Command::new("socat");
        cmd.args([
            "-u",
            "-b",
            "262144",
            &format!("TCP-LISTEN:{port},bind=127.0.0.1,reuseaddr"),
        ]);
        if check.is_some() {
            cmd.arg("STDOUT").stdout(Stdio::piped());
        } else {
            cmd.arg("OPEN:/dev/null").stdout(Stdio::null());
        }
        let mut child = cmd.spawn().expect("socat is installed");
        let checker = check.map(|e| {
            Streamed::into_sink(child.stdout.take().unwrap(), Checker::new(Arc::clone(e)))
        });
        receivers.push((child, checker));
        ports.push(port);
    }
    // Wait until every receiver listens (a probe would take its one accept).
    wait_listening(&ports);
    let started = Instant::now();
    let senders: Vec<Child> = ports.iter().map(|port| socat_sender(path, *port)).collect();
    let mut last = started;
    for (mut child, checker) in receivers {
        child.wait().unwrap();
        let done = match checker {
            Some(c) => {
                let end = c.finish();
                assert!(end.data.exact(), "socat baseline copy was not exact");
                end.at
            }
            None => Instant::now(),
        };
        last = last.max(done);
    }
    for mut s in senders {
        s.wait().unwrap();
    }
    last - started
}

/// Waits until something listens on each of `ports` (socat receivers).
fn wait_listening(ports: &[u16]) {
    assert!(
        wait_until(SOON, || ports.iter().all(|p| net::is_listening(*p))),
        "socat receivers did not listen within {SOON:?}"
    );
}

// ---------------------------------------------------------------- scenarios

/// `curl -T -` of `path` to the daemon; returns the time it took.
fn curl_upload(d: &Daemon, path: &Path) -> Duration {
    let up = common::curl_upload(&d.put_url(), path, UploadFrom::Stdin);
    assert_eq!(up.status, 201, "upload failed: {up:?}");
    up.took
}

fn upload_alone(path: &Path, expected: &Arc<Vec<u8>>) -> Row {
    // The disk under the temp file is the noisiest thing on a shared
    // machine, so the three measurements alternate and medians are kept.
    const RUNS: usize = 3;
    let len = expected.len();
    let (mut null, mut disk, mut upload, mut rss) = (vec![], vec![], vec![], 0);
    let mut warnings = String::new();
    for _ in 0..RUNS {
        null.push(socat_copies(path, 1, None));
        disk.push(socat_to_file(path, &temp_dir()));
        let d = start_daemon();
        upload.push(curl_upload(&d, path));
        rss = rss.max(d.peak_rss_kib());
        if d.warnings() > 0 {
            warnings.push_str(&d.stderr());
        }
    }
    let (null, disk, took) = (median(null), median(disk), median(upload));
    let row = Row {
        scenario: format!("upload {} MiB, no readers", len / MIB),
        mb_s: Some(mb_s(len, took)),
        baseline_mb_s: Some(mb_s(len, null)),
        ratio: Some(null.as_secs_f64() / took.as_secs_f64()),
        peak_rss_kib: Some(rss),
        note: format!(
            "medians of {RUNS} alternated runs; ratio = baseline time / upload time; \
             storing floor, socat into a file in the same directory: {:.0} MB/s, \
             upload / floor = {:.2}{}",
            mb_s(len, disk),
            disk.as_secs_f64() / took.as_secs_f64(),
            if warnings.is_empty() {
                ""
            } else {
                "; daemon logged warnings"
            },
        ),
        ..Row::default()
    };
    if !warnings.is_empty() {
        eprintln!("{warnings}");
    }
    println!("{}", row.markdown());
    row
}

/// One raw loopback copy of `path` into a new file in `dir` (socat both
/// ends, as [`socat_copies`]): what receiving and storing the bytes costs
/// with no HTTP and no readers. The file is removed afterwards.
fn socat_to_file(path: &Path, dir: &Path) -> Duration {
    let port = free_port();
    let copy = dir.join("socat-copy.bin");
    let mut receiver = Command::new("socat")
        .args([
            "-u",
            "-b",
            "262144",
            &format!("TCP-LISTEN:{port},bind=127.0.0.1,reuseaddr"),
            &format!("OPEN:{},creat,trunc", copy.display()),
        ])
        .spawn()
        .expect("socat is installed");
    wait_listening(&[port]);
    let started = Instant::now();
    let mut sender = socat_sender(path, port);
    receiver.wait().unwrap();
    let took = started.elapsed();
    sender.wait().unwrap();
    let stored = std::fs::metadata(&copy).map_or(0, |m| m.len());
    assert_eq!(
        stored,
        std::fs::metadata(path).unwrap().len(),
        "socat copy short"
    );
    std::fs::remove_file(&copy).unwrap();
    took
}

/// A socat sending `path` to a receiver listening on `port` on loopback.
fn socat_sender(path: &Path, port: u16) -> Child {
    Command::new("socat")
        .args([
            "-u",
            "-b",
            "262144",
            &format!("OPEN:{}", path.display()),
            &format!("TCP:127.0.0.1:{port},retry=100,interval=0.01"),
        ])
        .spawn()
        .expect("socat is installed")
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

/// Reads a raw reader's response to its end; `true` if its body is exactly
/// `expected` and it ended complete.
fn read_exact_body(mut reader: RawReader, expected: &Arc<Vec<u8>>) -> bool {
    let (status, _) = reader.head();
    let mut checker = Checker::new(Arc::clone(expected));
    status == 200 && read_into(reader.body(), &mut checker) && checker.exact()
}

/// The upload with 8 `curl` readers attached from the start (plus, if
/// `stalled`, one reader that reads nothing until everything else is done).
fn fanout(path: &Path, expected: &Arc<Vec<u8>>, stalled: bool) -> Row {
    const READERS: usize = 8;
    let len = expected.len();
    let base = if stalled {
        None
    } else {
        Some(socat_copies(path, READERS, Some(expected)))
    };
    let null_base = (!stalled).then(|| socat_copies(path, READERS, None));
    let d = start_daemon();
    // A reader with a 4 KiB receive buffer that sends its request and then
    // reads nothing until everything else is done.
    let stalled_reader = stalled.then(|| RawReader::connect(d.get, Some(4096)));
    let readers: Vec<_> = (0..READERS)
        .map(|_| {
            CurlReader::into_sink(
                &["-sS", "-N", &d.get_url()],
                Checker::new(Arc::clone(expected)),
            )
        })
        .collect();
    // Every reader is attached (has its response head) before the upload.
    for r in &readers {
        r.wait_head();
    }
    let started = Instant::now();
    let upload = curl_upload(&d, path);
    let mut exact = 0;
    let mut last = started;
    for r in readers {
        let (code, end) = r.join_ended();
        exact += usize::from(code == 0 && end.data.exact());
        last = last.max(end.at);
    }
    let took = last - started;
    let mut total = READERS;
    if let Some(reader) = stalled_reader {
        total += 1;
        exact += usize::from(read_exact_body(reader, expected));
    }
    let mut row = Row {
        scenario: format!(
            "upload {} MiB + {READERS} curl readers{}",
            len / MIB,
            if stalled { " + 1 stalled reader" } else { "" }
        ),
        mb_s: Some(mb_s(len * READERS, took)),
        exact: Some((exact, total)),
        peak_rss_kib: Some(d.peak_rss_kib()),
        ..Row::default()
    };
    if let Some(base) = base {
        row.baseline_mb_s = Some(mb_s(len * READERS, base));
        row.ratio = Some(took.as_secs_f64() / base.as_secs_f64());
        row.note = format!(
            "last reader done in {:.2} s, upload {:.2} s, 8 socat copies into the same checker {:.2} s (into /dev/null {:.2} s); ratio = time / baseline time",
            took.as_secs_f64(),
            upload.as_secs_f64(),
            base.as_secs_f64(),
            null_base.unwrap_or_default().as_secs_f64()
        );
    } else {
        row.note = format!(
            "last reader done in {:.2} s; the stalled reader read only after that",
            took.as_secs_f64()
        );
    }
    report(row, &d)
}

/// Prints `row` (noting any warnings the daemon logged) and returns it.
fn report(mut row: Row, d: &Daemon) -> Row {
    let warnings = d.warnings();
    if warnings > 0 {
        row.note
            .push_str(&format!("; daemon logged {warnings} warnings"));
        eprintln!("{}", d.stderr());
    }
    println!("{}", row.markdown());
    row
}

/// The fan-out with 8 `curl -o /dev/null` readers (byte counts checked, not
/// contents), against 8 raw copies into `/dev/null`: the issue's floor.
fn fanout_to_null(path: &Path, expected: &Arc<Vec<u8>>) -> Row {
    const READERS: usize = 8;
    let len = expected.len();
    let base = socat_copies(path, READERS, None);
    let d = start_daemon();
    let readers: Vec<_> = (0..READERS)
        .map(|_| {
            CurlReader::spawn(&[
                "-sS",
                "-N",
                "-o",
                "/dev/null",
                "-w",
                "%{size_download}",
                &d.get_url(),
            ])
        })
        .collect();
    // Every reader is attached (has its response head) before the upload.
    for r in &readers {
        r.wait_head();
    }
    let started = Instant::now();
    let upload = curl_upload(&d, path);
    let mut exact = 0;
    for r in readers {
        let (code, out) = r.join();
        exact += usize::from(code == 0 && String::from_utf8_lossy(&out) == len.to_string());
    }
    let took = started.elapsed();
    let row = Row {
        scenario: format!(
            "upload {} MiB + {READERS} curl readers into /dev/null",
            len / MIB
        ),
        mb_s: Some(mb_s(len * READERS, took)),
        baseline_mb_s: Some(mb_s(len * READERS, base)),
        ratio: Some(took.as_secs_f64() / base.as_secs_f64()),
        exact: Some((exact, READERS)),
        peak_rss_kib: Some(d.peak_rss_kib()),
        note: format!(
            "sizes checked, not contents; last reader done in {:.2} s, upload {:.2} s, 8 socat copies into /dev/null {:.2} s; ratio = time / baseline time",
            took.as_secs_f64(),
            upload.as_secs_f64(),
            base.as_secs_f64()
        ),
        ..Row::default()
    };
    report(row, &d)
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

/// One hyper (HTTP/1.1 client) reader: connects, sends `GET`, counts the
/// response head in `heads`, then hands every body frame to `sink` with the
/// time it arrived. Returns `true` if the body ended cleanly.
async fn hyper_reader(
    get: SocketAddr,
    on_head: impl FnOnce(),
    mut sink: impl FnMut(&Bytes, Instant),
) -> bool {
    let mut tries = 0;
    let stream = loop {
        match tokio::net::TcpStream::connect(get).await {
            Ok(s) => break s,
            Err(e) if tries < 50 => {
                tries += 1;
                let _ = e;
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            Err(e) => panic!("connect: {e}"),
        }
    };
    let _ = stream.set_nodelay(true);
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .unwrap();
    tokio::spawn(conn);
    let req = http::Request::get(format!("/log/{TOKEN}"))
        .header(http::header::HOST, get.to_string())
        .body(Empty::<Bytes>::new())
        .unwrap();
    let resp = sender.send_request(req).await.unwrap();
    assert_eq!(resp.status(), 200);
    on_head();
    let mut body = resp.into_body();
    while let Some(frame) = body.frame().await {
        let Ok(frame) = frame else { return false };
        if let Some(data) = frame.data_ref() {
            sink(data, Instant::now());
        }
    }
    true
}

/// Spawns `n` checking readers; returns their handles (each: exact?, done at).
fn spawn_checking_readers(
    rt: &tokio::runtime::Runtime,
    get: SocketAddr,
    n: usize,
    expected: &Arc<Vec<u8>>,
    heads: &Arc<AtomicUsize>,
) -> Vec<tokio::task::JoinHandle<(bool, Instant)>> {
    let connecting = Arc::new(tokio::sync::Semaphore::new(256));
    (0..n)
        .map(|_| {
            let expected = Arc::clone(expected);
            let heads = Arc::clone(heads);
            let connecting = Arc::clone(&connecting);
            rt.spawn(async move {
                // Connect at most 256 at a time (the listen backlog).
                let permit = connecting.acquire_owned().await.unwrap();
                let mut checker = Checker::new(expected);
                let mut last = Instant::now();
                let on_head = move || {
                    drop(permit);
                    heads.fetch_add(1, Ordering::SeqCst);
                };
                let clean = hyper_reader(get, on_head, |data, at| {
                    checker.feed(data);
                    last = at;
                })
                .await;
                (clean && checker.exact(), last)
            })
        })
        .collect()
}

/// One point of the readers sweep: `n` hyper readers attached from the
/// start, a full-speed `curl -T -` upload of `path`.
fn sweep_point(path: &Path, expected: &Arc<Vec<u8>>, n: usize) -> (Row, String) {
    let len = expected.len();
    let rt = runtime();
    let d = start_daemon();
    let heads = Arc::new(AtomicUsize::new(0));
    let readers = spawn_checking_readers(&rt, d.get, n, expected, &heads);
    wait_heads(&heads, n);
    let started = Instant::now();
    let upload = curl_upload(&d, path);
    let mut exact = 0;
    let mut last = started;
    for r in readers {
        let (ok, at) = rt.block_on(r).unwrap();
        exact += usize::from(ok);
        last = last.max(at);
    }
    let took = last - started;
    let peak = d.peak_rss_kib();
    let row = Row {
        scenario: format!("sweep: {n} readers of a {} MiB upload", len / MIB),
        mb_s: Some(mb_s(len * n, took)),
        exact: Some((exact, n)),
        peak_rss_kib: Some(peak),
        note: format!(
            "aggregate to all readers; the upload itself ran at {:.0} MB/s",
            mb_s(len, upload)
        ),
        ..Row::default()
    };
    let row = report(row, &d);
    let csv = format!(
        "{n},{},{:.4},{:.1},{:.1},{exact},{peak}\n",
        len / MIB,
        took.as_secs_f64(),
        mb_s(len * n, took),
        mb_s(len, upload)
    );
    (row, csv)
}

/// `n` readers tailing a live log with nothing new to read: RSS per reader.
fn idle_readers(n: usize) -> Row {
    let rt = runtime();
    let d = start_daemon();
    let first = b"first line\n";
    let mut upload = Uploader::start(d.put);
    upload.chunk(first);
    // Warm up: one reader through the whole path, so allocator arenas and
    // lazily built state are in the "before" figure.
    let heads = Arc::new(AtomicUsize::new(0));
    let mut whole = first.to_vec();
    whole.extend_from_slice(b"last line\n");
    let whole = Arc::new(whole);
    let warm = spawn_checking_readers(&rt, d.get, 1, &whole, &heads);
    wait_heads(&heads, 1);
    // Settling time before each memory reading (a measurement choice, not
    // synchronisation: nothing is waited for but the allocator's quiet).
    thread::sleep(Duration::from_millis(500));
    let before = d.rss_kib();
    let readers = spawn_checking_readers(&rt, d.get, n, &whole, &heads);
    wait_heads(&heads, n + 1);
    thread::sleep(Duration::from_secs(1));
    let after = d.rss_kib();
    upload.chunk(b"last line\n");
    assert_eq!(upload.finish().0, 201, "upload not stored");
    let mut exact = 0;
    for r in warm.into_iter().chain(readers) {
        exact += usize::from(rt.block_on(r).unwrap().0);
    }
    let per = (after.saturating_sub(before)) as f64 / n as f64;
    let row = Row {
        scenario: format!("{n} idle tailing readers"),
        exact: Some((exact, n + 1)),
        peak_rss_kib: Some(d.peak_rss_kib()),
        note: format!("RSS {before} KiB before, {after} KiB with them: {per:.1} KiB per reader"),
        ..Row::default()
    };
    report(row, &d)
}

/// `n` concurrent readers of a 1 MiB log, all attached before it is uploaded.
fn many_readers(n: usize) -> Row {
    let rt = runtime();
    let d = start_daemon();
    let expected = Arc::new(pattern(MIB, 3));
    let heads = Arc::new(AtomicUsize::new(0));
    let connect_started = Instant::now();
    let readers = spawn_checking_readers(&rt, d.get, n, &expected, &heads);
    wait_heads(&heads, n);
    let connected = connect_started.elapsed();
    let started = Instant::now();
    let mut upload = Uploader::start(d.put);
    for piece in expected.chunks(64 * 1024) {
        upload.chunk(piece);
    }
    assert_eq!(upload.finish().0, 201, "upload not stored");
    let mut exact = 0;
    let mut last = started;
    for r in readers {
        let (ok, at) = rt.block_on(r).unwrap();
        exact += usize::from(ok);
        last = last.max(at);
    }
    let took = last - started;
    let row = Row {
        scenario: format!("{n} concurrent readers of a 1 MiB log"),
        mb_s: Some(mb_s(MIB * n, took)),
        exact: Some((exact, n)),
        peak_rss_kib: Some(d.peak_rss_kib()),
        note: format!(
            "all connected in {:.2} s; all done {:.2} s after the upload began",
            connected.as_secs_f64(),
            took.as_secs_f64()
        ),
        ..Row::default()
    };
    report(row, &d)
}

/// A line of the latency log: its sequence number, zero-padded, then filler,
/// 64 bytes in all.
fn latency_line(seq: usize) -> Vec<u8> {
    let mut line = format!("{seq:08} live log line for the latency benchmark ");
    while line.len() < 63 {
        line.push('.');
    }
    line.push('\n');
    line.into_bytes()
}

/// Collects write-to-receipt latencies from a stream of latency lines.
struct LineClock {
    base: Instant,
    sent: Arc<Vec<AtomicU64>>,
    partial: Vec<u8>,
    hist: Histogram<u64>,
    /// Lines seen, measured or not (the warm-up line is not).
    lines: usize,
}

impl LineClock {
    fn new(base: Instant, sent: Arc<Vec<AtomicU64>>) -> Self {
        LineClock {
            base,
            sent,
            partial: Vec::new(),
            hist: Histogram::new_with_bounds(1, 60_000_000_000, 3).unwrap(),
            lines: 0,
        }
    }

    fn feed(&mut self, data: &[u8], at: Instant) {
        let now = (at - self.base).as_nanos() as u64;
        self.partial.extend_from_slice(data);
        let mut start = 0;
        while let Some(nl) = self.partial[start..].iter().position(|&b| b == b'\n') {
            let line = &self.partial[start..start + nl];
            self.lines += 1;
            if let Some(seq) = std::str::from_utf8(&line[..8.min(line.len())])
                .ok()
                .and_then(|s| s.parse::<usize>().ok())
            {
                let sent = self.sent[seq].load(Ordering::Acquire);
                self.hist.saturating_record(now.saturating_sub(sent).max(1));
            }
            start += nl + 1;
        }
        self.partial.drain(..start);
    }
}

fn percentiles(h: &Histogram<u64>) -> String {
    let us = |v: u64| v as f64 / 1000.0;
    format!(
        "{:.0} µs / {:.0} µs / {:.0} µs / {:.1} ms",
        us(h.value_at_quantile(0.5)),
        us(h.value_at_quantile(0.99)),
        us(h.value_at_quantile(0.999)),
        us(h.max()) / 1000.0
    )
}

/// Writes `lines` latency lines at `rate` per second through `write` (which
/// sends one line), recording each line's send time before it goes out.
fn pace(
    lines: usize,
    rate: usize,
    base: Instant,
    sent: &[AtomicU64],
    mut write: impl FnMut(&[u8]),
) {
    let started = Instant::now();
    for (seq, slot) in sent.iter().enumerate().take(lines) {
        let line = latency_line(seq);
        slot.store((Instant::now() - base).as_nanos() as u64, Ordering::Release);
        write(&line);
        let next = started + Duration::from_secs_f64((seq + 1) as f64 / rate as f64);
        if let Some(wait) = next.checked_duration_since(Instant::now()) {
            thread::sleep(wait);
        }
    }
}

/// Live latency: `readers` tailing readers, `rate` lines a second for `secs`
/// seconds, each line its own chunk; baseline: the same lines written by one
/// thread straight to `readers` loopback sockets. With `scrape_every`, a
/// scraper reads `/metrics` that often while the lines are written.
fn latency(readers: usize, rate: usize, secs: u64, scrape_every: Option<Duration>) -> Row {
    let lines = rate * secs as usize;
    let rt = runtime();

    // Baseline: raw fan-out over loopback.
    let base_hist = {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let base = Instant::now();
        let sent: Arc<Vec<AtomicU64>> = Arc::new((0..lines).map(|_| AtomicU64::new(0)).collect());
        let tasks: Vec<_> = (0..readers)
            .map(|_| {
                let mut clock = LineClock::new(base, Arc::clone(&sent));
                rt.spawn(async move {
                    use tokio::io::AsyncReadExt;
                    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
                    let mut buf = vec![0; 16 * 1024];
                    loop {
                        let n = s.read(&mut buf).await.unwrap_or(0);
                        if n == 0 {
                            break;
                        }
                        clock.feed(&buf[..n], Instant::now());
                    }
                    clock.hist
                })
            })
            .collect();
        let mut socks: Vec<TcpStream> = (0..readers)
            .map(|_| {
                let (s, _) = listener.accept().unwrap();
                s.set_nodelay(true).unwrap();
                s
            })
            .collect();
        pace(lines, rate, base, &sent, |line| {
            for s in &mut socks {
                s.write_all(line).unwrap();
            }
        });
        drop(socks);
        let mut hist = Histogram::<u64>::new_with_bounds(1, 60_000_000_000, 3).unwrap();
        for t in tasks {
            hist.add(rt.block_on(t).unwrap()).unwrap();
        }
        hist
    };

    let d = start_daemon();
    let get = d.get;
    let mut upload = Uploader::start(d.put);
    // Not numbered, so not measured: it only shows each reader is at the head.
    upload.chunk(b"warm-up: the start of the log, before the measured lines .......\n");
    let base = Instant::now();
    let sent: Arc<Vec<AtomicU64>> = Arc::new((0..lines).map(|_| AtomicU64::new(0)).collect());
    let heads = Arc::new(AtomicUsize::new(0));
    // Readers that have read the first line.
    let settled = Arc::new(AtomicUsize::new(0));
    let tasks: Vec<_> = (0..readers)
        .map(|_| {
            let mut clock = LineClock::new(base, Arc::clone(&sent));
            let heads = Arc::clone(&heads);
            let settled = Arc::clone(&settled);
            rt.spawn(async move {
                let on_head = move || {
                    heads.fetch_add(1, Ordering::SeqCst);
                };
                let mut seen_first = false;
                let clean = hyper_reader(get, on_head, |data, at| {
                    clock.feed(data, at);
                    if !seen_first && clock.lines > 0 {
                        seen_first = true;
                        settled.fetch_add(1, Ordering::SeqCst);
                    }
                })
                .await;
                (clean, clock.hist)
            })
        })
        .collect();
    wait_heads(&heads, readers);
    // Every reader has read the first line and waits at the head.
    assert!(
        wait_until(SOON, || settled.load(Ordering::SeqCst) == readers),
        "only {} of {readers} readers got the first line",
        settled.load(Ordering::SeqCst)
    );
    let cpu0 = d.cpu_secs();
    let wall = Instant::now();
    let scraping = Arc::new(AtomicUsize::new(1));
    let scraper = scrape_every.map(|every| {
        let (put, scraping) = (d.put, Arc::clone(&scraping));
        thread::spawn(move || {
            let mut s = TcpStream::connect(put).unwrap();
            let mut times = vec![];
            while scraping.load(Ordering::SeqCst) == 1 {
                times.push(scrape_once(&mut s).0);
                // Pacing on purpose: a scraper every `every`.
                thread::sleep(every);
            }
            times
        })
    });
    pace(lines, rate, base, &sent, |line| upload.chunk(line));
    scraping.store(0, Ordering::SeqCst);
    let scrapes = scraper.map(|s| s.join().unwrap()).unwrap_or_default();
    let cpu = (d.cpu_secs() - cpu0) / wall.elapsed().as_secs_f64();
    assert_eq!(upload.finish().0, 201, "upload not stored");
    let mut hist = Histogram::<u64>::new_with_bounds(1, 60_000_000_000, 3).unwrap();
    let mut exact = 0;
    for t in tasks {
        let (clean, h) = rt.block_on(t).unwrap();
        // Every measured line seen once.
        exact += usize::from(clean && h.len() == lines as u64);
        hist.add(h).unwrap();
    }
    let scraped = match scrape_every {
        Some(every) => format!(
            ", scraping /metrics every {:.0} s ({} scrapes)",
            every.as_secs_f64(),
            scrapes.len()
        ),
        None => String::new(),
    };
    let row = Row {
        scenario: format!("live latency: {rate} lines/s, {readers} readers, {secs} s{scraped}"),
        latency: Some(percentiles(&hist)),
        exact: Some((exact, readers)),
        peak_rss_kib: Some(d.peak_rss_kib()),
        ratio: Some(
            hist.value_at_quantile(0.99) as f64 / base_hist.value_at_quantile(0.99).max(1) as f64,
        ),
        note: format!(
            "p50 / p99 / p99.9 / max; raw fan-out baseline {}; ratio = p99 / baseline p99; daemon CPU {:.0}% of a core",
            percentiles(&base_hist),
            cpu * 100.0
        ),
        ..Row::default()
    };
    report(row, &d)
}

// ---------------------------------------------------------------- scrape

/// One scrape of `/metrics` on a kept-alive connection to the upload port:
/// the time from writing the request to reading the whole body, and the
/// body's size in bytes.
fn scrape_once(s: &mut TcpStream) -> (Duration, usize) {
    let started = Instant::now();
    write!(s, "GET /metrics HTTP/1.1\r\nHost: bench\r\n\r\n").unwrap();
    let (status, body) = common::read_response(s);
    assert_eq!(status, 200, "{body}");
    (started.elapsed(), body.len())
}

/// The cost of scraping `/metrics` once a second, `scrapes` times, while
/// `n` readers wait at the head of a live log.
fn scrape_cost(n: usize, scrapes: usize) -> Row {
    let rt = runtime();
    let d = start_daemon();
    let mut upload = Uploader::start(d.put);
    upload.chunk(b"first line\n");
    let whole = Arc::new(b"first line\nlast line\n".to_vec());
    let heads = Arc::new(AtomicUsize::new(0));
    let readers = spawn_checking_readers(&rt, d.get, n, &whole, &heads);
    wait_heads(&heads, n);
    let mut s = TcpStream::connect(d.put).unwrap();
    s.set_nodelay(true).unwrap();
    let mut times = vec![];
    let mut bytes = 0;
    for _ in 0..scrapes {
        // Pacing on purpose: one scrape a second, as a scraper would.
        thread::sleep(Duration::from_secs(1));
        let (took, len) = scrape_once(&mut s);
        times.push(took);
        bytes = len;
    }
    upload.chunk(b"last line\n");
    assert_eq!(upload.finish().0, 201, "upload not stored");
    let mut exact = 0;
    for r in readers {
        exact += usize::from(rt.block_on(r).unwrap().0);
    }
    let max = times.iter().max().copied().unwrap_or_default();
    let median = median(times);
    let row = Row {
        scenario: format!("scrape /metrics once a second, {n} readers connected"),
        latency: Some(format!(
            "median {:.2} ms, max {:.2} ms",
            median.as_secs_f64() * 1e3,
            max.as_secs_f64() * 1e3
        )),
        exact: (n > 0).then_some((exact, n)),
        peak_rss_kib: Some(d.peak_rss_kib()),
        note: format!("{scrapes} scrapes of {bytes} bytes each, request to last byte"),
        ..Row::default()
    };
    report(row, &d)
}

// ---------------------------------------------------------------- sse

/// A CI-like text log of `len` bytes (valid UTF-8): lines of about 100
/// bytes with timestamps, colour codes (ESC, which JSON escapes as
/// `\u001b`), a few non-ASCII characters and line ends, the kind of text the
/// event stream carries to browsers.
fn text_log(len: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(len + 128);
    let mut n: u64 = 0;
    while out.len() < len {
        let ms = n * 37;
        let stamp = format!(
            "{:02}:{:02}:{:02}.{:03} ",
            ms / 3_600_000 % 24,
            ms / 60_000 % 60,
            ms / 1000 % 60,
            ms % 1000
        );
        out.extend_from_slice(stamp.as_bytes());
        let line = match n % 4 {
            0 => format!(
                "\x1b[1m\x1b[32m   Compiling\x1b[0m crate-{} v0.{}.{} (/build/src/crate-{})",
                n % 977,
                n % 13,
                n % 7,
                n % 977
            ),
            1 => format!("test module_{}::case_{n} ... \x1b[32mok\x1b[0m", n % 331),
            2 => format!(
                "  → step {n}: résumé of “{}” done in {} ms",
                n % 89,
                n % 1000
            ),
            _ => format!(
                "warning: unused variable `x{n}` at src/lib.rs:{}:9\r",
                n % 500
            ),
        };
        out.extend_from_slice(line.as_bytes());
        out.push(b'\n');
        n += 1;
    }
    out.truncate(len);
    // Never end inside a character.
    while std::str::from_utf8(&out).is_err() {
        out.pop();
    }
    out
}

/// The text log in memory and in a file (for `curl -T -`).
fn text_file(dir: &Path, len: usize) -> (PathBuf, Arc<Vec<u8>>) {
    let data = text_log(len);
    let path = dir.join(format!("text-{len}.log"));
    if std::fs::metadata(&path).map_or(true, |m| m.len() != data.len() as u64) {
        std::fs::write(&path, &data).unwrap();
    }
    (path, Arc::new(data))
}

/// Checks an event stream against the log as it streams, keeping none of
/// it: every `log` event's JSON text is compared with the log from where the
/// previous one ended (escapes decoded, the runs between them compared
/// whole), it must have an `id`, the offset where its text ends, and the
/// stream must end with `{"complete": true, "length": <log length>}`.
struct SseChecker {
    expected: Arc<Vec<u8>>,
    /// Bytes of the stream fed.
    received: usize,
    /// Log bytes matched so far.
    pos: usize,
    /// A line not yet ended by `\n`.
    partial: Vec<u8>,
    /// A log event's data was read and its id not yet.
    needs_id: bool,
    in_end: bool,
    ended: bool,
    events: usize,
    ok: bool,
}

impl SseChecker {
    fn new(expected: Arc<Vec<u8>>) -> Self {
        SseChecker {
            expected,
            received: 0,
            pos: 0,
            partial: Vec::new(),
            needs_id: false,
            in_end: false,
            ended: false,
            events: 0,
            ok: true,
        }
    }

    fn exact(&self) -> bool {
        self.ok && self.ended && self.pos == self.expected.len() && self.partial.is_empty()
    }

    fn line(&mut self, line: &[u8]) {
        if line.is_empty() {
            // The event is dispatched: a log event must have had its id.
            self.ok &= !self.needs_id;
            return;
        }
        if line.starts_with(b":") || line.starts_with(b"retry: ") {
            return;
        }
        if line == b"event: log" {
            self.in_end = false;
        } else if line == b"event: end" {
            self.in_end = true;
        } else if let Some(id) = line.strip_prefix(b"id: ") {
            let id: Option<usize> = std::str::from_utf8(id).ok().and_then(|s| s.parse().ok());
            self.ok &= self.needs_id && id == Some(self.pos);
            self.needs_id = false;
        } else if let Some(data) = line.strip_prefix(b"data: ") {
            if self.in_end {
                let want = format!(
                    "{{\"complete\": true, \"length\": {}}}",
                    self.expected.len()
                );
                self.ended = data == want.as_bytes();
                self.ok &= self.ended;
            } else {
                self.events += 1;
                self.ok &= self.text(data);
                self.needs_id = true;
            }
        } else {
            self.ok = false;
        }
    }

    /// Compares one JSON string (as livelog writes it: `"`, `\`, and control
    /// characters escaped) with the log from `pos`, moving `pos` past it.
    fn text(&mut self, data: &[u8]) -> bool {
        let Some(mut rest) = data.strip_prefix(b"\"").and_then(|d| d.strip_suffix(b"\"")) else {
            return false;
        };
        let expected = Arc::clone(&self.expected);
        loop {
            let run = memchr::memchr(b'\\', rest).unwrap_or(rest.len());
            if expected.get(self.pos..self.pos + run) != Some(&rest[..run]) {
                return false;
            }
            self.pos += run;
            rest = &rest[run..];
            let Some((&b'\\', escaped)) = rest.split_first() else {
                return true;
            };
            let (byte, used) = match escaped.first() {
                Some(b'n') => (b'\n', 1),
                Some(b'r') => (b'\r', 1),
                Some(b't') => (b'\t', 1),
                Some(b'"') => (b'"', 1),
                Some(b'\\') => (b'\\', 1),
                Some(b'b') => (8, 1),
                Some(b'f') => (12, 1),
                Some(b'u') if escaped.len() >= 5 => {
                    let hex = std::str::from_utf8(&escaped[1..5]).unwrap_or("zz");
                    match u8::from_str_radix(hex, 16) {
                        Ok(b) if b < 0x80 => (b, 5),
                        _ => return false,
                    }
                }
                _ => return false,
            };
            if expected.get(self.pos) != Some(&byte) {
                return false;
            }
            self.pos += 1;
            rest = &escaped[used..];
        }
    }
}

impl common::body::Sink for SseChecker {
    fn feed(&mut self, data: &[u8]) {
        self.received += data.len();
        let mut rest = data;
        while let Some(k) = memchr::memchr(b'\n', rest) {
            if self.partial.is_empty() {
                self.line(&rest[..k]);
            } else {
                let mut line = std::mem::take(&mut self.partial);
                line.extend_from_slice(&rest[..k]);
                self.line(&line);
                line.clear();
                self.partial = line;
            }
            rest = &rest[k + 1..];
        }
        self.partial.extend_from_slice(rest);
    }

    fn received(&self) -> usize {
        self.received
    }
}

/// What one fan-out run measured.
struct FanoutRun {
    /// Upload start to the last reader's end.
    took: Duration,
    exact: usize,
    /// Bytes the readers received, all together (SSE framing included).
    received: usize,
    daemon_cpu_secs: f64,
    peak_rss_kib: u64,
}

/// The text log uploaded with 8 `curl` readers attached from the start,
/// each checking what it gets: the raw bytes, or (`sse`) the event stream.
fn text_fanout_run(path: &Path, expected: &Arc<Vec<u8>>, sse: bool) -> FanoutRun {
    const READERS: usize = 8;
    let d = start_daemon();
    let url = d.get_url();
    let mut args = vec!["-sS", "-N"];
    if sse {
        args.extend(["-H", "Accept: text/event-stream"]);
    }
    args.push(&url);
    let mut sse_readers = vec![];
    let mut raw_readers = vec![];
    for _ in 0..READERS {
        if sse {
            sse_readers.push(CurlReader::into_sink(
                &args,
                SseChecker::new(Arc::clone(expected)),
            ));
        } else {
            raw_readers.push(CurlReader::into_sink(
                &args,
                Checker::new(Arc::clone(expected)),
            ));
        }
    }
    for r in &sse_readers {
        r.wait_head();
    }
    for r in &raw_readers {
        r.wait_head();
    }
    sync();
    let started = Instant::now();
    curl_upload(&d, path);
    let (mut exact, mut received, mut last) = (0, 0, started);
    for r in sse_readers {
        let (code, end) = r.join_ended();
        exact += usize::from(code == 0 && end.data.exact());
        received += end.data.received;
        last = last.max(end.at);
    }
    for r in raw_readers {
        let (code, end) = r.join_ended();
        exact += usize::from(code == 0 && end.data.exact());
        received += end.data.received;
        last = last.max(end.at);
    }
    if d.warnings() > 0 {
        eprintln!("{}", d.stderr());
    }
    FanoutRun {
        took: last - started,
        exact,
        received,
        daemon_cpu_secs: d.cpu_secs(),
        peak_rss_kib: d.peak_rss_kib(),
    }
}

/// Flushes dirty pages, so one run's writes are not timed in the next.
fn sync() {
    let _ = Command::new("sync").status();
}

/// SSE delivery next to raw delivery: the same text upload with 8 readers,
/// alternated raw and SSE runs, medians.
fn sse_fanout(dir: &Path, len: usize) -> Row {
    const RUNS: usize = 3;
    const READERS: usize = 8;
    let (path, expected) = text_file(dir, len);
    let len = expected.len();
    let (mut raw, mut sse) = (vec![], vec![]);
    for run in 1..=RUNS {
        for kind in [false, true] {
            let r = text_fanout_run(&path, &expected, kind);
            println!(
                "sse scenario run {run} {}: last reader done {:.2} s, {}/{READERS} exact, daemon CPU {:.1} s, peak RSS {:.1} MiB",
                if kind { "sse" } else { "raw" },
                r.took.as_secs_f64(),
                r.exact,
                r.daemon_cpu_secs,
                r.peak_rss_kib as f64 / 1024.0
            );
            if kind { sse.push(r) } else { raw.push(r) }
        }
    }
    let med = |runs: &[FanoutRun], f: &dyn Fn(&FanoutRun) -> f64| {
        let mut v: Vec<f64> = runs.iter().map(f).collect();
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    let took = |r: &FanoutRun| r.took.as_secs_f64();
    let cpu = |r: &FanoutRun| r.daemon_cpu_secs;
    let (sse_s, raw_s) = (med(&sse, &took), med(&raw, &took));
    let ratios: Vec<String> = sse
        .iter()
        .zip(&raw)
        .map(|(s, r)| format!("{:.2}", took(s) / took(r)))
        .collect();
    let row = Row {
        scenario: format!(
            "upload {} MiB of text + {READERS} curl SSE readers (Accept: text/event-stream), contents checked",
            len / MIB
        ),
        mb_s: Some(len as f64 * READERS as f64 / 1e6 / sse_s),
        baseline_mb_s: Some(len as f64 * READERS as f64 / 1e6 / raw_s),
        ratio: Some(sse_s / raw_s),
        exact: Some((sse.iter().map(|r| r.exact).min().unwrap_or(0), READERS)),
        peak_rss_kib: sse.iter().map(|r| r.peak_rss_kib).max(),
        note: format!(
            "medians of {RUNS} alternated runs; last SSE reader done in {sse_s:.2} s, raw {raw_s:.2} s \
             (8 curl raw readers of the same upload, contents checked; raw exact {}/{READERS}, peak RSS {:.1} MiB); \
             ratio = SSE time / raw time, per run {}; daemon CPU {:.1} s SSE vs {:.1} s raw; \
             the event stream is {:.3}× the log's bytes",
            raw.iter().map(|r| r.exact).min().unwrap_or(0),
            raw.iter().map(|r| r.peak_rss_kib).max().unwrap_or(0) as f64 / 1024.0,
            ratios.join(", "),
            med(&sse, &cpu),
            med(&raw, &cpu),
            sse.iter().map(|r| r.received).sum::<usize>() as f64
                / (len * READERS * sse.len()) as f64,
        ),
        ..Row::default()
    };
    println!("{}", row.markdown());
    row
}
