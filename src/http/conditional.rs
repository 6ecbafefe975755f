//! Validators and conditional requests (RFC 9110 §8.8 and §13): the log's
//! entity tag, and what `If-Match`, `If-None-Match` and `If-Range` make of a
//! request for it.
//!
//! **The entity tag** is strong and names one log: a random id drawn when
//! livelog starts (one daemon, one upload), plus the content coding
//! (`"<id>"`, `"<id>-gzip"`, `"<id>-zstd"`: each coding is a representation
//! of its own, RFC 9110 §8.8.3). It stays the same while the log grows and
//! once it is complete, because livelog's log is append-only: the byte at
//! any offset of a representation tagged `"<id>"` never changes, which is
//! what a strong validator promises a range request (§8.8.1, §14.2). A
//! restarted livelog draws a new id, so a reader resuming with `If-Range`
//! an old log's tag gets the new log whole, never a splice of two logs.
//!
//! **The preconditions**, in the order of RFC 9110 §13.2.2:
//! 1. `If-Match` (strong comparison, §13.1.1): none of its tags is this
//!    representation's, and it is not `*` → `412 Precondition Failed`;
//! 2. `If-None-Match` (weak comparison, §13.1.2): one of its tags is this
//!    representation's, or it is `*` → `304 Not Modified` for `GET` and
//!    `HEAD`. On a live log this says "the same log", not "it has not
//!    grown": a client that holds part of it asks for the rest with a
//!    `Range` (RFC 8673);
//! 3. `If-Range` (§13.1.5): the `Range` is honoured only if its validator
//!    is an entity tag that strongly matches; a date (livelog sends no
//!    `Last-Modified`) or any other tag gets the whole representation.

use http::HeaderMap;
use http::header::{IF_MATCH, IF_NONE_MATCH, IF_RANGE};

/// A strong entity tag, as sent in `ETag` (with its double quotes).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EntityTag(String);

impl EntityTag {
    /// The tag of the representation of log `log_id` in `coding` (`None`:
    /// identity). `log_id` is URL-safe base64 or any other `etagc` text
    /// (RFC 9110 §8.8.3: visible ASCII but `"`).
    pub fn of_log(log_id: &str, coding: Option<&str>) -> Self {
        match coding {
            None => EntityTag(format!("\"{log_id}\"")),
            Some(coding) => EntityTag(format!("\"{log_id}-{coding}\"")),
        }
    }

    /// The header value: `"…"`.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// What the preconditions of a request make of it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Precondition {
    /// Answer it as if it had none.
    Proceed,
    /// `304 Not Modified` (RFC 9110 §15.4.5).
    NotModified,
    /// `412 Precondition Failed` (RFC 9110 §15.5.13).
    Failed,
}

/// Evaluates `If-Match` and `If-None-Match` (RFC 9110 §13.2.2, steps 1 and
/// 3) of a `GET` or `HEAD` for the representation tagged `current`.
pub fn evaluate(headers: &HeaderMap, current: &EntityTag) -> Precondition {
    if let Some(list) = field_list(headers, IF_MATCH) {
        let any = list.iter().any(|t| *t == "*" || strong_match(t, current));
        if !any {
            return Precondition::Failed;
        }
    }
    if let Some(list) = field_list(headers, IF_NONE_MATCH) {
        if list.iter().any(|t| *t == "*" || weak_match(t, current)) {
            return Precondition::NotModified;
        }
    }
    Precondition::Proceed
}

/// Whether a request's `Range` may be honoured for the representation
/// tagged `current`: there is no `If-Range`, or it holds an entity tag that
/// strongly matches (RFC 9110 §13.1.5). An `If-Range` date never matches:
/// livelog sends no `Last-Modified`.
pub fn range_allowed(headers: &HeaderMap, current: &EntityTag) -> bool {
    let mut fields = headers.get_all(IF_RANGE).iter();
    match (fields.next(), fields.next()) {
        (None, _) => true,
        (Some(value), None) => value
            .to_str()
            .is_ok_and(|v| strong_match(v.trim(), current)),
        // Two `If-Range` fields are not one validator.
        (Some(_), Some(_)) => false,
    }
}

