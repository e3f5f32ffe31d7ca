//! The HTTP/2 connection (RFC 9113) for both roles, as a Sans-IO state machine.
//!
//! Four kinds of method, as in quinn-proto:
//! * input: [`Connection::handle_input`], [`Connection::handle_timeout`],
//!   [`Connection::handle_eof`];
//! * output: [`Connection::poll_transmit`], [`Connection::poll_timeout`],
//!   [`Connection::poll_event`];
//! * commands: [`Connection::open_stream`], [`Connection::send_headers`],
//!   [`Connection::send_data`], [`Connection::reset_stream`],
//!   [`Connection::read`], [`Connection::ping`], [`Connection::shutdown`],
//!   [`Connection::go_away`];
//! * getters: [`Connection::stats`], [`Connection::is_closed`], ...
//!
//! The owner loop: feed bytes in, then drain `poll_event` and `poll_transmit`,
//! write what was produced, and arm one timer at `poll_timeout`.

mod block_memo;
mod config;
mod error;
mod event;
mod keepalive;
mod limits;
mod recv;
mod send;
mod sent_memo;
mod settings;
mod timers;
mod transmit;

pub use config::{Config, Role};
pub use error::{ConnectionError, ConnectionErrorKind, Limit, OpenError, StreamError};
pub use event::{Event, HeadersKind, Initiator, LocalResetCause};
pub use keepalive::{PingPolicy, TOO_MANY_PINGS};
pub use transmit::{ChunkedBuf, TransmitBuf};

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};

use crate::error_code::ErrorCode;
use crate::flow::{BdpEstimator, RecvWindow, SendWindow};
use crate::frame::{Frame, FrameDecoder, GoAway, Ping, StreamId};
use crate::headers::{Headers, Pseudo};
use crate::hpack;
use crate::stream::{Closed, Head, Input, Outcome, Outgoing, State, Store, Stream};

/// What one queued DATA entry costs besides its octets, counted in the send
/// buffers (`Config::max_send_buffer_per_stream` and `_per_connection`), so
/// that a flood of empty messages is not free.
pub const SEND_ENTRY_COST: usize = std::mem::size_of::<Outgoing>();
use limits::RateCounter;
use settings::{LocalSettings, PeerSettings};

/// The client connection preface (RFC 9113 §3.4).
pub const PREFACE: &[u8; 24] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

/// Header sections kept for reuse, and the most fields one may have room for.
const SPARE_HEADERS: usize = 3;
const SPARE_HEADER_FIELDS: usize = 8;

/// The default window of RFC 9113 §6.9.2 before any SETTINGS.
const DEFAULT_WINDOW: u32 = 65_535;

/// Ping payloads the connection uses for itself.
mod ping_payload {
    pub const KEEPALIVE: [u8; 8] = *b"weir-kal";
    pub const SHUTDOWN: [u8; 8] = *b"weir-gfs";
    pub use crate::flow::BDP_PING_PAYLOAD as BDP;
}

/// The result of [`Connection::read`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Read {
    /// Data; `fin` is true when it was the last (the peer ended the stream).
    Data {
        /// The octets, zero-copy from the received frame.
        data: Bytes,
        /// Nothing follows.
        fin: bool,
    },
    /// Nothing buffered yet; an [`Event::Data`] will follow.
    Pending,
    /// The peer ended the stream and everything was read.
    Finished,
}

/// Counters for diagnostics and tests.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    /// Frames received.
    pub frames_received: u64,
    /// Frames sent.
    pub frames_sent: u64,
    /// DATA payload octets received.
    pub data_received: u64,
    /// DATA payload octets sent.
    pub data_sent: u64,
    /// Streams opened by either side.
    pub streams_opened: u64,
    /// WINDOW_UPDATE frames sent.
    pub window_updates_sent: u64,
    /// Streams live in the store now.
    pub live_streams: usize,
    /// Control frames queued for sending now.
    pub pending_control_frames: usize,
    /// Octets received but not yet read by the owner, all streams.
    pub recv_buffered: usize,
    /// Octets queued for sending, all streams.
    pub send_buffered: usize,
    /// Events waiting in `poll_event`.
    pub pending_events: usize,
    /// Smoothed round-trip time, when measured.
    pub rtt: Option<Duration>,
}

/// Lifecycle of the connection as a whole.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    /// Running (possibly draining after GOAWAY).
    Open,
    /// A GOAWAY for an error or final close is queued; closes once written.
    Closing,
    /// Finished.
    Closed,
}

/// A header block being assembled from HEADERS + CONTINUATION frames.
#[derive(Debug)]
struct PendingBlock {
    stream: StreamId,
    end_stream: bool,
    self_dependent: bool,
    fragments: BytesMut,
    frames: usize,
}

/// Graceful shutdown progress (two-phase GOAWAY, as gRPC-Go and h2).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Shutdown {
    /// First GOAWAY (last id 2^31-1) and a PING sent; waiting for the ACK.
    AwaitingPing { started: Instant },
    /// Final GOAWAY sent; waiting for streams to finish until the deadline.
    Draining { deadline: Instant },
}

