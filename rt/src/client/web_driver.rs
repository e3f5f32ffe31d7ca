//! The gRPC-Web client connection driver (`Endpoint::grpc_web`): calls as
//! gRPC-Web (grpc/doc/PROTOCOL-WEB.md) over HTTP/1.1, for networks whose
//! proxies pass only HTTP/1.1.
//!
//! It takes the same commands from call handles as the HTTP/2 driver
//! ([`ClientCmd`]) and drives a Sans-IO `weir_core::http1::ClientConnection`.
//! HTTP/1.1 has no multiplexing: one call at a time per connection, the
//! others waiting in order (they start as the connection frees, on the same
//! connection: keep-alive). A call's request body is sent chunked as the
//! application sends messages (with `Content-Length` when the whole request
//! is known at the start: unary and server-streaming calls), and its
//! response is read as it comes, so client streaming works; a bidi call is
//! half duplex (the server answers once the request ended, as gRPC-Web
//! servers do over HTTP/1.1). Cancelling a call that is under way closes the
//! connection: HTTP/1.1 has no other way to stop an exchange.
//!
//! What a connection holds is bounded like the HTTP/2 driver's: response
//! messages go to the call's bounded queue, and while it is full the
//! connection's events are not taken (its body buffer fills, then it reads
//! nothing more); each message is at most `max_recv_message_size`.

use std::collections::VecDeque;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::task::{Context, Poll};
use std::time::Instant;

use bytes::Bytes;
use weir_core::conn::TransmitBuf;
use weir_core::grpc::timeout::format_timeout;
use weir_core::grpc::web::{self, WebDecoder, WebEncoder, WebEncoding, WebFrame};
use weir_core::grpc::{self, Code, Compression, Metadata, Received, Status, WireBytes};
use weir_core::http1::{ClientConnection, ClientEvent, ClientRequest, ClientResponse, Field, RequestId};

use super::driver::{ChannelCtx, ClientCmd, ConnHandle, TakesCommands};
use crate::call::{CallShared, MESSAGE_COST, QUEUE_BYTES, queue_room};
use crate::http1_io::Http1Io;
use crate::request::OutMessage;
use crate::runtime::{BoxFuture, Io, Runtime};
use crate::server::web::{decompress_request, encode_messages};
use crate::stats::Side;
use crate::trace::{CallObserver, ConnObserver};

/// How long the rest of a response whose caller gave up (its deadline) is
/// read and dropped, so that the connection can be reused, before the
/// connection is closed instead.
const DRAIN: std::time::Duration = std::time::Duration::from_secs(1);
/// Connections in a row that may close before answering anything before
/// the driver gives the address up (to the channel's backoff).
const MAX_FRUITLESS: u32 = 3;
/// Request octets waiting to be written above which no more messages are
/// taken from the application.
const OUT_HIGH: usize = 64 << 10;
/// The response headers of HTTP itself, never metadata.
const NOT_METADATA: &[&[u8]] =
    &[b"connection", b"keep-alive", b"transfer-encoding", b"content-length", b"date"];

/// The call under way on the connection.
struct WebCall {
    key: u64,
    id: RequestId,
    shared: Arc<CallShared>,
    obs: Option<Box<CallObserver>>,
    encoder: WebEncoder,
    send_compression: Option<Arc<dyn Compression>>,
    max_send: usize,
    max_recv: usize,
    /// The request body was ended.
    request_done: bool,
    /// Request messages not yet handed to the connection (and whether
    /// their sender reserved credit for them).
    outq: VecDeque<(OutMessage, bool)>,
    /// The application finished sending: the body ends after `outq`.
    half_close: bool,
    /// The response body's decoder, once the response head arrived.
    decoder: Option<WebDecoder>,
    recv_compression: Option<Arc<dyn Compression>>,
    /// Response messages the call's queue had no room for yet.
    pending: VecDeque<(Bytes, bool)>,
    /// The status: from a trailers-only head, the trailers frame, or a
    /// failure.
    status: Option<Status>,
    /// The response ended.
    response_done: bool,
    /// The response is broken: the call ends at once, and the connection.
    abort: bool,
    /// When the caller gives up (`grpc-timeout`, counted from the start).
    deadline: Option<Instant>,
    /// The caller has its status; the response is read to its end and
    /// dropped (until then, or this instant) so the connection can be
    /// reused.
    draining_until: Option<Instant>,
    wire: WireBytes,
}

