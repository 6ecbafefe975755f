//! The settings table: one [`Setting`] per environment variable, holding
//! its name, its default, its parser and its help text. Reading the
//! environment, `livelog --help`, the exit codes of bad values and the
//! default [`Config`] all come from this table, so a setting is written
//! down once.

use std::fmt::Write as _;

use super::parse::{
    ConfigError, host, log_format, networks, non_empty, number, port, seconds, switch, tls_cert,
    tls_key,
};
use super::{
    AccessToken, Config, DEFAULT_GET_PORT, DEFAULT_HEADER_TIMEOUT_SECS, DEFAULT_HEARTBEAT_SECS,
    DEFAULT_MAX_CONNECTIONS, DEFAULT_MAX_READERS, DEFAULT_MAX_TOKEN_FAILURES,
    DEFAULT_PROGRESS_SECS, DEFAULT_PUT_PORT, DEFAULT_RING_BYTES, DEFAULT_STALL_TIMEOUT_SECS,
    MAX_CONNECTIONS_LIMIT, MAX_READERS_LIMIT,
};

/// One environment variable livelog reads.
pub struct Setting {
    /// The variable's name, as the environment spells it (matched ignoring
    /// ASCII case).
    pub name: &'static str,
    /// What an unset variable means.
    pub default: Default,
    /// One line for `--help`, without the default (which `--help` adds).
    pub help: &'static str,
    /// The exit codes of a bad value: the Go livelog's own for its ports,
    /// else [`ExitCodes::GENERAL`].
    pub exit_codes: ExitCodes,
    /// Reads a value that is present (possibly empty) into `config`.
    read: fn(&Setting, &str, &mut Config) -> Result<(), ConfigError>,
}

/// What an unset variable means.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Default {
    /// It must be set.
    Required,
    /// This value, parsed as if it had been given: the default [`Config`]
    /// is built by reading each of these.
    Value(Value),
    /// Off, or absent; the text says what that means (`None`: nothing to
    /// say).
    Unset(Option<&'static str>),
}

/// A default value, in the form a user would write it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Value {
    /// A whole number (a port, bytes, seconds, a count).
    Number(u64),
    /// A word.
    Text(&'static str),
}

impl std::fmt::Display for Value {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Value::Number(n) => write!(f, "{n}"),
            Value::Text(t) => f.write_str(t),
        }
    }
}

/// Process exit codes for a bad value of a setting.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ExitCodes {
    /// The value is not what the setting takes (a port that is not a
    /// number), or not valid Unicode.
    pub invalid: u8,
    /// The value is of the right kind but out of range (a port past 65535).
    pub out_of_range: u8,
}

impl ExitCodes {
    /// Exit code 1, for every setting but the ports.
    pub const GENERAL: ExitCodes = ExitCodes {
        invalid: 1,
        out_of_range: 1,
    };
}

