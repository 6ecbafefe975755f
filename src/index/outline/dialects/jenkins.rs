//! Jenkins Pipeline console text (jenkinsci/workflow-job-plugin
//! `NewNodeConsoleNote.java`: every flow node prints `[Pipeline] ` and its
//! display function name; jenkinsci/workflow-cps-plugin `StepStartNode.java`,
//! `StepEndNode.java`: a body starts `{`, or `{ (LABEL)` when labelled — a
//! stage, a parallel branch `Branch: NAME` — and ends `}`). A labelled body
//! is a section; unlabelled ones (`node`, `withEnv`, `dir` …) are counted
//! to match each `}` with its `{`.
//!
//! Before `[Pipeline] ` may come the raw log's hidden console note
//! `ESC[8mha:…ESC[0m` and the Timestamper plugin's `[YYYY-MM-DDTHH:MM:SS.mmmZ] `
//! (the line's time). Parallel branches interleave; plain text does not say
//! which branch a `}` ends, so the innermost open body is taken.

use super::super::text::{LogTime, clean_name, rfc3339};
use super::{Dialect, Marker};

/// The Timestamper prefix's time, and the line after it.
pub(super) fn timestamp(line: &[u8]) -> Option<(LogTime, &[u8])> {
    let inner = line.strip_prefix(b"[")?;
    let (at, len) = rfc3339(inner)?;
    let rest = inner.get(len..)?.strip_prefix(b"]")?;
    Some((at, rest.strip_prefix(b" ").unwrap_or(rest)))
}

/// The line without its console notes and timestamp.
pub(super) fn content(line: &[u8]) -> (Option<LogTime>, &[u8]) {
    let (at, mut text) = match timestamp(line) {
        Some((at, rest)) => (Some(at), rest),
        None => (None, line),
    };
    while let Some(note) = text.strip_prefix(b"\x1b[8mha:") {
        match memchr::memmem::find(note, b"\x1b[0m") {
            Some(end) => text = &note[end + 4..],
            None => break,
        }
    }
    (at, text)
}

/// What follows `[Pipeline] ` on the line, if it is a Pipeline line.
pub(super) fn pipeline(line: &[u8]) -> Option<&[u8]> {
    content(line).1.strip_prefix(b"[Pipeline] ")
}

pub(super) fn may_be_marker(line: &[u8]) -> bool {
    matches!(line.first(), Some(b'[' | b'\x1b'))
}

pub(super) fn marker(line: &[u8]) -> Option<Marker> {
    let (at, text) = content(line);
    let said = text.strip_prefix(b"[Pipeline] ")?;
    let said = said.strip_suffix(b"\r").unwrap_or(said).trim_ascii_end();
    if said == b"{" {
        return Some(Marker::Body);
    }
    if said == b"}" {
        return Some(Marker::BodyEnd { at });
    }
    let label = said.strip_prefix(b"{ (")?.strip_suffix(b")")?;
    Some(Marker::Open {
        kind: Dialect::Jenkins,
        name: clean_name(label),
        id: None,
        at,
        flat: false,
    })
}
