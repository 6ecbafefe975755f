//! livelog: stream one growing log, uploaded once over loopback, to any number
//! of token-checked HTTP(S) readers, live.
//!
//! A drop-in for the Taskcluster Go livelog (same environment variables,
//! ports and URLs), built so that a slow reader never costs the writer or
//! another reader, and never loses data.
//!
//! Dependencies flow one way: [`server`] → [`http`] → [`index`] →
//! [`store`].
//! * [`config`] — the environment, typed and checked;
//! * [`server`] — sockets, TLS, HTTP/1.1 and HTTP/2 connections, timeouts,
//!   the daemon's lifecycle and graceful shutdown;
//! * [`http`] — what a request gets: the upload, the readers, byte ranges,
//!   Server-Sent Events, the viewer page, the access log;
//! * [`index`] — what livelog knows about the log's text: where each line
//!   starts, its sections and error lines, built once as it is stored;
//! * [`store`] — the log itself: temp file, ring of recent chunks, notifier,
//!   readers' cursors, when each chunk arrived;
//! * [`metrics`] — what livelog counts, updated by every layer;
//! * [`signals`], [`logging`], [`error`], [`runtime_thread`] — process
//!   signals, the log subscriber, startup errors, threads of livelog's own.
//!
//! [`run`] is what the binary calls; [`Server`] lets tests and embedders bind
//! first and serve until a future of their choosing.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod config;
pub mod error;
pub mod http;
pub mod index;
pub mod logging;
pub mod metrics;
pub mod priority;
pub mod runtime_thread;
pub mod server;
pub mod signals;
pub mod store;

pub use error::StartupError;
pub use http::ranges;
pub use server::{SHUTDOWN_GRACE, Server, run};

/// livelog's version, printed by `livelog --version`: Cargo.toml's, unless
/// the build set its own (`LIVELOG_VERSION`, see `build.rs`).
pub const VERSION: &str = env!("LIVELOG_BUILD_VERSION");

/// The commit livelog was built from (12 hex digits), or `unknown` (see
/// `build.rs`).
pub const COMMIT: &str = env!("LIVELOG_BUILD_COMMIT");
