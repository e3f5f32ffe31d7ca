//! The client channel: a cloneable handle that multiplexes calls over one
//! connection to a target, connecting lazily and reconnecting after loss.

mod driver;
mod pool;
pub mod typed;

pub use pool::Backoff;

use std::future::Future;
use std::io;
use std::sync::Arc;
use std::task::Poll;
use std::time::Duration;

use bytes::Bytes;
use futures_core::Stream;
use weir_core::grpc::{self, Code, Metadata, Status};

use crate::call::CallShared;
use crate::interceptor::{Interceptor, run_after, run_before};
use crate::request::{CallInfo, CallLink, OutMessage, Request, Response, Streaming};
use crate::runtime::{BoxFuture, Io, Net};
use driver::{ClientCmd, ClientLink, ConnHandle};
use pool::{Connector, Dial, Pool, Target};

/// What a channel needs from its runtime-specific part.
trait Backend: Send + Sync + 'static {
    fn connection(&self) -> BoxFuture<'_, Result<Arc<ConnHandle>, Status>>;
    fn spawn(&self, fut: BoxFuture<'static, ()>);
}

impl<R: Net> Backend for Arc<Pool<R>> {
    fn connection(&self) -> BoxFuture<'_, Result<Arc<ConnHandle>, Status>> {
        Box::pin(Pool::connection(self))
    }
    fn spawn(&self, fut: BoxFuture<'static, ()>) {
        crate::runtime::Runtime::spawn(self.runtime(), fut);
    }
}

struct Shared {
    backend: Box<dyn Backend>,
    authority: Bytes,
    interceptors: Vec<Arc<dyn Interceptor>>,
    default_timeout: Option<Duration>,
}

/// A client channel to one target. Cheap to clone; clones share the
/// connection. Runtime-agnostic: build it with `weir_tokio::Endpoint` or
/// `weir_smol::Endpoint`.
#[derive(Clone)]
pub struct Channel {
    shared: Arc<Shared>,
}

impl std::fmt::Debug for Channel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Channel").field("authority", &self.shared.authority).finish()
    }
}

/// Where and how a channel connects.
pub struct Endpoint<R: Net> {
    rt: R,
    target: Target,
    dial: Option<Dial>,
    authority: String,
    tls: bool,
    #[cfg(feature = "tls")]
    tls_config: Option<crate::tls::ClientTlsConfig>,
    config: grpc::ClientConfig,
    connect_timeout: Duration,
    backoff: Backoff,
    interceptors: Vec<Arc<dyn Interceptor>>,
    default_timeout: Option<Duration>,
}

impl<R: Net + Default> Endpoint<R> {
    /// An endpoint from a URI: `http://host:port`, `https://host:port` or
    /// `unix:/path/to/socket`.
    pub fn new(uri: impl AsRef<str>) -> Result<Self, Status> {
        Endpoint::with_runtime(R::default(), uri)
    }
}

impl<R: Net> Endpoint<R> {
    /// An endpoint on a given runtime handle.
    pub fn with_runtime(rt: R, uri: impl AsRef<str>) -> Result<Self, Status> {
        let uri = uri.as_ref();
        let bad = || Status::new(Code::InvalidArgument, format!("invalid endpoint URI {uri:?}"));
        let (target, authority, tls) = if let Some(path) = uri.strip_prefix("unix:") {
            #[cfg(unix)]
            {
                let path = path.trim_start_matches("//");
                (Target::Unix(path.into()), "localhost".to_owned(), false)
            }
            #[cfg(not(unix))]
            return Err(bad());
        } else {
            let (tls, rest) = if let Some(r) = uri.strip_prefix("https://") {
                (true, r)
            } else if let Some(r) = uri.strip_prefix("http://") {
                (false, r)
            } else {
                (false, uri)
            };
            let authority = rest.trim_end_matches('/').to_owned();
            let (host, port) = match authority.rsplit_once(':') {
                Some((h, p)) => (h, p.parse::<u16>().map_err(|_| bad())?),
                None => (authority.as_str(), if tls { 443 } else { 80 }),
            };
            let host = host.trim_start_matches('[').trim_end_matches(']').to_owned();
            if host.is_empty() {
                return Err(bad());
            }
            (Target::Tcp { host, port }, authority, tls)
        };
        let mut config = grpc::ClientConfig::default();
        if tls {
            config.scheme = Bytes::from_static(b"https");
        }
        Ok(Endpoint {
            rt,
            target,
            dial: None,
            authority,
            tls,
            #[cfg(feature = "tls")]
            tls_config: None,
            config,
            connect_timeout: Duration::from_secs(20),
            backoff: Backoff::default(),
            interceptors: Vec::new(),
            default_timeout: None,
        })
    }

