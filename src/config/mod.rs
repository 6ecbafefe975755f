//! Configuration, read once from the environment (the Go livelog's contract,
//! plus livelog's own `LIVELOG_*` limits).
//!
//! `envy` + `serde` read the variables as strings; `Config::from_vars` then
//! checks each one and turns it into a typed value, so that every error names
//! its variable and the port errors keep the Go livelog's exit codes.
//!
//! The environment is read as it is, not as text: a variable that is not
//! valid UTF-8 (Unix) or UTF-16 (Windows) is someone else's business and
//! ignored, unless it is one of livelog's own, which is then an error naming
//! it. Nothing in the environment can make livelog panic.

use std::ffi::OsString;
use std::fmt;
use std::net::IpAddr;
use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;

mod parse;

pub use parse::ConfigError;
use parse::{is_livelogs, non_empty, parse_host, parse_number, parse_port, tls_files};

/// Default upload (PUT) port, as in the Go livelog.
pub const DEFAULT_PUT_PORT: u16 = 60022;
/// Default reader (GET) port, as in the Go livelog.
pub const DEFAULT_GET_PORT: u16 = 60023;
/// Default ring size in bytes (`LIVELOG_RING_BYTES`): 4 MiB holds the last
/// few milliseconds of a full-speed upload and the last minutes of a typical
/// chatty build log, so readers tailing live are served from memory, while
/// the daemon stays far below the 32 MiB it may use.
pub const DEFAULT_RING_BYTES: usize = 4 * 1024 * 1024;
/// Default stall timeout in seconds (`LIVELOG_STALL_TIMEOUT_SECS`).
pub const DEFAULT_STALL_TIMEOUT_SECS: u64 = 300;
/// Default cap on concurrent readers (`LIVELOG_MAX_READERS`).
pub const DEFAULT_MAX_READERS: usize = 10_000;
/// Default cap on open connections to the reader port
/// (`LIVELOG_MAX_CONNECTIONS`): twice the default reader cap, so every
/// reader slot can be taken while as many connections again are between
/// requests or handshakes.
pub const DEFAULT_MAX_CONNECTIONS: usize = 20_000;
/// Default request-header timeout in seconds (`LIVELOG_HEADER_TIMEOUT_SECS`).
pub const DEFAULT_HEADER_TIMEOUT_SECS: u64 = 10;
/// Default seconds between Server-Sent Events heartbeats on a silent stream
/// (`LIVELOG_HEARTBEAT_SECS`): well under the idle timeouts of common proxies
/// and load balancers (nginx 60 s, AWS ALB 60 s).
pub const DEFAULT_HEARTBEAT_SECS: u64 = 15;
/// Default seconds between a running upload's progress lines
/// (`LIVELOG_PROGRESS_SECS`).
pub const DEFAULT_PROGRESS_SECS: u64 = 30;
/// Largest timeout accepted, in seconds (365 days), for
/// `LIVELOG_STALL_TIMEOUT_SECS`, `LIVELOG_HEADER_TIMEOUT_SECS` and the other
/// `*_SECS` variables. Deadlines
/// are computed as "now + timeout"; near `u64::MAX` seconds that overflows
/// and would panic every connection, so such values are refused at startup.
pub const MAX_TIMEOUT_SECS: u64 = 365 * 24 * 60 * 60;
/// Largest `LIVELOG_MAX_READERS` accepted: 2^20, the kernel's default cap on
/// a process's open files (`fs.nr_open`), each reader needing one. (The
/// reader slots are a `tokio` semaphore, which panics past 2^61 permits.)
pub const MAX_READERS_LIMIT: usize = 1 << 20;

/// Largest `LIVELOG_MAX_CONNECTIONS` accepted: 2^20, as for
/// [`MAX_READERS_LIMIT`] (each connection needs an open file).
pub const MAX_CONNECTIONS_LIMIT: usize = 1 << 20;

