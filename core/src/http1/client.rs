//! The client side of an HTTP/1.1 connection: one request at a time, the
//! connection reused while both sides keep it alive.

use std::collections::VecDeque;
use std::time::Instant;

use bytes::{Bytes, BytesMut};

use super::body::{Body, Step, body_sink, read_body};
use super::head::{ParsedResponse, SectionScanner, is_host_char, is_token, parse_response};
use super::response::{check_fields, put_field};
use super::{ClientConfig, Field, RequestId, ResponseError, SendError, Version};
use crate::conn::TransmitBuf;

/// A request as the application gives it to
/// [`ClientConnection::send_request`]. It goes out as HTTP/1.1.
///
/// The connection writes the framing fields itself: `Host` from
/// [`ClientRequest::host`] (first, as RFC 9112 §3.2 asks), `Content-Length`
/// or `Transfer-Encoding: chunked` from [`ClientRequest::content_length`],
/// `Connection: close` from [`ClientRequest::close`]. Giving any of them in
/// [`ClientRequest::headers`] is [`SendError::FramingField`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClientRequest {
    /// The method token (`GET`, `POST`, ...). `CONNECT` is not supported.
    pub method: Bytes,
    /// The request target, usually origin-form (`/path?query`); visible
    /// ASCII only.
    pub target: Bytes,
    /// The `Host` value: `host[:port]` of the target URI (RFC 9112 §3.2).
    pub host: Bytes,
    /// Other header fields, written in order with the names as given.
    pub headers: Vec<Field>,
    /// The body's length when known: sent as `Content-Length` (except a
    /// length of 0 for `GET` and `HEAD`, which sends none: RFC 9110 §8.6).
    /// `None`: the body is sent chunked.
    pub content_length: Option<u64>,
    /// Ask the server to close the connection after this exchange
    /// (`Connection: close`); the connection is not reused.
    pub close: bool,
}

impl ClientRequest {
    /// A request without a body (`content_length` 0) and without fields.
    pub fn new(method: impl Into<Bytes>, target: impl Into<Bytes>, host: impl Into<Bytes>) -> Self {
        ClientRequest {
            method: method.into(),
            target: target.into(),
            host: host.into(),
            headers: Vec::new(),
            content_length: Some(0),
            close: false,
        }
    }

    /// Adds a header field.
    pub fn with_header(mut self, name: impl Into<Bytes>, value: impl Into<Bytes>) -> Self {
        self.headers.push(Field::new(name, value));
        self
    }

    /// Sets the body's length (`None`: chunked).
    pub fn with_content_length(mut self, len: Option<u64>) -> Self {
        self.content_length = len;
        self
    }

    /// Asks to close the connection after the exchange.
    pub fn with_close(mut self) -> Self {
        self.close = true;
        self
    }
}

/// How a response's body is delimited (RFC 9112 §6.3).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ResponseBody {
    /// No body: a response to `HEAD`, 204, 304, or a `Content-Length` of 0.
    Empty,
    /// `Content-Length` octets.
    Length(u64),
    /// The chunked transfer coding (RFC 9112 §7.1).
    Chunked,
    /// Everything until the server closes the connection (neither length
    /// nor chunked; RFC 9112 §6.3 rule 8). The connection is not reused.
    UntilClose,
}

/// A final response head received by a [`ClientConnection`] (interim `1xx`
/// responses are skipped). Fields are zero-copy slices of the received
/// head.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClientResponse {
    /// The request this answers.
    pub id: RequestId,
    /// The status code, 200..=599.
    pub status: u16,
    /// The reason phrase as sent (possibly empty; meaningless by RFC 9112
    /// §4).
    pub reason: Bytes,
    /// The server's HTTP version.
    pub version: Version,
    /// The header fields in the order received.
    pub headers: Vec<Field>,
    /// How the body is delimited.
    pub body: ResponseBody,
    /// The connection is reused after this exchange: both sides keep it
    /// alive and the body is not delimited by the close.
    pub keep_alive: bool,
}

impl ClientResponse {
    /// The first value of the header called `name` (ASCII case-insensitive).
    pub fn header(&self, name: &str) -> Option<&Bytes> {
        self.headers.iter().find(|f| f.name.eq_ignore_ascii_case(name.as_bytes())).map(|f| &f.value)
    }

    /// Every value of the header called `name`, in order.
    pub fn headers_named<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a Bytes> + 'a {
        self.headers.iter().filter(move |f| f.name.eq_ignore_ascii_case(name.as_bytes())).map(|f| &f.value)
    }
}

