//! The client side of gRPC: request headers, messages, half-close,
//! cancellation, response headers, trailers and deadlines.

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;

use super::BatchCheck;
use super::calls::{Call, Calls, MessageConfig, Report, WireBytes, push_call_fields, recv_methods};
use super::inbound::{RecvBatch, RecvMessage, Rest, Room};
use super::metadata::Metadata;
use super::received::Received;
use super::status::{Code, Status};
use super::timeout::format_timeout;
use super::{
    CallId, Payload, frame_message, framed_len, gone, is_grpc_content_type, parse_status, send_framed,
    stream_status,
};
use crate::conn::{self, Connection, ConnectionError, Event, HeadersKind, OpenError, Role, TransmitBuf};
use crate::error_code::ErrorCode;
use crate::frame::StreamId;
use crate::headers::Headers;
use crate::hpack::HeaderField;

/// Client configuration.
#[derive(Clone, Debug)]
pub struct ClientConfig {
    /// HTTP/2 settings and limits.
    pub h2: conn::Config,
    /// `:scheme` (`http` or `https`).
    pub scheme: Bytes,
    /// `user-agent` sent with every call.
    pub user_agent: Bytes,
    /// Message limits and compression (requests sent, responses received).
    pub messages: MessageConfig,
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
            messages: MessageConfig::default(),
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
    /// This call's largest request message, when below
    /// [`MessageConfig::max_send_message_size`] (a service config's
    /// `maxRequestMessageBytes`).
    pub max_send_message_size: Option<usize>,
    /// This call's largest response message, when below
    /// [`MessageConfig::max_recv_message_size`] (`maxResponseMessageBytes`).
    pub max_recv_message_size: Option<usize>,
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
        /// What the call's messages took on the wire (all of them: every
        /// response message was received by now).
        wire: WireBytes,
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
struct ClientSide {
    /// The request stream is ended.
    half_closed: bool,
    /// The call's message limits (the connection's, or lower).
    max_send: usize,
    max_recv: usize,
}

/// A gRPC client connection (Sans-IO).
#[derive(Debug)]
pub struct Client {
    calls: Calls<ClientSide, ClientEvent>,
    config: ClientConfig,
}

impl Client {
    /// A client connection, created when the transport connected.
    pub fn new(config: ClientConfig, now: Instant) -> Self {
        let calls = Calls::new(Role::Client, &config.h2, &config.messages, now);
        Client { calls, config }
    }

    /// True when a new call can start now.
    pub fn can_start_call(&self) -> bool {
        self.calls.h2.can_open()
    }

    crate::endpoint::forward_io_to_h2!(ClientEvent);

    /// Runs expired timers: HTTP/2 ones and call deadlines.
    pub fn handle_timeout(&mut self, now: Instant) {
        for call in self.calls.handle_timeout(now) {
            if self.calls.get(call).is_some_and(|c| !c.finished) {
                // PROTOCOL-HTTP2: "The RPC's deadline expiring is considered a client
                // cancellation": RST_STREAM(CANCEL), DEADLINE_EXCEEDED locally.
                let _ = self.calls.h2.reset_stream(call.0, ErrorCode::CANCEL);
                self.finish_call(
                    call,
                    Status::new(Code::DeadlineExceeded, "deadline exceeded"),
                    Metadata::new(),
                );
            }
        }
        self.process_events(now);
    }

    /// Stops starting calls; the connection closes when the last one ends.
    pub fn shutdown(&mut self, now: Instant) {
        self.calls.h2.shutdown(now);
    }

    // ----- commands -------------------------------------------------------------

