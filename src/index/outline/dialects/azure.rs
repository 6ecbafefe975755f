//! Azure Pipelines: the agent stamps lines as GitHub's runner does (it is
//! its ancestor), marks each step `##[section]Starting: NAME` …
//! `##[section]Finishing: NAME`, and honours `##[group]` / `##[endgroup]`
//! (Azure DevOps docs, "Logging commands: formatting commands"; the
//! `Starting:`/`Finishing:` pair is what the agent writes around every task,
//! microsoft/azure-pipelines-agent `src/Agent.Worker/StepsRunner.cs`).
//!
//! Only in an Azure log (one with a `##vso[` command): GitHub's orchestrator
//! writes the same `##[section]` lines in a `Prepare job` log, where they
//! are highlighted, not folded.

use super::super::text::{clean_name, runner_prefix, skip_escapes};
use super::{Dialect, Marker};

fn message(line: &[u8]) -> (Option<i64>, &[u8]) {
    match runner_prefix(line) {
        Some((at, rest)) => (Some(at), skip_escapes(rest)),
        None => (None, skip_escapes(line)),
    }
}

pub(super) fn may_be_marker(line: &[u8]) -> bool {
    message(line).1.first() == Some(&b'#')
}

pub(super) fn marker(line: &[u8]) -> Option<Marker> {
    let (at, text) = message(line);
    if let Some(name) = text.strip_prefix(b"##[section]Starting: ") {
        return Some(Marker::Open {
            kind: Dialect::Azure,
            name: clean_name(name),
            id: Some("step".into()),
            at,
            flat: true,
        });
    }
    if text.starts_with(b"##[section]Finishing: ") {
        return Some(Marker::Close {
            kind: Dialect::Azure,
            id: Some("step".into()),
            at,
            only: false,
        });
    }
    if let Some(name) = text.strip_prefix(b"##[group]") {
        return Some(Marker::Open {
            kind: Dialect::Azure,
            name: clean_name(name),
            id: Some("group".into()),
            at,
            flat: true,
        });
    }
    if text.starts_with(b"##[endgroup]") {
        return Some(Marker::Close {
            kind: Dialect::Azure,
            id: Some("group".into()),
            at,
            only: false,
        });
    }
    None
}
