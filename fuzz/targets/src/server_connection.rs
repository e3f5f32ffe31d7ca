//! `server_connection`: a server that has received a valid preface and an
//! empty SETTINGS, then arbitrary octets from the client.
//!
//! Input: a 9-octet header (mode octet: bit 0 selects the gRPC `Server`
//! layer, the rest a configuration profile; then an 8-octet seed, whose top
//! bit turns on `ServerConfig::grpc_web` for the gRPC layer), then the
//! octets the client sends after its preface and SETTINGS. The seed drives
//! chunk sizes, time steps (random amounts or up to the next deadline) and
//! the application: responding, sending data and trailers, reading,
//! resetting, pinging, changing settings, shutting down.
//!
//! Checks, after every step: the server's output is valid HTTP/2 (frames
//! decode, respect the peer's `SETTINGS_MAX_FRAME_SIZE`, SETTINGS first,
//! header blocks HPACK-decode with the peer's table size, no
//! PUSH_PROMISE); DATA never exceeds the connection or stream send window
//! and the windows account for exactly what was sent; windows stay within
//! 2^31-1 and above what SETTINGS decreases allow; receive and send buffers
//! stay within the configured bounds; reads respect their maximum and the
//! buffered count; no event after `Closed`, and a closed connection reported
//! `Closed`.

use std::time::Instant;

use bytes::Bytes;
use weir_core::ErrorCode;
use weir_core::conn::{Connection, Event, HeadersKind, PREFACE, Role};
use weir_core::frame::{Frame, Settings, SettingsFrame, StreamId};
use weir_core::grpc::{
    self, CallId, Code, MessageConfig, Metadata, RecvMessage, ServerConfig, ServerEvent, Status,
};
use weir_core::headers::Headers;
use weir_core::sim::Rng;

use crate::drive::{self, App, Checker, Clock, Driven, Header};
use crate::pattern;

/// Runs one input.
pub fn run(data: &[u8]) {
    let Some((header, wire)) = Header::parse(data) else {
        return;
    };
    let mut rng = Rng::new(header.seed);
    let mut clock = Clock::new();
    let config = drive::config(header.profile, Role::Server);
    let mut checker = Checker::new(Role::Server, &config);
    let mut hello = PREFACE.to_vec();
    Frame::Settings(SettingsFrame { ack: false, settings: Settings::default() }).encode(&mut hello);
    if header.grpc {
        let max_recv = [16usize, 1024, 1 << 20][rng.below(3)];
        let cfg = ServerConfig {
            h2: config,
            messages: MessageConfig { max_recv_message_size: max_recv, ..MessageConfig::default() },
            // gRPC-Web requests (binary and base64 bodies) and preflights.
            grpc_web: header.seed >> 63 == 1,
            // Requests that are not calls, answered by the target.
            other_requests: header.seed >> 62 & 1 == 1,
        };
        let mut app = GrpcServer {
            server: grpc::Server::new(cfg, clock.now),
            calls: Vec::new(),
            requests: Vec::new(),
            max_recv,
        };
        app.input(clock.now, &hello);
        drive::run_loop(&mut app, &mut checker, &mut rng, &mut clock, wire);
    } else {
        let mut app =
            H2Server { conn: Connection::new(Role::Server, config, clock.now), streams: Vec::new() };
        app.input(clock.now, &hello);
        drive::run_loop(&mut app, &mut checker, &mut rng, &mut clock, wire);
    }
}

/// A random error code for resets and GOAWAY.
pub(crate) fn error_code(rng: &mut Rng) -> ErrorCode {
    [ErrorCode::NO_ERROR, ErrorCode::CANCEL, ErrorCode::INTERNAL_ERROR, ErrorCode::REFUSED_STREAM]
        [rng.below(4)]
}

/// A random element of `list`, or a stream id nobody opened.
pub(crate) fn pick(rng: &mut Rng, list: &[StreamId]) -> StreamId {
    if list.is_empty() || rng.below(16) == 0 {
        return StreamId(rng.below(64) as u32);
    }
    list[rng.below(list.len())]
}

/// Random data to send (lengths up to [`drive::MAX_SEND_CHUNK`]).
pub(crate) fn data(rng: &mut Rng, id: StreamId) -> Bytes {
    let len = [0usize, 1, 100, 5000, drive::MAX_SEND_CHUNK][rng.below(5)];
    pattern(id.0, 1, rng.next_u64() % 1024, rng.below(len + 1))
}

