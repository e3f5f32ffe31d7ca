//! `http1_client`: an HTTP/1.1 [`ClientConnection`] fed arbitrary octets
//! from a server, with the client's requests interleaved.
//!
//! Input: a mode octet (low 2 bits: configuration profile; bit 2: one
//! exchange only), an 8-octet seed (piece sizes), then the octets the server
//! sends.
//!
//! The application is deterministic (it depends on events only): it sends a
//! request, then another whenever the connection can send, up to
//! [`MAX_REQUESTS`]; requests are by turns a `GET`, a `POST` with a
//! `Content-Length` and a chunked `POST` (every fourth a `HEAD`), their
//! bodies sent half before the response arrives and half after the next
//! piece of input.
//!
//! Checks: body events never above `max_body_buffer`, never empty, and for
//! the exchange in progress; unprocessed input never above its limit plus
//! one read; at most one `Error` event, the last; send commands refused only
//! because the connection closed; after the end of input the connection is
//! closed. With one exchange, the same events whether the input comes whole
//! or in random pieces.

use std::time::Instant;

use bytes::Bytes;
use weir_core::http1::{
    ClientConfig, ClientConnection, ClientEvent, ClientRequest, RequestId, ResponseBody, SendError,
};
use weir_core::sim::Rng;

/// Requests one input may send.
pub const MAX_REQUESTS: u64 = 8;

/// Runs one input.
pub fn run(data: &[u8]) {
    let Some((head, wire)) = data.split_first_chunk::<9>() else {
        return;
    };
    let config = config(head[0] & 3);
    let single = head[0] & 4 != 0;
    let mut seed = [0u8; 8];
    seed.copy_from_slice(&head[1..]);
    let mut rng = Rng::new(u64::from_le_bytes(seed));
    let whole = App::run(&config, single, wire, &mut |_| usize::MAX);
    let pieces = App::run(&config, single, wire, &mut |left| 1 + rng.below(left.min(700)));
    if single {
        assert_eq!(whole.log, pieces.log, "events differ with the split");
    }
}

/// Configuration profile `p`: defaults, or small limits that inputs reach.
fn config(p: u8) -> ClientConfig {
    match p {
        0 => ClientConfig::default(),
        1 => ClientConfig {
            max_head_size: 128,
            max_headers: 4,
            max_chunk_line: 12,
            max_body_buffer: 5,
            max_recv_buffer: 32,
            max_body_size: Some(40),
            ..ClientConfig::default()
        },
        2 => ClientConfig { max_headers: 200, max_body_buffer: 1, ..ClientConfig::default() },
        _ => ClientConfig {
            max_head_size: 40,
            max_body_buffer: 64,
            max_recv_buffer: 64,
            ..ClientConfig::default()
        },
    }
}

/// A request body still to finish: its id, chunked or not, the second half.
struct Pending {
    id: RequestId,
    rest: Bytes,
}

/// The application and what it saw.
struct App {
    conn: ClientConnection,
    now: Instant,
    single: bool,
    /// Events, body octets joined.
    log: Vec<String>,
    body: Vec<u8>,
    pending: Option<Pending>,
    /// The exchange whose response is being read.
    current: Option<RequestId>,
    errors: usize,
}

impl App {
    fn run(config: &ClientConfig, single: bool, wire: &[u8], sizes: &mut dyn FnMut(usize) -> usize) -> App {
        let now = Instant::now();
        let mut app = App {
            conn: ClientConnection::new(config.clone(), now),
            now,
            single,
            log: Vec::new(),
            body: Vec::new(),
            pending: None,
            current: None,
            errors: 0,
        };
        app.send_next();
        if single {
            app.finish_body();
        }
        let limit = config.max_recv_buffer.max(config.max_head_size).max(config.max_chunk_line);
        let mut rest = wire;
        let mut idle = 0;
        while !rest.is_empty() && idle < 2 {
            if !app.conn.wants_input() {
                idle += 1;
                app.pump();
                continue;
            }
            idle = 0;
            let n = sizes(rest.len()).min(rest.len());
            app.conn.handle_input(app.now, &rest[..n]);
            rest = &rest[n..];
            assert!(app.conn.input_buffered() <= limit + n, "input held past the limit");
            app.pump();
            app.finish_body();
            app.pump();
        }
        app.conn.handle_eof(app.now);
        app.pump();
        app.finish_body();
        app.pump();
        assert!(app.conn.is_closed(), "open after the end of input: {:?}", app.log);
        assert!(!app.conn.can_send());
        app
    }

