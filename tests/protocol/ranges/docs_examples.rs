//! The `curl` examples of docs/ranges-and-compression.md, run as written
//! against a test daemon: the tail and resume of a finished log, a resume
//! that follows a live log, and continuing a partial `build.log` in place.

use super::*;

/// The `sh` block of docs/ranges-and-compression.md holding `needle`, run
/// against the test daemon.
fn readme_block(needle: &str, d: &Daemon) -> String {
    crate::common::doc_block("docs/ranges-and-compression.md", needle, d.get)
}

/// Runs a README block with `bash -ec` in `dir`, its stdout read as it
/// streams.
fn spawn_block(script: &str, dir: &std::path::Path) -> (Child, Streamed) {
    let mut child = Command::new("bash")
        .args(["-ec", script])
        .current_dir(dir)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("bash");
    let out = child.stdout.take().unwrap();
    (child, Streamed::new(out))
}

fn wait_exit(child: &mut Child) -> i32 {
    let started = Instant::now();
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status.code().unwrap_or(-1);
        }
        assert!(started.elapsed() < SOON, "curl did not exit");
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// The README's tail example, run as written: the last 1 KiB of a finished
/// log. And its resume example on a finished log: the rest, ending at once.
#[test]
#[cfg_attr(windows, ignore = "runs a README block with bash")]
fn readme_curl_examples_on_a_finished_log() {
    let d = Daemon::start();
    let log = pattern(50_000, 11);
    upload_complete(&d, &log);
    let url = d.get_url();

    let dir = tempfile::tempdir().unwrap();
    let tail = readme_block("curl -r -1024", &d);
    let (mut child, out) = spawn_block(&tail, dir.path());
    assert_eq!(wait_exit(&mut child), 0);
    assert_eq!(out.finish().data, &log[log.len() - 1024..]);

    let resume = readme_block("Range: bytes=N-", &d).replace("bytes=N-", "bytes=30000-");
    let (mut child, out) = spawn_block(&resume, dir.path());
    assert_eq!(wait_exit(&mut child), 0);
    assert_eq!(out.finish().data, &log[30_000..]);

    // `curl -I` as the README writes it: the complete length.
    let (code, out, err) = curl(&["-I", &url]);
    assert_eq!(code, 0, "{err}");
    let head = String::from_utf8(out).unwrap().to_ascii_lowercase();
    assert!(head.starts_with("http/1.1 200"), "{head}");
    assert!(head.contains("\ncontent-length: 50000\r\n"), "{head}");

    // curl reports the 206 and the Content-Range it was given.
    let (code, out, err) = curl(&["-sS", "-o", "/dev/null", "-D", "-", "-r", "-1024", &url]);
    assert_eq!(code, 0, "{err}");
    let head = String::from_utf8(out).unwrap().to_ascii_lowercase();
    assert!(head.starts_with("http/1.1 206"), "{head}");
    assert!(
        head.contains("content-range: bytes 48976-49999/50000\r\n"),
        "{head}"
    );
    assert!(head.contains("content-length: 1024\r\n"), "{head}");
}

/// The README's resume example, run as written while the upload continues:
/// `curl -N -H 'Range: bytes=N-9007199254740991'` yields exactly `log[N..]`
/// and exits 0 when the upload completes.
#[test]
#[cfg_attr(windows, ignore = "runs a README block with bash")]
fn readme_resume_follows_a_live_log_with_curl() {
    let d = Daemon::start();
    let log: Vec<u8> = (1..=3000)
        .flat_map(|i| format!("Log line {i}\n").into_bytes())
        .collect();
    let mut up = Uploader::start(d.put);
    up.chunk(&log[..20_000]);
    wait_stored(&d, 20_000);

    let n = 12_345;
    let resume = readme_block("Range: bytes=N-", &d).replace("bytes=N-", &format!("bytes={n}-"));
    let dir = tempfile::tempdir().unwrap();
    let (mut child, out) = spawn_block(&resume, dir.path());
    out.wait_len(20_000 - n);
    for part in log[20_000..].chunks(4096) {
        up.chunk(part);
    }
    out.wait_len(log.len() - n);
    assert!(child.try_wait().unwrap().is_none(), "curl ended early");
    assert_eq!(up.finish().0, 201);
    assert_eq!(wait_exit(&mut child), 0);
    let bytes = out.finish().data;
    assert_eq!(bytes, &log[n..]);
}

/// The README's "continue a partial build.log in place" example, run as
/// written while the upload continues: the file ends up the whole log.
#[test]
#[cfg_attr(not(target_os = "linux"), ignore = "the README block uses GNU stat")]
fn readme_continues_a_partial_file_in_place() {
    let d = Daemon::start();
    let log: Vec<u8> = (1..=4000)
        .flat_map(|i| format!("step {i}: ok\n").into_bytes())
        .collect();
    let mut up = Uploader::start(d.put);
    up.chunk(&log[..30_000]);
    wait_stored(&d, 30_000);

    // What a reader got before its connection dropped.
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("build.log");
    std::fs::write(&file, &log[..21_000]).unwrap();

    let script = readme_block("build.log", &d);
    assert!(script.contains(">> build.log"), "{script}");
    let (mut child, _) = spawn_block(&script, dir.path());
    let started = Instant::now();
    while std::fs::metadata(&file).unwrap().len() < 30_000 {
        assert!(started.elapsed() < SOON, "the resume did not catch up");
        std::thread::sleep(Duration::from_millis(10));
    }
    up.chunk(&log[30_000..]);
    assert_eq!(up.finish().0, 201);
    assert_eq!(wait_exit(&mut child), 0);
    assert_eq!(std::fs::read(&file).unwrap(), log);
}
