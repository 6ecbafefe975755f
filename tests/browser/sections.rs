//! The viewer on a CI job's log (`ci-job.log`): sections folded with their
//! durations and error counts, the first error's section open, "First
//! error", and each line's arrival time (absolute, elapsed, off).
//!
//! `ci-job.log` is a GitLab runner job trace (its `section_start` /
//! `section_end` markers with `\r\e[0K` headers, colours, its closing
//! `ERROR: Job failed`) around a script that groups its steps in nested
//! GitLab sections (not the GitHub Actions way, `::group::`: one CI
//! system's markers do not fire in another's log, and GitLab's viewer folds
//! only its own); the steps' output is real
//! `rustc`, `cargo build` and `cargo test` output (`--color always`, one
//! test failing), with the paths rewritten to a runner's.

use std::time::Duration;

use fantoccini::Locator;
use serde_json::{Value, json};

use super::chrome::{Browser, PATIENCE};
use super::common::{Daemon, SOON, TOKEN, Uploader, curl, wait_until};
use super::{assert_quiet_console, line_on_screen, view_url, wait_state};

pub(crate) const CI_LOG: &[u8] = include_bytes!("ci-job.log");

/// The line after which the upload pauses, inside the `Build` group.
const PAUSE_AFTER_LINE: usize = 26;
/// How long: long enough for `Build` to show a duration of its own.
const PAUSE: Duration = Duration::from_millis(1200);

/// Uploads `ci-job.log` with a pause inside its `Build` group, as a job that
/// takes a while to compile would.
pub(crate) fn upload_ci_log(d: &Daemon) {
    let cut = CI_LOG
        .iter()
        .enumerate()
        .filter(|(_, b)| **b == b'\n')
        .nth(PAUSE_AFTER_LINE - 1)
        .map(|(i, _)| i + 1)
        .unwrap();
    let mut up = Uploader::start(d.put);
    up.chunk(&CI_LOG[..cut]);
    // Not a wait for anything: arrival times are the data under test, and
    // this makes two of them a known span apart.
    std::thread::sleep(PAUSE);
    up.chunk(&CI_LOG[cut..]);
    assert_eq!(up.finish().0, 201);
}

/// The server's outline of the whole log: the indexer follows the upload
/// at its own pace (at the lowest CPU priority), so the outline is fetched
/// until it says it is complete.
fn outline(d: &Daemon) -> Value {
    let mut doc = Value::Null;
    let complete = wait_until(SOON, || {
        let (code, body, err) = curl(&["-sS", &format!("http://{}/log/{TOKEN}/outline", d.get)]);
        assert_eq!(code, 0, "{err}");
        doc = serde_json::from_slice(&body).unwrap();
        doc["state"] == json!("complete")
    });
    assert!(complete, "the outline is still not complete: {doc}");
    doc
}

/// As the viewer writes a duration under 10 s.
fn duration_text(secs: f64) -> String {
    assert!(secs < 10.0, "{secs}");
    format!("{secs:.1}s")
}

/// The rows on screen: line, whether a section header (and folded), text,
/// duration, errors.
const ROWS: &str = r#"
    const box = document.getElementById('log').getBoundingClientRect();
    return [...document.querySelectorAll('.row')].filter((r) => {
        const b = r.getBoundingClientRect();
        return b.top >= box.top - 1 && b.bottom <= box.bottom + 1;
    }).map((r) => {
        const meta = r.querySelector('.meta');
        return {
            line: Number(r.dataset.line),
            header: r.classList.contains('sec'),
            folded: r.classList.contains('folded'),
            text: r.querySelector('.tx').textContent,
            dur: meta ? meta.dataset.dur : null,
            errs: meta ? meta.dataset.errs || null : null,
            error: r.classList.contains('err'),
        };
    });
"#;

