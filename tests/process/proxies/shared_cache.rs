//! Readers beyond one machine: with `LIVELOG_SHARED_CACHE_SECS` set, a
//! real Varnish (Debian's 7.1) running `deploy/varnish/livelog.vcl` serves
//! a thousand readers of one live log from one fetch: readers joining
//! before the first byte, during the upload and after it ends each get
//! every byte (SHA-256), every line within 1 s of its write (p99), and after
//! the end they are served from the cache even once livelog has exited. A
//! broken upload leaves every reader incomplete, and a reader after it is
//! never served a truncated copy as complete.
//!
//! The same readers straight to livelog give the comparison the README's
//! "Readers beyond one machine" reports: livelog's CPU and its reader
//! connections, with and without Varnish in front (printed by both tests).

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Empty};
use hyper_util::rt::TokioIo;

use super::server::{Kind, Proxy};
use crate::common::{Daemon, SOON, TOKEN, Uploader, curl, wait_until};

/// Readers in all, a third joining at each moment.
const READERS: usize = 1000;
/// Lines the upload writes, one every [`EVERY`].
const LINES: usize = 400;
const EVERY: Duration = Duration::from_millis(10);
/// The bound a live line must reach every reader within (p99).
const LIVE_WITHIN: Duration = Duration::from_secs(1);

/// What one reader got.
#[derive(Debug)]
struct Read {
    status: u16,
    /// The body ended as HTTP says a whole one ends.
    complete: bool,
    sha256: Vec<u8>,
    bytes: usize,
    /// Microseconds from each line's write to its arrival here, for the
    /// lines written after this reader asked (the earlier ones it gets at
    /// once, as a catch-up, not live).
    latencies_us: Vec<u64>,
}

/// Reads the log at `addr` over HTTP/1.1, timing every line that says when
/// it was written (`t=<µs since t0>`).
async fn read_log(addr: SocketAddr, t0: Instant) -> Read {
    let asked = t0.elapsed().as_micros() as u64;
    let mut read = Read {
        status: 0,
        complete: false,
        sha256: Vec::new(),
        bytes: 0,
        latencies_us: Vec::new(),
    };
    let Ok(stream) = tokio::net::TcpStream::connect(addr).await else {
        return read;
    };
    let Ok((mut sender, conn)) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await
    else {
        return read;
    };
    tokio::spawn(conn);
    let req = hyper::Request::get(format!("/log/{TOKEN}"))
        .header("host", "livelog.example")
        .body(Empty::<Bytes>::new())
        .unwrap();
    let Ok(resp) = sender.send_request(req).await else {
        return read;
    };
    read.status = resp.status().as_u16();
    let mut body = resp.into_body();
    let mut sha = ring::digest::Context::new(&ring::digest::SHA256);
    let mut partial: Vec<u8> = Vec::new();
    loop {
        match body.frame().await {
            None => {
                read.complete = true;
                break;
            }
            Some(Err(_)) => break,
            Some(Ok(frame)) => {
                let Ok(data) = frame.into_data() else {
                    continue;
                };
                let now = t0.elapsed().as_micros() as u64;
                sha.update(&data);
                read.bytes += data.len();
                partial.extend_from_slice(&data);
                while let Some(end) = partial.iter().position(|&b| b == b'\n') {
                    let line: Vec<u8> = partial.drain(..=end).collect();
                    if let Some(written) = written_at(&line).filter(|&w| w >= asked) {
                        read.latencies_us.push(now.saturating_sub(written));
                    }
                }
            }
        }
    }
    read.sha256 = sha.finish().as_ref().to_vec();
    read
}

/// The `t=<µs>` a line carries.
fn written_at(line: &[u8]) -> Option<u64> {
    let text = std::str::from_utf8(line).ok()?;
    let t = text.split_whitespace().find_map(|w| w.strip_prefix("t="))?;
    t.parse().ok()
}

/// The upload: [`LINES`] lines, one every [`EVERY`], each saying when it
/// was written. Returns the bytes written.
fn write_lines(up: &mut Uploader, t0: Instant, lines: usize) -> Vec<u8> {
    let mut log = Vec::new();
    for n in 1..=lines {
        let line = format!(
            "{n:06} t={:012} the build goes on: compiling crate {n} of {lines}\n",
            t0.elapsed().as_micros()
        );
        up.chunk(line.as_bytes());
        log.extend_from_slice(line.as_bytes());
        thread::sleep(EVERY);
    }
    log
}

