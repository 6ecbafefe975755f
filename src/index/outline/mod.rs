//! The outline of a CI log: its sections, from the markers CI systems
//! write, and its error lines, found as the indexer passes each line.
//!
//! Section markers (a line may start with ANSI escapes, `\r`, GitLab's
//! `\e[0K`, or an ISO 8601 timestamp and a space, as GitHub's downloaded
//! logs do; they are skipped):
//!
//! | system | opens | closes |
//! | --- | --- | --- |
//! | GitHub Actions | `::group::NAME`, `##[group]NAME` | `::endgroup::`, `##[endgroup]` |
//! | GitLab CI | `section_start:UNIX:ID[options]` (the header after `\r\e[0K` names it) | `section_end:UNIX:ID` (and every section opened inside it) |
//! | Buildkite | `--- NAME`, `+++ NAME`, `~~~ NAME` | the next such header |
//! | Taskcluster | `[taskcluster …] === Task Starting ===`, `[taskcluster …] Executing command N: …` | `=== Task Finished ===` (the task and its command), the next command |
//!
//! Sections nest (a group inside a GitLab section is its child). A section
//! still open when the log ends ends at its last line.
//!
//! Error lines are lines holding one of [`ERROR_PATTERNS`] (case matters)
//! in their first [`LINE_PREFIX_BYTES`], once ANSI escapes are taken out
//! (`\e[1m\e[91merror\e[0m: ...` is cargo's `error: ...` in colour):
//! compiler and test-runner errors, panics, Python tracebacks, git's
//! `fatal:`, and the error annotations of GitHub Actions and Taskcluster.
//! The indexer finds candidate lines by [`ERROR_STEMS`] (one pass over each
//! chunk) and checks only those with [`is_error_line`]. The first error line
//! is named (with its section), the first [`MAX_ERRORS`] are listed, all
//! are counted.

use std::sync::LazyLock;

use memchr::memmem::Finder;
use serde::Serialize;

mod markers;

pub use markers::may_be_marker;
use markers::{Marker, marker};

/// The substrings that make a line an error line.
pub const ERROR_PATTERNS: [&str; 11] = [
    "error:",
    "Error:",
    "ERROR:",
    "error[",
    "FAILED",
    "panicked at",
    "Traceback (most recent call last)",
    "fatal:",
    "##[error]",
    "::error",
    "[taskcluster:error]",
];

/// What a line must hold, escapes or not, to be checked against
/// [`ERROR_PATTERNS`]: a part of each pattern that colours do not split.
pub const ERROR_STEMS: [&str; 10] = [
    "error",
    "Error",
    "ERROR",
    "FAILED",
    "panicked at",
    "Traceback (most recent call last)",
    "fatal:",
    "##[error]",
    "::error",
    "[taskcluster:error]",
];

/// Whether a line starting with `prefix` is an error line: it holds one of
/// [`ERROR_PATTERNS`] once its ANSI escapes are taken out, and a pattern
/// that is a word (`error:`, `ERROR:`, `error[`, `fatal:`) starts a word
/// there, so `last_error: u32` and `Z_STREAM_ERROR:` in a compiler's code
/// excerpt are not errors. `Error:` may end a word (`TypeError:`), but not
/// an identifier's (`MY_Error:`).
pub fn is_error_line(prefix: &[u8]) -> bool {
    // Each pattern's searcher is built once: building one costs more than
    // searching a line with it.
    static FINDERS: LazyLock<Vec<(&str, Finder<'static>)>> = LazyLock::new(|| {
        ERROR_PATTERNS
            .iter()
            .map(|pattern| (*pattern, Finder::new(pattern.as_bytes())))
            .collect()
    });
    let text = without_escapes(prefix);
    FINDERS.iter().any(|(pattern, finder)| {
        finder.find_iter(&text).any(|at| {
            let before = at.checked_sub(1).map(|i| text[i]);
            let identifier = |b: u8| b == b'_' || b.is_ascii_alphanumeric();
            match *pattern {
                "error:" | "ERROR:" | "error[" | "fatal:" => !before.is_some_and(identifier),
                "Error:" => !before.is_some_and(|b| b == b'_' || b.is_ascii_digit()),
                _ => true,
            }
        })
    })
}

/// `text` without its ANSI escape sequences (CSI: `ESC [ params final`).
fn without_escapes(text: &[u8]) -> std::borrow::Cow<'_, [u8]> {
    if !text.contains(&0x1b) {
        return std::borrow::Cow::Borrowed(text);
    }
    let mut out = Vec::with_capacity(text.len());
    let mut i = 0;
    while i < text.len() {
        if text[i] == 0x1b && text.get(i + 1) == Some(&b'[') {
            let end = text[i + 2..].iter().position(|b| (0x40..=0x7e).contains(b));
            match end {
                Some(end) => i += end + 3,
                None => break,
            }
        } else {
            out.push(text[i]);
            i += 1;
        }
    }
    std::borrow::Cow::Owned(out)
}

/// Error lines listed (the rest are counted).
pub const MAX_ERRORS: usize = 1000;

/// Sections kept (the rest are counted, and `truncated` says so).
pub const MAX_SECTIONS: usize = 10_000;

/// Bytes of a line's start that markers are looked for in and that an
/// error line's `text` shows.
pub const LINE_PREFIX_BYTES: usize = 512;

