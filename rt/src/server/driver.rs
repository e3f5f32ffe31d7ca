//! One task per server connection: owns the gRPC core, reads, writes, fires
//! timers, starts handlers and relays between them and the core.
//!
//! A handler's future is polled once inline, on the driver's own poll; only
//! if it is not immediately ready is it spawned as a task of its own. A
//! handler that answers at once (most unary calls) costs no spawn and no
//! cross-task wake-up.

use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::Bytes;
use weir_core::grpc::{
    self, CallId, Code, Metadata, Received, RecvBatch, RecvMessage, Room, ServerEvent, Status,
};

use weir_core::headers::Headers;
use weir_core::hpack::HeaderField;

use super::router::{Method, ResponseStream};
use super::shutdown::Listener;
use super::web::{self, GrpcWeb};
use crate::batch::{FrameBuf, Held, batchable};
use crate::budget::{ConnBudget, ServerBudget};
use crate::call::{CallShared, MESSAGE_COST, queue_limit, queue_room};
use crate::interceptor::{AfterOnce, Interceptor, run_before};
use crate::queue::CommandQueue;
use crate::request::{CallInfo, CallLink, OutMessage, Request, Response, Streaming};
use crate::runtime::{BoxFuture, Io, PeerInfo, Runtime};
use crate::server::router::Router;
use crate::stats::{Side, StatsHandler, UNREGISTERED_METHOD};
use crate::trace::{CallObserver, ConnObserver, HandlerSpan};
use crate::transport::Transport;
use crate::util::CatchUnwind;
use crate::util::{IdMap, remove_id};

/// A started handler and what its call needs when it is done.
struct Handler<T> {
    call: CallId,
    shared: Arc<CallShared>,
    after: Option<Arc<AfterOnce>>,
    fut: BoxFuture<'static, Result<T, Status>>,
}

/// The path reported for calls to methods nobody serves.
pub(crate) static UNREGISTERED: Bytes = Bytes::from_static(UNREGISTERED_METHOD.as_bytes());

/// The next item of a stream, as a future that can be polled repeatedly.
pub(crate) struct StreamNext(pub(crate) ResponseStream);

impl Future for StreamNext {
    type Output = Option<Result<OutMessage, Status>>;
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        self.0.as_mut().poll_next(cx)
    }
}

/// What every connection of one server shares.
pub(crate) struct ServerCtx {
    pub router: Router,
    pub interceptors: Arc<[Arc<dyn Interceptor>]>,
    pub config: grpc::ServerConfig,
    pub stats: Option<Arc<dyn StatsHandler>>,
    /// The listener's address.
    pub local: Option<std::net::SocketAddr>,
    /// Every connection's memory counts here too.
    pub budget: Arc<ServerBudget>,
    /// The memory budget of each connection.
    pub connection_budget: usize,
    /// gRPC-Web on: HTTP/2 streams carry it too, with this CORS policy.
    pub web: Option<Arc<GrpcWeb>>,
    /// The service for the requests that are not gRPC, on HTTP/2 streams
    /// too ([`super::h2_fallback`]).
    #[cfg(feature = "tower")]
    pub fallback: Option<Arc<dyn super::fallback::Fallback>>,
}

/// Requests from handler tasks to their connection's driver.
pub(crate) enum ServerCmd {
    Message { call: CallId, msg: OutMessage },
    Finish { call: CallId, status: Status, trailers: Metadata },
    Pull { call: CallId },
    Done { call: CallId, result: Result<Response<Bytes>, Status> },
    Stream { call: CallId, result: Result<Response<ResponseStream>, Status> },
}

/// Output waiting for the core to accept it.
enum Out {
    Headers(Metadata),
    /// A message; `true` when the sender reserved credit for it.
    Message(OutMessage, bool),
    Finish(Status, Metadata),
}

struct Entry {
    shared: Arc<CallShared>,
    info: Arc<CallInfo>,
    /// Unary and server-streaming calls collect their one request first.
    pending: Option<PendingRequest>,
    out: VecDeque<Out>,
    headers_sent: bool,
    /// Spans and stats, when anyone listens.
    obs: Option<Box<CallObserver>>,
    /// The interceptors' `after` hooks a streaming response still owes.
    after: Option<Arc<AfterOnce>>,
}

impl Drop for Entry {
    fn drop(&mut self) {
        // Responses the core never took give their reservation back.
        for out in self.out.drain(..) {
            if let Out::Message(msg, true) = out {
                self.shared.credit(msg.len(), msg.messages());
            }
        }
    }
}

struct PendingRequest {
    method: Method,
    metadata: Metadata,
}

struct ServerLink {
    cmds: Arc<CommandQueue<ServerCmd>>,
    call: CallId,
}

