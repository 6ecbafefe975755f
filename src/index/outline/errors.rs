//! Error lines, modelled on the field's classifiers. Rank 1: the job's own
//! failure lines, the CI system's verdicts and a test harness's failures;
//! rank 2: a tool's error reports. Not errors: error words in commands the
//! log echoes (`+ …` xtrace, `$ …`, `##[command]…`), in configuration dumps,
//! in zero counts, and the console output of the program under test (a
//! browser's `JavaScript error:`, `console.error:`).
//!
//! Firefox CI (Taskcluster) logs follow Treeherder's `ErrorParser`
//! (mozilla/treeherder `treeherder/log_parser/parsers.py`) rule by rule
//! ([`super::treeherder`]); other logs follow [`FAILURES`] and [`TOOLS`].

use std::sync::LazyLock;

use aho_corasick::{AhoCorasick, MatchKind};

use super::dialects::Dialect;
pub use super::rank::Rank;
use super::text::{runner_prefix, without_escapes};

/// What a line must hold, escapes or not, to be looked at as a candidate
/// error line: a part of every pattern below that colours do not split.
/// The indexer finds them in one pass over each chunk.
pub const ERROR_STEMS: [&str; 31] = [
    "error",
    "Error",
    "ERROR",
    "FAIL",
    "fail",
    "Fail",
    "fatal",
    "FATAL",
    "panicked at",
    "Traceback",
    "Exception",
    "TEST-UNEXPECTED",
    "PROCESS-CRASH",
    "nonzero exit status",
    "Unsuccessful task run",
    "exited with",
    "cannot",
    "Cannot",
    "not found",
    "No such file",
    "Permission denied",
    "not recognized as",
    "Could Not Find",
    "ERR!",
    "MOZ_CRASH",
    "ABORT",
    "Sanitizer",
    "terminated",
    ": ***",
    "No output has been received",
    "Your build",
];

/// Rank-1 patterns outside Taskcluster logs, each with its source: found
/// anywhere in the line's text (escapes removed, after its dialect's
/// prefix), or at its start when it begins with `^`.
pub const FAILURES: [&str; 30] = [
    "^##[error]",                            // actions/runner ExecutionContext.cs (issues)
    "^::error",                              // GitHub docs, workflow commands
    "##vso[task.logissue type=error",        // Azure DevOps docs, logging commands
    "##teamcity[buildProblem",               // TeamCity docs, service messages
    "ERROR: Job failed",                     // gitlab-runner common/build.go
    "Error: The command exited with status", // buildkite/agent internal/job/executor.go
    "Error: The command was interrupted by a signal", // ditto
    "user command error:",                   // ditto
    "ERROR: script returned exit code",      // Jenkins durable-task step
    "^Failed in branch ",                    // Jenkins ParallelStep
    "^Finished: FAILURE",                    // Jenkins core, Run result
    "^Finished: UNSTABLE",
    "^Finished: ABORTED",
    "No output has been received in the last", // Travis worker
    "^The build has been terminated",          // Travis worker
    "The job exceeded the maximum time limit", // Travis worker
    "^Your build has been stopped.",           // travis-build travis_assert.bash
    "^The command \"", // travis-build travis_result.bash, travis_assert.bash
    "^Done. Your build exited with ", // Travis worker
    "ERROR: InvocationError", // tox
    "commands failed", // tox `ERROR:   py27: commands failed`
    "^error Command failed with exit code", // yarn
    "^ERROR: Failure:", // nose
    "^FAILED (",       // nose / unittest summary
    "^--- FAIL:",
    "^test result: FAILED.", // cargo test (libtest's summary)      // go test
    "^FAIL ",                // jest
    "Process exited with code", // PowerShell / generic step
    "returning nonzero exit status", // mozharness
    "Unsuccessful task run", // Taskcluster docker-worker task.js
];

/// Rank-2 patterns outside Taskcluster logs (a word pattern must start a
/// word: `last_error:` is no `error:`).
pub const TOOLS: [&str; 32] = [
    "error:",                            // compilers, bazel, jq
    "error[",                            // rustc
    ": error (",                         // jq
    "ERROR:",                            // bazel, pip, the GitLab runner
    "Error:",                            // node, buildah, python exceptions
    "fatal:",                            // git
    "FAILED",                            // make, test runners
    "panicked at",                       // rust
    "Traceback (most recent call last)", // python
    "Exception: ",                       // python, java
    "Error response from daemon",        // docker
    "npm ERR!",
    "curl: (",
    ": cannot remove", // rm
    ": cannot stat",   // mv
    ": cannot rename", // sed
    ": No such file or directory",
    "Permission denied",
    "command not found",
    "is not recognized as an internal or external command",
    "The system cannot find the",
    "Could Not Find ",
    " : Cannot find ", // a PowerShell error record
    "You cannot call a method on a null-valued expression",
    ": *** ",                   // make
    "recipe for target",        // make
    "Error 1",                  // make
    "^failed building ",        // goreleaser / mage
    "Test suite failed to run", // jest
    "Cannot find module",       // node
    "undefined reference",      // ld
    "undefined symbol",         // lld
];

