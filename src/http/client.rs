//! Who a request is from: the client address, for the access log, the
//! wrong-token limit and the per-address reader cap.
//!
//! Three kinds of peer, three answers ([`TrustedProxies::identify`]):
//!
//! * **A trusted proxy** (`LIVELOG_TRUSTED_PROXIES`): its own headers name
//!   the client: `Forwarded: for=` (RFC 7239 §5.2) if present, else
//!   `X-Forwarded-For`. Each proxy appends the address it received the
//!   request from, so the list is read from the right, skipping trusted
//!   proxies: the first untrusted address is the client (as nginx's
//!   `real_ip_recursive` does). Anything an untrusted client wrote further
//!   left is never believed. A proxy that names nobody stands for every
//!   client behind it: the request is not counted against any address.
//! * **A loopback peer that is not trusted**: a forwarder on this host, which
//!   is how livelog is deployed: generic-worker's websocktunnel client
//!   forwards each viewer's connection, bytes unchanged, to
//!   `127.0.0.1:<port>` (taskcluster `workers/generic-worker/expose/wst.go`,
//!   `forwardPort`), and an nginx or Varnish on the host connects from
//!   loopback too. One such peer is many readers, so its address is no
//!   client's: limits never count it. Its forwarding header, if any (nginx
//!   and Varnish append one; websocktunnel passes on whatever the viewer
//!   sent), is not believed as the client's identity (the access log keeps
//!   the peer), but it does split the peer's requests for the per-address
//!   limits, by its right-most address: the one the nearest forwarder
//!   wrote. A client that forges it can only escape the limits, which it
//!   could by sending no header at all; it can count against another
//!   address only by naming one that readers behind the same forwarder
//!   are named by.
//! * **Any other peer** is the client, whatever its headers claim.
//!
//! A header livelog cannot read names nobody.

use std::net::{IpAddr, Ipv6Addr, SocketAddr};

use http::HeaderMap;
use http::header::FORWARDED;
use ipnet::IpNet;

/// `X-Forwarded-For` (a de-facto standard, not in `http`'s constants).
const X_FORWARDED_FOR: &str = "x-forwarded-for";

/// Who sent a request, as the access log and the per-address limits see it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Client {
    /// The address the access log names: the peer, or the client a trusted
    /// proxy named.
    pub addr: IpAddr,
    /// The address the per-address limits count the request under; `None`
    /// when the request cannot be told apart from others that share its
    /// peer (a forwarder on this host or a trusted proxy that named
    /// nobody): then no per-address limit applies to it.
    pub limit_key: Option<IpAddr>,
    /// The address an untrusted loopback forwarder's header gave (see the
    /// module docs): logged as what the header said, never as the client.
    pub forwarded_for: Option<IpAddr>,
}

impl Client {
    /// A client known by its own address (limits apply to it).
    pub fn direct(addr: IpAddr) -> Self {
        Client {
            addr,
            limit_key: Some(addr),
            forwarded_for: None,
        }
    }
}

/// The proxies whose forwarding headers livelog believes.
#[derive(Clone, Debug, Default)]
pub struct TrustedProxies {
    networks: Vec<IpNet>,
}

impl TrustedProxies {
    /// Trusts peers in `networks` (none: every peer is the client).
    pub fn new(networks: Vec<IpNet>) -> Self {
        TrustedProxies { networks }
    }

    fn trusts(&self, addr: IpAddr) -> bool {
        let addr = canonical(addr);
        self.networks.iter().any(|net| net.contains(&addr))
    }

