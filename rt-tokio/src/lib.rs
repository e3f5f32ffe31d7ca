//! # weir-tokio
//!
//! Weir on tokio: a [`Runtime`] and [`Net`] implementation (TCP, TLS through
//! tokio-rustls, Unix sockets, timers, spawning) and the server and channel
//! types named for it. Everything else is shared in `weir-rt`.
//!
//! ```no_run
//! # async fn run() -> std::io::Result<()> {
//! use weir_tokio::{Server, Method, Response};
//! Server::builder()
//!     .route("/echo.Echo/Say", Method::unary(|req| async move { Ok(Response::new(req.into_inner())) }))
//!     .serve("127.0.0.1:50051".parse().unwrap())
//!     .await
//! # }
//! ```

use std::io::{self, IoSlice};
use std::net::SocketAddr;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Instant;

use bytes::BytesMut;
#[cfg(feature = "tls")]
use futures_io::{AsyncBufRead as _, AsyncWrite as _};
use tokio::io::{AsyncRead, AsyncWrite};
use weir_rt::runtime::{BoxFuture, Io, Listener, Net, PeerInfo, Runtime, Timer};

pub use weir_rt::*;

mod signal;
pub use signal::shutdown_signal;

/// The tokio runtime (uses the ambient tokio runtime of the calling task).
#[derive(Clone, Copy, Debug, Default)]
pub struct Tokio;

/// A gRPC server on tokio.
pub type Server = weir_rt::Server<Tokio>;
/// A server bound to its address.
pub type BoundServer = weir_rt::BoundServer<Tokio>;
/// A client endpoint on tokio; `connect` gives a [`Channel`].
pub type Endpoint = weir_rt::Endpoint<Tokio>;

/// tokio's sleep as a resettable timer.
pub struct TokioTimer(Pin<Box<tokio::time::Sleep>>);

impl std::future::Future for TokioTimer {
    type Output = ();
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        self.0.as_mut().poll(cx)
    }
}

impl Timer for TokioTimer {
    fn reset(&mut self, at: Instant) {
        self.0.as_mut().reset(tokio::time::Instant::from_std(at));
    }
}

impl Runtime for Tokio {
    type Timer = TokioTimer;

    fn spawn<F>(&self, fut: F)
    where
        F: std::future::Future<Output = ()> + Send + 'static,
    {
        tokio::spawn(fut);
    }

    fn timer(&self, at: Instant) -> TokioTimer {
        TokioTimer(Box::pin(tokio::time::sleep_until(tokio::time::Instant::from_std(at))))
    }
}

/// Any tokio byte stream as Weir I/O.
pub struct TokioIo<T>(pub T);

impl<T> Io for TokioIo<T>
where
    T: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    fn poll_read_buf(&mut self, cx: &mut Context<'_>, buf: &mut BytesMut) -> Poll<io::Result<usize>> {
        tokio_util::io::poll_read_buf(Pin::new(&mut self.0), cx, buf)
    }

    fn poll_write_vectored(&mut self, cx: &mut Context<'_>, bufs: &[IoSlice<'_>]) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.0).poll_write_vectored(cx, bufs)
    }

    fn poll_flush(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_flush(cx)
    }

    fn poll_shutdown(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_shutdown(cx)
    }
}

struct TcpListener(tokio::net::TcpListener, TcpOptions);

impl Listener for TcpListener {
    fn accept(&mut self) -> BoxFuture<'_, io::Result<(Box<dyn Io>, PeerInfo)>> {
        Box::pin(async move {
            let (stream, addr) = self.0.accept().await?;
            self.1.apply(socket2::SockRef::from(&stream), addr)?;
            let peer = PeerInfo { addr: Some(addr), ..PeerInfo::default() };
            Ok((Box::new(TokioIo(stream)) as Box<dyn Io>, peer))
        })
    }

    fn local_addr(&self) -> Option<SocketAddr> {
        self.0.local_addr().ok()
    }
}

#[cfg(unix)]
struct UnixListener(tokio::net::UnixListener);

#[cfg(unix)]
impl Listener for UnixListener {
    fn accept(&mut self) -> BoxFuture<'_, io::Result<(Box<dyn Io>, PeerInfo)>> {
        Box::pin(async move {
            let (stream, _) = self.0.accept().await?;
            Ok((Box::new(TokioIo(stream)) as Box<dyn Io>, PeerInfo::default()))
        })
    }

    fn local_addr(&self) -> Option<SocketAddr> {
        None
    }
}

