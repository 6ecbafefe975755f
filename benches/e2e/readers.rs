//! The `sweep`, `idle` and `many` scenarios: throughput and peak RSS
//! against the number of readers, idle readers' cost, and very many readers
//! at once.

use super::*;

/// One point of the readers sweep: `n` hyper readers attached from the
/// start, a full-speed `curl -T -` upload of `path`.
pub(super) fn sweep_point(path: &Path, expected: &Arc<Vec<u8>>, n: usize) -> (Row, String) {
    let len = expected.len();
    let rt = runtime();
    let d = start_daemon();
    let heads = Arc::new(AtomicUsize::new(0));
    let readers = spawn_checking_readers(&rt, d.get, n, expected, &heads);
    wait_heads(&heads, n);
    let started = Instant::now();
    let upload = curl_upload(&d, path);
    let mut exact = 0;
    let mut last = started;
    for r in readers {
        let (ok, at) = rt.block_on(r).unwrap();
        exact += usize::from(ok);
        last = last.max(at);
    }
    let took = last - started;
    let peak = d.peak_rss_kib();
    let row = Row {
        scenario: format!("sweep: {n} readers of a {} MiB upload", len / MIB),
        mb_s: Some(mb_s(len * n, took)),
        exact: Some((exact, n)),
        peak_rss_kib: Some(peak),
        note: format!(
            "aggregate to all readers; the upload itself ran at {:.0} MB/s",
            mb_s(len, upload)
        ),
        ..Row::default()
    };
    let row = report(row, &d);
    let csv = format!(
        "{n},{},{:.4},{:.1},{:.1},{exact},{peak}\n",
        len / MIB,
        took.as_secs_f64(),
        mb_s(len * n, took),
        mb_s(len, upload)
    );
    (row, csv)
}

/// `n` readers tailing a live log with nothing new to read: RSS per reader.
pub(super) fn idle_readers(n: usize) -> Row {
    let rt = runtime();
    let d = start_daemon();
    let first = b"first line\n";
    let mut upload = Uploader::start(d.put);
    upload.chunk(first);
    // Warm up: one reader through the whole path, so allocator arenas and
    // lazily built state are in the "before" figure.
    let heads = Arc::new(AtomicUsize::new(0));
    let mut whole = first.to_vec();
    whole.extend_from_slice(b"last line\n");
    let whole = Arc::new(whole);
    let warm = spawn_checking_readers(&rt, d.get, 1, &whole, &heads);
    wait_heads(&heads, 1);
    // Settling time before each memory reading (a measurement choice, not
    // synchronisation: nothing is waited for but the allocator's quiet).
    thread::sleep(Duration::from_millis(500));
    let before = d.rss_kib();
    let readers = spawn_checking_readers(&rt, d.get, n, &whole, &heads);
    wait_heads(&heads, n + 1);
    thread::sleep(Duration::from_secs(1));
    let after = d.rss_kib();
    upload.chunk(b"last line\n");
    assert_eq!(upload.finish().0, 201, "upload not stored");
    let mut exact = 0;
    for r in warm.into_iter().chain(readers) {
        exact += usize::from(rt.block_on(r).unwrap().0);
    }
    let per = (after.saturating_sub(before)) as f64 / n as f64;
    let row = Row {
        scenario: format!("{n} idle tailing readers"),
        exact: Some((exact, n + 1)),
        peak_rss_kib: Some(d.peak_rss_kib()),
        note: format!("RSS {before} KiB before, {after} KiB with them: {per:.1} KiB per reader"),
        ..Row::default()
    };
    report(row, &d)
}

/// `n` concurrent readers of a 1 MiB log, all attached before it is uploaded.
pub(super) fn many_readers(n: usize) -> Row {
    let rt = runtime();
    let d = start_daemon();
    let expected = Arc::new(pattern(MIB, 3));
    let heads = Arc::new(AtomicUsize::new(0));
    let connect_started = Instant::now();
    let readers = spawn_checking_readers(&rt, d.get, n, &expected, &heads);
    wait_heads(&heads, n);
    let connected = connect_started.elapsed();
    let started = Instant::now();
    let mut upload = Uploader::start(d.put);
    for piece in expected.chunks(64 * 1024) {
        upload.chunk(piece);
    }
    assert_eq!(upload.finish().0, 201, "upload not stored");
    let mut exact = 0;
    let mut last = started;
    for r in readers {
        let (ok, at) = rt.block_on(r).unwrap();
        exact += usize::from(ok);
        last = last.max(at);
    }
    let took = last - started;
    let row = Row {
        scenario: format!("{n} concurrent readers of a 1 MiB log"),
        mb_s: Some(mb_s(MIB * n, took)),
        exact: Some((exact, n)),
        peak_rss_kib: Some(d.peak_rss_kib()),
        note: format!(
            "all connected in {:.2} s; all done {:.2} s after the upload began",
            connected.as_secs_f64(),
            took.as_secs_f64()
        ),
        ..Row::default()
    };
    report(row, &d)
}