impl CallLink for ServerLink {
    fn pull(&self) {
        let _ = self.cmds.push(ServerCmd::Pull { call: self.call });
    }
    fn cancel(&self) {}
}

/// The per-connection driver future.
pub(crate) struct ServerDriver<R: Runtime> {
    rt: R,
    transport: Transport<R>,
    /// The connection is over and its calls are ended; only the socket's
    /// drain is left (`Transport::poll_drain`).
    finished: bool,
    core: grpc::Server,
    ctx: Arc<ServerCtx>,
    peer: Arc<PeerInfo>,
    cmds: Arc<CommandQueue<ServerCmd>>,
    cmd_buf: Vec<ServerCmd>,
    calls: IdMap<CallId, Entry>,
    shutdown: Listener,
    shutdown_started: bool,
    obs: ConnObserver,
    budget: Arc<ConnBudget>,
    /// Calls whose request messages stay in the core until the budget has room.
    starved: Vec<CallId>,
    /// A reused buffer for request messages on their way to a call.
    batch: Received,
    /// Since when every response waiting in the core has been held back by
    /// the client's flow-control windows with no DATA sent (the count of
    /// DATA octets sent then): a client that reads, however slowly, moves
    /// the count and is not stalled.
    blocked_since: Option<(std::time::Instant, u64)>,
    /// Requests the fallback service serves, by stream.
    #[cfg(feature = "tower")]
    fallbacks: IdMap<CallId, super::h2_fallback::H2Fallback>,
    /// Request body octets of the fallback's requests charged to the
    /// connection's budget.
    #[cfg(feature = "tower")]
    fallback_charged: usize,
}

impl<R: Runtime> ServerDriver<R> {
    pub fn new(rt: R, io: Box<dyn Io>, peer: PeerInfo, ctx: Arc<ServerCtx>, shutdown: Listener) -> Self {
        let now = rt.now();
        let mut config = ctx.config.clone();
        // gRPC-Web (PROTOCOL-WEB) on HTTP/2 too: browsers that negotiate h2
        // (ALPN offers it first) call over this driver.
        config.grpc_web |= ctx.web.is_some();
        // Requests that are not calls are reported to this driver only when
        // a fallback service answers them; otherwise the core answers 415.
        #[cfg(feature = "tower")]
        {
            config.other_requests = ctx.fallback.is_some();
        }
        #[cfg(not(feature = "tower"))]
        {
            config.other_requests = false;
        }
        config.h2.max_connection_age = config.h2.max_connection_age.map(jittered);
        let obs = ConnObserver::open(Side::Server, (peer.addr, ctx.local), None, ctx.stats.clone(), now);
        ServerDriver {
            transport: Transport::new(rt.clone(), io).drain_on_close(),
            finished: false,
            core: grpc::Server::new(config, now),
            budget: ConnBudget::new(ctx.connection_budget, ctx.budget.clone()),
            starved: Vec::new(),
            batch: Received::new(),
            blocked_since: None,
            #[cfg(feature = "tower")]
            fallbacks: IdMap::default(),
            #[cfg(feature = "tower")]
            fallback_charged: 0,
            rt,
            ctx,
            obs,
            peer: Arc::new(peer),
            cmds: CommandQueue::new(),
            cmd_buf: Vec::new(),
            calls: IdMap::default(),
            shutdown,
            shutdown_started: false,
        }
    }

    fn run_commands(&mut self, cx: &mut Context<'_>) -> bool {
        let mut buf = std::mem::take(&mut self.cmd_buf);
        if self.cmds.poll_drain(cx, &mut buf).is_pending() {
            self.cmd_buf = buf;
            return false;
        }
        for cmd in buf.drain(..) {
            match cmd {
                ServerCmd::Message { call, msg } => self.queue_out(call, Out::Message(msg, true)),
                ServerCmd::Finish { call, status, trailers } => {
                    self.queue_out(call, Out::Finish(status, trailers))
                }
                ServerCmd::Pull { call } => self.pump(cx, call),
                ServerCmd::Done { call, result } => self.apply_unary(call, result),
                ServerCmd::Stream { call, result } => self.apply_stream(call, result),
            }
        }
        self.cmd_buf = buf;
        true
    }

