//! The viewer showing a log as it arrives: colours, progress bars
//! collapsed, line counts; waiting, live and incomplete states; resuming
//! after cuts without losing or repeating a line.

use super::*;

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
