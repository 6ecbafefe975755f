//! Socket states from `/proc/net/tcp` and `/proc/net/tcp6`, so that a test
//! or benchmark can wait for a condition ("socat listens", "the daemon's
//! send queue to this reader is full", "the daemon holds N connections")
//! instead of sleeping and hoping.

use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6};

/// One TCP socket of this network namespace.
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
    /// The socket's inode, as `/proc/<pid>/fd/*` links name it
    /// (`socket:[<inode>]`).
    pub inode: u64,
}

const LISTEN: u8 = 0x0A;
const ESTABLISHED: u8 = 0x01;

/// Every TCP socket in `/proc/net/tcp` and `/proc/net/tcp6`.
pub fn tcp_sockets() -> Vec<TcpSocket> {
    let table = std::fs::read_to_string("/proc/net/tcp").expect("/proc/net/tcp");
    // A kernel without IPv6 has no tcp6 table.
    let table6 = std::fs::read_to_string("/proc/net/tcp6").unwrap_or_default();
    // "  sl  local_address rem_address   st tx_queue:rx_queue tr:when retr
    //  uid timeout inode ...", then
    // "   0: 0100007F:1F90 00000000:0000 0A 00000000:00000000 00:00000000
    //  00000000 0 0 12345 ...".
    table
        .lines()
        .skip(1)
        .chain(table6.lines().skip(1))
        .filter_map(parse_line)
        .collect()
}

fn parse_line(line: &str) -> Option<TcpSocket> {
    let fields: Vec<&str> = line.split_whitespace().collect();
    let (tx, rx) = fields.get(4)?.split_once(':')?;
    Some(TcpSocket {
        local: parse_addr(fields.get(1)?)?,
        remote: parse_addr(fields.get(2)?)?,
        state: u8::from_str_radix(fields.get(3)?, 16).ok()?,
        tx_queue: u64::from_str_radix(tx, 16).ok()?,
        rx_queue: u64::from_str_radix(rx, 16).ok()?,
        inode: fields.get(9)?.parse().ok()?,
    })
}

/// `0100007F:1F90` is 127.0.0.1:8080: the address is the raw 32-bit word(s)
/// in the host's byte order (one for IPv4, four for IPv6; an IPv4-mapped
/// IPv6 address stands for its IPv4 address), the port is big-endian hex.
fn parse_addr(text: &str) -> Option<SocketAddr> {
    let (ip, port) = text.split_once(':')?;
    let port = u16::from_str_radix(port, 16).ok()?;
    if ip.len() == 8 {
        let ip = u32::from_str_radix(ip, 16).ok()?;
        return Some(SocketAddrV4::new(Ipv4Addr::from(ip.to_ne_bytes()), port).into());
    }
    let mut octets = [0u8; 16];
    for (i, word) in octets.chunks_mut(4).enumerate() {
        let w = u32::from_str_radix(ip.get(i * 8..i * 8 + 8)?, 16).ok()?;
        word.copy_from_slice(&w.to_ne_bytes());
    }
    let ip = Ipv6Addr::from(octets);
    Some(match ip.to_ipv4_mapped() {
        Some(v4) => SocketAddrV4::new(v4, port).into(),
        None => SocketAddrV6::new(ip, port, 0, 0).into(),
    })
}

/// How many established connections on local `port` the process `pid`
/// holds (its `/proc/<pid>/fd` links matched against the tables' inodes).
pub fn established(pid: u32, port: u16) -> usize {
    let inodes: std::collections::HashSet<u64> = tcp_sockets()
        .iter()
        .filter(|s| s.state == ESTABLISHED && s.local.port() == port)
        .map(|s| s.inode)
        .collect();
    std::fs::read_dir(format!("/proc/{pid}/fd"))
        .map(|dir| {
            dir.filter_map(|e| std::fs::read_link(e.ok()?.path()).ok())
                .filter_map(|link| {
                    let link = link.to_string_lossy().into_owned();
                    link.strip_prefix("socket:[")?
                        .strip_suffix(']')?
                        .parse()
                        .ok()
                })
                .filter(|inode| inodes.contains(inode))
                .count()
        })
        .unwrap_or(0)
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
