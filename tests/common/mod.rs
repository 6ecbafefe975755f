//! Shared test harness: runs the real `livelog` binary on ephemeral ports and
//! talks to it over real sockets.
//!
//! Each test file does `mod common;` and uses what it needs, so some helpers
//! are unused in some files.
#![allow(dead_code)]

pub mod data;
// Not every test file uses `pattern`.
#[allow(unused_imports)]
pub use data::pattern;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The token every test daemon uses unless told otherwise.
pub const TOKEN: &str = "secretpuppy";

/// Path of the binary under test.
pub fn binary() -> &'static str {
    env!("CARGO_BIN_EXE_livelog")
}

/// Builds a daemon: environment (cleared, then ACCESS_TOKEN=secretpuppy and
/// both ports 0 unless overridden), optional wrapper command (e.g. prlimit).
pub struct DaemonBuilder {
    envs: Vec<(String, String)>,
    removed: Vec<String>,
    wrapper: Vec<String>,
    temp_dir: Option<tempfile::TempDir>,
}

impl Default for DaemonBuilder {
    fn default() -> Self {
        Self::new()
    }
}

impl DaemonBuilder {
    pub fn new() -> Self {
        DaemonBuilder {
            envs: vec![
                ("ACCESS_TOKEN".into(), TOKEN.into()),
                ("LIVELOG_PUT_PORT".into(), "0".into()),
                ("LIVELOG_GET_PORT".into(), "0".into()),
            ],
            removed: vec![],
            wrapper: vec![],
            temp_dir: None,
        }
    }

    /// Sets (or overrides) one variable.
    pub fn env(mut self, key: &str, value: impl Into<String>) -> Self {
        let value = value.into();
        self.envs.retain(|(k, _)| k != key);
        self.envs.push((key.into(), value));
        self
    }

    /// Leaves a variable out entirely.
    pub fn without(mut self, key: &str) -> Self {
        self.envs.retain(|(k, _)| k != key);
        self.removed.push(key.into());
        self
    }

    /// Runs the binary under `wrapper` (e.g. `["prlimit", "--fsize=1048576", "--"]`).
    pub fn wrapper(mut self, wrapper: &[&str]) -> Self {
        self.wrapper = wrapper.iter().map(|s| s.to_string()).collect();
        self
    }

