//! What goes wrong, through each proxy: error statuses keep their status
//! and CORS headers, and a broken upload still ends raw readers incomplete.

use super::*;

/// Errors through the proxy keep livelog's status and its
/// `Access-Control-Allow-Origin: *`, so a page's `fetch()` can read them:
/// 401 (wrong token), 404, 405 (`POST`), 416 (a range past a complete log,
/// with its `Content-Range`).
fn errors_keep_status_and_cors(kind: Kind) {
    let d = Daemon::start_process();
    let proxy = Proxy::start(kind, d.get);
    let mut up = Uploader::start(d.put);
    up.chunk(b"done\n");
    assert_eq!(up.finish().0, 201);
    let cases: [(&str, &[&str], u16); 4] = [
        ("/log/wrong", &[], 401),
        ("/nowhere", &[], 404),
        (&format!("/log/{TOKEN}"), &["-X", "POST"], 405),
        (
            &format!("/log/{TOKEN}"),
            &["-H", "Range: bytes=999999-"],
            416,
        ),
    ];
    for (path, args, want) in cases {
        for url in [format!("http://{}{path}", d.get), proxy.url(path)] {
            let mut all = args.to_vec();
            all.push(&url);
            let (status, head, _) = fetch(&all);
            assert_eq!(status, want, "{kind:?}: {url} {args:?}: {head}");
            assert_eq!(
                header(&head, "access-control-allow-origin"),
                Some("*"),
                "{kind:?}: {url} {args:?}: {head}"
            );
            if want == 416 {
                assert_eq!(header(&head, "content-range"), Some("bytes */5"), "{head}");
            }
            if want == 405 {
                assert!(header(&head, "allow").is_some(), "{kind:?}: {head}");
            }
        }
    }
}

#[test]
#[ignore = "needs nginx (apt-get install nginx-light); scripts/proxy-tests.sh runs it"]
fn nginx_errors_keep_status_and_cors() {
    errors_keep_status_and_cors(Kind::Nginx);
}

#[test]
#[ignore = "needs Varnish (apt-get install varnish); scripts/proxy-tests.sh runs it"]
fn varnish_errors_keep_status_and_cors() {
    errors_keep_status_and_cors(Kind::Varnish);
}

/// An upload that breaks: a raw reader through the proxy gets every stored
/// byte and then an incomplete end (curl exits non-zero: the proxy does not
/// make a truncated log look complete), and an event stream gets its `end`
/// event with `"complete": false`.
fn a_broken_upload_stays_incomplete(kind: Kind) {
    let (d, proxy, log, up) = live_upload(kind);
    let raw = CurlReader::spawn(&["-sS", "-N", &proxy.log_url()]);
    let sse = CurlReader::spawn(&["-sS", "-N", "-H", SSE, &proxy.log_url()]);
    raw.out.wait_len(FIRST);
    assert!(wait_until(SOON, || log_text(&events(&sse.out.bytes()))
        .0
        .len()
        >= FIRST));
    up.abort();
    let (code, bytes) = raw.finish();
    assert!(
        code != 0 && bytes == log[..FIRST],
        "{kind:?}: curl exited {code} after {} bytes",
        bytes.len()
    );
    let (code, bytes) = sse.finish();
    assert_eq!(code, 0, "{kind:?}: the event stream ends cleanly");
    assert_eq!(
        end_event(&events(&bytes)),
        Some(serde_json::json!({"complete": false, "length": FIRST})),
        "{kind:?}"
    );
    drop(d);
}

#[test]
#[ignore = "needs nginx (apt-get install nginx-light); scripts/proxy-tests.sh runs it"]
fn nginx_broken_upload_stays_incomplete() {
    a_broken_upload_stays_incomplete(Kind::Nginx);
}

#[test]
#[ignore = "needs Varnish (apt-get install varnish); scripts/proxy-tests.sh runs it"]
fn varnish_broken_upload_stays_incomplete() {
    a_broken_upload_stays_incomplete(Kind::Varnish);
}
