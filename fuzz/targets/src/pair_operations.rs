//! `pair_operations`: random operation sequences on an in-memory client and
//! server ([`Pair`]), both Weir, so neither side may ever see a protocol
//! violation.
//!
//! Input: an [`Input`] built with `arbitrary`: both configurations, the
//! harness's split/latency/seed, and the operations (open, send
//! headers/data/trailers, read, reset, settings changes, ping, shutdown,
//! GOAWAY, time steps, driving N rounds, one-way transfers).
//!
//! Checks after every operation:
//! * data is delivered in order and byte-exact per stream and direction (each
//!   octet is a function of stream, direction and offset); a finished read
//!   (`fin`) means everything sent arrived; header sections arrive exactly as
//!   sent (request, response, trailers);
//! * no event after `Event::Closed`; connections close only for reasons a
//!   correct peer can cause (timeouts, the application, limits the
//!   operations really exceeded), never for a protocol error; streams are
//!   never reset for a protocol error either way;
//! * windows stay within 2^31-1, send windows no lower than a SETTINGS
//!   decrease allows, the connection receive window never negative; when the
//!   pair is quiescent, each side's send window equals the other's receive
//!   window (connection and every stream both know);
//! * receive and send buffers within their configured bounds; PING ACKs
//!   only for pings sent.
//!
//! At the end, the pair is driven and every stream read until nothing
//! moves; in runs where delivery is guaranteed (no zero window, shutdown,
//! GOAWAY, close or reset), every stream's data and headers arrived whole.

use std::collections::BTreeSet;
use std::time::Duration;

use arbitrary::{Arbitrary, Unstructured};
use weir_core::ErrorCode;
use weir_core::conn::{
    Config, Connection, ConnectionErrorKind, Event, HeadersKind, Initiator, Limit, LocalResetCause, Read,
};
use weir_core::frame::{MAX_MAX_FRAME_SIZE, MAX_WINDOW_SIZE, StreamId};
use weir_core::headers::Headers;
use weir_core::sim::Pair;

use crate::drive::{MAX_SEND_CHUNK, recv_bound, send_bound};
use crate::{pattern, pattern_byte};

/// One fuzz input.
#[derive(Arbitrary, Debug)]
pub struct Input {
    /// The client's configuration.
    pub client: Profile,
    /// The server's configuration.
    pub server: Profile,
    /// Split deliveries at random points.
    pub split: bool,
    /// One-way latency in milliseconds (modulo 50).
    pub latency_ms: u8,
    /// Seed of the split points.
    pub seed: u64,
    /// The operations.
    pub ops: Vec<Op>,
}

/// The configuration knobs of one side.
#[derive(Arbitrary, Clone, Copy, Debug)]
pub struct Profile {
    /// `SETTINGS_INITIAL_WINDOW_SIZE` advertised.
    pub stream_window: Window,
    /// Connection receive window.
    pub connection_window: Window,
    /// `SETTINGS_MAX_FRAME_SIZE` advertised.
    pub max_frame_size: FrameSize,
    /// `SETTINGS_HEADER_TABLE_SIZE` advertised.
    pub header_table_size: u16,
    /// `SETTINGS_MAX_CONCURRENT_STREAMS` (0 means the default).
    pub max_concurrent_streams: u8,
    /// Small send buffers (1000 per stream, 3000 per connection).
    pub small_send_buffers: bool,
    /// BDP window growth.
    pub bdp: bool,
    /// Keepalive pings every second, even when idle.
    pub keepalive: bool,
}

/// A window size.
#[derive(Arbitrary, Clone, Copy, Debug)]
#[allow(missing_docs)]
pub enum Window {
    Zero,
    One,
    Small(u8),
    Medium(u16),
    Default,
    Large,
    Max,
    Raw(u32),
}

impl Window {
    /// The value, at most 2^31-1.
    pub fn value(self) -> u32 {
        match self {
            Window::Zero => 0,
            Window::One => 1,
            Window::Small(n) => u32::from(n),
            Window::Medium(n) => u32::from(n),
            Window::Default => 65_535,
            Window::Large => 1 << 20,
            Window::Max => MAX_WINDOW_SIZE,
            Window::Raw(n) => n & MAX_WINDOW_SIZE,
        }
    }
}

/// A `SETTINGS_MAX_FRAME_SIZE`.
#[derive(Arbitrary, Clone, Copy, Debug)]
#[allow(missing_docs)]
pub enum FrameSize {
    Default,
    Max,
    Raw(u32),
}

