#![allow(dead_code)]

//! The server the browser tests and the viewer benchmark run against.
//!
//! Until the daemon implements the server side of issue 12 (SSE on
//! `/log/<token>`, the page on `/view/<token>`), that is the dev stand-in
//! `dev/viewer/mock_livelog.py`: it takes the daemon's environment, prints
//! its ready line and serves the same upload and reader ports, so the
//! tests do not change when the daemon takes its place.

use crate::common::{Daemon, DaemonBuilder};

/// Starts the server under test with heartbeats every second and `envs`.
pub fn server_with(envs: &[(&str, &str)]) -> Daemon {
    let mock = concat!(env!("CARGO_MANIFEST_DIR"), "/dev/viewer/mock_livelog.py");
    let python = if std::path::Path::new("/usr/bin/python3").exists() {
        "/usr/bin/python3"
    } else {
        "python3"
    };
    let mut builder = DaemonBuilder::new().env("LIVELOG_HEARTBEAT_SECS", "1");
    for (k, v) in envs {
        builder = builder.env(k, *v);
    }
    // The stand-in runs in place of the binary (whose path it is given last,
    // and ignores). Remove this line to test the daemon itself.
    builder.wrapper(&[python, mock, "--"]).start()
}

/// Starts the server under test with heartbeats every second.
pub fn server() -> Daemon {
    server_with(&[])
}
