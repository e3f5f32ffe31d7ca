//! The client channel: a cloneable handle that multiplexes calls over the
//! connections to a target's addresses. A resolver gives the addresses
//! (DNS, a fixed list, or the application's [`Resolver`]), a [`Balancer`]
//! picks one per call (pick_first or round_robin), each address connects
//! lazily and reconnects with backoff; failed calls are retried or hedged as
//! the [`CallPolicy`] of their method says.

mod address;
pub(crate) mod backoff;
mod balancer;
mod connector;
mod driver;
mod health_check;
mod hedging;
mod live_config;
mod outlier;
mod pool;
mod replay;
mod resolver;
mod retry;
mod service_config;
mod subchannel;
pub mod typed;
mod web_driver;
mod xxhash;

pub use address::Address;
pub use backoff::Backoff;
pub use balancer::{
    Balancer, ConnectivityState, LeastRequest, Load, Pick, PickFirst, PickInfo, Picker, RingHash, RoundRobin,
    Subchannel, Update, WeightedRoundRobin,
};
pub use outlier::{FailurePercentageEjection, OutlierDetection, SuccessRateEjection};
pub use replay::RetryBufferLimits;
pub use resolver::{Resolver, ResolverUpdates, StaticResolver};
pub use retry::{CallPolicy, HedgingPolicy, RetryPolicy, RetryThrottling};
pub use service_config::{
    LbPolicy, MethodConfig, MethodName, ServiceConfig, ServiceConfigError, parse_duration,
};

use std::future::Future;
use std::io;
use std::sync::Arc;
use std::task::Poll;
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures_core::Stream;
use weir_core::grpc::{self, Code, Metadata, Status};

use crate::call::CallShared;
use crate::interceptor::{CallTiming, Interceptor, Owed, Spawn};
use crate::request::{CallInfo, CallLink, OutMessage, Request, Response, Streaming};
use crate::runtime::{BoxFuture, Io, Net, Runtime};
use crate::tcp::TcpOptions;
use crate::util::{Either, select};
use address::{Naming, ParsedTarget, parse_target};
use connector::{Connector, Dial};
use driver::{ClientCmd, ClientLink, ConnHandle};
use hedging::{HedgeCtx, hedged};
use live_config::{Applied, LiveConfig};
use pool::{Pool, PoolConfig};
use replay::{ChannelBuffer, Replay};
use resolver::DnsResolver;
use retry::{Attempt, Clock, MethodPolicies, RetryCtx, Throttle, attempt_metadata, with_retries};

/// gRPC-Go's default idle timeout.
const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(30 * 60);

/// What a channel needs from its runtime-specific part.
trait Backend: Send + Sync + 'static {
    /// A connection for a call; `wait_for_ready`: wait through transient
    /// failures instead of failing at once.
    fn connection<'a>(
        &'a self,
        call: PickInfo<'a>,
        wait_for_ready: bool,
    ) -> BoxFuture<'a, Result<Arc<ConnHandle>, Status>>;
    /// Picks that needed the channel's state lock.
    fn locked_picks(&self) -> u64;
    fn spawn(&self, fut: BoxFuture<'static, ()>);
    fn clock(&self) -> &dyn Clock;
    fn state(&self, try_to_connect: bool) -> ConnectivityState;
    /// Ready once the resolver answered (addresses, or an error) at least
    /// once; starts it.
    fn poll_resolved(&self, cx: &mut std::task::Context<'_>) -> Poll<()>;
    fn poll_state_change(
        &self,
        cx: &mut std::task::Context<'_>,
        from: ConnectivityState,
    ) -> Poll<ConnectivityState>;
}

impl<R: Net> Clock for Pool<R> {
    fn now(&self) -> Instant {
        self.runtime().now()
    }
    fn sleep_until(&self, at: Instant) -> BoxFuture<'static, ()> {
        Box::pin(self.runtime().sleep_until(at))
    }
}

impl<R: Net> Backend for Arc<Pool<R>> {
    fn connection<'a>(
        &'a self,
        call: PickInfo<'a>,
        wait_for_ready: bool,
    ) -> BoxFuture<'a, Result<Arc<ConnHandle>, Status>> {
        Box::pin(Pool::connection(self, call, wait_for_ready))
    }
    fn locked_picks(&self) -> u64 {
        Pool::locked_picks(self)
    }
    fn spawn(&self, fut: BoxFuture<'static, ()>) {
        Runtime::spawn(self.runtime(), fut);
    }
    fn clock(&self) -> &dyn Clock {
        &**self
    }
    fn state(&self, try_to_connect: bool) -> ConnectivityState {
        Pool::state(self, try_to_connect)
    }
    fn poll_resolved(&self, cx: &mut std::task::Context<'_>) -> Poll<()> {
        Pool::poll_resolved(self, cx)
    }
    fn poll_state_change(
        &self,
        cx: &mut std::task::Context<'_>,
        from: ConnectivityState,
    ) -> Poll<ConnectivityState> {
        Pool::poll_state_change(self, cx, from)
    }
}

