//! Tests of the outline: each system's markers, nesting, implicit ends,
//! and error lines.

use super::*;

/// The outline of `log`, each line arriving a second after the last (every
/// line looked at as if the indexer had found a stem in it).
pub(super) fn outline(log: &str) -> Outline {
    let mut o = Outline::default();
    let mut reader = LineReader::default();
    let mut offset = 0;
    let mut last = 0;
    for (i, line) in log.split_terminator('\n').enumerate() {
        let n = i as u64 + 1;
        let look = reader.look(line.as_bytes(), true, true);
        if look.matters() {
            o.line(n, offset, n * 1_000_000, line.as_bytes(), look);
        } else {
            o.time(line.as_bytes());
        }
        offset += line.len() as u64 + 1;
        last = n;
    }
    o.finish(last, last * 1_000_000);
    o
}

/// Whether a line of a log with no evidence is an error line.
fn is_error_line(line: &[u8]) -> bool {
    errors::classify(line, Dialect::Plain, &mut Vec::new()).is_some()
}

/// The markers a line of a log with no evidence holds.
fn marker(line: &[u8]) -> Option<dialects::Marker> {
    dialects::markers(line, Dialect::Plain).into_iter().next()
}

fn names(o: &Outline) -> Vec<(&str, usize, u64, Option<u64>)> {
    o.sections
        .iter()
        .map(|s| (s.name.as_str(), s.depth, s.first_line, s.last_line))
        .collect()
}

#[test]
fn github_groups_with_timestamps_and_errors() {
    let log = "2024-05-01T10:00:00.0000000Z ##[group]Run actions/checkout@v4\n\
               echo \"error: in a step header\"\n\
               2024-05-01T10:00:01.0000000Z ##[endgroup]\n\
               2024-05-01T10:00:02.0000000Z ##[group]Build\n\
               2024-05-01T10:00:03.0000000Z \x1b[31merror[E0425]: cannot find value `x`\x1b[0m\n\
               2024-05-01T10:00:04.5000000Z ##[endgroup]\n\
               2024-05-01T10:00:05.0000000Z done\n";
    let o = outline(log);
    assert_eq!(
        names(&o),
        [
            ("Run actions/checkout@v4", 0, 1, Some(3)),
            ("Build", 0, 4, Some(6))
        ]
    );
    assert_eq!(o.sections[1].errors, 1);
    assert_eq!(o.error_total, 1);
    assert_eq!(o.errors[0].line, 5);
    assert_eq!(o.errors[0].section, Some(1));
    // Arrival of the first and closing lines, and the log's own times.
    assert_eq!(o.sections[0].start_micros, 1_000_000);
    assert_eq!(o.sections[0].end_micros, Some(3_000_000));
    let second = 1_000_000_000;
    assert_eq!(o.sections[1].log_start, Some(1_714_557_602 * second));
    assert_eq!(
        o.sections[1].log_end,
        Some(1_714_557_604 * second + second / 2)
    );
}

#[test]
fn gitlab_sections_nest_and_end_by_id() {
    let log = "\x1b[0Ksection_start:1560896352:build_script[collapsed=true]\r\x1b[0KBuild script\n\
               \x1b[0Ksection_start:1560896353:compile\r\x1b[0KCompile\n\
               cc -c main.c\n\
               \x1b[0Ksection_end:1560896354:compile\r\x1b[0K\n\
               \x1b[0Ksection_start:1560896355:inner\r\x1b[0K\n\
               \x1b[0Ksection_end:1560896356:build_script\r\x1b[0K\n";
    let o = outline(log);
    assert_eq!(
        names(&o),
        [
            ("Build script", 0, 1, Some(6)),
            ("Compile", 1, 2, Some(4)),
            ("inner", 1, 5, Some(6)),
        ]
    );
    assert_eq!(o.sections[1].parent, Some(0));
}

#[test]
fn buildkite_headers_follow_one_another_and_taskcluster_phases_nest() {
    let o = outline("--- Setup\nx\n+++ Tests\nFAILED test_a\n~~~ Cleanup\n");
    assert_eq!(
        names(&o),
        [
            ("Setup", 0, 1, Some(2)),
            ("Tests", 0, 3, Some(4)),
            ("Cleanup", 0, 5, Some(5))
        ]
    );
    assert_eq!(o.errors[0].section, Some(1));
    let o = outline(
        "[taskcluster 2024-05-01T10:00:00.000Z] Worker Type settings\n\
         [taskcluster 2024-05-01T10:00:00.000Z] === Task Starting ===\n\
         [taskcluster 2024-05-01T10:00:00.000Z] Executing command 0: make\n\
         ok\n\
         [taskcluster 2024-05-01T10:00:01.000Z] Executing command 1: make test\n\
         thread 'main' panicked at src/main.rs:1:1\n\
         [taskcluster 2024-05-01T10:00:02.000Z] === Task Finished ===\n\
         [taskcluster:error] exit code 101\n",
    );
    assert_eq!(
        names(&o),
        [
            ("Task", 0, 2, Some(7)),
            ("Executing command 0", 1, 3, Some(4)),
            ("Executing command 1", 1, 5, Some(6)),
        ]
    );
    // Treeherder's rules: a Rust panic is no error of a Firefox CI task,
    // the worker's `[taskcluster:error]` is its failure.
    assert_eq!(o.error_total, 1);
    assert_eq!(o.errors[0].section, None, "after the task");
    assert_eq!(o.errors[0].rank, Rank::Failure);
}

#[test]
fn open_sections_end_with_the_log_and_plain_text_is_no_marker() {
    let o = outline("::group::Never closed\nline\nline\n");
    assert_eq!(names(&o), [("Never closed", 0, 1, Some(3))]);
    for plain in [
        "---",
        "--- ",
        "+++",
        "section_start:nope",
        "[taskcluster] x",
        "::groupie",
    ] {
        assert_eq!(marker(plain.as_bytes()), None, "{plain:?}");
    }
}

#[test]
fn colours_do_not_hide_an_error() {
    assert!(is_error_line(
        b"\x1b[1m\x1b[91merror\x1b[0m\x1b[1m: test failed"
    ));
    assert!(is_error_line(
        b"\x1b[0m\x1b[1m\x1b[38;5;9merror[E0425]\x1b[0m: cannot find"
    ));
    assert!(!is_error_line(b"no errors found"));
    assert!(!is_error_line(b"\x1b[32mok\x1b[0m"));
}

#[test]
fn identifiers_that_end_in_error_are_not_errors() {
    for not in [
        &b"144 | pub const Z_STREAM_ERROR: c_int = -2;"[..],
        b"    let last_error: Option<u32> = None;",
        b"struct MY_Error: Debug",
    ] {
        assert!(!is_error_line(not), "{}", String::from_utf8_lossy(not));
    }
    for yes in [
        &b"TypeError: 'NoneType' object is not subscriptable"[..],
        b"ERROR: Job failed: exit code 1",
        b"src/main.rs:4:9: error: expected `;`",
        b"(error: nested)",
    ] {
        assert!(is_error_line(yes), "{}", String::from_utf8_lossy(yes));
    }
}
