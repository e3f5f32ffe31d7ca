//! `http1_server`: an HTTP/1.1 [`ServerConnection`] fed arbitrary octets
//! from a client.
//!
//! Input: a mode octet (low 2 bits: configuration profile; bit 2: the
//! application answers before the request body ended), an 8-octet seed
//! (chunk sizes), then the octets the client sends.
//!
//! The application is deterministic (it depends on events only): it answers
//! every request with an echo of its body, with a `Content-Length` or
//! chunked with a trailer by turns, or refuses with 413 at once.
//!
//! Checks: the same events and output whether the input comes whole or in
//! random pieces (the driver reading only while `wants_input`); body events
//! never above `max_body_buffer` and unprocessed input never above
//! `max_recv_buffer` plus one read; at most one `Error` event, the last;
//! the output is a well-formed sequence of HTTP/1.1 responses (parsed back
//! with `httparse`, bodies framed as announced), one per request answered,
//! plus the refusal's when there is one; after the end of input the
//! connection is closed.

use std::collections::VecDeque;
use std::time::Instant;

use bytes::Bytes;
use weir_core::http1::{Config, Event, Field, RequestId, ResponseHead, SendError, ServerConnection};
use weir_core::sim::Rng;

/// Runs one input.
pub fn run(data: &[u8]) {
    let Some((head, wire)) = data.split_first_chunk::<9>() else {
        return;
    };
    let config = config(head[0] & 3);
    let early = head[0] & 4 != 0;
    let mut seed = [0u8; 8];
    seed.copy_from_slice(&head[1..]);
    let mut rng = Rng::new(u64::from_le_bytes(seed));
    let whole = App::run(&config, early, wire, &mut |_| usize::MAX);
    let pieces = App::run(&config, early, wire, &mut |left| 1 + rng.below(left.min(700)));
    assert_eq!(whole.log, pieces.log, "events differ with the split");
    assert_eq!(whole.out, pieces.out, "output differs with the split");
    check_output(&pieces);
}

/// Configuration profile `p`: defaults, or small limits that inputs reach.
fn config(p: u8) -> Config {
    match p {
        0 => Config::default(),
        1 => Config {
            max_head_size: 128,
            max_headers: 4,
            max_chunk_line: 12,
            max_body_buffer: 5,
            max_recv_buffer: 256,
            max_body_size: Some(40),
            ..Config::default()
        },
        2 => Config { max_headers: 200, max_body_buffer: 1, ..Config::default() },
        _ => Config { max_head_size: 40, max_body_buffer: 64, max_recv_buffer: 64, ..Config::default() },
    }
}

/// The application and what it saw and wrote.
struct App {
    conn: ServerConnection,
    now: Instant,
    early: bool,
    /// Events, body octets joined.
    log: Vec<String>,
    out: Vec<u8>,
    body: Vec<u8>,
    head_method: bool,
    /// Per response the application started: true when it has no body
    /// (answer to HEAD).
    responses: VecDeque<bool>,
    errors: usize,
}

