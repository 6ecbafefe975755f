//! The `latency` and `scrape` scenarios: how long a line takes from its
//! write to each live reader, with and without `/metrics` scraped every
//! second, and what a scrape costs with many readers connected.

use super::*;

/// A line of the latency log: its sequence number, zero-padded, then filler,
/// 64 bytes in all.
pub(super) fn latency_line(seq: usize) -> Vec<u8> {
    let mut line = format!("{seq:08} live log line for the latency benchmark ");
    while line.len() < 63 {
        line.push('.');
    }
    line.push('\n');
    line.into_bytes()
}

/// Collects write-to-receipt latencies from a stream of latency lines.
pub(super) struct LineClock {
    base: Instant,
    sent: Arc<Vec<AtomicU64>>,
    partial: Vec<u8>,
    hist: Histogram<u64>,
    /// Lines seen, measured or not (the warm-up line is not).
    lines: usize,
}

impl LineClock {
    fn new(base: Instant, sent: Arc<Vec<AtomicU64>>) -> Self {
        LineClock {
            base,
            sent,
            partial: Vec::new(),
            hist: Histogram::new_with_bounds(1, 60_000_000_000, 3).unwrap(),
            lines: 0,
        }
    }

    fn feed(&mut self, data: &[u8], at: Instant) {
        let now = (at - self.base).as_nanos() as u64;
        self.partial.extend_from_slice(data);
        let mut start = 0;
        while let Some(nl) = self.partial[start..].iter().position(|&b| b == b'\n') {
            let line = &self.partial[start..start + nl];
            self.lines += 1;
            if let Some(seq) = std::str::from_utf8(&line[..8.min(line.len())])
                .ok()
                .and_then(|s| s.parse::<usize>().ok())
            {
                let sent = self.sent[seq].load(Ordering::Acquire);
                self.hist.saturating_record(now.saturating_sub(sent).max(1));
            }
            start += nl + 1;
        }
        self.partial.drain(..start);
    }
}

pub(super) fn percentiles(h: &Histogram<u64>) -> String {
    let us = |v: u64| v as f64 / 1000.0;
    format!(
        "{:.0} µs / {:.0} µs / {:.0} µs / {:.1} ms",
        us(h.value_at_quantile(0.5)),
        us(h.value_at_quantile(0.99)),
        us(h.value_at_quantile(0.999)),
        us(h.max()) / 1000.0
    )
}

/// Writes `lines` latency lines at `rate` per second through `write` (which
/// sends one line), recording each line's send time before it goes out.
pub(super) fn pace(
    lines: usize,
    rate: usize,
    base: Instant,
    sent: &[AtomicU64],
    mut write: impl FnMut(&[u8]),
) {
    let started = Instant::now();
    for (seq, slot) in sent.iter().enumerate().take(lines) {
        let line = latency_line(seq);
        slot.store((Instant::now() - base).as_nanos() as u64, Ordering::Release);
        write(&line);
        let next = started + Duration::from_secs_f64((seq + 1) as f64 / rate as f64);
        if let Some(wait) = next.checked_duration_since(Instant::now()) {
            thread::sleep(wait);
        }
    }
}

