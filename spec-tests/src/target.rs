//! What the suite talks to: an endpoint under test seen only through the
//! wire. Server cases are written against [`ServerTarget`] so the same case
//! runs against the in-memory core ([`InMemoryServer`]) and, over TCP, against
//! a real server ([`TcpServer`]).

use std::io::{ErrorKind, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream, ToSocketAddrs};
use std::time::{Duration, Instant};

use bytes::BytesMut;
use weir_core::conn::{Config, Connection, Event, PREFACE, Role};
use weir_core::frame::{Frame, FrameDecoder, MAX_MAX_FRAME_SIZE};
use weir_core::grpc::{Client, ClientConfig, ClientEvent, Server, ServerConfig, ServerEvent};

/// An endpoint under test, seen through the wire only.
pub trait Target {
    /// Writes raw octets to the endpoint (no validation: illegal sequences
    /// are the point).
    fn send(&mut self, bytes: &[u8]);

    /// The frames the endpoint sent since the last call, in order. An empty
    /// result means nothing more arrived before the target's deadline (in
    /// memory: nothing more is ready; over TCP: a read timeout or EOF).
    fn recv_frames(&mut self) -> Vec<Frame>;

    /// True once the endpoint closed the connection.
    fn is_closed(&self) -> bool;
}

/// A server under test: the suite plays the client (as h2spec does).
pub trait ServerTarget: Target {}

/// Received octets split into frames.
#[derive(Debug)]
struct Inbox {
    buf: BytesMut,
    decoder: FrameDecoder,
}

impl Inbox {
    fn new() -> Self {
        Inbox { buf: BytesMut::new(), decoder: FrameDecoder::new(MAX_MAX_FRAME_SIZE) }
    }

    fn push(&mut self, bytes: &[u8]) {
        self.buf.extend_from_slice(bytes);
    }

    /// Every complete frame buffered; the endpoint under test must only ever
    /// send well-formed frames.
    fn frames(&mut self) -> Vec<Frame> {
        let mut out = Vec::new();
        loop {
            match self.decoder.decode(&mut self.buf) {
                Ok(Some(f)) => out.push(f),
                Ok(None) => return out,
                Err(e) => panic!("the endpoint under test sent a malformed frame: {e:?}"),
            }
        }
    }
}

/// The in-memory target: a `weir_core::grpc::Server` driven with simulated
/// time. It answers requests as the gRPC layer does: a non-gRPC request (h2spec
/// sends `GET /`) gets HTTP 415 with a text DATA body, which is what the
/// flow-control cases need to see DATA frames.
#[derive(Debug)]
pub struct InMemoryServer {
    /// The server core.
    pub server: Server,
    /// Simulated time.
    pub now: Instant,
    /// Every event the server reported, in order.
    pub events: Vec<ServerEvent>,
    inbox: Inbox,
    out: Vec<u8>,
}

impl InMemoryServer {
    /// A server with the default configuration.
    pub fn new() -> Self {
        InMemoryServer::with_config(ServerConfig::default())
    }

    /// A server with `config`.
    pub fn with_config(config: ServerConfig) -> Self {
        let now = Instant::now();
        InMemoryServer {
            server: Server::new(config, now),
            now,
            events: Vec::new(),
            inbox: Inbox::new(),
            out: Vec::new(),
        }
    }

    /// Moves simulated time forward, running expired timers.
    pub fn advance(&mut self, d: Duration) {
        self.now += d;
        self.server.handle_timeout(self.now);
        self.drain_events();
    }

    fn drain_events(&mut self) {
        self.events.extend(std::iter::from_fn(|| self.server.poll_event()));
    }
}

impl Default for InMemoryServer {
    fn default() -> Self {
        InMemoryServer::new()
    }
}

impl Target for InMemoryServer {
    fn send(&mut self, bytes: &[u8]) {
        self.server.handle_input(self.now, bytes);
        self.drain_events();
    }

    fn recv_frames(&mut self) -> Vec<Frame> {
        if self.server.poll_timeout().is_some_and(|t| t <= self.now) {
            self.server.handle_timeout(self.now);
        }
        self.out.clear();
        while self.server.poll_transmit(self.now, &mut self.out) > 0 {}
        self.drain_events();
        self.inbox.push(&self.out);
        self.inbox.frames()
    }

    fn is_closed(&self) -> bool {
        self.server.is_closed()
    }
}

impl ServerTarget for InMemoryServer {}

/// A bare HTTP/2 `Connection` under test, driven with simulated time. As a
/// client ([`InMemoryClient`]) the suite plays the server: the role h2spec
/// cannot test.
#[derive(Debug)]
pub struct InMemoryConnection {
    /// The connection.
    pub conn: Connection,
    /// Simulated time.
    pub now: Instant,
    /// Every event the connection reported, in order.
    pub events: Vec<Event>,
    inbox: Inbox,
    preface_left: usize,
    out: Vec<u8>,
}

