//! The server side of gRPC: validates requests, reports calls, frames
//! responses, enforces deadlines.

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;

use super::BatchCheck;
use super::calls::{Call, Calls, MessageConfig, Report, WireBytes, push_call_fields, recv_methods};
use super::compression::Compression;
use super::inbound::{RecvBatch, RecvMessage, Room};
use super::metadata::Metadata;
use super::received::Received;
use super::status::{Code, Status};
use super::timeout::parse_timeout;
use super::web::{self, TextEncoder, WebEncoding};
use super::{
    CONTENT_TYPE, CallId, Framed, Payload, check_batch, frame_message, framed_len, gone,
    is_grpc_content_type, send_framed, status_fields, stream_status,
};
use crate::conn::{self, Connection, ConnectionError, Event, HeadersKind, Role, TransmitBuf};
use crate::error_code::ErrorCode;
use crate::frame::StreamId;
use crate::headers::Headers;
use crate::hpack::HeaderField;

/// Server configuration.
#[derive(Clone, Debug, Default)]
pub struct ServerConfig {
    /// HTTP/2 settings and limits.
    pub h2: conn::Config,
    /// Message limits and compression (requests received, responses sent).
    pub messages: MessageConfig,
    /// Serves gRPC-Web (grpc/doc/PROTOCOL-WEB.md) on HTTP/2 streams too
    /// (default off: such requests get 415 like any other content type).
    ///
    /// When on, requests with `content-type: application/grpc-web[+proto]`
    /// or `application/grpc-web-text[+proto]` are calls like gRPC ones
    /// ([`CallStart::web`] tells which): their bodies are decoded with the
    /// gRPC-Web framing (base64 in text mode, split anywhere), responses
    /// carry the same variant's content type and gRPC-Web frames, and the
    /// status with the trailing metadata goes as the body's last frame
    /// (flag `0x80`), never as HTTP/2 trailers. A request refused before a
    /// call starts (bad `grpc-timeout`, unknown `grpc-encoding`...) is
    /// answered trailers-only, the status in the response headers, which
    /// gRPC-Web clients accept. An `OPTIONS` request is reported as
    /// [`ServerEvent::Preflight`] for the owner to answer with
    /// [`Server::respond`] (CORS is the owner's policy).
    pub grpc_web: bool,
    /// Reports the requests that are not calls as [`ServerEvent::Request`]
    /// for the owner to answer (default off: they get 415, or 405 for a
    /// gRPC content type with another method than POST, as before).
    ///
    /// When on, a request whose `content-type` is not gRPC (nor gRPC-Web
    /// when [`ServerConfig::grpc_web`] is on), whatever its method, is no
    /// call: its body is read with [`Server::read_body`] (each read returns
    /// its flow-control credit; unread, at most the stream's receive window
    /// is buffered), its response goes out with [`Server::send_response`],
    /// [`Server::send_body`] (backpressure by [`ServerEvent::Writable`], as
    /// a call's messages) and [`Server::send_trailers`], and a reset or the
    /// connection's end is reported as [`ServerEvent::Cancelled`]. With
    /// `grpc_web` on too, an `OPTIONS` request is a `Request` as well: the
    /// owner tells a CORS preflight it answers ([`Server::respond`]) from a
    /// request it serves.
    pub other_requests: bool,
}

/// A new call as the server sees it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CallStart {
    /// `:path`, e.g. `/helloworld.Greeter/SayHello`.
    pub path: Bytes,
    /// `:authority`, when sent.
    pub authority: Option<Bytes>,
    /// Custom metadata (reserved headers removed, binary values decoded).
    pub metadata: Metadata,
    /// When the client gives up (from `grpc-timeout`).
    pub deadline: Option<Instant>,
    /// The timeout as received.
    pub timeout: Option<Duration>,
    /// The request's `grpc-encoding`, if not identity.
    pub encoding: Option<&'static str>,
    /// The request's `grpc-accept-encoding` (encodings the client can read).
    pub accept_encoding: Bytes,
    /// A gRPC-Web call ([`ServerConfig::grpc_web`]): how its bodies are
    /// carried. `None` for gRPC.
    pub web: Option<WebEncoding>,
}

