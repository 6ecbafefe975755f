//! The collectors `/metrics` reads at each scrape: values that belong to
//! the log rather than to events ([`StoreCollector`]), and on Linux the
//! standard `process_*` metrics.

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeLabelSet, EncodeMetric};
use prometheus_client::metrics::MetricType;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::registry::Unit;

use crate::store::{LogStore, Phase};

/// Values that belong to the log rather than to events, read from the
/// store at each scrape.
#[derive(Debug)]
pub(super) struct StoreCollector {
    pub(super) store: LogStore,
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
pub(super) mod process {
    use super::*;
    use prometheus_client::metrics::counter::ConstCounter;
    use std::sync::{Arc, Mutex};
    use std::time::Duration;

    use tokio::time::Instant;

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
