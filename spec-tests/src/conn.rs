//! [`H2Conn`]: the suite's side of a connection, modelled on h2spec's `Conn`:
//! a raw frame writer, an HPACK encoder, and the `Verify*` checks with the
//! same meaning as h2spec's (`spec/verifier.go`), only stricter where h2spec
//! lets a wrong error code pass.

use std::collections::VecDeque;
use std::fmt::Write as _;

use bytes::Bytes;
use weir_core::ErrorCode;
use weir_core::conn::{Config, Event, PREFACE};
use weir_core::frame::{Frame, StreamId};
use weir_core::headers::Headers;
use weir_core::hpack::{Decoder, Encoder, HeaderField};

use crate::frames::{self, HeadersParam, Priority, setting};
use crate::target::{InMemoryClient, Target};

/// A decoded header list, as `(name, value)` text pairs.
pub type Fields = Vec<(String, String)>;

/// A frame from the endpoint, with its field block decoded when it carries one.
#[derive(Clone, Debug)]
pub struct Received {
    /// The frame.
    pub frame: Frame,
    /// The decoded header list (HEADERS, PUSH_PROMISE; on the frame that
    /// starts the block, once its END_HEADERS arrived).
    pub fields: Option<Fields>,
}

impl Received {
    /// The value of field `name`, if the frame carried a block with it.
    pub fn field(&self, name: &str) -> Option<&str> {
        self.fields.as_ref()?.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
    }
}

/// The default `SETTINGS_INITIAL_WINDOW_SIZE` (h2spec's `DefaultWindowSize`).
pub const DEFAULT_WINDOW_SIZE: u32 = 65_535;

/// h2spec's default `MaxHeaderLen`: the length of each dummy header value.
pub const DUMMY_HEADER_LEN: usize = 4000;

/// The suite's end of one connection to a [`Target`].
pub struct H2Conn<T: Target> {
    /// The endpoint under test.
    pub target: T,
    /// HPACK encoder for what we send (its dynamic table persists, as in h2spec).
    pub encoder: Encoder,
    decoder: Decoder,
    /// Parameters of the first SETTINGS frame the endpoint sent.
    pub peer_settings: Vec<(u16, u32)>,
    pending: VecDeque<Received>,
    held: Vec<Received>,
    held_block: Vec<u8>,
    log: Vec<String>,
}

impl<T: Target> H2Conn<T> {
    /// A connection on which nothing was exchanged yet.
    pub fn new(target: T) -> Self {
        H2Conn {
            target,
            encoder: Encoder::new(),
            decoder: Decoder::new(weir_core::hpack::DEFAULT_TABLE_SIZE),
            peer_settings: Vec::new(),
            pending: VecDeque::new(),
            held: Vec::new(),
            held_block: Vec::new(),
            log: Vec::new(),
        }
    }

    // ----- writing --------------------------------------------------------------

    /// Sends raw octets.
    pub fn send(&mut self, bytes: &[u8]) {
        self.target.send(bytes);
    }

    /// HPACK-encodes a header list with our (persistent) encoder.
    pub fn encode_headers<N: AsRef<[u8]>, V: AsRef<[u8]>>(&mut self, list: &[(N, V)]) -> Vec<u8> {
        let mut block = Vec::new();
        self.encoder.begin_block(&mut block);
        for (n, v) in list {
            self.encoder.encode_field(n.as_ref(), v.as_ref(), false, &mut block);
        }
        block
    }

    /// Sends DATA.
    pub fn write_data(&mut self, stream: u32, end_stream: bool, data: &[u8]) {
        self.send(&frames::data(stream, end_stream, data));
    }

    /// Sends DATA with padding.
    pub fn write_data_padded(&mut self, stream: u32, end_stream: bool, data: &[u8], padding: &[u8]) {
        self.send(&frames::data_padded(stream, end_stream, data, padding));
    }

    /// Sends HEADERS.
    pub fn write_headers(&mut self, p: HeadersParam) {
        self.send(&frames::headers(&p));
    }

    /// Encodes `list` and sends it as one HEADERS frame with END_HEADERS.
    pub fn write_request<N: AsRef<[u8]>, V: AsRef<[u8]>>(
        &mut self,
        stream: u32,
        list: &[(N, V)],
        end_stream: bool,
    ) {
        let block = self.encode_headers(list);
        self.write_headers(HeadersParam {
            stream,
            block,
            end_stream,
            end_headers: true,
            ..Default::default()
        });
    }