/// Commands both HTTP/2 roles issue.
pub(crate) fn h2_command(conn: &mut Connection, rng: &mut Rng, now: Instant, streams: &[StreamId]) {
    match rng.below(12) {
        0 | 1 => {
            let id = pick(rng, streams);
            let _ = conn.send_data(id, data(rng, id), rng.below(4) == 0);
        }
        2 => {
            let mut t = Headers::trailers();
            t.push("grpc-status", "0");
            let _ = conn.send_headers(pick(rng, streams), t, true);
        }
        3 => {
            let _ = conn.reset_stream(pick(rng, streams), error_code(rng));
        }
        4 => {
            let _ = conn.reset_when_sent(pick(rng, streams), error_code(rng));
        }
        5 => {
            let id = pick(rng, streams);
            drive::read_stream(conn, rng, id);
        }
        6 => conn.ping(now, rng.next_u64().to_be_bytes()),
        7 => conn.set_initial_window_size(now, drive::window_choice(rng)),
        8 => conn.set_max_concurrent_streams(now, [0, 1, 2, 100][rng.below(4)]),
        9 if rng.below(4) == 0 => conn.shutdown(now),
        10 if rng.below(8) == 0 => conn.go_away(error_code(rng), Bytes::from_static(b"fuzz")),
        _ => {}
    }
}

/// The HTTP/2 server application.
struct H2Server {
    conn: Connection,
    streams: Vec<StreamId>,
}

impl Driven for H2Server {
    fn h2(&self) -> &Connection {
        &self.conn
    }
    fn transmit(&mut self, now: Instant, buf: &mut Vec<u8>) -> usize {
        self.conn.poll_transmit(now, buf)
    }
}

impl H2Server {
    fn respond(&mut self, rng: &mut Rng, id: StreamId) {
        let mut h = Headers::response(200);
        h.push("content-type", "application/grpc");
        let end = rng.below(4) == 0;
        if self.conn.send_headers(id, h, end).is_ok() && !end && rng.below(2) == 0 {
            let _ = self.conn.send_data(id, data(rng, id), rng.below(2) == 0);
        }
    }
}

impl App for H2Server {
    fn input(&mut self, now: Instant, data: &[u8]) {
        self.conn.handle_input(now, data);
    }
    fn timeout(&mut self, now: Instant) {
        self.conn.handle_timeout(now);
    }
    fn deadline(&self) -> Option<Instant> {
        self.conn.poll_timeout()
    }
    fn eof(&mut self, now: Instant) {
        self.conn.handle_eof(now);
    }
    fn events(&mut self, checker: &mut Checker, rng: &mut Rng, _now: Instant) {
        while let Some(e) = self.conn.poll_event() {
            checker.event(Role::Server, &e);
            match e {
                Event::Headers { stream, kind: HeadersKind::Request, .. } => {
                    assert!(stream.is_client_initiated(), "request on {stream:?}");
                    checker.streams.insert(stream);
                    self.streams.push(stream);
                    if rng.below(2) == 0 {
                        self.respond(rng, stream);
                    }
                }
                Event::Data { stream, .. } if rng.below(4) != 0 => {
                    drive::read_stream(&mut self.conn, rng, stream);
                }
                Event::Writable { stream } if rng.below(2) == 0 => {
                    let _ = self.conn.send_data(stream, data(rng, stream), false);
                }
                _ => {}
            }
        }
    }
    fn act(&mut self, _checker: &mut Checker, rng: &mut Rng, now: Instant) {
        if rng.below(4) == 0 {
            let id = pick(rng, &self.streams);
            self.respond(rng, id);
        } else {
            h2_command(&mut self.conn, rng, now, &self.streams);
        }
    }
}

/// The gRPC server application.
struct GrpcServer {
    server: grpc::Server,
    calls: Vec<StreamId>,
    /// Requests that are not calls (`other_requests`).
    requests: Vec<StreamId>,
    max_recv: usize,
}

impl Driven for GrpcServer {
    fn h2(&self) -> &Connection {
        self.server.h2()
    }
    fn transmit(&mut self, now: Instant, buf: &mut Vec<u8>) -> usize {
        self.server.poll_transmit(now, buf)
    }
}

impl GrpcServer {
    fn receive(&mut self, call: CallId) {
        for _ in 0..64 {
            match self.server.recv_message(call) {
                Ok(RecvMessage::Message(m)) => {
                    assert!(m.len() <= self.max_recv, "message of {} octets over the limit", m.len());
                }
                Ok(RecvMessage::Pending) | Ok(RecvMessage::End) | Err(_) => return,
            }
        }
    }

    fn status(rng: &mut Rng) -> Status {
        let code = Code::from_i32(rng.below(17) as i32);
        Status::new(code, if rng.below(2) == 0 { "" } else { "fuzz 100% ☺" })
    }
}

