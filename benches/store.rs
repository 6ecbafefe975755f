//! Criterion microbenchmarks of the store (`src/store/`): appending a chunk,
//! a reader at the head served from the ring, and a reader behind the ring
//! catching up from the temp file.
//!
//! ```sh
//! cargo bench --bench store
//! ```

// Tests and benchmarks panic on what they did not expect, and time the real
// process from outside with std's clock: the lint policy is livelog's own.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::disallowed_types)]

use bytes::Bytes;
use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use livelog::store::{FILE_READ_BYTES, LogStore, StoreLimits};

const RING: usize = 4 * 1024 * 1024;

fn store() -> LogStore {
    let dir = std::env::temp_dir();
    LogStore::create_in(&dir, StoreLimits::from_ring_bytes(RING), Default::default()).unwrap()
}

fn append(c: &mut Criterion) {
    let mut group = c.benchmark_group("append");
    for size in [64usize, 4 * 1024, 64 * 1024] {
        let chunk = Bytes::from(vec![b'x'; size]);
        // One iteration appends the chunk 64 times.
        group.throughput(Throughput::Bytes(64 * size as u64));
        group.bench_function(format!("64 x {size} B"), |b| {
            // A fresh store per batch, so the temp file stays small.
            b.iter_batched_ref(
                || {
                    let s = store();
                    let upload = s.begin_upload().unwrap();
                    (s, upload)
                },
                |(_, upload)| {
                    for _ in 0..64 {
                        upload.append(chunk.clone()).unwrap();
                    }
                },
                BatchSize::SmallInput,
            );
        });
    }
    group.finish();
}

fn ring_hit(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let s = store();
    let mut upload = s.begin_upload().unwrap();
    let chunk = Bytes::from(vec![b'x'; 64 * 1024]);
    for _ in 0..(RING / chunk.len()) {
        upload.append(chunk.clone()).unwrap();
    }
    upload.finish();
    let len = s.progress().len;
    let mut group = c.benchmark_group("read");
    group.throughput(Throughput::Bytes(len));
    group.bench_function("ring hit, 4 MiB in 64 KiB chunks", |b| {
        b.iter(|| {
            rt.block_on(async {
                let mut cursor = s.cursor(0, None);
                let mut n = 0;
                while let Some(c) = cursor.next_chunk().await.unwrap() {
                    n += c.len();
                }
                assert_eq!(n as u64, len);
            })
        });
    });
    group.finish();
}

fn file_catch_up(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .build()
        .unwrap();
    // A ring of 64 KiB over a 16 MiB log: a reader from 0 reads the file.
    let dir = std::env::temp_dir();
    let s = LogStore::create_in(
        &dir,
        StoreLimits::from_ring_bytes(64 * 1024),
        Default::default(),
    )
    .unwrap();
    let mut upload = s.begin_upload().unwrap();
    let chunk = Bytes::from(vec![b'y'; 64 * 1024]);
    for _ in 0..256 {
        upload.append(chunk.clone()).unwrap();
    }
    upload.finish();
    let behind = s.progress().len - 64 * 1024;
    let mut group = c.benchmark_group("read");
    group.throughput(Throughput::Bytes(behind));
    group.bench_function(
        format!(
            "file catch-up, 16 MiB in {} KiB reads",
            FILE_READ_BYTES / 1024
        ),
        |b| {
            b.iter(|| {
                rt.block_on(async {
                    let mut cursor = s.cursor(0, Some(behind));
                    let mut n = 0;
                    while let Some(c) = cursor.next_chunk().await.unwrap() {
                        n += c.len();
                    }
                    assert_eq!(n as u64, behind);
                })
            });
        },
    );
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(20);
    targets = append, ring_hit, file_catch_up
}
criterion_main!(benches);