    /// Who sent a request from `peer` with `headers` (the module docs give
    /// the rules).
    pub fn identify(&self, peer: SocketAddr, headers: &HeaderMap) -> Client {
        let peer = canonical(peer.ip());
        let chain = || {
            forwarded_for(headers)
                .or_else(|| x_forwarded_for(headers))
                .unwrap_or_default()
        };
        if self.trusts(peer) {
            return match chain().into_iter().rev().find(|a| !self.trusts(*a)) {
                Some(client) => Client::direct(client),
                None => Client {
                    addr: peer,
                    limit_key: None,
                    forwarded_for: None,
                },
            };
        }
        if peer.is_loopback() {
            let nearest = chain().last().copied();
            return Client {
                addr: peer,
                limit_key: nearest,
                forwarded_for: nearest,
            };
        }
        Client::direct(peer)
    }
}

/// IPv4 addresses as IPv4, also when they arrive IPv4-mapped on a
/// dual-stack socket (`::ffff:10.0.0.1`).
pub fn canonical(addr: IpAddr) -> IpAddr {
    match addr {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(IpAddr::V6(v6), IpAddr::V4),
        v4 => v4,
    }
}

/// The `for=` addresses of every `Forwarded` element, in order, or `None`
/// if there is no such header. An element whose `for` is not an address
/// (`unknown`, an obfuscated `_name`) ends the list there: nothing to its
/// left can be placed.
fn forwarded_for(headers: &HeaderMap) -> Option<Vec<IpAddr>> {
    let mut fields = headers.get_all(FORWARDED).iter().peekable();
    fields.peek()?;
    let mut chain = Vec::new();
    for element in fields
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
    {
        let node = element.split(';').find_map(|pair| {
            let (name, value) = pair.split_once('=')?;
            name.trim()
                .eq_ignore_ascii_case("for")
                .then(|| value.trim().trim_matches('"'))
        });
        match node.and_then(node_addr) {
            Some(addr) => chain.push(addr),
            None => chain.clear(),
        }
    }
    Some(chain)
}

/// A `Forwarded` node (RFC 7239 §6): `192.0.2.43`, `192.0.2.43:47011`,
/// `[2001:db8::1]` or `[2001:db8::1]:4711`.
fn node_addr(node: &str) -> Option<IpAddr> {
    if let Some(rest) = node.strip_prefix('[') {
        let (v6, _) = rest.split_once(']')?;
        return v6.parse::<Ipv6Addr>().ok().map(|a| canonical(a.into()));
    }
    let host = node.split_once(':').map_or(node, |(host, _)| host);
    host.parse().ok().map(canonical)
}

