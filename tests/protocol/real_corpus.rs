//! The outline on logs CI systems really wrote: every log of the
//! real-log corpus (`tests/data/real/<system>/`, or wherever
//! `LIVELOG_REAL_LOGS` points; the logs are not in the repository, see
//! `tests/data/real/README.md`) is uploaded to a daemon in this process and
//! its outline compared with the log's hand-written `<slug>.expected.json`.
//!
//! Per log: sections exact (name, first and last line, depth, parent, in
//! order), durations within [`DURATION_SLACK`] where the expectation has
//! one, the first error (failing logs), and the error lines found against
//! the expected ones. A table per log and the totals are printed and
//! written to `target/real-logs-report.md`; only then are the gates
//! asserted ([`GATE_FIRST_ERROR`], [`GATE_PRECISION`], [`GATE_RECALL`],
//! sections exact on every log), so a failing run still shows every figure.
//!
//! `cargo test --test protocol -- --ignored real_corpus --nocapture`

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::Value;

use crate::common::{Daemon, Uploader, curl, wait_until};

/// A duration is right within this many seconds of the expectation.
const DURATION_SLACK: f64 = 1.0;
/// Share of failing logs whose first error must be right.
const GATE_FIRST_ERROR: f64 = 0.9;
/// Error-line precision and recall over the corpus (all error lines of all
/// logs counted together).
const GATE_PRECISION: f64 = 0.8;
const GATE_RECALL: f64 = 0.9;

/// Where the corpus is.
fn corpus_dir() -> PathBuf {
    match std::env::var_os("LIVELOG_REAL_LOGS") {
        Some(dir) => PathBuf::from(dir),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/real"),
    }
}

/// The log's bytes (decompressed when it is a `.gz`).
fn read_log(path: &Path) -> Vec<u8> {
    let raw = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    if path.extension().is_some_and(|e| e == "gz") {
        let mut log = Vec::new();
        flate2::read::GzDecoder::new(&raw[..])
            .read_to_end(&mut log)
            .unwrap_or_else(|e| panic!("{}: does not decompress: {e}", path.display()));
        log
    } else {
        raw
    }
}

/// Lines as the corpus counts them: ended by `\n`, a last line without one
/// counting too.
fn count_lines(log: &[u8]) -> u64 {
    let newlines = memchr_count(log);
    newlines + u64::from(!log.is_empty() && !log.ends_with(b"\n"))
}

fn memchr_count(log: &[u8]) -> u64 {
    log.iter().filter(|&&b| b == b'\n').count() as u64
}

/// Every `(system, log path, expectation path)` of the corpus, sorted.
fn corpus() -> Vec<(String, PathBuf, PathBuf)> {
    let dir = corpus_dir();
    let mut logs = Vec::new();
    let Ok(systems) = std::fs::read_dir(&dir) else {
        return logs;
    };
    for system in systems.flatten() {
        if !system.path().is_dir() {
            continue;
        }
        let name = system.file_name().to_string_lossy().into_owned();
        for entry in std::fs::read_dir(system.path()).unwrap().flatten() {
            let path = entry.path();
            let file = path.file_name().unwrap().to_string_lossy().into_owned();
            let Some(slug) = file.strip_suffix(".expected.json") else {
                continue;
            };
            let log = ["log", "log.gz"]
                .iter()
                .map(|ext| system.path().join(format!("{slug}.{ext}")))
                .find(|p| p.exists())
                .unwrap_or_else(|| panic!("{}: no log for {file}", dir.display()));
            logs.push((name.clone(), log, path));
        }
    }
    logs.sort();
    logs
}

/// The outline of `log` once the daemon has indexed all of it.
fn outline_of(log: &[u8]) -> Value {
    let d = Daemon::start();
    let mut up = Uploader::start(d.put);
    for piece in log.chunks(64 * 1024) {
        up.chunk(piece);
    }
    assert_eq!(up.finish().0, 201);
    let url = format!("{}/outline", d.get_url());
    let mut doc = Value::Null;
    let complete = wait_until(Duration::from_secs(120), || {
        let (code, out, _) = curl(&["-sS", "--fail", &url]);
        if code != 0 {
            return false;
        }
        doc = serde_json::from_slice(&out).unwrap();
        doc["state"] == "complete"
    });
    assert!(complete, "the outline never completed: {doc:.300}");
    doc
}