    fn dispatch_events(&mut self, cx: &mut Context<'_>) -> bool {
        let mut progress = false;
        while let Some(e) = self.core.poll_event() {
            progress = true;
            match e {
                ServerEvent::Call { call, start } => self.on_call(cx, call, start),
                ServerEvent::Message { call } | ServerEvent::HalfClosed { call } => self.pump(cx, call),
                ServerEvent::Cancelled { call, reason, wire } => {
                    // A fallback request: its future and body are dropped.
                    #[cfg(feature = "tower")]
                    if self.fallbacks.remove(&call).is_some() {
                        continue;
                    }
                    if let Some(mut entry) = remove_id(&mut self.calls, &call) {
                        if let Some(obs) = entry.obs.take() {
                            obs.end(reason.code, &reason.message, wire, self.rt.now());
                        }
                        entry.shared.close_send(reason.clone());
                        entry.shared.end_messages(Err(reason));
                    }
                }
                ServerEvent::Writable { call } => self.flush_out(call, None),
                ServerEvent::Preflight { call, headers } => self.preflight(call, &headers),
                ServerEvent::Request { stream, headers, end_stream } => {
                    self.on_request(cx, stream, &headers, end_stream)
                }
                #[cfg(feature = "tower")]
                ServerEvent::RequestData { stream } => {
                    if let Some(f) = self.fallbacks.get_mut(&stream) {
                        f.feed(&mut self.core, stream, cx);
                    }
                }
                #[cfg(not(feature = "tower"))]
                ServerEvent::RequestData { .. } => {}
                ServerEvent::GoAway { .. } => {}
                ServerEvent::Closed { .. } => self.fail_all(),
            }
        }
        progress
    }

    fn fail_all(&mut self) {
        self.starved.clear();
        #[cfg(feature = "tower")]
        {
            self.fallbacks.clear();
            self.sync_fallback_budget();
        }
        let reason = Status::new(Code::Unavailable, "connection closed");
        let now = self.rt.now();
        for (call, mut entry) in self.calls.drain() {
            if let Some(obs) = entry.obs.take() {
                let wire = self.core.wire_bytes(call).unwrap_or_default();
                obs.end(reason.code, &reason.message, wire, now);
            }
            entry.shared.close_send(reason.clone());
            entry.shared.end_messages(Err(reason.clone()));
        }
    }

    /// Answers a CORS preflight on an HTTP/2 stream as the HTTP/1.1 driver
    /// does (with gRPC-Web on; otherwise the core reports none).
    fn preflight(&mut self, call: CallId, headers: &Headers) {
        let answer = match &self.ctx.web {
            Some(web) => web::preflight_answer(web, headers),
            None => web::preflight_answer(&GrpcWeb::new(), headers),
        };
        let status = answer.status;
        let _ = self.core.respond(call, status, answer.into_h2_fields());
    }

    /// A request that is not a call (reported only with a fallback): a CORS
    /// preflight for a method the router serves when gRPC-Web is on (as the
    /// HTTP/1.1 driver tells them apart), otherwise the fallback's.
    fn on_request(&mut self, cx: &mut Context<'_>, stream: CallId, headers: &Headers, end_stream: bool) {
        let method = headers.pseudo.method.as_deref().unwrap_or_default();
        let path = headers.pseudo.path.as_deref().unwrap_or_default();
        let path = path.split(|&b| b == b'?').next().unwrap_or_default();
        if method == b"OPTIONS" && self.ctx.web.is_some() && self.ctx.router.lookup(path).is_ok() {
            return self.preflight(stream, headers);
        }
        #[cfg(feature = "tower")]
        if let Some(fallback) = &self.ctx.fallback {
            match super::h2_fallback::H2Fallback::start(&**fallback, headers, end_stream) {
                Some(mut f) => {
                    f.feed(&mut self.core, stream, cx);
                    self.fallbacks.insert(stream, f);
                }
                None => {
                    let _ = self.core.respond(stream, 400, Vec::new());
                }
            }
            return;
        }
        let _ = (cx, end_stream);
        let _ = self.core.respond(stream, 415, Vec::new());
    }

    /// Polls the fallback service's requests: feeds their bodies, writes
    /// their responses.
    #[cfg(feature = "tower")]
    fn drive_fallbacks(&mut self, cx: &mut Context<'_>) -> bool {
        use super::h2_fallback::Step;
        if self.fallbacks.is_empty() {
            self.sync_fallback_budget();
            return false;
        }
        let mut progress = false;
        let mut done = Vec::new();
        for (&stream, f) in self.fallbacks.iter_mut() {
            progress |= f.feed(&mut self.core, stream, cx);
            match f.drive(&mut self.core, stream, cx) {
                Step::Progress(p) => progress |= p,
                Step::Done => {
                    progress = true;
                    done.push(stream);
                }
            }
        }
        for stream in done {
            self.fallbacks.remove(&stream);
        }
        self.sync_fallback_budget();
        progress
    }

    /// Keeps the budget's count of the fallback's request octets equal to
    /// what its bodies' queues hold (as the HTTP/1.1 driver counts them).
    #[cfg(feature = "tower")]
    fn sync_fallback_budget(&mut self) {
        let held: usize = self.fallbacks.values().map(|f| f.held()).sum();
        if held > self.fallback_charged {
            self.budget.charge_inbound(held - self.fallback_charged);
        } else if held < self.fallback_charged {
            self.budget.release_inbound(self.fallback_charged - held);
        }
        self.fallback_charged = held;
    }

