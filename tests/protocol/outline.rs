//! `/log/<token>/outline` on real-looking CI logs: a GitHub Actions log
//! (`##[group]` with timestamps, a failing test), a GitLab log
//! (`section_start` with `\r\e[0K`, nesting, colours), as JSON and as a
//! live event stream.

use serde_json::Value;

use crate::common::{CurlReader, Daemon, SOON, Uploader, curl, wait_until};

const GITHUB: &[u8] = include_bytes!("../data/github-actions.log");
const GITLAB: &[u8] = include_bytes!("../data/gitlab.log");

fn outline(d: &Daemon) -> Value {
    let url = format!("{}/outline", d.get_url());
    let (code, out, err) = curl(&["-sS", "--fail", &url]);
    assert_eq!(code, 0, "{err}");
    serde_json::from_slice(&out).unwrap()
}

/// The outline once the whole log is indexed.
fn complete_outline(log: &[u8]) -> Value {
    let d = Daemon::start();
    let mut up = Uploader::start(d.put);
    for piece in log.chunks(997) {
        up.chunk(piece);
    }
    assert_eq!(up.finish().0, 201);
    let mut doc = Value::Null;
    assert!(wait_until(SOON, || {
        doc = outline(&d);
        doc["state"] == "complete"
    }));
    doc
}

fn sections(doc: &Value) -> Vec<(String, u64, u64, u64)> {
    doc["sections"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["name"].as_str().unwrap().to_owned(),
                s["depth"].as_u64().unwrap(),
                s["first_line"].as_u64().unwrap(),
                s["last_line"].as_u64().unwrap(),
            )
        })
        .collect()
}

#[test]
fn a_github_actions_log_has_its_groups_and_its_first_error() {
    let doc = complete_outline(GITHUB);
    let lines = GITHUB.split(|&b| b == b'\n').count() as u64 - 1;
    assert_eq!(doc["lines"], lines);
    assert_eq!(doc["bytes"], GITHUB.len() as u64);
    let names: Vec<String> = sections(&doc).into_iter().map(|s| s.0).collect();
    assert_eq!(
        names,
        [
            "Operating System",
            "Runner Image",
            "GITHUB_TOKEN Permissions",
            "Run actions/checkout@v4",
            "Getting Git version info",
            "Fetching the repository",
            "Run cargo build --locked",
            "Run cargo test --locked"
        ]
    );
    for s in doc["sections"].as_array().unwrap() {
        assert_eq!(s["kind"], "github");
        assert!(s["duration_secs"].as_f64().unwrap() >= 0.0, "{s}");
        assert!(s["start"].as_str().unwrap().ends_with('Z'), "{s}");
        assert_eq!(s["open"], false);
    }
    // The failing test: "FAILED", the panic, cargo's coloured error and
    // GitHub's own error annotation.
    let errors = &doc["errors"];
    let text = |i: usize| errors["lines"][i]["text"].as_str().unwrap().to_owned();
    assert!(
        text(0).ends_with("test net::tests::retries ... FAILED"),
        "{}",
        text(0)
    );
    // The first error is the first failure line (rank 1), the test
    // harness's summary, not the first line a tool reported.
    assert_eq!(errors["lines"][0]["rank"], 2);
    assert_eq!(errors["first"]["rank"], 1);
    assert!(
        errors["first"]["text"]
            .as_str()
            .unwrap()
            .contains("test result: FAILED."),
        "{}",
        errors["first"]
    );
    assert!(errors["total"].as_u64().unwrap() >= 4, "{errors}");
    let all: Vec<String> = (0..errors["total"].as_u64().unwrap() as usize)
        .map(text)
        .collect();
    assert!(all.iter().any(|t| t.contains("panicked at")), "{all:?}");
    assert!(
        all.iter().any(|t| t.contains("##[error]Process completed")),
        "{all:?}"
    );
    assert!(
        all.iter().any(|t| t.contains("test failed, to rerun")),
        "{all:?}"
    );
    // The first error's line is where the log says it is.
    let line = errors["first"]["line"].as_u64().unwrap() as usize;
    let source = String::from_utf8_lossy(GITHUB);
    assert!(
        source
            .lines()
            .nth(line - 1)
            .unwrap()
            .contains("test result: FAILED.")
    );
}

#[test]
fn a_gitlab_log_has_nested_sections_by_their_headers() {
    let doc = complete_outline(GITLAB);
    let got = sections(&doc);
    let names: Vec<(&str, u64)> = got.iter().map(|s| (s.0.as_str(), s.1)).collect();
    assert_eq!(
        names,
        [
            ("Preparing the \"docker\" executor", 0),
            ("Getting source from Git repository", 0),
            ("Executing \"step_script\" stage of the job script", 0),
            ("Building dependencies", 1),
            ("Cleaning up project directory and file based variables", 0),
        ]
    );
    // "Building dependencies" opens on line 20 and ends at its end marker.
    assert_eq!((got[3].2, got[3].3), (20, 24));
    assert_eq!(doc["sections"][3]["parent"], 2);
    assert_eq!(doc["sections"][0]["kind"], "gitlab");
    // rustc's coloured error is the first error line; the step that
    // failed holds it. The first error is the runner's verdict, rank 1.
    let lines = &doc["errors"]["lines"];
    assert_eq!(lines[0]["line"], 26);
    assert_eq!(lines[0]["section"], 2);
    assert_eq!(lines[0]["rank"], 2);
    let first = &doc["errors"]["first"];
    assert_eq!(first["line"], 32);
    assert_eq!(first["rank"], 1);
    assert_eq!(doc["sections"][2]["errors"], 2);
    assert_eq!(doc["errors"]["total"], 3, "and GitLab's ERROR: Job failed");
}

#[test]
fn the_live_outline_streams_as_events_until_the_log_ends() {
    let d = Daemon::start();
    let url = format!("{}/outline", d.get_url());
    let reader = CurlReader::spawn(&["-sN", "-H", "Accept: text/event-stream", &url]);
    reader.wait_head();
    let mut up = Uploader::start(d.put);
    up.chunk(b"::group::Build\ncompiling\n");
    let text = |r: &CurlReader| String::from_utf8_lossy(&r.out.bytes()).into_owned();
    assert!(
        wait_until(SOON, || text(&reader).contains(r#""name":"Build""#)),
        "{}",
        text(&reader)
    );
    up.chunk(b"error: it broke\n::endgroup::\n");
    assert_eq!(up.finish().0, 201);
    let (code, body) = reader.finish();
    assert_eq!(code, 0);
    let body = String::from_utf8(body).unwrap();
    assert!(body.starts_with("retry: 2000\n\n"), "{body}");
    let last = body
        .split("\n\n")
        .filter_map(|e| e.strip_prefix("event: outline\ndata: "))
        .last()
        .unwrap();
    let doc: Value = serde_json::from_str(last).unwrap();
    assert_eq!(doc["state"], "complete");
    assert_eq!(doc["sections"][0]["last_line"], 4);
    assert_eq!(doc["errors"]["first"]["line"], 3);
    assert!(
        body.ends_with("event: end\ndata: {\"complete\": true}\n\n"),
        "{body}"
    );
}
