//! A channel's connections: the address list its resolver gives, one
//! connection per address with its own state and backoff, and the balancer
//! that picks one for each call. Connections open on demand (the first call,
//! or when a policy asks), and while every address is failing calls fail
//! fast with the latest error.
//!
//! Once a channel is in use, an address the balancer connected is kept
//! connected: a lost connection is redialled at once and a failed attempt
//! again when its backoff ends, so the channel's state (`state`) follows the
//! backends without calls. After `idle_timeout` without calls the channel
//! goes idle (gRPC-Go's idle mode): its connections close, nothing is
//! redialled, and the next call connects again.

use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::task::{Poll, Waker};
use std::time::{Duration, Instant};

use weir_core::grpc::{self, Code, Status};

use super::address::Address;
use super::backoff::Backoff;
use super::balancer::{ConnectivityState, Subchannel};
use super::connector::Connector;
use super::driver::{ClientDriver, ConnHandle};
use super::live_config::LiveConfig;
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
    /// The balancer and health check (from the application, or from the
    /// resolver's service config).
    pub live: Arc<LiveConfig>,
    pub resolver: Arc<dyn Resolver>,
    /// Stats handler and keepalive backoff, shared by every connection.
    pub channel: Arc<super::driver::ChannelCtx>,
    /// Idle mode: this long without calls closes the connections.
    pub idle_timeout: Option<Duration>,
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
    /// In use (a call or `state(true)` since the start or the last idle
    /// period): connections the balancer opened are kept up.
    active: bool,
    /// The idle timer task runs.
    idle_timer: bool,
    /// The last call's pick, for the idle timer.
    last_call: Option<Instant>,
    /// `wait_for_state_change` callers.
    watchers: Vec<Waker>,
}

/// The connections of one channel.
pub(crate) struct Pool<R: Net> {
    /// This pool, for tasks started where only `&self` is at hand.
    me: Weak<Self>,
    rt: R,
    connector: Connector<R>,
    cfg: PoolConfig,
    /// The running resolver's link; a fresh one each time it starts (it is
    /// closed, which stops the resolver, when the channel goes idle).
    requests: Mutex<ResolveRequests>,
    state: Mutex<LbState>,
}

impl<R: Net> Drop for Pool<R> {
    fn drop(&mut self) {
        self.requests().close();
    }
}

impl<R: Net> Pool<R> {
    pub fn new(rt: R, connector: Connector<R>, cfg: PoolConfig) -> Arc<Self> {
        Arc::new_cyclic(|me| Pool {
            me: me.clone(),
            rt,
            connector,
            cfg,
            requests: Mutex::default(),
            state: Mutex::default(),
        })
    }

    pub fn runtime(&self) -> &R {
        &self.rt
    }