/// Which endpoint an operation applies to.
#[derive(Arbitrary, Clone, Copy, Debug, PartialEq, Eq)]
#[allow(missing_docs)]
pub enum Side {
    Client,
    Server,
}

/// One operation. `stream` indexes the streams opened so far (modulo).
#[derive(Arbitrary, Clone, Debug)]
#[allow(missing_docs)]
pub enum Op {
    /// The client opens a stream.
    Open {
        end_stream: bool,
    },
    /// Queue `len` octets (modulo 16 KiB + 1).
    SendData {
        side: Side,
        stream: u8,
        len: u16,
        end: bool,
    },
    /// The server sends its response headers.
    Respond {
        stream: u8,
        end: bool,
    },
    /// Trailers, ending the side's half of the stream.
    Trailers {
        side: Side,
        stream: u8,
    },
    /// One read of at most `max + 1` octets.
    Read {
        side: Side,
        stream: u8,
        max: u16,
    },
    /// Reset a stream.
    Reset {
        side: Side,
        stream: u8,
        cancel: bool,
    },
    /// The server resets after its END_STREAM if the client still sends.
    ResetWhenSent {
        stream: u8,
    },
    SetInitialWindow {
        side: Side,
        size: Window,
    },
    SetMaxConcurrent {
        side: Side,
        n: u8,
    },
    Ping {
        side: Side,
    },
    Shutdown {
        side: Side,
    },
    GoAway {
        side: Side,
    },
    /// Advance time by this many milliseconds and run timers.
    Advance {
        millis: u16,
    },
    /// Jump to the earliest deadline and run timers.
    AdvanceToTimeout,
    /// Move bytes both ways for up to `rounds % 64 + 1` rounds.
    Drive {
        rounds: u8,
    },
    /// Move what one side has to send to the other.
    Transfer {
        to_server: bool,
    },
}

/// What a run did (for seed selection and tests).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Summary {
    /// Streams opened.
    pub streams: usize,
    /// Data octets read, both directions.
    pub delivered: u64,
    /// Streams whose data was checked complete at the end.
    pub complete: usize,
    /// Quiescent points where windows were compared.
    pub quiescent_checks: usize,
}

/// Runs one input.
pub fn run(data: &[u8]) {
    if let Ok(input) = Input::arbitrary_take_rest(Unstructured::new(data)) {
        execute(&input);
    }
}

/// Most operations executed from one input (keeps runs short).
const MAX_OPS: usize = 2000;

/// Runs a decoded input.
pub fn execute(input: &Input) -> Summary {
    let client_cfg = config(&input.client);
    let server_cfg = config(&input.server);
    let mut p = Pair::new(client_cfg.clone(), server_cfg.clone(), input.seed);
    p.split = input.split;
    p.latency = Duration::from_millis(u64::from(input.latency_ms % 50));
    let mut m = Model::new([client_cfg, server_cfg]);
    for op in input.ops.iter().take(MAX_OPS) {
        m.apply(&mut p, op);
        m.drain_events(&mut p);
        m.check(&p);
    }
    m.finish(&mut p);
    m.summary
}

fn config(p: &Profile) -> Config {
    let mut c = Config {
        initial_stream_window: p.stream_window.value(),
        initial_connection_window: p.connection_window.value(),
        max_frame_size: match p.max_frame_size {
            FrameSize::Default => 1 << 14,
            FrameSize::Max => MAX_MAX_FRAME_SIZE,
            FrameSize::Raw(n) => n.clamp(1 << 14, MAX_MAX_FRAME_SIZE),
        },
        header_table_size: u32::from(p.header_table_size),
        bdp_window_growth: p.bdp,
        ..Config::default()
    };
    if p.max_concurrent_streams != 0 {
        c.max_concurrent_streams = u32::from(p.max_concurrent_streams);
    }
    if p.small_send_buffers {
        c.max_send_buffer_per_stream = 1000;
        c.max_send_buffer_per_connection = 3000;
    }
    if p.keepalive {
        c.keepalive_interval = Some(Duration::from_secs(1));
        c.keepalive_while_idle = true;
    }
    c
}

/// One direction of a stream.
#[derive(Clone, Debug, Default)]
struct Flow {
    /// Octets queued by the sender.
    sent: u64,
    /// END_STREAM queued by the sender.
    end_sent: bool,
    /// Octets read by the receiver.
    read: u64,
    /// The receiver read to the end, or got END_STREAM on a header block.
    fin_read: bool,
    /// Trailers sent, and whether they arrived.
    trailers: Option<Headers>,
    trailers_received: bool,
    /// A reset may have cut this direction short.
    cut: bool,
    /// Trailers ended it (the data before them may still be unread).
    ended: bool,
}

