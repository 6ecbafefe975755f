//! The viewer's range links, copying and wrapping.

use fantoccini::Locator;
use serde_json::{Value, json};

use super::chrome::{Browser, PATIENCE};
use super::common::Uploader;
use super::windows::{ctrl, press};
use super::{assert_quiet_console, line_on_screen, numbered, view_url, wait_state};

/// Records what each copy puts on the clipboard (the page's own copy
/// handler runs first, on the document).
const RECORD_COPIES: &str = "window.__copied = []; window.addEventListener('copy', \
    (e) => window.__copied.push(e.clipboardData.getData('text/plain')));";

async fn copied(b: &Browser) -> Value {
    b.js("return window.__copied;").await
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