/// livelog's reader connections, sampled until `stop`: the most seen.
fn sample_connections(d_put: SocketAddr, stop: Arc<AtomicBool>) -> thread::JoinHandle<u64> {
    thread::spawn(move || {
        let peak = AtomicU64::new(0);
        while !stop.load(Ordering::Relaxed) {
            let (_, out, _) = curl(&["-s", "--max-time", "2", &format!("http://{d_put}/metrics")]);
            let text = String::from_utf8_lossy(&out);
            let now = text
                .lines()
                .find(|l| l.starts_with("livelog_connections{port=\"reader\"}"))
                .and_then(|l| l.split_whitespace().last()?.parse::<f64>().ok())
                .unwrap_or(0.0) as u64;
            peak.fetch_max(now, Ordering::Relaxed);
            thread::sleep(Duration::from_millis(100));
        }
        peak.load(Ordering::Relaxed)
    })
}

/// A counter of livelog's `/metrics`.
fn metric(d: &Daemon, name: &str) -> f64 {
    let (_, out, _) = curl(&["-s", &format!("http://{}/metrics", d.put)]);
    String::from_utf8_lossy(&out)
        .lines()
        .find(|l| l.split_whitespace().next() == Some(name))
        .and_then(|l| l.split_whitespace().last()?.parse().ok())
        .unwrap_or(0.0)
}

/// The readers' lot: a third before the first byte, a third during the
/// upload, a third after it ended, all reading from `target`. Returns
/// (every read, the upload's bytes).
fn thousand_readers(d: &Daemon, target: SocketAddr) -> (Vec<Read>, Vec<u8>) {
    // Each reader is a socket here and one at the proxy.
    let _ = rlimit::increase_nofile_limit(4 * READERS as u64 + 256);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let t0 = Instant::now();
    let third = READERS / 3;
    let spawn = |n: usize| -> Vec<tokio::task::JoinHandle<Read>> {
        (0..n).map(|_| rt.spawn(read_log(target, t0))).collect()
    };
    // Before the first byte: every one of them has its answer's head, so
    // each is waiting on the log, not on a connect.
    let mut tasks = spawn(third);
    assert!(
        wait_until(SOON * 3, || metric(d, "livelog_readers_served_total")
            >= 1.0),
        "no reader reached livelog"
    );
    thread::sleep(Duration::from_millis(500));
    let mut up = Uploader::start(d.put);
    let writer = thread::spawn(move || {
        let log = write_lines(&mut up, t0, LINES);
        (up, log)
    });
    // During the upload, spread over it.
    for _ in 0..third {
        tasks.extend(spawn(1));
        thread::sleep(EVERY * (LINES as u32) / (2 * third as u32));
    }
    let (up, log) = writer.join().unwrap();
    let (status, body) = up.finish();
    assert_eq!(status, 201, "{body}");
    // After it ended.
    tasks.extend(spawn(READERS - 2 * third));
    let reads = rt.block_on(async {
        let mut reads = Vec::new();
        for task in tasks {
            reads.push(
                tokio::time::timeout(Duration::from_secs(120), task)
                    .await
                    .expect("a reader took over 2 minutes")
                    .unwrap(),
            );
        }
        reads
    });
    (reads, log)
}

fn sha256(bytes: &[u8]) -> Vec<u8> {
    ring::digest::digest(&ring::digest::SHA256, bytes)
        .as_ref()
        .to_vec()
}

/// The 99th percentile of `samples` (µs), as a duration.
fn p99(samples: &mut [u64]) -> Duration {
    samples.sort_unstable();
    let at = (samples.len() * 99).div_ceil(100).saturating_sub(1);
    Duration::from_micros(samples.get(at).copied().unwrap_or(0))
}

/// Every read got the whole log exactly, and the lines arrived live.
fn assert_every_reader_got_it(reads: &[Read], log: &[u8]) -> Duration {
    let want = sha256(log);
    for (i, r) in reads.iter().enumerate() {
        assert!(
            r.status == 200 && r.complete && r.sha256 == want,
            "reader {i}: status {}, complete {}, {} of {} bytes",
            r.status,
            r.complete,
            r.bytes,
            log.len()
        );
    }
    // Live readers: those that joined before the end (the others got
    // lines written long before they asked).
    let mut live: Vec<u64> = reads[..2 * (READERS / 3)]
        .iter()
        .flat_map(|r| r.latencies_us.iter().copied())
        .collect();
    let p99 = p99(&mut live);
    assert!(
        p99 <= LIVE_WITHIN,
        "a line's write to its arrival, p99: {p99:?} over {} (reader, line) pairs",
        live.len()
    );
    p99
}

