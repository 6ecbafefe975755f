//! Viewer benchmark: the viewer page in headless Chromium with a
//! 100 MB log of 1,000,000 lines, served by the release binary, next to
//! baselines measured in the same run, alternated, medians of several runs.
//!
//! ```sh
//! cargo bench --bench viewer
//! LIVELOG_BENCH_VIEWER_RUNS=1 LIVELOG_BENCH_VIEWER_LINES=100000 cargo bench --bench viewer
//! ```
//!
//! Scenarios, each run:
//! - `viewer`: the finished log opened in the viewer: time from navigation
//!   to the first log lines painted and to the whole log loaded (the end
//!   known and lines painted), JS heap after a GC, the first frame painted
//!   with every row's text after jumping to a random place, a search of
//!   every line (in the page, or on the server for a log larger than the
//!   page holds);
//! - `sse`: curl reading the same SSE stream to /dev/null (what the server
//!   and network cost, without a browser);
//! - `raw`: Chromium opening the raw log (`text/plain`), the way a browser
//!   shows it without the viewer: first contentful paint and load event;
//! - `live`: the viewer (and, as the baseline, a curl raw reader) attached
//!   before the upload, the log uploaded at full speed: time from the
//!   upload's start to the viewer showing all of it / curl having all of it;
//! - `gib`: a finished log of 1 GiB, far larger than the page holds: first
//!   paint next to Chromium's of the raw log, jumps to random lines next to
//!   curl fetching the same windows (`viewer/gib.rs`).
//!
//! Knobs (environment): `LIVELOG_BENCH_VIEWER_LINES` (1000000; each line is
//! 100 bytes), `LIVELOG_BENCH_VIEWER_RUNS` (3), `LIVELOG_BENCH_VIEWER_SCENARIOS`
//! (`viewer,sse,raw,live,gib`), `LIVELOG_BENCH_VIEWER_GIB_BYTES` (1073741824:
//! the `gib` log's size), `LIVELOG_BENCH_VIEWER_JUMPS` (20 per `gib` run).
//!
//! ```sh
//! LIVELOG_BENCH_VIEWER_SCENARIOS=gib cargo bench --bench viewer | tee docs/bench/viewer-1gib.txt
//! ```
//!
//! Needs Chromium, chromedriver and curl (see tests/browser/chrome.rs).

// Tests and benchmarks panic on what they did not expect, and time the real
// process from outside with std's clock: the lint policy is livelog's own.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::disallowed_types)]

#[path = "../tests/browser/chrome.rs"]
mod chrome;
#[path = "../tests/common/mod.rs"]
mod common;
#[path = "viewer/gib.rs"]
mod gib;
#[path = "../tests/browser/target.rs"]
mod target;

use std::process::Command;
use std::time::{Duration, Instant};

use chrome::Browser;
use common::{Daemon, TOKEN, Uploader};
use serde_json::{Value, json};

const LIMIT: Duration = Duration::from_secs(600);
/// How long the raw baseline may take to load before it counts as "not loaded".
const RAW_LIMIT: Duration = Duration::from_secs(180);

