//! Odd and random requests get clean answers, and the token never reaches
//! the log, even at trace level.

use super::*;

// ---------------------------------------------------------------------------
// 5. Odd requests on the reader port (and the upload port).

#[test]
fn odd_requests_get_clean_answers() {
    let d = Daemon::start_process();
    upload_all(&d, b"the log\n");
    let c = client();
    let get = |path: &str| {
        let resp = c.get(format!("http://{}{path}", d.get)).send().unwrap();
        let status = resp.status().as_u16();
        (status, resp.text().unwrap_or_default())
    };

    // Long tokens: refused, never a crash.
    let long = "x".repeat(5000);
    assert_eq!(get(&format!("/log/{long}")).0, 401);
    assert_eq!(get(&format!("/log/{TOKEN}{long}")).0, 401);
    // A path longer than the head cap.
    let reply = raw_exchange(
        d.get,
        &format!(
            "GET /log/{} HTTP/1.1\r\nHost: x\r\n\r\n",
            "y".repeat(100_000)
        )
        .into_bytes(),
    );
    let status = status_of(&reply);
    assert!(
        matches!(status, Some(400 | 414 | 431)),
        "100 KB path: {status:?}"
    );

    // Percent-encoded tokens are compared after decoding.
    assert_eq!(get("/log/%73ecretpuppy"), (200, "the log\n".into()));
    assert_eq!(get("/log/%73%65%63%72%65%74%70%75%70%70%79").0, 200);
    assert_eq!(get("/log/%73ecretpupp").0, 401);
    assert_eq!(get("/log/secretpuppy%00").0, 401);
    assert_eq!(get("/log/secret%2Fpuppy").0, 401);
    // Query strings are ignored for the token check.
    assert_eq!(get(&format!("/log/{TOKEN}?x=1")), (200, "the log\n".into()));
    assert_eq!(get(&format!("/log/wrong?token={TOKEN}")).0, 401);
    assert_eq!(get(&format!("/log?token={TOKEN}")).0, 401);
    // Other paths.
    assert_eq!(get("/").0, 404);
    assert_eq!(get(&format!("/{TOKEN}")).0, 404);
    assert_eq!(get(&format!("/logs/{TOKEN}")).0, 404);

    // Wrong methods.
    let resp = c.put(d.get_url()).body("x").send().unwrap();
    assert_eq!(resp.status(), 405);
    let resp = c.get(d.put_url()).send().unwrap();
    assert_eq!(resp.status(), 405);
    assert_eq!(resp.headers()["allow"], "PUT");
    let resp = c.put(format!("http://{}/other", d.put)).send().unwrap();
    assert_eq!(resp.status(), 404);
    // A second upload.
    let resp = c.put(d.put_url()).body("again").send().unwrap();
    assert_eq!(resp.status(), 409);

    // Still serving the whole log.
    assert_eq!(get(&format!("/log/{TOKEN}")), (200, "the log\n".into()));
}

// ---------------------------------------------------------------------------
// 6. The token never reaches the logs, even at trace level.

