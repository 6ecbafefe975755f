//! The in-process backend of [`super::Daemon`]: livelog's library
//! (`Config::from_pairs`, `Server::bind`, `Server::serve`) on a thread of
//! its own with a runtime of its own, in the test process, and its log
//! captured per instance in the text format the binary writes.
//!
//! Each instance runs inside a root span of its own (`livelog{instance=N}`,
//! target [`ROOT`]); livelog emits every event under the span that was
//! current when it was bound and served, so [`Capture`], the test binary's
//! one global subscriber, routes each event to the instance whose root span
//! is in its scope, filtered as the binary's `logging::init` filters
//! (`RUST_LOG`, else `DEBUG`, else info; never `h2`/`hyper` below INFO), and
//! formatted as its text lines are (timestamp, level, spans with their
//! fields, target, fields), less the root span, which the binary has not.
//!
//! Dropping an [`Instance`] stops it at once, as SIGKILL stops the binary:
//! the serve future and the runtime are dropped (livelog's own threads are
//! cancelled with them), without the graceful shutdown's wait.

use std::fmt::Write as _;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Once};
use std::thread::JoinHandle;
use std::time::Duration;

use livelog::Server;
use livelog::config::{Config, LogFormat};
use livelog::error::Chain;
use tracing::field::{Field, Visit};
use tracing::subscriber::Interest;
use tracing::{Event, Instrument, Level, Metadata, Subscriber, span};
use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::FormatFields;
use tracing_subscriber::fmt::format::{DefaultFields, Writer};
use tracing_subscriber::fmt::time::{FormatTime, SystemTime};
use tracing_subscriber::layer::{Context, Layer, SubscriberExt};
use tracing_subscriber::registry::{LookupSpan, Registry, SpanData, SpanRef};
use tracing_subscriber::util::SubscriberInitExt;

use super::wait_until;

/// The target of each instance's root span.
const ROOT: &str = "livelog_test_instance";

/// How long an instance may take to report ready (as for the binary's
/// ready line).
const READY_WITHIN: Duration = Duration::from_secs(10);

/// One running livelog in this process. Stopped (at once) on drop.
pub struct Instance {
    /// Dropping it stops the instance.
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    /// Ends with livelog's error, if it could not start or serve.
    thread: Option<JoinHandle<Result<(), String>>>,
}

/// Starts livelog with the environment `envs` (nothing else of the test
/// process's environment), its log lines appended to `log`; waits until it
/// logged its ready line. Returns it, the upload address and the reader
/// address as bound (the ready line's `put=` and `get=`).
///
/// Panics if it does not start, with the binary's error line and the log.
pub fn start(
    envs: &[(String, String)],
    log: Arc<Mutex<String>>,
) -> (Instance, SocketAddr, SocketAddr) {
    install_capture();
    let config = Config::from_pairs(envs.iter().cloned())
        .unwrap_or_else(|e| panic!("livelog did not start: livelog: error: {}", Chain(&e)));
    assert!(
        config.log_format == LogFormat::Text,
        "only the livelog binary writes JSON logs: start this daemon with start_process()"
    );
    let rust_log = envs
        .iter()
        .find(|(k, _)| k == "RUST_LOG")
        .map(|(_, v)| v.as_str());
    // As the binary's `logging::init` chooses its filter.
    let filter = match rust_log {
        Some(spec) if !spec.is_empty() => EnvFilter::new(spec),
        _ if config.debug => EnvFilter::new("info,livelog=debug"),
        _ => EnvFilter::new("info"),
    };
    let capture = Arc::new(Capture {
        log: Arc::clone(&log),
        filter,
    });

    static NEXT: AtomicU64 = AtomicU64::new(1);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    let (addrs_tx, addrs_rx) = std::sync::mpsc::channel();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let thread = std::thread::Builder::new()
        .name(format!("livelog-{n}"))
        .spawn(move || {
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .thread_name(format!("livelog-{n}-worker"))
                .enable_all()
                .build()
                .map_err(|e| format!("cannot start the async runtime: {e}"))?;
            let root = tracing::info_span!(target: ROOT, "livelog", instance = n);
            attach(&root, capture);
            let main = async move {
                let server = Server::bind(config)
                    .await
                    .map_err(|e| Chain(&e).to_string())?;
                let _ = addrs_tx.send((server.upload_addrs()[0], server.reader_addrs()[0]));
                // Stopped by dropping the serve future (the select drops
                // it), never by its graceful shutdown.
                tokio::select! {
                    served = server.serve(std::future::pending()) => {
                        served.map_err(|e| Chain(&e).to_string())
                    }
                    _ = stopped => Ok(()),
                }
            };
            let result = runtime.block_on(main.instrument(root));
            // The runtime drops here, with every task it still runs.
            drop(runtime);
            result
        })
        .expect("spawn the daemon's thread");
    let mut instance = Instance {
        stop: Some(stop),
        thread: Some(thread),
    };
    let Ok((put, get)) = addrs_rx.recv() else {
        failed(&mut instance, &log)
    };
    // `serve` logs the ready line once both ports accept.
    let ready = wait_until(READY_WITHIN, || {
        log.lock().unwrap().contains("livelog ready") || instance.is_finished()
    });
    if !ready || instance.is_finished() {
        failed(&mut instance, &log)
    }
    (instance, put, get)
}

