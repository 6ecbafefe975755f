#![allow(dead_code)]

//! The server the browser tests and the viewer benchmark run against: the
//! real `livelog` binary (the debug build under `cargo test`, the release
//! build under `cargo bench`), with heartbeats every second so a silent
//! stream shows them within a test's patience.

use crate::common::{Daemon, DaemonBuilder};

/// Starts livelog with heartbeats every second and `envs`.
pub fn server_with(envs: &[(&str, &str)]) -> Daemon {
    let mut builder = DaemonBuilder::new().env("LIVELOG_HEARTBEAT_SECS", "1");
    for (k, v) in envs {
        builder = builder.env(k, *v);
    }
    builder.start_process()
}

/// Starts livelog with heartbeats every second.
pub fn server() -> Daemon {
    server_with(&[])
}

/// 1234567 -> "1,234,567", as the viewer writes byte counts.
pub fn thousands(n: usize) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}