/// Opens a new byte stream to the same address.
pub(crate) type Redial = Arc<dyn Fn() -> BoxFuture<'static, std::io::Result<Box<dyn Io>>> + Send + Sync>;

/// The gRPC-Web driver of one address: a sequence of HTTP/1.1 connections.
/// When one closes (the server's choice, or a call cancelled under way),
/// the next call dials a new one, so the channel sees one connection that
/// stays ready while the address answers.
pub(crate) struct WebClientDriver<R: Runtime> {
    rt: R,
    /// Socket, output, timer and byte counts.
    sock: Http1Io<R>,
    redial: Redial,
    /// A new connection being opened.
    dialing: Option<BoxFuture<'static, std::io::Result<Box<dyn Io>>>>,
    /// Connections in a row that closed before any response: past a few,
    /// the address is not speaking gRPC-Web, and the driver ends.
    fruitless: u32,
    conn: ClientConnection,
    config: grpc::ClientConfig,
    handle: Arc<ConnHandle>,
    obs: ConnObserver,
    cmd_buf: Vec<ClientCmd>,
    /// Starts (and the commands of their calls) waiting for the connection.
    waiting: VecDeque<ClientCmd>,
    /// The deadlines of waiting calls (by key), from when they arrived.
    waiting_deadlines: Vec<(u64, Instant)>,
    current: Option<Box<WebCall>>,
    /// No new calls will come: close once the waiting ones are done.
    shutdown: bool,
    batch: Received,
}

impl<R: Runtime> WebClientDriver<R> {
    pub fn new(
        rt: R,
        io: Box<dyn Io>,
        redial: Redial,
        config: grpc::ClientConfig,
        handle: Arc<ConnHandle>,
        ctx: Arc<ChannelCtx>,
        peer: Option<std::net::SocketAddr>,
    ) -> Self {
        let now = rt.now();
        let obs =
            ConnObserver::open(Side::Client, (peer, None), Some(ctx.target.clone()), ctx.stats.clone(), now);
        WebClientDriver {
            conn: ClientConnection::new(Default::default(), now),
            sock: Http1Io::new(rt.clone(), io),
            rt,
            redial,
            dialing: None,
            fruitless: 0,
            config,
            handle,
            obs,
            cmd_buf: Vec::new(),
            waiting: VecDeque::new(),
            waiting_deadlines: Vec::new(),
            current: None,
            shutdown: false,
            batch: Received::new(),
        }
    }

    // ----- commands --------------------------------------------------------

    fn on_cmd(&mut self, cmd: ClientCmd) {
        let Some(key) = cmd_key(&cmd) else {
            self.shutdown = true;
            return;
        };
        let current = self.current.as_ref().is_some_and(|c| c.key == key);
        if !current {
            match cmd {
                ClientCmd::Cancel { .. } => self.drop_waiting(key),
                // A finished call's pulls and sends go nowhere.
                ClientCmd::Start { ref req, .. } => {
                    if let Some(t) = req.timeout {
                        self.waiting_deadlines.push((key, self.rt.now() + t));
                    }
                    self.waiting.push_back(cmd);
                }
                _ if self.is_waiting(key) => self.waiting.push_back(cmd),
                _ => {}
            }
            return;
        }
        match cmd {
            ClientCmd::Send { msg, last, .. } => self.send(msg, last, true),
            ClientCmd::HalfClose { .. } => self.end_request(),
            ClientCmd::Pull { .. } => self.deliver(),
            ClientCmd::Cancel { .. } => {
                // HTTP/1.1 cannot stop one exchange: the connection goes (the
                // server must not take a cut request body for a whole one).
                self.report(Status::new(Code::Cancelled, "call cancelled"));
                self.current = None;
                self.close();
            }
            ClientCmd::Start { .. } | ClientCmd::Shutdown => {}
        }
    }

