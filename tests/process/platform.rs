//! What livelog must do on every platform the Go livelog runs on:
//! listen on IPv4 and IPv6, serve every certificate and key the Go livelog
//! serves, take whatever environment a CI worker passes on, stop on the
//! platform's stop request, and leave nothing behind after a hard kill.
//!
//! Real binary, real sockets, real clients (`curl`, `openssl` to make the
//! certificates). `.ci/run` also runs this file against the Windows build
//! under wine (`LIVELOG_TEST_BIN`), less the tests it lists as left out.

use std::ffi::OsString;
use std::io::{BufRead, BufReader};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use crate::common;
use crate::common::{Daemon, DaemonBuilder, TOKEN, binary, curl, wait_until};

/// Whether this machine has an IPv6 loopback (a container may not).
fn ipv6_loopback() -> Result<(), String> {
    std::net::TcpListener::bind("[::1]:0")
        .map(drop)
        .map_err(|e| format!("this machine has no IPv6 loopback ({e})"))
}

/// Whether a TCP connection to `addr` is refused (nothing listens there).
fn refused(addr: SocketAddr) -> bool {
    match TcpStream::connect_timeout(&addr, Duration::from_secs(5)) {
        Ok(_) => false,
        Err(e) => e.kind() == std::io::ErrorKind::ConnectionRefused,
    }
}

/// Uploads `body` with `curl -T -` to `url`; panics unless it is stored.
fn curl_upload(url: &str, body: &[u8]) {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("log");
    std::fs::write(&file, body).unwrap();
    let (code, out, err) = curl(&["-sS", "-g", "-T", &file.to_string_lossy(), url]);
    assert_eq!(code, 0, "upload to {url}: {err}");
    let out = String::from_utf8_lossy(&out);
    assert!(out.starts_with("created: stored"), "upload to {url}: {out}");
}

/// `curl -sS -g` of `url` (plus `extra` options): (exit code, body, stderr).
fn curl_get(url: &str, extra: &[&str]) -> (i32, Vec<u8>, String) {
    let mut args = vec!["-sS", "-g"];
    args.extend_from_slice(extra);
    args.push(url);
    curl(&args)
}

