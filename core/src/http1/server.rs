//! The server side of an HTTP/1.1 connection.

use std::collections::VecDeque;
use std::time::Instant;

use bytes::{Buf, Bytes, BytesMut};

use super::body::{Body, Step, body_sink, read_body};
use super::head::{SectionScanner, parse_request};
use super::response::{check_fields, error_response, put_field, put_status_line};
use super::{
    BodyKind, Config, Field, RequestError, RequestHead, RequestId, ResponseHead, SendError, Version,
};
use crate::conn::TransmitBuf;

/// What a [`ServerConnection`] reports.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Event {
    /// A request head. Its body follows as [`Event::Data`], then
    /// [`Event::End`] (at once when it has no body).
    Request(RequestHead),
    /// Body octets of the request `id` (zero-copy slices of the input).
    Data {
        /// The request.
        id: RequestId,
        /// The octets (never empty).
        data: Bytes,
    },
    /// The request `id` was received completely.
    End {
        /// The request.
        id: RequestId,
        /// The trailer fields of a chunked body (empty otherwise).
        trailers: Vec<Field>,
    },
    /// The client sent something the connection refuses. It answered with
    /// [`RequestError::status`] unless a response to the current request
    /// had already begun (then that response may be finished), reads
    /// nothing more and closes once its output is written.
    Error(RequestError),
}

/// Where the connection is in reading requests.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Recv {
    /// Waiting for a request head, or inside one.
    Head,
    /// Inside a body.
    Body(Body),
    /// The request was read; the next waits until its exchange is over.
    Wait,
    /// Reading nothing more (closing, refused, end of input).
    Stop,
}

/// How the response body is delimited.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Framing {
    Length(u64),
    Chunked,
    /// Until the connection closes (HTTP/1.0, length unknown).
    Close,
    /// No body (HEAD, 204, 304).
    None,
}

/// Where the response to the current request is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Send {
    NotStarted,
    Body { framing: Framing, sent: u64 },
    Done,
}

/// One request and its response.
#[derive(Debug)]
struct Exchange {
    id: RequestId,
    version: Version,
    head_method: bool,
    /// The connection persists after this exchange.
    keep_alive: bool,
    /// `Expect: 100-continue` not yet answered.
    expects_continue: bool,
    request_done: bool,
    response: Send,
}

/// A Sans-IO HTTP/1.1 server connection.
///
/// The loop that drives it is the HTTP/2 one: feed what the socket read
/// with [`ServerConnection::handle_input`] (only while
/// [`ServerConnection::wants_input`]), drain
/// [`ServerConnection::poll_event`], answer with
/// [`ServerConnection::send_response`], [`ServerConnection::send_data`] and
/// [`ServerConnection::send_end`], write what
/// [`ServerConnection::poll_transmit`] produces, and arm one timer at
/// [`ServerConnection::poll_timeout`]. Once [`ServerConnection::is_closed`],
/// shut the socket down.
///
/// Requests are handled one at a time, in order (RFC 9112 §9.3.2): the next
/// pipelined request is parsed once the current one was read and its
/// response ended. Parsing is lazy: `poll_event` and `poll_transmit` parse
/// what waits in the input buffer, so poll events again after either.
#[derive(Debug)]
pub struct ServerConnection {
    config: Config,
    recv: BytesMut,
    state: Recv,
    scanner: SectionScanner,
    /// Blank-line octets dropped before the current head (they count toward
    /// `max_head_size`).
    blank: usize,
    /// Body octets received for the current request.
    body_received: u64,
    current: Option<Exchange>,
    next_id: u64,
    events: VecDeque<Event>,
    /// Body octets in `events`.
    events_body: usize,
    out: VecDeque<Bytes>,
    out_len: usize,
    /// No more requests: close once the current exchange (if any) is over
    /// and the output written.
    closing: bool,
    /// The transport failed: closed now.
    reset: bool,
    /// The client ended its side.
    eof: bool,
    error: Option<RequestError>,
    now: Instant,
    head_deadline: Option<Instant>,
    idle_deadline: Option<Instant>,
    requests: u64,
}

impl ServerConnection {
    /// A connection accepted at `now`.
    pub fn new(config: Config, now: Instant) -> Self {
        let idle_deadline = config.idle_timeout.map(|d| now + d);
        ServerConnection {
            config,
            recv: BytesMut::new(),
            state: Recv::Head,
            scanner: SectionScanner::default(),
            blank: 0,
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
            head_deadline: None,
            idle_deadline,
            requests: 0,
        }
    }

    // ----- getters -------------------------------------------------------