#[test]
#[ignore = "needs Varnish (apt-get install varnish); scripts/proxy-tests.sh runs it"]
fn a_thousand_readers_through_varnish_are_one_fetch() {
    let mut d = Daemon::builder()
        .env("LIVELOG_SHARED_CACHE_SECS", "600")
        .start_process();
    let proxy = Proxy::start(Kind::VarnishCache, d.get);
    let target: SocketAddr = format!("127.0.0.1:{}", proxy.port).parse().unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let sampler = sample_connections(d.put, Arc::clone(&stop));
    let (reads, log) = thousand_readers(&d, target);
    stop.store(true, Ordering::Relaxed);
    let peak = sampler.join().unwrap();
    let p99 = assert_every_reader_got_it(&reads, &log);
    let fetches = metric(&d, "livelog_readers_served_total");
    assert!(
        fetches <= 2.0,
        "livelog served the log {fetches} times to Varnish for {READERS} readers"
    );
    let cpu = d.cpu_secs();
    println!(
        "through Varnish: {READERS} readers, {fetches} fetches of the log, livelog CPU {cpu:.2} s, \
         peak reader connections {peak}, line p99 {p99:?}"
    );

    // Once complete, the cache serves it for its lifetime, livelog or not.
    d.signal("KILL");
    assert!(d.wait_exit(SOON).is_some());
    let url = proxy.log_url();
    for _ in 0..20 {
        let (code, body, err) = curl(&["-sS", "--fail", "--max-time", "10", &url]);
        assert_eq!(code, 0, "after livelog exited: {err}");
        assert!(
            body == log,
            "{} of {} bytes from the cache",
            body.len(),
            log.len()
        );
    }
}

#[test]
#[ignore = "needs Varnish (apt-get install varnish); scripts/proxy-tests.sh runs it"]
fn a_thousand_readers_straight_to_livelog_for_comparison() {
    let d = Daemon::builder().start_process();
    let stop = Arc::new(AtomicBool::new(false));
    let sampler = sample_connections(d.put, Arc::clone(&stop));
    let (reads, log) = thousand_readers(&d, d.get);
    stop.store(true, Ordering::Relaxed);
    let peak = sampler.join().unwrap();
    let p99 = assert_every_reader_got_it(&reads, &log);
    let fetches = metric(&d, "livelog_readers_served_total");
    println!(
        "straight to livelog: {READERS} readers, {fetches} fetches of the log, livelog CPU {:.2} s, \
         peak reader connections {peak}, line p99 {p99:?}",
        d.cpu_secs()
    );
}

#[test]
#[ignore = "needs Varnish (apt-get install varnish); scripts/proxy-tests.sh runs it"]
fn a_broken_upload_is_never_served_as_complete_from_the_cache() {
    let d = Daemon::builder()
        .env("LIVELOG_SHARED_CACHE_SECS", "600")
        .start_process();
    let proxy = Proxy::start(Kind::VarnishCache, d.get);
    let target: SocketAddr = format!("127.0.0.1:{}", proxy.port).parse().unwrap();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let t0 = Instant::now();
    let tasks: Vec<_> = (0..100).map(|_| rt.spawn(read_log(target, t0))).collect();
    assert!(wait_until(SOON * 3, || metric(
        &d,
        "livelog_readers_served_total"
    ) >= 1.0));
    let mut up = Uploader::start(d.put);
    let written = write_lines(&mut up, t0, 50);
    up.abort();
    let reads: Vec<Read> = rt.block_on(async {
        let mut reads = Vec::new();
        for t in tasks {
            reads.push(
                tokio::time::timeout(Duration::from_secs(60), t)
                    .await
                    .unwrap()
                    .unwrap(),
            );
        }
        reads
    });
    for (i, r) in reads.iter().enumerate() {
        assert!(
            !r.complete,
            "reader {i} saw a broken upload as complete ({} bytes)",
            r.bytes
        );
        assert!(r.bytes <= written.len());
    }
    // Readers after it: never a truncated copy that looks whole. Each is a
    // new fetch of livelog's incomplete answer, which fails again: the
    // reader gets it cut short, or Varnish's `503` when the fetch failed
    // before it began to answer; never a `200` that ends as a whole one.
    for _ in 0..5 {
        let late = rt.block_on(read_log(target, t0));
        assert!(
            !(late.status == 200 && late.complete),
            "a reader after the break got {} bytes as a complete 200",
            late.bytes
        );
    }
    // curl says so too (`--fail`: a 503 is a failure).
    let (code, _, _) = curl(&["-sS", "--fail", "--max-time", "10", &proxy.log_url()]);
    assert_ne!(code, 0, "curl took the broken log as whole");
}
