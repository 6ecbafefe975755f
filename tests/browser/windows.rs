//! The viewer's range links, copying, wrapping, and logs larger than the
//! page holds (`?hold=BYTES` makes a small log one): windows of lines
//! fetched by number, the live tail followed, search on the server.

use fantoccini::Locator;
use fantoccini::key::Key;
use serde_json::{Value, json};

use super::chrome::{Browser, PATIENCE};
use super::common::{TOKEN, Uploader};
use super::{SHOWN, assert_quiet_console, line_on_screen, numbered, view_url, wait_state};

/// Ctrl+C (or any Ctrl+key) as WebDriver keys.
fn ctrl(key: char) -> String {
    format!("{}{key}{}", char::from(Key::Control), char::from(Key::Null))
}

/// Records what each copy puts on the clipboard (the page's own copy
/// handler runs first, on the document).
const RECORD_COPIES: &str = "window.__copied = []; window.addEventListener('copy', \
    (e) => window.__copied.push(e.clipboardData.getData('text/plain')));";

async fn copied(b: &Browser) -> Value {
    b.js("return window.__copied;").await
}

async fn press(b: &Browser, keys: &str) {
    b.client
        .find(Locator::Id("log"))
        .await
        .expect("the log")
        .send_keys(keys)
        .await
        .expect("keys");
}

