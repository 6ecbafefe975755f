//! Moving through the log in the viewer: a line link opens scrolled to its
//! line (even before it arrives), the view follows the tail until scrolled
//! up, and Ctrl-F search finds a line off screen.

use super::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs chromium and chromedriver"]
async fn viewer_opens_a_line_link_scrolled_to_that_line_even_before_it_arrives() {
    let d = server();
    let mut up = Uploader::start(d.put);
    up.chunk(&numbered(1, 50));
    let b = Browser::start().await;
    // #L123 does not exist yet: the page waits for it.
    b.goto(&view_url(d.get, "#L123")).await;
    b.wait_for(
        "50 lines",
        "document.documentElement.dataset.lines === '50'",
        "document.documentElement.dataset.lines",
        PATIENCE,
    )
    .await;
    up.chunk(&numbered(51, 450));
    assert_eq!(up.finish().0, 201);
    wait_state(&b, "complete").await;
    assert_eq!(b.js(SHOWN).await["lines"], json!("500"));
    b.wait_for(
        "line 123 on screen",
        "document.querySelector('.row.sel[data-line=\"123\"]')",
        "[...document.querySelectorAll('.row')].map((r) => r.dataset.line).join(',')",
        PATIENCE,
    )
    .await;
    assert_eq!(line_on_screen(&b, 123).await.as_deref(), Some("line 123"));
    assert_eq!(
        line_on_screen(&b, 1).await,
        None,
        "scrolled away from the top"
    );
    assert_eq!(
        line_on_screen(&b, 500).await,
        None,
        "not following the tail"
    );
    let selected = b
        .js("return [...document.querySelectorAll('.row.sel')].map((r) => r.dataset.line);")
        .await;
    assert_eq!(selected, json!(["123"]));

    // Clicking a line number gives that line's link.
    let ln = b
        .client
        .find(fantoccini::Locator::Css(".row[data-line=\"125\"] .ln"))
        .await
        .expect("line 125's number");
    ln.click().await.expect("click");
    let hash = b.js("return location.hash;").await;
    assert_eq!(hash, json!("#L125"));
    let selected = b
        .js("return [...document.querySelectorAll('.row.sel')].map((r) => r.dataset.line);")
        .await;
    assert_eq!(selected, json!(["125"]));
    let href = b
        .js("return document.querySelector('.row[data-line=\"125\"] .ln').getAttribute('href');")
        .await;
    assert_eq!(href, json!("#L125"));
    assert_quiet_console(&b).await;
    b.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs chromium and chromedriver"]
async fn viewer_follows_the_tail_until_scrolled_up_and_follows_again_on_request() {
    let d = server();
    let mut up = Uploader::start(d.put);
    up.chunk(&numbered(1, 300));
    let b = Browser::start().await;
    b.goto(&view_url(d.get, "")).await;
    b.wait_for(
        "line 300 on screen",
        "document.querySelector('.row[data-line=\"300\"]')",
        "document.documentElement.dataset.lines",
        PATIENCE,
    )
    .await;
    assert_eq!(line_on_screen(&b, 300).await.as_deref(), Some("line 300"));
    let pressed = "return document.getElementById('follow').getAttribute('aria-pressed');";
    assert_eq!(b.js(pressed).await, json!("true"));

    // The reader scrolls to the top: the view stays there as lines arrive.
    b.js("document.getElementById('log').scrollTop = 0;").await;
    b.wait_for(
        "following to stop",
        "document.getElementById('follow').getAttribute('aria-pressed') === 'false'",
        "document.getElementById('follow').textContent",
        PATIENCE,
    )
    .await;
    up.chunk(&numbered(301, 100));
    b.wait_for(
        "400 lines",
        "document.documentElement.dataset.lines === '400'",
        "document.documentElement.dataset.lines",
        PATIENCE,
    )
    .await;
    // One more frame, then the view must still be at the top.
    b.js("return new Promise((ok) => requestAnimationFrame(() => requestAnimationFrame(ok)));")
        .await;
    assert_eq!(line_on_screen(&b, 1).await.as_deref(), Some("line 1"));
    assert_eq!(line_on_screen(&b, 400).await, None);

    // "Follow" brings the tail back, and keeps it.
    b.client
        .find(fantoccini::Locator::Id("follow"))
        .await
        .expect("follow button")
        .click()
        .await
        .expect("click follow");
    b.wait_for(
        "line 400 on screen",
        "(() => { const r = document.querySelector('.row[data-line=\"400\"]'); return r && r.getBoundingClientRect().bottom <= document.getElementById('log').getBoundingClientRect().bottom + 1; })()",
        "document.documentElement.dataset.lines",
        PATIENCE,
    )
    .await;
    up.chunk(&numbered(401, 10));
    assert_eq!(up.finish().0, 201);
    wait_state(&b, "complete").await;
    b.wait_for(
        "line 410 on screen",
        "document.querySelector('.row[data-line=\"410\"]')",
        "document.documentElement.dataset.lines",
        PATIENCE,
    )
    .await;
    assert_eq!(line_on_screen(&b, 410).await.as_deref(), Some("line 410"));
    assert_eq!(b.js(pressed).await, json!("true"));
    assert_quiet_console(&b).await;
    b.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs chromium and chromedriver"]
async fn viewer_search_opens_with_ctrl_f_and_finds_a_line_off_screen() {
    let d = server();
    let mut log = numbered(1, 4320);
    log.extend_from_slice(b"the \x1b[1mneedle\x1b[0m is here\n");
    log.extend(numbered(4322, 700));
    let mut up = Uploader::start(d.put);
    up.chunk(&log);
    assert_eq!(up.finish().0, 201);

    let b = Browser::start().await;
    b.goto(&view_url(d.get, "#L1")).await;
    wait_state(&b, "complete").await;
    let ctrl_f = format!(
        "{}f{}",
        char::from(fantoccini::key::Key::Control),
        char::from(fantoccini::key::Key::Null)
    );
    b.client
        .find(fantoccini::Locator::Id("log"))
        .await
        .expect("log")
        .send_keys(&ctrl_f)
        .await
        .expect("Ctrl-F");
    b.wait_for(
        "the search box to have the focus",
        "document.activeElement && document.activeElement.id === 'query'",
        "document.activeElement && document.activeElement.id",
        PATIENCE,
    )
    .await;
    b.client
        .find(fantoccini::Locator::Id("query"))
        .await
        .expect("query")
        .send_keys(&format!(
            "NEEDLE{}",
            char::from(fantoccini::key::Key::Enter)
        ))
        .await
        .expect("type");
    b.wait_for(
        "the match on screen",
        "document.querySelector('.row.cur[data-line=\"4321\"] mark')",
        "document.getElementById('matches').textContent",
        PATIENCE,
    )
    .await;
    assert_eq!(
        line_on_screen(&b, 4321).await.as_deref(),
        Some("the needle is here")
    );
    let found = b
        .js("return {mark: document.querySelector('.row.cur mark').textContent, count: document.getElementById('matches').textContent};")
        .await;
    assert_eq!(found, json!({"mark": "needle", "count": "1 of 1"}));
    assert_quiet_console(&b).await;
    b.close().await;
}