impl Net for Tokio {
    fn bind_tcp(
        &self,
        addr: SocketAddr,
        options: TcpOptions,
    ) -> BoxFuture<'static, io::Result<Box<dyn Listener>>> {
        Box::pin(async move {
            let listener = tokio::net::TcpListener::from_std(options.bind(addr)?)?;
            Ok(Box::new(TcpListener(listener, options)) as Box<dyn Listener>)
        })
    }

    fn connect_tcp(
        &self,
        addr: SocketAddr,
        options: TcpOptions,
    ) -> BoxFuture<'static, io::Result<Box<dyn Io>>> {
        Box::pin(async move {
            let s = tokio::net::TcpStream::connect(addr).await?;
            options.apply(socket2::SockRef::from(&s), addr)?;
            Ok(Box::new(TokioIo(s)) as Box<dyn Io>)
        })
    }

    #[cfg(unix)]
    fn bind_unix(&self, path: &std::path::Path) -> io::Result<Box<dyn Listener>> {
        Ok(Box::new(UnixListener(tokio::net::UnixListener::bind(path)?)))
    }

    #[cfg(unix)]
    fn connect_unix(&self, path: &std::path::Path) -> BoxFuture<'static, io::Result<Box<dyn Io>>> {
        let path = path.to_owned();
        Box::pin(
            async move { Ok(Box::new(TokioIo(tokio::net::UnixStream::connect(path).await?)) as Box<dyn Io>) },
        )
    }

    fn resolve(&self, host: String, port: u16) -> BoxFuture<'static, io::Result<Vec<SocketAddr>>> {
        Box::pin(async move { Ok(tokio::net::lookup_host((host.as_str(), port)).await?.collect()) })
    }

    #[cfg(feature = "tls")]
    fn tls_accept(
        &self,
        io: Box<dyn Io>,
        config: std::sync::Arc<tokio_rustls::rustls::ServerConfig>,
    ) -> BoxFuture<'static, io::Result<(Box<dyn Io>, weir_rt::runtime::TlsInfo)>> {
        Box::pin(async move {
            let stream = tokio_rustls::TlsAcceptor::from(config).accept(tls_transport(io)).await?;
            let info = weir_rt::runtime::TlsInfo::from_rustls(stream.get_ref().1);
            Ok((Box::new(TokioIo(stream)) as Box<dyn Io>, info))
        })
    }

    #[cfg(feature = "tls")]
    fn tls_connect(
        &self,
        io: Box<dyn Io>,
        config: std::sync::Arc<tokio_rustls::rustls::ClientConfig>,
        server_name: rustls_pki_types::ServerName<'static>,
    ) -> BoxFuture<'static, io::Result<(Box<dyn Io>, weir_rt::runtime::TlsInfo)>> {
        Box::pin(async move {
            let stream =
                tokio_rustls::TlsConnector::from(config).connect(server_name, tls_transport(io)).await?;
            let info = weir_rt::runtime::TlsInfo::from_rustls(stream.get_ref().1);
            Ok((Box::new(TokioIo(stream)) as Box<dyn Io>, info))
        })
    }
}

/// Weir I/O as the tokio stream TLS wraps: weir-rt's futures-io view of it
/// ([`IoStream`](weir_rt::adapter::IoStream)) under tokio's traits. Not
/// `tokio_util::compat`, whose writes are not vectored: rustls queues a
/// handshake failure's alert behind other records and tokio-rustls sends it
/// with a single last write.
#[cfg(feature = "tls")]
struct TlsTransport(weir_rt::adapter::IoStream);

#[cfg(feature = "tls")]
fn tls_transport(io: Box<dyn Io>) -> TlsTransport {
    TlsTransport(weir_rt::adapter::IoStream::new(io))
}

#[cfg(feature = "tls")]
impl AsyncRead for TlsTransport {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let mut stream = Pin::new(&mut self.get_mut().0);
        let chunk = std::task::ready!(stream.as_mut().poll_fill_buf(cx))?;
        let n = chunk.len().min(buf.remaining());
        buf.put_slice(&chunk[..n]);
        stream.consume(n);
        Poll::Ready(Ok(()))
    }
}

#[cfg(feature = "tls")]
impl AsyncWrite for TlsTransport {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().0).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().0).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        true
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().0).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().0).poll_close(cx)
    }
}
