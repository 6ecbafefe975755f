//! Scan slots and scan threads: where a search's CPU work runs, and how
//! many may run at once.
//!
//! A search reads and matches the whole stored log: about a second of a
//! core per GiB, more for a costly pattern. Run on the runtime that serves
//! readers, a burst of searches delays every live line and every request by
//! hundreds of milliseconds (measured in `docs/performance.md`). So:
//!
//! * each search scans on a small runtime of livelog's own (`livelog-scan`
//!   threads, one a scan slot up to the number of cores, started at the
//!   first search), at the lowest CPU priority the platform allows
//!   without risking the upload (`priority.rs`: nice 19 on Linux, as the
//!   indexer): the runtime threads that move live bytes and answer
//!   requests go first, and the scans get what they leave;
//! * a search holds one of `LIVELOG_MAX_SEARCHES` scan slots (default:
//!   twice the number of cores, see [`max_searches`]) and one of its
//!   address's `LIVELOG_MAX_SEARCHES_PER_ADDRESS` (default a quarter of
//!   those, at least 1, as readers) while it scans the stored log. Past
//!   either it is refused at once, `503` or `429` with `Retry-After`, never
//!   queued: a queued search would hold its connection and reader slot
//!   while waiting, and its client knows best whether to retry. A following
//!   search gives its slot back once it has caught up with the log's end,
//!   so an open search in a viewer does not hold one for the whole upload.
//!
//! Searches are the only whole-log scans a request can start: line views and
//! the outline look their lines up in the index, and compressed readers read
//! what their compressor (on its own thread) wrote once.

use crate::http::client::Client;
use std::io;
use std::sync::{Arc, Mutex, OnceLock};

use http::{Response, StatusCode};
use prometheus_client::metrics::gauge::Gauge;
use tokio::runtime::{Handle, Runtime};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use super::admission::{AddressReaders, AddressSlot};
use super::slots::retry_later;
use crate::config::Config;
use crate::http::ResponseBody;
use crate::metrics::{LimitLabels, Metrics};

/// Seconds a refused search is told to wait (`Retry-After`): a scan takes
/// about a second per GiB, so a slot is usually free again by then.
pub const SEARCH_RETRY_AFTER_SECS: u64 = 1;

pub use crate::config::MAX_SEARCHES_LIMIT;

/// The scan slots and threads (see the module documentation).
pub(super) struct Scans {
    slots: Arc<Semaphore>,
    max: usize,
    per_address: AddressReaders,
    /// Built at the first search; an error is kept (as text) and answered
    /// with `503` to every search.
    runtime: OnceLock<Result<ScanRuntime, String>>,
    metrics: Arc<Metrics>,
}

/// Why a search may not scan now.
#[derive(Debug)]
pub(super) enum ScanRefused {
    /// Every scan slot is taken.
    Busy,
    /// Its address has every scan slot it may have.
    Address,
    /// The scan threads could not be started (the cause, as text).
    NoThreads(String),
}

/// A scan slot and its address's, held while a search scans the stored
/// log; it counts in `livelog_searches_scanning` until dropped.
#[derive(Debug)]
pub(super) struct ScanSlot {
    _slot: OwnedSemaphorePermit,
    /// `None` for a client no per-address limit applies to.
    _address: Option<AddressSlot>,
    scanning: Gauge,
}

impl Drop for ScanSlot {
    fn drop(&mut self) {
        self.scanning.dec();
    }
}

/// A scan slot shared by a scan and its response body: whichever is done
/// with it first gives it back. The body gives it back as soon as it is
/// dropped (its client went away), on the thread that drops it, rather
/// than when the scan next runs on its low-priority thread: a client that
/// abandons a search for a new one (the viewer, as its user types) finds
/// its slot free.
#[derive(Clone, Debug)]
pub(super) struct SharedSlot(Arc<Mutex<Option<ScanSlot>>>);

impl SharedSlot {
    pub(super) fn new(slot: ScanSlot) -> Self {
        SharedSlot(Arc::new(Mutex::new(Some(slot))))
    }

    /// Gives the slot back (the first call; later ones do nothing).
    pub(super) fn release(&self) {
        // Held for one `take`; a poisoned lock still holds a valid Option.
        let taken = self.0.lock().unwrap_or_else(|p| p.into_inner()).take();
        drop(taken);
    }
}

/// The number of cores livelog may use (at least 1).
fn cores() -> usize {
    std::thread::available_parallelism().map_or(1, usize::from)
}

/// Scan slots for `config`: `LIVELOG_MAX_SEARCHES`, else twice the number
/// of cores. Twice, not once: a refused search waits whole seconds
/// (`Retry-After`), and with one slot a core the scan threads sat idle
/// between a scan's end and the next retry, so that 20 searches started at
/// once took 1.27 times as long as with no bound; with two, 1.07 times
/// (medians, `benches/search_load.rs`). The scans on one thread take turns
/// between chunks.
pub(super) fn max_searches(config: &Config) -> usize {
    config
        .max_searches
        .unwrap_or_else(|| 2 * cores())
        .clamp(1, MAX_SEARCHES_LIMIT)
}

