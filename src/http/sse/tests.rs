//! Tests of the event stream: which requests get one, where it resumes,
//! and the frames of a whole, a resumed and a broken log.

use super::*;
use crate::store::{LogStore, StoreLimits};
use http::HeaderValue;

fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
    let mut h = HeaderMap::new();
    for (k, v) in pairs {
        h.append(
            HeaderName::from_bytes(k.as_bytes()).unwrap(),
            HeaderValue::from_str(v).unwrap(),
        );
    }
    h
}

#[test]
fn only_an_explicit_event_stream_accept_gets_events() {
    let wants = |v: &str| wants_events(&headers(&[("accept", v)]));
    assert!(wants("text/event-stream"));
    assert!(wants("Text/Event-Stream"));
    assert!(wants("text/html, text/event-stream;q=0.5"));
    assert!(!wants("text/event-stream;q=0"));
    assert!(!wants("text/event-stream; q=0.000"));
    assert!(!wants("*/*"));
    assert!(!wants("text/*"));
    assert!(!wants("text/plain"));
    assert!(!wants_events(&HeaderMap::new()));
}

#[test]
fn last_event_id_wins_over_from() {
    let at = |pairs: &[(&str, &str)], query: Option<&str>| start_offset(&headers(pairs), query);
    assert_eq!(at(&[], None), Ok(0));
    assert_eq!(at(&[], Some("from=42")), Ok(42));
    assert_eq!(at(&[], Some("x=1&from=7")), Ok(7));
    assert_eq!(at(&[("last-event-id", "5")], Some("from=42")), Ok(5));
    assert_eq!(at(&[("last-event-id", "007")], None), Ok(7));
    for bad in ["", "-1", "1.5", "abc", "1 2", "18446744073709551616", "+3"] {
        assert!(at(&[("last-event-id", bad)], None).is_err(), "{bad:?}");
        assert!(at(&[], Some(&format!("from={bad}"))).is_err(), "{bad:?}");
    }
    assert!(at(&[("last-event-id", "1"), ("last-event-id", "2")], None).is_err());
    assert!(at(&[], Some("from=1&from=2")).is_err());
}

/// The frames of a stream of `store` from `start`, until it ends.
async fn frames(store: &LogStore, start: u64) -> Vec<String> {
    let mut body = body(
        store.cursor(start, None),
        Duration::from_secs(3600),
        Arc::new(Metrics::new()),
        (),
    );
    let mut out = vec![];
    while let Some(frame) = body.frame().await {
        let data = frame.unwrap().into_data().unwrap();
        out.push(String::from_utf8(data.to_vec()).unwrap());
    }
    out
}

#[tokio::test]
async fn events_have_end_offsets_as_ids_and_end_with_the_length() {
    let store = LogStore::with_file(
        tempfile::tempfile().unwrap(),
        StoreLimits::from_ring_bytes(1 << 20),
    );
    let mut up = store.begin_upload().unwrap();
    up.append(Bytes::from_static(b"hello\r\n\"\x1b[31m\" \xe2\x82"))
        .unwrap();
    up.append(Bytes::from_static(b"\xac!")).unwrap();
    up.finish();
    assert_eq!(
        frames(&store, 0).await,
        [
            "retry: 2000\n\n",
            "event: log\ndata: \"hello\\r\\n\\\"\\u001b[31m\\\" €!\"\nid: 19\n\n",
            "event: end\ndata: {\"complete\": true, \"length\": 19}\n\n",
        ]
    );
    // From inside the log, and from its end.
    assert_eq!(
        frames(&store, 17).await[1],
        "event: log\ndata: \"\u{FFFD}!\"\nid: 19\n\n"
    );
    assert_eq!(
        frames(&store, 19).await[1..],
        ["event: end\ndata: {\"complete\": true, \"length\": 19}\n\n"]
    );
}

#[tokio::test]
async fn a_broken_log_ends_with_an_incomplete_end_event_after_every_byte() {
    let store = LogStore::with_file(
        tempfile::tempfile().unwrap(),
        StoreLimits::from_ring_bytes(1 << 20),
    );
    let mut up = store.begin_upload().unwrap();
    up.append(Bytes::from_static(b"cut \xe2\x82")).unwrap();
    up.abort();
    assert_eq!(
        frames(&store, 0).await[1..],
        [
            "event: log\ndata: \"cut \"\nid: 4\n\n",
            "event: log\ndata: \"\u{FFFD}\"\nid: 6\n\n",
            "event: end\ndata: {\"complete\": false, \"length\": 6}\n\n",
        ]
    );
}