/// What both sides know and should see of one stream.
#[derive(Clone, Debug)]
struct StreamModel {
    id: StreamId,
    request: Headers,
    end_on_open: bool,
    /// Client to server, server to client.
    flows: [Flow; 2],
    server_knows: bool,
    response: Option<(Headers, bool)>,
    response_received: bool,
}

/// The model of the pair and the run's bookkeeping.
struct Model {
    configs: [Config; 2],
    streams: Vec<StreamModel>,
    closed: [bool; 2],
    /// Largest `SETTINGS_INITIAL_WINDOW_SIZE` each side ever advertised.
    max_initial: [u32; 2],
    /// Some side advertised a zero window at some point (delivery may stall).
    zero_window: bool,
    /// Shutdown or GOAWAY was used (streams may be cut short).
    going_away: bool,
    pings: [BTreeSet<[u8; 8]>; 2],
    ping_counter: u64,
    resets_issued: [usize; 2],
    next_id: u32,
    summary: Summary,
}

fn idx(side: Side) -> usize {
    match side {
        Side::Client => 0,
        Side::Server => 1,
    }
}

fn conn(p: &mut Pair, side: Side) -> &mut Connection {
    match side {
        Side::Client => &mut p.client,
        Side::Server => &mut p.server,
    }
}

impl Model {
    fn new(configs: [Config; 2]) -> Self {
        let initial = |c: &Config| {
            let bdp = if c.bdp_window_growth { c.max_bdp_window } else { 0 };
            c.initial_stream_window.max(65_535).max(bdp)
        };
        let zero_window = configs.iter().any(|c| c.initial_stream_window == 0);
        Model {
            max_initial: [initial(&configs[0]), initial(&configs[1])],
            configs,
            streams: Vec::new(),
            closed: [false; 2],
            zero_window,
            going_away: false,
            pings: [BTreeSet::new(), BTreeSet::new()],
            ping_counter: 0,
            resets_issued: [0; 2],
            next_id: 1,
            summary: Summary::default(),
        }
    }

    fn stream(&self, i: u8) -> Option<usize> {
        (!self.streams.is_empty()).then(|| usize::from(i) % self.streams.len())
    }

