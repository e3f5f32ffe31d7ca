//! The gRPC server: a router of services, interceptors, limits, and serving
//! over TCP (h2c prior knowledge), TLS (ALPN `h2`, optional mTLS) or a Unix
//! socket, with graceful shutdown; optionally gRPC-Web over HTTP/1.1 on the
//! same port ([`Server::grpc_web`]).

mod driver;
#[cfg(feature = "tower")]
pub mod fallback;
#[cfg(feature = "tower")]
mod h2_fallback;
mod router;
mod shutdown;
#[cfg(feature = "tower")]
pub mod tower;
pub mod typed;
pub mod web;

pub use router::{
    BidiHandler, BoxStream, ClientStreamingHandler, Method, ResponseStream, Router, ServerStreamingHandler,
    Service, UnaryHandler,
};
pub use web::GrpcWeb;

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use weir_core::conn::PingPolicy;
use weir_core::grpc;

use crate::budget::ServerBudget;
pub use crate::budget::{DEFAULT_CONNECTION_BUDGET, DEFAULT_SERVER_BUDGET};
use crate::interceptor::Interceptor;
#[cfg(feature = "tls")]
use crate::runtime::BoxFuture;
use crate::runtime::{Io, Listener, Net, PeerInfo};
use crate::stats::StatsHandler;
use crate::tcp::TcpOptions;
use crate::util::{Either, select};
use driver::{ServerCtx, ServerDriver};
use shutdown::{Shutdown, Tracker};

/// A gRPC server, generic over the runtime's sockets ([`Net`]). The adapter
/// crates name it for their runtime: `weir_tokio::Server`, `weir_smol::Server`.
pub struct Server<R: Net> {
    rt: R,
    router: Router,
    interceptors: Vec<Arc<dyn Interceptor>>,
    config: grpc::ServerConfig,
    max_connections: usize,
    handshake_timeout: Duration,
    stats: Vec<Arc<dyn StatsHandler>>,
    tcp: TcpOptions,
    connection_budget: usize,
    server_budget: usize,
    web: Option<Arc<GrpcWeb>>,
    #[cfg(feature = "tower")]
    fallback: Option<Arc<dyn fallback::Fallback>>,
    #[cfg(feature = "tls")]
    tls: Option<Arc<rustls::ServerConfig>>,
}

impl<R: Net + Default> Server<R> {
    /// A server on the default runtime handle.
    pub fn builder() -> Self {
        Server::new(R::default())
    }
}

impl<R: Net> Server<R> {
    /// A server using `rt`. Client pings are limited as gRPC-Go's default
    /// keepalive enforcement policy does (see [`Server::keepalive_policy`]).
    pub fn new(rt: R) -> Self {
        let mut config = grpc::ServerConfig::default();
        config.h2.ping_policy = Some(PingPolicy::default());
        Server {
            rt,
            router: Router::new(),
            interceptors: Vec::new(),
            config,
            max_connections: 10_000,
            handshake_timeout: Duration::from_secs(10),
            stats: Vec::new(),
            tcp: TcpOptions::default(),
            connection_budget: DEFAULT_CONNECTION_BUDGET,
            server_budget: DEFAULT_SERVER_BUDGET,
            web: None,
            #[cfg(feature = "tower")]
            fallback: None,
            #[cfg(feature = "tls")]
            tls: None,
        }
    }

    /// Adds every method of a service.
    pub fn add_service<S: Service>(mut self, service: S) -> Self {
        self.router = self.router.add_service(service);
        self
    }

    /// Routes one method.
    pub fn route(mut self, path: &str, method: Method) -> Self {
        self.router = self.router.route(path, method);
        self
    }

    /// Adds an interceptor; they run in the order added.
    pub fn interceptor(mut self, interceptor: Arc<dyn Interceptor>) -> Self {
        self.interceptors.push(interceptor);
        self
    }

    /// Serves TLS with this configuration (ALPN `h2`): a fixed identity,
    /// one replaced at run time ([`ServerTlsConfig::rotating`](crate::tls::ServerTlsConfig::rotating):
    /// certificate rotation without restart), or a `rustls::ServerConfig` of
    /// your own ([`ServerTlsConfig::from_rustls`](crate::tls::ServerTlsConfig::from_rustls)).
    #[cfg(feature = "tls")]
    pub fn tls_config(mut self, tls: crate::tls::ServerTlsConfig) -> Result<Self, crate::tls::TlsError> {
        self.tls = Some(tls.build()?);
        Ok(self)
    }