    /// TLS settings (roots, server name, client identity).
    #[cfg(feature = "tls")]
    pub fn tls_config(mut self, tls: crate::tls::ClientTlsConfig) -> Self {
        self.tls = true;
        self.config.scheme = Bytes::from_static(b"https");
        self.tls_config = Some(tls);
        self
    }

    /// Deadline applied to calls that set none.
    pub fn timeout(mut self, t: Duration) -> Self {
        self.default_timeout = Some(t);
        self
    }

    /// Time allowed to establish a connection (TCP and TLS).
    pub fn connect_timeout(mut self, t: Duration) -> Self {
        self.connect_timeout = t;
        self
    }

    /// Reconnection backoff.
    pub fn backoff(mut self, b: Backoff) -> Self {
        self.backoff = b;
        self
    }

    /// Client keepalive: ping after `interval` without traffic, close when
    /// unanswered for `timeout`; `while_idle` pings without calls too.
    pub fn keepalive(mut self, interval: Duration, timeout: Duration, while_idle: bool) -> Self {
        self.config.h2.keepalive_interval = Some(interval);
        self.config.h2.keepalive_timeout = timeout;
        self.config.h2.keepalive_while_idle = while_idle;
        self
    }

    /// Adds an interceptor; they run in the order added.
    pub fn interceptor(mut self, i: Arc<dyn Interceptor>) -> Self {
        self.interceptors.push(i);
        self
    }

    /// The `:authority` sent with calls (default: host:port of the URI).
    pub fn authority(mut self, authority: impl Into<String>) -> Self {
        self.authority = authority.into();
        self
    }

    /// Opens connections with `connect` instead of dialing the URI, which then
    /// gives only the `:authority`, the scheme and the TLS server name.
    /// `connect` runs for every (re)connection, under the connect timeout;
    /// TLS, when configured, runs over the stream it returns. Wrap another
    /// library's streams to make them [`Io`] (`weir_tokio::TokioIo`,
    /// `weir_smol::FuturesIo`); to use one given stream, have `connect` take
    /// it out of an `Option` and fail afterwards.
    pub fn connector<F, Fut, C>(mut self, connect: F) -> Self
    where
        F: Fn() -> Fut + Send + Sync + 'static,
        Fut: Future<Output = io::Result<C>> + Send + 'static,
        C: Io,
    {
        self.dial = Some(Arc::new(move || {
            let stream = connect();
            Box::pin(async move { Ok(Box::new(stream.await?) as Box<dyn Io>) })
        }));
        self
    }

    /// The gRPC and HTTP/2 configuration, for settings without a shortcut.
    pub fn config_mut(&mut self) -> &mut grpc::ClientConfig {
        &mut self.config
    }

    /// A channel that connects on its first call.
    pub fn connect_lazy(self) -> Result<Channel, Status> {
        #[cfg(feature = "tls")]
        let tls = if self.tls {
            let cfg = self.tls_config.clone().unwrap_or_default();
            let host = match (&cfg.domain(), &self.target) {
                (Some(d), _) => d.to_string(),
                (None, Target::Tcp { host, .. }) => host.clone(),
                #[cfg(unix)]
                (None, Target::Unix(_)) => "localhost".to_owned(),
            };
            let name = rustls_pki_types::ServerName::try_from(host)
                .map_err(|e| Status::new(Code::InvalidArgument, format!("invalid TLS server name: {e}")))?;
            let config = cfg.build().map_err(|e| Status::new(Code::InvalidArgument, e.to_string()))?;
            Some((config, name))
        } else {
            None
        };
        #[cfg(not(feature = "tls"))]
        if self.tls {
            return Err(Status::new(Code::InvalidArgument, "https:// needs weir-rt's `tls` feature"));
        }
        let connector = Connector {
            rt: self.rt.clone(),
            target: self.target,
            dial: self.dial,
            #[cfg(feature = "tls")]
            tls,
        };
        let pool = Pool::new(self.rt, connector, self.config, self.connect_timeout, self.backoff);
        Ok(Channel {
            shared: Arc::new(Shared {
                backend: Box::new(pool),
                authority: Bytes::from(self.authority),
                interceptors: self.interceptors,
                default_timeout: self.default_timeout,
            }),
        })
    }