/// An HTTP/2 connection: one role, driven only through its methods.
#[derive(Debug)]
pub struct Connection {
    role: Role,
    config: Config,
    phase: Phase,
    created_at: Instant,
    // input side
    recv_buf: BytesMut,
    preface_left: usize,
    frames: FrameDecoder,
    hpack_dec: hpack::Decoder,
    /// The last all-indexed header block of each kind and what it decoded to.
    block_memo: block_memo::BlockMemo,
    /// Emptied header sections kept for reuse ([`Connection::take_headers`]).
    #[allow(clippy::vec_box, reason = "the boxes are what is reused: sections are queued boxed")]
    spare_headers: Vec<Box<Headers>>,
    block: Option<PendingBlock>,
    got_peer_settings: bool,
    /// The peer acknowledged our first SETTINGS: it knows our limits.
    settings_acked: bool,
    last_recv_at: Instant,
    // output side
    hpack_enc: hpack::Encoder,
    sent_memo: sent_memo::SentMemo,
    preface_sent: bool,
    control: VecDeque<Frame>,
    block_buf: Vec<u8>,
    frame_buf: Vec<u8>,
    // settings
    local: LocalSettings,
    peer: PeerSettings,
    // streams
    streams: Store,
    next_local_id: u32,
    last_peer_id: StreamId,
    active_local: usize,
    active_peer: usize,
    pending_open: VecDeque<StreamId>,
    schedule: VecDeque<StreamId>,
    conn_blocked: Vec<StreamId>,
    window_update_due: Vec<StreamId>,
    conn_writable_waiters: Vec<StreamId>,
    // flow control
    send_window: SendWindow,
    recv_window: RecvWindow,
    send_buffered: usize,
    recv_buffered: usize,
    /// Of `recv_buffered`, the octets whose connection-level credit is held
    /// back until their stream reads them ([`Connection::rebalance_credit`]).
    recv_withheld: usize,
    bdp: Option<BdpEstimator>,
    // ping, goaway, shutdown
    user_pings: VecDeque<([u8; 8], Instant)>,
    keepalive_sent: Option<Instant>,
    goaway_sent: Option<StreamId>,
    goaway_recv: Option<StreamId>,
    shutdown: Option<Shutdown>,
    idle_since: Option<Instant>,
    // limits
    resets: RateCounter,
    empty_data: RateCounter,
    refused: RateCounter,
    ping_enforcement: keepalive::PingEnforcement,
    // output to the owner
    events: VecDeque<Event>,
    error: Option<ConnectionError>,
    stats: Stats,
}

impl Connection {
    /// A new connection for `role`. A client queues the preface and SETTINGS; a
    /// server queues its SETTINGS and waits for the client preface.
    pub fn new(role: Role, config: Config, now: Instant) -> Self {
        let first_local = config.first_local_stream_id.unwrap_or(match role {
            Role::Client => 1,
            Role::Server => 2,
        });
        let bdp = config
            .bdp_window_growth
            .then(|| BdpEstimator::new(config.initial_stream_window, config.max_bdp_window));
        let mut hpack_enc = hpack::Encoder::new();
        hpack_enc.set_max_table_size((hpack::DEFAULT_TABLE_SIZE).min(config.max_encoder_table_size as usize));
        Connection {
            role,
            phase: Phase::Open,
            created_at: now,
            recv_buf: BytesMut::new(),
            preface_left: if role == Role::Server { PREFACE.len() } else { 0 },
            // Until our SETTINGS are acknowledged the peer may only assume the
            // RFC defaults, but accepting our larger advertised size early is safe.
            frames: FrameDecoder::new(config.max_frame_size),
            hpack_dec: hpack::Decoder::new(hpack::DEFAULT_TABLE_SIZE),
            block_memo: block_memo::BlockMemo::default(),
            spare_headers: Vec::new(),
            block: None,
            got_peer_settings: false,
            settings_acked: false,
            last_recv_at: now,
            hpack_enc,
            sent_memo: sent_memo::SentMemo::default(),
            preface_sent: false,
            control: VecDeque::new(),
            block_buf: Vec::new(),
            frame_buf: Vec::new(),
            local: LocalSettings::new(&config),
            peer: PeerSettings {
                max_concurrent_streams: config.assumed_peer_max_concurrent_streams,
                ..PeerSettings::default()
            },
            streams: Store::new(config.reset_stream_memory),
            next_local_id: first_local,
            last_peer_id: StreamId::ZERO,
            active_local: 0,
            active_peer: 0,
            pending_open: VecDeque::new(),
            schedule: VecDeque::new(),
            conn_blocked: Vec::new(),
            window_update_due: Vec::new(),
            conn_writable_waiters: Vec::new(),
            send_window: SendWindow::new(DEFAULT_WINDOW),
            recv_window: {
                let mut w = RecvWindow::new(DEFAULT_WINDOW);
                w.grow_target(config.initial_connection_window);
                w
            },
            send_buffered: 0,
            recv_buffered: 0,
            recv_withheld: 0,
            bdp,
            user_pings: VecDeque::new(),
            keepalive_sent: None,
            goaway_sent: None,
            goaway_recv: None,
            shutdown: None,
            idle_since: Some(now),
            resets: RateCounter::new(config.max_resets_per_window, config.reset_window),
            empty_data: RateCounter::new(config.max_empty_data_frames, config.reset_window),
            refused: RateCounter::new(config.max_refused_streams_per_window, config.reset_window),
            ping_enforcement: keepalive::PingEnforcement::default(),
            events: VecDeque::new(),
            error: None,
            stats: Stats::default(),
            config,
        }
    }

    // ----- getters -------------------------------------------------------------

    /// This endpoint's role.
    pub fn role(&self) -> Role {
        self.role
    }

    /// The configuration in force.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// True while the connection accepts input and commands (false once an
    /// error or close is pending, even before the final GOAWAY is written).
    pub fn is_open(&self) -> bool {
        self.phase == Phase::Open
    }

    /// Streams open or half-closed (what this connection holds per stream).
    pub fn live_streams(&self) -> usize {
        self.streams.len()
    }

    /// True once the connection is finished (after `Event::Closed`).
    pub fn is_closed(&self) -> bool {
        self.phase == Phase::Closed
    }

    /// The error that closed (or is closing) the connection.
    pub fn error(&self) -> Option<&ConnectionError> {
        self.error.as_ref()
    }

    /// True once the peer's SETTINGS arrived.
    pub fn is_established(&self) -> bool {
        self.got_peer_settings
    }

