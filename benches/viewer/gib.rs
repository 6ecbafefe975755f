//! The `gib` scenario of the viewer benchmark: a finished log of 1 GiB
//! (`LIVELOG_BENCH_VIEWER_GIB_BYTES`), 100-byte lines as in the other
//! scenarios, far larger than the page holds. Each run, alternated:
//!
//! - `viewer`: time from navigation to the first log lines painted (the
//!   log's last lines: the page follows the tail), then jumps to random
//!   lines by `#L` link (from setting the link to the next frame painted
//!   after the line's text is on screen), then scrolls to random places
//!   (from setting `scrollTop` to the next frame painted after every row on
//!   screen has its text), and the JS heap after a GC;
//! - `raw`: Chromium opening the raw log (`text/plain`): its first
//!   contentful paint (the browser is closed then: it would read 1 GiB);
//! - `window`: curl fetching the windows the viewer fetches for the same
//!   lines (`?lines=A-B`): what a jump costs on the server and the wire.
//!
//! The input file is written and `sync`ed, uploaded with `curl -T`, and the
//! timing starts once the server's outline says it is indexed, after
//! another `sync` (the disk is shared).

use std::io::Write;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use super::chrome::Browser;
use super::common::{Daemon, TOKEN, UploadFrom, curl, curl_upload};
use super::{LIMIT, env_or, log_line, median, secs};

/// Lines the viewer fetches per window (`BLOCK_LINES` in assets/viewer/js/page.js).
const WINDOW: u64 = 500;

pub struct Gib {
    first_lines: f64,
    jumps: Vec<f64>,
    scrolls: Vec<f64>,
    heap_mb: f64,
    raw_fcp: Option<f64>,
    windows: Vec<f64>,
}

/// `count` pseudo-random line numbers in 1..=lines (a fixed LCG).
fn targets(lines: u64, count: usize, seed: u64) -> Vec<u64> {
    let mut x = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
    (0..count)
        .map(|_| {
            x = x
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            (x >> 33) % lines + 1
        })
        .collect()
}

fn run_sync() {
    let _ = std::process::Command::new("sync").status();
}

/// Writes the log to a file, uploads it, waits for the index: the daemon,
/// the file's directory (kept until the end), lines.
pub fn prepare(bytes: u64) -> (Daemon, tempfile::TempDir, u64) {
    let lines = bytes / 100;
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("gib.log");
    {
        let mut out =
            std::io::BufWriter::with_capacity(1 << 20, std::fs::File::create(&path).unwrap());
        for n in 0..lines as usize {
            out.write_all(log_line(n).as_bytes()).unwrap();
        }
        out.flush().unwrap();
    }
    run_sync();
    let d = super::server();
    let started = Instant::now();
    let up = curl_upload(&d.put_url(), &path, UploadFrom::File);
    assert_eq!(up.status, 201, "upload: {} {}", up.body, up.stderr);
    let outline = format!("http://{}/log/{TOKEN}/outline", d.get);
    loop {
        let (code, body, _) = curl(&["-sS", &outline]);
        let doc: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
        if code == 0 && doc["state"] == json!("complete") {
            assert_eq!(doc["lines"], json!(lines), "{doc}");
            break;
        }
        assert!(started.elapsed() < LIMIT, "not indexed within {LIMIT:?}");
        std::thread::sleep(Duration::from_millis(200));
    }
    println!(
        "gib: {lines} lines, {} bytes uploaded and indexed in {:.1} s",
        lines * 100,
        started.elapsed().as_secs_f64()
    );
    run_sync();
    (d, dir, lines)
}

/// Jumps to a line by `#L` link: ms until after the frame that painted its
/// text on screen (each frame is looked at once it is painted: a task
/// queued from the frame's callbacks runs after its rendering).
const JUMP: &str = r#"
    const [x, done] = [arguments[0], arguments[arguments.length - 1]];
    const log = document.getElementById('log');
    const t0 = performance.now();
    location.hash = '#L' + x;
    const look = () => {
        const r = document.querySelector(`.row.sel[data-line="${x}"]`);
        const box = log.getBoundingClientRect();
        if (r && !r.classList.contains('pending') && r.querySelector('.tx').textContent
            && r.getBoundingClientRect().top >= box.top && r.getBoundingClientRect().bottom <= box.bottom) {
            done([performance.now() - t0, r.querySelector('.tx').textContent]);
        } else requestAnimationFrame(() => setTimeout(look, 0));
    };
    requestAnimationFrame(() => setTimeout(look, 0));
