//! The HTTP/1.1 connection driver: drives a Sans-IO
//! `weir_core::http1::ServerConnection` over an [`Io`] (read into its
//! input buffer, poll events, write what `poll_transmit` produced, one
//! timer) and bridges each gRPC-Web request to the server's router.
//!
//! Exchanges are one at a time, so a connection holds at most one call.
//! Its handler, response stream and `after` hooks are polled inline, on
//! the driver's own task: nothing is spawned unless the connection ends
//! while a call still owes its `after` hooks.
//!
//! What a connection holds is bounded: the request body is decoded as it
//! arrives (`WebDecoder`: at most one partial message of
//! `max_recv_message_size`, plus one socket read), the messages of a call
//! together are bounded by `max_recv_message_size` too, and response
//! messages are taken from a handler's stream only while less than
//! [`OUT_HIGH`] octets wait to be written. Both count against the
//! connection's and the server's memory budgets.

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Instant;

use bytes::{Bytes, BytesMut};
use weir_core::conn::TransmitBuf;
use weir_core::grpc::codec::{PREFIX_LEN, prefix};
use weir_core::grpc::timeout::parse_timeout;
use weir_core::grpc::web::{self, WebDecoder, WebEncoder, WebEncoding, WebFrame};
use weir_core::grpc::{Code, Compression, Metadata, Received, Status, WireBytes};
use weir_core::hpack::HeaderField;
use weir_core::http1::{Event, Field, RequestError, RequestHead, RequestId, ResponseHead, ServerConnection};

use super::{GrpcWeb, cors};
use crate::budget::ConnBudget;
use crate::call::CallShared;
use crate::http1_io::Http1Io;
use crate::interceptor::AfterOnce;
use crate::request::{CallInfo, CallLink, OutMessage, Request, Response, Streaming};
use crate::runtime::{BoxFuture, Io, PeerInfo, Runtime};
use crate::server::driver::{
    ServerCtx, StreamNext, UNREGISTERED, panicked, settle, with_interceptors, with_interceptors_before,
};
#[cfg(feature = "tower")]
use crate::server::fallback::{self, Fallback, FallbackExchange};
use crate::server::router::{Method, ResponseStream};
use crate::server::shutdown::Listener;
use crate::stats::Side;
use crate::trace::{CallObserver, ConnObserver, HandlerSpan};
use crate::util::CatchUnwind;

/// Response octets waiting to be written above which a handler's stream is
/// not asked for more (backpressure toward the handler).
pub(crate) const OUT_HIGH: usize = 64 << 10;
/// Request headers of HTTP/1.1 itself, never passed on as metadata.
const NOT_METADATA: &[&[u8]] = &[
    b"host",
    b"connection",
    b"keep-alive",
    b"content-length",
    b"transfer-encoding",
    b"te",
    b"trailer",
    b"upgrade",
    b"proxy-connection",
    b"expect",
];

