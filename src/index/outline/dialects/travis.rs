//! Travis CI markers, written by travis-build's bash functions with `echo
//! -en`, so each ends `\r\e[0K` and several share a line
//! (travis-ci/travis-build `lib/travis/build/bash/travis_fold.bash`,
//! `travis_time_start.bash`, `travis_time_finish.bash`), read anywhere in a
//! line with travis-web's patterns (`app/utils/log.js`: `Log.FOLD =
//! /fold:(start|end):([\w_\-\.]+)/`, `Log.TIME =
//! /time:(start|end):([\w_\-\.]+):?([\w_\-\.\=\,]*)/`).
//!
//! A fold is a section, named by its NAME; a timer is not, but gives the
//! fold it runs in its times (`start=`, `finish=` in Unix nanoseconds).

use memchr::memmem;

use super::super::text::leading_number;
use super::{Dialect, Marker};

/// `[\w_\-\.]+` at the start of `text`.
fn word(text: &[u8]) -> &[u8] {
    let len = text
        .iter()
        .position(|&b| !(b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.')))
        .unwrap_or(text.len());
    &text[..len]
}

/// `key=NUMBER` in a timer's field list.
fn field(fields: &[u8], key: &[u8]) -> Option<i64> {
    fields.split(|&b| b == b',').find_map(|f| {
        let value = f.strip_prefix(key)?.strip_prefix(b"=")?;
        let (n, len) = leading_number(value);
        (len > 0).then_some(n)
    })
}

pub(super) fn markers(line: &[u8]) -> Vec<Marker> {
    let mut out = Vec::new();
    for at in memmem::find_iter(line, b"travis_") {
        let rest = &line[at + 7..];
        if let Some(rest) = rest.strip_prefix(b"fold:") {
            let (open, rest) = match rest.strip_prefix(b"start:") {
                Some(rest) => (true, rest),
                None => match rest.strip_prefix(b"end:") {
                    Some(rest) => (false, rest),
                    None => continue,
                },
            };
            let name = word(rest);
            if name.is_empty() {
                continue;
            }
            let name = String::from_utf8_lossy(name).into_owned();
            out.push(if open {
                Marker::Open {
                    kind: Dialect::Travis,
                    id: Some(name.clone()),
                    name,
                    at: None,
                    flat: false,
                }
            } else {
                Marker::Close {
                    kind: Dialect::Travis,
                    id: Some(name),
                    at: None,
                    only: false,
                }
            });
        } else if let Some(rest) = rest.strip_prefix(b"time:") {
            if let Some(rest) = rest.strip_prefix(b"start:") {
                let id = word(rest);
                if !id.is_empty() {
                    out.push(Marker::TimerStart {
                        id: String::from_utf8_lossy(id).into_owned(),
                    });
                }
            } else if let Some(rest) = rest.strip_prefix(b"end:") {
                let id = word(rest);
                let fields = rest[id.len()..].strip_prefix(b":").unwrap_or(&[]);
                let fields = &fields[..fields
                    .iter()
                    .position(|&b| !(b.is_ascii_alphanumeric() || b"_-.=,".contains(&b)))
                    .unwrap_or(fields.len())];
                if let (Some(start), Some(finish)) =
                    (field(fields, b"start"), field(fields, b"finish"))
                {
                    // `duration=` is finish − start (`travis_time_finish`).
                    out.push(Marker::TimerEnd {
                        id: String::from_utf8_lossy(id).into_owned(),
                        start,
                        finish,
                    });
                }
            }
        }
    }
    out
}
