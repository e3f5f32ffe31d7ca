//! The HTTP/1.1 server connection (`weir_core::http1`) against RFC 9112:
//! malformed and smuggling-shaped requests (each its typed error and
//! status), limits at their exact boundary, pipelining and keep-alive,
//! chunked bodies, response framing, timers, and the same events whatever
//! the input's split.

use std::time::{Duration, Instant};

use bytes::Bytes;
use proptest::prelude::*;
use weir_core::http1::{
    BodyKind, Config, Detected, Event, Field, RequestError, RequestId, ResponseHead, SendError,
    ServerConnection, Version, detect,
};

// ----- harness -----------------------------------------------------------

/// What a run produced, with body octets joined (their split is not
/// significant).
#[derive(Clone, Debug, PartialEq, Eq)]
enum Seen {
    Request { method: String, target: String, version: Version, body: BodyKind, keep_alive: bool },
    Body(Vec<u8>),
    End(Vec<(String, String)>),
    Error(RequestError),
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// Drives a connection: feeds input in pieces, answers every request once it
/// ended with 200 and an echo of its body (chunked for POST, with a length
/// otherwise), writes everything out.
struct Driver {
    conn: ServerConnection,
    now: Instant,
    seen: Vec<Seen>,
    out: Vec<u8>,
    bodies: Vec<u8>,
    respond: bool,
    method: Vec<u8>,
}

impl Driver {
    fn new(config: Config) -> Self {
        let now = Instant::now();
        Driver {
            conn: ServerConnection::new(config, now),
            now,
            seen: Vec::new(),
            out: Vec::new(),
            bodies: Vec::new(),
            respond: true,
            method: Vec::new(),
        }
    }

    fn feed(&mut self, data: &[u8]) {
        self.conn.handle_input(self.now, data);
        self.pump();
    }

    fn feed_split(&mut self, data: &[u8], sizes: &mut dyn FnMut() -> usize) {
        let mut rest = data;
        while !rest.is_empty() {
            let n = sizes().clamp(1, rest.len());
            self.feed(&rest[..n]);
            rest = &rest[n..];
        }
    }

    fn eof(&mut self) {
        self.conn.handle_eof(self.now);
        self.pump();
    }

    fn pump(&mut self) {
        loop {
            let mut progressed = false;
            while let Some(event) = self.conn.poll_event() {
                progressed = true;
                self.on_event(event);
            }
            if self.conn.poll_transmit(self.now, &mut self.out) > 0 {
                progressed = true;
            }
            if !progressed {
                break;
            }
        }
        assert!(self.conn.body_buffered() <= self.conn.config().max_body_buffer);
    }

    fn on_event(&mut self, event: Event) {
        match event {
            Event::Request(h) => {
                self.bodies.clear();
                self.seen.push(Seen::Request {
                    method: text(&h.method),
                    target: text(&h.target),
                    version: h.version,
                    body: h.body,
                    keep_alive: h.keep_alive,
                });
                self.method = h.method.to_vec();
            }
            Event::Data { data, .. } => {
                self.bodies.extend_from_slice(&data);
                match self.seen.last_mut() {
                    Some(Seen::Body(b)) => b.extend_from_slice(&data),
                    _ => self.seen.push(Seen::Body(data.to_vec())),
                }
            }
            Event::End { id, trailers } => {
                self.seen.push(Seen::End(trailers.iter().map(|f| (text(&f.name), text(&f.value))).collect()));
                if self.respond {
                    self.answer(id);
                }
            }
            Event::Error(e) => self.seen.push(Seen::Error(e)),
        }
    }

