//! Startup failures, each named in one line with its exit code: a port in
//! use, bad temp dirs, bad TLS files, a bad environment.

use super::*;

// ---------------------------------------------------------------------------
// 4. Startup errors: non-zero exit, one stderr line naming the culprit.

/// Runs the daemon expecting it to fail at startup; returns (exit code, the
/// one stderr line).
fn startup_failure(builder: DaemonBuilder) -> (i32, String) {
    let started = Instant::now();
    let (status, stderr) = builder.run_to_exit(Duration::from_secs(5));
    let took = started.elapsed();
    assert!(took < Duration::from_secs(3), "took {took:?} to fail");
    let code = status.code().expect("exited, not killed");
    assert_ne!(code, 0, "stderr: {stderr}");
    let lines: Vec<&str> = stderr.lines().collect();
    assert_eq!(lines.len(), 1, "one stderr line, got: {stderr:?}");
    assert!(lines[0].starts_with("livelog: error: "), "{stderr:?}");
    (code, lines[0].to_owned())
}

#[test]
fn port_in_use_names_the_port_and_listener() {
    let taken = TcpListener::bind("0.0.0.0:0").unwrap();
    let port = taken.local_addr().unwrap().port().to_string();
    for (var, listener) in [
        ("LIVELOG_PUT_PORT", "upload"),
        ("LIVELOG_GET_PORT", "reader"),
    ] {
        let (code, line) = startup_failure(Daemon::builder().env(var, &*port));
        assert_eq!(code, 1);
        assert!(line.contains(&format!("port {port}")), "{line}");
        assert!(line.contains(&format!("{listener} listener")), "{line}");
        assert!(line.contains(var), "{line}");
        assert!(line.to_lowercase().contains("in use"), "{line}");
    }
}

#[test]
fn bad_temp_dirs_are_named() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("a-file");
    std::fs::write(&file, b"x").unwrap();
    let missing = dir.path().join("missing");
    // Root may write anywhere, but not under a regular file.
    let under_file = file.join("sub");
    for bad in [&missing, &under_file, &file] {
        let bad = bad.to_string_lossy();
        let (code, line) = startup_failure(Daemon::builder().env("LIVELOG_TEMP_DIR", &*bad));
        assert_eq!(code, 1);
        assert!(line.contains("LIVELOG_TEMP_DIR"), "{line}");
        assert!(line.contains(&*bad), "{line}");
    }
}

#[test]
fn bad_tls_files_are_named() {
    let (_dir, cert, key, _) = self_signed_cert();
    let (_dir2, _, other_key, _) = self_signed_cert();
    let junk_dir = tempfile::tempdir().unwrap();
    let junk = junk_dir.path().join("junk.pem");
    std::fs::write(&junk, "this is not PEM\n").unwrap();
    let missing = junk_dir.path().join("missing.pem");
    let s = |p: &std::path::Path| p.to_string_lossy().into_owned();

    let cases = [
        (s(&missing), s(&key), "SERVER_CRT_FILE", s(&missing)),
        (s(&cert), s(&missing), "SERVER_KEY_FILE", s(&missing)),
        (s(&junk), s(&key), "SERVER_CRT_FILE", s(&junk)),
        (s(&cert), s(&junk), "SERVER_KEY_FILE", s(&junk)),
        // A certificate where the key should be: PEM, but not a key.
        (s(&cert), s(&cert), "SERVER_KEY_FILE", s(&cert)),
        (s(&cert), s(&other_key), "SERVER_KEY_FILE", s(&other_key)),
    ];
    for (crt, k, var, culprit) in cases {
        let (code, line) = startup_failure(
            Daemon::builder()
                .env("SERVER_CRT_FILE", &*crt)
                .env("SERVER_KEY_FILE", &*k),
        );
        assert_eq!(code, 1);
        assert!(
            line.contains(&format!("{var} {culprit}")),
            "crt={crt} key={k}: {line}"
        );
    }
    // The mismatch says so.
    let (_, line) = startup_failure(
        Daemon::builder()
            .env("SERVER_CRT_FILE", s(&cert))
            .env("SERVER_KEY_FILE", s(&other_key)),
    );
    assert!(line.contains("does not match"), "{line}");
}

#[test]
fn bad_environment_exits_with_its_code() {
    let (code, line) = startup_failure(Daemon::builder().without("ACCESS_TOKEN"));
    assert_eq!(code, 1);
    assert!(line.contains("ACCESS_TOKEN"), "{line}");
    let cases = [
        ("LIVELOG_PUT_PORT", "http", 64),
        ("LIVELOG_PUT_PORT", "70000", 65),
        ("LIVELOG_GET_PORT", "6o023", 66),
        ("LIVELOG_GET_PORT", "-5", 67),
        ("LIVELOG_HEADER_TIMEOUT_SECS", "0", 1),
        ("LIVELOG_MAX_READERS", "many", 1),
        ("LIVELOG_MAX_READERS", "18446744073709551615", 1),
        ("LIVELOG_STALL_TIMEOUT_SECS", "18446744073709551615", 1),
        ("LIVELOG_HEADER_TIMEOUT_SECS", "18446744073709551615", 1),
    ];
    for (var, value, want) in cases {
        let (code, line) = startup_failure(Daemon::builder().env(var, value));
        assert_eq!(code, want, "{var}={value}: {line}");
        assert!(line.contains(var), "{line}");
    }
    // Bad arguments: exit 2.
    let out = Command::new(common::binary())
        .arg("--bogus")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(String::from_utf8_lossy(&out.stderr).lines().count(), 1);
}