/// Scan slots one address may hold: `LIVELOG_MAX_SEARCHES_PER_ADDRESS`,
/// else a quarter of `max` (at least 1), never more than `max`: the rule of
/// `LIVELOG_MAX_READERS_PER_ADDRESS`.
pub(super) fn searches_per_address(config: &Config, max: usize) -> usize {
    config
        .max_searches_per_address
        .unwrap_or((max / 4).max(1))
        .clamp(1, max)
}

impl Scans {
    /// Slots and threads as `config` sets, counted in `metrics`.
    pub(super) fn new(config: &Config, metrics: Arc<Metrics>) -> Self {
        let max = max_searches(config);
        Scans {
            slots: Arc::new(Semaphore::new(max)),
            max,
            per_address: AddressReaders::new(searches_per_address(config, max)),
            runtime: OnceLock::new(),
            metrics,
        }
    }

    /// A scan slot for a search from `client`, and the runtime to scan on.
    ///
    /// # Errors
    /// Why there is none ([`Scans::refuse`] answers it).
    pub(super) fn take(&self, client: Client) -> Result<(ScanSlot, Handle), ScanRefused> {
        let runtime = self
            .runtime
            .get_or_init(|| ScanRuntime::start(self.max).map_err(|e| e.to_string()));
        let handle = match runtime {
            Ok(runtime) => runtime.handle.clone(),
            Err(cause) => return Err(ScanRefused::NoThreads(cause.clone())),
        };
        // Every slot taken is the server's state, whoever asks: 503 first.
        let Ok(slot) = Arc::clone(&self.slots).try_acquire_owned() else {
            return Err(ScanRefused::Busy);
        };
        // Per address only for a client told apart from others
        // (`http/client.rs`), as for readers.
        let address = match client.limit_key {
            Some(key) => Some(self.per_address.take(key).ok_or(ScanRefused::Address)?),
            None => None,
        };
        let scanning = self.metrics.searches_scanning.clone();
        scanning.inc();
        let slot = ScanSlot {
            _slot: slot,
            _address: address,
            scanning,
        };
        Ok((slot, handle))
    }

    /// The answer to a search refused a scan slot, counted and logged: `503`
    /// when every slot is taken (`livelog_searches_refused_total`), `429`
    /// when its address has all of its own
    /// (`livelog_requests_limited_total{reason="address_searches"}`).
    pub(super) fn refuse(&self, refused: ScanRefused) -> Response<ResponseBody> {
        match refused {
            ScanRefused::Busy => {
                self.metrics.searches_refused.inc();
                tracing::warn!(max = self.max, "search refused: all scan slots taken");
                let reason = format!(
                    "service unavailable: {} searches already running (LIVELOG_MAX_SEARCHES); retry later\n",
                    self.max
                );
                retry_later(
                    StatusCode::SERVICE_UNAVAILABLE,
                    &reason,
                    SEARCH_RETRY_AFTER_SECS,
                )
            }
            ScanRefused::Address => {
                let labels = LimitLabels {
                    reason: "address_searches",
                };
                self.metrics.requests_limited.get_or_create(&labels).inc();
                let cap = self.per_address.cap();
                tracing::warn!(
                    max = cap,
                    "search refused: its address has all the scan slots it may have"
                );
                let reason = format!(
                    "too many requests: {cap} searches from this address already running (LIVELOG_MAX_SEARCHES_PER_ADDRESS); retry later\n"
                );
                retry_later(
                    StatusCode::TOO_MANY_REQUESTS,
                    &reason,
                    SEARCH_RETRY_AFTER_SECS,
                )
            }
            ScanRefused::NoThreads(cause) => {
                self.metrics.searches_refused.inc();
                tracing::error!("search refused: cannot start the scan threads: {cause}");
                let reason = "service unavailable: searching is unavailable (cannot start its threads); retry later\n";
                retry_later(
                    StatusCode::SERVICE_UNAVAILABLE,
                    reason,
                    SEARCH_RETRY_AFTER_SECS,
                )
            }
        }
    }
}

/// The scan threads' runtime. Dropped without waiting for its tasks (it
/// may be dropped inside another runtime, where tokio forbids waiting):
/// each scan ends at its next `.await`, dropping its cursor.
struct ScanRuntime {
    /// `None` once dropped.
    runtime: Option<Runtime>,
    handle: Handle,
}

impl ScanRuntime {
    /// Scan threads for `slots` scan slots, each lowering its own priority
    /// as it starts ([`crate::priority`]): one a slot, but no more than the
    /// cores (more threads would not scan faster; the scans on one thread
    /// take turns between chunks).
    fn start(slots: usize) -> io::Result<Self> {
        let threads = slots.min(cores()).max(1);
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(threads)
            // Catch-up reads of bytes not in the page cache, at most one per
            // scan thread (their threads lower their priority too).
            .max_blocking_threads(threads)
            .thread_name("livelog-scan")
            .on_thread_start(|| crate::priority::lower_this_thread("a scan thread"))
            .enable_all()
            .build()?;
        Ok(ScanRuntime {
            handle: runtime.handle().clone(),
            runtime: Some(runtime),
        })
    }
}

impl Drop for ScanRuntime {
    fn drop(&mut self) {
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}
