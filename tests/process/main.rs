//! Process tests: what only the real `livelog` binary can show, each test
//! starting it (`common::Daemon::start_process`, or `run_to_exit`) on ports
//! 0: exit codes and startup errors, signals, the ready line, `--help` and
//! `--version`, where the listeners bind, every platform's certificates and
//! environments, limits set with prlimit, what `/proc` says about the
//! daemon (memory, sockets, the temp file), JSON logs, the Go livelog's own
//! tests, a real Prometheus (`#[ignore]`d: `.ci/run` runs them with
//! `cargo test --test process -- --ignored prometheus::`), and readers behind
//! real nginx and Varnish (`#[ignore]`d: `scripts/proxy-tests.sh` runs them
//! with `cargo test --test process -- --ignored proxies::`).
//!
//! One module per subject; protocol tests are in `tests/protocol/`.

// Tests and benchmarks panic on what they did not expect, and time the real
// process from outside with std's clock: the lint policy is livelog's own.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::disallowed_types)]

#[path = "../common/mod.rs"]
mod common;

mod connections;
mod core;
mod fleet;
mod go_livelog;
mod hardening;
mod observe;
mod platform;
mod priorities;
mod prometheus;
mod proxies;
mod ship;
mod slow_readers;