/// What happened, from the server's point of view.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ServerEvent {
    /// A client started a call.
    Call {
        /// The call.
        call: CallId,
        /// Its request headers, validated.
        start: CallStart,
    },
    /// More response data can be queued.
    Writable {
        /// The call.
        call: CallId,
    },
    /// A message can be read with [`Server::recv_message`] (reported once
    /// until `recv_message` is called again).
    Message {
        /// The call.
        call: CallId,
    },
    /// The client finished sending: all its messages were read.
    HalfClosed {
        /// The call.
        call: CallId,
    },
    /// The call ended before the server finished it: client cancellation,
    /// deadline, a broken message stream, or the connection going away.
    /// Also reported for a [`ServerEvent::Request`] whose stream was reset,
    /// or whose connection ended, before its response did (`wire` zero).
    Cancelled {
        /// The call.
        call: CallId,
        /// Why (CANCELLED, DEADLINE_EXCEEDED, RESOURCE_EXHAUSTED, ...).
        reason: Status,
        /// What the call's messages took on the wire until then.
        wire: WireBytes,
    },
    /// An `OPTIONS` request, with [`ServerConfig::grpc_web`] on (a
    /// browser's CORS preflight): no call; answer it with
    /// [`Server::respond`]. Its body, if any, is read and dropped.
    Preflight {
        /// Its stream.
        call: CallId,
        /// Its request headers.
        headers: Arc<Headers>,
    },
    /// A request that is not a call ([`ServerConfig::other_requests`]):
    /// read its body with [`Server::read_body`] and answer it with
    /// [`Server::send_response`] (or [`Server::respond`]).
    Request {
        /// Its stream.
        stream: CallId,
        /// Its request headers (`:method`, `:path`... in `pseudo`).
        headers: Arc<Headers>,
        /// The client sent no body (END_STREAM on the headers).
        end_stream: bool,
    },
    /// Body octets (or the body's end) of a [`ServerEvent::Request`] can be
    /// read with [`Server::read_body`] (reported again once it returned
    /// everything buffered).
    RequestData {
        /// Its stream.
        stream: CallId,
    },
    /// The client sent GOAWAY.
    GoAway {
        /// Its error code.
        code: ErrorCode,
    },
    /// The connection is finished.
    Closed {
        /// The error that ended it, if any.
        error: Option<ConnectionError>,
    },
}

/// A gRPC server connection (Sans-IO).
#[derive(Debug)]
pub struct Server {
    calls: Calls<ServerSide, ServerEvent>,
    config: ServerConfig,
    /// gRPC-Web calls' trailers frames the stream's full send buffer did
    /// not take yet (one small frame per stream at most), sent with
    /// END_STREAM when the stream is writable again.
    web_tails: std::collections::HashMap<StreamId, Bytes>,
    /// Requests that are not calls ([`ServerConfig::other_requests`]) whose
    /// response has not ended, each with whether its response head went.
    requests: std::collections::HashMap<StreamId, bool>,
}

/// The server's own part of a call record.
#[derive(Debug)]
struct ServerSide {
    /// The client's `grpc-accept-encoding`: response encodings it can read.
    accepts: Bytes,
    headers_sent: bool,
    /// A gRPC-Web call: how its bodies are carried.
    web: Option<WebEncoding>,
    /// Header fields the owner added to the response headers
    /// ([`Server::add_response_headers`]).
    /// Boxed: rare (CORS headers of gRPC-Web calls), and a bare `Vec` made
    /// every call record, and every slot of an idle connection's call map,
    /// 16 octets larger (heap per idle connection measured by mem-probe).
    #[allow(clippy::box_collection)]
    extra: Option<Box<Vec<HeaderField>>>,
}

impl Server {
    /// A server connection, created when the transport was accepted.
    pub fn new(config: ServerConfig, now: Instant) -> Self {
        let calls = Calls::new(Role::Server, &config.h2, &config.messages, now);
        Server { calls, config, web_tails: Default::default(), requests: Default::default() }
    }

    crate::endpoint::forward_io_to_h2!(ServerEvent);

    /// Runs expired timers: HTTP/2 ones and call deadlines.
    pub fn handle_timeout(&mut self, now: Instant) {
        for call in self.calls.handle_timeout(now) {
            if !self.calls.contains(call) {
                continue;
            }
            // PROTOCOL-HTTP2 "Timeouts": the server cancels the RPC locally. Like
            // grpc-core, it answers with DEADLINE_EXCEEDED trailers (then
            // RST_STREAM(NO_ERROR) if the client is still sending) when nothing
            // is queued ahead of them: grpcio reports a reset as CANCELLED, even
            // one right after the trailers. Otherwise RST_STREAM(CANCEL), as
            // the protocol document says.
            let status = Status::new(Code::DeadlineExceeded, "Deadline Exceeded");
            let web = self.calls.get(call).is_some_and(|c| c.side.web.is_some());
            let clean = self.calls.h2.send_buffered(call.0) == 0
                && self.send_status(call, &status, &Metadata::new()).is_ok();
            let _ = if clean {
                self.reset_after_status(call.0, web)
            } else {
                self.calls.h2.reset_stream(call.0, ErrorCode::CANCEL)
            };
            self.end_call(call, status);
        }
        self.process_events(now);
    }

    /// Starts a graceful shutdown (two-phase GOAWAY; in-flight calls finish).
    pub fn shutdown(&mut self, now: Instant) {
        self.calls.h2.shutdown(now);
    }

    // ----- commands -------------------------------------------------------------

    recv_methods!();