/// Bytes of a line the error rules look at: its start, where a tool says
/// it failed (the rest of a kilobytes-long command line, rustc's with
/// `--error-format=json`, holds no error of the job, and searching it was
/// most of the indexer's time), or all the indexer keeps of a line with
/// `\r`-separated parts, where a part far in may be the error (openwrt's
/// `ERROR: please fix …` 14 KiB into a GitLab progress line).
pub const CLASSIFY_BYTES: usize = 2048;

/// The rank of a line of `dialect` (its first bytes, up to the indexer's
/// cap), if it is an error line; `previous` is the last error line's text
/// (Treeherder skips a line equal to it).
pub fn classify(line: &[u8], dialect: Dialect, previous: &mut Vec<u8>) -> Option<Rank> {
    let line =
        if line.len() > CLASSIFY_BYTES && memchr::memchr(b'\r', line.trim_ascii_end()).is_none() {
            &line[..CLASSIFY_BYTES]
        } else {
            line
        };
    if dialect == Dialect::Taskcluster {
        return super::treeherder::classify(line, previous);
    }
    let message = message(line, dialect);
    let text = without_escapes(message);
    // A lone `\r` rewrites the line; any part may be the error (GitLab
    // grammar: "a line that holds `\r`-separated parts is an error line
    // when any part is").
    text.split(|&b| b == b'\r')
        .filter_map(|part| classify_part(part.trim_ascii(), dialect))
        .min()
}

/// [`FAILURES`] then [`TOOLS`], without their `^`, in one automaton: a
/// candidate line is searched once for all of them (built once: building
/// costs more than searching a line). Leftmost-first, not overlapping: only
/// a leftmost automaton gets the SIMD prefilter (the overlapping search
/// stepped through every byte, a quarter of the indexer's time); of two
/// patterns at one place the first listed wins, so a rank-1 pattern
/// (`ERROR: Job failed`) beats the rank-2 one it starts with (`ERROR:`).
static PATTERNS: LazyLock<Option<AhoCorasick>> = LazyLock::new(|| {
    let all = FAILURES.iter().chain(TOOLS.iter());
    AhoCorasick::builder()
        .match_kind(MatchKind::LeftmostFirst)
        .build(all.map(|p| p.trim_start_matches('^')))
        .ok()
});

fn classify_part(text: &[u8], dialect: Dialect) -> Option<Rank> {
    if text.is_empty() || echoed(text) {
        return None;
    }
    let mut tool = false;
    if let Some(patterns) = PATTERNS.as_ref() {
        for m in patterns.find_iter(text) {
            let index = m.pattern().as_usize();
            let (pattern, failure) = match index.checked_sub(FAILURES.len()) {
                None => (FAILURES[index], true),
                Some(i) => (TOOLS[i], false),
            };
            if !holds_at(text, pattern, m.start()) {
                continue;
            }
            if failure && !zero_exit(text) {
                return Some(Rank::Failure);
            }
            tool |= !failure;
        }
    }
    if harness_summary(text) {
        return Some(Rank::Failure);
    }
    if text.starts_with(b"WARNING") || text.starts_with(b"##[warning]") {
        return None;
    }
    if (tool || exception(text) || failed_count(text)) && !excluded(text, dialect) {
        return Some(Rank::Tool);
    }
    None
}

/// A test runner's summary that tests failed: pytest's
/// `==== 9 failed, 2546 passed in 87.72 seconds ====`.
fn harness_summary(text: &[u8]) -> bool {
    text.starts_with(b"===") && failed_count(text)
}

/// `N failed` with N > 0 (pytest, jest's `Test Suites: 1 failed`).
fn failed_count(text: &[u8]) -> bool {
    memchr::memmem::find_iter(text, b" failed").any(|at| {
        let digits = text[..at]
            .iter()
            .rev()
            .take_while(|b| b.is_ascii_digit())
            .count();
        digits > 0 && text[at - digits..at].iter().any(|&b| b != b'0')
    })
}

