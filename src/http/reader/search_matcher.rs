//! What a search looks for (`search.rs` reads it from the query; the scan,
//! `search_scan.rs`, applies it): a text (`memchr::memmem`) or a regular
//! expression (`regex`, with its own literal prefilter), and the bounds on
//! what a result carries.

use memchr::memmem;
use regex::bytes::{Regex, RegexBuilder};

use crate::http::query::{BadQuery, Query};

/// Bytes of a matching line's text a result carries (the rest is cut,
/// and `truncated` says so).
pub const TEXT_BYTES: usize = 4096;

/// Longest line held whole while its end is awaited: a longer one is
/// searched in pieces of this size.
pub const MAX_LINE_BYTES: usize = 4 * 1024 * 1024;

/// Largest compiled regular expression, in bytes (the `regex` crate's
/// size limit): enough for any reasonable pattern, and a bound on what
/// one request can make livelog build.
const REGEX_SIZE_LIMIT: usize = 1 << 20;

/// What to look for.
pub(super) enum Matcher {
    Text(Box<memmem::Finder<'static>>),
    Regex(Regex),
}

impl Matcher {
    /// The matcher `query` asks for.
    pub(super) fn of(query: &Query) -> Result<Matcher, BadQuery> {
        let Some(q) = query.get("q")?.filter(|q| !q.is_empty()) else {
            return Err(BadQuery(
                "q is missing: search with ?q=TEXT (and &regex=true for a regular expression)"
                    .into(),
            ));
        };
        if query.flag("regex")? {
            RegexBuilder::new(q)
                .multi_line(true)
                .size_limit(REGEX_SIZE_LIMIT)
                .build()
                .map(Matcher::Regex)
                .map_err(|e| {
                    let first = e.to_string();
                    let first = first.lines().last().unwrap_or("invalid").trim().to_owned();
                    BadQuery(format!("q is not a regular expression: {first}"))
                })
        } else {
            Ok(Matcher::Text(Box::new(
                memmem::Finder::new(q.as_bytes()).into_owned(),
            )))
        }
    }

    /// The first match in `haystack` at or after `from`: (start, end).
    pub(super) fn find_at(&self, haystack: &[u8], from: usize) -> Option<(usize, usize)> {
        match self {
            Matcher::Text(finder) => finder
                .find(&haystack[from..])
                .map(|at| (from + at, from + at + finder.needle().len())),
            Matcher::Regex(regex) => regex.find_at(haystack, from).map(|m| (m.start(), m.end())),
        }
    }

    /// Whether `line` (without its newline) matches.
    pub(super) fn is_match(&self, line: &[u8]) -> bool {
        match self {
            Matcher::Text(finder) => finder.find(line).is_some(),
            Matcher::Regex(regex) => regex.is_match(line),
        }
    }
}
