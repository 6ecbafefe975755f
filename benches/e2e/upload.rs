//! The `upload` scenario: one upload alone, next to socat copying the same
//! bytes over loopback into a file (the raw baseline measured in the same
//! run).

use super::*;

// ---------------------------------------------------------------- baselines

/// `n` parallel raw loopback copies of `path` with `socat -u -b 262144`,
/// each into a checker (`check`) or `/dev/null`; returns the time until the
/// last copy ended.
pub(super) fn socat_copies(path: &Path, n: usize, check: Option<&Arc<Vec<u8>>>) -> Duration {
    let mut receivers = vec![];
    let mut ports = vec![];
    for _ in 0..n {
        let port = free_port();
        let mut cmd = Command::new("socat");
        cmd.args([
            "-u",
            "-b",
            "262144",
            &format!("TCP-LISTEN:{port},bind=127.0.0.1,reuseaddr"),
        ]);
        if check.is_some() {
            cmd.arg("STDOUT").stdout(Stdio::piped());
        } else {
            cmd.arg("OPEN:/dev/null").stdout(Stdio::null());
        }
        let mut child = cmd.spawn().expect("socat is installed");
        let checker = check.map(|e| {
            Streamed::into_sink(child.stdout.take().unwrap(), Checker::new(Arc::clone(e)))
        });
        receivers.push((child, checker));
        ports.push(port);
    }
    // Wait until every receiver listens (a probe would take its one accept).
    wait_listening(&ports);
    let started = Instant::now();
    let senders: Vec<Child> = ports.iter().map(|port| socat_sender(path, *port)).collect();
    let mut last = started;
    for (mut child, checker) in receivers {
        child.wait().unwrap();
        let done = match checker {
            Some(c) => {
                let end = c.finish();
                assert!(end.data.exact(), "socat baseline copy was not exact");
                end.at
            }
            None => Instant::now(),
        };
        last = last.max(done);
    }
    for mut s in senders {
        s.wait().unwrap();
    }
    last - started
}

pub(super) fn upload_alone(path: &Path, expected: &Arc<Vec<u8>>) -> Row {
    // The disk under the temp file is the noisiest thing on a shared
    // machine, so the three measurements alternate and medians are kept.
    const RUNS: usize = 3;
    let len = expected.len();
    let (mut null, mut disk, mut upload, mut rss) = (vec![], vec![], vec![], 0);
    let mut warnings = String::new();
    for _ in 0..RUNS {
        null.push(socat_copies(path, 1, None));
        disk.push(socat_to_file(path, &temp_dir()));
        let d = start_daemon();
        upload.push(curl_upload(&d, path));
        rss = rss.max(d.peak_rss_kib());
        if d.warnings() > 0 {
            warnings.push_str(&d.stderr());
        }
    }
    let (null, disk, took) = (median(null), median(disk), median(upload));
    let row = Row {
        scenario: format!("upload {} MiB, no readers", len / MIB),
        mb_s: Some(mb_s(len, took)),
        baseline_mb_s: Some(mb_s(len, null)),
        ratio: Some(null.as_secs_f64() / took.as_secs_f64()),
        peak_rss_kib: Some(rss),
        note: format!(
            "medians of {RUNS} alternated runs; ratio = baseline time / upload time; \
             storing floor, socat into a file in the same directory: {:.0} MB/s, \
             upload / floor = {:.2}{}",
            mb_s(len, disk),
            disk.as_secs_f64() / took.as_secs_f64(),
            if warnings.is_empty() {
                ""
            } else {
                "; daemon logged warnings"
            },
        ),
        ..Row::default()
    };
    if !warnings.is_empty() {
        eprintln!("{warnings}");
    }
    println!("{}", row.markdown());
    row
}

/// One raw loopback copy of `path` into a new file in `dir` (socat both
/// ends, as [`socat_copies`]): what receiving and storing the bytes costs
/// with no HTTP and no readers. The file is removed afterwards.
pub(super) fn socat_to_file(path: &Path, dir: &Path) -> Duration {
    let port = free_port();
    let copy = dir.join("socat-copy.bin");
    let mut receiver = Command::new("socat")
        .args([
            "-u",
            "-b",
            "262144",
            &format!("TCP-LISTEN:{port},bind=127.0.0.1,reuseaddr"),
            &format!("OPEN:{},creat,trunc", copy.display()),
        ])
        .spawn()
        .expect("socat is installed");
    wait_listening(&[port]);
    let started = Instant::now();
    let mut sender = socat_sender(path, port);
    receiver.wait().unwrap();
    let took = started.elapsed();
    sender.wait().unwrap();
    let stored = std::fs::metadata(&copy).map_or(0, |m| m.len());
    assert_eq!(
        stored,
        std::fs::metadata(path).unwrap().len(),
        "socat copy short"
    );
    std::fs::remove_file(&copy).unwrap();
    took
}

/// A socat sending `path` to a receiver listening on `port` on loopback.
pub(super) fn socat_sender(path: &Path, port: u16) -> Child {
    Command::new("socat")
        .args([
            "-u",
            "-b",
            "262144",
            &format!("OPEN:{}", path.display()),
            &format!("TCP:127.0.0.1:{port},retry=100,interval=0.01"),
        ])
        .spawn()
        .expect("socat is installed")
}
