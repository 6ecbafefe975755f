//! Taskcluster / Firefox CI task logs (`live_backing.log`): three layers,
//! each with its line prefix (`tests/data/real/taskcluster/GRAMMAR.md`).
//!
//! * The worker: `[taskcluster 2025-02-13 09:58:31.699Z] ` (docker-worker,
//!   `src/lib/log.js`) or `[taskcluster 2025-02-13T11:46:07.700Z] `
//!   (generic-worker, `main.go`); `=== Task Starting ===` …
//!   `=== Task Finished ===` is the task (docker-worker `src/lib/task.js`,
//!   generic-worker `backing_log_feature.go`, `task_timer_feature.go`);
//!   generic-worker's `Executing command N: …` is a command, ended by the
//!   `Result:` line of its exit-code block (`process/process.go`), by the
//!   next command, or by the task's end.
//! * run-task: `[task 2025-…Z] `, `[setup …] `, `[fetches …] `.
//! * mozharness (mozilla-central `testing/mozharness/mozharness/base/script.py`,
//!   `run_action`): `[mozharness: <time>Z] Running <step> step.` …
//!   `Finished <step> step (success|failed)`, after its own `HH:MM:SS INFO - `.
//! * 2015 logs imitating buildbot, read as Treeherder's former `StepParser`
//!   (mozilla/treeherder `treeherder/log_parser/parsers.py` before commit
//!   507881a7): `========= Started NAME (results: R, elapsed: E) (at T) =========`
//!   and `========= Finished …`; a `Started` ends the step before it.
//!
//! A line's time is its outermost prefix's (`[taskcluster …]`, `[task …]`);
//! `[taskcluster:error]` lines have none; a legacy step's is its `(at …)`.

use memchr::memmem;

use super::super::text::{LogTime, rfc3339};
use super::{Dialect, Marker};

/// The time in a `[word TIME] ` prefix, and the rest of the line.
fn prefix(line: &[u8]) -> Option<(Option<LogTime>, &[u8])> {
    let inner = line.strip_prefix(b"[")?;
    let close = memchr::memchr(b']', &inner[..inner.len().min(64)])?;
    let head = &inner[..close];
    let rest = &inner[close + 1..];
    let rest = rest.strip_prefix(b" ").unwrap_or(rest);
    let time = memchr::memchr(b' ', head).and_then(|space| rfc3339(&head[space + 1..]));
    Some((time.map(|(at, _)| at), rest))
}

pub(super) fn line_time(line: &[u8]) -> Option<LogTime> {
    prefix(line).and_then(|(at, _)| at)
}

/// The time of day of a mozharness line with no prefix (2015 logs:
/// `17:39:25     INFO - …`), as nanoseconds since midnight: the log's time
/// only where no prefix gives one (GRAMMAR.md, "Line prefixes").
pub(super) fn clock_time(line: &[u8]) -> Option<LogTime> {
    let field = |at: usize| -> Option<i64> {
        let two = line.get(at..at + 2)?;
        two.iter()
            .all(u8::is_ascii_digit)
            .then(|| i64::from(two[0] - b'0') * 10 + i64::from(two[1] - b'0'))
    };
    if line.get(2) != Some(&b':') || line.get(5) != Some(&b':') || line.get(8) != Some(&b' ') {
        return None;
    }
    let (h, m, s) = (field(0)?, field(3)?, field(6)?);
    Some(((h * 60 + m) * 60 + s) * 1_000_000_000)
}

pub(super) fn may_be_marker(line: &[u8]) -> bool {
    match line.first() {
        Some(b'=') => true,
        Some(b'[') => {
            line.starts_with(b"[taskcluster ")
                || memmem::find(&line[..line.len().min(160)], b"[mozharness: ").is_some()
        }
        _ => false,
    }
}

fn open(name: String, id: &str, at: Option<LogTime>, flat: bool) -> Marker {
    Marker::Open {
        kind: Dialect::Taskcluster,
        name,
        id: Some(id.to_owned()),
        at,
        flat,
    }
}

fn close(id: String, at: Option<LogTime>) -> Marker {
    Marker::Close {
        kind: Dialect::Taskcluster,
        id: Some(id),
        at,
        only: false,
    }
}

pub(super) fn marker(line: &[u8]) -> Option<Marker> {
    if line.starts_with(b"=========") {
        return legacy(line);
    }
    let (at, said) = prefix(line)?;
    if line.starts_with(b"[taskcluster ") {
        let said = said.trim_ascii();
        if said == b"=== Task Starting ===" {
            return Some(open("Task".into(), "task", at, false));
        }
        if said == b"=== Task Finished ===" {
            return Some(Marker::TaskFinished { at });
        }
        if let Some(rest) = said.strip_prefix(b"Executing command ") {
            let n = rest.iter().take_while(|b| b.is_ascii_digit()).count();
            let name = format!("Executing command {}", String::from_utf8_lossy(&rest[..n]));
            return Some(open(name, "command", at, true));
        }
        if said.starts_with(b"Result: ") {
            return Some(close("command".into(), at));
        }
        return None;
    }
    let m = memmem::find(said, b"[mozharness: ")?;
    let after = &said[m..];
    let close_bracket = memchr::memchr(b']', after)?;
    let text = after[close_bracket + 1..].trim_ascii();
    if let Some(step) = text
        .strip_prefix(b"Running ")
        .and_then(|s| s.strip_suffix(b" step."))
    {
        let step = String::from_utf8_lossy(step).into_owned();
        let id = format!("step:{step}");
        return Some(open(step, &id, at, false));
    }
    let rest = text.strip_prefix(b"Finished ")?;
    let end = memmem::find(rest, b" step (")?;
    let step = String::from_utf8_lossy(&rest[..end]);
    Some(close(format!("step:{step}"), at))
}

/// `========= (Started|Finished) NAME (results: …) (at TIME) =========`.
fn legacy(line: &[u8]) -> Option<Marker> {
    let text = line.strip_prefix(b"========= ")?;
    let at = memmem::rfind(text, b"(at ").and_then(|i| rfc3339(&text[i + 4..]).map(|(t, _)| t));
    if let Some(rest) = text.strip_prefix(b"Started ") {
        let end = memmem::find(rest, b" (results: ")?;
        let name = String::from_utf8_lossy(&rest[..end]).into_owned();
        return Some(open(name, "legacy", at, true));
    }
    text.strip_prefix(b"Finished ")?;
    Some(close("legacy".into(), at))
}