impl App for GrpcServer {
    fn input(&mut self, now: Instant, data: &[u8]) {
        self.server.handle_input(now, data);
    }
    fn timeout(&mut self, now: Instant) {
        self.server.handle_timeout(now);
    }
    fn deadline(&self) -> Option<Instant> {
        self.server.poll_timeout()
    }
    fn eof(&mut self, now: Instant) {
        self.server.handle_eof(now);
    }
    fn events(&mut self, checker: &mut Checker, rng: &mut Rng, _now: Instant) {
        while let Some(e) = self.server.poll_event() {
            checker.grpc_event(matches!(e, ServerEvent::Closed { .. }));
            match e {
                ServerEvent::Call { call, start } => {
                    assert!(!self.calls.contains(&call.0), "call {call} started twice");
                    assert!(start.path.starts_with(b"/"), "path {:?}", start.path);
                    self.calls.push(call.0);
                    checker.streams.insert(call.0);
                    if rng.below(4) == 0 {
                        let _ = self.server.send_message(call, data(rng, call.0));
                    }
                }
                ServerEvent::Message { call } => {
                    assert!(self.calls.contains(&call.0), "message on unknown {call}");
                    if rng.below(4) != 0 {
                        self.receive(call);
                    }
                }
                ServerEvent::HalfClosed { call } => {
                    assert!(self.calls.contains(&call.0), "half-close of unknown {call}");
                    if rng.below(2) == 0 {
                        let _ = self.server.finish(call, &Self::status(rng), &Metadata::new());
                    }
                }
                ServerEvent::Cancelled { call, .. } => {
                    assert!(
                        self.calls.contains(&call.0) || self.requests.contains(&call.0),
                        "cancel of unknown {call}"
                    );
                }
                ServerEvent::Request { stream, .. } => {
                    assert!(!self.calls.contains(&stream.0), "request on call {stream}");
                    self.requests.push(stream.0);
                    match rng.below(4) {
                        0 => {
                            let _ = self.server.send_response(stream, 200, Vec::new(), true);
                        }
                        1 => {
                            let _ = self.server.send_response(stream, 200, Vec::new(), false);
                            let _ = self.server.send_body(stream, data(rng, stream.0), rng.below(2) == 0);
                        }
                        2 => self.server.cancel(stream),
                        _ => {}
                    }
                }
                ServerEvent::RequestData { stream } => {
                    assert!(self.requests.contains(&stream.0), "body of unknown request {stream}");
                    while let Ok(weir_core::conn::Read::Data { .. }) = self.server.read_body(stream, 1 << 10)
                    {
                    }
                    if rng.below(2) == 0 {
                        let _ = self.server.send_response(stream, 200, Vec::new(), false);
                        let _ = self.server.send_trailers(stream, Vec::new());
                    }
                }
                ServerEvent::Preflight { call, headers } => {
                    assert!(!self.calls.contains(&call.0), "preflight on call {call}");
                    assert_eq!(headers.pseudo.method.as_deref(), Some(&b"OPTIONS"[..]));
                    if rng.below(4) != 0 {
                        let status = [204, 403][rng.below(2)];
                        let fields = vec![weir_core::hpack::HeaderField::new(
                            Bytes::from_static(b"access-control-allow-origin"),
                            Bytes::from_static(b"https://fuzz.example"),
                        )];
                        let _ = self.server.respond(call, status, fields);
                    }
                }
                ServerEvent::Writable { .. } | ServerEvent::GoAway { .. } | ServerEvent::Closed { .. } => {}
            }
        }
    }
    fn act(&mut self, _checker: &mut Checker, rng: &mut Rng, now: Instant) {
        let call = CallId(pick(rng, &self.calls));
        match rng.below(10) {
            0 => {
                let mut md = Metadata::new();
                let _ = md.append("x-fuzz", "1");
                let _ = self.server.send_headers(call, &md);
            }
            1 => {
                let _ = self.server.set_send_compression(call, Some("gzip"));
            }
            2 | 3 => {
                let _ = self.server.send_message(call, data(rng, call.0));
            }
            4 => {
                let _ = self.server.send_message_with(call, data(rng, call.0), rng.below(2) == 0);
            }
            5 => {
                let _ = self.server.finish(call, &Self::status(rng), &Metadata::new());
            }
            6 => self.server.cancel(call),
            7 => self.receive(call),
            8 => self.server.h2_mut().ping(now, rng.next_u64().to_be_bytes()),
            _ if rng.below(8) == 0 => self.server.shutdown(now),
            _ => {}
        }
    }
}
