//! What an operator asks the upload port (loopback, so no token is needed
//! and nothing leaks to the network): `GET /metrics`, the Prometheus
//! exposition, and `GET /status`, one small JSON document.
//!
//! Neither takes a reader slot, and neither runs on the upload's thread:
//! the document is built on the main runtime, so a scrape never delays the
//! upload's next chunk. Building it costs the same however many readers
//! are connected: counters are read, not summed over readers, and the
//! slowest reader's lag is a lookup (`store/positions.rs`).

use std::sync::Arc;
use std::time::Instant;

use http::{HeaderMap, Method, Response, StatusCode, header};
use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeLabelSet, EncodeMetric};
use prometheus_client::metrics::MetricType;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::metrics::info::Info;
use prometheus_client::registry::{Registry, Unit};
use serde::Serialize;

use super::{ResponseBody, plain};
use crate::config::Config;
use crate::metrics::{KINDS, Metrics, PROTOCOLS, ReaderLabels};
use crate::store::{LogStore, Phase};

/// `Content-Type` of the OpenMetrics text format, for scrapers that ask for
/// it in `Accept` (Prometheus does).
const OPENMETRICS: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// The limits in force, as `/status` reports them.
#[derive(Clone, Debug, Serialize)]
pub struct Limits {
    /// `LIVELOG_MAX_READERS`.
    pub max_readers: usize,
    /// `LIVELOG_MAX_CONNECTIONS`.
    pub max_connections: usize,
    /// `LIVELOG_RING_BYTES`.
    pub ring_bytes: usize,
    /// `LIVELOG_STALL_TIMEOUT_SECS`.
    pub stall_timeout_secs: u64,
    /// `LIVELOG_HEADER_TIMEOUT_SECS`.
    pub header_timeout_secs: u64,
}

impl Limits {
    /// The limits `config` sets.
    pub fn of(config: &Config) -> Self {
        Limits {
            max_readers: config.max_readers,
            max_connections: config.max_connections,
            ring_bytes: config.ring_bytes,
            stall_timeout_secs: config.stall_timeout.as_secs(),
            header_timeout_secs: config.header_timeout.as_secs(),
        }
    }
}

/// Answers `/metrics` and `/status`.
#[derive(Debug)]
pub struct Observer {
    store: LogStore,
    metrics: Arc<Metrics>,
    registry: Registry,
    limits: Limits,
    started: Instant,
    /// The runtime the documents are built on (the main one).
    runtime: tokio::runtime::Handle,
}

impl Observer {
    /// Observes `store` and `metrics`; builds its documents on `runtime`.
    pub fn new(
        store: LogStore,
        metrics: Arc<Metrics>,
        limits: Limits,
        runtime: tokio::runtime::Handle,
    ) -> Self {
        let mut registry = Registry::default();
        let livelog = registry.sub_registry_with_prefix("livelog");
        metrics.register(livelog);
        livelog.register(
            "build",
            "livelog's version",
            Info::new(vec![("version", crate::VERSION)]),
        );
        livelog.register_collector(Box::new(StoreCollector {
            store: store.clone(),
        }));
        #[cfg(target_os = "linux")]
        registry.register_collector(Box::new(process::ProcessCollector::new()));
        Observer {
            store,
            metrics,
            registry,
            limits,
            started: Instant::now(),
            runtime,
        }
    }

    /// The metrics, for the upload handler's progress line.
    pub fn metrics(&self) -> &Metrics {
        &self.metrics
    }

    /// Answers `path` (`/metrics` or `/status`) for a request with `method`
    /// and `headers`, or `None` for any other path.
    pub async fn answer(
        self: &Arc<Self>,
        method: &Method,
        path: &str,
        headers: &HeaderMap,
    ) -> Option<Response<ResponseBody>> {
        let openmetrics = wants_openmetrics(headers);
        let document = match path {
            "/metrics" => Document::Metrics { openmetrics },
            "/status" => Document::Status,
            _ => return None,
        };
        if method != Method::GET && method != Method::HEAD {
            let mut resp = plain(
                StatusCode::METHOD_NOT_ALLOWED,
                &format!("method not allowed: read {path} with GET\n"),
            );
            resp.headers_mut()
                .insert(header::ALLOW, header::HeaderValue::from_static("GET, HEAD"));
            return Some(resp);
        }
        let this = Arc::clone(self);
        let built = self.runtime.spawn(async move { this.build(document) });
        Some(match built.await {
            Ok((content_type, body)) => {
                let mut resp = plain(StatusCode::OK, &body);
                resp.headers_mut().insert(
                    header::CONTENT_TYPE,
                    header::HeaderValue::from_static(content_type),
                );
                resp.headers_mut().insert(
                    header::CACHE_CONTROL,
                    header::HeaderValue::from_static("no-store"),
                );
                resp
            }
            Err(err) => plain(
                StatusCode::INTERNAL_SERVER_ERROR,
                &format!("internal server error: building {path} failed: {err}\n"),
            ),
        })
    }

