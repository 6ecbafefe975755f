//! The one test harness, shared by the integration tests (`tests/protocol/`,
//! `tests/process/` and `tests/browser/`, each with
//! `#[path = "../common/mod.rs"] mod common;`) and the benches (`benches/e2e.rs`
//! and others: `#[path = "../tests/common/mod.rs"] mod common;`): it runs
//! livelog on ephemeral ports and talks to it over real sockets with real
//! clients.
//!
//! - [`daemon`]: start livelog ([`Daemon`], [`DaemonBuilder`]) and read its
//!   log. `start()` runs it in the test process (the protocol tests),
//!   `start_process()` runs the real binary (the process tests, the browser
//!   tests and the benches), as does `start()` when `LIVELOG_TEST_BIN` names
//!   a program (wine); signals, exit codes and what `/proc` says about it
//!   (RSS, CPU time) are the process's alone.
//! - [`in_process`]: the in-process backend: livelog's library on a runtime
//!   of its own, its log captured per instance in the binary's text format.
//! - [`body`]: the one streaming body reader ([`read_body`], [`Streamed`]):
//!   bytes (kept or checked on the fly) and whether the body ended complete.
//! - [`upload`]: the raw chunked [`Uploader`] and the one `curl -T` helper,
//!   [`curl_upload`].
//! - [`client`]: clients: `curl` (one-shot and [`CurlReader`]), a raw
//!   HTTP/1.1 reader ([`RawReader`]), reqwest, a self-signed certificate.
//! - [`net`]: socket states from `/proc/net/tcp`, to wait for a condition
//!   instead of sleeping.
//! - [`data`]: a deterministic log and a streaming byte-exactness check.
//!
//! Each user takes what it needs, so some helpers are unused in some files.
#![allow(dead_code)]
// Not every user needs every re-export.
#![allow(unused_imports)]

pub mod body;
pub mod client;
pub mod daemon;
pub mod data;
pub mod in_process;
pub mod net;
pub mod upload;

pub use body::{Ended, Sink, Streamed, read_body, read_complete};
pub use client::{CurlReader, RawReader, client, curl, raw_exchange, self_signed_cert};
pub use daemon::{Daemon, DaemonBuilder, binary};
pub use data::{Checker, pattern};
pub use upload::{CurlUpload, UploadFrom, Uploader, curl_upload, read_response};

use std::time::{Duration, Instant};

/// The token every test daemon uses unless told otherwise.
pub const TOKEN: &str = "secretpuppy";

/// Generous bound for anything that should happen "now" on a busy 2-core
/// machine: only a failing test ever waits this long.
pub const SOON: Duration = Duration::from_secs(30);

/// Polls `done` every 10 ms until it holds or `limit` passes; returns
/// whether it held. Callers assert on the result with their own message.
pub fn wait_until(limit: Duration, mut done: impl FnMut() -> bool) -> bool {
    let started = Instant::now();
    while started.elapsed() < limit {
        if done() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    done()
}

/// Waits (up to 120 s, then panics) until `heads` readers of `n` have their
/// response heads: benchmarks start an upload only once every reader is
/// attached.
pub fn wait_heads(heads: &std::sync::atomic::AtomicUsize, n: usize) {
    use std::sync::atomic::Ordering;
    assert!(
        wait_until(Duration::from_secs(120), || heads.load(Ordering::SeqCst)
            >= n),
        "only {} of {n} readers connected",
        heads.load(Ordering::SeqCst)
    );
}

/// The fenced `sh` block holding `needle` in `page` (a path from the
/// repository's root, such as `docs/reading-a-ci-log.md`), with the default
/// reader address replaced by `get` (a test daemon's reader port), so a
/// test runs the example exactly as a user would copy it.
pub fn doc_block(page: &str, needle: &str, get: std::net::SocketAddr) -> String {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(page);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{page}: {e}"));
    let block = text
        .split("```")
        .skip(1)
        .step_by(2)
        .find(|b| b.contains(needle))
        .unwrap_or_else(|| panic!("{page} has no example with {needle:?}"));
    let block = block.strip_prefix("sh\n").expect("an sh block");
    assert!(block.contains("http://127.0.0.1:60023/log/secretpuppy"));
    block.replace("http://127.0.0.1:60023", &format!("http://{get}"))
}

/// The environment variable `key` parsed as a `T`, or `default` when it is
/// unset or does not parse: the benchmarks' knobs.
pub fn env_or<T: std::str::FromStr>(key: &str, default: T) -> T {
    std::env::var(key)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// A loopback port nothing listens on now (bound, read and released), for
/// a program that takes its port as a number (nginx, socat).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}
