//! Searches against live readers: does a burst of whole-log
//! searches delay the live log and small requests? The release binary over
//! real sockets, quiet and loaded runs alternated.
//!
//! ```sh
//! cargo bench --bench search_load
//! LIVELOG_BENCH_SEARCH_MB=64 LIVELOG_BENCH_SEARCH_ROUNDS=2 cargo bench --bench search_load
//! ```
//!
//! The scenario: a live log of `LIVELOG_BENCH_SEARCH_MB` MiB (this
//! project's `cargo build -vv` output repeated, as `benches/index.rs`), a
//! line written every 50 ms, one live reader at its end (`?tail=1`), and a
//! small request (`?lines=5`, a fresh connection each) every 100 ms.
//! * quiet: that alone, for `LIVELOG_BENCH_QUIET_SECS`;
//! * loaded: the same while `LIVELOG_BENCH_SEARCHES` searches for
//!   `LIVELOG_BENCH_SEARCH_PATTERN` (a regular expression) start at once,
//!   `curl` each from a loopback address of its own, until every one has
//!   answered completely. A search refused (`429`, `503`) retries after its
//!   `Retry-After`, as the viewer does, so the searches' total time
//!   includes the waits.
//!
//! Printed per run: the live line's write→reader latency p50 / p99, the
//! small request's median / max, and for loaded runs the searches' total
//! time, how many answered completely and how many refusals they met.
//!
//! Knobs: `LIVELOG_BENCH_SEARCH_MB` (256), `LIVELOG_BENCH_SEARCH_PATTERN`
//! (`(erro|fail).*crate`), `LIVELOG_BENCH_SEARCHES` (20),
//! `LIVELOG_BENCH_SEARCH_ROUNDS` (3 quiet + 3 loaded), `LIVELOG_BENCH_QUIET_SECS`
//! (5), `LIVELOG_BENCH_DAEMON_ENV` (extra `NAME=VALUE,…` for the daemon,
//! e.g. `LIVELOG_MAX_SEARCHES=20,LIVELOG_MAX_SEARCHES_PER_ADDRESS=20`),
//! `LIVELOG_BENCH_CLIENT_NICE` (0: the nice value the searches' `curl`s
//! run at; 19 tells their CPU from livelog's), `LIVELOG_BENCH_BIN` (the
//! binary; default the release build cargo made). Needs `curl` and `nice`.

// Tests and benchmarks panic on what they did not expect, and time the real
// process from outside with std's clock: the lint policy is livelog's own.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::disallowed_types)]

#[path = "../tests/common/mod.rs"]
mod common;

use std::io::{BufRead, BufReader, Read};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;

use common::{Daemon, RawReader, SOON, TOKEN, Uploader, env_or, raw_exchange, wait_until};

const MIB: u64 = 1024 * 1024;
/// Live lines the writer may send (a run never lasts this long).
const MAX_LIVE_LINES: usize = 1 << 20;