    fn apply(&mut self, p: &mut Pair, op: &Op) {
        match *op {
            Op::Open { end_stream } => self.open(p, end_stream),
            Op::SendData { side, stream, len, end } => {
                let Some(i) = self.stream(stream) else { return };
                let dir = idx(side);
                let s = &mut self.streams[i];
                if side == Side::Server && s.response.is_none() {
                    return;
                }
                let f = &mut s.flows[dir];
                let len = usize::from(len) % (MAX_SEND_CHUNK + 1);
                let data = pattern(s.id.0, dir as u8, f.sent, len);
                if conn(p, side).send_data(s.id, data, end).is_ok() {
                    assert!(!f.end_sent, "data accepted after END_STREAM on {:?}", s.id);
                    f.sent += len as u64;
                    f.end_sent = end;
                }
            }
            Op::Respond { stream, end } => {
                let Some(i) = self.stream(stream) else { return };
                let s = &mut self.streams[i];
                if s.response.is_some() {
                    return;
                }
                let mut h = Headers::response(200);
                h.push("content-type", "application/grpc");
                h.push("x-stream", s.id.0.to_string());
                if p.server.send_headers(s.id, h.clone(), end).is_ok() {
                    assert!(s.server_knows, "response accepted on {:?} before its request arrived", s.id);
                    s.response = Some((h, end));
                    s.flows[1].end_sent = end;
                }
            }
            Op::Trailers { side, stream } => {
                let Some(i) = self.stream(stream) else { return };
                let s = &mut self.streams[i];
                if side == Side::Server && s.response.is_none() {
                    return;
                }
                let mut t = Headers::trailers();
                t.push("grpc-status", "0");
                t.push("x-trailer", s.id.0.to_string());
                let f = &mut s.flows[idx(side)];
                if conn(p, side).send_headers(s.id, t.clone(), true).is_ok() {
                    assert!(!f.end_sent, "trailers accepted after END_STREAM on {:?}", s.id);
                    f.end_sent = true;
                    f.trailers = Some(t);
                }
            }
            Op::Read { side, stream, max } => {
                let Some(i) = self.stream(stream) else { return };
                self.read(p, side, i, usize::from(max) + 1);
            }
            Op::Reset { side, stream, cancel } => {
                let Some(i) = self.stream(stream) else { return };
                let code = if cancel { ErrorCode::CANCEL } else { ErrorCode::INTERNAL_ERROR };
                if conn(p, side).reset_stream(self.streams[i].id, code).is_ok() {
                    self.streams[i].flows.iter_mut().for_each(|f| f.cut = true);
                    self.resets_issued[idx(side)] += 1;
                }
            }
            Op::ResetWhenSent { stream } => {
                let Some(i) = self.stream(stream) else { return };
                // Only the request may be cut: RFC 9113 §8.1, "clients MUST
                // NOT discard responses as a result of receiving such a
                // RST_STREAM".
                if p.server.reset_when_sent(self.streams[i].id, ErrorCode::NO_ERROR).is_ok() {
                    self.streams[i].flows[0].cut = true;
                    self.resets_issued[1] += 1;
                }
            }
            Op::SetInitialWindow { side, size } => {
                let v = size.value();
                let now = p.now;
                conn(p, side).set_initial_window_size(now, v);
                self.max_initial[idx(side)] = self.max_initial[idx(side)].max(v);
                self.zero_window |= v == 0;
            }
            Op::SetMaxConcurrent { side, n } => {
                let now = p.now;
                conn(p, side).set_max_concurrent_streams(now, u32::from(n));
            }
            Op::Ping { side } => {
                self.ping_counter += 1;
                let payload = self.ping_counter.to_be_bytes();
                self.pings[idx(side)].insert(payload);
                let now = p.now;
                conn(p, side).ping(now, payload);
            }
            Op::Shutdown { side } => {
                self.going_away = true;
                let now = p.now;
                conn(p, side).shutdown(now);
            }
            Op::GoAway { side } => {
                self.going_away = true;
                conn(p, side).go_away(ErrorCode::NO_ERROR, bytes::Bytes::from_static(b"fuzz"));
            }
            Op::Advance { millis } => p.advance(Duration::from_millis(u64::from(millis))),
            Op::AdvanceToTimeout => {
                p.advance_to_next_timeout();
            }
            Op::Drive { rounds } => {
                p.drive_rounds(usize::from(rounds % 64) + 1);
                self.drain_events(p);
                if p.transfer(true) == 0 && p.transfer(false) == 0 {
                    self.check_quiescent(p);
                }
            }
            Op::Transfer { to_server } => {
                p.transfer(to_server);
            }
        }
    }

    fn open(&mut self, p: &mut Pair, end_stream: bool) {
        let mut h = Headers::request("POST", "http", "localhost", "/pkg.Svc/Method");
        h.push("content-type", "application/grpc");
        h.push("x-seq", self.streams.len().to_string());
        let Ok(id) = p.client.open_stream(h.clone(), end_stream) else { return };
        assert_eq!(id, StreamId(self.next_id), "stream ids must increase by 2");
        self.next_id += 2;
        let mut flows = [Flow::default(), Flow::default()];
        flows[0].end_sent = end_stream;
        self.streams.push(StreamModel {
            id,
            request: h,
            end_on_open: end_stream,
            flows,
            server_knows: false,
            response: None,
            response_received: false,
        });
        self.summary.streams += 1;
    }

    /// One read on `side` of stream `i`, checking the octets.
    fn read(&mut self, p: &mut Pair, side: Side, i: usize, max: usize) -> usize {
        let s = &mut self.streams[i];
        // The reader of direction d is the other side.
        let dir = 1 - idx(side);
        let f = &mut s.flows[dir];
        match conn(p, side).read(s.id, max) {
            Ok(Read::Data { data, fin }) => {
                assert!(!data.is_empty() && data.len() <= max);
                for (k, &b) in data.iter().enumerate() {
                    let want = pattern_byte(s.id.0, dir as u8, f.read + k as u64);
                    assert_eq!(b, want, "octet {} of {:?} direction {dir} differs", f.read + k as u64, s.id);
                }
                f.read += data.len() as u64;
                assert!(f.read <= f.sent, "read more than sent on {:?}", s.id);
                self.summary.delivered += data.len() as u64;
                if fin {
                    Self::finished(s.id, f);
                }
                data.len()
            }
            Ok(Read::Finished) => {
                Self::finished(s.id, f);
                0
            }
            Ok(Read::Pending) | Err(_) => 0,
        }
    }

