//! Shipping contract of the real binary: the version it reports, the
//! variables `--help` documents, and where the two listeners bind
//! (`LIVELOG_PUT_HOST`: loopback by default, elsewhere only when told, with a
//! warning; the reader port on all interfaces).
//!
//! The bind tests connect to this machine's own non-loopback address (from
//! `hostname -I`, else `ip -4 addr`). On a machine without one (a sandbox, a
//! container without network), a bind test re-runs itself, as root, in a
//! network namespace of its own that has one (`unshare --net`, an address on
//! its loopback interface); without root it fails, saying why: a bind test
//! that cannot connect from outside loopback would prove nothing. Nothing
//! here connects anywhere else, and nothing changes the machine's own
//! network.

use std::io::ErrorKind;
use std::net::{IpAddr, Ipv4Addr, SocketAddr, TcpStream};
use std::process::Command;
use std::time::Duration;

use crate::common::{Daemon, TOKEN, Uploader, binary, curl};

const VERSION: &str = env!("CARGO_PKG_VERSION");

/// Runs the binary with `args` and an empty environment; returns (exit code,
/// stdout, stderr).
fn run(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(binary())
        .args(args)
        .env_clear()
        .output()
        .expect("run livelog");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8(out.stdout).expect("stdout is UTF-8"),
        String::from_utf8(out.stderr).expect("stderr is UTF-8"),
    )
}

/// The names in README.md's configuration table (`| `NAME` | default | …`).
fn readme_variables() -> Vec<String> {
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md"))
        .expect("README.md");
    let start = readme
        .find("| variable | default | meaning |")
        .expect("README.md has the configuration table");
    readme[start..]
        .lines()
        .skip(2)
        .take_while(|l| l.starts_with('|'))
        .filter_map(|l| {
            let name = l.trim_start_matches('|').trim().strip_prefix('`')?;
            Some(name[..name.find('`')?].to_string())
        })
        .collect()
}

/// A non-loopback IPv4 address of this machine, or why there is none.
fn non_loopback_ipv4() -> Result<Ipv4Addr, String> {
    let usable = |ip: &Ipv4Addr| !ip.is_loopback() && !ip.is_unspecified() && !ip.is_link_local();
    if let Ok(out) = Command::new("hostname").arg("-I").output() {
        let text = String::from_utf8_lossy(&out.stdout);
        if let Some(ip) = text
            .split_whitespace()
            .filter_map(|w| w.parse::<Ipv4Addr>().ok())
            .find(usable)
        {
            return Ok(ip);
        }
    }
    // `ip -4 -o addr`: "2: eth0    inet 192.0.2.2/24 brd … scope global eth0".
    if let Ok(out) = Command::new("ip").args(["-4", "-o", "addr"]).output() {
        let text = String::from_utf8_lossy(&out.stdout);
        if let Some(ip) = text
            .lines()
            .filter_map(|l| {
                let mut words = l.split_whitespace();
                words.find(|w| *w == "inet")?;
                words.next()?.split('/').next()?.parse::<Ipv4Addr>().ok()
            })
            .find(usable)
        {
            return Ok(ip);
        }
    }
    Err("no non-loopback IPv4 address found (hostname -I, ip -4 addr)".into())
}

/// Set in the environment of a test re-run inside its own network namespace.
const IN_NETNS: &str = "LIVELOG_TEST_IN_NETNS";

/// The address [`rerun_in_netns`] gives the namespace (TEST-NET-3, on the
/// namespace's own loopback interface: it is not a loopback address).
const NETNS_ADDRESS: &str = "203.0.113.7/32";

/// This machine's non-loopback IPv4 address, for `test`. Without one, runs
/// `test` again in a network namespace that has one and returns `None`: the
/// caller returns at once, the re-run has checked everything.
fn outside_ipv4(test: &str) -> Option<Ipv4Addr> {
    match non_loopback_ipv4() {
        Ok(ip) => Some(ip),
        Err(why) => {
            rerun_in_netns(test, &why);
            None
        }
    }
}

