//! JSON string contents written straight from log text, at the speed of a
//! copy while nothing needs escaping: the text of event-stream `log`
//! events (`sse/`) and of search results (`reader/search.rs`), where a
//! reader can be sent as many bytes of JSON as the log holds.

/// Appends `text` to `out` as the contents of a JSON string (RFC 8259 §7;
/// without its quotes): `"`, `\` and the control characters U+0000–U+001F
/// escaped exactly as `serde_json` escapes them (`\"`, `\\`, `\n`, `\r`,
/// `\t`, `\b`, `\f`, the others `\u00XX` in lower-case hex), everything
/// else (UTF-8 included) as it is. Eight bytes are checked at once, and a
/// run that needs no escape is copied whole.
pub fn escape_into(out: &mut Vec<u8>, text: &str) {
    let bytes = text.as_bytes();
    out.reserve(bytes.len());
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
        let byte = bytes[at];
        let escaped: &[u8] = match byte {
            b'"' => b"\\\"",
            b'\\' => b"\\\\",
            b'\n' => b"\\n",
            b'\r' => b"\\r",
            b'\t' => b"\\t",
            0x08 => b"\\b",
            0x0c => b"\\f",
            0..0x20 => &[
                b'\\',
                b'u',
                b'0',
                b'0',
                HEX[usize::from(byte >> 4)],
                HEX[usize::from(byte & 0xf)],
            ],
            _ => {
                at += 1;
                continue;
            }
        };
        out.extend_from_slice(&bytes[copied..at]);
        out.extend_from_slice(escaped);
        at += 1;
        copied = at;
    }
    out.extend_from_slice(&bytes[copied..]);
}

const HEX: &[u8; 16] = b"0123456789abcdef";
const ONES: u64 = u64::MAX / 255;
const HIGHS: u64 = ONES * 0x80;

/// The high bit of each byte of `word` (little-endian) that is a control
/// character, `"` or `\`, and maybe of bytes above one, by the classic "has
/// a byte less than n" and "has a zero byte" word tricks: a byte borrows
/// from the next only when it is below the bound itself. So the mask is
/// zero exactly when no byte needs an escape, and its lowest bit is always
/// on a byte that does.
fn escape_mask(word: u64) -> u64 {
    let below_space = word.wrapping_sub(ONES * 0x20) & !word;
    let quote = word ^ (ONES * u64::from(b'"'));
    let backslash = word ^ (ONES * u64::from(b'\\'));
    let is_quote = quote.wrapping_sub(ONES) & !quote;
    let is_backslash = backslash.wrapping_sub(ONES) & !backslash;
    (below_space | is_quote | is_backslash) & HIGHS
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn quoted(text: &str) -> String {
        let mut out = b"\"".to_vec();
        escape_into(&mut out, text);
        out.push(b'"');
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn escapes_what_json_needs_and_nothing_else() {
        assert_eq!(quoted(""), r#""""#);
        assert_eq!(
            quoted(
                "\u{1b}[1m\u{1b}[91merror\u{1b}[0m: \"x\" \\ \t\r\n\u{8}\u{c}\u{0}\u{1f} ü ✓ 🦀 \u{7f}"
            ),
            r#""\u001b[1m\u001b[91merror\u001b[0m: \"x\" \\ \t\r\n\b\f\u0000\u001f ü ✓ 🦀 "#
                .to_owned()
                + "\u{7f}\""
        );
    }

    #[test]
    fn the_mask_flags_every_escaped_byte_in_any_lane_and_its_lowest_bit_is_one() {
        for b in 0..=255u8 {
            let escaped = b < 0x20 || b == b'"' || b == b'\\';
            for lane in 0..8 {
                let mut word = [b'a'; 8];
                word[lane] = b;
                let mask = escape_mask(u64::from_le_bytes(word));
                assert_eq!(mask != 0, escaped, "{b:#x} in lane {lane}");
                if escaped {
                    assert_eq!(mask.trailing_zeros() / 8, lane as u32, "{b:#x}");
                }
                // Bytes above an escaped one may be flagged, never below.
                word[7] = 0;
                let mask = escape_mask(u64::from_le_bytes(word));
                let lowest = if escaped { lane } else { 7 };
                assert_eq!(mask.trailing_zeros() / 8, lowest as u32, "{b:#x}, 0 above");
            }
        }
        assert_eq!(escape_mask(u64::from_le_bytes(*b"\x7f\xff\x80 ~!#a")), 0);
    }

    #[test]
    fn every_ascii_byte_in_every_position_of_two_words() {
        for byte in 0..=0x7fu8 {
            for at in 0..16 {
                let mut text = vec![b'a'; 16];
                text[at] = byte;
                let text = String::from_utf8(text).unwrap();
                assert_eq!(quoted(&text), serde_json::to_string(&text).unwrap());
            }
        }
    }

    proptest! {
        /// Escaping is exactly `serde_json`'s, whatever the text.
        #[test]
        fn the_same_bytes_as_serde_json(
            text in prop_oneof!["\\PC{0,80}", "[\\x00-\\x7f]{0,80}", "[\"\\\\\\x00-\\x1f a]{0,40}"],
        ) {
            prop_assert_eq!(quoted(&text), serde_json::to_string(&text).unwrap());
        }
    }
}
