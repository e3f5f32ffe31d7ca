//! The client side of gRPC: request headers, messages, half-close,
//! cancellation, response headers, trailers and deadlines.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;

use super::compression::{Compression, Compressors};
use super::inbound::{Inbound, Pumped, Received, RecvBatch, RecvHold, RecvMessage, Room, first_partial};
use super::metadata::Metadata;
use super::status::{Code, Status};
use super::timeout::format_timeout;
use super::{
    CONTENT_TYPE, CallId, Deadlines, Payload, codec, frame_message, gone, is_grpc_content_type, parse_status,
    send_batch, send_framed, stream_status,
};
use crate::conn::{self, Connection, ConnectionError, Event, HeadersKind, OpenError, Role, TransmitBuf};
use crate::error_code::ErrorCode;
use crate::frame::StreamId;
use crate::hash::FxBuild;
use crate::headers::Headers;
use crate::hpack::HeaderField;

/// Client configuration.
#[derive(Clone, Debug)]
pub struct ClientConfig {
    /// HTTP/2 settings and limits.
    pub h2: conn::Config,
    /// Largest response message accepted (after decompression).
    pub max_recv_message_size: usize,
    /// Largest request message sent.
    pub max_send_message_size: usize,
    /// Response bytes the calls of one connection may hold in the core
    /// (partial messages and whole ones not yet taken); the same rule as
    /// [`super::ServerConfig::max_recv_buffer_per_connection`].
    pub max_recv_buffer_per_connection: usize,
    /// Supported compression algorithms (advertised in `grpc-accept-encoding`).
    pub compressors: Compressors,
    /// `user-agent` sent with every call.
    pub user_agent: Bytes,
    /// `:scheme` (`http` or `https`).
    pub scheme: Bytes,
}

/// SETTINGS_MAX_FRAME_SIZE and stream window a client advertises by default
/// (4 MiB; RFC 9113 §6.5.2 allows frames up to 2^24-1): a large response
/// message then arrives in one frame, is read straight into one buffer and is
/// handed out without being copied back together. (tonic's default stream
/// window is 2 MiB; the connection window is twice this.)
pub const DEFAULT_CLIENT_MAX_FRAME_SIZE: u32 = 4 << 20;

impl Default for ClientConfig {
    fn default() -> Self {
        ClientConfig {
            // Large DATA frames from the server: a big response message then
            // arrives in one frame, read straight into one buffer and handed
            // out without being copied back together.
            h2: conn::Config {
                max_frame_size: DEFAULT_CLIENT_MAX_FRAME_SIZE,
                initial_stream_window: DEFAULT_CLIENT_MAX_FRAME_SIZE,
                initial_connection_window: 2 * DEFAULT_CLIENT_MAX_FRAME_SIZE,
                ..conn::Config::default()
            },
            max_recv_message_size: codec::DEFAULT_MAX_RECV_MESSAGE,
            max_send_message_size: usize::MAX,
            max_recv_buffer_per_connection: super::server::DEFAULT_MAX_RECV_BUFFER_PER_CONNECTION,
            compressors: Compressors::builtin(),
            user_agent: Bytes::from_static(concat!("grpc-rust-weir/", env!("CARGO_PKG_VERSION")).as_bytes()),
            scheme: Bytes::from_static(b"http"),
        }
    }
}

/// How the message of the UNAVAILABLE status begins when the server cannot
/// have processed a call: it refused the stream (RST_STREAM REFUSED_STREAM),
/// left it unprocessed (above GOAWAY's last stream id), or the connection
/// ended before the call's HEADERS were written. A client may retry such a
/// call transparently (gRFC A6).
pub const UNPROCESSED: &str = "the call was not processed by the server";

/// A call to start.
#[derive(Clone, Debug, Default)]
pub struct CallRequest {
    /// `/package.Service/Method`.
    pub path: Bytes,
    /// `:authority` (host\[:port\]).
    pub authority: Bytes,
    /// Custom metadata.
    pub metadata: Metadata,
    /// Deadline relative to the start (sent as `grpc-timeout`).
    pub timeout: Option<Duration>,
    /// Compress request messages with this algorithm (`grpc-encoding`).
    pub compression: Option<&'static str>,
}

impl CallRequest {
    /// A call to `path` at `authority`.
    pub fn new(path: impl Into<Bytes>, authority: impl Into<Bytes>) -> Self {
        CallRequest { path: path.into(), authority: authority.into(), ..CallRequest::default() }
    }
}

