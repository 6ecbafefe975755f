//! The settings: each environment variable livelog reads, declared once
//! (its name, its default, its help text, the exit codes of a bad value and
//! the function that reads its text into a [`Config`](super::Config)).
//! [`declare_settings!`] makes of them the [`SETTINGS`] table (`--help`,
//! the defaults, the exit codes) and [`Env`], the serde struct envy reads
//! the environment into.
//!
//! A new setting is one more entry here: `field = "NAME" { ... }`, the
//! field being the name in lower case (as envy looks it up).

use super::parse::{
    host, log_format, networks, non_empty, number, port, seconds, switch, tls_cert, tls_key,
};
use super::setting::{Default, ExitCodes, Setting, Value, declare_settings};
use super::{
    AccessToken, DEFAULT_GET_PORT, DEFAULT_HEADER_TIMEOUT_SECS, DEFAULT_HEARTBEAT_SECS,
    DEFAULT_MAX_CONNECTIONS, DEFAULT_MAX_READERS, DEFAULT_MAX_TOKEN_FAILURES,
    DEFAULT_PROGRESS_SECS, DEFAULT_PUT_PORT, DEFAULT_RING_BYTES, DEFAULT_STALL_TIMEOUT_SECS,
    MAX_CONNECTIONS_LIMIT, MAX_READERS_LIMIT, MAX_SEARCHES_LIMIT,
};

