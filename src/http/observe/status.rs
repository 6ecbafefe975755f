//! The `/status` document: what the log and its readers are doing now and
//! the limits in force, as JSON (`curl -s localhost:60022/status | jq`).

use std::collections::BTreeMap;

use serde::Serialize;

use super::Observer;
use crate::config::Config;
use crate::metrics::{KINDS, PROTOCOLS, ReaderLabels};

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

impl Observer {
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
            commit: crate::COMMIT,
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

/// The `/status` document: `curl -s localhost:60022/status | jq`.
#[derive(Debug, Serialize)]
pub struct Status {
    /// livelog's version.
    pub version: &'static str,
    /// The commit it was built from.
    pub commit: &'static str,
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
    pub by_kind: BTreeMap<&'static str, u64>,
    /// Readers connected now, by protocol.
    pub by_protocol: BTreeMap<&'static str, u64>,
    /// How far the furthest-behind reader is behind the end of the log,
    /// in bytes (to within 64 KiB).
    pub slowest_lag_bytes: u64,
}
