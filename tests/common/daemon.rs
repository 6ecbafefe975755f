//! The daemon under test, on ephemeral ports, and its log: in this process
//! by default ([`DaemonBuilder::start`], livelog's library on a thread and
//! runtime of its own: see `in_process.rs`), or the real binary
//! ([`DaemonBuilder::start_process`]), its stderr captured line by line, for
//! what only a process has: signals, exit codes, `/proc` (RSS, CPU time,
//! open files), a wrapper such as prlimit.

use std::io::{BufRead, BufReader, Read};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::in_process::Instance;
use super::{TOKEN, in_process, wait_until};

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

/// Whether `LIVELOG_TEST_BIN` names the program to test (wine): then every
/// daemon is that program, [`DaemonBuilder::start`] included.
fn test_bin_set() -> bool {
    std::env::var_os("LIVELOG_TEST_BIN").is_some()
}

/// Builds a daemon: environment (cleared, then ACCESS_TOKEN=secretpuppy and
/// both ports 0 unless overridden), and, for the process, the program and an
/// optional wrapper command (e.g. prlimit).
pub struct DaemonBuilder {
    /// `None`: [`binary`].
    program: Option<PathBuf>,
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
            program: None,
            envs: vec![
                ("ACCESS_TOKEN".into(), TOKEN.into()),
                ("LIVELOG_PUT_PORT".into(), "0".into()),
                ("LIVELOG_GET_PORT".into(), "0".into()),
            ],
            wrapper: vec![],
            temp_dir: None,
        }
    }

    /// Runs `program` instead of [`binary`] (the bench's `LIVELOG_BENCH_BIN`);
    /// process only.
    pub fn program(mut self, program: impl Into<PathBuf>) -> Self {
        self.program = Some(program.into());
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

    /// Runs the binary under `wrapper` (e.g. `["prlimit", "--fsize=1048576", "--"]`);
    /// process only.
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

    /// The program to run: [`binary`] unless [`DaemonBuilder::program`].
    fn program_path(&self) -> PathBuf {
        self.program.clone().unwrap_or_else(|| binary().into())
    }

    fn command(&self) -> Command {
        let program = self.program_path();
        let mut cmd = match self.wrapper.split_first() {
            None => Command::new(&program),
            Some((wrapper, args)) => {
                let mut c = Command::new(wrapper);
                c.args(args).arg(&program);
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

    /// Starts the daemon in this process and waits (up to 10 s) until it
    /// logged its ready line; panics if it cannot start. With
    /// `LIVELOG_TEST_BIN` set, starts that program instead
    /// ([`DaemonBuilder::start_process`]), so that wine runs every test.
    ///
    /// The environment is the builder's alone, as for the process; `DEBUG`
    /// and `RUST_LOG` choose what its log keeps, as they do the binary's.
    pub fn start(self) -> Daemon {
        if test_bin_set() {
            return self.start_process();
        }
        assert!(
            self.wrapper.is_empty() && self.program.is_none(),
            "a wrapper or a program of its own runs the binary: start this daemon with start_process()"
        );
        let stderr = Arc::new(Mutex::new(String::new()));
        let (instance, put, get) = in_process::start(&self.envs, Arc::clone(&stderr));
        Daemon {
            put,
            get: SocketAddr::new([127, 0, 0, 1].into(), get.port()),
            get_bound: get,
            stderr,
            backend: Backend::InProcess(instance),
            temp_dir: self.temp_dir,
        }
    }

    /// Starts the binary ([`binary`], or [`DaemonBuilder::program`], under the
    /// wrapper if any) and waits (up to 10 s) for its ready line.
    pub fn start_process(self) -> Daemon {
        let mut child = self
            .command()
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", self.program_path().display()));
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
            put,
            get: SocketAddr::new([127, 0, 0, 1].into(), get.port()),
            get_bound: get,
            stderr,
            backend: Backend::Process { child, collector },
            temp_dir: self.temp_dir,
        }
    }

    /// Runs the binary (always: an exit status is the process's) expecting it
    /// to exit by itself within `limit`; returns its exit status and stderr.
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

/// A running livelog, in this process or the binary. Stopped at once on
/// drop: the process is killed (SIGKILL), the in-process one dropped with
/// its runtime, without the graceful shutdown's wait.
pub struct Daemon {
    /// Upload listener address.
    pub put: SocketAddr,
    /// Reader listener address, as a client dials it (127.0.0.1).
    pub get: SocketAddr,
    /// Reader listener address as bound (0.0.0.0).
    pub get_bound: SocketAddr,
    /// Its log: the process's stderr, or the in-process instance's lines.
    stderr: Arc<Mutex<String>>,
    backend: Backend,
    temp_dir: Option<tempfile::TempDir>,
}

/// Where a [`Daemon`] runs.
enum Backend {
    /// The binary, and the thread collecting its stderr (it ends when the
    /// pipe closes, i.e. when the process has exited).
    Process {
        child: Child,
        collector: std::thread::JoinHandle<()>,
    },
    /// The library, in this process.
    InProcess(Instance),
}

impl Daemon {
    /// Default daemon, in this process ([`DaemonBuilder::start`]).
    pub fn start() -> Daemon {
        DaemonBuilder::new().start()
    }

    /// Default daemon, the binary ([`DaemonBuilder::start_process`]).
    pub fn start_process() -> Daemon {
        DaemonBuilder::new().start_process()
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

    /// Everything the daemon logged so far (the process: its stderr).
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

    /// The process, for `what` (a process-only method); panics if this
    /// daemon runs in the test process.
    fn process(&mut self, what: &str) -> &mut Child {
        match &mut self.backend {
            Backend::Process { child, .. } => child,
            Backend::InProcess(_) => not_a_process(what),
        }
    }

    /// The process's pid, for `what` (see [`Daemon::process`]).
    fn process_id(&self, what: &str) -> u32 {
        match &self.backend {
            Backend::Process { child, .. } => child.id(),
            Backend::InProcess(_) => not_a_process(what),
        }
    }

    /// The process (process only).
    pub fn child(&mut self) -> &mut Child {
        self.process("child()")
    }

    /// Sends `signal` (e.g. "TERM", "KILL") with kill(1) (process only).
    pub fn signal(&self, signal: &str) {
        let status = Command::new("kill")
            .arg(format!("-{signal}"))
            .arg(self.process_id("signal()").to_string())
            .status()
            .expect("kill");
        assert!(status.success());
    }

    /// Waits (up to `limit`) for the process to exit (process only). Once it
    /// has, [`Daemon::stderr`] holds everything it wrote (its last lines are
    /// collected before this returns, within 5 s).
    pub fn wait_exit(&mut self, limit: Duration) -> Option<ExitStatus> {
        let started = Instant::now();
        let Backend::Process { child, collector } = &mut self.backend else {
            not_a_process("wait_exit()")
        };
        loop {
            if let Some(status) = child.try_wait().expect("wait") {
                // The pipe closed with the process: wait for the collector
                // to store what was still in it.
                wait_until(Duration::from_secs(5), || collector.is_finished());
                return Some(status);
            }
            if started.elapsed() > limit {
                return None;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// The daemon's pid (process only).
    pub fn pid(&self) -> u32 {
        self.process_id("pid()")
    }

    /// Peak resident set size so far (VmHWM), in KiB (process only).
    pub fn peak_rss_kib(&self) -> u64 {
        self.status_kib("peak_rss_kib()", "VmHWM:")
    }

    /// Current resident set size (VmRSS), in KiB (process only).
    pub fn rss_kib(&self) -> u64 {
        self.status_kib("rss_kib()", "VmRSS:")
    }

    fn status_kib(&self, what: &str, key: &str) -> u64 {
        let pid = self.process_id(what);
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
        status
            .lines()
            .find(|l| l.starts_with(key))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|n| n.parse().ok())
            .unwrap_or(0)
    }

    /// CPU time the daemon used so far (user + system), in seconds (process
    /// only).
    pub fn cpu_secs(&self) -> f64 {
        let pid = self.process_id("cpu_secs()");
        let s = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
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

/// Panics: `what`, a process-only method, was called on an in-process
/// daemon.
fn not_a_process(what: &str) -> ! {
    panic!(
        "{what} needs the livelog process, but this daemon runs in the test process: \
         start it with start_process()"
    )
}

impl Drop for Daemon {
    fn drop(&mut self) {
        // The in-process instance stops when `backend` drops (before the
        // temp dir does).
        if let Backend::Process { child, .. } = &mut self.backend {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}
