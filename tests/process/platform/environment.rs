//! Whatever environment a CI worker passes on: another program's variable
//! that is not Unicode is ignored; livelog's own is a startup error naming
//! it.

use super::*;

// ---------------------------------------------------------------------------
// The environment a CI worker passes on.

/// A value the platform's environment can hold that is not Unicode: a byte
/// that is not UTF-8 on Unix, a lone surrogate on Windows.
#[cfg(unix)]
fn not_unicode(prefix: &str) -> OsString {
    use std::os::unix::ffi::OsStringExt;
    let mut bytes = prefix.as_bytes().to_vec();
    bytes.extend([0xff, 0xfe]);
    OsString::from_vec(bytes)
}

#[cfg(windows)]
fn not_unicode(prefix: &str) -> OsString {
    use std::os::windows::ffi::OsStringExt;
    let mut wide: Vec<u16> = prefix.encode_utf16().collect();
    wide.push(0xd800);
    OsString::from_wide(&wide)
}

/// livelog with the test environment plus `extra` (names and values as the
/// OS takes them), its stderr piped.
fn command_with(extra: &[(OsString, OsString)], temp: &Path) -> Command {
    let mut cmd = Command::new(binary());
    cmd.env_clear();
    // PATH for wrappers; Windows cannot start networking without SystemRoot.
    for var in ["PATH", "SystemRoot"] {
        if let Some(value) = std::env::var_os(var) {
            cmd.env(var, value);
        }
    }
    cmd.env("ACCESS_TOKEN", TOKEN)
        .env("LIVELOG_PUT_PORT", "0")
        .env("LIVELOG_GET_PORT", "0")
        .env("LIVELOG_TEMP_DIR", temp);
    for (k, v) in extra {
        cmd.env(k, v);
    }
    cmd.stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    cmd
}

/// The address after ` key=` in `line`.
fn field(line: &str, key: &str) -> Option<SocketAddr> {
    let rest = &line[line.find(&format!(" {key}="))? + key.len() + 2..];
    rest.split(' ').next()?.parse().ok()
}

#[test]
fn another_programs_variable_that_is_not_unicode_is_ignored() {
    let temp = tempfile::tempdir().unwrap();
    let extra = [
        (OsString::from("WORKER_NOTE"), not_unicode("caf")),
        (not_unicode("ODD_NAME_"), OsString::from("x")),
    ];
    let mut child = command_with(&extra, temp.path())
        .spawn()
        .expect("spawn livelog");
    let stderr = child.stderr.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let mut seen = String::new();
    let ready = loop {
        match rx.recv_timeout(Duration::from_secs(30)) {
            Ok(line) if line.contains("livelog ready") => break line,
            Ok(line) => seen.push_str(&line),
            Err(_) => {
                let _ = child.kill();
                panic!("livelog did not start:\n{seen}");
            }
        }
    };
    let (put, get) = (field(&ready, "put").unwrap(), field(&ready, "get").unwrap());
    curl_upload(&format!("http://{put}/log"), b"started anyway\n");
    let (code, body, err) = curl_get(&format!("http://127.0.0.1:{}/log/{TOKEN}", get.port()), &[]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(body, b"started anyway\n");
    let _ = child.kill();
    let _ = child.wait();
}

#[test]
fn livelogs_own_variable_that_is_not_unicode_is_a_startup_error_naming_it() {
    let temp = tempfile::tempdir().unwrap();
    for (var, code) in [
        ("LIVELOG_TEMP_DIR", 1),
        ("ACCESS_TOKEN", 1),
        ("LIVELOG_PUT_PORT", 64),
        ("LIVELOG_GET_PORT", 66),
    ] {
        let extra = [(OsString::from(var), not_unicode("1"))];
        let out = command_with(&extra, temp.path())
            .output()
            .expect("run livelog");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(code), "{var}: {stderr}");
        let line = stderr.lines().next().unwrap_or_default();
        assert!(
            line.starts_with(&format!("livelog: error: {var} ")),
            "{var}: {stderr}"
        );
        assert!(line.contains("not valid Unicode"), "{var}: {stderr}");
        assert!(!stderr.contains("panicked"), "{stderr}");
    }
}
