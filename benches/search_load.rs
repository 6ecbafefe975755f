//! Searches against live readers: does a burst of whole-log
//! searches delay the live log and small requests? The release binary over
//! real sockets, quiet, baseline and loaded runs alternated.
//!
//! ```sh
//! cargo bench --bench search_load
//! LIVELOG_BENCH_SEARCH_MB=64 LIVELOG_BENCH_SEARCH_ROUNDS=2 cargo bench --bench search_load
//! ```
//!
//! The scenario: a live log of `LIVELOG_BENCH_SEARCH_MB` MiB (this
//! project's `cargo build -vv` output repeated, as `benches/index.rs`), a
//! line written every 50 ms, one live reader at its end (`?tail=1`), and a
//! small request (`?lines=5`, a fresh connection each) every 100 ms. Each
//! round has four runs, alternated:
//! * quiet: that alone, for `LIVELOG_BENCH_QUIET_SECS`;
//! * spinning: the same while every core runs a busy loop at `SCHED_IDLE`
//!   (`chrt -i 0`), the lowest priority Linux has: what a busy machine
//!   costs the live line whatever the priorities (a raw baseline);
//! * elsewhere: while `LIVELOG_BENCH_SEARCHES` searches run against a
//!   second livelog holding the same (complete) log on the same machine:
//!   the searches' cost to the machine, without livelog's threads and locks
//!   shared with the live line (a second baseline);
//! * loaded: while the same searches run against this livelog.
//!
//! The searches look for `LIVELOG_BENCH_SEARCH_PATTERN` (a regular
//! expression), start at once, `curl` each from a loopback address of its
//! own, until every one has answered completely. A search refused (`429`,
//! `503`) retries after its `Retry-After`, as the viewer does, so the
//! searches' total time includes the waits. Each answer goes through
//! `tail`, which keeps its last line (the total): a search can answer with
//! as many bytes as the log holds (about 117 MB each here), which the bench
//! would otherwise hold and scan at livelog's priority. The `curl`s stand
//! for browsers on other machines, so they run at nice 19 by default.
//!
//! Printed per run: the live line's write→reader latency p50 / p99, the
//! small request's median / max, and for runs with searches their total
//! time, how many answered completely and how many refusals they met; then
//! the baselines and a summary.
//!
//! Knobs: `LIVELOG_BENCH_SEARCH_MB` (256), `LIVELOG_BENCH_SEARCH_PATTERN`
//! (`(erro|fail).*crate`), `LIVELOG_BENCH_SEARCHES` (20),
//! `LIVELOG_BENCH_SEARCH_ROUNDS` (3 rounds of four runs),
//! `LIVELOG_BENCH_QUIET_SECS` (5, also the spinning run's time),
//! `LIVELOG_BENCH_DAEMON_ENV` (extra `NAME=VALUE,…` for both daemons, e.g.
//! `LIVELOG_MAX_SEARCHES=20,LIVELOG_MAX_SEARCHES_PER_ADDRESS=20`),
//! `LIVELOG_BENCH_CLIENT_NICE` (19: the nice value the searches' clients
//! run at; `idle` runs them at `SCHED_IDLE`),
//! `LIVELOG_BENCH_SEARCH_ACCEPT_ENCODING` (unset: the clients ask for no
//! coding, as `curl` does; `zstd` or `gzip` asks for it and decodes it, as
//! a browser does), `LIVELOG_BENCH_BIN` (the
//! binary; default the release build cargo made). Needs `curl`, `bash`,
//! `tail`, `nice` and `chrt`.

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
    let quiet_for = Duration::from_secs(env_or("LIVELOG_BENCH_QUIET_SECS", 5));
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("livelog-bench-search");
    std::fs::create_dir_all(&dir).unwrap();
    let log = common::data::repeated_cargo_log(&dir, mb * MIB);

    let d = daemon(&dir);
    let mut up = Uploader::start(d.put);
    upload_file(&mut up, &log);
    // The baseline: the same searches against a second livelog holding the
    // same (complete) log, on the same machine. What the live line loses
    // then is what the machine's CPU, memory and scheduler cost it, not
    // livelog's sharing of threads and locks.
    let elsewhere = daemon(&dir);
    let mut other = Uploader::start(elsewhere.put);
    upload_file(&mut other, &log);
    assert_eq!(other.finish().0, 201);
    let stored = std::fs::metadata(&log).unwrap().len();
    println!(
        "log: {mb} MiB live ({}), pattern {pattern:?}, {searches} searches at once, {rounds} rounds of quiet, spinning, elsewhere and loaded runs",
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

    // Four runs a round, alternated: quiet; every core busy with a spinning
    // loop at the lowest priority the kernel has; the searches against the
    // second livelog; the searches against this one.
    let mut quiet = Vec::new();
    let mut spinning = Vec::new();
    let mut elsewhere_runs = Vec::new();
    let mut loaded = Vec::new();
    for _ in 0..rounds {
        let q = run(&d, &latencies, || {
            thread::sleep(quiet_for);
            (Duration::ZERO, 0, 0)
        });
        q.print("quiet    ");
        quiet.push(q);
        let s = run(&d, &latencies, || {
            spin_idle(quiet_for);
            (Duration::ZERO, 0, 0)
        });
        s.print("spinning ");
        spinning.push(s);
        let e = run(&d, &latencies, || {
            searches_burst(elsewhere.get, &pattern, searches)
        });
        e.print("elsewhere");
        elsewhere_runs.push(e);
        let l = run(&d, &latencies, || searches_burst(d.get, &pattern, searches));
        l.print("loaded   ");
        loaded.push(l);
    }
    stop.store(true, Ordering::SeqCst);
    let up = writer.join().unwrap();
    assert_eq!(up.finish().0, 201);
    reader.join().unwrap();

    let p99 = |runs: &[Run]| median(runs.iter().map(|r| r.live_p99_us).collect());
    let worst = |runs: &[Run]| runs.iter().map(|r| r.live_p99_us).max().unwrap_or(0);
    let ms = |us: u64| us as f64 / 1000.0;
    let (quiet_p99, worst_p99) = (p99(&quiet), worst(&loaded));
    let worst_small = loaded.iter().map(|l| l.small_median_us).max().unwrap_or(0);
    let totals: Vec<u64> = loaded.iter().map(|l| l.total_ms).collect();
    println!(
        "baselines: live p99 (median of runs) quiet {:.2} ms, every core spinning at SCHED_IDLE {:.2} ms, the searches in another livelog {:.2} ms",
        ms(quiet_p99),
        ms(p99(&spinning)),
        ms(p99(&elsewhere_runs)),
    );
    println!(
        "summary: live p99 loaded {:.2} ms (median of runs; worst {:.2} ms) = {:.2}x quiet, {:.2}x the searches in another livelog; small request median loaded {:.2} ms (worst); searches' total time {} ms (median of {:?})",
        ms(p99(&loaded)),
        ms(worst_p99),
        worst_p99 as f64 / quiet_p99.max(1) as f64,
        p99(&loaded) as f64 / p99(&elsewhere_runs).max(1) as f64,
        ms(worst_small),
        median(totals.clone()),
        totals
    );
}