async fn open_tall(d: &Daemon, fragment: &str) -> Browser {
    let b = Browser::start().await;
    b.client
        .set_window_size(1280, 1500)
        .await
        .expect("a tall window");
    b.goto(&view_url(d.get, fragment)).await;
    wait_state(&b, "complete").await;
    b.wait_for(
        "the sections",
        "document.querySelectorAll('.row.sec').length >= 9",
        "document.querySelectorAll('.row.sec').length",
        PATIENCE,
    )
    .await;
    b
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs chromium and chromedriver"]
async fn viewer_folds_ci_sections_with_durations_and_opens_the_first_errors() {
    let d = super::server();
    upload_ci_log(&d);
    let doc = outline(&d);
    let b = open_tall(&d, "#L1").await;
    let rows = b.js(ROWS).await;
    let rows = rows.as_array().unwrap();
    let headers: Vec<_> = rows
        .iter()
        .filter(|r| r["header"] == json!(true))
        .map(|r| {
            (
                r["line"].as_u64().unwrap(),
                r["text"].as_str().unwrap().to_string(),
                r["folded"].as_bool().unwrap(),
                r["errs"].as_str().map(str::to_string),
            )
        })
        .collect();
    let s = |line: u64, name: &str, folded: bool, errs: Option<&str>| {
        (line, name.to_string(), folded, errs.map(str::to_string))
    };
    // GitLab sections (depth 0) and the sections the job script opens
    // inside its own; the failing test's and the script's are open.
    assert_eq!(
        headers,
        vec![
            s(3, "Preparing the \"docker\" executor", true, None),
            s(8, "Preparing environment", true, None),
            s(11, "Getting source from Git repository", true, None),
            s(
                19,
                "Executing \"step_script\" stage of the job script",
                false,
                Some("4 errors")
            ),
            s(21, "Toolchain", true, None),
            s(25, "Build", true, None),
            s(38, "Test", false, Some("4 errors")),
            s(
                77,
                "Uploading artifacts for failed job",
                true,
                Some("1 error")
            ),
            s(
                82,
                "Cleaning up project directory and file based variables",
                true,
                None
            ),
        ]
    );
    // Each header shows its section's duration as the server measured it.
    for section in doc["sections"].as_array().unwrap() {
        let line = section["first_line"].as_u64().unwrap();
        let row = rows.iter().find(|r| r["line"] == json!(line)).unwrap();
        let secs = section["duration_secs"].as_f64().unwrap();
        assert_eq!(row["dur"], json!(duration_text(secs)), "{section}");
    }
    let build = &doc["sections"][5];
    assert_eq!(build["name"], json!("Build"));
    assert_eq!(build["kind"], json!("gitlab"));
    // The log's own times (the markers' epochs), not the upload's pause.
    assert_eq!(build["times"], json!("log"));
    assert_eq!(build["duration_secs"], json!(3.0), "{build}");
    // Folded sections hide their lines; open ones show them, error lines
    // marked.
    let shown: Vec<u64> = rows.iter().map(|r| r["line"].as_u64().unwrap()).collect();
    for hidden in [4, 7, 9, 12, 22, 26, 37, 78, 83] {
        assert!(
            !shown.contains(&hidden),
            "line {hidden} is hidden: {shown:?}"
        );
    }
    let first_error = rows.iter().find(|r| r["line"] == json!(56)).unwrap();
    assert_eq!(
        first_error["text"],
        json!("test tests::rejects_a_pre_release ... FAILED")
    );
    assert_eq!(first_error["error"], json!(true));
    assert_eq!(
        line_on_screen(&b, 84).await.as_deref(),
        Some("ERROR: Job failed: exit code 101")
    );

    // A click on a header unfolds its section, another folds it again.
    let twisty = "document.querySelector('.row.sec[data-line=\"25\"] .tw')";
    b.js(&format!("{twisty}.click();")).await;
    b.wait_for(
        "Build's lines",
        "document.querySelector('.row[data-line=\"26\"]')",
        "document.querySelector('.row[data-line=\"25\"]').className",
        PATIENCE,
    )
    .await;
    assert_eq!(
        b.js(&format!("return {twisty}.getAttribute('aria-expanded');"))
            .await,
        json!("true")
    );
    let compiling = line_on_screen(&b, 26).await.unwrap();
    assert!(
        compiling.contains("Compiling semver-lite v0.3.1"),
        "{compiling}"
    );
    b.js(&format!("{twisty}.click();")).await;
    b.wait_for(
        "Build folded again",
        "!document.querySelector('.row[data-line=\"26\"]')",
        "document.querySelector('.row[data-line=\"25\"]').className",
        PATIENCE,
    )
    .await;
    assert_quiet_console(&b).await;
    b.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs chromium and chromedriver"]
async fn viewer_jumps_to_the_first_error_unfolding_its_section() {
    let d = super::server();
    upload_ci_log(&d);
    let b = Browser::start().await;
    b.goto(&view_url(d.get, "#L38")).await;
    wait_state(&b, "complete").await;
    // The reader folds the failing test's group.
    let twisty = "document.querySelector('.row.sec[data-line=\"38\"] .tw')";
    b.wait_for(
        "the Test group",
        twisty,
        "document.querySelectorAll('.row').length",
        PATIENCE,
    )
    .await;
    b.js(&format!("{twisty}.click();")).await;
    b.wait_for(
        "Test folded",
        "document.querySelector('.row.sec.folded[data-line=\"38\"]') && !document.querySelector('.row[data-line=\"56\"]')",
        "document.querySelector('.row[data-line=\"38\"]').className",
        PATIENCE,
    )
    .await;
    let button = b
        .client
        .find(Locator::Id("first-error"))
        .await
        .expect("the First error button");
    assert_eq!(
        b.js("return document.getElementById('errors').textContent;")
            .await,
        json!("6 errors")
    );
    button.click().await.expect("click First error");
    b.wait_for(
        "the first error on screen",
        "document.querySelector('.row.sel[data-line=\"72\"]')",
        "location.hash",
        PATIENCE,
    )
    .await;
    // The first error is the first failure line (rank 1): the test
    // harness's summary, not the first line a tool reported.
    assert_eq!(b.js("return location.hash;").await, json!("#L72"));
    assert_eq!(
        line_on_screen(&b, 72).await.as_deref(),
        Some(
            "test result: FAILED. 2 passed; 1 failed; 0 ignored; 0 measured; 0 filtered out; finished in 0.00s"
        )
    );
    // Its section unfolded: the lines before it are there too.
    assert_eq!(line_on_screen(&b, 69).await.as_deref(), Some("failures:"));
    assert_quiet_console(&b).await;
    b.close().await;
}

/// `2026-12-03T07:31:51.123456Z` -> microseconds since midnight.
fn micros_of_day(ts: &str) -> u64 {
    let t = &ts[11..26];
    let h: u64 = t[0..2].parse().unwrap();
    let m: u64 = t[3..5].parse().unwrap();
    let s: u64 = t[6..8].parse().unwrap();
    let us: u64 = t[9..15].parse().unwrap();
    ((h * 60 + m) * 60 + s) * 1_000_000 + us
}

/// The arrival time the server gives line `n`.
fn server_time(d: &Daemon, n: usize) -> String {
    let url = format!("http://{}/log/{TOKEN}?lines={n}&timestamps=true", d.get);
    let (code, body, err) = curl(&["-sS", &url]);
    assert_eq!(code, 0, "{err}");
    String::from_utf8_lossy(&body[..27]).into_owned()
}

async fn choose_times(b: &Browser, mode: &str) {
    b.client
        .find(Locator::Id("timestamps"))
        .await
        .expect("the timestamps choice")
        .select_by_value(mode)
        .await
        .expect("choose");
}

async fn time_of(b: &Browser, n: usize) -> Value {
    b.js(&format!(
        "const t = document.querySelector('.row[data-line=\"{n}\"] .ts'); return t ? t.dataset.ts : null;"
    ))
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs chromium and chromedriver"]
async fn viewer_shows_arrival_times_absolute_elapsed_or_not_at_all() {
    let d = super::server();
    upload_ci_log(&d);
    let (first, later) = (server_time(&d, 1), server_time(&d, 39));
    let b = open_tall(&d, "#L1").await;
    assert_eq!(time_of(&b, 1).await, Value::Null, "off by default");

    choose_times(&b, "absolute").await;
    b.wait_for(
        "absolute times",
        "document.querySelector('.row[data-line=\"39\"] .ts[data-ts$=\"Z\"]')",
        "document.querySelector('.row[data-line=\"39\"]').innerHTML",
        PATIENCE,
    )
    .await;
    assert_eq!(time_of(&b, 1).await, json!(first));
    assert_eq!(time_of(&b, 39).await, json!(later));

    choose_times(&b, "elapsed").await;
    b.wait_for(
        "elapsed times",
        "document.querySelector('.row[data-line=\"1\"] .ts[data-ts=\"00:00:00.000\"]')",
        "document.querySelector('.row[data-line=\"1\"]').innerHTML",
        PATIENCE,
    )
    .await;
    let gap = micros_of_day(&later) - micros_of_day(&first);
    assert!(gap >= 1_000_000, "{first} {later}");
    let ms = gap / 1000;
    let want = format!("00:00:{:02}.{:03}", ms / 1000, ms % 1000);
    assert_eq!(time_of(&b, 39).await, json!(want));
    // The times are the viewer's, not the log's: not in the text.
    assert!(
        !line_on_screen(&b, 39).await.unwrap().contains("00:00"),
        "the text has no time"
    );

    choose_times(&b, "off").await;
    b.wait_for(
        "no times",
        "!document.querySelector('.ts')",
        "document.querySelectorAll('.ts').length",
        PATIENCE,
    )
    .await;
    assert_quiet_console(&b).await;
    b.close().await;
}
