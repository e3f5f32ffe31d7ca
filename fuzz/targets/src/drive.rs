//! Shared harness of the single-connection targets (`server_connection`,
//! `client_connection`): input header, configuration profiles, simulated
//! time, and the checks made around every transmit and after every step.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use weir_core::Endpoint;
use weir_core::conn::{Config, Connection, Event, HeadersKind, Role};
use weir_core::frame::{MAX_MAX_FRAME_SIZE, MAX_WINDOW_SIZE, StreamId};
use weir_core::sim::Rng;

use crate::observer::{Observer, check_buffers};

/// Length of the input header: a mode octet and an 8-octet seed.
pub const HEADER_LEN: usize = 9;

/// The decoded input header of a connection target.
#[derive(Clone, Copy, Debug)]
pub struct Header {
    /// Drive the gRPC layer on top of the connection.
    pub grpc: bool,
    /// Which configuration profile (see [`config`]).
    pub profile: u8,
    /// Seeds chunk sizes, time steps and the application's actions.
    pub seed: u64,
}

impl Header {
    /// Splits the header off an input.
    pub fn parse(data: &[u8]) -> Option<(Header, &[u8])> {
        let (head, rest) = data.split_first_chunk::<HEADER_LEN>()?;
        let mut seed = [0u8; 8];
        seed.copy_from_slice(&head[1..]);
        let header = Header { grpc: head[0] & 1 == 1, profile: head[0] >> 1, seed: u64::from_le_bytes(seed) };
        Some((header, rest))
    }

    /// The octets of this header.
    pub fn encode(&self) -> [u8; HEADER_LEN] {
        let mut out = [0u8; HEADER_LEN];
        out[0] = u8::from(self.grpc) | (self.profile << 1);
        out[1..].copy_from_slice(&self.seed.to_le_bytes());
        out
    }
}

/// Configuration profile `profile`: defaults, tight limits, timers, large
/// windows and frames, stream-id exhaustion, BDP growth from small windows
/// (1 to 5; any other value means the defaults).
pub fn config(profile: u8, role: Role) -> Config {
    let mut c = Config::default();
    match profile {
        1 | 4 => {
            c.max_concurrent_streams = 4;
            c.initial_stream_window = 256;
            c.max_header_list_size = 1024;
            c.header_table_size = 128;
            c.max_encoder_table_size = 256;
            c.max_continuation_frames = 3;
            c.max_resets_per_window = 8;
            c.max_pending_control_frames = 8;
            c.max_empty_data_frames = 4;
            c.max_refused_streams_per_window = 4;
            c.max_send_buffer_per_stream = 1024;
            c.max_send_buffer_per_connection = 4096;
            c.max_pending_open_streams = 2;
            c.reset_stream_memory = 4;
            c.max_transmit_size = 1024;
            c.bdp_window_growth = false;
            if profile == 4 {
                let first = match role {
                    Role::Client => StreamId::MAX.0 - 4,
                    Role::Server => StreamId::MAX.0 - 5,
                };
                c.first_local_stream_id = Some(first);
            }
        }
        2 => {
            c.keepalive_interval = Some(Duration::from_secs(1));
            c.keepalive_timeout = Duration::from_millis(500);
            c.keepalive_while_idle = true;
            c.idle_timeout = Some(Duration::from_secs(3));
            c.max_connection_age = Some(Duration::from_secs(5));
            c.shutdown_grace = Duration::from_secs(1);
            c.settings_ack_timeout = Duration::from_secs(2);
        }
        3 => {
            c.max_frame_size = MAX_MAX_FRAME_SIZE;
            c.initial_stream_window = MAX_WINDOW_SIZE;
            c.initial_connection_window = MAX_WINDOW_SIZE;
            c.max_bdp_window = MAX_WINDOW_SIZE;
            c.header_table_size = 0;
        }
        5 => {
            c.initial_stream_window = 1024;
            c.initial_connection_window = 4096;
            c.max_bdp_window = 1 << 20;
            c.max_transmit_size = 8192;
        }
        _ => {}
    }
    c
}

