//! Logging set-up: the `tracing` subscriber, writing to stderr.
//!
//! The access token must never reach a log line, at any level. livelog's own
//! lines only ever carry a redacted path (`http::access_log`); and because
//! the HTTP/2 crate's debug and trace events print request headers (`:path`
//! included), events from `h2` and `hyper` below INFO are dropped whatever
//! `RUST_LOG` asks for.

use std::io::IsTerminal;

use tracing::Level;

use crate::config::LogFormat;
use tracing_subscriber::EnvFilter;
use tracing_subscriber::filter::filter_fn;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{Layer, fmt};

/// Installs the global subscriber: stderr, in `format`; `RUST_LOG` if set,
/// else `debug` for livelog when `debug` (the `DEBUG` variable) is on, else
/// `info`. Does nothing if a subscriber is already installed (tests,
/// embedders).
pub fn init(debug: bool, format: LogFormat) {
    let filter = match std::env::var("RUST_LOG") {
        Ok(spec) if !spec.is_empty() => EnvFilter::new(spec),
        _ if debug => EnvFilter::new("info,livelog=debug"),
        _ => EnvFilter::new("info"),
    };
    let never_headers = filter_fn(|meta| {
        let target = meta.target();
        let header_printing = target.starts_with("h2") || target.starts_with("hyper");
        !header_printing || *meta.level() <= Level::INFO
    });
    let layer = match format {
        LogFormat::Text => fmt::layer()
            .with_writer(std::io::stderr)
            .with_ansi(std::io::stderr().is_terminal())
            .boxed(),
        // Fields at the top level of each object, as the text format shows
        // them, rather than nested under "fields".
        LogFormat::Json => fmt::layer()
            .json()
            .flatten_event(true)
            .with_writer(std::io::stderr)
            .boxed(),
    };
    let layer = layer.with_filter(filter).with_filter(never_headers);
    let _ = tracing_subscriber::registry().with(layer).try_init();
}
