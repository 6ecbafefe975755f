//! The viewer page's response (`/view/<ACCESS_TOKEN>`): one response, its
//! Content-Security-Policy with the hashes of what it inlines.

use super::*;

// ------------------------------------------------------------------ viewer

/// `GET /view/<token>`: one response holding the page with its script and
/// style inline, the headers of the contract (assets/viewer/README.md), a
/// policy whose hashes are those of the inline script and style. `HEAD` has
/// the same head; a wrong token is `401`, another method `405`; the access
/// log shows `/view/<redacted>`.
#[test]
fn the_viewer_page_is_one_response_with_a_hashed_policy() {
    use base64::Engine;
    let d = Daemon::start();
    let url = format!("http://{}/view/{TOKEN}", d.get);
    let (status, headers, body) = exchange(&[url.as_str()]);
    assert_eq!(status, 200);
    let page = String::from_utf8(body).unwrap();
    for (name, value) in [
        ("content-type", "text/html; charset=utf-8"),
        ("referrer-policy", "no-referrer"),
        ("x-content-type-options", "nosniff"),
        ("x-frame-options", "DENY"),
        ("cross-origin-opener-policy", "same-origin"),
        ("cross-origin-resource-policy", "same-origin"),
        ("cache-control", "no-store"),
    ] {
        assert_eq!(header(&headers, name), Some(value), "{name}");
    }
    assert_eq!(
        header(&headers, "content-length"),
        Some(page.len().to_string().as_str())
    );
    assert_eq!(header(&headers, "access-control-allow-origin"), None);
    let inline = |open: &str, close: &str| {
        let start = page.find(open).expect(open) + open.len();
        let end = start + page[start..].find(close).expect(close);
        let digest = ring::digest::digest(&ring::digest::SHA256, &page.as_bytes()[start..end]);
        base64::engine::general_purpose::STANDARD.encode(digest)
    };
    let csp = header(&headers, "content-security-policy").expect("a CSP");
    assert_eq!(
        csp,
        format!(
            "default-src 'none'; script-src 'sha256-{}'; style-src 'sha256-{}'; connect-src 'self'; \
             img-src data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'; \
             require-trusted-types-for 'script'; trusted-types 'none'",
            inline("<script>", "</script>"),
            inline("<style>", "</style>")
        )
    );
    assert_eq!(page.matches("<script").count(), 1, "one script, inline");
    assert!(!page.contains("src="), "nothing loaded from elsewhere");
    assert!(!page.contains(TOKEN));

    // HEAD: the same head (Content-Length included), no body.
    let (status, head_headers, body) = exchange(&["-I", &url]);
    assert_eq!(status, 200);
    assert!(body.is_empty());
    for (name, value) in headers.iter().filter(|(k, _)| k != "date") {
        assert_eq!(header(&head_headers, name), Some(value.as_str()), "{name}");
    }

    for (args, want) in [
        (vec![format!("http://{}/view/{TOKEN}x", d.get)], 401),
        (vec![format!("http://{}/view/", d.get)], 401),
        (vec![format!("http://{}/view", d.get)], 401),
        (vec!["-X".into(), "POST".into(), url.clone()], 405),
    ] {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let (status, headers, _) = exchange(&args);
        assert_eq!(status, want, "{args:?}");
        if want == 405 {
            assert_eq!(header(&headers, "allow"), Some("GET, HEAD"));
        }
    }
    assert!(d.wait_for_log("status=405", SOON));
    let log = d.stderr();
    assert!(log.contains("path=/view/<redacted> status=200"), "{log}");
    assert!(!log.contains(TOKEN), "{log}");
}