/// A client `Connection` under test.
pub type InMemoryClient = InMemoryConnection;

impl InMemoryConnection {
    /// A client connection with `config`.
    pub fn new(config: Config) -> Self {
        InMemoryConnection::with_role(Role::Client, config)
    }

    /// A server connection with `config` (no application: requests are left
    /// to the test to answer).
    pub fn server(config: Config) -> Self {
        InMemoryConnection::with_role(Role::Server, config)
    }

    fn with_role(role: Role, config: Config) -> Self {
        let now = Instant::now();
        InMemoryConnection {
            conn: Connection::new(role, config, now),
            now,
            events: Vec::new(),
            inbox: Inbox::new(),
            preface_left: if role == Role::Client { PREFACE.len() } else { 0 },
            out: Vec::new(),
        }
    }

    /// Moves simulated time forward, running expired timers.
    pub fn advance(&mut self, d: Duration) {
        self.now += d;
        self.conn.handle_timeout(self.now);
        self.drain_events();
    }

    /// Takes the events reported so far.
    pub fn take_events(&mut self) -> Vec<Event> {
        self.drain_events();
        std::mem::take(&mut self.events)
    }

    fn drain_events(&mut self) {
        self.events.extend(std::iter::from_fn(|| self.conn.poll_event()));
    }
}

impl Target for InMemoryConnection {
    fn send(&mut self, bytes: &[u8]) {
        self.conn.handle_input(self.now, bytes);
        self.drain_events();
    }

    fn recv_frames(&mut self) -> Vec<Frame> {
        self.out.clear();
        while self.conn.poll_transmit(self.now, &mut self.out) > 0 {}
        self.drain_events();
        let mut bytes = &self.out[..];
        if self.preface_left > 0 {
            // §3.4: "the client connection preface starts with a sequence of 24 octets".
            let n = self.preface_left.min(bytes.len());
            let at = PREFACE.len() - self.preface_left;
            assert_eq!(&bytes[..n], &PREFACE[at..at + n], "the client must start with the preface");
            self.preface_left -= n;
            bytes = &bytes[n..];
        }
        self.inbox.push(bytes);
        self.inbox.frames()
    }

    fn is_closed(&self) -> bool {
        self.conn.is_closed()
    }
}

/// A `weir_core::grpc::Client` under test, driven with simulated time: the
/// suite plays the gRPC server.
#[derive(Debug)]
pub struct InMemoryGrpcClient {
    /// The client core.
    pub client: Client,
    /// Simulated time.
    pub now: Instant,
    /// Every event the client reported, in order.
    pub events: Vec<ClientEvent>,
    inbox: Inbox,
    preface_left: usize,
    out: Vec<u8>,
}

impl InMemoryGrpcClient {
    /// A client with `config`.
    pub fn new(config: ClientConfig) -> Self {
        let now = Instant::now();
        InMemoryGrpcClient {
            client: Client::new(config, now),
            now,
            events: Vec::new(),
            inbox: Inbox::new(),
            preface_left: PREFACE.len(),
            out: Vec::new(),
        }
    }

    /// Moves simulated time forward, running expired timers.
    pub fn advance(&mut self, d: Duration) {
        self.now += d;
        self.client.handle_timeout(self.now);
        self.drain_events();
    }

    /// Takes the events reported so far.
    pub fn take_events(&mut self) -> Vec<ClientEvent> {
        self.drain_events();
        std::mem::take(&mut self.events)
    }

    fn drain_events(&mut self) {
        self.events.extend(std::iter::from_fn(|| self.client.poll_event()));
    }
}

impl Target for InMemoryGrpcClient {
    fn send(&mut self, bytes: &[u8]) {
        self.client.handle_input(self.now, bytes);
        self.drain_events();
    }

    fn recv_frames(&mut self) -> Vec<Frame> {
        self.out.clear();
        while self.client.poll_transmit(self.now, &mut self.out) > 0 {}
        self.drain_events();
        let n = self.preface_left.min(self.out.len());
        let at = PREFACE.len() - self.preface_left;
        assert_eq!(&self.out[..n], &PREFACE[at..at + n], "the client must start with the preface");
        self.preface_left -= n;
        self.inbox.push(&self.out[n..]);
        self.inbox.frames()
    }

    fn is_closed(&self) -> bool {
        self.client.is_closed()
    }
}

/// A server reached over TCP (plain HTTP/2 with prior knowledge), read with a
/// deadline as h2spec does.
///
/// The lead's tokio server plugs in here: [`tcp_target_addr`] names the
/// address every server case also runs against.
#[derive(Debug)]
pub struct TcpServer {
    stream: TcpStream,
    inbox: Inbox,
    closed: bool,
    /// How long to wait for a first octet before reporting nothing.
    pub timeout: Duration,
    /// After octets arrived, how long a pause ends one `recv_frames`.
    pub settle: Duration,
}

