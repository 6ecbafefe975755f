//! What livelog counts as it runs: the handles every layer updates, in
//! `prometheus-client` types, so that `/metrics` exposes them as they are.
//!
//! Each layer gets the handles it updates (the store its [`StoreMetrics`],
//! the reader port its reader counts, the listeners their connection
//! counts); the values that are a property of the log rather than of
//! events (upload state, ring size, the slowest reader's lag) are read from
//! the store at scrape time instead (`http/observe/`). Names follow
//! Prometheus' conventions: the `livelog_` prefix, base units (bytes,
//! seconds), `_total` for counters (added by the encoder).
//!
//! Every update is an atomic add or a short lock inside `prometheus-client`;
//! nothing here walks over readers, so a scrape costs the same with 10
//! readers or 10,000.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::{Registry, Unit};

use crate::config::Port;

/// Upper bounds of the live-latency histogram's buckets, in seconds: 100 µs
/// to 10 s (livelog's target is p99 under 1 ms on a quiet machine; a
/// reader seconds behind is a reader catching up).
pub const LATENCY_BUCKETS_SECONDS: [f64; 16] = [
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
    5.0, 10.0,
];

/// The labels of a per-port metric: `port="upload"` or `port="reader"`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct PortLabels {
    /// [`Port::name`].
    pub port: &'static str,
}

impl PortLabels {
    /// The labels of `port`.
    pub fn of(port: Port) -> Self {
        PortLabels { port: port.name() }
    }
}

/// The labels of a connected reader: its protocol (`http1`, `http2`) and
/// what it reads (`raw`: the whole log as stored; `ranged`: a byte range;
/// `gzip`, `zstd`: the whole log in that coding; `sse`: the log as
/// Server-Sent Events; `lines`: a line view; `search`: a search;
/// `outline`: the live outline).
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ReaderLabels {
    /// `http1` or `http2`.
    pub protocol: &'static str,
    /// One of [`KINDS`].
    pub kind: &'static str,
}

/// The labels of a refusal by a per-address limit: `token_failures` (too
/// many wrong tokens this minute), `address_readers` (its address has
/// every reader slot it may have) or `address_searches` (every scan slot).
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct LimitLabels {
    /// `token_failures`, `address_readers` or `address_searches`.
    pub reason: &'static str,
}

/// Every protocol label value a reader can have.
pub const PROTOCOLS: [&str; 2] = ["http1", "http2"];
/// Every kind label value a reader can have.
pub const KINDS: [&str; 8] = [
    "raw", "ranged", "gzip", "zstd", "sse", "lines", "search", "outline",
];

/// What the store counts.
#[derive(Clone, Debug)]
pub struct StoreMetrics {
    /// Bytes the upload stored (`livelog_upload_bytes_total`).
    pub upload_bytes: Counter,
    /// Chunks readers got from the ring, without touching the file.
    pub ring_hits: Counter,
    /// Positional reads of the temp file by readers behind the ring.
    pub catch_up_reads: Counter,
    /// Bytes those reads returned.
    pub catch_up_read_bytes: Counter,
    /// Seconds from a chunk's append to its hand-over to a reader's
    /// connection, for chunks served from the ring.
    pub live_latency: Histogram,
}

impl Default for StoreMetrics {
    fn default() -> Self {
        StoreMetrics {
            upload_bytes: Counter::default(),
            ring_hits: Counter::default(),
            catch_up_reads: Counter::default(),
            catch_up_read_bytes: Counter::default(),
            live_latency: Histogram::new(LATENCY_BUCKETS_SECONDS),
        }
    }
}