/// Stops `instance` and panics with how it ended and what it logged.
fn failed(instance: &mut Instance, log: &Mutex<String>) -> ! {
    let why = match instance.join() {
        Err(error) => format!("livelog: error: {error}"),
        Ok(()) => format!("no ready line within {READY_WITHIN:?}"),
    };
    panic!(
        "livelog did not become ready: {why}\nlog:\n{}",
        log.lock().unwrap()
    );
}

impl Instance {
    fn is_finished(&self) -> bool {
        self.thread.as_ref().is_none_or(|t| t.is_finished())
    }

    /// Stops the instance (if it still runs) and waits for its thread;
    /// returns how it ended.
    fn join(&mut self) -> Result<(), String> {
        drop(self.stop.take());
        match self.thread.take().map(JoinHandle::join) {
            None | Some(Ok(Ok(()))) => Ok(()),
            Some(Ok(Err(error))) => Err(error),
            Some(Err(_)) => Err("the daemon's thread panicked".into()),
        }
    }
}

impl Drop for Instance {
    fn drop(&mut self) {
        let _ = self.join();
    }
}

/// Puts `capture` in the extensions of `root`, the instance's root span.
fn attach(root: &tracing::Span, capture: Arc<Capture>) {
    let attached = root.with_subscriber(|(id, dispatch)| {
        let registry = dispatch.downcast_ref::<Registry>()?;
        registry.span_data(id)?.extensions_mut().insert(capture);
        Some(())
    });
    assert!(
        matches!(attached, Some(Some(()))),
        "the in-process daemon's log cannot be captured: another global tracing subscriber is installed"
    );
}

/// Installs the global subscriber, once per test binary. Like the binary's,
/// it takes the `log` crate's records too (rustls logs through it).
fn install_capture() {
    static INSTALL: Once = Once::new();
    INSTALL.call_once(|| {
        tracing_subscriber::registry()
            .with(CaptureLayer)
            .try_init()
            .expect("no other global tracing subscriber in a test binary");
    });
}

/// One instance's log and filter, in the extensions of its root span.
struct Capture {
    log: Arc<Mutex<String>>,
    filter: EnvFilter,
}

/// A span's fields, formatted as the binary's text lines show them.
struct SpanFields(String);

/// The instance whose root span `span` is, if it is one.
fn capture_of<S>(span: &SpanRef<'_, S>) -> Option<Arc<Capture>>
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    span.extensions().get::<Arc<Capture>>().cloned()
}

/// The HTTP/2 crate's debug and trace events print request headers (the
/// token): the binary drops events from `h2` and `hyper` below INFO, so does
/// this.
fn prints_headers(meta: &Metadata<'_>) -> bool {
    let target = meta.target();
    (target.starts_with("h2") || target.starts_with("hyper")) && *meta.level() > Level::INFO
}

/// Routes each event to its instance's log.
struct CaptureLayer;