fn lines_text(a: usize, b: usize) -> String {
    (a..=b)
        .map(|n| format!("line {n}"))
        .collect::<Vec<_>>()
        .join("\n")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs chromium and chromedriver"]
async fn viewer_selects_a_range_link_and_copies_text_without_numbers_or_times() {
    let d = super::server();
    let mut up = Uploader::start(d.put);
    up.chunk(&numbered(1, 500));
    assert_eq!(up.finish().0, 201);
    let b = Browser::start().await;
    b.goto(&view_url(d.get, "#L210-L220")).await;
    wait_state(&b, "complete").await;
    b.wait_for(
        "the range on screen",
        "document.querySelector('.row.sel[data-line=\"220\"]')",
        "[...document.querySelectorAll('.row')].map((r) => r.dataset.line).join(',')",
        PATIENCE,
    )
    .await;
    let selected = b
        .js("return [...document.querySelectorAll('.row.sel')].map((r) => Number(r.dataset.line));")
        .await;
    assert_eq!(selected, json!((210..=220).collect::<Vec<_>>()));
    for n in [210, 220] {
        assert_eq!(line_on_screen(&b, n).await, Some(format!("line {n}")));
    }
    b.js(RECORD_COPIES).await;

    // Ctrl+C with no text selected copies the linked lines.
    press(&b, &ctrl('c')).await;
    b.wait_for(
        "a copy",
        "window.__copied.length === 1",
        "window.__copied",
        PATIENCE,
    )
    .await;
    assert_eq!(copied(&b).await, json!([lines_text(210, 220)]));

    // With times shown, selected text still copies as the log's text.
    b.client
        .find(Locator::Id("timestamps"))
        .await
        .expect("timestamps")
        .select_by_value("absolute")
        .await
        .expect("absolute");
    b.wait_for(
        "times",
        "document.querySelector('.row[data-line=\"214\"] .ts[data-ts$=\"Z\"]')",
        "document.querySelector('.row[data-line=\"214\"]').innerHTML",
        PATIENCE,
    )
    .await;
    b.js(
        "const a = document.querySelector('.row[data-line=\"212\"] .ln'); \
         const z = document.querySelector('.row[data-line=\"214\"] .tx'); \
         const r = document.createRange(); r.setStart(a, 0); r.setEnd(z, z.childNodes.length); \
         getSelection().removeAllRanges(); getSelection().addRange(r);",
    )
    .await;
    press(&b, &ctrl('c')).await;
    b.wait_for(
        "a second copy",
        "window.__copied.length === 2",
        "window.__copied",
        PATIENCE,
    )
    .await;
    assert_eq!(copied(&b).await[1], json!(lines_text(212, 214)));

    // "Copy lines" copies the range too.
    b.js("getSelection().removeAllRanges();").await;
    b.client
        .find(Locator::Id("copy"))
        .await
        .expect("the copy button")
        .click()
        .await
        .expect("click copy");
    b.wait_for(
        "a third copy",
        "window.__copied.length === 3",
        "window.__copied",
        PATIENCE,
    )
    .await;
    assert_eq!(copied(&b).await[2], json!(lines_text(210, 220)));

    // Shift-click on a line number makes a range from the linked line.
    b.js("location.hash = '#L200';").await;
    b.wait_for(
        "line 200 selected",
        "document.querySelector('.row.sel[data-line=\"200\"]')",
        "location.hash",
        PATIENCE,
    )
    .await;
    b.js(
        "document.querySelector('.row[data-line=\"205\"] .ln').dispatchEvent(\
         new MouseEvent('click', {bubbles: true, cancelable: true, shiftKey: true}));",
    )
    .await;
    assert_eq!(b.js("return location.hash;").await, json!("#L200-L205"));
    assert_quiet_console(&b).await;
    b.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs chromium and chromedriver"]
async fn viewer_wraps_long_lines_on_request() {
    let d = super::server();
    let long = format!("the long line {}end", "word ".repeat(400));
    let mut log = numbered(1, 40);
    log.extend_from_slice(long.as_bytes());
    log.push(b'\n');
    log.extend(numbered(42, 40));
    log.extend_from_slice(format!("the last {long}\n").as_bytes());
    let mut up = Uploader::start(d.put);
    up.chunk(&log);
    assert_eq!(up.finish().0, 201);
    let b = Browser::start().await;
    b.goto(&view_url(d.get, "#L41")).await;
    wait_state(&b, "complete").await;
    let geometry = "const log = document.getElementById('log'); \
        const r = document.querySelector('.row[data-line=\"41\"]'); \
        return r ? {height: r.getBoundingClientRect().height, wide: log.scrollWidth > log.clientWidth + 1, \
        right: r.querySelector('.tx').getBoundingClientRect().right <= log.getBoundingClientRect().right + 1} : null;";
    b.wait_for(
        "line 41",
        "document.querySelector('.row.sel[data-line=\"41\"]')",
        "location.hash",
        PATIENCE,
    )
    .await;
    let before = b.js(geometry).await;
    assert_eq!(before["height"], json!(18), "{before}");
    assert_eq!(before["wide"], json!(true), "{before}");
    assert_eq!(before["right"], json!(false), "{before}");

    let wrap = b.client.find(Locator::Id("wrap")).await.expect("Wrap");
    wrap.click().await.expect("click Wrap");
    b.wait_for(
        "line 41 wrapped",
        "document.querySelector('.row[data-line=\"41\"]') && document.querySelector('.row[data-line=\"41\"]').getBoundingClientRect().height > 18 * 5",
        "document.getElementById('log').className",
        PATIENCE,
    )
    .await;
    let after = b.js(geometry).await;
    assert_eq!(after["wide"], json!(false), "{after}");
    assert_eq!(after["right"], json!(true), "{after}");
    assert_eq!(
        b.js("return document.getElementById('wrap').getAttribute('aria-pressed');")
            .await,
        json!("true")
    );
    let text = b
        .js("return document.querySelector('.row[data-line=\"41\"] .tx').textContent;")
        .await;
    assert_eq!(text, json!(long));

    // Following shows the last (wrapped) line whole, at the bottom.
    b.client
        .find(Locator::Id("follow"))
        .await
        .expect("Follow")
        .click()
        .await
        .expect("click Follow");
    b.wait_for(
        "the last line on screen",
        "(() => { const r = document.querySelector('.row[data-line=\"82\"]'); const box = document.getElementById('log').getBoundingClientRect(); \
         return r && r.getBoundingClientRect().height > 18 * 5 && r.getBoundingClientRect().top >= box.top && Math.abs(r.getBoundingClientRect().bottom - box.bottom) <= 1; })()",
        "[...document.querySelectorAll('.row')].map((r) => r.dataset.line).join(',')",
        PATIENCE,
    )
    .await;

    wrap.click().await.expect("click Wrap again");
    b.wait_for(
        "rows one line high again",
        "document.querySelector('.row[data-line=\"82\"]') && document.querySelector('.row[data-line=\"82\"]').getBoundingClientRect().height === 18",
        "document.getElementById('log').className",
        PATIENCE,
    )
    .await;
    assert_quiet_console(&b).await;
    b.close().await;
}

/// "line N ..." lines, each 60 bytes, "needle" in every 1000th (500, 1500, ...).
fn padded(count: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(count * 60);
    for n in 1..=count {
        let mut line = format!("line {n}");
        if n % 1000 == 500 {
            line.push_str(" has the needle");
        }
        while line.len() < 59 {
            line.push('.');
        }
        out.extend_from_slice(line.as_bytes());
        out.push(b'\n');
    }
    out
}

fn padded_line(n: usize) -> String {
    let log = padded(n);
    String::from_utf8(log[(n - 1) * 60..n * 60 - 1].to_vec()).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs chromium and chromedriver"]
async fn viewer_reads_a_log_larger_than_it_holds_in_windows_and_searches_on_the_server() {
    let d = super::server();
    let log = padded(30_000);
    let mut up = Uploader::start(d.put);
    up.chunk(&log);
    assert_eq!(up.finish().0, 201);
    let b = Browser::start().await;
    // The page holds 100 KB: this log (1.8 MB) is read in windows.
    b.goto(&format!("{}?hold=100000", view_url(d.get, "")))
        .await;
    wait_state(&b, "complete").await;
    let shown = b.js(SHOWN).await;
    assert_eq!(shown["lines"], json!("30000"), "{shown}");
    assert_eq!(shown["bytes"], json!(log.len().to_string()), "{shown}");
    b.wait_for(
        "the last line",
        "document.querySelector('.row[data-line=\"30000\"] .tx').textContent",
        "document.querySelectorAll('.row').length",
        PATIENCE,
    )
    .await;
    assert_eq!(line_on_screen(&b, 30_000).await, Some(padded_line(30_000)));

    // A line link anywhere: its window is fetched.
    b.js("location.hash = '#L15000';").await;
    b.wait_for(
        "line 15000",
        "(() => { const r = document.querySelector('.row.sel[data-line=\"15000\"]'); return r && r.querySelector('.tx').textContent; })()",
        "[...document.querySelectorAll('.row')].slice(0, 3).map((r) => r.dataset.line)",
        PATIENCE,
    )
    .await;
    assert_eq!(line_on_screen(&b, 15_000).await, Some(padded_line(15_000)));

    // Search: on the server, every match counted, the first one below the
    // top of the screen shown.
    press(&b, &ctrl('f')).await;
    b.wait_for(
        "the search box",
        "document.activeElement && document.activeElement.id === 'query'",
        "document.activeElement && document.activeElement.id",
        PATIENCE,
    )
    .await;
    b.client
        .find(Locator::Id("query"))
        .await
        .expect("query")
        .send_keys(&format!("NEEDLE{}", char::from(Key::Enter)))
        .await
        .expect("type");
    b.wait_for(
        "the match on screen",
        "document.querySelector('.row.cur[data-line=\"15500\"] mark') && document.getElementById('matches').textContent === '16 of 30'",
        "document.getElementById('matches').textContent",
        PATIENCE,
    )
    .await;
    assert_eq!(line_on_screen(&b, 15_500).await, Some(padded_line(15_500)));
    // Enter goes to the next one.
    b.client
        .find(Locator::Id("query"))
        .await
        .expect("query")
        .send_keys(&char::from(Key::Enter).to_string())
        .await
        .expect("Enter");
    b.wait_for(
        "the next match",
        "document.querySelector('.row.cur[data-line=\"16500\"] mark') && document.getElementById('matches').textContent === '17 of 30'",
        "document.getElementById('matches').textContent",
        PATIENCE,
    )
    .await;
    assert_eq!(
        b.js("return document.querySelector('.row.cur mark').textContent;")
            .await,
        json!("needle")
    );

    // What the page asked for: windows of lines and a search, never the
    // whole log.
    let asked = b
        .js("return performance.getEntriesByType('resource').map((r) => { const u = new URL(r.name); return u.pathname + u.search; });")
        .await;
    let asked: Vec<String> = serde_json::from_value(asked).unwrap();
    let log_path = format!("/log/{TOKEN}");
    assert!(
        asked
            .iter()
            .any(|u| u.starts_with(&format!("{log_path}?lines="))),
        "{asked:?}"
    );
    assert!(
        asked
            .iter()
            .any(|u| u.starts_with(&format!("{log_path}/search?"))),
        "{asked:?}"
    );
    assert!(
        !asked.contains(&log_path),
        "the whole log was read: {asked:?}"
    );
    assert_quiet_console(&b).await;
    b.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs chromium and chromedriver"]
async fn viewer_follows_a_live_log_larger_than_it_holds() {
    let d = super::server();
    let mut up = Uploader::start(d.put);
    up.chunk(&padded(20_000));
    up.chunk(b"a line being written");
    let b = Browser::start().await;
    b.goto(&format!("{}?hold=100000", view_url(d.get, "")))
        .await;
    wait_state(&b, "live").await;
    // The unfinished last line is read whole, then continued.
    b.wait_for(
        "the line being written",
        "(() => { const r = document.querySelector('.row[data-line=\"20001\"] .tx'); return r && r.textContent === 'a line being written'; })()",
        "document.documentElement.dataset.lines",
        PATIENCE,
    )
    .await;
    up.chunk(b", and ended\n");
    let more: Vec<u8> = (20_002..=25_000)
        .flat_map(|n| format!("line {n} arrived live\n").into_bytes())
        .collect();
    up.chunk(&more);
    b.wait_for(
        "25,000 lines",
        "document.documentElement.dataset.lines === '25000'",
        "document.documentElement.dataset.lines",
        PATIENCE,
    )
    .await;
    assert_eq!(
        line_on_screen(&b, 25_000).await.as_deref(),
        Some("line 25000 arrived live")
    );
    // Back to where the page started following: read again as a window.
    b.js("location.hash = '#L20001';").await;
    b.wait_for(
        "line 20001",
        "(() => { const r = document.querySelector('.row.sel[data-line=\"20001\"] .tx'); return r && r.textContent; })()",
        "location.hash",
        PATIENCE,
    )
    .await;
    assert_eq!(
        line_on_screen(&b, 20_001).await.as_deref(),
        Some("a line being written, and ended")
    );
    up.chunk(b"the end\n");
    assert_eq!(up.finish().0, 201);
    wait_state(&b, "complete").await;
    assert_eq!(b.js(SHOWN).await["lines"], json!("25001"));
    assert_quiet_console(&b).await;
    b.close().await;
}
