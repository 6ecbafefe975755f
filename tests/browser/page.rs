//! The viewer page as a whole: it runs under a strict Content-Security-Policy
//! and requests nothing else, and shows a real build log and takes its
//! picture.

use super::*;

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