    fn on_call(&mut self, cx: &mut Context<'_>, call: CallId, start: grpc::CallStart) {
        let now = self.rt.now();
        if start.web.is_some()
            && let Some(web) = &self.ctx.web
        {
            // CORS response headers for a browser's call, by its origin.
            let fields = web::response_fields(web, start.metadata.get("origin"));
            let fields =
                fields.into_iter().map(|(n, v)| HeaderField::new(Bytes::from_static(n.as_bytes()), v));
            let _ = self.core.add_response_headers(call, fields.collect());
        }
        let method = self.ctx.router.lookup(&start.path).cloned();
        // Stats report methods nobody serves under one name (gRFC A66): a
        // client must not be able to grow their label set. Spans keep the path.
        let reported = if method.is_ok() { &start.path } else { &UNREGISTERED };
        let obs = self.obs.call(&start.path, reported, now);
        let refused = if self.memory_held_by_peer(now) {
            // Backpressure did not help: the client keeps this connection's
            // budget full and opens more calls. Refuse them, and count each
            // refusal like a reset (enough of them end the connection).
            self.core.h2_mut().record_peer_fault(now);
            Err(Status::new(Code::ResourceExhausted, "connection memory budget exhausted"))
        } else {
            method
        };
        let method = match refused {
            Ok(m) => m,
            Err(status) => {
                let wire = self.core.wire_bytes(call).unwrap_or_default();
                let _ = self.core.finish(call, &status, &Metadata::new());
                if let Some(obs) = obs {
                    obs.end(status.code, &status.message, wire, now);
                }
                return;
            }
        };
        let info = Arc::new(CallInfo {
            path: start.path,
            authority: start.authority,
            deadline: start.deadline,
            peer: self.peer.clone(),
        });
        let streams = method.streams_requests();
        let pending =
            (!streams).then(|| PendingRequest { method: method.clone(), metadata: Metadata::new() });
        let mut entry = Entry {
            shared: CallShared::with_budget(self.budget.clone()),
            info,
            pending,
            out: VecDeque::new(),
            headers_sent: false,
            obs,
            after: None,
        };
        if let Some(p) = &mut entry.pending {
            p.metadata = start.metadata;
            self.calls.insert(call, entry);
            self.pump(cx, call);
        } else {
            self.calls.insert(call, entry);
            self.start_handler(cx, call, method, start.metadata, None);
            self.pump(cx, call);
        }
    }

    /// True when this connection is over its memory budget because of its
    /// client: it does not read what it asked for (the core's send buffer is
    /// full and window-blocked). Requests sent faster than handlers take
    /// them cannot fill it: those pulled ahead stay under a quarter of it
    /// ([`ConnBudget::pull_ahead_room`]), the rest wait in the core, where
    /// flow control pushes back on the client.
    fn memory_held_by_peer(&self, now: std::time::Instant) -> bool {
        // A client that reads, only slower than handlers write, gets
        // backpressure; one whose windows stay shut is holding the memory.
        self.budget.exhausted()
            && self.blocked_since.is_some_and(|(t, _)| now.saturating_duration_since(t) >= PEER_STALL)
    }

    /// Moves request messages from the core toward the call.
    fn pump(&mut self, cx: &mut Context<'_>, call: CallId) {
        let limit = queue_limit(self.calls.len(), self.ctx.connection_budget / 8);
        let Some(entry) = self.calls.get_mut(&call) else { return };
        if entry.pending.is_some() {
            // One request message: taken (and decompressed) once the client
            // ended its side, so a request that never ends holds nothing.
            // Until then `Pending`; on an error the core answered and reports
            // the call cancelled.
            if let Ok((RecvMessage::Message(m), compressed)) = self.core.recv_single_message(call) {
                if let Some(obs) = &mut entry.obs {
                    obs.received(m.len());
                }
                let Some(PendingRequest { method, metadata }) = entry.pending.take() else { return };
                self.start_handler(cx, call, method, metadata, Some((m, compressed)));
            }
            return;
        }
        let shared = entry.shared.clone();
        // Everything the queue has room for goes over in one batch: one
        // lock, one budget charge and one wake-up for many small messages.
        let (mut count, mut cost) = shared.queue_len(limit);
        if queue_room(count, cost, limit) == 0 {
            if shared.set_core_has_more() {
                return;
            }
            // The handler took the queue meanwhile.
            (count, cost) = (0, 0);
        }
        let ahead = self.budget.pull_ahead_room();
        if ahead == 0 {
            // Left in the core (compressed) until the budget has room.
            if !self.starved.contains(&call) {
                self.starved.push(call);
            }
            self.budget.register(cx);
            return;
        }
        // The batch may overshoot the budget by itself, as one message may.
        let room = Room { bytes: queue_room(count, cost, limit).min(ahead), per_message: MESSAGE_COST };
        let mut batch = std::mem::take(&mut self.batch);
        let next = self.core.recv_messages(call, room, &mut batch);
        shared.deliver(&mut batch, entry.obs.as_deref_mut(), matches!(next, Ok(RecvBatch::Full)));
        self.batch = batch;
        match next {
            Ok(RecvBatch::Full | RecvBatch::Pending) => {}
            Ok(RecvBatch::End) => shared.end_messages(Ok(())),
            Err(status) => shared.end_messages(Err(status)),
        }
    }