    fn answer(&mut self, id: RequestId) {
        let body = Bytes::from(std::mem::take(&mut self.bodies));
        let mut head = ResponseHead::new(200).with_header("x-echo", "1");
        if self.method != b"POST" {
            head = head.with_content_length(body.len() as u64);
        }
        self.conn.send_response(id, &head).unwrap();
        if self.method != b"HEAD" {
            self.conn.send_data(id, body).unwrap();
        }
        self.conn.send_end(id, &[]).unwrap();
    }
}

fn run_whole(config: &Config, input: &[u8]) -> (Vec<Seen>, Vec<u8>, bool) {
    let mut d = Driver::new(config.clone());
    d.feed(input);
    d.eof();
    (d.seen, d.out, d.conn.is_closed())
}

fn run_split(config: &Config, input: &[u8], sizes: &mut dyn FnMut() -> usize) -> (Vec<Seen>, Vec<u8>, bool) {
    let mut d = Driver::new(config.clone());
    d.feed_split(input, sizes);
    d.eof();
    (d.seen, d.out, d.conn.is_closed())
}

/// The error a lone input ends with, and the response it got.
fn refused(config: &Config, input: &[u8]) -> (RequestError, String) {
    let (seen, out, closed) = run_whole(config, input);
    let Some(Seen::Error(e)) = seen.last() else { panic!("no error for {:?}: {seen:?}", text(input)) };
    assert!(closed, "still open after {e:?}");
    (*e, text(&out))
}

fn get(target: &str) -> String {
    format!("GET {target} HTTP/1.1\r\nHost: example.com\r\n\r\n")
}

// ----- malformed input -----------------------------------------------------

#[test]
fn malformed_requests_get_their_typed_error_and_status() {
    use RequestError::*;
    let chunked = "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n";
    let cases: Vec<(String, RequestError, &str)> = vec![
        // RFC 9112 §2.2: a bare LF as line end (recognised by some, not all).
        ("GET / HTTP/1.1\nHost: a\r\n\r\n".into(), BareLf, "§2.2 bare LF after the request line"),
        ("GET / HTTP/1.1\r\nHost: a\n\r\n".into(), BareLf, "§2.2 bare LF after a field"),
        ("\nGET / HTTP/1.1\r\nHost: a\r\n\r\n".into(), BareLf, "§2.2 bare LF before the request line"),
        // RFC 9112 §2.2: "a bare CR ... MUST be considered invalid".
        ("GET / HTTP/1.1\r\nHost: a\rX: b\r\n\r\n".into(), BareCr, "§2.2 bare CR"),
        // RFC 9112 §5.2 obs-fold; §2.2 whitespace before the first field.
        ("GET / HTTP/1.1\r\nHost: a\r\nX: a\r\n b\r\n\r\n".into(), ObsFold, "§5.2 obs-fold"),
        ("GET / HTTP/1.1\r\n\tHost: a\r\n\r\n".into(), ObsFold, "§2.2 whitespace before the first field"),
        // RFC 9112 §3: method SP request-target SP HTTP-version.
        ("GET  / HTTP/1.1\r\nHost: a\r\n\r\n".into(), MalformedRequestLine, "§3 two spaces"),
        ("GET / HTTP/1.1 \r\nHost: a\r\n\r\n".into(), MalformedRequestLine, "§3 space after version"),
        ("G(T / HTTP/1.1\r\nHost: a\r\n\r\n".into(), MalformedRequestLine, "§3 method not a token"),
        ("GET / HTTX/1.1\r\nHost: a\r\n\r\n".into(), MalformedRequestLine, "§2.3 not a version"),
        ("GET / HTTP/2.0\r\nHost: a\r\n\r\n".into(), UnsupportedVersion, "§2.3 another major version"),
        // RFC 9112 §5.1: no whitespace between field name and colon.
        ("GET / HTTP/1.1\r\nHost : a\r\n\r\n".into(), InvalidHeaderName, "§5.1 space before colon"),
        ("GET / HTTP/1.1\r\nHost: a\r\nX\"Y: b\r\n\r\n".into(), InvalidHeaderName, "§5.1 name not a token"),
        (
            "GET / HTTP/1.1\r\nHost: a\r\nX: a\x01b\r\n\r\n".into(),
            InvalidHeaderValue,
            "RFC 9110 §5.5 CTL in value",
        ),
        // RFC 9112 §3.2: exactly one valid Host in HTTP/1.1.
        ("GET / HTTP/1.1\r\n\r\n".into(), InvalidHost, "§3.2 no Host"),
        ("GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n".into(), InvalidHost, "§3.2 two Hosts"),
        ("GET / HTTP/1.1\r\nHost: a/b\r\n\r\n".into(), InvalidHost, "§3.2 invalid Host"),
        // RFC 9112 §6.3 rule 5 / RFC 9110 §8.6: Content-Length.
        (
            "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: abc\r\n\r\n".into(),
            InvalidContentLength,
            "§6.3 not a number",
        ),
        (
            "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: -1\r\n\r\n".into(),
            InvalidContentLength,
            "§6.3 negative",
        ),
        (
            "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 0x10\r\n\r\n".into(),
            InvalidContentLength,
            "§6.3 hex",
        ),
        ("POST / HTTP/1.1\r\nHost: a\r\nContent-Length:\r\n\r\n".into(), InvalidContentLength, "§6.3 empty"),
        (
            "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 99999999999999999999\r\n\r\n".into(),
            InvalidContentLength,
            "§6.3 overflow",
        ),
        (
            "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n".into(),
            ConflictingContentLength,
            "§6.3 two differing lengths",
        ),
        (
            "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5, 6\r\n\r\n".into(),
            ConflictingContentLength,
            "§6.3 a differing list",
        ),
        // RFC 9112 §6.1: "A sender MUST NOT send a Content-Length header field in
        // any message that contains a Transfer-Encoding header field" (CL.TE / TE.CL smuggling).
        (
            "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n".into(),
            ContentLengthWithTransferEncoding,
            "§6.1 CL and TE",
        ),
        (
            "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nContent-Length: 0\r\n\r\n".into(),
            ContentLengthWithTransferEncoding,
            "§6.1 TE and CL",
        ),
        // RFC 9112 §6.3 rule 4: chunked must be the final coding, applied once (§7).
        (
            "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked, gzip\r\n\r\n".into(),
            ChunkedNotLast,
            "§6.3 chunked not last",
        ),
        (
            "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip\r\n\r\n".into(),
            ChunkedNotLast,
            "§6.3 no chunked",
        ),
        (
            "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: xchunked\r\n\r\n".into(),
            ChunkedNotLast,
            "§6.3 look-alike",
        ),
        (
            "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding:\r\n\r\n".into(),
            ChunkedNotLast,
            "§6.3 empty coding list",
        ),
        (
            "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n"
                .into(),
            ChunkedNotLast,
            "§7 chunked twice",
        ),
        // RFC 9112 §6.1: an unknown coding gets 501.
        (
            "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, chunked\r\n\r\n".into(),
            UnsupportedTransferEncoding,
            "§6.1 unsupported coding",
        ),
        // RFC 9112 §6.1: Transfer-Encoding in HTTP/1.0 means faulty framing.
        (
            "POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n".into(),
            TransferEncodingInHttp10,
            "§6.1 TE in 1.0",
        ),
        // RFC 9112 §7.1: chunk-size = 1*HEXDIG, overflow guarded.
        (format!("{chunked}zz\r\n"), InvalidChunkSize, "§7.1 not hex"),
        (format!("{chunked}\r\n"), InvalidChunkSize, "§7.1 empty size"),
        (format!("{chunked}-5\r\n"), InvalidChunkSize, "§7.1 signed size"),
        (format!("{chunked}10000000000000000\r\nx"), InvalidChunkSize, "§7.1 size overflow"),
        (format!("{chunked}5\r\nhelloX\r\n0\r\n\r\n"), MissingChunkCrlf, "§7.1 data not ended by CRLF"),
        (format!("{chunked}5 x\r\nhello\r\n"), InvalidChunkExtension, "§7.1.1 no ';' before extension"),
        (format!("{chunked}5;a\x00\r\nhello\r\n"), InvalidChunkExtension, "§7.1.1 NUL in extension"),
        (format!("{chunked}5\nhello\r\n"), BareLf, "§7.1 bare LF ending a size"),
        // RFC 9112 §7.1.2: the trailer section is field lines.
        (format!("{chunked}0\r\nX: a\r\n b\r\n\r\n"), ObsFold, "§7.1.2 folded trailer"),
        (format!("{chunked}0\r\nbad trailer\r\n\r\n"), InvalidTrailers, "§7.1.2 not a field line"),
        // The client closing inside a request.
        ("GET / HTTP/1.1\r\nHost:".into(), Truncated, "end inside a head"),
        ("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nabc".into(), Truncated, "end inside a body"),
        (format!("{chunked}5\r\nhel"), Truncated, "end inside a chunk"),
        (format!("{chunked}5\r\nhello\r\n"), Truncated, "end before the last chunk"),
    ];
    let config = Config::default();
    for (input, want, why) in &cases {
        let (got, response) = refused(&config, input.as_bytes());
        assert_eq!(got, *want, "{why}: {input:?}");
        let status = format!("HTTP/1.1 {} ", want.status());
        // A refused request that did not get a response yet gets the error
        // status, and the connection closes after it.
        let answer = response.rfind("HTTP/1.1 ").map(|i| &response[i..]).unwrap_or_default();
        assert!(answer.starts_with(&status), "{why}: answered {response:?}");
        assert!(answer.contains("connection: close\r\n"), "{why}: {response:?}");
        assert!(answer.ends_with("content-length: 0\r\n\r\n"), "{why}: {response:?}");
    }
}

#[test]
fn statuses_of_the_error_classes() {
    assert_eq!(RequestError::HeadTooLarge { max: 1 }.status(), 431);
    assert_eq!(RequestError::TooManyHeaders { max: 1 }.status(), 431);
    assert_eq!(RequestError::RequestLineTooLong { max: 1 }.status(), 414);
    assert_eq!(RequestError::BodyTooLarge { max: 1 }.status(), 413);
    assert_eq!(RequestError::UnsupportedTransferEncoding.status(), 501);
    assert_eq!(RequestError::UnsupportedVersion.status(), 505);
    assert_eq!(RequestError::HeadTimeout.status(), 408);
    assert_eq!(RequestError::ContentLengthWithTransferEncoding.status(), 400);
}

#[test]
fn input_after_a_refusal_is_not_parsed() {
    // A smuggled second request behind a refused first one is never seen.
    let input = b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /admin HTTP/1.1\r\nHost: a\r\n\r\n";
    let (seen, out, closed) = run_whole(&Config::default(), input);
    assert_eq!(seen, vec![Seen::Error(RequestError::ContentLengthWithTransferEncoding)]);
    assert!(closed);
    assert_eq!(text(&out).matches("HTTP/1.1").count(), 1);
}

// ----- accepted forms ------------------------------------------------------

#[test]
fn accepted_forms_of_framing_fields() {
    let config = Config::default();
    let ok = |input: &str| {
        let (seen, _, _) = run_whole(&config, input.as_bytes());
        assert!(!seen.iter().any(|s| matches!(s, Seen::Error(_))), "{input:?}: {seen:?}");
        seen
    };
    // RFC 9110 §8.6: a repeated identical length may stand for that length.
    let seen = ok("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3, 3\r\nContent-Length: 3\r\n\r\nabc");
    assert_eq!(seen[1], Seen::Body(b"abc".to_vec()));
    // Codings are case-insensitive; empty list elements are ignored (RFC 9110 §5.6.1).
    let seen = ok("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: , CHUNKED\r\n\r\n3\r\nabc\r\n0\r\n\r\n");
    assert_eq!(seen[1], Seen::Body(b"abc".to_vec()));
    // RFC 9112 §2.2: empty lines before a request line are ignored.
    let seen = ok(&format!("\r\n\r\n{}", get("/")));
    assert!(matches!(&seen[0], Seen::Request { target, .. } if target == "/"));
    // HTTP/1.0 needs no Host; an empty Host is allowed (RFC 9112 §3.2).
    ok("GET / HTTP/1.0\r\n\r\n");
    ok("OPTIONS * HTTP/1.1\r\nHost:\r\n\r\n");
    // Request-target forms (RFC 9112 §3.2).
    ok("GET http://example.com/x?y HTTP/1.1\r\nHost: example.com\r\n\r\n");
    ok("CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n");
}

#[test]
fn head_fields_are_zero_copy_and_trimmed() {
    let mut d = Driver::new(Config::default());
    d.respond = false;
    d.conn.handle_input(
        d.now,
        b"PUT /p?q=1 HTTP/1.1\r\nHost: h\r\nX-Tab:\t v \t\r\nEmpty:\r\nConnection: close\r\n\r\n",
    );
    let Some(Event::Request(head)) = d.conn.poll_event() else { panic!("no request") };
    assert_eq!(&head.method[..], b"PUT");
    assert_eq!(&head.target[..], b"/p?q=1");
    assert_eq!(head.version, Version::Http11);
    assert_eq!(head.header("x-tab").map(|v| &v[..]), Some(&b"v"[..]));
    assert_eq!(head.header("EMPTY").map(|v| &v[..]), Some(&b""[..]));
    assert_eq!(head.headers_named("host").count(), 1);
    assert!(!head.keep_alive);
    assert_eq!(head.body, BodyKind::Empty);
    assert_eq!(head.id, RequestId(0));
}

// ----- limits at their boundary ----------------------------------------------

/// A request head of exactly `len` octets.
fn head_of_len(len: usize) -> String {
    let base = "GET / HTTP/1.1\r\nHost: a\r\nX: \r\n\r\n".len();
    format!("GET / HTTP/1.1\r\nHost: a\r\nX: {}\r\n\r\n", "v".repeat(len - base))
}

#[test]
fn head_size_limit_is_exact() {
    let config = Config { max_head_size: 200, ..Config::default() };
    let fits = head_of_len(200);
    let (seen, _, _) = run_whole(&config, fits.as_bytes());
    assert!(matches!(seen[0], Seen::Request { .. }), "{seen:?}");
    let (e, out) = refused(&config, head_of_len(201).as_bytes());
    assert_eq!(e, RequestError::HeadTooLarge { max: 200 });
    assert!(out.starts_with("HTTP/1.1 431 Request Header Fields Too Large\r\n"));
    // Split anywhere, the same answer; the connection never holds more than the limit.
    for cut in [1, 100, 199, 200] {
        let mut d = Driver::new(config.clone());
        d.feed(&head_of_len(201).as_bytes()[..cut]);
        assert!(d.conn.input_buffered() <= 200);
        d.feed(&head_of_len(201).as_bytes()[cut..]);
        assert_eq!(d.seen, vec![Seen::Error(RequestError::HeadTooLarge { max: 200 })]);
    }
    // Blank lines before the request line count toward the limit.
    let (e, _) = refused(&config, format!("\r\n{fits}").as_bytes());
    assert_eq!(e, RequestError::HeadTooLarge { max: 200 });
    // A request line that alone passes the limit: 414.
    let (e, out) = refused(&config, format!("GET /{} HTTP/1.1\r\n", "a".repeat(300)).as_bytes());
    assert_eq!(e, RequestError::RequestLineTooLong { max: 200 });
    assert!(out.starts_with("HTTP/1.1 414 URI Too Long\r\n"));
}

#[test]
fn header_count_limit_is_exact() {
    let config = Config { max_headers: 10, ..Config::default() };
    let head = |n: usize| {
        let mut s = String::from("GET / HTTP/1.1\r\nHost: a\r\n");
        for i in 1..n {
            s.push_str(&format!("X-{i}: v\r\n"));
        }
        s + "\r\n"
    };
    let (seen, _, _) = run_whole(&config, head(10).as_bytes());
    assert!(matches!(seen[0], Seen::Request { .. }), "{seen:?}");
    let (e, out) = refused(&config, head(11).as_bytes());
    assert_eq!(e, RequestError::TooManyHeaders { max: 10 });
    assert!(out.starts_with("HTTP/1.1 431 "));
    // More than the stack array holds.
    let config = Config { max_headers: 300, ..Config::default() };
    let (seen, _, _) = run_whole(&config, head(300).as_bytes());
    assert!(matches!(seen[0], Seen::Request { .. }), "{seen:?}");
    assert_eq!(refused(&config, head(301).as_bytes()).0, RequestError::TooManyHeaders { max: 300 });
}

#[test]
fn chunk_line_limit_is_exact() {
    let config = Config { max_chunk_line: 16, ..Config::default() };
    let prefix = "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n";
    // "1;" + 12 octets + CRLF = 16.
    let fits = format!("{prefix}1;{}\r\nx\r\n0\r\n\r\n", "e".repeat(12));
    let (seen, _, _) = run_whole(&config, fits.as_bytes());
    assert_eq!(seen[1], Seen::Body(b"x".to_vec()), "{seen:?}");
    let over = format!("{prefix}1;{}\r\nx\r\n0\r\n\r\n", "e".repeat(13));
    assert_eq!(refused(&config, over.as_bytes()).0, RequestError::ChunkLineTooLong { max: 16 });
}

#[test]
fn body_size_limit_is_exact() {
    let config = Config { max_body_size: Some(10), ..Config::default() };
    let cl = |n: usize| format!("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: {n}\r\n\r\n{}", "b".repeat(n));
    let (seen, _, _) = run_whole(&config, cl(10).as_bytes());
    assert_eq!(seen[1], Seen::Body(vec![b'b'; 10]));
    let (e, out) = refused(&config, cl(11).as_bytes());
    assert_eq!(e, RequestError::BodyTooLarge { max: 10 });
    assert!(out.starts_with("HTTP/1.1 413 Content Too Large\r\n"));
    // Chunked: the sum of the chunks counts.
    let chunked = |a: usize, b: usize| {
        format!(
            "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n{a:x}\r\n{}\r\n{b:x}\r\n{}\r\n0\r\n\r\n",
            "c".repeat(a),
            "c".repeat(b)
        )
    };
    let (seen, _, _) = run_whole(&config, chunked(6, 4).as_bytes());
    assert_eq!(seen[1], Seen::Body(vec![b'c'; 10]));
    assert_eq!(refused(&config, chunked(6, 5).as_bytes()).0, RequestError::BodyTooLarge { max: 10 });
}

#[test]
fn trailer_section_limit_is_exact() {
    let config = Config { max_head_size: 64, ..Config::default() };
    let prefix = "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n";
    let section = |len: usize| format!("X: {}\r\n\r\n", "t".repeat(len - 7));
    let (seen, _, _) = run_whole(&config, format!("{prefix}{}", section(64)).as_bytes());
    assert_eq!(seen[1], Seen::End(vec![("X".into(), "t".repeat(57))]), "{seen:?}");
    let (e, out) = refused(&config, format!("{prefix}{}", section(65)).as_bytes());
    assert_eq!(e, RequestError::TrailersTooLarge { max: 64 });
    assert!(out.starts_with("HTTP/1.1 431 "));
}

#[test]
fn body_events_are_bounded_until_polled() {
    let config = Config { max_body_buffer: 10, max_recv_buffer: 64, ..Config::default() };
    let now = Instant::now();
    let mut conn = ServerConnection::new(config, now);
    conn.handle_input(now, b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 100\r\n\r\n");
    conn.handle_input(now, &[b'z'; 60]);
    // Nothing polled: the request head and 10 body octets are queued, the rest waits.
    assert_eq!(conn.body_buffered(), 10);
    assert_eq!(conn.input_buffered(), 50);
    assert!(conn.wants_input());
    conn.handle_input(now, &[b'z'; 14]);
    assert_eq!(conn.input_buffered(), 64);
    assert!(!conn.wants_input(), "full input buffer");
    let mut body = 0;
    while let Some(event) = conn.poll_event() {
        if let Event::Data { data, .. } = event {
            assert!(data.len() <= 10);
            body += data.len();
        }
        assert!(conn.body_buffered() <= 10);
    }
    assert_eq!(body, 74);
    assert!(conn.wants_input());
}

// ----- pipelining and keep-alive -----------------------------------------------

#[test]
fn pipelined_requests_are_answered_in_order_one_at_a_time() {
    let now = Instant::now();
    let mut conn = ServerConnection::new(Config::default(), now);
    let three = format!("{}{}{}", get("/1"), get("/2"), get("/3"));
    conn.handle_input(now, three.as_bytes());
    let mut out = Vec::new();
    for n in 0..3u64 {
        let Some(Event::Request(head)) = conn.poll_event() else { panic!("request {n}") };
        assert_eq!(head.id, RequestId(n));
        assert_eq!(text(&head.target), format!("/{}", n + 1));
        assert_eq!(conn.poll_event(), Some(Event::End { id: RequestId(n), trailers: vec![] }));
        // The next request waits for this response.
        assert_eq!(conn.poll_event(), None);
        assert_eq!(conn.send_response(RequestId(n + 1), &ResponseHead::new(200)), Err(SendError::NotCurrent));
        let body = Bytes::from(format!("response {n}"));
        conn.send_response(head.id, &ResponseHead::new(200).with_content_length(body.len() as u64)).unwrap();
        conn.send_data(head.id, body).unwrap();
        conn.send_end(head.id, &[]).unwrap();
        conn.poll_transmit(now, &mut out);
    }
    assert_eq!(conn.requests_received(), 3);
    let out = text(&out);
    let starts: Vec<usize> =
        ["response 0", "response 1", "response 2"].iter().map(|r| out.find(r).unwrap()).collect();
    assert!(starts.windows(2).all(|w| w[0] < w[1]), "{out}");
    assert!(!out.contains("connection:"), "keep-alive by default in HTTP/1.1: {out}");
    assert!(!conn.is_closed());
}

#[test]
fn a_response_before_the_body_ends_waits_for_the_body() {
    let now = Instant::now();
    let mut conn = ServerConnection::new(Config::default(), now);
    conn.handle_input(now, b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 4\r\n\r\nab");
    let Some(Event::Request(head)) = conn.poll_event() else { panic!() };
    conn.send_response(head.id, &ResponseHead::new(413).with_content_length(0)).unwrap();
    conn.send_end(head.id, &[]).unwrap();
    conn.handle_input(now, format!("cd{}", get("/next")).as_bytes());
    let mut events = Vec::new();
    while let Some(e) = conn.poll_event() {
        events.push(e);
    }
    assert!(
        matches!(&events[..], [Event::Data { .. }, Event::Data { .. }, Event::End { .. }, Event::Request(h), Event::End { .. }] if h.id == RequestId(1)),
        "{events:?}"
    );
}

#[test]
fn persistence_follows_version_and_connection_options() {
    let cases = [
        // RFC 9112 §9.3: HTTP/1.0 persists only with keep-alive; HTTP/1.1 unless close.
        ("GET / HTTP/1.0\r\n\r\n", false, "connection: close"),
        ("GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n", true, "connection: keep-alive"),
        ("GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n", false, "connection: close"),
        ("GET / HTTP/1.1\r\nHost: a\r\nConnection: keep-alive, Upgrade\r\n\r\n", true, ""),
    ];
    for (input, keep, field) in cases {
        let mut d = Driver::new(Config::default());
        d.feed(input.as_bytes());
        let out = text(&d.out);
        assert!(matches!(d.seen[0], Seen::Request { keep_alive, .. } if keep_alive == keep), "{input:?}");
        assert_eq!(d.conn.is_closed(), !keep, "{input:?}: {out}");
        if field.is_empty() {
            assert!(!out.contains("connection:"), "{out}");
        } else {
            assert!(out.contains(&format!("{field}\r\n")), "{out}");
        }
        // A closing connection parses nothing more.
        d.feed(get("/again").as_bytes());
        assert_eq!(
            d.seen.iter().filter(|s| matches!(s, Seen::Request { .. })).count(),
            if keep { 2 } else { 1 }
        );
    }
}

#[test]
fn a_response_can_ask_to_close() {
    let now = Instant::now();
    let mut conn = ServerConnection::new(Config::default(), now);
    conn.handle_input(now, format!("{}{}", get("/1"), get("/2")).as_bytes());
    let Some(Event::Request(head)) = conn.poll_event() else { panic!() };
    conn.send_response(head.id, &ResponseHead::new(503).with_content_length(0).with_close()).unwrap();
    conn.send_end(head.id, &[]).unwrap();
    let mut out = Vec::new();
    conn.poll_transmit(now, &mut out);
    assert_eq!(
        text(&out),
        "HTTP/1.1 503 Service Unavailable\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
    );
    assert!(conn.is_closed());
    assert!(!matches!(conn.poll_event(), Some(Event::Request(_))));
}

// ----- response framing --------------------------------------------------------

fn answered(
    request: &str,
    head: ResponseHead,
    body: &[&[u8]],
    trailers: &[Field],
) -> (String, Result<(), SendError>) {
    let now = Instant::now();
    let mut conn = ServerConnection::new(Config::default(), now);
    conn.handle_input(now, request.as_bytes());
    let Some(Event::Request(req)) = conn.poll_event() else { panic!() };
    conn.send_response(req.id, &head).unwrap();
    for b in body {
        conn.send_data(req.id, Bytes::copy_from_slice(b)).unwrap();
    }
    let end = conn.send_end(req.id, trailers);
    let mut out = Vec::new();
    conn.poll_transmit(now, &mut out);
    (text(&out), end)
}

#[test]
fn responses_are_framed_by_length_or_chunks() {
    let get1 = get("/");
    let (out, _) = answered(
        &get1,
        ResponseHead::new(200).with_header("Content-Type", "text/plain").with_content_length(5),
        &[b"he", b"llo"],
        &[],
    );
    assert_eq!(out, "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\ncontent-length: 5\r\n\r\nhello");
    let trailers = [Field::new("grpc-status", "0")];
    let (out, _) = answered(&get1, ResponseHead::new(200), &[b"hello", b"", b" world!"], &trailers);
    assert_eq!(
        out,
        "HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n5\r\nhello\r\n7\r\n world!\r\n0\r\ngrpc-status: 0\r\n\r\n"
    );
    // HTTP/1.0 knows no chunks: the body ends when the connection does.
    let (out, _) =
        answered("GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", ResponseHead::new(200), &[b"abc"], &[]);
    assert_eq!(out, "HTTP/1.1 200 OK\r\nconnection: close\r\n\r\nabc");
    // HEAD, 204, 304: no body; the length describes the representation (not for 204).
    let (out, _) = answered(
        "HEAD / HTTP/1.1\r\nHost: a\r\n\r\n",
        ResponseHead::new(200).with_content_length(42),
        &[],
        &[],
    );
    assert_eq!(out, "HTTP/1.1 200 OK\r\ncontent-length: 42\r\n\r\n");
    let (out, _) = answered(&get1, ResponseHead::new(204).with_content_length(42), &[], &[]);
    assert_eq!(out, "HTTP/1.1 204 No Content\r\n\r\n");
    let (out, _) = answered(&get1, ResponseHead::new(304), &[], &[]);
    assert_eq!(out, "HTTP/1.1 304 Not Modified\r\n\r\n");
}

#[test]
fn response_commands_are_checked() {
    let now = Instant::now();
    let mut conn = ServerConnection::new(Config::default(), now);
    conn.handle_input(now, format!("HEAD / HTTP/1.1\r\nHost: a\r\n\r\n{}", get("/")).as_bytes());
    let Some(Event::Request(head)) = conn.poll_event() else { panic!() };
    let id = head.id;
    assert_eq!(conn.send_data(id, Bytes::from_static(b"x")), Err(SendError::HeadNotSent));
    assert_eq!(conn.send_end(id, &[]), Err(SendError::HeadNotSent));
    assert_eq!(conn.send_response(id, &ResponseHead::new(101)), Err(SendError::InvalidStatus));
    assert_eq!(conn.send_response(id, &ResponseHead::new(600)), Err(SendError::InvalidStatus));
    let split = ResponseHead::new(200).with_header("x", "a\r\nSet-Cookie: evil=1");
    assert_eq!(conn.send_response(id, &split), Err(SendError::InvalidField));
    let framing = ResponseHead::new(200).with_header("Transfer-Encoding", "chunked");
    assert_eq!(conn.send_response(id, &framing), Err(SendError::FramingField));
    assert_eq!(conn.send_response(RequestId(7), &ResponseHead::new(200)), Err(SendError::NotCurrent));
    conn.send_response(id, &ResponseHead::new(200)).unwrap();
    assert_eq!(conn.send_response(id, &ResponseHead::new(200)), Err(SendError::HeadAlreadySent));
    assert_eq!(conn.send_data(id, Bytes::from_static(b"x")), Err(SendError::BodyNotAllowed));
    conn.send_data(id, Bytes::new()).unwrap();
    assert_eq!(conn.send_end(id, &[Field::new("t", "v")]), Err(SendError::TrailersNotAllowed));
    conn.send_end(id, &[]).unwrap();
    assert_eq!(conn.send_end(id, &[]), Err(SendError::NotCurrent));
    // The next request: a length that the body must match.
    while let Some(e) = conn.poll_event() {
        if let Event::Request(h) = e {
            assert_eq!(h.id, RequestId(1));
        }
    }
    let id = RequestId(1);
    conn.send_response(id, &ResponseHead::new(200).with_content_length(3)).unwrap();
    assert_eq!(conn.send_data(id, Bytes::from_static(b"abcd")), Err(SendError::TooMuchData));
    conn.send_data(id, Bytes::from_static(b"ab")).unwrap();
    // Ending short: an error, and the connection closes (the client sees the cut).
    assert_eq!(conn.send_end(id, &[]), Err(SendError::TooLittleData));
    let mut out = Vec::new();
    conn.poll_transmit(now, &mut out);
    assert!(conn.is_closed());
    assert_eq!(conn.send_response(RequestId(2), &ResponseHead::new(200)), Err(SendError::Closed));
}

#[test]
fn expect_100_continue() {
    let now = Instant::now();
    let mut conn = ServerConnection::new(Config::default(), now);
    conn.handle_input(
        now,
        b"POST / HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\nContent-Length: 3\r\n\r\n",
    );
    let Some(Event::Request(head)) = conn.poll_event() else { panic!() };
    assert!(head.expects_continue);
    conn.send_continue(head.id).unwrap();
    assert_eq!(conn.send_continue(head.id), Err(SendError::ContinueNotExpected));
    let mut out = Vec::new();
    conn.poll_transmit(now, &mut out);
    assert_eq!(out, b"HTTP/1.1 100 Continue\r\n\r\n");
    conn.handle_input(now, b"abc");
    assert!(matches!(conn.poll_event(), Some(Event::Data { .. })));

    // A final answer instead of 100: the client will not send its body, so
    // the connection cannot be reused.
    let mut conn = ServerConnection::new(Config::default(), now);
    conn.handle_input(now, b"PUT / HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\nContent-Length: 3\r\n\r\n");
    let Some(Event::Request(head)) = conn.poll_event() else { panic!() };
    conn.send_response(head.id, &ResponseHead::new(417).with_content_length(0)).unwrap();
    conn.send_end(head.id, &[]).unwrap();
    let mut out = Vec::new();
    conn.poll_transmit(now, &mut out);
    assert!(text(&out).contains("connection: close\r\n"));
    assert!(conn.is_closed());
    // RFC 9110 §10.1.1: ignored in HTTP/1.0.
    let mut conn = ServerConnection::new(Config::default(), now);
    conn.handle_input(now, b"PUT / HTTP/1.0\r\nExpect: 100-continue\r\nContent-Length: 3\r\n\r\n");
    let Some(Event::Request(head)) = conn.poll_event() else { panic!() };
    assert!(!head.expects_continue);
}

// ----- end of input, reset, timers -----------------------------------------------

#[test]
fn end_of_input_between_requests_is_a_clean_close() {
    let (seen, out, closed) = run_whole(&Config::default(), get("/").as_bytes());
    assert!(!seen.iter().any(|s| matches!(s, Seen::Error(_))));
    assert!(closed);
    assert!(text(&out).starts_with("HTTP/1.1 200 OK\r\n"));
    // Pipelined requests followed by a half-close are all answered.
    let input = format!("{}{}", get("/a"), get("/b"));
    let (seen, out, closed) = run_whole(&Config::default(), input.as_bytes());
    assert_eq!(seen.iter().filter(|s| matches!(s, Seen::Request { .. })).count(), 2);
    assert_eq!(text(&out).matches("HTTP/1.1 200 OK").count(), 2);
    assert!(closed);
}

#[test]
fn a_response_in_progress_outlives_the_end_of_input() {
    let now = Instant::now();
    let mut conn = ServerConnection::new(Config::default(), now);
    conn.handle_input(now, get("/").as_bytes());
    conn.handle_eof(now);
    let Some(Event::Request(head)) = conn.poll_event() else { panic!() };
    assert!(!conn.is_closed());
    assert!(!conn.wants_input());
    conn.send_response(head.id, &ResponseHead::new(200).with_content_length(2)).unwrap();
    conn.send_data(head.id, Bytes::from_static(b"ok")).unwrap();
    conn.send_end(head.id, &[]).unwrap();
    let mut out = Vec::new();
    conn.poll_transmit(now, &mut out);
    assert!(text(&out).ends_with("\r\n\r\nok"));
    assert!(conn.is_closed());
}

#[test]
fn reset_closes_at_once() {
    let now = Instant::now();
    let mut conn = ServerConnection::new(Config::default(), now);
    conn.handle_input(now, get("/").as_bytes());
    conn.handle_reset(now);
    assert!(conn.is_closed());
    assert_eq!(conn.poll_timeout(), None);
    let mut out = Vec::new();
    assert_eq!(conn.poll_transmit(now, &mut out), 0);
}

#[test]
fn slow_heads_get_408_and_idle_connections_close() {
    let config = Config {
        head_timeout: Some(Duration::from_secs(10)),
        idle_timeout: Some(Duration::from_secs(60)),
        ..Config::default()
    };
    let t0 = Instant::now();
    let mut conn = ServerConnection::new(config.clone(), t0);
    assert_eq!(conn.poll_timeout(), Some(t0 + Duration::from_secs(60)));
    // Slowloris: the head's first octet starts the head timer.
    let t1 = t0 + Duration::from_secs(5);
    conn.handle_input(t1, b"GET / HT");
    assert_eq!(conn.poll_timeout(), Some(t1 + Duration::from_secs(10)));
    conn.handle_input(t1 + Duration::from_secs(9), b"TP/1.1\r\nHost");
    conn.handle_timeout(t1 + Duration::from_secs(10));
    assert_eq!(conn.poll_event(), Some(Event::Error(RequestError::HeadTimeout)));
    let mut out = Vec::new();
    conn.poll_transmit(t1 + Duration::from_secs(10), &mut out);
    assert!(text(&out).starts_with("HTTP/1.1 408 Request Timeout\r\n"));
    assert!(conn.is_closed());

    // Idle: nothing sent, closed without a response; the timer restarts after each exchange.
    let mut conn = ServerConnection::new(config, t0);
    conn.handle_input(t0, get("/").as_bytes());
    let Some(Event::Request(head)) = conn.poll_event() else { panic!() };
    assert_eq!(conn.poll_timeout(), None, "no timer while the application answers");
    let t2 = t0 + Duration::from_secs(100);
    conn.send_response(head.id, &ResponseHead::new(200).with_content_length(0)).unwrap();
    let mut out = Vec::new();
    conn.poll_transmit(t2, &mut out);
    conn.send_end(head.id, &[]).unwrap();
    let deadline = conn.poll_timeout().unwrap();
    assert!(deadline >= t0 + Duration::from_secs(60));
    conn.handle_timeout(deadline);
    assert!(conn.is_closed());
    out.clear();
    assert_eq!(conn.poll_transmit(deadline, &mut out), 0);
}

// ----- detection ---------------------------------------------------------------

#[test]
fn a_shared_port_tells_http2_from_http1() {
    let preface = weir_core::conn::PREFACE;
    assert_eq!(detect(&preface[..10]), Detected::NeedMore);
    assert_eq!(detect(preface), Detected::Http2);
    let request = get("/");
    assert_eq!(detect(&request.as_bytes()[..3]), Detected::NeedMore);
    assert_eq!(detect(request.as_bytes()), Detected::Http1);
    assert_eq!(detect(b"\x16\x03\x01\x00\xa5\x01"), Detected::Unknown);
    // The octets looked at go to the connection chosen, unchanged.
    let (seen, _, _) = run_whole(&Config::default(), request.as_bytes());
    assert!(matches!(seen[0], Seen::Request { .. }));
}

// ----- split equivalence -------------------------------------------------------

fn corpus() -> Vec<Vec<u8>> {
    let chunked = "POST /c HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n";
    vec![
        get("/").into_bytes(),
        format!("{}{}{}", get("/1"), get("/2"), get("/3")).into_bytes(),
        format!("\r\n{}", get("/blank")).into_bytes(),
        format!("POST /p HTTP/1.1\r\nHost: a\r\nContent-Length: 11\r\n\r\nhello world{}", get("/after")).into_bytes(),
        format!("{chunked}5;ext=1;q=\"a b\"\r\nhello\r\n1\r\n \r\n10\r\n0123456789abcdef\r\n0\r\nX-T: 1\r\nY: 2\r\n\r\n{}", get("/next"))
            .into_bytes(),
        format!("{chunked}0\r\n\r\n").into_bytes(),
        b"GET / HTTP/1.0\r\n\r\nGET /ignored HTTP/1.0\r\n\r\n".to_vec(),
        format!("{}POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n", get("/ok")).into_bytes(),
        format!("{chunked}5\r\nhelloX").into_bytes(),
        format!("{chunked}fffffffffffffffff\r\n").into_bytes(),
        b"GET / HTTP/1.1\r\nHost: a\r\nX: y\r\n z\r\n\r\n".to_vec(),
        b"GET / HTTP/1.1\nHost: a\n\n".to_vec(),
        format!("{}GET / HTTP/1.1\r\nHo", get("/")).into_bytes(),
    ]
}

#[test]
fn byte_at_a_time_gives_the_same_events_and_output() {
    let config = Config { max_body_buffer: 7, ..Config::default() };
    for input in corpus() {
        let whole = run_whole(&config, &input);
        let ones = run_split(&config, &input, &mut || 1);
        assert_eq!(ones, whole, "{:?}", text(&input));
        let mut k = 0usize;
        let threes_and_fives = run_split(&config, &input, &mut || {
            k += 1;
            if k.is_multiple_of(2) { 3 } else { 5 }
        });
        assert_eq!(threes_and_fives, whole, "{:?}", text(&input));
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    /// Every split of the corpus inputs gives the same events and output.
    #[test]
    fn any_split_gives_the_same_events(which in 0usize..13, sizes in proptest::collection::vec(1usize..40, 1..64)) {
        let config = Config { max_body_buffer: 7, ..Config::default() };
        let input = &corpus()[which];
        let whole = run_whole(&config, input);
        let mut i = 0;
        let split = run_split(&config, input, &mut || { i += 1; sizes[i % sizes.len()] });
        prop_assert_eq!(split, whole);
    }

    /// Arbitrary octets (pure noise, or corpus inputs with octets flipped,
    /// inserted and cut) never panic, and what the connection holds stays
    /// within its limits when the driver reads only while it asks for input.
    #[test]
    fn arbitrary_input_is_bounded(
        noise in proptest::collection::vec(any::<u8>(), 0..2048),
        base in 0usize..14,
        edits in proptest::collection::vec((any::<u16>(), any::<u8>(), 0u8..3), 0..16),
        sizes in proptest::collection::vec(1usize..300, 1..32),
        respond in any::<bool>(),
    ) {
        let config = Config {
            max_head_size: 256,
            max_headers: 8,
            max_chunk_line: 32,
            max_body_buffer: 64,
            max_recv_buffer: 512,
            ..Config::default()
        };
        let mut input = if base == 13 { noise } else { corpus()[base].clone() };
        for (at, b, op) in edits {
            if input.is_empty() { break; }
            let at = usize::from(at) % input.len();
            match op { 0 => input[at] = b, 1 => input.insert(at, b), _ => { input.remove(at); } }
        }
        let mut d = Driver::new(config.clone());
        d.respond = respond;
        let mut rest = &input[..];
        let mut i = 0;
        let mut max_read = 0;
        let mut stalls = 0;
        while !rest.is_empty() && stalls < 3 {
            if !d.conn.wants_input() {
                // The driver does not read; it answers and writes.
                d.pump();
                stalls += 1;
                continue;
            }
            stalls = 0;
            i += 1;
            let n = sizes[i % sizes.len()].min(rest.len());
            max_read = max_read.max(n);
            d.feed(&rest[..n]);
            rest = &rest[n..];
            prop_assert!(d.conn.body_buffered() <= config.max_body_buffer);
            prop_assert!(d.conn.input_buffered() <= config.max_recv_buffer + max_read);
            prop_assert!(d.seen.len() <= input.len() * 2 + 4);
        }
        d.eof();
        prop_assert!(d.conn.body_buffered() <= config.max_body_buffer);
        if respond {
            // Everything was answered or refused: nothing left to wait for.
            prop_assert!(d.conn.is_closed(), "{:?}", d.seen);
        }
        prop_assert!(d.seen.iter().filter(|s| matches!(s, Seen::Error(_))).count() <= 1);
    }
}
