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

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, RwLock, Weak};
use std::task::{Poll, Waker};
use std::time::{Duration, Instant};

use weir_core::grpc::{self, Code, Status};

use super::address::Address;
use super::backoff::Backoff;
use super::balancer::{Always, ConnectivityState, Load, Pick, PickInfo, Picker, Subchannel};
use super::connector::Connector;
use super::driver::{ClientDriver, ConnHandle};
use super::live_config::LiveConfig;
use super::outlier::Tracked;
use super::resolver::{AddressSink, ResolveRequests, Resolver, ResolverUpdates};
use super::subchannel::AddressConn;
use super::web_driver::WebClientDriver;
use crate::runtime::Net;
use crate::util::{Either, select};

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
    /// Each address's weight from the resolver.
    weights: Vec<u32>,
    /// The resolver's error, while there is no list.
    resolver_error: Option<Status>,
    /// The latest connection failure.
    last_error: Option<Status>,
    /// Calls waiting for the next picker.
    waiters: Vec<Waker>,
    /// When a timer wakes the waiters next (the earliest end of an
    /// address's backoff, while wait-for-ready calls wait).
    wake_at: Option<Instant>,
    /// In use (a call or `state(true)` since the start or the last idle
    /// period): connections the balancer opened are kept up.
    active: bool,
    /// The idle timer task runs.
    idle_timer: bool,
    /// The outlier detection task runs.
    outlier_timer: bool,
    /// `wait_for_state_change` callers.
    watchers: Vec<Waker>,
    /// Pickers built so far (the current one's number).
    generation: u64,
}

/// The picker calls use, with what its picks refer to: built under the
/// state lock whenever the list or a state changes, read by calls without
/// that lock.
struct Snapshot {
    generation: u64,
    picker: Box<dyn Picker>,
    /// The subchannels the picker's indices refer to.
    subchannels: Vec<Arc<AddressConn>>,
    /// Their connections that were READY when it was built.
    conns: Vec<Option<Arc<ConnHandle>>>,
    /// What a failing pick reports.
    failure: Status,
    /// A failing pick asks the resolver to try again (its error stands).
    re_resolve: bool,
}

/// What a pick came to when it gave no usable connection.
enum Verdict {
    /// Picked a connection that closed since the picker was built.
    Stale,
    Wait(Option<Arc<AddressConn>>),
    Fail(Status, bool),
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
    /// The current picker (a read lock held only while one call picks).
    snapshot: RwLock<Snapshot>,
    /// `LbState::active` and `LbState::resolved`, for calls to check
    /// without the state lock.
    active: AtomicBool,
    resolved: AtomicBool,
    /// The last call's start, in nanoseconds since `epoch`.
    last_call: AtomicU64,
    epoch: Instant,
    /// Times a call needed the state lock to pick (a diagnostic: with a
    /// ready picker, calls pick without it).
    locked_picks: AtomicU64,
}

impl<R: Net> Drop for Pool<R> {
    fn drop(&mut self) {
        self.requests().close();
    }
}

impl<R: Net> Pool<R> {
    pub fn new(rt: R, connector: Connector<R>, cfg: PoolConfig) -> Arc<Self> {
        let epoch = rt.now();
        Arc::new_cyclic(|me| Pool {
            me: me.clone(),
            rt,
            connector,
            cfg,
            requests: Mutex::default(),
            state: Mutex::default(),
            snapshot: RwLock::new(Snapshot {
                generation: 0,
                picker: Box::new(Always(Pick::Wait(None))),
                subchannels: Vec::new(),
                conns: Vec::new(),
                failure: Status::new(Code::Unavailable, "no address is ready"),
                re_resolve: false,
            }),
            active: AtomicBool::new(false),
            resolved: AtomicBool::new(false),
            last_call: AtomicU64::new(0),
            epoch,
            locked_picks: AtomicU64::new(0),
        })
    }

    pub fn runtime(&self) -> &R {
        &self.rt
    }

    /// How many picks needed the channel's state lock.
    pub fn locked_picks(&self) -> u64 {
        self.locked_picks.load(Ordering::Relaxed)
    }

