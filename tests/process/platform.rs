//! What livelog must do on every platform the Go livelog runs on:
//! listen on IPv4 and IPv6, serve every certificate and key the Go livelog
//! serves, take whatever environment a CI worker passes on, stop on the
//! platform's stop request, and leave nothing behind after a hard kill.
//!
//! Real binary, real sockets, real clients (`curl`, `openssl` to make the
//! certificates). `.ci/run` also runs this file against the Windows build
//! under wine (`LIVELOG_TEST_BIN`), less the tests it lists as left out.

use std::ffi::OsString;
use std::io::{BufRead, BufReader};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use crate::common;
use crate::common::{Daemon, DaemonBuilder, TOKEN, binary, curl, wait_until};

mod environment;
mod tls;

/// Whether this machine has an IPv6 loopback (a container may not).
fn ipv6_loopback() -> Result<(), String> {
    std::net::TcpListener::bind("[::1]:0")
        .map(drop)
        .map_err(|e| format!("this machine has no IPv6 loopback ({e})"))
}

/// Whether a TCP connection to `addr` is refused (nothing listens there).
fn refused(addr: SocketAddr) -> bool {
    match TcpStream::connect_timeout(&addr, Duration::from_secs(5)) {
        Ok(_) => false,
        Err(e) => e.kind() == std::io::ErrorKind::ConnectionRefused,
    }
}

/// Uploads `body` with `curl -T -` to `url`; panics unless it is stored.
fn curl_upload(url: &str, body: &[u8]) {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("log");
    std::fs::write(&file, body).unwrap();
    let (code, out, err) = curl(&["-sS", "-g", "-T", &file.to_string_lossy(), url]);
    assert_eq!(code, 0, "upload to {url}: {err}");
    let out = String::from_utf8_lossy(&out);
    assert!(out.starts_with("created: stored"), "upload to {url}: {out}");
}

/// `curl -sS -g` of `url` (plus `extra` options): (exit code, body, stderr).
fn curl_get(url: &str, extra: &[&str]) -> (i32, Vec<u8>, String) {
    let mut args = vec!["-sS", "-g"];
    args.extend_from_slice(extra);
    args.push(url);
    curl(&args)
}

