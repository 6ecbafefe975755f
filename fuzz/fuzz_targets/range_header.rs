//! Fuzzes the `Range` header parser and the range selection with any header
//! value and any log state: the parser must never panic, and whatever it
//! accepts must select a range inside the representation (the same property
//! as the `proptest` in `src/http/ranges/tests.rs`, driven by coverage
//! instead).
//!
//! The range code is livelog's own source, compiled here as modules of this
//! crate: `ranges` uses `crate::store::{Phase, Progress}`, which the
//! `store` module below provides from livelog's `src/store/progress.rs`.
//!
//! Input layout: 8 bytes of log length (little endian), 1 byte of phase,
//! then the header value's bytes.

#![no_main]

use libfuzzer_sys::fuzz_target;

#[allow(dead_code)]
#[path = "../../src/http/ranges/mod.rs"]
mod ranges;
#[allow(dead_code)]
#[path = "../../src/store/progress.rs"]
mod store;

use ranges::Selection;
use store::{Phase, Progress};

fuzz_target!(|data: &[u8]| {
    if data.len() < 9 {
        return;
    }
    let mut len = [0u8; 8];
    len.copy_from_slice(&data[..8]);
    let len = u64::from_le_bytes(len);
    let phase = match data[8] % 4 {
        0 => Phase::AwaitingUpload,
        1 => Phase::Uploading,
        2 => Phase::Complete,
        _ => Phase::Broken,
    };
    // The reader hands the parser only header values that are visible ASCII
    // (`HeaderValue::to_str`); the parser must cope with any `&str` anyway.
    let Ok(value) = std::str::from_utf8(&data[9..]) else {
        return;
    };
    let parsed = ranges::parse(value);
    let progress = Progress { len, phase };
    match ranges::select(parsed, progress) {
        Selection::Full { content_length } => {
            assert_eq!(content_length, (phase == Phase::Complete).then_some(len));
        }
        Selection::Unsatisfiable { current_length } => {
            assert!(parsed.is_some());
            assert_eq!(current_length, len);
            assert_eq!(ranges::unsatisfied_range(len), format!("bytes */{len}"));
        }
        Selection::Partial(p) => {
            assert!(parsed.is_some());
            assert!(p.first <= p.last);
            // `len` must not overflow, even for `bytes=0-18446744073709551615`.
            let n = p.len();
            assert!(n == u64::MAX || n - 1 == p.last - p.first);
            if phase == Phase::Complete {
                assert!(p.last < len);
                assert_eq!(p.complete_length, Some(len));
                assert!(p.stored);
                assert_eq!(
                    p.content_range(),
                    format!("bytes {}-{}/{}", p.first, p.last, len)
                );
            } else {
                assert_eq!(p.complete_length, None);
                assert_eq!(p.stored, p.last < len);
                assert!(p.content_range().ends_with("/*"));
            }
        }
    }
});