    /// True when new streams can be opened now (client; not going away, ids
    /// left, under the peer's concurrency limit).
    pub fn can_open(&self) -> bool {
        self.role == Role::Client
            && self.phase == Phase::Open
            && self.goaway_sent.is_none()
            && self.goaway_recv.is_none()
            && self.shutdown.is_none()
            && self.next_local_id <= StreamId::MAX.0
            && self.active_local + self.pending_open.len() < self.peer.max_concurrent_streams as usize
    }

    /// The peer's SETTINGS_MAX_CONCURRENT_STREAMS.
    pub fn peer_max_concurrent_streams(&self) -> u32 {
        self.peer.max_concurrent_streams
    }

    /// Streams we opened that are open or half-closed.
    pub fn active_local_streams(&self) -> usize {
        self.active_local
    }

    /// Streams the peer opened that are open or half-closed.
    pub fn active_peer_streams(&self) -> usize {
        self.active_peer
    }

    /// Highest stream id the peer opened.
    pub fn last_peer_stream_id(&self) -> StreamId {
        self.last_peer_id
    }

    /// Our connection send window (credit the peer gave us).
    pub fn connection_send_window(&self) -> u32 {
        self.send_window.available()
    }

    /// Our connection receive window (what the peer may still send).
    pub fn connection_recv_window(&self) -> i64 {
        self.recv_window.window()
    }

    /// The send window of one stream.
    pub fn stream_send_window(&self, id: StreamId) -> Option<i64> {
        self.streams.get(id).map(|s| s.send_window.raw())
    }

    /// The receive window of one stream.
    pub fn stream_recv_window(&self, id: StreamId) -> Option<i64> {
        self.streams.get(id).map(|s| s.recv_window.window())
    }

    /// The state of a stream, if it has a record.
    pub fn stream_state(&self, id: StreamId) -> Option<State> {
        self.streams.get(id).map(|s| s.state)
    }

    /// True once any header section of the stream was written (false for a
    /// stream still waiting to open, or unknown).
    pub fn headers_sent(&self, id: StreamId) -> bool {
        self.streams.get(id).is_some_and(|s| s.headers_sent)
    }

    /// True when the peer cannot have acted on the stream as far as this
    /// connection can tell: its HEADERS never left, or the connection ended
    /// abruptly (end of file or reset, no GOAWAY) without a single frame
    /// from the peer after them. A client may then send the request again
    /// (see [`crate::grpc::UNPROCESSED`]).
    pub fn unanswered_at_abrupt_end(&self, id: StreamId) -> bool {
        let abrupt =
            matches!(self.error.map(|e| e.kind), Some(ConnectionErrorKind::Eof | ConnectionErrorKind::Reset))
                && self.goaway_recv.is_none();
        self.streams.get(id).is_some_and(|s| {
            !s.headers_sent || (abrupt && s.frames_received_at_headers == self.stats.frames_received)
        })
    }

    /// True when `send_data` on the stream would be accepted now.
    pub fn is_writable(&self, id: StreamId) -> bool {
        self.streams.get(id).is_some_and(|s| {
            s.reset_code.is_none()
                && !s.end_queued
                && s.send_buffered < self.config.max_send_buffer_per_stream
                && self.send_buffered < self.config.max_send_buffer_per_connection
        })
    }

    /// True when `send_data` on the stream would be accepted now; otherwise
    /// arranges for an [`Event::Writable`] once it would be.
    pub fn poll_writable(&mut self, id: StreamId) -> bool {
        if self.is_writable(id) {
            return true;
        }
        let conn_full = self.send_buffered >= self.config.max_send_buffer_per_connection;
        if let Some(s) = self.streams.get_mut(id)
            && s.reset_code.is_none()
            && !s.end_queued
        {
            s.want_writable = true;
            if conn_full && !self.conn_writable_waiters.contains(&id) {
                self.conn_writable_waiters.push(id);
            }
        }
        false
    }

    /// Octets queued for sending on all streams (what
    /// `Config::max_send_buffer_per_connection` limits).
    pub fn send_buffered_total(&self) -> usize {
        self.send_buffered
    }

    /// True when data is queued but none of it may go: the peer's flow-control
    /// windows hold every stream that has some (a peer that does not read).
    pub fn send_blocked(&self) -> bool {
        self.send_buffered > 0 && self.schedule.is_empty()
    }

    /// DATA payload octets sent so far (what [`Stats::data_sent`] reports,
    /// without building the whole record).
    pub fn data_sent(&self) -> u64 {
        self.stats.data_sent
    }

    /// Counters.
    pub fn stats(&self) -> Stats {
        Stats {
            live_streams: self.streams.len(),
            pending_control_frames: self.control.len(),
            recv_buffered: self.recv_buffered,
            send_buffered: self.send_buffered,
            pending_events: self.events.len(),
            rtt: self.bdp.as_ref().and_then(BdpEstimator::rtt),
            ..self.stats
        }
    }

    /// The peer's settings as applied.
    pub fn peer_settings(&self) -> &PeerSettings {
        &self.peer
    }

    // ----- input ---------------------------------------------------------------

    /// Feeds bytes received from the transport (copied into the input buffer).
    pub fn handle_input(&mut self, now: Instant, data: &[u8]) {
        if self.phase != Phase::Open {
            return;
        }
        self.recv_buf.extend_from_slice(data);
        self.process_input(now);
    }

    /// The input buffer, for owners that read from the socket straight into
    /// it (no copy); call [`Connection::process_input`] afterwards.
    pub fn input_buffer(&mut self) -> &mut BytesMut {
        &mut self.recv_buf
    }

    /// Processes what is in the input buffer.
    pub fn process_input(&mut self, now: Instant) {
        self.process_input_up_to(now, usize::MAX);
    }

