//! Tests of range selection: RFC 9110 on a complete log, RFC 8673 on a
//! live one, and a property test of the parser.

use super::*;
use proptest::prelude::*;

fn live(len: u64) -> Progress {
    Progress {
        len,
        phase: Phase::Uploading,
    }
}

fn complete(len: u64) -> Progress {
    Progress {
        len,
        phase: Phase::Complete,
    }
}

#[test]
fn parses_the_three_forms() {
    assert_eq!(
        parse("bytes=0-99"),
        Some(ByteRangeSpec::FromTo { first: 0, last: 99 })
    );
    assert_eq!(parse("bytes=5-"), Some(ByteRangeSpec::From { first: 5 }));
    assert_eq!(
        parse("bytes=-1024"),
        Some(ByteRangeSpec::Suffix { len: 1024 })
    );
    assert_eq!(parse("Bytes=7-"), Some(ByteRangeSpec::From { first: 7 }));
    assert_eq!(parse("bytes=-0"), Some(ByteRangeSpec::Suffix { len: 0 }));
}

#[test]
fn ignores_what_it_does_not_honour() {
    for v in [
        "",
        "bytes",
        "bytes=",
        "bytes=5-2",
        "bytes=0-1,5-9",
        "bytes=0-1, 5-9",
        "items=0-5",
        "bytes=a-b",
        "bytes=-",
        "bytes= 0-5",
        "bytes=--5",
        "bytes=99999999999999999999999-",
        "bytés=0-1",
        "bytes=007-9",
        "bytes=-00",
        "bytes=0-1,",
    ] {
        assert_eq!(parse(v), None, "{v:?}");
    }
}

#[test]
fn complete_log_follows_rfc9110() {
    let p = complete(100);
    let r = |s| select(parse(s), p);
    assert_eq!(
        r("bytes=10-19"),
        Selection::Partial(Partial {
            first: 10,
            last: 19,
            complete_length: Some(100),
            stored: true
        })
    );
    match r("bytes=90-500") {
        Selection::Partial(part) => assert_eq!(part.content_range(), "bytes 90-99/100"),
        other => panic!("{other:?}"),
    }
    match r("bytes=-30") {
        Selection::Partial(part) => {
            assert_eq!(part.content_range(), "bytes 70-99/100");
            assert_eq!(part.len(), 30);
        }
        other => panic!("{other:?}"),
    }
    match r("bytes=-300") {
        Selection::Partial(part) => assert_eq!(part.content_range(), "bytes 0-99/100"),
        other => panic!("{other:?}"),
    }
    assert_eq!(
        r("bytes=100-"),
        Selection::Unsatisfiable {
            current_length: 100
        }
    );
    assert_eq!(
        r("bytes=-0"),
        Selection::Unsatisfiable {
            current_length: 100
        }
    );
    assert_eq!(
        select(None, p),
        Selection::Full {
            content_length: Some(100)
        }
    );
    assert_eq!(unsatisfied_range(100), "bytes */100");
}

#[test]
fn live_log_follows_rfc8673() {
    let p = live(100);
    let r = |s| select(parse(s), p);
    match r("bytes=40-") {
        Selection::Partial(part) => {
            assert_eq!(part.content_range(), "bytes 40-99/*");
            assert!(part.stored);
        }
        other => panic!("{other:?}"),
    }
    match r("bytes=40-9007199254740991") {
        Selection::Partial(part) => {
            assert_eq!(part.content_range(), "bytes 40-9007199254740991/*");
            assert!(!part.stored);
        }
        other => panic!("{other:?}"),
    }
    match r("bytes=500-600") {
        Selection::Partial(part) => {
            assert_eq!(part.content_range(), "bytes 500-600/*");
            assert!(!part.stored, "waits for byte 500");
        }
        other => panic!("{other:?}"),
    }
    match r("bytes=10-20") {
        Selection::Partial(part) => {
            assert_eq!(part.content_range(), "bytes 10-20/*");
            assert!(part.stored);
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(
        r("bytes=100-"),
        Selection::Unsatisfiable {
            current_length: 100
        }
    );
    assert_eq!(
        select(None, p),
        Selection::Full {
            content_length: None
        }
    );
    match r("bytes=0-18446744073709551615") {
        Selection::Partial(part) => {
            assert_eq!(part.content_range(), "bytes 0-18446744073709551615/*");
            assert!(!part.stored);
            assert_eq!(part.len(), u64::MAX);
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(
        select(parse("bytes=-10"), live(0)),
        Selection::Unsatisfiable { current_length: 0 }
    );
}

fn phase() -> impl Strategy<Value = Phase> {
    prop_oneof![
        Just(Phase::AwaitingUpload),
        Just(Phase::Uploading),
        Just(Phase::Complete),
        Just(Phase::Broken)
    ]
}

proptest! {
    /// Any header string is either ignored or yields a range inside the
    /// representation: within `0..L` for a complete log; for a live log,
    /// stored ranges lie within `0..W` and only follow ranges reach past.
    #[test]
    fn any_header_is_ignored_or_selects_inside(
        value in prop_oneof![
            "\\PC{0,40}",
            "bytes=[0-9]{0,6}-[0-9]{0,6}",
            "bytes=-?[0-9]{1,25}",
            "(?i:bytes)=[0-9 ,-]{0,20}",
        ],
        len in 0u64..2_000_000,
        phase in phase(),
    ) {
        let progress = Progress { len, phase };
        match select(parse(&value), progress) {
            Selection::Full { content_length } => {
                prop_assert_eq!(content_length, (phase == Phase::Complete).then_some(len));
            }
            Selection::Unsatisfiable { current_length } => prop_assert_eq!(current_length, len),
            Selection::Partial(p) => {
                prop_assert!(p.first <= p.last);
                prop_assert_eq!(p.len(), (p.last - p.first).saturating_add(1));
                if phase == Phase::Complete {
                    prop_assert!(p.last < len);
                    prop_assert_eq!(p.complete_length, Some(len));
                    prop_assert!(p.stored);
                } else {
                    prop_assert_eq!(p.complete_length, None);
                    prop_assert_eq!(p.stored, p.last < len);
                }
            }
        }
    }
}
