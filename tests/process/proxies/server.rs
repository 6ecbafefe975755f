//! The proxies, as the tests start them: nginx and Varnish in a process
//! group of their own, with the configurations the README gives, in front
//! of livelog's reader port.

use std::fs::File;
use std::net::SocketAddr;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use crate::common::{SOON, TOKEN, curl, free_port, wait_until};

// ------------------------------------------------------------ the proxies

#[derive(Clone, Copy, Debug, PartialEq)]
pub(super) enum Kind {
    /// nginx, [`nginx_conf`].
    Nginx,
    /// nginx naming each client to livelog:
    /// `proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;`
    /// added to [`nginx_conf`] (`clients.rs`).
    NginxForwardedFor,
    /// Varnish with [`vcl`] and [`varnish_params`].
    Varnish,
    /// Varnish with the built-in VCL alone ([`BUILTIN_VCL`]).
    VarnishBuiltin,
    /// Varnish with `deploy/varnish/livelog.vcl`, the shared cache in front
    /// of a livelog with `LIVELOG_SHARED_CACHE_SECS` (`shared_cache.rs`).
    VarnishCache,
}

/// A proxy running in front of livelog's reader port, in a process group of
/// its own (nginx's workers, Varnish's cache process) that dropping it ends,
/// also when a test panics.
pub(super) struct Proxy {
    pub(super) kind: Kind,
    /// Where readers connect (127.0.0.1).
    pub(super) port: u16,
    pub(super) child: Child,
    /// Its configuration, logs and working files (world-readable: both
    /// drop privileges after starting).
    pub(super) dir: tempfile::TempDir,
}

/// The page with the nginx and Varnish configurations for readers behind a
/// proxy.
const FLEET: &str = "docs/fleet-and-proxies.md";

/// A fenced block of `page` (README.md or docs/fleet-and-proxies.md): the
/// first one of `lang` that holds `containing`. The proxies run with the
/// configuration those pages give.
fn readme_block(page: &str, lang: &str, containing: &str) -> String {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(page);
    let text = std::fs::read_to_string(path).unwrap();
    text.split("```")
        .skip(1)
        .step_by(2)
        .filter_map(|b| b.strip_prefix(lang)?.strip_prefix('\n'))
        .find(|b| b.contains(containing))
        .unwrap_or_else(|| panic!("{page} has no {lang} block with {containing:?}"))
        .to_owned()
}

/// nginx's configuration: its defaults (`proxy_buffering on`, 60 s
/// timeouts, ...) but for docs/fleet-and-proxies.md's `location` block (its one addition,
/// `proxy_http_version 1.1`) and its files kept in `dir`. `proxy_buffering
/// on` is harmless: livelog's `X-Accel-Buffering: no` turns it off for live
/// answers. HTTP/1.1 because nginx's default, HTTP/1.0, cannot carry a
/// chunked body: livelog then ends a live log by closing the connection,
/// which it does alike whether the upload finished or broke, so nginx ends
/// its own response cleanly either way (with HTTP/1.0 here,
/// `nginx_broken_upload_stays_incomplete` fails: curl exits 0 after the
/// stored bytes); every real deployment sets it. Left at their defaults:
/// `proxy_read_timeout` (60 s) ends a raw reader of a log silent for
/// longer, incomplete, where event streams carry a heartbeat
/// ([`heartbeats_outlast_the_read_timeout`]).
///
/// `read_timeout` sets `proxy_read_timeout` instead (seconds).
fn nginx_conf(
    dir: &Path,
    port: u16,
    upstream: SocketAddr,
    read_timeout: Option<u32>,
    forwarded_for: bool,
) -> String {
    let dir = dir.display();
    let mut location = readme_block(FLEET, "nginx", "proxy_pass")
        .replace("127.0.0.1:60023", &upstream.to_string());
    if forwarded_for {
        let close = location.rfind('}').unwrap();
        location.insert_str(
            close,
            "    proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;\n",
        );
    }
    if let Some(t) = read_timeout {
        let close = location.rfind('}').unwrap();
        location.insert_str(close, &format!("    proxy_read_timeout {t}s;\n"));
    }
    format!(
        "worker_processes 1;
pid {dir}/nginx.pid;
error_log {dir}/error.log info;
events {{ worker_connections 256; }}
http {{
    access_log {dir}/access.log;
    client_body_temp_path {dir}/client_body;
    proxy_temp_path {dir}/proxy;
    fastcgi_temp_path {dir}/fastcgi;
    uwsgi_temp_path {dir}/uwsgi;
    scgi_temp_path {dir}/scgi;
    server {{
        listen 127.0.0.1:{port};
{location}
    }}
}}
"
    )
}

