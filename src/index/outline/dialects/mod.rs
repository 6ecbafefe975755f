//! The CI systems' dialects: how each one marks sections, stamps its lines
//! with times and says the job failed, one module per system, each rule
//! with its source (the grammars in `tests/data/real/<system>/GRAMMAR.md`
//! cite them at length).
//!
//! A log speaks one dialect, decided by the first unambiguous evidence in
//! it ([`evidence`]); until then it is [`Dialect::Plain`]. Markers are read
//! in the log's dialect only, so that one system's marker never fires in
//! another's log: bash xtrace's `+++ nproc` in a GitHub Actions log is not
//! a Buildkite header, a `section_start:` echoed in a Travis log is text.

mod azure;
mod buildkite;
mod github;
mod gitlab;
mod jenkins;
mod taskcluster;
mod teamcity;
mod travis;

use serde::Serialize;

use super::text::LogTime;

/// Which CI system wrote the log, as far as the outline can tell.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Dialect {
    /// No evidence yet: every system's line-start markers are read (a log
    /// piped to livelog by hand, a test's log).
    #[default]
    Plain,
    /// GitHub Actions: lines stamped `YYYY-MM-DDTHH:MM:SS.fffffffZ `, or a
    /// `##[group]`.
    Github,
    /// GitLab CI: a `section_start:` marker.
    Gitlab,
    /// Buildkite: the agent's `ESC _bk;t=` timestamp escape.
    Buildkite,
    /// Taskcluster (Firefox CI): `[taskcluster ` at a line's start.
    Taskcluster,
    /// Travis CI: `travis_fold:` or `travis_time:`.
    Travis,
    /// Jenkins Pipeline: `[Pipeline] `.
    Jenkins,
    /// Azure Pipelines: a `##vso[` logging command.
    Azure,
    /// TeamCity: a `##teamcity[` service message.
    Teamcity,
}

/// Which kind of marker opened a section (the outline's `kind`).
pub type Kind = Dialect;

/// What a marker does to the outline.
#[derive(Debug, PartialEq, Eq)]
pub enum Marker {
    /// Opens a section.
    Open {
        kind: Kind,
        name: String,
        /// What a later close names (GitLab's section NAME, Travis' fold
        /// NAME, a mozharness step, TeamCity's block name, a Taskcluster
        /// `task` or `command`).
        id: Option<String>,
        /// The time the log gives for it.
        at: Option<LogTime>,
        /// Whether it first ends the open section of its kind with the same
        /// `id` (and what that holds) on the line before: headers that
        /// follow each other rather than nest.
        flat: bool,
    },
    /// Closes the innermost open section of `kind` (with this `id`, if
    /// given) on this line, with every section opened inside it (or, with
    /// `only`, that section alone: GitLab).
    Close {
        kind: Kind,
        id: Option<String>,
        at: Option<LogTime>,
        only: bool,
    },
    /// Taskcluster's `=== Task Finished ===`: what the task holds ends on
    /// the line before, the task on this one.
    TaskFinished {
        at: Option<LogTime>,
    },
    /// A Travis timer started.
    TimerStart {
        id: String,
    },
    /// A Travis timer ended: its start and finish.
    TimerEnd {
        id: String,
        start: LogTime,
        finish: LogTime,
    },
    /// A Jenkins body `{` that is no section, and `}` (ending the
    /// innermost body).
    Body,
    BodyEnd {
        at: Option<LogTime>,
    },
}

/// The dialect a line is evidence of, if any: the runner's timestamp or a
/// `##[group]` (GitHub), `section_start:` (GitLab), `ESC _bk;t=`
/// (Buildkite), `[taskcluster ` (Taskcluster), `travis_fold:` /
/// `travis_time:` (Travis), `[Pipeline] ` (Jenkins), `##vso[` (Azure),
/// `##teamcity[` (TeamCity). Cheap: it looks at the line's first bytes,
/// and searches further only for the markers that may sit mid-line, and
/// only when the indexer found one's stem in the line (`stem`).
pub fn evidence(line: &[u8], stem: bool) -> Option<Dialect> {
    let start = line.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(line);
    match start.first()? {
        b'\x1b' if start.starts_with(b"\x1b_bk;t=") => return Some(Dialect::Buildkite),
        b'\x1b' if start.starts_with(b"\x1b[8mha:") => return Some(Dialect::Jenkins),
        b'[' if start.starts_with(b"[taskcluster") => return Some(Dialect::Taskcluster),
        b'[' if jenkins::pipeline(start).is_some() => return Some(Dialect::Jenkins),
        b'#' if start.starts_with(b"##vso[") => return Some(Dialect::Azure),
        b'#' if start.starts_with(b"##teamcity[") => return Some(Dialect::Teamcity),
        b'#' if start.starts_with(b"##[group]") => return Some(Dialect::Github),
        b'0'..=b'9' => {
            if let Some((_, rest)) = super::text::runner_prefix(start) {
                return Some(if rest.starts_with(b"##vso[") {
                    Dialect::Azure
                } else {
                    Dialect::Github
                });
            }
        }
        _ => {}
    }
    if !stem {
        return None;
    }
    let finder = |needle: &'static [u8]| memchr::memmem::find(line, needle).is_some();
    if finder(b"section_start:") && gitlab::markers(line).next().is_some() {
        return Some(Dialect::Gitlab);
    }
    if finder(b"travis_fold:") || finder(b"travis_time:") {
        return Some(Dialect::Travis);
    }
    None
}

