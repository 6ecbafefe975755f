//! Compressed readers: what gzip and zstd cost the daemon, next
//! to identity readers of the same log in the same run.
//!
//! ```sh
//! cargo bench --bench compression                                 # everything
//! LIVELOG_BENCH_SCENARIOS=levels cargo bench --bench compression  # codec levels only
//! ```
//!
//! The log is a real CI log: this project's own `cargo build -vv --color
//! always` output (built once into `target/livelog-bench/ci-build`, cached as
//! `target/livelog-bench/ci-build.log`; `LIVELOG_BENCH_CI_LOG` names another
//! file), repeated to `LIVELOG_BENCH_COMPRESS_MB` (default 256) MiB.
//!
//! Scenarios (`LIVELOG_BENCH_SCENARIOS`, comma list, default all):
//!
//! * `levels` — each codec level on the log in this process: input MB/s and
//!   ratio, with a sync flush every 64 KiB of input (as an upload arriving
//!   in 64 KiB chunks makes the daemon flush). How `GZIP_LEVEL` and
//!   `ZSTD_LEVEL` were chosen.
//! * `readers` — for each reader count in `LIVELOG_BENCH_COMPRESS_READERS`
//!   (default `0,1,100,1000`) and each coding in `LIVELOG_BENCH_CODINGS`
//!   (default `identity,gzip`; add `zstd` to measure it too, but mind that
//!   one copy of the log fits in zstd's 2 MiB window, so on the repeated log
//!   zstd finds every copy but the first and its ratio means nothing): a
//!   fresh daemon, that many HTTP/1.1
//!   readers attached before the upload (asking for the coding), then a
//!   full-speed `curl -T -` upload of the log. Reported: the upload's MB/s,
//!   when the last reader was done, the daemon's CPU seconds (user + system,
//!   from its start to the last reader done) and peak RSS. Reader 0 decodes
//!   and compares every byte; the others count bytes (all must get the same
//!   count). `LIVELOG_BENCH_RUNS` (default 3) rounds, codings alternated
//!   within each round; medians. The disk is shared and noisy: `sync` runs
//!   before each upload.
//! * `late` — the price of starting a compressor only when the first reader
//!   of its coding comes: the log is uploaded whole first, then one gzip
//!   reader (it starts the compressor) and then another (served from the
//!   finished compressed store): time to first byte and to the end of
//!   each.
//!
//! Also `LIVELOG_BENCH_BIN` (the binary; default the release build cargo
//! made) and `LIVELOG_BENCH_TEMP_DIR` (the daemon's `LIVELOG_TEMP_DIR`,
//! default `target/livelog-bench`). Needs `curl` and `cargo` on `PATH`.

// Tests and benchmarks panic on what they did not expect, and time the real
// process from outside with std's clock: the lint policy is livelog's own.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::disallowed_types)]

use std::io::Write;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Empty};
use hyper_util::rt::TokioIo;

#[path = "../tests/common/mod.rs"]
mod common;
use common::{Checker, Daemon, TOKEN, UploadFrom, env_or, wait_heads};

const MIB: usize = 1024 * 1024;

fn bench_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/livelog-bench")
}

fn main() {
    // A thousand client sockets; Windows has no such limit to raise.
    #[cfg(unix)]
    let limit = rlimit::increase_nofile_limit(u64::MAX).unwrap_or(0);
    #[cfg(not(unix))]
    let limit = 0;
    let scenarios: String = env_or("LIVELOG_BENCH_SCENARIOS", "levels,late,readers".to_string());
    let want = |s: &str| scenarios.split(',').any(|x| x.trim() == s);
    let mb: usize = env_or("LIVELOG_BENCH_COMPRESS_MB", 256);
    std::fs::create_dir_all(bench_dir()).unwrap();
    let one_copy = ci_log();
    let (path, log) = repeated(&one_copy, mb * MIB);
    println!(
        "livelog compression bench: binary {}, {} cores, open-files limit {limit}; \
         CI log {} bytes ({} lines), repeated to {} MiB",
        binary(),
        thread::available_parallelism().map_or(0, |n| n.get()),
        one_copy.len(),
        one_copy.iter().filter(|&&b| b == b'\n').count(),
        log.len() / MIB,
    );
    if want("levels") {
        levels(&one_copy);
    }
    if want("late") {
        late(&path, &log);
    }
    if want("readers") {
        readers(&path, &log);
    }
}

// ---------------------------------------------------------------- the log