    fn requests(&self) -> ResolveRequests {
        self.requests.lock().unwrap_or_else(|e| e.into_inner()).clone()
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
            self.activate(&mut s);
            s.last_call = Some(self.rt.now());
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

    /// Starts the resolver on first use and leaves idle mode: from now on
    /// the connections the balancer opens are kept up.
    fn activate(self: &Arc<Self>, s: &mut LbState) {
        if !s.started {
            s.started = true;
            let sink: Weak<dyn AddressSink> = Arc::downgrade(self) as Weak<dyn AddressSink>;
            let requests = ResolveRequests::default();
            *self.requests.lock().unwrap_or_else(|e| e.into_inner()) = requests.clone();
            let updates = ResolverUpdates::new(sink, requests);
            // `run` is called in the task, not here under the pool's lock: a
            // resolver may push its first results before returning its future.
            let resolver = self.cfg.resolver.clone();
            self.rt.spawn(async move { resolver.run(updates).await });
        }
        if !s.active {
            s.active = true;
            self.start_idle_timer(s);
            self.wake_watchers(s);
        }
    }

    /// The channel's state (gRPC's connectivity semantics): IDLE before the
    /// first use and in idle mode; CONNECTING while the name resolves;
    /// then READY if any address is, else CONNECTING if any connects, else
    /// IDLE if any waits to, else TRANSIENT_FAILURE.
    fn channel_state(&self, s: &LbState) -> ConnectivityState {
        use ConnectivityState::*;
        if !s.active {
            return Idle;
        }
        if !s.resolved {
            return if s.resolver_error.is_some() { TransientFailure } else { Connecting };
        }
        let states: Vec<ConnectivityState> = s.subchannels.iter().map(|c| c.peek()).collect();
        [Ready, Connecting, Idle].into_iter().find(|want| states.contains(want)).unwrap_or(TransientFailure)
    }

    /// The state now; `try_to_connect` leaves IDLE as a call would.
    pub fn state(self: &Arc<Self>, try_to_connect: bool) -> ConnectivityState {
        let mut s = self.lock();
        if try_to_connect && !s.active {
            self.activate(&mut s);
            if s.resolved {
                let _ = self.pick(&mut s);
            }
        }
        self.channel_state(&s)
    }

    /// Ready once the resolver answered at least once (a list or an
    /// error); starts it on first use.
    pub fn poll_resolved(self: &Arc<Self>, cx: &mut std::task::Context<'_>) -> Poll<()> {
        let mut s = self.lock();
        if s.resolved || s.resolver_error.is_some() {
            return Poll::Ready(());
        }
        self.activate(&mut s);
        if !s.waiters.iter().any(|w| w.will_wake(cx.waker())) {
            s.waiters.push(cx.waker().clone());
        }
        Poll::Pending
    }

    /// Ready with the state once it differs from `from`.
    pub fn poll_state_change(
        &self,
        cx: &mut std::task::Context<'_>,
        from: ConnectivityState,
    ) -> Poll<ConnectivityState> {
        let mut s = self.lock();
        let now = self.channel_state(&s);
        if now != from {
            return Poll::Ready(now);
        }
        if !s.watchers.iter().any(|w| w.will_wake(cx.waker())) {
            s.watchers.push(cx.waker().clone());
        }
        Poll::Pending
    }

    fn wake_watchers(&self, s: &mut LbState) {
        std::mem::take(&mut s.watchers).into_iter().for_each(Waker::wake);
    }

    /// An address whose connection is wanted and not up: dial it now if it
    /// is idle, or when its backoff ends.
    fn keep_up(self: &Arc<Self>, s: &LbState, sub: &Arc<AddressConn>) {
        if !s.active || !s.subchannels.iter().any(|c| Arc::ptr_eq(c, sub)) {
            return;
        }
        sub.observe(self.rt.now());
        if let Some(failures) = sub.begin_connect() {
            let this = self.clone();
            let sub = sub.clone();
            self.rt.spawn(async move { this.connect(sub, failures).await });
        }
    }

    /// A connection of `sub` ended (the server went away, or idle mode or
    /// a new address list closed it).
    fn connection_ended(self: &Arc<Self>, sub: &Arc<AddressConn>) {
        let s = self.lock();
        if sub.observe(self.rt.now()).lost {
            self.requests().request();
        }
        self.keep_up(&s, sub);
        drop(s);
        self.wake_all();
    }

    /// Runs while the channel is active: once `idle_timeout` passed since
    /// the last call with no call running, the channel goes idle.
    fn start_idle_timer(self: &Arc<Self>, s: &mut LbState) {
        let Some(timeout) = self.cfg.idle_timeout else { return };
        if s.idle_timer {
            return;
        }
        s.idle_timer = true;
        let pool = Arc::downgrade(self);
        let rt = self.rt.clone();
        self.rt.spawn(async move {
            let mut due = rt.now() + timeout;
            loop {
                rt.sleep_until(due).await;
                let Some(pool) = pool.upgrade() else { return };
                let mut s = pool.lock();
                let now = rt.now();
                if !s.waiters.is_empty() || s.subchannels.iter().any(|c| c.calls() > 0) {
                    due = now + timeout;
                    continue;
                }
                if let Some(quiet_until) = s.last_call.map(|t| t + timeout).filter(|&t| t > now) {
                    due = quiet_until;
                    continue;
                }
                s.idle_timer = false;
                s.active = false;
                // The resolver stops too (gRPC-Go closes it); the next call
                // starts it again and uses the last list meanwhile.
                s.started = false;
                pool.requests().close();
                for c in &s.subchannels {
                    c.go_idle();
                }
                pool.wake_watchers(&mut s);
                return;
            }
        });
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
                self.requests().request();
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
            self.requests().request();
        }
        let pick = {
            let views: Vec<Subchannel<'_>> = s
                .subchannels
                .iter()
                .zip(&states)
                .map(|(c, &state)| Subchannel { address: &c.address, state, outstanding: c.outstanding() })
                .collect();
            self.cfg.live.current().balancer.pick(&views)
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
                let pool = Arc::downgrade(&self);
                // Weak: an address dropped from the list must drop (which
                // shuts its connection down) while the connection runs.
                let ended = Arc::downgrade(&sub);
                self.rt.spawn(async move {
                    driver.await;
                    if let (Some(pool), Some(sub)) = (pool.upgrade(), ended.upgrade()) {
                        pool.connection_ended(&sub);
                    }
                });
                if let Some(check) = self.cfg.live.current().health_check.clone() {
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
                let until = started + backoff;
                sub.failed(until);
                self.requests().request();
                self.redial_at(sub, until);
            }
        }
        self.wake_all();
    }

    /// Dials a failed address again when its backoff ends, if the channel
    /// still wants it then.
    fn redial_at(self: &Arc<Self>, sub: Arc<AddressConn>, at: Instant) {
        let pool = Arc::downgrade(self);
        let sub = Arc::downgrade(&sub);
        let rt = self.rt.clone();
        self.rt.spawn(async move {
            rt.sleep_until(at).await;
            if let (Some(pool), Some(sub)) = (pool.upgrade(), sub.upgrade()) {
                let mut s = pool.lock();
                pool.keep_up(&s, &sub);
                pool.wake_watchers(&mut s);
            }
        });
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
        let mut s = self.lock();
        let waiters = std::mem::take(&mut s.waiters);
        let watchers = std::mem::take(&mut s.watchers);
        drop(s);
        waiters.into_iter().chain(watchers).for_each(Waker::wake);
    }
}

impl<R: Net> AddressSink for Pool<R> {
    fn apply_config(&self, config: &super::ServiceConfig) {
        self.cfg.live.apply(config);
        {
            // A new balancer may want other connections.
            let mut s = self.lock();
            if s.active
                && s.resolved
                && let Some(me) = self.me.upgrade()
            {
                let _ = me.pick(&mut s);
            }
        }
        self.wake_all();
    }

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
                    // Asked to connect before the name resolved.
                    if s.active
                        && s.waiters.is_empty()
                        && let Some(me) = self.me.upgrade()
                    {
                        let _ = me.pick(&mut s);
                    }
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
