//! Buildkite agent job logs (Buildkite docs, "Managing log output";
//! buildkite/agent `core/job_controller.go` and
//! `internal/process/timestamper.go`; buildkite/buildkite-logs
//! `logparser/entry.go`): every line starts with the timestamp escape `ESC
//! _bk;t=<Unix milliseconds> BEL`, again after each erase-in-line; a
//! header is a line whose text, once escapes are removed, starts `--- `,
//! `+++ ` or `~~~ `, or whose text after its last move to column 1 (a lone
//! `\r`, `ESC[<row>;1H`, `ESC[H`, `ESC[G`, `ESC[1G`) does, as
//! buildkite/terminal-to-html renders it. `^^^ +++` is not a header.
//! Headers do not nest: each ends the one before on the line before.

use super::super::text::{LogTime, clean_name, escape_len, leading_number};
use super::{Dialect, Marker};

const HEADERS: [&[u8]; 3] = [b"--- ", b"+++ ", b"~~~ "];

/// The time in a `_bk;t=` escape at the start of `escape`.
fn bk_time(escape: &[u8]) -> Option<LogTime> {
    let ms = escape.strip_prefix(b"\x1b_bk;t=")?;
    let (ms, len) = leading_number(ms);
    (len > 0).then_some(ms * 1_000_000)
}

/// The line's time: its first `_bk;t=` escape's.
pub(super) fn first_time(line: &[u8]) -> Option<LogTime> {
    let at = memchr::memmem::find(line, b"\x1b_bk;t=")?;
    bk_time(&line[at..])
}

/// Whether an escape moves the cursor to column 1.
fn to_column_one(escape: &[u8]) -> bool {
    let Some(params) = escape.strip_prefix(b"\x1b[") else {
        return false;
    };
    match params.split_last() {
        Some((b'H', row_col)) => row_col.is_empty() || row_col.ends_with(b";1"),
        Some((b'G', col)) => col.is_empty() || col == b"1",
        _ => false,
    }
}

/// The text segments of a line: its visible text from its start, and from
/// its last move to column 1, each with the last timestamp before it.
struct Segments {
    whole: Vec<u8>,
    whole_at: Option<LogTime>,
    last: Vec<u8>,
    last_at: Option<LogTime>,
}

fn segments(line: &[u8]) -> Segments {
    let mut s = Segments {
        whole: Vec::new(),
        whole_at: None,
        last: Vec::new(),
        last_at: None,
    };
    let mut at = None;
    let mut moved = false;
    let mut i = 0;
    while i < line.len() {
        let b = line[i];
        if b == 0x1b {
            let len = escape_len(&line[i..]);
            let escape = &line[i..i + len];
            if let Some(t) = bk_time(escape) {
                at = Some(t);
                if s.whole.is_empty() {
                    s.whole_at = at;
                }
                if s.last.is_empty() {
                    s.last_at = at;
                }
            } else if to_column_one(escape) {
                moved = true;
                s.last.clear();
                s.last_at = at;
            }
            i += len;
            continue;
        }
        if b == b'\r' {
            // A lone `\r` with more text after it: back to column 1.
            if line[i + 1..].iter().any(|&c| c != b'\r') {
                moved = true;
                s.last.clear();
                s.last_at = at;
            }
            i += 1;
            continue;
        }
        s.whole.push(b);
        s.last.push(b);
        i += 1;
    }
    if !moved {
        s.last.clear();
    }
    s
}

pub(super) fn may_be_marker(line: &[u8]) -> bool {
    let text = super::super::text::skip_escapes(line);
    matches!(text.first(), Some(b'-' | b'+' | b'~'))
}

pub(super) fn marker(line: &[u8]) -> Option<Marker> {
    let s = segments(line);
    let header = |text: &[u8], at| {
        let rest = HEADERS.iter().find_map(|h| text.strip_prefix(*h))?;
        let name = clean_name(rest);
        (!name.is_empty()).then_some(Marker::Open {
            kind: Dialect::Buildkite,
            name,
            id: None,
            at,
            flat: true,
        })
    };
    // The whole text up to its first move back to column 1.
    header(&s.whole, s.whole_at).or_else(|| header(&s.last, s.last_at))
}
