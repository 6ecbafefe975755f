//! Configuration, read once from the environment (the Go livelog's contract,
//! plus livelog's own `LIVELOG_*` limits).
//!
//! Each variable is declared once, in `settings.rs` (name, default, parser,
//! help text, exit codes): `declare_settings!` (`setting.rs`) makes of the
//! declarations the [`SETTINGS`] table, from which `--help` (`help.rs`), the
//! exit codes and the default configuration come, and the serde struct
//! that `envy` reads the environment into (`env.rs`); each setting's parser
//! (`parse.rs`) then reads its text. Every error names its variable, and
//! the port errors keep the Go livelog's exit codes.
//!
//! The environment is read as it is, not as text: a variable that is not
//! valid UTF-8 (Unix) or UTF-16 (Windows) is someone else's business and
//! ignored, unless it is one of livelog's own, which is then an error naming
//! it. Nothing in the environment can make livelog panic.

use std::fmt;
use std::net::IpAddr;
use std::path::PathBuf;
use std::time::Duration;

mod env;
mod error;
mod help;
mod parse;
mod setting;
mod settings;

pub use error::ConfigError;
pub use help::help;
pub use ipnet::IpNet;
pub use setting::{Default, ExitCodes, Setting, Value};
pub use settings::SETTINGS;

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
/// Default wrong tokens a client address may send a minute
/// (`LIVELOG_MAX_TOKEN_FAILURES`): enough for a person's typos, far too few
/// for guessing.
pub const DEFAULT_MAX_TOKEN_FAILURES: u32 = 10;
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

/// Largest `LIVELOG_MAX_SEARCHES` (and `_PER_ADDRESS`) accepted: each is a
/// scan that may hold a core, so a thousand is already far past any
/// machine's.
pub const MAX_SEARCHES_LIMIT: usize = 1024;

/// Largest `LIVELOG_MAX_CONNECTIONS` accepted: 2^20, as for
/// [`MAX_READERS_LIMIT`] (each connection needs an open file).
pub const MAX_CONNECTIONS_LIMIT: usize = 1 << 20;

/// Paths of the PEM files that turn on HTTPS for the GET port.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
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

/// The secret in `/log/<ACCESS_TOKEN>`. It has no `Display`, and its
/// `Debug` prints `<redacted>`, so no log line or error can carry it.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct AccessToken(String);

impl AccessToken {
    /// Wraps the secret.
    pub fn new(token: impl Into<String>) -> Self {
        AccessToken(token.into())
    }

    /// The secret's bytes, to compare a request's token with.
    pub fn as_bytes(&self) -> &[u8] {
        self.0.as_bytes()
    }

    /// Whether it is empty (unset).
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Debug for AccessToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

/// Everything livelog is configured with. Build it with [`Config::from_env`]
/// (or [`Config::new`] and struct update, in tests and embedders). `Debug`
/// shows every field, the token redacted.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Config {
    /// The secret in `/log/<ACCESS_TOKEN>`.
    pub access_token: AccessToken,
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
    /// Where to write the bound addresses as JSON once both ports listen
    /// (`LIVELOG_READY_FILE`).
    pub ready_file: Option<PathBuf>,
    /// Peers whose `Forwarded` / `X-Forwarded-For` name the client
    /// (`LIVELOG_TRUSTED_PROXIES`): addresses and networks.
    pub trusted_proxies: Vec<IpNet>,
    /// Wrong tokens one client address may send a minute before it gets
    /// `429` for the rest of that minute (0: no limit).
    pub max_token_failures: u32,
    /// Cap on concurrent readers from one client address (`None`: no cap
    /// beyond `max_readers`).
    pub max_readers_per_address: Option<usize>,
    /// Searches scanning the log at once (`LIVELOG_MAX_SEARCHES`; `None`:
    /// twice the number of cores).
    pub max_searches: Option<usize>,
    /// Searches scanning at once from one client address
    /// (`LIVELOG_MAX_SEARCHES_PER_ADDRESS`; `None`: a quarter of the
    /// searches, at least 1).
    pub max_searches_per_address: Option<usize>,
    /// Build the line index and outline as the log is stored
    /// (`LIVELOG_LINE_INDEX`).
    pub line_index: bool,
    /// How long a shared cache may keep the log read from its start
    /// (`LIVELOG_SHARED_CACHE_SECS`; `None`: every answer is `no-store`
    /// for every cache, as the Go livelog's were never cached).
    pub shared_cache: Option<Duration>,
}

impl Config {
    /// Concurrent readers one client address may have: the setting, else
    /// the reader cap itself. A default below it would refuse readers
    /// behind one proxy that names nobody (a trusted proxy without
    /// `X-Forwarded-For`, or one on another host livelog was not told
    /// about) long before `LIVELOG_MAX_READERS` is reached; a cap per
    /// address is set on purpose.
    pub fn readers_per_address(&self) -> usize {
        self.max_readers_per_address
            .unwrap_or(self.max_readers)
            .min(self.max_readers)
    }

    /// Every setting's default (see [`SETTINGS`]), with `access_token`.
    pub fn new(access_token: impl Into<String>) -> Self {
        let mut config = Config {
            access_token: AccessToken::new(access_token),
            put_host: None,
            get_host: None,
            put_port: 0,
            get_port: 0,
            tls: None,
            temp_dir: std::env::temp_dir(),
            debug: false,
            log_format: LogFormat::Text,
            progress_every: Duration::ZERO,
            ring_bytes: 0,
            stall_timeout: Duration::ZERO,
            max_readers: 0,
            max_connections: 0,
            header_timeout: Duration::ZERO,
            heartbeat: Duration::ZERO,
            ready_file: None,
            trusted_proxies: Vec::new(),
            max_token_failures: 0,
            max_readers_per_address: None,
            max_searches: None,
            max_searches_per_address: None,
            line_index: false,
            shared_cache: None,
        };
        for setting in SETTINGS {
            if let Default::Value(value) = setting.default {
                // Every default is a valid value (tested: `defaults_parse`),
                // so this sets the field the placeholder above stands for.
                let _ = setting.read(&value.to_string(), &mut config);
            }
        }
        config
    }
}

#[cfg(test)]
mod tests;