    /// The request of a call that takes exactly one message (unary and
    /// server-streaming methods): `Pending` until the message is whole *and*
    /// the client ended its side, then the message, decompressed only now (a
    /// request that never ends is never inflated), then `End`. A second
    /// message, or none, fails the call with INTERNAL.
    pub fn recv_single_message(&mut self, call: CallId) -> Result<(RecvMessage, bool), Status> {
        self.recv_with(call, true)
    }

    /// After taking messages: answers a call whose request stream broke.
    fn after_recv<T>(&mut self, call: CallId, out: &Result<T, Status>) {
        if let Err(status) = out {
            self.abort_call(call, status.clone());
        }
        self.wake_starved();
    }

    /// Sends the response headers with custom metadata (optional: the first
    /// message or `finish` sends them when needed).
    pub fn send_headers(&mut self, call: CallId, metadata: &Metadata) -> Result<(), Status> {
        let c = self.calls.map.get_mut(&call.0).ok_or_else(gone)?;
        if c.side.headers_sent {
            return Err(Status::new(Code::Internal, "response headers already sent"));
        }
        c.side.headers_sent = true;
        let mut h = self.calls.h2.take_headers();
        h.pseudo.status = Some(200);
        h.fields.reserve(3 + c.side.extra.as_ref().map_or(0, |e| e.len()) + metadata.len());
        push_call_fields(&mut h.fields, None, c.send_compression.as_ref(), &self.config.messages.compressors);
        if let Some(web) = c.side.web {
            // The first field is the content type: the request's variant.
            h.fields[0].value = Bytes::from_static(web.content_type().as_bytes());
        }
        h.fields.extend(c.side.extra.iter().flat_map(|e| e.iter()).cloned());
        metadata.to_fields(&mut h.fields);
        self.calls.h2.send_headers(call.0, h, false).map_err(stream_status)
    }

    /// Adds header fields to a call's response headers (or trailers-only
    /// response), after its own and before the handler's metadata: what a
    /// gRPC-Web call's CORS policy answers (`access-control-allow-origin`...).
    /// Call before the headers go out; names must be lower-case.
    pub fn add_response_headers(&mut self, call: CallId, fields: Vec<HeaderField>) -> Result<(), Status> {
        let c = self.calls.get_mut(call).ok_or_else(gone)?;
        if c.side.headers_sent {
            return Err(Status::new(Code::Internal, "response headers already sent"));
        }
        c.side.extra.get_or_insert_with(Default::default).extend(fields);
        Ok(())
    }

    /// Answers a request that is not a call ([`ServerEvent::Preflight`]):
    /// a header-only response with `status` and `fields`, ending the stream;
    /// whatever body the client still sends is read and dropped.
    pub fn respond(&mut self, stream: CallId, status: u16, fields: Vec<HeaderField>) -> Result<(), Status> {
        if self.calls.contains(stream) {
            return Err(Status::new(Code::Internal, "a call is answered with finish"));
        }
        if self.requests.get(&stream.0) == Some(&true) {
            return Err(Status::new(Code::Internal, "response headers already sent"));
        }
        let mut h = Headers::response(status);
        h.fields = fields;
        self.calls.h2.send_headers(stream.0, h, true).map_err(stream_status)?;
        self.requests.remove(&stream.0);
        self.calls.discard(stream.0);
        Ok(())
    }

    // ----- requests that are not calls ------------------------------------------

    /// Reads up to `max` octets of a [`ServerEvent::Request`]'s body
    /// (zero-copy; reading returns their flow-control credit to the client).
    /// `Pending`: a [`ServerEvent::RequestData`] follows when more comes;
    /// `Finished`: the body ended. An error when the stream was reset.
    pub fn read_body(&mut self, stream: CallId, max: usize) -> Result<conn::Read, Status> {
        if !self.requests.contains_key(&stream.0) {
            return Err(gone());
        }
        self.calls.h2.read(stream.0, max).map_err(stream_status)
    }

    /// Sends the response head of a [`ServerEvent::Request`]: `status` and
    /// `fields` (lower-case names, no pseudo-headers), with END_STREAM when
    /// `end_stream` (no body follows; the response is then over).
    pub fn send_response(
        &mut self,
        stream: CallId,
        status: u16,
        fields: Vec<HeaderField>,
        end_stream: bool,
    ) -> Result<(), Status> {
        match self.requests.get_mut(&stream.0) {
            None => return Err(gone()),
            Some(true) => return Err(Status::new(Code::Internal, "response headers already sent")),
            Some(sent) => *sent = true,
        }
        let mut h = Headers::response(status);
        h.fields = fields;
        self.calls.h2.send_headers(stream.0, h, end_stream).map_err(stream_status)?;
        if end_stream {
            self.request_answered(stream.0);
        }
        Ok(())
    }