/// The variables livelog reads, with a one-line description each; `--help`
/// prints this table.
pub const VARIABLES: &[(&str, &str)] = &[
    (
        "ACCESS_TOKEN",
        "secret in the reader URL /log/<ACCESS_TOKEN> (required)",
    ),
    (
        "LIVELOG_PUT_PORT",
        "upload (PUT) port, on loopback (default 60022)",
    ),
    ("LIVELOG_GET_PORT", "reader (GET) port (default 60023)"),
    (
        "LIVELOG_PUT_HOST",
        "one address for the upload port instead of loopback (127.0.0.1 and ::1); non-loopback logs a warning",
    ),
    (
        "LIVELOG_GET_HOST",
        "one address for the reader port instead of every interface, IPv4 and IPv6",
    ),
    (
        "SERVER_CRT_FILE",
        "PEM certificate chain: serve GET over HTTPS (needs SERVER_KEY_FILE)",
    ),
    (
        "SERVER_KEY_FILE",
        "PEM private key for SERVER_CRT_FILE (needs SERVER_CRT_FILE)",
    ),
    (
        "LIVELOG_TEMP_DIR",
        "directory for the (unlinked) temp file (default: system temp dir)",
    ),
    (
        "LIVELOG_RING_BYTES",
        "bytes of recent log kept in memory (default 4194304)",
    ),
    (
        "LIVELOG_STALL_TIMEOUT_SECS",
        "disconnect a reader that accepts no bytes for this long while data waits (default 300)",
    ),
    (
        "LIVELOG_MAX_READERS",
        "concurrent readers; more get 503 (default 10000)",
    ),
    (
        "LIVELOG_MAX_CONNECTIONS",
        "open connections to the reader port; more are closed at once (default 20000)",
    ),
    (
        "LIVELOG_HEADER_TIMEOUT_SECS",
        "close connections that send no complete request head in time (default 10)",
    ),
    (
        "LIVELOG_HEARTBEAT_SECS",
        "seconds between heartbeat comments on a silent Server-Sent Events stream (default 15)",
    ),
    ("DEBUG", "non-empty: debug logging (RUST_LOG also honoured)"),
    (
        "LIVELOG_PROGRESS_SECS",
        "seconds between a running upload's progress lines (default 30)",
    ),
    (
        "LIVELOG_LOG_FORMAT",
        "text (default) or json: one JSON object per log line",
    ),
];

/// Paths of the PEM files that turn on HTTPS for the GET port.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TlsFiles {
    /// `SERVER_CRT_FILE`: the certificate chain, leaf first.
    pub cert: PathBuf,
    /// `SERVER_KEY_FILE`: the private key (PKCS#8, PKCS#1 or SEC1).
    pub key: PathBuf,
}

/// How log lines are written (`LIVELOG_LOG_FORMAT`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum LogFormat {
    /// Human-readable text, one line per event (the default).
    #[default]
    Text,
    /// One JSON object per line, with the same fields as the text format
    /// (tracing-subscriber's JSON formatter).
    Json,
}

/// The two ports livelog listens on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Port {
    /// The upload port: `PUT /log`, on loopback (`LIVELOG_PUT_PORT`).
    Upload,
    /// The reader port: `GET /log/<ACCESS_TOKEN>` (`LIVELOG_GET_PORT`).
    Reader,
}

impl Port {
    /// `"upload"` or `"reader"`, as logs name it.
    pub fn name(self) -> &'static str {
        match self {
            Port::Upload => "upload",
            Port::Reader => "reader",
        }
    }

    /// The variable that sets the port's number.
    pub fn variable(self) -> &'static str {
        match self {
            Port::Upload => "LIVELOG_PUT_PORT",
            Port::Reader => "LIVELOG_GET_PORT",
        }
    }
}