    /// Pumps the calls that stopped at the budget, once it has room.
    fn pump_starved(&mut self, cx: &mut Context<'_>) -> bool {
        if self.starved.is_empty() || self.budget.pull_ahead_room() == 0 {
            return false;
        }
        for call in std::mem::take(&mut self.starved) {
            self.pump(cx, call);
        }
        true
    }

    fn start_handler(
        &mut self,
        cx: &mut Context<'_>,
        call: CallId,
        method: Method,
        metadata: Metadata,
        message: Option<(Bytes, bool)>,
    ) {
        let Some(entry) = self.calls.get_mut(&call) else { return };
        let (message, compressed) = message.unwrap_or_default();
        let (shared, info) = (entry.shared.clone(), entry.info.clone());
        let span = HandlerSpan::of(entry.obs.as_deref());
        let chain = self.ctx.interceptors.clone();
        let after = AfterOnce::new(&chain, &info);
        entry.after = after.clone();
        let streaming = || {
            let link: Arc<dyn CallLink> = Arc::new(ServerLink { cmds: self.cmds.clone(), call });
            Streaming::new(shared.clone(), link, Ok, false)
        };
        match method {
            Method::Unary(h) => {
                let mut req = Request::new(message);
                req.compressed = compressed;
                let req = req.with_server_parts(metadata, info.clone(), shared.clone());
                let fut = span.wrap(with_interceptors(chain, info, after.clone(), req, move |r| h(r)));
                self.run_unary(cx, call, shared, after, fut);
            }
            Method::ClientStreaming(h) => {
                let req = Request::new(streaming()).with_server_parts(metadata, info.clone(), shared.clone());
                let fut = span.wrap(with_interceptors(chain, info, after.clone(), req, move |r| h(r)));
                self.run_unary(cx, call, shared, after, fut);
            }
            Method::ServerStreaming(h) => {
                let mut req = Request::new(message);
                req.compressed = compressed;
                let req = req.with_server_parts(metadata, info.clone(), shared.clone());
                let fut = span.wrap(with_interceptors_before(chain, info, after.clone(), req, move |r| h(r)));
                self.run_streaming(cx, call, shared, after, fut);
            }
            Method::Bidi(h) => {
                let req = Request::new(streaming()).with_server_parts(metadata, info.clone(), shared.clone());
                let fut = span.wrap(with_interceptors_before(chain, info, after.clone(), req, move |r| h(r)));
                self.run_streaming(cx, call, shared, after, fut);
            }
        }
    }

    /// Polls a handler once inline; spawns it only if it is not ready.
    /// Polls a handler once inline; spawns it only if it is not ready. A
    /// panic, or a cancellation that drops the handler, still gets the
    /// `after` hooks it owes (on the spawned task).
    fn run_unary(
        &mut self,
        cx: &mut Context<'_>,
        call: CallId,
        shared: Arc<CallShared>,
        after: Option<Arc<AfterOnce>>,
        fut: BoxFuture<'static, Result<Response<Bytes>, Status>>,
    ) {
        let handler = Handler { call, shared, after, fut };
        if let Some(result) = self.run_handler(cx, handler, |call, result| ServerCmd::Done { call, result }) {
            self.apply_unary(call, result);
        }
    }

    /// [`ServerDriver::run_unary`] for a handler returning a response stream.
    fn run_streaming(
        &mut self,
        cx: &mut Context<'_>,
        call: CallId,
        shared: Arc<CallShared>,
        after: Option<Arc<AfterOnce>>,
        fut: BoxFuture<'static, Result<Response<ResponseStream>, Status>>,
    ) {
        let handler = Handler { call, shared, after, fut };
        if let Some(result) = self.run_handler(cx, handler, |call, result| ServerCmd::Stream { call, result })
        {
            self.apply_stream(call, result);
        }
    }