    /// Also serves every method to gRPC-Web clients (browsers) over HTTP/1.1
    /// and HTTP/2 on the same port: `POST /package.Service/Method` with
    /// `content-type: application/grpc-web[+proto]` or
    /// `application/grpc-web-text[+proto]`, CORS as `web` allows. Each
    /// connection's first octets (or, on TLS, ALPN: `http/1.1` is then
    /// offered after `h2`) choose HTTP/2 or HTTP/1.1; on HTTP/2 the content
    /// type tells gRPC-Web calls from gRPC ones, which behave as without it.
    /// Off by default.
    ///
    /// ```no_run
    /// # fn f(server: weir_rt::Server<weir_tokio::Tokio>) -> weir_rt::Server<weir_tokio::Tokio> {
    /// server.grpc_web(weir_rt::GrpcWeb::new().allow_origin("https://app.example"))
    /// # }
    /// ```
    pub fn grpc_web(mut self, web: GrpcWeb) -> Self {
        self.web = Some(Arc::new(web));
        self
    }

    /// This server's services as a `tower::Service<http::Request<B>>`, for
    /// an HTTP server that owns the connections: mounted in an axum
    /// `Router` beside REST routes, or served by hyper. Routes, interceptors,
    /// stats handlers, message limits and memory budgets apply; settings of
    /// connections (HTTP/2, keepalive, TLS, gRPC-Web's CORS) are the host's.
    /// See [`tower::GrpcService`].
    #[cfg(feature = "tower")]
    pub fn into_service(mut self) -> tower::GrpcService<R> {
        let ctx = self.take_ctx(None);
        tower::GrpcService::new(self.rt.clone(), ctx)
    }

    /// What the connections of this server share; the router, interceptors
    /// and stats handlers move into it.
    fn take_ctx(&mut self, local: Option<SocketAddr>) -> Arc<ServerCtx> {
        Arc::new(ServerCtx {
            router: std::mem::take(&mut self.router),
            interceptors: std::mem::take(&mut self.interceptors).into(),
            config: self.config.clone(),
            stats: crate::stats::Fanout::of(std::mem::take(&mut self.stats)),
            local,
            budget: ServerBudget::new(self.server_budget),
            connection_budget: self.connection_budget,
            web: self.web.clone(),
            #[cfg(feature = "tower")]
            fallback: self.fallback.clone(),
        })
    }

    /// Serves the requests that are not gRPC with `service` (an axum
    /// `Router`, any `tower::Service`), on the server's own port: REST
    /// routes beside gRPC, with gRPC calls on Weir's own connection driver.
    /// HTTP/1.1 requests (told from HTTP/2 by their first octets, or by
    /// ALPN on TLS) go to `service` unless they are gRPC-Web calls this
    /// server serves ([`Server::grpc_web`]); so do HTTP/2 requests whose
    /// content type is not gRPC (nor gRPC-Web when it is served), whatever
    /// their method, on the same connections as gRPC calls. On TLS, `h2`
    /// is offered first and `http/1.1` after it: browsers (which offer
    /// both) use HTTP/2, clients offering only `http/1.1` get HTTP/1.1. The
    /// request body is an [`Incoming`](fallback::Incoming) fed as the
    /// client sends it, at most 64 KiB ahead of the service on either
    /// protocol (on HTTP/2, the stream's flow-control window holds back the
    /// rest).
    ///
    /// ```no_run
    /// # fn f(server: weir_rt::Server<weir_tokio::Tokio>) -> weir_rt::Server<weir_tokio::Tokio> {
    /// let rest = axum::Router::new().route("/healthz", axum::routing::get(|| async { "ok" }));
    /// server.fallback(rest)
    /// # }
    /// ```
    #[cfg(feature = "tower")]
    pub fn fallback<S, B>(mut self, service: S) -> Self
    where
        S: tower_service::Service<
                http::Request<fallback::Incoming>,
                Response = http::Response<B>,
                Error = std::convert::Infallible,
            > + Clone
            + Send
            + Sync
            + 'static,
        S::Future: Send + 'static,
        B: http_body::Body<Data = bytes::Bytes> + Send + 'static,
        B::Error: Into<fallback::BoxError>,
    {
        self.fallback = Some(Arc::new(fallback::TowerFallback(service)));
        self
    }