    fn is_waiting(&self, key: u64) -> bool {
        self.waiting.iter().any(|c| matches!(c, ClientCmd::Start { key: k, .. } if *k == key))
    }

    fn drop_waiting(&mut self, key: u64) {
        self.drop_waiting_with(key, Status::new(Code::Cancelled, "call cancelled"));
    }

    fn drop_waiting_with(&mut self, key: u64, status: Status) {
        self.waiting_deadlines.retain(|(k, _)| *k != key);
        self.waiting.retain(|c| match c {
            ClientCmd::Start { key: k, shared, .. } if *k == key => {
                shared.finish(status.clone(), Metadata::new());
                false
            }
            ClientCmd::Send { key: k, .. } | ClientCmd::HalfClose { key: k } | ClientCmd::Pull { key: k } => {
                *k != key
            }
            _ => true,
        });
    }

    /// Starts the next waiting call when the connection is free.
    fn start_next(&mut self) -> bool {
        let mut progress = false;
        while self.current.is_none() && self.conn.can_send() && !self.sock.done {
            let Some(cmd) = self.waiting.pop_front() else { break };
            progress = true;
            match cmd {
                ClientCmd::Start { key, req, shared, first, last } => {
                    self.start(key, req, shared, first, last);
                    // Its later commands, in order, before anyone else's start.
                    let (mine, rest): (VecDeque<_>, VecDeque<_>) = std::mem::take(&mut self.waiting)
                        .into_iter()
                        .partition(|c| !matches!(c, ClientCmd::Start { .. }) && cmd_key(c) == Some(key));
                    self.waiting = rest;
                    for c in mine {
                        self.on_cmd(c);
                    }
                }
                other => self.on_cmd(other),
            }
        }
        progress
    }

    fn start(
        &mut self,
        key: u64,
        req: grpc::CallRequest,
        shared: Arc<CallShared>,
        first: Option<Bytes>,
        last: bool,
    ) {
        let now = self.rt.now();
        let arrived = self.waiting_deadlines.iter().position(|(k, _)| *k == key);
        let deadline = match arrived {
            Some(i) => Some(self.waiting_deadlines.swap_remove(i).1),
            None => req.timeout.map(|t| now + t),
        };
        let mut req = req;
        // The time spent waiting for the connection counts.
        req.timeout = deadline.map(|d| d.saturating_duration_since(now));
        let messages = &self.config.messages;
        let send_compression = match req.compression {
            None => None,
            Some(name) => match messages.compressors.get(name.as_bytes()) {
                Some(a) => Some(a.clone()),
                None => {
                    let msg = format!("compression {name} not supported");
                    return shared.finish(Status::new(Code::Internal, msg), Metadata::new());
                }
            },
        };
        let mut request = ClientRequest::new("POST", req.path.clone(), req.authority.clone())
            .with_header("content-type", "application/grpc-web+proto")
            .with_header("x-grpc-web", "1")
            .with_header("x-user-agent", self.config.user_agent.clone())
            .with_header("user-agent", self.config.user_agent.clone())
            .with_header("grpc-accept-encoding", messages.compressors.accept_encoding());
        if let Some(t) = req.timeout {
            request = request.with_header("grpc-timeout", format_timeout(t));
        }
        if let Some(a) = &send_compression {
            request = request.with_header("grpc-encoding", a.name());
        }
        let mut fields = Vec::new();
        req.metadata.to_fields(&mut fields);
        // Keys HTTP/1.1 itself owns are not metadata a server could read.
        fields.retain(|f| !NOT_METADATA.contains(&&f.name[..]) && &f.name[..] != b"host");
        request.headers.extend(fields.into_iter().map(|f| Field::new(f.name, f.value)));
        let max_send = req.max_send_message_size.unwrap_or(messages.max_send_message_size);
        let mut call = Box::new(WebCall {
            key,
            id: weir_core::http1::RequestId(0),
            shared,
            obs: self.obs.call(&req.path, &req.path, now),
            encoder: WebEncoder::new(WebEncoding::Binary),
            send_compression,
            max_send,
            max_recv: req.max_recv_message_size.unwrap_or(messages.max_recv_message_size),
            request_done: false,
            outq: VecDeque::new(),
            half_close: false,
            decoder: None,
            recv_compression: None,
            pending: VecDeque::new(),
            status: None,
            response_done: false,
            abort: false,
            deadline,
            draining_until: None,
            wire: WireBytes::default(),
        });
        // The whole request known now: sent with its length.
        let body = match (&first, last) {
            (Some(msg), true) => match encode(&call, OutMessage::from(msg.clone())) {
                Ok(frames) => Some(frames),
                Err(status) => return self.refuse(call, status),
            },
            (None, true) => Some(Bytes::new()),
            _ => None,
        };
        request.content_length = body.as_ref().map(|b| b.len() as u64);
        match self.conn.send_request(&request) {
            Ok(id) => call.id = id,
            Err(e) => {
                // Never sent: the channel may try it elsewhere.
                let status = Status::new(Code::Unavailable, format!("{} ({e})", super::retry::NOT_SENT));
                return self.refuse(call, status);
            }
        }
        self.current = Some(call);
        match body {
            Some(body) => {
                if let Some(c) = &mut self.current {
                    c.note_sent(first.as_ref().map_or(0, Bytes::len), usize::from(first.is_some()));
                }
                let _ = self.conn.send_data(self.current_id(), body);
                self.end_request();
            }
            None => {
                if let Some(msg) = first {
                    self.send(msg.into(), last, false);
                }
            }
        }
    }