/// What a [`ClientConnection`] reports.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ClientEvent {
    /// The final response head. Its body follows as [`ClientEvent::Data`],
    /// then [`ClientEvent::End`] (at once when it has no body).
    Response(ClientResponse),
    /// Body octets of the response to `id` (zero-copy slices of the input).
    Data {
        /// The request answered.
        id: RequestId,
        /// The octets (never empty).
        data: Bytes,
    },
    /// The response to `id` was received completely.
    End {
        /// The request answered.
        id: RequestId,
        /// The trailer fields of a chunked body (empty otherwise).
        trailers: Vec<Field>,
    },
    /// The server sent something the connection refuses, or nothing in
    /// time. The exchange in progress (if any) failed; the connection reads
    /// nothing more, drops its output and is closed.
    Error(ResponseError),
}

/// Where the connection is in reading responses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Recv {
    /// No exchange: nothing is expected (input is [`ResponseError::UnexpectedData`]).
    Idle,
    /// Waiting for a response head, or inside one.
    Head,
    /// Inside a body.
    Body(Body),
    /// The response ended; the request has not (nothing more is expected).
    Wait,
    /// Reading nothing more (closing, refused, end of input).
    Stop,
}

/// Where the request of the current exchange is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Sending {
    /// `Content-Length` body: declared and sent so far.
    Length { len: u64, sent: u64 },
    /// Chunked body.
    Chunked,
    /// Ended.
    Done,
}

/// One request and its response.
#[derive(Debug)]
struct Exchange {
    id: RequestId,
    head_method: bool,
    /// The connection persists after this exchange.
    keep_alive: bool,
    request: Sending,
    /// The final response head arrived.
    head_received: bool,
    response_done: bool,
    /// Some octet of a response (interim ones included) arrived.
    response_started: bool,
}

/// A Sans-IO HTTP/1.1 client connection.
///
/// The loop that drives it is the server's: feed what the socket read with
/// [`ClientConnection::handle_input`] (only while
/// [`ClientConnection::wants_input`]; keep reading while idle, so a server
/// closing the connection is noticed), drain
/// [`ClientConnection::poll_event`], write what
/// [`ClientConnection::poll_transmit`] produces, and arm one timer at
/// [`ClientConnection::poll_timeout`]. Once [`ClientConnection::is_closed`],
/// shut the socket down.
///
/// One exchange at a time, no pipelining: [`ClientConnection::send_request`]
/// (then [`ClientConnection::send_data`] and [`ClientConnection::send_end`])
/// is accepted while [`ClientConnection::can_send`]. The response may begin
/// (and end) before the request body does; the connection is reused once
/// both ended and both sides keep it alive (RFC 9112 §9.3).
///
/// Parsing is lazy, as on the server: `poll_event` and `poll_transmit`
/// parse what waits in the input buffer, so poll events again after either.
#[derive(Debug)]
pub struct ClientConnection {
    config: ClientConfig,
    recv: BytesMut,
    state: Recv,
    scanner: SectionScanner,
    /// Body octets received for the current response.
    body_received: u64,
    current: Option<Exchange>,
    next_id: u64,
    events: VecDeque<ClientEvent>,
    /// Body octets in `events`.
    events_body: usize,
    out: VecDeque<Bytes>,
    out_len: usize,
    /// No more requests: closed once the current exchange (if any) is over
    /// and the output written.
    closing: bool,
    /// The transport failed: closed now.
    reset: bool,
    /// The server ended its side.
    eof: bool,
    error: Option<ResponseError>,
    now: Instant,
    /// The request ended: start the response head timer at the next
    /// `poll_transmit` (when its last octets leave).
    head_timer_pending: bool,
    head_deadline: Option<Instant>,
    idle_deadline: Option<Instant>,
    responses: u64,
}

impl ClientConnection {
    /// A connection established at `now`.
    pub fn new(config: ClientConfig, now: Instant) -> Self {
        let idle_deadline = config.idle_timeout.map(|d| now + d);
        ClientConnection {
            config,
            recv: BytesMut::new(),
            state: Recv::Idle,
            scanner: SectionScanner::default(),
            body_received: 0,
            current: None,
            next_id: 0,
            events: VecDeque::new(),
            events_body: 0,
            out: VecDeque::new(),
            out_len: 0,
            closing: false,
            reset: false,
            eof: false,
            error: None,
            now,
            head_timer_pending: false,
            head_deadline: None,
            idle_deadline,
            responses: 0,
        }
    }

