//! Reader slots: who may stream the log now. A reader holds one slot of
//! `LIVELOG_MAX_READERS` and one of its address's
//! `LIVELOG_MAX_READERS_PER_ADDRESS` (`admission.rs`) for as long as its
//! response streams, and counts in the readers gauge meanwhile.

use std::sync::Arc;

use http::{Response, StatusCode, Version, header};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use super::admission::{AddressReaders, AddressSlot};
use super::head::{insert, with_cors};
use crate::http::client::Client;
use crate::http::{ResponseBody, plain};
use crate::metrics::{LimitLabels, Metrics, ReaderGauge, ReaderLabels};

/// Seconds a client is told to wait (`Retry-After`) when all reader slots are
/// taken, or all of its address's.
pub const RETRY_AFTER_SECS: u64 = 5;

/// The reader slots, global and per address.
pub(super) struct Slots {
    slots: Arc<Semaphore>,
    max_readers: usize,
    per_address: AddressReaders,
    metrics: Arc<Metrics>,
}

/// Why a reader got no slot.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Refused {
    /// Its address has every slot it may have.
    Address,
    /// Every slot is taken.
    Busy,
}

/// What an admitted reader holds until its response is dropped: its reader
/// slot, its address's, and its place in the readers gauge.
pub(super) struct Admitted {
    _slot: OwnedSemaphorePermit,
    /// `None` for a client no per-address limit applies to.
    _address: Option<AddressSlot>,
    _counted: ReaderGauge,
}

impl Slots {
    /// `max_readers` slots, at most `per_address` of them for one address.
    pub(super) fn new(max_readers: usize, per_address: usize, metrics: Arc<Metrics>) -> Self {
        Slots {
            slots: Arc::new(Semaphore::new(max_readers)),
            max_readers,
            per_address: AddressReaders::new(per_address),
            metrics,
        }
    }

    /// A slot for a reader of `kind` (`ReaderLabels`) from `client` over
    /// HTTP `version`.
    ///
    /// # Errors
    /// Why there is none ([`Slots::refuse`] answers it).
    pub(super) fn take(
        &self,
        client: Client,
        version: Version,
        kind: &'static str,
    ) -> Result<Admitted, Refused> {
        // Every slot taken is the server's state, whoever asks: 503 first.
        let Ok(slot) = Arc::clone(&self.slots).try_acquire_owned() else {
            return Err(Refused::Busy);
        };
        let address = match client.limit_key {
            Some(key) => Some(self.per_address.take(key).ok_or(Refused::Address)?),
            None => None,
        };
        let labels = ReaderLabels {
            protocol: if version == Version::HTTP_2 {
                "http2"
            } else {
                "http1"
            },
            kind,
        };
        Ok(Admitted {
            _slot: slot,
            _address: address,
            _counted: self.metrics.reader_connected(&labels),
        })
    }

    /// The answer to a reader refused a slot, counted and logged: `429`
    /// when its address has all of its slots, `503` when every slot is
    /// taken.
    pub(super) fn refuse(&self, refused: Refused) -> Response<ResponseBody> {
        match refused {
            Refused::Address => self.address_busy(),
            Refused::Busy => self.busy(),
        }
    }

    /// `503` when every reader slot is taken.
    fn busy(&self) -> Response<ResponseBody> {
        self.metrics.readers_refused.inc();
        tracing::warn!(
            max = self.max_readers,
            "reader refused: all reader slots taken"
        );
        let reason = format!(
            "service unavailable: {} readers already connected; retry later\n",
            self.max_readers
        );
        retry_later(StatusCode::SERVICE_UNAVAILABLE, &reason, RETRY_AFTER_SECS)
    }

    /// `429` when the client's address has every slot it may have.
    fn address_busy(&self) -> Response<ResponseBody> {
        let labels = LimitLabels {
            reason: "address_readers",
        };
        self.metrics.requests_limited.get_or_create(&labels).inc();
        let cap = self.per_address.cap();
        tracing::warn!(
            max = cap,
            "reader refused: its address has all the reader slots it may have"
        );
        let reason = format!(
            "too many requests: {cap} readers from this address already connected (LIVELOG_MAX_READERS_PER_ADDRESS); retry later\n"
        );
        retry_later(StatusCode::TOO_MANY_REQUESTS, &reason, RETRY_AFTER_SECS)
    }
}

/// `status` with `reason` and `Retry-After: secs` (RFC 9110 §10.2.3), which
/// a browser may read (CORS).
pub(super) fn retry_later(status: StatusCode, reason: &str, secs: u64) -> Response<ResponseBody> {
    let mut resp = plain(status, reason);
    insert(&mut resp, header::RETRY_AFTER, &secs.to_string());
    insert(&mut resp, header::ACCEPT_RANGES, "bytes");
    with_cors(resp)
}