/// Varnish's VCL for livelog, docs/fleet-and-proxies.md's (its backend's port `60023`
/// is livelog's reader port): the built-in VCL but for one rule, `pass` for
/// the log and the viewer. Every answer there is `Cache-Control: no-store`;
/// the built-in VCL honours that by making each a hit-for-miss object
/// (120 s), so nothing is cached and readers are not merged, but a lookup
/// still treats them as cacheable fetches, which a live log cannot be:
/// Varnish then asks livelog for gzip whatever the client accepts and
/// gunzips it for clients that do not in `gzip_buffer` pieces (32 KiB: a
/// plain `curl -N` sees a live line only once enough more have come, or at
/// the end), turns a `HEAD` into a `GET`, and strips `Range`, answering the
/// whole log `200` instead of a resume's `206`. With `pass`, each request
/// goes to livelog as the client sent it, and the answer comes back as
/// livelog sent it, streamed.
fn vcl() -> String {
    readme_block(FLEET, "vcl", "return (pass)")
}

/// Varnish's parameters for livelog: the `-p` options of docs/fleet-and-proxies.md's
/// `varnishd` command. `http_range_support=off`: Varnish 7.1 checks a
/// backend's `Content-Range` and refuses one whose complete length is `*`
/// ("Invalid content-range header", then `503 Backend fetch failed`),
/// though RFC 9110 §14.4 allows it and livelog sends it for every range of
/// a live log (RFC 8673). Off, Varnish passes `206` as it comes; it does no
/// ranges of its own, which it has nothing cached to do them on.
fn varnish_params() -> Vec<String> {
    let command = readme_block(FLEET, "sh", "varnishd ");
    let words: Vec<&str> = command.split_whitespace().collect();
    let params: Vec<String> = words
        .windows(2)
        .filter(|w| w[0] == "-p")
        .flat_map(|w| ["-p".to_owned(), w[1].to_owned()])
        .collect();
    assert!(
        !params.is_empty(),
        "docs/fleet-and-proxies.md's varnishd command sets no -p"
    );
    params
}

/// `deploy/varnish/livelog.vcl`, which the README's "Readers beyond one
/// machine" shows whole: the test runs what both say.
pub(super) fn cache_vcl() -> String {
    let vcl = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/deploy/varnish/livelog.vcl"
    ))
    .unwrap();
    let shown = readme_block("README.md", "vcl", "LIVELOG_SHARED_CACHE_SECS");
    assert_eq!(
        shown, vcl,
        "the README shows deploy/varnish/livelog.vcl as it is"
    );
    vcl
}

/// The built-in VCL alone: livelog as the backend, nothing else.
const BUILTIN_VCL: &str = r#"vcl 4.1;

backend livelog {
    .host = "127.0.0.1";
    .port = "PORT";
}
"#;

impl Proxy {
    pub(super) fn start(kind: Kind, upstream: SocketAddr) -> Proxy {
        Proxy::start_with(kind, upstream, None)
    }

