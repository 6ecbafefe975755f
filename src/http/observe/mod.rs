//! What an operator asks the upload port (loopback, so no token is needed
//! and nothing leaks to the network): `GET /metrics`, the Prometheus
//! exposition, and `GET /status`, one small JSON document.
//!
//! Neither takes a reader slot, and neither runs on the upload's thread:
//! the document is built on the main runtime, so a scrape never delays the
//! upload's next chunk. Building it costs the same however many readers
//! are connected: counters are read, not summed over readers, and the
//! slowest reader's lag is a lookup (`store/positions.rs`).

mod collectors;
mod status;

pub use status::{Limits, ReadersStatus, Status, UploadStatus};

use std::sync::Arc;
use tokio::time::Instant;

use http::{HeaderMap, Method, Response, StatusCode, header};
use prometheus_client::metrics::info::Info;
use prometheus_client::registry::Registry;
use tracing::Instrument;

use super::route::Route;
use super::{ResponseBody, plain};
use crate::metrics::Metrics;
use crate::store::LogStore;
use collectors::StoreCollector;
#[cfg(target_os = "linux")]
use collectors::process;

/// `Content-Type` of the OpenMetrics text format, for scrapers that ask for
/// it in `Accept` (Prometheus does).
const OPENMETRICS: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

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
            Info::new(vec![("version", crate::VERSION), ("commit", crate::COMMIT)]),
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
        let document = match Route::of(path) {
            Route::Metrics => Document::Metrics { openmetrics },
            Route::Status => Document::Status,
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
        let built = self
            .runtime
            .spawn(async move { this.build(document) }.in_current_span());
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