/// What one log scored.
#[derive(Default)]
struct Score {
    slug: String,
    lines_ok: bool,
    sections_expected: usize,
    sections_found: usize,
    sections_right: usize,
    sections_exact: bool,
    first_section_wrong: Option<String>,
    durations_expected: usize,
    durations_right: usize,
    failing: bool,
    first_expected: Option<u64>,
    first_found: Option<u64>,
    errors_expected: u64,
    errors_found: u64,
    errors_right: u64,
}

fn section_key(s: &Value) -> (String, u64, u64, u64, Option<u64>) {
    (
        s["name"].as_str().unwrap_or("").to_owned(),
        s["first_line"].as_u64().unwrap_or(0),
        s["last_line"].as_u64().unwrap_or(0),
        s["depth"].as_u64().unwrap_or(0),
        s["parent"].as_u64(),
    )
}

fn score(slug: &str, log: &[u8], want: &Value, got: &Value) -> Score {
    let mut s = Score {
        slug: slug.to_owned(),
        ..Score::default()
    };
    s.lines_ok = want["lines"].as_u64() == Some(count_lines(log));
    let empty = Vec::new();
    let want_sections = want["sections"].as_array().unwrap_or(&empty);
    let got_sections = got["sections"].as_array().unwrap_or(&empty);
    s.sections_expected = want_sections.len();
    s.sections_found = got_sections.len();
    for (i, w) in want_sections.iter().enumerate() {
        let g = got_sections.get(i);
        if g.map(section_key) == Some(section_key(w)) {
            s.sections_right += 1;
        } else if s.first_section_wrong.is_none() {
            s.first_section_wrong = Some(format!(
                "#{i}: want {:?}, got {:?}",
                section_key(w),
                g.map(section_key)
            ));
        }
        if let Some(duration) = w["duration_secs"].as_f64() {
            s.durations_expected += 1;
            let found = g.and_then(|g| g["duration_secs"].as_f64());
            if found.is_some_and(|f| (f - duration).abs() <= DURATION_SLACK) {
                s.durations_right += 1;
            }
        }
    }
    if s.first_section_wrong.is_none() && got_sections.len() > want_sections.len() {
        let extra = &got_sections[want_sections.len()];
        s.first_section_wrong = Some(format!("extra: {:?}", section_key(extra)));
    }
    s.sections_exact =
        s.sections_right == s.sections_expected && s.sections_found == s.sections_expected;
    s.failing = want["failing"].as_bool().unwrap_or(false);
    s.first_expected = want["first_error"].as_u64();
    s.first_found = got["errors"]["first"]["line"].as_u64();
    let expected: BTreeSet<u64> = want["error_lines"]
        .as_array()
        .unwrap_or(&empty)
        .iter()
        .filter_map(Value::as_u64)
        .collect();
    let found: BTreeSet<u64> = got["errors"]["lines"]
        .as_array()
        .unwrap_or(&empty)
        .iter()
        .filter_map(|e| e["line"].as_u64())
        .collect();
    s.errors_expected = expected.len() as u64;
    // Lines past the listed ones are counted (`total`), not listed: they
    // count as found but cannot be matched.
    s.errors_found = got["errors"]["total"]
        .as_u64()
        .unwrap_or(found.len() as u64);
    s.errors_right = expected.intersection(&found).count() as u64;
    if std::env::var_os("LIVELOG_REAL_VERBOSE").is_some() {
        // What was missed and what was found wrongly, with the lines' text.
        let lines: Vec<&[u8]> = log.split(|&b| b == b'\n').collect();
        let show = |n: u64| {
            let line = lines.get(n as usize - 1).copied().unwrap_or_default();
            String::from_utf8_lossy(&line[..line.len().min(140)]).into_owned()
        };
        for n in expected.difference(&found).take(12) {
            println!("{slug}: missed {n}: {:?}", show(*n));
        }
        for n in found.difference(&expected).take(12) {
            println!("{slug}: wrong {n}: {:?}", show(*n));
        }
    }
    s
}

fn ratio(n: u64, d: u64) -> f64 {
    if d == 0 { 1.0 } else { n as f64 / d as f64 }
}

fn line_or_dash(line: Option<u64>) -> String {
    line.map_or_else(|| "–".to_owned(), |l| l.to_string())
}

