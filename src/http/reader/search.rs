//! `GET /log/<ACCESS_TOKEN>/search?q=TEXT`: the lines of the whole log that
//! hold `TEXT` (or, with `&regex=true`, match it as a `regex` crate regular
//! expression), as newline-delimited JSON, one matching line each:
//!
//! ```json
//! {"line": 120, "offset": 5190, "text": "error: linking failed"}
//! {"total": 1, "complete": true, "bytes": 65536}
//! ```
//!
//! The last line says how many lines matched, whether the log was complete,
//! and how many bytes were searched. Without `&follow=true` the search
//! covers the log as stored when the request arrived; with it, it goes on
//! with every new line until the upload ends, like `tail -f | grep`.
//!
//! The search reads the log through the store's cursor like a reader that
//! catches up: from the temp file within the shared catch-up budget, never
//! holding back the upload or another reader, and it yields to the runtime
//! after every chunk (`consume_budget`). It searches each chunk whole
//! (`memchr::memmem` for text, the regex's own literal prefilter for a
//! pattern) rather than line by line, and counts lines only up to each
//! match. Only whole lines are searched: the start of a line still being
//! written waits for its end (or the log's).

use std::borrow::Cow;
use std::io::Write as _;

use bytes::Bytes;
use futures_util::stream;
use http::{Method, Response, StatusCode, header};
use http_body::Frame;
use http_body_util::{BodyExt, StreamBody};
use memchr::memmem;
use regex::bytes::{Regex, RegexBuilder};
use serde::Serialize;

use super::head::{X_ACCEL_BUFFERING, insert, with_cors};
use super::slots::Admitted;
use super::{Ask, ReadHandler};
use crate::http::json_text::escape_into;
use crate::http::query::{BadQuery, Query};
use crate::http::{BoxError, ResponseBody, empty, plain};

use crate::store::{Cursor, ReadError};

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
enum Matcher {
    Text(Box<memmem::Finder<'static>>),
    Regex(Regex),
}

impl Matcher {
    /// The matcher `query` asks for.
    fn of(query: &Query) -> Result<Matcher, BadQuery> {
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
    fn find_at(&self, haystack: &[u8], from: usize) -> Option<(usize, usize)> {
        match self {
            Matcher::Text(finder) => finder
                .find(&haystack[from..])
                .map(|at| (from + at, from + at + finder.needle().len())),
            Matcher::Regex(regex) => regex.find_at(haystack, from).map(|m| (m.start(), m.end())),
        }
    }

    /// Whether `line` (without its newline) matches.
    fn is_match(&self, line: &[u8]) -> bool {
        match self {
            Matcher::Text(finder) => finder.find(line).is_some(),
            Matcher::Regex(regex) => regex.is_match(line),
        }
    }
}

impl ReadHandler {
    /// A search of the log (see the module documentation).
    pub(super) fn search<B>(&self, ask: &Ask<'_, B>) -> Response<ResponseBody> {
        let req = ask.req;
        let query = Query::of(req.uri().query());
        let (matcher, follow) =
            match Matcher::of(&query).and_then(|m| Ok((m, query.flag("follow")?))) {
                Ok(found) => found,
                Err(bad) => return with_cors(plain(StatusCode::BAD_REQUEST, &format!("{bad}\n"))),
            };
        self.metrics.searches.inc();
        let body = if req.method() == Method::HEAD {
            empty()
        } else {
            match self.slots.take(ask.client, req.version(), "search") {
                Ok(admitted) => {
                    let end = (!follow).then(|| self.store.progress().len);
                    let search = Search {
                        cursor: self.store.cursor(0, end),
                        matcher,
                        line: Vec::new(),
                        line_start: 0,
                        line_number: 1,
                        total: 0,
                        done: false,
                        _admitted: admitted,
                    };
                    body(search)
                }
                Err(refused) => return self.slots.refuse(refused),
            }
        };
        let mut resp = Response::new(body);
        insert(&mut resp, header::CONTENT_TYPE, "application/x-ndjson");
        insert(&mut resp, header::CACHE_CONTROL, "no-store");
        insert(&mut resp, header::X_CONTENT_TYPE_OPTIONS, "nosniff");
        insert(&mut resp, X_ACCEL_BUFFERING, "no");
        with_cors(resp)
    }
}

/// The last line.
#[derive(Serialize)]
struct Total {
    total: u64,
    complete: bool,
    bytes: u64,
}

struct Search {
    cursor: Cursor,
    matcher: Matcher,
    /// The start of the line being read (its end not seen yet).
    line: Vec<u8>,
    /// Its offset and number.
    line_start: u64,
    line_number: u64,
    /// Matching lines so far.
    total: u64,
    done: bool,
    _admitted: Admitted,
}

fn body(search: Search) -> ResponseBody {
    let frames = stream::unfold(search, |mut search| async move {
        if search.done {
            return None;
        }
        let frame = search.next().await;
        Some((frame.map(Frame::data), search))
    });
    StreamBody::new(frames).boxed_unsync()
}

impl Search {
    /// The next results (possibly none), or the total at the end.
    async fn next(&mut self) -> Result<Bytes, BoxError> {
        // Searching is CPU work on a reader's worker: let its other tasks
        // run between chunks, also when every chunk comes from the cache.
        tokio::task::consume_budget().await;
        let mut out = Vec::new();
        match self.cursor.next_chunk().await {
            Ok(Some(chunk)) => self.chunk(&chunk, &mut out),
            Ok(None) => self.end(true, &mut out),
            Err(ReadError::Incomplete(_)) => self.end(false, &mut out),
            Err(err) => {
                self.done = true;
                return Err(BoxError::from(err));
            }
        }
        Ok(Bytes::from(out))
    }