/// Which CI system's marker opened a section.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    /// `::group::` / `##[group]`.
    Github,
    /// `section_start:`.
    Gitlab,
    /// `--- `, `+++ `, `~~~ `.
    Buildkite,
    /// `[taskcluster …]`.
    Taskcluster,
}

/// One section of the log.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Section {
    /// Its name, as the marker gives it.
    pub name: String,
    /// The marker's system.
    pub kind: Kind,
    /// GitLab's section id (what `section_end` names).
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
    /// Error lines inside it (and its children).
    pub errors: u64,
}

/// One error line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ErrorLine {
    /// Its number, 1-based.
    pub line: u64,
    /// The byte offset of its start.
    pub offset: u64,
    /// Its first [`LINE_PREFIX_BYTES`], as text (invalid UTF-8 replaced).
    pub text: String,
    /// The innermost section holding it.
    pub section: Option<usize>,
}

/// The outline so far.
#[derive(Clone, Debug, Default)]
pub struct Outline {
    /// Sections, in the order they open.
    pub sections: Vec<Section>,
    /// Open sections, innermost last.
    open: Vec<usize>,
    /// Sections not kept ([`MAX_SECTIONS`]).
    pub sections_dropped: u64,
    /// The first [`MAX_ERRORS`] error lines.
    pub errors: Vec<ErrorLine>,
    /// Every error line.
    pub error_total: u64,
    /// Changes so far (a reader of the live outline waits for this to move).
    pub version: u64,
}

impl Outline {
    /// Takes line `line` (1-based) starting at `offset`, which arrived at
    /// `micros`: `prefix` is its first bytes (at most
    /// [`LINE_PREFIX_BYTES`], without its newline), `error` whether it holds
    /// an error pattern.
    pub fn line(&mut self, line: u64, offset: u64, micros: u64, prefix: &[u8], error: bool) {
        if let Some(marker) = marker(prefix) {
            self.marker(marker, line, micros);
        }
        if error {
            self.error(line, offset, prefix);
        }
    }

    fn marker(&mut self, marker: Marker<'_>, line: u64, micros: u64) {
        self.version += 1;
        match marker {
            Marker::Open { kind, name, id } => {
                // A Buildkite header ends the Buildkite group before it; a
                // Taskcluster command ends the command before it.
                if kind == Kind::Buildkite {
                    self.close_where(line, micros, |s| s.kind == Kind::Buildkite);
                }
                if kind == Kind::Taskcluster && name.starts_with("Executing command") {
                    self.close_where(line, micros, |s| {
                        s.kind == Kind::Taskcluster && s.name.starts_with("Executing command")
                    });
                }
                self.open(kind, name, id.map(str::to_owned), line, micros);
            }
            Marker::CloseGroup => {
                self.close_innermost(line, micros, |s| s.kind == Kind::Github);
            }
            Marker::CloseSection(id) => {
                self.close_innermost(line, micros, |s| s.id.as_deref() == Some(id));
            }
            Marker::TaskFinished => {
                self.close_innermost(line, micros, |s| {
                    s.kind == Kind::Taskcluster && s.name == "Task"
                });
            }
        }
    }

    fn open(&mut self, kind: Kind, name: String, id: Option<String>, line: u64, micros: u64) {
        if self.sections.len() >= MAX_SECTIONS {
            self.sections_dropped += 1;
            return;
        }
        let parent = self.open.last().copied();
        self.sections.push(Section {
            name,
            kind,
            id,
            parent,
            depth: self.open.len(),
            first_line: line,
            last_line: None,
            start_micros: micros,
            end_micros: None,
            errors: 0,
        });
        self.open.push(self.sections.len() - 1);
    }

    /// Closes the innermost open section `which` matches, and every section
    /// opened inside it, at `line` (the closing marker's own line).
    fn close_innermost(&mut self, line: u64, micros: u64, which: impl Fn(&Section) -> bool) {
        let Some(at) = self.open.iter().rposition(|&i| which(&self.sections[i])) else {
            return;
        };
        for index in self.open.split_off(at) {
            let section = &mut self.sections[index];
            section.last_line = Some(line);
            section.end_micros = Some(micros);
        }
    }

    /// Closes the innermost open section `which` matches (and what it
    /// holds) just before `line`, which opens its successor.
    fn close_where(&mut self, line: u64, micros: u64, which: impl Fn(&Section) -> bool) {
        let Some(at) = self.open.iter().rposition(|&i| which(&self.sections[i])) else {
            return;
        };
        for index in self.open.split_off(at) {
            let section = &mut self.sections[index];
            section.last_line = Some(line.saturating_sub(1).max(section.first_line));
            section.end_micros = Some(micros);
        }
    }

    fn error(&mut self, line: u64, offset: u64, prefix: &[u8]) {
        self.version += 1;
        self.error_total += 1;
        let section = self.open.last().copied();
        for &index in &self.open {
            self.sections[index].errors += 1;
        }
        if self.errors.len() < MAX_ERRORS {
            self.errors.push(ErrorLine {
                line,
                offset,
                text: String::from_utf8_lossy(prefix).into_owned(),
                section,
            });
        }
    }

    /// The log ended after `last_line`, which arrived at `micros`: every
    /// section still open ends there.
    pub fn finish(&mut self, last_line: u64, micros: u64) {
        for index in std::mem::take(&mut self.open) {
            let section = &mut self.sections[index];
            section.last_line = Some(last_line.max(section.first_line));
            section.end_micros = Some(micros);
        }
        self.version += 1;
    }
}

#[cfg(test)]
mod tests;
