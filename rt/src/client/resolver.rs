//! Name resolution: the [`Resolver`] trait through which a channel learns
//! its addresses, the DNS resolver behind `dns:///host:port` targets, and a
//! fixed list.

use std::future::Future;
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::task::{Poll, Waker};
use std::time::Duration;

use weir_core::grpc::{Code, Status};

use super::address::Address;
use crate::runtime::{BoxFuture, Net};
use crate::util::{Either, select};

/// Discovers the addresses behind a target (DNS, etcd, Consul, a static
/// list...) and pushes every new list to the channel, which connects,
/// balances and drops connections to match.
///
/// ```
/// use weir_rt::client::{Address, Resolver, ResolverUpdates};
/// use weir_rt::runtime::BoxFuture;
///
/// /// Two fixed addresses, announced once.
/// struct Fixed;
///
/// impl Resolver for Fixed {
///     fn run(&self, updates: ResolverUpdates) -> BoxFuture<'static, ()> {
///         Box::pin(async move {
///             let addrs = vec![Address::Tcp("127.0.0.1:1".parse().unwrap())];
///             updates.update(addrs);
///         })
///     }
/// }
/// ```
pub trait Resolver: Send + Sync + 'static {
    /// Resolves until the channel is gone, pushing lists through `updates`.
    /// The channel spawns it on its runtime when its first call starts, and
    /// again with new `updates` when a call ends the channel's idle mode
    /// (entering it closes the old ones). A resolver that re-resolves should
    /// do so when [`ResolverUpdates::resolve_requested`] fires (a connection
    /// failed), and return once that reports the channel closed.
    fn run(&self, updates: ResolverUpdates) -> BoxFuture<'static, ()>;
}

/// Receives a resolver's results: what a channel's balancing layer
/// implements.
pub(crate) trait AddressSink: Send + Sync {
    /// A list of `(address, weight)`, or a resolution error.
    fn apply(&self, result: Result<Vec<(Address, u32)>, Status>);
    /// A valid service config from the resolver.
    fn apply_config(&self, config: &super::ServiceConfig);
}

#[derive(Default)]
struct Requests {
    requested: bool,
    closed: bool,
    waker: Option<Waker>,
}

/// The channel's side of re-resolution requests (`resolve_now`) and
/// closing.
#[derive(Clone, Default)]
pub(crate) struct ResolveRequests(Arc<Mutex<Requests>>);

impl ResolveRequests {
    fn lock(&self) -> MutexGuard<'_, Requests> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Asks the resolver to resolve again.
    pub fn request(&self) {
        let waker = {
            let mut r = self.lock();
            r.requested = true;
            r.waker.take()
        };
        waker.into_iter().for_each(Waker::wake);
    }

    /// The channel is gone: the resolver should stop.
    pub fn close(&self) {
        let waker = {
            let mut r = self.lock();
            r.closed = true;
            r.waker.take()
        };
        waker.into_iter().for_each(Waker::wake);
    }
}

/// Where a [`Resolver`] sends its results. Cheap to clone.
#[derive(Clone)]
pub struct ResolverUpdates {
    sink: Weak<dyn AddressSink>,
    requests: ResolveRequests,
}

impl std::fmt::Debug for ResolverUpdates {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ResolverUpdates").field("closed", &self.is_closed()).finish()
    }
}

impl ResolverUpdates {
    pub(crate) fn new(sink: Weak<dyn AddressSink>, requests: ResolveRequests) -> Self {
        ResolverUpdates { sink, requests }
    }

    /// Replaces the channel's address list. Connections to addresses that
    /// remain are kept. Returns false once the channel is gone.
    pub fn update(&self, addresses: Vec<Address>) -> bool {
        self.send(Ok(addresses.into_iter().map(|a| (a, 1)).collect()))
    }

    /// Replaces the list with weighted addresses: `weighted_round_robin`
    /// gives each a share of the calls proportional to its weight and
    /// `ring_hash` a share of the ring (weights below 1 count as 1). The
    /// other policies ignore weights. Returns false once the channel is gone.
    pub fn update_weighted(&self, addresses: Vec<(Address, u32)>) -> bool {
        self.send(Ok(addresses.into_iter().map(|(a, w)| (a, w.max(1))).collect()))
    }

