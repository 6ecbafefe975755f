//! The `fanout`, `fanout-null` and `stalled` scenarios: one upload read by
//! many readers at once (to memory, or discarded), next to socat's
//! fan-out, and the hyper readers they use.

use super::*;

/// The upload with 8 `curl` readers attached from the start (plus, if
/// `stalled`, one reader that reads nothing until everything else is done).
pub(super) fn fanout(path: &Path, expected: &Arc<Vec<u8>>, stalled: bool) -> Row {
    const READERS: usize = 8;
    let len = expected.len();
    let base = if stalled {
        None
    } else {
        Some(socat_copies(path, READERS, Some(expected)))
    };
    let null_base = (!stalled).then(|| socat_copies(path, READERS, None));
    let d = start_daemon();
    // A reader with a 4 KiB receive buffer that sends its request and then
    // reads nothing until everything else is done.
    let stalled_reader = stalled.then(|| RawReader::connect(d.get, Some(4096)));
    let readers: Vec<_> = (0..READERS)
        .map(|_| {
            CurlReader::into_sink(
                &["-sS", "-N", &d.get_url()],
                Checker::new(Arc::clone(expected)),
            )
        })
        .collect();
    // Every reader is attached (has its response head) before the upload.
    for r in &readers {
        r.wait_head();
    }
    let started = Instant::now();
    let upload = curl_upload(&d, path);
    let mut exact = 0;
    let mut last = started;
    for r in readers {
        let (code, end) = r.join_ended();
        exact += usize::from(code == 0 && end.data.exact());
        last = last.max(end.at);
    }
    let took = last - started;
    let mut total = READERS;
    if let Some(reader) = stalled_reader {
        total += 1;
        exact += usize::from(read_exact_body(reader, expected));
    }
    let mut row = Row {
        scenario: format!(
            "upload {} MiB + {READERS} curl readers{}",
            len / MIB,
            if stalled { " + 1 stalled reader" } else { "" }
        ),
        mb_s: Some(mb_s(len * READERS, took)),
        exact: Some((exact, total)),
        peak_rss_kib: Some(d.peak_rss_kib()),
        ..Row::default()
    };
    if let Some(base) = base {
        row.baseline_mb_s = Some(mb_s(len * READERS, base));
        row.ratio = Some(took.as_secs_f64() / base.as_secs_f64());
        row.note = format!(
            "last reader done in {:.2} s, upload {:.2} s, 8 socat copies into the same checker {:.2} s (into /dev/null {:.2} s); ratio = time / baseline time",
            took.as_secs_f64(),
            upload.as_secs_f64(),
            base.as_secs_f64(),
            null_base.unwrap_or_default().as_secs_f64()
        );
    } else {
        row.note = format!(
            "last reader done in {:.2} s; the stalled reader read only after that",
            took.as_secs_f64()
        );
    }
    report(row, &d)
}

/// The fan-out with 8 `curl -o /dev/null` readers (byte counts checked, not
/// contents), against 8 raw copies into `/dev/null`: the floor no server can beat,
/// so the ratio says what livelog's fan-out costs.
pub(super) fn fanout_to_null(path: &Path, expected: &Arc<Vec<u8>>) -> Row {
    const READERS: usize = 8;
    let len = expected.len();
    let base = socat_copies(path, READERS, None);
    let d = start_daemon();
    let readers: Vec<_> = (0..READERS)
        .map(|_| {
            CurlReader::spawn(&[
                "-sS",
                "-N",
                "-o",
                "/dev/null",
                "-w",
                "%{size_download}",
                &d.get_url(),
            ])
        })
        .collect();
    // Every reader is attached (has its response head) before the upload.
    for r in &readers {
        r.wait_head();
    }
    let started = Instant::now();
    let upload = curl_upload(&d, path);
    let mut exact = 0;
    for r in readers {
        let (code, out) = r.join();
        exact += usize::from(code == 0 && String::from_utf8_lossy(&out) == len.to_string());
    }
    let took = started.elapsed();
    let row = Row {
        scenario: format!(
            "upload {} MiB + {READERS} curl readers into /dev/null",
            len / MIB
        ),
        mb_s: Some(mb_s(len * READERS, took)),
        baseline_mb_s: Some(mb_s(len * READERS, base)),
        ratio: Some(took.as_secs_f64() / base.as_secs_f64()),
        exact: Some((exact, READERS)),
        peak_rss_kib: Some(d.peak_rss_kib()),
        note: format!(
            "sizes checked, not contents; last reader done in {:.2} s, upload {:.2} s, 8 socat copies into /dev/null {:.2} s; ratio = time / baseline time",
            took.as_secs_f64(),
            upload.as_secs_f64(),
            base.as_secs_f64()
        ),
        ..Row::default()
    };
    report(row, &d)
}

/// One hyper (HTTP/1.1 client) reader: connects, sends `GET`, counts the
/// response head in `heads`, then hands every body frame to `sink` with the
/// time it arrived. Returns `true` if the body ended cleanly.
pub(super) async fn hyper_reader(
    get: SocketAddr,
    on_head: impl FnOnce(),
    mut sink: impl FnMut(&Bytes, Instant),
) -> bool {
    let mut tries = 0;
    let stream = loop {
        match tokio::net::TcpStream::connect(get).await {
            Ok(s) => break s,
            Err(e) if tries < 50 => {
                tries += 1;
                let _ = e;
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            Err(e) => panic!("connect: {e}"),
        }
    };
    let _ = stream.set_nodelay(true);
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .unwrap();
    tokio::spawn(conn);
    let req = http::Request::get(format!("/log/{TOKEN}"))
        .header(http::header::HOST, get.to_string())
        .body(Empty::<Bytes>::new())
        .unwrap();
    let resp = sender.send_request(req).await.unwrap();
    assert_eq!(resp.status(), 200);
    on_head();
    let mut body = resp.into_body();
    while let Some(frame) = body.frame().await {
        let Ok(frame) = frame else { return false };
        if let Some(data) = frame.data_ref() {
            sink(data, Instant::now());
        }
    }
    true
}

/// Spawns `n` checking readers; returns their handles (each: exact?, done at).
pub(super) fn spawn_checking_readers(
    rt: &tokio::runtime::Runtime,
    get: SocketAddr,
    n: usize,
    expected: &Arc<Vec<u8>>,
    heads: &Arc<AtomicUsize>,
) -> Vec<tokio::task::JoinHandle<(bool, Instant)>> {
    let connecting = Arc::new(tokio::sync::Semaphore::new(256));
    (0..n)
        .map(|_| {
            let expected = Arc::clone(expected);
            let heads = Arc::clone(heads);
            let connecting = Arc::clone(&connecting);
            rt.spawn(async move {
                // Connect at most 256 at a time (the listen backlog).
                let permit = connecting.acquire_owned().await.unwrap();
                let mut checker = Checker::new(expected);
                let mut last = Instant::now();
                let on_head = move || {
                    drop(permit);
                    heads.fetch_add(1, Ordering::SeqCst);
                };
                let clean = hyper_reader(get, on_head, |data, at| {
                    checker.feed(data);
                    last = at;
                })
                .await;
                (clean && checker.exact(), last)
            })
        })
        .collect()
}
