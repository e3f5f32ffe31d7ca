//! # weir-smol
//!
//! Weir on smol: a [`Runtime`] and [`Net`] implementation (TCP, TLS through
//! futures-rustls, Unix sockets, timers from async-io, spawning on a smol
//! [`Executor`]) and the server and channel types named for it. Everything
//! else is shared in `weir-rt`, so service code is the same as on tokio.
//!
//! Any `futures-io` byte stream serves and calls too (async-std's sockets,
//! which are async-io's): wrap it in [`FuturesIo`], serve a stream of them
//! with [`StreamListener`] and dial with `Endpoint::connector`.
//!
//! ```no_run
//! # fn run() -> std::io::Result<()> {
//! use weir_smol::{Method, Response, Server};
//! smol::block_on(
//!     Server::builder()
//!         .route("/echo.Echo/Say", Method::unary(|req| async move { Ok(Response::new(req.into_inner())) }))
//!         .serve("127.0.0.1:50051".parse().unwrap()),
//! )
//! # }
//! ```

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Instant;

use smol::stream::StreamExt;
use smol::{Executor, net};
use weir_rt::runtime::{BoxFuture, Io, Listener, Net, PeerInfo, Runtime, Timer};

pub use weir_rt::adapter::{FuturesIo, StreamListener};
pub use weir_rt::*;

#[cfg(unix)]
mod signal;
#[cfg(unix)]
pub use signal::shutdown_signal;

/// The smol runtime: spawns on a given [`Executor`] ([`Smol::new`]), or on
/// smol's global executor ([`Smol::default`], what `Server::builder()` and
/// `Endpoint::new` use): `smol::spawn`, run by `SMOL_THREADS` background
/// threads (one by default). With your own executor, name the handle:
/// `Server::new(Smol::new(ex))`, `Endpoint::with_runtime(Smol::new(ex), uri)`.
/// Sockets and timers are async-io's, driven by its reactor, so they work
/// under either.
#[derive(Clone, Debug, Default)]
pub struct Smol {
    executor: Option<Arc<Executor<'static>>>,
}

impl Smol {
    /// Spawns on `executor`; the application runs it (`executor.run(..)` on
    /// threads of its choosing).
    pub fn new(executor: Arc<Executor<'static>>) -> Self {
        Smol { executor: Some(executor) }
    }
}

/// A gRPC server on smol.
pub type Server = weir_rt::Server<Smol>;
/// A server bound to its address.
pub type BoundServer = weir_rt::BoundServer<Smol>;
/// A client endpoint on smol; `connect` gives a [`Channel`].
pub type Endpoint = weir_rt::Endpoint<Smol>;

/// async-io's timer, resettable, and ready whenever polled after its instant
/// (as tokio's sleep is; async-io's fires only once).
pub struct SmolTimer {
    timer: smol::Timer,
    at: Instant,
}

impl Future for SmolTimer {
    type Output = ();
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if Instant::now() >= self.at {
            return Poll::Ready(());
        }
        Pin::new(&mut self.timer).poll(cx).map(drop)
    }
}

impl Timer for SmolTimer {
    fn reset(&mut self, at: Instant) {
        self.at = at;
        self.timer.set_at(at);
    }
}

impl Runtime for Smol {
    type Timer = SmolTimer;

    fn spawn<F>(&self, fut: F)
    where
        F: Future<Output = ()> + Send + 'static,
    {
        match &self.executor {
            Some(ex) => ex.spawn(fut).detach(),
            None => smol::spawn(fut).detach(),
        }
    }

    fn timer(&self, at: Instant) -> SmolTimer {
        SmolTimer { timer: smol::Timer::at(at), at }
    }
}

/// A listener's accepted connections as a stream, for [`StreamListener`].
fn incoming<L, F>(
    listener: L,
    accept: fn(L) -> F,
) -> Pin<Box<dyn smol::stream::Stream<Item = F::Output> + Send>>
where
    L: Clone + Send + 'static,
    F: Future + Send + 'static,
{
    Box::pin(smol::stream::repeat(listener).then(accept))
}

async fn accept_tcp(
    (listener, options): (net::TcpListener, TcpOptions),
) -> io::Result<(FuturesIo<net::TcpStream>, PeerInfo)> {
    let (stream, addr) = listener.accept().await?;
    options.apply(socket2::SockRef::from(&stream), addr)?;
    Ok((FuturesIo(stream), PeerInfo { addr: Some(addr), ..PeerInfo::default() }))
}

#[cfg(unix)]
async fn accept_unix(listener: net::unix::UnixListener) -> io::Result<FuturesIo<net::unix::UnixStream>> {
    Ok(FuturesIo(listener.accept().await?.0))
}

impl Net for Smol {
    fn bind_tcp(
        &self,
        addr: SocketAddr,
        options: TcpOptions,
    ) -> BoxFuture<'static, io::Result<Box<dyn Listener>>> {
        Box::pin(async move {
            let listener = net::TcpListener::try_from(options.bind(addr)?)?;
            let local = listener.local_addr()?;
            Ok(
                Box::new(
                    StreamListener::new(incoming((listener, options), accept_tcp)).with_local_addr(local),
                ) as Box<dyn Listener>,
            )
        })
    }

    fn connect_tcp(
        &self,
        addr: SocketAddr,
        options: TcpOptions,
    ) -> BoxFuture<'static, io::Result<Box<dyn Io>>> {
        Box::pin(async move {
            let stream = net::TcpStream::connect(addr).await?;
            options.apply(socket2::SockRef::from(&stream), addr)?;
            Ok(Box::new(FuturesIo(stream)) as Box<dyn Io>)
        })
    }

    #[cfg(unix)]
    fn bind_unix(&self, path: &std::path::Path) -> io::Result<Box<dyn Listener>> {
        let listener = net::unix::UnixListener::bind(path)?;
        Ok(Box::new(StreamListener::new(incoming(listener, accept_unix))))
    }

    #[cfg(unix)]
    fn connect_unix(&self, path: &std::path::Path) -> BoxFuture<'static, io::Result<Box<dyn Io>>> {
        let path = path.to_owned();
        Box::pin(async move {
            Ok(Box::new(FuturesIo(net::unix::UnixStream::connect(path).await?)) as Box<dyn Io>)
        })
    }

    fn resolve(&self, host: String, port: u16) -> BoxFuture<'static, io::Result<Vec<SocketAddr>>> {
        Box::pin(async move { net::resolve((host.as_str(), port)).await })
    }

    #[cfg(feature = "tls")]
    fn tls_accept(
        &self,
        io: Box<dyn Io>,
        config: Arc<tls::rustls::ServerConfig>,
    ) -> BoxFuture<'static, io::Result<(Box<dyn Io>, runtime::TlsInfo)>> {
        adapter::tls_accept(io, config)
    }

    #[cfg(feature = "tls")]
    fn tls_connect(
        &self,
        io: Box<dyn Io>,
        config: Arc<tls::rustls::ClientConfig>,
        server_name: tls::rustls::pki_types::ServerName<'static>,
    ) -> BoxFuture<'static, io::Result<(Box<dyn Io>, runtime::TlsInfo)>> {
        adapter::tls_connect(io, config, server_name)
    }
}