impl TcpServer {
    /// Connects to `addr`.
    pub fn connect(addr: impl ToSocketAddrs) -> std::io::Result<Self> {
        let stream = TcpStream::connect(addr)?;
        stream.set_nodelay(true)?;
        Ok(TcpServer {
            stream,
            inbox: Inbox::new(),
            closed: false,
            timeout: Duration::from_secs(2),
            settle: Duration::from_millis(1),
        })
    }

    /// Reads once, waiting at most `wait`; false on timeout or EOF.
    fn read_some(&mut self, wait: Duration) -> bool {
        let mut buf = [0u8; 16 << 10];
        if self.stream.set_read_timeout(Some(wait.max(Duration::from_millis(1)))).is_err() {
            self.closed = true;
            return false;
        }
        match self.stream.read(&mut buf) {
            Ok(0) => {
                self.closed = true;
                false
            }
            Ok(n) => {
                self.inbox.push(&buf[..n]);
                true
            }
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => false,
            Err(e) if e.kind() == ErrorKind::Interrupted => true,
            Err(_) => {
                // ECONNRESET and friends: the server closed the connection.
                self.closed = true;
                false
            }
        }
    }
}

impl Target for TcpServer {
    fn send(&mut self, bytes: &[u8]) {
        // A server that already closed makes writes fail: what matters is what
        // it sent before, which reads still return.
        if self.stream.write_all(bytes).is_err() {
            self.closed = true;
        }
    }

    fn recv_frames(&mut self) -> Vec<Frame> {
        if self.closed {
            return self.inbox.frames();
        }
        let deadline = Instant::now() + self.timeout;
        let mut frames = self.inbox.frames();
        while frames.is_empty() && !self.closed {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() || !self.read_some(left) {
                return self.inbox.frames();
            }
            frames = self.inbox.frames();
        }
        // Whatever follows closely belongs to the same answer.
        while !self.closed && self.read_some(self.settle) {}
        frames.extend(self.inbox.frames());
        frames
    }

    fn is_closed(&self) -> bool {
        self.closed
    }
}

impl ServerTarget for TcpServer {}

/// The address of a live server every server case also runs against, from
/// `WEIR_SPEC_TCP_SERVER` (e.g. `127.0.0.1:50051`). `None`: in-memory only.
///
/// This is where the tokio server gets wired in: start it (in-process or as
/// a child) and return its address here.
pub fn tcp_target_addr() -> Option<SocketAddr> {
    let v = std::env::var("WEIR_SPEC_TCP_SERVER").ok()?;
    v.to_socket_addrs().ok()?.next()
}

/// A plain-TCP server around the core: a `grpc::Server` per accepted
/// connection, each on its own thread, on real time. It is the reference the
/// [`TcpServer`] target is checked against (the verdicts over TCP must equal
/// the in-memory ones), and a model of what the tokio server does.
#[derive(Debug)]
pub struct LoopbackServer {
    /// Where it listens (127.0.0.1, an ephemeral port).
    pub addr: SocketAddr,
}

impl LoopbackServer {
    /// Binds and starts accepting connections.
    pub fn start() -> std::io::Result<Self> {
        let listener = TcpListener::bind("127.0.0.1:0")?;
        let addr = listener.local_addr()?;
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                std::thread::spawn(move || serve_core(stream));
            }
        });
        Ok(LoopbackServer { addr })
    }
}

/// Drives one connection: read, feed, run timers, write, until the core closes.
fn serve_core(mut stream: TcpStream) {
    let _ = stream.set_nodelay(true);
    let _ = stream.set_read_timeout(Some(Duration::from_millis(2)));
    let mut server = Server::new(ServerConfig::default(), Instant::now());
    let mut buf = vec![0u8; 16 << 10];
    let mut out = Vec::new();
    loop {
        let now = Instant::now();
        match stream.read(&mut buf) {
            Ok(0) => {
                server.handle_eof(now);
                break;
            }
            Ok(n) => server.handle_input(now, &buf[..n]),
            Err(e)
                if matches!(
                    e.kind(),
                    ErrorKind::WouldBlock | ErrorKind::TimedOut | ErrorKind::Interrupted
                ) => {}
            Err(_) => break,
        }
        if server.poll_timeout().is_some_and(|t| t <= now) {
            server.handle_timeout(now);
        }
        out.clear();
        while server.poll_transmit(now, &mut out) > 0 {}
        if !out.is_empty() && stream.write_all(&out).is_err() {
            return;
        }
        while server.poll_event().is_some() {}
        if server.is_closed() {
            break;
        }
    }
    // Close with a FIN after what was written (reading what the peer still
    // sends, so unread input does not turn the close into a reset).
    let _ = stream.shutdown(Shutdown::Write);
    let deadline = Instant::now() + Duration::from_millis(200);
    while Instant::now() < deadline && matches!(stream.read(&mut buf), Ok(n) if n > 0) {}
}