    /// The configuration.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// True while the connection wants more input: it reads requests and
    /// holds less than [`Config::max_recv_buffer`] unprocessed octets.
    pub fn wants_input(&self) -> bool {
        self.state != Recv::Stop && !self.eof && !self.reset && self.recv.len() < self.config.max_recv_buffer
    }

    /// Unprocessed input octets held (a partial head or chunk-size line,
    /// pipelined requests waiting for their turn, input held back while
    /// body events wait to be polled).
    pub fn input_buffered(&self) -> usize {
        self.recv.len()
    }

    /// Body octets in events not yet polled (at most
    /// [`Config::max_body_buffer`]).
    pub fn body_buffered(&self) -> usize {
        self.events_body
    }

    /// Output octets waiting for [`ServerConnection::poll_transmit`].
    pub fn send_buffered(&self) -> usize {
        self.out_len
    }

    /// Requests received (heads accepted) so far.
    pub fn requests_received(&self) -> u64 {
        self.requests
    }

    /// The request being answered, if any.
    pub fn current_request(&self) -> Option<RequestId> {
        self.current.as_ref().map(|e| e.id)
    }

    /// Why the connection refused its client, if it did.
    pub fn error(&self) -> Option<RequestError> {
        self.error
    }

    /// True once finished: nothing more to read, answer or write.
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
    /// then call [`ServerConnection::process_input`].
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