    /// Queues response body octets of a [`ServerEvent::Request`] (after
    /// [`Server::send_response`]), with END_STREAM when `end_stream`.
    /// Refused with RESOURCE_EXHAUSTED while the stream's send buffer is
    /// full: wait for [`ServerEvent::Writable`] (ask with
    /// [`Server::poll_writable`]). A bare end is always accepted.
    pub fn send_body(&mut self, stream: CallId, data: Bytes, end_stream: bool) -> Result<(), Status> {
        if !self.requests.contains_key(&stream.0) {
            return Err(gone());
        }
        self.calls.h2.send_data(stream.0, data, end_stream).map_err(stream_status)?;
        if end_stream {
            self.request_answered(stream.0);
        }
        Ok(())
    }

    /// Ends a [`ServerEvent::Request`]'s response with trailers (`fields`,
    /// lower-case names), after [`Server::send_response`].
    pub fn send_trailers(&mut self, stream: CallId, fields: Vec<HeaderField>) -> Result<(), Status> {
        match self.requests.get(&stream.0) {
            None => return Err(gone()),
            Some(false) => return Err(Status::new(Code::Internal, "trailers before the response head")),
            Some(true) => {}
        }
        let mut h = Headers::trailers();
        h.fields = fields;
        self.calls.h2.send_headers(stream.0, h, true).map_err(stream_status)?;
        self.request_answered(stream.0);
        Ok(())
    }

    /// The response of a request that is not a call went out to its end:
    /// whatever body the client still sends is read and dropped (a reset
    /// would make HTTP clients such as curl fail the request).
    fn request_answered(&mut self, id: StreamId) {
        self.requests.remove(&id);
        self.calls.discard(id);
    }

    /// Chooses the response compression (must be one the client accepts and
    /// we support; `None` for identity). Call before the headers go out.
    pub fn set_send_compression(&mut self, call: CallId, name: Option<&str>) -> Result<(), Status> {
        let algo = match name {
            None => None,
            Some(n) => {
                Some(self.config.messages.compressors.get(n.as_bytes()).cloned().ok_or_else(|| {
                    Status::new(Code::Unimplemented, format!("compression {n} not supported"))
                })?)
            }
        };
        let c = self.calls.get_mut(call).ok_or_else(gone)?;
        if c.side.headers_sent {
            return Err(Status::new(Code::Internal, "response headers already sent"));
        }
        // An encoding the client did not list in grpc-accept-encoding would be
        // unreadable to it: fall back to identity (compression is optional).
        let accepted = |a: &Arc<dyn Compression>| {
            c.side.accepts.split(|&b| b == b',').any(|t| t.trim_ascii() == a.name().as_bytes())
        };
        c.send_compression = algo.filter(accepted);
        Ok(())
    }

    /// Queues a response message (compressed when the call has an encoding).
    pub fn send_message(&mut self, call: CallId, msg: Bytes) -> Result<(), Status> {
        self.send_payload(call, Payload::One(msg), None)
    }

    /// Queues a response message, choosing compression for this message.
    pub fn send_message_with(&mut self, call: CallId, msg: Bytes, compress: bool) -> Result<(), Status> {
        self.send_payload(call, Payload::One(msg), Some(compress))
    }

    /// Queues a response message held in several buffers, sent one after the
    /// other without being joined (unless compressed): an encoding that kept
    /// large fields by reference. `compress`: `None` follows the call's
    /// encoding.
    pub fn send_message_chunks(
        &mut self,
        call: CallId,
        chunks: Vec<Bytes>,
        compress: Option<bool>,
    ) -> Result<(), Status> {
        self.send_payload(call, Payload::Chunks(chunks), compress)
    }

    fn send_payload(&mut self, call: CallId, msg: Payload, compress: Option<bool>) -> Result<(), Status> {
        let c = self.calls.get(call).ok_or_else(gone)?;
        let compress = compress.unwrap_or(c.send_compression.is_some());
        if !c.side.headers_sent {
            self.send_headers(call, &Metadata::new())?;
        }
        let c = self.calls.get(call).ok_or_else(gone)?;
        let algo = if compress { c.send_compression.clone() } else { None };
        let text = c.side.web == Some(WebEncoding::Text);
        let framed = frame_message(msg, algo.as_deref(), self.config.messages.max_send_message_size)?;
        let wire = framed_len(&framed);
        if text {
            // PROTOCOL-WEB: "the server runtime will always base64-encode and
            // flush gRPC messages atomically": one padded run per message.
            let mut out = Vec::new();
            let mut enc = TextEncoder::new();
            push_framed_text(&mut enc, &framed, &mut out);
            enc.flush(&mut out);
            self.calls.h2.send_data(call.0, Bytes::from(out), false).map_err(stream_status)?;
        } else {
            send_framed(&mut self.calls.h2, call.0, framed, false).map_err(stream_status)?;
        }
        if let Some(c) = self.calls.get_mut(call) {
            c.wire_sent += wire;
        }
        Ok(())
    }

