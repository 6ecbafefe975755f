//! Logs larger than the page holds (`?hold=BYTES` makes a small log one):
//! windows of lines fetched by number, the live tail followed, search on
//! the server.

use fantoccini::Locator;
use fantoccini::key::Key;
use serde_json::json;

use super::chrome::{Browser, PATIENCE};
use super::common::{TOKEN, Uploader};
use super::{SHOWN, assert_quiet_console, line_on_screen, view_url, wait_state};

/// Ctrl+C (or any Ctrl+key) as WebDriver keys.
pub(crate) fn ctrl(key: char) -> String {
    format!("{}{key}{}", char::from(Key::Control), char::from(Key::Null))
}

pub(crate) async fn press(b: &Browser, keys: &str) {
    b.client
        .find(Locator::Id("log"))
        .await
        .expect("the log")
        .send_keys(keys)
        .await
        .expect("keys");
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

/// Starts `GET /log/<token>/search?q=line` from 127.0.0.1 (the browser's
/// address too) and reads only its status line: the scan holds its scan
/// slot, mid-log, until the socket is dropped.
fn held_search(get: std::net::SocketAddr) -> std::net::TcpStream {
    use std::io::{BufRead, Write};
    let socket = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
    socket.set_recv_buffer_size(4096).unwrap();
    socket.connect(&get.into()).unwrap();
    let mut stream: std::net::TcpStream = socket.into();
    write!(
        stream,
        "GET /log/{TOKEN}/search?q=line HTTP/1.1\r\nHost: x\r\n\r\n"
    )
    .unwrap();
    let mut status = String::new();
    std::io::BufReader::new(stream.try_clone().unwrap())
        .read_line(&mut status)
        .unwrap();
    assert!(status.starts_with("HTTP/1.1 200 "), "{status}");
    stream
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs chromium and chromedriver"]
async fn viewer_search_refused_shows_busy_and_retries_by_itself() {
    let d = super::target::server_with(&[("LIVELOG_MAX_SEARCHES", "1")]);
    // 12 MB whose every line matches the held search: its results fill
    // the socket long before its end.
    let log = padded(200_000);
    let mut up = Uploader::start(d.put);
    up.chunk(&log);
    assert_eq!(up.finish().0, 201);
    let held = held_search(d.get);
    let b = Browser::start().await;
    b.goto(&format!("{}?hold=100000", view_url(d.get, "")))
        .await;
    wait_state(&b, "complete").await;
    press(&b, &ctrl('f')).await;
    b.client
        .find(Locator::Id("query"))
        .await
        .expect("query")
        .send_keys(&format!("NEEDLE{}", char::from(Key::Enter)))
        .await
        .expect("type");
    // The one scan slot is taken: 503, and the page says so.
    b.wait_for(
        "busy, retrying",
        "document.getElementById('matches').textContent === 'busy, retrying'",
        "document.getElementById('matches').textContent",
        PATIENCE,
    )
    .await;
    // The slot comes back: the page retries by itself and finds them all.
    drop(held);
    b.wait_for(
        "every match",
        "/ of 200$/.test(document.getElementById('matches').textContent)",
        "document.getElementById('matches').textContent",
        PATIENCE,
    )
    .await;
    // The console has only the refusals' load errors.
    let console = b.console().await;
    assert!(console.iter().all(|c| c.contains("503")), "{console:#?}");
    b.close().await;
}