impl<S> Layer<S> for CaptureLayer
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    fn register_callsite(&self, meta: &'static Metadata<'static>) -> Interest {
        if meta.target() == ROOT {
            Interest::always()
        } else if prints_headers(meta) {
            Interest::never()
        } else {
            // Whether it is wanted depends on the instance it happens in.
            Interest::sometimes()
        }
    }

    fn enabled(&self, meta: &Metadata<'_>, ctx: Context<'_, S>) -> bool {
        if meta.target() == ROOT {
            return true;
        }
        if prints_headers(meta) {
            return false;
        }
        let Some(current) = ctx.lookup_current() else {
            return false;
        };
        match current.scope().find_map(|span| capture_of(&span)) {
            Some(capture) => capture.filter.enabled(meta, ctx.clone()),
            None => false,
        }
    }

    fn on_new_span(&self, attrs: &span::Attributes<'_>, id: &span::Id, ctx: Context<'_, S>) {
        let Some(span) = ctx.span(id) else { return };
        let mut fields = String::new();
        let _ = DefaultFields::new().format_fields(Writer::new(&mut fields), attrs);
        span.extensions_mut().insert(SpanFields(fields));
    }

    fn on_record(&self, id: &span::Id, values: &span::Record<'_>, ctx: Context<'_, S>) {
        let Some(span) = ctx.span(id) else { return };
        let mut more = String::new();
        let _ = DefaultFields::new().format_fields(Writer::new(&mut more), values);
        if more.is_empty() {
            return;
        }
        let mut extensions = span.extensions_mut();
        if let Some(SpanFields(fields)) = extensions.get_mut::<SpanFields>() {
            if !fields.is_empty() {
                fields.push(' ');
            }
            fields.push_str(&more);
        }
    }

    fn on_event(&self, event: &Event<'_>, ctx: Context<'_, S>) {
        let Some(scope) = ctx.event_scope(event) else {
            return;
        };
        let spans: Vec<_> = scope.from_root().collect();
        let Some(capture) = spans.iter().find_map(capture_of) else {
            return;
        };
        // tracing-subscriber's full text format, as the binary writes it:
        // `<time> <LEVEL> span{fields}:span{fields}: <target>: <fields>`.
        let meta = event.metadata();
        let mut line = String::new();
        let _ = SystemTime.format_time(&mut Writer::new(&mut line));
        let level = match *meta.level() {
            Level::TRACE => "TRACE",
            Level::DEBUG => "DEBUG",
            Level::INFO => " INFO",
            Level::WARN => " WARN",
            Level::ERROR => "ERROR",
        };
        let _ = write!(line, " {level} ");
        let mut seen = false;
        for span in &spans {
            let extensions = span.extensions();
            if extensions.get::<Arc<Capture>>().is_some() {
                // The instance's root span: the binary has none.
                continue;
            }
            line.push_str(span.name());
            if let Some(SpanFields(fields)) = extensions.get::<SpanFields>() {
                if !fields.is_empty() {
                    let _ = write!(line, "{{{fields}}}");
                }
            }
            line.push(':');
            seen = true;
        }
        if seen {
            line.push(' ');
        }
        let _ = write!(line, "{}: ", LogTarget::of(event));
        let _ = DefaultFields::new().format_fields(Writer::new(&mut line), event);
        line.push('\n');
        capture.log.lock().unwrap().push_str(&line);
    }
}

/// An event's target; for a `log` crate record, the record's own target
/// (as the binary's formatter shows it), not `log`.
struct LogTarget(Option<String>);

impl LogTarget {
    fn of(event: &Event<'_>) -> String {
        let meta = event.metadata();
        if meta.target() != "log" {
            return meta.target().to_owned();
        }
        let mut target = LogTarget(None);
        event.record(&mut target);
        target.0.unwrap_or_else(|| meta.target().to_owned())
    }
}

impl Visit for LogTarget {
    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "log.target" {
            self.0 = Some(value.to_owned());
        }
    }

    fn record_debug(&mut self, _: &Field, _: &dyn std::fmt::Debug) {}
}
