//! grpc.testing.TestService (gRPC's interop test descriptions) answered
//! synchronously on one connection's [`Server`]: no tasks, no futures. A call
//! is a small state record; events move it on, and responses that must wait
//! (`interval_us`, or a full send window) wait in it until [`TestService::poll`]
//! or a `Writable` event sends them.

use std::cell::Cell;
use std::collections::{HashMap, VecDeque};
use std::rc::Rc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use prost::Message;
use weir_core::grpc::{CallId, CallStart, Code, Metadata, RecvMessage, Server, ServerEvent, Status};

use crate::connection::App;
use crate::testing::{
    EchoStatus, Empty, Payload, ResponseParameters, SimpleRequest, SimpleResponse, StreamingInputCallRequest,
    StreamingInputCallResponse, StreamingOutputCallRequest, StreamingOutputCallResponse,
};

const ECHO_INITIAL: &str = "x-grpc-test-echo-initial";
const ECHO_TRAILING: &str = "x-grpc-test-echo-trailing-bin";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Method {
    Empty,
    Unary,
    StreamingOutput,
    StreamingInput,
    FullDuplex,
    HalfDuplex,
}

impl Method {
    fn of(path: &[u8]) -> Option<Method> {
        let name = path.strip_prefix(b"/grpc.testing.TestService/")?;
        Some(match name {
            b"EmptyCall" => Method::Empty,
            b"UnaryCall" | b"CacheableUnaryCall" => Method::Unary,
            b"StreamingOutputCall" => Method::StreamingOutput,
            b"StreamingInputCall" => Method::StreamingInput,
            b"FullDuplexCall" => Method::FullDuplex,
            b"HalfDuplexCall" => Method::HalfDuplex,
            _ => return None,
        })
    }
}

/// One call in progress.
struct Call {
    method: Method,
    /// The echoed initial metadata, until the response headers carry it.
    initial: Option<Metadata>,
    trailing: Metadata,
    /// Responses still to send, and when the first of them is due.
    queue: VecDeque<ResponseParameters>,
    due: Option<Instant>,
    /// The stream takes no more now: a `Writable` event, not the clock,
    /// resumes it.
    blocked: bool,
    /// Every request was read: the call ends once `queue` is empty.
    requests_done: bool,
    /// StreamingInputCall: payload octets so far. HalfDuplexCall: the
    /// responses asked for, sent once the client finished.
    total: usize,
    held: Vec<ResponseParameters>,
}

/// Responses a call may have waiting (asked for and not yet sent).
pub const MAX_QUEUED_PER_CALL: usize = 1024;
/// The largest response payload a request may ask for.
pub const MAX_RESPONSE_SIZE: i32 = 4 << 20;

/// Waiting responses left for the whole loop, shared by every connection's
/// service (one thread, so a `Cell`): a per-call bound alone would multiply
/// by calls and connections.
#[derive(Clone, Debug)]
pub struct QueueBudget(Rc<Cell<usize>>);

impl QueueBudget {
    /// A budget of `responses` waiting responses in all.
    pub fn new(responses: usize) -> Self {
        QueueBudget(Rc::new(Cell::new(responses)))
    }

    /// What is left.
    pub fn left(&self) -> usize {
        self.0.get()
    }

    fn take(&self, n: usize) -> bool {
        let left = self.0.get();
        let ok = n <= left;
        if ok {
            self.0.set(left - n);
        }
        ok
    }

    fn give(&self, n: usize) {
        self.0.set(self.0.get() + n);
    }
}

/// The service's state on one connection.
pub struct TestService {
    calls: HashMap<CallId, Call>,
    budget: QueueBudget,
}

fn bad_request(e: prost::DecodeError) -> Status {
    Status::new(Code::InvalidArgument, format!("bad request: {e}"))
}