    /// A call that never went out.
    fn refuse(&mut self, call: Box<WebCall>, status: Status) {
        if let Some(obs) = call.obs {
            obs.end(status.code, &status.message, WireBytes::default(), self.rt.now());
        }
        call.shared.finish(status, Metadata::new());
    }

    fn current_id(&self) -> RequestId {
        self.current.as_ref().map_or(RequestId(u64::MAX), |c| c.id)
    }

    /// Sends a request message (or a framed batch); `credited`: the
    /// sender reserved credit for it.
    fn send(&mut self, msg: OutMessage, last: bool, credited: bool) {
        let Some(call) = &mut self.current else { return };
        call.outq.push_back((msg, credited));
        call.half_close |= last;
        self.flush();
    }

    /// The application is done sending (after what it queued).
    fn end_request(&mut self) {
        let Some(call) = &mut self.current else { return };
        call.half_close = true;
        self.flush();
    }

    /// Hands queued request messages to the connection while less than
    /// [`OUT_HIGH`] octets wait to be written, crediting their senders then
    /// (so a server that does not read holds the application back, not
    /// memory); ends the body after the last one.
    fn flush(&mut self) {
        loop {
            let room = self.sock.out.len() + self.conn.send_buffered() < OUT_HIGH;
            let Some(call) = &mut self.current else { return };
            if call.request_done {
                for (msg, credited) in call.outq.drain(..) {
                    if credited {
                        call.shared.credit(msg.len(), msg.messages());
                    }
                }
                return;
            }
            if !room && !call.outq.is_empty() {
                return;
            }
            let Some((msg, credited)) = call.outq.pop_front() else {
                if call.half_close {
                    call.request_done = true;
                    let id = call.id;
                    let _ = self.conn.send_end(id);
                }
                return;
            };
            let (len, count) = (msg.len(), msg.messages());
            let payload = msg.batch.as_ref().map_or(len, |b| b.payload() as usize);
            if credited {
                call.shared.credit(len, count);
            }
            match encode(call, msg) {
                Ok(frames) => {
                    call.note_sent(payload, count);
                    let id = call.id;
                    if self.conn.send_data(id, frames).is_err() {
                        // The server stopped reading (it answered, or the
                        // connection ends): its response tells the status.
                        call.request_done = true;
                    }
                }
                Err(status) => {
                    call.abort = true;
                    return self.finish(status);
                }
            }
        }
    }

