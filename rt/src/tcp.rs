//! Socket options for the TCP connections a server accepts and a channel opens.
//!
//! The runtime adapters call [`TcpOptions::apply`] on every connected socket,
//! so the policy lives here once and the adapters stay thin.

use std::io;
use std::net::SocketAddr;

/// The `SO_SNDBUF` requested by default for connections to a peer on this host.
///
/// Linux doubles the value for its bookkeeping, so a socket holds 1 MiB.
/// Autotuning grows a loopback send buffer to `tcp_wmem`'s maximum (4 MiB by
/// default). Bytes copied into a buffer that large have left the CPU cache before
/// the reader copies them out. A 1 MiB buffer still holds a whole large message,
/// and on loopback, where the round trip is microseconds, it never limits the
/// rate. BENCHMARKS.md has the measurements.
pub const DEFAULT_LOOPBACK_SEND_BUFFER: usize = 512 << 10;

/// Options applied to each TCP connection (start from `TcpOptions::default()`;
/// more fields may come).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct TcpOptions {
    /// `SO_SNDBUF` for connections whose peer address is a loopback address;
    /// `None` leaves the kernel's autotuning. Connections to other hosts always
    /// keep autotuning: a fixed buffer would cap a long-distance connection at
    /// buffer size per round trip.
    pub loopback_send_buffer: Option<usize>,
    /// The listen backlog of a server's socket: connections the kernel
    /// completes and queues before the server accepts them. `None`: the
    /// system's maximum ([`default_listen_backlog`]), as gRPC-Go and grpcio
    /// do; a short queue drops the SYNs of a burst of connects, which then
    /// wait a second for their retransmission.
    pub listen_backlog: Option<u32>,
}

impl Default for TcpOptions {
    fn default() -> Self {
        TcpOptions { loopback_send_buffer: Some(DEFAULT_LOOPBACK_SEND_BUFFER), listen_backlog: None }
    }
}

/// The listen backlog used when none is set: the system's maximum
/// (`/proc/sys/net/core/somaxconn` on Linux), else 4096.
pub fn default_listen_backlog() -> u32 {
    #[cfg(target_os = "linux")]
    if let Ok(s) = std::fs::read_to_string("/proc/sys/net/core/somaxconn")
        && let Ok(n) = s.trim().parse::<u32>()
        && n > 0
    {
        return n;
    }
    4096
}

impl TcpOptions {
    /// The listen backlog in force.
    pub fn backlog(&self) -> u32 {
        self.listen_backlog.unwrap_or_else(default_listen_backlog)
    }

    /// A non-blocking listening socket on `addr` with [`TcpOptions::backlog`]
    /// (`SO_REUSEADDR` on Unix, as the standard library sets it): what the
    /// adapters wrap in their runtime's listener type.
    pub fn bind(&self, addr: SocketAddr) -> io::Result<std::net::TcpListener> {
        use socket2::{Domain, Protocol, Socket, Type};
        let socket = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
        #[cfg(unix)]
        socket.set_reuse_address(true)?;
        socket.bind(&addr.into())?;
        socket.listen(self.backlog().min(i32::MAX as u32) as i32)?;
        socket.set_nonblocking(true)?;
        Ok(socket.into())
    }

    /// The send buffer to request for a connection to `peer`, if any.
    pub fn send_buffer_for(&self, peer: SocketAddr) -> Option<usize> {
        self.loopback_send_buffer.filter(|_| peer.ip().to_canonical().is_loopback())
    }

    /// Sets `TCP_NODELAY` (gRPC messages are framed already; Nagle would only
    /// delay them) and, for a loopback peer, the send buffer.
    pub fn apply(&self, socket: socket2::SockRef<'_>, peer: SocketAddr) -> io::Result<()> {
        socket.set_tcp_nodelay(true)?;
        if let Some(bytes) = self.send_buffer_for(peer) {
            // A tuning hint: a socket that refuses it still works, so the
            // connection goes on with the kernel's default.
            let _ = socket.set_send_buffer_size(bytes);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr(s: &str) -> SocketAddr {
        s.parse().unwrap()
    }

    #[test]
    fn only_loopback_peers_get_a_fixed_send_buffer() {
        let options = TcpOptions::default();
        for peer in ["127.0.0.1:1", "127.8.9.10:443", "[::1]:50051", "[::ffff:127.0.0.1]:80"] {
            assert_eq!(options.send_buffer_for(addr(peer)), Some(DEFAULT_LOOPBACK_SEND_BUFFER), "{peer}");
        }
        for peer in ["10.0.0.1:1", "192.168.1.2:50051", "[2001:db8::1]:443", "[::ffff:10.0.0.1]:80"] {
            assert_eq!(options.send_buffer_for(addr(peer)), None, "{peer}");
        }
        let off = TcpOptions { loopback_send_buffer: None, ..TcpOptions::default() };
        assert_eq!(off.send_buffer_for(addr("127.0.0.1:1")), None);
    }

    #[test]
    fn apply_sets_nodelay_and_the_loopback_send_buffer() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let peer = listener.local_addr().unwrap();
        let tuned = std::net::TcpStream::connect(peer).unwrap();
        let untouched = std::net::TcpStream::connect(peer).unwrap();
        let options = TcpOptions { loopback_send_buffer: Some(300 << 10), ..TcpOptions::default() };
        options.apply(socket2::SockRef::from(&tuned), peer).unwrap();
        assert!(tuned.nodelay().unwrap());
        let tuned_size = socket2::SockRef::from(&tuned).send_buffer_size().unwrap();
        // Linux doubles the request; other systems store it as given.
        assert!(tuned_size >= 300 << 10, "SO_SNDBUF {tuned_size}");
        let default_size = socket2::SockRef::from(&untouched).send_buffer_size().unwrap();
        assert_ne!(tuned_size, default_size, "the option changed nothing");
        // A non-loopback peer address leaves the buffer as the kernel chose it.
        let other = std::net::TcpStream::connect(peer).unwrap();
        let before = socket2::SockRef::from(&other).send_buffer_size().unwrap();
        options.apply(socket2::SockRef::from(&other), addr("10.0.0.1:80")).unwrap();
        assert_eq!(socket2::SockRef::from(&other).send_buffer_size().unwrap(), before);
        assert!(other.nodelay().unwrap());
    }
}
