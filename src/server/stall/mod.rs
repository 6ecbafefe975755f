//! The stall timeout: a reader that accepts no bytes for
//! `LIVELOG_STALL_TIMEOUT_SECS` while log data waits for it is disconnected,
//! and a reader that is only waiting for new log lines never is.
//!
//! * `h1.rs` — a reader that owns its connection (HTTP/1.1): a write
//!   timeout on its socket, which runs only while a write is pending;
//! * `h2.rs` — a reader that shares its connection (an HTTP/2 stream): a
//!   deadline per stream, moved by the bytes the socket takes for it.

mod h1;
mod h2;

pub use h1::{StallTimeoutStream, is_stall};
pub use h2::{StallExecutor, Watched};
