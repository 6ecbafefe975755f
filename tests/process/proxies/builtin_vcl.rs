//! What Varnish does with its built-in VCL alone: `Cache-Control: no-store`
//! honoured, nothing cached, no readers merged.

use super::*;

/// What Varnish 7.1 does with livelog and the built-in VCL alone: the
/// answers' `Cache-Control: no-store` makes each a hit-for-miss object, so
/// readers are neither served from a cache nor merged onto one backend
/// fetch (each is a livelog reader of its own, also after the end), and
/// streaming is on (`beresp.do_stream`). Varnish asks livelog for gzip on
/// every such fetch: a reader that accepts gzip (`curl --compressed`, as
/// browsers do) gets it as livelog compresses it, live; the event stream,
/// never compressed, is live too; a reader that does not accept gzip gets
/// Varnish's gunzip of it, exact but not live (see [`vcl`]), so it is only
/// checked for its bytes here.
#[test]
#[ignore = "needs Varnish (apt-get install varnish); scripts/proxy-tests.sh runs it"]
fn varnish_builtin_vcl_neither_caches_nor_merges_readers() {
    let kind = Kind::VarnishBuiltin;
    let (d, proxy, log, mut up) = live_upload(kind);
    let url = proxy.log_url();
    let gzip: Vec<CurlReader<Checker>> = (0..2)
        .map(|_| {
            CurlReader::into_sink(
                &["-sS", "-N", "--compressed", &url],
                Checker::new(Arc::clone(&log)),
            )
        })
        .collect();
    let sse = CurlReader::spawn(&["-sS", "-N", "-H", SSE, &url]);
    let plain = CurlReader::into_sink(&["-sS", "-N", &url], Checker::new(Arc::clone(&log)));
    for r in &gzip {
        r.out.wait_len(FIRST);
    }
    let text_len = |bytes: &[u8]| log_text(&events(bytes)).0.len();
    assert!(wait_until(SOON, || text_len(&sse.out.bytes()) >= FIRST));
    plain.wait_head();
    // Four readers, four livelog readers, three of them gzip (Varnish asked
    // for it, whatever the client accepts).
    let readers = || status(&d)["readers"].clone();
    let merged_none = wait_until(SOON, || readers()["connected"] == 4);
    assert!(merged_none, "{:?}", readers());
    assert_eq!(readers()["by_kind"]["gzip"], 3, "{:?}", readers());
    let took = time_arrival(
        &mut up,
        &log[FIRST..FIRST + LINE],
        FIRST + LINE,
        3,
        |i| match i {
            0 | 1 => gzip[i].out.len(),
            _ => text_len(&sse.out.bytes()),
        },
    );
    assert_live(kind, "two gzip readers and an event stream", &took);
    upload_in_chunks(&mut up, &log[FIRST + LINE..]);
    assert_eq!(up.finish().0, 201);
    for r in gzip.into_iter().chain([plain]) {
        let (code, checker) = r.finish();
        assert!(
            code == 0 && checker.exact(),
            "curl exited {code}, {} bytes, {} matching",
            checker.received,
            checker.matched
        );
    }
    let (code, bytes) = sse.finish();
    assert_eq!(code, 0);
    assert!(log_text(&events(&bytes)).0 == *log);
    // After the end, two more readers: each is a livelog request again
    // (nothing was cached), and each gets the complete log.
    for _ in 0..2 {
        let (status, head, body) = fetch(&[&url]);
        assert_eq!(status, 200, "{head}");
        assert!(body == *log, "{} bytes after the end", body.len());
    }
    assert_eq!(
        logged_requests(&d, "/log/<redacted>"),
        6,
        "every reader reaches livelog:\n{}",
        d.stderr()
    );
}