    /// Queues response messages the owner framed into one buffer: whole
    /// gRPC messages back to back, each behind its 5-octet prefix with the
    /// compressed flag clear. Each must be within `max_send_message_size`;
    /// they are compressed (one by one) when the call compresses. Many small
    /// messages then cost one queue entry and go out in as few DATA frames
    /// as the windows allow.
    pub fn send_framed(&mut self, call: CallId, framed: Bytes) -> Result<(), Status> {
        self.send_framed_checked(call, framed, None)
    }

    /// [`Server::send_framed`] for a batch already checked where it was
    /// framed: with `check` what [`BatchCheck::of`] found in `framed`, the
    /// batch is not read again.
    pub fn send_framed_checked(
        &mut self,
        call: CallId,
        framed: Bytes,
        check: Option<BatchCheck>,
    ) -> Result<(), Status> {
        let c = self.calls.get(call).ok_or_else(gone)?;
        if !c.side.headers_sent {
            self.send_headers(call, &Metadata::new())?;
        }
        let max = self.config.messages.max_send_message_size;
        let Some(c) = self.calls.get(call).filter(|c| c.side.web == Some(WebEncoding::Text)) else {
            return self.calls.send_batch(call, framed, check, max, false);
        };
        // Text mode: the batch as one padded base64 run, each message
        // compressed first when the call compresses.
        let algo = c.send_compression.clone();
        let mut spans = Vec::new();
        check_batch(&framed, max, |start, len| spans.push((start, len)))?;
        let (mut out, mut enc, mut wire) =
            (Vec::with_capacity(framed.len().div_ceil(3) * 4), TextEncoder::new(), 0);
        for (start, len) in spans {
            let msg = Payload::One(framed.slice(start..start + len));
            let one = frame_message(msg, algo.as_deref(), max)?;
            wire += framed_len(&one);
            push_framed_text(&mut enc, &one, &mut out);
        }
        enc.flush(&mut out);
        self.calls.h2.send_data(call.0, Bytes::from(out), false).map_err(stream_status)?;
        if let Some(c) = self.calls.get_mut(call) {
            c.wire_sent += wire;
        }
        Ok(())
    }

    /// Ends the call with `status` and trailing metadata (trailers-only when no
    /// headers were sent).
    pub fn finish(&mut self, call: CallId, status: &Status, trailers: &Metadata) -> Result<(), Status> {
        self.send_status(call, status, trailers)?;
        let web = self.calls.get(call).is_some_and(|c| c.side.web.is_some());
        let _ = self.reset_after_status(call.0, web);
        self.calls.remove(call);
        if web {
            // What the client sent and nobody will read: dropped now.
            self.calls.discard(call.0);
        }
        self.wake_starved();
        Ok(())
    }

    /// PROTOCOL-HTTP2 "Early Server Closure": RST_STREAM(NO_ERROR) after the
    /// status if the client is still sending. Not on a gRPC-Web call: what
    /// the client still sends is read and dropped instead (its stream's
    /// credit returns), since HTTP clients such as curl fail a request whose
    /// upload a reset cut short, even after a complete response.
    fn reset_after_status(&mut self, id: StreamId, web: bool) -> Result<(), conn::StreamError> {
        match web {
            false => self.calls.h2.reset_when_sent(id, ErrorCode::NO_ERROR),
            true => Ok(()),
        }
    }

    /// Queues the status (trailers, or a trailers-only response) with END_STREAM.
    fn send_status(&mut self, call: CallId, status: &Status, trailers: &Metadata) -> Result<(), Status> {
        let c = self.calls.map.get_mut(&call.0).ok_or_else(gone)?;
        if c.finished {
            return Err(Status::new(Code::Internal, "call already finished"));
        }
        c.finished = true;
        if let Some(web) = c.side.web {
            return self.send_web_status(call, web, status, trailers);
        }
        let mut h = self.calls.h2.take_headers();
        if !c.side.headers_sent {
            c.side.headers_sent = true;
            h.pseudo.status = Some(200);
            h.fields.push(HeaderField::new(
                Bytes::from_static(b"content-type"),
                Bytes::from_static(CONTENT_TYPE),
            ));
            h.fields.extend(c.side.extra.iter().flat_map(|e| e.iter()).cloned());
        }
        h.fields.reserve(3 + status.metadata.len() + trailers.len());
        status_fields(status, &mut h.fields);
        status.metadata.to_fields(&mut h.fields);
        trailers.to_fields(&mut h.fields);
        self.calls.h2.send_headers(call.0, h, true).map_err(stream_status)
    }