/// What happened, from the client's point of view.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ClientEvent {
    /// The response header section arrived.
    Headers {
        /// The call.
        call: CallId,
        /// Custom metadata.
        metadata: Metadata,
    },
    /// A message can be read with [`Client::recv_message`] (reported once until
    /// `recv_message` is called again).
    Message {
        /// The call.
        call: CallId,
    },
    /// The call is over. Messages received before it can still be read.
    Finished {
        /// The call.
        call: CallId,
        /// The final status.
        status: Status,
        /// Trailing metadata.
        trailers: Metadata,
    },
    /// More request data can be queued.
    Writable {
        /// The call.
        call: CallId,
    },
    /// The server sent GOAWAY: calls above `last_call` were not processed.
    GoAway {
        /// Its error code.
        code: ErrorCode,
        /// Highest stream the server processed.
        last_stream_id: StreamId,
    },
    /// The connection is finished.
    Closed {
        /// The error that ended it, if any.
        error: Option<ConnectionError>,
    },
}

#[derive(Debug)]
struct ClientCall {
    inbound: Inbound,
    send_compression: Option<Arc<dyn Compression>>,
    deadline: Option<Instant>,
    /// The final status is known; only buffered messages remain to be read.
    finished: bool,
    half_closed: bool,
}

/// Receive states kept for reuse (each holds two small queues).
const SPARE_INBOUND: usize = 64;

/// A gRPC client connection (Sans-IO).
#[derive(Debug)]
pub struct Client {
    h2: Connection,
    config: ClientConfig,
    calls: HashMap<StreamId, ClientCall, FxBuild>,
    deadlines: Deadlines,
    events: VecDeque<ClientEvent>,
    /// Receive state of finished calls, reused by new ones.
    spare: Vec<Inbound>,
    /// Response bytes held by the calls, against their per-connection limit.
    hold: RecvHold,
}

impl Client {
    /// A client connection, created when the transport connected.
    pub fn new(config: ClientConfig, now: Instant) -> Self {
        Client {
            h2: Connection::new(Role::Client, config.h2.clone(), now),
            calls: HashMap::default(),
            deadlines: Deadlines::default(),
            events: VecDeque::new(),
            spare: Vec::new(),
            hold: RecvHold::new(config.max_recv_buffer_per_connection),
            config,
        }
    }

    /// True when a new call can start now.
    pub fn can_start_call(&self) -> bool {
        self.h2.can_open()
    }

    crate::endpoint::forward_io_to_h2!();

    /// Runs expired timers: HTTP/2 ones and call deadlines.
    pub fn handle_timeout(&mut self, now: Instant) {
        self.h2.handle_timeout(now);
        for call in self.deadlines.expired(now) {
            if self.calls.get(&call.0).is_some_and(|c| !c.finished) {
                // PROTOCOL-HTTP2: "The RPC's deadline expiring is considered a client
                // cancellation": RST_STREAM(CANCEL), DEADLINE_EXCEEDED locally.
                let _ = self.h2.reset_stream(call.0, ErrorCode::CANCEL);
                self.finish_call(
                    call,
                    Status::new(Code::DeadlineExceeded, "deadline exceeded"),
                    Metadata::new(),
                );
            }
        }
        self.process_events(now);
    }

    /// The earliest deadline of the connection or any call.
    pub fn poll_timeout(&self) -> Option<Instant> {
        [self.h2.poll_timeout(), self.deadlines.next()].into_iter().flatten().min()
    }

    /// The next event.
    pub fn poll_event(&mut self) -> Option<ClientEvent> {
        self.events.pop_front()
    }

    /// Stops starting calls; the connection closes when the last one ends.
    pub fn shutdown(&mut self, now: Instant) {
        self.h2.shutdown(now);
    }

    // ----- commands -------------------------------------------------------------