    /// Starts a call: queues the request headers.
    pub fn start_call(&mut self, now: Instant, req: CallRequest) -> Result<CallId, Status> {
        let send_compression =
            match req.compression {
                None | Some("identity") => None,
                Some(name) => {
                    Some(self.config.messages.compressors.get(name.as_bytes()).cloned().ok_or_else(|| {
                        Status::new(Code::Internal, format!("compressor {name} not installed"))
                    })?)
                }
            };
        let mut h = self.calls.h2.take_headers();
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
        let te = HeaderField::new(Bytes::from_static(b"te"), Bytes::from_static(b"trailers"));
        push_call_fields(f, Some(te), send_compression.as_ref(), &self.config.messages.compressors);
        f.push(HeaderField::new(Bytes::from_static(b"user-agent"), self.config.user_agent.clone()));
        req.metadata.to_fields(f);
        let id = self.calls.h2.open_stream(h, false).map_err(open_status)?;
        let call = CallId(id);
        let deadline = req.timeout.map(|t| now + t);
        // Response decompression is set from the response's grpc-encoding.
        let limits = &self.config.messages;
        let max_send = req
            .max_send_message_size
            .map_or(limits.max_send_message_size, |n| n.min(limits.max_send_message_size));
        let max_recv = req
            .max_recv_message_size
            .map_or(limits.max_recv_message_size, |n| n.min(limits.max_recv_message_size));
        let inbound = self.calls.new_inbound(None, max_recv);
        let side = ClientSide { half_closed: false, max_send, max_recv };
        self.calls.insert(call, Call::new(inbound, send_compression, deadline, side));
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
        let c = self.calls.get_mut(call).filter(|c| !c.finished && !c.side.half_closed).ok_or_else(gone)?;
        let algo = if compress == Some(false) { None } else { c.send_compression.as_deref() };
        if compress == Some(true) && algo.is_none() {
            return Err(Status::new(
                Code::Internal,
                "message compression asked for on a call without grpc-encoding",
            ));
        }
        let framed = frame_message(Payload::One(msg), algo, c.side.max_send)?;
        c.side.half_closed = end;
        c.wire_sent += framed_len(&framed);
        send_framed(&mut self.calls.h2, call.0, framed, end).map_err(stream_status)
    }

    /// Queues request messages the owner framed into one buffer (see
    /// [`super::Server::send_framed`]); `last` ends the request stream.
    pub fn send_framed(&mut self, call: CallId, framed: Bytes, last: bool) -> Result<(), Status> {
        self.send_framed_checked(call, framed, None, last)
    }

    /// [`Client::send_framed`] for a batch already checked where it was
    /// framed (see [`super::Server::send_framed_checked`]).
    pub fn send_framed_checked(
        &mut self,
        call: CallId,
        framed: Bytes,
        check: Option<BatchCheck>,
        last: bool,
    ) -> Result<(), Status> {
        let c = self
            .calls
            .map
            .get_mut(&call.0)
            .filter(|c| !c.finished && !c.side.half_closed)
            .ok_or_else(gone)?;
        // A batch refused before anything was queued leaves the stream open.
        c.side.half_closed = last;
        let max_send = c.side.max_send;
        let sent = self.calls.send_batch(call, framed, check, max_send, last);
        if let (Err(_), Some(c)) = (&sent, self.calls.get_mut(call)) {
            c.side.half_closed = false;
        }
        sent
    }

    /// Ends the request stream (no more messages).
    pub fn half_close(&mut self, call: CallId) -> Result<(), Status> {
        let c = self.calls.get_mut(call).filter(|c| !c.finished).ok_or_else(gone)?;
        if c.side.half_closed {
            return Ok(());
        }
        c.side.half_closed = true;
        self.calls.h2.send_data(call.0, Bytes::new(), true).map_err(stream_status)
    }

    /// Cancels a call: RST_STREAM(CANCEL); a `Finished` event with CANCELLED follows.
    pub fn cancel(&mut self, call: CallId) {
        if self.calls.get(call).is_some_and(|c| !c.finished) {
            let _ = self.calls.h2.reset_stream(call.0, ErrorCode::CANCEL);
            self.finish_call(call, Status::new(Code::Cancelled, "call cancelled"), Metadata::new());
        }
    }

    recv_methods!();

    /// A finished call's messages not yet taken, out of the connection (which
    /// forgets the call): they are cut from the received octets as they are
    /// taken from the [`Rest`], instead of being queued first. `None` when
    /// the call is not finished, holds fewer than two messages, or holds a
    /// compressed one (take those with [`Client::recv_messages`]).
    pub fn take_rest(&mut self, call: CallId) -> Option<Rest> {
        let rest = self.calls.take_rest(call)?;
        self.wake_starved();
        Some(rest)
    }

    /// After taking messages: forgets a finished and drained call, or fails
    /// one whose response stream broke.
    fn after_recv<T>(&mut self, call: CallId, out: &Result<T, Status>) {
        match out {
            Ok(_) => self.forget_if_done(call),
            Err(status) => {
                // A broken response stream fails the call (and the stream).
                if self.calls.get(call).is_some_and(|c| !c.finished) {
                    self.fail_stream(call, status.clone());
                }
                self.calls.remove(call);
            }
        }
        self.wake_starved();
    }

