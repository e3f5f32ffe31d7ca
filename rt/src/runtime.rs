//! What an adapter provides: spawning, timers, sockets and the TLS handshake.
//! Everything else in Weir's async layer is written once against these traits.

use std::future::Future;
use std::io::{self, IoSlice};
use std::net::SocketAddr;
use std::pin::Pin;
#[cfg(feature = "tls")]
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Instant;

use bytes::BytesMut;
/// The transport's pending output, as [`Io::poll_write_chunks`] receives it.
pub use weir_core::conn::ChunkedBuf;

use crate::tcp::TcpOptions;

/// Slices one vectored write hands the kernel at most.
pub(crate) const MAX_IOVECS: usize = 64;

/// A boxed, sendable future.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// An async runtime: spawns tasks and makes timers.
pub trait Runtime: Clone + Send + Sync + Unpin + 'static {
    /// The runtime's timer type.
    type Timer: Timer;

    /// Runs a task to completion in the background.
    fn spawn<F>(&self, fut: F)
    where
        F: Future<Output = ()> + Send + 'static;

    /// A timer that fires at `at`.
    fn timer(&self, at: Instant) -> Self::Timer;

    /// The current instant (the only clock Weir reads).
    fn now(&self) -> Instant {
        Instant::now()
    }

    /// Waits until `at`.
    fn sleep_until(&self, at: Instant) -> Self::Timer {
        self.timer(at)
    }
}

/// A resettable timer.
pub trait Timer: Future<Output = ()> + Send + Unpin + 'static {
    /// Re-arms the timer for `at`.
    fn reset(&mut self, at: Instant);
}

/// A connected byte stream (TCP, TLS, Unix socket...) as the drivers use it.
pub trait Io: Send + Unpin + 'static {
    /// Reads into the spare capacity of `buf`, appending; `Ok(0)` is end of file.
    fn poll_read_buf(&mut self, cx: &mut Context<'_>, buf: &mut BytesMut) -> Poll<io::Result<usize>>;

    /// Writes from several buffers at once.
    fn poll_write_vectored(&mut self, cx: &mut Context<'_>, bufs: &[IoSlice<'_>]) -> Poll<io::Result<usize>>;

    /// Flushes buffered output (TLS records).
    fn poll_flush(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>>;

    /// Writes from the front of `out` and advances it past what was written
    /// (or taken). The default writes its chunks as slices through
    /// [`Io::poll_write_vectored`]; a stream that must own what it writes
    /// (completion-based I/O such as io_uring) can take the chunks
    /// themselves instead of copying them.
    fn poll_write_chunks(&mut self, cx: &mut Context<'_>, out: &mut ChunkedBuf) -> Poll<io::Result<usize>> {
        let mut slices = [IoSlice::new(&[]); MAX_IOVECS];
        let n = out.io_slices(&mut slices);
        let written = std::task::ready!(self.poll_write_vectored(cx, &slices[..n]))?;
        out.advance(written);
        Poll::Ready(Ok(written))
    }

    /// Closes the write side.
    fn poll_shutdown(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>>;
}

impl Io for Box<dyn Io> {
    fn poll_read_buf(&mut self, cx: &mut Context<'_>, buf: &mut BytesMut) -> Poll<io::Result<usize>> {
        (**self).poll_read_buf(cx, buf)
    }
    fn poll_write_vectored(&mut self, cx: &mut Context<'_>, bufs: &[IoSlice<'_>]) -> Poll<io::Result<usize>> {
        (**self).poll_write_vectored(cx, bufs)
    }
    fn poll_flush(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        (**self).poll_flush(cx)
    }
    fn poll_write_chunks(&mut self, cx: &mut Context<'_>, out: &mut ChunkedBuf) -> Poll<io::Result<usize>> {
        (**self).poll_write_chunks(cx, out)
    }
    fn poll_shutdown(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        (**self).poll_shutdown(cx)
    }
}

thread_local! {
    /// SplitMix64 state of this thread's seeded randomness, when set.
    static SEEDED: std::cell::Cell<Option<u64>> = const { std::cell::Cell::new(None) };
}

/// Makes every random choice weir-rt draws on this thread (connection
/// backoff jitter, retry backoff, `max_connection_age` jitter, the random
/// picks of `LeastRequest` and `RingHash`, outlier-detection rolls) come
/// from a SplitMix64 sequence seeded with `seed`, or, with `None`, from the
/// OS-keyed hasher again. For deterministic simulation: a simulator that
/// runs every task on one thread sets a seed, and the same seed gives the
/// same choices.
pub fn seed_thread_randomness(seed: Option<u64>) {
    SEEDED.with(|s| s.set(seed));
}