    /// Starts a call: queues the request headers.
    pub fn start_call(&mut self, now: Instant, req: CallRequest) -> Result<CallId, Status> {
        let send_compression =
            match req.compression {
                None | Some("identity") => None,
                Some(name) => {
                    Some(self.config.compressors.get(name.as_bytes()).cloned().ok_or_else(|| {
                        Status::new(Code::Internal, format!("compressor {name} not installed"))
                    })?)
                }
            };
        let mut h = self.h2.take_headers();
        h.pseudo.method = Some(Bytes::from_static(b"POST"));
        h.pseudo.scheme = Some(self.config.scheme.clone());
        h.pseudo.authority = Some(req.authority);
        h.pseudo.path = Some(req.path);
        let f = &mut h.fields;
        f.reserve(7 + req.metadata.len());
        // PROTOCOL-HTTP2: "implementations should send Timeout immediately after
        // the reserved headers".
        if let Some(t) = req.timeout {
            f.push(HeaderField::new(Bytes::from_static(b"grpc-timeout"), format_timeout(t)));
        }
        f.push(HeaderField::new(Bytes::from_static(b"content-type"), Bytes::from_static(CONTENT_TYPE)));
        f.push(HeaderField::new(Bytes::from_static(b"te"), Bytes::from_static(b"trailers")));
        if let Some(algo) = &send_compression {
            f.push(HeaderField::new(
                Bytes::from_static(b"grpc-encoding"),
                Bytes::from_static(algo.name().as_bytes()),
            ));
        }
        f.push(HeaderField::new(
            Bytes::from_static(b"grpc-accept-encoding"),
            self.config.compressors.accept_encoding(),
        ));
        f.push(HeaderField::new(Bytes::from_static(b"user-agent"), self.config.user_agent.clone()));
        req.metadata.to_fields(f);
        let id = self.h2.open_stream(h, false).map_err(open_status)?;
        let call = CallId(id);
        let deadline = req.timeout.map(|t| now + t);
        if let Some(d) = deadline {
            self.deadlines.insert(d, call);
        }
        // Response decompression is set from the response's grpc-encoding.
        let inbound = self.new_inbound(None);
        self.calls.insert(
            id,
            ClientCall { inbound, send_compression, deadline, finished: false, half_closed: false },
        );
        Ok(call)
    }

    /// Queues a request message (compressed when the call has an encoding).
    pub fn send_message(&mut self, call: CallId, msg: Bytes) -> Result<(), Status> {
        self.send(call, msg, false, None)
    }

    /// Queues the last request message and half-closes in one step.
    pub fn send_last_message(&mut self, call: CallId, msg: Bytes) -> Result<(), Status> {
        self.send(call, msg, true, None)
    }

    /// Queues a request message, choosing whether this one is compressed
    /// (`None`: as the call's encoding says; `Some(true)` needs an encoding).
    pub fn send_message_with(
        &mut self,
        call: CallId,
        msg: Bytes,
        compress: Option<bool>,
        last: bool,
    ) -> Result<(), Status> {
        self.send(call, msg, last, compress)
    }

    fn send(&mut self, call: CallId, msg: Bytes, end: bool, compress: Option<bool>) -> Result<(), Status> {
        let c = self.calls.get_mut(&call.0).filter(|c| !c.finished && !c.half_closed).ok_or_else(gone)?;
        let algo = if compress == Some(false) { None } else { c.send_compression.as_deref() };
        if compress == Some(true) && algo.is_none() {
            return Err(Status::new(
                Code::Internal,
                "message compression asked for on a call without grpc-encoding",
            ));
        }
        let framed = frame_message(Payload::One(msg), algo, self.config.max_send_message_size)?;
        c.half_closed = end;
        send_framed(&mut self.h2, call.0, framed, end).map_err(stream_status)
    }

    /// Queues request messages the owner framed into one buffer (see
    /// [`super::Server::send_framed`]); `last` ends the request stream.
    pub fn send_framed(&mut self, call: CallId, framed: Bytes, last: bool) -> Result<(), Status> {
        let c = self.calls.get_mut(&call.0).filter(|c| !c.finished && !c.half_closed).ok_or_else(gone)?;
        let algo = c.send_compression.clone();
        let sent = send_batch(
            &mut self.h2,
            call.0,
            framed,
            algo.as_deref(),
            self.config.max_send_message_size,
            last,
        );
        // A batch refused before anything was queued leaves the stream open.
        c.half_closed = last && sent.is_ok();
        sent
    }

    /// Ends the request stream (no more messages).
    pub fn half_close(&mut self, call: CallId) -> Result<(), Status> {
        let c = self.calls.get_mut(&call.0).filter(|c| !c.finished).ok_or_else(gone)?;
        if c.half_closed {
            return Ok(());
        }
        c.half_closed = true;
        self.h2.send_data(call.0, Bytes::new(), true).map_err(stream_status)
    }

