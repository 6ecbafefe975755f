//! TeamCity service messages (JetBrains TeamCity docs, "Service messages:
//! blocks of service messages"): `##teamcity[blockOpened name='NAME']`
//! opens a block, `##teamcity[blockClosed name='NAME']` closes it; values
//! are quoted with `'` and escaped with `|` (`|'`, `||`, `|n`, `|[`, `|]`).
//! A service message may follow other output on its line.

use super::super::text::clean_name;
use super::{Dialect, Marker};

/// The value of `attribute='…'` in a message, unescaped.
fn attribute(message: &[u8], attribute: &str) -> Option<Vec<u8>> {
    let key = format!("{attribute}='");
    let at = memchr::memmem::find(message, key.as_bytes())? + key.len();
    let mut out = Vec::new();
    let mut bytes = message[at..].iter();
    while let Some(&b) = bytes.next() {
        match b {
            b'\'' => return Some(out),
            b'|' => match bytes.next()? {
                b'n' => out.push(b'\n'),
                b'r' => out.push(b'\r'),
                &other => out.push(other),
            },
            _ => out.push(b),
        }
    }
    None
}

pub(super) fn markers(line: &[u8]) -> Vec<Marker> {
    let mut out = Vec::new();
    for at in memchr::memmem::find_iter(line, b"##teamcity[") {
        let message = &line[at + 11..];
        let name = attribute(message, "name").map(|n| clean_name(&n));
        if message.starts_with(b"blockOpened ") {
            if let Some(name) = name {
                out.push(Marker::Open {
                    kind: Dialect::Teamcity,
                    id: Some(name.clone()),
                    name,
                    at: None,
                    flat: false,
                });
            }
        } else if message.starts_with(b"blockClosed ") {
            out.push(Marker::Close {
                kind: Dialect::Teamcity,
                id: name,
                at: None,
                only: false,
            });
        }
    }
    out
}