/// This project's `cargo build -vv --color always` output, built once
/// into a target directory of its own (a few minutes) and cached.
fn ci_log() -> Vec<u8> {
    if let Ok(path) = std::env::var("LIVELOG_BENCH_CI_LOG") {
        return std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    }
    let cached = bench_dir().join("ci-build.log");
    if let Ok(log) = std::fs::read(&cached) {
        if log.ends_with(b"\n") && log.windows(8).any(|w| w == b"Finished") {
            return log;
        }
    }
    println!("building the CI log: cargo build -vv --color always (once; a few minutes)");
    let out = Command::new("cargo")
        .args(["build", "-vv", "--color", "always", "--target-dir"])
        .arg(bench_dir().join("ci-build"))
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env_remove("CARGO_TARGET_DIR")
        .stdin(Stdio::null())
        .output()
        .expect("cargo is installed");
    assert!(out.status.success(), "the CI log's build failed");
    // cargo writes its progress and build-script output to stderr.
    let mut log = out.stdout;
    log.extend_from_slice(&out.stderr);
    std::fs::write(&cached, &log).unwrap();
    log
}

/// `one` repeated (whole copies, the last one cut) to `len` bytes, in
/// memory and in a file for `curl -T` to read.
fn repeated(one: &[u8], len: usize) -> (PathBuf, Arc<Vec<u8>>) {
    let mut log = Vec::with_capacity(len);
    while log.len() < len {
        let take = one.len().min(len - log.len());
        log.extend_from_slice(&one[..take]);
    }
    let path = bench_dir().join(format!("ci-log-{len}.txt"));
    if std::fs::read(&path).map_or(true, |f| f != log) {
        std::fs::write(&path, &log).unwrap();
    }
    (path, Arc::new(log))
}

// ---------------------------------------------------------------- levels

/// Each level of each codec on `log`, fed in 64 KiB pieces with a sync
/// flush after each: input MB/s (best of 3 passes over at least 32 MiB)
/// and ratio.
fn levels(log: &[u8]) {
    println!();
    println!("| codec | level | ratio (log / compressed) | MB/s of log compressed |");
    println!("| --- | --- | --- | --- |");
    let candidates: Vec<(&str, i32)> = [1, 2, 3, 4, 5, 6, 9]
        .into_iter()
        .map(|l| ("gzip", l))
        .chain([1, 2, 3, 4, 6, 9, 12].into_iter().map(|l| ("zstd", l)))
        .collect();
    let passes = (32 * MIB).div_ceil(log.len()).max(1);
    for (codec, level) in candidates {
        let mut best = Duration::MAX;
        let mut size = 0;
        for _ in 0..3 {
            let started = Instant::now();
            for _ in 0..passes {
                size = compress(codec, level, log);
            }
            best = best.min(started.elapsed());
        }
        println!(
            "| {codec} | {level} | {:.2} | {:.0} |",
            log.len() as f64 / size as f64,
            mb_s(log.len() * passes, best)
        );
    }
}

/// The compressed size of `log` in `codec` at `level`, written in 64 KiB
/// pieces with a sync flush after each, as the daemon's compressor does at
/// the head of a log.
fn compress(codec: &str, level: i32, log: &[u8]) -> usize {
    fn run(mut e: impl Write, log: &[u8]) {
        for piece in log.chunks(64 * 1024) {
            e.write_all(piece).unwrap();
            e.flush().unwrap();
        }
    }
    match codec {
        "gzip" => {
            let mut e =
                flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::new(level as u32));
            run(&mut e, log);
            e.finish().unwrap().len()
        }
        _ => {
            let mut e = zstd::stream::write::Encoder::new(Vec::new(), level).unwrap();
            e.include_checksum(true).unwrap();
            run(&mut e, log);
            e.finish().unwrap().len()
        }
    }
}

// ---------------------------------------------------------------- late

/// A complete log, then a first gzip reader (which starts the compressor)
/// and a second one: time to first byte and to the end of each.
fn late(path: &Path, log: &Arc<Vec<u8>>) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let d = start_daemon();
    Command::new("sync").status().expect("sync");
    curl_upload(&d, path);
    println!();
    for which in [
        "first gzip reader (starts the compressor)",
        "second gzip reader",
    ] {
        let started = Instant::now();
        let first_byte = Arc::new(Mutex::new(None));
        let at = Arc::clone(&first_byte);
        let check = Decoded::new("gzip", Arc::clone(log));
        let (bytes, exact) = rt.block_on(reader(
            d.get,
            "gzip",
            Some(check),
            || {},
            move || {
                at.lock().unwrap().get_or_insert(started.elapsed());
            },
        ));
        let first_byte = first_byte.lock().unwrap().unwrap_or_default();
        println!(
            "late, {which}: first byte after {:.1} ms, all {:.1} MiB after {:.2} s, exact: {exact}",
            first_byte.as_secs_f64() * 1000.0,
            bytes as f64 / MIB as f64,
            started.elapsed().as_secs_f64()
        );
    }
    println!("late: daemon CPU {:.2} s in all", d.cpu_secs());
}

