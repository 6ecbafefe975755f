//! The core contract's process side: a missing token is a startup
//! error, the temp file is unlinked even after SIGKILL, and SIGTERM exits 0
//! after letting a complete log drain or ending a live read incomplete.
//! The rest of the contract is `tests/protocol/core.rs`.

use std::time::{Duration, Instant};

use crate::common::{
    CurlReader, Daemon, RawReader, SOON, Uploader, client, pattern, read_complete,
};

#[test]
fn missing_token_exits_naming_it() {
    for builder in [
        Daemon::builder().without("ACCESS_TOKEN"),
        Daemon::builder().env("ACCESS_TOKEN", ""),
    ] {
        let (status, stderr) = builder.run_to_exit(Duration::from_secs(5));
        assert!(!status.success());
        assert!(stderr.contains("ACCESS_TOKEN"), "{stderr}");
        assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
    }
}

#[test]
#[cfg_attr(
    not(target_os = "linux"),
    ignore = "reads /proc; tests/process/platform.rs covers every platform"
)]
fn temp_file_is_unlinked_even_after_sigkill() {
    let mut d = Daemon::builder().own_temp_dir().start_process();
    let dir = d.temp_dir().unwrap().to_owned();
    let mut up = Uploader::start(d.put);
    up.chunk(&pattern(100_000, 3));
    // Wait until the bytes are stored (a reader sees them).
    let resp = client()
        .get(d.get_url())
        .header("Range", "bytes=0-99999")
        .send()
        .unwrap();
    assert_eq!(resp.bytes().unwrap().len(), 100_000);
    let listing = || std::fs::read_dir(&dir).unwrap().count();
    assert_eq!(listing(), 0, "the temp file is unlinked at creation");
    // The daemon really holds a deleted file there.
    let fds: Vec<String> = std::fs::read_dir(format!("/proc/{}/fd", d.pid()))
        .unwrap()
        .filter_map(|e| std::fs::read_link(e.unwrap().path()).ok())
        .map(|p| p.to_string_lossy().into_owned())
        .collect();
    assert!(
        fds.iter()
            .any(|p| p.starts_with(dir.to_str().unwrap()) && p.ends_with("(deleted)")),
        "{fds:?}"
    );
    d.signal("KILL");
    d.wait_exit(SOON).expect("SIGKILL ends the daemon");
    assert_eq!(listing(), 0, "nothing left behind after SIGKILL");
    drop(up);
}

#[test]
#[cfg_attr(not(unix), ignore = "sends SIGTERM with kill(1)")]
fn sigterm_exits_zero_and_lets_a_complete_log_drain() {
    let mut d = Daemon::start_process();
    let data = pattern(2_000_000, 4);
    let resp = client().put(d.put_url()).body(data.clone()).send().unwrap();
    assert_eq!(resp.status(), 201);
    // A reader mid-way through a complete log when SIGTERM arrives: its
    // response has begun (the head is read), so the daemon accepted it
    // before the signal.
    let mut reader = RawReader::connect(d.get, None);
    assert_eq!(reader.head().0, 200);
    d.signal("TERM");
    let got = read_complete(reader.body());
    assert!(got.ends_with(&data), "the reader finished within the grace");
    let status = d.wait_exit(Duration::from_secs(10)).expect("exits");
    assert_eq!(status.code(), Some(0));
}

#[test]
#[cfg_attr(not(unix), ignore = "sends SIGTERM with kill(1)")]
fn sigterm_ends_a_live_read_incomplete_and_exits_zero() {
    let mut d = Daemon::start_process();
    let mut up = Uploader::start(d.put);
    up.chunk(b"still running\n");
    let reader = CurlReader::spawn(&["-sN", "--max-time", "30", &d.get_url()]);
    // The reader is live: it has the bytes uploaded so far.
    reader.out.wait_len(14);
    let t = Instant::now();
    d.signal("TERM");
    let status = d.wait_exit(Duration::from_secs(15)).expect("exits");
    assert_eq!(status.code(), Some(0));
    assert!(t.elapsed() < Duration::from_secs(10), "{:?}", t.elapsed());
    let (code, out) = reader.finish();
    assert_eq!(out, b"still running\n");
    assert_ne!(code, 0, "a log cut off by shutdown is incomplete");
    drop(up);
}
