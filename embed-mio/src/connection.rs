//! One connection, either role: a non-blocking socket, TLS through rustls's
//! own Sans-IO `Connection` (or none), a Weir Sans-IO endpoint (`Server` or
//! `Client`), and the application logic ([`App`]) that answers its events.
//! Two state machines in a row, neither of which touches the socket: this
//! file is the only code that does.
//!
//! The loop contract of `weir_core` (its crate docs), as this file keeps it:
//! bytes read go to `handle_input`; events are drained after every step;
//! `poll_transmit` is called until it gives nothing, *unless* the socket is
//! behind (that is the backpressure: the core keeps what it did not write);
//! `handle_eof` when the peer closes; `handle_timeout` when the timer the
//! core asked for comes; the connection is dropped once `is_closed`.

use std::io::{self, ErrorKind, Read, Write};
use std::time::Instant;

use mio::net::TcpStream;
use weir_core::endpoint::Endpoint;

use crate::timer_wheel::TimerKey;

/// What runs on a connection: the code that answers its core's events.
pub trait App {
    /// The Sans-IO endpoint it drives (`weir_core::grpc::Server` or `Client`).
    type Core: Endpoint;
    /// Answers one event of the core.
    fn on_event(&mut self, core: &mut Self::Core, event: <Self::Core as Endpoint>::Event, now: Instant);
    /// Does what has waited for `now` (the timer came, or the loop turned).
    fn poll(&mut self, core: &mut Self::Core, now: Instant);
    /// When `poll` must run next, besides the core's own timer.
    fn next_due(&self) -> Option<Instant>;
    /// Starts ending the connection gracefully.
    fn shutdown(&mut self, core: &mut Self::Core, now: Instant);
}

/// Octets waiting for the socket above which the core is not asked for more.
const HIGH_WATER: usize = 256 << 10;

/// Octets read from the socket in one turn, before the other connections
/// get theirs (the rest waits in the socket for the next turn).
const READ_BUDGET: usize = 256 << 10;

/// Output buffers larger than this are let go once drained on a
/// connection with no call left.
const KEEP_CAPACITY: usize = 64 << 10;

/// One connection of the loop.
pub struct Connection<A: App> {
    socket: TcpStream,
    tls: Option<rustls::Connection>,
    core: A::Core,
    app: A,
    /// Octets for the socket (ciphertext with TLS), from `written` on.
    out: Vec<u8>,
    written: usize,
    /// Plaintext from the core on its way into TLS.
    plain: Vec<u8>,
    /// The socket failed or both sides are done: drop the connection.
    dead: bool,
    /// TLS close_notify queued.
    close_notified: bool,
    /// When a closing connection whose output the peer does not take is
    /// dropped anyway (`close_flush_timeout`).
    close_by: Option<Instant>,
    /// The timer set for this connection, and when.
    pub(crate) timer: Option<(Instant, TimerKey)>,
    /// Whether the socket is registered for writability.
    pub(crate) wants_writable: bool,
}

impl<A: App> Connection<A> {
    /// A connection over `socket` (connected, or connecting), with TLS when
    /// `tls` is given.
    pub fn new(
        socket: TcpStream,
        mut tls: Option<rustls::Connection>,
        core: A::Core,
        app: A,
    ) -> io::Result<Self> {
        socket.set_nodelay(true)?;
        if let Some(tls) = tls.as_mut() {
            // Output is bounded by `HIGH_WATER` before rustls sees it.
            tls.set_buffer_limit(None);
        }
        Ok(Connection {
            socket,
            tls,
            core,
            app,
            out: Vec::new(),
            written: 0,
            plain: Vec::new(),
            dead: false,
            close_notified: false,
            close_by: None,
            timer: None,
            wants_writable: false,
        })
    }

    /// The socket, for (re)registration.
    pub fn socket(&mut self) -> &mut TcpStream {
        &mut self.socket
    }

    /// The application on this connection.
    pub fn app(&self) -> &A {
        &self.app
    }

    /// The application, once the connection is done.
    pub fn into_app(self) -> A {
        self.app
    }

    /// Done: the connection can be dropped.
    pub fn is_done(&self) -> bool {
        self.dead || (self.core.is_closed() && self.pending() == 0)
    }

    /// Output not yet taken by the socket.
    pub fn pending(&self) -> usize {
        self.out.len() - self.written
    }

    /// When this connection must be woken: the core's timer or a response
    /// the service holds back.
    pub fn deadline(&self) -> Option<Instant> {
        [self.core.poll_timeout(), self.app.next_due(), self.close_by].into_iter().flatten().min()
    }

    /// The socket is readable: read until it would block or
    /// its read budget (256 KiB) is spent, feeding the core. True when the budget
    /// stopped it: input may wait that no new readiness will announce.
    pub fn on_readable(&mut self, now: Instant, buf: &mut [u8]) -> bool {
        let result = match self.tls.is_some() {
            true => self.read_tls(now, buf),
            false => self.read_plain(now, buf),
        };
        let more = match result {
            Ok(more) => more,
            Err(_) => {
                // A reset or a broken TLS record: nothing more will come.
                self.core.handle_reset(now);
                false
            }
        };
        self.step(now);
        more && !self.is_done()
    }

    /// The socket is writable again.
    pub fn on_writable(&mut self, now: Instant) {
        self.step(now);
    }