    /// True when a message can be queued without waiting for `Writable`.
    pub fn is_writable(&self, call: CallId) -> bool {
        self.h2.is_writable(call.0)
    }

    /// Like [`Self::is_writable`], and when false a `Writable` event follows
    /// once the call can take more.
    pub fn poll_writable(&mut self, call: CallId) -> bool {
        self.h2.poll_writable(call.0)
    }

    /// Cancels a call: RST_STREAM(CANCEL); a `Finished` event with CANCELLED follows.
    pub fn cancel(&mut self, call: CallId) {
        if self.calls.get(&call.0).is_some_and(|c| !c.finished) {
            let _ = self.h2.reset_stream(call.0, ErrorCode::CANCEL);
            self.finish_call(call, Status::new(Code::Cancelled, "call cancelled"), Metadata::new());
        }
    }

    /// The next response message of a call.
    pub fn recv_message(&mut self, call: CallId) -> Result<RecvMessage, Status> {
        self.recv_message_flagged(call).map(|(m, _)| m)
    }

    /// [`Client::recv_message`], with whether the message had the compressed
    /// flag set.
    pub fn recv_message_flagged(&mut self, call: CallId) -> Result<(RecvMessage, bool), Status> {
        let allowance = self.allowance(call.0);
        let Some(c) = self.calls.get_mut(&call.0) else {
            return Ok((RecvMessage::End, false));
        };
        c.inbound.armed = true;
        let out = match self.hold.pump(&mut c.inbound, &mut self.h2, call.0, allowance) {
            Ok(Pumped::Ready) => {
                let before = c.inbound.held();
                let taken = c.inbound.take();
                self.hold.adjust(before, c.inbound.held());
                taken.map(|m| match m {
                    Some((data, compressed)) => (RecvMessage::Message(data), compressed),
                    None => (RecvMessage::Pending, false),
                })
            }
            Ok(Pumped::Waiting | Pumped::Starved) if c.finished => Ok((RecvMessage::End, false)),
            Ok(Pumped::Waiting | Pumped::Starved) => Ok((RecvMessage::Pending, false)),
            Ok(Pumped::Ended) => Ok((RecvMessage::End, false)),
            Err(e) => Err(e),
        };
        self.after_recv(call, &out);
        out
    }

    /// Takes every whole response message of `call` that fits `room` into
    /// `out` (decompressed, with its compressed flag): one call for a batch
    /// of [`Client::recv_message_flagged`]. On an error the call has failed
    /// as there, and the messages before the error are in `out`.
    pub fn recv_messages(
        &mut self,
        call: CallId,
        room: Room,
        out: &mut Received,
    ) -> Result<RecvBatch, Status> {
        let allowance = self.allowance(call.0);
        let Some(c) = self.calls.get_mut(&call.0) else {
            return Ok(RecvBatch::End);
        };
        let finished = c.finished;
        let out = self.hold.recv_batch(&mut c.inbound, &mut self.h2, call.0, allowance, room, out, finished);
        self.after_recv(call, &out);
        out
    }

    /// After taking messages: forgets a finished and drained call, or fails
    /// one whose response stream broke.
    fn after_recv<T>(&mut self, call: CallId, out: &Result<T, Status>) {
        match out {
            Ok(_) => self.forget_if_done(call),
            Err(status) => {
                // A broken response stream fails the call (and the stream).
                let status = status.clone();
                if self.calls.get(&call.0).is_some_and(|c| !c.finished) {
                    let _ = self.h2.reset_stream(call.0, ErrorCode::CANCEL);
                    self.finish_call(call, status, Metadata::new());
                }
                if let Some(c) = self.calls.remove(&call.0) {
                    self.retire(c);
                }
            }
        }
        self.wake_starved();
    }

    /// Bytes a call may pull from its stream now.
    fn allowance(&self, id: StreamId) -> usize {
        self.hold.allowance(|| first_partial(self.calls.iter().map(|(id, c)| (id, &c.inbound))) == Some(id))
    }

    /// Pumps again the calls that stopped at the limit, once bytes were released.
    fn wake_starved(&mut self) {
        for id in self.hold.take_starved_if_released() {
            self.on_data(id);
        }
    }

    /// Response bytes the calls hold in the core, as counted against
    /// [`ClientConfig::max_recv_buffer_per_connection`].
    pub fn recv_held(&self) -> usize {
        self.hold.held()
    }

