//! Who the per-address limits count, for each way readers reach livelog
//! (`src/http/client.rs`): a direct client; nginx on loopback, with and
//! without `X-Forwarded-For`; a plain TCP forwarder on loopback (socat), as
//! generic-worker's websocktunnel client is; each with
//! `LIVELOG_TRUSTED_PROXIES` unset and set to loopback. In each, a guesser
//! from one address sends more wrong tokens than the limit allows, then a
//! reader from another address, and then the guesser, ask with the right
//! token: the reader is never refused, and the guesser is refused exactly
//! where livelog can tell it apart.
//!
//! The two client addresses are 198.18.7.1 and 198.18.7.2, added to `lo`
//! for the test (it needs root, as `scripts/proxy-tests.sh` runs in CI), so
//! a direct client is not a loopback peer.

use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};

use super::server::{Kind, Proxy};
use crate::common::{Daemon, SOON, TOKEN, curl, free_port, wait_until};

const GUESSER: &str = "198.18.7.1";
const READER: &str = "198.18.7.2";
/// `LIVELOG_MAX_TOKEN_FAILURES`: the guesser sends one more.
const LIMIT: u32 = 3;

/// The two addresses on `lo`, removed when dropped.
struct Addresses;

impl Addresses {
    fn add() -> Addresses {
        for addr in [GUESSER, READER] {
            let _ = Command::new("ip")
                .args(["addr", "del", &format!("{addr}/32"), "dev", "lo"])
                .stderr(Stdio::null())
                .status();
            let ok = Command::new("ip")
                .args(["addr", "add", &format!("{addr}/32"), "dev", "lo"])
                .status()
                .is_ok_and(|s| s.success());
            assert!(ok, "cannot add {addr} to lo (needs root and iproute2)");
        }
        Addresses
    }
}

impl Drop for Addresses {
    fn drop(&mut self) {
        for addr in [GUESSER, READER] {
            let _ = Command::new("ip")
                .args(["addr", "del", &format!("{addr}/32"), "dev", "lo"])
                .status();
        }
    }
}

/// A plain TCP forwarder (socat) on loopback to livelog's reader port.
struct Forwarder {
    port: u16,
    child: Child,
}

impl Forwarder {
    fn start(to: SocketAddr) -> Forwarder {
        let port = free_port();
        let child = Command::new("socat")
            .arg(format!("TCP-LISTEN:{port},bind=0.0.0.0,reuseaddr,fork"))
            .arg(format!("TCP:127.0.0.1:{}", to.port()))
            .stdin(Stdio::null())
            .spawn()
            .expect("socat (apt-get install socat)");
        assert!(wait_until(SOON, || crate::common::net::is_listening(port)));
        Forwarder { port, child }
    }
}

impl Drop for Forwarder {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The status of `GET /log/<token>` at `port` from `from`.
fn status(from: &str, port: u16, token: &str) -> u16 {
    let url = format!("http://127.0.0.1:{port}/log/{token}");
    let (_, out, _) = curl(&[
        "-s",
        "-o",
        "/dev/null",
        "-w",
        "%{http_code}",
        "--max-time",
        "10",
        "--interface",
        from,
        "-I",
        &url,
    ]);
    String::from_utf8_lossy(&out).parse().unwrap_or(0)
}

/// How readers reach livelog in one case.
#[derive(Clone, Copy, Debug)]
enum Way {
    Direct,
    Nginx,
    NginxForwardedFor,
    TcpForwarder,
}

/// Runs one case; returns (the guesser's status with the right token after
/// its wrong ones, the reader's).
fn case(way: Way, trusted: bool) -> (u16, u16) {
    let mut builder = Daemon::builder().env("LIVELOG_MAX_TOKEN_FAILURES", LIMIT.to_string());
    if trusted {
        builder = builder.env("LIVELOG_TRUSTED_PROXIES", "127.0.0.1");
    }
    let d = builder.start_process();
    let mut _proxy = None;
    let mut _forwarder = None;
    let port = match way {
        Way::Direct => d.get.port(),
        Way::Nginx | Way::NginxForwardedFor => {
            let kind = match way {
                Way::Nginx => Kind::Nginx,
                _ => Kind::NginxForwardedFor,
            };
            let proxy = Proxy::start(kind, d.get);
            let port = proxy.port;
            _proxy = Some(proxy);
            port
        }
        Way::TcpForwarder => {
            let f = Forwarder::start(d.get);
            let port = f.port;
            _forwarder = Some(f);
            port
        }
    };
    for _ in 0..=LIMIT {
        let s = status(GUESSER, port, "guess");
        assert!(s == 401 || s == 429, "{way:?}: a wrong token got {s}");
    }
    let reader = status(READER, port, TOKEN);
    let guesser = status(GUESSER, port, TOKEN);
    (guesser, reader)
}

#[test]
#[ignore = "needs root, iproute2, nginx and socat; scripts/proxy-tests.sh runs it"]
fn a_guesser_is_limited_only_where_it_can_be_told_apart() {
    let _addresses = Addresses::add();
    // (way, LIVELOG_TRUSTED_PROXIES=127.0.0.1?, is the guesser refused?)
    let cases = [
        (Way::Direct, false, true),
        (Way::Direct, true, true),
        // nginx naming nobody: one peer for everyone, so no one is limited.
        (Way::Nginx, false, false),
        (Way::Nginx, true, false),
        // nginx naming each client: the guesser alone, trusted or not.
        (Way::NginxForwardedFor, false, true),
        (Way::NginxForwardedFor, true, true),
        // A tunnel: bytes forwarded, nobody named.
        (Way::TcpForwarder, false, false),
        (Way::TcpForwarder, true, false),
    ];
    let mut table = String::from("way, trusted proxies, guesser, reader\n");
    for (way, trusted, refused) in cases {
        let (guesser, reader) = case(way, trusted);
        table.push_str(&format!("{way:?}, {trusted}, {guesser}, {reader}\n"));
        assert_eq!(
            reader, 200,
            "{way:?} trusted={trusted}: the reader\n{table}"
        );
        let want = if refused { 429 } else { 200 };
        assert_eq!(
            guesser, want,
            "{way:?} trusted={trusted}: the guesser\n{table}"
        );
    }
    println!("{table}");
}