/// Every metric livelog updates as it runs. Cheap to share (`Arc`); the
/// fields are handles, each itself a shared atomic.
#[derive(Debug)]
pub struct Metrics {
    /// The store's counts.
    pub store: StoreMetrics,
    /// Readers connected now, by protocol and kind (`livelog_readers`).
    pub readers: Family<ReaderLabels, Gauge>,
    /// Readers connected now, all kinds (for the progress line and
    /// `/status`; not exposed on its own, the family sums to it).
    readers_now: Gauge,
    /// Reader responses that started streaming the log.
    pub readers_served: Counter,
    /// Readers refused with `503` (all reader slots taken).
    pub readers_refused: Counter,
    /// Readers disconnected by the stall timeout.
    pub readers_stalled: Counter,
    /// Reader responses that ended incomplete (the upload broke, or livelog
    /// stopped before the log was complete).
    pub readers_incomplete: Counter,
    /// Bytes of the log handed to readers' connections.
    pub sent_bytes: Counter,
    /// Connections open now, by port.
    pub connections: Family<PortLabels, Gauge>,
    /// Connections closed at once at the port's cap, by port.
    pub connections_refused: Family<PortLabels, Counter>,
    /// Connections closed for sending no complete request head in time.
    pub header_timeouts: Family<PortLabels, Counter>,
    /// TLS handshakes that failed or timed out on the reader port.
    pub tls_handshake_failures: Counter,
    /// Requests whose token was wrong (`401`, or `429` past the limit).
    pub tokens_refused: Counter,
    /// Requests refused with `429` by a per-address limit, by reason.
    pub requests_limited: Family<LimitLabels, Counter>,
    /// Searches started (`/log/<token>/search`).
    pub searches: Counter,
    /// Searches scanning the stored log now, each holding a scan slot
    /// (`LIVELOG_MAX_SEARCHES`).
    pub searches_scanning: Gauge,
    /// Searches refused with `503` (every scan slot taken).
    pub searches_refused: Counter,
    /// Outline requests (`/log/<token>/outline`, JSON or event stream).
    pub outline_requests: Counter,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    /// All counts at zero. Every label combination exists from the start,
    /// so a family reads 0 rather than being absent before its first event.
    pub fn new() -> Self {
        let metrics = Metrics {
            store: StoreMetrics::default(),
            readers: Family::default(),
            readers_now: Gauge::default(),
            readers_served: Counter::default(),
            readers_refused: Counter::default(),
            readers_stalled: Counter::default(),
            readers_incomplete: Counter::default(),
            sent_bytes: Counter::default(),
            connections: Family::default(),
            connections_refused: Family::default(),
            header_timeouts: Family::default(),
            tls_handshake_failures: Counter::default(),
            tokens_refused: Counter::default(),
            requests_limited: Family::default(),
            searches: Counter::default(),
            searches_scanning: Gauge::default(),
            searches_refused: Counter::default(),
            outline_requests: Counter::default(),
        };
        for reason in ["token_failures", "address_readers", "address_searches"] {
            let _ = metrics
                .requests_limited
                .get_or_create_owned(&LimitLabels { reason });
        }
        for protocol in PROTOCOLS {
            for kind in KINDS {
                let _ = metrics
                    .readers
                    .get_or_create_owned(&ReaderLabels { protocol, kind });
            }
        }
        for port in [Port::Upload, Port::Reader] {
            let labels = PortLabels::of(port);
            let _ = metrics.connections.get_or_create_owned(&labels);
            let _ = metrics.connections_refused.get_or_create_owned(&labels);
            let _ = metrics.header_timeouts.get_or_create_owned(&labels);
        }
        metrics
    }

    /// A reader with `labels` connected; it counts until the returned guard
    /// is dropped.
    pub fn reader_connected(&self, labels: &ReaderLabels) -> ReaderGauge {
        let labelled = self.readers.get_or_create_owned(labels);
        labelled.inc();
        self.readers_now.inc();
        self.readers_served.inc();
        ReaderGauge {
            labelled,
            total: self.readers_now.clone(),
        }
    }

    /// Readers connected now.
    pub fn readers_now(&self) -> u64 {
        self.readers_now.get().max(0) as u64
    }

    /// Readers connected now with `labels`.
    pub fn readers_with(&self, labels: &ReaderLabels) -> u64 {
        self.readers
            .get(labels)
            .map_or(0, |gauge| gauge.get().max(0) as u64)
    }