fn env_or<T: std::str::FromStr>(key: &str, default: T) -> T {
    std::env::var(key)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// A CI-like log: `lines` lines of exactly 100 bytes; every 4th has colours,
/// every 10,000th is a `\r` progress bar, every 1,000th holds "needle".
fn make_log(lines: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(lines * 100);
    for n in 0..lines {
        out.extend_from_slice(log_line(n).as_bytes());
    }
    out
}

/// Line `n` (from 0) of that log, with its newline.
fn log_line(n: usize) -> String {
    {
        let ms = n as u64 * 37;
        let mut line = format!(
            "{:02}:{:02}:{:02}.{:03} ",
            ms / 3_600_000 % 24,
            ms / 60_000 % 60,
            ms / 1000 % 60,
            ms % 1000
        );
        if n % 10_000 == 9_999 {
            line.push_str("progress  10%\rprogress  60%\rprogress 100%");
        } else if n % 4 == 0 {
            line.push_str(&format!(
                "\x1b[1m\x1b[32m   Compiling\x1b[0m crate-{} v0.{}.{}",
                n % 977,
                n % 13,
                n % 7
            ));
        } else {
            line.push_str(&format!("test module_{}::case_{} ... ok", n % 331, n));
        }
        if n % 1000 == 500 {
            line.push_str(" needle");
        }
        while line.len() < 99 {
            line.push(if line.len() % 2 == 0 { ' ' } else { '.' });
        }
        assert_eq!(line.len(), 99, "line {n} too long");
        line.push('\n');
        line
    }
}

fn upload(d: &Daemon, log: &[u8]) {
    let mut up = Uploader::start(d.put);
    for piece in log.chunks(1 << 20) {
        up.chunk(piece);
    }
    assert_eq!(up.finish().0, 201);
}

fn server() -> Daemon {
    target::server()
}

fn secs(ms: f64) -> String {
    format!("{:.2} s", ms / 1000.0)
}

fn opt_secs(ms: Option<f64>) -> String {
    ms.map_or(format!("not within {} s", RAW_LIMIT.as_secs()), secs)
}

/// The median, counting `None` (did not finish) as the largest.
fn median_opt(v: Vec<Option<f64>>) -> Option<f64> {
    let mut v: Vec<f64> = v.into_iter().map(|x| x.unwrap_or(f64::INFINITY)).collect();
    v.sort_by(f64::total_cmp);
    Some(v[v.len() / 2]).filter(|x| x.is_finite())
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

async fn wait_mark(b: &Browser, name: &str) -> f64 {
    let started = Instant::now();
    loop {
        let v = b
            .js(&format!(
                "const m = performance.getEntriesByName('{name}'); return m.length ? m[0].startTime : null;"
            ))
            .await;
        if let Some(ms) = v.as_f64() {
            return ms;
        }
        assert!(started.elapsed() < LIMIT, "no {name} mark within {LIMIT:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[derive(Default)]
struct Viewer {
    first_lines: f64,
    loaded: f64,
    heap_mb: f64,
    jump_p50: f64,
    jump_max: f64,
    search: f64,
}

async fn viewer_run(d: &Daemon, lines: usize) -> Viewer {
    let b = Browser::start_with(&["--enable-precise-memory-info", "--js-flags=--expose-gc"]).await;
    b.goto(&format!("http://{}/view/{TOKEN}", d.get)).await;
    let first_lines = wait_mark(&b, "livelog:first-lines").await;
    let loaded = wait_mark(&b, "livelog:loaded").await;
    let shown = b.js("return document.documentElement.dataset.lines;").await;
    assert_eq!(shown, json!(lines.to_string()), "every line shown");
    let heap = b
        .js("window.gc(); return performance.memory.usedJSHeapSize;")
        .await
        .as_f64()
        .unwrap_or(0.0);
    let jumps = b
        .client
        .execute_async(
            r#"
            const done = arguments[0];
            const log = document.getElementById('log');
            const times = [];
            let k = 0;
            const step = () => {
                if (k++ === 40) return done(times);
                const t0 = performance.now();
                log.scrollTop = ((k * 7919) % 1000) / 1000 * (log.scrollHeight - log.clientHeight);
                // The first painted frame whose rows all have their text (a
                // log larger than the page holds fetches them).
                const look = () => document.querySelector('.row.pending')
                    ? requestAnimationFrame(() => setTimeout(look, 0))
                    : (times.push(performance.now() - t0), step());
                requestAnimationFrame(() => setTimeout(look, 0));
            };
            step();
            "#,
            vec![],
        )
        .await
        .expect("jumps");
    let mut jumps: Vec<f64> = jumps
        .as_array()
        .expect("times")
        .iter()
        .filter_map(Value::as_f64)
        .collect();
    jumps.sort_by(f64::total_cmp);
    let search = b
        .client
        .execute_async(
            r#"
            const done = arguments[0];
            document.getElementById('search-open').click();
            const q = document.getElementById('query');
            const out = document.getElementById('matches');
            q.value = 'needle';
            const t0 = performance.now();
            q.dispatchEvent(new Event('input'));
            const poll = () => /^\S+ of [\d,]+$/.test(out.textContent)
                ? done([performance.now() - t0, out.textContent])
                : requestAnimationFrame(poll);
            poll();
            "#,
            vec![],
        )
        .await
        .expect("search");
    // Line links work in the scaled scroll range too (beyond ~833,000 lines).
    let deep = lines * 4 / 5 + 1;
    b.js(&format!("location.hash = '#L{deep}';")).await;
    b.wait_for(
        "a deep line link to scroll there",
        &format!(
            "(() => {{ const r = document.querySelector('.row.sel[data-line=\"{deep}\"]'); \
             const box = document.getElementById('log').getBoundingClientRect(); \
             return r && r.getBoundingClientRect().top >= box.top && r.getBoundingClientRect().bottom <= box.bottom; }})()"
        ),
        "[...document.querySelectorAll('.row')].slice(0, 3).map((r) => r.dataset.line)",
        LIMIT,
    )
    .await;
    let want = format!("1 of {}", lines / 1000);
    let found = search[1].as_str().unwrap_or("");
    assert!(
        found.ends_with(&format!("of {}", target::thousands(lines / 1000))) || found == want,
        "search found {found}"
    );
    b.close().await;
    Viewer {
        first_lines,
        loaded,
        heap_mb: heap / 1e6,
        jump_p50: jumps[jumps.len() / 2],
        jump_max: *jumps.last().unwrap(),
        search: search[0].as_f64().unwrap_or(f64::NAN),
    }
}

/// ours / baseline, for a baseline that may not have finished.
fn ratio(ours: f64, baseline: Option<Option<f64>>) -> String {
    match baseline {
        None => "-".into(),
        Some(None) => format!("< {:.3}×", ours / (RAW_LIMIT.as_secs_f64() * 1000.0)),
        Some(Some(b)) => format!("{:.2}×", ours / b),
    }
}

/// curl reads the whole SSE stream: milliseconds.
fn sse_run(d: &Daemon) -> f64 {
    let started = Instant::now();
    let out = Command::new("curl")
        .args([
            "-sS",
            "-N",
            "-o",
            "/dev/null",
            "-w",
            "%{size_download}",
            "-H",
            "Accept: text/event-stream",
            &format!("http://{}/log/{TOKEN}", d.get),
        ])
        .output()
        .expect("curl");
    assert!(out.status.success(), "curl SSE failed");
    started.elapsed().as_secs_f64() * 1000.0
}

/// Chromium shows the raw log: (first contentful paint, load event), ms,
/// `None` if not within `RAW_LIMIT`.
async fn raw_run(d: &Daemon) -> (Option<f64>, Option<f64>) {
    let b = Browser::start().await;
    // Do not wait in the navigation itself: poll the page for its timings.
    b.client
        .update_timeouts(fantoccini::wd::TimeoutConfiguration::new(
            None,
            Some(Duration::from_secs(2)),
            None,
        ))
        .await
        .expect("timeouts");
    let _ = b
        .client
        .goto(&format!("http://{}/log/{TOKEN}", d.get))
        .await;
    let started = Instant::now();
    let mut timings = (None, None);
    while started.elapsed() < RAW_LIMIT {
        if let Ok(t) = b
            .client
            .execute(
                "const p = performance.getEntriesByName('first-contentful-paint')[0]; \
                 const n = performance.getEntriesByType('navigation')[0]; \
                 return [p ? p.startTime : null, n && n.loadEventEnd > 0 ? n.loadEventEnd : null];",
                vec![],
            )
            .await
        {
            timings = (t[0].as_f64(), t[1].as_f64());
            if timings.1.is_some() {
                break;
            }
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    b.close().await;
    timings
}

/// Viewer and a raw curl reader attached, then the upload: ms from the
/// upload's start to (viewer loaded, curl done).
async fn live_run(log: &[u8], lines: usize) -> (f64, f64) {
    let d = server();
    let url = format!("http://{}/log/{TOKEN}", d.get);
    // The baseline reader connects first; it reads from the first byte
    // wherever it joins, so nothing depends on when it is attached.
    let curl = std::thread::spawn(move || {
        let out = Command::new("curl")
            .args(["-sS", "-N", "-o", "/dev/null", &url])
            .output()
            .expect("curl");
        assert!(out.status.success());
        Instant::now()
    });
    let b = Browser::start().await;
    b.goto(&format!("http://{}/view/{TOKEN}", d.get)).await;
    b.wait_for(
        "the viewer to wait for the upload",
        "document.documentElement.dataset.state === 'waiting'",
        "document.documentElement.dataset.state",
        LIMIT,
    )
    .await;
    // The page's clock just before the upload starts (a few ms early: the
    // viewer's time is, if anything, overstated).
    let page_start = b.js("return performance.now();").await.as_f64().unwrap();
    let started = Instant::now();
    upload(&d, log);
    let curl_done = curl.join().unwrap().duration_since(started).as_secs_f64() * 1000.0;
    let loaded = wait_mark(&b, "livelog:loaded").await;
    let shown = b.js("return document.documentElement.dataset.lines;").await;
    assert_eq!(shown, json!(lines.to_string()));
    b.close().await;
    (loaded - page_start, curl_done)
}

fn main() {
    let lines: usize = env_or("LIVELOG_BENCH_VIEWER_LINES", 1_000_000);
    let runs: usize = env_or("LIVELOG_BENCH_VIEWER_RUNS", 3);
    let scenarios: String = env_or(
        "LIVELOG_BENCH_VIEWER_SCENARIOS",
        "viewer,sse,raw,live,gib".to_string(),
    );
    let want = |s: &str| scenarios.split(',').any(|x| x.trim() == s);
    let hundred = ["viewer", "sse", "raw", "live"].iter().any(|s| want(s));
    let log = if hundred { make_log(lines) } else { Vec::new() };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    println!(
        "livelog viewer bench: {runs} runs, {} cores",
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );
    if hundred {
        println!("{} lines, {} bytes", lines, log.len());
        scenarios_100(&rt, &log, lines, runs, &want);
    }
    if want("gib") {
        gib::run(&rt, runs);
    }
}

/// The scenarios on the log of `lines` lines (`viewer`, `sse`, `raw`,
/// `live`), alternated, then their table.
fn scenarios_100(
    rt: &tokio::runtime::Runtime,
    log: &[u8],
    lines: usize,
    runs: usize,
    want: &dyn Fn(&str) -> bool,
) {
    let d = server();
    upload(&d, log);
    let (mut viewers, mut sse, mut raw, mut live) = (vec![], vec![], vec![], vec![]);
    for run in 1..=runs {
        if want("viewer") {
            let v = rt.block_on(viewer_run(&d, lines));
            println!(
                "run {run} viewer: first lines {}, loaded {}, heap {:.0} MB, jump p50 {:.0} ms max {:.0} ms, search {:.0} ms",
                secs(v.first_lines),
                secs(v.loaded),
                v.heap_mb,
                v.jump_p50,
                v.jump_max,
                v.search
            );
            viewers.push(v);
        }
        if want("sse") {
            let ms = sse_run(&d);
            println!("run {run} sse (curl): {}", secs(ms));
            sse.push(ms);
        }
        if want("raw") {
            let (fcp, load) = rt.block_on(raw_run(&d));
            println!(
                "run {run} raw text/plain in Chromium: first paint {}, load {}",
                opt_secs(fcp),
                opt_secs(load)
            );
            raw.push((fcp, load));
        }
        if want("live") {
            let (viewer, curl) = rt.block_on(live_run(log, lines));
            println!(
                "run {run} live: viewer all shown {}, curl raw reader done {}",
                secs(viewer),
                secs(curl)
            );
            live.push((viewer, curl));
        }
    }

    println!();
    println!(
        "| measurement ({} lines, {} bytes) | viewer | baseline | ratio |",
        lines,
        log.len()
    );
    println!("| --- | --- | --- | --- |");
    let m = |f: &dyn Fn(&Viewer) -> f64| median(viewers.iter().map(f).collect());
    if !viewers.is_empty() {
        let raw_fcp = (!raw.is_empty()).then(|| median_opt(raw.iter().map(|r| r.0).collect()));
        let raw_load = (!raw.is_empty()).then(|| median_opt(raw.iter().map(|r| r.1).collect()));
        let sse_ms = (!sse.is_empty()).then(|| median(sse.clone()));
        let first = m(&|v| v.first_lines);
        let loaded = m(&|v| v.loaded);
        println!(
            "| first log lines painted | {} | raw text/plain first paint: {} | {} |",
            secs(first),
            raw_fcp.map_or("-".into(), opt_secs),
            ratio(first, raw_fcp)
        );
        println!(
            "| fully loaded (the end known, lines painted; read whole if the page holds it) | {} | curl reading the SSE stream: {} | {} |",
            secs(loaded),
            sse_ms.map_or("-".into(), secs),
            sse_ms.map_or("-".into(), |s| format!("{:.2}×", loaded / s))
        );
        println!(
            "| fully loaded (as above) | {} | raw text/plain load event: {} | {} |",
            secs(loaded),
            raw_load.map_or("-".into(), opt_secs),
            ratio(loaded, raw_load)
        );
        println!(
            "| JS heap after load (after a GC) | {:.0} MB | - | - |",
            m(&|v| v.heap_mb)
        );
        println!(
            "| a jump to a random place to every row's text painted, p50 / max of 40 | {:.0} / {:.0} ms | - | - |",
            m(&|v| v.jump_p50),
            m(&|v| v.jump_max)
        );
        println!(
            "| search \"needle\" in every line (incl. 120 ms typing pause) | {:.0} ms | - | - |",
            m(&|v| v.search)
        );
    }
    if !live.is_empty() {
        let v = median(live.iter().map(|l| l.0).collect());
        let c = median(live.iter().map(|l| l.1).collect());
        println!(
            "| live: upload start to all shown | {} | curl raw reader done: {} | {:.2}× |",
            secs(v),
            secs(c),
            v / c
        );
    }
}
