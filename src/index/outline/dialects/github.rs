//! GitHub Actions, as a downloaded job log has it: every line stamped by
//! the runner (`YYYY-MM-DDTHH:MM:SS.fffffffZ `, actions/runner
//! `src/Runner.Common/Logging.cs`), groups as the runner renders the
//! `::group::` / `::endgroup::` workflow commands: `##[group]TITLE`,
//! `##[endgroup]` (actions/runner `src/Runner.Worker/ActionCommandManager.cs`;
//! GitHub docs, "Workflow commands: grouping log lines"), always at the
//! message's start.
//!
//! Groups do not nest (the runner's log viewer has one level of groups,
//! as its maintainers say on its tracker): a `##[group]` while one is open
//! ends it on the line before. `::group::` at a message's start is
//! read too (a log piped from a step, not rendered by the runner); echoed
//! by xtrace (`+ echo '::group::…'`) it is not at the start, and is text.

use super::super::text::{clean_name, runner_prefix, skip_escapes};
use super::{Dialect, Marker};

/// The message: the line after the runner's prefix (if any) and escapes.
fn message(line: &[u8]) -> (Option<i64>, &[u8]) {
    match runner_prefix(line) {
        Some((at, rest)) => (Some(at), skip_escapes(rest)),
        None => (None, skip_escapes(line)),
    }
}

pub(super) fn may_be_marker(line: &[u8]) -> bool {
    matches!(message(line).1.first(), Some(b'#' | b':'))
}

pub(super) fn marker(line: &[u8]) -> Option<Marker> {
    let (at, text) = message(line);
    if let Some(name) = text
        .strip_prefix(b"##[group]")
        .or_else(|| text.strip_prefix(b"::group::"))
    {
        return Some(Marker::Open {
            kind: Dialect::Github,
            name: clean_name(name),
            id: None,
            at,
            flat: true,
        });
    }
    if text.starts_with(b"##[endgroup]") || text.starts_with(b"::endgroup::") {
        return Some(Marker::Close {
            kind: Dialect::Github,
            id: None,
            at,
            only: false,
        });
    }
    None
}
