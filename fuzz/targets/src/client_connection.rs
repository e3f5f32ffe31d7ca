//! `client_connection`: a client that sent its preface, received an empty
//! SETTINGS and opened a few streams, then arbitrary octets from the server.
//!
//! Input: the same 9-octet header as `server_connection` (bit 0 of the mode
//! octet selects the gRPC `Client` layer), then the octets the server sends
//! after its SETTINGS. Streams 1, 3 and 5 are open (a request with a body
//! still coming, a GET ended with its headers, a request with its whole body);
//! the application opens more, sends, reads, resets, pings, changes settings
//! and shuts down at random.
//!
//! Checks: those of `server_connection` (valid output, flow control, window
//! bounds, buffers, events), plus: response headers only on streams we
//! opened; gRPC calls finish at most once, and only calls we started get
//! events.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use weir_core::conn::{Connection, Event, Role};
use weir_core::frame::{Frame, Settings, SettingsFrame, StreamId};
use weir_core::grpc::{self, CallId, CallRequest, ClientConfig, ClientEvent, MessageConfig, RecvMessage};
use weir_core::headers::Headers;
use weir_core::sim::Rng;

use crate::drive::{self, App, Checker, Clock, Driven, Header};
use crate::server_connection::{data, h2_command, pick};

/// Runs one input.
pub fn run(input: &[u8]) {
    let Some((header, wire)) = Header::parse(input) else {
        return;
    };
    let mut rng = Rng::new(header.seed);
    let mut clock = Clock::new();
    let config = drive::config(header.profile, Role::Client);
    let mut checker = Checker::new(Role::Client, &config);
    let mut settings = Vec::new();
    Frame::Settings(SettingsFrame { ack: false, settings: Settings::default() }).encode(&mut settings);
    if header.grpc {
        let max_recv = [16usize, 1024, 1 << 20][rng.below(3)];
        let cfg = ClientConfig {
            h2: config,
            messages: MessageConfig { max_recv_message_size: max_recv, ..MessageConfig::default() },
            ..ClientConfig::default()
        };
        let mut app = GrpcClient {
            client: grpc::Client::new(cfg, clock.now),
            calls: Vec::new(),
            finished: BTreeSet::new(),
            max_recv,
        };
        checker.transmit(&mut app, clock.now);
        app.input(clock.now, &settings);
        for _ in 0..3 {
            app.start(&mut checker, &mut rng, clock.now);
        }
        // The server has seen the requests before it answers.
        checker.transmit(&mut app, clock.now);
        drive::run_loop(&mut app, &mut checker, &mut rng, &mut clock, wire);
    } else {
        let mut app =
            H2Client { conn: Connection::new(Role::Client, config, clock.now), streams: Vec::new() };
        checker.transmit(&mut app, clock.now);
        app.input(clock.now, &settings);
        for (end, body) in [(false, true), (true, false), (false, true)] {
            if let Some(id) = app.open(&mut checker, end)
                && body
            {
                let _ = app.conn.send_data(id, data(&mut rng, id), id.0 == 5);
            }
        }
        checker.transmit(&mut app, clock.now);
        drive::run_loop(&mut app, &mut checker, &mut rng, &mut clock, wire);
    }
}

/// A request's header section.
fn request(method: &'static str) -> Headers {
    let mut h = Headers::request(method, "http", "localhost", "/pkg.Svc/Method");
    h.push("content-type", "application/grpc");
    h.push("te", "trailers");
    h
}

/// The HTTP/2 client application.
struct H2Client {
    conn: Connection,
    streams: Vec<StreamId>,
}

impl H2Client {
    fn open(&mut self, checker: &mut Checker, end: bool) -> Option<StreamId> {
        let id = self.conn.open_stream(request(if end { "GET" } else { "POST" }), end).ok()?;
        assert!(id.is_client_initiated(), "client opened {id:?}");
        assert!(!self.streams.contains(&id), "{id:?} opened twice");
        self.streams.push(id);
        checker.streams.insert(id);
        Some(id)
    }
}

impl Driven for H2Client {
    fn h2(&self) -> &Connection {
        &self.conn
    }
    fn transmit(&mut self, now: Instant, buf: &mut Vec<u8>) -> usize {
        self.conn.poll_transmit(now, buf)
    }
}