/// The report: one row per log, then the totals, as a markdown table.
fn report(scores: &[Score]) -> (String, Totals) {
    let mut md = String::new();
    md.push_str(
        "| log | lines | sections exact | durations ±1 s | first error (want/got) | errors expected | found | right | precision | recall |\n\
         | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |\n",
    );
    let mut t = Totals::default();
    for s in scores {
        let first_ok = s.first_found == s.first_expected;
        writeln!(
            md,
            "| {} | {} | {} {}/{} | {}/{} | {}{} / {} | {} | {} | {} | {:.2} | {:.2} |",
            s.slug,
            if s.lines_ok { "ok" } else { "WRONG" },
            if s.sections_exact { "yes" } else { "no" },
            s.sections_right,
            s.sections_expected,
            s.durations_right,
            s.durations_expected,
            if !s.failing || first_ok { "" } else { "✗ " },
            line_or_dash(s.first_expected),
            line_or_dash(s.first_found),
            s.errors_expected,
            s.errors_found,
            s.errors_right,
            ratio(s.errors_right, s.errors_found),
            ratio(s.errors_right, s.errors_expected),
        )
        .unwrap();
        t.logs += 1;
        t.lines_ok += u64::from(s.lines_ok);
        t.sections_exact += u64::from(s.sections_exact);
        t.durations_expected += s.durations_expected as u64;
        t.durations_right += s.durations_right as u64;
        if s.failing {
            t.failing += 1;
            t.first_right += u64::from(first_ok);
        }
        t.errors_expected += s.errors_expected;
        t.errors_found += s.errors_found;
        t.errors_right += s.errors_right;
    }
    writeln!(
        md,
        "| **all {} logs** | {}/{} | {}/{} | {}/{} | {}/{} failing | {} | {} | {} | **{:.3}** | **{:.3}** |",
        t.logs,
        t.lines_ok,
        t.logs,
        t.sections_exact,
        t.logs,
        t.durations_right,
        t.durations_expected,
        t.first_right,
        t.failing,
        t.errors_expected,
        t.errors_found,
        t.errors_right,
        t.precision(),
        t.recall(),
    )
    .unwrap();
    (md, t)
}

#[derive(Default)]
struct Totals {
    logs: u64,
    lines_ok: u64,
    sections_exact: u64,
    durations_expected: u64,
    durations_right: u64,
    failing: u64,
    first_right: u64,
    errors_expected: u64,
    errors_found: u64,
    errors_right: u64,
}

impl Totals {
    fn precision(&self) -> f64 {
        ratio(self.errors_right, self.errors_found)
    }
    fn recall(&self) -> f64 {
        ratio(self.errors_right, self.errors_expected)
    }
}

#[test]
#[ignore = "needs the real-log corpus, which is not in the repository (tests/data/real/README.md)"]
fn real_corpus() {
    let logs = corpus();
    assert!(
        !logs.is_empty(),
        "no corpus in {} (tests/data/real/README.md)",
        corpus_dir().display()
    );
    let only = std::env::var("LIVELOG_REAL_ONLY").ok();
    let mut scores = Vec::new();
    let mut wrong = Vec::new();
    for (system, log_path, want_path) in &logs {
        let slug = want_path
            .file_name()
            .unwrap()
            .to_string_lossy()
            .trim_end_matches(".expected.json")
            .to_owned();
        if only.as_deref().is_some_and(|o| !slug.contains(o)) {
            continue;
        }
        let want: Value = serde_json::from_slice(&std::fs::read(want_path).unwrap())
            .unwrap_or_else(|e| panic!("{}: {e}", want_path.display()));
        let log = read_log(log_path);
        let got = outline_of(&log);
        let s = score(&format!("{system}/{slug}"), &log, &want, &got);
        if let Some(why) = &s.first_section_wrong {
            wrong.push(format!("{}: {why}", s.slug));
        }
        scores.push(s);
    }
    let (md, t) = report(&scores);
    println!("{md}");
    for w in &wrong {
        println!("sections: {w}");
    }
    let target = Path::new(env!("CARGO_MANIFEST_DIR")).join("target");
    let _ = std::fs::create_dir_all(&target);
    std::fs::write(target.join("real-logs-report.md"), &md).unwrap();

    assert_eq!(
        t.lines_ok, t.logs,
        "a log's line count is not its expectation's"
    );
    assert_eq!(t.sections_exact, t.logs, "sections not exact on every log");
    assert!(
        ratio(t.first_right, t.failing) >= GATE_FIRST_ERROR,
        "first error right on {}/{} failing logs",
        t.first_right,
        t.failing
    );
    assert!(
        t.precision() >= GATE_PRECISION,
        "precision {:.3}",
        t.precision()
    );
    assert!(t.recall() >= GATE_RECALL, "recall {:.3}", t.recall());
}