    /// A gRPC-Web call's end (PROTOCOL-WEB): the response headers if none
    /// went out, then the trailers frame (flag 0x80: `grpc-status`,
    /// `grpc-message`, `grpc-status-details-bin`, then the trailing
    /// metadata, as `name: value` lines) as the body's last DATA, with
    /// END_STREAM. No HTTP/2 trailers.
    fn send_web_status(
        &mut self,
        call: CallId,
        web: WebEncoding,
        status: &Status,
        trailers: &Metadata,
    ) -> Result<(), Status> {
        if self.calls.get(call).is_some_and(|c| !c.side.headers_sent) {
            self.send_headers(call, &Metadata::new())?;
        }
        let mut fields = Vec::with_capacity(3 + status.metadata.len() + trailers.len());
        status_fields(status, &mut fields);
        status.metadata.to_fields(&mut fields);
        trailers.to_fields(&mut fields);
        let mut frame = Vec::new();
        web::encode_trailer_fields(&fields, &mut frame);
        let body = match web {
            WebEncoding::Binary => Bytes::from(frame),
            WebEncoding::Text => web::WebEncoder::new(web).frames(Bytes::from(frame)),
        };
        self.send_web_tail(call.0, body).map_err(stream_status)
    }

    /// Queues a web call's trailers frame with END_STREAM, or keeps it until
    /// the stream is writable when its send buffer is full (HTTP/2 trailers
    /// are never refused for that; this frame must not be either).
    fn send_web_tail(&mut self, id: StreamId, body: Bytes) -> Result<(), conn::StreamError> {
        match self.calls.h2.send_data(id, body.clone(), true) {
            Err(conn::StreamError::BufferFull) => {
                self.web_tails.insert(id, body);
                Ok(())
            }
            other => other,
        }
    }

    /// Cancels a call: RST_STREAM(CANCEL) (PROTOCOL-HTTP2: servers use this
    /// "when they need to cancel a call but the payload byte sequence is incomplete").
    /// A [`ServerEvent::Request`] is cancelled the same way.
    pub fn cancel(&mut self, call: CallId) {
        if self.requests.remove(&call.0).is_some() {
            let _ = self.calls.h2.reset_stream(call.0, ErrorCode::CANCEL);
            return;
        }
        if self.calls.contains(call) {
            let _ = self.calls.h2.reset_stream(call.0, ErrorCode::CANCEL);
            self.calls.remove(call);
            self.wake_starved();
        }
    }

    // ----- HTTP/2 events → calls ------------------------------------------------

    fn process_events(&mut self, now: Instant) {
        while let Some(e) = self.calls.h2.poll_event() {
            match e {
                Event::Headers { stream, kind: HeadersKind::Request, headers, end_stream } => {
                    self.on_request(now, stream, headers, end_stream)
                }
                Event::Headers { stream, end_stream: true, .. } | Event::Data { stream, .. }
                    if self.requests.contains_key(&stream) =>
                {
                    self.calls.events.push_back(ServerEvent::RequestData { stream: CallId(stream) });
                }
                // Request trailers carry nothing gRPC uses; END_STREAM is what matters.
                Event::Headers { stream, end_stream: true, .. } => self.on_data(stream),
                Event::Headers { .. } => {}
                Event::Data { stream, .. } => self.on_data(stream),
                Event::Reset { stream, code, .. } => {
                    if self.requests.remove(&stream).is_some() {
                        let reason = Status::new(Code::from_h2_reset(code), format!("stream reset: {code}"));
                        let (call, wire) = (CallId(stream), WireBytes::default());
                        self.calls.events.push_back(ServerEvent::Cancelled { call, reason, wire });
                    } else if self.calls.contains(CallId(stream)) {
                        let reason = match code {
                            ErrorCode::CANCEL => Status::new(Code::Cancelled, "call cancelled by the client"),
                            c => Status::new(Code::from_h2_reset(c), format!("stream reset: {c}")),
                        };
                        self.end_call(CallId(stream), reason);
                    }
                }
                Event::Writable { stream } if self.web_tails.contains_key(&stream) => {
                    if let Some(tail) = self.web_tails.remove(&stream) {
                        let _ = self.send_web_tail(stream, tail);
                    }
                }
                Event::StreamClosed { stream } if !self.web_tails.is_empty() => {
                    self.web_tails.remove(&stream);
                }
                Event::Writable { stream } => {
                    if self.calls.contains(CallId(stream)) || self.requests.contains_key(&stream) {
                        self.calls.events.push_back(ServerEvent::Writable { call: CallId(stream) });
                    }
                }
                Event::GoAway { code, .. } => self.calls.events.push_back(ServerEvent::GoAway { code }),
                Event::Closed { error } => {
                    self.web_tails.clear();
                    for id in std::mem::take(&mut self.requests).into_keys() {
                        let reason = Status::new(Code::Unavailable, "connection closed");
                        let (call, wire) = (CallId(id), WireBytes::default());
                        self.calls.events.push_back(ServerEvent::Cancelled { call, reason, wire });
                    }
                    let ids: Vec<StreamId> = self.calls.map.keys().copied().collect();
                    for id in ids {
                        self.end_call(CallId(id), Status::new(Code::Unavailable, "connection closed"));
                    }
                    self.calls.events.push_back(ServerEvent::Closed { error });
                }
                Event::Connected | Event::StreamClosed { .. } | Event::Pong { .. } => {}
            }
        }
        self.wake_starved();
    }