    /// Registers every metric in `registry` (which adds the `livelog_`
    /// prefix when made with `Registry::with_prefix("livelog")`).
    pub fn register(&self, registry: &mut Registry) {
        let s = &self.store;
        registry.register_with_unit(
            "upload",
            "Bytes of the log the upload stored",
            Unit::Bytes,
            s.upload_bytes.clone(),
        );
        registry.register(
            "ring_hits",
            "Chunks readers got from the ring of recent chunks",
            s.ring_hits.clone(),
        );
        registry.register(
            "catch_up_reads",
            "Reads of the temp file by readers behind the ring",
            s.catch_up_reads.clone(),
        );
        registry.register_with_unit(
            "catch_up_read",
            "Bytes read from the temp file by readers behind the ring",
            Unit::Bytes,
            s.catch_up_read_bytes.clone(),
        );
        registry.register_with_unit(
            "live_latency",
            "Time from a chunk's append to its hand-over to a reader's connection (chunks served from the ring)",
            Unit::Seconds,
            s.live_latency.clone(),
        );
        registry.register(
            "readers",
            "Readers connected now, by protocol and kind",
            self.readers.clone(),
        );
        registry.register(
            "readers_served",
            "Reader responses that started streaming the log",
            self.readers_served.clone(),
        );
        registry.register(
            "readers_refused",
            "Readers refused with 503: every reader slot was taken",
            self.readers_refused.clone(),
        );
        registry.register(
            "readers_stalled",
            "Readers disconnected by the stall timeout",
            self.readers_stalled.clone(),
        );
        registry.register(
            "readers_incomplete",
            "Reader responses that ended incomplete",
            self.readers_incomplete.clone(),
        );
        registry.register_with_unit(
            "sent",
            "Bytes of the log handed to readers' connections",
            Unit::Bytes,
            self.sent_bytes.clone(),
        );
        registry.register(
            "connections",
            "Connections open now, by port",
            self.connections.clone(),
        );
        registry.register(
            "connections_refused",
            "Connections closed at once at the port's connection cap",
            self.connections_refused.clone(),
        );
        registry.register(
            "header_timeouts",
            "Connections closed for sending no complete request head in time",
            self.header_timeouts.clone(),
        );
        registry.register(
            "tls_handshake_failures",
            "TLS handshakes on the reader port that failed or timed out",
            self.tls_handshake_failures.clone(),
        );
        registry.register(
            "tokens_refused",
            "Requests on the reader port whose access token was wrong",
            self.tokens_refused.clone(),
        );
        registry.register(
            "requests_limited",
            "Requests refused with 429 by a per-address limit, by reason",
            self.requests_limited.clone(),
        );
        registry.register(
            "searches",
            "Searches of the log started (/log/<token>/search)",
            self.searches.clone(),
        );
        registry.register(
            "searches_scanning",
            "Searches scanning the stored log now, each holding one of LIVELOG_MAX_SEARCHES scan slots",
            self.searches_scanning.clone(),
        );
        registry.register(
            "searches_refused",
            "Searches refused with 503 because every scan slot (LIVELOG_MAX_SEARCHES) was taken",
            self.searches_refused.clone(),
        );
        registry.register(
            "outline_requests",
            "Outline requests (/log/<token>/outline), documents and event streams",
            self.outline_requests.clone(),
        );
    }
}

/// Counts one connected reader until dropped.
#[derive(Debug)]
pub struct ReaderGauge {
    labelled: Gauge,
    total: Gauge,
}

impl Drop for ReaderGauge {
    fn drop(&mut self) {
        self.labelled.dec();
        self.total.dec();
    }
}

/// Counts one open connection until dropped.
#[derive(Debug)]
pub struct ConnectionGauge(Gauge);

impl Metrics {
    /// A connection to `port` opened; it counts until the guard is dropped.
    pub fn connection_opened(&self, port: Port) -> ConnectionGauge {
        let gauge = self.connections.get_or_create_owned(&PortLabels::of(port));
        gauge.inc();
        ConnectionGauge(gauge)
    }
}

impl Drop for ConnectionGauge {
    fn drop(&mut self) {
        self.0.dec();
    }
}