    /// Drops a finished call's record once every message was read.
    fn forget_if_done(&mut self, call: CallId) {
        let drained = self.calls.get(call).is_some_and(|c| c.finished && c.inbound.is_drained())
            && self.calls.h2.recv_buffered(call.0) == 0;
        if drained {
            self.calls.remove(call);
        }
    }

    // ----- HTTP/2 events → calls ------------------------------------------------

    fn process_events(&mut self, now: Instant) {
        while let Some(e) = self.calls.h2.poll_event() {
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
                            if self
                                .calls
                                .map
                                .get(&stream)
                                .and_then(|c| c.deadline)
                                .is_some_and(|d| d <= now) =>
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
                    if self.calls.contains(CallId(stream)) {
                        self.calls.events.push_back(ClientEvent::Writable { call: CallId(stream) });
                    }
                }
                Event::GoAway { code, last_stream_id, .. } => {
                    self.calls.events.push_back(ClientEvent::GoAway { code, last_stream_id })
                }
                Event::Closed { error } => {
                    let ids: Vec<StreamId> = self.calls.map.keys().copied().collect();
                    let msg = match &error {
                        Some(e) => format!("connection closed: {e}"),
                        None => "connection closed".to_string(),
                    };
                    for id in ids {
                        // A call whose HEADERS never left, or that the server
                        // never answered before the connection broke, was not
                        // processed as far as anyone can tell.
                        let msg = match self.calls.h2.unanswered_at_abrupt_end(id) {
                            false => msg.clone(),
                            true => format!("{UNPROCESSED}: {msg} before it was answered"),
                        };
                        self.finish_call(CallId(id), Status::new(Code::Unavailable, msg), Metadata::new());
                    }
                    self.calls.events.push_back(ClientEvent::Closed { error });
                }
                Event::Connected | Event::StreamClosed { .. } | Event::Pong { .. } => {}
            }
        }
    }

    fn on_response(&mut self, id: StreamId, h: Arc<Headers>, end_stream: bool) {
        let call = CallId(id);
        if !self.calls.contains(call) {
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
            Some(name) => match self.config.messages.compressors.get(name) {
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
        if let Some(c) = self.calls.map.get_mut(&id) {
            let before = c.inbound.held();
            c.inbound.reset(c.side.max_recv, encoding);
            self.calls.hold.adjust(before, 0);
        }
        self.calls.events.push_back(ClientEvent::Headers { call, metadata });
    }

    fn on_trailers(&mut self, id: StreamId, h: Arc<Headers>) {
        let call = CallId(id);
        let Some(c) = self.calls.map.get_mut(&id) else {
            return;
        };
        let mut status = super::parse_status(&h);
        // Everything before the trailers is final: a partial message is an error.
        let before = c.inbound.held();
        let finished = c.inbound.finish_stream(&mut self.calls.h2, id);
        self.calls.hold.adjust(before, c.inbound.held());
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
        if !c.side.half_closed {
            let _ = self.calls.h2.reset_stream(id, ErrorCode::NO_ERROR);
        }
        self.finish_call(call, status, trailers);
    }

    fn on_data(&mut self, id: StreamId) {
        let call = CallId(id);
        if self.calls.get(call).is_some_and(|c| c.finished) {
            return;
        }
        match self.calls.pump_to_report(id) {
            Some(Ok(Report::Message)) => self.calls.events.push_back(ClientEvent::Message { call }),
            Some(Err(status)) => self.fail_stream(call, status),
            _ => {}
        }
    }

    fn fail_stream(&mut self, call: CallId, status: Status) {
        let _ = self.calls.h2.reset_stream(call.0, ErrorCode::CANCEL);
        self.finish_call(call, status, Metadata::new());
    }

    /// Records the final status once and reports it.
    fn finish_call(&mut self, call: CallId, status: Status, trailers: Metadata) {
        let Some(c) = self.calls.get_mut(call) else {
            return;
        };
        if c.finished {
            return;
        }
        c.finished = true;
        let deadline = c.deadline.take();
        let wire = c.wire();
        self.calls.deadlines.remove(deadline, call);
        self.calls.events.push_back(ClientEvent::Finished { call, status, trailers, wire });
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