/// Every setting livelog reads, in the order `--help` lists them.
pub static SETTINGS: &[Setting] = &[
    Setting {
        name: "ACCESS_TOKEN",
        default: Default::Required,
        help: "secret in the reader URL /log/<ACCESS_TOKEN>",
        exit_codes: ExitCodes::GENERAL,
        read: |_, v, c| {
            c.access_token = AccessToken::new(v);
            Ok(())
        },
    },
    Setting {
        name: "LIVELOG_PUT_PORT",
        default: Default::Value(Value::Number(DEFAULT_PUT_PORT as u64)),
        help: "upload (PUT) port, on loopback",
        // The Go livelog's exit codes: 64 not a number, 65 out of range.
        exit_codes: ExitCodes {
            invalid: 64,
            out_of_range: 65,
        },
        read: |s, v, c| {
            if let Some(p) = port(s, v)? {
                c.put_port = p;
            }
            Ok(())
        },
    },
    Setting {
        name: "LIVELOG_GET_PORT",
        default: Default::Value(Value::Number(DEFAULT_GET_PORT as u64)),
        help: "reader (GET) port",
        // The Go livelog's exit codes: 66 not a number, 67 out of range.
        exit_codes: ExitCodes {
            invalid: 66,
            out_of_range: 67,
        },
        read: |s, v, c| {
            if let Some(p) = port(s, v)? {
                c.get_port = p;
            }
            Ok(())
        },
    },
    Setting {
        name: "LIVELOG_PUT_HOST",
        default: Default::Unset(None),
        help: "one address for the upload port instead of loopback (127.0.0.1 and ::1); non-loopback logs a warning",
        exit_codes: ExitCodes::GENERAL,
        read: |s, v, c| {
            c.put_host = host(s, v, "127.0.0.1 or ::1")?.or(c.put_host);
            Ok(())
        },
    },
    Setting {
        name: "LIVELOG_GET_HOST",
        default: Default::Unset(None),
        help: "one address for the reader port instead of every interface, IPv4 and IPv6",
        exit_codes: ExitCodes::GENERAL,
        read: |s, v, c| {
            c.get_host = host(s, v, "0.0.0.0 or ::")?.or(c.get_host);
            Ok(())
        },
    },
    Setting {
        name: "SERVER_CRT_FILE",
        default: Default::Unset(None),
        help: "PEM certificate chain: serve GET over HTTPS (needs SERVER_KEY_FILE)",
        exit_codes: ExitCodes::GENERAL,
        read: |_, v, c| {
            tls_cert(v, c);
            Ok(())
        },
    },
    Setting {
        name: "SERVER_KEY_FILE",
        default: Default::Unset(None),
        help: "PEM private key for SERVER_CRT_FILE (needs SERVER_CRT_FILE)",
        exit_codes: ExitCodes::GENERAL,
        read: |_, v, c| {
            tls_key(v, c);
            Ok(())
        },
    },
    Setting {
        name: "LIVELOG_TEMP_DIR",
        default: Default::Unset(Some("system temp dir")),
        help: "directory for the (unlinked) temp file",
        exit_codes: ExitCodes::GENERAL,
        read: |_, v, c| {
            if let Some(dir) = non_empty(v) {
                c.temp_dir = dir.into();
            }
            Ok(())
        },
    },
    Setting {
        name: "LIVELOG_RING_BYTES",
        default: Default::Value(Value::Number(DEFAULT_RING_BYTES as u64)),
        help: "bytes of recent log kept in memory",
        exit_codes: ExitCodes::GENERAL,
        read: |s, v, c| {
            c.ring_bytes = number(s, v, 0, usize::MAX)?;
            Ok(())
        },
    },
    Setting {
        name: "LIVELOG_STALL_TIMEOUT_SECS",
        default: Default::Value(Value::Number(DEFAULT_STALL_TIMEOUT_SECS)),
        help: "disconnect a reader that accepts no bytes for this long while data waits",
        exit_codes: ExitCodes::GENERAL,
        read: |s, v, c| {
            c.stall_timeout = seconds(s, v)?;
            Ok(())
        },
    },
    Setting {
        name: "LIVELOG_MAX_READERS",
        default: Default::Value(Value::Number(DEFAULT_MAX_READERS as u64)),
        help: "concurrent readers; more get 503",
        exit_codes: ExitCodes::GENERAL,
        read: |s, v, c| {
            c.max_readers = number(s, v, 1, MAX_READERS_LIMIT)?;
            Ok(())
        },
    },
    Setting {
        name: "LIVELOG_MAX_CONNECTIONS",
        default: Default::Value(Value::Number(DEFAULT_MAX_CONNECTIONS as u64)),
        help: "open connections to the reader port; more are closed at once",
        exit_codes: ExitCodes::GENERAL,
        read: |s, v, c| {
            c.max_connections = number(s, v, 1, MAX_CONNECTIONS_LIMIT)?;
            Ok(())
        },
    },
    Setting {
        name: "LIVELOG_HEADER_TIMEOUT_SECS",
        default: Default::Value(Value::Number(DEFAULT_HEADER_TIMEOUT_SECS)),
        help: "close connections that send no complete request head in time",
        exit_codes: ExitCodes::GENERAL,
        read: |s, v, c| {
            c.header_timeout = seconds(s, v)?;
            Ok(())
        },
    },
    Setting {
        name: "LIVELOG_HEARTBEAT_SECS",
        default: Default::Value(Value::Number(DEFAULT_HEARTBEAT_SECS)),
        help: "seconds between heartbeat comments on a silent Server-Sent Events stream",
        exit_codes: ExitCodes::GENERAL,
        read: |s, v, c| {
            c.heartbeat = seconds(s, v)?;
            Ok(())
        },
    },
    Setting {
        name: "LIVELOG_READY_FILE",
        default: Default::Unset(None),
        help: "once both ports listen, write their addresses there as one JSON object (atomically)",
        exit_codes: ExitCodes::GENERAL,
        read: |_, v, c| {
            c.ready_file = non_empty(v).map(Into::into);
            Ok(())
        },
    },
    Setting {
        name: "LIVELOG_TRUSTED_PROXIES",
        default: Default::Unset(None),
        help: "addresses or networks (comma-separated, e.g. 10.0.0.0/8,::1) whose Forwarded/X-Forwarded-For name the client",
        exit_codes: ExitCodes::GENERAL,
        read: |s, v, c| {
            c.trusted_proxies = networks(s, v)?;
            Ok(())
        },
    },
    Setting {
        name: "LIVELOG_MAX_TOKEN_FAILURES",
        default: Default::Value(Value::Number(DEFAULT_MAX_TOKEN_FAILURES as u64)),
        help: "wrong tokens a client address may send a minute; more get 429 for the rest of it (0: no limit)",
        exit_codes: ExitCodes::GENERAL,
        read: |s, v, c| {
            c.max_token_failures = number(s, v, 0, 1_000_000)?;
            Ok(())
        },
    },
    Setting {
        name: "LIVELOG_MAX_READERS_PER_ADDRESS",
        default: Default::Unset(Some("a quarter of LIVELOG_MAX_READERS")),
        help: "concurrent readers from one client address; more get 429",
        exit_codes: ExitCodes::GENERAL,
        read: |s, v, c| {
            c.max_readers_per_address = Some(number(s, v, 1, MAX_READERS_LIMIT)?);
            Ok(())
        },
    },
    Setting {
        name: "LIVELOG_MAX_SEARCHES",
        default: Default::Unset(Some("twice the number of CPU cores")),
        help: "searches scanning the log at once, on low-priority threads of their own; more get 503",
        exit_codes: ExitCodes::GENERAL,
        read: |s, v, c| {
            let max = crate::http::reader::MAX_SEARCHES_LIMIT;
            c.max_searches = Some(number(s, v, 1, max)?);
            Ok(())
        },
    },
    Setting {
        name: "LIVELOG_MAX_SEARCHES_PER_ADDRESS",
        default: Default::Unset(Some("a quarter of LIVELOG_MAX_SEARCHES")),
        help: "searches scanning at once from one client address; more get 429",
        exit_codes: ExitCodes::GENERAL,
        read: |s, v, c| {
            let max = crate::http::reader::MAX_SEARCHES_LIMIT;
            c.max_searches_per_address = Some(number(s, v, 1, max)?);
            Ok(())
        },
    },
    Setting {
        name: "LIVELOG_LINE_INDEX",
        default: Default::Value(Value::Text("on")),
        help: "on or off: index line starts, sections and error lines as the log is stored (?tail, ?lines, ?timestamps, /outline)",
        exit_codes: ExitCodes::GENERAL,
        read: |s, v, c| {
            if let Some(on) = switch(s, v)? {
                c.line_index = on;
            }
            Ok(())
        },
    },
    Setting {
        name: "DEBUG",
        default: Default::Unset(None),
        help: "non-empty: debug logging (RUST_LOG also honoured)",
        exit_codes: ExitCodes::GENERAL,
        read: |_, v, c| {
            c.debug = !v.is_empty();
            Ok(())
        },
    },
    Setting {
        name: "LIVELOG_PROGRESS_SECS",
        default: Default::Value(Value::Number(DEFAULT_PROGRESS_SECS)),
        help: "seconds between a running upload's progress lines",
        exit_codes: ExitCodes::GENERAL,
        read: |s, v, c| {
            c.progress_every = seconds(s, v)?;
            Ok(())
        },
    },
    Setting {
        name: "LIVELOG_LOG_FORMAT",
        default: Default::Value(Value::Text("text")),
        help: "text or json: one JSON object per log line",
        exit_codes: ExitCodes::GENERAL,
        read: |s, v, c| {
            if let Some(format) = log_format(s, v)? {
                c.log_format = format;
            }
            Ok(())
        },
    },
];

