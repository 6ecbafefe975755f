//! Byte ranges of a log that may still be growing.
//!
//! Parsing the `Range` header is left to `http-range-header` (strict RFC 9110
//! §14.1.1 syntax); this module decides what livelog honours and what a range
//! selects:
//!
//! * only a single range of unit `bytes` is honoured; another unit, several
//!   ranges, or invalid syntax (including `first > last`) mean the header is
//!   ignored and the whole log is served with `200` (RFC 9110 §14.2: a server
//!   MAY ignore `Range`);
//! * a **complete** log of length `L` is an ordinary representation: RFC 9110
//!   §14.1.2 and §14.4 (`Content-Range: bytes first-last/L`), and §15.5.17 for
//!   `416` (`Content-Range: bytes */L`);
//! * a **live** log (upload running, not yet started, or broken) of current
//!   length `W` follows RFC 8673: its complete length is unknown, so
//!   `Content-Range` says `/*`; `bytes=a-` returns what exists now (§2.1);
//!   `bytes=a-b` with `b >= W` echoes `b` and keeps following the log as it
//!   grows (§2.2), waiting for byte `a` if it does not exist yet.

use http::HeaderMap;
use http::header::RANGE;
use http_range_header::{EndPosition, RangeUnsatisfiableError, StartPosition};

use crate::store::{Phase, Progress};

/// One byte range as the client wrote it (RFC 9110 §14.1.1).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ByteRangeSpec {
    /// `bytes=first-last` (both inclusive, `first <= last`).
    FromTo {
        /// First byte position.
        first: u64,
        /// Last byte position, inclusive; may lie past the end.
        last: u64,
    },
    /// `bytes=first-`: from `first` to the end.
    From {
        /// First byte position.
        first: u64,
    },
    /// `bytes=-len`: the last `len` bytes (`len` may be 0: unsatisfiable).
    Suffix {
        /// Suffix length in bytes.
        len: u64,
    },
}

/// The range a request's headers ask for, or `None` for the whole log.
///
/// Whether an `If-Range` lets it be honoured is the caller's to decide
/// first (`http::conditional::range_allowed`, RFC 9110 §13.1.5). Two
/// `Range` fields are one list of ranges (RFC 9110 §5.3): a multi-range
/// request, which livelog ignores like any other. Otherwise the one field
/// is [`parse`]d.
pub fn requested(headers: &HeaderMap) -> Option<ByteRangeSpec> {
    let mut fields = headers.get_all(RANGE).iter();
    match (fields.next(), fields.next()) {
        (Some(value), None) => value.to_str().ok().and_then(parse),
        _ => None,
    }
}

/// Parses a `Range` header value into the one range livelog honours.
///
/// Returns `None` when the header must be ignored: a unit other than `bytes`
/// (compared case-insensitively, RFC 9110 §14.1), more than one range, or
/// syntax that is not a valid `ranges-specifier` (RFC 9110 §14.1.1), which
/// includes `first > last`. `http-range-header` also refuses positions
/// written with leading zeros (`bytes=007-`) and positions past `u64::MAX`,
/// so those are ignored too: serving the whole log is always allowed
/// (§14.2). `bytes=-0` is valid syntax that selects nothing, so it is
/// returned (as a zero-length suffix) and answered `416`.
pub fn parse(value: &str) -> Option<ByteRangeSpec> {
    const UNIT: &str = "bytes=";
    let set = value.get(UNIT.len()..)?;
    if !value[..UNIT.len()].eq_ignore_ascii_case(UNIT) {
        return None;
    }
    let normalized = format!("{UNIT}{set}");
    match http_range_header::parse_range_header(&normalized) {
        Ok(parsed) => match parsed.ranges.as_slice() {
            [only] => match (only.start, only.end) {
                (StartPosition::Index(first), EndPosition::Index(last)) if first <= last => {
                    Some(ByteRangeSpec::FromTo { first, last })
                }
                (StartPosition::Index(_), EndPosition::Index(_)) => None,
                (StartPosition::Index(first), EndPosition::LastByte) => {
                    Some(ByteRangeSpec::From { first })
                }
                (StartPosition::FromLast(len), _) => Some(ByteRangeSpec::Suffix { len }),
            },
            _ => None,
        },
        // `bytes=-0` is valid syntax that selects nothing (RFC 9110 §14.1.1:
        // a suffix range needs a non-zero length to be satisfiable), so it
        // gets a 416 rather than being ignored.
        Err(RangeUnsatisfiableError::ZeroSuffix) if set == "-0" => {
            Some(ByteRangeSpec::Suffix { len: 0 })
        }
        Err(_) => None,
    }
}

