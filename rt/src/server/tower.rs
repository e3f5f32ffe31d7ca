//! A Weir server's services as a `tower::Service<http::Request<B>>`, for
//! HTTP servers that own the connection (hyper, axum): gRPC routes mounted
//! beside REST routes on one port.
//!
//! [`Server::into_service`](crate::Server::into_service) turns the router,
//! interceptors, stats handlers and limits of a server into a
//! [`GrpcService`]. Each request it is given is one call:
//! `application/grpc[+proto]` answers with HTTP trailers, and
//! `application/grpc-web[-text][+proto]` (PROTOCOL-WEB) with the trailers
//! frame in the body, on whatever HTTP version the host server speaks.
//! CORS for browsers is the host's business here (tower-http's `CorsLayer`).
//!
//! What a call holds is bounded as on Weir's own server: at most one
//! partial message of `max_recv_message_size` plus the request queue's
//! room, and response messages are taken from a handler only while less
//! than 64 KiB wait for the host to send. Request octets count against a
//! per-call budget (`connection_memory_budget`: the host owns connections)
//! and the server-wide one. Response messages are sent uncompressed.

use std::collections::VecDeque;
use std::convert::Infallible;
use std::error::Error;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};
use std::time::Instant;

use bytes::{Buf, Bytes};
use http::{HeaderMap, HeaderName, HeaderValue};
use http_body::{Body, Frame, SizeHint};
use weir_core::grpc::metadata::is_reserved;
use weir_core::grpc::timeout::parse_timeout;
use weir_core::grpc::web::{self, WebDecoder, WebEncoder, WebEncoding, WebFrame};
use weir_core::grpc::{
    Code, Compression, Metadata, Received, Status, WireBytes, base64, is_grpc_content_type, status,
};
use weir_core::hpack::HeaderField;

use crate::budget::ConnBudget;
use crate::call::{CallShared, QUEUE_BYTES, queue_room};
use crate::interceptor::AfterOnce;
use crate::request::{CallInfo, CallLink, OutMessage, Request, Response, Streaming};
use crate::runtime::{BoxFuture, PeerInfo, Runtime};
use crate::server::driver::{
    ServerCtx, StreamNext, UNREGISTERED, panicked, settle, with_interceptors, with_interceptors_before,
};
use crate::server::router::{Method, ResponseStream};
use crate::server::web::{decompress_request, encode_messages, response_compression};
use crate::stats::Side;
use crate::trace::{CallObserver, ConnObserver, HandlerSpan};
use crate::util::CatchUnwind;

/// Response octets waiting for the host above which a handler's stream is
/// not asked for more.
const OUT_HIGH: usize = 64 << 10;

/// The request headers of HTTP itself, never passed on as metadata.
const NOT_METADATA: &[&str] = &["host", "connection", "keep-alive", "transfer-encoding", "content-length"];

/// A Weir server's services as a tower service: mount it in an axum
/// `Router` (`route_service`, `fallback_service`) or serve it with hyper.
///
/// ```no_run
/// # async fn f() {
/// # use weir_rt::{Method, Response, Server};
/// # let server: Server<weir_tokio::Tokio> = Server::builder();
/// let grpc = server.into_service();
/// let app = axum::Router::new()
///     .route("/healthz", axum::routing::get(|| async { "ok" }))
///     .fallback_service(grpc);
/// let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
/// axum::serve(listener, app).await.unwrap();
/// # }
/// ```
///
/// Interceptors and stats handlers run as on Weir's own server; stats see
/// the service as one connection (the host owns the real ones). A request
/// carrying a `std::net::SocketAddr` extension (inserted by the host) gives
/// handlers their peer's address.
pub struct GrpcService<R: Runtime> {
    inner: Arc<Inner<R>>,
}

struct Inner<R: Runtime> {
    rt: R,
    ctx: Arc<ServerCtx>,
    obs: Mutex<ConnObserver>,
}

impl<R: Runtime> Clone for GrpcService<R> {
    fn clone(&self) -> Self {
        GrpcService { inner: self.inner.clone() }
    }
}

impl<R: Runtime> std::fmt::Debug for GrpcService<R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("GrpcService")
    }
}

impl<R: Runtime> Drop for Inner<R> {
    fn drop(&mut self) {
        let now = self.rt.now();
        self.obs.get_mut().unwrap_or_else(|e| e.into_inner()).close(Default::default(), None, now);
    }
}

