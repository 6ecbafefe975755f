//! Limits per client address on the reader port, which may face the
//! internet:
//!
//! * [`TokenFailures`]: an address that sends more than
//!   `LIVELOG_MAX_TOKEN_FAILURES` wrong tokens in a minute gets `429 Too
//!   Many Requests` (RFC 6585 §4) for the rest of that minute, so guessing
//!   the token costs the guesser time. The table is a fixed size whatever
//!   the number of addresses that try (the Space-Saving algorithm: when it
//!   is full, a new address takes the place of the one with the fewest
//!   failures, and inherits its count, so an address that keeps failing is
//!   always in it).
//! * [`AddressReaders`]: at most `LIVELOG_MAX_READERS_PER_ADDRESS`
//!   concurrent readers from one address, so no address can take every
//!   reader slot. Its table holds only addresses with a reader connected,
//!   so it is bounded by the reader cap.
//!
//! Both count a request under the address `http/client.rs` gives it for
//! the limits; a request with none (a forwarder on this host that names no
//! client, a trusted proxy that names nobody) is counted by neither.
//!
//! An IPv6 client is counted by its /64 network: one host gets a whole /64
//! and could otherwise try from 2^64 addresses.
//!
//! Both tables are behind a `std` mutex: each use is one lookup or update,
//! never held across an `.await`.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use tokio::time::Instant;

/// Addresses [`TokenFailures`] tracks at once.
pub const TRACKED_ADDRESSES: usize = 4096;

/// The window wrong tokens are counted in.
const WINDOW: Duration = Duration::from_secs(60);

/// One client, as the limits count it: an IPv4 address, or an IPv6 /64.
#[derive(Clone, Copy, Debug, Hash, PartialEq, Eq)]
pub struct AddressKey(u128);

impl AddressKey {
    /// The key of `addr`.
    pub fn of(addr: IpAddr) -> Self {
        match crate::http::client::canonical(addr) {
            IpAddr::V4(v4) => AddressKey(u128::from(u32::from(v4))),
            // The /64 in the high bits; a bit above IPv4's range marks v6.
            IpAddr::V6(v6) => AddressKey((u128::from(v6) >> 64 << 64) | (1 << 32)),
        }
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // Each use leaves the table consistent; a poisoned one is still usable.
    mutex.lock().unwrap_or_else(|p| p.into_inner())
}

/// Wrong tokens per client address, per minute (see the module docs).
#[derive(Debug)]
pub struct TokenFailures {
    /// Failures allowed a minute; 0: no limit.
    limit: u32,
    epoch: Instant,
    table: Mutex<Window>,
}

#[derive(Debug, Default)]
struct Window {
    /// Which minute since `epoch` the counts are for.
    minute: u64,
    counts: HashMap<AddressKey, u32>,
}

impl TokenFailures {
    /// Allows `limit` wrong tokens an address a minute (0: no limit).
    pub fn new(limit: u32) -> Self {
        TokenFailures {
            limit,
            epoch: Instant::now(),
            table: Mutex::new(Window::default()),
        }
    }

    /// The current minute's table, emptied if a new minute began, and how
    /// long is left of that minute.
    fn window(&self) -> (MutexGuard<'_, Window>, Duration) {
        let elapsed = self.epoch.elapsed();
        let minute = elapsed.as_secs() / WINDOW.as_secs();
        let mut table = lock(&self.table);
        if table.minute != minute {
            table.minute = minute;
            table.counts.clear();
        }
        let ends = WINDOW * u32::try_from(minute + 1).unwrap_or(u32::MAX);
        (table, ends.saturating_sub(elapsed))
    }

    /// `Some(time left in the minute)` if `client` is over the limit now.
    pub fn limited(&self, client: IpAddr) -> Option<Duration> {
        if self.limit == 0 {
            return None;
        }
        let (table, left) = self.window();
        let count = table.counts.get(&AddressKey::of(client)).copied();
        count.is_some_and(|n| n > self.limit).then_some(left)
    }