    /// A channel whose connection is established now.
    pub async fn connect(self) -> Result<Channel, Status> {
        let channel = self.connect_lazy()?;
        channel.shared.backend.connection().await?;
        Ok(channel)
    }
}

/// A started call on a channel.
struct Call {
    shared: Arc<CallShared>,
    link: Arc<ClientLink>,
    info: Arc<CallInfo>,
}

impl Call {
    fn finish_guard(&self) -> CancelOnDrop {
        CancelOnDrop { shared: self.shared.clone(), link: self.link.clone(), armed: true }
    }
}

/// Cancels a call whose caller stopped waiting before it finished.
struct CancelOnDrop {
    shared: Arc<CallShared>,
    link: Arc<ClientLink>,
    armed: bool,
}

impl Drop for CancelOnDrop {
    fn drop(&mut self) {
        if self.armed && !self.shared.is_finished() {
            self.link.cancel();
        }
    }
}

impl Channel {
    async fn start(
        &self,
        path: Bytes,
        req_meta: &mut Metadata,
        timeout: Option<Duration>,
        compression: Option<&'static str>,
        first: Option<Bytes>,
        last: bool,
    ) -> Result<Call, Status> {
        let info = Arc::new(CallInfo {
            path: path.clone(),
            authority: Some(self.shared.authority.clone()),
            ..Default::default()
        });
        run_before(&self.shared.interceptors, &info, req_meta).await?;
        let conn = self.shared.backend.connection().await?;
        let shared = CallShared::new();
        let key = conn.next_key();
        let req = grpc::CallRequest {
            path,
            authority: self.shared.authority.clone(),
            metadata: std::mem::take(req_meta),
            timeout: timeout.or(self.shared.default_timeout),
            compression,
        };
        let cmd = ClientCmd::Start { key, req, shared: shared.clone(), first, last };
        if conn.cmds.push(cmd).is_err() {
            return Err(Status::new(Code::Unavailable, "connection closed"));
        }
        Ok(Call { shared, link: Arc::new(ClientLink { conn, key }), info })
    }

    /// Applies the `after` interceptors to a final status.
    async fn after(&self, info: &CallInfo, mut status: Status) -> Status {
        run_after(&self.shared.interceptors, info, &mut status).await;
        status
    }

    /// A unary call with an encoded request.
    pub async fn unary(
        &self,
        path: impl Into<Bytes>,
        req: Request<Bytes>,
    ) -> Result<Response<Bytes>, Status> {
        let (timeout, compression) = (req.timeout, req.compression);
        let (mut md, msg) = req.into_parts();
        let call = self.start(path.into(), &mut md, timeout, compression, Some(msg), true).await?;
        let mut guard = call.finish_guard();
        let result = receive_unary(&call.shared, &call.link).await;
        guard.armed = false;
        match result {
            Ok(resp) => {
                let status = self.after(&call.info, Status::ok()).await;
                if status.is_ok() { Ok(resp) } else { Err(status) }
            }
            Err(status) => Err(self.after(&call.info, status).await),
        }
    }

    /// A server-streaming call: one request, a stream of responses.
    pub async fn server_streaming(
        &self,
        path: impl Into<Bytes>,
        req: Request<Bytes>,
    ) -> Result<Response<Streaming<Bytes>>, Status> {
        let (timeout, compression) = (req.timeout, req.compression);
        let (mut md, msg) = req.into_parts();
        let call = self.start(path.into(), &mut md, timeout, compression, Some(msg), true).await?;
        streaming_response(call).await
    }

