//! A channel's connections: the address list its resolver gives, one
//! connection per address with its own state and backoff, and the balancer
//! that picks one for each call. Connections open on demand (the first call,
//! or when a policy asks), and while every address is failing calls fail
//! fast with the latest error.

use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::task::{Poll, Waker};
use std::time::{Duration, Instant};

use weir_core::grpc::{self, Code, Status};

use super::address::Address;
use super::backoff::Backoff;
use super::balancer::{Balancer, ConnectivityState, Subchannel};
use super::connector::Connector;
use super::driver::{ClientDriver, ConnHandle};
use super::resolver::{AddressSink, ResolveRequests, Resolver, ResolverUpdates};
use super::subchannel::AddressConn;
use crate::runtime::Net;
use crate::util::{Either, select};

/// Why a pick found no connection: the one chosen died meanwhile.
const LOST_WHILE_PICKING: &str = "the chosen connection closed while it was picked";

/// How a pool connects and balances.
pub(crate) struct PoolConfig {
    pub config: grpc::ClientConfig,
    /// The least time allowed for one connection attempt.
    pub connect_timeout: Duration,
    pub backoff: Backoff,
    pub balancer: Arc<dyn Balancer>,
    pub resolver: Arc<dyn Resolver>,
    /// Stats handler and keepalive backoff, shared by every connection.
    pub channel: Arc<super::driver::ChannelCtx>,
    /// Client-side health checking: connections are used only while serving.
    pub health_check: Option<super::health_check::HealthCheck>,
}

#[derive(Default)]
struct LbState {
    /// The resolver was started (at the first call).
    started: bool,
    /// A list arrived.
    resolved: bool,
    subchannels: Vec<Arc<AddressConn>>,
    /// The resolver's error, while there is no list.
    resolver_error: Option<Status>,
    /// The latest connection failure.
    last_error: Option<Status>,
    /// Calls waiting for a state change.
    waiters: Vec<Waker>,
    /// When a timer wakes the waiters next (the earliest end of an
    /// address's backoff, while wait-for-ready calls wait).
    wake_at: Option<Instant>,
}

/// The connections of one channel.
pub(crate) struct Pool<R: Net> {
    rt: R,
    connector: Connector<R>,
    cfg: PoolConfig,
    requests: ResolveRequests,
    state: Mutex<LbState>,
}

impl<R: Net> Drop for Pool<R> {
    fn drop(&mut self) {
        self.requests.close();
    }
}

impl<R: Net> Pool<R> {
    pub fn new(rt: R, connector: Connector<R>, cfg: PoolConfig) -> Arc<Self> {
        Arc::new(Pool { rt, connector, cfg, requests: ResolveRequests::default(), state: Mutex::default() })
    }

    pub fn runtime(&self) -> &R {
        &self.rt
    }

    fn lock(&self) -> MutexGuard<'_, LbState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A ready connection chosen by the balancer; waits while the addresses
    /// it wants are connecting. `wait_for_ready`: also waits while none can
    /// be had (every address failing, no address, the name not resolved),
    /// where a call otherwise fails at once (gRPC's wait-for-ready).
    pub async fn connection(self: &Arc<Self>, wait_for_ready: bool) -> Result<Arc<ConnHandle>, Status> {
        std::future::poll_fn(|cx| {
            let mut s = self.lock();
            if !s.started {
                s.started = true;
                let sink: Weak<dyn AddressSink> = Arc::downgrade(self) as Weak<dyn AddressSink>;
                let updates = ResolverUpdates::new(sink, self.requests.clone());
                self.rt.spawn(self.cfg.resolver.run(updates));
            }
            let mut outcome = self.pick(&mut s);
            if wait_for_ready && matches!(outcome, Poll::Ready(Err(_))) {
                self.wake_when_an_address_may_connect(&mut s);
                outcome = Poll::Pending;
            }
            if outcome.is_pending() && !s.waiters.iter().any(|w| w.will_wake(cx.waker())) {
                s.waiters.push(cx.waker().clone());
            }
            outcome
        })
        .await
    }

    fn pick(self: &Arc<Self>, s: &mut LbState) -> Poll<Result<Arc<ConnHandle>, Status>> {
        // A connection can die between looking at the states and taking it:
        // look again then (it is idle now, and gets reconnected).
        let mut outcome = self.pick_once(s);
        if let Poll::Ready(Err(status)) = &outcome
            && status.message == LOST_WHILE_PICKING
        {
            outcome = self.pick_once(s);
        }
        outcome
    }

