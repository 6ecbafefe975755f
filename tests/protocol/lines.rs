//! Line views of the log, as `curl` reads them: `?tail=N` (then live),
//! `?lines=A-B` (waiting for lines not yet written), `?timestamps=true`,
//! their combinations, and their `400`s. The plain URL is untouched.

use std::time::Duration;

use crate::common::{CurlReader, Daemon, SOON, TOKEN, Uploader, curl};

/// `n` numbered lines, `line 1\n` to `line n\n`.
fn numbered(from: usize, to: usize) -> String {
    (from..=to).map(|i| format!("line {i}\n")).collect()
}

fn get(d: &Daemon, query: &str) -> (i32, String, String) {
    let url = format!("{}?{query}", d.get_url());
    let (code, out, err) = curl(&["-sS", "-D", "-", &url]);
    let text = String::from_utf8_lossy(&out).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    (code, head.to_owned(), format!("{body}{err}"))
}

fn complete_log(text: &str) -> Daemon {
    let d = Daemon::start();
    let mut up = Uploader::start(d.put);
    up.chunk(text.as_bytes());
    assert_eq!(up.finish().0, 201);
    d
}

#[test]
fn tail_and_ranges_of_a_complete_log() {
    let d = complete_log(&numbered(1, 100));
    let (_, head, body) = get(&d, "tail=3");
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    assert!(
        head.contains("content-type: text/plain; charset=utf-8"),
        "{head}"
    );
    assert!(head.contains("x-accel-buffering: no"), "{head}");
    assert!(head.contains("access-control-allow-origin: *"), "{head}");
    assert_eq!(body, numbered(98, 100));
    assert_eq!(
        get(&d, "tail=1000").2,
        numbered(1, 100),
        "more than there is"
    );
    assert_eq!(get(&d, "tail=0").2, "", "nothing, and the log is complete");
    assert_eq!(get(&d, "lines=10-12").2, numbered(10, 12));
    assert_eq!(get(&d, "lines=100").2, numbered(100, 100));
    assert_eq!(get(&d, "lines=99-").2, numbered(99, 100));
    assert_eq!(get(&d, "lines=1-1").2, "line 1\n");
    assert_eq!(
        get(&d, "lines=101-200").2,
        "",
        "past the end of a complete log"
    );
    // The plain URL is the Go contract, byte for byte.
    let (code, out, _) = curl(&["-sS", &d.get_url()]);
    assert_eq!(
        (code, String::from_utf8(out).unwrap()),
        (0, numbered(1, 100))
    );
}

#[test]
fn a_last_line_without_a_newline_is_a_line() {
    let d = complete_log("one\ntwo\nthree");
    assert_eq!(get(&d, "tail=2").2, "two\nthree");
    assert_eq!(get(&d, "lines=3").2, "three");
    assert_eq!(get(&d, "lines=4").2, "");
}

#[test]
fn tail_follows_the_log_like_tail_f() {
    let d = Daemon::start();
    let mut up = Uploader::start(d.put);
    up.chunk(numbered(1, 50).as_bytes());
    // A tail counts back from what is stored when it arrives, and the upload
    // is stored at the daemon's pace: line 50 is there once a range that
    // ends with it has been read.
    assert_eq!(get(&d, "lines=50").2, "line 50\n");
    let url = format!("{}?tail=2", d.get_url());
    let reader = CurlReader::spawn(&["-sN", &url]);
    reader.wait_head();
    reader.out.wait_len(numbered(49, 50).len());
    up.chunk(b"line 51\n");
    reader.out.wait_len(numbered(49, 51).len());
    up.chunk(b"line 52\n");
    assert_eq!(up.finish().0, 201);
    let (code, body) = reader.finish();
    assert_eq!(code, 0);
    assert_eq!(String::from_utf8(body).unwrap(), numbered(49, 52));
}