#[test]
fn readers_connect_over_ipv4_and_ipv6_and_the_upload_over_either_loopback() {
    if let Err(why) = ipv6_loopback() {
        eprintln!("skipped: {why}");
        return;
    }
    let d = Daemon::builder().own_temp_dir().start_process();
    // The reader port is one socket on [::] that takes IPv4 too.
    assert_eq!(
        d.get_bound.ip(),
        IpAddr::V6(Ipv6Addr::UNSPECIFIED),
        "{}",
        d.stderr()
    );
    let ready = d.stderr();
    let v6_put = format!("http://[::1]:{}/log", d.put.port());
    assert!(
        ready.contains(&v6_put),
        "the ready line does not name {v6_put}:\n{ready}"
    );

    // Upload over IPv6 loopback, as a worker does when `localhost` is ::1.
    curl_upload(&v6_put, b"over ::1\n");
    for host in ["127.0.0.1", "[::1]", "localhost"] {
        let url = format!("http://{host}:{}/log/{TOKEN}", d.get.port());
        let (code, body, err) = curl_get(&url, &[]);
        assert_eq!(code, 0, "{url}: {err}");
        assert_eq!(body, b"over ::1\n", "{url}");
    }
    // A second upload over IPv4 loopback reaches the same port (and is
    // refused as a second upload, not as a connection).
    let dir = tempfile::tempdir().unwrap();
    let (empty, reply) = (dir.path().join("empty"), dir.path().join("reply"));
    std::fs::write(&empty, b"").unwrap();
    let (code, out, err) = curl(&[
        "-sS",
        "-T",
        &empty.to_string_lossy(),
        "-w",
        "%{http_code}",
        "-o",
        &reply.to_string_lossy(),
        &format!("http://127.0.0.1:{}/log", d.put.port()),
    ]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(String::from_utf8_lossy(&out), "409");
}

#[test]
fn get_host_binds_the_one_address_it_names() {
    if let Err(why) = ipv6_loopback() {
        eprintln!("skipped: {why}");
        return;
    }
    for (host, serves, refuses) in [
        (
            "127.0.0.1",
            IpAddr::V4(Ipv4Addr::LOCALHOST),
            IpAddr::V6(Ipv6Addr::LOCALHOST),
        ),
        (
            "::1",
            IpAddr::V6(Ipv6Addr::LOCALHOST),
            IpAddr::V4(Ipv4Addr::LOCALHOST),
        ),
    ] {
        let d = Daemon::builder()
            .env("LIVELOG_GET_HOST", host)
            .own_temp_dir()
            .start_process();
        assert_eq!(d.get_bound.ip(), serves, "{}", d.stderr());
        let port = d.get.port();
        assert!(
            refused(SocketAddr::new(refuses, port)),
            "LIVELOG_GET_HOST={host}: reachable on {refuses}"
        );
        curl_upload(
            &format!("http://127.0.0.1:{}/log", d.put.port()),
            b"one address\n",
        );
        let url = format!("http://{}/log/{TOKEN}", SocketAddr::new(serves, port));
        let (code, body, err) = curl_get(&url, &[]);
        assert_eq!(code, 0, "{url}: {err}");
        assert_eq!(body, b"one address\n");
    }
}

#[test]
fn upload_port_listens_on_both_loopbacks_and_nowhere_else() {
    let d = Daemon::builder().own_temp_dir().start_process();
    assert_eq!(
        d.put.ip(),
        IpAddr::V4(Ipv4Addr::LOCALHOST),
        "{}",
        d.stderr()
    );
    match ipv6_loopback() {
        Ok(()) => {
            let v6 = SocketAddr::new(Ipv6Addr::LOCALHOST.into(), d.put.port());
            assert!(!refused(v6), "the upload port does not listen on {v6}");
        }
        Err(why) => eprintln!("IPv6 half skipped: {why}"),
    }
    // Not on the reader's wildcard: a non-loopback address of this machine
    // is tested in ship.rs; here, the port is bound to loopback addresses
    // only, as the ready line says.
    let ready = d.stderr();
    assert!(
        !ready.contains(&format!("0.0.0.0:{}", d.put.port())),
        "{ready}"
    );
    assert!(
        !ready.contains(&format!("[::]:{}", d.put.port())),
        "{ready}"
    );
}

// ---------------------------------------------------------------------------
// Certificates: made with openssl, as an operator makes them.

/// Runs `openssl` in `dir`; panics with its stderr if it fails.
fn openssl(dir: &Path, args: &[&str]) {
    let out = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .stdin(Stdio::null())
        .output()
        .expect("openssl is installed");
    assert!(
        out.status.success(),
        "openssl {}: {}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A private key in `dir/name`, made by `openssl` with `args` (its
/// command first).
fn key(dir: &Path, name: &str, args: &[&str]) -> PathBuf {
    // `-out` right after the command: genrsa wants the key size last.
    let mut all = vec![args[0], "-out", name];
    all.extend_from_slice(&args[1..]);
    openssl(dir, &all);
    dir.join(name)
}

/// A self-signed certificate for `localhost` with `key`: version 1 (`x509
/// -req` with no extensions) or version 3 (`req -x509`, with a
/// subjectAltName).
fn self_signed(dir: &Path, key: &Path, name: &str, v1: bool, digest: &str) -> PathBuf {
    let key = key.to_string_lossy();
    if v1 {
        let csr = format!("{name}.csr");
        openssl(
            dir,
            &[
                "req",
                "-new",
                "-key",
                &key,
                "-subj",
                "/CN=localhost",
                "-out",
                &csr,
            ],
        );
        openssl(
            dir,
            &[
                "x509", "-req", "-in", &csr, "-signkey", &key, digest, "-days", "2", "-out", name,
            ],
        );
    } else {
        openssl(
            dir,
            &[
                "req",
                "-x509",
                "-new",
                "-key",
                &key,
                digest,
                "-days",
                "2",
                "-subj",
                "/CN=localhost",
                "-addext",
                "subjectAltName=DNS:localhost",
                "-out",
                name,
            ],
        );
    }
    dir.join(name)
}

/// The X.509 version `openssl x509 -text` reads in `cert`.
fn version_of(cert: &Path) -> u8 {
    let out = Command::new("openssl")
        .args(["x509", "-noout", "-text", "-in"])
        .arg(cert)
        .output()
        .expect("openssl");
    let text = String::from_utf8_lossy(&out.stdout);
    let line = text
        .lines()
        .find(|l| l.trim_start().starts_with("Version:"))
        .unwrap();
    line.trim_start()["Version:".len()..].trim()[..1]
        .parse()
        .unwrap()
}

fn tls_daemon(cert: &Path, key: &Path) -> Daemon {
    Daemon::builder()
        .env("SERVER_CRT_FILE", cert.to_string_lossy())
        .env("SERVER_KEY_FILE", key.to_string_lossy())
        .own_temp_dir()
        .start_process()
}

/// Uploads a line and reads it back over HTTPS with `curl` trusting
/// `ca`, or with `-k` (no verification) when `ca` is `None`.
fn served_over_tls(d: &Daemon, ca: Option<&Path>, what: &str) {
    let line = format!("served with {what}\n");
    curl_upload(&d.put_url(), line.as_bytes());
    let ca = ca.map(|p| p.to_string_lossy().into_owned());
    let mut extra = vec!["--http1.1"];
    match &ca {
        Some(ca) => extra.extend(["--cacert", ca]),
        None => extra.push("-k"),
    }
    let (code, body, err) = curl_get(&d.https_url(), &extra);
    assert_eq!(code, 0, "{what}: curl: {err}\n{}", d.stderr());
    assert_eq!(String::from_utf8_lossy(&body), line, "{what}");
}

#[test]
fn a_version_1_certificate_is_served_to_curl() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let rsa = key(d, "rsa.key", &["genrsa", "-traditional", "2048"]);
    // As the Go livelog's own test certificate: version 1, RSA 2048, SHA-1
    // (which no client verifies any more, so curl is told not to).
    let sha1 = self_signed(d, &rsa, "sha1.crt", true, "-sha1");
    assert_eq!(version_of(&sha1), 1);
    served_over_tls(
        &tls_daemon(&sha1, &rsa),
        None,
        "an X.509 v1 SHA-1 certificate",
    );
    // A version 1 certificate curl verifies.
    let v1 = self_signed(d, &rsa, "v1.crt", true, "-sha256");
    assert_eq!(version_of(&v1), 1);
    served_over_tls(&tls_daemon(&v1, &rsa), Some(&v1), "an X.509 v1 certificate");
}

#[test]
fn every_key_type_and_encoding_the_go_livelog_takes_is_served() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let kinds: [(&str, &[&str], &str); 7] = [
        (
            "RSA, PKCS#1",
            &["genrsa", "-traditional", "2048"],
            "BEGIN RSA PRIVATE KEY",
        ),
        (
            "RSA, PKCS#8",
            &[
                "genpkey",
                "-algorithm",
                "RSA",
                "-pkeyopt",
                "rsa_keygen_bits:2048",
            ],
            "BEGIN PRIVATE KEY",
        ),
        (
            "ECDSA P-256, SEC1",
            &["ecparam", "-name", "prime256v1", "-genkey", "-noout"],
            "BEGIN EC PRIVATE KEY",
        ),
        (
            "ECDSA P-256, PKCS#8",
            &[
                "genpkey",
                "-algorithm",
                "EC",
                "-pkeyopt",
                "ec_paramgen_curve:P-256",
            ],
            "BEGIN PRIVATE KEY",
        ),
        (
            "ECDSA P-384, SEC1",
            &["ecparam", "-name", "secp384r1", "-genkey", "-noout"],
            "BEGIN EC PRIVATE KEY",
        ),
        (
            "ECDSA P-384, PKCS#8",
            &[
                "genpkey",
                "-algorithm",
                "EC",
                "-pkeyopt",
                "ec_paramgen_curve:P-384",
            ],
            "BEGIN PRIVATE KEY",
        ),
        (
            "Ed25519, PKCS#8",
            &["genpkey", "-algorithm", "ed25519"],
            "BEGIN PRIVATE KEY",
        ),
    ];
    for (i, (what, args, pem)) in kinds.into_iter().enumerate() {
        let k = key(d, &format!("{i}.key"), args);
        let text = std::fs::read_to_string(&k).unwrap();
        assert!(text.contains(pem), "{what}: {text}");
        // Alternate the versions, so each is served with several key types.
        let v1 = i % 2 == 0;
        let cert = self_signed(d, &k, &format!("{i}.crt"), v1, "-sha256");
        assert_eq!(version_of(&cert), if v1 { 1 } else { 3 }, "{what}");
        let what = format!("{what} key, X.509 v{}", if v1 { 1 } else { 3 });
        served_over_tls(&tls_daemon(&cert, &k), Some(&cert), &what);
    }
}

#[test]
fn a_chain_with_an_intermediate_is_sent_whole() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let ca_ext = "basicConstraints=critical,CA:true\nkeyUsage=critical,keyCertSign,cRLSign\n";
    std::fs::write(d.join("ca.ext"), ca_ext).unwrap();
    let root_key = key(
        d,
        "root.key",
        &[
            "genpkey",
            "-algorithm",
            "EC",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
        ],
    );
    openssl(
        d,
        &[
            "req",
            "-x509",
            "-new",
            "-key",
            "root.key",
            "-days",
            "2",
            "-subj",
            "/CN=livelog test root",
            "-addext",
            "basicConstraints=critical,CA:true",
            "-addext",
            "keyUsage=critical,keyCertSign,cRLSign",
            "-out",
            "root.crt",
        ],
    );
    assert!(root_key.exists());
    key(
        d,
        "mid.key",
        &[
            "genpkey",
            "-algorithm",
            "EC",
            "-pkeyopt",
            "ec_paramgen_curve:P-384",
        ],
    );
    openssl(
        d,
        &[
            "req",
            "-new",
            "-key",
            "mid.key",
            "-subj",
            "/CN=livelog test intermediate",
            "-out",
            "mid.csr",
        ],
    );
    openssl(
        d,
        &[
            "x509",
            "-req",
            "-in",
            "mid.csr",
            "-CA",
            "root.crt",
            "-CAkey",
            "root.key",
            "-CAcreateserial",
            "-days",
            "2",
            "-extfile",
            "ca.ext",
            "-out",
            "mid.crt",
        ],
    );
    std::fs::write(d.join("leaf.ext"), "subjectAltName=DNS:localhost\n").unwrap();
    let leaf_key = key(d, "leaf.key", &["genrsa", "2048"]);
    openssl(
        d,
        &[
            "req",
            "-new",
            "-key",
            "leaf.key",
            "-subj",
            "/CN=localhost",
            "-out",
            "leaf.csr",
        ],
    );
    openssl(
        d,
        &[
            "x509",
            "-req",
            "-in",
            "leaf.csr",
            "-CA",
            "mid.crt",
            "-CAkey",
            "mid.key",
            "-CAcreateserial",
            "-days",
            "2",
            "-extfile",
            "leaf.ext",
            "-out",
            "leaf.crt",
        ],
    );
    // The file the server is given: its certificate, then the intermediate.
    let chain = d.join("chain.crt");
    let both = std::fs::read_to_string(d.join("leaf.crt")).unwrap()
        + &std::fs::read_to_string(d.join("mid.crt")).unwrap();
    std::fs::write(&chain, both).unwrap();
    // curl trusts only the root: it needs the intermediate from the server.
    served_over_tls(
        &tls_daemon(&chain, &leaf_key),
        Some(&d.join("root.crt")),
        "a chain",
    );
    // Without the intermediate, the same curl refuses: the check above is
    // not vacuous.
    let alone = tls_daemon(&d.join("leaf.crt"), &leaf_key);
    let (code, _, err) = curl_get(
        &alone.https_url(),
        &["--cacert", &d.join("root.crt").to_string_lossy()],
    );
    assert_ne!(code, 0, "curl verified a chain it was not sent: {err}");
}

