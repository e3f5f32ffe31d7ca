//! What every attack test shares: the server under attack, a raw HTTP/2
//! client that writes whatever it is told (frames from
//! `weir_spec_tests::frames`, header blocks encoded by hand below), the heap
//! meter, the memory-bound arithmetic and the "still serving" check.

use std::future::Future;
use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::pin::pin;
use std::sync::{Mutex, MutexGuard};
use std::task::Poll;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use futures::StreamExt;
use weir_core::ErrorCode;
use weir_core::frame::{Frame, FrameDecoder, GoAway, MAX_MAX_FRAME_SIZE};
use weir_core::grpc::ServerConfig;
use weir_core::hpack;
pub use weir_spec_tests::frames;
use weir_tokio::server::ResponseStream;
use weir_tokio::{Code, Endpoint, Method, OutMessage, Request, Response, Server, Status};

use crate::alloc;

/// The attack tests share the process-wide heap counter: one at a time.
pub fn serial() -> MutexGuard<'static, ()> {
    static LOCK: Mutex<()> = Mutex::new(());
    LOCK.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

// ----- memory bounds ---------------------------------------------------------------

/// Fixed cost of one server connection besides what its limits allow: the
/// driver task and its state, the two HPACK tables' overhead, queues'
/// initial capacity. The read buffer, transmit batch and HPACK table sizes
/// are added from the configuration by [`per_connection`].
pub const CONNECTION_OVERHEAD: usize = 128 << 10;

/// Most the tokio transport reserves in its read buffer (weir-rt's
/// `READ_RESERVE_MAX`), plus one maximum-size frame straddling two reads.
pub const READ_BUFFER: usize = 64 << 10;

/// One live stream and its gRPC call: stream record, call state, metadata,
/// handler task (request and response payloads are counted separately).
pub const PER_STREAM: usize = 16 << 10;

/// One queued control frame (a `Frame` value and its share of the queue).
pub const PER_CONTROL_FRAME: usize = 128;

/// The raw client's read buffer (per attacking connection).
pub const RAW_READ_BUFFER: usize = 16 << 10;

/// The attacking client's own buffers, the runtime's timers and wakers, and
/// allocator noise from the rest of the process.
pub const SLACK: usize = 1 << 20;

/// What one server connection may hold whatever its peer does, streams
/// aside: fixed overhead, read buffer, one transmit batch, both HPACK
/// tables, a header block being assembled (bounded by the list-size limit,
/// see `check_block_size` in the core) and every control frame it may owe.
pub fn per_connection(cfg: &ServerConfig) -> usize {
    let h2 = &cfg.h2;
    let header_block = (h2.max_header_list_size as usize * 2).max(64 << 10) + h2.max_frame_size as usize;
    CONNECTION_OVERHEAD
        + READ_BUFFER
        + h2.max_frame_size as usize
        + h2.max_transmit_size
        + h2.header_table_size as usize
        + h2.max_encoder_table_size as usize
        + header_block
        + h2.max_pending_control_frames * PER_CONTROL_FRAME
}

/// Measures the live heap's peak growth from now on.
pub struct Meter {
    base: usize,
}

impl Meter {
    /// Starts measuring.
    pub fn start() -> Meter {
        Meter { base: alloc::reset_peak() }
    }

    /// Peak growth so far.
    pub fn grown(&self) -> usize {
        alloc::peak().saturating_sub(self.base)
    }

    /// Fails the test when the peak growth exceeds `bound`.
    #[track_caller]
    pub fn assert_below(&self, bound: usize, attack: &str) {
        let grown = self.grown();
        eprintln!("{attack}: live heap grew by {grown} bytes at most (bound {bound})");
        assert!(
            grown <= bound,
            "{attack}: the live heap grew by {grown} bytes during the attack; the bound from the limits is {bound}"
        );
    }
}

// ----- the server under attack -------------------------------------------------------

