//! The loop: one thread, one `mio::Poll`, a listener, every connection, and
//! one timer wheel for all of them ([`Reactor`], which the client in
//! [`crate::client`] uses too). Each turn waits for readiness or the wheel's
//! next deadline, hands readiness to the connections it names, fires the
//! timers that came, and re-arms each touched connection's one timer.

use std::collections::HashMap;
use std::io::{self, ErrorKind};
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use mio::net::TcpListener;
use mio::{Events, Interest, Poll, Token, Waker};
use weir_core::grpc::{Server, ServerConfig};

use crate::connection::{App, Connection};
use crate::test_service::{QueueBudget, TestService};
use crate::timer_wheel::TimerWheel;

const LISTENER: Token = Token(0);
const WAKER: Token = Token(1);
/// The wheel: 1 ms ticks, 1024 slots (a turn is about a second).
const TICK: Duration = Duration::from_millis(1);
const SLOTS: usize = 1024;
/// A stop asked for by a signal flag is seen within this.
const STOP_CHECK: Duration = Duration::from_millis(100);
/// A failed accept is tried again after this.
const ACCEPT_RETRY: Duration = Duration::from_millis(10);

/// What the loop serves with.
#[derive(Clone)]
pub struct Options {
    /// TLS (ALPN `h2`), or cleartext HTTP/2 with prior knowledge.
    pub tls: Option<Arc<rustls::ServerConfig>>,
    /// The core's limits and settings, for every connection.
    pub core: ServerConfig,
    /// Connections beyond this are accepted and closed at once.
    pub max_connections: usize,
    /// Responses asked for and not yet sent, across every call of every
    /// connection ([`QueueBudget`]); each call also holds at most
    /// [`crate::test_service::MAX_QUEUED_PER_CALL`].
    pub max_queued_responses: usize,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            tls: None,
            core: ServerConfig::default(),
            max_connections: 10_000,
            max_queued_responses: 65_536,
        }
    }
}

/// Stops a running loop from another thread: every connection gets GOAWAY,
/// calls in flight finish, and `run` returns once all are closed.
#[derive(Clone)]
pub struct StopHandle {
    flag: Arc<AtomicBool>,
    waker: Arc<Waker>,
    turns: Arc<std::sync::atomic::AtomicU64>,
}

impl StopHandle {
    fn asked(&self) -> bool {
        self.flag.load(Ordering::Acquire)
    }

    /// How many times the loop has woken so far (a loop that is idle, or
    /// only waiting on peers, should hardly move it).
    pub fn turns(&self) -> u64 {
        self.turns.load(Ordering::Relaxed)
    }
}

impl StopHandle {
    /// Asks the loop to stop.
    pub fn stop(&self) {
        self.flag.store(true, Ordering::Release);
        let _ = self.waker.wake();
    }
}

/// A bound server, ready to `run`.
pub struct EventLoop {
    poll: Poll,
    listener: TcpListener,
    options: Options,
    stop: StopHandle,
    /// Another flag that stops the loop (a signal handler's).
    stop_flag: Option<Arc<AtomicBool>>,
}

impl EventLoop {
    /// Binds `addr`.
    pub fn bind(addr: SocketAddr, options: Options) -> io::Result<Self> {
        let poll = Poll::new()?;
        let mut listener = TcpListener::bind(addr)?;
        poll.registry().register(&mut listener, LISTENER, Interest::READABLE)?;
        let waker = Arc::new(Waker::new(poll.registry(), WAKER)?);
        let stop = StopHandle { flag: Arc::new(AtomicBool::new(false)), waker, turns: Arc::default() };
        Ok(EventLoop { poll, listener, options, stop, stop_flag: None })
    }

    /// The address bound.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// A handle that stops `run`.
    pub fn stop_handle(&self) -> StopHandle {
        self.stop.clone()
    }

    /// Also stops when `flag` becomes true (a signal handler's flag): seen
    /// within 100 ms, as the loop looks at it at least that often.
    pub fn stop_on(&mut self, flag: Arc<AtomicBool>) {
        self.stop_flag = Some(flag);
    }