/// Starts livelog with the files and expects a startup error: (exit code,
/// the error line).
fn tls_startup_error(cert: &Path, key: &Path) -> (i32, String) {
    let (status, stderr) = Daemon::builder()
        .env("SERVER_CRT_FILE", cert.to_string_lossy())
        .env("SERVER_KEY_FILE", key.to_string_lossy())
        .run_to_exit(Duration::from_secs(30));
    let line = stderr
        .lines()
        .find(|l| l.contains("error"))
        .unwrap_or_else(|| panic!("no error line:\n{stderr}"))
        .to_string();
    (status.code().unwrap_or(-1), line)
}

#[test]
fn certificate_and_key_errors_name_the_file_and_the_cause() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let rsa = key(d, "rsa.key", &["genrsa", "-traditional", "2048"]);
    let other = key(d, "other.key", &["genrsa", "-traditional", "2048"]);
    let v1 = self_signed(d, &rsa, "v1.crt", true, "-sha256");
    let v3 = self_signed(d, &rsa, "v3.crt", false, "-sha256");
    let s = |p: &Path| p.to_string_lossy().into_owned();

    // A key that does not match its certificate, of either version, is the
    // key file's fault.
    for cert in [&v1, &v3] {
        let (code, line) = tls_startup_error(cert, &other);
        assert_eq!(code, 1, "{line}");
        assert!(
            line.contains(&format!("SERVER_KEY_FILE {}", s(&other))),
            "{line}"
        );
        assert!(line.contains("does not match"), "{line}");
        assert!(line.contains(&s(cert)), "{line}");
    }
    // A key TLS cannot sign with (P-521: neither rustls nor Go's TLS 1.3
    // offers it here) is named as such.
    let p521 = key(
        d,
        "p521.key",
        &[
            "genpkey",
            "-algorithm",
            "EC",
            "-pkeyopt",
            "ec_paramgen_curve:P-521",
        ],
    );
    let p521_cert = self_signed(d, &p521, "p521.crt", false, "-sha256");
    let (code, line) = tls_startup_error(&p521_cert, &p521);
    assert_eq!(code, 1, "{line}");
    assert!(
        line.contains(&format!("SERVER_KEY_FILE {}", s(&p521))),
        "{line}"
    );
    assert!(line.contains("cannot be used"), "{line}");
    // PEM that holds no certificate (base64 of junk): the certificate file's
    // fault, and it says what is wrong.
    let junk = d.join("junk.crt");
    std::fs::write(
        &junk,
        "-----BEGIN CERTIFICATE-----\naGVsbG8gd29ybGQ=\n-----END CERTIFICATE-----\n",
    )
    .unwrap();
    let (code, line) = tls_startup_error(&junk, &rsa);
    assert_eq!(code, 1, "{line}");
    assert!(
        line.contains(&format!("SERVER_CRT_FILE {}", s(&junk))),
        "{line}"
    );
    assert!(line.contains("not a valid X.509 certificate"), "{line}");
    // The order of the two files' faults: the certificate first.
    let (_, line) = tls_startup_error(&junk, &junk);
    assert!(line.contains("SERVER_CRT_FILE"), "{line}");
}

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