    /// Sends PRIORITY.
    pub fn write_priority(&mut self, stream: u32, p: Priority) {
        self.send(&frames::priority(stream, p));
    }

    /// Sends RST_STREAM.
    pub fn write_rst_stream(&mut self, stream: u32, code: ErrorCode) {
        self.send(&frames::rst_stream(stream, code.0));
    }

    /// Sends SETTINGS with these parameters.
    pub fn write_settings(&mut self, params: &[(u16, u32)]) {
        self.send(&frames::settings(params));
    }

    /// Sends a SETTINGS ACK.
    pub fn write_settings_ack(&mut self) {
        self.send(&frames::settings_ack());
    }

    /// Sends PUSH_PROMISE.
    pub fn write_push_promise(&mut self, stream: u32, promised: u32, end_headers: bool, block: &[u8]) {
        self.send(&frames::push_promise(stream, promised, end_headers, block));
    }

    /// Sends PING.
    pub fn write_ping(&mut self, ack: bool, payload: [u8; 8]) {
        self.send(&frames::ping(ack, payload));
    }

    /// Sends GOAWAY.
    pub fn write_goaway(&mut self, last_stream: u32, code: ErrorCode, debug: &[u8]) {
        self.send(&frames::goaway(last_stream, code.0, debug));
    }

    /// Sends WINDOW_UPDATE.
    pub fn write_window_update(&mut self, stream: u32, increment: u32) {
        self.send(&frames::window_update(stream, increment));
    }

    /// Sends CONTINUATION.
    pub fn write_continuation(&mut self, stream: u32, end_headers: bool, block: &[u8]) {
        self.send(&frames::continuation(stream, end_headers, block));
    }

    // ----- h2spec's header helpers ----------------------------------------------

    /// h2spec's `CommonHeaders`: `:method GET`, `:scheme http`, `:path /`,
    /// `:authority` (in that order; cases index into it).
    pub fn common_headers(&self) -> Fields {
        fields(&[(":method", "GET"), (":scheme", "http"), (":path", "/"), (":authority", "localhost")])
    }

    /// [`H2Conn::common_headers`] with another `:method` (h2spec's
    /// `headers[0].Value = "POST"`).
    pub fn common_headers_with(&self, method: &str) -> Fields {
        let mut h = self.common_headers();
        h[0].1 = method.to_string();
        h
    }

    /// h2spec's `DummyHeaders(c, n)`: `x-dummy<i>` fields of 4000 `x`s.
    pub fn dummy_headers(&self, n: usize) -> Fields {
        let v = "x".repeat(DUMMY_HEADER_LEN);
        (0..n).map(|i| (format!("x-dummy{i}"), v.clone())).collect()
    }

    /// A parameter of the endpoint's first SETTINGS frame.
    pub fn peer_setting(&self, id: u16) -> Option<u32> {
        self.peer_settings.iter().rev().find(|(i, _)| *i == id).map(|(_, v)| *v)
    }

    /// h2spec's `MaxFrameSize`: the endpoint's SETTINGS_MAX_FRAME_SIZE or 2^14.
    pub fn max_frame_size(&self) -> usize {
        self.peer_setting(setting::MAX_FRAME_SIZE).unwrap_or(1 << 14) as usize
    }

    // ----- handshakes -------------------------------------------------------------

    /// h2spec's `Handshake` (the suite is the client): the preface and a
    /// SETTINGS with INITIAL_WINDOW_SIZE 65535, then waits for the server's
    /// SETTINGS (acknowledged) and the ACK of ours.
    #[track_caller]
    pub fn handshake(&mut self) {
        self.send(PREFACE);
        self.write_settings(&[(setting::INITIAL_WINDOW_SIZE, DEFAULT_WINDOW_SIZE)]);
        self.settings_exchange();
    }

    /// The server side of the handshake (the suite is the server): our
    /// SETTINGS with `params`, the ACK of the client's, and the wait for the
    /// ACK of ours.
    #[track_caller]
    pub fn accept(&mut self, params: &[(u16, u32)]) {
        self.write_settings(params);
        self.settings_exchange();
    }