/// Paths of the test service.
pub mod path {
    /// Echoes the request message.
    pub const UNARY: &str = "/attack.Test/Unary";
    /// Request: count (u32) and size (u32); answers `count` messages of `size` octets.
    pub const SERVER_STREAM: &str = "/attack.Test/ServerStream";
    /// Echoes every message.
    pub const BIDI: &str = "/attack.Test/Bidi";
    /// Client streaming whose handler never reads its requests (a slow
    /// consumer): whatever the client sends stays queued for it.
    pub const HOLD: &str = "/attack.Test/Hold";
}

/// The test service on a server with the secure defaults.
pub fn service() -> Server {
    Server::builder()
        .route(path::UNARY, Method::unary(|req| async move { Ok(Response::new(req.into_inner())) }))
        .route(
            path::SERVER_STREAM,
            Method::server_streaming(|req| async move {
                let b = req.into_inner();
                if b.len() != 8 {
                    return Err(Status::new(Code::InvalidArgument, "need count and size"));
                }
                let count = u32::from_be_bytes([b[0], b[1], b[2], b[3]]);
                let size = u32::from_be_bytes([b[4], b[5], b[6], b[7]]) as usize;
                // A fresh allocation per message, so that buffering shows in the heap.
                let s: ResponseStream = Box::pin(futures::stream::iter(
                    (0..count).map(move |_| Ok(Bytes::from(vec![0xab; size]).into())),
                ));
                Ok(Response::new(s))
            }),
        )
        .route(
            path::HOLD,
            Method::client_streaming(|req| async move {
                let _requests = req;
                std::future::pending::<()>().await;
                Ok(Response::new(Bytes::new()))
            }),
        )
        .route(
            path::BIDI,
            Method::bidi(|req| async move {
                let s: ResponseStream = Box::pin(req.into_inner().map(|r| r.map(OutMessage::from)));
                Ok(Response::new(s))
            }),
        )
}

