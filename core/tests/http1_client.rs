//! The HTTP/1.1 client connection (`weir_core::http1::ClientConnection`)
//! against RFC 9112: requests serialized byte for byte, every response
//! framing (§6.3), interim responses, persistence (§9.3), malformed and
//! smuggling-shaped responses (each its typed error), limits at their exact
//! boundary, backpressure, timers, the end of input, and the same events
//! whatever the input's split.

use std::time::{Duration, Instant};

use bytes::Bytes;
use proptest::prelude::*;
use weir_core::http1::{
    ClientConfig, ClientConnection, ClientEvent, ClientRequest, Field, RequestId, ResponseBody,
    ResponseError, SendError, Version,
};

// ----- harness -----------------------------------------------------------

/// What a run produced, with body octets joined (their split is not
/// significant).
#[derive(Clone, Debug, PartialEq, Eq)]
enum Seen {
    Response { status: u16, version: Version, body: ResponseBody, keep_alive: bool },
    Body(Vec<u8>),
    End(Vec<(String, String)>),
    Error(ResponseError),
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

struct Client {
    conn: ClientConnection,
    now: Instant,
    seen: Vec<Seen>,
    out: Vec<u8>,
}

impl Client {
    fn new(config: ClientConfig) -> Self {
        let now = Instant::now();
        Client { conn: ClientConnection::new(config, now), now, seen: Vec::new(), out: Vec::new() }
    }

    /// Sends `req` with `body` (in one piece) and ends it.
    fn request(&mut self, req: &ClientRequest, body: &[u8]) -> RequestId {
        let id = self.conn.send_request(req).expect("request accepted");
        if !body.is_empty() {
            self.conn.send_data(id, Bytes::copy_from_slice(body)).expect("body accepted");
        }
        self.conn.send_end(id).expect("end accepted");
        self.pump();
        id
    }

    fn feed(&mut self, data: &[u8]) {
        self.conn.handle_input(self.now, data);
        self.pump();
    }