    fn build(&self, document: Document) -> (&'static str, String) {
        match document {
            Document::Metrics { openmetrics } => {
                let mut out = String::with_capacity(8 * 1024);
                // Writing into a `String` cannot fail.
                if openmetrics {
                    let _ = prometheus_client::encoding::text::encode(&mut out, &self.registry);
                    (OPENMETRICS, out)
                } else {
                    let _ = prometheus_client::encoding::prometheus_text::encode(
                        &mut out,
                        &self.registry,
                    );
                    (
                        prometheus_client::encoding::prometheus_text::CONTENT_TYPE,
                        out,
                    )
                }
            }
            Document::Status => {
                let mut json = serde_json::to_string_pretty(&self.status())
                    .unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"));
                json.push('\n');
                ("application/json", json)
            }
        }
    }

    /// The `/status` document.
    pub fn status(&self) -> Status {
        let progress = self.store.progress();
        let by_kind = KINDS
            .iter()
            .map(|&kind| {
                let n = PROTOCOLS
                    .iter()
                    .map(|&protocol| self.metrics.readers_with(&ReaderLabels { protocol, kind }))
                    .sum();
                (kind, n)
            })
            .collect();
        let by_protocol = PROTOCOLS
            .iter()
            .map(|&protocol| {
                let n = KINDS
                    .iter()
                    .map(|&kind| self.metrics.readers_with(&ReaderLabels { protocol, kind }))
                    .sum();
                (protocol, n)
            })
            .collect();
        Status {
            version: crate::VERSION,
            uptime_seconds: self.started.elapsed().as_secs(),
            upload: UploadStatus {
                state: progress.phase.name(),
                bytes: progress.len,
            },
            readers: ReadersStatus {
                connected: self.metrics.readers_now(),
                by_kind,
                by_protocol,
                slowest_lag_bytes: self.store.max_reader_lag(),
            },
            limits: self.limits.clone(),
        }
    }
}

/// Which document a request asked for.
enum Document {
    Metrics { openmetrics: bool },
    Status,
}

/// `true` if `Accept` names the OpenMetrics text format.
fn wants_openmetrics(headers: &HeaderMap) -> bool {
    headers
        .get_all(header::ACCEPT)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|item| {
            let mut params = item.split(';').map(str::trim);
            let media = params.next().unwrap_or("");
            let refused = params.any(|p| p.replace(' ', "") == "q=0");
            media.eq_ignore_ascii_case("application/openmetrics-text") && !refused
        })
}

/// The `/status` document: `curl -s localhost:60022/status | jq`.
#[derive(Debug, Serialize)]
pub struct Status {
    /// livelog's version.
    pub version: &'static str,
    /// Seconds since livelog started.
    pub uptime_seconds: u64,
    /// The upload.
    pub upload: UploadStatus,
    /// The readers.
    pub readers: ReadersStatus,
    /// The limits in force.
    pub limits: Limits,
}

/// The upload, as `/status` reports it.
#[derive(Debug, Serialize)]
pub struct UploadStatus {
    /// `waiting`, `live`, `complete` or `incomplete` (as `Livelog-State`).
    pub state: &'static str,
    /// Bytes stored.
    pub bytes: u64,
}

/// The readers, as `/status` reports them.
#[derive(Debug, Serialize)]
pub struct ReadersStatus {
    /// Readers connected now.
    pub connected: u64,
    /// Readers connected now, by kind.
    pub by_kind: std::collections::BTreeMap<&'static str, u64>,
    /// Readers connected now, by protocol.
    pub by_protocol: std::collections::BTreeMap<&'static str, u64>,
    /// How far the furthest-behind reader is behind the end of the log,
    /// in bytes (to within 64 KiB).
    pub slowest_lag_bytes: u64,
}

/// Values that belong to the log rather than to events, read from the
/// store at each scrape.
#[derive(Debug)]
struct StoreCollector {
    store: LogStore,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct StateLabels {
    state: &'static str,
}

impl Collector for StoreCollector {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let progress = self.store.progress();
        let mut state = encoder.encode_descriptor(
            "upload_state",
            "The log's state: 1 for the state it is in (waiting, live, complete, incomplete)",
            None,
            MetricType::Gauge,
        )?;
        for phase in Phase::ALL {
            let labels = StateLabels {
                state: phase.name(),
            };
            ConstGauge::new(i64::from(progress.phase == phase))
                .encode(state.encode_family(&labels)?)?;
        }
        let gauges = [
            (
                "ring",
                "Bytes the ring of recent chunks holds",
                self.store.ring_bytes() as i64,
            ),
            (
                "catch_up",
                "Bytes of the catch-up budget held by file reads in flight",
                self.store.catch_up_bytes() as i64,
            ),
            (
                "reader_lag",
                "How far the furthest-behind reader is behind the end of the log (to within 64 KiB)",
                i64::try_from(self.store.max_reader_lag()).unwrap_or(i64::MAX),
            ),
        ];
        for (name, help, value) in gauges {
            let metric = ConstGauge::new(value);
            metric.encode(encoder.encode_descriptor(
                name,
                help,
                Some(&Unit::Bytes),
                metric.metric_type(),
            )?)?;
        }
        Ok(())
    }
}

