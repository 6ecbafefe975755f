//! The `sse` scenario: Server-Sent Events readers of a text log, each
//! checked byte for byte, next to raw readers of the same log.

use super::*;

/// Checks an event stream against the log as it streams, keeping none of
/// it: every `log` event's JSON text is compared with the log from where the
/// previous one ended (escapes decoded, the runs between them compared
/// whole), it must have an `id`, the offset where its text ends, and the
/// stream must end with `{"complete": true, "length": <log length>}`.
pub(super) struct SseChecker {
    expected: Arc<Vec<u8>>,
    /// Bytes of the stream fed.
    received: usize,
    /// Log bytes matched so far.
    pos: usize,
    /// A line not yet ended by `\n`.
    partial: Vec<u8>,
    /// A log event's data was read and its id not yet.
    needs_id: bool,
    in_end: bool,
    ended: bool,
    events: usize,
    ok: bool,
}

impl SseChecker {
    fn new(expected: Arc<Vec<u8>>) -> Self {
        SseChecker {
            expected,
            received: 0,
            pos: 0,
            partial: Vec::new(),
            needs_id: false,
            in_end: false,
            ended: false,
            events: 0,
            ok: true,
        }
    }

    fn exact(&self) -> bool {
        self.ok && self.ended && self.pos == self.expected.len() && self.partial.is_empty()
    }

    fn line(&mut self, line: &[u8]) {
        if line.is_empty() {
            // The event is dispatched: a log event must have had its id.
            self.ok &= !self.needs_id;
            return;
        }
        if line.starts_with(b":") || line.starts_with(b"retry: ") {
            return;
        }
        if line == b"event: log" {
            self.in_end = false;
        } else if line == b"event: end" {
            self.in_end = true;
        } else if let Some(id) = line.strip_prefix(b"id: ") {
            let id: Option<usize> = std::str::from_utf8(id).ok().and_then(|s| s.parse().ok());
            self.ok &= self.needs_id && id == Some(self.pos);
            self.needs_id = false;
        } else if let Some(data) = line.strip_prefix(b"data: ") {
            if self.in_end {
                let want = format!(
                    "{{\"complete\": true, \"length\": {}}}",
                    self.expected.len()
                );
                self.ended = data == want.as_bytes();
                self.ok &= self.ended;
            } else {
                self.events += 1;
                self.ok &= self.text(data);
                self.needs_id = true;
            }
        } else {
            self.ok = false;
        }
    }

    /// Compares one JSON string (as livelog writes it: `"`, `\`, and control
    /// characters escaped) with the log from `pos`, moving `pos` past it.
    fn text(&mut self, data: &[u8]) -> bool {
        let Some(mut rest) = data.strip_prefix(b"\"").and_then(|d| d.strip_suffix(b"\"")) else {
            return false;
        };
        let expected = Arc::clone(&self.expected);
        loop {
            let run = memchr::memchr(b'\\', rest).unwrap_or(rest.len());
            if expected.get(self.pos..self.pos + run) != Some(&rest[..run]) {
                return false;
            }
            self.pos += run;
            rest = &rest[run..];
            let Some((&b'\\', escaped)) = rest.split_first() else {
                return true;
            };
            let (byte, used) = match escaped.first() {
                Some(b'n') => (b'\n', 1),
                Some(b'r') => (b'\r', 1),
                Some(b't') => (b'\t', 1),
                Some(b'"') => (b'"', 1),
                Some(b'\\') => (b'\\', 1),
                Some(b'b') => (8, 1),
                Some(b'f') => (12, 1),
                Some(b'u') if escaped.len() >= 5 => {
                    let hex = std::str::from_utf8(&escaped[1..5]).unwrap_or("zz");
                    match u8::from_str_radix(hex, 16) {
                        Ok(b) if b < 0x80 => (b, 5),
                        _ => return false,
                    }
                }
                _ => return false,
            };
            if expected.get(self.pos) != Some(&byte) {
                return false;
            }
            self.pos += 1;
            rest = &escaped[used..];
        }
    }
}

impl common::body::Sink for SseChecker {
    fn feed(&mut self, data: &[u8]) {
        self.received += data.len();
        let mut rest = data;
        while let Some(k) = memchr::memchr(b'\n', rest) {
            if self.partial.is_empty() {
                self.line(&rest[..k]);
            } else {
                let mut line = std::mem::take(&mut self.partial);
                line.extend_from_slice(&rest[..k]);
                self.line(&line);
                line.clear();
                self.partial = line;
            }
            rest = &rest[k + 1..];
        }
        self.partial.extend_from_slice(rest);
    }

    fn received(&self) -> usize {
        self.received
    }
}

/// What one fan-out run measured.
pub(super) struct FanoutRun {
    /// Upload start to the last reader's end.
    took: Duration,
    exact: usize,
    /// Bytes the readers received, all together (SSE framing included).
    received: usize,
    daemon_cpu_secs: f64,
    peak_rss_kib: u64,
}