    /// HTTP/1.1 is served besides HTTP/2 (gRPC-Web or a fallback).
    fn serves_http1(&self) -> bool {
        #[cfg(feature = "tower")]
        if self.fallback.is_some() {
            return true;
        }
        self.web.is_some()
    }

    /// The gRPC and HTTP/2 configuration, for settings without a shortcut.
    pub fn config_mut(&mut self) -> &mut grpc::ServerConfig {
        &mut self.config
    }

    /// SETTINGS_MAX_CONCURRENT_STREAMS per connection.
    pub fn max_concurrent_streams(mut self, n: u32) -> Self {
        self.config.h2.max_concurrent_streams = n;
        self
    }

    /// Largest request message accepted (default 4 MiB).
    pub fn max_recv_message_size(mut self, n: usize) -> Self {
        self.config.messages.max_recv_message_size = n;
        self
    }

    /// Largest response message sent.
    pub fn max_send_message_size(mut self, n: usize) -> Self {
        self.config.messages.max_send_message_size = n;
        self
    }

    /// Keepalive: ping after `interval` without traffic; close when a ping is
    /// not answered within `timeout` (gRPC-Go `Time` / `Timeout`).
    pub fn keepalive(mut self, interval: Duration, timeout: Duration) -> Self {
        self.config.h2.keepalive_interval = Some(interval);
        self.config.h2.keepalive_timeout = timeout;
        self
    }

    /// Keepalive enforcement (gRPC-Go `EnforcementPolicy`): clients may ping at
    /// most once per `min_time` (default 5 minutes), and only while calls are
    /// open unless `permit_without_stream` (default false). After more than
    /// two pings too early (strikes; sending headers or data forgives them)
    /// the connection is closed with GOAWAY ENHANCE_YOUR_CALM `too_many_pings`.
    pub fn keepalive_policy(mut self, min_time: Duration, permit_without_stream: bool) -> Self {
        self.config.h2.ping_policy =
            Some(PingPolicy { min_time, permit_without_stream, ..PingPolicy::default() });
        self
    }

    /// Accepts pings at any rate (no keepalive enforcement; floods of pings
    /// from a peer that does not read the answers are still cut off).
    pub fn no_keepalive_policy(mut self) -> Self {
        self.config.h2.ping_policy = None;
        self
    }

    /// Reports connections and calls to `handler` (metrics exporters,
    /// channelz). Several handlers may be added: each hears every event, in
    /// the order they were added.
    pub fn stats_handler(mut self, handler: Arc<dyn StatsHandler>) -> Self {
        self.stats.push(handler);
        self
    }

    /// Close connections idle (no calls) this long (gRPC-Go `MaxConnectionIdle`).
    pub fn max_connection_idle(mut self, idle: Duration) -> Self {
        self.config.h2.idle_timeout = Some(idle);
        self
    }

    /// Gracefully close connections older than `age`, letting calls finish for
    /// `grace` (gRPC-Go `MaxConnectionAge` / `MaxConnectionAgeGrace`).
    pub fn max_connection_age(mut self, age: Duration, grace: Duration) -> Self {
        self.config.h2.max_connection_age = Some(age);
        self.config.h2.shutdown_grace = grace;
        self
    }

    /// How long in-flight calls may run after a graceful shutdown starts.
    pub fn shutdown_grace(mut self, grace: Duration) -> Self {
        self.config.h2.shutdown_grace = grace;
        self
    }

    /// Memory one connection may hold for its calls (default 32 MiB):
    /// response messages handlers sent that are not written yet (queued, or
    /// in the HTTP/2 send buffer) and request messages, decompressed, that no
    /// handler took yet, which are pulled ahead only up to a quarter of it.
    /// Past it handlers' sends wait and request messages stay unread
    /// (compressed) in the core, where flow control stops the client; a
    /// client that keeps the budget full and opens more calls has
    /// them refused with RESOURCE_EXHAUSTED, each refusal counted like a
    /// reset (`Config::max_resets_per_window`, then GOAWAY ENHANCE_YOUR_CALM).
    /// A connection holding nothing always gets one message through, however
    /// large.
    pub fn connection_memory_budget(mut self, bytes: usize) -> Self {
        self.connection_budget = bytes;
        self
    }