    /// The connection's timer came.
    pub fn on_timer(&mut self, now: Instant) {
        self.core.handle_timeout(now);
        if self.close_by.is_some_and(|t| t <= now) {
            // The peer did not take the last output in time.
            self.dead = true;
            return;
        }
        self.step(now);
    }

    /// Starts the core's graceful shutdown (GOAWAY; calls in flight finish).
    pub fn shutdown(&mut self, now: Instant) {
        self.app.shutdown(&mut self.core, now);
        self.step(now);
    }

    fn read_plain(&mut self, now: Instant, buf: &mut [u8]) -> io::Result<bool> {
        let mut budget = READ_BUDGET;
        loop {
            if budget == 0 {
                return Ok(true);
            }
            match self.socket.read(buf) {
                Ok(0) => {
                    self.core.handle_eof(now);
                    return Ok(false);
                }
                Ok(n) => {
                    budget = budget.saturating_sub(n);
                    self.core.handle_input(now, &buf[..n]);
                    self.drain_events(now);
                }
                Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::NotConnected) => {
                    return Ok(false);
                }
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
    }

    fn read_tls(&mut self, now: Instant, buf: &mut [u8]) -> io::Result<bool> {
        let Some(tls) = self.tls.as_mut() else { return Ok(false) };
        let mut budget = READ_BUDGET;
        loop {
            if budget == 0 {
                return Ok(true);
            }
            let eof = match tls.read_tls(&mut self.socket) {
                Ok(0) => true,
                Ok(n) => {
                    budget = budget.saturating_sub(n);
                    false
                }
                Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::NotConnected) => {
                    return Ok(false);
                }
                Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            if let Err(e) = tls.process_new_packets() {
                // rustls queued an alert: it goes out, then the connection ends.
                let _ = tls.write_tls(&mut self.out);
                return Err(io::Error::new(ErrorKind::InvalidData, e));
            }
            loop {
                match tls.reader().read(buf) {
                    Ok(0) => {
                        // close_notify: the peer ended cleanly.
                        self.core.handle_eof(now);
                        return Ok(false);
                    }
                    Ok(n) => {
                        self.core.handle_input(now, &buf[..n]);
                        while let Some(event) = self.core.poll_event() {
                            self.app.on_event(&mut self.core, event, now);
                        }
                    }
                    Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                    Err(e) => return Err(e),
                }
            }
            if eof {
                self.core.handle_eof(now);
                return Ok(false);
            }
        }
    }

    /// Hands every event to the application, then lets it act.
    fn drain_events(&mut self, now: Instant) -> bool {
        let mut any = false;
        while let Some(event) = self.core.poll_event() {
            self.app.on_event(&mut self.core, event, now);
            any = true;
        }
        self.app.poll(&mut self.core, now);
        any
    }

    /// Events, then output, then the socket, until nothing moves or the
    /// socket is full (its writability resumes the step).
    fn step(&mut self, now: Instant) {
        if self.close_by.is_none()
            && let Some(d) = self.core.close_flush_timeout()
        {
            self.close_by = Some(now + d);
        }
        loop {
            let moved = self.drain_events(now) | self.fill(now);
            match self.write_out() {
                Ok(()) => {}
                Err(e) if e.kind() == ErrorKind::WouldBlock => return,
                Err(_) => {
                    // Refused, reset: the calls learn it from the core.
                    self.core.handle_reset(now);
                    self.drain_events(now);
                    self.dead = true;
                    return;
                }
            }
            if !moved {
                return;
            }
        }
    }

    /// Moves the core's output (through TLS) into `out`, up to `HIGH_WATER`.
    fn fill(&mut self, now: Instant) -> bool {
        let before = self.out.len();
        while self.pending() < HIGH_WATER {
            match self.tls.as_mut() {
                None => {
                    if self.core.poll_transmit(now, &mut self.out) == 0 {
                        break;
                    }
                }
                Some(tls) => {
                    self.plain.clear();
                    let n = self.core.poll_transmit(now, &mut self.plain);
                    // No rustls buffer limit (set below): `HIGH_WATER` is the bound.
                    if n > 0 && tls.writer().write_all(&self.plain).is_err() {
                        self.dead = true;
                    }
                    while tls.wants_write() {
                        if tls.write_tls(&mut self.out).is_err() {
                            break;
                        }
                    }
                    if n == 0 {
                        break;
                    }
                }
            }
        }
        if self.core.is_closed()
            && !self.close_notified
            && let Some(tls) = self.tls.as_mut()
        {
            self.close_notified = true;
            tls.send_close_notify();
            while tls.wants_write() && tls.write_tls(&mut self.out).is_ok() {}
        }
        self.out.len() > before
    }

    /// Writes `out` until the socket would block; `Ok` once it is empty.
    fn write_out(&mut self) -> io::Result<()> {
        while self.pending() > 0 {
            match self.socket.write(&self.out[self.written..]) {
                Ok(0) => return Err(ErrorKind::WriteZero.into()),
                Ok(n) => self.written += n,
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                // A connect still in progress: writable readiness comes.
                Err(e) if e.kind() == ErrorKind::NotConnected => return Err(ErrorKind::WouldBlock.into()),
                Err(e) => return Err(e),
            }
        }
        self.out.clear();
        self.written = 0;
        if self.out.capacity() > KEEP_CAPACITY && self.core.active_streams() == 0 {
            self.out = Vec::new();
            self.plain = Vec::new();
        }
        Ok(())
    }
}