/// The addresses of `X-Forwarded-For`, in order; `None` if it is absent.
/// An entry that is not an address ends the list there, as for `Forwarded`.
fn x_forwarded_for(headers: &HeaderMap) -> Option<Vec<IpAddr>> {
    let mut fields = headers.get_all(X_FORWARDED_FOR).iter().peekable();
    fields.peek()?;
    let mut chain = Vec::new();
    for entry in fields
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
    {
        match node_addr(entry.trim()) {
            Some(addr) => chain.push(addr),
            None => chain.clear(),
        }
    }
    Some(chain)
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(
                http::HeaderName::from_bytes(k.as_bytes()).unwrap(),
                HeaderValue::from_str(v).unwrap(),
            );
        }
        h
    }

    fn peer(s: &str) -> SocketAddr {
        SocketAddr::new(s.parse().unwrap(), 5000)
    }

    #[test]
    fn untrusted_peers_are_the_client_whatever_they_claim() {
        let none = TrustedProxies::default();
        let h = headers(&[("x-forwarded-for", "1.2.3.4"), ("forwarded", "for=5.6.7.8")]);
        assert_eq!(
            none.identify(peer("10.0.0.1"), &h).addr,
            peer("10.0.0.1").ip()
        );
        assert_eq!(
            none.identify(peer("::ffff:10.0.0.1"), &h).addr,
            peer("10.0.0.1").ip(),
            "IPv4-mapped peers are IPv4"
        );
    }

    #[test]
    fn a_loopback_forwarder_is_no_client_and_its_header_only_splits_it() {
        let none = TrustedProxies::default();
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        // A tunnel: no header; nobody's address.
        let tunnel = none.identify(peer("127.0.0.1"), &headers(&[]));
        assert_eq!(tunnel.addr, ip("127.0.0.1"));
        assert_eq!(tunnel.limit_key, None);
        assert_eq!(none.identify(peer("::1"), &headers(&[])).limit_key, None);
        assert_eq!(
            none.identify(peer("::ffff:127.0.0.1"), &headers(&[]))
                .limit_key,
            None
        );
        // nginx's $proxy_add_x_forwarded_for: the right-most is the one it
        // saw; the client's own claim to its left counts for nothing.
        let h = headers(&[("x-forwarded-for", "6.6.6.6, 203.0.113.7")]);
        let behind_nginx = none.identify(peer("127.0.0.1"), &h);
        assert_eq!(behind_nginx.addr, ip("127.0.0.1"), "not believed");
        assert_eq!(behind_nginx.limit_key, Some(ip("203.0.113.7")));
        assert_eq!(behind_nginx.forwarded_for, Some(ip("203.0.113.7")));
        let h = headers(&[("forwarded", "for=192.0.2.60")]);
        assert_eq!(
            none.identify(peer("127.0.0.1"), &h).limit_key,
            Some(ip("192.0.2.60"))
        );
        // Any other peer is the client, whatever it claims.
        let h = headers(&[("x-forwarded-for", "203.0.113.7")]);
        assert_eq!(
            none.identify(peer("192.0.2.1"), &h),
            Client::direct(ip("192.0.2.1"))
        );
    }

    #[test]
    fn a_trusted_proxy_that_names_nobody_stands_for_many() {
        let trusted = TrustedProxies::new(vec!["10.0.0.0/8".parse().unwrap()]);
        let c = trusted.identify(peer("10.0.0.1"), &headers(&[]));
        assert_eq!(c.addr, "10.0.0.1".parse::<IpAddr>().unwrap());
        assert_eq!(c.limit_key, None);
        let h = headers(&[("x-forwarded-for", "10.9.9.9")]);
        assert_eq!(trusted.identify(peer("10.0.0.1"), &h).limit_key, None);
    }

    #[test]
    fn a_trusted_proxy_chain_is_read_from_the_right() {
        let trusted = TrustedProxies::new(vec!["10.0.0.0/8".parse().unwrap()]);
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        let at = |pairs: &[(&str, &str)]| trusted.identify(peer("10.0.0.1"), &headers(pairs)).addr;
        assert_eq!(at(&[]), ip("10.0.0.1"), "no header: the proxy itself");
        assert_eq!(at(&[("x-forwarded-for", "203.0.113.7")]), ip("203.0.113.7"));
        // A client's own claim on the left is skipped past: the right-most
        // untrusted address is the one a trusted proxy saw.
        assert_eq!(
            at(&[("x-forwarded-for", "6.6.6.6, 203.0.113.7, 10.1.1.1")]),
            ip("203.0.113.7")
        );
        assert_eq!(
            at(&[(
                "forwarded",
                "for=192.0.2.60;proto=http, for=\"[2001:db8::1]:4711\""
            )]),
            ip("2001:db8::1")
        );
        // Forwarded wins over X-Forwarded-For.
        assert_eq!(
            at(&[
                ("forwarded", "for=192.0.2.60"),
                ("x-forwarded-for", "198.51.100.1")
            ]),
            ip("192.0.2.60")
        );
        // Unreadable: the proxy.
        assert_eq!(at(&[("x-forwarded-for", "garbage")]), ip("10.0.0.1"));
        assert_eq!(at(&[("forwarded", "for=unknown")]), ip("10.0.0.1"));
        // An untrusted peer's headers count for nothing.
        let h = headers(&[("x-forwarded-for", "203.0.113.7")]);
        assert_eq!(
            trusted.identify(peer("192.0.2.1"), &h).addr,
            ip("192.0.2.1")
        );
    }
}