fn main() {
    let mb: u64 = env_or("LIVELOG_BENCH_SEARCH_MB", 256);
    let pattern: String = env_or("LIVELOG_BENCH_SEARCH_PATTERN", "(erro|fail).*crate".into());
    let searches: usize = env_or("LIVELOG_BENCH_SEARCHES", 20);
    let rounds: usize = env_or("LIVELOG_BENCH_SEARCH_ROUNDS", 3);
    let quiet = Duration::from_secs(env_or("LIVELOG_BENCH_QUIET_SECS", 5));
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("livelog-bench-search");
    std::fs::create_dir_all(&dir).unwrap();
    let log = common::data::repeated_cargo_log(&dir, mb * MIB);

    let d = daemon(&dir);
    let mut up = Uploader::start(d.put);
    let mut file = std::fs::File::open(&log).unwrap();
    let mut buf = vec![0; 1 << 20];
    loop {
        let n = file.read(&mut buf).unwrap();
        if n == 0 {
            break;
        }
        up.chunk(&buf[..n]);
    }
    let stored = std::fs::metadata(&log).unwrap().len();
    println!(
        "log: {mb} MiB live ({}), pattern {pattern:?}, {searches} searches at once, {rounds} quiet and {rounds} loaded runs alternated",
        log.display()
    );

    // The live line writer and the live reader, for every run.
    let base = Instant::now();
    let sent: Arc<Vec<AtomicU64>> =
        Arc::new((0..MAX_LIVE_LINES).map(|_| AtomicU64::new(0)).collect());
    let latencies = Arc::new(Mutex::new(Vec::<u64>::new()));
    let reader = live_reader(d.get, base, Arc::clone(&sent), Arc::clone(&latencies));
    let stop = Arc::new(AtomicBool::new(false));
    let writer = {
        let (sent, stop) = (Arc::clone(&sent), Arc::clone(&stop));
        thread::spawn(move || {
            for (seq, slot) in sent.iter().enumerate() {
                if stop.load(Ordering::SeqCst) {
                    break;
                }
                let line = format!("{seq:08} a live line, written every 50 ms ..............\n");
                slot.store((Instant::now() - base).as_nanos() as u64, Ordering::Release);
                up.chunk(line.as_bytes());
                thread::sleep(Duration::from_millis(50));
            }
            up
        })
    };
    // The reader is at the end once it gets live lines.
    assert!(
        wait_until(SOON, || !latencies.lock().unwrap().is_empty()),
        "the live reader got no line"
    );
    // The index has caught up (a line view needs it).
    let small = small_request(d.get);
    assert!(
        small.1,
        "?lines=5 failed after the upload of {stored} bytes"
    );

    let mut quiet_p99 = Vec::new();
    let mut loaded = Vec::new();
    for _ in 0..rounds {
        let q = run(&d, &latencies, || {
            thread::sleep(quiet);
            (Duration::ZERO, 0, 0)
        });
        quiet_p99.push(q.live_p99_us);
        q.print("quiet ");
        let l = run(&d, &latencies, || searches_burst(d.get, &pattern, searches));
        l.print("loaded");
        loaded.push(l);
    }
    stop.store(true, Ordering::SeqCst);
    let up = writer.join().unwrap();
    assert_eq!(up.finish().0, 201);
    reader.join().unwrap();

    let quiet_p99 = median(quiet_p99);
    let worst_p99 = loaded.iter().map(|l| l.live_p99_us).max().unwrap_or(0);
    let worst_small = loaded.iter().map(|l| l.small_median_us).max().unwrap_or(0);
    let totals: Vec<u64> = loaded.iter().map(|l| l.total_ms).collect();
    println!(
        "summary: live p99 quiet {:.2} ms (median), loaded {:.2} ms (worst) = {:.2}x; small request median loaded {:.2} ms (worst); searches' total time {} ms (median of {:?})",
        quiet_p99 as f64 / 1000.0,
        worst_p99 as f64 / 1000.0,
        worst_p99 as f64 / quiet_p99.max(1) as f64,
        worst_small as f64 / 1000.0,
        median(totals.clone()),
        totals
    );
}

/// One run's figures.
struct Run {
    live_p50_us: u64,
    live_p99_us: u64,
    lines: usize,
    small_median_us: u64,
    small_max_us: u64,
    smalls: usize,
    /// Loaded runs: the searches' total time, answers complete, refusals.
    total_ms: u64,
    complete: usize,
    refusals: usize,
}

impl Run {
    fn print(&self, kind: &str) {
        let searches = if self.complete + self.refusals > 0 {
            format!(
                "; searches: {} complete in {} ms, {} refusals (retried)",
                self.complete, self.total_ms, self.refusals
            )
        } else {
            String::new()
        };
        println!(
            "{kind}: live line p50 {:.2} ms / p99 {:.2} ms ({} lines); ?lines=5 median {:.2} ms / max {:.2} ms ({}){searches}",
            self.live_p50_us as f64 / 1000.0,
            self.live_p99_us as f64 / 1000.0,
            self.lines,
            self.small_median_us as f64 / 1000.0,
            self.small_max_us as f64 / 1000.0,
            self.smalls
        );
    }
}

/// Runs `load` while measuring the live lines and small requests.
fn run(
    d: &Daemon,
    latencies: &Mutex<Vec<u64>>,
    load: impl FnOnce() -> (Duration, usize, usize),
) -> Run {
    // What the previous run left (its last answers, freed memory) settles.
    thread::sleep(Duration::from_secs(1));
    latencies.lock().unwrap().clear();
    let stop = Arc::new(AtomicBool::new(false));
    let smaller = {
        let (get, stop) = (d.get, Arc::clone(&stop));
        thread::spawn(move || {
            let mut times = Vec::new();
            while !stop.load(Ordering::SeqCst) {
                let (took, ok) = small_request(get);
                assert!(ok, "?lines=5 failed");
                times.push(took.as_micros() as u64);
                thread::sleep(Duration::from_millis(100));
            }
            times
        })
    };
    let (total, complete, refusals) = load();
    stop.store(true, Ordering::SeqCst);
    let smalls = smaller.join().unwrap();
    let live = std::mem::take(&mut *latencies.lock().unwrap());
    let mut hist = Histogram::<u64>::new_with_bounds(1, 60_000_000, 3).unwrap();
    for us in &live {
        hist.saturating_record((*us).max(1));
    }
    let mut small_hist = Histogram::<u64>::new_with_bounds(1, 60_000_000, 3).unwrap();
    for us in &smalls {
        small_hist.saturating_record((*us).max(1));
    }
    Run {
        live_p50_us: hist.value_at_quantile(0.5),
        live_p99_us: hist.value_at_quantile(0.99),
        lines: live.len(),
        small_median_us: small_hist.value_at_quantile(0.5),
        small_max_us: small_hist.max(),
        smalls: smalls.len(),
        total_ms: total.as_millis() as u64,
        complete,
        refusals,
    }
}