    fn feed_split(&mut self, data: &[u8], size: usize) {
        for piece in data.chunks(size.max(1)) {
            self.feed(piece);
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

    fn on_event(&mut self, event: ClientEvent) {
        match event {
            ClientEvent::Response(r) => self.seen.push(Seen::Response {
                status: r.status,
                version: r.version,
                body: r.body,
                keep_alive: r.keep_alive,
            }),
            ClientEvent::Data { data, .. } => {
                assert!(!data.is_empty(), "empty Data event");
                match self.seen.last_mut() {
                    Some(Seen::Body(b)) => b.extend_from_slice(&data),
                    _ => self.seen.push(Seen::Body(data.to_vec())),
                }
            }
            ClientEvent::End { trailers, .. } => {
                self.seen.push(Seen::End(trailers.iter().map(|f| (text(&f.name), text(&f.value))).collect()))
            }
            ClientEvent::Error(e) => self.seen.push(Seen::Error(e)),
        }
    }
}

fn get() -> ClientRequest {
    ClientRequest::new("GET", "/", "example.com")
}

/// One exchange: `req` sent, `response` received in pieces of `split`
/// octets, then (if `eof`) the end of input.
fn run(
    config: &ClientConfig,
    req: &ClientRequest,
    response: &[u8],
    split: usize,
    eof: bool,
) -> (Vec<Seen>, Client) {
    let mut c = Client::new(config.clone());
    c.request(req, &[]);
    c.feed_split(response, split);
    if eof {
        c.eof();
    }
    (std::mem::take(&mut c.seen), c)
}

/// The error a lone response ends with.
fn refused(config: &ClientConfig, response: &[u8]) -> ResponseError {
    let (seen, c) = run(config, &get(), response, usize::MAX, true);
    let Some(Seen::Error(e)) = seen.last() else { panic!("no error for {:?}: {seen:?}", text(response)) };
    assert!(c.conn.is_closed(), "still open after {e:?}");
    assert_eq!(c.conn.error(), Some(*e));
    *e
}

fn ok_response(status: u16, version: Version, body: ResponseBody, keep_alive: bool) -> Seen {
    Seen::Response { status, version, body, keep_alive }
}

// ----- requests ------------------------------------------------------------

#[test]
fn requests_are_serialized_byte_for_byte() {
    // RFC 9112 §3 request line, §3.2 Host first, §6.2 Content-Length.
    let mut c = Client::new(ClientConfig::default());
    let req = ClientRequest::new("POST", "/helloworld.Greeter/SayHello", "localhost:8080")
        .with_header("content-type", "application/grpc-web+proto")
        .with_header("x-grpc-web", "1")
        .with_content_length(Some(5));
    c.request(&req, b"hello");
    assert_eq!(
        text(&c.out),
        "POST /helloworld.Greeter/SayHello HTTP/1.1\r\nhost: localhost:8080\r\n\
         content-type: application/grpc-web+proto\r\nx-grpc-web: 1\r\ncontent-length: 5\r\n\r\nhello"
    );

    // RFC 9112 §7.1: chunked when the length is unknown; the last chunk and
    // an empty trailer section end it. §9.6: Connection: close.
    let mut c = Client::new(ClientConfig::default());
    let req = ClientRequest::new("PUT", "/up?x=1", "a.example").with_content_length(None).with_close();
    let id = c.conn.send_request(&req).unwrap();
    c.conn.send_data(id, Bytes::from_static(b"hello")).unwrap();
    c.conn.send_data(id, Bytes::new()).unwrap();
    c.conn.send_data(id, Bytes::from(vec![b'x'; 26])).unwrap();
    c.conn.send_end(id).unwrap();
    c.pump();
    assert_eq!(
        text(&c.out),
        format!(
            "PUT /up?x=1 HTTP/1.1\r\nhost: a.example\r\ntransfer-encoding: chunked\r\nconnection: close\r\n\r\n\
             5\r\nhello\r\n1a\r\n{}\r\n0\r\n\r\n",
            "x".repeat(26)
        )
    );

    // RFC 9110 §8.6: no Content-Length for a GET or HEAD without content;
    // a POST without content says 0.
    let mut c = Client::new(ClientConfig::default());
    c.request(&get(), b"");
    assert_eq!(text(&c.out), "GET / HTTP/1.1\r\nhost: example.com\r\n\r\n");
    let mut c = Client::new(ClientConfig::default());
    c.request(&ClientRequest::new("POST", "/", "h"), b"");
    assert_eq!(text(&c.out), "POST / HTTP/1.1\r\nhost: h\r\ncontent-length: 0\r\n\r\n");
}

#[test]
fn request_commands_are_checked() {
    let mut c = Client::new(ClientConfig::default());
    let bad_line = [
        ClientRequest::new("G T", "/", "h"),
        ClientRequest::new("", "/", "h"),
        ClientRequest::new("CONNECT", "h:443", "h"),
        ClientRequest::new("GET", "", "h"),
        ClientRequest::new("GET", "/a b", "h"),
        ClientRequest::new("GET", "/\r\nX: y", "h"),
    ];
    for req in &bad_line {
        assert_eq!(c.conn.send_request(req), Err(SendError::InvalidRequestLine), "{req:?}");
    }
    assert_eq!(c.conn.send_request(&ClientRequest::new("GET", "/", "")), Err(SendError::InvalidField));
    assert_eq!(c.conn.send_request(&ClientRequest::new("GET", "/", "a b")), Err(SendError::InvalidField));
    assert_eq!(c.conn.send_request(&get().with_header("x", "a\r\nb: c")), Err(SendError::InvalidField));
    for name in ["Host", "content-length", "Transfer-Encoding", "connection"] {
        assert_eq!(
            c.conn.send_request(&get().with_header(name, "1")),
            Err(SendError::FramingField),
            "{name}"
        );
    }
    assert_eq!(c.conn.send_buffered(), 0, "nothing queued by refused requests");

    let req = ClientRequest::new("POST", "/", "h").with_content_length(Some(3));
    let id = c.conn.send_request(&req).unwrap();
    // One exchange at a time: no pipelining.
    assert!(!c.conn.can_send());
    assert_eq!(c.conn.send_request(&get()), Err(SendError::Busy));
    assert_eq!(c.conn.send_data(RequestId(7), Bytes::from_static(b"a")), Err(SendError::NotCurrent));
    assert_eq!(c.conn.send_data(id, Bytes::from_static(b"abcd")), Err(SendError::TooMuchData));
    c.conn.send_data(id, Bytes::from_static(b"ab")).unwrap();
    // Short of the Content-Length: the request ends, the connection will
    // not be reused.
    assert_eq!(c.conn.send_end(id), Err(SendError::TooLittleData));
    assert_eq!(c.conn.send_end(id), Err(SendError::NotCurrent));
    c.pump();
    c.feed(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n");
    assert!(c.conn.is_closed());
    assert_eq!(c.conn.send_request(&get()), Err(SendError::Closed));
    assert_eq!(c.conn.send_data(id, Bytes::from_static(b"a")), Err(SendError::Closed));
}

// ----- response framing ----------------------------------------------------

/// What a case is about (its RFC section), the request, the response
/// octets, end of input after them, what is seen, and whether the
/// connection is reusable after.
type FramingCase = (&'static str, ClientRequest, &'static [u8], bool, Vec<Seen>, bool);

fn framing_cases() -> Vec<FramingCase> {
    use ResponseBody::*;
    use Version::*;
    let end = || Seen::End(Vec::new());
    vec![
        (
            "§6.3 rule 6: Content-Length",
            get(),
            b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello",
            false,
            vec![ok_response(200, Http11, Length(5), true), Seen::Body(b"hello".to_vec()), end()],
            true,
        ),
        (
            "§6.3 rule 4 / §7.1: chunked with extensions and trailers",
            get(),
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5;a=b\r\nhello\r\n6 ; q=\"x y\"\r\n world\r\n0\r\ngrpc-status: 0\r\ngrpc-message: ok\r\n\r\n",
            false,
            vec![
                ok_response(200, Http11, Chunked, true),
                Seen::Body(b"hello world".to_vec()),
                Seen::End(vec![("grpc-status".into(), "0".into()), ("grpc-message".into(), "ok".into())]),
            ],
            true,
        ),
        (
            "§6.3 rule 1: a response to HEAD has no body, whatever its Content-Length",
            ClientRequest::new("HEAD", "/", "h"),
            b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n",
            false,
            vec![ok_response(200, Http11, Empty, true), end()],
            true,
        ),
        (
            "§6.3 rule 1: a response to HEAD, chunked",
            ClientRequest::new("HEAD", "/", "h"),
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n",
            false,
            vec![ok_response(200, Http11, Empty, true), end()],
            true,
        ),
        (
            "§6.3 rule 1: 204 has no body",
            get(),
            b"HTTP/1.1 204 No Content\r\n\r\n",
            false,
            vec![ok_response(204, Http11, Empty, true), end()],
            true,
        ),
        (
            "§6.3 rule 1: 304 has no body",
            get(),
            b"HTTP/1.1 304 Not Modified\r\nContent-Length: 42\r\n\r\n",
            false,
            vec![ok_response(304, Http11, Empty, true), end()],
            true,
        ),
        (
            "§6.3 rule 6: Content-Length 0, no reason phrase",
            get(),
            b"HTTP/1.1 200 \r\nContent-Length: 0\r\n\r\n",
            false,
            vec![ok_response(200, Http11, Empty, true), end()],
            true,
        ),
        (
            "§6.3 rule 8: until the close",
            get(),
            b"HTTP/1.1 200 OK\r\n\r\nall of it",
            true,
            vec![ok_response(200, Http11, UntilClose, false), Seen::Body(b"all of it".to_vec()), end()],
            false,
        ),
        (
            "§6.3 rule 8: until the close, HTTP/1.0",
            get(),
            b"HTTP/1.0 200 OK\r\n\r\nold",
            true,
            vec![ok_response(200, Http10, UntilClose, false), Seen::Body(b"old".to_vec()), end()],
            false,
        ),
        (
            "§6.3 rule 8: until the close, empty",
            get(),
            b"HTTP/1.1 500 Oops\r\n\r\n",
            true,
            vec![ok_response(500, Http11, UntilClose, false), end()],
            false,
        ),
        (
            "§9.3: HTTP/1.0 with keep-alive persists",
            get(),
            b"HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 2\r\n\r\nok",
            false,
            vec![ok_response(200, Http10, Length(2), true), Seen::Body(b"ok".to_vec()), end()],
            true,
        ),
        (
            "§9.3: HTTP/1.0 without keep-alive closes",
            get(),
            b"HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok",
            false,
            vec![ok_response(200, Http10, Length(2), false), Seen::Body(b"ok".to_vec()), end()],
            false,
        ),
        (
            "§9.6: Connection: close closes",
            get(),
            b"HTTP/1.1 200 OK\r\nConnection: keep-alive, Close\r\nContent-Length: 2\r\n\r\nok",
            false,
            vec![ok_response(200, Http11, Length(2), false), Seen::Body(b"ok".to_vec()), end()],
            false,
        ),
        (
            "§9.6: the request's Connection: close closes",
            get().with_close(),
            b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok",
            false,
            vec![ok_response(200, Http11, Length(2), false), Seen::Body(b"ok".to_vec()), end()],
            false,
        ),
        (
            "RFC 9110 §15.2: interim 100 and 103 are skipped",
            get(),
            b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </s.css>\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nx",
            false,
            vec![ok_response(200, Http11, Length(1), true), Seen::Body(b"x".to_vec()), end()],
            true,
        ),
        (
            "RFC 9110 §8.6: a list of one repeated Content-Length",
            get(),
            b"HTTP/1.1 200 OK\r\nContent-Length: 3, 3\r\nContent-Length: 3\r\n\r\nabc",
            false,
            vec![ok_response(200, Http11, Length(3), true), Seen::Body(b"abc".to_vec()), end()],
            true,
        ),
    ]
}

#[test]
fn every_response_framing() {
    for (what, req, response, eof, expected, reusable) in framing_cases() {
        let (seen, c) = run(&ClientConfig::default(), &req, response, usize::MAX, eof);
        assert_eq!(seen, expected, "{what}");
        assert_eq!(c.conn.can_send(), reusable, "{what}: can_send");
        assert_eq!(c.conn.is_idle(), reusable, "{what}: is_idle");
        assert_eq!(c.conn.is_closed(), !reusable, "{what}: is_closed");
        assert_eq!(c.conn.input_buffered(), 0, "{what}");
    }
}

#[test]
fn responses_split_at_every_offset_give_the_same_events() {
    for (what, req, response, eof, expected, reusable) in framing_cases() {
        for split in 1..=response.len() {
            let (seen, c) = run(&ClientConfig::default(), &req, response, split, eof);
            assert_eq!(seen, expected, "{what}, pieces of {split}");
            assert_eq!(c.conn.is_closed(), !reusable, "{what}, pieces of {split}");
        }
        // Cut in two at every offset.
        for cut in 0..=response.len() {
            let mut c = Client::new(ClientConfig::default());
            c.request(&req, b"");
            c.feed(&response[..cut]);
            c.feed(&response[cut..]);
            if eof {
                c.eof();
            }
            assert_eq!(c.seen, expected, "{what}, cut at {cut}");
        }
    }
}

#[test]
fn response_heads_are_zero_copy_and_complete() {
    let mut c = Client::new(ClientConfig::default());
    c.request(&get(), b"");
    let raw = Bytes::from_static(
        b"HTTP/1.1 404 Not Found\r\nX-A:  padded \t\r\nx-a: 2\r\nContent-Length: 0\r\n\r\n",
    );
    c.conn.input_buffer().extend_from_slice(&raw);
    c.conn.process_input(c.now);
    let Some(ClientEvent::Response(r)) = c.conn.poll_event() else { panic!("no response") };
    assert_eq!(
        (r.id, r.status, &r.reason[..], r.version),
        (RequestId(0), 404, &b"Not Found"[..], Version::Http11)
    );
    assert_eq!(r.header("x-a").map(|v| &v[..]), Some(&b"padded"[..]));
    assert_eq!(r.headers_named("X-A").count(), 2);
    assert_eq!(&r.headers[0].name[..], b"X-A");
    assert_eq!(c.conn.poll_event(), Some(ClientEvent::End { id: RequestId(0), trailers: Vec::new() }));
}

// ----- persistence -----------------------------------------------------------

#[test]
fn keep_alive_reuses_the_connection_for_two_exchanges() {
    // RFC 9112 §9.3: HTTP/1.1 persists unless `close`.
    let mut c = Client::new(ClientConfig::default());
    assert!(c.conn.can_send() && c.conn.is_idle());
    let first = c.request(&ClientRequest::new("POST", "/a", "h").with_content_length(Some(2)), b"hi");
    assert!(!c.conn.can_send());
    c.feed(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nyo\r\n0\r\n\r\n");
    assert!(c.conn.can_send() && c.conn.is_idle() && !c.conn.is_closed());
    let second = c.request(&ClientRequest::new("GET", "/b", "h"), b"");
    assert_eq!((first, second), (RequestId(0), RequestId(1)));
    c.feed(b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\nConnection: close\r\n\r\nbye");
    assert_eq!(
        c.seen,
        vec![
            ok_response(200, Version::Http11, ResponseBody::Chunked, true),
            Seen::Body(b"yo".to_vec()),
            Seen::End(Vec::new()),
            ok_response(200, Version::Http11, ResponseBody::Length(3), false),
            Seen::Body(b"bye".to_vec()),
            Seen::End(Vec::new()),
        ]
    );
    assert_eq!(
        text(&c.out),
        "POST /a HTTP/1.1\r\nhost: h\r\ncontent-length: 2\r\n\r\nhiGET /b HTTP/1.1\r\nhost: h\r\n\r\n"
    );
    assert!(c.conn.is_closed() && !c.conn.can_send());
    assert_eq!(c.conn.send_request(&get()), Err(SendError::Closed));
    assert_eq!((c.conn.requests_sent(), c.conn.responses_received()), (2, 2));
}

#[test]
fn a_response_before_the_request_ends_waits_for_the_request() {
    let mut c = Client::new(ClientConfig::default());
    let id = c.conn.send_request(&ClientRequest::new("POST", "/", "h").with_content_length(None)).unwrap();
    c.conn.send_data(id, Bytes::from_static(b"part")).unwrap();
    c.pump();
    c.feed(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
    assert_eq!(c.seen.last(), Some(&Seen::End(Vec::new())));
    assert!(!c.conn.can_send(), "the request is still going");
    // Nothing more is expected from the server meanwhile.
    c.conn.send_data(id, Bytes::from_static(b"more")).unwrap();
    c.conn.send_end(id).unwrap();
    c.pump();
    assert!(c.conn.can_send());
    assert!(text(&c.out).ends_with("4\r\npart\r\n4\r\nmore\r\n0\r\n\r\n"));

    // An early response that closes ends the exchange at once.
    let mut c = Client::new(ClientConfig::default());
    let id =
        c.conn.send_request(&ClientRequest::new("POST", "/", "h").with_content_length(Some(10))).unwrap();
    c.pump();
    c.feed(b"HTTP/1.1 413 Content Too Large\r\nConnection: close\r\nContent-Length: 0\r\n\r\n");
    assert!(c.conn.is_closed());
    assert_eq!(c.conn.send_data(id, Bytes::from_static(b"x")), Err(SendError::Closed));
}

// ----- malformed responses -----------------------------------------------------

#[test]
fn malformed_responses_get_their_typed_error() {
    use ResponseError::*;
    let cases: Vec<(&[u8], ResponseError, &str)> = vec![
        // RFC 9112 §2.2: bare LF and bare CR.
        (b"HTTP/1.1 200 OK\nContent-Length: 0\r\n\r\n", BareLf, "§2.2 bare LF after the status line"),
        (b"HTTP/1.1 200 OK\r\nContent-Length: 0\n\r\n", BareLf, "§2.2 bare LF after a field"),
        (b"HTTP/1.1 200 OK\r\nX: a\rY: b\r\n\r\n", BareCr, "§2.2 bare CR"),
        // RFC 9112 §5.2: obs-fold.
        (b"HTTP/1.1 200 OK\r\nX: a\r\n b\r\nContent-Length: 0\r\n\r\n", ObsFold, "§5.2 obs-fold"),
        (b"HTTP/1.1 200 OK\r\n\tX: a\r\n\r\n", ObsFold, "§2.2 whitespace before the first field"),
        // RFC 9112 §4: status-line.
        (b"HTTP/1.1  200 OK\r\n\r\n", InvalidStatus, "§4 two spaces: no 3DIGIT after the first"),
        (b"HTTX/1.1 200 OK\r\n\r\n", MalformedStatusLine, "§2.3 not a version"),
        (b"\r\nHTTP/1.1 200 OK\r\n\r\n", MalformedStatusLine, "§4 empty line before the status line"),
        (b"HTTP/2.0 200 OK\r\n\r\n", UnsupportedVersion, "§2.3 another major version"),
        (b"HTTP/1.1 20 OK\r\n\r\n", InvalidStatus, "§4 two-digit status"),
        (b"HTTP/1.1 2000 OK\r\n\r\n", InvalidStatus, "§4 four-digit status"),
        (b"HTTP/1.1 600 Nope\r\n\r\n", InvalidStatus, "RFC 9110 §15 status over 599"),
        (b"HTTP/1.1 099 Nope\r\n\r\n", InvalidStatus, "RFC 9110 §15 status under 100"),
        (
            b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n",
            SwitchingProtocols,
            "101 not supported",
        ),
        // RFC 9112 §5.1: field names.
        (b"HTTP/1.1 200 OK\r\nX : a\r\n\r\n", InvalidHeaderName, "§5.1 space before colon"),
        (b"HTTP/1.1 200 OK\r\nX\"Y: a\r\n\r\n", InvalidHeaderName, "§5.1 name not a token"),
        (b"HTTP/1.1 200 OK\r\nX: a\x01b\r\n\r\n", InvalidHeaderValue, "RFC 9110 §5.5 CTL in value"),
        // RFC 9112 §6.3 rule 5: Content-Length.
        (b"HTTP/1.1 200 OK\r\nContent-Length: abc\r\n\r\n", InvalidContentLength, "§6.3 not a number"),
        (b"HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n", InvalidContentLength, "§6.3 negative"),
        (b"HTTP/1.1 200 OK\r\nContent-Length: +1\r\n\r\n", InvalidContentLength, "§6.3 signed"),
        (b"HTTP/1.1 200 OK\r\nContent-Length:\r\n\r\n", InvalidContentLength, "§6.3 empty"),
        (
            b"HTTP/1.1 200 OK\r\nContent-Length: 99999999999999999999\r\n\r\n",
            InvalidContentLength,
            "§6.3 overflow",
        ),
        (
            b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n",
            ConflictingContentLength,
            "§6.3 two differing lengths",
        ),
        (
            b"HTTP/1.1 200 OK\r\nContent-Length: 5, 6\r\n\r\n",
            ConflictingContentLength,
            "§6.3 a differing list",
        ),
        // RFC 9112 §6.1 / §6.3 rule 3: CL with TE (response splitting, desync).
        (
            b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n",
            ContentLengthWithTransferEncoding,
            "§6.1 CL and TE",
        ),
        (
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 0\r\n\r\n",
            ContentLengthWithTransferEncoding,
            "§6.1 TE and CL",
        ),
        (
            b"HTTP/1.1 204 No Content\r\nTransfer-Encoding: chunked\r\nContent-Length: 0\r\n\r\n",
            ContentLengthWithTransferEncoding,
            "§6.1 CL and TE, even without a body",
        ),
        // RFC 9112 §6.3 rule 4, §7: chunked last and once; no other coding.
        (
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, gzip\r\n\r\n",
            ChunkedNotLast,
            "§6.3 chunked not last",
        ),
        (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n", ChunkedNotLast, "§6.3 no chunked"),
        (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: xchunked\r\n\r\n", ChunkedNotLast, "§6.3 look-alike"),
        (
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n",
            ChunkedNotLast,
            "§7 chunked twice",
        ),
        (
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n",
            UnsupportedTransferEncoding,
            "§6.1 another coding",
        ),
        (
            b"HTTP/1.0 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n",
            TransferEncodingInHttp10,
            "§6.1 TE in HTTP/1.0",
        ),
        // RFC 9112 §7.1: chunk sizes, extensions, CRLF after data.
        (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n\r\n", InvalidChunkSize, "§7.1 empty size"),
        (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n-1\r\n", InvalidChunkSize, "§7.1 negative"),
        (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0x5\r\n", InvalidChunkSize, "§7.1 0x prefix"),
        (
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n10000000000000000\r\n",
            InvalidChunkSize,
            "§7.1 over 2^64-1",
        ),
        (
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5 5\r\n",
            InvalidChunkExtension,
            "§7.1.1 not an extension",
        ),
        (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\n", BareLf, "§7.1 bare LF after the size"),
        (
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhelloXX",
            MissingChunkCrlf,
            "§7.1 data longer than its size",
        ),
        (
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nX : y\r\n\r\n",
            InvalidTrailers,
            "§7.1.2 malformed trailer",
        ),
        (
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n y\r\n\r\n",
            ObsFold,
            "§7.1.2 folded trailer",
        ),
        // RFC 9112 §9.3: nothing after a complete response but the next one
        // asked for (a longer body than announced desynchronizes).
        (b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokEXTRA", UnexpectedData, "§9.3 more than the length"),
        (
            b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\nHTTP/1.1 200 OK\r\n\r\n",
            UnexpectedData,
            "§9.3 an unrequested second response",
        ),
    ];
    for (response, expected, what) in cases {
        assert_eq!(refused(&ClientConfig::default(), response), expected, "{what}");
        // Byte at a time: the same error.
        let (seen, c) = run(&ClientConfig::default(), &get(), response, 1, true);
        assert_eq!(seen.last(), Some(&Seen::Error(expected)), "{what}, byte at a time");
        assert!(c.conn.is_closed());
    }
}

#[test]
fn nothing_is_read_after_an_error() {
    let mut c = Client::new(ClientConfig::default());
    c.request(&get(), b"");
    c.feed(b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n");
    assert_eq!(c.seen, vec![Seen::Error(ResponseError::ConflictingContentLength)]);
    assert!(!c.conn.wants_input());
    c.feed(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
    c.eof();
    assert_eq!(c.seen.len(), 1);
    assert_eq!(c.conn.input_buffered(), 0);
    assert!(c.conn.is_closed());
    assert_eq!(c.conn.poll_timeout(), None);
}

#[test]
fn input_while_idle_is_unexpected() {
    // RFC 9112 §9.3: a response nobody asked for (a 408 on an idle
    // connection, a desynchronized peer) is never taken for the next one.
    let mut c = Client::new(ClientConfig::default());
    c.feed(b"HTTP/1.1 408 Request Timeout\r\nConnection: close\r\n\r\n");
    assert_eq!(c.seen, vec![Seen::Error(ResponseError::UnexpectedData)]);
    assert!(c.conn.is_closed());
}

// ----- end of input ------------------------------------------------------------

#[test]
fn end_of_input_cuts_short_or_closes() {
    use ResponseError::*;
    // Between exchanges: a clean close (RFC 9112 §9.6).
    let mut c = Client::new(ClientConfig::default());
    c.eof();
    assert!(c.seen.is_empty() && c.conn.is_closed());
    let (seen, c) =
        run(&ClientConfig::default(), &get(), b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nx", 1, true);
    assert_eq!(seen.last(), Some(&Seen::End(Vec::new())));
    assert!(c.conn.is_closed() && c.conn.error().is_none());

    // RFC 9112 §8: an incomplete message.
    let truncated: [(&[u8], ResponseError); 7] = [
        (b"", NoResponse),
        (b"H", Truncated),
        (b"HTTP/1.1 200 OK\r\nContent-Length: 1", Truncated),
        (b"HTTP/1.1 100 Continue\r\n\r\n", Truncated),
        (b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nabc", Truncated),
        (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n", Truncated),
        (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nX: y\r\n", Truncated),
    ];
    for (response, expected) in truncated {
        assert_eq!(refused(&ClientConfig::default(), response), expected, "{:?}", text(response));
    }

    // The response ended, the request not yet: the end of input closes.
    let mut c = Client::new(ClientConfig::default());
    let id = c.conn.send_request(&ClientRequest::new("POST", "/", "h").with_content_length(None)).unwrap();
    c.feed(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
    c.eof();
    assert!(c.conn.is_closed() && c.conn.error().is_none());
    assert_eq!(c.conn.send_end(id), Err(SendError::Closed));
}

#[test]
fn reset_closes_at_once() {
    let mut c = Client::new(ClientConfig::default());
    let id = c.conn.send_request(&ClientRequest::new("POST", "/", "h").with_content_length(None)).unwrap();
    c.conn.handle_reset(c.now);
    assert!(c.conn.is_closed() && !c.conn.wants_input());
    assert_eq!(c.conn.send_buffered(), 0);
    assert_eq!(c.conn.send_data(id, Bytes::from_static(b"x")), Err(SendError::Closed));
    assert_eq!(c.conn.send_request(&get()), Err(SendError::Closed));
    assert_eq!(c.conn.poll_timeout(), None);
}

// ----- limits ------------------------------------------------------------------

/// A response head of exactly `len` octets.
fn head_of_len(len: usize) -> String {
    let base = "HTTP/1.1 200 OK\r\nContent-Length: 0\r\nX: \r\n\r\n".len();
    format!("HTTP/1.1 200 OK\r\nContent-Length: 0\r\nX: {}\r\n\r\n", "a".repeat(len - base))
}

#[test]
fn head_size_limit_is_exact() {
    let config = ClientConfig { max_head_size: 200, ..ClientConfig::default() };
    let (seen, _) = run(&config, &get(), head_of_len(200).as_bytes(), usize::MAX, false);
    assert_eq!(seen.len(), 2, "{seen:?}");
    assert_eq!(refused(&config, head_of_len(201).as_bytes()), ResponseError::HeadTooLarge { max: 200 });
    // A status line that never ends.
    assert_eq!(refused(&config, &[b'H'; 300]), ResponseError::HeadTooLarge { max: 200 });
    // Byte at a time, the limit is reached without looking further.
    let (seen, _) = run(&config, &get(), head_of_len(201).as_bytes(), 1, false);
    assert_eq!(seen, vec![Seen::Error(ResponseError::HeadTooLarge { max: 200 })]);
    // Each interim head has the limit on its own.
    let mut many = String::new();
    for _ in 0..10 {
        many.push_str("HTTP/1.1 100 Continue\r\n\r\n");
    }
    many.push_str(&head_of_len(200));
    let (seen, _) = run(&config, &get(), many.as_bytes(), 7, false);
    assert_eq!(seen.len(), 2, "{seen:?}");
}

#[test]
fn header_count_limit_is_exact() {
    let config = ClientConfig { max_headers: 5, ..ClientConfig::default() };
    let head = |n: usize| {
        let mut s = "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n".to_string();
        for i in 1..n {
            s.push_str(&format!("X-{i}: v\r\n"));
        }
        s + "\r\n"
    };
    let (seen, _) = run(&config, &get(), head(5).as_bytes(), usize::MAX, false);
    assert_eq!(seen.len(), 2, "{seen:?}");
    assert_eq!(refused(&config, head(6).as_bytes()), ResponseError::TooManyHeaders { max: 5 });
    // Trailers too.
    let trailers = |n: usize| {
        let mut s = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n".to_string();
        for i in 0..n {
            s.push_str(&format!("T-{i}: v\r\n"));
        }
        s + "\r\n"
    };
    let (seen, _) = run(&config, &get(), trailers(5).as_bytes(), usize::MAX, false);
    assert!(matches!(seen.last(), Some(Seen::End(t)) if t.len() == 5), "{seen:?}");
    assert_eq!(refused(&config, trailers(6).as_bytes()), ResponseError::TooManyHeaders { max: 5 });
}

#[test]
fn chunk_line_limit_is_exact() {
    // RFC 9112 §7.1.1: recipients limit chunk extensions.
    let config = ClientConfig { max_chunk_line: 10, ..ClientConfig::default() };
    let te = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n";
    let ok = format!("{te}1;abcdef\r\nx\r\n0\r\n\r\n");
    let (seen, _) = run(&config, &get(), ok.as_bytes(), usize::MAX, false);
    assert_eq!(seen.last(), Some(&Seen::End(Vec::new())), "{seen:?}");
    let long = format!("{te}1;abcdefg\r\nx\r\n0\r\n\r\n");
    assert_eq!(refused(&config, long.as_bytes()), ResponseError::ChunkLineTooLong { max: 10 });
    let endless = format!("{te}1;{}", "a".repeat(100));
    let (seen, _) = run(&config, &get(), endless.as_bytes(), 1, false);
    assert_eq!(seen.last(), Some(&Seen::Error(ResponseError::ChunkLineTooLong { max: 10 })));
}

#[test]
fn body_size_limit_is_exact() {
    let config = ClientConfig { max_body_size: Some(4), ..ClientConfig::default() };
    let too_large = ResponseError::BodyTooLarge { max: 4 };
    let (seen, _) = run(&config, &get(), b"HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nabcd", 1, false);
    assert_eq!(seen.last(), Some(&Seen::End(Vec::new())));
    assert_eq!(refused(&config, b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nabcde"), too_large);
    let chunked = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n";
    let (seen, _) =
        run(&config, &get(), format!("{chunked}2\r\nab\r\n2\r\ncd\r\n0\r\n\r\n").as_bytes(), 1, false);
    assert_eq!(seen.last(), Some(&Seen::End(Vec::new())));
    assert_eq!(refused(&config, format!("{chunked}2\r\nab\r\n3\r\ncde\r\n0\r\n\r\n").as_bytes()), too_large);
    let (seen, _) = run(&config, &get(), b"HTTP/1.1 200 OK\r\n\r\nabcd", 1, true);
    assert_eq!(seen.last(), Some(&Seen::End(Vec::new())));
    assert_eq!(refused(&config, b"HTTP/1.1 200 OK\r\n\r\nabcde"), too_large);
}

#[test]
fn trailer_section_limit_is_exact() {
    let config = ClientConfig { max_head_size: 50, ..ClientConfig::default() };
    let te = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n";
    // "0\r\n" then a section of exactly 50 octets.
    let section = |len: usize| format!("X: {}\r\n\r\n", "v".repeat(len - 7));
    let (seen, _) = run(&config, &get(), format!("{te}0\r\n{}", section(50)).as_bytes(), 1, false);
    assert!(matches!(seen.last(), Some(Seen::End(t)) if t.len() == 1), "{seen:?}");
    assert_eq!(
        refused(&config, format!("{te}0\r\n{}", section(51)).as_bytes()),
        ResponseError::TrailersTooLarge { max: 50 }
    );
}

#[test]
fn body_events_are_bounded_until_polled() {
    let config = ClientConfig { max_body_buffer: 10, max_recv_buffer: 100, ..ClientConfig::default() };
    let mut conn = ClientConnection::new(config, Instant::now());
    let now = Instant::now();
    conn.send_request(&get()).unwrap();
    conn.send_end(RequestId(0)).unwrap();
    let body = vec![b'z'; 500];
    let mut wire = b"HTTP/1.1 200 OK\r\nContent-Length: 500\r\n\r\n".to_vec();
    wire.extend_from_slice(&body);
    // The driver reads only while the connection wants input.
    let mut fed = 0;
    while fed < wire.len() && conn.wants_input() {
        let n = 37.min(wire.len() - fed);
        conn.handle_input(now, &wire[fed..fed + n]);
        fed += n;
    }
    assert!(!conn.wants_input(), "backpressure");
    assert!(fed < wire.len());
    assert!(conn.input_buffered() <= 100 + 37);
    assert_eq!(conn.body_buffered(), 10);
    // Polling frees room; the rest follows.
    let mut got = Vec::new();
    let mut ended = false;
    loop {
        while let Some(event) = conn.poll_event() {
            assert!(conn.body_buffered() <= 10);
            match event {
                ClientEvent::Data { data, .. } => got.extend_from_slice(&data),
                ClientEvent::End { .. } => ended = true,
                ClientEvent::Response(_) => {}
                ClientEvent::Error(e) => panic!("{e:?}"),
            }
        }
        if fed == wire.len() {
            break;
        }
        assert!(conn.wants_input());
        let n = 37.min(wire.len() - fed);
        conn.handle_input(now, &wire[fed..fed + n]);
        fed += n;
    }
    while let Some(event) = conn.poll_event() {
        match event {
            ClientEvent::Data { data, .. } => got.extend_from_slice(&data),
            ClientEvent::End { .. } => ended = true,
            other => panic!("{other:?}"),
        }
    }
    assert!(ended);
    assert_eq!(got, body);
    assert!(conn.can_send());
}

#[test]
fn a_head_larger_than_the_receive_buffer_can_still_be_read() {
    let config = ClientConfig { max_head_size: 1000, max_recv_buffer: 16, ..ClientConfig::default() };
    let mut c = Client::new(config);
    c.request(&get(), b"");
    let head = head_of_len(900);
    for b in head.as_bytes() {
        assert!(c.conn.wants_input());
        c.feed(std::slice::from_ref(b));
    }
    assert_eq!(c.seen.len(), 2, "{:?}", c.seen);
}

// ----- timers --------------------------------------------------------------------

#[test]
fn the_response_head_timer_runs_from_the_end_of_the_request() {
    let config = ClientConfig {
        response_head_timeout: Some(Duration::from_secs(5)),
        idle_timeout: Some(Duration::from_secs(60)),
        ..ClientConfig::default()
    };
    let t0 = Instant::now();
    let mut conn = ClientConnection::new(config.clone(), t0);
    assert_eq!(conn.poll_timeout(), Some(t0 + Duration::from_secs(60)));
    let id = conn.send_request(&ClientRequest::new("POST", "/", "h").with_content_length(None)).unwrap();
    let mut out = Vec::new();
    conn.poll_transmit(t0 + Duration::from_secs(1), &mut out);
    // Sending the body: no timer (a long upload is not the server's delay).
    assert_eq!(conn.poll_timeout(), None);
    conn.send_end(id).unwrap();
    let t1 = t0 + Duration::from_secs(100);
    conn.poll_transmit(t1, &mut out);
    assert_eq!(conn.poll_timeout(), Some(t1 + Duration::from_secs(5)));
    // Interim responses do not stop it.
    conn.handle_input(t1 + Duration::from_secs(1), b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200");
    assert_eq!(conn.poll_timeout(), Some(t1 + Duration::from_secs(5)));
    conn.handle_timeout(t1 + Duration::from_secs(4));
    assert!(conn.error().is_none());
    conn.handle_timeout(t1 + Duration::from_secs(5));
    assert_eq!(conn.poll_event(), Some(ClientEvent::Error(ResponseError::HeadTimeout)));
    assert!(conn.is_closed());
    assert_eq!(conn.poll_timeout(), None);

    // The final head stops it; the body takes as long as it takes.
    let mut conn = ClientConnection::new(config, t0);
    let id = conn.send_request(&get()).unwrap();
    conn.send_end(id).unwrap();
    conn.poll_transmit(t0, &mut out);
    conn.handle_input(t0 + Duration::from_secs(1), b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n");
    assert_eq!(conn.poll_timeout(), None);
    conn.handle_timeout(t0 + Duration::from_secs(3600));
    conn.handle_input(t0 + Duration::from_secs(3601), b"ok");
    while conn.poll_event().is_some() {}
    assert!(conn.error().is_none() && conn.can_send());
}

#[test]
fn idle_connections_close_after_the_idle_timeout() {
    let config = ClientConfig { idle_timeout: Some(Duration::from_secs(90)), ..ClientConfig::default() };
    let t0 = Instant::now();
    let mut conn = ClientConnection::new(config, t0);
    conn.handle_timeout(t0 + Duration::from_secs(89));
    assert!(conn.can_send());
    // Busy: no idle timer.
    let id = conn.send_request(&get()).unwrap();
    conn.send_end(id).unwrap();
    assert_eq!(conn.poll_timeout(), None);
    let t1 = t0 + Duration::from_secs(500);
    conn.poll_transmit(t1, &mut Vec::new());
    conn.handle_input(t1, b"HTTP/1.1 204 No Content\r\n\r\n");
    while conn.poll_event().is_some() {}
    // Idle again: the timer restarts from the end of the exchange.
    assert_eq!(conn.poll_timeout(), Some(t1 + Duration::from_secs(90)));
    conn.handle_timeout(t1 + Duration::from_secs(90));
    assert!(conn.is_closed() && conn.error().is_none());
    assert_eq!(conn.send_request(&get()), Err(SendError::Closed));
}

// ----- arbitrary input -------------------------------------------------------------

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// Whatever the server sends, in whatever pieces: no panic, buffers
    /// within their limits, at most one error (the last event), and a
    /// closed connection after the end of input unless it is idle.
    #[test]
    fn arbitrary_responses_are_bounded(
        prefix in prop::sample::select(vec![
            &b""[..],
            b"HTTP/1.1 200 OK\r\n",
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n",
            b"HTTP/1.1 200 OK\r\nContent-Length: 20\r\n\r\n",
        ]),
        tail in prop::collection::vec(any::<u8>(), 0..300),
        split in 1usize..50,
    ) {
        let config = ClientConfig {
            max_head_size: 64,
            max_headers: 4,
            max_chunk_line: 8,
            max_body_buffer: 5,
            max_recv_buffer: 64,
            ..ClientConfig::default()
        };
        let mut wire = prefix.to_vec();
        wire.extend_from_slice(&tail);
        let (seen, c) = run(&config, &get(), &wire, split, true);
        let errors = seen.iter().filter(|s| matches!(s, Seen::Error(_))).count();
        prop_assert!(errors <= 1);
        if errors == 1 {
            prop_assert!(matches!(seen.last(), Some(Seen::Error(_))));
        }
        prop_assert!(c.conn.is_closed());
        prop_assert_eq!(c.conn.input_buffered(), 0);
        let (whole, _) = run(&config, &get(), &wire, usize::MAX, true);
        prop_assert_eq!(whole, seen);
    }
}

#[test]
fn fields_given_to_requests_round_trip() {
    // Field values are written as given (a server's parse would see them).
    let mut c = Client::new(ClientConfig::default());
    let req = get().with_header(Bytes::from_static(b"X-Mixed-Case"), Field::new("a", "v a l").value);
    c.request(&req, b"");
    assert!(text(&c.out).contains("\r\nX-Mixed-Case: v a l\r\n"));
}
