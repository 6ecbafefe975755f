//! Binding the listening sockets, in both address families.
//!
//! By default (as the Go livelog's `:port`) the reader port listens on every
//! interface, IPv4 and IPv6: one IPv6 socket on `[::]` with `IPV6_V6ONLY`
//! turned off, so it takes IPv4 connections too. The option is set
//! explicitly because its default differs (off on Linux, on on Windows and
//! the BSDs). The upload port listens on loopback in both families,
//! `127.0.0.1` and `[::1]`, so `http://localhost:PORT/log` works whichever
//! `localhost` resolves to first. A host without IPv6 gets IPv4 alone, and
//! says so at startup; that is not an error. `LIVELOG_GET_HOST` /
//! `LIVELOG_PUT_HOST` bind one address instead (an IPv6 one for IPv6 only).

use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, TcpListener};

use socket2::{Domain, Protocol, Socket, Type};

use crate::config::Port;
use crate::error::StartupError;

/// Pending connections each listener queues before `accept` (the kernel
/// caps it at `net.core.somaxconn`): thousands of readers may connect at
/// once when a task starts, and an overflowing queue costs them SYN
/// retransmits (a second or more each).
pub const BACKLOG: i32 = 1024;

/// How many times a pair of loopback listeners on an ephemeral port (port 0)
/// is tried: the port the IPv4 one got may be taken on IPv6.
const EPHEMERAL_PAIR_TRIES: usize = 16;

/// One port's listening sockets, non-blocking, not yet registered with a
/// runtime, and where each one listens.
pub struct Listeners {
    /// At least one; the first is the one the ready line names first.
    pub bound: Vec<(TcpListener, SocketAddr)>,
}

impl Listeners {
    /// The addresses, in order.
    pub fn addrs(&self) -> Vec<SocketAddr> {
        self.bound.iter().map(|(_, addr)| *addr).collect()
    }

    /// Registers every socket with the runtime this is called in.
    ///
    /// # Errors
    /// [`StartupError::Bind`] naming the address whose socket the runtime
    /// refused.
    pub fn register(self, port: Port) -> Result<Vec<tokio::net::TcpListener>, StartupError> {
        self.bound
            .into_iter()
            .map(|(listener, addr)| {
                tokio::net::TcpListener::from_std(listener).map_err(|source| StartupError::Bind {
                    port,
                    addr,
                    source,
                })
            })
            .collect()
    }
}

/// Binds `port`: on `host` alone when it is given, else on the port's
/// default addresses (see the module documentation).
///
/// # Errors
/// [`StartupError::Bind`] naming the port and the address that failed.
pub fn bind_port(port: Port, host: Option<IpAddr>, number: u16) -> Result<Listeners, StartupError> {
    let sockets = bind_sockets(port, host, number)?;
    let bound = sockets
        .into_iter()
        .map(|(listener, addr)| match listener.local_addr() {
            Ok(local) => Ok((listener, local)),
            Err(source) => Err(StartupError::Bind { port, addr, source }),
        })
        .collect::<Result<_, _>>()?;
    Ok(Listeners { bound })
}

/// [`bind_port`]'s sockets, each with the address it was bound to.
fn bind_sockets(
    port: Port,
    host: Option<IpAddr>,
    number: u16,
) -> Result<Vec<(TcpListener, SocketAddr)>, StartupError> {
    let fail = |addr: SocketAddr| {
        move |err: BindError| StartupError::Bind {
            port,
            addr,
            source: err.into_io(),
        }
    };
    if let Some(ip) = host {
        let addr = SocketAddr::new(ip, number);
        return Ok(vec![(bind(addr, V6Only::Yes).map_err(fail(addr))?, addr)]);
    }
    match port {
        Port::Reader => {
            let any6 = SocketAddr::new(Ipv6Addr::UNSPECIFIED.into(), number);
            match bind(any6, V6Only::No) {
                Ok(listener) => Ok(vec![(listener, any6)]),
                Err(err) if err.no_ipv6() => {
                    let any4 = SocketAddr::new(Ipv4Addr::UNSPECIFIED.into(), number);
                    let listener = bind(any4, V6Only::Yes).map_err(fail(any4))?;
                    tracing::info!(
                        "no IPv6 on this host ({}): the reader port listens on IPv4 only",
                        err.into_io()
                    );
                    Ok(vec![(listener, any4)])
                }
                Err(err) => Err(fail(any6)(err)),
            }
        }
        Port::Upload => {
            // Port 0 (any free port): both get the port the IPv4 one got,
            // which may be taken on IPv6; then try another.
            let mut tries = 0;
            loop {
                tries += 1;
                let v4 = SocketAddr::new(Ipv4Addr::LOCALHOST.into(), number);
                let first = bind(v4, V6Only::Yes).map_err(fail(v4))?;
                let chosen = first.local_addr().map_or(number, |a| a.port());
                let v6 = SocketAddr::new(Ipv6Addr::LOCALHOST.into(), chosen);
                match bind(v6, V6Only::Yes) {
                    Ok(second) => return Ok(vec![(first, v4), (second, v6)]),
                    Err(err) if err.no_ipv6() => {
                        tracing::info!(
                            "no IPv6 loopback on this host ({}): the upload port listens on 127.0.0.1 only",
                            err.into_io()
                        );
                        return Ok(vec![(first, v4)]);
                    }
                    Err(BindError::Bind(err))
                        if number == 0
                            && err.kind() == io::ErrorKind::AddrInUse
                            && tries < EPHEMERAL_PAIR_TRIES => {}
                    Err(err) => return Err(fail(v6)(err)),
                }
            }
        }
    }
}

/// Whether an IPv6 socket takes IPv4 connections too.
#[derive(Clone, Copy, PartialEq, Eq)]
enum V6Only {
    /// IPv6 only (meaningless for an IPv4 address).
    Yes,
    /// Dual-stack: IPv4 connections arrive as IPv4-mapped IPv6 addresses.
    No,
}

/// Why a listener could not be bound.
enum BindError {
    /// No socket of the address's family could be created: for IPv6, the
    /// host has none.
    NoSocket(io::Error),
    /// Setting up, binding or listening failed.
    Bind(io::Error),
}

impl BindError {
    /// Whether this says the host has no IPv6 (for the address tried): no
    /// IPv6 sockets at all, or no such address (IPv6 turned off).
    fn no_ipv6(&self) -> bool {
        match self {
            BindError::NoSocket(_) => true,
            BindError::Bind(err) => err.kind() == io::ErrorKind::AddrNotAvailable,
        }
    }

    fn into_io(self) -> io::Error {
        match self {
            BindError::NoSocket(err) | BindError::Bind(err) => err,
        }
    }
}

/// Binds `addr` with a [`BACKLOG`]-deep queue.
///
/// `SO_REUSEADDR` is set on Unix (as tokio's and Go's listeners do), so a
/// restarted livelog can bind its port while the last one's connections are
/// in `TIME_WAIT`. Windows reuses such ports without it, and there it would
/// let a socket take a port another one is listening on, so it is left off
/// (as Go leaves it).
fn bind(addr: SocketAddr, v6only: V6Only) -> Result<TcpListener, BindError> {
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))
        .map_err(BindError::NoSocket)?;
    let set_up = || -> io::Result<()> {
        if addr.is_ipv6() {
            socket.set_only_v6(v6only == V6Only::Yes)?;
        }
        #[cfg(unix)]
        socket.set_reuse_address(true)?;
        socket.bind(&addr.into())?;
        socket.listen(BACKLOG)?;
        socket.set_nonblocking(true)
    };
    set_up().map_err(BindError::Bind)?;
    Ok(socket.into())
}