#[test]
fn readers_connect_over_ipv4_and_ipv6_and_the_upload_over_either_loopback() {
    if let Err(why) = ipv6_loopback() {
        eprintln!("skipped: {why}");
        return;
    }
    let d = Daemon::builder().own_temp_dir().start_process();
    // The reader port is one socket on [::] that takes IPv4 too.
    assert_eq!(
        d.get_bound.ip(),
        IpAddr::V6(Ipv6Addr::UNSPECIFIED),
        "{}",
        d.stderr()
    );
    let ready = d.stderr();
    let v6_put = format!("http://[::1]:{}/log", d.put.port());
    assert!(
        ready.contains(&v6_put),
        "the ready line does not name {v6_put}:\n{ready}"
    );

    // Upload over IPv6 loopback, as a worker does when `localhost` is ::1.
    curl_upload(&v6_put, b"over ::1\n");
    for host in ["127.0.0.1", "[::1]", "localhost"] {
        let url = format!("http://{host}:{}/log/{TOKEN}", d.get.port());
        let (code, body, err) = curl_get(&url, &[]);
        assert_eq!(code, 0, "{url}: {err}");
        assert_eq!(body, b"over ::1\n", "{url}");
    }
    // A second upload over IPv4 loopback reaches the same port (and is
    // refused as a second upload, not as a connection).
    let dir = tempfile::tempdir().unwrap();
    let (empty, reply) = (dir.path().join("empty"), dir.path().join("reply"));
    std::fs::write(&empty, b"").unwrap();
    let (code, out, err) = curl(&[
        "-sS",
        "-T",
        &empty.to_string_lossy(),
        "-w",
        "%{http_code}",
        "-o",
        &reply.to_string_lossy(),
        &format!("http://127.0.0.1:{}/log", d.put.port()),
    ]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(String::from_utf8_lossy(&out), "409");
}

#[test]
fn get_host_binds_the_one_address_it_names() {
    if let Err(why) = ipv6_loopback() {
        eprintln!("skipped: {why}");
        return;
    }
    for (host, serves, refuses) in [
        (
            "127.0.0.1",
            IpAddr::V4(Ipv4Addr::LOCALHOST),
            IpAddr::V6(Ipv6Addr::LOCALHOST),
        ),
        (
            "::1",
            IpAddr::V6(Ipv6Addr::LOCALHOST),
            IpAddr::V4(Ipv4Addr::LOCALHOST),
        ),
    ] {
        let d = Daemon::builder()
            .env("LIVELOG_GET_HOST", host)
            .own_temp_dir()
            .start_process();
        assert_eq!(d.get_bound.ip(), serves, "{}", d.stderr());
        let port = d.get.port();
        assert!(
            refused(SocketAddr::new(refuses, port)),
            "LIVELOG_GET_HOST={host}: reachable on {refuses}"
        );
        curl_upload(
            &format!("http://127.0.0.1:{}/log", d.put.port()),
            b"one address\n",
        );
        let url = format!("http://{}/log/{TOKEN}", SocketAddr::new(serves, port));
        let (code, body, err) = curl_get(&url, &[]);
        assert_eq!(code, 0, "{url}: {err}");
        assert_eq!(body, b"one address\n");
    }
}

#[test]
fn upload_port_listens_on_both_loopbacks_and_nowhere_else() {
    let d = Daemon::builder().own_temp_dir().start_process();
    assert_eq!(
        d.put.ip(),
        IpAddr::V4(Ipv4Addr::LOCALHOST),
        "{}",
        d.stderr()
    );
    match ipv6_loopback() {
        Ok(()) => {
            let v6 = SocketAddr::new(Ipv6Addr::LOCALHOST.into(), d.put.port());
            assert!(!refused(v6), "the upload port does not listen on {v6}");
        }
        Err(why) => eprintln!("IPv6 half skipped: {why}"),
    }
    // Not on the reader's wildcard: a non-loopback address of this machine
    // is tested in ship.rs; here, the port is bound to loopback addresses
    // only, as the ready line says.
    let ready = d.stderr();
    assert!(
        !ready.contains(&format!("0.0.0.0:{}", d.put.port())),
        "{ready}"
    );
    assert!(
        !ready.contains(&format!("[::]:{}", d.put.port())),
        "{ready}"
    );
}

// ---------------------------------------------------------------------------
// Ending: a hard kill, and the stop request.

#[test]
fn a_hard_kill_leaves_nothing_in_the_temp_dir() {
    let mut d = DaemonBuilder::new().own_temp_dir().start_process();
    let dir = d.temp_dir().unwrap().to_owned();
    // Some stored bytes, read back, so the file has content.
    curl_upload(&d.put_url(), &common::pattern(300_000, 7));
    let (code, body, err) = curl_get(&d.get_url(), &[]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(body.len(), 300_000);
    // SIGKILL on Unix; under wine, the same kills the Windows process as
    // TerminateProcess does: no handler runs.
    d.child().kill().unwrap();
    d.child().wait().unwrap();
    let listing = || -> Vec<String> {
        std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect()
    };
    // Windows deletes a delete-on-close file as the dead process's handles
    // close, just after it ends.
    assert!(
        wait_until(Duration::from_secs(30), || listing().is_empty()),
        "left in LIVELOG_TEMP_DIR after a hard kill: {:?}",
        listing()
    );
}

/// SIGINT (what a terminal's Ctrl-C sends; under wine, Windows' Ctrl-C
/// event) stops livelog gracefully: a finished log drains and it exits 0.
#[test]
#[cfg_attr(not(unix), ignore = "sends SIGINT with kill(1)")]
fn the_stop_request_lets_a_finished_log_drain_and_exits_zero() {
    let mut d = Daemon::builder().own_temp_dir().start_process();
    curl_upload(&d.put_url(), b"drained\n");
    d.signal("INT");
    let status = d.wait_exit(Duration::from_secs(30));
    assert_eq!(status.and_then(|s| s.code()), Some(0), "{}", d.stderr());
    let log = d.stderr();
    assert!(log.contains("received: shutting down"), "{log}");
    assert!(log.contains("livelog stopped stored=8"), "{log}");
}