    /// Like [`Connection::process_input`], but stops after the frame that
    /// brings the bytes processed to `max_bytes`; true when it stopped with
    /// input left, to be processed by calling it again (before or after
    /// reading more). An owner that writes between slices answers the first
    /// requests of a large burst while it reads the rest.
    pub fn process_input_up_to(&mut self, now: Instant, max_bytes: usize) -> bool {
        if self.phase != Phase::Open {
            // Input after a connection error is never processed: drop it, so
            // a peer flooding a failed connection whose GOAWAY cannot be
            // written (it does not read) holds no more than one read.
            if !self.recv_buf.is_empty() {
                self.recv_buf = BytesMut::new();
            }
            return false;
        }
        self.last_recv_at = now;
        self.keepalive_sent = None;
        if self.preface_left > 0 && !self.read_preface() {
            return false;
        }
        if self.tls_instead_of_settings() {
            self.fail(ConnectionError::protocol(ConnectionErrorKind::TlsFromServer));
        }
        let stop_below = self.recv_buf.len().saturating_sub(max_bytes);
        let mut more = false;
        while self.phase == Phase::Open {
            if stop_below > 0 && self.recv_buf.len() <= stop_below {
                more = true;
                break;
            }
            match self.frames.decode(&mut self.recv_buf) {
                Ok(None) => break,
                Ok(Some(frame)) => {
                    self.stats.frames_received += 1;
                    self.on_frame(now, frame);
                }
                Err(e) => match e.scope {
                    crate::frame::Scope::Connection => {
                        let kind = ConnectionErrorKind::Frame(e.kind);
                        self.fail(ConnectionError::local(e.code(), kind));
                    }
                    crate::frame::Scope::Stream(id) => {
                        self.stream_error(now, id, e.code(), LocalResetCause::Protocol);
                    }
                },
            }
        }
        // Nothing from a peer that broke the connection is kept around.
        if self.phase != Phase::Open {
            self.recv_buf = BytesMut::new();
            return false;
        }
        more
    }

    /// Checks the client preface (server role); false while incomplete or wrong.
    fn read_preface(&mut self) -> bool {
        let offset = PREFACE.len() - self.preface_left;
        let n = self.preface_left.min(self.recv_buf.len());
        if self.recv_buf[..n] != PREFACE[offset..offset + n] {
            self.fail(ConnectionError::protocol(ConnectionErrorKind::Preface));
            return false;
        }
        let _ = self.recv_buf.split_to(n);
        self.preface_left -= n;
        self.preface_left == 0
    }

    /// The transport reached end of file.
    pub fn handle_eof(&mut self, now: Instant) {
        self.transport_ended(now, ConnectionErrorKind::Eof);
    }

    /// The transport failed (the peer reset it, or a write found it broken).
    pub fn handle_reset(&mut self, now: Instant) {
        self.transport_ended(now, ConnectionErrorKind::Reset);
    }

    fn transport_ended(&mut self, now: Instant, kind: ConnectionErrorKind) {
        let _ = now;
        if self.phase == Phase::Closed {
            return;
        }
        let clean = self.streams.iter().all(|s| s.state.is_closed())
            && self.pending_open.is_empty()
            && (self.goaway_recv.is_some() || self.goaway_sent.is_some() || self.phase == Phase::Closing);
        if self.error.is_none() && !clean {
            self.error =
                Some(ConnectionError { code: ErrorCode::NO_ERROR, initiator: Initiator::Remote, kind });
        }
        self.control.clear();
        self.close_now();
    }

    // ----- output --------------------------------------------------------------