struct Shared {
    backend: Box<dyn Backend>,
    authority: Bytes,
    interceptors: Arc<[Arc<dyn Interceptor>]>,
    default_timeout: Option<Duration>,
    /// Method policies and retry throttling (from the application, or
    /// from the resolver's service config).
    config: Arc<LiveConfig>,
    /// What retried streaming calls may keep for replay, and what they keep.
    retry_buffer: RetryBufferLimits,
    retry_buffered: Arc<ChannelBuffer>,
    /// Hears about every call (and, through the connections, its attempts).
    stats: Option<Arc<dyn crate::stats::StatsHandler>>,
    /// The target as given to the endpoint.
    target: Arc<str>,
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
    target: ParsedTarget,
    /// The target as given.
    uri: Arc<str>,
    resolver: Option<Arc<dyn Resolver>>,
    balancer: Arc<dyn Balancer>,
    dns_refresh: Duration,
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
    policies: MethodPolicies,
    throttling: Option<RetryThrottling>,
    stats: Vec<Arc<dyn crate::stats::StatsHandler>>,
    health_service: Option<String>,
    outlier_detection: Option<OutlierDetection>,
    idle_timeout: Option<Duration>,
    retry_buffer: RetryBufferLimits,
    tcp: TcpOptions,
    grpc_web: bool,
}

impl<R: Net + Default> Endpoint<R> {
    /// An endpoint from a target URI: `http://host:port`, `https://host:port`,
    /// `dns:///host:port` (resolved again every [`dns_refresh`](Self::dns_refresh)
    /// and after connection failures), `ipv4:addr:port,addr:port`,
    /// `ipv6:[addr]:port,...` or `unix:/path/to/socket`.
    pub fn new(uri: impl AsRef<str>) -> Result<Self, Status> {
        Endpoint::with_runtime(R::default(), uri)
    }
}

impl<R: Net> Endpoint<R> {
    /// An endpoint on a given runtime handle.
    pub fn with_runtime(rt: R, uri: impl AsRef<str>) -> Result<Self, Status> {
        let target = parse_target(uri.as_ref())?;
        let mut config = grpc::ClientConfig::default();
        if target.tls {
            config.scheme = Bytes::from_static(b"https");
        }
        Ok(Endpoint {
            rt,
            uri: uri.as_ref().into(),
            authority: target.authority.clone(),
            tls: target.tls,
            target,
            resolver: None,
            balancer: Arc::new(PickFirst),
            dns_refresh: Duration::from_secs(30),
            dial: None,
            #[cfg(feature = "tls")]
            tls_config: None,
            config,
            connect_timeout: Duration::from_secs(20),
            backoff: Backoff::default(),
            interceptors: Vec::new(),
            default_timeout: None,
            policies: MethodPolicies::default(),
            throttling: None,
            stats: Vec::new(),
            health_service: None,
            outlier_detection: None,
            idle_timeout: Some(DEFAULT_IDLE_TIMEOUT),
            retry_buffer: RetryBufferLimits::default(),
            tcp: TcpOptions::default(),
            grpc_web: false,
        })
    }

    /// Calls as gRPC-Web (grpc/doc/PROTOCOL-WEB.md) over HTTP/1.1 instead
    /// of gRPC over HTTP/2: for networks whose proxies pass only HTTP/1.1,
    /// to servers that serve gRPC-Web (Weir's with `Server::grpc_web`,
    /// tonic-web, Envoy's grpc_web filter). HTTP/1.1 has no multiplexing:
    /// each connection carries one call at a time (the others wait for it,
    /// then reuse it), bidi calls are half duplex (the server answers once
    /// the request ended), and cancelling a call under way closes its
    /// connection. On TLS, ALPN offers `http/1.1`. Off by default.
    pub fn grpc_web(mut self, on: bool) -> Self {
        self.grpc_web = on;
        self
    }

    /// Idle mode (gRPC-Go's `WithIdleTimeout`): after this long without
    /// calls the channel closes its connections and stops redialling; the
    /// next call connects again. `None` keeps connections for ever.
    /// Default: 30 minutes.
    pub fn idle_timeout(mut self, timeout: Option<Duration>) -> Self {
        self.idle_timeout = timeout;
        self
    }

    /// Discovers the addresses with `resolver` instead of the URI, which
    /// then gives only the `:authority`, the scheme and the TLS server name.
    pub fn resolver(mut self, resolver: impl Resolver) -> Self {
        self.resolver = Some(Arc::new(resolver));
        self
    }

    /// The load-balancing policy (default: [`PickFirst`]).
    pub fn balancer(mut self, balancer: impl Balancer) -> Self {
        self.balancer = Arc::new(balancer);
        self
    }

    /// How many request bytes retried client-streaming and bidi calls keep
    /// for replay: past the per-call limit, or when the channel's calls
    /// together hold the per-channel limit, a call commits to its current
    /// attempt (default: 256 KiB per call, 16 MiB per channel).
    pub fn retry_buffer(mut self, limits: RetryBufferLimits) -> Self {
        self.retry_buffer = limits;
        self
    }