    /// Memory all connections together may hold, counted as
    /// [`Server::connection_memory_budget`] counts it (default 512 MiB).
    /// Past it every connection's sends and reads wait, except that each
    /// connection still gets one message through when it holds nothing.
    pub fn server_memory_budget(mut self, bytes: usize) -> Self {
        self.server_budget = bytes;
        self
    }

    /// Most simultaneous connections; more are accepted and closed at once.
    pub fn max_connections(mut self, n: usize) -> Self {
        self.max_connections = n;
        self
    }

    /// `SO_SNDBUF` for connections from this host (loopback peers); `None`
    /// leaves the kernel's autotuning. Default
    /// [`DEFAULT_LOOPBACK_SEND_BUFFER`](crate::tcp::DEFAULT_LOOPBACK_SEND_BUFFER).
    pub fn loopback_send_buffer(mut self, bytes: Option<usize>) -> Self {
        self.tcp.loopback_send_buffer = bytes;
        self
    }

    /// The listen backlog of the TCP socket (default: the system's maximum,
    /// [`default_listen_backlog`](crate::tcp::default_listen_backlog)): how
    /// many connections the kernel may complete before the server accepts
    /// them. Too short, and a burst of connects loses SYNs that are resent
    /// only a second later.
    pub fn listen_backlog(mut self, backlog: u32) -> Self {
        self.tcp.listen_backlog = Some(backlog);
        self
    }

    /// Time a new connection has to complete its TLS handshake.
    pub fn handshake_timeout(mut self, t: Duration) -> Self {
        self.handshake_timeout = t;
        self
    }

    /// Binds a TCP address (port 0 picks a free port).
    pub async fn bind(self, addr: SocketAddr) -> io::Result<BoundServer<R>> {
        let listener = self.rt.bind_tcp(addr, self.tcp).await?;
        Ok(BoundServer { server: self, listener })
    }

    /// Binds a Unix domain socket path.
    #[cfg(unix)]
    pub fn bind_unix(self, path: impl AsRef<std::path::Path>) -> io::Result<BoundServer<R>> {
        let listener = self.rt.bind_unix(path.as_ref())?;
        Ok(BoundServer { server: self, listener })
    }

    /// Serves on any listener.
    pub fn with_listener(self, listener: Box<dyn Listener>) -> BoundServer<R> {
        BoundServer { server: self, listener }
    }

    /// Binds and serves until the process ends.
    pub async fn serve(self, addr: SocketAddr) -> io::Result<()> {
        self.bind(addr).await?.serve().await
    }

    /// Binds and serves until `signal` completes, then shuts down gracefully.
    pub async fn serve_with_shutdown(
        self,
        addr: SocketAddr,
        signal: impl Future<Output = ()> + Send,
    ) -> io::Result<()> {
        self.bind(addr).await?.serve_with_shutdown(signal).await
    }
}

/// A server with its listener bound (its address is known).
pub struct BoundServer<R: Net> {
    server: Server<R>,
    listener: Box<dyn Listener>,
}

impl<R: Net> BoundServer<R> {
    /// The bound TCP address.
    pub fn local_addr(&self) -> Option<SocketAddr> {
        self.listener.local_addr()
    }

    /// Serves forever.
    pub async fn serve(self) -> io::Result<()> {
        self.serve_with_shutdown(std::future::pending()).await
    }