    /// The client ended its side of the connection. A request cut short is
    /// [`RequestError::Truncated`]; a response in progress may still be
    /// finished, and the connection closes after it.
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
        self.recv.clear();
        self.out.clear();
        self.out_len = 0;
        self.head_deadline = None;
        self.idle_deadline = None;
    }

    /// Runs the timers due at `now`: a head that takes longer than
    /// [`Config::head_timeout`] gets 408; a connection idle past
    /// [`Config::idle_timeout`] closes.
    pub fn handle_timeout(&mut self, now: Instant) {
        self.now = now;
        if self.head_deadline.is_some_and(|d| d <= now) {
            self.head_deadline = None;
            self.fail(RequestError::HeadTimeout);
        }
        if self.idle_deadline.is_some_and(|d| d <= now) {
            self.idle_deadline = None;
            if self.current.is_none() && self.state == Recv::Head {
                self.stop_reading();
            }
        }
    }

    /// When [`ServerConnection::handle_timeout`] is next due.
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
    pub fn poll_event(&mut self) -> Option<Event> {
        if self.events.is_empty() {
            self.process();
        }
        let event = self.events.pop_front()?;
        if let Event::Data { data, .. } = &event {
            self.events_body -= data.len();
        }
        Some(event)
    }

    // ----- output --------------------------------------------------------

    /// Appends the bytes to send to `buf`; returns how many (0: nothing to
    /// send). Body octets go in as the application's `Bytes`, so a
    /// [`ChunkedBuf`](crate::conn::ChunkedBuf) sends them without a copy.
    pub fn poll_transmit<B: TransmitBuf>(&mut self, now: Instant, buf: &mut B) -> usize {
        self.now = now;
        self.process();
        let n = self.out_len;
        for chunk in self.out.drain(..) {
            buf.put_bytes(chunk);
        }
        self.out_len = 0;
        n
    }

    /// Answers `Expect: 100-continue` with `100 Continue` (RFC 9110
    /// §10.1.1): the client may now send the body.
    pub fn send_continue(&mut self, id: RequestId) -> Result<(), SendError> {
        let ex = self.exchange(id)?;
        if !ex.expects_continue || ex.request_done || ex.response != Send::NotStarted {
            return Err(SendError::ContinueNotExpected);
        }
        ex.expects_continue = false;
        self.push(Bytes::from_static(b"HTTP/1.1 100 Continue\r\n\r\n"));
        Ok(())
    }

    /// Sends the response head for request `id`.
    ///
    /// Framing: `Content-Length` when [`ResponseHead::content_length`] is
    /// known; otherwise chunked to HTTP/1.1 clients and delimited by closing
    /// the connection for HTTP/1.0 ones; no body at all for HEAD requests,
    /// 204 and 304 (their `Content-Length`, if given, describes the
    /// representation and is sent, except with 204). `Connection: close` is
    /// added when the connection will close after this response;
    /// `Connection: keep-alive` to an HTTP/1.0 client that keeps it.
    pub fn send_response(&mut self, id: RequestId, head: &ResponseHead) -> Result<(), SendError> {
        if !(200..=599).contains(&head.status) {
            return Err(SendError::InvalidStatus);
        }
        check_fields(&head.headers)?;
        let closing = self.closing;
        let ex = self.exchange(id)?;
        if ex.response != Send::NotStarted {
            return Err(SendError::HeadAlreadySent);
        }
        let no_body = ex.head_method || head.status == 204 || head.status == 304;
        let framing = match head.content_length {
            _ if no_body => Framing::None,
            Some(n) => Framing::Length(n),
            None if ex.version == Version::Http11 => Framing::Chunked,
            None => Framing::Close,
        };
        // A client still waiting for `100 Continue` sends no body: the
        // connection cannot be reused after a final answer instead.
        let unread_body = ex.expects_continue && !ex.request_done;
        ex.keep_alive &= !head.close && !closing && framing != Framing::Close && !unread_body;
        ex.expects_continue = false;
        ex.response = Send::Body { framing, sent: 0 };
        let mut out = Vec::with_capacity(
            64 + head.headers.iter().map(|f| f.name.len() + f.value.len() + 4).sum::<usize>(),
        );
        put_status_line(&mut out, head.status);
        for f in &head.headers {
            put_field(&mut out, &f.name, &f.value);
        }
        match (framing, head.content_length) {
            (Framing::Length(n), _) => put_field(&mut out, b"content-length", n.to_string().as_bytes()),
            (Framing::None, Some(n)) if head.status != 204 => {
                put_field(&mut out, b"content-length", n.to_string().as_bytes());
            }
            (Framing::Chunked, _) => put_field(&mut out, b"transfer-encoding", b"chunked"),
            _ => {}
        }
        if !ex.keep_alive {
            put_field(&mut out, b"connection", b"close");
        } else if ex.version == Version::Http10 {
            put_field(&mut out, b"connection", b"keep-alive");
        }
        out.extend_from_slice(b"\r\n");
        self.push(Bytes::from(out));
        Ok(())
    }

    /// Sends body octets of the response to `id` (after its head).
    pub fn send_data(&mut self, id: RequestId, data: Bytes) -> Result<(), SendError> {
        let ex = self.exchange(id)?;
        let Send::Body { framing, sent } = ex.response else {
            return Err(if ex.response == Send::NotStarted {
                SendError::HeadNotSent
            } else {
                SendError::NotCurrent
            });
        };
        let len = data.len() as u64;
        match framing {
            Framing::None if len > 0 => return Err(SendError::BodyNotAllowed),
            Framing::Length(n) if sent + len > n => return Err(SendError::TooMuchData),
            _ => {}
        }
        ex.response = Send::Body { framing, sent: sent + len };
        if data.is_empty() {
            return Ok(());
        }
        if framing == Framing::Chunked {
            self.push(Bytes::from(format!("{len:x}\r\n")));
            self.push(data);
            self.push(Bytes::from_static(b"\r\n"));
        } else {
            self.push(data);
        }
        Ok(())
    }

    /// Ends the response to `id`, with trailer fields when it is chunked
    /// (`trailers` must be empty otherwise). Ending short of the declared
    /// `Content-Length` is [`SendError::TooLittleData`], and the connection
    /// closes: the client sees the body cut short.
    pub fn send_end(&mut self, id: RequestId, trailers: &[Field]) -> Result<(), SendError> {
        check_fields(trailers)?;
        let ex = self.exchange(id)?;
        let Send::Body { framing, sent } = ex.response else {
            return Err(if ex.response == Send::NotStarted {
                SendError::HeadNotSent
            } else {
                SendError::NotCurrent
            });
        };
        if framing != Framing::Chunked && !trailers.is_empty() {
            return Err(SendError::TrailersNotAllowed);
        }
        ex.response = Send::Done;
        let result = match framing {
            Framing::Length(n) if sent < n => {
                ex.keep_alive = false;
                Err(SendError::TooLittleData)
            }
            Framing::Chunked => {
                let mut out = b"0\r\n".to_vec();
                for f in trailers {
                    put_field(&mut out, &f.name, &f.value);
                }
                out.extend_from_slice(b"\r\n");
                self.push(Bytes::from(out));
                Ok(())
            }
            _ => Ok(()),
        };
        self.after_response();
        result
    }

    // ----- internals -----------------------------------------------------

    /// The exchange `id`, when it is the current one and the connection can
    /// still answer it.
    fn exchange(&mut self, id: RequestId) -> Result<&mut Exchange, SendError> {
        if self.reset {
            return Err(SendError::Closed);
        }
        match self.current.as_mut() {
            Some(ex) if ex.id == id && ex.response != Send::Done => Ok(ex),
            None if self.closing => Err(SendError::Closed),
            _ => Err(SendError::NotCurrent),
        }
    }

    fn push(&mut self, b: Bytes) {
        self.out_len += b.len();
        self.out.push_back(b);
    }

    /// Reads no more requests; closes once the current exchange is over.
    fn stop_reading(&mut self) {
        self.state = Recv::Stop;
        self.closing = true;
        self.recv.clear();
        self.head_deadline = None;
        self.idle_deadline = None;
        if let Some(ex) = self.current.as_mut() {
            ex.keep_alive = false;
            if ex.response == Send::Done {
                self.current = None;
            }
        }
    }

    /// Refuses the client: an event, the error response when no response
    /// has begun, and no more reading.
    fn fail(&mut self, e: RequestError) {
        self.error = Some(e);
        self.events.push_back(Event::Error(e));
        let started = self.current.as_ref().is_some_and(|ex| ex.response != Send::NotStarted);
        if !started {
            self.current = None;
            self.push(Bytes::from(error_response(e.status())));
        }
        self.stop_reading();
    }

    /// After the response ended: the exchange is over once its request was
    /// read too (or the connection will not be reused anyway).
    fn after_response(&mut self) {
        let Some(ex) = self.current.as_ref() else { return };
        if ex.response != Send::Done {
            return;
        }
        if !ex.keep_alive {
            self.current = None;
            self.stop_reading();
        } else if ex.request_done {
            self.current = None;
            self.state = Recv::Head;
            self.scanner.reset();
            self.blank = 0;
            self.idle_deadline = self.config.idle_timeout.map(|d| self.now + d);
        }
    }

    /// The request was read completely.
    fn end_request(&mut self, trailers: Vec<Field>) {
        let Some(ex) = self.current.as_mut() else { return };
        ex.request_done = true;
        ex.expects_continue = false;
        self.events.push_back(Event::End { id: ex.id, trailers });
        self.state = Recv::Wait;
        self.after_response();
    }

    /// Parses as much buffered input as the state allows; at the end of
    /// input, a request cut short is [`RequestError::Truncated`].
    fn process(&mut self) {
        let mut step = Step::Blocked;
        while !self.reset {
            step = match self.state {
                Recv::Stop => {
                    self.recv.clear();
                    Step::Blocked
                }
                Recv::Wait => Step::Blocked,
                Recv::Head => self.process_head(),
                Recv::Body(body) => self.process_body(body),
            };
            if step != Step::Advanced {
                break;
            }
        }
        if self.eof && step == Step::NeedInput {
            let between_requests = self.state == Recv::Head && self.recv.is_empty() && self.blank == 0;
            if between_requests {
                self.stop_reading();
            } else {
                self.fail(RequestError::Truncated);
            }
        }
    }

    /// One step of reading a head.
    fn process_head(&mut self) -> Step {
        let max = self.config.max_head_size;
        if self.scanner.is_fresh() {
            // RFC 9112 §2.2: empty lines before the request line are ignored
            // (and counted toward the limit here).
            while self.recv.starts_with(b"\r\n") {
                self.recv.advance(2);
                self.blank += 2;
            }
            if self.blank + self.recv.len() > 0 && self.head_deadline.is_none() {
                self.head_deadline = self.config.head_timeout.map(|d| self.now + d);
                self.idle_deadline = None;
            }
            if self.blank >= max {
                self.fail(RequestError::RequestLineTooLong { max });
                return Step::Blocked;
            }
            if self.recv.is_empty() || &self.recv[..] == b"\r" {
                return Step::NeedInput;
            }
        }
        let room = max - self.blank;
        match self.scanner.scan(&self.recv, room, false) {
            Err(e) => {
                self.fail(e.in_head(max));
                Step::Blocked
            }
            Ok(None) => Step::NeedInput,
            Ok(Some(end)) => {
                let head = self.recv.split_to(end).freeze();
                let id = RequestId(self.next_id);
                match parse_request(head, id, &self.config) {
                    Err(e) => {
                        self.fail(e);
                        Step::Blocked
                    }
                    Ok(head) => {
                        self.start_request(head);
                        Step::Advanced
                    }
                }
            }
        }
    }

    fn start_request(&mut self, head: RequestHead) {
        self.next_id += 1;
        self.requests += 1;
        self.head_deadline = None;
        self.body_received = 0;
        self.current = Some(Exchange {
            id: head.id,
            version: head.version,
            head_method: head.is_head(),
            keep_alive: head.keep_alive,
            expects_continue: head.expects_continue,
            request_done: false,
            response: Send::NotStarted,
        });
        let body = head.body;
        self.events.push_back(Event::Request(head));
        match body {
            BodyKind::Empty => self.end_request(Vec::new()),
            BodyKind::Length(n) => self.state = Recv::Body(Body::Length(n)),
            BodyKind::Chunked => self.state = Recv::Body(Body::ChunkLine),
        }
    }

    /// One step of reading a body.
    fn process_body(&mut self, body: Body) -> Step {
        read_body(self, body)
    }
}

body_sink!(ServerConnection, Event, RequestError, end_request);
