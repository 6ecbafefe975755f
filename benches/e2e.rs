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

#[path = "e2e/fanout.rs"]
mod fanout;
#[path = "e2e/latency.rs"]
mod latency;
#[path = "e2e/readers.rs"]
mod readers;
#[path = "e2e/sse.rs"]
mod sse;
#[path = "e2e/upload.rs"]
mod upload;

use fanout::*;
use latency::*;
use readers::*;
use sse::*;
use upload::*;

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

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
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