/// `searches` searches for `pattern` started at once, each with `curl`
/// from a loopback address of its own (as many users would; one address
/// has a share of the scan slots), each retried after its `Retry-After`
/// while refused: (time until the last answered, answers complete,
/// refusals).
fn searches_burst(get: SocketAddr, pattern: &str, searches: usize) -> (Duration, usize, usize) {
    let url = format!(
        "http://{get}/log/{TOKEN}/search?q={}&regex=true",
        url_encode(pattern)
    );
    let started = Instant::now();
    let threads: Vec<_> = (0..searches)
        .map(|i| {
            let url = url.clone();
            let from = format!("127.0.{}.{}", 1 + i / 250, 1 + i % 250);
            let client_nice: String = env_or("LIVELOG_BENCH_CLIENT_NICE", "0".to_owned());
            thread::spawn(move || {
                let mut refusals = 0;
                loop {
                    let out = Command::new("nice")
                        .args(["-n", &client_nice, "curl", "-sS", "-D", "-"])
                        .args(["--interface", &from, &url])
                        .stdin(Stdio::null())
                        .output()
                        .expect("nice and curl are installed");
                    let err = String::from_utf8_lossy(&out.stderr);
                    assert!(out.status.success(), "{err}");
                    let out = out.stdout;
                    let text = String::from_utf8_lossy(&out);
                    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
                    let head = head.to_ascii_lowercase();
                    let status = head.split_whitespace().nth(1).unwrap_or("");
                    if status == "429" || status == "503" {
                        let secs: u64 = head
                            .lines()
                            .find_map(|l| l.strip_prefix("retry-after: "))
                            .and_then(|v| v.trim().parse().ok())
                            .expect("a refusal without Retry-After");
                        refusals += 1;
                        thread::sleep(Duration::from_secs(secs));
                        continue;
                    }
                    assert_eq!(status, "200", "{head}");
                    // Whole: curl saw a clean end, the last line the total.
                    let whole = body
                        .lines()
                        .last()
                        .is_some_and(|l| l.starts_with("{\"total\":"));
                    return (whole, refusals);
                }
            })
        })
        .collect();
    let mut complete = 0;
    let mut refusals = 0;
    for t in threads {
        let (ok, refused) = t.join().unwrap();
        complete += usize::from(ok);
        refusals += refused;
    }
    (started.elapsed(), complete, refusals)
}

/// `GET ?lines=5` on a fresh connection: (time to the whole answer, 200).
fn small_request(get: SocketAddr) -> (Duration, bool) {
    let request =
        format!("GET /log/{TOKEN}?lines=5 HTTP/1.1\r\nHost: bench\r\nConnection: close\r\n\r\n");
    let started = Instant::now();
    let response = raw_exchange(get, request.as_bytes());
    (started.elapsed(), response.starts_with(b"HTTP/1.1 200 "))
}

/// The live reader (`?tail=1`): records each numbered line's write→read
/// latency, in microseconds, until the log ends.
fn live_reader(
    get: SocketAddr,
    base: Instant,
    sent: Arc<Vec<AtomicU64>>,
    latencies: Arc<Mutex<Vec<u64>>>,
) -> thread::JoinHandle<()> {
    thread::spawn(move || {
        let mut r = RawReader::connect_with(get, None, &format!("/log/{TOKEN}?tail=1"), "");
        assert_eq!(r.head().0, 200);
        let mut lines = BufReader::new(r.body());
        let mut line = Vec::new();
        loop {
            line.clear();
            match lines.read_until(b'\n', &mut line) {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
            let now = (Instant::now() - base).as_nanos() as u64;
            let seq = std::str::from_utf8(&line[..8.min(line.len())])
                .ok()
                .and_then(|s| s.parse::<usize>().ok());
            if let Some(at) = seq.and_then(|s| sent.get(s)) {
                let at = at.load(Ordering::Acquire);
                latencies
                    .lock()
                    .unwrap()
                    .push(now.saturating_sub(at) / 1000);
            }
        }
    })
}

fn median(mut v: Vec<u64>) -> u64 {
    v.sort_unstable();
    v.get(v.len() / 2).copied().unwrap_or(0)
}

fn url_encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// The daemon, with `LIVELOG_BENCH_DAEMON_ENV`'s settings.
fn daemon(dir: &Path) -> Daemon {
    let mut builder = Daemon::builder().env("LIVELOG_TEMP_DIR", dir.to_str().unwrap());
    let extra: String = env_or("LIVELOG_BENCH_DAEMON_ENV", String::new());
    for pair in extra.split(',').filter(|p| !p.is_empty()) {
        let (k, v) = pair.split_once('=').expect("NAME=VALUE");
        builder = builder.env(k, v);
    }
    if let Ok(bin) = std::env::var("LIVELOG_BENCH_BIN") {
        builder = builder.program(bin);
    }
    builder.start_process()
}