    /// Outlier detection (gRFC A50) around the balancer: addresses whose
    /// calls fail far more than the others' are ejected (the balancer sees
    /// them in TRANSIENT_FAILURE) for a growing time. Off by default.
    pub fn outlier_detection(mut self, config: OutlierDetection) -> Self {
        self.outlier_detection = Some(config);
        self
    }

    /// How often a `dns:` (or host-name) target is resolved again besides
    /// after connection failures (default: 30 s).
    pub fn dns_refresh(mut self, every: Duration) -> Self {
        self.dns_refresh = every;
        self
    }

    /// Retries failed calls of every method without a policy of its own.
    pub fn retry_policy(mut self, policy: RetryPolicy) -> Self {
        self.policies.default.policy = Some(CallPolicy::Retry(policy));
        self
    }

    /// Hedges calls of every method without a policy of its own.
    pub fn hedging_policy(mut self, policy: HedgingPolicy) -> Self {
        self.policies.default.policy = Some(CallPolicy::Hedging(policy));
        self
    }

    /// The policy of one method (`package.Service/Method`) or of a whole
    /// service (`package.Service`); a method's own wins over its service's,
    /// which wins over the channel-wide one.
    pub fn method_policy(mut self, name: &str, policy: CallPolicy) -> Self {
        self.policies.by_name.entry(retry::method_key(name)).or_default().policy = Some(policy);
        self
    }

    /// The service config the channel starts with, in its JSON form (gRFC
    /// A2): `loadBalancingConfig`, `methodConfig` (`timeout`,
    /// `maxRequestMessageBytes`, `maxResponseMessageBytes`, `retryPolicy`,
    /// `hedgingPolicy`), `retryThrottling` and `healthCheckConfig`. An
    /// invalid config is an error naming the field. See [`Self::service_config`].
    pub fn default_service_config(self, json: &str) -> Result<Self, ServiceConfigError> {
        Ok(self.service_config(ServiceConfig::from_json(json)?))
    }

    /// Applies a parsed service config. Its per-method settings replace
    /// those given by [`Self::retry_policy`], [`Self::hedging_policy`] and
    /// [`Self::method_policy`]; its balancer, throttling and health check,
    /// when it names them, replace the builder's. A method's
    /// `waitForReady` applies unless the call says otherwise
    /// ([`Request::set_wait_for_ready`]).
    pub fn service_config(mut self, config: ServiceConfig) -> Self {
        if let Some(policy) = &config.load_balancing {
            self.balancer = policy.balancer();
            self.outlier_detection = config.outlier_detection.clone();
        }
        self.policies = MethodPolicies::from_config(&config);
        if let Some(t) = config.retry_throttling {
            self.throttling = Some(t);
        }
        if let Some(service) = config.health_check_service {
            self.health_service = Some(service);
        }
        self
    }

    /// Limits retries and hedges channel-wide with a token bucket.
    pub fn retry_throttling(mut self, throttling: RetryThrottling) -> Self {
        self.throttling = Some(throttling);
        self
    }

    /// TLS settings (roots, server name, client identity), or a
    /// `rustls::ClientConfig` of your own
    /// ([`ClientTlsConfig::from_rustls`](crate::tls::ClientTlsConfig::from_rustls)).
    /// An `https://` endpoint without it trusts the default roots
    /// ([`default_root_store`](crate::tls::default_root_store)).
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

    /// The least time allowed to establish a connection (TCP and TLS):
    /// gRPC's MIN_CONNECT_TIMEOUT (default 20 s); an attempt may last as
    /// long as the current backoff when that is longer.
    pub fn connect_timeout(mut self, t: Duration) -> Self {
        self.connect_timeout = t;
        self
    }

    /// `SO_SNDBUF` for connections to this host (loopback addresses); `None`
    /// leaves the kernel's autotuning. Default
    /// [`DEFAULT_LOOPBACK_SEND_BUFFER`](crate::tcp::DEFAULT_LOOPBACK_SEND_BUFFER).
    pub fn loopback_send_buffer(mut self, bytes: Option<usize>) -> Self {
        self.tcp.loopback_send_buffer = bytes;
        self
    }

    /// Reconnection backoff, per address.
    pub fn backoff(mut self, b: Backoff) -> Self {
        self.backoff = b;
        self
    }

    /// Client keepalive: ping after `interval` without traffic, close when
    /// unanswered for `timeout`; `while_idle` pings without calls too. When a
    /// server closes a connection with GOAWAY ENHANCE_YOUR_CALM
    /// `too_many_pings`, later connections ping half as often (as gRPC-Go).
    pub fn keepalive(mut self, interval: Duration, timeout: Duration, while_idle: bool) -> Self {
        self.config.h2.keepalive_interval = Some(interval);
        self.config.h2.keepalive_timeout = timeout;
        self.config.h2.keepalive_while_idle = while_idle;
        self
    }

    /// Client-side health checking (gRPC's `healthCheckConfig`): each
    /// connection watches `grpc.health.v1.Health` for `service` (`""`: the
    /// whole server) and takes calls only while it is SERVING, so the
    /// balancer steers around draining or broken backends. A server without
    /// the health service counts as healthy.
    pub fn health_check(mut self, service: impl Into<String>) -> Self {
        self.health_service = Some(service.into());
        self
    }

