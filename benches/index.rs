//! What reading a CI log by lines costs, on a 1 GiB log, with the release
//! binary over real sockets, each figure next to a baseline measured in the
//! same run, medians of alternated runs.
//!
//! ```sh
//! cargo bench --bench index
//! LIVELOG_BENCH_INDEX_MB=256 LIVELOG_BENCH_INDEX_RUNS=3 cargo bench --bench index
//! ```
//!
//! The log is this project's own `cargo build -vv --color always` output
//! (`tests/data/cargo-build-vv.log.gz`) repeated to the size: real CI lines,
//! ANSI colours, a few kilobytes of rustc command line now and then.
//!
//! Scenarios (`LIVELOG_BENCH_INDEX_SCENARIOS`, default all):
//! * `upload` — the whole log uploaded with `curl -T` (until its `201`),
//!   with the line index on and with `LIVELOG_LINE_INDEX=off`, alternated:
//!   the index's cost to the upload as a ratio (the target: at most 5 %),
//!   and how long after the `201` the index has caught up;
//! * `search` — `/search?q=` over the complete log: time to the first
//!   result and to the end, next to `grep -c` on the same file (in the page
//!   cache, alternated), and the daemon's peak memory;
//! * `lines` — `?lines=A-B` of 100 lines anywhere in the log (the viewer's
//!   jump), and `?tail=100`: time to the whole answer, next to a `Range`
//!   request of the same bytes.
//!
//! Knobs: `LIVELOG_BENCH_INDEX_MB` (1024), `LIVELOG_BENCH_INDEX_RUNS` (5),
//! `LIVELOG_BENCH_INDEX_QUERY` (`error`, what the search looks for),
//! `LIVELOG_BENCH_BIN` (the binary; default the release build cargo made).
//! Needs `curl` and `grep`.

// Tests and benchmarks panic on what they did not expect, and time the real
// process from outside with std's clock: the lint policy is livelog's own.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::disallowed_types)]

#[path = "../tests/common/mod.rs"]
mod common;

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{Daemon, SOON, TOKEN, curl, env_or, wait_until};

const MIB: u64 = 1024 * 1024;

fn main() {
    let mb: u64 = env_or("LIVELOG_BENCH_INDEX_MB", 1024);
    let runs: usize = env_or("LIVELOG_BENCH_INDEX_RUNS", 5);
    let scenarios: String = env_or(
        "LIVELOG_BENCH_INDEX_SCENARIOS",
        "upload,search,lines".to_owned(),
    );
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("livelog-bench-index");
    std::fs::create_dir_all(&dir).unwrap();
    let log = common::data::repeated_cargo_log(&dir, mb * MIB);
    let lines = count_lines(&log);
    println!(
        "log: {} ({} MiB, {lines} lines, this project's cargo build -vv output repeated); {runs} runs each, alternated",
        log.display(),
        mb
    );
    if scenarios.contains("upload") {
        upload(&log, &dir, runs);
    }
    let needs_daemon = scenarios.contains("search") || scenarios.contains("lines");
    if needs_daemon {
        let d = daemon(&dir, true);
        upload_once(&d, &log);
        let started = Instant::now();
        assert!(wait_until(Duration::from_secs(600), || outline_state(&d) == "complete"));
        println!(
            "(index of the complete log ready {:.2} s after its 201)",
            started.elapsed().as_secs_f64()
        );
        if scenarios.contains("search") {
            search(&d, &log, runs);
        }
        if scenarios.contains("lines") {
            jumps(&d, lines, runs);
        }
    }
}

fn count_lines(path: &Path) -> u64 {
    let out = Command::new("wc").arg("-l").arg(path).output().unwrap();
    String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .next()
        .unwrap()
        .parse()
        .unwrap()
}

fn daemon(dir: &Path, index: bool) -> Daemon {
    let mut builder = Daemon::builder()
        .env("LIVELOG_TEMP_DIR", dir.to_str().unwrap())
        .env("LIVELOG_LINE_INDEX", if index { "on" } else { "off" });
    if let Ok(bin) = std::env::var("LIVELOG_BENCH_BIN") {
        builder = builder.program(bin);
    }
    builder.start_process()
}

/// Uploads `log` with curl; returns the time to its `201`.
fn upload_once(d: &Daemon, log: &Path) -> Duration {
    let started = Instant::now();
    let (code, out, err) = curl(&["-sS", "-T", log.to_str().unwrap(), &d.put_url()]);
    let elapsed = started.elapsed();
    assert_eq!(code, 0, "{err}");
    assert!(
        String::from_utf8_lossy(&out).starts_with("created"),
        "{out:?}"
    );
    elapsed
}