/// Live latency: `readers` tailing readers, `rate` lines a second for `secs`
/// seconds, each line its own chunk; baseline: the same lines written by one
/// thread straight to `readers` loopback sockets. With `scrape_every`, a
/// scraper reads `/metrics` that often while the lines are written.
pub(super) fn latency(
    readers: usize,
    rate: usize,
    secs: u64,
    scrape_every: Option<Duration>,
) -> Row {
    let lines = rate * secs as usize;
    let rt = runtime();

    // Baseline: raw fan-out over loopback.
    let base_hist = {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let base = Instant::now();
        let sent: Arc<Vec<AtomicU64>> = Arc::new((0..lines).map(|_| AtomicU64::new(0)).collect());
        let tasks: Vec<_> = (0..readers)
            .map(|_| {
                let mut clock = LineClock::new(base, Arc::clone(&sent));
                rt.spawn(async move {
                    use tokio::io::AsyncReadExt;
                    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
                    let mut buf = vec![0; 16 * 1024];
                    loop {
                        let n = s.read(&mut buf).await.unwrap_or(0);
                        if n == 0 {
                            break;
                        }
                        clock.feed(&buf[..n], Instant::now());
                    }
                    clock.hist
                })
            })
            .collect();
        let mut socks: Vec<TcpStream> = (0..readers)
            .map(|_| {
                let (s, _) = listener.accept().unwrap();
                s.set_nodelay(true).unwrap();
                s
            })
            .collect();
        pace(lines, rate, base, &sent, |line| {
            for s in &mut socks {
                s.write_all(line).unwrap();
            }
        });
        drop(socks);
        let mut hist = Histogram::<u64>::new_with_bounds(1, 60_000_000_000, 3).unwrap();
        for t in tasks {
            hist.add(rt.block_on(t).unwrap()).unwrap();
        }
        hist
    };

    let d = start_daemon();
    let get = d.get;
    let mut upload = Uploader::start(d.put);
    // Not numbered, so not measured: it only shows each reader is at the head.
    upload.chunk(b"warm-up: the start of the log, before the measured lines .......\n");
    let base = Instant::now();
    let sent: Arc<Vec<AtomicU64>> = Arc::new((0..lines).map(|_| AtomicU64::new(0)).collect());
    let heads = Arc::new(AtomicUsize::new(0));
    // Readers that have read the first line.
    let settled = Arc::new(AtomicUsize::new(0));
    let tasks: Vec<_> = (0..readers)
        .map(|_| {
            let mut clock = LineClock::new(base, Arc::clone(&sent));
            let heads = Arc::clone(&heads);
            let settled = Arc::clone(&settled);
            rt.spawn(async move {
                let on_head = move || {
                    heads.fetch_add(1, Ordering::SeqCst);
                };
                let mut seen_first = false;
                let clean = hyper_reader(get, on_head, |data, at| {
                    clock.feed(data, at);
                    if !seen_first && clock.lines > 0 {
                        seen_first = true;
                        settled.fetch_add(1, Ordering::SeqCst);
                    }
                })
                .await;
                (clean, clock.hist)
            })
        })
        .collect();
    wait_heads(&heads, readers);
    // Every reader has read the first line and waits at the head.
    assert!(
        wait_until(SOON, || settled.load(Ordering::SeqCst) == readers),
        "only {} of {readers} readers got the first line",
        settled.load(Ordering::SeqCst)
    );
    let cpu0 = d.cpu_secs();
    let wall = Instant::now();
    let scraping = Arc::new(AtomicUsize::new(1));
    let scraper = scrape_every.map(|every| {
        let (put, scraping) = (d.put, Arc::clone(&scraping));
        thread::spawn(move || {
            let mut s = TcpStream::connect(put).unwrap();
            let mut times = vec![];
            while scraping.load(Ordering::SeqCst) == 1 {
                times.push(scrape_once(&mut s).0);
                // Pacing on purpose: a scraper every `every`.
                thread::sleep(every);
            }
            times
        })
    });
    pace(lines, rate, base, &sent, |line| upload.chunk(line));
    scraping.store(0, Ordering::SeqCst);
    let scrapes = scraper.map(|s| s.join().unwrap()).unwrap_or_default();
    let cpu = (d.cpu_secs() - cpu0) / wall.elapsed().as_secs_f64();
    assert_eq!(upload.finish().0, 201, "upload not stored");
    let mut hist = Histogram::<u64>::new_with_bounds(1, 60_000_000_000, 3).unwrap();
    let mut exact = 0;
    for t in tasks {
        let (clean, h) = rt.block_on(t).unwrap();
        // Every measured line seen once.
        exact += usize::from(clean && h.len() == lines as u64);
        hist.add(h).unwrap();
    }
    let scraped = match scrape_every {
        Some(every) => format!(
            ", scraping /metrics every {:.0} s ({} scrapes)",
            every.as_secs_f64(),
            scrapes.len()
        ),
        None => String::new(),
    };
    let row = Row {
        scenario: format!("live latency: {rate} lines/s, {readers} readers, {secs} s{scraped}"),
        latency: Some(percentiles(&hist)),
        exact: Some((exact, readers)),
        peak_rss_kib: Some(d.peak_rss_kib()),
        ratio: Some(
            hist.value_at_quantile(0.99) as f64 / base_hist.value_at_quantile(0.99).max(1) as f64,
        ),
        note: format!(
            "p50 / p99 / p99.9 / max; raw fan-out baseline {}; ratio = p99 / baseline p99; daemon CPU {:.0}% of a core",
            percentiles(&base_hist),
            cpu * 100.0
        ),
        ..Row::default()
    };
    report(row, &d)
}

// ---------------------------------------------------------------- scrape

/// One scrape of `/metrics` on a kept-alive connection to the upload port:
/// the time from writing the request to reading the whole body, and the
/// body's size in bytes.
pub(super) fn scrape_once(s: &mut TcpStream) -> (Duration, usize) {
    let started = Instant::now();
    write!(s, "GET /metrics HTTP/1.1\r\nHost: bench\r\n\r\n").unwrap();
    let (status, body) = common::read_response(s);
    assert_eq!(status, 200, "{body}");
    (started.elapsed(), body.len())
}

/// The cost of scraping `/metrics` once a second, `scrapes` times, while
/// `n` readers wait at the head of a live log.
pub(super) fn scrape_cost(n: usize, scrapes: usize) -> Row {
    let rt = runtime();
    let d = start_daemon();
    let mut upload = Uploader::start(d.put);
    upload.chunk(b"first line\n");
    let whole = Arc::new(b"first line\nlast line\n".to_vec());
    let heads = Arc::new(AtomicUsize::new(0));
    let readers = spawn_checking_readers(&rt, d.get, n, &whole, &heads);
    wait_heads(&heads, n);
    let mut s = TcpStream::connect(d.put).unwrap();
    s.set_nodelay(true).unwrap();
    let mut times = vec![];
    let mut bytes = 0;
    for _ in 0..scrapes {
        // Pacing on purpose: one scrape a second, as a scraper would.
        thread::sleep(Duration::from_secs(1));
        let (took, len) = scrape_once(&mut s);
        times.push(took);
        bytes = len;
    }
    upload.chunk(b"last line\n");
    assert_eq!(upload.finish().0, 201, "upload not stored");
    let mut exact = 0;
    for r in readers {
        exact += usize::from(rt.block_on(r).unwrap().0);
    }
    let max = times.iter().max().copied().unwrap_or_default();
    let median = median(times);
    let row = Row {
        scenario: format!("scrape /metrics once a second, {n} readers connected"),
        latency: Some(format!(
            "median {:.2} ms, max {:.2} ms",
            median.as_secs_f64() * 1e3,
            max.as_secs_f64() * 1e3
        )),
        exact: (n > 0).then_some((exact, n)),
        peak_rss_kib: Some(d.peak_rss_kib()),
        note: format!("{scrapes} scrapes of {bytes} bytes each, request to last byte"),
        ..Row::default()
    };
    report(row, &d)
}