    // ----- responses -------------------------------------------------------

    /// Handles the connection's events while the current call can take them.
    fn dispatch(&mut self) -> bool {
        self.dispatch_events(false)
    }

    /// `all`: take every event, whatever the call's queue holds (the
    /// connection closed: what it still holds is bounded by its buffers,
    /// and must not be lost).
    fn dispatch_events(&mut self, all: bool) -> bool {
        let mut progress = false;
        loop {
            if !all && self.current.as_ref().is_some_and(|c| !c.pending.is_empty()) {
                // The call's queue is full: leave the rest in the connection.
                return progress;
            }
            let Some(event) = self.conn.poll_event() else { return progress };
            progress = true;
            match event {
                ClientEvent::Response(head) => self.on_response(head),
                ClientEvent::Data { data, .. } => self.on_data(&data),
                ClientEvent::End { .. } => self.on_end(),
                ClientEvent::Error(e) => {
                    if let Some(c) = &mut self.current {
                        c.abort = true;
                    }
                    let status = Status::new(Code::Unavailable, format!("malformed HTTP/1.1 response: {e}"));
                    self.finish(status);
                }
            }
        }
    }

    fn on_response(&mut self, head: ClientResponse) {
        let Some(call) = &mut self.current else { return };
        let grpc_status = head.header("grpc-status").cloned();
        let content_type = head.header("content-type").and_then(|v| web::parse_content_type(v));
        if head.status != 200 || grpc_status.is_some() || content_type.is_none() {
            // Trailers-only, an HTTP error, or not gRPC-Web: the status now
            // (the body, if any, is read and dropped).
            let status = match grpc_status {
                Some(_) => {
                    let fields: Vec<_> = head
                        .headers
                        .iter()
                        .map(|f| {
                            weir_core::hpack::HeaderField::new(f.name.to_ascii_lowercase(), f.value.clone())
                        })
                        .collect();
                    web::Trailers { fields }.status()
                }
                None if head.status != 200 => Status::new(
                    Code::from_http_status(head.status),
                    format!("unexpected HTTP status code received from server: {}", head.status),
                ),
                None => Status::new(Code::Unknown, "the response is not gRPC-Web (content-type)"),
            };
            // Trailers-only: the (empty) body ends the exchange. Anything else
            // is not a gRPC-Web answer, whose body may never end: the call
            // ends now, and the connection with it.
            call.abort = grpc_status.is_none();
            call.status = Some(status);
            return self.deliver();
        }
        let compressors = &self.config.messages.compressors;
        call.recv_compression = match head.header("grpc-encoding").map(|v| &v[..]) {
            None | Some(b"identity") => None,
            Some(name) => match compressors.get(name) {
                Some(a) => Some(a.clone()),
                None => {
                    let msg = format!(
                        "grpc: Decompressor is not installed for grpc-encoding {:?}",
                        String::from_utf8_lossy(name)
                    );
                    call.status = Some(Status::new(Code::Internal, msg));
                    call.abort = true;
                    return self.deliver();
                }
            },
        };
        let fields = head
            .headers
            .iter()
            .map(|f| (f.name.to_ascii_lowercase(), f))
            .filter(|(name, _)| !NOT_METADATA.contains(&&name[..]))
            .map(|(name, f)| weir_core::hpack::HeaderField::new(name, f.value.clone()))
            .collect();
        match Metadata::from_header_vec(fields) {
            Ok(md) => call.shared.set_headers(md),
            Err(e) => {
                call.status = Some(Status::new(Code::Internal, format!("malformed metadata: {e}")));
                call.abort = true;
                return self.deliver();
            }
        }
        call.decoder = Some(WebDecoder::new(content_type.unwrap_or(WebEncoding::Binary), call.max_recv));
    }