    fn requests(&self) -> ResolveRequests {
        self.requests.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    fn lock(&self) -> MutexGuard<'_, LbState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A ready connection chosen by the current picker; waits for the next
    /// picker while the addresses it wants are connecting.
    /// `wait_for_ready`: also waits while none can be had (every address
    /// failing, no address, the name not resolved), where a call otherwise
    /// fails at once (gRPC's wait-for-ready).
    pub async fn connection(
        self: &Arc<Self>,
        call: PickInfo<'_>,
        wait_for_ready: bool,
    ) -> Result<Arc<ConnHandle>, Status> {
        // The time first: an idle timer that sees the channel active also
        // sees this call.
        let since_epoch = self.rt.now().saturating_duration_since(self.epoch).as_nanos() as u64;
        self.last_call.store(since_epoch, Ordering::SeqCst);
        if !self.active.load(Ordering::SeqCst) {
            let mut s = self.lock();
            self.activate(&mut s);
        }
        std::future::poll_fn(|cx| self.poll_pick(cx, &call, wait_for_ready)).await
    }

    /// Picks with the current picker; takes the state lock only when the
    /// call must wait, fail, or start a connection.
    fn poll_pick(
        self: &Arc<Self>,
        cx: &mut std::task::Context<'_>,
        call: &PickInfo<'_>,
        wait_for_ready: bool,
    ) -> Poll<Result<Arc<ConnHandle>, Status>> {
        // A few rounds: each ends with a new picker (a closed connection
        // seen, a connection started) or a decision.
        for _ in 0..4 {
            let (generation, verdict) = match self.pick_now(call) {
                Ok(conn) => return Poll::Ready(Ok(conn)),
                Err(slow) => slow,
            };
            self.locked_picks.fetch_add(1, Ordering::Relaxed);
            let mut s = self.lock();
            if s.generation != generation {
                continue;
            }
            if !s.active {
                // Idle mode began after this call looked: wake the channel.
                self.activate(&mut s);
                continue;
            }
            match verdict {
                Verdict::Stale => self.rebuild(&mut s),
                Verdict::Wait(Some(sub)) if sub.peek() == ConnectivityState::Idle => {
                    if let Some(failures) = sub.begin_connect() {
                        self.spawn_connect(sub, failures);
                    }
                    self.rebuild(&mut s);
                }
                Verdict::Wait(_) => return self.wait(&mut s, cx),
                Verdict::Fail(status, re_resolve) => {
                    if re_resolve {
                        self.requests().request();
                    }
                    if !wait_for_ready {
                        return Poll::Ready(Err(status));
                    }
                    self.wake_when_an_address_may_connect(&mut s);
                    return self.wait(&mut s, cx);
                }
            }
        }
        // Still no decision after several new pickers (states changing
        // fast): try again on the next poll rather than park with no rebuild
        // to come.
        cx.waker().wake_by_ref();
        Poll::Pending
    }

    /// The current picker's connection for `call`, or what it decided
    /// instead and the picker's number.
    fn pick_now(&self, call: &PickInfo<'_>) -> Result<Arc<ConnHandle>, (u64, Verdict)> {
        let snap = self.snapshot.read().unwrap_or_else(|e| e.into_inner());
        let verdict = match snap.picker.pick(call) {
            Pick::Ready(i) => match snap.conns.get(i).and_then(Option::as_ref) {
                Some(conn) if conn.usable() => return Ok(conn.clone()),
                _ => Verdict::Stale,
            },
            Pick::Wait(connect) => Verdict::Wait(connect.and_then(|i| snap.subchannels.get(i).cloned())),
            Pick::Fail => Verdict::Fail(snap.failure.clone(), snap.re_resolve),
        };
        Err((snap.generation, verdict))
    }

    fn wait(
        &self,
        s: &mut LbState,
        cx: &mut std::task::Context<'_>,
    ) -> Poll<Result<Arc<ConnHandle>, Status>> {
        if !s.waiters.iter().any(|w| w.will_wake(cx.waker())) {
            s.waiters.push(cx.waker().clone());
        }
        Poll::Pending
    }

    /// Builds a new picker from the states now (asking the balancer to
    /// connect what it wants while the channel is active), installs it and
    /// wakes the calls waiting for it and the state watchers.
    fn rebuild(self: &Arc<Self>, s: &mut LbState) {
        s.generation += 1;
        let snapshot = self.build(s);
        *self.snapshot.write().unwrap_or_else(|e| e.into_inner()) = snapshot;
        std::mem::take(&mut s.waiters).into_iter().for_each(Waker::wake);
        self.wake_watchers(s);
    }

    fn build(self: &Arc<Self>, s: &mut LbState) -> Snapshot {
        let generation = s.generation;
        let snapshot = |picker: Pick, failure: Status, re_resolve: bool| Snapshot {
            generation,
            picker: Box::new(Always(picker)),
            subchannels: Vec::new(),
            conns: Vec::new(),
            failure,
            re_resolve,
        };
        if !s.resolved {
            return match &s.resolver_error {
                Some(e) => snapshot(Pick::Fail, e.clone(), true),
                None => {
                    snapshot(Pick::Wait(None), Status::new(Code::Unavailable, "name not resolved"), false)
                }
            };
        }
        if s.subchannels.is_empty() {
            return snapshot(
                Pick::Fail,
                Status::new(Code::Unavailable, "name resolution gave no address"),
                true,
            );
        }
        let balancer = self.cfg.live.current().balancer.clone();
        let now = self.rt.now();
        // Twice at most: connections the balancer asks for change the
        // states it decided on (IDLE to CONNECTING).
        for round in 0..2 {
            let mut lost = false;
            let states: Vec<ConnectivityState> = s
                .subchannels
                .iter()
                .map(|c| {
                    let o = c.observe(now);
                    lost |= o.lost;
                    if c.ejected() { ConnectivityState::TransientFailure } else { o.state }
                })
                .collect();
            if lost {
                self.requests().request();
            }
            let conns: Vec<Option<Arc<ConnHandle>>> = s.subchannels.iter().map(|c| c.ready()).collect();
            let update = {
                let views: Vec<Subchannel<'_>> = (0..s.subchannels.len())
                    .map(|i| Subchannel {
                        address: &s.subchannels[i].address,
                        state: states[i],
                        weight: s.weights.get(i).copied().unwrap_or(1),
                        load: conns[i].clone().map(Load::of).unwrap_or_default(),
                    })
                    .collect();
                balancer.update(&views)
            };
            let mut started = false;
            if s.active {
                for i in update.connect {
                    if let Some(sub) = s.subchannels.get(i)
                        && let Some(failures) = sub.begin_connect()
                    {
                        self.spawn_connect(sub.clone(), failures);
                        started = true;
                    }
                }
            }
            if !started || round == 1 {
                return Snapshot {
                    generation,
                    picker: update.picker,
                    subchannels: s.subchannels.clone(),
                    conns,
                    failure: s
                        .last_error
                        .clone()
                        .unwrap_or_else(|| Status::new(Code::Unavailable, "no address is ready")),
                    re_resolve: false,
                };
            }
        }
        unreachable!("the second round returns")
    }

    /// Rebuilds the picker now (a state changed).
    fn refresh(self: &Arc<Self>) {
        let mut s = self.lock();
        self.rebuild(&mut s);
    }

    /// Starts one connection attempt of `sub` (already moved to
    /// connecting).
    fn spawn_connect(self: &Arc<Self>, sub: Arc<AddressConn>, failures: u32) {
        let this = self.clone();
        self.rt.spawn(async move { this.connect(sub, failures).await });
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
            self.active.store(true, Ordering::Release);
            self.start_idle_timer(s);
            self.start_outlier_detection(s);
            // The balancer may connect now.
            self.rebuild(s);
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
        }
        self.channel_state(&s)
    }