    /// Uses a fresh temp dir as LIVELOG_TEMP_DIR (kept alive by the daemon).
    pub fn own_temp_dir(mut self) -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        self.envs.retain(|(k, _)| k != "LIVELOG_TEMP_DIR");
        self.envs.push((
            "LIVELOG_TEMP_DIR".into(),
            dir.path().to_string_lossy().into_owned(),
        ));
        self.temp_dir = Some(dir);
        self
    }

    fn command(&self) -> Command {
        let mut cmd = if self.wrapper.is_empty() {
            Command::new(binary())
        } else {
            let mut c = Command::new(&self.wrapper[0]);
            c.args(&self.wrapper[1..]).arg(binary());
            c
        };
        cmd.env_clear();
        // prlimit and friends need PATH; livelog itself reads none of these.
        if let Ok(path) = std::env::var("PATH") {
            cmd.env("PATH", path);
        }
        for (k, v) in &self.envs {
            cmd.env(k, v);
        }
        cmd.stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        cmd
    }

    /// Starts the daemon and waits (up to 10 s) for its ready line.
    pub fn start(self) -> Daemon {
        let mut child = self.command().spawn().expect("spawn livelog");
        let stderr = Arc::new(Mutex::new(String::new()));
        let (ready_tx, ready_rx) = mpsc::channel::<(SocketAddr, SocketAddr)>();
        let pipe = child.stderr.take().expect("stderr");
        let sink = Arc::clone(&stderr);
        std::thread::spawn(move || {
            let mut ready_tx = Some(ready_tx);
            for line in BufReader::new(pipe).lines() {
                let Ok(line) = line else { break };
                // Stored before readiness is signalled, so a test that sees
                // the daemon ready also sees the ready line in `stderr()`.
                {
                    let mut s = sink.lock().unwrap();
                    s.push_str(&line);
                    s.push('\n');
                }
                if let Some(tx) = &ready_tx {
                    if let (Some(put), Some(get)) = (field(&line, "put="), field(&line, "get=")) {
                        let _ = tx.send((put, get));
                        ready_tx = None;
                    }
                }
            }
        });
        let (put, get) = match ready_rx.recv_timeout(Duration::from_secs(10)) {
            Ok(addrs) => addrs,
            Err(_) => {
                let _ = child.kill();
                let _ = child.wait();
                std::thread::sleep(Duration::from_millis(100));
                panic!(
                    "livelog did not become ready; stderr:\n{}",
                    stderr.lock().unwrap()
                );
            }
        };
        Daemon {
            child,
            put,
            get: SocketAddr::new([127, 0, 0, 1].into(), get.port()),
            get_bound: get,
            stderr,
            temp_dir: self.temp_dir,
        }
    }

    /// Runs the binary expecting it to exit by itself within `limit`;
    /// returns its exit status and stderr.
    pub fn run_to_exit(self, limit: Duration) -> (ExitStatus, String) {
        let mut child = self.command().spawn().expect("spawn livelog");
        let started = Instant::now();
        loop {
            if let Some(status) = child.try_wait().expect("wait") {
                let mut err = String::new();
                child
                    .stderr
                    .take()
                    .unwrap()
                    .read_to_string(&mut err)
                    .unwrap();
                return (status, err);
            }
            if started.elapsed() > limit {
                let _ = child.kill();
                let _ = child.wait();
                let mut err = String::new();
                child
                    .stderr
                    .take()
                    .unwrap()
                    .read_to_string(&mut err)
                    .unwrap();
                panic!("livelog did not exit within {limit:?}; stderr:\n{err}");
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

fn field(line: &str, key: &str) -> Option<SocketAddr> {
    let start = line.find(&format!(" {key}"))? + 1 + key.len();
    let rest = &line[start..];
    let end = rest.find(' ').unwrap_or(rest.len());
    rest[..end].trim_matches('"').parse().ok()
}

/// A running livelog. Killed (SIGKILL) on drop if still running.
pub struct Daemon {
    pub child: Child,
    /// Upload listener address.
    pub put: SocketAddr,
    /// Reader listener address, as a client dials it (127.0.0.1).
    pub get: SocketAddr,
    /// Reader listener address as bound (0.0.0.0).
    pub get_bound: SocketAddr,
    stderr: Arc<Mutex<String>>,
    temp_dir: Option<tempfile::TempDir>,
}

impl Daemon {
    /// Default daemon.
    pub fn start() -> Daemon {
        DaemonBuilder::new().start()
    }

    pub fn builder() -> DaemonBuilder {
        DaemonBuilder::new()
    }

    /// `http://127.0.0.1:<put>/log`
    pub fn put_url(&self) -> String {
        format!("http://{}/log", self.put)
    }

    /// `http://127.0.0.1:<get>/log/secretpuppy`
    pub fn get_url(&self) -> String {
        format!("http://{}/log/{TOKEN}", self.get)
    }

    /// `https://localhost:<get>/log/secretpuppy`
    pub fn https_url(&self) -> String {
        format!("https://localhost:{}/log/{TOKEN}", self.get.port())
    }

    /// Everything the daemon wrote to stderr so far.
    pub fn stderr(&self) -> String {
        self.stderr.lock().unwrap().clone()
    }

    /// Waits (up to `limit`) for stderr to contain `needle`.
    pub fn wait_for_log(&self, needle: &str, limit: Duration) -> bool {
        let started = Instant::now();
        while started.elapsed() < limit {
            if self.stderr().contains(needle) {
                return true;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        false
    }

    /// The temp dir given with `own_temp_dir`.
    pub fn temp_dir(&self) -> Option<&Path> {
        self.temp_dir.as_ref().map(|d| d.path())
    }

    /// Sends `signal` (e.g. "TERM", "KILL") with kill(1).
    pub fn signal(&self, signal: &str) {
        let status = Command::new("kill")
            .arg(format!("-{signal}"))
            .arg(self.child.id().to_string())
            .status()
            .expect("kill");
        assert!(status.success());
    }

    /// Waits (up to `limit`) for the process to exit.
    pub fn wait_exit(&mut self, limit: Duration) -> Option<ExitStatus> {
        let started = Instant::now();
        while started.elapsed() < limit {
            if let Some(status) = self.child.try_wait().expect("wait") {
                return Some(status);
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        None
    }

    /// The daemon's pid.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Peak resident set size so far (VmHWM), in KiB.
    pub fn peak_rss_kib(&self) -> u64 {
        status_kib(self.pid(), "VmHWM:")
    }

    /// Current resident set size (VmRSS), in KiB.
    pub fn rss_kib(&self) -> u64 {
        status_kib(self.pid(), "VmRSS:")
    }
}

fn status_kib(pid: u32, key: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find(|l| l.starts_with(key))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|n| n.parse().ok())
        .unwrap_or(0)
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A raw HTTP/1.1 chunked upload over a plain TCP socket, for exact control
/// of framing (good chunks, bad chunks, aborts).
pub struct Uploader {
    pub stream: TcpStream,
}

impl Uploader {
    /// Connects and sends the request head of a chunked `PUT /log`.
    pub fn start(put: SocketAddr) -> Uploader {
        let mut stream = TcpStream::connect(put).expect("connect to upload port");
        stream.set_nodelay(true).unwrap();
        write!(
            stream,
            "PUT /log HTTP/1.1\r\nHost: {put}\r\nTransfer-Encoding: chunked\r\n\r\n"
        )
        .unwrap();
        Uploader { stream }
    }

    /// Sends one chunk.
    pub fn chunk(&mut self, data: &[u8]) {
        if data.is_empty() {
            return;
        }
        write!(self.stream, "{:x}\r\n", data.len()).unwrap();
        self.stream.write_all(data).unwrap();
        self.stream.write_all(b"\r\n").unwrap();
        self.stream.flush().unwrap();
    }

    /// Sends the last chunk and returns the response's status code and body.
    pub fn finish(mut self) -> (u16, String) {
        self.stream.write_all(b"0\r\n\r\n").unwrap();
        read_response(&mut self.stream)
    }

    /// Drops the connection mid-upload (no last chunk).
    pub fn abort(self) {
        let _ = self.stream.shutdown(std::net::Shutdown::Both);
    }
}

/// Reads one HTTP/1.1 response with a Content-Length body (as livelog's
/// short replies have) and returns `(status, body)`.
pub fn read_response(stream: &mut TcpStream) -> (u16, String) {
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    let mut reader = BufReader::new(stream);
    let mut status_line = String::new();
    reader.read_line(&mut status_line).unwrap();
    let status: u16 = status_line
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("bad status line {status_line:?}"));
    let mut len = 0usize;
    loop {
        let mut line = String::new();
        reader.read_line(&mut line).unwrap();
        if line == "\r\n" || line.is_empty() {
            break;
        }
        if let Some((k, v)) = line.split_once(':') {
            if k.eq_ignore_ascii_case("content-length") {
                len = v.trim().parse().unwrap();
            }
        }
    }
    let mut body = vec![0; len];
    reader.read_exact(&mut body).unwrap();
    (status, String::from_utf8_lossy(&body).into_owned())
}

/// Sends a raw request (bytes as given) and returns the whole raw response
/// (until the server closes or 10 s pass).
pub fn raw_exchange(addr: SocketAddr, request: &[u8]) -> Vec<u8> {
    let mut stream = TcpStream::connect(addr).expect("connect");
    stream.write_all(request).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut out = Vec::new();
    let _ = stream.read_to_end(&mut out);
    out
}

/// Runs `curl` with `args`; returns (exit code, stdout bytes, stderr text).
pub fn curl(args: &[&str]) -> (i32, Vec<u8>, String) {
    let out = Command::new("curl")
        .args(args)
        .output()
        .expect("curl is installed");
    (
        out.status.code().unwrap_or(-1),
        out.stdout,
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// A self-signed certificate for `localhost` (rcgen): returns the directory
/// holding `cert.pem` and `key.pem`, and the certificate PEM.
pub fn self_signed_cert() -> (tempfile::TempDir, PathBuf, PathBuf, String) {
    let cert = rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let cert_path = dir.path().join("cert.pem");
    let key_path = dir.path().join("key.pem");
    let cert_pem = cert.cert.pem();
    std::fs::write(&cert_path, &cert_pem).unwrap();
    std::fs::write(&key_path, cert.key_pair.serialize_pem()).unwrap();
    (dir, cert_path, key_path, cert_pem)
}

/// A blocking reqwest client with no timeouts of its own.
pub fn client() -> reqwest::blocking::Client {
    reqwest::blocking::Client::builder()
        .no_proxy()
        .build()
        .unwrap()
}