/// A server running on its own thread (a current-thread tokio runtime).
pub struct TestServer {
    /// Where it listens (127.0.0.1, ephemeral port).
    pub addr: SocketAddr,
    /// Its gRPC and HTTP/2 configuration, for the bounds.
    pub config: ServerConfig,
    stop: Option<std::sync::mpsc::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl TestServer {
    /// Starts the test service as `configure` leaves it.
    pub fn start(configure: impl FnOnce(Server) -> Server + Send + 'static) -> TestServer {
        TestServer::start_with(move || Ok(configure(service())))
    }

    /// Starts the server `build` returns (it runs on the server's thread).
    pub fn start_with(build: impl FnOnce() -> Result<Server, String> + Send + 'static) -> TestServer {
        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        let (stop_tx, stop_rx) = std::sync::mpsc::channel::<()>();
        let thread = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
            rt.block_on(async move {
                let mut server = build().expect("server");
                let config = server.config_mut().clone();
                let bound = server.bind("127.0.0.1:0".parse().expect("addr")).await.expect("bind");
                ready_tx.send((bound.local_addr().expect("tcp address"), config)).expect("report");
                let serve = pin!(bound.serve());
                let mut serve = serve;
                // Stop when asked: poll the stop channel every few milliseconds.
                let stop = pin!(async {
                    loop {
                        if !matches!(stop_rx.try_recv(), Err(std::sync::mpsc::TryRecvError::Empty)) {
                            return;
                        }
                        tokio::time::sleep(Duration::from_millis(5)).await;
                    }
                });
                let mut stop = stop;
                std::future::poll_fn(|cx| {
                    if serve.as_mut().poll(cx).is_ready() || stop.as_mut().poll(cx).is_ready() {
                        return Poll::Ready(());
                    }
                    Poll::Pending
                })
                .await;
            });
            // Dropping the runtime drops every connection task still running.
        });
        let (addr, config) = ready_rx.recv().expect("server address");
        TestServer { addr, config, stop: Some(stop_tx), thread: Some(thread) }
    }

    /// A fresh connection is still served: a real gRPC call through the
    /// weir-tokio client succeeds.
    #[track_caller]
    pub fn assert_still_serving(&self) {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
        let url = format!("http://{}", self.addr);
        rt.block_on(async move {
            let ch = Endpoint::new(url)
                .expect("endpoint")
                .timeout(Duration::from_secs(5))
                .connect_timeout(Duration::from_secs(5))
                .connect()
                .await
                .expect("a fresh connection after the attack");
            let reply = ch
                .unary(path::UNARY, Request::new(Bytes::from_static(b"still serving")))
                .await
                .expect("a gRPC call on a fresh connection after the attack");
            assert_eq!(reply.into_inner(), Bytes::from_static(b"still serving"));
        });
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        drop(self.stop.take());
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

// ----- header blocks, encoded by hand (RFC 7541 §5, §6) -----------------------------

/// HPACK encoding primitives: each writes exactly one representation.
pub mod hpack_enc {
    /// An integer with an N-bit prefix (§5.1); `flags` fills the bits above it.
    pub fn int(out: &mut Vec<u8>, prefix_bits: u8, flags: u8, mut v: usize) {
        let max = (1usize << prefix_bits) - 1;
        if v < max {
            out.push(flags | v as u8);
            return;
        }
        out.push(flags | max as u8);
        v -= max;
        while v >= 128 {
            out.push((v % 128) as u8 | 0x80);
            v /= 128;
        }
        out.push(v as u8);
    }

    /// A raw (non-Huffman) string literal (§5.2).
    pub fn string(out: &mut Vec<u8>, s: &[u8]) {
        int(out, 7, 0, s.len());
        out.extend_from_slice(s);
    }

    /// An indexed field (§6.1).
    pub fn indexed(out: &mut Vec<u8>, index: usize) {
        int(out, 7, 0x80, index);
    }

    /// A literal without indexing, new name (§6.2.2).
    pub fn literal(out: &mut Vec<u8>, name: &[u8], value: &[u8]) {
        out.push(0);
        string(out, name);
        string(out, value);
    }

    /// A literal without indexing, indexed name (§6.2.2).
    pub fn literal_named(out: &mut Vec<u8>, name_index: usize, value: &[u8]) {
        int(out, 4, 0, name_index);
        string(out, value);
    }

    /// A literal with incremental indexing, new name (§6.2.1): it enters the
    /// dynamic table at index 62.
    pub fn literal_indexed(out: &mut Vec<u8>, name: &[u8], value: &[u8]) {
        out.push(0x40);
        string(out, name);
        string(out, value);
    }
}

/// A gRPC request header block for `path` plus `extra` fields.
pub fn request_block(path: &str, extra: &[(&[u8], &[u8])]) -> Vec<u8> {
    let mut b = Vec::new();
    hpack_enc::indexed(&mut b, 3); // :method POST
    hpack_enc::indexed(&mut b, 6); // :scheme http
    hpack_enc::literal_named(&mut b, 4, path.as_bytes()); // :path
    hpack_enc::literal_named(&mut b, 1, b"localhost"); // :authority
    hpack_enc::literal_named(&mut b, 31, b"application/grpc"); // content-type
    hpack_enc::literal(&mut b, b"te", b"trailers");
    for (name, value) in extra {
        hpack_enc::literal(&mut b, name, value);
    }
    b
}

/// HEADERS (END_HEADERS) carrying `block`.
pub fn headers(stream: u32, block: Vec<u8>, end_stream: bool) -> Vec<u8> {
    frames::headers(&frames::HeadersParam {
        stream,
        block,
        end_stream,
        end_headers: true,
        ..Default::default()
    })
}

/// HEADERS opening a gRPC call to `path`.
pub fn request(stream: u32, path: &str, end_stream: bool) -> Vec<u8> {
    headers(stream, request_block(path, &[]), end_stream)
}

/// A length-prefixed gRPC message.
pub fn grpc_message(payload: &[u8]) -> Vec<u8> {
    let mut out = vec![0];
    out.extend_from_slice(&(payload.len() as u32).to_be_bytes());
    out.extend_from_slice(payload);
    out
}

/// A whole unary call: HEADERS, then the message in a DATA frame with END_STREAM.
pub fn unary_call(stream: u32, payload: &[u8]) -> Vec<u8> {
    let mut out = request(stream, path::UNARY, false);
    out.extend(frames::data(stream, true, &grpc_message(payload)));
    out
}

// ----- the raw client ---------------------------------------------------------------

/// How a stream ended, as the raw client saw it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct StreamEnd {
    /// `:status` of the response headers.
    pub http_status: Option<u16>,
    /// `grpc-status` of the trailers (or trailers-only response).
    pub grpc_status: Option<u32>,
    /// RST_STREAM code, when reset.
    pub reset: Option<ErrorCode>,
    /// DATA octets received on the stream.
    pub data: usize,
}

