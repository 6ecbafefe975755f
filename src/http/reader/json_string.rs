//! JSON strings written at the speed of a copy, for the text of search
//! results: a search of a 1 GiB build log can answer with as many bytes of
//! matching lines as the log holds, and escaping them a byte at a time
//! (serde_json's way) cost a whole search more than reading the log did.

/// Appends `text` to `out` as a JSON string (RFC 8259 §7): in quotes, with
/// `"`, `\` and the control characters U+0000–U+001F escaped, everything
/// else as it is (UTF-8). The bytes are those serde_json writes for the
/// same string; eight bytes are checked at once, and a run of them that
/// needs no escape is copied whole.
pub(super) fn write_json_string(out: &mut Vec<u8>, text: &str) {
    let bytes = text.as_bytes();
    out.reserve(bytes.len() + 2);
    out.push(b'"');
    // `bytes[copied..at]` needs no escape and is not written yet.
    let mut copied = 0;
    let mut at = 0;
    while at < bytes.len() {
        if let Some(word) = bytes[at..].first_chunk::<8>() {
            let mask = escape_mask(u64::from_le_bytes(*word));
            if mask == 0 {
                at += 8;
                continue;
            }
            // The lowest flagged byte is one to escape (see `escape_mask`).
            at += (mask.trailing_zeros() / 8) as usize;
        }
        if let Some(escaped) = escape(bytes[at]) {
            out.extend_from_slice(&bytes[copied..at]);
            escaped.write(out);
            copied = at + 1;
        }
        at += 1;
    }
    out.extend_from_slice(&bytes[copied..]);
    out.push(b'"');
}

const ONES: u64 = 0x0101_0101_0101_0101;
const HIGH: u64 = 0x8080_8080_8080_8080;

/// The high bit of each of the eight bytes of `word` (little-endian) that
/// is a control character, `"` or `\`, and maybe of bytes above one: a byte
/// borrows from the next only when it is below the bound itself. So the
/// mask is zero exactly when no byte needs an escape, and its lowest bit
/// is always a byte that does.
fn escape_mask(word: u64) -> u64 {
    let below = |bound: u64| word.wrapping_sub(ONES * bound) & !word & HIGH;
    let zero = |v: u64| v.wrapping_sub(ONES) & !v & HIGH;
    below(0x20) | zero(word ^ (ONES * u64::from(b'"'))) | zero(word ^ (ONES * u64::from(b'\\')))
}

/// How a byte that needs it is escaped.
enum Escaped {
    /// `\` and this letter: `\"`, `\\`, `\b`, `\f`, `\n`, `\r`, `\t`.
    Short(u8),
    /// `\u00XX`, lower-case hex.
    Unicode(u8),
}

impl Escaped {
    fn write(self, out: &mut Vec<u8>) {
        const HEX: &[u8; 16] = b"0123456789abcdef";
        match self {
            Escaped::Short(letter) => out.extend_from_slice(&[b'\\', letter]),
            Escaped::Unicode(byte) => out.extend_from_slice(&[
                b'\\',
                b'u',
                b'0',
                b'0',
                HEX[usize::from(byte >> 4)],
                HEX[usize::from(byte & 0xf)],
            ]),
        }
    }
}

fn escape(byte: u8) -> Option<Escaped> {
    Some(match byte {
        b'"' => Escaped::Short(b'"'),
        b'\\' => Escaped::Short(b'\\'),
        0x08 => Escaped::Short(b'b'),
        0x0c => Escaped::Short(b'f'),
        b'\n' => Escaped::Short(b'n'),
        b'\r' => Escaped::Short(b'r'),
        b'\t' => Escaped::Short(b't'),
        0..=0x1f => Escaped::Unicode(byte),
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn written(text: &str) -> String {
        let mut out = Vec::new();
        write_json_string(&mut out, text);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn escapes_what_json_needs_and_nothing_else() {
        assert_eq!(written(""), r#""""#);
        assert_eq!(
            written(
                "\u{1b}[1m\u{1b}[91merror\u{1b}[0m: \"x\" \\ \t\r\n\u{8}\u{c}\u{0}\u{1f} ü ✓ 🦀 \u{7f}"
            ),
            r#""\u001b[1m\u001b[91merror\u001b[0m: \"x\" \\ \t\r\n\b\f\u0000\u001f ü ✓ 🦀 "#
                .to_owned()
                + "\u{7f}\""
        );
    }

    #[test]
    fn every_byte_value_in_every_position_of_a_word() {
        for byte in 0..=0x7fu8 {
            for at in 0..16 {
                let mut text = vec![b'a'; 16];
                text[at] = byte;
                let text = String::from_utf8(text).unwrap();
                assert_eq!(written(&text), serde_json::to_string(&text).unwrap());
            }
        }
    }

    proptest! {
        #[test]
        fn the_same_bytes_as_serde_json(text in "(\\PC|[\\x00-\\x1f\"\\\\]){0,64}") {
            prop_assert_eq!(written(&text), serde_json::to_string(&text).unwrap());
        }
    }
}