    /// Counts a wrong token from `client`; `Some(time left in the minute)`
    /// if that put it over the limit.
    pub fn failed(&self, client: IpAddr) -> Option<Duration> {
        if self.limit == 0 {
            return None;
        }
        let key = AddressKey::of(client);
        let (mut table, left) = self.window();
        let counts = &mut table.counts;
        let count = if let Some(n) = counts.get_mut(&key) {
            *n = n.saturating_add(1);
            *n
        } else if counts.len() < TRACKED_ADDRESSES {
            counts.insert(key, 1);
            1
        } else {
            {
                // Full: replace the address with the fewest failures; the
                // newcomer inherits its count (Space-Saving), so a count is
                // never an under-estimate.
                let fewest = counts
                    .iter()
                    .min_by_key(|(_, n)| **n)
                    .map(|(k, n)| (*k, *n));
                let inherited = fewest.map_or(0, |(old, n)| {
                    counts.remove(&old);
                    n
                });
                counts.insert(key, inherited + 1);
                inherited + 1
            }
        };
        (count > self.limit).then_some(left)
    }
}

/// Concurrent readers per client address (see the module docs).
#[derive(Debug)]
pub struct AddressReaders {
    cap: usize,
    counts: Arc<Mutex<HashMap<AddressKey, usize>>>,
}

impl AddressReaders {
    /// At most `cap` readers an address.
    pub fn new(cap: usize) -> Self {
        AddressReaders {
            cap,
            counts: Arc::default(),
        }
    }

    /// The cap.
    pub fn cap(&self) -> usize {
        self.cap
    }

    /// A place for one more reader from `client`, held until dropped, or
    /// `None` if it has `cap` already.
    pub fn take(&self, client: IpAddr) -> Option<AddressSlot> {
        let key = AddressKey::of(client);
        let mut counts = lock(&self.counts);
        let count = counts.entry(key).or_default();
        if *count >= self.cap {
            return None;
        }
        *count += 1;
        Some(AddressSlot {
            key,
            counts: Arc::clone(&self.counts),
        })
    }
}

/// One reader's place in its address's count.
#[derive(Debug)]
pub struct AddressSlot {
    key: AddressKey,
    counts: Arc<Mutex<HashMap<AddressKey, usize>>>,
}

impl Drop for AddressSlot {
    fn drop(&mut self) {
        let mut counts = lock(&self.counts);
        if let Some(n) = counts.get_mut(&self.key) {
            *n -= 1;
            if *n == 0 {
                counts.remove(&self.key);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[tokio::test(start_paused = true)]
    async fn an_address_over_the_limit_waits_out_the_minute() {
        let failures = TokenFailures::new(3);
        for _ in 0..3 {
            assert_eq!(failures.failed(ip("192.0.2.1")), None);
        }
        assert_eq!(failures.limited(ip("192.0.2.1")), None, "3 allowed");
        tokio::time::advance(Duration::from_secs(20)).await;
        assert_eq!(
            failures.failed(ip("192.0.2.1")),
            Some(Duration::from_secs(40))
        );
        assert_eq!(
            failures.limited(ip("192.0.2.1")),
            Some(Duration::from_secs(40))
        );
        assert_eq!(failures.limited(ip("192.0.2.2")), None, "others are not");
        tokio::time::advance(Duration::from_secs(40)).await;
        assert_eq!(failures.limited(ip("192.0.2.1")), None, "a new minute");
    }

    #[tokio::test(start_paused = true)]
    async fn the_table_stays_bounded_and_keeps_the_persistent_guesser() {
        let failures = TokenFailures::new(10);
        for _ in 0..11 {
            failures.failed(ip("2001:db8::1"));
        }
        // Another address in the same /64 is the same client.
        assert!(failures.limited(ip("2001:db8::ffff")).is_some());
        for i in 0..(TRACKED_ADDRESSES as u32 * 3) {
            failures.failed(IpAddr::from((0x0a00_0000 + i).to_be_bytes()));
        }
        assert!(lock(&failures.table).counts.len() <= TRACKED_ADDRESSES);
        assert!(failures.limited(ip("2001:db8::1")).is_some());
        assert_eq!(TokenFailures::new(0).failed(ip("192.0.2.1")), None);
    }

    #[test]
    fn readers_per_address_are_capped_and_given_back() {
        let readers = AddressReaders::new(2);
        let a = readers.take(ip("192.0.2.1")).unwrap();
        let _b = readers.take(ip("::ffff:192.0.2.1")).unwrap();
        assert!(readers.take(ip("192.0.2.1")).is_none(), "capped");
        assert!(readers.take(ip("192.0.2.2")).is_some(), "per address");
        drop(a);
        assert!(readers.take(ip("192.0.2.1")).is_some(), "given back");
        drop(_b);
        assert!(lock(&readers.counts).len() <= 1);
    }
}
