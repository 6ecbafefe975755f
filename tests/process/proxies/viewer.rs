//! The viewer page through each proxy, its requests as the page makes them
//! (assets/viewer/README.md): the page, the event stream, the outline and
//! the `HEAD`.

use super::*;

/// The viewer page through the proxy is the page livelog serves, with its
/// `Content-Security-Policy` and `Cache-Control: no-store`; then its
/// requests, as the page makes them (assets/viewer/README.md): the event
/// stream with EventSource's headers (live within [`LIVE_WITHIN`]), a new
/// EventSource resuming with `?from=N`, EventSource's own reconnect with
/// `Last-Event-ID` (which wins over `?from=`), the `HEAD` that finds a
/// finished log's length, and `204` for a resume at its end.
fn the_viewer_works(kind: Kind) {
    let (d, proxy, log, mut up) = live_upload(kind);
    let page = format!("/view/{TOKEN}");
    let (_, direct_head, direct_page) = fetch(&[&format!("http://{}{page}", d.get)]);
    let (status, head, body) = fetch(&[&proxy.url(&page)]);
    assert_eq!(status, 200, "{kind:?}: {head}");
    assert_eq!(
        header(&head, "content-type"),
        Some("text/html; charset=utf-8")
    );
    let csp = header(&head, "content-security-policy");
    assert!(
        csp.is_some_and(|c| c.contains("default-src 'none'"))
            && csp == header(&direct_head, "content-security-policy"),
        "{kind:?}: {head}"
    );
    assert_eq!(header(&head, "cache-control"), Some("no-store"), "{head}");
    assert!(body == direct_page, "{kind:?}: the page differs");
    // EventSource's request.
    let source = |extra: &[&str], url: &str| {
        let mut args = vec!["-sS", "-N", "-H", SSE, "-H", "Cache-Control: no-cache"];
        args.extend_from_slice(extra);
        args.push(url);
        CurlReader::spawn(&args)
    };
    let first = source(&[], &proxy.log_url());
    let text_len = |bytes: &[u8]| log_text(&events(bytes)).0.len();
    assert!(wait_until(SOON, || text_len(&first.out.bytes()) >= FIRST));
    let took = time_arrival(&mut up, &log[FIRST..FIRST + LINE], FIRST + LINE, 1, |_| {
        text_len(&first.out.bytes())
    });
    assert_live(kind, "the viewer's event stream", &took);
    // A new EventSource after a non-stream answer, and EventSource's own
    // reconnect after a drop (its URL keeps the `?from=` it was opened with).
    let (from, last_id) = (1000 * LINE, FIRST + LINE);
    let resumed = source(&[], &format!("{}?from={from}", proxy.log_url()));
    let reconnected = source(
        &["-H", &format!("Last-Event-ID: {last_id}")],
        &format!("{}?from={from}", proxy.log_url()),
    );
    resumed.wait_head();
    reconnected.wait_head();
    upload_in_chunks(&mut up, &log[FIRST + LINE..]);
    assert_eq!(up.finish().0, 201);
    for (reader, start) in [(first, 0), (resumed, from), (reconnected, last_id)] {
        let (code, bytes) = reader.finish();
        let events = events(&bytes);
        let (text, last) = log_text(&events);
        assert!(
            code == 0 && text == log[start..] && last == log.len() as u64,
            "{kind:?}: from {start}: curl exited {code}, {} bytes of text",
            text.len()
        );
        assert_eq!(end_event(&events).unwrap()["complete"], true);
    }
    // The page's HEAD once a stream closes without its end event, and a
    // resume at the end.
    let (status, head, _) = fetch(&["-I", &proxy.log_url()]);
    assert_eq!(status, 200, "{kind:?}: {head}");
    assert_eq!(header(&head, "content-length"), Some("4194304"), "{head}");
    let at_end = format!("{}?from={}", proxy.log_url(), log.len());
    let (status, head, _) = fetch(&["-H", SSE, &at_end]);
    assert_eq!(status, 204, "{kind:?}: {head}");
}

#[test]
#[ignore = "needs nginx (apt-get install nginx-light); scripts/proxy-tests.sh runs it"]
fn nginx_viewer_works() {
    the_viewer_works(Kind::Nginx);
}

#[test]
#[ignore = "needs Varnish (apt-get install varnish); scripts/proxy-tests.sh runs it"]
fn varnish_viewer_works() {
    the_viewer_works(Kind::Varnish);
}