/// What a request selects from the log as it stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Selection {
    /// `200 OK`: the whole log from byte 0, following it while it grows.
    /// `content_length` is set when the log is complete.
    Full {
        /// The complete length in bytes, if the log is complete.
        content_length: Option<u64>,
    },
    /// `206 Partial Content`.
    Partial(Partial),
    /// `416 Range Not Satisfiable`, with `Content-Range: bytes */current_length`.
    Unsatisfiable {
        /// The current length of the log in bytes (RFC 9110 §15.5.17).
        current_length: u64,
    },
}

/// A satisfiable range: what `Content-Range` says and how the body ends.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Partial {
    /// First byte position.
    pub first: u64,
    /// Last byte position (inclusive) as stated in `Content-Range`; for a
    /// live follow range this is the client's own end (RFC 8673 §2.2).
    pub last: u64,
    /// The complete length after the `/` of `Content-Range`, or `None` for
    /// `*` (live content, RFC 8673).
    pub complete_length: Option<u64>,
    /// `true` when every byte of `first..=last` is stored already, so the
    /// response has a `Content-Length`; `false` for a live range that follows
    /// the log until `last` or the end of the upload.
    pub stored: bool,
}

impl Partial {
    /// The `Content-Range` value (RFC 9110 §14.4, RFC 8673 §2).
    pub fn content_range(&self) -> String {
        match self.complete_length {
            Some(len) => format!("bytes {}-{}/{}", self.first, self.last, len),
            None => format!("bytes {}-{}/*", self.first, self.last),
        }
    }

    /// Bytes in the range (`last - first + 1`), saturating at `u64::MAX`
    /// for the one range that has more (`bytes=0-18446744073709551615`).
    pub fn len(&self) -> u64 {
        (self.last - self.first).saturating_add(1)
    }

    /// Always `false`: a satisfiable range holds at least one byte.
    pub fn is_empty(&self) -> bool {
        false
    }
}

/// Decides what `range` (already parsed; `None` if absent or ignored) selects
/// from the log as it stands in `progress`.
pub fn select(range: Option<ByteRangeSpec>, progress: Progress) -> Selection {
    let len = progress.len;
    let complete = progress.phase == Phase::Complete;
    let Some(range) = range else {
        return Selection::Full {
            content_length: complete.then_some(len),
        };
    };
    let unsatisfiable = Selection::Unsatisfiable {
        current_length: len,
    };
    let stored = |first: u64, last: u64| {
        Selection::Partial(Partial {
            first,
            last,
            complete_length: complete.then_some(len),
            stored: true,
        })
    };
    match range {
        ByteRangeSpec::Suffix { len: n } => {
            if n == 0 || len == 0 {
                unsatisfiable
            } else {
                stored(len - n.min(len), len - 1)
            }
        }
        ByteRangeSpec::From { first } => {
            if first >= len {
                unsatisfiable
            } else {
                stored(first, len - 1)
            }
        }
        ByteRangeSpec::FromTo { first, last } => {
            if complete {
                if first >= len {
                    unsatisfiable
                } else {
                    stored(first, last.min(len - 1))
                }
            } else if last < len {
                stored(first, last)
            } else {
                // RFC 8673 §2.2: the client asked past the live end; echo
                // its end and follow the log there.
                Selection::Partial(Partial {
                    first,
                    last,
                    complete_length: None,
                    stored: false,
                })
            }
        }
    }
}

/// The `Content-Range` value of a `416` response: `bytes */current_length`.
pub fn unsatisfied_range(current_length: u64) -> String {
    format!("bytes */{current_length}")
}

#[cfg(test)]
mod tests;
