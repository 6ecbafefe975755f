//! EventSource in the browser: it reconstructs a multi-megabyte UTF-8 log
//! exactly, across connections cut mid-stream, resuming by
//! `Last-Event-ID`.

use super::*;

// --------------------------------------------------------- EventSource

/// Starts an EventSource in the current page that collects the log's text.
const COLLECT: &str = r#"
    const t = window.__collected = { text: '', opens: 0, errors: 0, lastId: 0, end: null, backwards: 0 };
    const es = new EventSource(arguments[0]);
    es.onopen = () => { t.opens++; };
    es.onerror = () => { t.errors++; };
    es.addEventListener('log', (e) => {
        const id = Number(e.lastEventId);
        if (!(id > t.lastId)) t.backwards++;
        t.lastId = id;
        t.text += JSON.parse(e.data);
    });
    es.addEventListener('end', (e) => { t.end = JSON.parse(e.data); es.close(); });
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs chromium and chromedriver"]
async fn event_source_reconstructs_the_log_exactly_across_cuts() {
    let d = server();
    // Cuts the first two connections after 1 MiB each towards the browser.
    let proxy = CuttingProxy::start(d.get, 1 << 20, 2);
    let log = utf8_log(5 << 20, 7);
    let bytes = log.as_bytes();
    let sizes = chunk_sizes(4096, 64 * 1024, 11);
    // The chunk boundaries must split characters and \r\n pairs, or this
    // test would not test that.
    let (mut split_chars, mut split_crlf, mut pos) = (0, 0, 0);
    for size in sizes.iter().cycle() {
        pos += size;
        if pos >= bytes.len() {
            break;
        }
        split_chars += usize::from(!log.is_char_boundary(pos));
        split_crlf += usize::from(bytes[pos - 1] == b'\r' && bytes[pos] == b'\n');
    }
    assert!(
        split_chars > 10 && split_crlf > 0,
        "chunking splits too little: {split_chars} chars, {split_crlf} CRLF"
    );

    let b = Browser::start().await;
    // Any page of the server's origin: the EventSource is same-origin.
    b.goto(&format!("http://{}/", proxy.addr)).await;
    b.js_with(COLLECT, vec![json!(format!("/log/{TOKEN}"))])
        .await;
    b.wait_for(
        "the stream to open",
        "window.__collected.opens === 1",
        "window.__collected",
        PATIENCE,
    )
    .await;

    // The first half while the browser follows, then wait for a cut and a
    // reconnect, so the resume happens on a live log; then the rest.
    let half = bytes.len() / 2;
    let mut up = Uploader::start(d.put);
    upload_in_chunks(&mut up, &bytes[..half], &sizes);
    b.wait_for(
        "a cut and a reconnect",
        "window.__collected.opens >= 2",
        "{opens: window.__collected.opens, lastId: window.__collected.lastId}",
        PATIENCE,
    )
    .await;
    assert!(proxy.cuts() >= 1);
    upload_in_chunks(&mut up, &bytes[half..], &sizes[7..]);
    let (status, _) = up.finish();
    assert_eq!(status, 201);
    b.wait_for(
        "the end event",
        "window.__collected.end !== null",
        "{opens: window.__collected.opens, lastId: window.__collected.lastId}",
        PATIENCE,
    )
    .await;

    let got = b
        .js("const t = window.__collected; return {opens: t.opens, lastId: t.lastId, end: t.end, backwards: t.backwards, length: t.text.length};")
        .await;
    assert_eq!(proxy.cuts(), 2, "the proxy cut two connections");
    let resumed = proxy.last_event_ids();
    assert!(
        resumed.len() == 2
            && resumed
                .iter()
                .all(|id| id.parse::<u64>().is_ok_and(|n| n > 0)),
        "both reconnects resume with Last-Event-ID: {resumed:?}"
    );
    assert_eq!(got["opens"], json!(3), "one open per connection: {got}");
    assert_eq!(got["backwards"], json!(0), "event ids only grow: {got}");
    assert_eq!(got["lastId"], json!(bytes.len()), "{got}");
    assert_eq!(got["end"], json!({"complete": true, "length": bytes.len()}));
    let text = b.js("return window.__collected.text;").await;
    let text = text.as_str().expect("text");
    if text != log {
        let at = text
            .chars()
            .zip(log.chars())
            .take_while(|(a, b)| a == b)
            .count();
        panic!(
            "reconstruction differs from char {at}: got {} chars, want {}",
            text.chars().count(),
            log.chars().count()
        );
    }
    b.close().await;
}