impl<R: Runtime> GrpcService<R> {
    pub(crate) fn new(rt: R, ctx: Arc<ServerCtx>) -> Self {
        let now = rt.now();
        let obs = ConnObserver::open(Side::Server, (None, None), None, ctx.stats.clone(), now);
        GrpcService { inner: Arc::new(Inner { rt, ctx, obs: Mutex::new(obs) }) }
    }
}

impl<R, B> tower_service::Service<http::Request<B>> for GrpcService<R>
where
    R: Runtime,
    B: Body + Send + 'static,
    B::Data: Send,
    B::Error: Into<Box<dyn Error + Send + Sync>>,
{
    type Response = http::Response<GrpcBody>;
    type Error = Infallible;
    type Future = ResponseFuture;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: http::Request<B>) -> ResponseFuture {
        ResponseFuture(Some(self.inner.start(req)))
    }
}

/// The future of a [`GrpcService`] response: ready once the handler has
/// answered with its header metadata (or the call ended without it).
pub struct ResponseFuture(Option<Start>);

/// What a request starts as.
enum Start {
    /// Answered at once (not a gRPC request, or refused before a handler).
    Ready(http::Response<GrpcBody>),
    /// A call whose response head is not known yet.
    Call(Box<dyn Exchange>),
}

impl Future for ResponseFuture {
    type Output = Result<http::Response<GrpcBody>, Infallible>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.0.as_mut() {
            None => panic!("ResponseFuture polled after completion"),
            Some(Start::Ready(_)) => {}
            Some(Start::Call(call)) => {
                if call.poll_head(cx).is_pending() {
                    return Poll::Pending;
                }
            }
        }
        Poll::Ready(Ok(match self.0.take() {
            Some(Start::Ready(resp)) => resp,
            Some(Start::Call(mut call)) => {
                let (head, ends) = call.take_head();
                let body = GrpcBody { call: Some(call), trailers_only: ends };
                http::Response::from_parts(head, body)
            }
            None => unreachable!(),
        }))
    }
}

/// The body of a [`GrpcService`] response: the call's messages, then its
/// status (HTTP trailers for gRPC, the trailers frame for gRPC-Web).
/// Dropping it before the end cancels the call.
pub struct GrpcBody {
    call: Option<Box<dyn Exchange>>,
    /// The status went in the head: the body is empty.
    trailers_only: bool,
}

impl std::fmt::Debug for GrpcBody {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("GrpcBody")
    }
}

impl GrpcBody {
    fn empty() -> Self {
        GrpcBody { call: None, trailers_only: true }
    }
}

impl Body for GrpcBody {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        if self.trailers_only {
            return Poll::Ready(None);
        }
        let Some(call) = self.call.as_mut() else { return Poll::Ready(None) };
        match call.poll_frame(cx) {
            Poll::Ready(None) => {
                self.call = None;
                Poll::Ready(None)
            }
            other => other.map(|f| f.map(Ok)),
        }
    }

    fn is_end_stream(&self) -> bool {
        self.trailers_only || self.call.is_none()
    }

    fn size_hint(&self) -> SizeHint {
        if self.is_end_stream() { SizeHint::with_exact(0) } else { SizeHint::default() }
    }
}

// ----- a call --------------------------------------------------------------

