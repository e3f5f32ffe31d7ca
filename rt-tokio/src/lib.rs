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
use tokio::io::{AsyncRead, AsyncWrite};
use weir_rt::runtime::{BoxFuture, Io, Listener, Net, PeerInfo, Runtime, Timer};

pub use weir_rt::*;

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

struct TcpListener(tokio::net::TcpListener);

impl Listener for TcpListener {
    fn accept(&mut self) -> BoxFuture<'_, io::Result<(Box<dyn Io>, PeerInfo)>> {
        Box::pin(async move {
            let (stream, addr) = self.0.accept().await?;
            stream.set_nodelay(true)?;
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
    fn bind_tcp(&self, addr: SocketAddr) -> BoxFuture<'static, io::Result<Box<dyn Listener>>> {
        Box::pin(async move {
            Ok(Box::new(TcpListener(tokio::net::TcpListener::bind(addr).await?)) as Box<dyn Listener>)
        })
    }

    fn connect_tcp(&self, addr: SocketAddr) -> BoxFuture<'static, io::Result<Box<dyn Io>>> {
        Box::pin(async move {
            let s = tokio::net::TcpStream::connect(addr).await?;
            s.set_nodelay(true)?;
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
            let stream = tokio_rustls::TlsAcceptor::from(config).accept(IoStream::new(io)).await?;
            let (_, conn) = stream.get_ref();
            let info = weir_rt::runtime::TlsInfo {
                alpn: conn.alpn_protocol().map(<[u8]>::to_vec),
                peer_certificates: conn.peer_certificates().map(|c| c.iter().map(|d| d.to_vec()).collect()),
            };
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
                tokio_rustls::TlsConnector::from(config).connect(server_name, IoStream::new(io)).await?;
            let (_, conn) = stream.get_ref();
            let info = weir_rt::runtime::TlsInfo {
                alpn: conn.alpn_protocol().map(<[u8]>::to_vec),
                peer_certificates: conn.peer_certificates().map(|c| c.iter().map(|d| d.to_vec()).collect()),
            };
            Ok((Box::new(TokioIo(stream)) as Box<dyn Io>, info))
        })
    }
}

/// Weir I/O seen as a tokio stream, so TLS can wrap any transport. Reads go
/// through a reused buffer (TLS copies records anyway).
struct IoStream(Box<dyn Io>, BytesMut);

impl IoStream {
    fn new(io: Box<dyn Io>) -> Self {
        IoStream(io, BytesMut::new())
    }
}

impl AsyncRead for IoStream {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = &mut *self;
        if this.1.is_empty() {
            this.1.reserve(32 << 10);
            match this.0.poll_read_buf(cx, &mut this.1) {
                Poll::Ready(Ok(_)) => {}
                Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                Poll::Pending => return Poll::Pending,
            }
        }
        let n = this.1.len().min(buf.remaining());
        buf.put_slice(&this.1.split_to(n));
        Poll::Ready(Ok(()))
    }
}

impl AsyncWrite for IoStream {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        self.0.poll_write_vectored(cx, &[IoSlice::new(buf)])
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        self.0.poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        true
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.0.poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.0.poll_shutdown(cx)
    }
}