    #[track_caller]
    fn settings_exchange(&mut self) {
        let (mut remote, mut local) = (false, false);
        while !(remote && local) {
            let Some(r) = self.next_frame() else {
                panic!("handshake did not complete; received:\n{}", self.history());
            };
            match r.frame {
                Frame::Settings(s) if s.ack => local = true,
                Frame::Settings(s) => {
                    assert!(!remote, "a second SETTINGS before the handshake finished");
                    remote = true;
                    self.peer_settings = s.settings.iter().map(|(id, v)| (id as u16, v)).collect();
                    self.write_settings_ack();
                }
                _ => {}
            }
        }
    }

    // ----- reading ----------------------------------------------------------------

    /// The next frame from the endpoint, or `None` when nothing more arrives.
    pub fn next_frame(&mut self) -> Option<Received> {
        if self.pending.is_empty() {
            self.pull();
        }
        self.pending.pop_front()
    }

    /// Everything the endpoint sends now (until nothing more arrives).
    pub fn drain(&mut self) -> Vec<Received> {
        std::iter::from_fn(|| self.next_frame()).collect()
    }

    fn pull(&mut self) {
        for frame in self.target.recv_frames() {
            self.log.push(describe(&frame));
            let block = match &frame {
                Frame::Headers(h) => Some((h.fragment.clone(), h.end_headers)),
                Frame::PushPromise(p) => Some((p.fragment.clone(), p.end_headers)),
                Frame::Continuation(c) if !self.held.is_empty() => Some((c.fragment.clone(), c.end_headers)),
                _ => None,
            };
            let entry = Received { frame, fields: None };
            match block {
                None if self.held.is_empty() => self.pending.push_back(entry),
                None => self.held.push(entry),
                Some((fragment, end)) => {
                    self.held_block.extend_from_slice(&fragment);
                    self.held.push(entry);
                    if end {
                        let block = Bytes::from(std::mem::take(&mut self.held_block));
                        let mut list = Vec::new();
                        self.decoder
                            .decode(&block, usize::MAX, |f| {
                                list.push((
                                    String::from_utf8_lossy(&f.name).into_owned(),
                                    String::from_utf8_lossy(&f.value).into_owned(),
                                ))
                            })
                            .unwrap_or_else(|e| panic!("the endpoint sent an undecodable block: {e:?}"));
                        let mut held = std::mem::take(&mut self.held).into_iter();
                        if let Some(mut first) = held.next() {
                            first.fields = Some(list);
                            self.pending.push_back(first);
                        }
                        self.pending.extend(held);
                    }
                }
            }
        }
    }

    /// Every frame received so far, one per line (for failure messages).
    pub fn history(&self) -> String {
        let mut s = String::new();
        for (i, l) in self.log.iter().enumerate() {
            let _ = writeln!(s, "  {i:3}: {l}");
        }
        if self.target.is_closed() {
            s.push_str("  (connection closed)\n");
        }
        s
    }

    /// Skips frames until one satisfies `pred`; `None` when nothing more came.
    pub fn wait_for(&mut self, mut pred: impl FnMut(&Frame) -> bool) -> Option<Received> {
        loop {
            let r = self.next_frame()?;
            if pred(&r.frame) {
                return Some(r);
            }
        }
    }

    // ----- h2spec's verifiers -----------------------------------------------------

    /// `VerifyConnectionError`: a GOAWAY with one of `codes`, or the
    /// connection closing without one. A GOAWAY with any other code fails
    /// (h2spec would wait for the close and pass).
    #[track_caller]
    pub fn verify_connection_error(&mut self, codes: &[ErrorCode]) {
        loop {
            match self.next_frame().map(|r| r.frame) {
                Some(Frame::GoAway(g)) if codes.contains(&g.error_code) => return,
                Some(Frame::GoAway(g)) => {
                    panic!(
                        "expected GOAWAY {codes:?}, got GOAWAY {:?}; received:\n{}",
                        g.error_code,
                        self.history()
                    )
                }
                Some(_) => {}
                None if self.target.is_closed() => return,
                None => panic!(
                    "expected a connection error {codes:?} (GOAWAY or close); received:\n{}",
                    self.history()
                ),
            }
        }
    }