    /// Reports this channel's connections, calls and attempts to `handler`
    /// (metrics exporters, channelz). Several handlers may be added: each
    /// hears every event, in the order they were added.
    pub fn stats_handler(mut self, handler: Arc<dyn crate::stats::StatsHandler>) -> Self {
        self.stats.push(handler);
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

    /// Connects in memory to the server serving `connector`'s listener
    /// ([`crate::memory::channel`]), with no port: gRPC-Go's bufconn, for
    /// tests of services.
    pub fn in_memory(self, connector: crate::memory::MemoryConnector) -> Self {
        self.connector(move || {
            let connector = connector.clone();
            async move { connector.connect() }
        })
    }

    /// The gRPC and HTTP/2 configuration, for settings without a shortcut.
    pub fn config_mut(&mut self) -> &mut grpc::ClientConfig {
        &mut self.config
    }

    /// Largest response message accepted, after decompression (default
    /// 4 MiB, as in gRPC); a larger one fails its call with RESOURCE_EXHAUSTED.
    pub fn max_recv_message_size(mut self, bytes: usize) -> Self {
        self.config.messages.max_recv_message_size = bytes;
        self
    }

    /// Largest request message sent (default: no limit); a larger one fails
    /// its call with RESOURCE_EXHAUSTED before anything is sent.
    pub fn max_send_message_size(mut self, bytes: usize) -> Self {
        self.config.messages.max_send_message_size = bytes;
        self
    }

    /// A channel that connects on its first call.
    pub fn connect_lazy(self) -> Result<Channel, Status> {
        #[cfg(feature = "tls")]
        let tls = if self.tls {
            let cfg = self.tls_config.clone().unwrap_or_default();
            let host = match cfg.domain() {
                Some(d) => d.to_string(),
                None => self.target.tls_host.clone(),
            };
            let name = rustls_pki_types::ServerName::try_from(host)
                .map_err(|e| Status::new(Code::InvalidArgument, format!("invalid TLS server name: {e}")))?;
            let mut config = cfg.build().map_err(|e| Status::new(Code::InvalidArgument, e.to_string()))?;
            if self.grpc_web {
                let mut web = (*config).clone();
                web.alpn_protocols = vec![crate::server::web::ALPN_HTTP11.to_vec()];
                config = Arc::new(web);
            }
            Some((config, name))
        } else {
            None
        };
        #[cfg(not(feature = "tls"))]
        if self.tls {
            return Err(Status::new(Code::InvalidArgument, "https:// needs weir-rt's `tls` feature"));
        }
        let resolver: Arc<dyn Resolver> = match (self.resolver, &self.dial, self.target.naming) {
            (Some(r), _, _) => r,
            // The dialer ignores addresses: one stands for it.
            (None, Some(_), _) => {
                Arc::new(StaticResolver::new([std::net::SocketAddr::from(([0, 0, 0, 0], 0))]))
            }
            (None, None, Naming::Static(list)) => Arc::new(StaticResolver::new(list)),
            (None, None, Naming::Dns { host, port }) => {
                Arc::new(DnsResolver { rt: self.rt.clone(), host, port, refresh: self.dns_refresh })
            }
        };
        let connector = Connector {
            rt: self.rt.clone(),
            dial: self.dial,
            tcp: self.tcp,
            #[cfg(feature = "tls")]
            tls,
            grpc_web: self.grpc_web,
        };
        let authority = Bytes::from(self.authority);
        let live = LiveConfig::new(
            Applied {
                policies: self.policies,
                throttle: self.throttling.map(|t| Arc::new(Throttle::new(t))),
                balancer: self.balancer,
                health_check: self
                    .health_service
                    .map(|service| health_check::HealthCheck { service, authority: authority.clone() }),
                outlier_detection: self.outlier_detection,
            },
            authority.clone(),
        );
        let stats = crate::stats::Fanout::of(self.stats);
        let cfg = PoolConfig {
            channel: driver::ChannelCtx::new(
                stats.clone(),
                self.uri.clone(),
                self.config.h2.keepalive_interval,
            ),
            config: self.config,
            connect_timeout: self.connect_timeout,
            backoff: self.backoff,
            live: live.clone(),
            resolver,
            idle_timeout: self.idle_timeout,
        };
        let pool = Pool::new(self.rt, connector, cfg);
        Ok(Channel {
            shared: Arc::new(Shared {
                backend: Box::new(pool),
                authority,
                interceptors: self.interceptors.into(),
                default_timeout: self.default_timeout,
                config: live,
                retry_buffer: self.retry_buffer,
                retry_buffered: Arc::default(),
                stats,
                target: self.uri,
            }),
        })
    }

    /// A channel with a connection established now (to the address its
    /// balancer picks first).
    pub async fn connect(self) -> Result<Channel, Status> {
        let channel = self.connect_lazy()?;
        let metadata = Metadata::new();
        channel.shared.backend.connection(PickInfo { path: b"", metadata: &metadata }, false).await?;
        Ok(channel)
    }
}

/// A started call on a channel.
struct Call {
    shared: Arc<CallShared>,
    link: Arc<ClientLink>,
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
    /// The channel's connectivity state (gRPC's IDLE, CONNECTING, READY,
    /// TRANSIENT_FAILURE; a dropped channel is shut down, so none reports
    /// SHUTDOWN). `try_to_connect` leaves IDLE as a call would (gRPC-Go's
    /// `Connect`).
    pub fn state(&self, try_to_connect: bool) -> ConnectivityState {
        self.shared.backend.state(try_to_connect)
    }