/// Runs this test binary's `test` alone in a new network namespace whose
/// loopback interface is up and also has [`NETNS_ADDRESS`]; passes if it
/// passed there. Needs root (`unshare --net`); fails with the reason
/// otherwise, and fails if `why` holds even inside such a namespace.
fn rerun_in_netns(test: &str, why: &str) {
    assert!(
        std::env::var_os(IN_NETNS).is_none(),
        "{why}, even in the network namespace made for this test"
    );
    let root = Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| o.stdout == b"0\n");
    assert!(
        root,
        "{why}: {test} needs a non-loopback address to connect from, or root to make \
         one in a network namespace of its own (unshare --net)"
    );
    let script = format!("ip link set lo up && ip addr add {NETNS_ADDRESS} dev lo && exec \"$@\"");
    // The test's full name in this test binary: its module path without the
    // crate's name (`ship::<test>`).
    let full_name = match module_path!().split_once("::") {
        Some((_, module)) => format!("{module}::{test}"),
        None => test.to_owned(),
    };
    let out = Command::new("unshare")
        .args(["--net", "sh", "-ec", &script, "sh"])
        .arg(std::env::current_exe().expect("this test binary"))
        .args(["--exact", &full_name, "--nocapture", "--test-threads=1"])
        .env(IN_NETNS, "1")
        .output()
        .expect("unshare (util-linux) is installed");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    eprintln!("{why}: ran {test} in a network namespace with {NETNS_ADDRESS}:\n{stdout}{stderr}");
    assert!(
        out.status.success(),
        "{test} failed in its network namespace"
    );
    // A filter that matched nothing would pass without testing anything.
    assert!(
        stdout.contains("test result: ok. 1 passed"),
        "{test} did not run in its network namespace"
    );
}

/// Whether a TCP connection to `addr` is refused (as opposed to accepted).
fn refused(addr: SocketAddr) -> bool {
    match TcpStream::connect_timeout(&addr, Duration::from_secs(5)) {
        Ok(_) => false,
        Err(e) => {
            assert_eq!(
                e.kind(),
                ErrorKind::ConnectionRefused,
                "connecting to {addr}: expected a refusal, got {e}"
            );
            true
        }
    }
}

/// Uploads `body` through `put` and reads it back from `get` with curl;
/// returns what the reader got.
fn upload_and_read(put: SocketAddr, get: SocketAddr, body: &[u8]) -> Vec<u8> {
    let mut up = Uploader::start(put);
    up.chunk(body);
    let (status, reply) = up.finish();
    assert_eq!(status, 201, "upload via {put}: {reply}");
    let url = format!("http://{get}/log/{TOKEN}");
    let (code, got, err) = curl(&["-sS", "--max-time", "10", &url]);
    assert_eq!(code, 0, "curl {url}: {err}");
    got
}