fn outline_state(d: &Daemon) -> String {
    let (_, out, _) = curl(&["-s", &format!("{}/outline", d.get_url())]);
    serde_json::from_slice::<serde_json::Value>(&out)
        .ok()
        .and_then(|v| v["state"].as_str().map(str::to_owned))
        .unwrap_or_default()
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn upload(log: &Path, dir: &Path, runs: usize) {
    let size = std::fs::metadata(log).unwrap().len() as f64;
    let mut on = Vec::new();
    let mut off = Vec::new();
    let mut caught_up = Vec::new();
    for run in 0..runs {
        for index in [run % 2 == 0, run % 2 != 0] {
            Command::new("sync").status().unwrap();
            let d = daemon(dir, index);
            let t = upload_once(&d, log).as_secs_f64();
            if index {
                let after = Instant::now();
                assert!(wait_until(Duration::from_secs(600), || outline_state(&d) == "complete"));
                caught_up.push(after.elapsed().as_secs_f64());
                on.push(t);
            } else {
                off.push(t);
            }
        }
    }
    let (on_m, off_m) = (median(on.clone()), median(off.clone()));
    let mbps = |t: f64| size / t / 1e6;
    println!("upload, {runs} alternated runs each:");
    println!(
        "  index off: {:.0} MB/s median ({})",
        mbps(off_m),
        list(&off)
    );
    println!("  index on:  {:.0} MB/s median ({})", mbps(on_m), list(&on));
    println!(
        "  upload time with the index / without: {:.3}x (target <= 1.05); index complete {:.2} s after the 201 (median; {})",
        on_m / off_m,
        median(caught_up.clone()),
        list(&caught_up)
    );
}

fn list(v: &[f64]) -> String {
    v.iter()
        .map(|x| format!("{x:.3}"))
        .collect::<Vec<_>>()
        .join(" ")
}

fn search(d: &Daemon, log: &Path, runs: usize) {
    let query: String = env_or("LIVELOG_BENCH_INDEX_QUERY", "error".to_owned());
    let url = format!("{}/search?q={query}", d.get_url());
    let mut first = Vec::new();
    let mut whole = Vec::new();
    let mut grep = Vec::new();
    let mut totals = (0, 0);
    for _ in 0..runs {
        // grep -c on the same file (cached after the first run of either).
        let started = Instant::now();
        let out = Command::new("grep")
            .args(["-c", "--", &query])
            .arg(log)
            .output()
            .unwrap();
        grep.push(started.elapsed().as_secs_f64());
        totals.0 = String::from_utf8_lossy(&out.stdout)
            .trim()
            .parse::<u64>()
            .unwrap();

        let started = Instant::now();
        let mut child = Command::new("curl")
            .args(["-sN", &url])
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let mut out = child.stdout.take().unwrap();
        let mut buf = vec![0; 1 << 16];
        let mut got = Vec::new();
        let n = out.read(&mut buf).unwrap();
        first.push(started.elapsed().as_secs_f64());
        got.extend_from_slice(&buf[..n]);
        out.read_to_end(&mut got).unwrap();
        whole.push(started.elapsed().as_secs_f64());
        assert!(child.wait().unwrap().success());
        let last = got
            .split(|&b| b == b'\n')
            .rev()
            .find(|l| !l.is_empty())
            .unwrap();
        let total: serde_json::Value = serde_json::from_slice(last).unwrap();
        totals.1 = total["total"].as_u64().unwrap();
    }
    assert_eq!(
        totals.0, totals.1,
        "grep -c and the search count the same lines"
    );
    let (w, g) = (median(whole.clone()), median(grep.clone()));
    println!(
        "search for {query:?} ({} matching lines), {runs} alternated runs:",
        totals.1
    );
    println!(
        "  first result: {:.1} ms median ({}) (target <= 100 ms)",
        median(first.clone()) * 1e3,
        list(&first)
    );
    println!("  whole search: {w:.3} s median ({})", list(&whole));
    println!("  grep -c:      {g:.3} s median ({})", list(&grep));
    println!(
        "  speed next to grep -c: {:.2}x (target >= 0.5x); daemon peak RSS {} MiB",
        g / w,
        d.peak_rss_kib() / 1024
    );
}

fn jumps(d: &Daemon, lines: u64, runs: usize) {
    let mut by_line = Vec::new();
    let mut by_range = Vec::new();
    let mut tail = Vec::new();
    // Spread over the log, the same places each run.
    let places: Vec<u64> = (1..=20).map(|i| lines / 21 * i).collect();
    for _ in 0..runs {
        for &first in &places {
            let url = format!("{}?lines={first}-{}", d.get_url(), first + 99);
            let started = Instant::now();
            let (code, body, _) = curl(&["-s", &url]);
            by_line.push(started.elapsed().as_secs_f64());
            assert_eq!(code, 0);
            // The same bytes by byte range: what a jump costs without lines.
            let offset = first * 130; // about where; only the cost matters
            let range = format!("{offset}-{}", offset + body.len() as u64 - 1);
            let started = Instant::now();
            let (code, _, _) = curl(&["-s", "-r", &range, &d.get_url()]);
            by_range.push(started.elapsed().as_secs_f64());
            assert_eq!(code, 0);
        }
        let started = Instant::now();
        let (code, body, _) = curl(&["-s", &format!("{}?tail=100", d.get_url())]);
        tail.push(started.elapsed().as_secs_f64());
        assert_eq!(code, 0);
        assert_eq!(body.iter().filter(|&&b| b == b'\n').count(), 100);
    }
    let ms = |v: &[f64]| median(v.to_vec()) * 1e3;
    let max = |v: &[f64]| v.iter().cloned().fold(0.0, f64::max) * 1e3;
    println!("jumps: 100 lines at 20 places, {runs} runs (curl, new connection each):");
    println!(
        "  ?lines=A-B:  {:.1} ms median, {:.1} ms max",
        ms(&by_line),
        max(&by_line)
    );
    println!(
        "  Range bytes: {:.1} ms median, {:.1} ms max (baseline)",
        ms(&by_range),
        max(&by_range)
    );
    println!("  ?tail=100:   {:.1} ms median", ms(&tail));
    let _ = (SOON, TOKEN);
}