    /// Picks so far that needed the channel's state lock (to wait for a
    /// connection, start one, or fail). Calls on a channel with a ready
    /// picker pick without any lock; this is how tests show it.
    #[doc(hidden)]
    pub fn locked_picks(&self) -> u64 {
        self.shared.backend.locked_picks()
    }

    /// Waits until the state is not `from` any more and returns it (gRPC-Go's
    /// `WaitForStateChange`; bound the wait with the runtime's timer).
    pub async fn wait_for_state_change(&self, from: ConnectivityState) -> ConnectivityState {
        std::future::poll_fn(|cx| self.shared.backend.poll_state_change(cx, from)).await
    }
}

impl Channel {
    /// Runs the `before` interceptors. Gives the call's deadline (the
    /// earliest of the request's deadline, its timeout and the channel's
    /// default timeout) and the `after` hooks it now owes; when a `before`
    /// hook rejects the call, the `after` hooks see that status here.
    async fn prepare<T>(&self, path: &Bytes, req: Request<T>) -> Result<Prepared<T>, Status> {
        let timing = CallTiming::start(self, path);
        let failed = |timing: Option<CallTiming>, status: Status| {
            if let Some(t) = timing {
                t.end(status.code);
            }
            Err(status)
        };
        let info = Arc::new(CallInfo {
            path: path.clone(),
            authority: Some(self.shared.authority.clone()),
            ..Default::default()
        });
        let now = self.clock().now();
        let timeout = req.timeout.or(self.shared.default_timeout).map(|t| now + t);
        // The method's config may come from the resolver: the first calls
        // wait for its first answer (gRPC-Go's waitForResolvedAddrs), within
        // their own deadline.
        let asked = [timeout, req.deadline].into_iter().flatten().min();
        let resolved = std::future::poll_fn(|cx| self.shared.backend.poll_resolved(cx));
        match asked {
            Some(at) => {
                if let Either::Right(()) = select(resolved, self.clock().sleep_until(at)).await {
                    return failed(
                        timing,
                        Status::new(Code::DeadlineExceeded, "deadline exceeded while resolving the name"),
                    );
                }
            }
            None => resolved.await,
        }
        let now = self.clock().now();
        // gRFC A2: the method's configured timeout bounds whatever the
        // application asked for.
        let config = self.shared.config.current();
        let settings = config.policies.lookup(path);
        let configured = settings.timeout.map(|t| now + t);
        let deadline = [timeout, req.deadline, configured].into_iter().flatten().min();
        let wait_for_ready = req.wait_for_ready.or(settings.wait_for_ready).unwrap_or(false);
        let opts = CallOpts { deadline, compression: req.compression, wait_for_ready };
        let (mut head, message) = req.into_head();
        // Owed before the hooks run: a call dropped during one still gets
        // the `after` hooks of those that ran.
        let mut owed = Owed::new(&self.shared.interceptors, &info, || self.spawner(), timing);
        match owed.run_before(&mut head).await {
            Ok(()) => Ok(Prepared { owed, opts, metadata: head.metadata, message }),
            Err(status) => Err(owed.settle(status).await),
        }
    }

    /// Spawns on the channel's runtime (for hooks owed by dropped calls).
    fn spawner(&self) -> Spawn {
        let channel = self.clone();
        Arc::new(move |f| channel.shared.backend.spawn(f))
    }

    fn clock(&self) -> &dyn Clock {
        self.shared.backend.clock()
    }

    /// The channel's clock, read.
    pub(crate) fn now(&self) -> Instant {
        self.clock().now()
    }

    /// The stats handler calls are reported to, if any.
    pub(crate) fn stats(&self) -> Option<&Arc<dyn crate::stats::StatsHandler>> {
        self.shared.stats.as_ref()
    }

    /// The target as given to the endpoint.
    pub(crate) fn target(&self) -> &str {
        &self.shared.target
    }

