//! The threads whose work may wait run at a lower CPU priority than the
//! rest (`src/priority.rs`): the indexer's and the scan threads that run
//! searches. An operator checks it with `ps -L -o tid,ni,comm -p PID`
//! (Linux) or a process explorer (Windows); these tests check the same.

use std::collections::BTreeMap;

use crate::common::{Daemon, DaemonBuilder, SOON, TOKEN, Uploader, curl, wait_until};

/// A daemon with a live log (the indexer runs until the upload ends) and
/// one search done (the scan threads start at the first search), and the
/// upload, still open.
fn daemon_after_a_search(builder: DaemonBuilder) -> (Daemon, Uploader) {
    let d = builder.start_process();
    let mut up = Uploader::start(d.put);
    up.chunk(b"a line before\n".repeat(1000).as_slice());
    up.chunk(b"a line to find\n");
    let url = format!("http://{}/log/{TOKEN}/search?q=to+find", d.get);
    let mut found = String::new();
    // The search covers what is stored when it arrives: ask until the line
    // is (the upload's chunks reach the store a moment after they are sent).
    assert!(
        wait_until(SOON, || {
            let (code, body, _) = curl(&["-sS", "-w", "\n%{http_code}", &url]);
            found = String::from_utf8_lossy(&body).into_owned();
            code == 0 && found.ends_with("\n200") && found.contains("\"text\":\"a line to find\"")
        }),
        "the search never found the line: {found}"
    );
    (d, up)
}

#[test]
fn lowering_a_threads_priority_succeeds() {
    // Debug logging: a thread the platform refused to lower says so.
    let (d, up) = daemon_after_a_search(Daemon::builder().env("DEBUG", "1"));
    let stderr = d.stderr();
    assert!(stderr.contains(" DEBUG "), "debug logging is on: {stderr}");
    assert!(
        !stderr.contains("keeps its priority"),
        "a thread kept its priority: {stderr}"
    );
    assert_eq!(up.finish().0, 201);
}

/// Each thread of process `pid`: (name, nice value), from `/proc`.
#[cfg(target_os = "linux")]
fn threads(pid: u32) -> Vec<(String, i32)> {
    let mut found = Vec::new();
    for task in std::fs::read_dir(format!("/proc/{pid}/task")).unwrap() {
        let task = task.unwrap().path();
        let (Ok(comm), Ok(stat)) = (
            std::fs::read_to_string(task.join("comm")),
            std::fs::read_to_string(task.join("stat")),
        ) else {
            continue; // the thread ended meanwhile
        };
        found.push((comm.trim().to_owned(), nice_of(&stat)));
    }
    found
}

/// The nice value in a `/proc/.../stat` line. proc(5): the fields after
/// the name (in parentheses, which may itself hold one) start at the
/// third; nice is the 19th.
#[cfg(target_os = "linux")]
fn nice_of(stat: &str) -> i32 {
    let after_name = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
    after_name
        .split_whitespace()
        .nth(19 - 3)
        .and_then(|n| n.parse().ok())
        .expect("a nice value in a /proc stat line")
}

/// The nice value of process `pid`'s main thread.
#[cfg(target_os = "linux")]
fn main_nice(pid: u32) -> i32 {
    nice_of(&std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap())
}

#[test]
#[cfg_attr(
    not(target_os = "linux"),
    ignore = "reads /proc; lowering_a_threads_priority_succeeds covers every platform"
)]
fn the_indexer_and_the_scan_threads_run_at_nice_19_and_nothing_else_does() {
    #[cfg(target_os = "linux")]
    {
        let (d, up) = daemon_after_a_search(Daemon::builder());
        let by_name = threads(d.pid()).into_iter().fold(
            BTreeMap::<String, Vec<i32>>::new(),
            |mut by_name, (name, nice)| {
                by_name.entry(name).or_default().push(nice);
                by_name
            },
        );
        for lowered in ["livelog-index", "livelog-scan"] {
            let nices = by_name.get(lowered).unwrap_or_else(|| {
                panic!("no {lowered} thread while the log is live: {by_name:?}")
            });
            assert!(nices.iter().all(|&n| n == 19), "{lowered}: {by_name:?}");
        }
        // The rest (the runtime that serves readers, the upload's thread)
        // keep the main thread's priority, the one the daemon was started
        // with: lowering a thread never lowers the process.
        let started_with = main_nice(d.pid());
        for (name, nices) in &by_name {
            if name != "livelog-index" && name != "livelog-scan" {
                assert!(
                    nices.iter().all(|&n| n == started_with),
                    "{name} (the daemon started at nice {started_with}): {by_name:?}"
                );
            }
        }
        assert!(by_name.contains_key("livelog-upload"), "{by_name:?}");
        assert_eq!(up.finish().0, 201);
    }
}
