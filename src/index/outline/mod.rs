//! The outline of a CI log: its sections, from the markers CI systems
//! write, and its error lines, found as the indexer passes each line.
//!
//! A log speaks one CI system's dialect, decided by its first unambiguous
//! evidence (`dialects/`); markers are read in that dialect only, wherever
//! that system accepts them:
//!
//! | system | opens | closes |
//! | --- | --- | --- |
//! | GitHub Actions | `##[group]NAME`, `::group::NAME` at a message's start | `##[endgroup]`, `::endgroup::`; the next group |
//! | GitLab CI | `section_start:EPOCH:NAME[options]\r\e[0K` anywhere in a line (the text after it names it) | `section_end:EPOCH:NAME\r\e[0K` |
//! | Buildkite | `--- NAME`, `+++ NAME`, `~~~ NAME` after the `_bk;t=` escapes, or after a move to column 1 | the next header |
//! | Taskcluster | `=== Task Starting ===`, `Executing command N:`, mozharness `Running STEP step.`, Treeherder's `========= Started` | `=== Task Finished ===`, `Result:`, `Finished STEP step`, `========= Finished` |
//! | Travis CI | `travis_fold:start:NAME` anywhere in a line | `travis_fold:end:NAME` |
//! | Jenkins | `[Pipeline] { (LABEL)` | its `[Pipeline] }` |
//! | Azure Pipelines | `##[section]Starting: NAME`, `##[group]` | `##[section]Finishing: NAME`, `##[endgroup]` |
//! | TeamCity | `##teamcity[blockOpened name='NAME']` | `##teamcity[blockClosed name='NAME']` |
//!
//! Sections nest (a group inside a GitLab section is its child). A section
//! still open when the log ends ends at its last line. Its times are the
//! log's own where the log gives them (`times: "log"`: the runner's line
//! prefixes, Buildkite's `_bk;t=` milliseconds, GitLab's marker epochs,
//! Taskcluster's bracketed times, Travis' timers, Jenkins' Timestamper),
//! else the arrival of its lines (`"arrival"`).
//!
//! Error lines (`errors.rs`, `treeherder.rs`) have a rank: 1 for the job's
//! own failure lines, 2 for tools' errors. The outline's first error is
//! the first rank-1 line, else the first error line.

use serde::Serialize;

mod dialects;
mod errors;
mod rank;
mod sections;
mod text;
mod treeherder;

pub use dialects::{Dialect, Kind, has_line_times};
pub use errors::{ERROR_STEMS, FAILURES, Rank, TOOLS};
pub use text::LogTime;

/// The patterns of an error line, as the outline document lists them: the
/// rank-1 patterns, then the rank-2 ones (Taskcluster logs follow
/// Treeherder's rules instead).
pub static ERROR_PATTERNS: [&[&str]; 2] = [&FAILURES, &TOOLS];

/// Substrings that may start a marker in the middle of a line (GitLab's
/// `section_`, Travis' `travis_`, Buildkite's header prefixes,
/// `##teamcity[`): the indexer finds them with the error stems.
pub const MARKER_STEMS: [&str; 6] = ["section_", "travis_", "~~~ ", "--- ", "+++ ", "##teamcity["];

/// Error lines listed (the rest are counted).
pub const MAX_ERRORS: usize = 1000;

/// Sections kept (the rest are counted, and `truncated` says so).
pub const MAX_SECTIONS: usize = 10_000;

/// Bytes of a line's start that an error line's `text` shows.
pub const LINE_PREFIX_BYTES: usize = 512;

/// Bytes of a line looked at for markers and errors: markers may sit far
/// into a line (a GitLab trace whose parts are separated by `\r` alone, a
/// Buildkite header after a long progress line).
pub const LINE_SCAN_BYTES: usize = 16 * 1024;

/// One section of the log.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Section {
    /// Its name, as the CI system's viewer shows it.
    pub name: String,
    /// The marker's system.
    pub kind: Kind,
    /// What its closing marker names (GitLab's NAME, a Travis fold …).
    id: Option<String>,
    /// The enclosing section's index, if any.
    pub parent: Option<usize>,
    /// Nesting depth (0: top level).
    pub depth: usize,
    /// Its first line (the marker's), 1-based.
    pub first_line: u64,
    /// Its last line, once it is closed.
    pub last_line: Option<u64>,
    /// Arrival of its first line, microseconds since the store's anchor.
    pub start_micros: u64,
    /// Arrival of the line that closed it.
    pub end_micros: Option<u64>,
    /// The log's own time for its start, when the log gives one.
    pub log_start: Option<LogTime>,
    /// The log's own time for its end (the closing line's, the
    /// successor's, or the log's last), when the log gives one.
    pub log_end: Option<LogTime>,
    /// Error lines inside it (and its children).
    pub errors: u64,
}

/// One error line.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ErrorLine {
    /// Its number, 1-based.
    pub line: u64,
    /// The byte offset of its start.
    pub offset: u64,
    /// Its first [`LINE_PREFIX_BYTES`], as text (invalid UTF-8 replaced).
    pub text: String,
    /// The innermost section holding it.
    pub section: Option<usize>,
    /// 1: the job's failure line; 2: a tool's error.
    pub rank: Rank,
}