    /// Starts one attempt of a call on the connection the balancer picks.
    async fn start(
        &self,
        path: Bytes,
        metadata: Metadata,
        opts: CallOpts,
        first: Option<Bytes>,
        last: bool,
    ) -> Result<Call, Status> {
        let CallOpts { deadline, compression, wait_for_ready } = opts;
        let expired = || Status::new(Code::DeadlineExceeded, "deadline exceeded");
        let call = PickInfo { path: &path, metadata: &metadata };
        let connection = self.shared.backend.connection(call, wait_for_ready);
        let conn = match deadline {
            None => connection.await?,
            Some(at) => match select(connection, self.clock().sleep_until(at)).await {
                Either::Left(conn) => conn?,
                Either::Right(()) => return Err(expired()),
            },
        };
        let timeout = match deadline {
            Some(at) => Some(at.checked_duration_since(self.clock().now()).ok_or_else(expired)?),
            None => None,
        };
        let shared = CallShared::new();
        let key = conn.next_key();
        let config = self.shared.config.current();
        let settings = config.policies.lookup(&path);
        let req = grpc::CallRequest {
            max_send_message_size: settings.max_request,
            max_recv_message_size: settings.max_response,
            path,
            authority: self.shared.authority.clone(),
            metadata,
            timeout,
            compression,
        };
        let cmd = ClientCmd::Start { key, req, shared: shared.clone(), first, last };
        if conn.cmds.push(cmd).is_err() {
            return Err(Status::new(Code::Unavailable, retry::NOT_SENT));
        }
        let link = Arc::new(ClientLink::counted(conn, key, &shared));
        Ok(Call { shared, link })
    }

    /// Starts one attempt of a call with a single request message (sent
    /// whole, then half-closed): unary and server-streaming calls.
    fn start_single(
        &self,
        path: &Bytes,
        md: &Metadata,
        previous: u32,
        opts: CallOpts,
        msg: &Bytes,
    ) -> impl Future<Output = Result<Call, Status>> + '_ {
        self.start(path.clone(), attempt_metadata(md, previous), opts, Some(msg.clone()), true)
    }

    /// Runs the attempts of a call as its method's policy says: retried,
    /// hedged, or once (plus one transparent retry if the server never saw it).
    async fn attempts<T, F, Fut>(
        &self,
        path: &[u8],
        deadline: Option<Instant>,
        attempt: F,
    ) -> Result<T, Status>
    where
        F: FnMut(u32) -> Fut,
        Fut: Future<Output = Attempt<T>>,
    {
        let clock = self.clock();
        let config = self.shared.config.current();
        let throttle = config.throttle.as_deref();
        match &config.policies.lookup(path).policy {
            Some(CallPolicy::Hedging(policy)) => hedged(HedgeCtx { clock, policy, throttle }, attempt).await,
            Some(CallPolicy::Retry(policy)) => {
                with_retries(RetryCtx { clock, policy: Some(policy), throttle, deadline }, attempt).await
            }
            None => with_retries(RetryCtx { clock, policy: None, throttle, deadline }, attempt).await,
        }
    }

    /// A unary call with an encoded request.
    pub async fn unary(
        &self,
        path: impl Into<Bytes>,
        req: Request<Bytes>,
    ) -> Result<Response<Bytes>, Status> {
        let path = path.into();
        let Prepared { owed, opts, metadata: md, message: msg } = self.prepare(&path, req).await?;
        let result = self
            .attempts(&path, opts.deadline, |previous| {
                unary_attempt(self.start_single(&path, &md, previous, opts, &msg))
            })
            .await;
        settled(result, owed).await
    }

    /// A server-streaming call: one request, a stream of responses.
    pub async fn server_streaming(
        &self,
        path: impl Into<Bytes>,
        req: Request<Bytes>,
    ) -> Result<Response<Streaming<Bytes>>, Status> {
        let path = path.into();
        let Prepared { owed, opts, metadata: md, message: msg } = self.prepare(&path, req).await?;
        let result = self
            .attempts(&path, opts.deadline, |previous| {
                streaming_attempt(self.start_single(&path, &md, previous, opts, &msg))
            })
            .await;
        match result {
            Ok(resp) => Ok(resp.map(|s| s.with_owed(owed))),
            Err(status) => Err(owed.settle(status).await),
        }
    }

    /// A client-streaming call: a stream of requests (`Bytes`, or
    /// [`OutMessage`] to choose compression per message), one response.
    /// With a retry policy for the method, its messages are kept (within
    /// [`Endpoint::retry_buffer`]) and a failed attempt is retried with all
    /// of them; otherwise it is sent once.
    pub async fn client_streaming<S, I>(
        &self,
        path: impl Into<Bytes>,
        req: Request<S>,
    ) -> Result<Response<Bytes>, Status>
    where
        S: Stream<Item = I> + Send + 'static,
        I: Into<OutMessage> + Send + 'static,
    {
        let path = path.into();
        let Prepared { owed, opts, metadata: md, message: stream } = self.prepare(&path, req).await?;
        let config = self.shared.config.current();
        if let Some(CallPolicy::Retry(policy)) = &config.policies.lookup(&path).policy {
            let replay = self.replay(stream);
            let ctx = self.retry_ctx(policy, config.throttle.as_deref(), opts.deadline);
            let result = with_retries(ctx, |previous| {
                let call = self.start(path.clone(), attempt_metadata(&md, previous), opts, None, false);
                self.client_streaming_attempt(call, replay.clone())
            })
            .await;
            return settled(result, owed).await;
        }
        let call = match self.start(path, md, opts, None, false).await {
            Ok(call) => call,
            Err(status) => return Err(owed.settle(status).await),
        };
        let mut guard = call.finish_guard();
        self.shared.backend.spawn(Box::pin(send_stream(stream, call.shared.clone(), call.link.clone())));
        let result = receive_unary(&call.shared, &call.link).await;
        guard.armed = false;
        settled(result, owed).await
    }