    fn on_data(&mut self, data: &[u8]) {
        let Some(call) = &mut self.current else { return };
        if call.status.is_some() || call.draining_until.is_some() {
            return;
        }
        let Some(decoder) = &mut call.decoder else { return };
        decoder.push(data);
        loop {
            let frame = match call.decoder.as_mut().map(WebDecoder::next_frame) {
                Some(Ok(Some(frame))) => frame,
                Some(Ok(None)) | None => break,
                Some(Err(e)) => {
                    call.status = Some(e.status("gRPC-Web response"));
                    call.abort = true;
                    break;
                }
            };
            match frame {
                WebFrame::Message(m) => {
                    match decompress_request(
                        m.data,
                        m.compressed,
                        call.recv_compression.as_deref(),
                        call.max_recv,
                    ) {
                        Ok(msg) => {
                            call.wire.received += msg.len() as u64;
                            call.pending.push_back((msg, m.compressed));
                        }
                        Err(status) => {
                            call.status = Some(status);
                            call.abort = true;
                            break;
                        }
                    }
                }
                WebFrame::Trailers(t) => {
                    call.status = Some(t.status());
                    call.decoder = None;
                    break;
                }
            }
        }
        self.deliver();
    }

    fn on_end(&mut self) {
        let Some(call) = &mut self.current else { return };
        call.response_done = true;
        if call.status.is_none() {
            let status = match call.decoder.as_mut().map(WebDecoder::finish) {
                Some(Err(e)) => e.status("gRPC-Web response"),
                _ => Status::new(Code::Internal, "server closed the stream without sending trailers"),
            };
            call.status = Some(status);
        }
        self.deliver();
    }

    /// Moves response messages to the call while its queue has room; ends
    /// the call once they are all taken and its status is known.
    fn deliver(&mut self) {
        let Some(call) = &mut self.current else { return };
        if call.draining_until.is_some() {
            call.pending.clear();
            if call.response_done {
                self.current = None;
            }
            return;
        }
        if !call.pending.is_empty() {
            // One call at a time: it has the whole queue.
            let (mut count, mut cost) = call.shared.queue_len(QUEUE_BYTES);
            if queue_room(count, cost, QUEUE_BYTES) == 0 {
                if call.shared.set_core_has_more() {
                    return;
                }
                // The application took the queue meanwhile.
                (count, cost) = (0, 0);
            }
            let mut room = queue_room(count, cost, QUEUE_BYTES);
            let mut batch = std::mem::take(&mut self.batch);
            while let Some((m, _)) = call.pending.front() {
                let need = m.len() + MESSAGE_COST;
                // One message always fits an empty queue, however large.
                if need > room && !(count == 0 && batch.is_empty()) {
                    break;
                }
                room = room.saturating_sub(need);
                batch.extend(call.pending.pop_front());
            }
            let more = !call.pending.is_empty();
            if batch.is_empty() {
                // Nothing fitted beside what the application holds: it asks
                // for more when it takes that, unless it already did.
                self.batch = batch;
                if call.shared.set_core_has_more() {
                    return;
                }
                return self.deliver();
            }
            call.shared.deliver(&mut batch, call.obs.as_deref_mut(), more);
            self.batch = batch;
            if more {
                return;
            }
        }
        let ready = call.status.is_some() && (call.response_done || call.abort);
        if ready {
            let status = call.status.take().unwrap_or_else(Status::ok);
            self.finish(status);
        }
    }

    /// Gives the current call its status (once): a failure carries its
    /// trailers (as a Status should), a success reports them beside it, as
    /// the HTTP/2 core does.
    fn report(&mut self, status: Status) {
        let now = self.rt.now();
        let Some(call) = &mut self.current else { return };
        let mut status = status;
        let trailers = if status.is_ok() { std::mem::take(&mut status.metadata) } else { Metadata::new() };
        if let Some(obs) = call.obs.take() {
            obs.end(status.code, &status.message, call.wire, now);
        }
        call.shared.finish(status, trailers);
    }

