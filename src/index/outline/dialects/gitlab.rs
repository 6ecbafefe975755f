//! GitLab CI section markers (GitLab docs, "Job logs: custom collapsible
//! sections"; gitlabhq `lib/gitlab/regex.rb` `build_trace_section_regex`;
//! the runner writes them with `helpers/build_section.go`):
//! `section_(start|end):EPOCH:NAME[OPTIONS]\r\e[0K`, EPOCH Unix seconds,
//! NAME `[a-zA-Z0-9_.-]+`, OPTIONS `[collapsed=true]` and the like. The
//! `\r\e[0K` belongs to the marker: without it there is no marker.
//!
//! Anywhere in a line, several on one line (GitLab's converter,
//! `lib/gitlab/ci/ansi2json/v2/converter.rb`, tries a marker at every `s`):
//! `section_end:T:a\r\e[0Ksection_start:T:b\r\e[0K`. The text after a start
//! marker, up to the line's end, the next marker or a lone `\r`, is its
//! header (`State#open_section`), the section's name; an empty header
//! falls back to NAME. Sections nest; an end closes only the section it
//! names (`v2/state.rb`).

use memchr::memmem;

use super::super::text::{clean_name, leading_number};
use super::{Dialect, Marker};

/// The markers of `line`, left to right.
pub(super) fn markers(line: &[u8]) -> impl Iterator<Item = Marker> + '_ {
    memmem::find_iter(line, b"section_").filter_map(move |at| marker_at(line, at))
}

/// The marker starting at `at` (a `section_`), if it is one.
fn marker_at(line: &[u8], at: usize) -> Option<Marker> {
    let rest = &line[at + 8..];
    let (start, rest) = if let Some(rest) = rest.strip_prefix(b"start:") {
        (true, rest)
    } else {
        (false, rest.strip_prefix(b"end:")?)
    };
    let (epoch, digits) = leading_number(rest);
    let rest = rest
        .get(digits..)?
        .strip_prefix(b":")
        .filter(|_| digits > 0)?;
    let name_len = rest
        .iter()
        .position(|&b| !(b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-')))
        .unwrap_or(rest.len());
    if name_len == 0 {
        return None;
    }
    let name = &rest[..name_len];
    let mut rest = &rest[name_len..];
    if rest.first() == Some(&b'[') {
        let close = rest.iter().position(|&b| b == b']')?;
        rest = &rest[close + 1..];
    }
    let rest = rest.strip_prefix(b"\r\x1b[0K")?;
    let at_time = Some(epoch * 1_000_000_000);
    let id = String::from_utf8_lossy(name).into_owned();
    if !start {
        return Some(Marker::Close {
            kind: Dialect::Gitlab,
            id: Some(id),
            at: at_time,
            only: true,
        });
    }
    // The header: up to the next marker or a lone `\r`.
    let end = memmem::find(rest, b"section_")
        .into_iter()
        .chain(
            rest.iter()
                .enumerate()
                .filter(|&(i, &b)| b == b'\r' && rest.get(i + 1).is_some_and(|&n| n != b'\r'))
                .map(|(i, _)| i),
        )
        .min()
        .unwrap_or(rest.len());
    let header = clean_name(&rest[..end]);
    Some(Marker::Open {
        kind: Dialect::Gitlab,
        name: if header.is_empty() {
            id.clone()
        } else {
            header
        },
        id: Some(id),
        at: at_time,
        flat: false,
    })
}
