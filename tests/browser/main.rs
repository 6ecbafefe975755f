//! Browser tests: a real headless Chromium, driven over WebDriver
//! by chromedriver, reads the log as Server-Sent Events and through the
//! viewer page at `/view/<token>`, while the test uploads the log.
//!
//! They need Chromium and chromedriver (Debian: `apt-get install chromium
//! chromium-driver`), so they are `#[ignore]`d in a plain `cargo test` and
//! `.ci/run` runs them after installing both:
//!
//! ```sh
//! cargo test --test browser -- --ignored
//! ```
//!
//! The server under test is `target::server()`.

// Tests and benchmarks panic on what they did not expect, and time the real
// process from outside with std's clock: the lint policy is livelog's own.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::disallowed_types)]

#[path = "../common/mod.rs"]
mod common;

mod chrome;
mod lines;
mod proxy;
mod sections;
mod server;
mod target;
mod windows;

use chrome::{Browser, PATIENCE};
use common::{TOKEN, Uploader, pattern};
use proxy::CuttingProxy;
use serde_json::json;
use target::{server, thousands};

fn view_url(addr: std::net::SocketAddr, fragment: &str) -> String {
    format!("http://{addr}/view/{TOKEN}{fragment}")
}

/// Uploads `data` in chunks of the given sizes (cycled).
fn upload_in_chunks(up: &mut Uploader, data: &[u8], sizes: &[usize]) {
    let mut pos = 0;
    for size in sizes.iter().cycle() {
        if pos >= data.len() {
            break;
        }
        let end = (pos + size).min(data.len());
        up.chunk(&data[pos..end]);
        pos = end;
    }
}

/// Random chunk sizes in 1..=max, deterministic.
fn chunk_sizes(count: usize, max: usize, seed: u64) -> Vec<usize> {
    pattern(count * 4, seed)
        .chunks(4)
        .map(|c| u32::from_le_bytes([c[0], c[1], c[2], c[3]]) as usize % max + 1)
        .collect()
}

/// A log of roughly `len` bytes of valid UTF-8 text: words, 2-, 3- and
/// 4-byte characters, `\r\n` and `\n` line ends, `\r` progress updates and
/// colour codes, so chunk boundaries split characters and `\r\n` pairs.
fn utf8_log(len: usize, seed: u64) -> String {
    const PIECES: &[&str] = &[
        "build",
        " ",
        "step",
        "é",
        "€",
        "𝄞",
        "naïve",
        "日本語",
        "\r\n",
        "\n",
        "\r",
        "\x1b[31m",
        "\x1b[0m",
        "42%",
        "\"quoted\"",
        "\\",
        "\t",
        "ok",
        "\u{2028}",
        "{json}",
    ];
    let random = pattern(len, seed);
    let mut out = String::with_capacity(len + 16);
    let mut i = 0;
    while out.len() < len {
        out.push_str(PIECES[random[i % random.len()] as usize % PIECES.len()]);
        i += 1;
    }
    out
}

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

// -------------------------------------------------------------- viewer

/// Reads what the viewer shows.
const SHOWN: &str = "const r = document.documentElement; return {state: r.dataset.state, \
    lines: r.dataset.lines, bytes: r.dataset.bytes, label: document.getElementById('state').textContent};";

async fn wait_state(b: &Browser, state: &str) {
    b.wait_for(
        &format!("the viewer to say {state}"),
        &format!("document.documentElement.dataset.state === '{state}'"),
        "{state: document.documentElement.dataset.state, lines: document.documentElement.dataset.lines}",
        PATIENCE,
    )
    .await;
}

/// The text of line `n` if it is on screen (rendered and inside the log's box),
/// looked at after the next frame: the viewer updates its counts at once
/// (so whoever sees a state sees its numbers) but draws rows at the next
/// animation frame, and a test that saw a count must look at the frame that
/// shows it.
async fn line_on_screen(b: &Browser, n: usize) -> Option<String> {
    let v = b
        .js_async(
            "const n = arguments[0]; const done = arguments[arguments.length - 1]; \
             requestAnimationFrame(() => setTimeout(() => { \
               const row = document.querySelector(`.row[data-line=\"${n}\"]`); \
               if (!row) return done(null); \
               const box = document.getElementById('log').getBoundingClientRect(); \
               const r = row.getBoundingClientRect(); \
               if (r.top < box.top - 1 || r.bottom > box.bottom + 1) return done(null); \
               done(row.querySelector('.tx').textContent); \
             }, 0));",
            vec![json!(n)],
        )
        .await;
    v.as_str().map(str::to_string)
}