    fn pick_once(self: &Arc<Self>, s: &mut LbState) -> Poll<Result<Arc<ConnHandle>, Status>> {
        if !s.resolved {
            if let Some(e) = &s.resolver_error {
                self.requests.request();
                return Poll::Ready(Err(e.clone()));
            }
            return Poll::Pending;
        }
        if s.subchannels.is_empty() {
            return Poll::Ready(Err(Status::new(Code::Unavailable, "name resolution gave no address")));
        }
        let now = self.rt.now();
        let mut lost = false;
        let mut states: Vec<ConnectivityState> = s
            .subchannels
            .iter()
            .map(|c| {
                let o = c.observe(now);
                lost |= o.lost;
                o.state
            })
            .collect();
        if lost {
            self.requests.request();
        }
        let pick = {
            let views: Vec<Subchannel<'_>> = s
                .subchannels
                .iter()
                .zip(&states)
                .map(|(c, &state)| Subchannel { address: &c.address, state })
                .collect();
            self.cfg.balancer.pick(&views)
        };
        for i in pick.connect {
            if let Some(sub) = s.subchannels.get(i)
                && let Some(failures) = sub.begin_connect()
            {
                states[i] = ConnectivityState::Connecting;
                let this = self.clone();
                let sub = sub.clone();
                self.rt.spawn(async move { this.connect(sub, failures).await });
            }
        }
        if let Some(chosen) = pick.ready.and_then(|i| s.subchannels.get(i)) {
            return match chosen.ready() {
                Some(conn) => Poll::Ready(Ok(conn)),
                None => Poll::Ready(Err(Status::new(Code::Unavailable, LOST_WHILE_PICKING))),
            };
        }
        if states.contains(&ConnectivityState::Connecting) {
            return Poll::Pending;
        }
        Poll::Ready(Err(s
            .last_error
            .clone()
            .unwrap_or_else(|| Status::new(Code::Unavailable, "no address is ready"))))
    }

    /// One connection attempt (grpc/doc/connection-backoff.md): allowed
    /// `max(backoff, connect_timeout)`; after a failure the address rests
    /// until the backoff, counted from the attempt's start, is over.
    async fn connect(self: Arc<Self>, sub: Arc<AddressConn>, failures: u32) {
        let started = self.rt.now();
        let backoff = self.cfg.backoff.delay(failures);
        let limit = self.rt.sleep_until(started + backoff.max(self.cfg.connect_timeout));
        let outcome = match select(self.connector.connect(&sub.address), limit).await {
            Either::Left(Ok(io)) => Ok(io),
            Either::Left(Err(e)) => {
                Err(Status::new(Code::Unavailable, format!("failed to connect to {}: {e}", sub.address))
                    .with_source(e))
            }
            Either::Right(()) => {
                Err(Status::new(Code::Unavailable, format!("connecting to {} timed out", sub.address)))
            }
        };
        match outcome {
            Ok(io) => {
                let handle = ConnHandle::new();
                let channel = self.cfg.channel.clone();
                let driver =
                    ClientDriver::new(self.rt.clone(), io, self.cfg.config.clone(), handle.clone(), channel);
                self.rt.spawn(driver);
                if let Some(check) = self.cfg.health_check.clone() {
                    handle
                        .health
                        .store(super::health_check::health::UNKNOWN, std::sync::atomic::Ordering::Release);
                    self.rt.spawn(self.clone().watch_health(handle.clone(), check));
                }
                sub.connected(handle);
            }
            Err(status) => {
                // The error first: a picker that sees the address failed
                // finds why (not "no address is ready").
                self.lock().last_error = Some(status);
                sub.failed(started + backoff);
                self.requests.request();
            }
        }
        self.wake_all();
    }

    /// Follows one connection's health; re-picks whenever it changes.
    async fn watch_health(self: Arc<Self>, conn: Arc<ConnHandle>, check: super::health_check::HealthCheck) {
        let pool = Arc::downgrade(&self);
        let rt = self.rt.clone();
        drop(self);
        let changed = move || {
            if let Some(pool) = pool.upgrade() {
                pool.wake_all();
            }
        };
        let sleep = move |d: Duration| -> crate::runtime::BoxFuture<'static, ()> {
            Box::pin(rt.sleep_until(rt.now() + d))
        };
        super::health_check::watch(conn, check, changed, sleep).await;
    }

    /// Arms a timer for the earliest end of an address's backoff: a waiting
    /// call picks again then, which starts the next connection attempt.
    fn wake_when_an_address_may_connect(self: &Arc<Self>, s: &mut LbState) {
        let Some(at) = s.subchannels.iter().filter_map(|c| c.retry_at()).min() else { return };
        if s.wake_at.is_some_and(|armed| armed <= at) {
            return;
        }
        s.wake_at = Some(at);
        let pool = Arc::downgrade(self);
        let rt = self.rt.clone();
        self.rt.spawn(async move {
            rt.sleep_until(at).await;
            if let Some(pool) = pool.upgrade() {
                let mut s = pool.lock();
                if s.wake_at == Some(at) {
                    s.wake_at = None;
                }
                drop(s);
                pool.wake_all();
            }
        });
    }

    fn wake_all(&self) {
        let waiters = std::mem::take(&mut self.lock().waiters);
        waiters.into_iter().for_each(Waker::wake);
    }
}

impl<R: Net> AddressSink for Pool<R> {
    fn apply(&self, result: Result<Vec<Address>, Status>) {
        {
            let mut s = self.lock();
            match result {
                Ok(addresses) => {
                    let mut next: Vec<Arc<AddressConn>> = Vec::with_capacity(addresses.len());
                    for a in addresses {
                        if next.iter().any(|c| c.address == a) {
                            continue;
                        }
                        let kept = s.subchannels.iter().find(|c| c.address == a).cloned();
                        next.push(kept.unwrap_or_else(|| AddressConn::new(a)));
                    }
                    s.subchannels = next;
                    s.resolved = true;
                    s.resolver_error = None;
                }
                Err(status) => {
                    if !s.resolved {
                        let mut status = status;
                        status.code = Code::Unavailable;
                        s.resolver_error = Some(status);
                    }
                }
            }
        }
        self.wake_all();
    }
}