impl App {
    fn run(config: &Config, early: bool, wire: &[u8], sizes: &mut dyn FnMut(usize) -> usize) -> App {
        let now = Instant::now();
        let mut app = App {
            conn: ServerConnection::new(config.clone(), now),
            now,
            early,
            log: Vec::new(),
            out: Vec::new(),
            body: Vec::new(),
            head_method: false,
            responses: VecDeque::new(),
            errors: 0,
        };
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
            assert!(app.conn.input_buffered() <= config.max_recv_buffer + n, "input held past the limit");
            app.pump();
        }
        app.conn.handle_eof(app.now);
        app.pump();
        assert!(app.conn.is_closed(), "open after the end of input: {:?}", app.log);
        app
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
            if self.conn.poll_transmit(self.now, &mut self.out) > 0 {
                progressed = true;
            }
            if !progressed {
                return;
            }
        }
    }

    fn on_event(&mut self, event: Event) {
        match event {
            Event::Request(h) => {
                self.log.push(format!("request {:?} {:?} {:?}", h.id, h.body, h.keep_alive));
                self.body.clear();
                self.head_method = h.is_head();
                if self.early && h.id.0 % 2 == 1 {
                    let head = ResponseHead::new(413).with_content_length(0);
                    self.conn.send_response(h.id, &head).expect("answer at once");
                    self.responses.push_back(true);
                    self.conn.send_end(h.id, &[]).expect("end at once");
                }
            }
            Event::Data { data, .. } => {
                assert!(!data.is_empty());
                self.body.extend_from_slice(&data);
            }
            Event::End { id, trailers } => {
                self.log.push(format!("body {:?}", self.body));
                self.log.push(format!("end {id:?} {} trailers", trailers.len()));
                if !(self.early && id.0 % 2 == 1) {
                    self.answer(id);
                }
            }
            Event::Error(e) => {
                self.errors += 1;
                self.log.push(format!("error {e:?}"));
                assert!(matches!(e.status(), 400..=599));
            }
        }
    }

    fn answer(&mut self, id: RequestId) {
        let body = Bytes::from(std::mem::take(&mut self.body));
        let chunked = id.0 % 2 == 1;
        let mut head = ResponseHead::new(200).with_header("x-request", format!("{}", id.0));
        if !chunked {
            head = head.with_content_length(body.len() as u64);
        }
        self.conn.send_response(id, &head).expect("answer");
        self.responses.push_back(self.head_method);
        if !self.head_method {
            for piece in body.chunks(7) {
                self.conn.send_data(id, Bytes::copy_from_slice(piece)).expect("data");
            }
        }
        let trailers = if chunked && !self.head_method {
            vec![Field::new("x-sum", format!("{}", body.len()))]
        } else {
            Vec::new()
        };
        let end = self.conn.send_end(id, &trailers);
        // HTTP/1.0 answers without a length end by closing: no trailers.
        assert!(matches!(end, Ok(()) | Err(SendError::TrailersNotAllowed)), "{end:?}");
        if end.is_err() {
            self.conn.send_end(id, &[]).expect("end");
        }
    }
}

/// Parses the output back as responses, framed as they say.
fn check_output(app: &App) {
    let mut out = &app.out[..];
    let mut expected = app.responses.clone();
    let mut refusals = 0;
    while !out.is_empty() {
        let mut fields = [httparse::EMPTY_HEADER; 16];
        let mut response = httparse::Response::new(&mut fields);
        let n = match response.parse(out) {
            Ok(httparse::Status::Complete(n)) => n,
            other => panic!("unparsable response head {other:?}: {:?}", String::from_utf8_lossy(out)),
        };
        let status = response.code.expect("a status");
        let field = |name: &str| {
            response.headers.iter().find(|h| h.name.eq_ignore_ascii_case(name)).map(|h| h.value.to_vec())
        };
        let length = field("content-length").map(|v| String::from_utf8(v).unwrap().parse::<usize>().unwrap());
        let chunked = field("transfer-encoding").is_some_and(|v| v == b"chunked");
        let closes = field("connection").is_some_and(|v| v == b"close");
        out = &out[n..];
        if status == 100 {
            continue;
        }
        let no_body = match expected.pop_front() {
            Some(no_body) => no_body,
            None => {
                // The connection's own refusal: last, empty, closing.
                refusals += 1;
                assert!(closes && length == Some(0), "refusal without close or length");
                let e = app.log.last().expect("an error logged");
                assert!(e.starts_with("error "), "refusal without an error event");
                true
            }
        };
        if no_body || status == 204 || status == 304 {
            continue;
        }
        if chunked {
            loop {
                let (n, size) = match httparse::parse_chunk_size(out) {
                    Ok(httparse::Status::Complete(v)) => v,
                    other => panic!("bad chunk line {other:?}"),
                };
                let size = size as usize;
                out = &out[n..];
                if size == 0 {
                    let mut t = [httparse::EMPTY_HEADER; 4];
                    match httparse::parse_headers(out, &mut t) {
                        Ok(httparse::Status::Complete((n, _))) => out = &out[n..],
                        other => panic!("bad trailers {other:?}"),
                    }
                    break;
                }
                assert_eq!(&out[size..size + 2], b"\r\n");
                out = &out[size + 2..];
            }
        } else if let Some(n) = length {
            out = &out[n..];
        } else {
            // Delimited by the close: the last response.
            assert!(closes);
            out = &[];
        }
    }
    assert!(expected.is_empty(), "{} responses missing", expected.len());
    assert!(refusals <= app.errors && app.errors <= 1, "{refusals} refusals, {} errors", app.errors);
}