    fn finished(id: StreamId, f: &mut Flow) {
        assert!(f.end_sent, "{id:?} finished but the sender never ended it");
        assert_eq!(f.read, f.sent, "{id:?} finished after {} of {} octets", f.read, f.sent);
        f.fin_read = true;
    }

    fn drain_events(&mut self, p: &mut Pair) {
        for side in [Side::Client, Side::Server] {
            while let Some(e) = conn(p, side).poll_event() {
                self.event(side, e);
            }
        }
    }

    fn event(&mut self, side: Side, e: Event) {
        let me = idx(side);
        assert!(!self.closed[me], "{side:?}: event after Closed: {e:?}");
        match e {
            Event::Headers { stream, kind, headers, end_stream } => {
                let s = self
                    .streams
                    .iter_mut()
                    .find(|s| s.id == stream)
                    .unwrap_or_else(|| panic!("{side:?}: headers on unknown {stream:?}"));
                match (side, kind) {
                    (Side::Server, HeadersKind::Request) => {
                        assert!(!s.server_knows, "request on {stream:?} twice");
                        assert_eq!(*headers, s.request, "request headers on {stream:?}");
                        assert_eq!(end_stream, s.end_on_open);
                        s.server_knows = true;
                        if end_stream {
                            Self::finished(stream, &mut s.flows[0]);
                        }
                    }
                    (Side::Client, HeadersKind::Response) => {
                        let (h, end) = s.response.as_ref().expect("response never sent");
                        assert!(!s.response_received, "response on {stream:?} twice");
                        assert_eq!(&*headers, h, "response headers on {stream:?}");
                        assert_eq!(end_stream, *end);
                        s.response_received = true;
                        if end_stream {
                            Self::finished(stream, &mut s.flows[1]);
                        }
                    }
                    (_, HeadersKind::Trailers) => {
                        let f = &mut s.flows[1 - me];
                        let t = f.trailers.as_ref().expect("trailers never sent");
                        assert_eq!(&*headers, t, "trailers on {stream:?}");
                        assert!(end_stream);
                        assert!(!f.trailers_received);
                        f.trailers_received = true;
                        f.ended = true;
                    }
                    _ => panic!("{side:?}: unexpected {kind:?} headers on {stream:?}"),
                }
            }
            Event::Reset { stream, code, initiator, cause } => {
                if let Some(s) = self.streams.iter_mut().find(|s| s.id == stream) {
                    // A server's RST_STREAM(NO_ERROR) after its complete
                    // response only stops the request (§8.1).
                    let early_closure = side == Side::Client
                        && initiator == Initiator::Remote
                        && code == ErrorCode::NO_ERROR
                        && s.flows[1].end_sent;
                    s.flows[0].cut = true;
                    s.flows[1].cut |= !early_closure;
                }
                match initiator {
                    Initiator::Local => assert!(
                        matches!(cause, Some(LocalResetCause::Application | LocalResetCause::Refused)),
                        "{side:?} reset {stream:?} ({code:?}) for {cause:?}: the peer is Weir"
                    ),
                    Initiator::Remote => assert!(
                        ![
                            ErrorCode::PROTOCOL_ERROR,
                            ErrorCode::FLOW_CONTROL_ERROR,
                            ErrorCode::STREAM_CLOSED,
                            ErrorCode::FRAME_SIZE_ERROR,
                            ErrorCode::COMPRESSION_ERROR,
                        ]
                        .contains(&code),
                        "{side:?}: the peer reset {stream:?} with {code:?}"
                    ),
                }
            }
            Event::Pong { payload, .. } => {
                assert!(self.pings[me].remove(&payload), "{side:?}: PONG {payload:?} never sent");
            }
            Event::Closed { error } => {
                self.closed[me] = true;
                if let Some(e) = error {
                    let ok = match e.kind {
                        ConnectionErrorKind::SettingsTimeout
                        | ConnectionErrorKind::KeepaliveTimeout
                        | ConnectionErrorKind::Application
                        | ConnectionErrorKind::GoAway
                        | ConnectionErrorKind::Eof => true,
                        ConnectionErrorKind::Limit(Limit::Resets) => {
                            self.resets_issued[1 - me] * 2 >= self.configs[me].max_resets_per_window as usize
                        }
                        ConnectionErrorKind::Limit(Limit::RefusedStreams) => {
                            self.summary.streams * 2
                                >= self.configs[me].max_refused_streams_per_window as usize
                        }
                        ConnectionErrorKind::Limit(Limit::PendingControlFrames) => {
                            self.ping_counter as usize * 2 >= self.configs[me].max_pending_control_frames
                        }
                        _ => false,
                    };
                    assert!(ok, "{side:?} closed with {e}: the peer is Weir");
                }
            }
            Event::Connected
            | Event::Data { .. }
            | Event::Writable { .. }
            | Event::StreamClosed { .. }
            | Event::GoAway { .. } => {}
        }
    }

