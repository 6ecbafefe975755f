//! The daemon's side as a browser meets it: `204` stops an EventSource for
//! good, the viewer over HTTPS runs on HTTP/2, and a viewer refused a reader
//! slot (`429` or `503`) retries until it gets one.

use std::time::Duration;

use serde_json::json;

use super::chrome::{Browser, PATIENCE};
use super::common::{RawReader, TOKEN, Uploader, self_signed_cert};
use super::target::server_with;
use super::{SHOWN, numbered, view_url, wait_state};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs chromium and chromedriver"]
async fn event_source_resuming_at_the_end_of_a_finished_log_stops_for_good() {
    let d = super::server();
    let mut up = Uploader::start(d.put);
    up.chunk(b"twelve bytes");
    assert_eq!(up.finish().0, 201);
    let b = Browser::start().await;
    b.goto(&format!("http://{}/", d.get)).await;
    b.js_with(
        r#"
        const t = window.__es = { opens: 0, errors: 0, messages: 0 };
        const es = window.__source = new EventSource(arguments[0]);
        es.onopen = () => t.opens++;
        es.onerror = () => t.errors++;
        es.addEventListener('log', () => t.messages++);
        "#,
        vec![json!(format!("/log/{TOKEN}?from=12"))],
    )
    .await;
    // CLOSED (2), not CONNECTING (0): a 204 tells EventSource not to retry.
    b.wait_for(
        "the EventSource to close",
        "window.__source.readyState === 2",
        "{state: window.__source.readyState, es: window.__es}",
        PATIENCE,
    )
    .await;
    let seen = b.js("return window.__es;").await;
    assert_eq!(seen, json!({"opens": 0, "errors": 1, "messages": 0}));
    b.close().await;
    assert!(d.wait_for_log("status=204", PATIENCE));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs chromium and chromedriver"]
async fn viewer_over_https_runs_on_http2() {
    let (_dir, cert, key, _) = self_signed_cert();
    let d = server_with(&[
        ("SERVER_CRT_FILE", cert.to_str().unwrap()),
        ("SERVER_KEY_FILE", key.to_str().unwrap()),
    ]);
    // The certificate is self-signed for this test.
    let b = Browser::start_with(&["--ignore-certificate-errors"]).await;
    b.goto(&format!("https://127.0.0.1:{}/view/{TOKEN}", d.get.port()))
        .await;
    wait_state(&b, "waiting").await;
    let mut up = Uploader::start(d.put);
    up.chunk(&numbered(1, 1000));
    b.wait_for(
        "1000 lines",
        "document.documentElement.dataset.lines === '1000'",
        "document.documentElement.dataset.lines",
        PATIENCE,
    )
    .await;
    up.chunk(&numbered(1001, 1000));
    assert_eq!(up.finish().0, 201);
    wait_state(&b, "complete").await;
    assert_eq!(b.js(SHOWN).await["lines"], json!("2000"));
    let protocols = b
        .js(
            "return [performance.getEntriesByType('navigation')[0].nextHopProtocol, \
             ...performance.getEntriesByType('resource').map((r) => r.nextHopProtocol)];",
        )
        .await;
    let protocols = protocols.as_array().unwrap();
    // The page, the log's outline, its stream, the outline's stream.
    assert!(protocols.len() >= 3, "{protocols:?}");
    assert!(
        protocols.iter().all(|p| p == "h2"),
        "the page and its requests: {protocols:?}"
    );
    b.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs chromium and chromedriver"]
async fn viewer_refused_a_reader_slot_retries_until_it_gets_one() {
    let d = server_with(&[("LIVELOG_MAX_READERS", "1")]);
    let mut up = Uploader::start(d.put);
    up.chunk(&numbered(1, 10));
    // Another reader holds the only slot.
    let mut holder = RawReader::connect(d.get, None);
    assert_eq!(holder.head().0, 200);
    let b = Browser::start().await;
    b.goto(&view_url(d.get, "")).await;
    // Refused: 503, every slot is taken.
    assert!(d.wait_for_log("reader refused", PATIENCE), "{}", d.stderr());
    wait_state(&b, "reconnecting").await;
    // The holder goes away; the next chunk written to it frees its slot.
    drop(holder);
    up.chunk(&numbered(11, 10));
    assert!(
        d.wait_for_log("outcome=\"aborted\"", PATIENCE),
        "the holder's response did not end: {}",
        d.stderr()
    );
    b.wait_for(
        "20 lines",
        "document.documentElement.dataset.lines === '20'",
        "{state: document.documentElement.dataset.state, lines: document.documentElement.dataset.lines}",
        // The page's retries back off: 2, 4, 8, 16 s.
        PATIENCE + Duration::from_secs(30),
    )
    .await;
    up.chunk(&numbered(21, 10));
    assert_eq!(up.finish().0, 201);
    wait_state(&b, "complete").await;
    assert_eq!(b.js(SHOWN).await["lines"], json!("30"));
    b.close().await;
}