    /// `VerifyStreamError`: RST_STREAM on `stream` or GOAWAY with one of
    /// `codes`, or the connection closing. A RST_STREAM on `stream` or a
    /// GOAWAY with another code fails.
    #[track_caller]
    pub fn verify_stream_error(&mut self, stream: u32, codes: &[ErrorCode]) {
        loop {
            match self.next_frame().map(|r| r.frame) {
                Some(Frame::RstStream(r)) if r.stream_id.0 == stream => {
                    assert!(
                        codes.contains(&r.error_code),
                        "expected RST_STREAM {codes:?} on stream {stream}, got {:?}; received:\n{}",
                        r.error_code,
                        self.history()
                    );
                    return;
                }
                Some(Frame::GoAway(g)) => {
                    assert!(
                        codes.contains(&g.error_code),
                        "expected RST_STREAM/GOAWAY {codes:?}, got GOAWAY {:?}; received:\n{}",
                        g.error_code,
                        self.history()
                    );
                    return;
                }
                Some(_) => {}
                None if self.target.is_closed() => return,
                None => panic!(
                    "expected a stream error {codes:?} on stream {stream} (RST_STREAM, GOAWAY or close); \
                     received:\n{}",
                    self.history()
                ),
            }
        }
    }

    /// `VerifyConnectionClose`: the endpoint closes the connection.
    #[track_caller]
    pub fn verify_connection_close(&mut self) {
        while self.next_frame().is_some() {}
        assert!(self.target.is_closed(), "expected the connection to close; received:\n{}", self.history());
    }

    /// `VerifyStreamClose`: a DATA or HEADERS frame with END_STREAM on `stream`.
    #[track_caller]
    pub fn verify_stream_close(&mut self, stream: u32) {
        loop {
            match self.next_frame().map(|r| r.frame) {
                Some(Frame::Data(d)) if d.stream_id.0 == stream && d.end_stream => return,
                Some(Frame::Headers(h)) if h.stream_id.0 == stream && h.end_stream => return,
                Some(Frame::RstStream(r)) if r.stream_id.0 == stream => {
                    panic!("expected stream {stream} to end, got RST_STREAM {:?}", r.error_code)
                }
                Some(Frame::GoAway(g)) => {
                    panic!("expected stream {stream} to end, got GOAWAY {:?}", g.error_code)
                }
                Some(_) => {}
                None => panic!("expected END_STREAM on stream {stream}; received:\n{}", self.history()),
            }
        }
    }

    /// `VerifyHeadersFrame`: a response HEADERS frame (with `:status`) on `stream`.
    #[track_caller]
    pub fn verify_headers_frame(&mut self, stream: u32) -> Received {
        loop {
            let Some(r) = self.next_frame() else {
                panic!("expected HEADERS on stream {stream}; received:\n{}", self.history());
            };
            match &r.frame {
                Frame::Headers(h) if h.stream_id.0 == stream => {
                    assert!(r.field(":status").is_some(), "a response carries :status: {:?}", r.fields);
                    return r;
                }
                Frame::RstStream(x) if x.stream_id.0 == stream => {
                    panic!("expected HEADERS on stream {stream}, got RST_STREAM {:?}", x.error_code)
                }
                Frame::GoAway(g) => {
                    panic!("expected HEADERS on stream {stream}, got GOAWAY {:?}", g.error_code)
                }
                _ => {}
            }
        }
    }

    /// `WaitEventByType`: the next frame of the kind `pred` accepts, skipping
    /// others.
    #[track_caller]
    pub fn wait_frame(&mut self, what: &str, pred: impl FnMut(&Frame) -> bool) -> Received {
        match self.wait_for(pred) {
            Some(r) => r,
            None => panic!("expected {what}; received:\n{}", self.history()),
        }
    }

    /// `VerifyEventType(EventSettingsFrame)` followed by h2spec's ACK check:
    /// the next SETTINGS frame must have ACK set as `ack` says.
    #[track_caller]
    pub fn verify_settings(&mut self, ack: bool) {
        let r = self.wait_frame("a SETTINGS frame", |f| matches!(f, Frame::Settings(_)));
        let Frame::Settings(s) = r.frame else { unreachable!() };
        assert_eq!(s.ack, ack, "SETTINGS ACK flag; received:\n{}", self.history());
    }

    /// `VerifyPingFrameWithAck`: a PING with ACK echoing `payload`.
    #[track_caller]
    pub fn verify_ping_ack(&mut self, payload: [u8; 8]) {
        self.wait_frame("PING with ACK", |f| matches!(f, Frame::Ping(p) if p.ack && p.payload == payload));
    }

