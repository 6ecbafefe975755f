//! Byte-level helpers the dialects share: taking escape sequences out of a
//! line, and reading the timestamps CI systems write.

use std::borrow::Cow;

/// A time the log itself gives: nanoseconds since the Unix epoch (UTC).
pub type LogTime = i64;

/// The length of the escape sequence at the start of `text` (which starts
/// with `ESC`), per ECMA-48: CSI (`ESC [` parameters, one final byte in
/// `0x40..=0x7e`), the string controls APC (`ESC _`, Buildkite's
/// `ESC _bk;t=…`), OSC (`ESC ]`), DCS (`ESC P`), PM (`ESC ^`) and SOS (`ESC
/// X`), ended by `BEL` or `ESC \`, and otherwise a two-byte escape (`ESC
/// 7`, `ESC M`). An escape cut off by the line's end takes the rest.
pub fn escape_len(text: &[u8]) -> usize {
    match text.get(1) {
        Some(b'[') => text[2..]
            .iter()
            .position(|b| (0x40..=0x7e).contains(b))
            .map_or(text.len(), |end| end + 3),
        Some(b'_' | b']' | b'P' | b'^' | b'X') => {
            let mut i = 2;
            while i < text.len() {
                if text[i] == 0x07 {
                    return i + 1;
                }
                if text[i] == 0x1b && text.get(i + 1) == Some(&b'\\') {
                    return i + 2;
                }
                i += 1;
            }
            text.len()
        }
        Some(_) => 2,
        None => 1,
    }
}

/// `text` without its escape sequences ([`escape_len`]).
pub fn without_escapes(text: &[u8]) -> Cow<'_, [u8]> {
    if !text.contains(&0x1b) {
        return Cow::Borrowed(text);
    }
    let mut out = Vec::with_capacity(text.len());
    let mut i = 0;
    while i < text.len() {
        if text[i] == 0x1b {
            i += escape_len(&text[i..]);
        } else {
            out.push(text[i]);
            i += 1;
        }
    }
    Cow::Owned(out)
}

/// `text` after the escape sequences and `\r`s it starts with.
pub fn skip_escapes(mut text: &[u8]) -> &[u8] {
    loop {
        match text.first() {
            Some(0x1b) => text = &text[escape_len(text)..],
            Some(b'\r') => text = &text[1..],
            _ => return text,
        }
    }
}

/// A section name: the text without escapes and control characters,
/// trimmed (invalid UTF-8 replaced).
pub fn clean_name(name: &[u8]) -> String {
    let text = without_escapes(name);
    let text = String::from_utf8_lossy(&text);
    let out: String = text.chars().filter(|c| !c.is_control()).collect();
    out.trim().to_owned()
}

/// The number made of the ASCII digits `text` starts with, and how many
/// digits there were (up to the largest `i64`: Travis' nanoseconds since
/// the epoch have 19 digits).
pub fn leading_number(text: &[u8]) -> (i64, usize) {
    let mut n: i64 = 0;
    let mut len = 0;
    for &b in text {
        if !b.is_ascii_digit() {
            break;
        }
        match n
            .checked_mul(10)
            .and_then(|n| n.checked_add(i64::from(b - b'0')))
        {
            Some(next) => n = next,
            None => break,
        }
        len += 1;
    }
    (n, len)
}

/// Days from 1970-01-01 to a civil date (proleptic Gregorian), after
/// Howard Hinnant's `days_from_civil` (chrono-compatible date algorithms).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Reads `YYYY-MM-DD[T ]HH:MM:SS[.fraction][Z]` at the start of `text` (RFC
/// 3339 in UTC, or the space-separated form docker-worker and Treeherder's
/// markers write; a time with no zone is taken as UTC): the time and the
/// bytes read.
pub fn rfc3339(text: &[u8]) -> Option<(LogTime, usize)> {
    let digits = |from: usize, len: usize| -> Option<i64> {
        let part = text.get(from..from + len)?;
        part.iter()
            .all(u8::is_ascii_digit)
            .then(|| leading_number(part).0)
    };
    let (y, mo, d) = (digits(0, 4)?, digits(5, 2)?, digits(8, 2)?);
    if text[4] != b'-' || text[7] != b'-' || !matches!(text.get(10), Some(b'T' | b' ')) {
        return None;
    }
    let (h, mi, s) = (digits(11, 2)?, digits(14, 2)?, digits(17, 2)?);
    if text[13] != b':' || text[16] != b':' {
        return None;
    }
    let mut at = 19;
    let mut nanos = 0;
    if text.get(at) == Some(&b'.') {
        let (fraction, len) = leading_number(&text[at + 1..]);
        let len = len.min(9);
        nanos = fraction_nanos(&text[at + 1..at + 1 + len]).unwrap_or(fraction);
        at += 1 + leading_number(&text[at + 1..]).1;
    }
    if text.get(at) == Some(&b'Z') {
        at += 1;
    }
    let secs = days_from_civil(y, mo, d) * 86_400 + h * 3600 + mi * 60 + s;
    Some((secs * 1_000_000_000 + nanos, at))
}

/// Decimal fraction digits as nanoseconds (`"5"` is 500,000,000).
fn fraction_nanos(digits: &[u8]) -> Option<i64> {
    let (n, len) = leading_number(digits);
    (len == digits.len()).then(|| n * 10_i64.pow(9 - len as u32))
}

/// The time a GitHub Actions (or Azure Pipelines) line starts with: the
/// runner's prefix `YYYY-MM-DDTHH:MM:SS.fffffffZ ` (actions/runner
/// `src/Runner.Common/Logging.cs`), after an optional UTF-8 BOM; and the
/// rest of the line after it.
pub fn runner_prefix(line: &[u8]) -> Option<(LogTime, &[u8])> {
    let line = line.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(line);
    if line.len() < 20 || line.get(10) != Some(&b'T') || !line[0].is_ascii_digit() {
        return None;
    }
    let (at, len) = rfc3339(line)?;
    if line.get(len - 1) != Some(&b'Z') {
        return None;
    }
    let rest = &line[len..];
    Some((at, rest.strip_prefix(b" ").unwrap_or(rest)))
}
