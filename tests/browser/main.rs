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
mod event_source;
mod lines;
mod page;
mod proxy;
mod scrolling;
mod sections;
mod server;
mod target;
mod viewer;
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

/// `count` numbered lines, starting at `first`: "line 1\n", ...
fn numbered(first: usize, count: usize) -> Vec<u8> {
    (first..first + count)
        .flat_map(|n| format!("line {n}\n").into_bytes())
        .collect()
}