#[test]
fn version_is_the_crate_version() {
    // The commit: the checkout's HEAD, as `git rev-parse --short=12` names
    // it (build.rs); `unknown` when built outside a git checkout.
    let commit = std::process::Command::new("git")
        .args(["rev-parse", "--short=12", "HEAD"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map_or("unknown".to_owned(), |o| {
            String::from_utf8_lossy(&o.stdout).trim().to_owned()
        });
    let line = format!("livelog {VERSION} (commit {commit})\n");
    let (code, out, err) = run(&["--version"]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(out, line);
    let (code, out, err) = run(&["-V"]);
    assert_eq!((code, out), (0, line), "{err}");
    let (code, out, err) = run(&["--short-version"]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(out, format!("{VERSION}\n"));
    // The release workflow checks the tag against this same string.
    let cargo_toml = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/Cargo.toml"))
        .expect("Cargo.toml");
    assert!(
        cargo_toml.contains(&format!("\nversion = \"{}\"\n", out.trim())),
        "--short-version {:?} is not Cargo.toml's version",
        out.trim()
    );
}

#[test]
fn help_lists_every_variable_in_the_readme_table() {
    let (code, help, err) = run(&["--help"]);
    assert_eq!(code, 0, "{err}");
    assert!(help.starts_with(&format!("livelog {VERSION}\n")), "{help}");
    let readme = readme_variables();
    assert!(
        readme.len() >= 10,
        "README.md's configuration table looks truncated: {readme:?}"
    );
    for name in &readme {
        assert!(
            help.lines()
                .any(|l| l.trim_start().starts_with(&format!("{name} "))),
            "--help does not list {name}:\n{help}"
        );
    }
    // And the other way round: every variable --help lists is documented.
    for line in help.lines().filter(|l| l.starts_with("  ")) {
        let name = line.split_whitespace().next().unwrap_or_default();
        if !name.is_empty() && name.chars().all(|c| c.is_ascii_uppercase() || c == '_') {
            assert!(
                readme.iter().any(|r| r == name),
                "--help lists {name}, README.md's table does not"
            );
        }
    }
    let (code, _, err) = run(&["--bogus"]);
    assert_ne!(code, 0);
    assert!(err.contains("--help"), "{err}");
}

#[test]
fn upload_port_is_loopback_only_by_default() {
    let Some(ip) = outside_ipv4("upload_port_is_loopback_only_by_default") else {
        return;
    };
    let d = Daemon::builder().own_temp_dir().start_process();
    assert_eq!(
        d.put.ip(),
        IpAddr::V4(Ipv4Addr::LOCALHOST),
        "{}",
        d.stderr()
    );
    // Every interface, IPv4 and IPv6: `[::]` taking both (or `0.0.0.0` on a
    // host without IPv6).
    assert!(d.get_bound.ip().is_unspecified(), "{}", d.stderr());
    assert!(
        !d.stderr().contains("non-loopback"),
        "warned without cause:\n{}",
        d.stderr()
    );
    let outside = SocketAddr::new(ip.into(), d.put.port());
    assert!(refused(outside), "upload port reachable via {outside}");
    // The reader port is on all interfaces: reachable via the same
    // address, and it serves the log there.
    let get = SocketAddr::new(ip.into(), d.get.port());
    let got = upload_and_read(d.put, get, b"loopback upload\n");
    assert_eq!(got, b"loopback upload\n");
}

#[test]
fn put_host_all_interfaces_binds_there_and_warns() {
    let Some(ip) = outside_ipv4("put_host_all_interfaces_binds_there_and_warns") else {
        return;
    };
    let d = Daemon::builder()
        .env("LIVELOG_PUT_HOST", "0.0.0.0")
        .own_temp_dir()
        .start_process();
    assert_eq!(d.put.ip(), IpAddr::V4(Ipv4Addr::UNSPECIFIED));
    let stderr = d.stderr();
    let warning = stderr
        .lines()
        .find(|l| l.contains("WARN") && l.contains("non-loopback"))
        .unwrap_or_else(|| panic!("no warning about the non-loopback bind:\n{stderr}"));
    assert!(warning.contains("0.0.0.0"), "{warning}");
    assert!(
        !stderr.contains(TOKEN),
        "the token reached the log:\n{stderr}"
    );
    let put = SocketAddr::new(ip.into(), d.put.port());
    let got = upload_and_read(put, d.get, b"uploaded from outside loopback\n");
    assert_eq!(got, b"uploaded from outside loopback\n");
}

#[test]
fn put_host_one_address_binds_only_that_address() {
    let Some(ip) = outside_ipv4("put_host_one_address_binds_only_that_address") else {
        return;
    };
    let d = Daemon::builder()
        .env("LIVELOG_PUT_HOST", ip.to_string())
        .own_temp_dir()
        .start_process();
    assert_eq!(d.put.ip(), IpAddr::V4(ip), "{}", d.stderr());
    assert!(
        d.stderr()
            .lines()
            .any(|l| l.contains("WARN") && l.contains(&ip.to_string())),
        "no warning naming {ip}:\n{}",
        d.stderr()
    );
    let loopback = SocketAddr::new(Ipv4Addr::LOCALHOST.into(), d.put.port());
    assert!(refused(loopback), "upload port reachable via {loopback}");
    let got = upload_and_read(d.put, d.get, b"only there\n");
    assert_eq!(got, b"only there\n");
}

#[test]
fn put_host_ipv6_loopback_needs_no_warning() {
    if let Err(e) = std::net::TcpListener::bind("[::1]:0") {
        let why = format!("this machine has no IPv6 loopback ({e})");
        rerun_in_netns("put_host_ipv6_loopback_needs_no_warning", &why);
        return;
    }
    let d = Daemon::builder()
        .env("LIVELOG_PUT_HOST", "::1")
        .own_temp_dir()
        .start_process();
    assert_eq!(d.put.ip(), "::1".parse::<IpAddr>().unwrap());
    assert!(
        !d.stderr().contains("non-loopback"),
        "warned about ::1:\n{}",
        d.stderr()
    );
    let got = upload_and_read(d.put, d.get, b"over ::1\n");
    assert_eq!(got, b"over ::1\n");
}

#[test]
fn bad_put_host_exits_naming_the_variable() {
    for bad in [
        "localhost",
        "not an address",
        "127.0.0.1:60022",
        "256.0.0.1",
    ] {
        let (status, stderr) = Daemon::builder()
            .env("LIVELOG_PUT_HOST", bad)
            .run_to_exit(Duration::from_secs(10));
        assert!(!status.success(), "LIVELOG_PUT_HOST={bad:?} was accepted");
        assert!(
            stderr.contains("LIVELOG_PUT_HOST"),
            "LIVELOG_PUT_HOST={bad:?}: the error does not name the variable:\n{stderr}"
        );
        assert!(
            !stderr.contains(TOKEN),
            "the token reached the log:\n{stderr}"
        );
    }
}

/// Checks the Dockerfile against the binary it ships: built by the one
/// static build script, `FROM scratch`, a numeric non-root user, a /tmp any
/// user can write, the default ports, the entrypoint, the licence, and no
/// opt-out of the loopback-only upload port. `scripts/container-test.sh`
/// builds the image and runs it (part of `.ci/run`).
#[test]
fn dockerfile_matches_the_binary_it_ships() {
    let dockerfile = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/Dockerfile"))
        .expect("Dockerfile");
    // Instructions of the final stage (after the last FROM), comments and
    // line continuations aside.
    let joined = dockerfile
        .lines()
        .filter(|l| !l.trim_start().starts_with('#'))
        .collect::<Vec<_>>()
        .join("\n")
        .replace("\\\n", " ");
    let stages: Vec<&str> = joined.split("\nFROM ").collect();
    assert!(stages.len() >= 2, "not a multi-stage Dockerfile");
    let builder = stages[..stages.len() - 1].join("\n");
    let last = stages[stages.len() - 1];
    assert!(
        builder.contains("scripts/build-static.sh"),
        "the builder stage must build with scripts/build-static.sh"
    );
    assert!(last.starts_with("scratch"), "final stage: {last}");
    let instruction = |name: &str| -> Vec<String> {
        last.lines()
            .filter_map(|l| l.trim().strip_prefix(&format!("{name} ")))
            .map(|s| s.trim().to_string())
            .collect()
    };
    assert_eq!(instruction("ENTRYPOINT"), [r#"["/livelog"]"#]);
    assert_eq!(instruction("EXPOSE"), ["60022 60023"]);
    let user = instruction("USER");
    assert_eq!(user.len(), 1, "one USER: {user:?}");
    let uid: u32 = user[0]
        .split(':')
        .next()
        .unwrap()
        .parse()
        .expect("numeric USER");
    assert_ne!(uid, 0, "the image must not run as root");
    // The image's files are the root file system build-static.sh lays out
    // in /rootfs (/livelog, and /tmp at 1777), copied as one tree and as they
    // are: `COPY /rootfs/tmp /tmp` copies the directory's contents only, so
    // /tmp got the default mode 0755 and only the one user it was chowned to
    // could write its temp file there: `--user 1000:0`, `runAsUser` and
    // podman's `--read-only` tmpfs failed.
    assert!(
        builder.contains("--rootfs /rootfs"),
        "the builder stage must lay out /rootfs with scripts/build-static.sh --rootfs"
    );
    let copies = instruction("COPY");
    assert_eq!(copies.len(), 1, "one COPY, of the whole tree: {copies:?}");
    let copy = &copies[0];
    assert!(
        copy.starts_with("--from=") && copy.ends_with(" /rootfs/ /"),
        "the final stage must copy the builder's /rootfs/ to /: {copy}"
    );
    assert!(
        !copy.contains("--chown") && !copy.contains("--chmod"),
        "the tree's modes and owners are build-static.sh's: {copy}"
    );
    let script = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/scripts/build-static.sh"
    ))
    .expect("scripts/build-static.sh");
    let lay_out = &script[script
        .find("lay_out_rootfs() {")
        .expect("build-static.sh lays out the root file system")..];
    let lay_out = &lay_out[..lay_out.find("\n}").expect("end of lay_out_rootfs")];
    assert!(
        lay_out.contains(r#"install -m 0755 "$bin" "$dir/livelog""#),
        "/livelog: {lay_out}"
    );
    assert!(
        lay_out.contains(r#"chmod 1777 "$dir/tmp""#),
        "/tmp must be writable by any user the container runs as (1777): {lay_out}"
    );
    assert_eq!(
        instruction("ENV"),
        ["LIVELOG_TEMP_DIR=/tmp"],
        "the temp file goes to that /tmp"
    );
    assert!(
        last.contains(r#"org.opencontainers.image.licenses="MPL-2.0""#)
            && last.contains(r#"org.opencontainers.image.version="${VERSION}""#),
        "OCI labels: {last}"
    );
    assert!(
        !joined.contains("LIVELOG_PUT_HOST"),
        "the image must not set LIVELOG_PUT_HOST"
    );
    let license = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/Cargo.toml"))
        .expect("Cargo.toml")
        .contains("license = \"MPL-2.0\"");
    assert!(license, "Cargo.toml's licence is not the image label's");
}

#[test]
fn help_starts_every_variables_text_in_one_column() {
    let (code, help, err) = run(&["--help"]);
    assert_eq!(code, 0, "{err}");
    let environment = help
        .split_once("Environment:\n")
        .map(|(_, rest)| rest)
        .expect("--help has an Environment: section");
    // (name, column where its help text starts), for every variable line.
    let columns: Vec<(&str, usize)> = environment
        .lines()
        .take_while(|l| l.starts_with("  "))
        .map(|line| {
            let name = line.split_whitespace().next().unwrap_or_default();
            let after = line.find(name).unwrap_or(0) + name.len();
            let gap = line[after..].len() - line[after..].trim_start().len();
            assert!(gap >= 1, "no space after {name}: {line:?}");
            (name, after + gap)
        })
        .collect();
    assert!(columns.len() >= 10, "too few variables:\n{help}");
    let (first, column) = columns[0];
    for (name, at) in &columns {
        assert_eq!(
            *at, column,
            "{name}'s help starts in column {at}, {first}'s in {column}:\n{help}"
        );
    }
    let longest = columns.iter().map(|(n, _)| n.len()).max().unwrap_or(0);
    assert_eq!(
        column,
        2 + longest + 1,
        "the column is not just past the longest name:\n{help}"
    );
}