    /// Polls a handler once; its result when it answered at once, or
    /// `None` when it goes on as a task that reports back with `done`.
    fn run_handler<T: Send + 'static>(
        &mut self,
        cx: &mut Context<'_>,
        handler: Handler<T>,
        done: fn(CallId, Result<T, Status>) -> ServerCmd,
    ) -> Option<Result<T, Status>> {
        let Handler { call, shared, after, fut } = handler;
        let mut fut = CatchUnwind(fut);
        let cmds = self.cmds.clone();
        match Pin::new(&mut fut).poll(cx) {
            Poll::Ready(Ok(result)) => return Some(result),
            Poll::Ready(Err(p)) => self.rt.spawn(async move {
                let status = settle(after, panicked(p)).await;
                let _ = cmds.push(done(call, Err(status)));
            }),
            Poll::Pending => self.rt.spawn(async move {
                match until_cancelled(fut, &shared).await {
                    Some(Ok(result)) => drop(cmds.push(done(call, result))),
                    Some(Err(p)) => {
                        let status = settle(after, panicked(p)).await;
                        let _ = cmds.push(done(call, Err(status)));
                    }
                    None => drop(settle(after, cancellation(&shared)).await),
                }
            }),
        }
        None
    }

    fn apply_unary(&mut self, call: CallId, result: Result<Response<Bytes>, Status>) {
        match result {
            Ok(resp) => {
                self.use_compression(call, resp.compression);
                let (md, msg, trailers) = resp.into_parts();
                if !md.is_empty() {
                    self.queue_out(call, Out::Headers(md));
                }
                self.queue_out(call, Out::Message(msg.into(), false));
                self.queue_out(call, Out::Finish(Status::ok(), trailers));
            }
            Err(status) => self.queue_out(call, Out::Finish(status, Metadata::new())),
        }
    }

    /// A streaming handler returned: send its headers, then relay its stream
    /// from a task of its own (it may wait on anything).
    fn apply_stream(&mut self, call: CallId, result: Result<Response<ResponseStream>, Status>) {
        let resp = match result {
            Ok(resp) => resp,
            Err(status) => return self.queue_out(call, Out::Finish(status, Metadata::new())),
        };
        let Some(entry) = self.calls.get_mut(&call) else { return };
        let (shared, after) = (entry.shared.clone(), entry.after.take());
        self.use_compression(call, resp.compression);
        let (md, stream, trailers) = resp.into_parts();
        self.queue_out(call, Out::Headers(md));
        let cmds = self.cmds.clone();
        self.rt.spawn(async move {
            match relay_stream(stream, &shared, &cmds, call).await {
                Some(status) => {
                    let status = settle(after, status).await;
                    let _ = cmds.push(ServerCmd::Finish { call, status, trailers });
                }
                None => drop(settle(after, cancellation(&shared)).await),
            }
        });
    }

    /// Applies a handler's choice of response compression (before headers).
    fn use_compression(&mut self, call: CallId, algorithm: Option<&'static str>) {
        if let Some(name) = algorithm
            && let Err(status) = self.core.set_send_compression(call, Some(name))
        {
            self.queue_out(call, Out::Finish(status, Metadata::new()));
        }
    }

    fn queue_out(&mut self, call: CallId, out: Out) {
        let Some(entry) = self.calls.get_mut(&call) else {
            if let Out::Message(_, true) = out {
                // The call is gone; the sender learns it from the shared state.
            }
            return;
        };
        // Nothing waiting: `out` goes straight to the core, and the queue is
        // only allocated for a call the client's windows hold back.
        let first = match entry.out.is_empty() {
            true => Some(out),
            false => {
                entry.out.push_back(out);
                None
            }
        };
        self.flush_out(call, first);
    }

    /// Hands queued output to the core while it accepts it, `first` (given
    /// only when the queue is empty) before the rest. The messages'
    /// reservations are given back once per pass, not per message.
    fn flush_out(&mut self, call: CallId, mut first: Option<Out>) {
        let Some(entry) = self.calls.get_mut(&call) else { return };
        let (mut bytes, mut messages) = (0, 0);
        let mut finish = None;
        while let Some(next) = first.take().or_else(|| entry.out.pop_front()) {
            match next {
                Out::Headers(md) => {
                    if !entry.headers_sent {
                        entry.headers_sent = true;
                        let _ = self.core.send_headers(call, &md);
                    }
                }
                Out::Message(msg, credited) => {
                    if !self.core.poll_writable(call) {
                        entry.out.push_front(Out::Message(msg, credited));
                        break;
                    }
                    entry.headers_sent = true;
                    let len = msg.len();
                    if credited {
                        bytes += len;
                        messages += msg.messages();
                    }
                    let batch = msg.batch;
                    let sent = match msg.compress {
                        _ if batch.is_some() => self.core.send_framed_checked(call, msg.data, batch),
                        _ if !msg.more.is_empty() => {
                            let compress = msg.compress;
                            self.core.send_message_chunks(call, msg.into_parts(), compress)
                        }
                        None => self.core.send_message(call, msg.data),
                        Some(c) => self.core.send_message_with(call, msg.data, c),
                    };
                    if let Err(status) = sent {
                        // Too large, or the stream is gone: the call ends here.
                        finish = Some((status, Metadata::new()));
                        break;
                    }
                    if let Some(obs) = &mut entry.obs {
                        match batch {
                            Some(b) => obs.sent_many(b.messages(), b.payload() as usize),
                            None => obs.sent(len),
                        }
                    }
                }
                Out::Finish(status, trailers) => {
                    finish = Some((status, trailers));
                    break;
                }
            }
        }
        if messages > 0 {
            // The bytes moved from the call's reservation to the core's send
            // buffer: count them there before giving the former back.
            self.budget.set_core_send(self.core.h2().send_buffered_total());
            entry.shared.credit(bytes, messages);
        }
        if let Some((status, trailers)) = finish {
            self.finish_now(call, status, trailers);
        }
    }

    fn finish_now(&mut self, call: CallId, status: Status, trailers: Metadata) {
        if let Some(mut entry) = remove_id(&mut self.calls, &call) {
            // Read before `finish` drops the call's record; only when observed.
            let wire = entry.obs.as_ref().and_then(|_| self.core.wire_bytes(call)).unwrap_or_default();
            let _ = self.core.finish(call, &status, &trailers);
            if let Some(obs) = entry.obs.take() {
                obs.end(status.code, &status.message, wire, self.rt.now());
            }
            entry.shared.close_send(Status::new(Code::Cancelled, "call already finished"));
        }
    }
}

