//! Treeherder's error lines for Firefox CI logs, rule by rule from
//! `ErrorParser` in mozilla/treeherder `treeherder/log_parser/parsers.py`
//! (`tests/data/real/taskcluster/GRAMMAR.md` copies the rules), plus the
//! job's failure lines Treeherder leaves to other parsers
//! (`returning nonzero exit status`, every `Unsuccessful task run`,
//! `Finished <step> step (failed)`).

use memchr::memmem;

use super::rank::Rank;

/// `IN_SEARCH_TERMS`: an error wherever it is in the line.
const IN_SEARCH_TERMS: [&str; 18] = [
    "TEST-UNEXPECTED-",
    "fatal error",
    "FATAL ERROR",
    "Hit MOZ_CRASH",
    "REFTEST ERROR",
    "PROCESS-CRASH",
    "Assertion fail",
    "###!!! ABORT:",
    "SUMMARY: AddressSanitizer",
    "SUMMARY: ThreadSanitizer",
    "SUMMARY: UndefinedBehaviorSanitizer",
    "ThreadSanitizer: nested bug",
    "Automation Error:",
    "command timed out:",
    "wget: unable ",
    "bash.exe: *** ",
    "Unsuccessful task run with exit code: 137",
    "YOU ARE LEAKING THE WORLD",
];

/// The job's failure lines (rank 1).
const FAILURE_TERMS: [&str; 7] = [
    "TEST-UNEXPECTED-",
    "PROCESS-CRASH",
    "returning nonzero exit status",
    "Unsuccessful task run",
    "[taskcluster:error]",
    "[taskcluster] Error:",
    "did not run successfully",
];

fn has(text: &[u8], term: &str) -> bool {
    memmem::find(text, term.as_bytes()).is_some()
}

/// `^\d+:\d+:\d+ +LEVEL - ` (mozharness): the level and the rest.
fn mozharness(text: &[u8]) -> Option<(&[u8], &[u8])> {
    let time = text
        .iter()
        .take_while(|b| b.is_ascii_digit() || **b == b':')
        .count();
    if time < 5 || text[..time].iter().filter(|&&b| b == b':').count() != 2 {
        return None;
    }
    let rest = text[time..].trim_ascii_start();
    let space = memchr::memchr(b' ', rest)?;
    let level = &rest[..space];
    let after = rest[space..].strip_prefix(b" - ")?;
    Some((level, after))
}

/// `RE_TASKCLUSTER_NORMAL_PREFIX = ^\[(?!taskcluster:)[^\]]*20\d{2}-[^\]]+\]\s`.
fn strip_prefix(line: &[u8]) -> &[u8] {
    if line.first() != Some(&b'[') || line.starts_with(b"[taskcluster:") {
        return line;
    }
    let Some(close) = memchr::memchr(b']', line) else {
        return line;
    };
    let inside = &line[1..close];
    let dated = memmem::find_iter(inside, b"20").any(|at| {
        inside
            .get(at + 2..at + 4)
            .is_some_and(|d| d.iter().all(u8::is_ascii_digit))
            && inside.get(at + 4) == Some(&b'-')
    });
    match line.get(close + 1) {
        Some(b) if dated && b.is_ascii_whitespace() => &line[close + 2..],
        _ => line,
    }
}