    // ----- getters -------------------------------------------------------

    /// The configuration.
    pub fn config(&self) -> &ClientConfig {
        &self.config
    }

    /// True while the connection wants more input: it still reads (idle
    /// too: a server's close, or stray octets, must be noticed) and holds
    /// less than [`ClientConfig::max_recv_buffer`] unprocessed octets (or,
    /// inside a head, trailer section or chunk-size line, less than its own
    /// limit when that is larger).
    pub fn wants_input(&self) -> bool {
        let c = &self.config;
        let limit = match self.state {
            // A head or trailer section up to its limit can always be read.
            Recv::Head | Recv::Body(Body::Trailers) => c.max_recv_buffer.max(c.max_head_size),
            Recv::Body(Body::ChunkLine) => c.max_recv_buffer.max(c.max_chunk_line),
            _ => c.max_recv_buffer,
        };
        self.state != Recv::Stop && !self.eof && !self.reset && self.recv.len() < limit
    }

    /// Unprocessed input octets held (a partial head or chunk-size line,
    /// input held back while body events wait to be polled).
    pub fn input_buffered(&self) -> usize {
        self.recv.len()
    }

    /// Body octets in events not yet polled (at most
    /// [`ClientConfig::max_body_buffer`]).
    pub fn body_buffered(&self) -> usize {
        self.events_body
    }

    /// Output octets waiting for [`ClientConnection::poll_transmit`].
    pub fn send_buffered(&self) -> usize {
        self.out_len
    }

    /// Final responses received (heads accepted) so far.
    pub fn responses_received(&self) -> u64 {
        self.responses
    }

    /// Requests sent (heads queued) so far.
    pub fn requests_sent(&self) -> u64 {
        self.next_id
    }

    /// The request of the exchange in progress, if any.
    pub fn current_request(&self) -> Option<RequestId> {
        self.current.as_ref().map(|e| e.id)
    }

    /// Why the connection refused its server, if it did.
    pub fn error(&self) -> Option<ResponseError> {
        self.error
    }

    /// True when [`ClientConnection::send_request`] would be accepted: no
    /// exchange in progress and the connection will not close.
    pub fn can_send(&self) -> bool {
        !self.reset && !self.closing && self.current.is_none() && self.state == Recv::Idle
    }

    /// True when the connection could go back to a pool: it can send and
    /// has nothing left to write.
    pub fn is_idle(&self) -> bool {
        self.can_send() && self.out.is_empty()
    }

    /// True once finished: nothing more to send, read or write.
    pub fn is_closed(&self) -> bool {
        self.reset || (self.closing && self.current.is_none() && self.out.is_empty())
    }

    // ----- input ---------------------------------------------------------

    /// Feeds received octets (dropped once the connection reads no more).
    pub fn handle_input(&mut self, now: Instant, data: &[u8]) {
        if self.state != Recv::Stop && !self.reset {
            self.recv.extend_from_slice(data);
        }
        self.process_input(now);
    }

    /// The input buffer, for reading from the transport straight into it;
    /// then call [`ClientConnection::process_input`].
    pub fn input_buffer(&mut self) -> &mut BytesMut {
        &mut self.recv
    }

    /// Processes what was read into the input buffer.
    pub fn process_input(&mut self, now: Instant) {
        self.now = now;
        if self.state == Recv::Stop || self.reset {
            self.recv.clear();
            return;
        }
        self.process();
    }

    /// The server ended its side of the connection. Between exchanges the
    /// connection just closes; a body delimited by the close ends; a
    /// response head or a length-delimited or chunked body cut short is
    /// [`ResponseError::Truncated`], no response at all
    /// [`ResponseError::NoResponse`].
    pub fn handle_eof(&mut self, now: Instant) {
        self.now = now;
        self.eof = true;
        self.process();
    }

    /// The transport failed: the connection is closed, whatever it held.
    pub fn handle_reset(&mut self, now: Instant) {
        self.now = now;
        self.reset = true;
        self.state = Recv::Stop;
        self.current = None;
        self.recv.clear();
        self.out.clear();
        self.out_len = 0;
        self.head_timer_pending = false;
        self.head_deadline = None;
        self.idle_deadline = None;
    }