    /// Searches the whole lines `chunk` completes; keeps the start of the
    /// line it leaves open.
    fn chunk(&mut self, chunk: &[u8], out: &mut Vec<u8>) {
        let Some(last_newline) = memchr::memrchr(b'\n', chunk) else {
            self.hold(chunk, out);
            return;
        };
        // The line held from earlier chunks ends in this one.
        let first_end = memchr::memchr(b'\n', chunk).unwrap_or(last_newline);
        if !self.line.is_empty() {
            let mut line = std::mem::take(&mut self.line);
            line.extend_from_slice(&chunk[..first_end]);
            if self.matcher.is_match(&line) {
                self.hit(self.line_start, &line, out);
            }
            self.line_number += 1;
            self.line_start += line.len() as u64 + 1;
            line.clear();
            self.line = line;
            self.lines(&chunk[first_end + 1..=last_newline], out);
        } else {
            self.lines(&chunk[..=last_newline], out);
        }
        self.hold(&chunk[last_newline + 1..], out);
    }

    /// Searches `block`, whole lines starting at `self.line_start`.
    fn lines(&mut self, block: &[u8], out: &mut Vec<u8>) {
        let mut counted = 0; // lines of `block` before this are numbered
        let mut from = 0;
        while let Some((start, end)) = self.matcher.find_at(block, from) {
            let line_from = memchr::memrchr(b'\n', &block[..start]).map_or(0, |i| i + 1);
            let line_to = memchr::memchr(b'\n', &block[start..]).map_or(block.len(), |i| start + i);
            // A pattern that matched across a newline is checked against
            // the line it started in alone.
            let matched = end <= line_to || self.matcher.is_match(&block[line_from..line_to]);
            self.line_number +=
                memchr::memchr_iter(b'\n', &block[counted..line_from]).count() as u64;
            counted = line_from;
            if matched {
                let offset = self.line_start + line_from as u64;
                self.hit(offset, &block[line_from..line_to], out);
            }
            from = line_to + 1;
            if from >= block.len() {
                break;
            }
        }
        self.line_number += memchr::memchr_iter(b'\n', &block[counted..]).count() as u64;
        self.line_start += block.len() as u64;
    }

    /// Holds `rest`, the start of a line not yet ended; a line longer than
    /// [`MAX_LINE_BYTES`] is searched in pieces.
    fn hold(&mut self, rest: &[u8], out: &mut Vec<u8>) {
        self.line.extend_from_slice(rest);
        if self.line.len() > MAX_LINE_BYTES {
            let line = std::mem::take(&mut self.line);
            if self.matcher.is_match(&line) {
                self.hit(self.line_start, &line, out);
            }
            self.line_start += line.len() as u64;
        }
    }

    /// The log ended: its last line (if it has no newline) is searched,
    /// then the total.
    fn end(&mut self, complete: bool, out: &mut Vec<u8>) {
        let line = std::mem::take(&mut self.line);
        if !line.is_empty() && self.matcher.is_match(&line) {
            self.hit(self.line_start, &line, out);
        }
        let total = Total {
            total: self.total,
            complete,
            bytes: self.cursor.position(),
        };
        let _ = serde_json::to_writer(&mut *out, &total);
        out.push(b'\n');
        self.done = true;
    }

    fn hit(&mut self, offset: u64, line: &[u8], out: &mut Vec<u8>) {
        self.total += 1;
        let shown = &line[..line.len().min(TEXT_BYTES)];
        // Most lines are valid UTF-8: checked in one pass, and only the
        // rest (or a character cut at `TEXT_BYTES`) gets replacements.
        let text = match std::str::from_utf8(shown) {
            Ok(text) => Cow::Borrowed(text),
            Err(_) => String::from_utf8_lossy(shown),
        };
        // The result (`line`, `offset`, `text`, `truncated` when cut) is
        // written by hand, its text escaped fast: a search can
        // answer with as many bytes as the log holds.
        let _ = write!(
            out,
            "{{\"line\":{},\"offset\":{offset},\"text\":",
            self.line_number
        );
        out.push(b'"');
        escape_into(out, &text);
        out.push(b'"');
        if shown.len() < line.len() {
            out.extend_from_slice(b",\"truncated\":true");
        }
        out.extend_from_slice(b"}\n");
    }
}
