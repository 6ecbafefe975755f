//! Every certificate and key the Go livelog serves: X.509 v1, every key
//! type and encoding it takes, a chain with an intermediate sent whole; and
//! certificate and key errors naming the file and the cause.

use super::*;

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