/// One call, as the response future and then its body drive it.
trait Exchange: Send {
    /// Ready once the response head is known.
    fn poll_head(&mut self, cx: &mut Context<'_>) -> Poll<()>;
    /// The response head; `true` when it carries the status (trailers-only).
    fn take_head(&mut self) -> (http::response::Parts, bool);
    /// The next body frame; `None` at the end.
    fn poll_frame(&mut self, cx: &mut Context<'_>) -> Poll<Option<Frame<Bytes>>>;
}

/// The request body, whatever its type, as chunks of octets.
trait RequestBody: Send {
    fn poll_chunk(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Bytes, Status>>>;
}

impl<B> RequestBody for B
where
    B: Body + Send,
    B::Data: Send,
    B::Error: Into<Box<dyn Error + Send + Sync>>,
{
    fn poll_chunk(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Bytes, Status>>> {
        loop {
            let frame = match self.as_mut().poll_frame(cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(None) => return Poll::Ready(None),
                Poll::Ready(Some(Err(e))) => {
                    let e: Box<dyn Error + Send + Sync> = e.into();
                    return Poll::Ready(Some(Err(Status::new(
                        Code::Cancelled,
                        format!("request body: {e}"),
                    ))));
                }
                Poll::Ready(Some(Ok(frame))) => frame,
            };
            // Request trailers carry nothing a gRPC server reads.
            if let Ok(mut data) = frame.into_data() {
                let chunk = data.copy_to_bytes(data.remaining());
                if !chunk.is_empty() {
                    return Poll::Ready(Some(Ok(chunk)));
                }
            }
        }
    }
}

/// How the response carries the status.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Flavor {
    /// HTTP trailers (or a trailers-only head).
    Grpc,
    /// PROTOCOL-WEB: the trailers frame, last in the body.
    Web(WebEncoding),
}

impl Flavor {
    fn content_type(self) -> &'static str {
        match self {
            Flavor::Grpc => "application/grpc",
            Flavor::Web(e) => e.content_type(),
        }
    }
}

/// The request queue's link: the handler's stream asks for more.
#[derive(Default)]
struct Link {
    waker: Mutex<Option<Waker>>,
}

impl Link {
    fn register(&self, cx: &Context<'_>) {
        let mut w = self.waker.lock().unwrap_or_else(|e| e.into_inner());
        if !w.as_ref().is_some_and(|w| w.will_wake(cx.waker())) {
            *w = Some(cx.waker().clone());
        }
    }
}

impl CallLink for Link {
    fn pull(&self) {
        if let Some(w) = self.waker.lock().unwrap_or_else(|e| e.into_inner()).take() {
            w.wake();
        }
    }
    fn cancel(&self) {}
}

/// Where a call is (as the HTTP/1.1 gRPC-Web driver's calls).
enum Phase {
    /// A unary or server-streaming call reading its request message.
    Reading,
    Unary(CatchUnwind<BoxFuture<'static, Result<Response<Bytes>, Status>>>),
    Opening(CatchUnwind<BoxFuture<'static, Result<Response<ResponseStream>, Status>>>),
    Relaying {
        stream: CatchUnwind<StreamNext>,
        trailers: Metadata,
    },
    Settling {
        fut: BoxFuture<'static, Status>,
        trailers: Metadata,
    },
    /// Answered: only frames left to hand over.
    Done,
}

struct Call<R: Runtime> {
    rt: R,
    ctx: Arc<ServerCtx>,
    flavor: Flavor,
    encoder: WebEncoder,
    /// The request body; `None` once it ended.
    body: Option<Pin<Box<dyn RequestBody>>>,
    decoder: WebDecoder,
    compression: Option<Arc<dyn Compression>>,
    /// The client's `grpc-accept-encoding`.
    accepts: Bytes,
    /// The response compression the handler chose (and the client accepts).
    send_compression: Option<Arc<dyn Compression>>,
    method: Method,
    metadata: Option<Metadata>,
    /// A unary request's message, once read.
    single: Option<(Bytes, bool)>,
    /// Request octets held outside the call's queue (decoder and message).
    charged: usize,
    budget: Arc<ConnBudget>,
    shared: Arc<CallShared>,
    link: Arc<Link>,
    info: Arc<CallInfo>,
    obs: Option<Box<CallObserver>>,
    after: Option<Arc<AfterOnce>>,
    wire: WireBytes,
    phase: Phase,
    timer: Option<R::Timer>,
    /// The response head, once the handler answered (taken by the future).
    head: Option<(http::response::Parts, bool)>,
    head_made: bool,
    /// Body frames waiting for the host, and their octets.
    out: VecDeque<Frame<Bytes>>,
    out_bytes: usize,
    /// The status, once the call is answered (HTTP trailers still to send).
    trailers: Option<HeaderMap>,
    ended: bool,
}

impl<R: Runtime> Inner<R> {
    fn start<B>(&self, req: http::Request<B>) -> Start
    where
        B: Body + Send + 'static,
        B::Data: Send,
        B::Error: Into<Box<dyn Error + Send + Sync>>,
    {
        let (parts, body) = req.into_parts();
        let ct = parts.headers.get(http::header::CONTENT_TYPE).map(HeaderValue::as_bytes).unwrap_or_default();
        let flavor = if is_grpc_content_type(ct) {
            Flavor::Grpc
        } else if let Some(e) = web::parse_content_type(ct) {
            Flavor::Web(e)
        } else {
            // PROTOCOL-HTTP2: "If Content-Type does not begin with
            // "application/grpc", gRPC servers SHOULD respond with HTTP status
            // of 415".
            let msg = format!("invalid gRPC request content-type {:?}", String::from_utf8_lossy(ct));
            return Start::Ready(plain(
                http::StatusCode::UNSUPPORTED_MEDIA_TYPE,
                Code::InvalidArgument,
                &msg,
            ));
        };
        if parts.method != http::Method::POST {
            let msg = "gRPC requires method POST";
            return Start::Ready(plain(http::StatusCode::METHOD_NOT_ALLOWED, Code::Unimplemented, msg));
        }
        let now = self.rt.now();
        let path = Bytes::copy_from_slice(parts.uri.path().as_bytes());
        let method = self.ctx.router.lookup(&path).cloned();
        let reported = if method.is_ok() { &path } else { &UNREGISTERED };
        let mut obs = self.obs.lock().unwrap_or_else(|e| e.into_inner()).call(&path, reported, now);
        let refused = |status: Status, obs: Option<Box<CallObserver>>| {
            if let Some(obs) = obs {
                obs.end(status.code, &status.message, WireBytes::default(), now);
            }
            Start::Ready(trailers_only(flavor, &status))
        };
        let method = match method {
            Ok(m) => m,
            Err(status) => return refused(status, obs),
        };
        let (metadata, deadline, compression) = match self.request_parts(&parts.headers, now) {
            Ok(p) => p,
            Err(status) => return refused(status, obs.take()),
        };
        if deadline.is_some_and(|d| d <= now) {
            return refused(Status::new(Code::DeadlineExceeded, "Deadline Exceeded"), obs);
        }
        let peer =
            PeerInfo { addr: parts.extensions.get::<std::net::SocketAddr>().copied(), ..Default::default() };
        let info = Arc::new(CallInfo {
            path,
            authority: parts.uri.authority().map(|a| Bytes::copy_from_slice(a.as_str().as_bytes())),
            deadline,
            peer: Arc::new(peer),
        });
        let budget = ConnBudget::new(self.ctx.connection_budget, self.ctx.budget.clone());
        let max = self.ctx.config.messages.max_recv_message_size;
        let encoding = match flavor {
            Flavor::Web(e) => e,
            Flavor::Grpc => WebEncoding::Binary,
        };
        let mut call = Box::new(Call {
            rt: self.rt.clone(),
            ctx: self.ctx.clone(),
            flavor,
            encoder: WebEncoder::new(encoding),
            body: Some(Box::pin(body)),
            decoder: WebDecoder::new(encoding, max),
            compression,
            accepts: parts
                .headers
                .get("grpc-accept-encoding")
                .map(|v| Bytes::copy_from_slice(v.as_bytes()))
                .unwrap_or_default(),
            send_compression: None,
            method,
            metadata: Some(metadata),
            single: None,
            charged: 0,
            shared: CallShared::with_budget(budget.clone()),
            budget,
            link: Arc::new(Link::default()),
            info,
            obs,
            after: None,
            wire: WireBytes::default(),
            phase: Phase::Reading,
            timer: deadline.map(|at| self.rt.timer(at)),
            head: None,
            head_made: false,
            out: VecDeque::new(),
            out_bytes: 0,
            trailers: None,
            ended: false,
        });
        if call.method.streams_requests() {
            call.start_handler();
        }
        Start::Call(call)
    }

    /// The call's metadata, deadline and request compression (as the
    /// HTTP/2 server validates them).
    #[allow(clippy::type_complexity)]
    fn request_parts(
        &self,
        headers: &HeaderMap,
        now: Instant,
    ) -> Result<(Metadata, Option<Instant>, Option<Arc<dyn Compression>>), Status> {
        let deadline = match headers.get("grpc-timeout") {
            None => None,
            Some(v) => Some(
                now + parse_timeout(v.as_bytes()).map_err(|e| {
                    let msg =
                        format!("malformed grpc-timeout {:?}: {e:?}", String::from_utf8_lossy(v.as_bytes()));
                    Status::new(Code::Internal, msg)
                })?,
            ),
        };
        let compression = match headers.get("grpc-encoding").map(HeaderValue::as_bytes) {
            None | Some(b"identity") => None,
            Some(name) => Some(self.ctx.config.messages.compressors.get(name).cloned().ok_or_else(|| {
                let msg = format!(
                    "grpc: compressor is not installed for requested grpc-encoding {:?}",
                    String::from_utf8_lossy(name)
                );
                Status::new(Code::Unimplemented, msg)
            })?),
        };
        let fields = headers
            .iter()
            .filter(|(name, _)| {
                let name = name.as_str();
                !is_reserved(name.as_bytes()) && !NOT_METADATA.contains(&name)
            })
            .map(|(name, value)| {
                HeaderField::new(
                    Bytes::copy_from_slice(name.as_str().as_bytes()),
                    Bytes::copy_from_slice(value.as_bytes()),
                )
            })
            .collect();
        let metadata = Metadata::from_header_vec(fields)
            .map_err(|e| Status::new(Code::Internal, format!("malformed metadata: {e}")))?;
        Ok((metadata, deadline, compression))
    }
}

impl<R: Runtime> Exchange for Call<R> {
    fn poll_head(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        self.drive(cx);
        if self.head.is_some() { Poll::Ready(()) } else { Poll::Pending }
    }

    fn take_head(&mut self) -> (http::response::Parts, bool) {
        self.head.take().expect("the response head is ready")
    }

    fn poll_frame(&mut self, cx: &mut Context<'_>) -> Poll<Option<Frame<Bytes>>> {
        if self.out.is_empty() {
            self.drive(cx);
        }
        if let Some(frame) = self.out.pop_front() {
            if let Some(d) = frame.data_ref() {
                self.out_bytes -= d.len();
            }
            return Poll::Ready(Some(frame));
        }
        if !matches!(self.phase, Phase::Done) {
            return Poll::Pending;
        }
        self.ended = true;
        Poll::Ready(self.trailers.take().map(Frame::trailers))
    }
}

impl<R: Runtime> Call<R> {
    /// Runs the call as far as it goes: the deadline, the request body, the
    /// handler and its response stream.
    fn drive(&mut self, cx: &mut Context<'_>) {
        self.link.register(cx);
        for _ in 0..64 {
            let mut progress = self.poll_deadline(cx);
            progress |= self.read_body(cx);
            progress |= self.drive_handler(cx);
            self.sync_budget();
            if !progress {
                return;
            }
        }
        cx.waker().wake_by_ref();
    }

    fn poll_deadline(&mut self, cx: &mut Context<'_>) -> bool {
        let running = !matches!(self.phase, Phase::Done | Phase::Settling { .. });
        let Some(timer) = self.timer.as_mut().filter(|_| running) else { return false };
        if Pin::new(timer).poll(cx).is_pending() {
            return false;
        }
        self.timer = None;
        let status = Status::new(Code::DeadlineExceeded, "Deadline Exceeded");
        self.shared.close_send(status.clone());
        match self.phase {
            Phase::Reading => self.finish(status, Metadata::new()),
            _ => self.settle(status, Metadata::new()),
        }
        true
    }

    /// Reads request octets while the call can take them: all of a unary
    /// request, a streaming one while its queue has room.
    fn read_body(&mut self, cx: &mut Context<'_>) -> bool {
        let mut progress = false;
        let max = self.ctx.config.messages.max_recv_message_size;
        let streams = self.method.streams_requests();
        while let Some(body) = self.body.as_mut() {
            if matches!(self.phase, Phase::Done) && !streams {
                return progress;
            }
            if streams {
                // Each call has a budget of its own: the whole queue.
                let (messages, bytes) = self.shared.queue_len(QUEUE_BYTES);
                if queue_room(messages, bytes, QUEUE_BYTES) == 0 && self.shared.set_core_has_more() {
                    return progress;
                }
            }
            if !self.budget.can_pull() {
                self.budget.register(cx);
                return progress;
            }
            let chunk = match body.as_mut().poll_chunk(cx) {
                Poll::Pending => return progress,
                Poll::Ready(c) => c,
            };
            progress = true;
            match chunk {
                Some(Ok(chunk)) => {
                    self.decoder.push(&chunk);
                    if let Err(status) = self.decode(max) {
                        self.fail_request(status);
                    }
                }
                Some(Err(status)) => {
                    // The client reset the request: nobody reads an answer.
                    self.body = None;
                    self.fail_request(status);
                }
                None => {
                    self.body = None;
                    match self.decoder.finish().map_err(|e| e.status("gRPC request body")) {
                        Err(status) => self.fail_request(status),
                        Ok(()) if streams => self.shared.end_messages(Ok(())),
                        Ok(()) => self.start_handler(),
                    }
                }
            }
        }
        progress
    }

    /// Takes the decoder's complete messages: the unary message kept, a
    /// stream's delivered to its queue.
    fn decode(&mut self, max: usize) -> Result<(), Status> {
        let mut batch = Received::new();
        loop {
            match self.decoder.next_frame().map_err(|e| e.status("gRPC request body"))? {
                None => break,
                Some(WebFrame::Trailers(_)) => {
                    return Err(Status::new(Code::Internal, "trailers frame in a request"));
                }
                Some(WebFrame::Message(m)) => {
                    let data = decompress_request(m.data, m.compressed, self.compression.as_deref(), max)?;
                    self.wire.received += data.len() as u64;
                    if self.method.streams_requests() {
                        batch.push_back(data, m.compressed);
                    } else if self.single.is_some() {
                        return Err(Status::new(
                            Code::Internal,
                            "unary call received more than one request message",
                        ));
                    } else {
                        self.single = Some((data, m.compressed));
                    }
                }
            }
        }
        if !batch.is_empty() {
            self.shared.deliver(&mut batch, self.obs.as_deref_mut(), false);
        }
        Ok(())
    }

    /// The request is broken: a running stream's handler sees the error,
    /// and the client gets the status.
    fn fail_request(&mut self, status: Status) {
        self.body = None;
        self.shared.end_messages(Err(status.clone()));
        match self.phase {
            Phase::Done | Phase::Settling { .. } => {}
            Phase::Reading => self.finish(status, Metadata::new()),
            _ => self.settle(status, Metadata::new()),
        }
    }

    /// Runs the interceptors and the handler (unary: once the request
    /// message is read; streaming: at once).
    fn start_handler(&mut self) {
        let chain = self.ctx.interceptors.clone();
        let (shared, info) = (self.shared.clone(), self.info.clone());
        let metadata = self.metadata.take().unwrap_or_default();
        let span = HandlerSpan::of(self.obs.as_deref());
        let after = AfterOnce::new(&chain, &info);
        self.after = after.clone();
        let single = self.single.take();
        let unary_req = |msg: Option<(Bytes, bool)>, obs: &mut Option<Box<CallObserver>>| {
            let (message, compressed) = msg?;
            if let Some(obs) = obs {
                obs.received(message.len());
            }
            let mut req = Request::new(message);
            req.compressed = compressed;
            Some(req.with_server_parts(metadata.clone(), info.clone(), shared.clone()))
        };
        let stream_req = || {
            let stream = Streaming::new(shared.clone(), self.link.clone(), Ok, false);
            Request::new(stream).with_server_parts(metadata.clone(), info.clone(), shared.clone())
        };
        self.phase = match self.method.clone() {
            Method::Unary(h) => match unary_req(single, &mut self.obs) {
                Some(req) => {
                    let fut = with_interceptors(chain, info.clone(), after, req, move |r| h(r));
                    Phase::Unary(CatchUnwind(span.wrap(fut)))
                }
                None => return self.missing_request(),
            },
            Method::ServerStreaming(h) => match unary_req(single, &mut self.obs) {
                Some(req) => {
                    let fut = with_interceptors_before(chain, info.clone(), after, req, move |r| h(r));
                    Phase::Opening(CatchUnwind(span.wrap(fut)))
                }
                None => return self.missing_request(),
            },
            Method::ClientStreaming(h) => {
                let fut = with_interceptors(chain, info.clone(), after, stream_req(), move |r| h(r));
                Phase::Unary(CatchUnwind(span.wrap(fut)))
            }
            Method::Bidi(h) => {
                let fut = with_interceptors_before(chain, info.clone(), after, stream_req(), move |r| h(r));
                Phase::Opening(CatchUnwind(span.wrap(fut)))
            }
        };
    }

    fn missing_request(&mut self) {
        let status = Status::new(Code::Internal, "unary call ended without a request message");
        self.finish(status, Metadata::new());
    }

    /// Polls the handler, its response stream or the `after` hooks.
    fn drive_handler(&mut self, cx: &mut Context<'_>) -> bool {
        let mut progress = false;
        loop {
            let step = match &mut self.phase {
                Phase::Reading | Phase::Done => return progress,
                Phase::Unary(fut) => match Pin::new(fut).poll(cx) {
                    Poll::Pending => return progress,
                    Poll::Ready(Ok(Ok(resp))) => {
                        self.choose_compression(resp.compression);
                        let (md, msg, trailers) = resp.into_parts();
                        self.make_head(&md);
                        match self.send_message(OutMessage::from(msg)) {
                            Ok(()) => self.finish(Status::ok(), trailers),
                            Err(status) => self.finish(status, Metadata::new()),
                        }
                        return true;
                    }
                    Poll::Ready(Ok(Err(status))) => Step::Finish(status, Metadata::new()),
                    Poll::Ready(Err(p)) => Step::Settle(panicked(p), Metadata::new()),
                },
                Phase::Opening(fut) => match Pin::new(fut).poll(cx) {
                    Poll::Pending => return progress,
                    Poll::Ready(Ok(Ok(resp))) => {
                        self.choose_compression(resp.compression);
                        let (md, stream, trailers) = resp.into_parts();
                        self.phase = Phase::Relaying { stream: CatchUnwind(StreamNext(stream)), trailers };
                        self.make_head(&md);
                        progress = true;
                        continue;
                    }
                    Poll::Ready(Ok(Err(status))) => Step::Finish(status, Metadata::new()),
                    Poll::Ready(Err(p)) => Step::Settle(panicked(p), Metadata::new()),
                },
                // Woken by the host taking frames.
                Phase::Relaying { .. } if self.out_bytes >= OUT_HIGH => return progress,
                Phase::Relaying { stream, trailers } => match Pin::new(stream).poll(cx) {
                    Poll::Pending => return progress,
                    Poll::Ready(Ok(Some(Ok(msg)))) => {
                        if let Err(status) = self.send_message(msg) {
                            self.settle(status, Metadata::new());
                        }
                        progress = true;
                        continue;
                    }
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
                Step::Finish(status, trailers) => self.finish(status, trailers),
                Step::Settle(status, trailers) => self.settle(status, trailers),
            }
        }
    }

    fn settle(&mut self, status: Status, trailers: Metadata) {
        let fut = Box::pin(settle(self.after.take(), status));
        self.phase = Phase::Settling { fut, trailers };
    }

    /// The response head with the handler's metadata (once).
    fn make_head(&mut self, md: &Metadata) {
        if std::mem::replace(&mut self.head_made, true) {
            return;
        }
        let mut resp = http::Response::new(());
        resp.headers_mut()
            .insert(http::header::CONTENT_TYPE, HeaderValue::from_static(self.flavor.content_type()));
        let mut fields = Vec::new();
        if let Some(algo) = &self.send_compression {
            fields.push(HeaderField::new(
                Bytes::from_static(b"grpc-encoding"),
                Bytes::from_static(algo.name().as_bytes()),
            ));
        }
        let accept = self.ctx.config.messages.compressors.accept_encoding();
        fields.push(HeaderField::new(Bytes::from_static(b"grpc-accept-encoding"), accept));
        md.to_fields(&mut fields);
        append_fields(resp.headers_mut(), fields);
        self.head = Some((resp.into_parts().0, false));
    }

    fn send_message(&mut self, msg: OutMessage) -> Result<(), Status> {
        let max = self.ctx.config.messages.max_send_message_size;
        let (count, payload) = match &msg.batch {
            Some(b) => (b.messages(), b.payload() as usize),
            None => (1, msg.len()),
        };
        let frames = encode_messages(&self.encoder, msg, self.send_compression.as_ref(), max)?;
        self.wire.sent += payload as u64;
        if let Some(obs) = &mut self.obs {
            obs.sent_many(count, payload);
        }
        self.out_bytes += frames.len();
        self.out.push_back(Frame::data(frames));
        Ok(())
    }

    /// Compresses responses with the handler's choice when the client
    /// accepts it (compression is optional: otherwise identity).
    fn choose_compression(&mut self, name: Option<&'static str>) {
        self.send_compression =
            response_compression(&self.ctx.config.messages.compressors, name, &self.accepts);
    }

    /// Ends the call with `status`: trailers (or, before any head, a
    /// trailers-only head).
    fn finish(&mut self, status: Status, trailers: Metadata) {
        let now = self.rt.now();
        self.phase = Phase::Done;
        self.timer = None;
        self.shared.close_send(Status::new(Code::Cancelled, "call already finished"));
        let mut status = status;
        status.metadata.extend(trailers);
        if let Some(obs) = self.obs.take() {
            obs.end(status.code, &status.message, self.wire, now);
        }
        if !self.head_made {
            self.head_made = true;
            let (parts, _) = trailers_only(self.flavor, &status).into_parts();
            self.head = Some((parts, true));
            self.ended = true;
            return;
        }
        match self.flavor {
            Flavor::Web(_) => {
                let frame = self.encoder.trailers(&status);
                self.out_bytes += frame.len();
                self.out.push_back(Frame::data(frame));
            }
            Flavor::Grpc => {
                let mut map = HeaderMap::new();
                append_fields(&mut map, status_fields(&status));
                self.trailers = Some(map);
            }
        }
    }

    /// Keeps the budget's count of request octets held outside the queue
    /// equal to what is held.
    fn sync_budget(&mut self) {
        let held = self.decoder.buffered() + self.single.as_ref().map_or(0, |(m, _)| m.len());
        if held > self.charged {
            self.budget.charge_inbound(held - self.charged);
        } else {
            self.budget.release_inbound(self.charged - held);
        }
        self.charged = held;
    }
}

impl<R: Runtime> Drop for Call<R> {
    /// The host dropped the response before its end (the client went
    /// away): the handler is dropped and the `after` hooks it owes run on a
    /// task of their own.
    fn drop(&mut self) {
        self.budget.release_inbound(std::mem::take(&mut self.charged));
        if self.ended {
            return;
        }
        let reason = Status::new(Code::Cancelled, "the client went away");
        self.shared.close_send(reason.clone());
        self.shared.end_messages(Err(reason.clone()));
        if !matches!(std::mem::replace(&mut self.phase, Phase::Done), Phase::Done)
            && let Some(after) = self.after.take()
        {
            let status = reason.clone();
            self.rt.spawn(async move { drop(settle(Some(after), status).await) });
        }
        if let Some(obs) = self.obs.take() {
            obs.end(Code::Cancelled, &reason.message, self.wire, self.rt.now());
        }
    }
}

/// What one pass over a call decided.
enum Step {
    Finish(Status, Metadata),
    Settle(Status, Metadata),
}

/// `grpc-status`, `grpc-message`, `grpc-status-details-bin` and the
/// trailing metadata, as header fields.
fn status_fields(status: &Status) -> Vec<HeaderField> {
    let mut fields = vec![HeaderField::new(
        Bytes::from_static(b"grpc-status"),
        Bytes::from_static(status.code.as_header_value()),
    )];
    if !status.message.is_empty() {
        fields.push(HeaderField::new(
            Bytes::from_static(b"grpc-message"),
            status::percent_encode(&status.message),
        ));
    }
    if !status.details.is_empty() {
        let v = Bytes::from(base64::encode(&status.details));
        fields.push(HeaderField::new(Bytes::from_static(b"grpc-status-details-bin"), v));
    }
    status.metadata.to_fields(&mut fields);
    fields
}

/// Appends header fields; a field `http` refuses (never one Weir made
/// from valid metadata) is left out.
fn append_fields(map: &mut HeaderMap, fields: Vec<HeaderField>) {
    for f in fields {
        let name = match &f.name[..] {
            b"grpc-status" => Ok(HeaderName::from_static("grpc-status")),
            b"grpc-message" => Ok(HeaderName::from_static("grpc-message")),
            b"grpc-encoding" => Ok(HeaderName::from_static("grpc-encoding")),
            b"grpc-accept-encoding" => Ok(HeaderName::from_static("grpc-accept-encoding")),
            name => HeaderName::from_bytes(name),
        };
        if let (Ok(name), Ok(value)) = (name, HeaderValue::from_maybe_shared(f.value)) {
            map.append(name, value);
        }
    }
}

/// A call refused before a handler: the status in the head, no body.
fn trailers_only(flavor: Flavor, status: &Status) -> http::Response<GrpcBody> {
    let mut resp = http::Response::new(GrpcBody::empty());
    resp.headers_mut().insert(http::header::CONTENT_TYPE, HeaderValue::from_static(flavor.content_type()));
    append_fields(resp.headers_mut(), status_fields(status));
    resp
}

/// A request that is not gRPC: an HTTP error, with the gRPC status in
/// headers too.
fn plain(code: http::StatusCode, grpc: Code, message: &str) -> http::Response<GrpcBody> {
    let mut resp = trailers_only(Flavor::Grpc, &Status::new(grpc, message));
    *resp.status_mut() = code;
    resp.headers_mut()
        .insert(http::header::CONTENT_TYPE, HeaderValue::from_static("text/plain; charset=utf-8"));
    resp
}
