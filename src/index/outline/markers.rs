//! Section markers: what a line's start says about sections, for every CI
//! system the outline knows (see the table in the module above), after what
//! decorates a line (`\r`, ANSI escapes, a timestamp).

use super::Kind;

/// What a line says, as far as the outline goes.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Marker<'a> {
    Open {
        kind: Kind,
        name: String,
        id: Option<&'a str>,
    },
    /// GitHub's end of group.
    CloseGroup,
    /// GitLab's end of the section with this id.
    CloseSection(&'a str),
    /// Taskcluster's end of the task.
    TaskFinished,
}

/// Whether a line starting with `prefix` may be a section marker: a cheap
/// look at its first byte, after what decorates it.
pub fn may_be_marker(prefix: &[u8]) -> bool {
    matches!(
        skip_decoration(prefix).first(),
        Some(b':' | b'#' | b's' | b'-' | b'+' | b'~' | b'[')
    )
}

/// The marker `prefix` (a line's start) holds, if any.
pub(super) fn marker(prefix: &[u8]) -> Option<Marker<'_>> {
    let text = skip_decoration(prefix);
    let first = *text.first()?;
    if !matches!(first, b':' | b'#' | b's' | b'-' | b'+' | b'~' | b'[') {
        return None;
    }
    let text = std::str::from_utf8(text)
        .ok()
        .or_else(|| std::str::from_utf8(&text[..valid_up_to(text)]).ok())?;
    if let Some(name) = text
        .strip_prefix("::group::")
        .or_else(|| text.strip_prefix("##[group]"))
    {
        return Some(Marker::Open {
            kind: Kind::Github,
            name: clean_name(name),
            id: None,
        });
    }
    if text.starts_with("::endgroup::") || text.starts_with("##[endgroup]") {
        return Some(Marker::CloseGroup);
    }
    if let Some(rest) = text.strip_prefix("section_start:") {
        // UNIX:ID[options]\r\e[0KHeader
        let (_, rest) = rest.split_once(':')?;
        let (id_part, header) = match rest.split_once('\r') {
            Some((id, header)) => (id, Some(header)),
            None => (rest, None),
        };
        let id = id_part.split('[').next().unwrap_or(id_part).trim_end();
        let header = header
            .map(|h| clean_name(std::str::from_utf8(skip_decoration(h.as_bytes())).unwrap_or(h)))
            .filter(|h| !h.is_empty());
        return Some(Marker::Open {
            kind: Kind::Gitlab,
            name: header.unwrap_or_else(|| id.to_owned()),
            id: Some(id),
        });
    }
    if let Some(rest) = text.strip_prefix("section_end:") {
        let (_, id) = rest.split_once(':')?;
        let id = id.split(['\r', '\x1b']).next().unwrap_or(id).trim_end();
        return Some(Marker::CloseSection(id));
    }
    for header in ["--- ", "+++ ", "~~~ "] {
        if let Some(name) = text.strip_prefix(header) {
            let name = clean_name(name);
            if !name.is_empty() {
                return Some(Marker::Open {
                    kind: Kind::Buildkite,
                    name,
                    id: None,
                });
            }
        }
    }
    if let Some(rest) = text.strip_prefix("[taskcluster ") {
        let (_, said) = rest.split_once("] ")?;
        let said = said.trim();
        if said == "=== Task Starting ===" {
            return Some(Marker::Open {
                kind: Kind::Taskcluster,
                name: "Task".into(),
                id: None,
            });
        }
        if said == "=== Task Finished ===" {
            return Some(Marker::TaskFinished);
        }
        if said.starts_with("Executing command ") {
            return Some(Marker::Open {
                kind: Kind::Taskcluster,
                name: clean_name(said),
                id: None,
            });
        }
    }
    None
}

/// `text` without what comes before a line's own words: `\r`, ANSI escape
/// sequences (GitLab's `\e[0K`, colours), and an ISO 8601 timestamp with a
/// space (`2024-05-01T10:00:00.1234567Z `, as GitHub's log downloads have).
fn skip_decoration(mut text: &[u8]) -> &[u8] {
    loop {
        match text {
            [b'\r', rest @ ..] => text = rest,
            [0x1b, b'[', rest @ ..] => {
                // CSI: parameters, then one final byte in 0x40..=0x7e.
                let end = rest.iter().position(|b| (0x40..=0x7e).contains(b));
                match end {
                    Some(end) => text = &rest[end + 1..],
                    None => return text,
                }
            }
            [d, ..] if d.is_ascii_digit() && looks_like_timestamp(text) => {
                match text.iter().position(|&b| b == b' ') {
                    Some(space) => text = &text[space + 1..],
                    None => return text,
                }
            }
            _ => return text,
        }
    }
}

/// `YYYY-MM-DDTHH:MM:SS` at the start.
fn looks_like_timestamp(text: &[u8]) -> bool {
    text.len() >= 20
        && text[..4].iter().all(u8::is_ascii_digit)
        && text[4] == b'-'
        && text[7] == b'-'
        && text[10] == b'T'
        && text[13] == b':'
}

/// How many leading bytes of `text` are valid UTF-8 (a prefix cut inside a
/// character is still read up to it).
fn valid_up_to(text: &[u8]) -> usize {
    match std::str::from_utf8(text) {
        Ok(_) => text.len(),
        Err(e) => e.valid_up_to(),
    }
}

/// A section name: trimmed, without ANSI escapes.
fn clean_name(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut chars = name.chars();
    while let Some(c) = chars.next() {
        if c == '\x1b' {
            // Skip to the CSI's final byte.
            for c in chars.by_ref() {
                if ('@'..='~').contains(&c) && c != '[' {
                    break;
                }
            }
            continue;
        }
        if !c.is_control() {
            out.push(c);
        }
    }
    out.trim().to_owned()
}