/// The standard process metrics (`process_*`), from `/proc/self`.
#[cfg(target_os = "linux")]
mod process {
    use super::*;
    use prometheus_client::metrics::counter::ConstCounter;
    use std::sync::Mutex;
    use std::time::Duration;

    /// How old the open-descriptor count may get before a scrape asks for
    /// a new one. Counting means reading `/proc/self/fd`, which takes about
    /// 2 ms per 1,000 open descriptors (20 ms with 10,000 readers): far too
    /// much for every scrape, so it is counted on the blocking pool at most
    /// this often, and scrapes read the last count.
    const OPEN_FDS_EVERY: Duration = Duration::from_secs(10);
    use std::time::{SystemTime, UNIX_EPOCH};

    #[derive(Debug)]
    pub struct ProcessCollector {
        start_time_seconds: f64,
        open_fds: Arc<Mutex<OpenFds>>,
    }

    #[derive(Debug)]
    struct OpenFds {
        count: Option<i64>,
        counted: Instant,
        counting: bool,
    }

    impl ProcessCollector {
        pub fn new() -> Self {
            let start_time_seconds = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0.0, |d| d.as_secs_f64());
            ProcessCollector {
                start_time_seconds,
                // At startup only a handful are open: counting is cheap.
                open_fds: Arc::new(Mutex::new(OpenFds {
                    count: open_fds(),
                    counted: Instant::now(),
                    counting: false,
                })),
            }
        }

        /// The last count of open descriptors; starts a new count in the
        /// background if that one is older than [`OPEN_FDS_EVERY`].
        fn open_fds(&self) -> Option<i64> {
            let mut fds = self.open_fds.lock().unwrap_or_else(|p| p.into_inner());
            if fds.counted.elapsed() >= OPEN_FDS_EVERY && !fds.counting {
                if let Ok(runtime) = tokio::runtime::Handle::try_current() {
                    fds.counting = true;
                    let shared = Arc::clone(&self.open_fds);
                    runtime.spawn_blocking(move || {
                        let count = open_fds();
                        let mut fds = shared.lock().unwrap_or_else(|p| p.into_inner());
                        *fds = OpenFds {
                            count,
                            counted: Instant::now(),
                            counting: false,
                        };
                    });
                }
            }
            fds.count
        }
    }

    /// CPU seconds (user + system) and resident bytes, from
    /// `/proc/self/stat` and `/proc/self/statm`.
    fn cpu_and_rss() -> Option<(f64, i64)> {
        let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
        // Fields after the command name, which is in parentheses and may
        // hold spaces: utime and stime are fields 14 and 15 of the line.
        let after = stat.rsplit_once(')')?.1;
        let fields: Vec<&str> = after.split_whitespace().collect();
        let ticks: f64 =
            fields.get(11)?.parse::<f64>().ok()? + fields.get(12)?.parse::<f64>().ok()?;
        let cpu = ticks / rustix::param::clock_ticks_per_second() as f64;
        let statm = std::fs::read_to_string("/proc/self/statm").ok()?;
        let pages: i64 = statm.split_whitespace().nth(1)?.parse().ok()?;
        Some((cpu, pages * rustix::param::page_size() as i64))
    }

    /// Open file descriptors: the entries of `/proc/self/fd`, minus the one
    /// reading it.
    fn open_fds() -> Option<i64> {
        let n = std::fs::read_dir("/proc/self/fd").ok()?.count() as i64;
        Some(n - 1)
    }

    impl Collector for ProcessCollector {
        fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
            if let Some((cpu, rss)) = cpu_and_rss() {
                let cpu = ConstCounter::new(cpu);
                cpu.encode(encoder.encode_descriptor(
                    "process_cpu",
                    "Total user and system CPU time spent",
                    Some(&Unit::Seconds),
                    cpu.metric_type(),
                )?)?;
                let rss = ConstGauge::new(rss);
                rss.encode(encoder.encode_descriptor(
                    "process_resident_memory",
                    "Resident memory size",
                    Some(&Unit::Bytes),
                    rss.metric_type(),
                )?)?;
            }
            if let Some(fds) = self.open_fds() {
                let fds = ConstGauge::new(fds);
                fds.encode(encoder.encode_descriptor(
                    "process_open_fds",
                    "Number of open file descriptors (counted at most every 10 s)",
                    None,
                    fds.metric_type(),
                )?)?;
            }
            if let Ok(limit) = rlimit::getrlimit(rlimit::Resource::NOFILE) {
                let max = ConstGauge::new(i64::try_from(limit.0).unwrap_or(i64::MAX));
                max.encode(encoder.encode_descriptor(
                    "process_max_fds",
                    "Maximum number of open file descriptors",
                    None,
                    max.metric_type(),
                )?)?;
            }
            let start = ConstGauge::new(self.start_time_seconds);
            start.encode(encoder.encode_descriptor(
                "process_start_time",
                "Start time of the process since the Unix epoch",
                Some(&Unit::Seconds),
                start.metric_type(),
            )?)?;
            Ok(())
        }
    }
}
