//! One test per dialect, with lines as each system writes them (the corpus
//! test, `tests/protocol/real_corpus.rs`, checks whole real logs).

use super::super::tests::outline;
use super::super::{Dialect, Rank};

fn names(log: &str) -> Vec<(String, usize, u64, Option<u64>)> {
    outline(log)
        .sections
        .iter()
        .map(|s| (s.name.clone(), s.depth, s.first_line, s.last_line))
        .collect()
}

fn owned(v: &[(&str, usize, u64, Option<u64>)]) -> Vec<(String, usize, u64, Option<u64>)> {
    v.iter()
        .map(|&(n, d, f, l)| (n.to_owned(), d, f, l))
        .collect()
}

#[test]
fn xtrace_is_no_buildkite_header_in_a_github_log() {
    let log = "2024-07-08T16:57:01.0000000Z ##[group]Run test.sh\n\
               2024-07-08T16:57:01.1000000Z ##[endgroup]\n\
               2024-07-08T16:57:02.0000000Z +++ nproc --ignore=2\n\
               2024-07-08T16:57:02.1000000Z --- not a header\n\
               2024-07-08T16:57:03.0000000Z ##[error]Process completed with exit code 1.\n";
    let o = outline(log);
    assert_eq!(o.dialect, Dialect::Github);
    assert_eq!(o.sections.len(), 1);
    assert_eq!(
        o.first_error().map(|e| (e.line, e.rank)),
        Some((5, Rank::Failure))
    );
}

#[test]
fn buildkite_headers_after_the_timestamp_escape_with_their_times() {
    let log = "\x1b_bk;t=1745322209921\x07~~~ Running global environment hook\r\n\
               \x1b_bk;t=1745322209930\x07\x1b[90m$\x1b[0m /hooks/environment\r\n\
               \x1b_bk;t=1745322209948\x07--- :package: Build\r\n\
               \x1b_bk;t=1745322210000\x07progress\x1b[1;1H+++ Tests\r\n\
               \x1b_bk;t=1745322212000\x07^^^ +++\r\n";
    let o = outline(log);
    assert_eq!(o.dialect, Dialect::Buildkite);
    assert_eq!(
        names(log),
        owned(&[
            ("Running global environment hook", 0, 1, Some(2)),
            (":package: Build", 0, 3, Some(3)),
            ("Tests", 0, 4, Some(5)),
        ])
    );
    let ms = 1_000_000;
    assert_eq!(o.sections[0].log_start, Some(1_745_322_209_921 * ms));
    assert_eq!(o.sections[0].log_end, Some(1_745_322_209_948 * ms));
    assert_eq!(o.sections[2].log_end, Some(1_745_322_212_000 * ms));
}

#[test]
fn gitlab_markers_anywhere_several_per_line() {
    let log = "\x1b[0Ksection_start:1695300570:prepare_executor\r\x1b[0KPreparing\n\
               x\x1b[0;msection_end:1695300588:prepare_executor\r\x1b[0Ksection_start:1695300588:get_sources[collapsed=true]\r\x1b[0K\n\
               section_end:1695300590:get_sources\r\x1b[0K\x1b[31;1mERROR: Job failed: exit status 1\n\
               section_start:1695300591:nope\n";
    let o = outline(log);
    assert_eq!(o.dialect, Dialect::Gitlab);
    assert_eq!(
        names(log),
        owned(&[("Preparing", 0, 1, Some(2)), ("get_sources", 0, 2, Some(3))])
    );
    let s = 1_000_000_000;
    assert_eq!(o.sections[0].log_start, Some(1_695_300_570 * s));
    assert_eq!(o.sections[0].log_end, Some(1_695_300_588 * s));
    assert_eq!(
        o.first_error().map(|e| (e.line, e.rank)),
        Some((3, Rank::Failure))
    );
}

#[test]
fn travis_folds_take_their_timers_times() {
    let log = "travis_fold:start:install\r\x1b[0Ktravis_time:start:0a1b2c3d\r\x1b[0K$ npm ci\n\
               added 1 package\n\
               travis_time:end:0a1b2c3d:start=1587500570000000000,finish=1587500572500000000,duration=2500000000\r\x1b[0Ktravis_fold:end:install\r\x1b[0K\n\
               \x1b[31;1mThe command \"npm test\" exited with 1.\x1b[0m\n\
               \x1b[32;1mThe command \"true\" exited with 0.\x1b[0m\n";
    let o = outline(log);
    assert_eq!(o.dialect, Dialect::Travis);
    assert_eq!(names(log), owned(&[("install", 0, 1, Some(3))]));
    assert_eq!(o.sections[0].log_start, Some(1_587_500_570_000_000_000));
    assert_eq!(o.sections[0].log_end, Some(1_587_500_572_500_000_000));
    assert_eq!(o.errors.iter().map(|e| e.line).collect::<Vec<_>>(), [4]);
}