    /// A bidirectional-streaming call. Returns at once (servers may send
    /// their headers only with their first message): the response header
    /// metadata is available from [`Streaming::headers`]. Sent once, unless
    /// the method has a retry policy: then its request messages are kept
    /// (within [`Endpoint::retry_buffer`]) and this returns once an attempt
    /// received response headers (the call is committed), retrying attempts
    /// that failed before, with every message sent so far. A server that
    /// sends its headers only after several requests needs the request
    /// stream to be fed before this returns.
    pub async fn streaming<S, I>(
        &self,
        path: impl Into<Bytes>,
        req: Request<S>,
    ) -> Result<Response<Streaming<Bytes>>, Status>
    where
        S: Stream<Item = I> + Send + 'static,
        I: Into<OutMessage> + Send + 'static,
    {
        let path = path.into();
        let Prepared { owed, opts, metadata: md, message: stream } = self.prepare(&path, req).await?;
        let config = self.shared.config.current();
        if let Some(CallPolicy::Retry(policy)) = &config.policies.lookup(&path).policy {
            let replay = self.replay(stream);
            let ctx = self.retry_ctx(policy, config.throttle.as_deref(), opts.deadline);
            let result = with_retries(ctx, |previous| {
                let call = self.start(path.clone(), attempt_metadata(&md, previous), opts, None, false);
                self.bidi_attempt(call, replay.clone())
            })
            .await;
            return match result {
                Ok(resp) => Ok(resp.map(|s| s.with_owed(owed))),
                Err(status) => Err(owed.settle(status).await),
            };
        }
        let call = match self.start(path, md, opts, None, false).await {
            Ok(call) => call,
            Err(status) => return Err(owed.settle(status).await),
        };
        self.shared.backend.spawn(Box::pin(send_stream(stream, call.shared.clone(), call.link.clone())));
        let link: Arc<dyn CallLink> = call.link.clone();
        Ok(Response::new(Streaming::new(call.shared, link, Ok, true).with_owed(owed)))
    }
}

impl Channel {
    /// A retried streaming call's request messages, kept for replay.
    fn replay<S, I>(&self, stream: S) -> Arc<Replay<S>>
    where
        S: Stream<Item = I> + Send + 'static,
        I: Into<OutMessage> + Send + 'static,
    {
        Replay::new(stream, self.shared.retry_buffer, self.shared.retry_buffered.clone())
    }

    fn retry_ctx<'a>(
        &'a self,
        policy: &'a RetryPolicy,
        throttle: Option<&'a Throttle>,
        deadline: Option<Instant>,
    ) -> RetryCtx<'a> {
        RetryCtx { clock: self.clock(), policy: Some(policy), throttle, deadline }
    }

    /// Starts one attempt of a retried streaming call and its sender of the
    /// kept and further request messages; a start that failed is the
    /// attempt's outcome.
    async fn start_replaying<S, I, T>(
        &self,
        call: impl Future<Output = Result<Call, Status>>,
        replay: &Arc<Replay<S>>,
    ) -> Result<(Call, CancelOnDrop), Attempt<T>>
    where
        S: Stream<Item = I> + Send + 'static,
        I: Into<OutMessage> + Send + 'static,
    {
        let call = call.await.map_err(|status| replay_failure(replay, status))?;
        let guard = call.finish_guard();
        self.send_replayed(&call, replay.clone());
        Ok((call, guard))
    }

    /// Starts sending the kept and further request messages on `call`.
    fn send_replayed<S, I>(&self, call: &Call, replay: Arc<Replay<S>>)
    where
        S: Stream<Item = I> + Send + 'static,
        I: Into<OutMessage> + Send + 'static,
    {
        let attempt = replay.begin_attempt();
        let mut index = 0;
        let next = move |cx: &mut std::task::Context<'_>| {
            let polled = replay.poll_message(cx, attempt, index);
            if let Poll::Ready(Some(_)) = polled {
                index += 1;
            }
            polled
        };
        self.shared.backend.spawn(Box::pin(send_messages(next, call.shared.clone(), call.link.clone())));
    }

    /// One attempt of a retried client-streaming call.
    async fn client_streaming_attempt<S, I>(
        &self,
        call: impl Future<Output = Result<Call, Status>>,
        replay: Arc<Replay<S>>,
    ) -> Attempt<Response<Bytes>>
    where
        S: Stream<Item = I> + Send + 'static,
        I: Into<OutMessage> + Send + 'static,
    {
        let (call, mut guard) = match self.start_replaying(call, &replay).await {
            Ok(started) => started,
            Err(failed) => return failed,
        };
        let result = receive_unary(&call.shared, &call.link).await;
        guard.armed = false;
        if result.is_ok() || call.shared.headers_received() {
            replay.commit();
        }
        match result {
            Ok(resp) => Attempt { result: Ok(resp), failure: None },
            Err(status) => replay_failure(&replay, status),
        }
    }

    /// One attempt of a retried bidi call: committed once response headers
    /// arrive, which gives the caller the response stream.
    async fn bidi_attempt<S, I>(
        &self,
        call: impl Future<Output = Result<Call, Status>>,
        replay: Arc<Replay<S>>,
    ) -> Attempt<Response<Streaming<Bytes>>>
    where
        S: Stream<Item = I> + Send + 'static,
        I: Into<OutMessage> + Send + 'static,
    {
        let (call, mut guard) = match self.start_replaying(call, &replay).await {
            Ok(started) => started,
            Err(failed) => return failed,
        };
        let headers = std::future::poll_fn(|cx| call.shared.poll_headers(cx)).await;
        // A trailers-only answer ends the attempt without headers.
        let headers = match headers {
            Ok(_) if !call.shared.headers_received() => {
                match std::future::poll_fn(|cx| call.shared.poll_finished(cx)).await {
                    (status, _) if !status.is_ok() => Err(status),
                    _ => headers,
                }
            }
            other => other,
        };
        match headers {
            Ok(md) => {
                replay.commit();
                guard.armed = false;
                let link: Arc<dyn CallLink> = call.link.clone();
                let stream = Streaming::new(call.shared.clone(), link, Ok, true);
                Attempt { result: Ok(Response::new(stream).map_headers(md)), failure: None }
            }
            Err(status) => {
                guard.armed = false;
                replay_failure(&replay, status)
            }
        }
    }
}