/// The comma-separated members of every `name` field (`None` if there is
/// none). A field that is not visible ASCII is one member that matches
/// nothing.
fn field_list(headers: &HeaderMap, name: http::header::HeaderName) -> Option<Vec<&str>> {
    let mut fields = headers.get_all(name).iter().peekable();
    fields.peek()?;
    Some(
        fields
            .flat_map(|v| v.to_str().unwrap_or("\u{0}").split(','))
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .collect(),
    )
}

/// Strong comparison (RFC 9110 §8.8.3.2): both strong, same opaque tag.
fn strong_match(tag: &str, current: &EntityTag) -> bool {
    !tag.starts_with("W/") && tag == current.as_str()
}

/// Weak comparison: the opaque tags are the same, weak or not.
fn weak_match(tag: &str, current: &EntityTag) -> bool {
    tag.strip_prefix("W/").unwrap_or(tag) == current.as_str()
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    fn headers(pairs: &[(http::header::HeaderName, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(k.clone(), HeaderValue::from_str(v).unwrap());
        }
        h
    }

    #[test]
    fn tags_name_the_log_and_its_coding() {
        assert_eq!(EntityTag::of_log("abc", None).as_str(), "\"abc\"");
        assert_eq!(
            EntityTag::of_log("abc", Some("gzip")).as_str(),
            "\"abc-gzip\""
        );
    }

    #[test]
    fn preconditions_in_rfc_9110_order() {
        let tag = EntityTag::of_log("abc", None);
        let eval = |pairs: &[(http::header::HeaderName, &str)]| evaluate(&headers(pairs), &tag);
        assert_eq!(eval(&[]), Precondition::Proceed);
        assert_eq!(eval(&[(IF_MATCH, "\"abc\"")]), Precondition::Proceed);
        assert_eq!(eval(&[(IF_MATCH, "\"x\", \"abc\"")]), Precondition::Proceed);
        assert_eq!(eval(&[(IF_MATCH, "*")]), Precondition::Proceed);
        assert_eq!(eval(&[(IF_MATCH, "\"old\"")]), Precondition::Failed);
        assert_eq!(
            eval(&[(IF_MATCH, "W/\"abc\"")]),
            Precondition::Failed,
            "If-Match compares strongly"
        );
        assert_eq!(
            eval(&[(IF_NONE_MATCH, "\"abc\"")]),
            Precondition::NotModified
        );
        assert_eq!(
            eval(&[(IF_NONE_MATCH, "W/\"abc\"")]),
            Precondition::NotModified
        );
        assert_eq!(eval(&[(IF_NONE_MATCH, "*")]), Precondition::NotModified);
        assert_eq!(eval(&[(IF_NONE_MATCH, "\"old\"")]), Precondition::Proceed);
        assert_eq!(
            eval(&[(IF_MATCH, "\"old\""), (IF_NONE_MATCH, "\"abc\"")]),
            Precondition::Failed,
            "If-Match first"
        );
        assert_eq!(
            eval(&[(IF_NONE_MATCH, "\"abc-gzip\"")]),
            Precondition::Proceed
        );
    }

    #[test]
    fn if_range_needs_a_strong_match() {
        let tag = EntityTag::of_log("abc", None);
        let allowed = |v: &str| range_allowed(&headers(&[(IF_RANGE, v)]), &tag);
        assert!(range_allowed(&HeaderMap::new(), &tag));
        assert!(allowed("\"abc\""));
        assert!(!allowed("\"older-log\""));
        assert!(!allowed("W/\"abc\""));
        assert!(!allowed("Mon, 23 Nov 2026 15:00:00 GMT"));
    }
}
