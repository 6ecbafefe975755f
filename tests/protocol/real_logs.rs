//! Line views, search and the outline on this project's own `cargo build
//! -vv --color always` output (`tests/data/cargo-build-vv.log.gz`, a real
//! build of livelog: ANSI colours, 4,914 lines, some of them kilobytes of
//! rustc command line with `--error-format=json` in them), checked against
//! the same text split and searched here.

use std::io::Read;

use crate::common::{Daemon, SOON, Uploader, curl, wait_until};

fn cargo_log() -> Vec<u8> {
    let gz: &[u8] = include_bytes!("../data/cargo-build-vv.log.gz");
    let mut log = Vec::new();
    flate2::read::GzDecoder::new(gz)
        .read_to_end(&mut log)
        .unwrap();
    log
}

fn get(url: &str) -> Vec<u8> {
    let (code, out, err) = curl(&["-sS", "--fail", url]);
    assert_eq!(code, 0, "{url}: {err}");
    out
}

#[test]
fn a_real_build_log_by_lines_by_search_and_in_outline() {
    let log = cargo_log();
    let lines: Vec<&[u8]> = log.split_inclusive(|&b| b == b'\n').collect();
    assert_eq!(lines.len(), 4914);
    let d = Daemon::start();
    let mut up = Uploader::start(d.put);
    // Pieces of every size, as a worker's pipe delivers them.
    let mut rest = &log[..];
    let mut size = 1;
    while !rest.is_empty() {
        let (piece, tail) = rest.split_at(size.min(rest.len()));
        up.chunk(piece);
        rest = tail;
        size = size * 7 % 65_521 + 1;
    }
    assert_eq!(up.finish().0, 201);
    let url = d.get_url();

    for (first, last) in [(1, 1), (1, 40), (1000, 1100), (4900, 4914)] {
        let got = get(&format!("{url}?lines={first}-{last}"));
        assert!(
            got == lines[first - 1..last].concat(),
            "lines {first}-{last}"
        );
    }
    assert!(get(&format!("{url}?tail=250")) == lines[4914 - 250..].concat());
    let stamped = get(&format!("{url}?lines=2000-2099&timestamps=true"));
    let stamped = String::from_utf8_lossy(&stamped).into_owned();
    assert_eq!(stamped.lines().count(), 100);
    assert!(
        stamped.lines().all(|l| l.len() >= 28 && &l[26..28] == "Z "),
        "{stamped:.300}"
    );

    // Search: every line holding the text, none other.
    let needle = "Running";
    let want = lines
        .iter()
        .filter(|l| memchr_find(l, needle.as_bytes()))
        .count();
    let found = get(&format!("{url}/search?q={needle}"));
    let found = String::from_utf8(found).unwrap();
    let total: serde_json::Value = serde_json::from_str(found.lines().last().unwrap()).unwrap();
    assert_eq!(total["total"], want as u64);
    assert!(want > 100, "{want}");

    // The outline: no sections in a cargo log, and rustc's
    // `--error-format=json` is not an error.
    let mut outline = serde_json::Value::Null;
    assert!(wait_until(SOON, || {
        outline = serde_json::from_slice(&get(&format!("{url}/outline"))).unwrap();
        outline["state"] == "complete"
    }));
    assert_eq!(outline["lines"], 4914);
    assert_eq!(outline["errors"]["total"], 0, "{}", outline["errors"]);
}

fn memchr_find(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}