    /// Invariants of both sides.
    fn check(&self, p: &Pair) {
        let max = i64::from(MAX_WINDOW_SIZE);
        for (me, c) in [(0, &p.client), (1, &p.server)] {
            let peer = 1 - me;
            assert!((0..=max).contains(&c.connection_recv_window()));
            assert!(c.connection_send_window() <= MAX_WINDOW_SIZE);
            let floor = i64::from(c.peer_settings().initial_window_size) - i64::from(self.max_initial[peer]);
            for s in &self.streams {
                if let Some(w) = c.stream_send_window(s.id) {
                    assert!(w <= max && w >= floor, "send window {w} of {:?} (floor {floor})", s.id);
                }
                if let Some(w) = c.stream_recv_window(s.id) {
                    let floor = -i64::from(self.max_initial[me]);
                    assert!(w <= max && w >= floor, "receive window {w} of {:?}", s.id);
                }
            }
            crate::observer::check_buffers(
                &c.stats(),
                recv_bound(&self.configs[me]),
                send_bound(&self.configs[me]),
            );
        }
    }

    /// Nothing in flight: each side's send window is the other's receive
    /// window.
    fn check_quiescent(&mut self, p: &Pair) {
        if self.closed.iter().any(|&c| c) || !p.client.is_open() || !p.server.is_open() {
            return;
        }
        if !p.client.is_established() || !p.server.is_established() {
            return;
        }
        self.summary.quiescent_checks += 1;
        assert_eq!(
            i64::from(p.client.connection_send_window()),
            p.server.connection_recv_window(),
            "client send window vs server receive window"
        );
        assert_eq!(
            i64::from(p.server.connection_send_window()),
            p.client.connection_recv_window(),
            "server send window vs client receive window"
        );
        for s in &self.streams {
            if let (Some(a), Some(b)) = (p.client.stream_send_window(s.id), p.server.stream_recv_window(s.id))
            {
                assert_eq!(a, b, "{:?}: client send window vs server receive window", s.id);
            }
            if let (Some(a), Some(b)) = (p.server.stream_send_window(s.id), p.client.stream_recv_window(s.id))
            {
                assert_eq!(a, b, "{:?}: server send window vs client receive window", s.id);
            }
        }
    }

    /// Drives and reads until nothing moves, then checks completeness.
    fn finish(&mut self, p: &mut Pair) {
        // Tiny windows move a few octets per round trip: give up (without the
        // completeness check) rather than run for long.
        let mut settled = false;
        for _ in 0..1024 {
            let mut moved = p.drive_rounds(64);
            self.drain_events(p);
            for i in 0..self.streams.len() {
                for side in [Side::Client, Side::Server] {
                    for _ in 0..64 {
                        let n = self.read(p, side, i, usize::MAX);
                        if n == 0 {
                            break;
                        }
                        moved += n;
                    }
                }
            }
            self.drain_events(p);
            self.check(p);
            if moved == 0 {
                settled = true;
                break;
            }
        }
        if p.transfer(true) == 0 && p.transfer(false) == 0 {
            self.check_quiescent(p);
        }
        let guaranteed = settled
            && !self.zero_window
            && !self.going_away
            && !self.closed.iter().any(|&c| c)
            && p.client.is_open()
            && p.server.is_open();
        if !guaranteed {
            return;
        }
        for s in &self.streams {
            if !s.server_knows {
                continue;
            }
            for (dir, f) in s.flows.iter().enumerate() {
                if f.cut {
                    continue;
                }
                if f.end_sent {
                    assert!(
                        f.fin_read || f.ended,
                        "{:?} direction {dir}: {} of {} octets, no end",
                        s.id,
                        f.read,
                        f.sent
                    );
                    assert_eq!(f.read, f.sent, "{:?} direction {dir}: data lost", s.id);
                }
                if f.trailers.is_some() {
                    assert!(f.trailers_received, "{:?} direction {dir}: trailers lost", s.id);
                }
            }
            if s.response.is_some() && !s.flows[1].cut {
                assert!(s.response_received, "{:?}: response lost", s.id);
            }
            self.summary.complete += 1;
        }
    }
}
