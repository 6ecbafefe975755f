//! Protocol tests: what a client gets over real sockets, from livelog run
//! in this process (the harness's default backend, `common::Daemon::start`:
//! `Server::bind` on ports 0, its log captured per instance), one module per
//! subject. With `LIVELOG_TEST_BIN` set (`scripts/wine-tests.sh`), every
//! daemon here is that program instead.
//!
//! The few checks that need the process run the binary themselves: a stop
//! request (a signal) in `sse`, and a bad variable's startup error
//! (`run_to_exit`) in `sse`. Everything about the process is in
//! `tests/process/`.

// Tests and benchmarks panic on what they did not expect, and time the real
// process from outside with std's clock: the lint policy is livelog's own.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::disallowed_types)]

#[path = "../common/mod.rs"]
mod common;

mod connections;
mod core;
mod encoding;
mod fleet;
mod lines;
mod observe;
mod outline;
mod ranges;
mod real_corpus;
mod real_logs;
mod search;
mod search_limits;
mod sse;
mod validators;