/// Runs the `before` interceptors, the handler, and the `after` interceptors.
pub(crate) fn with_interceptors<T, F>(
    chain: Arc<[Arc<dyn Interceptor>]>,
    info: Arc<CallInfo>,
    after: Option<Arc<AfterOnce>>,
    mut req: Request<T>,
    handler: F,
) -> BoxFuture<'static, Result<Response<Bytes>, Status>>
where
    T: Send + 'static,
    F: FnOnce(Request<T>) -> BoxFuture<'static, Result<Response<Bytes>, Status>> + Send + 'static,
{
    let Some(after) = after else { return handler(req) };
    Box::pin(async move {
        let result = match run_before(&chain, &info, req.head_mut()).await {
            Ok(()) => handler(req).await,
            Err(status) => Err(status),
        };
        let mut status = match &result {
            Ok(_) => Status::ok(),
            Err(s) => s.clone(),
        };
        after.run(&mut status).await;
        match result {
            Ok(resp) if status.is_ok() => Ok(resp),
            _ => Err(status),
        }
    })
}

/// Runs the `before` interceptors and the handler of a streaming response;
/// the `after` ones run when the stream ends, or here when the handler
/// fails before returning one.
pub(crate) fn with_interceptors_before<T, F>(
    chain: Arc<[Arc<dyn Interceptor>]>,
    info: Arc<CallInfo>,
    after: Option<Arc<AfterOnce>>,
    mut req: Request<T>,
    handler: F,
) -> BoxFuture<'static, Result<Response<ResponseStream>, Status>>
where
    T: Send + 'static,
    F: FnOnce(Request<T>) -> BoxFuture<'static, Result<Response<ResponseStream>, Status>> + Send + 'static,
{
    let Some(after) = after else { return handler(req) };
    Box::pin(async move {
        let result = match run_before(&chain, &info, req.head_mut()).await {
            Ok(()) => handler(req).await,
            Err(status) => Err(status),
        };
        match result {
            Ok(resp) => Ok(resp),
            Err(mut status) => {
                after.run(&mut status).await;
                Err(status)
            }
        }
    })
}

/// Runs the `after` hooks a call owes, if any, on its final status.
pub(crate) async fn settle(after: Option<Arc<AfterOnce>>, mut status: Status) -> Status {
    if let Some(after) = after {
        after.run(&mut status).await;
    }
    status
}

/// The status of a cancelled call: why it can no longer send.
fn cancellation(shared: &CallShared) -> Status {
    shared.send_closed().unwrap_or_else(|| Status::new(Code::Cancelled, "call cancelled"))
}

/// Awaits `fut` unless the call is cancelled first (then drops it: the
/// handler observes cancellation by being dropped).
pub(crate) async fn until_cancelled<F: Future>(fut: F, shared: &CallShared) -> Option<F::Output> {
    let mut fut = std::pin::pin!(fut);
    std::future::poll_fn(|cx| {
        if let Poll::Ready(v) = fut.as_mut().poll(cx) {
            return Poll::Ready(Some(v));
        }
        if shared.poll_send_closed(cx).is_ready() {
            return Poll::Ready(None);
        }
        Poll::Pending
    })
    .await
}

/// A connection's maximum age: the configured one ±10 %, so that connections
/// opened together (clients started with their server) are not all sent
/// away together. gRPC-Go does the same (`internal/transport/http2_server.go`,
/// `getJitter`: a random amount within a tenth of the age either way).
fn jittered(age: std::time::Duration) -> std::time::Duration {
    let spread = 0.1 * (2.0 * crate::client::backoff::random_unit() - 1.0);
    age.mul_f64(1.0 + spread)
}