impl fmt::Display for Port {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Everything livelog is configured with. Build it with [`Config::from_env`]
/// (or [`Config::new`] and struct update, in tests and embedders).
#[derive(Clone, PartialEq, Eq)]
pub struct Config {
    /// The secret in `/log/<ACCESS_TOKEN>`. Never printed: `Debug` redacts it.
    pub access_token: String,
    /// The one address the upload listener binds (`LIVELOG_PUT_HOST`);
    /// `None`: loopback, `127.0.0.1` and `::1`.
    pub put_host: Option<IpAddr>,
    /// The one address the reader listener binds (`LIVELOG_GET_HOST`);
    /// `None`: every interface, IPv4 and IPv6.
    pub get_host: Option<IpAddr>,
    /// Upload listener port (0: any free port).
    pub put_port: u16,
    /// Reader listener port (0: any free port).
    pub get_port: u16,
    /// HTTPS for the reader listener, if both files are set.
    pub tls: Option<TlsFiles>,
    /// Directory for the temp file.
    pub temp_dir: PathBuf,
    /// Debug logging on.
    pub debug: bool,
    /// How log lines are written.
    pub log_format: LogFormat,
    /// Least time between two progress lines of a running upload.
    pub progress_every: Duration,
    /// Byte budget of the in-memory ring of recent chunks.
    pub ring_bytes: usize,
    /// How long a reader may accept no bytes while data waits for it.
    pub stall_timeout: Duration,
    /// Cap on concurrent readers.
    pub max_readers: usize,
    /// Cap on open connections to the reader port (readers, connections
    /// between requests, TLS handshakes in progress).
    pub max_connections: usize,
    /// How long a connection may take to send a complete request head (and,
    /// over TLS, to finish the handshake).
    pub header_timeout: Duration,
    /// How often a Server-Sent Events stream with nothing to send gets a
    /// heartbeat comment.
    pub heartbeat: Duration,
}

impl fmt::Debug for Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Config")
            .field("access_token", &"<redacted>")
            .field("put_host", &self.put_host)
            .field("get_host", &self.get_host)
            .field("put_port", &self.put_port)
            .field("get_port", &self.get_port)
            .field("tls", &self.tls)
            .field("temp_dir", &self.temp_dir)
            .field("debug", &self.debug)
            .field("log_format", &self.log_format)
            .field("progress_every", &self.progress_every)
            .field("ring_bytes", &self.ring_bytes)
            .field("stall_timeout", &self.stall_timeout)
            .field("max_readers", &self.max_readers)
            .field("max_connections", &self.max_connections)
            .field("header_timeout", &self.header_timeout)
            .field("heartbeat", &self.heartbeat)
            .finish()
    }
}

impl Config {
    /// Defaults for everything but the token.
    pub fn new(access_token: impl Into<String>) -> Self {
        Config {
            access_token: access_token.into(),
            put_host: None,
            get_host: None,
            put_port: DEFAULT_PUT_PORT,
            get_port: DEFAULT_GET_PORT,
            tls: None,
            temp_dir: std::env::temp_dir(),
            debug: false,
            log_format: LogFormat::Text,
            progress_every: Duration::from_secs(DEFAULT_PROGRESS_SECS),
            ring_bytes: DEFAULT_RING_BYTES,
            stall_timeout: Duration::from_secs(DEFAULT_STALL_TIMEOUT_SECS),
            max_readers: DEFAULT_MAX_READERS,
            max_connections: DEFAULT_MAX_CONNECTIONS,
            header_timeout: Duration::from_secs(DEFAULT_HEADER_TIMEOUT_SECS),
            heartbeat: Duration::from_secs(DEFAULT_HEARTBEAT_SECS),
        }
    }