#[test]
fn a_range_waits_for_lines_not_yet_written_and_ends_after_its_last() {
    let d = Daemon::start();
    let mut up = Uploader::start(d.put);
    up.chunk(numbered(1, 3).as_bytes());
    let url = format!("{}?lines=5-6", d.get_url());
    let mut reader = CurlReader::spawn(&["-sN", &url]);
    reader.wait_head();
    up.chunk(b"line 4\nline 5\nli");
    reader.out.wait_len("line 5\n".len());
    assert!(reader.is_running(), "line 6 is not written yet");
    up.chunk(b"ne 6\nline 7\n");
    let (code, body) = reader.finish();
    assert_eq!(
        code, 0,
        "the range ends at its last line, the upload goes on"
    );
    assert_eq!(String::from_utf8(body).unwrap(), "line 5\nline 6\n");
    // An open-ended range is live until the upload ends.
    let url = format!("{}?lines=7-", d.get_url());
    let reader = CurlReader::spawn(&["-sN", &url]);
    reader.out.wait_len("line 7\n".len());
    up.chunk(b"line 8\n");
    assert_eq!(up.finish().0, 201);
    let (code, body) = reader.finish();
    assert_eq!(
        (code, String::from_utf8(body).unwrap()),
        (0, numbered(7, 8))
    );
}

/// A log written in a burst, as fast as loopback takes it (a task that
/// `cat`s a big file): the indexer waits for the burst to end rather than
/// slow the upload, then catches up, so a reader waiting for the last line
/// gets it, and the outline counts every line.
#[test]
fn a_log_written_in_a_burst_is_indexed_to_its_last_line() {
    const LINES: usize = 3_000_000; // 34 MB
    let d = Daemon::start();
    let text = numbered(1, LINES);
    let last = format!("lines={LINES}");
    let url = format!("{}?{last}", d.get_url());
    let reader = CurlReader::spawn(&["-sN", &url]);
    reader.wait_head();
    let mut up = Uploader::start(d.put);
    for piece in text.as_bytes().chunks(1 << 20) {
        up.chunk(piece);
    }
    assert_eq!(up.finish().0, 201);
    let (code, body) = reader.finish();
    assert_eq!(
        (code, String::from_utf8(body).unwrap()),
        (0, numbered(LINES, LINES))
    );
    assert_eq!(get(&d, "tail=2").2, numbered(LINES - 1, LINES));
    assert_eq!(get(&d, "lines=1500000").2, numbered(1_500_000, 1_500_000));
    let mut outline = serde_json::Value::Null;
    assert!(
        crate::common::wait_until(SOON, || {
            let url = format!("{}/outline", d.get_url());
            let (_, out, _) = curl(&["-sS", &url]);
            outline = serde_json::from_slice(&out).unwrap();
            outline["state"] == "complete"
        }),
        "{outline}"
    );
    assert_eq!(outline["lines"], LINES as u64);
}

/// The seconds of an RFC 3339 time with microseconds (`...T07:31:51.123456Z`).
fn seconds_of(stamp: &str) -> f64 {
    assert_eq!(stamp.len(), 27, "{stamp:?}");
    assert!(
        stamp.ends_with('Z') && stamp.as_bytes()[10] == b'T',
        "{stamp:?}"
    );
    let hms = &stamp[11..26];
    let h: f64 = hms[0..2].parse().unwrap();
    let m: f64 = hms[3..5].parse().unwrap();
    let s: f64 = hms[6..].parse().unwrap();
    h * 3600.0 + m * 60.0 + s
}