// ---------------------------------------------------------------- readers

/// One measured run: `n` readers of one coding.
#[derive(Clone, Copy, Debug)]
struct Run {
    upload: Duration,
    last_done: Duration,
    cpu_secs: f64,
    peak_rss_kib: u64,
    /// Bytes each reader received (compressed bytes for a coding).
    received: usize,
    exact: bool,
}

fn readers(path: &Path, log: &Arc<Vec<u8>>) {
    let counts: String = env_or("LIVELOG_BENCH_COMPRESS_READERS", "0,1,100,1000".to_string());
    let codings: String = env_or("LIVELOG_BENCH_CODINGS", "identity,gzip".to_string());
    let codings: Vec<String> = codings.split(',').map(|c| c.trim().to_string()).collect();
    let rounds: usize = env_or("LIVELOG_BENCH_RUNS", 3);
    let mut table = vec![];
    for n in counts
        .split(',')
        .filter_map(|c| c.trim().parse::<usize>().ok())
    {
        // With no reader nothing is compressed: one coding says it all.
        let codings = if n == 0 { &codings[..1] } else { &codings[..] };
        let mut runs: Vec<Vec<Run>> = vec![vec![]; codings.len()];
        for round in 0..rounds {
            for (i, coding) in codings.iter().enumerate() {
                let run = readers_run(path, log, n, coding);
                println!(
                    "  round {} · {n} {coding} readers: upload {:.0} MB/s, last done {:.2} s, \
                     daemon CPU {:.2} s, peak RSS {:.1} MiB, {} bytes each, exact: {}",
                    round + 1,
                    mb_s(log.len(), run.upload),
                    run.last_done.as_secs_f64(),
                    run.cpu_secs,
                    run.peak_rss_kib as f64 / 1024.0,
                    run.received,
                    run.exact
                );
                runs[i].push(run);
            }
        }
        for (coding, runs) in codings.iter().zip(runs) {
            table.push((n, coding.clone(), runs));
        }
    }

    println!();
    println!(
        "| readers | coding | bytes to each reader (ratio) | upload MB/s | last reader done | daemon CPU s | peak RSS | all exact |"
    );
    println!("| --- | --- | --- | --- | --- | --- | --- | --- |");
    for (n, coding, runs) in &table {
        let med = |f: &dyn Fn(&Run) -> f64| {
            let mut v: Vec<f64> = runs.iter().map(f).collect();
            v.sort_by(|a, b| a.total_cmp(b));
            v[v.len() / 2]
        };
        let received = runs[0].received;
        println!(
            "| {n} | {coding} | {} | {:.0} | {:.2} s | {:.2} | {:.1} MiB | {} |",
            if *n == 0 {
                "—".to_string()
            } else {
                format!(
                    "{:.1} MiB ({:.1}×)",
                    received as f64 / MIB as f64,
                    log.len() as f64 / received as f64
                )
            },
            med(&|r| mb_s(log.len(), r.upload)),
            med(&|r| r.last_done.as_secs_f64()),
            med(&|r| r.cpu_secs),
            med(&|r| r.peak_rss_kib as f64) / 1024.0,
            if runs.iter().all(|r| r.exact) {
                "yes"
            } else {
                "NO"
            },
        );
    }
    println!("(medians of {rounds} rounds, codings alternated within each round)");
}

/// A fresh daemon, `n` readers asking for `coding`, one upload of `path`.
fn readers_run(path: &Path, log: &Arc<Vec<u8>>, n: usize, coding: &str) -> Run {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let d = start_daemon();
    let heads = Arc::new(AtomicUsize::new(0));
    let connecting = Arc::new(tokio::sync::Semaphore::new(256));
    let readers: Vec<_> = (0..n)
        .map(|i| {
            let heads = Arc::clone(&heads);
            let connecting = Arc::clone(&connecting);
            let coding = coding.to_string();
            // Reader 0 checks every decoded byte; the others count bytes.
            let checker = (i == 0).then(|| Decoded::new(&coding, Arc::clone(log)));
            let get = d.get;
            rt.spawn(async move {
                // Connect at most 256 at a time (the listen backlog).
                let permit = connecting.acquire_owned().await.unwrap();
                let on_head = move || {
                    drop(permit);
                    heads.fetch_add(1, Ordering::SeqCst);
                };
                reader(get, &coding, checker, on_head, || {}).await
            })
        })
        .collect();
    wait_heads(&heads, n);
    // The disk under the temp files is shared and noisy: start each upload
    // with nothing of the last one left to write back.
    Command::new("sync").status().expect("sync");
    let started = Instant::now();
    let upload = curl_upload(&d, path);
    let mut received = None;
    let mut exact = true;
    for r in readers {
        let (bytes, ok) = rt.block_on(r).unwrap();
        exact &= ok && received.is_none_or(|r| r == bytes);
        received = Some(bytes);
    }
    let last_done = started.elapsed();
    let run = Run {
        upload,
        last_done,
        cpu_secs: d.cpu_secs(),
        peak_rss_kib: d.peak_rss_kib(),
        received: received.unwrap_or(0),
        exact,
    };
    let warnings = d.warnings();
    if warnings > 0 {
        eprintln!("daemon logged {warnings} warnings:\n{}", d.stderr());
    }
    run
}

