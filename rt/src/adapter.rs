//! Runtime-agnostic building blocks for adapters and applications: a
//! connection seen as a `futures-io` byte stream (what TLS layers wrap), any
//! `futures-io` byte stream seen as a connection, and a [`Listener`] over any
//! stream of accepted connections, and (feature `futures-tls`) TLS
//! handshakes over any connection.

use std::io::{self, IoSlice};
use std::net::SocketAddr;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use bytes::{Buf, BytesMut};
use futures_core::Stream;
use futures_io::{AsyncBufRead, AsyncRead, AsyncWrite};

use crate::runtime::{BoxFuture, Io, Listener, PeerInfo};

/// Bytes reserved in [`IoStream`]'s read buffer before each read.
const READ_RESERVE: usize = 32 << 10;

/// Weir I/O seen as a `futures-io` byte stream, so stream layers written for
/// those traits can wrap any transport (futures-rustls; tokio-rustls through
/// a thin tokio-trait view). Reads go through a reused buffer (TLS copies
/// records anyway); writes stay vectored.
pub struct IoStream {
    io: Box<dyn Io>,
    buf: BytesMut,
}

impl IoStream {
    /// Wraps a connection.
    pub fn new(io: Box<dyn Io>) -> Self {
        IoStream { io, buf: BytesMut::new() }
    }
}

impl AsyncBufRead for IoStream {
    fn poll_fill_buf(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<&[u8]>> {
        let this = self.get_mut();
        if this.buf.is_empty() {
            this.buf.reserve(READ_RESERVE);
            ready!(this.io.poll_read_buf(cx, &mut this.buf))?;
        }
        Poll::Ready(Ok(&this.buf))
    }

    fn consume(self: Pin<&mut Self>, amt: usize) {
        self.get_mut().buf.advance(amt);
    }
}

impl AsyncRead for IoStream {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, out: &mut [u8]) -> Poll<io::Result<usize>> {
        if out.is_empty() {
            return Poll::Ready(Ok(0));
        }
        let chunk = ready!(AsyncBufRead::poll_fill_buf(self.as_mut(), cx))?;
        let n = chunk.len().min(out.len());
        out[..n].copy_from_slice(&chunk[..n]);
        AsyncBufRead::consume(self, n);
        Poll::Ready(Ok(n))
    }
}

impl AsyncWrite for IoStream {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        self.get_mut().io.poll_write_vectored(cx, &[IoSlice::new(buf)])
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        self.get_mut().io.poll_write_vectored(cx, bufs)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.get_mut().io.poll_flush(cx)
    }

    fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.get_mut().io.poll_shutdown(cx)
    }
}

/// Any `futures-io` byte stream (smol's, async-std's, futures-rustls') as
/// Weir I/O: the other direction of [`IoStream`].
pub struct FuturesIo<T>(pub T);

/// Bytes read at most at once: bounds what is zeroed before each read.
const MAX_READ: usize = 64 << 10;
/// Bytes reserved when the caller left no room to read into.
const MIN_READ: usize = 8 << 10;

impl<T> Io for FuturesIo<T>
where
    T: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    fn poll_read_buf(&mut self, cx: &mut Context<'_>, buf: &mut BytesMut) -> Poll<io::Result<usize>> {
        // futures-io reads into initialised memory: zero the spare capacity,
        // read into it, and keep only what was read.
        let start = buf.len();
        if buf.capacity() == start {
            buf.reserve(MIN_READ);
        }
        buf.resize(start + (buf.capacity() - start).min(MAX_READ), 0);
        let read = Pin::new(&mut self.0).poll_read(cx, &mut buf[start..]);
        let n = match read {
            Poll::Ready(Ok(n)) => n,
            _ => 0,
        };
        buf.truncate(start + n);
        read
    }

    fn poll_write_vectored(&mut self, cx: &mut Context<'_>, bufs: &[IoSlice<'_>]) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.0).poll_write_vectored(cx, bufs)
    }

    fn poll_flush(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_flush(cx)
    }

    fn poll_shutdown(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_close(cx)
    }
}

