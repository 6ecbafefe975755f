//! Headless Chromium driven over WebDriver: a `chromedriver` of our own on
//! an ephemeral port, one browser session with a fresh profile, all of it
//! torn down on drop (even when a test panics).
//!
//! Binaries: `LIVELOG_CHROMIUM` and `LIVELOG_CHROMEDRIVER`, else Debian's
//! `chromium` and `chromium-driver` where apt puts them, else `PATH`. The
//! two must be the same version (Debian's packages are).
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use fantoccini::wd::WebDriverCompatibleCommand;
use fantoccini::{Client, ClientBuilder};
use serde_json::{Value, json};

/// How long a page may take to reach a state a test waits for: generous,
/// for two busy cores.
pub const PATIENCE: Duration = Duration::from_secs(60);

/// `$var` if set, else the first of `candidates` that exists, else the
/// first of `names` on `PATH`.
fn find(var: &str, candidates: &[&str], names: &[&str]) -> Option<PathBuf> {
    if let Some(path) = std::env::var_os(var) {
        return Some(PathBuf::from(path));
    }
    let on_path = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
        .unwrap_or_default();
    candidates
        .iter()
        .map(PathBuf::from)
        .find(|p| p.is_file())
        .or_else(|| {
            names
                .iter()
                .flat_map(|n| on_path.iter().map(move |dir| dir.join(n)))
                .find(|p| p.is_file())
        })
}

/// Chromium's own binary: Debian's /usr/bin/chromium is a shell wrapper
/// that adds flags of its own, so take the binary it runs when it is there.
fn chromium() -> PathBuf {
    find(
        "LIVELOG_CHROMIUM",
        &[
            "/usr/lib/chromium/chromium",
            "/usr/bin/chromium",
            "/usr/bin/chromium-browser",
            "/usr/bin/google-chrome",
        ],
        &["chromium", "google-chrome", "chrome"],
    )
    .expect(
        "browser tests need Chromium: apt-get install chromium chromium-driver \
         (or set LIVELOG_CHROMIUM)",
    )
}

fn chromedriver() -> PathBuf {
    find(
        "LIVELOG_CHROMEDRIVER",
        &["/usr/bin/chromedriver", "/usr/lib/chromium/chromedriver"],
        &["chromedriver"],
    )
    .expect(
        "browser tests need chromedriver: apt-get install chromium-driver \
         (or set LIVELOG_CHROMEDRIVER)",
    )
}

/// A running chromedriver and the profile directory of its one browser.
struct Driver {
    child: Child,
    port: u16,
    profile: tempfile::TempDir,
}

impl Driver {
    fn start() -> Driver {
        let mut child = Command::new(chromedriver())
            .args(["--port=0", "--log-level=WARNING"])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("start chromedriver");
        // It prints "ChromeDriver was started successfully on port N." once
        // it listens; keep draining its output afterwards so it never blocks.
        let (tx, rx) = mpsc::channel();
        let out = child.stdout.take().expect("chromedriver stdout");
        std::thread::spawn(move || {
            let mut tx = Some(tx);
            for line in BufReader::new(out).lines() {
                let Ok(line) = line else { break };
                if let Some(port) = line
                    .split("started successfully on port ")
                    .nth(1)
                    .and_then(|rest| rest.trim_end_matches('.').trim().parse::<u16>().ok())
                {
                    if let Some(tx) = tx.take() {
                        let _ = tx.send(port);
                    }
                }
            }
        });
        let port = match rx.recv_timeout(Duration::from_secs(30)) {
            Ok(port) => port,
            Err(_) => {
                let _ = child.kill();
                let _ = child.wait();
                panic!("chromedriver did not say which port it listens on within 30 s");
            }
        };
        Driver {
            child,
            port,
            profile: tempfile::tempdir().expect("profile dir"),
        }
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        // chromedriver's /shutdown quits the browsers it started, then itself.
        if let Ok(mut s) = TcpStream::connect(("127.0.0.1", self.port)) {
            let _ = s.set_read_timeout(Some(Duration::from_secs(10)));
            let _ = write!(
                s,
                "GET /shutdown HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
            );
            let _ = s.read_to_end(&mut Vec::new());
        }
        let started = Instant::now();
        while started.elapsed() < Duration::from_secs(10) {
            if let Ok(Some(_)) = self.child.try_wait() {
                break;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
        // Whatever still runs with our profile directory is a Chromium
        // process we started: end those by pid.
        kill_processes_using(self.profile.path());
    }
}

fn kill_processes_using(profile: &Path) {
    let needle = format!("--user-data-dir={}", profile.display());
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(pid) = name
            .to_str()
            .filter(|s| s.bytes().all(|b| b.is_ascii_digit()))
        else {
            continue;
        };
        let cmdline = std::fs::read(entry.path().join("cmdline")).unwrap_or_default();
        if cmdline
            .split(|&b| b == 0)
            .any(|arg| arg == needle.as_bytes())
        {
            let _ = Command::new("kill").args(["-KILL", pid]).status();
        }
    }
}

/// One headless Chromium, driven over WebDriver.
pub struct Browser {
    pub client: Client,
    driver: Driver,
}

impl Browser {
    /// Starts chromedriver and a headless Chromium with a fresh profile.
    pub async fn start() -> Browser {
        Browser::start_with(&[]).await
    }