#[test]
fn jenkins_labelled_bodies_are_sections() {
    let log = "[2019-05-23T16:37:50.631Z] [Pipeline] stage\r\n\
               [2019-05-23T16:37:50.640Z] [Pipeline] { (Build)\r\n\
               [2019-05-23T16:37:50.650Z] [Pipeline] node\r\n\
               [2019-05-23T16:37:50.660Z] [Pipeline] {\r\n\
               [2019-05-23T16:37:51.000Z] + make\r\n\
               [2019-05-23T16:37:52.000Z] make: [clean] Error 1 (ignored)\r\n\
               [2019-05-23T16:37:53.000Z] [Pipeline] }\r\n\
               [2019-05-23T16:37:53.030Z] [Pipeline] }\r\n\
               [2019-05-23T16:37:53.040Z] [Pipeline] // stage\r\n\
               [2019-05-23T16:37:54.000Z] ERROR: script returned exit code 2\r\n\
               [2019-05-23T16:37:54.100Z] Finished: FAILURE\r\n";
    let o = outline(log);
    assert_eq!(o.dialect, Dialect::Jenkins);
    assert_eq!(names(log), owned(&[("Build", 0, 2, Some(8))]));
    let ms = 1_000_000;
    assert_eq!(
        o.sections[0]
            .log_end
            .zip(o.sections[0].log_start)
            .map(|(e, s)| e - s),
        Some(2_390 * ms)
    );
    assert_eq!(
        o.errors.iter().map(|e| e.line).collect::<Vec<_>>(),
        [10, 11]
    );
}

/// Azure Pipelines, per its docs ("Logging commands"): steps between
/// `##[section]Starting:` and `Finishing:`, `##vso[task.logissue
/// type=error]` a failure.
#[test]
fn azure_steps_and_issues() {
    let log = "2019-07-10T19:51:09.0962540Z ##vso[task.setvariable variable=x]1\n\
               2019-07-10T19:51:09.1000000Z ##[section]Starting: Build\n\
               2019-07-10T19:51:10.0000000Z ##vso[task.logissue type=error]Compilation failed\n\
               2019-07-10T19:51:12.1000000Z ##[section]Finishing: Build\n";
    let o = outline(log);
    assert_eq!(o.dialect, Dialect::Azure);
    assert_eq!(names(log), owned(&[("Build", 0, 2, Some(4))]));
    assert_eq!(
        o.first_error().map(|e| (e.line, e.rank)),
        Some((3, Rank::Failure))
    );
}

/// A GitHub `Prepare job` log has `##[section]` lines too: not sections.
#[test]
fn github_sections_are_no_azure_steps() {
    let log = "2023-09-21T12:55:27.4803472Z ##[section]Starting: Prepare job\n\
               2023-09-21T12:55:28.4803472Z ##[section]Finishing: Prepare job\n";
    assert!(names(log).is_empty());
}

/// TeamCity, per its docs ("Service messages"): blocks, and
/// `buildProblem` as the failure.
#[test]
fn teamcity_blocks_and_build_problems() {
    let log = "##teamcity[blockOpened name='Compile |'core|'' description='x']\n\
               cc -c a.c\n\
               ##teamcity[blockOpened name='Link']\n\
               ##teamcity[blockClosed name='Link']\n\
               ##teamcity[buildProblem description='Linking failed']\n\
               ##teamcity[blockClosed name='Compile |'core|'']\n";
    let o = outline(log);
    assert_eq!(o.dialect, Dialect::Teamcity);
    assert_eq!(
        names(log),
        owned(&[("Compile 'core'", 0, 1, Some(6)), ("Link", 1, 3, Some(4))])
    );
    assert_eq!(
        o.first_error().map(|e| (e.line, e.rank)),
        Some((5, Rank::Failure))
    );
}

/// Firefox CI: the browser's own `JavaScript error:` output is no error
/// (Treeherder), `TEST-UNEXPECTED-FAIL` is the failure.
#[test]
fn taskcluster_steps_and_treeherder_errors() {
    let log = "[taskcluster 2025-02-13 10:01:38.481Z] === Task Starting ===\n\
               [task 2025-02-13T10:01:40.517Z] 10:01:40     INFO - [mozharness: 2025-02-13 10:01:40.513785Z] Running run-tests step.\n\
               [task 2025-02-13T10:01:41.000Z] 10:01:41     INFO - GECKO(1) | JavaScript error: resource://x.js, line 1: TypeError: x is null\n\
               [task 2025-02-13T10:01:42.000Z] 10:01:42     INFO - TEST-UNEXPECTED-FAIL | browser_a.js | Test timed out\n\
               [task 2025-02-13T10:01:43.000Z] 10:01:43  WARNING - returning nonzero exit status 1\n\
               [task 2025-02-13T10:01:44.000Z] 10:01:44     INFO - [mozharness: 2025-02-13 10:01:44.0Z] Finished run-tests step (failed)\n\
               [taskcluster 2025-02-13 10:01:45.000Z] === Task Finished ===\n\
               [taskcluster 2025-02-13 10:01:46.000Z] Unsuccessful task run with exit code: 1 completed in 8 seconds\n";
    let o = outline(log);
    assert_eq!(o.dialect, Dialect::Taskcluster);
    assert_eq!(
        names(log),
        owned(&[("Task", 0, 1, Some(7)), ("run-tests", 1, 2, Some(6))])
    );
    assert_eq!(
        o.errors.iter().map(|e| e.line).collect::<Vec<_>>(),
        [4, 5, 6, 8]
    );
    assert!(o.errors.iter().all(|e| e.rank == Rank::Failure));
}
