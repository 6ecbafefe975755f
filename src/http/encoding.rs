//! Content negotiation: which coding of the log a reader gets, from its
//! `Accept-Encoding` (RFC 9110 §12.5.3).
//!
//! * A request with `Range` gets the identity coding: byte ranges count the
//!   log's own bytes, so resuming works as documented whatever the client
//!   accepts. So does a request without `Accept-Encoding` (a client that did
//!   not ask may not decode).
//! * Otherwise the codings livelog has (`gzip`, also spelled `x-gzip`, and
//!   `zstd`) are weighed by their q-values; `*` stands for any of them not
//!   listed. The highest weight above 0 wins, zstd between equals (smaller
//!   and faster to decode). Identity wins only when listed (or matched by
//!   `*`) with a higher weight than every coding.
//! * Nothing acceptable, even with identity forbidden (`identity;q=0`) and
//!   only unknown codings offered: identity, as §12.5.3 allows. Never a
//!   `406` or `415`.
//!
//! An element livelog cannot parse (a malformed q-value) is ignored, as if
//! not sent: the worst that follows is the identity coding, which every
//! client can read.

use http::HeaderMap;
use http::header::{ACCEPT_ENCODING, RANGE};

use crate::store::Codec;

/// The coding to send for a request with `headers`: `Some` codec, or `None`
/// for identity (the log's own bytes).
pub fn choose(headers: &HeaderMap) -> Option<Codec> {
    if headers.contains_key(RANGE) {
        return None;
    }
    let mut fields = headers.get_all(ACCEPT_ENCODING).iter().peekable();
    fields.peek()?;
    // Several fields are one comma-separated list (RFC 9110 §5.3); a field
    // that is not visible ASCII is ignored.
    let list: Vec<&str> = fields.filter_map(|v| v.to_str().ok()).collect();
    negotiate(&list.join(","))
}

/// The weights a client gives each coding, in thousandths (q=1 is 1000).
#[derive(Debug, Default)]
struct Weights {
    gzip: Option<u16>,
    zstd: Option<u16>,
    identity: Option<u16>,
    any: Option<u16>,
}

/// The coding an `Accept-Encoding` value asks for (see the module
/// documentation); `None` for identity.
pub fn negotiate(accept_encoding: &str) -> Option<Codec> {
    let mut w = Weights::default();
    for element in accept_encoding.split(',') {
        let mut parts = element.split(';');
        let coding = parts.next().unwrap_or("").trim();
        if coding.is_empty() {
            continue;
        }
        let Some(q) = weight(parts) else { continue };
        let slot = if coding.eq_ignore_ascii_case("gzip") || coding.eq_ignore_ascii_case("x-gzip") {
            &mut w.gzip
        } else if coding.eq_ignore_ascii_case("zstd") {
            &mut w.zstd
        } else if coding.eq_ignore_ascii_case("identity") {
            &mut w.identity
        } else if coding == "*" {
            &mut w.any
        } else {
            continue;
        };
        // Listed twice: the most favourable weight counts.
        *slot = Some(slot.map_or(q, |was| was.max(q)));
    }
    let gzip = w.gzip.or(w.any).unwrap_or(0);
    let zstd = w.zstd.or(w.any).unwrap_or(0);
    let identity = w.identity.or(w.any).unwrap_or(0);
    let (codec, q) = if zstd >= gzip {
        (Codec::Zstd, zstd)
    } else {
        (Codec::Gzip, gzip)
    };
    (q > 0 && q >= identity).then_some(codec)
}

/// The q-value among an element's parameters (thousandths; 1000 when
/// absent), or `None` when it is malformed (RFC 9110 §12.4.2: `0` or `1`,
/// then up to three decimals, at most 1).
fn weight<'a>(params: impl Iterator<Item = &'a str>) -> Option<u16> {
    let mut q = 1000;
    for param in params {
        let (name, value) = param.split_once('=')?;
        if !name.trim().eq_ignore_ascii_case("q") {
            continue; // no other parameter means anything to a coding
        }
        let value = value.trim();
        let (int, frac) = value.split_once('.').unwrap_or((value, ""));
        if !(int == "0" || int == "1")
            || frac.len() > 3
            || !frac.bytes().all(|b| b.is_ascii_digit())
        {
            return None;
        }
        let thousandths = frac
            .bytes()
            .chain(std::iter::repeat(b'0'))
            .take(3)
            .fold(0u16, |acc, b| acc * 10 + u16::from(b - b'0'));
        q = if int == "1" {
            if thousandths != 0 {
                return None;
            }
            1000
        } else {
            thousandths
        };
    }
    Some(q)
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    const GZIP: Option<Codec> = Some(Codec::Gzip);
    const ZSTD: Option<Codec> = Some(Codec::Zstd);
    const IDENTITY: Option<Codec> = None;

    #[test]
    fn q_values_choose_between_equals_zstd() {
        for (accept, want) in [
            ("gzip", GZIP),
            ("x-gzip", GZIP),
            ("GZip", GZIP),
            ("zstd", ZSTD),
            ("gzip, zstd", ZSTD),
            ("gzip, deflate, br, zstd", ZSTD), // Chrome, curl --compressed
            ("gzip, deflate, br", GZIP),       // older browsers
            ("zstd;q=0.5, gzip", GZIP),
            ("gzip;q=0.5, zstd;q=0.9", ZSTD),
            ("gzip;q=0.8,zstd;q=0.8", ZSTD),
            ("gzip ; q=0.001", GZIP),
            ("gzip;Q=1.000", GZIP),
            ("gzip;q=0", IDENTITY),
            ("gzip;q=0.000, identity", IDENTITY),
            ("gzip;q=0, zstd;q=0", IDENTITY),
            ("*", ZSTD),
            ("*;q=0.5, gzip", GZIP),
            ("gzip;q=0, *", ZSTD),
            ("*;q=0", IDENTITY),
            ("identity", IDENTITY),
            ("identity, gzip", GZIP), // equal weights: compress
            ("identity;q=1, gzip;q=0.5", IDENTITY),
            ("gzip;q=0.5, identity;q=0.2", GZIP),
            // Nothing known acceptable, identity forbidden: identity all the
            // same (RFC 9110 §12.5.3), never a 406.
            ("br, identity;q=0", IDENTITY),
            ("deflate", IDENTITY),
            ("", IDENTITY),
            // Malformed weights are ignored with their element.
            ("gzip;q=2", IDENTITY),
            ("gzip;q=1.5", IDENTITY),
            ("gzip;q=0.1234", IDENTITY),
            ("gzip;q=abc, zstd", ZSTD),
            ("gzip;q", IDENTITY),
            // Unknown parameters are ignored, the coding is not.
            ("gzip;level=9", GZIP),
            ("gzip, gzip;q=0", GZIP),
            (" , ,gzip,", GZIP),
        ] {
            assert_eq!(negotiate(accept), want, "Accept-Encoding: {accept:?}");
        }
    }

    #[test]
    fn range_or_no_accept_encoding_means_identity_and_fields_combine() {
        let mut headers = HeaderMap::new();
        assert_eq!(choose(&headers), IDENTITY, "no Accept-Encoding");
        headers.insert(ACCEPT_ENCODING, HeaderValue::from_static("gzip"));
        assert_eq!(choose(&headers), GZIP);
        headers.append(ACCEPT_ENCODING, HeaderValue::from_static("zstd"));
        assert_eq!(choose(&headers), ZSTD, "two fields are one list");
        headers.insert(RANGE, HeaderValue::from_static("bytes=0-"));
        assert_eq!(choose(&headers), IDENTITY, "a Range gets identity");
    }
}