/// A Python exception line: `requests.exceptions.ReadTimeout: …` at the
/// start (a dotted name from an `exceptions` module), or pytest's location
/// line `path.py:51: AssertionError`.
fn exception(text: &[u8]) -> bool {
    let name = |t: &[u8]| {
        t.iter()
            .take_while(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.'))
            .count()
    };
    let n = name(text);
    if n > 0
        && text[n..].starts_with(b": ")
        && memchr::memmem::find(&text[..n], b"exceptions.").is_some()
    {
        return true;
    }
    let Some(colon) = memchr::memmem::rfind(text, b": ") else {
        return false;
    };
    let last = &text[colon + 2..];
    let digits = text[..colon]
        .iter()
        .rev()
        .take_while(|b| b.is_ascii_digit())
        .count();
    digits > 0
        && text[..colon - digits].ends_with(b".py:")
        && name(last) == last.len()
        && (last.ends_with(b"Error") || last.ends_with(b"Exception"))
}

/// The line after its dialect's prefix: the runner's timestamp (GitHub,
/// Azure), the Timestamper's (Jenkins).
fn message(line: &[u8], dialect: Dialect) -> &[u8] {
    match dialect {
        Dialect::Github | Dialect::Azure => runner_prefix(line).map_or(line, |(_, rest)| rest),
        Dialect::Jenkins => super::dialects::jenkins_message(line),
        _ => line,
    }
}

/// A command the log echoes: bash xtrace (`+ `, `++ `), a shell prompt
/// (`$ `, GitLab and Travis), the runner's `##[command]`, `@actions/exec`'s
/// `[command]`.
fn echoed(text: &[u8]) -> bool {
    let pluses = text.iter().take_while(|&&b| b == b'+').count();
    (pluses > 0 && text.get(pluses) == Some(&b' '))
        || text.starts_with(b"$ ")
        || text.starts_with(b"##[command]")
        || text.starts_with(b"[command]")
}

/// Whether `pattern`, found in `text` at `at`, counts there: a `^`
/// pattern only at the start, a word pattern where a word starts, none
/// after an `echo "` on the line.
fn holds_at(text: &[u8], pattern: &str, at: usize) -> bool {
    if pattern.starts_with('^') {
        return at == 0;
    }
    let pattern = pattern.as_bytes();
    let before = at.checked_sub(1).map(|i| text[i]);
    let after = text.get(at + pattern.len()).copied();
    let identifier = |b: u8| b == b'_' || b.is_ascii_alphanumeric();
    let here = match pattern {
        b"error:" | b"ERROR:" | b"error[" | b"fatal:" => !before.is_some_and(identifier),
        // A word, not a query's `status=FAILED&…`.
        b"FAILED" => {
            !before.is_some_and(|b| identifier(b) || b == b'=')
                && !after.is_some_and(|b| identifier(b) || b == b'&')
        }
        b"Error:" => !before.is_some_and(|b| b == b'_' || b.is_ascii_digit()),
        _ => true,
    };
    here && !in_echo(&text[..at])
}

/// Whether the text before a match opens an `echo "…` (a command line
/// that make or a script echoes, which prints the error word only if it
/// runs: openwrt's `… else echo "ERROR: module '$mod' is missing." >&2`).
fn in_echo(before: &[u8]) -> bool {
    // Built once: building a searcher costs more than searching a line.
    static ECHO: LazyLock<memchr::memmem::FinderRev<'static>> =
        LazyLock::new(|| memchr::memmem::FinderRev::new(b"echo "));
    ECHO.rfind(before)
        .is_some_and(|at| before[at..].iter().any(|&b| b == b'"' || b == b'\''))
}

/// A verdict that says the job passed (`exited with 0.`).
fn zero_exit(text: &[u8]) -> bool {
    text.ends_with(b"exited with 0.")
        || text.ends_with(b"exited with 0.\x1b[0m")
        || text.ends_with(b"exit code 0")
}

/// Lines that hold a pattern but report no error: warnings, zero counts,
/// Jenkins' ignored make errors (`make: [t] Error 127 (ignored)`, Jenkins
/// grammar), `For more information about this error`.
fn excluded(text: &[u8], dialect: Dialect) -> bool {
    let has = |p: &[u8]| memchr::memmem::find(text, p).is_some();
    has(b"For more information about this error")
        || has(b"0 errors")
        || has(b"Errors: 0")
        || (dialect == Dialect::Jenkins && has(b"(ignored)"))
}