    /// Ready once the resolver answered at least once (a list or an
    /// error); starts it on first use.
    pub fn poll_resolved(self: &Arc<Self>, cx: &mut std::task::Context<'_>) -> Poll<()> {
        if self.resolved.load(Ordering::Acquire) {
            return Poll::Ready(());
        }
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
            self.spawn_connect(sub.clone(), failures);
        }
    }

    /// A connection of `sub` ended (the server went away, or idle mode or
    /// a new address list closed it).
    fn connection_ended(self: &Arc<Self>, sub: &Arc<AddressConn>) {
        let mut s = self.lock();
        if sub.observe(self.rt.now()).lost {
            self.requests().request();
        }
        self.keep_up(&s, sub);
        self.rebuild(&mut s);
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
                // Inactive before reading the last call's time: a call
                // either stored its time before (seen here) or sees the
                // flag after (and wakes the channel itself).
                pool.active.store(false, Ordering::SeqCst);
                let last_call = pool.epoch + Duration::from_nanos(pool.last_call.load(Ordering::SeqCst));
                if last_call + timeout > now {
                    pool.active.store(true, Ordering::SeqCst);
                    due = last_call + timeout;
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
                pool.rebuild(&mut s);
                return;
            }
        });
    }

    /// Runs outlier detection's sweeps (gRFC A50) while the channel is
    /// active and its config asks for them.
    fn start_outlier_detection(self: &Arc<Self>, s: &mut LbState) {
        if s.outlier_timer || !s.active {
            return;
        }
        let Some(first) = self.cfg.live.current().outlier_detection.clone() else { return };
        s.outlier_timer = true;
        let pool = Arc::downgrade(self);
        let rt = self.rt.clone();
        self.rt.spawn(async move {
            // The config is read under the lock only, so the task ends in
            // one place: resetting its flag and the ejections.
            let mut interval = first.interval;
            loop {
                rt.sleep_until(rt.now() + interval).await;
                let Some(pool) = pool.upgrade() else { return };
                let mut s = pool.lock();
                let config = pool.cfg.live.current().outlier_detection.clone();
                let Some(od) = config.filter(|_| s.active) else {
                    s.outlier_timer = false;
                    for c in &s.subchannels {
                        c.with_ejection(|e| *e = Default::default());
                    }
                    pool.rebuild(&mut s);
                    return;
                };
                let counts: Vec<(u64, u64)> = s.subchannels.iter().map(|c| c.outcomes.take()).collect();
                let mut ejections: Vec<_> = s.subchannels.iter().map(|c| c.with_ejection(|e| *e)).collect();
                let mut tracked: Vec<Tracked<'_>> = counts
                    .iter()
                    .zip(ejections.iter_mut())
                    .map(|(&(successes, failures), ejection)| Tracked { successes, failures, ejection })
                    .collect();
                let changed =
                    od.sweep(rt.now(), &mut tracked, || (super::backoff::random_unit() * 100.0) as u32);
                for (c, e) in s.subchannels.iter().zip(&ejections) {
                    c.with_ejection(|mine| *mine = *e);
                }
                if changed {
                    pool.rebuild(&mut s);
                }
                interval = od.interval;
            }
        });
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
                let handle = ConnHandle::new(sub.outcomes.clone());
                let channel = self.cfg.channel.clone();
                let peer = match &sub.address {
                    Address::Tcp(a) => Some(*a),
                    #[cfg(unix)]
                    Address::Unix(_) => None,
                };
                let (rt, config) = (self.rt.clone(), self.cfg.config.clone());
                let driver: crate::runtime::BoxFuture<'static, ()> = if self.connector.grpc_web {
                    // HTTP/1.1 connections come and go under one driver.
                    let (pool, address) = (Arc::downgrade(&self), sub.address.clone());
                    let redial: super::web_driver::Redial = Arc::new(move || match pool.upgrade() {
                        // Bounded like the pool's own attempts.
                        Some(pool) => {
                            let limit = pool.rt.sleep_until(pool.rt.now() + pool.cfg.connect_timeout);
                            let connect = pool.connector.connect(&address);
                            Box::pin(async move {
                                match select(connect, limit).await {
                                    Either::Left(result) => result,
                                    Either::Right(()) => Err(std::io::ErrorKind::TimedOut.into()),
                                }
                            })
                        }
                        None => Box::pin(async { Err(std::io::ErrorKind::NotConnected.into()) }),
                    });
                    Box::pin(WebClientDriver::new(rt, io, redial, config, handle.clone(), channel, peer))
                } else {
                    Box::pin(ClientDriver::new(rt, io, config, handle.clone(), channel, peer))
                };
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
                    handle.health.store(super::health_check::health::UNKNOWN, Ordering::Release);
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
        self.refresh();
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
                pool.rebuild(&mut s);
            }
        });
    }

    /// Follows one connection's health; a new picker whenever it changes.
    async fn watch_health(self: Arc<Self>, conn: Arc<ConnHandle>, check: super::health_check::HealthCheck) {
        let pool = Arc::downgrade(&self);
        let rt = self.rt.clone();
        drop(self);
        let changed = move || {
            if let Some(pool) = pool.upgrade() {
                pool.refresh();
            }
        };
        let sleep = move |d: Duration| -> crate::runtime::BoxFuture<'static, ()> {
            Box::pin(rt.sleep_until(rt.now() + d))
        };
        super::health_check::watch(conn, check, changed, sleep).await;
    }

    /// Arms a timer for the earliest end of an address's backoff: the
    /// picker is rebuilt then, which lets the balancer connect again.
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
                pool.rebuild(&mut s);
            }
        });
    }
}

impl<R: Net> AddressSink for Pool<R> {
    fn apply_config(&self, config: &super::ServiceConfig) {
        self.cfg.live.apply(config);
        if let Some(me) = self.me.upgrade() {
            // A new balancer may want other connections.
            let mut s = self.lock();
            me.start_outlier_detection(&mut s);
            me.rebuild(&mut s);
        }
    }

    fn apply(&self, result: Result<Vec<(Address, u32)>, Status>) {
        let Some(me) = self.me.upgrade() else { return };
        let mut s = self.lock();
        match result {
            Ok(addresses) => {
                let mut next: Vec<Arc<AddressConn>> = Vec::with_capacity(addresses.len());
                let mut weights = Vec::with_capacity(addresses.len());
                for (a, weight) in addresses {
                    if next.iter().any(|c| c.address == a) {
                        continue;
                    }
                    let kept = s.subchannels.iter().find(|c| c.address == a).cloned();
                    next.push(kept.unwrap_or_else(|| AddressConn::new(a)));
                    weights.push(weight);
                }
                s.subchannels = next;
                s.weights = weights;
                s.resolved = true;
                self.resolved.store(true, Ordering::Release);
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
        me.rebuild(&mut s);
    }
}