/// The next value of this thread's seeded sequence, if one is set.
pub(crate) fn seeded_u64() -> Option<u64> {
    SEEDED.with(|s| {
        let state = s.get()?.wrapping_add(0x9E37_79B9_7F4A_7C15);
        s.set(Some(state));
        let mut z = state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        Some(z ^ (z >> 31))
    })
}

/// What is known about the other end of a connection.
#[derive(Clone, Debug, Default)]
pub struct PeerInfo {
    /// Its socket address (TCP).
    pub addr: Option<SocketAddr>,
    /// Its certificate chain, DER (mutual TLS).
    pub certificates: Option<Vec<Vec<u8>>>,
    /// The negotiated ALPN protocol (TLS).
    pub alpn: Option<Vec<u8>>,
}

/// A bound listener: TCP or Unix, before any TLS.
pub trait Listener: Send + 'static {
    /// Accepts the next connection.
    fn accept(&mut self) -> BoxFuture<'_, io::Result<(Box<dyn Io>, PeerInfo)>>;

    /// The local TCP address, when it has one.
    fn local_addr(&self) -> Option<SocketAddr>;
}

/// Sockets and TLS of a runtime: what an adapter implements besides [`Runtime`].
pub trait Net: Runtime {
    /// Binds a TCP listener; each accepted socket gets `options`
    /// ([`TcpOptions::apply`]) before it is handed out.
    fn bind_tcp(
        &self,
        addr: SocketAddr,
        options: TcpOptions,
    ) -> BoxFuture<'static, io::Result<Box<dyn Listener>>>;

    /// Connects over TCP and applies `options` ([`TcpOptions::apply`]).
    fn connect_tcp(
        &self,
        addr: SocketAddr,
        options: TcpOptions,
    ) -> BoxFuture<'static, io::Result<Box<dyn Io>>>;

    /// Binds a Unix domain socket listener.
    #[cfg(unix)]
    fn bind_unix(&self, path: &std::path::Path) -> io::Result<Box<dyn Listener>>;

    /// Connects to a Unix domain socket.
    #[cfg(unix)]
    fn connect_unix(&self, path: &std::path::Path) -> BoxFuture<'static, io::Result<Box<dyn Io>>>;

    /// Resolves a host name.
    fn resolve(&self, host: String, port: u16) -> BoxFuture<'static, io::Result<Vec<SocketAddr>>>;

    /// Runs the server side of a TLS handshake. The default fails: an adapter
    /// built without its own `tls` feature cannot do handshakes.
    #[cfg(feature = "tls")]
    fn tls_accept(
        &self,
        io: Box<dyn Io>,
        config: Arc<rustls::ServerConfig>,
    ) -> BoxFuture<'static, io::Result<(Box<dyn Io>, TlsInfo)>> {
        let _ = (io, config);
        Box::pin(async { Err(tls_unsupported()) })
    }

    /// Runs the client side of a TLS handshake (default: fails, as
    /// [`Net::tls_accept`]).
    #[cfg(feature = "tls")]
    fn tls_connect(
        &self,
        io: Box<dyn Io>,
        config: Arc<rustls::ClientConfig>,
        server_name: rustls_pki_types::ServerName<'static>,
    ) -> BoxFuture<'static, io::Result<(Box<dyn Io>, TlsInfo)>> {
        let _ = (io, config, server_name);
        Box::pin(async { Err(tls_unsupported()) })
    }
}

#[cfg(feature = "tls")]
fn tls_unsupported() -> io::Error {
    io::Error::new(io::ErrorKind::Unsupported, "this runtime adapter was built without its `tls` feature")
}

/// What a TLS handshake established.
#[derive(Clone, Debug, Default)]
pub struct TlsInfo {
    /// The negotiated ALPN protocol.
    pub alpn: Option<Vec<u8>>,
    /// The peer's certificate chain, DER.
    pub peer_certificates: Option<Vec<Vec<u8>>>,
}

#[cfg(feature = "tls")]
impl TlsInfo {
    /// What a finished rustls handshake negotiated (either side's connection).
    pub fn from_rustls(conn: &rustls::CommonState) -> Self {
        TlsInfo {
            alpn: conn.alpn_protocol().map(<[u8]>::to_vec),
            peer_certificates: conn.peer_certificates().map(|c| c.iter().map(|d| d.to_vec()).collect()),
        }
    }
}
