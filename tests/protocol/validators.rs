//! What a proxy or a resuming client relies on (RFC 9110): the `401`'s
//! `WWW-Authenticate` challenge and the token as `Authorization: Bearer`;
//! the log's strong `ETag`, one per log (a restarted livelog's differs),
//! honoured by `If-Range` (a mismatch gets the whole log, never a splice of
//! two logs), `If-None-Match` (`304`) and `If-Match` (`412`), on complete
//! and live logs; `Vary` naming every header that changes the answer.

use std::time::Duration;

use reqwest::StatusCode;
use reqwest::blocking::{Client, RequestBuilder, Response};

use crate::common::{Daemon, SOON, TOKEN, Uploader, pattern, wait_until};

fn http() -> Client {
    Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap()
}

fn header(resp: &Response, name: &str) -> Option<String> {
    resp.headers()
        .get(name)
        .map(|v| v.to_str().unwrap().to_owned())
}

fn send(req: RequestBuilder) -> Response {
    req.send().unwrap()
}

fn complete_log(log: &[u8]) -> Daemon {
    let d = Daemon::start();
    let mut up = Uploader::start(d.put);
    for part in log.chunks(7_000) {
        up.chunk(part);
    }
    assert_eq!(up.finish().0, 201);
    d
}

#[test]
fn a_401_says_how_to_authenticate_and_a_bearer_token_is_accepted() {
    let d = complete_log(b"one\ntwo\n");
    let base = format!("http://{}", d.get);
    let resp = send(http().get(format!("{base}/log/wrong")));
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        header(&resp, "www-authenticate").as_deref(),
        Some("Bearer realm=\"livelog\", error=\"invalid_token\"")
    );
    let resp = send(http().get(format!("{base}/log")));
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED, "no token at all");
    assert_eq!(
        header(&resp, "www-authenticate").as_deref(),
        Some("Bearer realm=\"livelog\"")
    );

    // The token in Authorization: the path leaves it out.
    let resp = send(http().get(format!("{base}/log")).bearer_auth(TOKEN));
    assert_eq!(resp.status(), StatusCode::OK);
    let vary = header(&resp, "vary").unwrap_or_default();
    assert!(vary.contains("Authorization"), "{vary}");
    assert_eq!(&resp.bytes().unwrap()[..], b"one\ntwo\n");
    // The outline, once the index (which follows the upload at a lower
    // priority) has caught up with the complete log.
    let mut outline = serde_json::Value::Null;
    assert!(
        wait_until(SOON, || {
            let resp = send(http().get(format!("{base}/log/outline")).bearer_auth(TOKEN));
            assert_eq!(resp.status(), StatusCode::OK);
            outline = serde_json::from_slice(&resp.bytes().unwrap()).unwrap();
            outline["state"] == "complete"
        }),
        "{outline}"
    );
    assert_eq!(outline["lines"], 2);
    let resp = send(
        http()
            .get(format!("{base}/log/search?q=two"))
            .bearer_auth(TOKEN),
    );
    assert_eq!(resp.status(), StatusCode::OK);
    assert!(resp.text().unwrap().contains("\"line\":2"));
    let resp = send(http().get(format!("{base}/log")).bearer_auth("wrong"));
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    // The URL form stays, whatever else the request carries.
    let resp = send(http().get(d.get_url()).bearer_auth("unrelated"));
    assert_eq!(resp.status(), StatusCode::OK);
    // Neither form's token reaches the log.
    assert!(!d.stderr().contains(TOKEN));
}

#[test]
fn the_etag_names_one_log_and_if_range_never_splices_two() {
    let log = pattern(50_000, 3);
    let d = complete_log(&log);
    let url = d.get_url();
    let resp = send(http().get(&url));
    let etag = header(&resp, "etag").expect("an ETag");
    assert!(etag.starts_with('"') && !etag.starts_with("W/"), "{etag}");
    assert_eq!(
        header(&send(http().head(&url)), "etag").as_deref(),
        Some(etag.as_str())
    );
    let ranged = send(http().get(&url).header("Range", "bytes=100-199"));
    assert_eq!(ranged.status(), StatusCode::PARTIAL_CONTENT);
    assert_eq!(header(&ranged, "etag").as_deref(), Some(etag.as_str()));

    // Another livelog (a restart) serves another log on the same URL: its
    // tag differs, so a resume validated by the old one gets the new log
    // whole.
    let other_log = pattern(50_000, 4);
    let other = complete_log(&other_log);
    let other_url = other.get_url();
    let other_etag = header(&send(http().head(&other_url)), "etag").unwrap();
    assert_ne!(other_etag, etag);
    let resumed = send(
        http()
            .get(&other_url)
            .header("Range", "bytes=100-")
            .header("If-Range", &etag),
    );
    assert_eq!(resumed.status(), StatusCode::OK);
    assert_eq!(&resumed.bytes().unwrap()[..], &other_log[..]);
    // The same log's tag: the range.
    let resumed = send(
        http()
            .get(&url)
            .header("Range", "bytes=100-")
            .header("If-Range", &etag),
    );
    assert_eq!(resumed.status(), StatusCode::PARTIAL_CONTENT);
    assert_eq!(&resumed.bytes().unwrap()[..], &log[100..]);
    // A weak tag or a date never validates a range.
    for validator in [format!("W/{etag}"), "Mon, 23 Nov 2026 15:00:00 GMT".into()] {
        let resp = send(
            http()
                .get(&url)
                .header("Range", "bytes=100-")
                .header("If-Range", &validator),
        );
        assert_eq!(resp.status(), StatusCode::OK, "{validator}");
    }
}

