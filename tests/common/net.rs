//! Socket states from `/proc/net/tcp` (IPv4), so that a test or benchmark can
//! wait for a condition ("socat listens", "the daemon's send queue to this
//! reader is full") instead of sleeping and hoping.

use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};

/// One IPv4 TCP socket of this network namespace.
#[derive(Debug, Clone, Copy)]
pub struct TcpSocket {
    pub local: SocketAddr,
    pub remote: SocketAddr,
    /// The kernel's state number (`0A` listen, `01` established, ...).
    pub state: u8,
    /// Bytes queued to send (not yet acknowledged by the peer).
    pub tx_queue: u64,
    /// Bytes received and not yet read by the application.
    pub rx_queue: u64,
}

const LISTEN: u8 = 0x0A;

/// Every IPv4 TCP socket in `/proc/net/tcp`.
pub fn tcp_sockets() -> Vec<TcpSocket> {
    let table = std::fs::read_to_string("/proc/net/tcp").expect("/proc/net/tcp");
    // "  sl  local_address rem_address   st tx_queue:rx_queue ...", then
    // "   0: 0100007F:1F90 00000000:0000 0A 00000000:00000000 ...".
    table.lines().skip(1).filter_map(parse_line).collect()
}

fn parse_line(line: &str) -> Option<TcpSocket> {
    let mut fields = line.split_whitespace().skip(1);
    let local = parse_addr(fields.next()?)?;
    let remote = parse_addr(fields.next()?)?;
    let state = u8::from_str_radix(fields.next()?, 16).ok()?;
    let (tx, rx) = fields.next()?.split_once(':')?;
    Some(TcpSocket {
        local,
        remote,
        state,
        tx_queue: u64::from_str_radix(tx, 16).ok()?,
        rx_queue: u64::from_str_radix(rx, 16).ok()?,
    })
}

/// `0100007F:1F90` is 127.0.0.1:8080: the address is the raw 32-bit word in
/// the host's byte order, the port is big-endian hex.
fn parse_addr(text: &str) -> Option<SocketAddr> {
    let (ip, port) = text.split_once(':')?;
    let ip = u32::from_str_radix(ip, 16).ok()?;
    let port = u16::from_str_radix(port, 16).ok()?;
    Some(SocketAddrV4::new(Ipv4Addr::from(ip.to_ne_bytes()), port).into())
}

/// Whether something listens on IPv4 `port` (any address).
pub fn is_listening(port: u16) -> bool {
    tcp_sockets()
        .iter()
        .any(|s| s.state == LISTEN && s.local.port() == port)
}

/// The socket whose local end is `local` and remote end `remote`, if any.
pub fn socket(local: SocketAddr, remote: SocketAddr) -> Option<TcpSocket> {
    tcp_sockets()
        .into_iter()
        .find(|s| s.local == local && s.remote == remote)
}