/// The text log uploaded with 8 `curl` readers attached from the start,
/// each checking what it gets: the raw bytes, or (`sse`) the event stream.
pub(super) fn text_fanout_run(path: &Path, expected: &Arc<Vec<u8>>, sse: bool) -> FanoutRun {
    const READERS: usize = 8;
    let d = start_daemon();
    let url = d.get_url();
    let mut args = vec!["-sS", "-N"];
    if sse {
        args.extend(["-H", "Accept: text/event-stream"]);
    }
    args.push(&url);
    let mut sse_readers = vec![];
    let mut raw_readers = vec![];
    for _ in 0..READERS {
        if sse {
            sse_readers.push(CurlReader::into_sink(
                &args,
                SseChecker::new(Arc::clone(expected)),
            ));
        } else {
            raw_readers.push(CurlReader::into_sink(
                &args,
                Checker::new(Arc::clone(expected)),
            ));
        }
    }
    for r in &sse_readers {
        r.wait_head();
    }
    for r in &raw_readers {
        r.wait_head();
    }
    sync();
    let started = Instant::now();
    curl_upload(&d, path);
    let (mut exact, mut received, mut last) = (0, 0, started);
    for r in sse_readers {
        let (code, end) = r.join_ended();
        exact += usize::from(code == 0 && end.data.exact());
        received += end.data.received;
        last = last.max(end.at);
    }
    for r in raw_readers {
        let (code, end) = r.join_ended();
        exact += usize::from(code == 0 && end.data.exact());
        received += end.data.received;
        last = last.max(end.at);
    }
    if d.warnings() > 0 {
        eprintln!("{}", d.stderr());
    }
    FanoutRun {
        took: last - started,
        exact,
        received,
        daemon_cpu_secs: d.cpu_secs(),
        peak_rss_kib: d.peak_rss_kib(),
    }
}

/// Flushes dirty pages, so one run's writes are not timed in the next.
pub(super) fn sync() {
    let _ = Command::new("sync").status();
}

/// SSE delivery next to raw delivery: the same text upload with 8 readers,
/// alternated raw and SSE runs, medians.
pub(super) fn sse_fanout(dir: &Path, len: usize) -> Row {
    const RUNS: usize = 3;
    const READERS: usize = 8;
    let (path, expected) = text_file(dir, len);
    let len = expected.len();
    let (mut raw, mut sse) = (vec![], vec![]);
    for run in 1..=RUNS {
        for kind in [false, true] {
            let r = text_fanout_run(&path, &expected, kind);
            println!(
                "sse scenario run {run} {}: last reader done {:.2} s, {}/{READERS} exact, daemon CPU {:.1} s, peak RSS {:.1} MiB",
                if kind { "sse" } else { "raw" },
                r.took.as_secs_f64(),
                r.exact,
                r.daemon_cpu_secs,
                r.peak_rss_kib as f64 / 1024.0
            );
            if kind { sse.push(r) } else { raw.push(r) }
        }
    }
    let med = |runs: &[FanoutRun], f: &dyn Fn(&FanoutRun) -> f64| {
        let mut v: Vec<f64> = runs.iter().map(f).collect();
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    let took = |r: &FanoutRun| r.took.as_secs_f64();
    let cpu = |r: &FanoutRun| r.daemon_cpu_secs;
    let (sse_s, raw_s) = (med(&sse, &took), med(&raw, &took));
    let ratios: Vec<String> = sse
        .iter()
        .zip(&raw)
        .map(|(s, r)| format!("{:.2}", took(s) / took(r)))
        .collect();
    let row = Row {
        scenario: format!(
            "upload {} MiB of text + {READERS} curl SSE readers (Accept: text/event-stream), contents checked",
            len / MIB
        ),
        mb_s: Some(len as f64 * READERS as f64 / 1e6 / sse_s),
        baseline_mb_s: Some(len as f64 * READERS as f64 / 1e6 / raw_s),
        ratio: Some(sse_s / raw_s),
        exact: Some((sse.iter().map(|r| r.exact).min().unwrap_or(0), READERS)),
        peak_rss_kib: sse.iter().map(|r| r.peak_rss_kib).max(),
        note: format!(
            "medians of {RUNS} alternated runs; last SSE reader done in {sse_s:.2} s, raw {raw_s:.2} s \
             (8 curl raw readers of the same upload, contents checked; raw exact {}/{READERS}, peak RSS {:.1} MiB); \
             ratio = SSE time / raw time, per run {}; daemon CPU {:.1} s SSE vs {:.1} s raw; \
             the event stream is {:.3}× the log's bytes",
            raw.iter().map(|r| r.exact).min().unwrap_or(0),
            raw.iter().map(|r| r.peak_rss_kib).max().unwrap_or(0) as f64 / 1024.0,
            ratios.join(", "),
            med(&sse, &cpu),
            med(&raw, &cpu),
            sse.iter().map(|r| r.received).sum::<usize>() as f64
                / (len * READERS * sse.len()) as f64,
        ),
        ..Row::default()
    };
    println!("{}", row.markdown());
    row
}