/// Keeps every core busy for `time` with a shell loop at `SCHED_IDLE`
/// (`chrt -i 0`), the lowest priority Linux has: what the live line loses
/// then is what a busy machine costs it, whatever the priorities.
fn spin_idle(time: Duration) {
    let cores = thread::available_parallelism().map_or(1, usize::from);
    let mut spinners: Vec<_> = (0..cores)
        .map(|_| {
            Command::new("chrt")
                .args(["-i", "0", "sh", "-c", "while :; do :; done"])
                .spawn()
                .expect("chrt (util-linux) is installed")
        })
        .collect();
    thread::sleep(time);
    for spinner in &mut spinners {
        let _ = spinner.kill();
        let _ = spinner.wait();
    }
}

/// Uploads the file at `path` through `up`, a MiB at a time.
fn upload_file(up: &mut Uploader, path: &Path) {
    let mut file = std::fs::File::open(path).unwrap();
    let mut buf = vec![0; 1 << 20];
    loop {
        let n = file.read(&mut buf).unwrap();
        if n == 0 {
            break;
        }
        up.chunk(&buf[..n]);
    }
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
            let client_nice: String = env_or("LIVELOG_BENCH_CLIENT_NICE", "19".to_owned());
            let accept_encoding: String =
                env_or("LIVELOG_BENCH_SEARCH_ACCEPT_ENCODING", String::new());
            thread::spawn(move || {
                let mut refusals = 0;
                loop {
                    // The body goes through `tail`, which keeps its last
                    // line: a search can answer with as many bytes as the
                    // log holds, and the bench (at livelog's priority) would
                    // otherwise hold and scan them all. `pipefail` keeps
                    // curl's status: an answer cut short (no last chunk)
                    // fails it.
                    // `idle`: SCHED_IDLE (`chrt -i 0`), below any nice value.
                    let priority: &[&str] = if client_nice == "idle" {
                        &["chrt", "-i", "0"]
                    } else {
                        &["nice", "-n", &client_nice]
                    };
                    let out = Command::new(priority[0])
                        .args(&priority[1..])
                        .args(["bash", "-c"])
                        .arg(
                            "set -o pipefail; curl -sS --interface \"$1\" \
                             ${3:+--compressed -H \"Accept-Encoding: $3\"} \
                             -w '%{stderr}%{http_code} %header{retry-after}\\n' \"$2\" | tail -n 1",
                        )
                        .args(["search", &from, &url, &accept_encoding])
                        .stdin(Stdio::null())
                        .output()
                        .expect("nice, bash, curl and tail are installed");
                    let err = String::from_utf8_lossy(&out.stderr);
                    assert!(out.status.success(), "{err}");
                    // The last line of stderr: status and Retry-After.
                    let info = err.lines().last().unwrap_or("");
                    let (status, retry_after) = info.split_once(' ').unwrap_or((info, ""));
                    if status == "429" || status == "503" {
                        let secs: u64 = retry_after
                            .trim()
                            .parse()
                            .expect("a refusal without Retry-After");
                        refusals += 1;
                        thread::sleep(Duration::from_secs(secs));
                        continue;
                    }
                    assert_eq!(status, "200", "{err}");
                    // Whole: curl saw a clean end, the last line the total.
                    let whole = out.stdout.starts_with(b"{\"total\":");
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