    /// Serves until stopped, then until every connection has closed.
    pub fn run(self) -> io::Result<()> {
        let EventLoop { mut poll, listener, options, stop, stop_flag } = self;
        let mut listener = Some(listener);
        let mut reactor = Reactor::new(Instant::now());
        let budget = QueueBudget::new(options.max_queued_responses);
        let mut events = Events::with_capacity(1024);
        let mut stopping = false;
        // An accept failed (out of descriptors, say): the listener, edge
        // triggered, may not be reported again, so it is retried soon.
        let mut accept_again = false;
        loop {
            let at_most = if accept_again { ACCEPT_RETRY } else { STOP_CHECK };
            reactor.wait(&mut poll, &mut events, at_most)?;
            stop.turns.fetch_add(1, Ordering::Relaxed);
            let now = Instant::now();
            if accept_again {
                accept_again = accept(&mut reactor, &poll, listener.as_ref(), &options, &budget, now);
            }
            for event in events.iter() {
                match event.token() {
                    LISTENER => {
                        accept_again = accept(&mut reactor, &poll, listener.as_ref(), &options, &budget, now)
                    }
                    WAKER => {}
                    _ => reactor.dispatch(event, now),
                }
            }
            reactor.fire_timers(now);
            if !stopping && (stop.asked() || stop_flag.as_ref().is_some_and(|f| f.load(Ordering::Acquire))) {
                stopping = true;
                if let Some(mut l) = listener.take() {
                    let _ = poll.registry().deregister(&mut l);
                }
                reactor.shutdown_all(now);
            }
            reactor.settle(&poll, now, drop);
            if stopping && reactor.is_empty() {
                return Ok(());
            }
        }
    }
}

/// Accepts every pending connection (each starts a core and the service);
/// true when an error stopped it before the queue was empty.
fn accept(
    reactor: &mut Reactor<TestService>,
    poll: &Poll,
    listener: Option<&TcpListener>,
    options: &Options,
    budget: &QueueBudget,
    now: Instant,
) -> bool {
    let Some(listener) = listener else { return false };
    loop {
        let socket = match listener.accept() {
            Ok((s, _)) => s,
            Err(e) if e.kind() == ErrorKind::WouldBlock => return false,
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            // Out of descriptors, say.
            Err(_) => return true,
        };
        if reactor.len() >= options.max_connections {
            continue; // dropped: closed at once
        }
        let tls = match &options.tls {
            Some(config) => match rustls::ServerConnection::new(config.clone()) {
                Ok(c) => Some(c.into()),
                Err(_) => continue,
            },
            None => None,
        };
        let core = Server::new(options.core.clone(), now);
        if let Ok(c) = Connection::new(socket, tls, core, TestService::new(budget.clone())) {
            let _ = reactor.add(poll, c, now);
        }
    }
}

/// Connections of one kind on one `Poll`, with one timer wheel for all.
pub struct Reactor<A: App> {
    conns: HashMap<Token, Connection<A>>,
    next_token: usize,
    wheel: TimerWheel<Token>,
    /// One read buffer for every connection.
    buf: Vec<u8>,
    /// Connections that moved since the last `settle`.
    touched: Vec<Token>,
    fired: Vec<Token>,
    /// Connections that stopped reading at their budget, with input
    /// perhaps left: read again next turn (edge-triggered readiness will
    /// not say so).
    again: Vec<Token>,
}

impl<A: App> Reactor<A> {
    /// An empty reactor; its tokens start after `LISTENER` and `WAKER`.
    pub fn new(now: Instant) -> Self {
        Reactor {
            conns: HashMap::new(),
            next_token: 2,
            wheel: TimerWheel::new(now, TICK, SLOTS),
            buf: vec![0; 64 << 10],
            touched: Vec::new(),
            fired: Vec::new(),
            again: Vec::new(),
        }
    }

    /// Connections open.
    pub fn len(&self) -> usize {
        self.conns.len()
    }

    /// No connection is open.
    pub fn is_empty(&self) -> bool {
        self.conns.is_empty()
    }