/// A plain HTTP/2 client over a blocking socket, with no validation of what
/// it sends. It decodes what the server sends, keeping its HPACK table in sync.
pub struct Raw {
    stream: TcpStream,
    inbox: BytesMut,
    decoder: FrameDecoder,
    hpack: hpack::Decoder,
    read_buf: Vec<u8>,
    /// The server closed the connection (EOF or reset) or a write failed.
    pub closed: bool,
    /// The GOAWAY the server sent, if any.
    pub goaway: Option<GoAway>,
    /// RST_STREAM frames received: (stream, code).
    pub resets: Vec<(u32, ErrorCode)>,
}

impl Raw {
    /// Connects without sending anything.
    pub fn connect(addr: SocketAddr) -> Raw {
        Raw::from_stream(TcpStream::connect(addr).expect("connect"))
    }

    /// Connects with a small socket receive buffer, so that a client that
    /// does not read pushes back on the server quickly.
    pub fn connect_small_rcvbuf(addr: SocketAddr) -> Raw {
        let socket =
            socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).expect("socket");
        socket.set_recv_buffer_size(4096).expect("SO_RCVBUF");
        socket.connect(&addr.into()).expect("connect");
        Raw::from_stream(socket.into())
    }

    fn from_stream(stream: TcpStream) -> Raw {
        stream.set_nodelay(true).expect("nodelay");
        stream.set_write_timeout(Some(Duration::from_secs(5))).expect("write timeout");
        Raw {
            stream,
            inbox: BytesMut::new(),
            decoder: FrameDecoder::new(MAX_MAX_FRAME_SIZE),
            hpack: hpack::Decoder::new(hpack::DEFAULT_TABLE_SIZE),
            read_buf: vec![0; RAW_READ_BUFFER],
            closed: false,
            goaway: None,
            resets: Vec::new(),
        }
    }

    /// Connects and completes the HTTP/2 handshake advertising `settings`.
    pub fn open(addr: SocketAddr, settings: &[(u16, u32)]) -> Raw {
        let mut raw = Raw::connect(addr);
        raw.handshake(settings);
        raw
    }

    /// Sends the preface and SETTINGS; acknowledges the server's SETTINGS.
    pub fn handshake(&mut self, settings: &[(u16, u32)]) {
        let mut hello = weir_core::conn::PREFACE.to_vec();
        hello.extend(frames::settings(settings));
        assert!(self.send(&hello), "sending the preface");
        let deadline = Instant::now() + Duration::from_secs(5);
        while let Some(f) = self.next_frame_until(deadline) {
            if matches!(f, Frame::Settings(s) if !s.ack) {
                assert!(self.send(&frames::settings_ack()), "acknowledging SETTINGS");
                return;
            }
        }
        panic!("the server sent no SETTINGS");
    }

    /// Writes raw octets; false once the connection is closed.
    pub fn send(&mut self, bytes: &[u8]) -> bool {
        if self.closed {
            return false;
        }
        if self.stream.write_all(bytes).is_err() {
            self.closed = true;
        }
        !self.closed
    }

    fn next_frame_until(&mut self, deadline: Instant) -> Option<Frame> {
        loop {
            match self.decoder.decode(&mut self.inbox) {
                Ok(Some(f)) => {
                    self.note(&f);
                    return Some(f);
                }
                Ok(None) => {}
                Err(e) => panic!("the server sent a malformed frame: {e:?}"),
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() || !self.read_some(left) {
                return None;
            }
        }
    }

    fn read_some(&mut self, wait: Duration) -> bool {
        if self.stream.set_read_timeout(Some(wait.max(Duration::from_millis(1)))).is_err() {
            self.closed = true;
            return false;
        }
        match self.stream.read(&mut self.read_buf) {
            Ok(0) => {
                self.closed = true;
                false
            }
            Ok(n) => {
                self.inbox.extend_from_slice(&self.read_buf[..n]);
                true
            }
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => false,
            Err(e) if e.kind() == ErrorKind::Interrupted => true,
            Err(_) => {
                self.closed = true;
                false
            }
        }
    }

    fn note(&mut self, f: &Frame) {
        match f {
            Frame::GoAway(g) => self.goaway = Some(g.clone()),
            Frame::RstStream(r) => self.resets.push((r.stream_id.0, r.error_code)),
            _ => {}
        }
    }

    /// Every frame the server sends within `wait`.
    pub fn frames_for(&mut self, wait: Duration) -> Vec<Frame> {
        let deadline = Instant::now() + wait;
        std::iter::from_fn(|| self.next_frame_until(deadline)).collect()
    }

    /// Reads until the server sends GOAWAY (returned) or `wait` passes.
    pub fn wait_goaway(&mut self, wait: Duration) -> Option<GoAway> {
        let deadline = Instant::now() + wait;
        while self.goaway.is_none() && self.next_frame_until(deadline).is_some() {}
        self.goaway.clone()
    }

    /// Reads and discards until the server closes the connection; false if
    /// it is still open after `wait`.
    pub fn wait_closed(&mut self, wait: Duration) -> bool {
        let deadline = Instant::now() + wait;
        while !self.closed && Instant::now() < deadline {
            let _ = self.next_frame_until(deadline);
        }
        self.closed
    }

    /// Reads until `stream` ends (END_STREAM or RST_STREAM) or `wait` passes.
    pub fn stream_end(&mut self, stream: u32, wait: Duration) -> Option<StreamEnd> {
        let deadline = Instant::now() + wait;
        let mut end = StreamEnd::default();
        while let Some(f) = self.next_frame_until(deadline) {
            match f {
                Frame::Headers(h) => {
                    let fields = self.decode_block(&h.fragment);
                    if h.stream_id.0 != stream {
                        continue;
                    }
                    for (name, value) in fields {
                        let value = String::from_utf8_lossy(&value).into_owned();
                        match &name[..] {
                            b":status" => end.http_status = value.parse().ok(),
                            b"grpc-status" => end.grpc_status = value.parse().ok(),
                            _ => {}
                        }
                    }
                    if h.end_stream {
                        return Some(end);
                    }
                }
                Frame::Data(d) if d.stream_id.0 == stream => {
                    end.data += d.data.len();
                    if d.end_stream {
                        return Some(end);
                    }
                }
                Frame::RstStream(r) if r.stream_id.0 == stream => {
                    end.reset = Some(r.error_code);
                    return Some(end);
                }
                _ => {}
            }
        }
        None
    }

    /// Decodes a header block the server sent (keeping the table in sync).
    pub fn decode_block(&mut self, block: &Bytes) -> Vec<(Bytes, Bytes)> {
        let mut fields = Vec::new();
        self.hpack
            .decode(block, usize::MAX, |f| fields.push((f.name, f.value)))
            .expect("the server's header block decodes");
        fields
    }
}

/// Asserts a GOAWAY with `code` arrived within `wait`; returns it.
#[track_caller]
pub fn expect_goaway(raw: &mut Raw, code: ErrorCode, wait: Duration, attack: &str) -> GoAway {
    let g = raw.wait_goaway(wait).unwrap_or_else(|| {
        panic!("{attack}: no GOAWAY within {wait:?} (closed: {}, resets: {})", raw.closed, raw.resets.len())
    });
    assert_eq!(g.error_code, code, "{attack}: GOAWAY code (debug data {:?})", g.debug_data);
    g
}

/// Sends `bytes` in chunks of at most `chunk` octets until the server closes
/// the connection or everything is sent; returns the octets written.
pub fn flood(raw: &mut Raw, bytes: &[u8], chunk: usize) -> usize {
    let mut sent = 0;
    for part in bytes.chunks(chunk) {
        if !raw.send(part) {
            break;
        }
        sent += part.len();
    }
    sent
}