    /// Ends the current call with `status`. The connection is reused when
    /// the response ended (a request the server answered early is ended
    /// first); a broken response closes it; otherwise (the caller's
    /// deadline) the rest of the response is read and dropped first.
    fn finish(&mut self, status: Status) {
        self.report(status);
        let Some(call) = &mut self.current else { return };
        // A request cut short must not reach the server as a whole one (an
        // unfinished body is only ended when the server already answered).
        if call.abort || (!call.request_done && !call.response_done) {
            self.current = None;
            return self.close();
        }
        if !call.request_done {
            call.request_done = true;
            let id = call.id;
            let _ = self.conn.send_end(id);
        }
        let Some(call) = &mut self.current else { return };
        if call.response_done {
            self.current = None;
        } else if call.draining_until.is_none() {
            call.draining_until = Some(self.rt.now() + DRAIN);
            call.pending.clear();
        }
    }

    // ----- I/O ---------------------------------------------------------------

    fn poll_read(&mut self, cx: &mut Context<'_>) -> bool {
        self.sock.poll_read(cx, &mut self.conn).progress
    }

    fn poll_write(&mut self, cx: &mut Context<'_>) -> bool {
        let idle = self.current.is_none() && self.waiting.is_empty();
        self.sock.poll_write(cx, &mut self.conn, self.shutdown && idle)
    }

    /// Fires the connection's timers, the calls' deadlines and the end of
    /// a drain.
    fn poll_timer(&mut self, cx: &mut Context<'_>) -> bool {
        let current = self.current.as_ref().and_then(|c| c.draining_until.or(c.deadline));
        let waiting = self.waiting_deadlines.iter().map(|(_, d)| *d).min();
        let at = [self.conn.poll_timeout(), current, waiting].into_iter().flatten().min();
        if !self.sock.poll_alarm(cx, at) {
            return false;
        }
        let now = self.rt.now();
        let expired: Vec<u64> =
            self.waiting_deadlines.iter().filter(|(_, d)| *d <= now).map(|(k, _)| *k).collect();
        for key in expired {
            self.drop_waiting_with(key, Status::new(Code::DeadlineExceeded, "Deadline Exceeded"));
        }
        if let Some(call) = &self.current {
            match (call.draining_until, call.deadline) {
                (Some(until), _) if until <= now => {
                    self.current = None;
                    self.close();
                }
                (None, Some(d)) if d <= now => {
                    self.finish(Status::new(Code::DeadlineExceeded, "Deadline Exceeded"))
                }
                _ => {}
            }
        }
        self.conn.handle_timeout(now);
        true
    }

    /// The connection is over: with calls waiting, dial a new one (true once
    /// it is up); without, wait for the next call. When dialing fails, the
    /// driver was shut down or connections keep answering nothing, the
    /// driver ends (false).
    fn poll_redial(&mut self, cx: &mut Context<'_>) -> Poll<bool> {
        if self.current.is_some() {
            let status = Status::new(Code::Unavailable, "connection closed");
            if let Some(c) = &mut self.current {
                c.abort = true;
            }
            self.finish(status);
        }
        if self.conn.responses_received() > 0 {
            self.fruitless = 0;
        }
        // Starts that arrived meanwhile count as waiting.
        self.run_commands(cx);
        let gave_up = self.shutdown || self.fruitless >= MAX_FRUITLESS;
        if self.dialing.is_none() {
            if gave_up {
                return Poll::Ready(false);
            }
            if self.waiting.is_empty() {
                // Closed while idle (the server's idle timeout): the next
                // call dials again; woken by its command.
                return Poll::Pending;
            }
        }
        let redial = self.redial.clone();
        let dialing = self.dialing.get_or_insert_with(|| redial());
        match dialing.as_mut().poll(cx) {
            Poll::Pending => Poll::Pending,
            Poll::Ready(Err(_)) => {
                self.dialing = None;
                Poll::Ready(false)
            }
            Poll::Ready(Ok(io)) => {
                self.dialing = None;
                self.fruitless += 1;
                self.sock.replace(io);
                self.conn = ClientConnection::new(Default::default(), self.rt.now());
                Poll::Ready(true)
            }
        }
    }