fn zeros(n: i32) -> Result<Payload, Status> {
    if n > MAX_RESPONSE_SIZE {
        return Err(Status::new(
            Code::ResourceExhausted,
            format!("responses are at most {MAX_RESPONSE_SIZE} octets"),
        ));
    }
    Ok(Payload { r#type: 0, body: vec![0; n.max(0) as usize] })
}

/// EchoStatus: a non-zero `response_status` ends the call with it.
fn echo_status(s: &Option<EchoStatus>) -> Result<(), Status> {
    match s {
        Some(e) if e.code != 0 => Err(Status::new(Code::from_i32(e.code), e.message.clone())),
        _ => Ok(()),
    }
}

/// CompressedRequest: `expect_compressed` must match the message's flag.
fn check_compressed(expect: Option<bool>, compressed: bool) -> Result<(), Status> {
    match expect {
        Some(want) if want != compressed => Err(Status::new(
            Code::InvalidArgument,
            if want { "expected a compressed message" } else { "expected an uncompressed message" },
        )),
        _ => Ok(()),
    }
}

impl App for TestService {
    type Core = Server;

    fn on_event(&mut self, core: &mut Server, event: ServerEvent, now: Instant) {
        let call = match event {
            ServerEvent::Call { call, start } => {
                self.start(core, call, start);
                call
            }
            ServerEvent::Message { call } | ServerEvent::HalfClosed { call } => {
                if let Err(status) = self.read(core, call) {
                    self.end(core, call, &status);
                }
                call
            }
            ServerEvent::Writable { call } => {
                if let Some(c) = self.calls.get_mut(&call) {
                    c.blocked = false;
                }
                call
            }
            ServerEvent::Cancelled { call, .. } => {
                self.forget(call);
                return;
            }
            // No gRPC-Web and no plain HTTP requests are enabled; GOAWAY and
            // the connection's end need nothing from a call.
            _ => return,
        };
        self.pump(core, call, now);
    }

    /// Sends every response whose time has come.
    fn poll(&mut self, core: &mut Server, now: Instant) {
        let due: Vec<CallId> = self
            .calls
            .iter()
            .filter(|(_, c)| !c.blocked && c.due.is_some_and(|d| d <= now))
            .map(|(&id, _)| id)
            .collect();
        for call in due {
            self.pump(core, call, now);
        }
    }

    /// When the next waiting response is due.
    fn next_due(&self) -> Option<Instant> {
        self.calls.values().filter(|c| !c.blocked).filter_map(|c| c.due).min()
    }

    /// GOAWAY; the calls in flight finish.
    fn shutdown(&mut self, core: &mut Server, now: Instant) {
        core.shutdown(now);
    }
}

impl TestService {
    /// The service for one connection, its waiting responses counted in
    /// `budget`.
    pub fn new(budget: QueueBudget) -> Self {
        TestService { calls: HashMap::new(), budget }
    }

    /// Drops a call's state, returning its waiting responses to the budget.
    fn forget(&mut self, call: CallId) -> Option<Call> {
        let c = self.calls.remove(&call)?;
        self.budget.give(c.queue.len() + c.held.len());
        Some(c)
    }

    /// Queues responses asked for (`held` back until the client finished
    /// when `hold`), within the call's and the loop's bounds.
    fn ask(
        budget: &QueueBudget,
        c: &mut Call,
        params: Vec<ResponseParameters>,
        hold: bool,
    ) -> Result<(), Status> {
        if c.queue.len() + c.held.len() + params.len() > MAX_QUEUED_PER_CALL || !budget.take(params.len()) {
            return Err(Status::new(Code::ResourceExhausted, "too many responses asked for at once"));
        }
        if hold {
            c.held.extend(params)
        } else {
            c.queue.extend(params)
        }
        Ok(())
    }

    /// Calls in progress.
    pub fn active_calls(&self) -> usize {
        self.calls.len()
    }

    fn start(&mut self, core: &mut Server, call: CallId, start: CallStart) {
        let Some(method) = Method::of(&start.path) else {
            let _ = core.finish(call, &Status::new(Code::Unimplemented, "unknown method"), &Metadata::new());
            return;
        };
        let (mut initial, mut trailing) = (Metadata::new(), Metadata::new());
        if let Some(v) = start.metadata.get(ECHO_INITIAL) {
            let _ = initial.append_bytes(Bytes::from_static(ECHO_INITIAL.as_bytes()), v.clone());
        }
        if let Some(v) = start.metadata.get(ECHO_TRAILING) {
            let _ = trailing.append_bin(ECHO_TRAILING, v.clone());
        }
        // Streaming responses are gzip-capable; each says whether it wants it.
        if matches!(method, Method::StreamingOutput | Method::FullDuplex | Method::HalfDuplex) {
            let _ = core.set_send_compression(call, Some("gzip"));
        }
        let c = Call {
            method,
            initial: Some(initial),
            trailing,
            queue: VecDeque::new(),
            due: None,
            blocked: false,
            requests_done: false,
            total: 0,
            held: Vec::new(),
        };
        self.calls.insert(call, c);
    }

    /// Reads what the call's requests hold now.
    fn read(&mut self, core: &mut Server, call: CallId) -> Result<(), Status> {
        let Some(c) = self.calls.get_mut(&call) else { return Ok(()) };
        match c.method {
            Method::Empty | Method::Unary | Method::StreamingOutput => {
                let (RecvMessage::Message(msg), compressed) = core.recv_single_message(call)? else {
                    return Ok(());
                };
                c.requests_done = true;
                match c.method {
                    Method::Empty => {
                        Empty::decode(msg).map_err(bad_request)?;
                        send_headers(core, call, c)?;
                        core.send_message(call, Empty {}.encode_to_vec().into())?;
                    }
                    Method::Unary => {
                        let r = SimpleRequest::decode(msg).map_err(bad_request)?;
                        check_compressed(r.expect_compressed.map(|v| v.value), compressed)?;
                        echo_status(&r.response_status)?;
                        if r.response_compressed.is_some_and(|v| v.value) {
                            core.set_send_compression(call, Some("gzip"))?;
                        }
                        send_headers(core, call, c)?;
                        let resp =
                            SimpleResponse { payload: Some(zeros(r.response_size)?), ..Default::default() };
                        core.send_message(call, resp.encode_to_vec().into())?;
                    }
                    _ => {
                        let r = StreamingOutputCallRequest::decode(msg).map_err(bad_request)?;
                        echo_status(&r.response_status)?;
                        Self::ask(&self.budget, c, r.response_parameters, false)?;
                    }
                }
            }
            Method::StreamingInput => loop {
                match core.recv_message_flagged(call)? {
                    (RecvMessage::Message(msg), compressed) => {
                        let r = StreamingInputCallRequest::decode(msg).map_err(bad_request)?;
                        check_compressed(r.expect_compressed.map(|v| v.value), compressed)?;
                        c.total += r.payload.map_or(0, |p| p.body.len());
                    }
                    (RecvMessage::Pending, _) => return Ok(()),
                    (RecvMessage::End, _) => {
                        c.requests_done = true;
                        let total = i32::try_from(c.total).unwrap_or(i32::MAX);
                        let resp = StreamingInputCallResponse { aggregated_payload_size: total };
                        send_headers(core, call, c)?;
                        core.send_message(call, resp.encode_to_vec().into())?;
                        return Ok(());
                    }
                }
            },
            Method::FullDuplex | Method::HalfDuplex => loop {
                match core.recv_message(call)? {
                    RecvMessage::Message(msg) => {
                        let r = StreamingOutputCallRequest::decode(msg).map_err(bad_request)?;
                        echo_status(&r.response_status)?;
                        let hold = c.method == Method::HalfDuplex;
                        Self::ask(&self.budget, c, r.response_parameters, hold)?;
                    }
                    RecvMessage::Pending => return Ok(()),
                    RecvMessage::End => {
                        c.requests_done = true;
                        c.queue.extend(c.held.drain(..));
                        return Ok(());
                    }
                }
            },
        }
        Ok(())
    }

    /// Sends the call's due responses while its stream takes them, and ends
    /// it once everything asked for went out.
    fn pump(&mut self, core: &mut Server, call: CallId, now: Instant) {
        let Some(c) = self.calls.get_mut(&call) else { return };
        let sent = loop {
            let Some(p) = c.queue.front() else { break Ok(()) };
            let due = *c.due.get_or_insert(now + Duration::from_micros(p.interval_us.max(0) as u64));
            // Not yet due (`poll` comes back), or no room (`Writable` follows).
            if due > now {
                return;
            }
            if !core.poll_writable(call) {
                c.blocked = true;
                return;
            }
            let (compress, size) = (p.compressed.is_some_and(|v| v.value), p.size);
            c.queue.pop_front();
            self.budget.give(1);
            c.due = None;
            let sent = zeros(size).and_then(|payload| {
                let msg = StreamingOutputCallResponse { payload: Some(payload) }.encode_to_vec();
                send_headers(core, call, c)?;
                core.send_message_with(call, msg.into(), compress)
            });
            if let Err(e) = sent {
                break Err(e);
            }
        };
        match sent {
            Ok(()) if c.requests_done => self.end(core, call, &Status::ok()),
            Ok(()) => {}
            Err(status) => self.end(core, call, &status),
        }
    }

    /// Ends a call with its echoed metadata (its headers first, when OK).
    fn end(&mut self, core: &mut Server, call: CallId, status: &Status) {
        let Some(mut c) = self.forget(call) else { return };
        if status.code == Code::Ok {
            // Without them, `finish` still ends the call (trailers only).
            let _ = send_headers(core, call, &mut c);
        }
        let _ = core.finish(call, status, &c.trailing);
    }
}

/// The response headers, with the echoed initial metadata, once.
fn send_headers(core: &mut Server, call: CallId, c: &mut Call) -> Result<(), Status> {
    match c.initial.take() {
        Some(m) => core.send_headers(call, &m),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use weir_core::grpc::{CallRequest, Client, ClientConfig, ClientEvent, ServerConfig};
    use weir_core::sim::Pair;

    use super::*;

    /// Runs the pair until quiet, the service answering the server's events;
    /// returns the client's final statuses by call.
    fn run(p: &mut Pair<Client, Server>, svc: &mut TestService) -> Vec<(CallId, Code)> {
        let mut done = Vec::new();
        for _ in 0..1000 {
            let moved = p.drive_rounds(1);
            let mut events = 0;
            while let Some(e) = p.server.poll_event() {
                svc.on_event(&mut p.server, e, p.now);
                events += 1;
            }
            svc.poll(&mut p.server, p.now);
            while let Some(e) = p.client.poll_event() {
                if let ClientEvent::Finished { call, status, .. } = e {
                    done.push((call, status.code));
                }
                events += 1;
            }
            if moved == 0 && events == 0 {
                break;
            }
        }
        done
    }

    fn ask(p: &mut Pair<Client, Server>, responses: usize, half_close: bool) -> CallId {
        let req = CallRequest::new("/grpc.testing.TestService/FullDuplexCall", "test");
        let call = p.client.start_call(p.now, req).unwrap();
        let params =
            vec![ResponseParameters { size: 1, interval_us: 1_000_000, ..Default::default() }; responses];
        let msg = StreamingOutputCallRequest { response_parameters: params, ..Default::default() };
        p.client.send_message(call, msg.encode_to_vec().into()).unwrap();
        if half_close {
            p.client.half_close(call).unwrap();
        }
        call
    }

    #[test]
    fn waiting_responses_are_bounded_per_call_and_for_the_whole_loop() {
        let mut p = Pair::grpc(ClientConfig::default(), ServerConfig::default(), 7);
        let budget = QueueBudget::new(1500);
        let mut svc = TestService::new(budget.clone());
        // One call asking for more than a call may hold: RESOURCE_EXHAUSTED.
        let over = ask(&mut p, MAX_QUEUED_PER_CALL + 1, false);
        // Two calls within the per-call bound, but over the loop's budget
        // together: the second is refused.
        let first = ask(&mut p, 1000, false);
        let done = run(&mut p, &mut svc);
        assert_eq!(done, [(over, Code::ResourceExhausted)]);
        assert_eq!(budget.left(), 500);
        let second = ask(&mut p, 1000, false);
        let done = run(&mut p, &mut svc);
        assert_eq!(done, [(second, Code::ResourceExhausted)]);
        // Cancelling the first returns its share.
        p.client.cancel(first);
        run(&mut p, &mut svc);
        assert_eq!(budget.left(), 1500);
        assert_eq!(svc.active_calls(), 0);
    }

    #[test]
    fn a_response_larger_than_the_limit_is_refused_before_it_is_built() {
        let mut p = Pair::grpc(ClientConfig::default(), ServerConfig::default(), 7);
        let mut svc = TestService::new(QueueBudget::new(10));
        let req = CallRequest::new("/grpc.testing.TestService/UnaryCall", "test");
        let call = p.client.start_call(p.now, req).unwrap();
        let msg = SimpleRequest { response_size: i32::MAX, ..Default::default() };
        p.client.send_last_message(call, msg.encode_to_vec().into()).unwrap();
        assert_eq!(run(&mut p, &mut svc), [(call, Code::ResourceExhausted)]);
    }
}
