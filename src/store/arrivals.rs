//! The arrival-time index: for each stored chunk, the offset of its first
//! byte and when it arrived, written by the upload as it appends (one
//! record per chunk, [`Spilled`] so memory stays bounded). A line's time is
//! the arrival of its first byte: the time of the chunk that holds it.
//!
//! Times are measured on livelog's one clock (`tokio::time::Instant`) from
//! an anchor taken when the store was made, and turned into wall-clock time
//! (`SystemTime`) only for people, from the wall-clock reading taken at the
//! same anchor: a wall clock stepped meanwhile (NTP) moves no arrival.

use std::io;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, SystemTime};

use tokio::time::Instant;

use super::spill::Spilled;

/// Words per record: the chunk's first offset, microseconds since the
/// anchor.
const WIDTH: usize = 2;

/// When each stored chunk arrived.
#[derive(Debug)]
pub struct Arrivals {
    records: Spilled,
    anchor: Instant,
    anchor_wall: SystemTime,
    /// A failed write was logged (once).
    failed: AtomicBool,
}

impl Arrivals {
    /// An empty index, its file in `dir`, anchored now.
    ///
    /// # Errors
    /// The I/O error from creating the file.
    pub fn create_in(dir: &Path) -> io::Result<Self> {
        Ok(Arrivals {
            records: Spilled::create_in(dir, WIDTH)?,
            anchor: Instant::now(),
            anchor_wall: SystemTime::now(),
            failed: AtomicBool::new(false),
        })
    }

    /// The chunk starting at `offset` arrived at `at`. Called by the one
    /// writer, in offset order.
    pub fn record(&self, offset: u64, at: Instant) {
        let micros = at.saturating_duration_since(self.anchor).as_micros();
        let micros = u64::try_from(micros).unwrap_or(u64::MAX);
        if let Err(err) = self.records.push(&[offset, micros]) {
            if !self.failed.swap(true, Ordering::Relaxed) {
                tracing::warn!(
                    "cannot store arrival times any more (lines after this keep the last time): {err}"
                );
            }
        }
    }

    /// The wall-clock time of `micros` since the anchor.
    pub fn wall_time(&self, micros: u64) -> SystemTime {
        self.anchor_wall + Duration::from_micros(micros)
    }

    /// When the byte at `offset` arrived, in microseconds since the anchor:
    /// the time of the last chunk starting at or before it (`None` before
    /// the first chunk).
    ///
    /// # Errors
    /// The index file's read error.
    pub fn micros_at(&self, offset: u64) -> io::Result<Option<u64>> {
        let after = self.records.partition_point(0, offset)?;
        let Some(index) = after.checked_sub(1) else {
            return Ok(None);
        };
        let mut record = [0; WIDTH];
        Ok(self.records.get(index, &mut record)?.then_some(record[1]))
    }

    /// A walk through the index from the chunk holding `offset`, for a
    /// reader that asks for ever later offsets (a timestamped stream).
    ///
    /// # Errors
    /// The index file's read error.
    pub fn walk_from(self: &Arc<Self>, offset: u64) -> io::Result<ArrivalWalk> {
        let after = self.records.partition_point(0, offset)?;
        let mut current = 0;
        if let Some(index) = after.checked_sub(1) {
            let mut record = [0; WIDTH];
            if self.records.get(index, &mut record)? {
                current = record[1];
            }
        }
        Ok(ArrivalWalk {
            arrivals: Arc::clone(self),
            next: after,
            current,
            next_offset: None,
        })
    }
}

/// A position in the arrival index, moving forward only: each lookup costs
/// at most one record read per chunk passed.
#[derive(Debug)]
pub struct ArrivalWalk {
    arrivals: Arc<Arrivals>,
    /// The index of the next record (the first chunk not yet passed).
    next: u64,
    /// Microseconds of the chunk passed last.
    current: u64,
    /// That next chunk's first offset, once read (`None`: not read yet, or
    /// not recorded yet).
    next_offset: Option<(u64, u64)>,
}

impl ArrivalWalk {
    /// When the byte at `offset` arrived (microseconds since the anchor);
    /// `offset` must not be before any offset asked before.
    ///
    /// # Errors
    /// The index file's read error.
    pub fn micros_at(&mut self, offset: u64) -> io::Result<u64> {
        loop {
            let (start, micros) = match self.next_offset {
                Some(next) => next,
                None => {
                    let mut record = [0; WIDTH];
                    if !self.arrivals.records.get(self.next, &mut record)? {
                        // Not recorded yet (the upload appends the data
                        // first): the latest time known.
                        return Ok(self.current);
                    }
                    let next = (record[0], record[1]);
                    self.next_offset = Some(next);
                    next
                }
            };
            if start > offset {
                return Ok(self.current);
            }
            self.current = micros;
            self.next += 1;
            self.next_offset = None;
        }
    }

    /// The wall-clock time of `micros` since the anchor.
    pub fn wall_time(&self, micros: u64) -> SystemTime {
        self.arrivals.wall_time(micros)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn an_offset_takes_the_time_of_the_chunk_that_holds_it() {
        let dir = tempfile::tempdir().unwrap();
        let arrivals = Arc::new(Arrivals::create_in(dir.path()).unwrap());
        assert_eq!(arrivals.micros_at(0).unwrap(), None);
        for (offset, after_ms) in [(0, 0), (100, 5), (250, 7)] {
            tokio::time::advance(Duration::from_millis(after_ms)).await;
            arrivals.record(offset, Instant::now());
        }
        assert_eq!(arrivals.micros_at(0).unwrap(), Some(0));
        assert_eq!(arrivals.micros_at(99).unwrap(), Some(0));
        assert_eq!(arrivals.micros_at(100).unwrap(), Some(5_000));
        assert_eq!(arrivals.micros_at(1_000).unwrap(), Some(12_000));
        let mut walk = arrivals.walk_from(150).unwrap();
        assert_eq!(walk.micros_at(150).unwrap(), 5_000);
        assert_eq!(walk.micros_at(249).unwrap(), 5_000);
        assert_eq!(walk.micros_at(250).unwrap(), 12_000);
        assert_eq!(walk.micros_at(10_000).unwrap(), 12_000);
        assert_eq!(
            walk.wall_time(12_000),
            arrivals.anchor_wall + Duration::from_millis(12)
        );
    }
}