/// `RE_ERR_MATCH` at the start, and `RE_ERR_SEARCH` anywhere.
fn err_match(text: &[u8]) -> bool {
    let word = text
        .iter()
        .take_while(|b| b.is_ascii_alphabetic() || **b == b'.')
        .count();
    let starts = |p: &[u8]| text.starts_with(p);
    let make = {
        let t = text.strip_prefix(b"g").unwrap_or(text);
        t.strip_prefix(b"make").is_some_and(|r| {
            let r = match r.strip_prefix(b"[") {
                Some(r) => {
                    let digits = r.iter().take_while(|b| b.is_ascii_digit()).count();
                    r[digits..].strip_prefix(b"]").unwrap_or(b"")
                }
                None => r,
            };
            r.starts_with(b": ***")
        })
    };
    let error_word = word > 0 && {
        let w = &text[..word];
        (w.ends_with(b"Error") && w.len() > 5 && text[word..].starts_with(b": "))
            || (w.ends_with(b"Exception") && text[word..].starts_with(b": "))
    };
    let bracket_error = text.first() == Some(&b'[') && {
        let inner = text[1..]
            .iter()
            .take_while(|b| b.is_ascii_alphanumeric() || b"._-".contains(b))
            .count();
        let rest = &text[1 + inner..];
        inner > 0 && (rest.starts_with(b":error]") || rest.starts_with(b":exception]"))
    };
    let search = |p: &[u8]| memmem::find(text, p).is_some();
    let error_paren = memmem::find_iter(text, b" error(").any(|at| {
        let r = &text[at + 7..];
        let d = r.iter().take_while(|b| b.is_ascii_digit()).count();
        r[d..].starts_with(b"):")
    });
    let line_error = memmem::find_iter(text, b": error:").any(|at| {
        at > 0 && text[at - 1].is_ascii_digit() && {
            let digits = text[..at]
                .iter()
                .rev()
                .take_while(|b| b.is_ascii_digit())
                .count();
            at > digits && text[at - digits - 1] == b':'
        }
    });
    let error_rc = memmem::find_iter(text, b" error ").any(|at| {
        let r = &text[at + 7..];
        let r = r.strip_prefix(b"R").unwrap_or(r);
        r.strip_prefix(b"C").is_some_and(|r| {
            let d = r.iter().take_while(|b| b.is_ascii_digit()).count();
            r[d..].starts_with(b":")
        })
    });
    let http = memmem::find_iter(text, b"ERROR ").any(|at| {
        let r = &text[at + 6..];
        r.len() >= 4
            && matches!(r[0], b'4' | b'5')
            && r[1].is_ascii_digit()
            && r[2].is_ascii_digit()
            && r[3] == b':'
    });
    make || error_word
        || starts(b"[  FAILED  ] ")
        || starts(b"remoteFailed:")
        || starts(b"rm: cannot ")
        || starts(b"abort:")
        || starts(b"[taskcluster] Error:")
        || bracket_error
        || error_paren
        || line_error
        || error_rc
        || http
        || search(b"mozmake.exe") && search(b": ***")
        || search(b"mozmake.EXE") && search(b": ***")
}

/// Treeherder's verdict on one line, and the rank livelog gives it.
pub fn classify(line: &[u8], previous: &mut Vec<u8>) -> Option<Rank> {
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    let text = strip_prefix(line);
    let rank = |text: &[u8]| {
        if FAILURE_TERMS.iter().any(|t| has(text, t))
            || (text.ends_with(b"step (failed)") && has(text, "[mozharness: "))
        {
            Rank::Failure
        } else {
            Rank::Tool
        }
    };
    // The failure lines Treeherder does not match.
    let failure = has(text, "returning nonzero exit status")
        || has(text, "Unsuccessful task run")
        || (text.ends_with(b"step (failed)") && has(text, "[mozharness: "));
    let verdict = if has(text, "TEST-INFO ")
        || has(text, "TEST-PASS ")
        || has(
            text,
            "A content process crashed and MOZ_CRASHREPORTER_SHUTDOWN is set, shutting down",
        ) {
        failure
    } else if mozharness(text)
        .is_some_and(|(level, _)| matches!(level, b"ERROR" | b"CRITICAL" | b"FATAL"))
    {
        // `RE_ERR_1_MATCH`: a mozharness ERROR, CRITICAL or FATAL line.
        true
    } else {
        let body = match mozharness(text) {
            Some((b"DEBUG" | b"INFO" | b"WARNING", rest)) => rest.trim_ascii_start(),
            _ => text,
        };
        let excluded = (memmem::find(body, b"TEST-UNEXPECTED-").is_some()
            && (memmem::find(body, b"I/Gecko").is_some()
                || memmem::find(body, b"I Gecko").is_some()
                || memmem::find(body, b"I/TestRunner").is_some()
                || memmem::find(body, b"I TestRunner").is_some()))
            || body.ends_with(b"Assertion failure")
            || body.starts_with(b"TEST-UNEXPECTED-WARNING")
            || body.starts_with(b"TimeoutException: ")
            || body == b"ImportError: No module named pygtk"
            || has(body, "non-fatal error");
        failure || (!excluded && (IN_SEARCH_TERMS.iter().any(|t| has(body, t)) || err_match(body)))
    };
    if !verdict {
        return None;
    }
    let trimmed = text.trim_ascii();
    if trimmed == previous.as_slice() {
        return None;
    }
    previous.clear();
    previous.extend_from_slice(trimmed);
    Some(rank(text))
}