    fn on_request(&mut self, now: Instant, id: StreamId, h: Arc<Headers>, end_stream: bool) {
        if self.config.other_requests && !self.is_call(&h) {
            self.requests.insert(id, false);
            let stream = CallId(id);
            self.calls.events.push_back(ServerEvent::Request { stream, headers: h, end_stream });
            return;
        }
        let web = match self.config.grpc_web {
            false => None,
            // A CORS preflight: the owner's policy answers it.
            true if h.pseudo.method.as_deref() == Some(b"OPTIONS") => {
                self.calls.events.push_back(ServerEvent::Preflight { call: CallId(id), headers: h });
                return;
            }
            true => h.get(b"content-type").and_then(|v| web::parse_content_type(v)),
        };
        let validated = self.validate(now, &h, web).and_then(|(mut start, algo)| {
            start.authority = h.pseudo.authority.clone();
            // The decoded header list becomes the metadata in place.
            start.metadata = Metadata::from_received(&h.fields).map_err(|e| {
                Rejection::Grpc(
                    Box::new(Status::new(Code::Internal, format!("malformed metadata: {e}"))),
                    None,
                )
            })?;
            Ok((start, algo))
        });
        let accepts = validated.as_ref().map(|(st, _)| st.accept_encoding.clone()).unwrap_or_default();
        match validated {
            // `grpc-timeout` of zero: the deadline has passed before the call
            // began, so no handler runs (gRPC-Go and grpcio answer the same).
            Ok((start, _)) if start.deadline.is_some_and(|d| d <= now) => {
                let status = Status::new(Code::DeadlineExceeded, "Deadline Exceeded");
                self.reject_trailers_only(id, &status, None, web);
            }
            Ok((start, recv_algo)) => {
                let deadline = start.deadline;
                let max = self.config.messages.max_recv_message_size;
                let mut inbound = self.calls.new_inbound(recv_algo, max);
                if end_stream {
                    inbound.set_peer_ended();
                }
                if web == Some(WebEncoding::Text) {
                    inbound.set_base64();
                }
                let side = ServerSide { accepts, headers_sent: false, web, extra: None };
                self.calls.insert(CallId(id), Call::new(inbound, None, deadline, side));
                self.calls.events.push_back(ServerEvent::Call { call: CallId(id), start });
                self.on_data(id);
            }
            // A refused request counts toward the reset limit: a client that
            // sends nothing but bad requests is cut off like one that resets.
            Err(Rejection::Http { status, grpc, message }) => {
                if self.calls.h2.record_peer_fault(now) {
                    // RFC 9110 §9.3.2: no content in a response to HEAD.
                    let head = h.pseudo.method.as_deref() == Some(b"HEAD");
                    self.reject_http(id, status, grpc, &message, head)
                }
            }
            Err(Rejection::Grpc(status, extra)) => {
                if self.calls.h2.record_peer_fault(now) {
                    self.reject_trailers_only(id, &status, extra, web)
                }
            }
        }
    }

    /// True when a request's content type makes it a call: gRPC, or
    /// gRPC-Web when that is on.
    fn is_call(&self, h: &Headers) -> bool {
        let ct = h.get(b"content-type").map(|v| &v[..]).unwrap_or_default();
        is_grpc_content_type(ct) || (self.config.grpc_web && web::parse_content_type(ct).is_some())
    }

    /// Checks a request's headers; `web`: its gRPC-Web content type, when
    /// gRPC-Web is on and it has one.
    fn validate(
        &self,
        now: Instant,
        h: &Headers,
        web: Option<WebEncoding>,
    ) -> Result<(CallStart, Option<Arc<dyn Compression>>), Rejection> {
        // PROTOCOL-HTTP2: "If Content-Type does not begin with "application/grpc",
        // gRPC servers SHOULD respond with HTTP status of 415".
        let ct = h.get(b"content-type").map(|v| &v[..]).unwrap_or_default();
        if web.is_none() && !is_grpc_content_type(ct) {
            return Err(Rejection::Http {
                status: 415,
                grpc: Code::InvalidArgument,
                message: format!("invalid gRPC request content-type {:?}", String::from_utf8_lossy(ct)),
            });
        }
        if h.pseudo.method.as_deref() != Some(b"POST") {
            return Err(Rejection::Http {
                status: 405,
                grpc: Code::Unimplemented,
                message: "gRPC requires method POST".into(),
            });
        }
        let path = h.pseudo.path.clone().unwrap_or_default();
        let well_formed = path.len() > 1
            && path[0] == b'/'
            && path[1..].iter().filter(|&&b| b == b'/').count() == 1
            && !path.ends_with(b"/");
        if !well_formed {
            let msg = format!("malformed method name: {:?}", String::from_utf8_lossy(&path));
            return Err(Rejection::Grpc(Box::new(Status::new(Code::Unimplemented, msg)), None));
        }
        let timeout = match h.get(b"grpc-timeout") {
            None => None,
            Some(v) => Some(parse_timeout(v).map_err(|e| {
                let msg = format!("malformed grpc-timeout {:?}: {e:?}", String::from_utf8_lossy(v));
                Rejection::Grpc(Box::new(Status::new(Code::Internal, msg)), None)
            })?),
        };
        let (encoding, algo) = match h.get(b"grpc-encoding").map(|v| &v[..]) {
            None | Some(b"identity") => (None, None),
            Some(name) => match self.config.messages.compressors.get(name) {
                Some(a) => (Some(a.name()), Some(a.clone())),
                None => {
                    let accept = self.config.messages.compressors.accept_encoding();
                    let msg = format!(
                        "grpc: compressor is not installed for requested grpc-encoding {:?} (accepted: {})",
                        String::from_utf8_lossy(name),
                        String::from_utf8_lossy(&accept)
                    );
                    return Err(Rejection::Grpc(
                        Box::new(Status::new(Code::Unimplemented, msg)),
                        Some(accept),
                    ));
                }
            },
        };
        Ok((
            CallStart {
                path,
                authority: None,
                metadata: Metadata::new(),
                accept_encoding: h.get(b"grpc-accept-encoding").cloned().unwrap_or_default(),
                deadline: timeout.map(|t| now + t),
                timeout,
                encoding,
                web,
            },
            algo,
        ))
    }