    /// Reports a failed resolution. The channel keeps its last list; with
    /// none, calls fail with this status (as UNAVAILABLE). Returns false once
    /// the channel is gone.
    pub fn error(&self, status: Status) -> bool {
        self.send(Err(status))
    }

    /// Delivers a service config in gRPC's JSON form (gRFC A2), as DNS TXT
    /// records, xDS or a control plane would: what it sets replaces the
    /// application's settings (method configs, balancer, retry throttling,
    /// health check for new connections). An invalid config is refused
    /// with the error naming its field, and the channel keeps the config it
    /// had. `Ok(false)` once the channel is gone.
    pub fn service_config(&self, json: &str) -> Result<bool, super::ServiceConfigError> {
        let config = super::ServiceConfig::from_json(json)?;
        Ok(self.live_sink().map(|sink| sink.apply_config(&config)).is_some())
    }

    fn send(&self, result: Result<Vec<(Address, u32)>, Status>) -> bool {
        self.live_sink().map(|sink| sink.apply(result)).is_some()
    }

    /// The channel, unless it is gone or this link was closed.
    fn live_sink(&self) -> Option<Arc<dyn AddressSink>> {
        self.sink.upgrade().filter(|_| !self.is_closed())
    }

    /// True once the channel is gone.
    pub fn is_closed(&self) -> bool {
        self.requests.lock().closed || self.sink.strong_count() == 0
    }

    /// Resolves when the channel asks for a new resolution (`true`: after a
    /// connection failure) or is gone (`false`).
    pub fn resolve_requested(&self) -> impl Future<Output = bool> + Send + 'static {
        let requests = self.requests.clone();
        std::future::poll_fn(move |cx| {
            let mut r = requests.lock();
            if r.closed {
                return Poll::Ready(false);
            }
            if std::mem::take(&mut r.requested) {
                return Poll::Ready(true);
            }
            r.waker = Some(cx.waker().clone());
            Poll::Pending
        })
    }
}

/// A fixed address list, announced once (`ipv4:`/`ipv6:`/`unix:` targets).
#[derive(Clone, Debug)]
pub struct StaticResolver {
    addresses: Vec<Address>,
}

impl StaticResolver {
    /// A resolver that always gives `addresses`.
    pub fn new(addresses: impl IntoIterator<Item = impl Into<Address>>) -> Self {
        StaticResolver { addresses: addresses.into_iter().map(Into::into).collect() }
    }
}

impl Resolver for StaticResolver {
    fn run(&self, updates: ResolverUpdates) -> BoxFuture<'static, ()> {
        let addresses = self.addresses.clone();
        Box::pin(async move {
            updates.update(addresses);
        })
    }
}

/// The least time between two DNS resolutions, however often a connection
/// fails.
const MIN_REFRESH_GAP: Duration = Duration::from_secs(1);

/// Resolves a host name through the runtime ([`Net::resolve`]): at start,
/// every `refresh`, and when a connection fails (at most once a second).
pub(crate) struct DnsResolver<R: Net> {
    pub rt: R,
    pub host: String,
    pub port: u16,
    pub refresh: Duration,
}

impl<R: Net> Resolver for DnsResolver<R> {
    fn run(&self, updates: ResolverUpdates) -> BoxFuture<'static, ()> {
        let (rt, host, port, refresh) = (self.rt.clone(), self.host.clone(), self.port, self.refresh);
        Box::pin(async move {
            loop {
                let started = rt.now();
                let delivered = match rt.resolve(host.clone(), port).await {
                    Ok(addrs) if !addrs.is_empty() => {
                        updates.update(addrs.into_iter().map(Address::Tcp).collect())
                    }
                    Ok(_) => updates.error(Status::new(Code::Unavailable, format!("no address for {host}"))),
                    Err(e) => updates.error(
                        Status::new(Code::Unavailable, format!("failed to resolve {host}: {e}"))
                            .with_source(e),
                    ),
                };
                if !delivered {
                    return;
                }
                if let Either::Left(false) =
                    select(updates.resolve_requested(), rt.sleep_until(started + refresh)).await
                {
                    return;
                }
                let earliest = started + MIN_REFRESH_GAP.min(refresh);
                if rt.now() < earliest {
                    rt.sleep_until(earliest).await;
                }
            }
        })
    }
}