impl Setting {
    /// The setting named `name`, ignoring ASCII case (as the environment
    /// was read before: `access_token` sets `ACCESS_TOKEN`).
    pub fn named(name: &str) -> Option<&'static Setting> {
        SETTINGS.iter().find(|s| s.name.eq_ignore_ascii_case(name))
    }

    /// Reads `value`, given for this setting, into `config`.
    ///
    /// # Errors
    /// [`ConfigError`] naming the setting, with its exit code.
    pub fn read(&self, value: &str, config: &mut Config) -> Result<(), ConfigError> {
        (self.read)(self, value, config)
    }

    /// Its line in `--help`: the name, the help text and the default.
    pub fn help_line(&self) -> String {
        let default = match self.default {
            Default::Required => " (required)".to_owned(),
            Default::Value(v) => format!(" (default {v})"),
            Default::Unset(Some(what)) => format!(" (default: {what})"),
            Default::Unset(None) => String::new(),
        };
        format!("  {:<29} {}{default}\n", self.name, self.help)
    }
}

/// The `--help` text after the usage: every setting, then the exit codes.
pub fn help() -> String {
    let mut s = String::from("Environment:\n");
    for setting in SETTINGS {
        s.push_str(&setting.help_line());
    }
    s.push_str(
        "\nExit codes: 0 after SIGTERM/SIGINT (Windows: Ctrl-C, Ctrl-Break, console close);\n",
    );
    for setting in SETTINGS
        .iter()
        .filter(|s| s.exit_codes != ExitCodes::GENERAL)
    {
        let codes = setting.exit_codes;
        let _ = writeln!(
            s,
            "{}/{} {} not a number/out of range;",
            codes.invalid, codes.out_of_range, setting.name
        );
    }
    s.push_str("2 an unknown argument;\n1 any other startup error (the message names it).\n");
    s
}
