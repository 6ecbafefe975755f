//! Who a request is from: the client address, for the access log, the
//! wrong-token limit and the per-address reader cap.
//!
//! It is the connection's peer, unless the peer is a proxy livelog was told
//! to trust (`LIVELOG_TRUSTED_PROXIES`). Then the proxies' own headers name
//! the client: `Forwarded: for=` (RFC 7239 §5.2) if present, else
//! `X-Forwarded-For`. Each proxy appends the address it received the request
//! from, so the list is read from the right, skipping trusted proxies: the
//! first untrusted address is the client (as nginx's `real_ip_recursive`
//! does). Anything an untrusted client wrote further left is never believed.
//! A header livelog cannot read names nobody: the peer stays the client.

use std::net::{IpAddr, Ipv6Addr, SocketAddr};

use http::HeaderMap;
use http::header::FORWARDED;
use ipnet::IpNet;

/// `X-Forwarded-For` (a de-facto standard, not in `http`'s constants).
const X_FORWARDED_FOR: &str = "x-forwarded-for";

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

    /// The client address of a request from `peer` with `headers`.
    pub fn client(&self, peer: SocketAddr, headers: &HeaderMap) -> IpAddr {
        let peer = canonical(peer.ip());
        if !self.trusts(peer) {
            return peer;
        }
        let forwarded = forwarded_for(headers);
        let chain = match forwarded {
            Some(chain) => chain,
            None => x_forwarded_for(headers).unwrap_or_default(),
        };
        chain
            .into_iter()
            .rev()
            .find(|addr| !self.trusts(*addr))
            .unwrap_or(peer)
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
        assert_eq!(none.client(peer("10.0.0.1"), &h), peer("10.0.0.1").ip());
        assert_eq!(
            none.client(peer("::ffff:10.0.0.1"), &h),
            peer("10.0.0.1").ip(),
            "IPv4-mapped peers are IPv4"
        );
    }

    #[test]
    fn a_trusted_proxy_chain_is_read_from_the_right() {
        let trusted = TrustedProxies::new(vec!["10.0.0.0/8".parse().unwrap()]);
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        let at = |pairs: &[(&str, &str)]| trusted.client(peer("10.0.0.1"), &headers(pairs));
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
        assert_eq!(trusted.client(peer("192.0.2.1"), &h), ip("192.0.2.1"));
    }
}