    /// Next event, if any. Drain after every input, timeout and command.
    pub fn poll_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }

    // ----- commands ------------------------------------------------------------

    /// Opens a stream with a request header section (client). The id is assigned
    /// now; HEADERS go out in id order once the peer's concurrency limit allows.
    pub fn open_stream(
        &mut self,
        headers: impl Into<Box<Headers>>,
        end_stream: bool,
    ) -> Result<StreamId, OpenError> {
        let headers = headers.into();
        if self.role != Role::Client {
            return Err(OpenError::NotClient);
        }
        if self.phase != Phase::Open {
            return Err(OpenError::Closed);
        }
        if self.goaway_sent.is_some() || self.goaway_recv.is_some() || self.shutdown.is_some() {
            return Err(OpenError::GoingAway);
        }
        if self.next_local_id > StreamId::MAX.0 {
            return Err(OpenError::StreamIdsExhausted);
        }
        let waiting = self.pending_open.len();
        if self.active_local + waiting >= self.peer.max_concurrent_streams as usize
            && waiting >= self.config.max_pending_open_streams
        {
            return Err(OpenError::ConcurrencyLimit);
        }
        let id = StreamId(self.next_local_id);
        self.next_local_id = self.next_local_id.saturating_add(2);
        let stream = self.streams.insert_new(id, self.local.initial_window(), self.peer.initial_window_size);
        stream.is_head_request = headers.pseudo.method.as_deref() == Some(b"HEAD");
        stream.visible = true;
        stream.headers_queued = true;
        stream.end_queued = end_stream;
        stream.send_queue.push_back(Outgoing::Headers { headers, end_stream });
        self.pending_open.push_back(id);
        self.idle_since = None;
        Ok(id)
    }

    /// An empty header section to fill and pass to [`Connection::open_stream`]
    /// or [`Connection::send_headers`]: one this connection already sent, or
    /// one its owner gave back with [`Connection::recycle_headers`], so calls
    /// in the steady state allocate no header sections.
    pub fn take_headers(&mut self) -> Box<Headers> {
        self.spare_headers.pop().unwrap_or_default()
    }

    /// Gives back a header section for [`Connection::take_headers`] (sent
    /// ones come back by themselves). Only a few small ones are kept; their
    /// fields are dropped now.
    pub fn recycle_headers(&mut self, mut headers: Box<Headers>) {
        if self.spare_headers.len() < SPARE_HEADERS && headers.fields.capacity() <= SPARE_HEADER_FIELDS {
            headers.pseudo = Pseudo::default();
            headers.fields.clear();
            self.spare_headers.push(headers);
        }
    }

    /// Queues a header section: a response (server), or trailers (either side)
    /// when `end_stream` is set.
    pub fn send_headers(
        &mut self,
        id: StreamId,
        headers: impl Into<Box<Headers>>,
        end_stream: bool,
    ) -> Result<(), StreamError> {
        let headers = headers.into();
        let s = self.sendable_stream(id)?;
        s.headers_queued = true;
        s.end_queued = end_stream;
        s.send_queue.push_back(Outgoing::Headers { headers, end_stream });
        self.schedule_stream(id);
        Ok(())
    }

    /// Queues data (zero-copy). Accepted while the stream's and connection's
    /// send buffers are under their limits (a chunk may overshoot once);
    /// otherwise `BufferFull`, and `Event::Writable` follows when there is room.
    pub fn send_data(&mut self, id: StreamId, data: Bytes, end_stream: bool) -> Result<(), StreamError> {
        self.send_chunks(id, [data], end_stream)
    }

    /// Queues several chunks as one unit (all or nothing): consecutive chunks
    /// are gathered into the same DATA frames without copying.
    pub fn send_chunks<const N: usize>(
        &mut self,
        id: StreamId,
        chunks: [Bytes; N],
        end_stream: bool,
    ) -> Result<(), StreamError> {
        let len = chunks.iter().map(Bytes::len).sum();
        self.queue_data(id, Head::default(), chunks, len, end_stream)
    }

    /// Queues a few octets followed by `data` as one unit: a `head` of up to
    /// 8 octets is kept inline, so a gRPC message goes out behind its 5-octet
    /// prefix with no allocation and no copy of the message. A longer head is
    /// copied into a chunk of its own.
    pub fn send_data_with_head(
        &mut self,
        id: StreamId,
        head: &[u8],
        data: Bytes,
        end_stream: bool,
    ) -> Result<(), StreamError> {
        if head.len() > Head::CAPACITY {
            return self.send_chunks(id, [Bytes::copy_from_slice(head), data], end_stream);
        }
        let len = data.len();
        self.queue_data(id, Head::new(head), [data], len, end_stream)
    }

    /// [`Connection::send_data_with_head`] for data in several chunks, sent
    /// one after the other as one unit without being joined.
    pub fn send_data_with_head_chunks(
        &mut self,
        id: StreamId,
        head: &[u8],
        chunks: Vec<Bytes>,
        end_stream: bool,
    ) -> Result<(), StreamError> {
        let len = chunks.iter().map(Bytes::len).sum();
        if head.len() > Head::CAPACITY {
            let all = std::iter::once(Bytes::copy_from_slice(head)).chain(chunks);
            return self.queue_data(id, Head::default(), all, head.len() + len, end_stream);
        }
        self.queue_data(id, Head::new(head), chunks, len, end_stream)
    }

    /// Queues `head` then `chunks` (`len` octets in all, the head not counted).
    fn queue_data(
        &mut self,
        id: StreamId,
        mut head: Head,
        chunks: impl IntoIterator<Item = Bytes>,
        len: usize,
        end_stream: bool,
    ) -> Result<(), StreamError> {
        let per_stream = self.config.max_send_buffer_per_stream;
        let conn_full = self.send_buffered >= self.config.max_send_buffer_per_connection;
        let empty = head.is_empty() && len == 0;
        let head_len = head.len();
        let s = self.sendable_stream(id)?;
        if !s.headers_queued {
            return Err(StreamError::HeadersFirst);
        }
        // A bare END_STREAM is always accepted: it adds nothing to the buffers.
        if !empty && (s.send_buffered >= per_stream || conn_full) {
            s.want_writable = true;
            if conn_full {
                self.conn_writable_waiters.push(id);
            }
            return Err(StreamError::BufferFull);
        }
        let entries = s.send_queue.len();
        for data in chunks {
            if data.is_empty() && head.is_empty() {
                continue;
            }
            s.send_queue.push_back(Outgoing::Data { head, data, end_stream: false });
            head = Head::default();
        }
        if !head.is_empty() {
            s.send_queue.push_back(Outgoing::Data { head, data: Bytes::new(), end_stream: false });
        }
        if end_stream {
            match s.send_queue.back_mut() {
                Some(Outgoing::Data { end_stream, .. }) => *end_stream = true,
                _ => s.send_queue.push_back(Outgoing::data(Bytes::new(), true)),
            }
        }
        // Each queue entry is charged its own size too: a flood of empty
        // messages must not be free.
        let total = head_len + len + (s.send_queue.len() - entries) * SEND_ENTRY_COST;
        s.send_buffered += total;
        s.end_queued = end_stream;
        self.send_buffered += total;
        self.schedule_stream(id);
        Ok(())
    }

    fn sendable_stream(&mut self, id: StreamId) -> Result<&mut Stream, StreamError> {
        if self.phase == Phase::Closed {
            return Err(StreamError::ConnectionClosed);
        }
        let s = self.streams.get_mut(id).ok_or(StreamError::UnknownStream(id))?;
        if let Some(code) = s.reset_code {
            return Err(StreamError::Reset(code));
        }
        if let State::Closed(Closed::RemoteReset) = s.state {
            return Err(StreamError::Reset(ErrorCode::CANCEL));
        }
        if s.end_queued || matches!(s.state, State::HalfClosedLocal | State::Closed(_)) {
            return Err(StreamError::SendClosed);
        }
        Ok(s)
    }

    /// Resets a stream (RST_STREAM with `code`); queued and unread data is dropped.
    pub fn reset_stream(&mut self, id: StreamId, code: ErrorCode) -> Result<(), StreamError> {
        let s = self.streams.get(id).ok_or(StreamError::UnknownStream(id))?;
        if s.state == State::Idle {
            // Never sent: the peer has not seen it, so just forget it.
            self.pending_open.retain(|p| *p != id);
            if let Some(gone) = self.streams.remove(id) {
                self.send_buffered -= gone.send_buffered;
            }
            self.update_idle(false);
            return Ok(());
        }
        if s.state.is_closed() {
            return Ok(());
        }
        self.reset_locally(id, code, LocalResetCause::Application);
        Ok(())
    }

    /// Asks for RST_STREAM(`code`) right after our END_STREAM is written, if the
    /// peer is still sending then: a response that is complete before the
    /// request is lets the peer stop (RFC 9113 §8.1, gRPC "Early Server Closure").
    pub fn reset_when_sent(&mut self, id: StreamId, code: ErrorCode) -> Result<(), StreamError> {
        let s = self.streams.get_mut(id).ok_or(StreamError::UnknownStream(id))?;
        s.reset_after_end = Some(code);
        Ok(())
    }

    /// Called after we sent END_STREAM on `id`.
    pub(super) fn after_end_sent(&mut self, id: StreamId) {
        let pending = self
            .streams
            .get(id)
            .and_then(|s| s.reset_after_end.filter(|_| s.state == State::HalfClosedLocal));
        if let Some(code) = pending
            && matches!(self.transition(id, Input::SendReset), Outcome::Next(_))
        {
            if let Some(s) = self.streams.get_mut(id) {
                s.reset_code = Some(code);
                let unread = s.clear_recv_queue();
                self.unbuffer(unread);
            }
            self.control
                .push_back(Frame::RstStream(crate::frame::RstStream { stream_id: id, error_code: code }));
        }
    }

    /// DATA octets queued on a stream and not yet written.
    ///
    /// Each queued entry counts [`SEND_ENTRY_COST`] besides its octets.
    pub fn send_buffered(&self, id: StreamId) -> usize {
        self.streams.get(id).map_or(0, |s| s.send_buffered)
    }

    /// Octets received on a stream and not yet read.
    pub fn recv_buffered(&self, id: StreamId) -> usize {
        self.streams.get(id).map_or(0, |s| s.recv_buffered)
    }

    /// Reads received data (zero-copy, up to `max` octets); reading is what
    /// returns flow-control credit to the peer.
    pub fn read(&mut self, id: StreamId, max: usize) -> Result<Read, StreamError> {
        let Some(s) = self.streams.get_mut(id) else {
            // A stream both sides ended, with nothing left to read, is forgotten
            // at once; reading it still says "finished" (found by the
            // pair_operations fuzz target: an empty DATA with END_STREAM).
            return match self.streams.closed_how(id) {
                Some(Closed::EndStream) => Ok(Read::Finished),
                _ => Err(StreamError::UnknownStream(id)),
            };
        };
        s.data_event_armed = true;
        let Some(data) = s.recv_queue.take(max) else {
            return match s.state {
                _ if s.recv_ended => Ok(Read::Finished),
                State::Closed(Closed::RemoteReset) | State::Closed(Closed::LocalReset) => {
                    Err(StreamError::Reset(s.reset_code.unwrap_or(ErrorCode::CANCEL)))
                }
                st if st.can_recv() || st == State::Idle => Ok(Read::Pending),
                _ => Ok(Read::Finished),
            };
        };
        let n = data.len();
        s.recv_buffered -= n;
        let fin = s.recv_queue.is_empty()
            && (s.recv_ended || (!s.state.can_recv() && !s.state.is_closed_by_reset()));
        s.recv_window.release(n as u32);
        if s.recv_window.take_update_peek() {
            self.window_update_due.push(id);
        }
        self.unbuffer(n);
        self.maybe_remove(id);
        Ok(Read::Data { data, fin })
    }

    /// Sends a PING with `payload`; its ACK is reported as `Event::Pong` with the RTT.
    pub fn ping(&mut self, now: Instant, payload: [u8; 8]) {
        // Nothing is written once the connection is closing or closed: do not
        // let frames pile up in the control queue.
        if self.phase != Phase::Open {
            return;
        }
        if self.user_pings.len() >= 16 {
            self.user_pings.pop_front();
        }
        self.user_pings.push_back((payload, now));
        self.control.push_back(Frame::Ping(Ping { ack: false, payload }));
    }

    /// Starts a graceful shutdown: no new streams; in-flight ones may finish
    /// within `Config::shutdown_grace`. A server sends GOAWAY(2^31-1) and a
    /// PING, then the final GOAWAY with the real last stream id once the PING
    /// is answered (so streams in flight are not lost); to a peer that has not
    /// sent its SETTINGS yet, the final GOAWAY at once.
    pub fn shutdown(&mut self, now: Instant) {
        if self.phase != Phase::Open || self.shutdown.is_some() {
            return;
        }
        self.pending_open_fail(now);
        match self.role {
            // A peer that never sent its SETTINGS has no request we could
            // lose: the final GOAWAY goes at once (a request of its still in
            // flight is above the last stream id, so its client may retry it).
            Role::Server if self.got_peer_settings => {
                self.queue_goaway(StreamId::MAX, ErrorCode::NO_ERROR, Bytes::new());
                self.control.push_back(Frame::Ping(Ping { ack: false, payload: ping_payload::SHUTDOWN }));
                self.shutdown = Some(Shutdown::AwaitingPing { started: now });
            }
            Role::Server | Role::Client => {
                self.queue_goaway(self.last_peer_id, ErrorCode::NO_ERROR, Bytes::new());
                self.shutdown = Some(Shutdown::Draining { deadline: now + self.config.shutdown_grace });
            }
        }
        self.check_drained();
    }

    /// Counts a stream the owner refused because of what the peer sent (a
    /// gRPC message over the size limit or malformed, a request refused
    /// before any handler saw it) toward [`Config::max_resets_per_window`],
    /// as the connection's own stream errors are counted. Past the limit the
    /// connection closes with GOAWAY ENHANCE_YOUR_CALM; returns false then.
    pub fn record_peer_fault(&mut self, now: Instant) -> bool {
        if self.phase != Phase::Open {
            return false;
        }
        if self.resets.record(now) {
            self.fail(ConnectionError::limit(Limit::Resets));
            return false;
        }
        true
    }

    /// When input last arrived (the time of the last `handle_input` or
    /// `process_input`).
    pub fn last_input_at(&self) -> Instant {
        self.last_recv_at
    }

    /// Closes the connection now with GOAWAY(`code`, `debug`).
    pub fn go_away(&mut self, code: ErrorCode, debug: Bytes) {
        if self.phase != Phase::Open {
            return;
        }
        let err = ConnectionError::local(code, ConnectionErrorKind::Application);
        self.fail_with_debug(err, debug);
    }

    /// Changes our advertised stream window (SETTINGS_INITIAL_WINDOW_SIZE); it
    /// applies to open streams once the peer acknowledges it.
    pub fn set_initial_window_size(&mut self, now: Instant, size: u32) {
        let size = size.min(crate::frame::MAX_WINDOW_SIZE);
        let settings = crate::frame::Settings { initial_window_size: Some(size), ..Default::default() };
        self.send_settings(now, settings);
    }

    /// Changes our advertised SETTINGS_MAX_CONCURRENT_STREAMS.
    pub fn set_max_concurrent_streams(&mut self, now: Instant, n: u32) {
        self.config.max_concurrent_streams = n;
        let settings = crate::frame::Settings { max_concurrent_streams: Some(n), ..Default::default() };
        self.send_settings(now, settings);
    }

    fn send_settings(&mut self, now: Instant, settings: crate::frame::Settings) {
        if self.phase != Phase::Open {
            return;
        }
        self.local.push_pending(settings, now);
        if let Some(max) = settings.max_frame_size
            && max > self.frames.max_frame_size()
        {
            self.frames.set_max_frame_size(max);
        }
        self.control.push_back(Frame::Settings(crate::frame::SettingsFrame { ack: false, settings }));
    }

    // ----- internal helpers shared by recv and send ------------------------------

    fn push_event(&mut self, e: Event) {
        // `Event::Closed` is the last event: commands issued after it (a
        // reset, a read...) must not report anything more.
        if self.phase != Phase::Closed {
            self.events.push_back(e);
        }
    }

    /// Queues a control frame owed to the peer; fails the connection when too
    /// many are owed (the peer is not reading: PING/SETTINGS floods).
    fn queue_control_answer(&mut self, frame: Frame) {
        if self.control.len() >= self.config.max_pending_control_frames {
            self.fail(ConnectionError::limit(Limit::PendingControlFrames));
            return;
        }
        self.control.push_back(frame);
    }

    fn queue_goaway(&mut self, last: StreamId, code: ErrorCode, debug: Bytes) {
        let last = match self.goaway_sent {
            // "Endpoints MUST NOT increase the value they send in the last stream identifier" (§6.8)
            Some(prev) if prev < last => prev,
            _ => last,
        };
        self.goaway_sent = Some(last);
        self.control.push_back(Frame::GoAway(GoAway {
            last_stream_id: last,
            error_code: code,
            debug_data: debug,
        }));
    }

    /// A connection error: queue GOAWAY and close once it is written.
    fn fail(&mut self, err: ConnectionError) {
        self.fail_with_debug(err, Bytes::new());
    }

    fn fail_with_debug(&mut self, err: ConnectionError, debug: Bytes) {
        if self.phase != Phase::Open {
            return;
        }
        self.error = Some(err);
        // What we owed the peer no longer matters; the GOAWAY goes first.
        self.control.clear();
        self.queue_goaway(self.last_peer_id, err.code, debug);
        self.phase = Phase::Closing;
        self.block = None;
    }

    /// Finishes the connection: every stream gets a final event.
    fn close_now(&mut self) {
        if self.phase == Phase::Closed {
            return;
        }
        self.phase = Phase::Closed;
        self.recv_buf = BytesMut::new();
        let error = self.error;
        self.events.push_back(Event::Closed { error });
    }

    /// Applies a §5.1 input to a live stream, keeping the active counters right.
    fn transition(&mut self, id: StreamId, input: Input) -> Outcome {
        let local = self.is_local(id);
        let Some(s) = self.streams.get_mut(id) else {
            return Outcome::Ignore;
        };
        let before = s.state;
        let out = before.transition(input);
        if let Outcome::Next(next) = out
            && next != before
        {
            s.state = next;
            self.on_state_change(before, next, local);
        }
        out
    }

    /// Counts a stream that became active or stopped being active, and
    /// whether the connection is now idle.
    fn on_state_change(&mut self, before: State, next: State, local: bool) {
        match (before.is_active(), next.is_active(), local) {
            (false, true, true) => self.active_local += 1,
            (false, true, false) => self.active_peer += 1,
            (true, false, true) => self.active_local -= 1,
            (true, false, false) => self.active_peer -= 1,
            _ => {}
        }
        if before == State::Idle {
            self.stats.streams_opened += 1;
        }
        // Idle time counts from the last stream's close.
        self.update_idle(next.is_closed() && !before.is_closed());
    }

    /// Starts or stops the idle clock: idle means no active stream and none
    /// waiting to open.
    fn update_idle(&mut self, restart: bool) {
        if self.active_local + self.active_peer == 0 && self.pending_open.is_empty() {
            if restart || self.idle_since.is_none() {
                self.idle_since = Some(self.last_recv_at);
            }
        } else {
            self.idle_since = None;
        }
    }

    /// True when `id` is a stream this endpoint initiates.
    fn is_local(&self, id: StreamId) -> bool {
        match self.role {
            Role::Client => id.is_client_initiated(),
            Role::Server => id.is_server_initiated(),
        }
    }

    /// `n` received octets were queued on a stream.
    pub(super) fn buffer(&mut self, n: usize) {
        self.recv_buffered += n;
        self.recv_withheld += n;
        self.rebalance_credit();
    }

    /// `n` queued octets were read, or dropped with their stream.
    pub(super) fn unbuffer(&mut self, n: usize) {
        self.recv_buffered -= n;
        self.rebalance_credit();
    }

    /// Returns the connection-level credit of received octets early: up to
    /// `Config::early_connection_credit` unread octets (or the connection
    /// window's target size, if larger) count against the streams' windows
    /// only, so a stream whose reader stalls holds its own window, not
    /// everyone's. Credit for octets past that returns as streams read them,
    /// which bounds what a connection buffers at that allowance plus one
    /// connection window. Holding all of it until read (as before)
    /// let one stalled upload, its stream window grown by BDP estimation to
    /// the connection's, stop every other call on the connection; gRPC-Go
    /// returns connection credit on arrival (`inFlow.onData`).
    pub(super) fn rebalance_credit(&mut self) {
        let early = (self.recv_window.target() as usize).max(self.config.early_connection_credit);
        let withheld = self.recv_buffered.saturating_sub(early).min(self.recv_withheld);
        let freed = self.recv_withheld - withheld;
        if freed > 0 {
            self.recv_withheld = withheld;
            self.recv_window.release(freed as u32);
        }
    }

    /// Drops a finished stream's record.
    fn maybe_remove(&mut self, id: StreamId) {
        let done = self.streams.get(id).is_some_and(Stream::is_done);
        if done {
            self.streams.remove(id);
            self.push_event(Event::StreamClosed { stream: id });
            self.check_drained();
        }
    }

    /// Resets a live stream on our initiative.
    fn reset_locally(&mut self, id: StreamId, code: ErrorCode, cause: LocalResetCause) {
        if !matches!(self.transition(id, Input::SendReset), Outcome::Next(_)) {
            return;
        }
        if let Some(s) = self.streams.get_mut(id) {
            s.reset_code = Some(code);
            let sent = s.clear_send_queue();
            let unread = s.clear_recv_queue();
            self.send_buffered -= sent;
            self.unbuffer(unread);
        }
        self.control.push_back(Frame::RstStream(crate::frame::RstStream { stream_id: id, error_code: code }));
        self.push_event(Event::Reset { stream: id, code, initiator: Initiator::Local, cause: Some(cause) });
        self.maybe_remove(id);
    }

    /// A stream error caused by the peer (§5.4.2): reset, and count it toward
    /// the reset limit.
    fn stream_error(&mut self, now: Instant, id: StreamId, code: ErrorCode, cause: LocalResetCause) {
        if self.resets.record(now) {
            self.fail(ConnectionError::limit(Limit::Resets));
            return;
        }
        match self.streams.get(id) {
            Some(s) if !s.state.is_closed() && s.state != State::Idle => self.reset_locally(id, code, cause),
            Some(_) => {}
            None if self.is_idle_id(id) => {
                // "RST_STREAM frames MUST NOT be sent for a stream in the idle state":
                // a stream-scoped violation on an idle stream breaks the connection.
                self.fail(ConnectionError::protocol(ConnectionErrorKind::StreamId));
            }
            None => self.queue_control_answer(Frame::RstStream(crate::frame::RstStream {
                stream_id: id,
                error_code: code,
            })),
        }
    }

    /// True when no stream with this id was ever opened by its initiator.
    fn is_idle_id(&self, id: StreamId) -> bool {
        if self.is_local(id) {
            id.0 >= self.next_local_id || self.streams.get(id).is_some_and(|s| s.state == State::Idle)
        } else {
            id > self.last_peer_id
        }
    }

    /// Fails streams still waiting to open (GOAWAY or shutdown).
    fn pending_open_fail(&mut self, _now: Instant) {
        while let Some(id) = self.pending_open.pop_front() {
            if let Some(gone) = self.streams.remove(id) {
                self.send_buffered -= gone.send_buffered;
            }
            self.push_event(Event::Reset {
                stream: id,
                code: ErrorCode::REFUSED_STREAM,
                initiator: Initiator::Local,
                cause: Some(LocalResetCause::Refused),
            });
        }
    }

    /// Closes the connection once a shutdown or GOAWAY has drained every stream.
    fn check_drained(&mut self) {
        if self.phase != Phase::Open {
            return;
        }
        let draining = matches!(self.shutdown, Some(Shutdown::Draining { .. }))
            || self.goaway_recv.is_some()
            || (self.role == Role::Client && self.next_local_id > StreamId::MAX.0);
        if draining && self.streams.len() == 0 && self.pending_open.is_empty() {
            if self.goaway_sent.is_none() {
                self.queue_goaway(self.last_peer_id, ErrorCode::NO_ERROR, Bytes::new());
            }
            self.phase = Phase::Closing;
        }
    }
}

impl State {
    /// True when closed by RST_STREAM either way.
    fn is_closed_by_reset(self) -> bool {
        matches!(self, State::Closed(Closed::LocalReset | Closed::RemoteReset))
    }
}

impl RecvWindow {
    /// True when a WINDOW_UPDATE would be due now (without claiming it).
    fn take_update_peek(&self) -> bool {
        let mut copy = *self;
        copy.take_update().is_some()
    }
}