    /// Serves until `signal` completes; then stops accepting, sends GOAWAY on
    /// every connection and waits for in-flight calls (up to the grace period).
    pub async fn serve_with_shutdown(self, signal: impl Future<Output = ()> + Send) -> io::Result<()> {
        let BoundServer { mut server, mut listener } = self;
        let rt = server.rt.clone();
        let grace = server.config.h2.shutdown_grace;
        let ctx = server.take_ctx(listener.local_addr());
        #[cfg(feature = "tls")]
        let tls = match (server.serves_http1(), server.tls.take()) {
            (true, Some(tls)) => Some(crate::tls::with_http11(&tls)),
            (_, tls) => tls,
        };
        let shutdown = Shutdown::default();
        let tracker = Tracker::default();
        let mut signal = std::pin::pin!(signal);
        let mut backoff = Duration::from_millis(5);
        loop {
            match select(signal.as_mut(), listener.accept()).await {
                Either::Left(()) => break,
                Either::Right(Ok((io, peer))) => {
                    backoff = Duration::from_millis(5);
                    if tracker.live() >= server.max_connections {
                        drop(io);
                        continue;
                    }
                    let conn = Connection {
                        rt: rt.clone(),
                        ctx: ctx.clone(),
                        shutdown: shutdown.clone(),
                        handshake_timeout: server.handshake_timeout,
                        web: server.web.clone(),
                        http1: server.serves_http1(),
                        #[cfg(feature = "tower")]
                        fallback: server.fallback.clone(),
                        #[cfg(feature = "tls")]
                        tls: tls.clone(),
                    };
                    let guard = tracker.enter();
                    rt.spawn(async move {
                        conn.run(io, peer).await;
                        drop(guard);
                    });
                }
                // Accept errors (EMFILE, ECONNABORTED...) never end the loop: back
                // off and try again, unless asked to stop meanwhile.
                Either::Right(Err(_)) => {
                    let wait = rt.sleep_until(rt.now() + backoff);
                    if let Either::Left(()) = select(signal.as_mut(), wait).await {
                        break;
                    }
                    backoff = (backoff * 2).min(Duration::from_secs(1));
                }
            }
        }
        drop(listener);
        shutdown.trigger();
        let deadline = rt.sleep_until(rt.now() + grace + Duration::from_secs(1));
        let drained = std::future::poll_fn(|cx| tracker.poll_empty(cx));
        let _ = select(drained, deadline).await;
        Ok(())
    }
}

/// One accepted connection before its driver runs.
struct Connection<R: Net> {
    rt: R,
    ctx: Arc<ServerCtx>,
    shutdown: Shutdown,
    handshake_timeout: Duration,
    /// gRPC-Web on: HTTP/1.1 connections are served too.
    web: Option<Arc<GrpcWeb>>,
    /// HTTP/1.1 connections are served (gRPC-Web or a fallback).
    http1: bool,
    #[cfg(feature = "tower")]
    fallback: Option<Arc<dyn fallback::Fallback>>,
    #[cfg(feature = "tls")]
    tls: Option<Arc<rustls::ServerConfig>>,
}

impl<R: Net> Connection<R> {
    #[cfg_attr(not(feature = "tls"), allow(unused_mut))]
    async fn run(self, io: Box<dyn Io>, mut peer: PeerInfo) {
        // Time left for the handshake and the first octets.
        let deadline = self.rt.now() + self.handshake_timeout;
        #[cfg(feature = "tls")]
        let io = match &self.tls {
            None => io,
            Some(tls) => {
                let handshake: BoxFuture<'static, io::Result<_>> = self.rt.tls_accept(io, tls.clone());
                let timeout = self.rt.sleep_until(deadline);
                match select(handshake, timeout).await {
                    Either::Left(Ok((io, info))) => {
                        peer.alpn = info.alpn;
                        peer.certificates = info.peer_certificates;
                        io
                    }
                    // Failed or too slow: drop the connection.
                    _ => return,
                }
            }
        };
        if !self.http1 {
            return ServerDriver::new(self.rt, io, peer, self.ctx, self.shutdown.listener()).await;
        }
        let (protocol, io, sniffed) = match peer.alpn.as_deref() {
            Some(web::ALPN_HTTP11) => (web::Protocol::Http1, io, Default::default()),
            Some(_) => (web::Protocol::Http2, io, Default::default()),
            None => {
                let mut io = io;
                let wait = deadline.saturating_duration_since(self.rt.now());
                let Some((protocol, sniffed)) = web::sniff(&self.rt, &mut io, wait).await else { return };
                (protocol, io, sniffed)
            }
        };
        let listener = self.shutdown.listener();
        match protocol {
            web::Protocol::Http1 => {
                let web = self.web.clone();
                #[cfg(feature = "tower")]
                web::WebDriver::new(self.rt, io, sniffed, peer, self.ctx, web, self.fallback, listener).await;
                #[cfg(not(feature = "tower"))]
                web::WebDriver::new(self.rt, io, sniffed, peer, self.ctx, web, listener).await;
            }
            web::Protocol::Http2 if sniffed.is_empty() => {
                ServerDriver::new(self.rt, io, peer, self.ctx, listener).await;
            }
            web::Protocol::Http2 => {
                let io: Box<dyn Io> = Box::new(web::Replay::new(sniffed, io));
                ServerDriver::new(self.rt, io, peer, self.ctx, listener).await;
            }
        }
    }
}