    /// Sends the next request, half its body.
    fn send_next(&mut self) {
        let n = self.conn.requests_sent();
        if n >= MAX_REQUESTS || (self.single && n > 0) || !self.conn.can_send() {
            return;
        }
        let body: Bytes = (0..(n as u8 % 5) * 7).collect::<Vec<u8>>().into();
        let req = match n % 4 {
            0 => ClientRequest::new("GET", format!("/{n}"), "example.com"),
            1 => {
                ClientRequest::new("POST", "/len", "example.com").with_content_length(Some(body.len() as u64))
            }
            2 => ClientRequest::new("POST", "/chunked", "example.com").with_content_length(None),
            _ => ClientRequest::new("HEAD", "/", "example.com"),
        };
        let body = if req.method == "POST" { body } else { Bytes::new() };
        let id = self.conn.send_request(&req).expect("a request when can_send");
        self.current = Some(id);
        self.log.push(format!("sent {id:?}"));
        let half = body.len() / 2;
        self.conn.send_data(id, body.slice(..half)).expect("first half");
        self.pending = Some(Pending { id, rest: body.slice(half..) });
    }

    /// Sends the rest of the pending request body and ends it.
    fn finish_body(&mut self) {
        let Some(p) = self.pending.take() else { return };
        let ok = |r: Result<(), SendError>| {
            assert!(matches!(r, Ok(()) | Err(SendError::Closed)), "{r:?}");
        };
        ok(self.conn.send_data(p.id, p.rest));
        ok(self.conn.send_end(p.id));
    }

    fn pump(&mut self) {
        loop {
            let mut progressed = false;
            while let Some(event) = self.conn.poll_event() {
                progressed = true;
                assert_eq!(self.errors, 0, "an event after an error: {event:?}");
                assert!(self.conn.body_buffered() <= self.conn.config().max_body_buffer);
                self.on_event(event);
            }
            if self.conn.poll_transmit(self.now, &mut Vec::new()) > 0 {
                progressed = true;
            }
            if self.conn.can_send() && self.conn.requests_sent() < MAX_REQUESTS && !self.single {
                self.send_next();
                progressed = true;
            }
            if !progressed {
                return;
            }
        }
    }

    fn on_event(&mut self, event: ClientEvent) {
        match event {
            ClientEvent::Response(r) => {
                assert_eq!(Some(r.id), self.current, "a response to another request");
                assert!((200..=599).contains(&r.status));
                if r.body == ResponseBody::UntilClose {
                    assert!(!r.keep_alive);
                }
                self.log.push(format!("response {:?} {} {:?} {}", r.id, r.status, r.body, r.keep_alive));
                self.body.clear();
            }
            ClientEvent::Data { id, data } => {
                assert_eq!(Some(id), self.current);
                assert!(!data.is_empty());
                self.body.extend_from_slice(&data);
            }
            ClientEvent::End { id, trailers } => {
                assert_eq!(Some(id), self.current);
                self.log.push(format!("body {:?}", self.body));
                self.log.push(format!("end {id:?} {} trailers", trailers.len()));
            }
            ClientEvent::Error(e) => {
                self.errors += 1;
                self.log.push(format!("error {e:?}"));
                assert!(self.conn.is_closed() || self.conn.send_buffered() == 0);
                assert!(!self.conn.wants_input());
            }
        }
    }
}