// ---------------------------------------------------------------------------
// Ending: a hard kill, and the stop request.

#[test]
fn a_hard_kill_leaves_nothing_in_the_temp_dir() {
    let mut d = DaemonBuilder::new().own_temp_dir().start_process();
    let dir = d.temp_dir().unwrap().to_owned();
    // Some stored bytes, read back, so the file has content.
    curl_upload(&d.put_url(), &common::pattern(300_000, 7));
    let (code, body, err) = curl_get(&d.get_url(), &[]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(body.len(), 300_000);
    // SIGKILL on Unix; under wine, the same kills the Windows process as
    // TerminateProcess does: no handler runs.
    d.child().kill().unwrap();
    d.child().wait().unwrap();
    let listing = || -> Vec<String> {
        std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect()
    };
    // Windows deletes a delete-on-close file as the dead process's handles
    // close, just after it ends.
    assert!(
        wait_until(Duration::from_secs(30), || listing().is_empty()),
        "left in LIVELOG_TEMP_DIR after a hard kill: {:?}",
        listing()
    );
}

/// SIGINT (what a terminal's Ctrl-C sends; under wine, Windows' Ctrl-C
/// event) stops livelog gracefully: a finished log drains and it exits 0.
#[test]
#[cfg_attr(not(unix), ignore = "sends SIGINT with kill(1)")]
fn the_stop_request_lets_a_finished_log_drain_and_exits_zero() {
    let mut d = Daemon::builder().own_temp_dir().start_process();
    curl_upload(&d.put_url(), b"drained\n");
    d.signal("INT");
    let status = d.wait_exit(Duration::from_secs(30));
    assert_eq!(status.and_then(|s| s.code()), Some(0), "{}", d.stderr());
    let log = d.stderr();
    assert!(log.contains("received: shutting down"), "{log}");
    assert!(log.contains("livelog stopped stored=8"), "{log}");
}