/// Where a gRPC-Web call is.
enum Phase {
    /// Reading the request body.
    Reading,
    /// A unary or client-streaming handler (its `after` hooks run inside).
    Unary(CatchUnwind<BoxFuture<'static, Result<Response<Bytes>, Status>>>),
    /// A streaming handler that has not returned its stream yet.
    Opening(CatchUnwind<BoxFuture<'static, Result<Response<ResponseStream>, Status>>>),
    /// Relaying the handler's response stream.
    Relaying { stream: CatchUnwind<StreamNext>, trailers: Metadata },
    /// The `after` hooks running on the final status.
    Settling { fut: BoxFuture<'static, Status>, trailers: Metadata },
    /// Answered.
    Done,
}

/// One gRPC-Web call: its request body, its handler and its response.
struct WebCall {
    encoding: WebEncoding,
    encoder: WebEncoder,
    /// CORS headers of the response.
    cors: Vec<Field>,
    decoder: WebDecoder,
    /// Request messages (decompressed) with their compressed flag.
    messages: Received,
    /// `grpc-encoding` of compressed request messages.
    compression: Option<Arc<dyn Compression>>,
    /// The client's `grpc-accept-encoding`.
    accepts: Bytes,
    /// The response compression the handler chose and the client accepts.
    send_compression: Option<Arc<dyn Compression>>,
    /// The handler (`None` for a call refused before it).
    method: Option<Method>,
    metadata: Metadata,
    /// Message payload octets received and sent (no prefixes), for stats.
    wire: WireBytes,
    info: Arc<CallInfo>,
    shared: Arc<CallShared>,
    obs: Option<Box<CallObserver>>,
    after: Option<Arc<AfterOnce>>,
    phase: Phase,
    head_sent: bool,
}

/// One request and its response.
struct Exchange {
    id: RequestId,
    /// The request was read to its end.
    request_done: bool,
    /// The gRPC-Web call, when the request is one that is being served.
    call: Option<Box<WebCall>>,
    /// The request the fallback service serves.
    #[cfg(feature = "tower")]
    fallback: Option<Box<FallbackExchange>>,
}

impl Exchange {
    fn new(id: RequestId) -> Self {
        Exchange {
            id,
            request_done: false,
            call: None,
            #[cfg(feature = "tower")]
            fallback: None,
        }
    }

    /// Answered, as far as the server goes.
    fn answered(&self) -> bool {
        #[cfg(feature = "tower")]
        if self.fallback.as_ref().is_some_and(|f| !f.is_done()) {
            return false;
        }
        self.call.as_ref().is_none_or(|c| matches!(c.phase, Phase::Done))
    }
}

/// The link of a client-streaming request whose messages were all queued
/// before the handler started: nothing to pull, nothing to cancel.
struct Prefilled;

impl CallLink for Prefilled {
    fn pull(&self) {}
    fn cancel(&self) {}
}

/// The per-connection HTTP/1.1 driver future.
pub(crate) struct WebDriver<R: Runtime> {
    rt: R,
    /// Socket, output, timer and byte counts.
    sock: Http1Io<R>,
    conn: ServerConnection,
    ctx: Arc<ServerCtx>,
    /// gRPC-Web settings (the defaults when only a fallback is served).
    web: Arc<GrpcWeb>,
    /// gRPC-Web calls are served (not only the fallback).
    #[cfg_attr(not(feature = "tower"), allow(dead_code))]
    serves_web: bool,
    #[cfg(feature = "tower")]
    fallback: Option<Arc<dyn Fallback>>,
    peer: Arc<PeerInfo>,
    shutdown: Listener,
    /// Set once a graceful shutdown started: past it the connection ends
    /// whatever still runs.
    grace_end: Option<Instant>,
    obs: ConnObserver,
    budget: Arc<ConnBudget>,
    /// Request octets charged to the budget (decoder and messages).
    charged: usize,
    exchange: Option<Exchange>,
}

impl<R: Runtime> WebDriver<R> {
    /// A driver for `io`, whose first octets `sniffed` were already read.
    /// `web`: gRPC-Web is served (else only the fallback, with default
    /// HTTP/1.1 limits).
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        rt: R,
        io: Box<dyn Io>,
        sniffed: BytesMut,
        peer: PeerInfo,
        ctx: Arc<ServerCtx>,
        web: Option<Arc<GrpcWeb>>,
        #[cfg(feature = "tower")] fallback: Option<Arc<dyn Fallback>>,
        shutdown: Listener,
    ) -> Self {
        let serves_web = web.is_some();
        let web = web.unwrap_or_default();
        let now = rt.now();
        let mut conn = ServerConnection::new(web.http1.clone(), now);
        if !sniffed.is_empty() {
            conn.handle_input(now, &sniffed);
        }
        let obs = ConnObserver::open(Side::Server, (peer.addr, ctx.local), None, ctx.stats.clone(), now);
        let mut sock = Http1Io::new(rt.clone(), io);
        sock.stats.data_received = sniffed.len() as u64;
        WebDriver {
            budget: ConnBudget::new(ctx.connection_budget, ctx.budget.clone()),
            sock,
            rt,
            conn,
            ctx,
            web,
            serves_web,
            #[cfg(feature = "tower")]
            fallback,
            peer: Arc::new(peer),
            shutdown,
            grace_end: None,
            obs,
            charged: 0,
            exchange: None,
        }
    }

    // ----- I/O -----------------------------------------------------------

    /// Reads what is available into the connection, while it wants input.
    fn poll_read(&mut self, cx: &mut Context<'_>) -> bool {
        let pass = self.sock.poll_read(cx, &mut self.conn);
        // A client that closes while its call runs has gone (no browser
        // half-closes): the call is cancelled, as over HTTP/2 by a reset,
        // rather than left to run unread.
        if pass.eof && self.exchange.as_ref().is_some_and(|e| e.request_done && !e.answered()) {
            self.fail();
        }
        pass.progress
    }

    /// Writes what the connection produced until the socket pushes back;
    /// shuts the socket down once the connection is closed (or idle in a
    /// graceful shutdown).
    fn poll_write(&mut self, cx: &mut Context<'_>) -> bool {
        let idle_shutdown = self.grace_end.is_some() && self.exchange.is_none();
        self.sock.poll_write(cx, &mut self.conn, idle_shutdown)
    }

    /// The socket failed: the connection is over, whatever it held.
    fn fail(&mut self) {
        self.sock.fail(&mut self.conn);
    }

    /// Fires the connection's timers, the call's deadline and the end of
    /// a shutdown's grace period.
    fn poll_timer(&mut self, cx: &mut Context<'_>) -> bool {
        let deadline = self.exchange.as_ref().and_then(|e| e.call.as_ref()).and_then(|c| c.deadline());
        let at = [self.conn.poll_timeout(), deadline, self.grace_end].into_iter().flatten().min();
        if !self.sock.poll_alarm(cx, at) {
            return false;
        }
        let now = self.rt.now();
        if self.grace_end.is_some_and(|g| g <= now) {
            self.fail();
            return true;
        }
        if deadline.is_some_and(|d| d <= now) {
            self.deadline_exceeded();
        }
        self.conn.handle_timeout(now);
        true
    }

    // ----- requests ------------------------------------------------------

    /// Handles the connection's events while the current call can take them.
    fn dispatch(&mut self, cx: &mut Context<'_>) -> bool {
        let mut progress = false;
        loop {
            if self.sock.done || (self.grace_end.is_some() && self.exchange.is_none()) {
                return progress;
            }
            let reading = self.exchange.as_ref().and_then(|e| e.call.as_ref()).is_some_and(|c| c.reading());
            if reading && !self.budget.can_pull() {
                // Left in the connection's buffers, where reading stops.
                self.budget.register(cx);
                return progress;
            }
            #[cfg(feature = "tower")]
            if let Some(f) = self.exchange.as_ref().and_then(|e| e.fallback.as_ref())
                && !f.has_room(cx)
            {
                return progress;
            }
            let Some(event) = self.conn.poll_event() else { return progress };
            progress = true;
            match event {
                Event::Request(head) => self.on_request(head),
                Event::Data { data, .. } => self.on_data(data),
                Event::End { .. } => self.on_end(),
                Event::Error(e) => self.on_error(e),
            }
            self.sync_budget();
        }
    }

    fn on_request(&mut self, head: RequestHead) {
        let id = head.id;
        self.exchange = Some(Exchange::new(id));
        #[cfg(feature = "tower")]
        if let Some(fallback) = self.fallback.clone()
            && !self.is_grpc_web(&head)
        {
            match FallbackExchange::start(&*fallback, &head) {
                Some(f) => {
                    if let Some(ex) = &mut self.exchange {
                        ex.fallback = Some(Box::new(f));
                    }
                    if head.expects_continue {
                        let _ = self.conn.send_continue(id);
                    }
                }
                None => self.respond_empty(id, ResponseHead::new(400).with_content_length(0).with_close()),
            }
            return;
        }
        match &head.method[..] {
            b"OPTIONS" => {
                let resp = cors::preflight(&self.web, &head);
                self.respond_empty(id, resp);
            }
            b"POST" => match head.header("content-type").and_then(|v| web::parse_content_type(v)) {
                Some(encoding) => self.start_call(head, encoding),
                None => self.respond_empty(id, ResponseHead::new(415).with_content_length(0)),
            },
            _ => self.respond_empty(id, ResponseHead::new(404).with_content_length(0)),
        }
    }

    /// True for the requests gRPC-Web serves: calls with a gRPC-Web content
    /// type, and CORS preflights for the methods the router serves.
    #[cfg(feature = "tower")]
    fn is_grpc_web(&self, head: &RequestHead) -> bool {
        if !self.serves_web {
            return false;
        }
        let path = match head.target.iter().position(|&b| b == b'?') {
            Some(q) => &head.target[..q],
            None => &head.target[..],
        };
        match &head.method[..] {
            b"POST" => head.header("content-type").and_then(|v| web::parse_content_type(v)).is_some(),
            b"OPTIONS" => self.ctx.router.lookup(path).is_ok(),
            _ => false,
        }
    }

    /// A complete response without a body.
    fn respond_empty(&mut self, id: RequestId, resp: ResponseHead) {
        if self.conn.send_response(id, &resp).is_ok() {
            let _ = self.conn.send_end(id, &[]);
        }
    }

    fn start_call(&mut self, head: RequestHead, encoding: WebEncoding) {
        let now = self.rt.now();
        let path = match head.target.iter().position(|&b| b == b'?') {
            Some(q) => head.target.slice(..q),
            None => head.target.clone(),
        };
        let method = self.ctx.router.lookup(&path).cloned();
        let reported = if method.is_ok() { &path } else { &UNREGISTERED };
        let obs = self.obs.call(&path, reported, now);
        let mut cors = Vec::new();
        cors::response_headers(&self.web, &head, &mut cors);
        let parts = method.and_then(|m| self.request_parts(&head, now).map(|p| (m, p)));
        let ((method, (metadata, deadline, compression)), failed) = match parts {
            Ok((m, p)) => ((Some(m), p), None),
            Err(status) => ((None, Default::default()), Some(status)),
        };
        let info = Arc::new(CallInfo {
            path,
            authority: head.header("host").cloned(),
            deadline,
            peer: self.peer.clone(),
        });
        let max = self.ctx.config.messages.max_recv_message_size;
        let call = Box::new(WebCall {
            encoding,
            encoder: WebEncoder::new(encoding),
            cors,
            decoder: WebDecoder::new(encoding, max),
            messages: Received::new(),
            compression,
            accepts: head.header("grpc-accept-encoding").cloned().unwrap_or_default(),
            send_compression: None,
            method,
            metadata,
            wire: WireBytes::default(),
            info,
            shared: CallShared::with_budget(self.budget.clone()),
            obs,
            after: None,
            phase: Phase::Reading,
            head_sent: false,
        });
        let id = head.id;
        if let Some(ex) = &mut self.exchange {
            ex.call = Some(call);
        }
        match failed {
            Some(status) => self.finish(status, Metadata::new()),
            None if deadline.is_some_and(|d| d <= now) => {
                self.finish(Status::new(Code::DeadlineExceeded, "Deadline Exceeded"), Metadata::new())
            }
            None if head.expects_continue => drop(self.conn.send_continue(id)),
            None => {}
        }
    }

    /// The call's metadata, deadline and request compression, from its head
    /// (as the HTTP/2 server validates them).
    #[allow(clippy::type_complexity)]
    fn request_parts(
        &self,
        head: &RequestHead,
        now: Instant,
    ) -> Result<(Metadata, Option<Instant>, Option<Arc<dyn Compression>>), Status> {
        let deadline = match head.header("grpc-timeout") {
            None => None,
            Some(v) => Some(
                now + parse_timeout(v).map_err(|e| {
                    let msg = format!("malformed grpc-timeout {:?}: {e:?}", String::from_utf8_lossy(v));
                    Status::new(Code::Internal, msg)
                })?,
            ),
        };
        let compressors = &self.ctx.config.messages.compressors;
        let compression = match head.header("grpc-encoding").map(|v| &v[..]) {
            None | Some(b"identity") => None,
            Some(name) => Some(compressors.get(name).cloned().ok_or_else(|| {
                let msg = format!(
                    "grpc: compressor is not installed for requested grpc-encoding {:?}",
                    String::from_utf8_lossy(name)
                );
                Status::new(Code::Unimplemented, msg)
            })?),
        };
        Ok((metadata_of(head)?, deadline, compression))
    }

    fn on_data(&mut self, data: Bytes) {
        #[cfg(feature = "tower")]
        if let Some(f) = self.exchange.as_mut().and_then(|e| e.fallback.as_mut()) {
            return f.on_data(data);
        }
        let data = &data[..];
        let max = self.ctx.config.messages.max_recv_message_size;
        let Some(call) = self.reading_call() else { return };
        call.decoder.push(data);
        let failed = loop {
            match call.decoder.next_frame() {
                Ok(None) => break None,
                Ok(Some(WebFrame::Message(m))) => match call.open(m.data, m.compressed, max) {
                    Ok(()) => {}
                    Err(status) => break Some(status),
                },
                Ok(Some(WebFrame::Trailers(_))) => {
                    break Some(Status::new(Code::Internal, "trailers frame in a request"));
                }
                Err(e) => break Some(e.status("gRPC-Web request body")),
            }
        };
        if let Some(status) = failed {
            self.finish(status, Metadata::new());
        }
    }

    fn on_end(&mut self) {
        let Some(ex) = &mut self.exchange else { return };
        ex.request_done = true;
        #[cfg(feature = "tower")]
        if let Some(f) = &mut ex.fallback {
            return f.on_end(Ok(()));
        }
        let Some(call) = self.reading_call() else { return };
        if let Err(e) = call.decoder.finish() {
            return self.finish(e.status("gRPC-Web request body"), Metadata::new());
        }
        self.start_handler();
    }

    /// The client sent something the connection refused (it answered, or
    /// finishes the response begun, and closes).
    fn on_error(&mut self, _: RequestError) {
        #[cfg(feature = "tower")]
        if let Some(f) = self.exchange.as_mut().and_then(|e| e.fallback.as_mut()) {
            f.on_end(Err("malformed HTTP/1.1 request".into()));
        }
        if let Some(mut call) = self.exchange.take().and_then(|e| e.call) {
            call.cancel(&self.rt, Status::new(Code::Internal, "malformed HTTP/1.1 request"));
        }
    }

    /// The call whose body is being read, if any.
    fn reading_call(&mut self) -> Option<&mut WebCall> {
        self.exchange.as_mut()?.call.as_deref_mut().filter(|c| c.reading())
    }

    /// Keeps the budget's count of request octets equal to what is held.
    fn sync_budget(&mut self) {
        let held = self.exchange.as_ref().and_then(|e| e.call.as_ref()).map_or(0, |c| c.held_inbound());
        #[cfg(feature = "tower")]
        let held = held + self.exchange.as_ref().and_then(|e| e.fallback.as_ref()).map_or(0, |f| f.held());
        if held > self.charged {
            self.budget.charge_inbound(held - self.charged);
        } else {
            self.budget.release_inbound(self.charged - held);
        }
        self.charged = held;
    }

    // ----- handlers --------------------------------------------------------

    /// The request is complete: run the interceptors and the handler.
    fn start_handler(&mut self) {
        let chain = self.ctx.interceptors.clone();
        let Some(call) = self.exchange.as_mut().and_then(|e| e.call.as_deref_mut()) else { return };
        let Some(method) = call.method.clone() else { return };
        let (shared, info) = (call.shared.clone(), call.info.clone());
        let metadata = std::mem::take(&mut call.metadata);
        let streams = method.streams_requests();
        let single = match call.messages.len() {
            _ if streams => None,
            1 => call.messages.pop_front(),
            0 => {
                let status = Status::new(Code::Internal, "unary call ended without a request message");
                return self.finish(status, Metadata::new());
            }
            _ => {
                let status = Status::new(Code::Internal, "unary call received more than one request message");
                return self.finish(status, Metadata::new());
            }
        };
        let span = HandlerSpan::of(call.obs.as_deref());
        let after = AfterOnce::new(&chain, &info);
        call.after = after.clone();
        let one = single.map(|(message, compressed)| {
            if let Some(obs) = &mut call.obs {
                obs.received(message.len());
            }
            let mut req = Request::new(message);
            req.compressed = compressed;
            req.with_server_parts(metadata.clone(), info.clone(), shared.clone())
        });
        let many = streams.then(|| {
            let mut batch = std::mem::take(&mut call.messages);
            shared.deliver(&mut batch, call.obs.as_deref_mut(), false);
            shared.end_messages(Ok(()));
            let stream = Streaming::new(shared.clone(), Arc::new(Prefilled), Ok, false);
            Request::new(stream).with_server_parts(metadata, info.clone(), shared.clone())
        });
        call.phase = match (method, one, many) {
            (Method::Unary(h), Some(req), _) => {
                let fut = with_interceptors(chain, info, after, req, move |r| h(r));
                Phase::Unary(CatchUnwind(span.wrap(fut)))
            }
            (Method::ServerStreaming(h), Some(req), _) => {
                let fut = with_interceptors_before(chain, info, after, req, move |r| h(r));
                Phase::Opening(CatchUnwind(span.wrap(fut)))
            }
            (Method::ClientStreaming(h), _, Some(req)) => {
                let fut = with_interceptors(chain, info, after, req, move |r| h(r));
                Phase::Unary(CatchUnwind(span.wrap(fut)))
            }
            (Method::Bidi(h), _, Some(req)) => {
                let fut = with_interceptors_before(chain, info, after, req, move |r| h(r));
                Phase::Opening(CatchUnwind(span.wrap(fut)))
            }
            _ => Phase::Done,
        };
    }

    /// Polls the fallback service's response and writes it.
    #[cfg(feature = "tower")]
    fn drive_fallback(&mut self, cx: &mut Context<'_>) -> bool {
        let Some(ex) = &mut self.exchange else { return false };
        let Some(f) = &mut ex.fallback else { return false };
        let out = self.sock.out.len();
        match f.drive(&mut self.conn, ex.id, cx, |conn| out + conn.send_buffered() < OUT_HIGH) {
            fallback::Drive::Progress(p) => p,
            fallback::Drive::Abort => {
                self.fail();
                true
            }
        }
    }

    /// Polls the call's handler, response stream or `after` hooks.
    fn drive_call(&mut self, cx: &mut Context<'_>) -> bool {
        #[cfg(feature = "tower")]
        let mut progress = self.drive_fallback(cx);
        #[cfg(not(feature = "tower"))]
        let mut progress = false;
        loop {
            let room = self.sock.out.len() + self.conn.send_buffered() < OUT_HIGH;
            let Some(call) = self.exchange.as_mut().and_then(|e| e.call.as_deref_mut()) else {
                return progress;
            };
            let step = match &mut call.phase {
                Phase::Reading | Phase::Done => return progress,
                Phase::Unary(fut) => match Pin::new(fut).poll(cx) {
                    Poll::Pending => return progress,
                    Poll::Ready(Ok(Ok(resp))) => {
                        let compressors = &self.ctx.config.messages.compressors;
                        call.send_compression =
                            response_compression(compressors, resp.compression, &call.accepts);
                        Step::Respond(resp)
                    }
                    Poll::Ready(Ok(Err(status))) => Step::Finish(status, Metadata::new()),
                    Poll::Ready(Err(p)) => Step::Settle(panicked(p), Metadata::new()),
                },
                Phase::Opening(fut) => match Pin::new(fut).poll(cx) {
                    Poll::Pending => return progress,
                    Poll::Ready(Ok(Ok(resp))) => {
                        let compressors = &self.ctx.config.messages.compressors;
                        call.send_compression =
                            response_compression(compressors, resp.compression, &call.accepts);
                        let (md, stream, trailers) = resp.into_parts();
                        call.phase = Phase::Relaying { stream: CatchUnwind(StreamNext(stream)), trailers };
                        Step::Head(md)
                    }
                    Poll::Ready(Ok(Err(status))) => Step::Finish(status, Metadata::new()),
                    Poll::Ready(Err(p)) => Step::Settle(panicked(p), Metadata::new()),
                },
                // Without room, woken by the write that makes some.
                Phase::Relaying { .. } if !room => return progress,
                Phase::Relaying { stream, trailers } => match Pin::new(stream).poll(cx) {
                    Poll::Pending => return progress,
                    Poll::Ready(Ok(Some(Ok(msg)))) => Step::Message(msg),
                    Poll::Ready(Ok(Some(Err(status)))) => Step::Settle(status, std::mem::take(trailers)),
                    Poll::Ready(Ok(None)) => Step::Settle(Status::ok(), std::mem::take(trailers)),
                    Poll::Ready(Err(p)) => Step::Settle(panicked(p), Metadata::new()),
                },
                Phase::Settling { fut, trailers } => match fut.as_mut().poll(cx) {
                    Poll::Pending => return progress,
                    Poll::Ready(status) => Step::Finish(status, std::mem::take(trailers)),
                },
            };
            progress = true;
            match step {
                Step::Head(md) => self.send_head(&md),
                Step::Respond(resp) => {
                    let (md, msg, trailers) = resp.into_parts();
                    self.send_head(&md);
                    match self.send_message(OutMessage::from(msg)) {
                        Ok(()) => self.finish(Status::ok(), trailers),
                        Err(status) => self.finish(status, Metadata::new()),
                    }
                }
                Step::Message(msg) => {
                    if let Err(status) = self.send_message(msg) {
                        self.settle(status, Metadata::new());
                    }
                }
                Step::Finish(status, trailers) => self.finish(status, trailers),
                Step::Settle(status, trailers) => self.settle(status, trailers),
            }
        }
    }

    /// Runs the `after` hooks the call owes on `status`, then answers.
    fn settle(&mut self, status: Status, trailers: Metadata) {
        if let Some(call) = self.exchange.as_mut().and_then(|e| e.call.as_deref_mut()) {
            let fut = Box::pin(settle(call.after.take(), status));
            call.phase = Phase::Settling { fut, trailers };
        }
    }

    /// The deadline passed: the handler (if any) is dropped and the client
    /// gets DEADLINE_EXCEEDED once the `after` hooks saw it.
    fn deadline_exceeded(&mut self) {
        let Some(call) = self.exchange.as_mut().and_then(|e| e.call.as_deref_mut()) else { return };
        let status = Status::new(Code::DeadlineExceeded, "Deadline Exceeded");
        call.shared.close_send(status.clone());
        match call.phase {
            Phase::Done | Phase::Settling { .. } => {}
            Phase::Reading => self.finish(status, Metadata::new()),
            _ => {
                let fut = Box::pin(settle(call.after.take(), status));
                call.phase = Phase::Settling { fut, trailers: Metadata::new() };
            }
        }
    }

    // ----- responses -------------------------------------------------------

    /// The response head: 200, the call's content type, its CORS headers
    /// and the handler's header metadata (sent once).
    fn send_head(&mut self, md: &Metadata) {
        let Some(ex) = &mut self.exchange else { return };
        let Some(call) = ex.call.as_deref_mut() else { return };
        if std::mem::replace(&mut call.head_sent, true) {
            return;
        }
        let mut head = ResponseHead::new(200).with_header("content-type", call.encoding.content_type());
        head.headers.extend(call.cors.iter().cloned());
        if let Some(algo) = &call.send_compression {
            head.headers.push(Field::new(&b"grpc-encoding"[..], algo.name()));
        }
        let fixed = head.headers.len();
        let mut fields = Vec::new();
        md.to_fields(&mut fields);
        head.headers.extend(fields.into_iter().map(|f| Field::new(f.name, f.value)));
        if self.conn.send_response(ex.id, &head).is_err() {
            // Metadata the connection refuses (a value with CR or LF): the
            // head without it.
            head.headers.truncate(fixed);
            let _ = self.conn.send_response(ex.id, &head);
        }
    }

    /// A response message (or a batch of them, already framed) as frames.
    fn send_message(&mut self, msg: OutMessage) -> Result<(), Status> {
        let max = self.ctx.config.messages.max_send_message_size;
        let Some(ex) = &mut self.exchange else { return Ok(()) };
        let Some(call) = ex.call.as_deref_mut() else { return Ok(()) };
        let (count, payload) = match &msg.batch {
            Some(b) => (b.messages(), b.payload() as usize),
            None => (1, msg.len()),
        };
        let frames = encode_messages(&call.encoder, msg, call.send_compression.as_ref(), max)?;
        call.wire.sent += payload as u64;
        if let Some(obs) = &mut call.obs {
            obs.sent_many(count, payload);
        }
        let _ = self.conn.send_data(ex.id, frames);
        Ok(())
    }

    /// Ends the call with `status`: the trailers frame (after a head when
    /// none was sent: a trailers-only response), then the response's end.
    fn finish(&mut self, status: Status, trailers: Metadata) {
        self.send_head(&Metadata::new());
        let now = self.rt.now();
        let Some(ex) = &mut self.exchange else { return };
        let Some(call) = ex.call.as_deref_mut() else { return };
        call.phase = Phase::Done;
        call.shared.close_send(Status::new(Code::Cancelled, "call already finished"));
        // A handler's error status keeps its own trailing metadata.
        let mut status = status;
        status.metadata.extend(trailers);
        let frame = call.encoder.trailers(&status);
        let _ = self.conn.send_data(ex.id, frame);
        let _ = self.conn.send_end(ex.id, &[]);
        if let Some(obs) = call.obs.take() {
            obs.end(status.code, &status.message, call.wire, now);
        }
        call.messages.clear();
        self.sync_budget();
    }

    /// The exchange is over once its request was read and its call answered.
    fn retire_exchange(&mut self) {
        let over = self.exchange.as_ref().is_some_and(|e| e.request_done && e.answered())
            && self.conn.current_request().is_none();
        if over {
            self.exchange = None;
            self.sync_budget();
        }
    }

    /// The connection ended: a call still running is cancelled.
    fn close(&mut self) {
        if let Some(mut call) = self.exchange.take().and_then(|e| e.call) {
            call.cancel(&self.rt, Status::new(Code::Unavailable, "connection closed"));
        }
        self.sync_budget();
        self.budget.set_core_send(0);
        self.obs.close(self.sock.stats, None, self.rt.now());
    }
}

/// What one pass over a call decided.
enum Step {
    /// Send the response head with this metadata.
    Head(Metadata),
    /// A unary response: head, message, trailers.
    Respond(Response<Bytes>),
    /// A message of the response stream.
    Message(OutMessage),
    /// Answer with this status.
    Finish(Status, Metadata),
    /// Run the `after` hooks on this status, then answer.
    Settle(Status, Metadata),
}

impl WebCall {
    fn reading(&self) -> bool {
        matches!(self.phase, Phase::Reading)
    }

    /// Request octets held: the decoder's and the messages'.
    fn held_inbound(&self) -> usize {
        if self.reading() { self.decoder.buffered() + self.messages.payload() } else { 0 }
    }

    /// When the client gives up, while the call is not answered nor settling.
    fn deadline(&self) -> Option<Instant> {
        let running = !matches!(self.phase, Phase::Done | Phase::Settling { .. });
        running.then_some(self.info.deadline).flatten()
    }

    /// Keeps a request message, decompressed; the messages of one call
    /// together are bounded by `max`.
    fn open(&mut self, data: Bytes, compressed: bool, max: usize) -> Result<(), Status> {
        let data = decompress_request(data, compressed, self.compression.as_deref(), max)?;
        if self.messages.payload() + data.len() > max {
            let text = format!("request messages larger than max together ({max}) over gRPC-Web");
            return Err(Status::new(Code::ResourceExhausted, text));
        }
        self.wire.received += data.len() as u64;
        self.messages.push_back(data, compressed);
        Ok(())
    }

    /// The connection ended before the call was answered: the handler is
    /// dropped and the `after` hooks it owes run on a task of their own.
    fn cancel<R: Runtime>(&mut self, rt: &R, reason: Status) {
        self.shared.close_send(reason.clone());
        self.shared.end_messages(Err(reason.clone()));
        if !matches!(std::mem::replace(&mut self.phase, Phase::Done), Phase::Done)
            && let Some(after) = self.after.take()
        {
            rt.spawn(async move { drop(settle(Some(after), reason).await) });
        }
        if let Some(obs) = self.obs.take() {
            obs.end(Code::Cancelled, "connection closed", Default::default(), rt.now());
        }
    }
}

/// A request message as the handler gets it: decompressed with the call's
/// `grpc-encoding` when its compressed flag is set, at most `max` octets.
pub(crate) fn decompress_request(
    data: Bytes,
    compressed: bool,
    compression: Option<&dyn Compression>,
    max: usize,
) -> Result<Bytes, Status> {
    match (compressed, compression) {
        (false, _) => Ok(data),
        (true, None) => Err(Status::new(Code::Internal, "compressed flag set without grpc-encoding")),
        (true, Some(algo)) => {
            let mut out = Vec::new();
            algo.decompress(&data, &mut out, max).map_err(|e| match e {
                weir_core::grpc::CompressionError::TooLarge { max } => Status::new(
                    Code::ResourceExhausted,
                    format!("decompressed message larger than max ({max})"),
                ),
                e => Status::new(Code::Internal, format!("failed to decompress message: {e}")),
            })?;
            Ok(Bytes::from(out))
        }
    }
}

/// Messages as gRPC-Web frames: one message or a framed batch (each behind
/// its prefix, flag clear), compressed one by one with `algo` unless the
/// message opts out, each at most `max` octets as sent.
pub(crate) fn encode_messages(
    encoder: &WebEncoder,
    msg: OutMessage,
    algo: Option<&Arc<dyn Compression>>,
    max: usize,
) -> Result<Bytes, Status> {
    let too_large = |len: usize| {
        let text = format!("grpc: trying to send message larger than max ({len} vs. {max})");
        Status::new(Code::ResourceExhausted, text)
    };
    let Some(algo) = algo.filter(|_| msg.compress.unwrap_or(true)) else {
        return match msg.batch {
            Some(b) if b.largest() > max => Err(too_large(b.largest())),
            Some(_) => Ok(encoder.frames(msg.data)),
            None if msg.len() > max => Err(too_large(msg.len())),
            None => Ok(encoder.message(&msg.into_contiguous())),
        };
    };
    let batch = msg.batch.is_some();
    let data = msg.into_contiguous();
    let mut out = Vec::with_capacity(data.len() / 2 + 16);
    let mut packed = Vec::new();
    let mut compress_one = |m: &[u8]| -> Result<(), Status> {
        packed.clear();
        algo.compress(m, &mut packed)
            .map_err(|e| Status::new(Code::Internal, format!("compression failed: {e}")))?;
        if packed.len() > max {
            return Err(too_large(packed.len()));
        }
        out.extend_from_slice(&prefix(true, packed.len() as u32));
        out.extend_from_slice(&packed);
        Ok(())
    };
    if !batch {
        compress_one(&data)?;
    } else {
        let mut rest = &data[..];
        while rest.len() >= PREFIX_LEN {
            let len = u32::from_be_bytes([rest[1], rest[2], rest[3], rest[4]]) as usize;
            let Some(m) = rest.get(PREFIX_LEN..PREFIX_LEN + len) else {
                return Err(Status::new(Code::Internal, "malformed message batch"));
            };
            compress_one(m)?;
            rest = &rest[PREFIX_LEN + len..];
        }
    }
    Ok(encoder.frames(Bytes::from(out)))
}

/// The response compression a handler chose, when the client accepts it
/// (`accepts`: its `grpc-accept-encoding`); otherwise none (compression is
/// optional).
pub(crate) fn response_compression(
    compressors: &weir_core::grpc::Compressors,
    name: Option<&'static str>,
    accepts: &[u8],
) -> Option<Arc<dyn Compression>> {
    let algo = compressors.get(name?.as_bytes())?;
    accepts.split(|&b| b == b',').any(|t| t.trim_ascii() == algo.name().as_bytes()).then(|| algo.clone())
}

/// The request metadata: every header field but HTTP/1.1's own and gRPC's
/// reserved ones, names lower-cased; names that are not metadata keys are
/// left out.
fn metadata_of(head: &RequestHead) -> Result<Metadata, Status> {
    let fields = head
        .headers
        .iter()
        .map(|f| (f.name.to_ascii_lowercase(), f))
        .filter(|(name, _)| !NOT_METADATA.contains(&&name[..]))
        .filter(|(name, _)| name.iter().all(|&b| matches!(b, b'0'..=b'9' | b'a'..=b'z' | b'_' | b'.' | b'-')))
        .map(|(name, f)| HeaderField::new(name, f.value.clone()))
        .collect();
    Metadata::from_header_vec(fields)
        .map_err(|e| Status::new(Code::Internal, format!("malformed metadata: {e}")))
}

impl<R: Runtime> std::future::Future for WebDriver<R> {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = self.get_mut();
        for _ in 0..64 {
            let mut progress = false;
            if this.grace_end.is_none() && this.shutdown.poll_triggered(cx).is_ready() {
                this.grace_end = Some(this.rt.now() + this.ctx.config.h2.shutdown_grace);
                progress = true;
            }
            progress |= this.poll_read(cx);
            progress |= this.dispatch(cx);
            progress |= this.drive_call(cx);
            progress |= this.poll_timer(cx);
            progress |= this.drive_call(cx);
            progress |= this.poll_write(cx);
            this.retire_exchange();
            this.budget.set_core_send(this.sock.out.len() + this.conn.send_buffered());
            if this.sock.done {
                this.close();
                return Poll::Ready(());
            }
            if !progress {
                return Poll::Pending;
            }
        }
        cx.waker().wake_by_ref();
        Poll::Pending
    }
}
