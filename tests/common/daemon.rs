//! The daemon under test: the real binary on ephemeral ports, its stderr
//! captured line by line, and what `/proc` says about the process.

use std::io::{BufRead, BufReader, Read};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::{TOKEN, wait_until};

/// The program under test: `LIVELOG_TEST_BIN` if set (scripts/wine-tests.sh
/// sets it to a wrapper that runs the Windows build under wine), else the
/// binary cargo built for this test or bench target (the debug build under
/// `cargo test`, the release build under `cargo bench`).
pub fn binary() -> &'static str {
    static BIN: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    BIN.get_or_init(|| {
        std::env::var("LIVELOG_TEST_BIN").unwrap_or_else(|_| env!("CARGO_BIN_EXE_livelog").into())
    })
}

/// Builds a daemon: environment (cleared, then ACCESS_TOKEN=secretpuppy and
/// both ports 0 unless overridden), the program, an optional wrapper command
/// (e.g. prlimit).
pub struct DaemonBuilder {
    program: PathBuf,
    envs: Vec<(String, String)>,
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
            program: binary().into(),
            envs: vec![
                ("ACCESS_TOKEN".into(), TOKEN.into()),
                ("LIVELOG_PUT_PORT".into(), "0".into()),
                ("LIVELOG_GET_PORT".into(), "0".into()),
            ],
            wrapper: vec![],
            temp_dir: None,
        }
    }

    /// Runs `program` instead of [`binary`] (the bench's `LIVELOG_BENCH_BIN`).
    pub fn program(mut self, program: impl Into<PathBuf>) -> Self {
        self.program = program.into();
        self
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
        self = self.env("LIVELOG_TEMP_DIR", dir.path().to_string_lossy());
        self.temp_dir = Some(dir);
        self
    }

    fn command(&self) -> Command {
        let mut cmd = match self.wrapper.split_first() {
            None => Command::new(&self.program),
            Some((wrapper, args)) => {
                let mut c = Command::new(wrapper);
                c.args(args).arg(&self.program);
                c
            }
        };
        cmd.env_clear();
        // prlimit and friends need PATH; livelog itself reads none of these.
        if let Ok(path) = std::env::var("PATH") {
            cmd.env("PATH", path);
        }
        // Windows cannot start networking (Winsock) without SystemRoot.
        if let Some(root) = std::env::var_os("SystemRoot") {
            cmd.env("SystemRoot", root);
        }
        for (k, v) in &self.envs {
            cmd.env(k, v);
        }
        // livelog writes nothing to stdout; everything it says is on stderr.
        cmd.stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        cmd
    }

    /// Starts the daemon and waits (up to 10 s) for its ready line.
    pub fn start(self) -> Daemon {
        let mut child = self
            .command()
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", self.program.display()));
        let stderr = Arc::new(Mutex::new(String::new()));
        let (ready_tx, ready_rx) = mpsc::channel::<(SocketAddr, SocketAddr)>();
        let pipe = child.stderr.take().expect("stderr");
        let sink = Arc::clone(&stderr);
        let collector = std::thread::spawn(move || {
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
                // The pipe is closed now: everything it said is collected.
                let _ = collector.join();
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
        let mut pipe = child.stderr.take().unwrap();
        let reader = std::thread::spawn(move || {
            let mut err = String::new();
            let _ = pipe.read_to_string(&mut err);
            err
        });
        let exited = wait_until(limit, || child.try_wait().expect("wait").is_some());
        if !exited {
            let _ = child.kill();
        }
        let status = child.wait().expect("wait");
        let err = reader.join().unwrap();
        assert!(
            exited,
            "livelog did not exit within {limit:?}; stderr:\n{err}"
        );
        (status, err)
    }
}

/// The address after ` key` in the ready line (`put=127.0.0.1:1234`).
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
        wait_until(limit, || self.stderr.lock().unwrap().contains(needle))
    }

    /// How many warnings and errors the daemon logged (stalls, accept
    /// failures).
    pub fn warnings(&self) -> usize {
        let s = self.stderr.lock().unwrap();
        s.lines()
            .filter(|l| l.contains("WARN") || l.contains("ERROR"))
            .count()
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
        loop {
            if let Some(status) = self.child.try_wait().expect("wait") {
                return Some(status);
            }
            if started.elapsed() > limit {
                return None;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// The daemon's pid.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Peak resident set size so far (VmHWM), in KiB.
    pub fn peak_rss_kib(&self) -> u64 {
        self.status_kib("VmHWM:")
    }

    /// Current resident set size (VmRSS), in KiB.
    pub fn rss_kib(&self) -> u64 {
        self.status_kib("VmRSS:")
    }

    fn status_kib(&self, key: &str) -> u64 {
        let status =
            std::fs::read_to_string(format!("/proc/{}/status", self.pid())).unwrap_or_default();
        status
            .lines()
            .find(|l| l.starts_with(key))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|n| n.parse().ok())
            .unwrap_or(0)
    }

    /// CPU time the daemon used so far (user + system), in seconds.
    pub fn cpu_secs(&self) -> f64 {
        let s = std::fs::read_to_string(format!("/proc/{}/stat", self.pid())).unwrap_or_default();
        // Fields after the command name (which is in parentheses).
        let rest = s.rsplit_once(')').map_or("", |(_, r)| r);
        let f: Vec<u64> = rest
            .split_whitespace()
            .map(|x| x.parse().unwrap_or(0))
            .collect();
        // utime and stime are fields 14 and 15 (1-based, counting pid and
        // comm), i.e. 11 and 12 here; in clock ticks of 1/100 s.
        (f.get(11).unwrap_or(&0) + f.get(12).unwrap_or(&0)) as f64 / 100.0
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