    /// `VerifyPingFrameOrConnectionClose`: a PING ACK echoing `payload`, or
    /// the connection closing.
    #[track_caller]
    pub fn verify_ping_ack_or_close(&mut self, payload: [u8; 8]) {
        if self.wait_for(|f| matches!(f, Frame::Ping(p) if p.ack && p.payload == payload)).is_none() {
            assert!(self.target.is_closed(), "expected a PING ACK or a close; received:\n{}", self.history());
        }
    }

    /// The next DATA frame (`WaitEventByType(EventDataFrame)`).
    #[track_caller]
    pub fn wait_data(&mut self) -> weir_core::frame::Data {
        match self.wait_frame("a DATA frame", |f| matches!(f, Frame::Data(_))).frame {
            Frame::Data(d) => d,
            _ => unreachable!(),
        }
    }

    /// Asserts the endpoint sent nothing that signals an error (no GOAWAY,
    /// no RST_STREAM) and did not close.
    #[track_caller]
    pub fn verify_no_error(&mut self) {
        for r in self.drain() {
            assert!(
                !matches!(r.frame, Frame::GoAway(_) | Frame::RstStream(_)),
                "unexpected {:?}; received:\n{}",
                r.frame,
                self.history()
            );
        }
        assert!(!self.target.is_closed(), "the connection closed; received:\n{}", self.history());
    }
}

/// `(name, value)` text pairs from string slices.
pub fn fields(list: &[(&str, &str)]) -> Fields {
    list.iter().map(|(n, v)| (n.to_string(), v.to_string())).collect()
}

fn describe(f: &Frame) -> String {
    match f {
        Frame::Data(d) => {
            format!("DATA stream={} len={} end_stream={}", d.stream_id, d.data.len(), d.end_stream)
        }
        Frame::Headers(h) => format!(
            "HEADERS stream={} end_stream={} end_headers={}",
            h.stream_id, h.end_stream, h.end_headers
        ),
        Frame::RstStream(r) => format!("RST_STREAM stream={} {:?}", r.stream_id, r.error_code),
        Frame::GoAway(g) => format!("GOAWAY last={} {:?}", g.last_stream_id, g.error_code),
        other => format!("{other:?}"),
    }
}

// ----- client role: the suite plays the server ------------------------------------

impl H2Conn<InMemoryClient> {
    /// A client `Connection` with `config`, past the handshake with a server
    /// that sent SETTINGS with `params`.
    #[track_caller]
    pub fn client_with(config: Config, params: &[(u16, u32)]) -> Self {
        let mut c = H2Conn::new(InMemoryClient::new(config));
        c.accept(params);
        c.target.take_events();
        c
    }

    /// A default client past the handshake with an empty server SETTINGS.
    #[track_caller]
    pub fn client() -> Self {
        H2Conn::client_with(Config::default(), &[])
    }

    /// Opens a stream with a request and waits for its HEADERS frame.
    #[track_caller]
    pub fn open(&mut self, headers: Headers, end_stream: bool) -> u32 {
        let id = self.target.conn.open_stream(headers, end_stream).expect("open_stream").0;
        self.wait_frame("the request HEADERS", |f| matches!(f, Frame::Headers(h) if h.stream_id.0 == id));
        id
    }

    /// Opens a stream with a `POST /` request.
    #[track_caller]
    pub fn open_post(&mut self, end_stream: bool) -> u32 {
        self.open(Headers::request("POST", "http", "localhost", "/"), end_stream)
    }

    /// Sends a response header section (`:status` first, then `extra`).
    pub fn respond(&mut self, stream: u32, status: &str, extra: &[(&str, &str)], end_stream: bool) {
        let mut list = vec![(":status", status)];
        list.extend_from_slice(extra);
        self.write_request(stream, &list, end_stream);
    }

    /// Takes the events the client reported so far.
    pub fn events(&mut self) -> Vec<Event> {
        self.target.take_events()
    }

    /// The id of a stream as the core types it.
    pub fn id(stream: u32) -> StreamId {
        StreamId(stream)
    }
}

/// Builds header fields for `Headers::fields`.
pub fn header_fields(list: &[(&str, &str)]) -> Vec<HeaderField> {
    list.iter().map(|(n, v)| HeaderField::new(n.to_string(), v.to_string())).collect()
}

#[cfg(test)]
mod tests {
    //! The verifiers must be able to fail: each is fed scripted frames and
    //! must reject the wrong code, the wrong stream and silence.

    use std::collections::VecDeque;
    use std::panic::{AssertUnwindSafe, catch_unwind};