/// The markers a line holds in `dialect`, left to right.
pub fn markers(line: &[u8], dialect: Dialect) -> Vec<Marker> {
    match dialect {
        Dialect::Github => github::marker(line).into_iter().collect(),
        Dialect::Gitlab => gitlab::markers(line).collect(),
        Dialect::Buildkite => buildkite::marker(line).into_iter().collect(),
        Dialect::Taskcluster => taskcluster::marker(line).into_iter().collect(),
        Dialect::Travis => travis::markers(line),
        Dialect::Jenkins => jenkins::marker(line).into_iter().collect(),
        Dialect::Azure => azure::marker(line).into_iter().collect(),
        Dialect::Teamcity => teamcity::markers(line),
        Dialect::Plain => plain(line),
    }
}

/// A log with no evidence: the line-start markers of every system whose
/// markers cannot be mistaken for ordinary output once at a line's start
/// (GitHub's, GitLab's, Buildkite's headers, Taskcluster's), as livelog
/// read every log before it told dialects apart.
fn plain(line: &[u8]) -> Vec<Marker> {
    let markers: Vec<Marker> = gitlab::markers(line).collect();
    if !markers.is_empty() {
        return markers;
    }
    github::marker(line)
        .or_else(|| buildkite::marker(line))
        .or_else(|| taskcluster::marker(line))
        .into_iter()
        .collect()
}

/// Whether a line may hold a marker of `dialect`: a cheap look at its first
/// bytes, after what decorates it; `stem` says whether the indexer's
/// one-pass search found a mid-line marker's stem in it (`section_`,
/// `travis_`, a Buildkite header prefix, `##teamcity[`).
pub fn may_be_marker(line: &[u8], dialect: Dialect, stem: bool) -> bool {
    match dialect {
        Dialect::Github => github::may_be_marker(line),
        Dialect::Azure => azure::may_be_marker(line),
        Dialect::Gitlab | Dialect::Travis | Dialect::Teamcity => stem,
        Dialect::Buildkite => stem || buildkite::may_be_marker(line),
        Dialect::Taskcluster => taskcluster::may_be_marker(line),
        Dialect::Jenkins => jenkins::may_be_marker(line),
        Dialect::Plain => {
            stem || github::may_be_marker(line)
                || buildkite::may_be_marker(line)
                || taskcluster::may_be_marker(line)
        }
    }
}

/// The time a line of `dialect` carries for itself, if it carries one
/// (GitHub's and Azure's runner prefix, Buildkite's first `_bk;t=`,
/// Taskcluster's bracketed prefix, Jenkins' Timestamper prefix). GitLab
/// and Travis lines carry none: their times are in their markers.
pub fn line_time(line: &[u8], dialect: Dialect) -> Option<LogTime> {
    match dialect {
        Dialect::Github | Dialect::Azure => super::text::runner_prefix(line).map(|(at, _)| at),
        Dialect::Buildkite => buildkite::first_time(line),
        Dialect::Taskcluster => taskcluster::line_time(line),
        Dialect::Jenkins => jenkins::timestamp(line).map(|(at, _)| at),
        _ => None,
    }
}

/// The time a Taskcluster line without a prefix time gives by its
/// mozharness clock (`HH:MM:SS`), on the day of `last` (the last full time
/// the log gave), a day later if the clock went back.
pub fn clock_time(line: &[u8], dialect: Dialect, last: Option<LogTime>) -> Option<LogTime> {
    const DAY: LogTime = 86_400_000_000_000;
    if dialect != Dialect::Taskcluster {
        return None;
    }
    let last = last?;
    let of_day = taskcluster::clock_time(line)?;
    let day = last.div_euclid(DAY) * DAY;
    let at = day + of_day;
    Some(if at < last - DAY / 2 { at + DAY } else { at })
}

/// Whether lines of `dialect` carry their own times (which `line_time`
/// reads).
pub fn has_line_times(dialect: Dialect) -> bool {
    matches!(
        dialect,
        Dialect::Github
            | Dialect::Azure
            | Dialect::Buildkite
            | Dialect::Taskcluster
            | Dialect::Jenkins
    )
}

/// A Jenkins line after its Timestamper prefix and console notes.
pub fn jenkins_message(line: &[u8]) -> &[u8] {
    jenkins::content(line).1
}

#[cfg(test)]
mod tests;