    fn new_inbound(&mut self, encoding: Option<Arc<dyn Compression>>) -> Inbound {
        let max = self.config.max_recv_message_size;
        match self.spare.pop() {
            Some(mut i) => {
                i.reset(max, encoding);
                i
            }
            None => Inbound::new(max, encoding),
        }
    }

    /// Keeps a finished call's receive state for reuse.
    fn retire(&mut self, c: ClientCall) {
        self.hold.adjust(c.inbound.held(), 0);
        if self.spare.len() < SPARE_INBOUND {
            self.spare.push(c.inbound);
        }
    }

    /// Drops a finished call's record once every message was read.
    fn forget_if_done(&mut self, call: CallId) {
        let drained = self.calls.get(&call.0).is_some_and(|c| c.finished && c.inbound.is_drained())
            && self.h2.recv_buffered(call.0) == 0;
        if drained && let Some(c) = self.calls.remove(&call.0) {
            self.retire(c);
        }
    }

    // ----- HTTP/2 events → calls ------------------------------------------------

    fn process_events(&mut self, now: Instant) {
        while let Some(e) = self.h2.poll_event() {
            match e {
                Event::Headers { stream, kind: HeadersKind::Response, headers, end_stream } => {
                    self.on_response(stream, headers, end_stream)
                }
                Event::Headers { stream, kind: HeadersKind::Trailers, headers, .. } => {
                    self.on_trailers(stream, headers)
                }
                Event::Headers { .. } => {}
                Event::Data { stream, .. } => self.on_data(stream),
                Event::Reset { stream, code, initiator, .. } => {
                    let status = match (code, initiator) {
                        (ErrorCode::REFUSED_STREAM, _) => {
                            Status::new(Code::Unavailable, format!("{UNPROCESSED}: stream refused"))
                        }
                        // PROTOCOL-HTTP2: "when a call fails with CANCELLED status the
                        // client is encouraged to check whether the deadline has expired
                        // and fail the call with DEADLINE_EXCEEDED instead".
                        (ErrorCode::CANCEL, conn::Initiator::Remote)
                            if self.calls.get(&stream).and_then(|c| c.deadline).is_some_and(|d| d <= now) =>
                        {
                            Status::new(Code::DeadlineExceeded, "deadline exceeded")
                        }
                        (c, conn::Initiator::Remote) => {
                            Status::new(Code::from_h2_reset(c), format!("stream reset by server: {c}"))
                        }
                        (c, conn::Initiator::Local) => {
                            Status::new(Code::Internal, format!("stream reset: {c}"))
                        }
                    };
                    self.finish_call(CallId(stream), status, Metadata::new());
                }
                Event::Writable { stream } => {
                    if self.calls.contains_key(&stream) {
                        self.events.push_back(ClientEvent::Writable { call: CallId(stream) });
                    }
                }
                Event::GoAway { code, last_stream_id, .. } => {
                    self.events.push_back(ClientEvent::GoAway { code, last_stream_id })
                }
                Event::Closed { error } => {
                    let ids: Vec<StreamId> = self.calls.keys().copied().collect();
                    let msg = match &error {
                        Some(e) => format!("connection closed: {e}"),
                        None => "connection closed".to_string(),
                    };
                    for id in ids {
                        // A call whose HEADERS never left, or that the server
                        // never answered before the connection broke, was not
                        // processed as far as anyone can tell.
                        let msg = match self.h2.unanswered_at_abrupt_end(id) {
                            false => msg.clone(),
                            true => format!("{UNPROCESSED}: {msg} before it was answered"),
                        };
                        self.finish_call(CallId(id), Status::new(Code::Unavailable, msg), Metadata::new());
                    }
                    self.events.push_back(ClientEvent::Closed { error });
                }
                Event::Connected | Event::StreamClosed { .. } | Event::Pong { .. } => {}
            }
        }
    }