    /// A client-streaming call: a stream of requests (`Bytes`, or
    /// [`OutMessage`] to choose compression per message), one response.
    pub async fn client_streaming<S, I>(
        &self,
        path: impl Into<Bytes>,
        req: Request<S>,
    ) -> Result<Response<Bytes>, Status>
    where
        S: Stream<Item = I> + Send + 'static,
        I: Into<OutMessage> + Send + 'static,
    {
        let (timeout, compression) = (req.timeout, req.compression);
        let (mut md, stream) = req.into_parts();
        let call = self.start(path.into(), &mut md, timeout, compression, None, false).await?;
        let mut guard = call.finish_guard();
        self.shared.backend.spawn(Box::pin(send_stream(stream, call.shared.clone(), call.link.clone())));
        let result = receive_unary(&call.shared, &call.link).await;
        guard.armed = false;
        match result {
            Ok(resp) => Ok(resp),
            Err(status) => Err(self.after(&call.info, status).await),
        }
    }

    /// A bidirectional-streaming call. Returns at once (servers may send
    /// their headers only with their first message): the response header
    /// metadata is available from [`Streaming::headers`].
    pub async fn streaming<S, I>(
        &self,
        path: impl Into<Bytes>,
        req: Request<S>,
    ) -> Result<Response<Streaming<Bytes>>, Status>
    where
        S: Stream<Item = I> + Send + 'static,
        I: Into<OutMessage> + Send + 'static,
    {
        let (timeout, compression) = (req.timeout, req.compression);
        let (mut md, stream) = req.into_parts();
        let call = self.start(path.into(), &mut md, timeout, compression, None, false).await?;
        self.shared.backend.spawn(Box::pin(send_stream(stream, call.shared.clone(), call.link.clone())));
        let link: Arc<dyn CallLink> = call.link.clone();
        Ok(Response::new(Streaming::new(call.shared, link, Ok, true)))
    }
}

/// Waits for the headers, then hands the caller a message stream.
async fn streaming_response(call: Call) -> Result<Response<Streaming<Bytes>>, Status> {
    let guard = call.finish_guard();
    let md = std::future::poll_fn(|cx| call.shared.poll_headers(cx)).await?;
    let mut guard = guard;
    guard.armed = false;
    let link: Arc<dyn CallLink> = call.link.clone();
    Ok(Response::new(Streaming::new(call.shared, link, Ok, true)).map_headers(md))
}

/// Headers, one message, then OK trailers.
async fn receive_unary(shared: &CallShared, link: &Arc<ClientLink>) -> Result<Response<Bytes>, Status> {
    let md = std::future::poll_fn(|cx| shared.poll_headers(cx)).await?;
    let msg = std::future::poll_fn(|cx| {
        let popped = shared.poll_message(cx);
        if popped.pull {
            link.pull();
        }
        popped.item
    })
    .await;
    let (status, trailers) = std::future::poll_fn(|cx| shared.poll_finished(cx)).await;
    if !status.is_ok() {
        return Err(status);
    }
    match msg {
        Some(Ok((m, compressed))) => {
            let mut resp = Response::from_parts(md, m, trailers);
            resp.compressed = compressed;
            Ok(resp)
        }
        Some(Err(status)) => Err(status),
        None => Err(Status::new(Code::Internal, "server returned OK without a response message")),
    }
}

/// Feeds a request stream into a call with flow control, then half-closes.
async fn send_stream<S, I>(stream: S, shared: Arc<CallShared>, link: Arc<ClientLink>)
where
    S: Stream<Item = I> + Send + 'static,
    I: Into<OutMessage> + Send + 'static,
{
    let mut stream = std::pin::pin!(stream);
    loop {
        let next = std::future::poll_fn(|cx| {
            if shared.send_closed().is_some() {
                return Poll::Ready(None);
            }
            match stream.as_mut().poll_next(cx) {
                Poll::Ready(item) => Poll::Ready(Some(item)),
                Poll::Pending => shared.poll_send_closed(cx).map(|_| None),
            }
        })
        .await;
        match next {
            None => return,
            Some(None) => {
                let _ = link.conn.cmds.push(ClientCmd::HalfClose { key: link.key });
                return;
            }
            Some(Some(msg)) => {
                let msg: OutMessage = msg.into();
                if std::future::poll_fn(|cx| shared.poll_reserve(cx, msg.data.len())).await.is_err() {
                    return;
                }
                if link.conn.cmds.push(ClientCmd::Send { key: link.key, msg, last: false }).is_err() {
                    return;
                }
            }
        }
    }
}

impl<T> Response<T> {
    fn map_headers(self, md: Metadata) -> Response<T> {
        let (_, msg, trailers) = self.into_parts();
        Response::from_parts(md, msg, trailers)
    }
}