    /// Same, with more Chromium flags.
    pub async fn start_with(extra: &[&str]) -> Browser {
        let driver = Driver::start();
        let mut args = vec![
            "--headless".to_string(),
            // Needed as root (CI runs as root); the page under test is ours.
            "--no-sandbox".into(),
            "--disable-gpu".into(),
            "--disable-quic".into(),
            "--no-first-run".into(),
            "--no-default-browser-check".into(),
            // Nothing but the pages under test goes on the network.
            "--disable-background-networking".into(),
            "--disable-component-update".into(),
            "--disable-sync".into(),
            // Containers often have a 64 MB /dev/shm: use /tmp instead.
            "--disable-dev-shm-usage".into(),
            "--window-size=1280,800".into(),
            format!("--user-data-dir={}", driver.profile.path().display()),
        ];
        args.extend(extra.iter().map(|a| a.to_string()));
        let caps = json!({
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": chromium(),
                "args": args,
            },
            // The browser console, for `console()`.
            "goog:loggingPrefs": { "browser": "ALL" },
            "timeouts": { "script": 120_000, "pageLoad": 120_000 },
        });
        let Value::Object(caps) = caps else {
            unreachable!()
        };
        let connector = hyper_util::client::legacy::connect::HttpConnector::new();
        let client = ClientBuilder::new(connector)
            .capabilities(caps)
            .connect(&format!("http://127.0.0.1:{}", driver.port))
            .await
            .unwrap_or_else(|e| panic!("chromedriver could not start Chromium: {e}"));
        Browser { client, driver }
    }

    /// Ends the session (and Chromium), then chromedriver.
    pub async fn close(self) {
        let Browser { client, driver } = self;
        let _ = client.close().await;
        drop(driver);
    }

    pub async fn goto(&self, url: &str) {
        self.client
            .goto(url)
            .await
            .unwrap_or_else(|e| panic!("navigate: {e}"));
    }

    /// Runs `body` (a function body: use `return`) in the page.
    pub async fn js(&self, body: &str) -> Value {
        self.client
            .execute(body, vec![])
            .await
            .unwrap_or_else(|e| panic!("script failed: {e}\n{body}"))
    }

    /// Runs `body` with `args` (as `arguments[0]`, ...).
    pub async fn js_with(&self, body: &str, args: Vec<Value>) -> Value {
        self.client
            .execute(body, args)
            .await
            .unwrap_or_else(|e| panic!("script failed: {e}\n{body}"))
    }

    /// Runs `body` as an asynchronous script with `args` (as `arguments[0]`,
    /// ...): it answers by calling the last argument, the WebDriver callback.
    pub async fn js_async(&self, body: &str, args: Vec<Value>) -> Value {
        self.client
            .execute_async(body, args)
            .await
            .unwrap_or_else(|e| panic!("script failed: {e}\n{body}"))
    }

    /// Returns after the page's next animation frame (and the tasks it
    /// queued) has run.
    pub async fn next_frame(&self) {
        self.js_async(
            "const done = arguments[arguments.length - 1]; \
             requestAnimationFrame(() => setTimeout(() => done(null), 0));",
            vec![],
        )
        .await;
    }

    /// Waits until the expression `expr` is truthy in the page, polling;
    /// panics after `limit` with what it last saw from `show`.
    pub async fn wait_for(&self, what: &str, expr: &str, show: &str, limit: Duration) {
        let started = Instant::now();
        loop {
            let v = self.js(&format!("return !!({expr});")).await;
            if v == Value::Bool(true) {
                // The viewer updates its state and counts at once but draws
                // rows at the next animation frame: let that frame run, so
                // what the caller looks at next shows what it waited for.
                self.next_frame().await;
                return;
            }
            if started.elapsed() > limit {
                let seen = self.js(&format!("return ({show});")).await;
                panic!("timed out after {limit:?} waiting for {what}; saw {seen}");
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// The messages in the browser console since the last call (errors,
    /// CSP violations, anything a script logged).
    pub async fn console(&self) -> Vec<String> {
        let v = self
            .client
            .issue_cmd(BrowserLog)
            .await
            .unwrap_or_else(|e| panic!("read the browser console: {e}"));
        v.as_array()
            .map(|entries| {
                entries
                    .iter()
                    .map(|e| {
                        format!(
                            "{} {}",
                            e["level"].as_str().unwrap_or("?"),
                            e["message"].as_str().unwrap_or("?")
                        )
                    })
                    .collect()
            })
            .unwrap_or_default()
    }

    pub async fn screenshot(&self) -> Vec<u8> {
        self.client
            .screenshot()
            .await
            .unwrap_or_else(|e| panic!("screenshot: {e}"))
    }
}

/// chromedriver's `POST /session/{id}/se/log` for the `browser` log.
#[derive(Debug)]
struct BrowserLog;

impl WebDriverCompatibleCommand for BrowserLog {
    fn endpoint(
        &self,
        base_url: &url::Url,
        session_id: Option<&str>,
    ) -> Result<url::Url, url::ParseError> {
        base_url.join(&format!("session/{}/se/log", session_id.unwrap_or("")))
    }

    fn method_and_body(&self, _url: &url::Url) -> (http::Method, Option<String>) {
        (
            http::Method::POST,
            Some(r#"{"type":"browser"}"#.to_string()),
        )
    }
}