"#;

/// Scrolls to a fraction of the log: ms until after the frame that painted
/// every row on screen with its text.
const SCROLL: &str = r#"
    const [f, lines, done] = [arguments[0], arguments[1], arguments[arguments.length - 1]];
    const log = document.getElementById('log');
    const t0 = performance.now();
    log.scrollTop = f * (log.scrollHeight - log.clientHeight);
    const look = () => {
        const first = document.querySelector('.row');
        // The rows of the new place (not those of the old one), all with text.
        if (first && Math.abs(Number(first.dataset.line) - f * lines) < 100 && !document.querySelector('.row.pending')) {
            done(performance.now() - t0);
        } else requestAnimationFrame(() => setTimeout(look, 0));
    };
    requestAnimationFrame(() => setTimeout(look, 0));
"#;

/// A line of the log as a terminal shows it: without its colour codes, and
/// only what its last `\r` wrote (in this log, longer than what it covers).
fn on_screen(line: &str) -> String {
    let mut text = String::new();
    let mut chars = line.trim_end_matches('\n').chars();
    while let Some(c) = chars.next() {
        if c == '\x1b' {
            for c in chars.by_ref() {
                if c.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            text.push(c);
        }
    }
    text.rsplit('\r').next().unwrap_or_default().to_string()
}

async fn viewer(d: &Daemon, lines: u64, jumps: &[u64], run: &mut Gib) {
    let b = Browser::start_with(&["--enable-precise-memory-info", "--js-flags=--expose-gc"]).await;
    b.goto(&format!("http://{}/view/{TOKEN}", d.get)).await;
    run.first_lines = super::wait_mark(&b, "livelog:first-lines").await;
    let shown = b.js("return document.documentElement.dataset.lines;").await;
    assert_eq!(shown, json!(lines.to_string()), "every line counted");
    for &x in jumps {
        let got = b.js_async(JUMP, vec![json!(x)]).await;
        assert_eq!(
            got[1],
            json!(on_screen(&log_line(x as usize - 1))),
            "line {x}"
        );
        run.jumps.push(got[0].as_f64().unwrap());
    }
    for k in 0..jumps.len() {
        let f = ((k as u64 * 7919) % 1000) as f64 / 1000.0;
        let ms = b.js_async(SCROLL, vec![json!(f), json!(lines)]).await;
        run.scrolls.push(ms.as_f64().unwrap());
    }
    run.heap_mb = b
        .js("window.gc(); return performance.memory.usedJSHeapSize;")
        .await
        .as_f64()
        .unwrap_or(0.0)
        / 1e6;
    b.close().await;
}

/// Chromium's first contentful paint of the raw log, ms.
async fn raw_fcp(d: &Daemon) -> Option<f64> {
    let b = Browser::start().await;
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
    let mut fcp = None;
    while fcp.is_none() && started.elapsed() < Duration::from_secs(60) {
        if let Ok(v) = b
            .client
            .execute(
                "const p = performance.getEntriesByName('first-contentful-paint')[0]; return p ? p.startTime : null;",
                vec![],
            )
            .await
        {
            fcp = v.as_f64();
        }
        if fcp.is_none() {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
    b.close().await;
    fcp
}

/// curl fetching each target's window as the viewer does: ms.
fn windows(d: &Daemon, jumps: &[u64], lines: u64) -> Vec<f64> {
    jumps
        .iter()
        .map(|&x| {
            let first = (x - 1) / WINDOW * WINDOW + 1;
            let last = (first + WINDOW - 1).min(lines);
            let url = format!("http://{}/log/{TOKEN}?lines={first}-{last}", d.get);
            let (code, out, err) = curl(&["-sS", "-o", "/dev/null", "-w", "%{time_total}", &url]);
            assert_eq!(code, 0, "{err}");
            String::from_utf8_lossy(&out).trim().parse::<f64>().unwrap() * 1000.0
        })
        .collect()
}

/// The machine's load average (1, 5, 15 minutes): the disk and the cores
/// are shared.
pub fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|l| l.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_default()
}

fn p50_max(v: &[f64]) -> (f64, f64) {
    let mut v = v.to_vec();
    v.sort_by(f64::total_cmp);
    (v[v.len() / 2], *v.last().unwrap())
}

pub fn run(rt: &tokio::runtime::Runtime, runs: usize) {
    let bytes: u64 = env_or("LIVELOG_BENCH_VIEWER_GIB_BYTES", 1 << 30);
    let count: usize = env_or("LIVELOG_BENCH_VIEWER_JUMPS", 20);
    let (d, _dir, lines) = prepare(bytes);
    println!("load average before the runs: {}", loadavg());
    let mut all = Vec::new();
    for k in 1..=runs {
        let jumps = targets(lines, count, k as u64);
        let mut run = Gib {
            first_lines: 0.0,
            jumps: vec![],
            scrolls: vec![],
            heap_mb: 0.0,
            raw_fcp: None,
            windows: vec![],
        };
        rt.block_on(viewer(&d, lines, &jumps, &mut run));
        run.raw_fcp = rt.block_on(raw_fcp(&d));
        run.windows = windows(&d, &jumps, lines);
        let (j50, jmax) = p50_max(&run.jumps);
        let (s50, smax) = p50_max(&run.scrolls);
        let (w50, wmax) = p50_max(&run.windows);
        println!(
            "run {k} gib: viewer first lines {}, jump p50 {j50:.0} ms max {jmax:.0} ms, scroll p50 {s50:.0} ms max {smax:.0} ms, heap {:.0} MB; raw text/plain first paint {}; curl window p50 {w50:.1} ms max {wmax:.1} ms",
            secs(run.first_lines),
            run.heap_mb,
            run.raw_fcp.map_or("none within 60 s".into(), secs),
        );
        all.push(run);
    }
    let m = |f: &dyn Fn(&Gib) -> f64| median(all.iter().map(f).collect());
    let first = m(&|r| r.first_lines);
    let raw = median(
        all.iter()
            .map(|r| r.raw_fcp.unwrap_or(f64::INFINITY))
            .collect(),
    );
    let (j50, jmax) = (m(&|r| p50_max(&r.jumps).0), m(&|r| p50_max(&r.jumps).1));
    let (s50, smax) = (m(&|r| p50_max(&r.scrolls).0), m(&|r| p50_max(&r.scrolls).1));
    let (w50, wmax) = (m(&|r| p50_max(&r.windows).0), m(&|r| p50_max(&r.windows).1));
    println!();
    println!(
        "| measurement ({lines} lines, {} bytes, complete; medians of {runs} alternated runs) | viewer | baseline | ratio |",
        lines * 100
    );
    println!("| --- | --- | --- | --- |");
    println!(
        "| first log lines painted | {} | raw text/plain in Chromium, first paint: {} | {:.2}× |",
        secs(first),
        if raw.is_finite() {
            secs(raw)
        } else {
            "none within 60 s".into()
        },
        first / raw
    );
    println!(
        "| jump to a random line (#L link) to its text painted, p50 / max of {count} | {j50:.0} / {jmax:.0} ms | curl fetching its window (?lines=A-B, {WINDOW} lines): {w50:.1} / {wmax:.1} ms | {:.1}× |",
        j50 / w50
    );
    println!(
        "| scroll to a random place to every row's text painted, p50 / max of {count} | {s50:.0} / {smax:.0} ms | - | - |"
    );
    println!(
        "| JS heap after the jumps and scrolls, after a GC | {:.0} MB | - | - |",
        m(&|r| r.heap_mb)
    );
    let worst = all
        .iter()
        .flat_map(|r| r.jumps.iter().copied())
        .fold(0.0, f64::max);
    let over = all
        .iter()
        .flat_map(|r| r.jumps.iter())
        .filter(|&&ms| ms > 100.0)
        .count();
    println!(
        "targets: first paint <= 1 s: {} (median {}, worst run {}); jump <= 100 ms: {} (p50 {j50:.0} ms, max {jmax:.0} ms in the median run; worst of all {} jumps {worst:.0} ms, {over} over 100 ms)",
        if first <= 1000.0 { "met" } else { "MISSED" },
        secs(first),
        secs(all.iter().map(|r| r.first_lines).fold(0.0, f64::max)),
        if over == 0 { "met" } else { "MISSED" },
        runs * count,
    );
    println!("load average at the end: {}", loadavg());
}