#[test]
fn if_none_match_and_if_match_on_complete_and_live_logs() {
    let log = pattern(20_000, 5);
    let d = complete_log(&log);
    let url = d.get_url();
    let etag = header(&send(http().head(&url)), "etag").unwrap();
    let resp = send(http().get(&url).header("If-None-Match", &etag));
    assert_eq!(resp.status(), StatusCode::NOT_MODIFIED);
    assert_eq!(header(&resp, "etag").as_deref(), Some(etag.as_str()));
    assert!(header(&resp, "vary").is_some());
    assert!(resp.bytes().unwrap().is_empty());
    let resp = send(http().get(&url).header("If-None-Match", "\"another\""));
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(resp.bytes().unwrap().len(), log.len());
    let resp = send(http().get(&url).header("If-Match", "\"another\""));
    assert_eq!(resp.status(), StatusCode::PRECONDITION_FAILED);
    let reason = resp.text().unwrap();
    assert!(
        reason.starts_with("precondition failed: ") && reason.lines().count() == 1,
        "{reason}"
    );
    let resp = send(http().get(&url).header("If-Match", &etag));
    assert_eq!(resp.status(), StatusCode::OK);

    // A gzip reader gets a representation of its own, with its own tag.
    let gz = send(http().get(&url).header("Accept-Encoding", "gzip"));
    assert_eq!(header(&gz, "content-encoding").as_deref(), Some("gzip"));
    let gz_etag = header(&gz, "etag").unwrap();
    assert_ne!(gz_etag, etag);
    let resp = send(
        http()
            .get(&url)
            .header("Accept-Encoding", "gzip")
            .header("If-None-Match", &gz_etag),
    );
    assert_eq!(resp.status(), StatusCode::NOT_MODIFIED);

    // A live log: the same tag while it grows (its bytes never change), so
    // a range validated by it resumes, and the preconditions hold.
    let live = Daemon::start();
    let mut up = Uploader::start(live.put);
    up.chunk(b"first\n");
    let url = live.get_url();
    let first = send(http().get(&url).header("Range", "bytes=0-5"));
    assert_eq!(first.status(), StatusCode::PARTIAL_CONTENT);
    let live_etag = header(&first, "etag").unwrap();
    up.chunk(b"second\n");
    let resp = send(http().get(&url).header("If-Match", "\"another\""));
    assert_eq!(resp.status(), StatusCode::PRECONDITION_FAILED);
    let resp = send(http().head(&url).header("If-None-Match", &live_etag));
    assert_eq!(resp.status(), StatusCode::NOT_MODIFIED);
    assert_eq!(up.finish().0, 201);
    let rest = send(
        http()
            .get(&url)
            .header("Range", "bytes=6-")
            .header("If-Range", &live_etag),
    );
    assert_eq!(rest.status(), StatusCode::PARTIAL_CONTENT);
    assert_eq!(header(&rest, "etag").as_deref(), Some(live_etag.as_str()));
    assert_eq!(&rest.bytes().unwrap()[..], b"second\n");
}

#[test]
fn vary_names_what_changes_the_answer() {
    let d = complete_log(b"a\nb\n");
    let url = d.get_url();
    let vary = |resp: &Response| header(resp, "vary").unwrap_or_default();
    let plain = send(http().get(&url));
    assert_eq!(vary(&plain), "Accept, Accept-Encoding");
    let events = send(http().get(&url).header("Accept", "text/event-stream"));
    assert_eq!(vary(&events), "Accept, Accept-Encoding");
    let outline = send(http().get(format!("{url}/outline")));
    assert_eq!(vary(&outline), "Accept");
}