    /// Closes the connection (the next waiting call dials a new one).
    fn close(&mut self) {
        self.conn.handle_reset(self.rt.now());
        self.sock.done = true;
    }

    /// The connection ended: the current call fails, waiting ones never
    /// left (the channel retries them elsewhere).
    fn end(&mut self) {
        self.handle.accepting.store(false, Ordering::Release);
        self.handle.closed.store(true, Ordering::Release);
        if self.current.is_some() {
            self.finish(Status::new(Code::Unavailable, "connection closed"));
        }
        let not_sent = Status::new(Code::Unavailable, super::retry::NOT_SENT);
        for cmd in self.waiting.drain(..).chain(self.handle.cmds.close()) {
            if let ClientCmd::Start { shared, .. } = cmd {
                shared.finish(not_sent.clone(), Metadata::new());
            }
        }
        self.obs.close(self.sock.stats, None, self.rt.now());
    }
}

/// The call a command is for.
fn cmd_key(cmd: &ClientCmd) -> Option<u64> {
    match cmd {
        ClientCmd::Start { key, .. }
        | ClientCmd::Send { key, .. }
        | ClientCmd::HalfClose { key }
        | ClientCmd::Pull { key }
        | ClientCmd::Cancel { key } => Some(*key),
        ClientCmd::Shutdown => None,
    }
}

impl WebCall {
    fn note_sent(&mut self, payload: usize, count: usize) {
        self.wire.sent += payload as u64;
        if let Some(obs) = &mut self.obs {
            obs.sent_many(count, payload);
        }
    }
}

/// A request message (or framed batch) as gRPC-Web frames, compressed when
/// the call compresses and the message does not opt out.
fn encode(call: &WebCall, msg: OutMessage) -> Result<Bytes, Status> {
    encode_messages(&call.encoder, msg, call.send_compression.as_ref(), call.max_send)
}

impl<R: Runtime> TakesCommands for WebClientDriver<R> {
    fn queue(&mut self) -> (&ConnHandle, &mut Vec<ClientCmd>) {
        (&self.handle, &mut self.cmd_buf)
    }

    fn take_command(&mut self, cmd: ClientCmd) {
        self.on_cmd(cmd)
    }
}

impl<R: Runtime> std::future::Future for WebClientDriver<R> {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = self.get_mut();
        for _ in 0..64 {
            let mut progress = this.run_commands(cx);
            progress |= this.start_next();
            progress |= this.poll_read(cx);
            progress |= this.dispatch();
            progress |= this.poll_timer(cx);
            progress |= this.dispatch();
            progress |= this.start_next();
            progress |= this.poll_write(cx);
            if this.current.as_ref().is_some_and(|c| !c.outq.is_empty() || (c.half_close && !c.request_done))
            {
                this.flush();
                progress |= this.poll_write(cx);
            }
            let busy = usize::from(this.current.is_some()) + this.waiting.len();
            this.handle.active_calls.store(busy, Ordering::Release);
            if this.sock.done || (this.conn.is_closed() && this.sock.out.is_empty()) {
                // What the connection still holds of a response is the call's.
                this.dispatch_events(true);
                if this.current.as_ref().is_some_and(|c| c.response_done && !c.abort) {
                    // The application still takes the last messages; woken by
                    // its pull (a command).
                    this.deliver();
                    if this.current.is_some() {
                        return Poll::Pending;
                    }
                }
                match this.poll_redial(cx) {
                    Poll::Ready(true) => continue,
                    Poll::Ready(false) => {
                        this.end();
                        return Poll::Ready(());
                    }
                    Poll::Pending => return Poll::Pending,
                }
            }
            if !progress {
                return Poll::Pending;
            }
        }
        cx.waker().wake_by_ref();
        Poll::Pending
    }
}