/// Largest chunk of data the harnesses queue in one call.
pub const MAX_SEND_CHUNK: usize = 16 << 10;

/// Bound on octets received and not read: the largest connection window
/// we can have granted.
pub fn recv_bound(c: &Config) -> usize {
    let bdp = if c.bdp_window_growth { c.max_bdp_window } else { 0 };
    (65_535u32.max(c.initial_connection_window).max(bdp)) as usize
}

/// Bound on octets queued to send: the connection limit plus one chunk
/// (a chunk is accepted while the buffer is under the limit). gRPC adds a
/// 5-octet prefix and may compress (gzip of incompressible data grows it).
pub fn send_bound(c: &Config) -> usize {
    c.max_send_buffer_per_connection + MAX_SEND_CHUNK + MAX_SEND_CHUNK / 8 + 64
}

/// A value for `SETTINGS_INITIAL_WINDOW_SIZE` from a random choice.
pub fn window_choice(rng: &mut Rng) -> u32 {
    match rng.below(8) {
        0 => 0,
        1 => 1,
        2 => rng.below(1024) as u32,
        3 => 65_535,
        4 => 1 << 20,
        5 => MAX_WINDOW_SIZE,
        _ => rng.next_u64() as u32 & MAX_WINDOW_SIZE,
    }
}

/// Simulated time, moved by random steps or to the next deadline.
pub struct Clock {
    /// Now.
    pub now: Instant,
}

impl Clock {
    pub fn new() -> Self {
        Clock { now: Instant::now() }
    }

    /// Maybe moves time (by a random amount, or to `deadline`); true when
    /// timers should run.
    pub fn step(&mut self, rng: &mut Rng, deadline: Option<Instant>) -> bool {
        match rng.below(8) {
            0 => self.now += Duration::from_micros(rng.below(100_000) as u64),
            1 => self.now += Duration::from_millis(rng.below(5_000) as u64),
            2 => match deadline {
                Some(t) if t > self.now => self.now = t,
                _ => return false,
            },
            3 => {}
            _ => return false,
        }
        true
    }
}

/// Checks around one connection: its output, windows, buffers and events.
pub struct Checker {
    observer: Observer,
    recv_bound: usize,
    send_bound: usize,
    max_pending_control: usize,
    /// Streams the application knows (their windows are checked).
    pub streams: BTreeSet<StreamId>,
    /// Largest peer `SETTINGS_INITIAL_WINDOW_SIZE` in force at a transmit.
    max_peer_initial: u32,
    closed: bool,
    connected: bool,
    /// Total octets written.
    pub written: usize,
}

impl Checker {
    /// Checks for a connection in `role` with `config`.
    pub fn new(role: Role, config: &Config) -> Self {
        Checker {
            observer: Observer::new(role),
            recv_bound: recv_bound(config),
            send_bound: send_bound(config),
            max_pending_control: config.max_pending_control_frames,
            streams: BTreeSet::new(),
            max_peer_initial: 65_535,
            closed: false,
            connected: false,
            written: 0,
        }
    }

    /// Whether `Event::Closed` was seen.
    pub fn closed(&self) -> bool {
        self.closed
    }

    /// Runs the endpoint's `poll_transmit` until it has nothing more,
    /// checking the output and the send windows against it.
    pub fn transmit<E: Driven>(&mut self, ep: &mut E, now: Instant) {
        for _ in 0..64 {
            let before = self.snapshot(ep.h2());
            let mut out = Vec::new();
            let n = ep.transmit(now, &mut out);
            assert_eq!(n, out.len(), "poll_transmit count");
            if before.closed {
                assert_eq!(n, 0, "output after the connection closed");
            }
            if n == 0 {
                return;
            }
            self.written += n;
            let sent = self.observer.observe(&out, ep.h2());
            let after = self.snapshot(ep.h2());
            let total: u64 = sent.values().sum();
            assert!(total <= u64::from(before.conn_send_window), "DATA over the connection window");
            assert_eq!(
                u64::from(after.conn_send_window),
                u64::from(before.conn_send_window) - total,
                "connection send window accounting"
            );
            for (id, n) in sent {
                // A stream the application never heard of (the gRPC layer
                // answers bad requests itself) is checked from now on.
                let Some(w) = before.stream_windows.iter().find(|(s, _)| *s == id).and_then(|(_, w)| *w)
                else {
                    self.streams.insert(id);
                    continue;
                };
                assert!(n as i64 <= w, "{n} DATA octets on {id:?} with a window of {w}");
                if let Some((_, Some(a))) = after.stream_windows.iter().find(|(s, _)| *s == id) {
                    assert_eq!(*a, w - n as i64, "stream send window accounting on {id:?}");
                }
            }
            self.max_peer_initial = self.max_peer_initial.max(after.peer_initial);
        }
    }