/// A decoder for `coding` writing into a byte-exactness check.
enum Decoded {
    Identity(CheckSink),
    Gzip(Box<flate2::write::GzDecoder<CheckSink>>),
    Zstd(zstd::stream::write::Decoder<'static, CheckSink>),
}

struct CheckSink(Checker);

impl Write for CheckSink {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.feed(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Decoded {
    fn new(coding: &str, log: Arc<Vec<u8>>) -> Self {
        let sink = CheckSink(Checker::new(log));
        match coding {
            "identity" => Decoded::Identity(sink),
            "gzip" => Decoded::Gzip(Box::new(flate2::write::GzDecoder::new(sink))),
            "zstd" => Decoded::Zstd(zstd::stream::write::Decoder::new(sink).unwrap()),
            other => panic!("unknown coding {other}"),
        }
    }

    fn feed(&mut self, data: &[u8]) -> bool {
        match self {
            Decoded::Identity(s) => s.write_all(data).is_ok(),
            Decoded::Gzip(d) => d.write_all(data).is_ok(),
            Decoded::Zstd(d) => d.write_all(data).is_ok(),
        }
    }

    /// `true` if the stream ended whole and decoded to exactly the log.
    fn exact(self) -> bool {
        match self {
            Decoded::Identity(s) => s.0.exact(),
            Decoded::Gzip(d) => d.finish().is_ok_and(|s| s.0.exact()),
            Decoded::Zstd(mut d) => d.flush().is_ok() && d.into_inner().0.exact(),
        }
    }
}

/// One HTTP/1.1 reader asking for `coding` (`on_head` when the response
/// head is in, `on_data` for each piece of body): returns the bytes it received
/// and whether the body ended cleanly (and, with `check`, decoded to exactly
/// the log).
async fn reader(
    get: SocketAddr,
    coding: &str,
    mut check: Option<Decoded>,
    on_head: impl FnOnce(),
    mut on_data: impl FnMut(),
) -> (usize, bool) {
    let stream = tokio::net::TcpStream::connect(get).await.unwrap();
    let _ = stream.set_nodelay(true);
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .unwrap();
    tokio::spawn(conn);
    let mut req =
        http::Request::get(format!("/log/{TOKEN}")).header(http::header::HOST, get.to_string());
    if coding != "identity" {
        req = req.header(http::header::ACCEPT_ENCODING, coding);
    }
    let resp = sender
        .send_request(req.body(Empty::<Bytes>::new()).unwrap())
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let got = resp
        .headers()
        .get(http::header::CONTENT_ENCODING)
        .map_or("identity", |v| v.to_str().unwrap());
    assert_eq!(got, coding, "the coding asked for");
    on_head();
    let mut body = resp.into_body();
    let mut bytes = 0;
    let mut ok = true;
    while let Some(frame) = body.frame().await {
        let Ok(frame) = frame else {
            return (bytes, false);
        };
        if let Some(data) = frame.data_ref() {
            on_data();
            bytes += data.len();
            if let Some(check) = &mut check {
                ok &= check.feed(data);
            }
        }
    }
    (bytes, ok && check.is_none_or(Decoded::exact))
}

// ---------------------------------------------------------------- daemon

fn binary() -> String {
    std::env::var("LIVELOG_BENCH_BIN").unwrap_or_else(|_| common::binary().into())
}

/// The release daemon on ephemeral ports, its temp files in
/// `LIVELOG_BENCH_TEMP_DIR` (default `target/livelog-bench`).
fn start_daemon() -> Daemon {
    let temp_dir = std::env::var_os("LIVELOG_BENCH_TEMP_DIR").map_or_else(bench_dir, PathBuf::from);
    Daemon::builder()
        .program(binary())
        .env("LIVELOG_TEMP_DIR", temp_dir.to_string_lossy())
        .start_process()
}

/// `curl -T -` of `path` to the daemon; returns the time it took.
fn curl_upload(d: &Daemon, path: &Path) -> Duration {
    let up = common::curl_upload(&d.put_url(), path, UploadFrom::Stdin);
    assert_eq!(up.status, 201, "upload failed: {} {}", up.body, up.stderr);
    up.took
}

fn mb_s(bytes: usize, d: Duration) -> f64 {
    bytes as f64 / 1e6 / d.as_secs_f64()
}