    /// [`Proxy::start`], with the proxy's timeout for reading the next bytes
    /// of an answer set to `read_timeout` seconds (nginx's
    /// `proxy_read_timeout`, Varnish's `between_bytes_timeout`; both 60 s by
    /// default).
    pub(super) fn start_with(kind: Kind, upstream: SocketAddr, read_timeout: Option<u32>) -> Proxy {
        let dir = tempfile::tempdir().unwrap();
        // nginx's workers and Varnish's compiler and cache process run as
        // other users (nobody, varnish, vcache): they must read in here.
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
        let log = |name: &str| Stdio::from(File::create(dir.path().join(name)).unwrap());
        let (mut command, port) = match kind {
            Kind::Nginx | Kind::NginxForwardedFor => {
                let port = free_port();
                let conf = dir.path().join("nginx.conf");
                std::fs::write(
                    &conf,
                    nginx_conf(
                        dir.path(),
                        port,
                        upstream,
                        read_timeout,
                        kind == Kind::NginxForwardedFor,
                    ),
                )
                .unwrap();
                let mut c = Command::new("nginx");
                c.arg("-c")
                    .arg(&conf)
                    .arg("-p")
                    .arg(dir.path())
                    .args(["-g", "daemon off;"]);
                (c, Some(port))
            }
            Kind::Varnish | Kind::VarnishBuiltin | Kind::VarnishCache => {
                let port = upstream.port().to_string();
                let (text, params) = match kind {
                    Kind::Varnish => (
                        vcl().replace("\"60023\"", &format!("\"{port}\"")),
                        varnish_params(),
                    ),
                    Kind::VarnishCache => (
                        cache_vcl().replace("\"60023\"", &format!("\"{port}\"")),
                        Vec::new(),
                    ),
                    _ => (BUILTIN_VCL.replace("PORT", &port), Vec::new()),
                };
                let vcl = dir.path().join("livelog.vcl");
                std::fs::write(&vcl, text).unwrap();
                std::fs::set_permissions(&vcl, std::fs::Permissions::from_mode(0o644)).unwrap();
                let mut c = Command::new("varnishd");
                // -F: in the foreground, as our child; port 0: Varnish
                // chooses, and `varnishadm` tells which.
                c.arg("-F")
                    .arg("-n")
                    .arg(dir.path().join("varnish"))
                    .args(["-a", "127.0.0.1:0", "-f"])
                    .arg(&vcl)
                    .args(params);
                if let Some(t) = read_timeout {
                    c.arg("-p").arg(format!("between_bytes_timeout={t}"));
                }
                (c, None)
            }
        };
        let child = command
            .stdin(Stdio::null())
            .stdout(log("stdout.log"))
            .stderr(log("stderr.log"))
            .process_group(0)
            .spawn()
            .unwrap_or_else(|e| {
                panic!("cannot start {kind:?} (apt-get install nginx-light varnish): {e}")
            });
        let mut proxy = Proxy {
            kind,
            port: port.unwrap_or(0),
            child,
            dir,
        };
        if !matches!(kind, Kind::Nginx | Kind::NginxForwardedFor) {
            let found = wait_until(SOON, || {
                proxy.assert_running();
                proxy.port = proxy.varnish_port().unwrap_or(0);
                proxy.port != 0
            });
            assert!(found, "varnishd did not listen: {}", proxy.logs());
        }
        // Answering: anything from livelog through it (`/` is a 404).
        let answers = wait_until(SOON, || {
            proxy.assert_running();
            let (_, code, _) = curl(&[
                "-s",
                "-o",
                "/dev/null",
                "-w",
                "%{http_code}",
                "--max-time",
                "5",
                &proxy.url("/"),
            ]);
            code == b"404"
        });
        assert!(answers, "{kind:?} does not answer: {}", proxy.logs());
        proxy
    }

    /// The port Varnish listens on, from `varnishadm debug.listen_address`
    /// (`a0 127.0.0.1 40123`), once its CLI answers.
    fn varnish_port(&self) -> Option<u16> {
        let out = Command::new("varnishadm")
            .arg("-n")
            .arg(self.dir.path().join("varnish"))
            .arg("debug.listen_address")
            .stdin(Stdio::null())
            .output()
            .ok()?;
        let text = String::from_utf8_lossy(&out.stdout);
        text.lines()
            .find_map(|l| l.split_whitespace().nth(2)?.parse().ok())
    }

    /// Panics with its logs if the proxy exited.
    pub(super) fn assert_running(&mut self) {
        if let Some(status) = self.child.try_wait().unwrap() {
            panic!("{:?} exited ({status}): {}", self.kind, self.logs());
        }
    }

    /// What it wrote to stdout, stderr and its error log, for a failure's
    /// message.
    pub(super) fn logs(&self) -> String {
        ["stdout.log", "stderr.log", "error.log"]
            .iter()
            .map(|name| {
                let text = std::fs::read_to_string(self.dir.path().join(name)).unwrap_or_default();
                format!("\n--- {name}:\n{text}")
            })
            .collect()
    }

    /// `http://127.0.0.1:<port><path>`
    pub(super) fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    /// The log's URL through the proxy.
    pub(super) fn log_url(&self) -> String {
        self.url(&format!("/log/{TOKEN}"))
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        // The whole group: nginx's master and worker, Varnish's manager and
        // cache process. TERM first (each stops its own), then KILL.
        let group = format!("-{}", self.child.id());
        let _ = Command::new("kill").args(["-TERM", "--", &group]).status();
        let stopped = wait_until(Duration::from_secs(5), || {
            self.child.try_wait().ok().flatten().is_some()
        });
        if !stopped {
            let _ = self.child.kill();
        }
        let _ = Command::new("kill")
            .args(["-KILL", "--", &group])
            .stderr(Stdio::null())
            .status();
        let _ = self.child.wait();
    }
}