#[test]
fn token_never_logged_even_at_trace_level() {
    const WRONG: &str = "guessedtoken42";
    let (_dir, cert, key, pem) = self_signed_cert();
    let tls = Daemon::builder()
        .env("DEBUG", "*")
        .env("RUST_LOG", "trace")
        .env("SERVER_CRT_FILE", cert.to_string_lossy())
        .env("SERVER_KEY_FILE", key.to_string_lossy())
        .start_process();
    let plain = Daemon::builder()
        .env("DEBUG", "*")
        .env("RUST_LOG", "trace")
        .start_process();
    for d in [&tls, &plain] {
        upload_all(d, b"line\n");
    }

    let root = reqwest::Certificate::from_pem(pem.as_bytes()).unwrap();
    let h2 = reqwest::blocking::Client::builder()
        .no_proxy()
        .add_root_certificate(root.clone())
        .build()
        .unwrap();
    let h1 = reqwest::blocking::Client::builder()
        .no_proxy()
        .add_root_certificate(root)
        .http1_only()
        .build()
        .unwrap();
    let base = format!("https://localhost:{}", tls.get.port());
    let mut requests = 0;
    for (client, version) in [
        (&h2, reqwest::Version::HTTP_2),
        (&h1, reqwest::Version::HTTP_11),
    ] {
        for (path, want) in [
            (format!("/log/{TOKEN}"), 200),
            (format!("/log/{WRONG}"), 401),
            (format!("/log/x?token={TOKEN}"), 401),
            (format!("/{WRONG}"), 404),
            (format!("/view/{TOKEN}"), 200),
            (format!("/view/{WRONG}"), 401),
        ] {
            let resp = client.get(format!("{base}{path}")).send().unwrap();
            assert_eq!(resp.version(), version);
            assert_eq!(resp.status(), want, "{path}");
            let _ = resp.bytes();
            requests += 1;
        }
    }
    let plain_client = client();
    for (path, want) in [
        (format!("/log/{TOKEN}"), 200),
        (format!("/log/{WRONG}"), 401),
        (format!("/{TOKEN}"), 404),
    ] {
        let resp = plain_client
            .get(format!("http://{}{path}", plain.get))
            .header("X-Echo", WRONG)
            .send()
            .unwrap();
        assert_eq!(resp.status(), want);
        let _ = resp.bytes();
    }

    // Wait until every request's log line is out, so the check is not vacuous.
    let count = |d: &Daemon| d.stderr().matches(" request ").count();
    wait_until(Duration::from_secs(30), || {
        count(&tls) > requests && count(&plain) > 3
    });
    for d in [&tls, &plain] {
        let log = d.stderr();
        assert!(log.contains("DEBUG") || log.contains("TRACE"), "{log}");
        assert!(log.contains("/log/<redacted>"), "{log}");
        assert!(!log.contains(TOKEN), "the token is in the log:\n{log}");
        assert!(
            !log.contains(WRONG),
            "a guessed token is in the log:\n{log}"
        );
    }
    assert!(count(&tls) > requests, "{}", tls.stderr());
    assert!(
        tls.stderr().contains("/view/<redacted>"),
        "{}",
        tls.stderr()
    );
    assert!(count(&plain) > 3, "{}", plain.stderr());
}

// ---------------------------------------------------------------------------
// 8. Random paths and tokens against the real daemon.

#[test]
fn random_paths_get_clean_answers() {
    use proptest::prelude::*;
    use proptest::test_runner::{Config, TestRunner};

    // Dozens of wrong tokens from one address: the limit on guessing
    // (tested on its own) is off here.
    let mut d = Daemon::builder()
        .env("LIVELOG_MAX_TOKEN_FAILURES", "0")
        .start_process();
    upload_all(&d, b"complete\n");
    let segment = "[A-Za-z0-9%._~!$&'()*+,;=:@/?-]{0,300}";
    let path = prop_oneof![
        segment.prop_map(|s| format!("/log/{s}")),
        segment.prop_map(|s| format!("/{s}")),
        Just(format!("/log/{TOKEN}")),
        segment.prop_map(|s| format!("/log/{TOKEN}?{s}")),
    ];
    let mut runner = TestRunner::new(Config::with_cases(64));
    runner
        .run(&path, |path| {
            let reply = raw_exchange(
                d.get,
                &format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                    .into_bytes(),
            );
            let status = status_of(&reply);
            prop_assert!(
                matches!(status, Some(200 | 400 | 401 | 404 | 414 | 431)),
                "{path}: {status:?}"
            );
            let token = path
                .split('?')
                .next()
                .and_then(|p| p.strip_prefix("/log/"))
                .map(|t| percent_encoding::percent_decode_str(t).collect::<Vec<u8>>());
            if status == Some(200) {
                prop_assert_eq!(token.as_deref(), Some(TOKEN.as_bytes()), "{}", path);
                prop_assert!(reply.ends_with(b"complete\n"));
            } else if token.as_deref() == Some(TOKEN.as_bytes()) {
                prop_assert!(false, "{path}: right token refused with {status:?}");
            }
            Ok(())
        })
        .unwrap();
    assert!(d.child().try_wait().unwrap().is_none(), "the daemon died");
    assert_eq!(get_status(&d, &format!("/log/{TOKEN}")), 200);
}
