//! Binding the listening sockets.

use std::io;
use std::net::SocketAddr;

use tokio::net::{TcpListener, TcpSocket};

/// Pending connections each listener queues before `accept` (the kernel
/// caps it at `net.core.somaxconn`): thousands of readers may connect at
/// once when a task starts, and an overflowing queue costs them SYN
/// retransmits (a second or more each).
pub const BACKLOG: u32 = 1024;

/// Binds `addr` with `SO_REUSEADDR` (as tokio's own `bind` does) and a
/// [`BACKLOG`]-deep queue, registered with the runtime this is called in.
/// ([`TcpListener::into_std`] hands it to another runtime.)
///
/// # Errors
/// The I/O error from creating, binding or listening on the socket.
pub fn bind(addr: SocketAddr) -> io::Result<TcpListener> {
    let socket = if addr.is_ipv4() {
        TcpSocket::new_v4()?
    } else {
        TcpSocket::new_v6()?
    };
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(BACKLOG)
}