    /// A snapshot of what the transmit checks compare.
    fn snapshot(&self, c: &Connection) -> Snapshot {
        Snapshot {
            closed: c.is_closed(),
            conn_send_window: c.connection_send_window(),
            peer_initial: c.peer_settings().initial_window_size,
            stream_windows: self.streams.iter().map(|&id| (id, c.stream_send_window(id))).collect(),
        }
    }

    /// Invariants of the connection's state.
    pub fn check(&mut self, c: &Connection) {
        let max = i64::from(MAX_WINDOW_SIZE);
        assert!((0..=max).contains(&c.connection_recv_window()), "connection receive window");
        assert!(c.connection_send_window() <= MAX_WINDOW_SIZE);
        let peer_initial = c.peer_settings().initial_window_size;
        self.max_peer_initial = self.max_peer_initial.max(peer_initial);
        let floor = i64::from(peer_initial) - i64::from(self.max_peer_initial);
        for &id in &self.streams {
            if let Some(w) = c.stream_send_window(id) {
                assert!(w <= max, "send window of {id:?} over 2^31-1: {w}");
                assert!(w >= floor, "send window of {id:?} is {w}, below {floor}");
            }
            if let Some(w) = c.stream_recv_window(id) {
                assert!(w <= max, "receive window of {id:?} over 2^31-1: {w}");
                assert!(w >= -max, "receive window of {id:?} is {w}");
            }
        }
        let stats = c.stats();
        check_buffers(&stats, self.recv_bound, self.send_bound);
        if crate::observer::debug() {
            eprintln!("check: {stats:?}");
        }
        assert!(
            stats.pending_control_frames <= self.max_pending_control + 64,
            "{} control frames queued",
            stats.pending_control_frames
        );
        if c.is_closed() {
            assert!(!c.is_open());
        }
    }

    /// Checks one event of the HTTP/2 layer.
    pub fn event(&mut self, role: Role, e: &Event) {
        assert!(!self.closed, "event after Closed: {e:?}");
        match e {
            Event::Connected => {
                assert!(!self.connected, "Connected twice");
                self.connected = true;
            }
            Event::Headers { kind, stream, .. } => {
                let ok = match role {
                    Role::Server => matches!(kind, HeadersKind::Request | HeadersKind::Trailers),
                    Role::Client => !matches!(kind, HeadersKind::Request),
                };
                assert!(ok, "{kind:?} headers received by a {role:?} on {stream:?}");
            }
            Event::Closed { .. } => self.closed = true,
            _ => {}
        }
    }

    /// Marks the gRPC layer's `Closed` event; no event may follow.
    pub fn grpc_event(&mut self, closed: bool) {
        assert!(!self.closed, "gRPC event after Closed");
        if closed {
            self.closed = true;
        }
    }
}

/// The state [`Checker::transmit`] compares before and after.
struct Snapshot {
    closed: bool,
    conn_send_window: u32,
    peer_initial: u32,
    stream_windows: Vec<(StreamId, Option<i64>)>,
}

/// An endpoint the single-connection targets drive: an HTTP/2 connection or
/// the gRPC layer around one.
pub trait Driven {
    /// The HTTP/2 connection.
    fn h2(&self) -> &Connection;
    /// `poll_transmit` of the endpoint.
    fn transmit(&mut self, now: Instant, buf: &mut Vec<u8>) -> usize;
}