async fn assert_quiet_console(b: &Browser) {
    let console = b.console().await;
    assert!(
        console.is_empty(),
        "the browser console is not empty: {console:#?}"
    );
}

/// Lines 8.. of the colour test log: "line 8", "line 9", ...
const COLOUR_LOG: &[&[u8]] = &[
    b"plain start\n",
    b"an \x1b[31mred\x1b[0m word\n",
    b"Downloading   0%\rDownloading  50%\r",
    b"Downloading 100%\r\n",
    b"\x1b[1;4mbold underline\x1b[22;24m normal\n",
    b"\x1b[38;5;208morange\x1b[39m \x1b[38;2;10;200;30mtruecolor\x1b[m \x1b[7minverse\x1b[27m\n",
    b"\x1b]8;;https://example.com/\x1b\\a link\x1b]8;;\x1b\\ and \x1b]0;a title\x07no title\n",
    b"old text\x1b[2K\x1b[1Gcleared and rewritten\x1b[",
    b"K\n",
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs chromium and chromedriver"]
async fn viewer_shows_colours_collapses_progress_bars_and_counts_lines() {
    let d = server();
    let mut log: Vec<u8> = COLOUR_LOG.concat();
    for n in 8..=150 {
        log.extend_from_slice(format!("line {n}\n").as_bytes());
    }
    let mut up = Uploader::start(d.put);
    for piece in COLOUR_LOG {
        up.chunk(piece);
    }
    up.chunk(&log[COLOUR_LOG.concat().len()..]);
    assert_eq!(up.finish().0, 201);

    let b = Browser::start().await;
    b.goto(&view_url(d.get, "#L1")).await;
    wait_state(&b, "complete").await;
    let shown = b.js(SHOWN).await;
    assert_eq!(shown["lines"], json!("150"), "{shown}");
    assert_eq!(shown["bytes"], json!(log.len().to_string()), "{shown}");
    assert_eq!(shown["label"], json!("Complete"), "{shown}");
    let size = b.js("return document.getElementById('size').title;").await;
    assert_eq!(size, json!(format!("{} bytes", thousands(log.len()))));

    // Styles as the browser computed them.
    let styles = b
        .js(r#"
            const span = (line, text) => [...document.querySelectorAll(`.row[data-line="${line}"] .tx span`)]
                .find((s) => s.textContent === text);
            const css = (el) => el ? getComputedStyle(el) : null;
            const word = document.querySelector('.row[data-line="2"] .tx');
            return {
                red: css(span(2, 'red'))?.color,
                plain: getComputedStyle(word).color,
                bold: css(span(4, 'bold underline'))?.fontWeight,
                underline: css(span(4, 'bold underline'))?.textDecorationLine,
                orange: css(span(5, 'orange'))?.color,
                truecolor: css(span(5, 'truecolor'))?.color,
                inverseFg: css(span(5, 'inverse'))?.color,
                inverseBg: css(span(5, 'inverse'))?.backgroundColor,
            };
        "#)
        .await;
    assert_eq!(
        styles,
        json!({
            "red": "rgb(205, 49, 49)",
            "plain": "rgb(212, 212, 212)",
            "bold": "700",
            "underline": "underline",
            "orange": "rgb(255, 135, 0)",
            "truecolor": "rgb(10, 200, 30)",
            "inverseFg": "rgb(30, 30, 30)",
            "inverseBg": "rgb(212, 212, 212)",
        })
    );
    let expect = [
        (1, "plain start"),
        (2, "an red word"),
        (3, "Downloading 100%"),
        (4, "bold underline normal"),
        (5, "orange truecolor inverse"),
        (6, "a link and no title"),
        (7, "cleared and rewritten"),
        (8, "line 8"),
    ];
    for (n, text) in expect {
        assert_eq!(
            line_on_screen(&b, n).await.as_deref(),
            Some(text),
            "line {n}"
        );
    }
    let raw = b
        .js("return document.getElementById('raw').getAttribute('href');")
        .await;
    assert_eq!(raw, json!(format!("/log/{TOKEN}")));
    assert_quiet_console(&b).await;
    b.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs chromium and chromedriver"]
async fn viewer_says_waiting_then_live_then_incomplete_when_the_upload_breaks() {
    let d = server();
    let b = Browser::start().await;
    b.goto(&view_url(d.get, "")).await;
    wait_state(&b, "waiting").await;
    let shown = b.js(SHOWN).await;
    assert_eq!(shown["label"], json!("Waiting for the upload"), "{shown}");
    assert_eq!(shown["lines"], json!("0"), "{shown}");

    let mut up = Uploader::start(d.put);
    up.chunk(b"first line\n");
    wait_state(&b, "live").await;
    b.wait_for(
        "line 1",
        "document.documentElement.dataset.lines === '1'",
        "document.documentElement.dataset.lines",
        PATIENCE,
    )
    .await;
    assert_eq!(line_on_screen(&b, 1).await.as_deref(), Some("first line"));
    assert_eq!(b.js(SHOWN).await["label"], json!("Live"));

    up.chunk(b"a line the upload never finishes");
    up.abort();
    wait_state(&b, "incomplete").await;
    let shown = b.js(SHOWN).await;
    assert_eq!(
        shown["label"],
        json!("Incomplete: the upload broke"),
        "{shown}"
    );
    assert_eq!(shown["lines"], json!("2"), "{shown}");
    assert_eq!(shown["bytes"], json!("43"), "{shown}");
    assert_eq!(
        line_on_screen(&b, 2).await.as_deref(),
        Some("a line the upload never finishes")
    );
    assert_quiet_console(&b).await;
    b.close().await;
}

/// `count` numbered lines, starting at `first`: "line 1\n", ...
fn numbered(first: usize, count: usize) -> Vec<u8> {
    (first..first + count)
        .flat_map(|n| format!("line {n}\n").into_bytes())
        .collect()
}

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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs chromium and chromedriver"]
async fn viewer_resumes_after_cuts_without_losing_or_repeating_a_line() {
    let d = server();
    // Cuts well after the first events (their size is the server's
    // choice), mid-event.
    let proxy = CuttingProxy::start(d.get, 300 * 1024 + 77, 2);
    let b = Browser::start().await;
    b.goto(&view_url(proxy.addr, "")).await;
    wait_state(&b, "waiting").await;
    let mut log = Vec::new();
    let mut want = Vec::new();
    for n in 1..=20_000 {
        log.extend_from_slice(
            format!(
                "\x1b[3{}mline {n}\x1b[0m of a log that is cut twice\r\n",
                n % 8
            )
            .as_bytes(),
        );
        want.push(format!("line {n} of a log that is cut twice"));
    }
    let mut up = Uploader::start(d.put);
    upload_in_chunks(&mut up, &log, &chunk_sizes(512, 8192, 3));
    assert_eq!(up.finish().0, 201);
    wait_state(&b, "complete").await;
    assert_eq!(proxy.cuts(), 2);
    // Both reconnects resumed from where they broke (and not from 0).
    let resumed = proxy.last_event_ids();
    assert!(
        resumed.len() == 2
            && resumed
                .iter()
                .all(|id| id.parse::<u64>().is_ok_and(|n| n > 0)),
        "Last-Event-ID sent: {resumed:?}"
    );
    let shown = b.js(SHOWN).await;
    assert_eq!(shown["lines"], json!("20000"), "{shown}");
    assert_eq!(shown["bytes"], json!(log.len().to_string()), "{shown}");
    let got = all_lines(&b).await;
    if let Some(i) = (0..want.len()).find(|&i| got.get(i) != Some(&want[i])) {
        panic!("line {} is {:?}, want {:?}", i + 1, got.get(i), want[i]);
    }
    assert_eq!(got.len(), want.len());
    // EventSource's own reconnects are network errors, not messages: the
    // console stays empty.
    let console = b.console().await;
    assert!(
        console
            .iter()
            .all(|m| m.contains("net::ERR_") || m.contains("/log/")),
        "{console:#?}"
    );
    b.close().await;
}

/// Every line the viewer shows, read by scrolling through the whole log
/// half a (tall) screen at a time.
async fn all_lines(b: &Browser) -> Vec<String> {
    b.client
        .set_window_size(1280, 3000)
        .await
        .expect("a tall window");
    let lines = b
        .client
        .execute_async(
            r#"
            const done = arguments[0];
            const log = document.getElementById('log');
            const n = Number(document.documentElement.dataset.lines);
            const seen = new Array(n).fill(null);
            const frame = () => new Promise((ok) => requestAnimationFrame(() => setTimeout(ok, 0)));
            (async () => {
                for (let top = 0; ; top += log.clientHeight / 2) {
                    log.scrollTop = top;
                    await frame();
                    for (const row of document.querySelectorAll('.row')) {
                        seen[Number(row.dataset.line) - 1] = row.querySelector('.tx').textContent;
                    }
                    if (log.scrollTop + log.clientHeight >= log.scrollHeight) break;
                }
                done(seen);
            })();
            "#,
            vec![],
        )
        .await
        .expect("read every line");
    lines
        .as_array()
        .expect("lines")
        .iter()
        .map(|l| l.as_str().unwrap_or("<never shown>").to_string())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs chromium and chromedriver"]
async fn viewer_page_runs_under_a_strict_csp_and_requests_nothing_else() {
    let d = server();
    let mut up = Uploader::start(d.put);
    up.chunk(b"\x1b[32mgreen\x1b[0m\n");
    assert_eq!(up.finish().0, 201);
    let b = Browser::start().await;
    b.goto(&view_url(d.get, "")).await;
    wait_state(&b, "complete").await;
    // The page itself broke no rule of its policy...
    assert_quiet_console(&b).await;
    // ... and the policy is strict: no inline style attribute, no HTML
    // from strings, no requests to other origins. (WebDriver's own scripts
    // bypass the policy's eval rule, so that one is not probed here.)
    let probes = b
        .client
        .execute_async(
            r#"
            const done = arguments[0];
            const violated = [];
            document.addEventListener('securitypolicyviolation', (e) => violated.push(e.effectiveDirective));
            const el = document.createElement('div');
            el.setAttribute('style', 'color: rgb(1, 2, 3)');
            document.body.append(el);
            const styled = getComputedStyle(el).color === 'rgb(1, 2, 3)';
            let html = 'allowed';
            try { el.innerHTML = '<b>x</b>'; } catch (e) { html = e.name; }
            fetch('http://127.0.0.2:9/').then(() => 'fetched', (e) => e.name).then((fetched) =>
                setTimeout(() => done({ styled, html, fetched, violated: violated.sort() }), 100));
            "#,
            vec![],
        )
        .await
        .expect("CSP probes");
    assert_eq!(
        probes,
        json!({
            "styled": false,
            "html": "TypeError",
            "fetched": "TypeError",
            "violated": ["connect-src", "require-trusted-types-for", "style-src-attr"],
        })
    );
    // Everything the page loaded came from its own origin, and nothing
    // but the page and what it reads the log with: the log's outline
    // (which says how to read it) and its stream.
    let resources = b
        .js("return performance.getEntriesByType('resource').map((r) => new URL(r.name).pathname);")
        .await;
    assert_eq!(
        resources,
        json!([format!("/log/{TOKEN}/outline"), format!("/log/{TOKEN}")])
    );
    let title = b.js("return document.title;").await;
    assert!(!title.as_str().unwrap().contains(TOKEN), "{title}");
    b.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs chromium and chromedriver"]
async fn viewer_shows_a_real_build_log_and_takes_its_picture() {
    // Captured from a terminal: curl's `\r` progress bar, then
    // `cargo build --color always` and `cargo test --color always`.
    let log = include_bytes!("cargo-build.log");
    let d = server();
    let mut up = Uploader::start(d.put);
    upload_in_chunks(&mut up, log, &chunk_sizes(64, 97, 5));
    assert_eq!(up.finish().0, 201);
    let b = Browser::start().await;
    b.client
        .set_window_size(1100, 760)
        .await
        .expect("window size");
    b.goto(&view_url(d.get, "#L2")).await;
    wait_state(&b, "complete").await;
    let progress = line_on_screen(&b, 2).await.expect("line 2 on screen");
    assert!(
        progress.ends_with("100.0%") && !progress.contains("14.5%"),
        "the progress bar collapsed to its last state: {progress:?}"
    );
    let colours = b
        .js("return new Set([...document.querySelectorAll('.tx span')].map((s) => getComputedStyle(s).color)).size;")
        .await;
    assert!(colours.as_u64().unwrap() >= 4, "{colours} colours");
    let failed = b
        .js("const s = [...document.querySelectorAll('.tx span')].find((s) => s.textContent === 'FAILED'); return s ? getComputedStyle(s).color : null;")
        .await;
    assert_eq!(failed, json!("rgb(205, 49, 49)"));
    assert_quiet_console(&b).await;
    let png = b.screenshot().await;
    let out = std::env::var_os("LIVELOG_SCREENSHOT").map_or_else(
        || std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/viewer.png"),
        std::path::PathBuf::from,
    );
    if let Some(dir) = out.parent() {
        std::fs::create_dir_all(dir).expect("the screenshot's directory");
    }
    std::fs::write(&out, png).expect("write the screenshot");
    b.close().await;
}