    fn on_response(&mut self, id: StreamId, h: Arc<Headers>, end_stream: bool) {
        let call = CallId(id);
        if !self.calls.contains_key(&id) {
            return;
        }
        let http = h.pseudo.status.unwrap_or(0);
        // PROTOCOL-HTTP2: implementations "must synthesize a Status" for broken
        // deployments (non-200, non-gRPC content-type, missing status).
        if http != 200 {
            let grpc =
                if end_stream { h.get(b"grpc-status").and_then(|v| Code::parse_header(v)) } else { None };
            let status = match grpc {
                Some(_) => parse_status(&h),
                None => {
                    Status::new(Code::from_http_status(http), format!("unexpected HTTP status code {http}"))
                }
            };
            return self.fail_stream(call, status);
        }
        let ct = h.get(b"content-type").map(|v| &v[..]).unwrap_or_default();
        let trailers_only = end_stream && h.get(b"grpc-status").is_some();
        if !(is_grpc_content_type(ct) || trailers_only) {
            let msg = format!("unexpected content-type {:?}", String::from_utf8_lossy(ct));
            return self.fail_stream(call, Status::new(Code::Unknown, msg));
        }
        if end_stream {
            // Trailers-only.
            return self.on_trailers(id, h);
        }
        let encoding = match h.get(b"grpc-encoding").map(|v| &v[..]) {
            None | Some(b"identity") => None,
            Some(name) => match self.config.compressors.get(name) {
                Some(a) => Some(a.clone()),
                None => {
                    let msg =
                        format!("response compressed with unsupported {:?}", String::from_utf8_lossy(name));
                    return self.fail_stream(call, Status::new(Code::Internal, msg));
                }
            },
        };
        let metadata = match Metadata::from_received(&h.fields) {
            Ok(m) => m,
            Err(e) => {
                return self
                    .fail_stream(call, Status::new(Code::Internal, format!("malformed metadata: {e}")));
            }
        };
        if let Some(c) = self.calls.get_mut(&id) {
            let before = c.inbound.held();
            c.inbound.reset(self.config.max_recv_message_size, encoding);
            self.hold.adjust(before, 0);
        }
        self.events.push_back(ClientEvent::Headers { call, metadata });
    }

    fn on_trailers(&mut self, id: StreamId, h: Arc<Headers>) {
        let call = CallId(id);
        let Some(c) = self.calls.get_mut(&id) else {
            return;
        };
        let mut status = super::parse_status(&h);
        // Everything before the trailers is final: a partial message is an error.
        let before = c.inbound.held();
        let finished = c.inbound.finish_stream(&mut self.h2, id);
        self.hold.adjust(before, c.inbound.held());
        if let Err(e) = finished {
            status = e;
        }
        let mut trailers = Metadata::from_received(&h.fields).unwrap_or_default();
        // A failure carries its trailers (as a Status should); a success
        // reports them beside the status.
        if !status.is_ok() {
            status.metadata = std::mem::take(&mut trailers);
        }
        // "when a client receives Trailers before the client's END_STREAM, then the
        // client should send RST_STREAM with NO_ERROR".
        if !c.half_closed {
            let _ = self.h2.reset_stream(id, ErrorCode::NO_ERROR);
        }
        self.finish_call(call, status, trailers);
    }

    fn on_data(&mut self, id: StreamId) {
        let allowance = self.allowance(id);
        let Some(c) = self.calls.get_mut(&id) else {
            while let Ok(conn::Read::Data { .. }) = self.h2.read(id, usize::MAX) {}
            return;
        };
        if c.finished {
            return;
        }
        match self.hold.pump(&mut c.inbound, &mut self.h2, id, allowance) {
            Ok(Pumped::Ready) if c.inbound.armed => {
                c.inbound.armed = false;
                self.events.push_back(ClientEvent::Message { call: CallId(id) });
            }
            Ok(_) => {}
            Err(status) => {
                let _ = self.h2.reset_stream(id, ErrorCode::CANCEL);
                self.finish_call(CallId(id), status, Metadata::new());
            }
        }
    }

    fn fail_stream(&mut self, call: CallId, status: Status) {
        let _ = self.h2.reset_stream(call.0, ErrorCode::CANCEL);
        self.finish_call(call, status, Metadata::new());
    }

    /// Records the final status once and reports it.
    fn finish_call(&mut self, call: CallId, status: Status, trailers: Metadata) {
        let Some(c) = self.calls.get_mut(&call.0) else {
            return;
        };
        if c.finished {
            return;
        }
        c.finished = true;
        let deadline = c.deadline.take();
        self.deadlines.remove(deadline, call);
        self.events.push_back(ClientEvent::Finished { call, status, trailers });
        self.forget_if_done(call);
    }
}

fn open_status(e: OpenError) -> Status {
    match e {
        OpenError::ConcurrencyLimit => {
            Status::new(Code::ResourceExhausted, "too many calls waiting for a stream")
        }
        other => Status::new(Code::Unavailable, format!("cannot start a call on this connection: {other:?}")),
    }
}