impl<E: Endpoint> Driven for E {
    fn h2(&self) -> &Connection {
        Endpoint::h2(self)
    }
    fn transmit(&mut self, now: Instant, buf: &mut Vec<u8>) -> usize {
        Endpoint::poll_transmit(self, now, buf)
    }
}

/// An application on top of a [`Driven`] endpoint: reacts to its events and
/// issues random commands.
pub trait App: Driven {
    /// Feeds received octets.
    fn input(&mut self, now: Instant, data: &[u8]);
    /// Runs expired timers.
    fn timeout(&mut self, now: Instant);
    /// The next deadline.
    fn deadline(&self) -> Option<Instant>;
    /// The transport reached end of file.
    fn eof(&mut self, now: Instant);
    /// Drains and checks events, reacting to some.
    fn events(&mut self, checker: &mut Checker, rng: &mut Rng, now: Instant);
    /// Issues one random command.
    fn act(&mut self, checker: &mut Checker, rng: &mut Rng, now: Instant);
}

/// Feeds `wire` to the application in random chunks, with events, commands,
/// transmits and time steps in between, then winds down; checks invariants
/// after every step.
pub fn run_loop<A: App>(
    app: &mut A,
    checker: &mut Checker,
    rng: &mut Rng,
    clock: &mut Clock,
    mut wire: &[u8],
) {
    let max_chunk = [1usize, 16, 256, 1 << 16][rng.below(4)];
    loop {
        step(app, checker, rng, clock);
        if wire.is_empty() {
            break;
        }
        let n = (1 + rng.below(max_chunk)).min(wire.len());
        app.input(clock.now, &wire[..n]);
        wire = &wire[n..];
    }
    if rng.below(2) == 0 {
        app.eof(clock.now);
    }
    for _ in 0..8 {
        app.events(checker, rng, clock.now);
        checker.transmit(app, clock.now);
        match app.deadline() {
            Some(t) => clock.now = clock.now.max(t),
            None => break,
        }
        app.timeout(clock.now);
        checker.check(app.h2());
    }
    app.events(checker, rng, clock.now);
    checker.transmit(app, clock.now);
    app.events(checker, rng, clock.now);
    checker.check(app.h2());
    if app.h2().is_closed() {
        assert!(checker.closed(), "connection closed without a Closed event");
    }
}

/// One step between two inputs.
fn step<A: App>(app: &mut A, checker: &mut Checker, rng: &mut Rng, clock: &mut Clock) {
    app.events(checker, rng, clock.now);
    checker.check(app.h2());
    for _ in 0..rng.below(3) {
        app.act(checker, rng, clock.now);
        app.events(checker, rng, clock.now);
        checker.check(app.h2());
    }
    if rng.below(8) != 0 {
        checker.transmit(app, clock.now);
        app.events(checker, rng, clock.now);
    }
    if clock.step(rng, app.deadline()) {
        app.timeout(clock.now);
        app.events(checker, rng, clock.now);
    }
    checker.check(app.h2());
}

/// Reads everything (or a random part) of a stream's received data,
/// checking the read bookkeeping.
pub fn read_stream(conn: &mut Connection, rng: &mut Rng, id: StreamId) -> usize {
    use weir_core::conn::Read;
    let mut total = 0;
    loop {
        let max = [1usize, 100, 16 << 10, usize::MAX][rng.below(4)];
        let before = conn.recv_buffered(id);
        match conn.read(id, max) {
            Ok(Read::Data { data, fin }) => {
                assert!(!data.is_empty() && data.len() <= max, "read {} octets, max {max}", data.len());
                assert!(data.len() <= before, "read more than buffered");
                let after = conn.recv_buffered(id);
                assert_eq!(after, before - data.len(), "recv_buffered after a read");
                if fin {
                    assert_eq!(after, 0, "data left after fin");
                }
                total += data.len();
                if fin || rng.below(8) == 0 {
                    return total;
                }
            }
            Ok(Read::Pending) | Ok(Read::Finished) | Err(_) => return total,
        }
    }
}