    /// Reads the process environment.
    ///
    /// # Errors
    /// [`ConfigError`] naming the first bad variable.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_os_pairs(std::env::vars_os())
    }

    /// Reads `(name, value)` pairs as the operating system gives them (for
    /// tests): a pair that is not Unicode is skipped, unless the name is one
    /// of livelog's own [`VARIABLES`], which is an error.
    ///
    /// # Errors
    /// [`ConfigError`] naming the first bad variable.
    pub fn from_os_pairs<I>(pairs: I) -> Result<Self, ConfigError>
    where
        I: IntoIterator<Item = (OsString, OsString)>,
    {
        let mut text = Vec::new();
        for (name, value) in pairs {
            match (name.into_string(), value.into_string()) {
                (Ok(name), Ok(value)) => text.push((name, value)),
                (Ok(name), Err(_)) if is_livelogs(&name) => {
                    let exit_code = match name.to_ascii_uppercase().as_str() {
                        "LIVELOG_PUT_PORT" => 64,
                        "LIVELOG_GET_PORT" => 66,
                        _ => 1,
                    };
                    return Err(ConfigError {
                        message: format!(
                            "{name} is not valid Unicode text: livelog reads its variables as text"
                        ),
                        exit_code,
                    });
                }
                // Not livelog's: another program's business.
                _ => {}
            }
        }
        Self::from_pairs(text)
    }

    /// Reads `(name, value)` pairs as if they were the environment (for tests).
    ///
    /// # Errors
    /// [`ConfigError`] naming the first bad variable.
    pub fn from_pairs<I, K, V>(pairs: I) -> Result<Self, ConfigError>
    where
        I: IntoIterator<Item = (K, V)>,
        K: Into<String>,
        V: Into<String>,
    {
        let vars: RawVars = envy::from_iter(pairs.into_iter().map(|(k, v)| (k.into(), v.into())))
            .map_err(|e| ConfigError {
            message: format!("cannot read the environment: {e}"),
            exit_code: 1,
        })?;
        Self::from_vars(vars)
    }

    fn from_vars(v: RawVars) -> Result<Self, ConfigError> {
        let access_token = match v.access_token {
            Some(t) if !t.is_empty() => t,
            _ => {
                return Err(ConfigError::new(
                    "ACCESS_TOKEN is not set: it is required (readers use /log/<ACCESS_TOKEN>)",
                ));
            }
        };
        let mut config = Config::new(access_token);
        if let Some(p) = non_empty(v.livelog_put_port) {
            config.put_port = parse_port("LIVELOG_PUT_PORT", &p, 64, 65)?;
        }
        if let Some(p) = non_empty(v.livelog_get_port) {
            config.get_port = parse_port("LIVELOG_GET_PORT", &p, 66, 67)?;
        }
        if let Some(h) = non_empty(v.livelog_put_host) {
            config.put_host = Some(parse_host("LIVELOG_PUT_HOST", &h, "127.0.0.1 or ::1")?);
        }
        if let Some(h) = non_empty(v.livelog_get_host) {
            config.get_host = Some(parse_host("LIVELOG_GET_HOST", &h, "0.0.0.0 or ::")?);
        }
        config.tls = tls_files(non_empty(v.server_crt_file), non_empty(v.server_key_file))?;
        if let Some(dir) = non_empty(v.livelog_temp_dir) {
            config.temp_dir = dir.into();
        }
        config.debug = v.debug.is_some_and(|d| !d.is_empty());
        if let Some(s) = v.livelog_progress_secs {
            config.progress_every = Duration::from_secs(parse_number(
                "LIVELOG_PROGRESS_SECS",
                &s,
                1,
                MAX_TIMEOUT_SECS,
            )?);
        }
        if let Some(f) = non_empty(v.livelog_log_format) {
            config.log_format = match f.trim().to_ascii_lowercase().as_str() {
                "text" => LogFormat::Text,
                "json" => LogFormat::Json,
                _ => {
                    return Err(ConfigError::new(format!(
                        "LIVELOG_LOG_FORMAT={f:?} is not a log format: give text or json"
                    )));
                }
            };
        }
        if let Some(s) = v.livelog_ring_bytes {
            config.ring_bytes = parse_number("LIVELOG_RING_BYTES", &s, 0, usize::MAX)?;
        }
        if let Some(s) = v.livelog_stall_timeout_secs {
            config.stall_timeout = Duration::from_secs(parse_number(
                "LIVELOG_STALL_TIMEOUT_SECS",
                &s,
                1,
                MAX_TIMEOUT_SECS,
            )?);
        }
        if let Some(s) = v.livelog_max_readers {
            config.max_readers = parse_number("LIVELOG_MAX_READERS", &s, 1, MAX_READERS_LIMIT)?;
        }
        if let Some(s) = v.livelog_max_connections {
            config.max_connections =
                parse_number("LIVELOG_MAX_CONNECTIONS", &s, 1, MAX_CONNECTIONS_LIMIT)?;
        }
        if let Some(s) = v.livelog_header_timeout_secs {
            config.header_timeout = Duration::from_secs(parse_number(
                "LIVELOG_HEADER_TIMEOUT_SECS",
                &s,
                1,
                MAX_TIMEOUT_SECS,
            )?);
        }
        if let Some(s) = v.livelog_heartbeat_secs {
            config.heartbeat = Duration::from_secs(parse_number(
                "LIVELOG_HEARTBEAT_SECS",
                &s,
                1,
                MAX_TIMEOUT_SECS,
            )?);
        }
        Ok(config)
    }
}

/// The environment as `envy` reads it: every variable a string, checked later.
#[derive(Deserialize, Debug, Default)]
struct RawVars {
    access_token: Option<String>,
    livelog_put_port: Option<String>,
    livelog_get_port: Option<String>,
    livelog_put_host: Option<String>,
    livelog_get_host: Option<String>,
    server_crt_file: Option<String>,
    server_key_file: Option<String>,
    livelog_temp_dir: Option<String>,
    debug: Option<String>,
    livelog_log_format: Option<String>,
    livelog_progress_secs: Option<String>,
    livelog_ring_bytes: Option<String>,
    livelog_stall_timeout_secs: Option<String>,
    livelog_max_readers: Option<String>,
    livelog_max_connections: Option<String>,
    livelog_header_timeout_secs: Option<String>,
    livelog_heartbeat_secs: Option<String>,
}

#[cfg(test)]
mod tests;