/// A connection as a [`StreamListener`] takes it: any [`Io`], or an [`Io`]
/// with what is known about its peer.
pub trait Accepted: Send + 'static {
    /// The connection and its peer.
    fn into_parts(self) -> (Box<dyn Io>, PeerInfo);
}

impl<C: Io> Accepted for C {
    fn into_parts(self) -> (Box<dyn Io>, PeerInfo) {
        (Box::new(self), PeerInfo::default())
    }
}

impl<C: Io> Accepted for (C, PeerInfo) {
    fn into_parts(self) -> (Box<dyn Io>, PeerInfo) {
        (Box::new(self.0), self.1)
    }
}

/// A [`Listener`] over any stream of accepted connections (items `Io` or
/// `(Io, PeerInfo)`): serve on sockets the application accepts itself,
/// another library's listener, an in-memory transport. Give it to
/// `Server::with_listener`. Once the stream ends, no more connections are
/// accepted; the server runs until its shutdown signal.
pub struct StreamListener<S> {
    incoming: S,
    local_addr: Option<SocketAddr>,
    ended: bool,
}

impl<S> StreamListener<S> {
    /// Serves the connections `incoming` yields.
    pub fn new(incoming: S) -> Self {
        StreamListener { incoming, local_addr: None, ended: false }
    }

    /// The TCP address to report as the server's (`BoundServer::local_addr`).
    pub fn with_local_addr(mut self, addr: SocketAddr) -> Self {
        self.local_addr = Some(addr);
        self
    }
}

impl<S, C> Listener for StreamListener<S>
where
    S: Stream<Item = io::Result<C>> + Send + Unpin + 'static,
    C: Accepted,
{
    fn accept(&mut self) -> BoxFuture<'_, io::Result<(Box<dyn Io>, PeerInfo)>> {
        Box::pin(std::future::poll_fn(|cx| {
            if self.ended {
                return Poll::Pending;
            }
            match ready!(Pin::new(&mut self.incoming).poll_next(cx)) {
                Some(accepted) => Poll::Ready(accepted.map(Accepted::into_parts)),
                None => {
                    self.ended = true;
                    Poll::Pending
                }
            }
        }))
    }

    fn local_addr(&self) -> Option<SocketAddr> {
        self.local_addr
    }
}

/// The server side of a TLS handshake over any connection (futures-rustls
/// over [`IoStream`]): an adapter's `Net::tls_accept`.
#[cfg(feature = "futures-tls")]
pub fn tls_accept(
    io: Box<dyn Io>,
    config: std::sync::Arc<rustls::ServerConfig>,
) -> BoxFuture<'static, io::Result<(Box<dyn Io>, crate::runtime::TlsInfo)>> {
    let accept = futures_rustls::TlsAcceptor::from(config).accept(IoStream::new(io));
    Box::pin(async move {
        let stream = accept.await?;
        let info = crate::runtime::TlsInfo::from_rustls(stream.get_ref().1);
        Ok((Box::new(FuturesIo(stream)) as Box<dyn Io>, info))
    })
}

/// The client side of a TLS handshake over any connection (futures-rustls
/// over [`IoStream`]): an adapter's `Net::tls_connect`.
#[cfg(feature = "futures-tls")]
pub fn tls_connect(
    io: Box<dyn Io>,
    config: std::sync::Arc<rustls::ClientConfig>,
    server_name: rustls_pki_types::ServerName<'static>,
) -> BoxFuture<'static, io::Result<(Box<dyn Io>, crate::runtime::TlsInfo)>> {
    let connect = futures_rustls::TlsConnector::from(config).connect(server_name, IoStream::new(io));
    Box::pin(async move {
        let stream = connect.await?;
        let info = crate::runtime::TlsInfo::from_rustls(stream.get_ref().1);
        Ok((Box::new(FuturesIo(stream)) as Box<dyn Io>, info))
    })
}