declare_settings! {
    access_token = "ACCESS_TOKEN" {
        default: Default::Required,
        help: "secret in the reader URL /log/<ACCESS_TOKEN>",
        exit_codes: ExitCodes::GENERAL,
        read: |_, v, c| {
            c.access_token = AccessToken::new(v);
            Ok(())
        },
    }
    livelog_put_port = "LIVELOG_PUT_PORT" {
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
    }
    livelog_get_port = "LIVELOG_GET_PORT" {
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
    }
    livelog_put_host = "LIVELOG_PUT_HOST" {
        default: Default::Unset(None),
        help: "one address for the upload port instead of loopback (127.0.0.1 and ::1); non-loopback logs a warning",
        exit_codes: ExitCodes::GENERAL,
        read: |s, v, c| {
            c.put_host = host(s, v, "127.0.0.1 or ::1")?.or(c.put_host);
            Ok(())
        },
    }
    livelog_get_host = "LIVELOG_GET_HOST" {
        default: Default::Unset(None),
        help: "one address for the reader port instead of every interface, IPv4 and IPv6",
        exit_codes: ExitCodes::GENERAL,
        read: |s, v, c| {
            c.get_host = host(s, v, "0.0.0.0 or ::")?.or(c.get_host);
            Ok(())
        },
    }
    server_crt_file = "SERVER_CRT_FILE" {
        default: Default::Unset(None),
        help: "PEM certificate chain: serve GET over HTTPS (needs SERVER_KEY_FILE)",
        exit_codes: ExitCodes::GENERAL,
        read: |_, v, c| {
            tls_cert(v, c);
            Ok(())
        },
    }
    server_key_file = "SERVER_KEY_FILE" {
        default: Default::Unset(None),
        help: "PEM private key for SERVER_CRT_FILE (needs SERVER_CRT_FILE)",
        exit_codes: ExitCodes::GENERAL,
        read: |_, v, c| {
            tls_key(v, c);
            Ok(())
        },
    }
    livelog_temp_dir = "LIVELOG_TEMP_DIR" {
        default: Default::Unset(Some("system temp dir")),
        help: "directory for the (unlinked) temp file",
        exit_codes: ExitCodes::GENERAL,
        read: |_, v, c| {
            if let Some(dir) = non_empty(v) {
                c.temp_dir = dir.into();
            }
            Ok(())
        },
    }
    livelog_ring_bytes = "LIVELOG_RING_BYTES" {
        default: Default::Value(Value::Number(DEFAULT_RING_BYTES as u64)),
        help: "bytes of recent log kept in memory",
        exit_codes: ExitCodes::GENERAL,
        read: |s, v, c| {
            c.ring_bytes = number(s, v, 0, usize::MAX)?;
            Ok(())
        },
    }
    livelog_stall_timeout_secs = "LIVELOG_STALL_TIMEOUT_SECS" {
        default: Default::Value(Value::Number(DEFAULT_STALL_TIMEOUT_SECS)),
        help: "disconnect a reader that accepts no bytes for this long while data waits",
        exit_codes: ExitCodes::GENERAL,
        read: |s, v, c| {
            c.stall_timeout = seconds(s, v)?;
            Ok(())
        },
    }
    livelog_max_readers = "LIVELOG_MAX_READERS" {
        default: Default::Value(Value::Number(DEFAULT_MAX_READERS as u64)),
        help: "concurrent readers; more get 503",
        exit_codes: ExitCodes::GENERAL,
        read: |s, v, c| {
            c.max_readers = number(s, v, 1, MAX_READERS_LIMIT)?;
            Ok(())
        },
    }
    livelog_max_connections = "LIVELOG_MAX_CONNECTIONS" {
        default: Default::Value(Value::Number(DEFAULT_MAX_CONNECTIONS as u64)),
        help: "open connections to the reader port; more are closed at once",
        exit_codes: ExitCodes::GENERAL,
        read: |s, v, c| {
            c.max_connections = number(s, v, 1, MAX_CONNECTIONS_LIMIT)?;
            Ok(())
        },
    }
    livelog_header_timeout_secs = "LIVELOG_HEADER_TIMEOUT_SECS" {
        default: Default::Value(Value::Number(DEFAULT_HEADER_TIMEOUT_SECS)),
        help: "close connections that send no complete request head in time",
        exit_codes: ExitCodes::GENERAL,
        read: |s, v, c| {
            c.header_timeout = seconds(s, v)?;
            Ok(())
        },
    }
    livelog_heartbeat_secs = "LIVELOG_HEARTBEAT_SECS" {
        default: Default::Value(Value::Number(DEFAULT_HEARTBEAT_SECS)),
        help: "seconds between heartbeat comments on a silent Server-Sent Events stream",
        exit_codes: ExitCodes::GENERAL,
        read: |s, v, c| {
            c.heartbeat = seconds(s, v)?;
            Ok(())
        },
    }
    livelog_ready_file = "LIVELOG_READY_FILE" {
        default: Default::Unset(None),
        help: "once both ports listen, write their addresses there as one JSON object (atomically)",
        exit_codes: ExitCodes::GENERAL,
        read: |_, v, c| {
            c.ready_file = non_empty(v).map(Into::into);
            Ok(())
        },
    }
    livelog_trusted_proxies = "LIVELOG_TRUSTED_PROXIES" {
        default: Default::Unset(None),
        help: "addresses or networks (comma-separated, e.g. 10.0.0.0/8,::1) whose Forwarded/X-Forwarded-For name the client",
        exit_codes: ExitCodes::GENERAL,
        read: |s, v, c| {
            c.trusted_proxies = networks(s, v)?;
            Ok(())
        },
    }
    livelog_max_token_failures = "LIVELOG_MAX_TOKEN_FAILURES" {
        default: Default::Value(Value::Number(DEFAULT_MAX_TOKEN_FAILURES as u64)),
        help: "wrong tokens a client address may send a minute; more get 429 for the rest of it (0: no limit)",
        exit_codes: ExitCodes::GENERAL,
        read: |s, v, c| {
            c.max_token_failures = number(s, v, 0, 1_000_000)?;
            Ok(())
        },
    }
    livelog_max_readers_per_address = "LIVELOG_MAX_READERS_PER_ADDRESS" {
        default: Default::Unset(Some("none beyond LIVELOG_MAX_READERS")),
        help: "concurrent readers from one client address; more get 429",
        exit_codes: ExitCodes::GENERAL,
        read: |s, v, c| {
            c.max_readers_per_address = Some(number(s, v, 1, MAX_READERS_LIMIT)?);
            Ok(())
        },
    }
    livelog_max_searches = "LIVELOG_MAX_SEARCHES" {
        default: Default::Unset(Some("twice the number of CPU cores")),
        help: "searches scanning the log at once, on low-priority threads of their own; more get 503",
        exit_codes: ExitCodes::GENERAL,
        read: |s, v, c| {
            c.max_searches = Some(number(s, v, 1, MAX_SEARCHES_LIMIT)?);
            Ok(())
        },
    }
    livelog_max_searches_per_address = "LIVELOG_MAX_SEARCHES_PER_ADDRESS" {
        default: Default::Unset(Some("a quarter of LIVELOG_MAX_SEARCHES")),
        help: "searches scanning at once from one client address; more get 429",
        exit_codes: ExitCodes::GENERAL,
        read: |s, v, c| {
            c.max_searches_per_address = Some(number(s, v, 1, MAX_SEARCHES_LIMIT)?);
            Ok(())
        },
    }
    livelog_shared_cache_secs = "LIVELOG_SHARED_CACHE_SECS" {
        default: Default::Unset(Some("off")),
        help: "seconds a shared cache (Varnish, a CDN) may keep the log read from its start, streaming it to many readers from one fetch (Surrogate-Control); browsers are still told not to store it",
        exit_codes: ExitCodes::GENERAL,
        read: |s, v, c| {
            c.shared_cache = non_empty(v).map(|v| seconds(s, v)).transpose()?;
            Ok(())
        },
    }
    livelog_line_index = "LIVELOG_LINE_INDEX" {
        default: Default::Value(Value::Text("on")),
        help: "on or off: index line starts, sections and error lines as the log is stored (?tail, ?lines, ?timestamps, /outline)",
        exit_codes: ExitCodes::GENERAL,
        read: |s, v, c| {
            if let Some(on) = switch(s, v)? {
                c.line_index = on;
            }
            Ok(())
        },
    }
    debug = "DEBUG" {
        default: Default::Unset(None),
        help: "non-empty: debug logging (RUST_LOG also honoured)",
        exit_codes: ExitCodes::GENERAL,
        read: |_, v, c| {
            c.debug = !v.is_empty();
            Ok(())
        },
    }
    livelog_progress_secs = "LIVELOG_PROGRESS_SECS" {
        default: Default::Value(Value::Number(DEFAULT_PROGRESS_SECS)),
        help: "seconds between a running upload's progress lines",
        exit_codes: ExitCodes::GENERAL,
        read: |s, v, c| {
            c.progress_every = seconds(s, v)?;
            Ok(())
        },
    }
    livelog_log_format = "LIVELOG_LOG_FORMAT" {
        default: Default::Value(Value::Text("text")),
        help: "text or json: one JSON object per log line",
        exit_codes: ExitCodes::GENERAL,
        read: |s, v, c| {
            if let Some(format) = log_format(s, v)? {
                c.log_format = format;
            }
            Ok(())
        },
    }
}