/// The outline so far.
#[derive(Clone, Debug, Default)]
pub struct Outline {
    /// The log's dialect, as far as it is known.
    pub dialect: Dialect,
    /// Sections, in the order they open.
    pub sections: Vec<Section>,
    /// Open sections, innermost last.
    open: Vec<usize>,
    /// Jenkins' open bodies, innermost last: the section each one is, if
    /// it is labelled.
    bodies: Vec<Option<usize>>,
    /// The Travis timer running, and the fold it started in.
    timer: Option<(String, Option<usize>)>,
    /// The last time the log gave.
    pub last_time: Option<LogTime>,
    /// Sections not kept ([`MAX_SECTIONS`]).
    pub sections_dropped: u64,
    /// The first [`MAX_ERRORS`] error lines.
    pub errors: Vec<ErrorLine>,
    /// The first rank-1 error line.
    pub first_failure: Option<ErrorLine>,
    /// Every error line.
    pub error_total: u64,
    /// Changes so far (a reader of the live outline waits for this to move).
    pub version: u64,
}

/// What the indexer's look at a line found.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Look {
    /// The log's dialect after this line.
    pub dialect: Dialect,
    /// Whether the line may hold a marker.
    pub marker: bool,
    /// Its rank, if it is an error line.
    pub rank: Option<Rank>,
}

impl Look {
    /// Whether the outline needs the line.
    pub fn matters(&self) -> bool {
        self.marker || self.rank.is_some()
    }
}

/// The indexer's reader of lines: the log's dialect so far and the last
/// error line (Treeherder skips repeats), kept off the outline's lock.
#[derive(Clone, Debug, Default)]
pub struct LineReader {
    dialect: Dialect,
    previous_error: Vec<u8>,
    /// Whether the line is in the header the GitHub runner writes before
    /// each step (`##[group]Run …` … `##[endgroup]`, actions/runner
    /// `src/Runner.Worker/Handlers/Handler.cs`): the step's script, its
    /// `with:` and `env:`, where an `echo "ERROR: …"` is a command, not
    /// an error.
    step_header: bool,
}

impl LineReader {
    /// Looks at a line (its first [`LINE_SCAN_BYTES`], without its
    /// newline): `error_stem` and `marker_stem` say whether the indexer's
    /// search found an [`ERROR_STEMS`] or a [`MARKER_STEMS`] entry in it.
    /// Only such lines, and lines whose first bytes may start a marker or
    /// tell the dialect, get a closer look.
    pub fn look(&mut self, line: &[u8], error_stem: bool, marker_stem: bool) -> Look {
        let mut evidence = false;
        if self.dialect == Dialect::Plain {
            if let Some(dialect) = dialects::evidence(line, marker_stem) {
                self.dialect = dialect;
                evidence = true;
            }
        }
        let marker = evidence || dialects::may_be_marker(line, self.dialect, marker_stem);
        if marker && self.dialect == Dialect::Github {
            match dialects::markers(line, Dialect::Github).first() {
                Some(dialects::Marker::Open { name, .. }) => {
                    self.step_header = name.starts_with("Run ");
                }
                Some(dialects::Marker::Close { .. }) => self.step_header = false,
                _ => {}
            }
        }
        let rank = if error_stem && !self.step_header {
            errors::classify(line, self.dialect, &mut self.previous_error)
        } else {
            None
        };
        Look {
            dialect: self.dialect,
            marker,
            rank,
        }
    }

    /// The log's dialect so far.
    pub fn dialect(&self) -> Dialect {
        self.dialect
    }
}

impl Outline {
    /// Takes line `line` (1-based) starting at `offset`, which arrived at
    /// `micros`: `text` is its first bytes (at most [`LINE_SCAN_BYTES`],
    /// without its newline), `look` what [`LineReader::look`] found.
    pub fn line(&mut self, line: u64, offset: u64, micros: u64, text: &[u8], look: Look) {
        self.dialect = look.dialect;
        if look.marker {
            let time = dialects::line_time(text, self.dialect);
            if time.is_some() {
                self.last_time = time;
            }
            for marker in dialects::markers(text, self.dialect) {
                self.marker(marker, line, micros, time);
            }
        }
        if let Some(rank) = look.rank {
            self.error(
                line,
                offset,
                &text[..text.len().min(LINE_PREFIX_BYTES)],
                rank,
            );
        }
    }

    /// A line the outline did not need, with the time the log gives it:
    /// where an open section ends if the log ends now.
    pub fn time(&mut self, text: &[u8]) -> bool {
        let at = dialects::line_time(text, self.dialect)
            .or_else(|| dialects::clock_time(text, self.dialect, self.last_time));
        match at {
            Some(at) => {
                self.last_time = Some(at);
                true
            }
            None => false,
        }
    }

    fn error(&mut self, line: u64, offset: u64, prefix: &[u8], rank: Rank) {
        self.version += 1;
        self.error_total += 1;
        let section = self.open.last().copied();
        for &index in &self.open {
            self.sections[index].errors += 1;
        }
        let error = ErrorLine {
            line,
            offset,
            text: String::from_utf8_lossy(prefix).into_owned(),
            section,
            rank,
        };
        if rank == Rank::Failure && self.first_failure.is_none() {
            self.first_failure = Some(error.clone());
        }
        if self.errors.len() < MAX_ERRORS {
            self.errors.push(error);
        }
    }

    /// The line a person opening the failed job should be taken to: the
    /// first rank-1 error line, else the first error line.
    pub fn first_error(&self) -> Option<&ErrorLine> {
        self.first_failure.as_ref().or(self.errors.first())
    }

    /// The log ended after `last_line`, which arrived at `micros`: every
    /// section still open ends there, at the last time the log gave.
    pub fn finish(&mut self, last_line: u64, micros: u64) {
        let at = self.last_time;
        for index in std::mem::take(&mut self.open) {
            let section = &mut self.sections[index];
            section.last_line = Some(last_line.max(section.first_line));
            section.end_micros = Some(micros);
            if section.log_start.is_some() && section.log_end.is_none() {
                section.log_end = at.or(section.log_start);
            }
        }
        self.version += 1;
    }
}

#[cfg(test)]
mod tests;