    use weir_core::frame::{GoAway, Headers as HeadersFrame, Ping, RstStream};

    use super::*;

    /// A target that replays batches of frames, then reports silence
    /// (closed or not).
    struct Script {
        batches: VecDeque<Vec<Frame>>,
        close_at_end: bool,
        closed: bool,
    }

    impl Target for Script {
        fn send(&mut self, _: &[u8]) {}
        fn recv_frames(&mut self) -> Vec<Frame> {
            self.batches.pop_front().unwrap_or_else(|| {
                self.closed = self.close_at_end;
                Vec::new()
            })
        }
        fn is_closed(&self) -> bool {
            self.closed
        }
    }

    fn conn(frames: Vec<Frame>, close_at_end: bool) -> H2Conn<Script> {
        let batches = if frames.is_empty() { VecDeque::new() } else { VecDeque::from([frames]) };
        H2Conn::new(Script { batches, close_at_end, closed: false })
    }

    fn goaway(code: ErrorCode) -> Frame {
        Frame::GoAway(GoAway { last_stream_id: StreamId(0), error_code: code, debug_data: Bytes::new() })
    }

    fn rst(id: u32, code: ErrorCode) -> Frame {
        Frame::RstStream(RstStream { stream_id: StreamId(id), error_code: code })
    }

    fn passes(f: impl FnOnce()) -> bool {
        catch_unwind(AssertUnwindSafe(f)).is_ok()
    }

    #[test]
    fn connection_error_needs_the_code_or_a_close() {
        let p = ErrorCode::PROTOCOL_ERROR;
        assert!(passes(|| conn(vec![goaway(p)], false).verify_connection_error(&[p])));
        assert!(!passes(|| conn(vec![goaway(ErrorCode::NO_ERROR)], true).verify_connection_error(&[p])));
        assert!(passes(|| conn(vec![], true).verify_connection_error(&[p])));
        assert!(!passes(|| conn(vec![rst(1, p)], false).verify_connection_error(&[p])));
    }

    #[test]
    fn stream_error_needs_the_stream_and_the_code() {
        let sc = ErrorCode::STREAM_CLOSED;
        assert!(passes(|| conn(vec![rst(1, sc)], false).verify_stream_error(1, &[sc])));
        assert!(!passes(|| conn(vec![rst(1, ErrorCode::CANCEL)], false).verify_stream_error(1, &[sc])));
        assert!(!passes(|| conn(vec![rst(3, sc)], false).verify_stream_error(1, &[sc])));
        assert!(passes(|| conn(vec![goaway(sc)], false).verify_stream_error(1, &[sc])));
        assert!(!passes(|| conn(vec![goaway(ErrorCode::NO_ERROR)], false).verify_stream_error(1, &[sc])));
    }

    #[test]
    fn headers_frame_must_be_a_response() {
        let frame = |list: &[(&str, &str)]| {
            let mut block = Vec::new();
            let mut enc = Encoder::new();
            for (n, v) in list {
                enc.encode_field(n.as_bytes(), v.as_bytes(), false, &mut block);
            }
            Frame::Headers(HeadersFrame {
                stream_id: StreamId(1),
                fragment: Bytes::from(block),
                end_stream: true,
                end_headers: true,
                priority: None,
                pad_len: None,
            })
        };
        assert!(passes(|| {
            conn(vec![frame(&[(":status", "200")])], false).verify_headers_frame(1);
        }));
        assert!(!passes(|| {
            conn(vec![frame(&[("x", "y")])], false).verify_headers_frame(1);
        }));
        assert!(!passes(|| {
            conn(vec![rst(1, ErrorCode::PROTOCOL_ERROR)], false).verify_headers_frame(1);
        }));
    }

    #[test]
    fn ping_ack_must_echo_the_payload() {
        let ping = |ack, payload| Frame::Ping(Ping { ack, payload });
        assert!(passes(|| conn(vec![ping(true, [1; 8])], false).verify_ping_ack([1; 8])));
        assert!(!passes(|| conn(vec![ping(true, [2; 8])], false).verify_ping_ack([1; 8])));
        assert!(!passes(|| conn(vec![ping(false, [1; 8])], true).verify_ping_ack([1; 8])));
        assert!(!passes(|| conn(vec![goaway(ErrorCode::NO_ERROR)], false).verify_no_error()));
    }
}