/// A failed attempt of a retried streaming call: retryable unless the call
/// committed (its buffer overflowed, or headers came).
fn replay_failure<T, S>(replay: &Replay<S>, status: Status) -> Attempt<T> {
    let failure = (!replay.committed()).then(|| status.clone());
    Attempt { result: Err(status), failure }
}

/// A call after its `before` interceptors: what it needs to start.
struct Prepared<T> {
    owed: Owed,
    opts: CallOpts,
    metadata: Metadata,
    message: T,
}

/// How each attempt of a call starts.
#[derive(Clone, Copy)]
struct CallOpts {
    deadline: Option<Instant>,
    compression: Option<&'static str>,
    /// Wait for a ready connection instead of failing while none is.
    wait_for_ready: bool,
}

/// A call's outcome once the `after` interceptors had their say (they may
/// turn a success into an error or change an error).
async fn settled<T>(result: Result<Response<T>, Status>, owed: Owed) -> Result<Response<T>, Status> {
    match result {
        Ok(resp) => {
            let status = owed.settle(Status::ok()).await;
            if status.is_ok() { Ok(resp) } else { Err(status) }
        }
        Err(status) => Err(owed.settle(status).await),
    }
}

/// One attempt of a unary call.
async fn unary_attempt(call: impl Future<Output = Result<Call, Status>>) -> Attempt<Response<Bytes>> {
    let call = match call.await {
        Ok(call) => call,
        Err(status) => return Attempt::uncommitted(status),
    };
    let mut guard = call.finish_guard();
    let result = receive_unary(&call.shared, &call.link).await;
    guard.armed = false;
    match result {
        Ok(resp) => Attempt { result: Ok(resp), failure: None },
        Err(status) => {
            let failure = (!call.shared.headers_received()).then(|| status.clone());
            Attempt { result: Err(status), failure }
        }
    }
}

/// One attempt of a server-streaming call: committed once the response
/// headers arrive. A trailers-only failure still gives the caller its
/// stream (which reports the status) when the call is not retried.
async fn streaming_attempt(
    call: impl Future<Output = Result<Call, Status>>,
) -> Attempt<Response<Streaming<Bytes>>> {
    let call = match call.await {
        Ok(call) => call,
        Err(status) => return Attempt::uncommitted(status),
    };
    let shared = call.shared.clone();
    let result = streaming_response(call).await;
    let mut failure = None;
    if result.is_ok() && !shared.headers_received() {
        let (status, _) = std::future::poll_fn(|cx| shared.poll_finished(cx)).await;
        failure = (!status.is_ok()).then_some(status);
    }
    Attempt { result, failure }
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
    let next =
        move |cx: &mut std::task::Context<'_>| stream.as_mut().poll_next(cx).map(|m| m.map(Into::into));
    send_messages(next, shared, link).await
}

/// Sends the messages `next` gives into a call with flow control, then
/// half-closes; stops early when the call ends.
async fn send_messages(
    mut next: impl FnMut(&mut std::task::Context<'_>) -> Poll<Option<OutMessage>>,
    shared: Arc<CallShared>,
    link: Arc<ClientLink>,
) {
    loop {
        let item = std::future::poll_fn(|cx| {
            if shared.send_closed().is_some() {
                return Poll::Ready(None);
            }
            match next(cx) {
                Poll::Ready(item) => Poll::Ready(Some(item)),
                Poll::Pending => shared.poll_send_closed(cx).map(|_| None),
            }
        })
        .await;
        match item {
            None => return,
            Some(None) => {
                let _ = link.conn.cmds.push(ClientCmd::HalfClose { key: link.key });
                return;
            }
            Some(Some(msg)) => {
                if std::future::poll_fn(|cx| shared.poll_reserve(cx, msg.len(), msg.messages()))
                    .await
                    .is_err()
                {
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
