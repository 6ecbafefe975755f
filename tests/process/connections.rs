//! Connections, where the process is what is checked: the
//! connection cap, counted in the daemon's `/proc` entries; a streamed upload
//! on a full disk (a file-size limit set with prlimit); and a quick stop
//! (SIGTERM) when nothing is left to wait for. The rest is
//! `tests/protocol/connections.rs`.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use crate::common::net::established;
use crate::common::{Daemon, TOKEN, Uploader, curl, wait_until};

#[test]
#[cfg_attr(not(target_os = "linux"), ignore = "reads /proc")]
fn connections_beyond_the_cap_are_closed_and_a_reader_is_served_later() {
    let d = Daemon::builder()
        .env("LIVELOG_MAX_CONNECTIONS", "50")
        // Long enough that none of the 50 is timed out before the checks
        // below on a busy machine; they are timed out after them.
        .env("LIVELOG_HEADER_TIMEOUT_SECS", "6")
        .start_process();
    let port = d.get.port();
    // 60 connections that send nothing; ten are closed at once.
    let idle: Vec<TcpStream> = (0..60)
        .map(|_| TcpStream::connect(d.get).unwrap())
        .collect();
    let closed = || idle.iter().filter(|s| closed_by_server(s)).count();
    assert!(
        wait_until(Duration::from_secs(10), || closed() >= 10),
        "{} closed",
        closed()
    );
    assert_eq!(closed(), 10);
    let held = established(d.pid(), port);
    assert!(held <= 50, "the daemon holds {held} reader-port sockets");
    assert!(held >= 45, "the first 50 are held open: {held}");
    assert!(
        d.wait_for_log("connections closed at once", Duration::from_secs(5)),
        "{}",
        d.stderr()
    );

    // The header timeout closes the rest; then a reader is served.
    assert!(
        wait_until(Duration::from_secs(20), || established(d.pid(), port) == 0),
        "still held: {}",
        established(d.pid(), port)
    );
    drop(idle);
    let mut up = Uploader::start(d.put);
    up.chunk(b"served\n");
    assert_eq!(up.finish().0, 201);
    let (code, out, err) = curl(&["-sS", &d.get_url()]);
    assert_eq!((code, out.as_slice()), (0, &b"served\n"[..]), "{err}");
}

/// `true` if the server closed `s` (the end of the stream, or a reset, is
/// there to read).
fn closed_by_server(s: &TcpStream) -> bool {
    s.set_nonblocking(true).unwrap();
    let mut b = [0u8; 1];
    let closed = match s.peek(&mut b) {
        Ok(0) => true,
        Ok(_) => false,
        Err(e) => e.kind() != std::io::ErrorKind::WouldBlock,
    };
    s.set_nonblocking(false).unwrap();
    closed
}

/// On a full disk (a file-size limit of 100,000 bytes) a streamed `curl -T -`
/// upload reads the 507 and its reason, instead of a broken pipe: livelog
/// reads and discards the rest of the body after answering.
#[test]
#[cfg_attr(not(target_os = "linux"), ignore = "needs prlimit (util-linux)")]
fn a_streamed_upload_that_fills_the_disk_reads_its_507() {
    for round in 0..3 {
        let d = Daemon::builder()
            .own_temp_dir()
            .wrapper(&["prlimit", "--fsize=100000", "--"])
            .start_process();
        let out = Command::new("bash")
            .args([
                "-c",
                &format!(
                    "head -c 400000 /dev/urandom | curl -sS -T - -w '\\nstatus=%{{http_code}}' {}",
                    d.put_url()
                ),
            ])
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            stdout.starts_with("insufficient storage: stored 100000 bytes, then: ")
                && stdout.ends_with("\nstatus=507"),
            "round {round}: curl printed {stdout:?}, stderr {stderr:?}"
        );
    }
}

/// SIGTERM with nothing left to wait for — no upload in progress, every
/// reader sent all there is — exits 0 at once, not after the 5 s grace.
#[test]
#[cfg_attr(
    not(target_os = "linux"),
    ignore = "sends SIGTERM with kill(1) and reads /proc"
)]
fn sigterm_with_nothing_to_wait_for_exits_at_once() {
    // A reader waiting for an upload that has not started.
    let mut d = Daemon::start_process();
    let mut reader = Command::new("curl")
        .args(["-sN", &d.get_url()])
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    assert!(wait_until(Duration::from_secs(10), || reader_waiting(&d)));
    let t = Instant::now();
    d.signal("TERM");
    let status = d.wait_exit(Duration::from_secs(10)).expect("exits");
    let took = t.elapsed();
    assert_eq!(status.code(), Some(0));
    assert!(took < Duration::from_millis(2500), "took {took:?}");
    let code = reader.wait().unwrap().code();
    assert_ne!(
        code,
        Some(0),
        "no log was uploaded: the reader is incomplete"
    );

    // A complete log whose reader has everything and keeps its connection.
    let mut d = Daemon::start_process();
    let mut up = Uploader::start(d.put);
    up.chunk(b"all of it\n");
    assert_eq!(up.finish().0, 201);
    let mut keep = TcpStream::connect(d.get).unwrap();
    write!(keep, "GET /log/{TOKEN} HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
    let mut head = vec![0u8; 4096];
    let n = keep.read(&mut head).unwrap();
    assert!(String::from_utf8_lossy(&head[..n]).ends_with("all of it\n"));
    let t = Instant::now();
    d.signal("TERM");
    assert_eq!(
        d.wait_exit(Duration::from_secs(10)).unwrap().code(),
        Some(0)
    );
    assert!(
        t.elapsed() < Duration::from_millis(2500),
        "{:?}",
        t.elapsed()
    );
}

/// `true` once the daemon holds a connection on its reader port (the one
/// reader a test started, waiting at the end of the log).
fn reader_waiting(d: &Daemon) -> bool {
    established(d.pid(), d.get.port()) >= 1
}

/// While an upload runs, SIGTERM keeps its grace: the upload may finish,
/// and its readers get the whole log, complete.
#[test]
#[cfg_attr(
    not(target_os = "linux"),
    ignore = "sends SIGTERM with kill(1) and reads /proc"
)]
fn sigterm_during_an_upload_lets_it_finish_within_the_grace() {
    let mut d = Daemon::start_process();
    let mut up = Uploader::start(d.put);
    up.chunk(b"first\n");
    let url = d.get_url();
    let reader = thread::spawn(move || curl(&["-sN", &url]));
    assert!(wait_until(Duration::from_secs(10), || reader_waiting(&d)));
    d.signal("TERM");
    assert!(d.wait_for_log("shutting down", Duration::from_secs(10)));
    up.chunk(b"second\n");
    let (status, body) = up.finish();
    assert_eq!(status, 201, "{body}");
    let (code, out, err) = reader.join().unwrap();
    assert_eq!(
        (code, out.as_slice()),
        (0, &b"first\nsecond\n"[..]),
        "{err}"
    );
    assert_eq!(
        d.wait_exit(Duration::from_secs(10)).unwrap().code(),
        Some(0)
    );
}
