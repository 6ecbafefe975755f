//! `/log/<token>/search`: every matching line of the whole log as
//! newline-delimited JSON, checked against a line-by-line search of the
//! same text; regular expressions; following a live log; compressed
//! answers; `400`s.

use serde_json::Value;

use crate::common::{CurlReader, Daemon, SOON, Uploader, curl, wait_until};
use crate::encoding::{accept, fetch, header};

fn search(d: &Daemon, query: &str) -> (i32, Vec<Value>, String) {
    let url = format!("{}/search?{query}", d.get_url());
    let (code, out, err) = curl(&["-sS", "--fail-with-body", &url]);
    let text = String::from_utf8_lossy(&out).into_owned();
    if code != 0 {
        // The answer's body (curl's own words are on stderr).
        return (code, Vec::new(), text);
    }
    let results = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{l:?}: {e}")))
        .collect();
    (code, results, err)
}

/// A log of `n` lines, every seventh with "needle" (twice, in one line
/// every 49th), cut into chunks that split lines and the word.
fn log(n: usize) -> String {
    (1..=n)
        .map(|i| match (i % 7, i % 49) {
            (_, 0) => format!("{i}: needle and needle again\n"),
            (0, _) => format!("{i}: a needle in a haystack\n"),
            _ => format!("{i}: hay hay hay\n"),
        })
        .collect()
}

#[test]
fn every_matching_line_once_with_its_number_and_offset() {
    let text = log(20_000);
    let d = Daemon::start();
    let mut up = Uploader::start(d.put);
    for piece in text.as_bytes().chunks(1013) {
        up.chunk(piece);
    }
    assert_eq!(up.finish().0, 201);

    let (code, results, err) = search(&d, "q=needle");
    assert_eq!(code, 0, "{err}");
    let (hits, total) = results.split_at(results.len() - 1);
    let mut offset = 0;
    let mut want = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.contains("needle") {
            want.push((i as u64 + 1, offset, line.to_owned()));
        }
        offset += line.len() as u64 + 1;
    }
    let got: Vec<(u64, u64, String)> = hits
        .iter()
        .map(|h| {
            (
                h["line"].as_u64().unwrap(),
                h["offset"].as_u64().unwrap(),
                h["text"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(got.len(), want.len());
    assert!(
        got == want,
        "the first difference: {:?}",
        got.iter().zip(&want).find(|(g, w)| g != w)
    );
    assert_eq!(total[0]["total"], want.len() as u64);
    assert_eq!(total[0]["complete"], true);
    assert_eq!(total[0]["bytes"], text.len() as u64);

    // A regular expression, with a line anchor.
    let (_, results, _) = search(&d, "q=%5E49%3A%20needle&regex=true");
    assert_eq!(results.len(), 2, "{results:?}");
    assert_eq!(results[0]["line"], 49);
    let (_, results, _) = search(&d, "q=nothing%20like%20this");
    assert_eq!(
        results,
        [serde_json::json!({"total": 0, "complete": true, "bytes": text.len()})]
    );
}

/// A following search run by curl with `args` (its URL added): each
/// matching line reported once it is whole, while the upload goes on, and
/// the whole answer complete once the upload ends.
fn following_search_with(args: &[&str]) {
    let d = Daemon::start();
    let mut up = Uploader::start(d.put);
    up.chunk(b"one\nerror: first\nthree\n");
    let url = format!("{}/search?q=error&follow=true", d.get_url());
    let mut args = args.to_vec();
    args.push(&url);
    let reader = CurlReader::spawn(&args);
    let text = |r: &CurlReader| String::from_utf8_lossy(&r.out.bytes()).into_owned();
    assert!(wait_until(SOON, || text(&reader).contains("error: first")));
    // A matching line is reported once it is whole.
    up.chunk(b"error: sec");
    up.chunk(b"ond\nfive\n");
    assert!(
        wait_until(SOON, || text(&reader).contains("error: second")),
        "{}",
        text(&reader)
    );
    assert_eq!(up.finish().0, 201);
    let (code, body) = reader.finish();
    assert_eq!(code, 0, "curl read the whole answer, its end included");
    let lines: Vec<Value> = String::from_utf8(body)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 3);
    assert_eq!(lines[1]["line"], 4);
    assert_eq!(lines[2]["total"], 2);
    assert_eq!(lines[2]["complete"], true);
}

#[test]
fn following_finds_new_lines_as_they_are_written() {
    following_search_with(&["-sN"]);
}

#[test]
fn the_answer_is_compressed_in_the_coding_the_client_asks_for() {
    let text = log(20_000);
    let d = Daemon::start();
    let mut up = Uploader::start(d.put);
    up.chunk(text.as_bytes());
    assert_eq!(up.finish().0, 201);
    let url = format!("{}/search?q=needle", d.get_url());
    let (status, head, plain) = fetch(&[&url]);
    assert_eq!(status, 200);
    assert_eq!(header(&head, "content-encoding"), None, "{head}");
    assert_eq!(header(&head, "vary"), Some("accept-encoding"), "{head}");
    assert!(plain.ends_with(b"\"complete\":true,\"bytes\":400729}\n"));
    for coding in ["zstd", "gzip"] {
        // As sent: smaller, and in that coding.
        let (_, head, raw) = fetch(&["-H", &accept(coding), &url]);
        assert_eq!(header(&head, "content-encoding"), Some(coding), "{head}");
        assert_eq!(header(&head, "vary"), Some("accept-encoding"), "{head}");
        assert!(raw.len() * 4 < plain.len(), "{coding}: {} bytes", raw.len());
        // Decoded (curl checks the coding's end and checksum): the same
        // answer, byte for byte.
        let (_, _, decoded) = fetch(&["-H", &accept(coding), "--compressed", &url]);
        assert!(decoded == plain, "{coding}: the decoded answer differs");
    }
}

#[test]
fn a_compressed_following_search_shows_each_line_as_it_is_written() {
    // Each batch of results is flushed: decodable as soon as it is sent.
    following_search_with(&["-sN", "--compressed", "-H", "Accept-Encoding: zstd"]);
}

#[test]
fn a_search_without_q_or_with_a_bad_regex_is_a_400() {
    let d = Daemon::start();
    for query in ["", "q=", "q=(&regex=true", "q=a&follow=perhaps"] {
        let (code, _, body) = search(&d, query);
        assert_eq!(code, 22, "{query}: curl --fail-with-body exits 22 on a 4xx");
        assert!(
            body.starts_with("bad request: ") && body.lines().count() == 1,
            "{query}: {body:?}"
        );
    }
    let (_, metrics, _) = curl(&["-s", &format!("http://{}/metrics", d.put)]);
    let metrics = String::from_utf8(metrics).unwrap();
    assert!(metrics.contains("livelog_searches_total "), "{metrics}");
}