impl App for H2Client {
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
            checker.event(Role::Client, &e);
            match e {
                Event::Headers { stream, .. } => {
                    assert!(self.streams.contains(&stream), "headers on {stream:?}, which we never opened");
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
    fn act(&mut self, checker: &mut Checker, rng: &mut Rng, now: Instant) {
        if rng.below(4) == 0 {
            self.open(checker, rng.below(2) == 0);
        } else {
            h2_command(&mut self.conn, rng, now, &self.streams);
        }
    }
}

/// The gRPC client application.
struct GrpcClient {
    client: grpc::Client,
    calls: Vec<StreamId>,
    finished: BTreeSet<StreamId>,
    max_recv: usize,
}

impl GrpcClient {
    fn start(&mut self, checker: &mut Checker, rng: &mut Rng, now: Instant) {
        let mut req = CallRequest::new("/pkg.Svc/Method", "localhost");
        if rng.below(2) == 0 {
            req.timeout = Some(Duration::from_millis(rng.below(10_000) as u64));
        }
        if rng.below(2) == 0 {
            req.compression = Some("gzip");
        }
        let _ = req.metadata.append("x-fuzz", "1");
        let Ok(call) = self.client.start_call(now, req) else {
            return;
        };
        assert!(!self.calls.contains(&call.0), "{call} started twice");
        self.calls.push(call.0);
        checker.streams.insert(call.0);
        if rng.below(2) == 0 {
            let _ = self.client.send_message(call, data(rng, call.0));
        }
        if rng.below(2) == 0 {
            let _ = self.client.half_close(call);
        }
    }

    fn receive(&mut self, call: CallId) {
        for _ in 0..64 {
            match self.client.recv_message(call) {
                Ok(RecvMessage::Message(m)) => {
                    assert!(m.len() <= self.max_recv, "message of {} octets over the limit", m.len());
                }
                Ok(RecvMessage::Pending) | Ok(RecvMessage::End) | Err(_) => return,
            }
        }
    }
}

impl Driven for GrpcClient {
    fn h2(&self) -> &Connection {
        self.client.h2()
    }
    fn transmit(&mut self, now: Instant, buf: &mut Vec<u8>) -> usize {
        self.client.poll_transmit(now, buf)
    }
}

impl App for GrpcClient {
    fn input(&mut self, now: Instant, data: &[u8]) {
        self.client.handle_input(now, data);
    }
    fn timeout(&mut self, now: Instant) {
        self.client.handle_timeout(now);
    }
    fn deadline(&self) -> Option<Instant> {
        self.client.poll_timeout()
    }
    fn eof(&mut self, now: Instant) {
        self.client.handle_eof(now);
    }
    fn events(&mut self, checker: &mut Checker, rng: &mut Rng, _now: Instant) {
        while let Some(e) = self.client.poll_event() {
            checker.grpc_event(matches!(e, ClientEvent::Closed { .. }));
            match e {
                ClientEvent::Headers { call, .. } => {
                    assert!(self.calls.contains(&call.0), "headers for unknown {call}");
                }
                ClientEvent::Message { call } => {
                    assert!(self.calls.contains(&call.0), "message for unknown {call}");
                    if rng.below(4) != 0 {
                        self.receive(call);
                    }
                }
                ClientEvent::Finished { call, .. } => {
                    assert!(self.calls.contains(&call.0), "unknown {call} finished");
                    assert!(self.finished.insert(call.0), "{call} finished twice");
                    if rng.below(2) == 0 {
                        self.receive(call);
                    }
                }
                ClientEvent::Writable { .. } | ClientEvent::GoAway { .. } | ClientEvent::Closed { .. } => {}
            }
        }
    }
    fn act(&mut self, checker: &mut Checker, rng: &mut Rng, now: Instant) {
        let call = CallId(pick(rng, &self.calls));
        match rng.below(9) {
            0 | 1 => self.start(checker, rng, now),
            2 | 3 => {
                let _ = self.client.send_message(call, data(rng, call.0));
            }
            4 => {
                let _ = self.client.send_last_message(call, data(rng, call.0));
            }
            5 => {
                let _ = self.client.half_close(call);
            }
            6 => self.client.cancel(call),
            7 => self.receive(call),
            _ => match rng.below(4) {
                0 => self.client.h2_mut().ping(now, rng.next_u64().to_be_bytes()),
                1 => self.client.shutdown(now),
                _ => {}
            },
        }
    }
}