#[test]
fn timestamps_are_each_lines_arrival() {
    let d = Daemon::start();
    let mut up = Uploader::start(d.put);
    up.chunk(b"first\nsecond\n");
    // A pause long enough to tell on any machine, then a line in pieces:
    // its time is its first byte's.
    // A live range ends once its last byte is stored (RFC 8673): each
    // pause starts once the bytes before it are in.
    let wait = Duration::from_millis(300);
    let stored = |n: usize| {
        let range = format!("0-{}", n - 1);
        assert_eq!(curl(&["-s", "-r", &range, &d.get_url()]).1.len(), n);
    };
    stored(13);
    std::thread::sleep(wait);
    up.chunk(b"thi");
    stored(16);
    std::thread::sleep(wait);
    up.chunk(b"rd\n");
    assert_eq!(up.finish().0, 201);

    let (_, _, body) = get(&d, "timestamps=true");
    let lines: Vec<(&str, &str)> = body.lines().map(|l| l.split_once(' ').unwrap()).collect();
    let texts: Vec<&str> = lines.iter().map(|(_, t)| *t).collect();
    assert_eq!(texts, ["first", "second", "third"]);
    let times: Vec<f64> = lines.iter().map(|(s, _)| seconds_of(s)).collect();
    assert_eq!(times[0], times[1], "one chunk, one arrival");
    let gap = times[2] - times[1];
    assert!(
        gap >= wait.as_secs_f64() * 0.9 && gap < 30.0,
        "the third line arrived {gap} s after the second"
    );
    // Combined with a view; and nothing but the prefixes is added.
    let (_, _, tail) = get(&d, "tail=1&timestamps=1");
    assert!(
        tail.ends_with(" third\n") && tail.lines().count() == 1,
        "{tail:?}"
    );
    let (_, _, range) = get(&d, "lines=2&timestamps=true");
    assert_eq!(range.split_once(' ').unwrap().1, "second\n");
}

#[test]
fn bad_views_get_400_with_one_line() {
    let d = complete_log("x\n");
    for query in [
        "tail=-1",
        "tail=many",
        "lines=0-2",
        "lines=5-3",
        "lines=a",
        "tail=1&lines=1-2",
        "timestamps=maybe",
        "tail=1&tail=2",
    ] {
        let (_, head, body) = get(&d, query);
        assert!(head.starts_with("HTTP/1.1 400"), "{query}: {head}");
        assert!(head.contains("access-control-allow-origin: *"), "{query}");
        assert!(
            body.starts_with("bad request: ") && body.lines().count() == 1,
            "{query}: {body:?}"
        );
    }
    assert!(d.wait_for_log("status=400", SOON), "{}", d.stderr());
    assert!(!d.stderr().contains(TOKEN));
}

#[test]
fn with_the_index_off_line_views_are_not_found() {
    let d = Daemon::builder().env("LIVELOG_LINE_INDEX", "off").start();
    let (_, head, body) = get(&d, "tail=1");
    assert!(head.starts_with("HTTP/1.1 404"), "{head}");
    assert!(body.contains("LIVELOG_LINE_INDEX=off"), "{body}");
}

/// Runs a README block with bash; its stdout.
fn run_block(script: &str) -> String {
    let out = std::process::Command::new("bash")
        .args(["-ec", script])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{script}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

#[test]
#[cfg_attr(windows, ignore = "runs README blocks with bash")]
fn the_readme_examples_of_reading_a_ci_log() {
    use crate::common::doc_block;
    let d = complete_log("::group::Build\nline 2\nerror: linking failed\n::endgroup::\nline 5\n");
    let run = |needle: &str| run_block(&doc_block("docs/reading-a-ci-log.md", needle, d.get));
    assert_eq!(
        run("?tail=3'"),
        "error: linking failed\n::endgroup::\nline 5\n"
    );
    assert_eq!(
        run("?lines=2-4'"),
        "line 2\nerror: linking failed\n::endgroup::\n"
    );
    let stamped = run("?tail=2&timestamps=true'");
    let texts: Vec<&str> = stamped
        .lines()
        .map(|l| l.split_once(' ').unwrap().1)
        .collect();
    assert_eq!(texts, ["::endgroup::", "line 5"]);
    let outline: serde_json::Value = serde_json::from_str(&run("/outline'")).unwrap();
    assert_eq!(outline["sections"][0]["name"], "Build");
    assert_eq!(outline["errors"]["first"]["line"], 3);
    let found = run("/search?q=error'");
    assert_eq!(
        found,
        "{\"line\":3,\"offset\":22,\"text\":\"error: linking failed\"}\n\
         {\"total\":1,\"complete\":true,\"bytes\":64}\n",
        "docs/reading-a-ci-log.md shows this answer"
    );
    // The same search asked for compressed, and decoded by curl.
    assert_eq!(run("curl --compressed"), found);
}