    /// The connections' applications.
    pub fn apps(&self) -> impl Iterator<Item = &A> {
        self.conns.values().map(|c| c.app())
    }

    /// Registers a connection and lets it write its first octets.
    pub fn add(&mut self, poll: &Poll, mut c: Connection<A>, now: Instant) -> io::Result<Token> {
        let token = Token(self.next_token);
        self.next_token += 1;
        poll.registry().register(c.socket(), token, Interest::READABLE | Interest::WRITABLE)?;
        c.wants_writable = true;
        c.on_writable(now);
        self.conns.insert(token, c);
        self.touched.push(token);
        Ok(token)
    }

    /// Waits for readiness, or the wheel's next deadline, or `at_most`
    /// (not at all while a connection has input left from its last turn),
    /// then reads again what was left.
    pub fn wait(&mut self, poll: &mut Poll, events: &mut Events, at_most: Duration) -> io::Result<()> {
        let now = Instant::now();
        let timeout = self.wheel.next_deadline().map_or(at_most, |d| d.saturating_duration_since(now));
        let timeout = if self.again.is_empty() { timeout.min(at_most) } else { Duration::ZERO };
        let result = match poll.poll(events, Some(timeout)) {
            Err(e) if e.kind() != ErrorKind::Interrupted => Err(e),
            _ => Ok(()),
        };
        let now = Instant::now();
        for token in std::mem::take(&mut self.again) {
            if let Some(c) = self.conns.get_mut(&token) {
                if c.on_readable(now, &mut self.buf) {
                    self.again.push(token);
                }
                self.touched.push(token);
            }
        }
        result
    }

    /// Hands one readiness event to its connection.
    pub fn dispatch(&mut self, event: &mio::event::Event, now: Instant) {
        let token = event.token();
        let Some(c) = self.conns.get_mut(&token) else { return };
        if (event.is_readable() || event.is_read_closed() || event.is_error())
            && c.on_readable(now, &mut self.buf)
            && !self.again.contains(&token)
        {
            self.again.push(token);
        }
        if event.is_writable() {
            c.on_writable(now);
        }
        self.touched.push(token);
    }

    /// Runs the timers that came.
    pub fn fire_timers(&mut self, now: Instant) {
        self.wheel.expire(now, &mut self.fired);
        for token in self.fired.drain(..) {
            if let Some(c) = self.conns.get_mut(&token) {
                c.timer = None;
                c.on_timer(now);
                self.touched.push(token);
            }
        }
    }

    /// Starts every connection's graceful end.
    pub fn shutdown_all(&mut self, now: Instant) {
        for (&token, c) in self.conns.iter_mut() {
            c.shutdown(now);
            self.touched.push(token);
        }
    }

    /// After connections moved: drops those done (handing their
    /// applications to `on_done`); registers the others for writability
    /// exactly while output waits, and re-arms their timers.
    pub fn settle(&mut self, poll: &Poll, now: Instant, mut on_done: impl FnMut(A)) {
        while let Some(token) = self.touched.pop() {
            let Some(c) = self.conns.get_mut(&token) else { continue };
            if c.is_done() {
                let mut c = self.conns.remove(&token).expect("present");
                if let Some((_, key)) = c.timer.take() {
                    self.wheel.cancel(key, &token);
                }
                let _ = poll.registry().deregister(c.socket());
                on_done(c.into_app());
                continue;
            }
            let writable = c.pending() > 0;
            if writable != c.wants_writable {
                c.wants_writable = writable;
                let interest =
                    if writable { Interest::READABLE | Interest::WRITABLE } else { Interest::READABLE };
                let _ = poll.registry().reregister(c.socket(), token, interest);
            }
            let next = c.deadline();
            if next != c.timer.map(|(at, _)| at) {
                if let Some((_, key)) = c.timer.take() {
                    self.wheel.cancel(key, &token);
                }
                if let Some(at) = next {
                    c.timer = Some((at, self.wheel.insert(at.max(now), token)));
                }
            }
        }
    }
}