/// The status of a call whose handler panicked.
pub(crate) fn panicked(msg: String) -> Status {
    Status::new(Code::Internal, format!("handler panicked: {msg}"))
}

/// How long a full connection's client must have kept every response
/// waiting (its flow-control windows shut) before new calls are refused.
const PEER_STALL: std::time::Duration = std::time::Duration::from_millis(500);

/// Forwards a response stream to the driver with flow control. Returns the
/// final status, or `None` when the call went away first. Small messages
/// that are ready at once travel in batches.
async fn relay_stream(
    stream: ResponseStream,
    shared: &CallShared,
    cmds: &CommandQueue<ServerCmd>,
    call: CallId,
) -> Option<Status> {
    let mut stream = CatchUnwind(StreamNext(stream));
    let mut held = Held::Nothing;
    loop {
        let item = match held.take() {
            Some(item) => item,
            None => {
                let next = std::future::poll_fn(|cx| Pin::new(&mut stream).poll(cx));
                match until_cancelled(next, shared).await? {
                    Ok(item) => item,
                    Err(p) => Some(Err(panicked(p))),
                }
            }
        };
        let msg = match item {
            None => return Some(Status::ok()),
            Some(Err(status)) => return Some(status),
            Some(Ok(msg)) if !batchable(&msg) => msg,
            Some(Ok(msg)) => {
                // Frame this message and every small one the stream has ready now.
                let mut frames = FrameBuf::default();
                frames.push_copy(&msg);
                while !frames.is_full() {
                    let ready = std::future::poll_fn(|cx| Poll::Ready(Pin::new(&mut stream).poll(cx))).await;
                    match ready {
                        Poll::Pending => break,
                        Poll::Ready(Ok(Some(Ok(next)))) if batchable(&next) => frames.push_copy(&next),
                        Poll::Ready(Ok(other)) => {
                            held.put(other);
                            break;
                        }
                        Poll::Ready(Err(p)) => {
                            held.put(Some(Err(panicked(p))));
                            break;
                        }
                    }
                }
                match frames.take()? {
                    Ok(batch) => batch,
                    Err(status) => return Some(status),
                }
            }
        };
        std::future::poll_fn(|cx| shared.poll_reserve(cx, msg.len(), msg.messages())).await.ok()?;
        cmds.push(ServerCmd::Message { call, msg }).ok()?;
    }
}

impl<R: Runtime> Future for ServerDriver<R> {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = self.get_mut();
        if this.finished {
            return this.transport.poll_drain(cx);
        }
        for _ in 0..64 {
            let mut progress = false;
            if !this.shutdown_started && this.shutdown.poll_triggered(cx).is_ready() {
                this.shutdown_started = true;
                this.core.shutdown(this.rt.now());
                progress = true;
            }
            progress |= this.run_commands(cx);
            progress |= this.transport.poll_read(cx, &mut this.core);
            progress |= this.dispatch_events(cx);
            progress |= this.transport.poll_timer(cx, &mut this.core);
            progress |= this.dispatch_events(cx);
            progress |= this.transport.poll_write(cx, &mut this.core);
            progress |= this.dispatch_events(cx);
            this.budget.set_core_send(this.core.h2().send_buffered_total());
            let h2 = this.core.h2();
            this.blocked_since = match (h2.send_blocked(), this.blocked_since) {
                (false, _) => None,
                (true, Some((t, sent))) if sent == h2.data_sent() => Some((t, sent)),
                (true, _) => Some((this.rt.now(), h2.data_sent())),
            };
            progress |= this.pump_starved(cx);
            #[cfg(feature = "tower")]
            {
                progress |= this.drive_fallbacks(cx);
            }
            if this.transport.is_done() {
                this.fail_all();
                this.cmds.close();
                let h2 = this.core.h2();
                this.obs.close(h2.stats(), h2.error().copied(), this.rt.now());
                this.finished = true;
                return this.transport.poll_drain(cx);
            }
            if !progress {
                return Poll::Pending;
            }
        }
        // Busy connection: let other tasks run, then continue.
        cx.waker().wake_by_ref();
        Poll::Pending
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn connection_age_is_jittered_within_a_tenth() {
        let age = Duration::from_secs(100);
        let ages: Vec<Duration> = (0..200).map(|_| jittered(age)).collect();
        assert!(ages.iter().all(|a| *a >= Duration::from_secs(90) && *a <= Duration::from_secs(110)));
        let (lo, hi) = (ages.iter().min().unwrap(), ages.iter().max().unwrap());
        assert!(*hi - *lo > Duration::from_secs(5), "spread out: {lo:?}..{hi:?}");
    }
}