    /// A non-gRPC request: an HTTP error status with a text body, so plain
    /// HTTP clients see what went wrong.
    fn reject_http(&mut self, id: StreamId, status: u16, grpc: Code, message: &str, head: bool) {
        let mut h = Headers::response(status);
        h.push(Bytes::from_static(b"content-type"), Bytes::from_static(b"text/plain; charset=utf-8"));
        status_fields(&Status::new(grpc, message), &mut h.fields);
        let _ = self.calls.h2.send_headers(id, h, head);
        if !head {
            let _ = self.calls.h2.send_data(id, Bytes::from(format!("{message}\n")), true);
        }
        self.calls.discard(id);
    }

    /// A gRPC request refused before it reaches a handler: trailers-only (a
    /// gRPC-Web one too, with its own content type: gRPC-Web clients take
    /// the status from the headers when the body has no trailers frame).
    fn reject_trailers_only(
        &mut self,
        id: StreamId,
        status: &Status,
        accept: Option<Bytes>,
        web: Option<WebEncoding>,
    ) {
        let mut h = Headers::response(200);
        let ct = web.map_or(CONTENT_TYPE, |w| w.content_type().as_bytes());
        h.fields.push(HeaderField::new(Bytes::from_static(b"content-type"), Bytes::from_static(ct)));
        if let Some(a) = accept {
            h.fields.push(HeaderField::new(Bytes::from_static(b"grpc-accept-encoding"), a));
        }
        status_fields(status, &mut h.fields);
        let _ = self.calls.h2.send_headers(id, h, true);
        let _ = self.reset_after_status(id, web.is_some());
        self.calls.discard(id);
    }

    fn on_data(&mut self, id: StreamId) {
        // Data for a refused or finished request is read and dropped so its
        // flow-control credit returns.
        let call = CallId(id);
        match self.calls.pump_to_report(id) {
            Some(Ok(Report::Message)) => self.calls.events.push_back(ServerEvent::Message { call }),
            Some(Ok(Report::End)) => self.calls.events.push_back(ServerEvent::HalfClosed { call }),
            Some(Ok(Report::Nothing)) | None => {}
            Some(Err(status)) => self.abort_call(call, status),
        }
    }

    /// The request stream is broken (oversized or truncated message): answer
    /// with the status and report the call cancelled.
    fn abort_call(&mut self, call: CallId, status: Status) {
        if !self.calls.contains(call) {
            return;
        }
        let now = self.calls.h2.last_input_at();
        self.calls.h2.record_peer_fault(now);
        let wire = self.calls.wire(call).unwrap_or_default();
        let _ = self.finish(call, &status, &Metadata::new());
        self.calls.events.push_back(ServerEvent::Cancelled { call, reason: status, wire });
    }

    fn end_call(&mut self, call: CallId, reason: Status) {
        if let Some(wire) = self.calls.wire(call) {
            self.calls.remove(call);
            self.calls.events.push_back(ServerEvent::Cancelled { call, reason, wire });
        }
    }
}

/// Feeds one framed message (prefix, then payload) to a text encoder.
fn push_framed_text(enc: &mut TextEncoder, (prefix, payload): &Framed, out: &mut Vec<u8>) {
    enc.push(prefix, out);
    match payload {
        Payload::One(data) => enc.push(data, out),
        Payload::Chunks(chunks) => chunks.iter().for_each(|c| enc.push(c, out)),
    }
}

enum Rejection {
    Http { status: u16, grpc: Code, message: String },
    Grpc(Box<Status>, Option<Bytes>),
}
