//! The text of `log` events: log bytes decoded as UTF-8 piece by piece
//! ([`Utf8Text`]: a character split between two uploaded chunks is held
//! back whole; each maximal invalid sequence becomes one U+FFFD, as a
//! browser's `TextDecoder` does) and written as the contents of a JSON
//! string ([`JsonText`], escaped by `crate::http::json_text`: exactly
//! `serde_json`'s escapes, a word at a time while nothing needs escaping).
//!
//! JSON because SSE cannot carry a bare `\r` (WHATWG HTML, "Server-sent
//! events": CR ends a line), and logs have them.

use crate::http::json_text::escape_into;

/// Where decoded text goes: a `String`, or an event's JSON string being
/// written ([`JsonText`]).
pub trait TextOut {
    /// Appends `s`.
    fn push_str(&mut self, s: &str);

    /// Appends `c`.
    fn push(&mut self, c: char) {
        self.push_str(c.encode_utf8(&mut [0; 4]));
    }
}

impl TextOut for String {
    fn push_str(&mut self, s: &str) {
        String::push_str(self, s);
    }
}

/// The contents of a JSON string (without its quotes), escaped as
/// `serde_json` escapes (`\"`, `\\`, `\n`, `\r`, `\t`, `\b`, `\f`, other
/// control characters as `\u00XX`; everything else as it is), written
/// straight from the log's bytes: no copy of the text in between.
#[derive(Debug, Default)]
pub struct JsonText(pub Vec<u8>);

impl TextOut for JsonText {
    fn push_str(&mut self, s: &str) {
        escape_into(&mut self.0, s);
    }
}

/// Log bytes as text, fed piece by piece: valid UTF-8 as it is, each
/// maximal invalid sequence as one U+FFFD, and an incomplete sequence at the
/// end of a piece held back until the next piece completes it (or shows it
/// invalid), or [`Utf8Text::finish`] gives up on it.
#[derive(Debug, Default)]
pub struct Utf8Text {
    held: [u8; 4],
    held_len: usize,
}

impl Utf8Text {
    /// Bytes held back: the start of a character not complete yet (0 to 3).
    pub fn held(&self) -> usize {
        self.held_len
    }

    /// Appends the text of `input` (after whatever was held back) to `out`.
    pub fn push(&mut self, mut input: &[u8], out: &mut impl TextOut) {
        if self.held_len > 0 {
            input = self.complete_held(input, out);
            if self.held_len > 0 {
                return; // still incomplete: `input` is used up
            }
        }
        // Mostly the whole piece is valid: `from_utf8` checks it a word at a
        // time where `utf8_chunks` goes byte by byte.
        if let Ok(text) = std::str::from_utf8(input) {
            out.push_str(text);
            return;
        }
        let mut chunks = input.utf8_chunks().peekable();
        while let Some(chunk) = chunks.next() {
            out.push_str(chunk.valid());
            let invalid = chunk.invalid();
            if invalid.is_empty() {
                continue;
            }
            if chunks.peek().is_none() && is_incomplete(invalid) {
                // The end of `input` is the start of a character.
                self.held[..invalid.len()].copy_from_slice(invalid);
                self.held_len = invalid.len();
            } else {
                out.push(char::REPLACEMENT_CHARACTER);
            }
        }
    }

    /// The log ended: what is held back will never be completed.
    pub fn finish(&mut self, out: &mut impl TextOut) {
        if self.held_len > 0 {
            self.held_len = 0;
            out.push(char::REPLACEMENT_CHARACTER);
        }
    }