    /// Runs the timers due at `now`: no final response head within
    /// [`ClientConfig::response_head_timeout`] is
    /// [`ResponseError::HeadTimeout`]; a connection idle past
    /// [`ClientConfig::idle_timeout`] closes.
    pub fn handle_timeout(&mut self, now: Instant) {
        self.now = now;
        if self.head_deadline.is_some_and(|d| d <= now) {
            self.head_deadline = None;
            self.fail(ResponseError::HeadTimeout);
        }
        if self.idle_deadline.is_some_and(|d| d <= now) {
            self.idle_deadline = None;
            if self.current.is_none() && self.state == Recv::Idle {
                self.stop_reading();
            }
        }
    }

    /// When [`ClientConnection::handle_timeout`] is next due.
    pub fn poll_timeout(&self) -> Option<Instant> {
        if self.is_closed() {
            return None;
        }
        match (self.head_deadline, self.idle_deadline) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// The next event (parsing buffered input first when no event waits).
    pub fn poll_event(&mut self) -> Option<ClientEvent> {
        if self.events.is_empty() {
            self.process();
        }
        let event = self.events.pop_front()?;
        if let ClientEvent::Data { data, .. } = &event {
            self.events_body -= data.len();
        }
        Some(event)
    }

    // ----- output --------------------------------------------------------

    /// Appends the bytes to send to `buf`; returns how many (0: nothing to
    /// send). Body octets go in as the application's `Bytes`, so a
    /// [`ChunkedBuf`](crate::conn::ChunkedBuf) sends them without a copy.
    /// Once the request's last octets were handed over, the response head
    /// timer starts.
    pub fn poll_transmit<B: TransmitBuf>(&mut self, now: Instant, buf: &mut B) -> usize {
        self.now = now;
        self.process();
        let n = self.out_len;
        for chunk in self.out.drain(..) {
            buf.put_bytes(chunk);
        }
        self.out_len = 0;
        if self.head_timer_pending {
            self.head_timer_pending = false;
            if self.current.as_ref().is_some_and(|ex| !ex.head_received) {
                self.head_deadline = self.config.response_head_timeout.map(|d| now + d);
            }
        }
        n
    }

    /// Sends a request head (HTTP/1.1); its body follows with
    /// [`ClientConnection::send_data`], and [`ClientConnection::send_end`]
    /// ends it (also when it has none).
    ///
    /// Refused with [`SendError::Busy`] while an exchange is in progress,
    /// [`SendError::Closed`] once the connection will close (a response
    /// or request asked to, an error, the end of input),
    /// [`SendError::InvalidRequestLine`] for a method that is not a token
    /// (or `CONNECT`) or a target with octets outside visible ASCII,
    /// [`SendError::InvalidField`] for an invalid field or `host`,
    /// [`SendError::FramingField`] for `Host`, `Content-Length`,
    /// `Transfer-Encoding` or `Connection` among the fields.
    pub fn send_request(&mut self, req: &ClientRequest) -> Result<RequestId, SendError> {
        if self.reset || self.closing || self.state == Recv::Stop {
            return Err(SendError::Closed);
        }
        if self.current.is_some() || self.state != Recv::Idle {
            return Err(SendError::Busy);
        }
        if !is_token(&req.method)
            || &req.method[..] == b"CONNECT"
            || req.target.is_empty()
            || !req.target.iter().all(|b| b.is_ascii_graphic())
        {
            return Err(SendError::InvalidRequestLine);
        }
        if req.host.is_empty() || !req.host.iter().all(|&b| is_host_char(b)) {
            return Err(SendError::InvalidField);
        }
        check_fields(&req.headers)?;
        if req.headers.iter().any(|f| f.name.eq_ignore_ascii_case(b"host")) {
            return Err(SendError::FramingField);
        }
        let no_length = matches!(&req.method[..], b"GET" | b"HEAD");
        let mut out = Vec::with_capacity(
            64 + req.method.len()
                + req.target.len()
                + req.host.len()
                + req.headers.iter().map(|f| f.name.len() + f.value.len() + 4).sum::<usize>(),
        );
        out.extend_from_slice(&req.method);
        out.push(b' ');
        out.extend_from_slice(&req.target);
        out.extend_from_slice(b" HTTP/1.1\r\n");
        put_field(&mut out, b"host", &req.host);
        for f in &req.headers {
            put_field(&mut out, &f.name, &f.value);
        }
        let request = match req.content_length {
            Some(0) if no_length => Sending::Length { len: 0, sent: 0 },
            Some(len) => {
                put_field(&mut out, b"content-length", len.to_string().as_bytes());
                Sending::Length { len, sent: 0 }
            }
            None => {
                put_field(&mut out, b"transfer-encoding", b"chunked");
                Sending::Chunked
            }
        };
        if req.close {
            put_field(&mut out, b"connection", b"close");
        }
        out.extend_from_slice(b"\r\n");
        self.push(Bytes::from(out));
        let id = RequestId(self.next_id);
        self.next_id += 1;
        self.current = Some(Exchange {
            id,
            head_method: &req.method[..] == b"HEAD",
            keep_alive: !req.close,
            request,
            head_received: false,
            response_done: false,
            response_started: false,
        });
        self.state = Recv::Head;
        self.scanner.reset();
        self.idle_deadline = None;
        Ok(id)
    }

    /// Sends body octets of request `id` (chunk-framed when its length was
    /// not given). More than its `Content-Length` is
    /// [`SendError::TooMuchData`].
    pub fn send_data(&mut self, id: RequestId, data: Bytes) -> Result<(), SendError> {
        let ex = self.sending(id)?;
        let len = data.len() as u64;
        match ex.request {
            Sending::Length { len: declared, sent } => {
                if sent + len > declared {
                    return Err(SendError::TooMuchData);
                }
                ex.request = Sending::Length { len: declared, sent: sent + len };
                if !data.is_empty() {
                    self.push(data);
                }
            }
            Sending::Chunked if data.is_empty() => {}
            Sending::Chunked => {
                self.push(Bytes::from(format!("{len:x}\r\n")));
                self.push(data);
                self.push(Bytes::from_static(b"\r\n"));
            }
            Sending::Done => return Err(SendError::NotCurrent),
        }
        Ok(())
    }

    /// Ends request `id`: the last chunk (`0` and an empty trailer section)
    /// when chunked. Ending short of the declared `Content-Length` is
    /// [`SendError::TooLittleData`], and the connection will not be reused
    /// (the server waits for the rest).
    pub fn send_end(&mut self, id: RequestId) -> Result<(), SendError> {
        let ex = self.sending(id)?;
        let result = match ex.request {
            Sending::Length { len, sent } if sent < len => {
                ex.keep_alive = false;
                Err(SendError::TooLittleData)
            }
            Sending::Chunked => Ok(true),
            _ => Ok(false),
        };
        ex.request = Sending::Done;
        if !ex.head_received {
            self.head_timer_pending = true;
        }
        if result == Ok(true) {
            self.push(Bytes::from_static(b"0\r\n\r\n"));
        }
        self.after_exchange();
        result.map(|_| ())
    }

    // ----- internals -----------------------------------------------------

    /// The exchange `id`, when it is the current one and its request is
    /// still being sent.
    fn sending(&mut self, id: RequestId) -> Result<&mut Exchange, SendError> {
        if self.reset {
            return Err(SendError::Closed);
        }
        match self.current.as_mut() {
            Some(ex) if ex.id == id && ex.request != Sending::Done => Ok(ex),
            None if self.closing => Err(SendError::Closed),
            _ => Err(SendError::NotCurrent),
        }
    }

    fn push(&mut self, b: Bytes) {
        self.out_len += b.len();
        self.out.push_back(b);
    }

    /// Reads no more responses; the connection is closed once its output is
    /// written.
    fn stop_reading(&mut self) {
        self.state = Recv::Stop;
        self.closing = true;
        self.current = None;
        self.recv.clear();
        self.head_timer_pending = false;
        self.head_deadline = None;
        self.idle_deadline = None;
    }

    /// Refuses the server: an event, and the connection is closed (its
    /// output dropped: nobody is served by it).
    fn fail(&mut self, e: ResponseError) {
        self.error = Some(e);
        self.events.push_back(ClientEvent::Error(e));
        self.stop_reading();
        self.out.clear();
        self.out_len = 0;
    }

    /// The exchange is over once both its request and response ended, or
    /// as soon as its response ended when the connection is not reused.
    fn after_exchange(&mut self) {
        let Some(ex) = self.current.as_ref() else { return };
        if !ex.response_done {
            return;
        }
        if !ex.keep_alive {
            self.stop_reading();
        } else if ex.request == Sending::Done {
            self.current = None;
            self.state = Recv::Idle;
            self.idle_deadline = self.config.idle_timeout.map(|d| self.now + d);
        } else {
            self.state = Recv::Wait;
        }
    }

    /// The response was received completely.
    fn end_response(&mut self, trailers: Vec<Field>) {
        let Some(ex) = self.current.as_mut() else { return };
        ex.response_done = true;
        self.events.push_back(ClientEvent::End { id: ex.id, trailers });
        self.after_exchange();
    }

    /// Parses as much buffered input as the state allows; at the end of
    /// input, decides whether what was cut short is an error.
    fn process(&mut self) {
        let mut step = Step::Blocked;
        while !self.reset {
            step = match self.state {
                Recv::Stop => {
                    self.recv.clear();
                    Step::Blocked
                }
                Recv::Idle | Recv::Wait if self.recv.is_empty() => Step::NeedInput,
                Recv::Idle | Recv::Wait => {
                    self.fail(ResponseError::UnexpectedData);
                    Step::Blocked
                }
                Recv::Head => self.process_head(),
                Recv::Body(body) => self.process_body(body),
            };
            if step != Step::Advanced {
                break;
            }
        }
        if self.eof && step == Step::NeedInput {
            match self.state {
                Recv::Idle | Recv::Wait | Recv::Stop => self.stop_reading(),
                Recv::Head => {
                    let started = self.current.as_ref().is_some_and(|ex| ex.response_started);
                    self.fail(if started { ResponseError::Truncated } else { ResponseError::NoResponse });
                }
                Recv::Body(Body::UntilClose) => {
                    self.end_response(Vec::new());
                    self.stop_reading();
                }
                Recv::Body(_) => self.fail(ResponseError::Truncated),
            }
        }
    }

    /// One step of reading a head (interim or final).
    fn process_head(&mut self) -> Step {
        if self.recv.is_empty() {
            return Step::NeedInput;
        }
        if let Some(ex) = self.current.as_mut() {
            ex.response_started = true;
        }
        let max = self.config.max_head_size;
        match self.scanner.scan(&self.recv, max, false) {
            Err(e) => {
                self.fail(e.in_response_head(max));
                Step::Blocked
            }
            Ok(None) => Step::NeedInput,
            Ok(Some(end)) => {
                let head = self.recv.split_to(end).freeze();
                self.scanner.reset();
                match parse_response(head, self.config.max_headers) {
                    Err(e) => {
                        self.fail(e);
                        Step::Blocked
                    }
                    Ok(parsed) => self.start_response(parsed),
                }
            }
        }
    }

    /// A head was parsed: skip an interim one, or start the response.
    fn start_response(&mut self, head: ParsedResponse) -> Step {
        if head.status == 101 {
            self.fail(ResponseError::SwitchingProtocols);
            return Step::Blocked;
        }
        if head.status < 200 {
            // RFC 9112 §6.3 rule 1 / RFC 9110 §15.2: interim, no body; the
            // final response follows.
            return Step::Advanced;
        }
        let Some(ex) = self.current.as_mut() else {
            self.fail(ResponseError::UnexpectedData);
            return Step::Blocked;
        };
        // RFC 9112 §6.3: rule 1 (HEAD, 204, 304), rule 4 (chunked), rule 6
        // (Content-Length), rule 8 (until the close).
        let body = if ex.head_method || head.status == 204 || head.status == 304 {
            ResponseBody::Empty
        } else if head.chunked {
            ResponseBody::Chunked
        } else {
            match head.content_length {
                Some(0) => ResponseBody::Empty,
                Some(n) => ResponseBody::Length(n),
                None => ResponseBody::UntilClose,
            }
        };
        if let (ResponseBody::Length(n), Some(max)) = (body, self.config.max_body_size)
            && n > max
        {
            self.fail(ResponseError::BodyTooLarge { max });
            return Step::Blocked;
        }
        ex.head_received = true;
        ex.keep_alive &= head.keep_alive && body != ResponseBody::UntilClose;
        let id = ex.id;
        let keep_alive = ex.keep_alive;
        self.responses += 1;
        self.body_received = 0;
        self.head_timer_pending = false;
        self.head_deadline = None;
        self.events.push_back(ClientEvent::Response(ClientResponse {
            id,
            status: head.status,
            reason: head.reason,
            version: head.version,
            headers: head.headers,
            body,
            keep_alive,
        }));
        match body {
            ResponseBody::Empty => self.end_response(Vec::new()),
            ResponseBody::Length(n) => self.state = Recv::Body(Body::Length(n)),
            ResponseBody::Chunked => self.state = Recv::Body(Body::ChunkLine),
            ResponseBody::UntilClose => self.state = Recv::Body(Body::UntilClose),
        }
        Step::Advanced
    }

    /// One step of reading a body.
    fn process_body(&mut self, body: Body) -> Step {
        read_body(self, body)
    }
}

body_sink!(ClientConnection, ClientEvent, ResponseError, end_response);