    /// Completes the held-back character with the first bytes of `input`
    /// (or finds it invalid, or still incomplete); returns the rest of
    /// `input`.
    fn complete_held<'a>(&mut self, input: &'a [u8], out: &mut impl TextOut) -> &'a [u8] {
        let held = self.held_len;
        // A character is at most 4 bytes: that many decide it.
        let take = input.len().min(4 - held);
        let mut joined = [0u8; 4];
        joined[..held].copy_from_slice(&self.held[..held]);
        joined[held..held + take].copy_from_slice(&input[..take]);
        let joined = &joined[..held + take];
        let Some(first) = joined.utf8_chunks().next() else {
            return input;
        };
        if let Some(c) = first.valid().chars().next() {
            // Completed: the held bytes were its start.
            out.push(c);
            self.held_len = 0;
            return &input[c.len_utf8() - held..];
        }
        let invalid = first.invalid();
        if invalid.len() == joined.len() && take == input.len() && is_incomplete(invalid) {
            // Still the start of a character, and `input` is used up.
            self.held[..joined.len()].copy_from_slice(joined);
            self.held_len = joined.len();
            return &[];
        }
        // Invalid: the held bytes (and any that continued them) are one
        // maximal invalid sequence.
        out.push(char::REPLACEMENT_CHARACTER);
        self.held_len = 0;
        &input[invalid.len().saturating_sub(held)..]
    }
}

/// `true` if `bytes` is the start of a UTF-8 character, cut short.
fn is_incomplete(bytes: &[u8]) -> bool {
    std::str::from_utf8(bytes).is_err_and(|e| e.error_len().is_none())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn decode_pieces(pieces: &[&[u8]]) -> (String, usize) {
        let mut text = Utf8Text::default();
        let mut out = String::new();
        let mut most_held = 0;
        for piece in pieces {
            text.push(piece, &mut out);
            most_held = most_held.max(text.held());
        }
        text.finish(&mut out);
        (out, most_held)
    }

    #[test]
    fn a_character_split_across_pieces_is_held_back_whole() {
        let euro = "€".as_bytes(); // e2 82 ac
        let mut text = Utf8Text::default();
        let mut out = String::new();
        text.push(&[b'a', euro[0]], &mut out);
        assert_eq!((out.as_str(), text.held()), ("a", 1));
        text.push(&euro[1..2], &mut out);
        assert_eq!((out.as_str(), text.held()), ("a", 2));
        text.push(&[euro[2], b'b'], &mut out);
        assert_eq!((out.as_str(), text.held()), ("a€b", 0));
    }

    #[test]
    fn invalid_bytes_become_one_replacement_each_maximal_sequence() {
        assert_eq!(decode_pieces(&[b"a\xffb"]).0, "a\u{FFFD}b");
        assert_eq!(decode_pieces(&[b"a\xe2\x82", b"b"]).0, "a\u{FFFD}b");
        assert_eq!(decode_pieces(&[b"\xf0\x90", b"A"]).0, "\u{FFFD}A");
        assert_eq!(decode_pieces(&[b"\xf0", b"\x90", b"\x80"]).0, "\u{FFFD}");
        // A lone continuation byte is not the start of anything.
        assert_eq!(decode_pieces(&[b"x\x80"]), ("x\u{FFFD}".into(), 0));
    }

    proptest! {
        /// However the bytes are cut, the text is what decoding them whole
        /// gives (`from_utf8_lossy`, like a browser's `TextDecoder`).
        #[test]
        fn pieces_decode_like_the_whole(
            bytes in prop::collection::vec(
                prop_oneof![any::<u8>(), Just(0xe2u8), Just(0x82), Just(0xac), Just(0xf0), Just(0x9d), Just(b'a')],
                0..64,
            ),
            cuts in prop::collection::vec(0usize..64, 0..8),
        ) {
            let mut cuts: Vec<usize> = cuts.into_iter().map(|c| c.min(bytes.len())).collect();
            cuts.sort_unstable();
            let mut pieces = vec![];
            let mut from = 0;
            for cut in cuts.into_iter().chain([bytes.len()]) {
                pieces.push(&bytes[from..cut]);
                from = cut;
            }
            let (text, most_held) = decode_pieces(&pieces);
            prop_assert_eq!(text, String::from_utf8_lossy(&bytes).into_owned());
            prop_assert!(most_held <= 3);
        }
    }
}
