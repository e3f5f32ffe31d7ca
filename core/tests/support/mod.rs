//! Frame-factory helpers: drive one side of a connection with hand-built
//! frames and read back exactly what it answers.
#![allow(dead_code)]

use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use weir_core::conn::{Config, Connection, Event, PREFACE, Role};
use weir_core::frame::{
    Data, Frame, FrameDecoder, GoAway, HeaderBlockKind, Headers as HeadersFrame, MAX_MAX_FRAME_SIZE,
    RstStream, Settings, SettingsFrame, StreamId, encode_header_block,
};
use weir_core::hpack::{Encoder, HeaderField};
use weir_core::{ErrorCode, headers::Headers};

/// One connection under test plus a fake peer.
pub struct Peer {
    pub conn: Connection,
    pub now: Instant,
    pub enc: Encoder,
    decoder: FrameDecoder,
    out: BytesMut,
}

impl Peer {
    /// A server that has received the client preface and an empty SETTINGS, and
    /// whose own preface output was drained.
    pub fn server(config: Config) -> Self {
        let now = Instant::now();
        let mut p = Peer::raw(Connection::new(Role::Server, config, now), now);
        p.conn.handle_input(now, PREFACE);
        p.send(settings(Settings::default()));
        p.take_frames();
        p.send(settings_ack());
        p.drain_events();
        p
    }

    /// A client that has received the server's SETTINGS.
    pub fn client(config: Config) -> Self {
        let now = Instant::now();
        let mut p = Peer::raw(Connection::new(Role::Client, config, now), now);
        let mut preface = Vec::new();
        p.conn.poll_transmit(now, &mut preface);
        assert!(preface.starts_with(PREFACE));
        p.send(settings(Settings::default()));
        p.send(settings_ack());
        p.take_frames();
        p.drain_events();
        p
    }

    /// A connection with nothing exchanged yet.
    pub fn raw(conn: Connection, now: Instant) -> Self {
        Peer {
            conn,
            now,
            enc: Encoder::new(),
            decoder: FrameDecoder::new(MAX_MAX_FRAME_SIZE),
            out: BytesMut::new(),
        }
    }

    pub fn send(&mut self, frame: Frame) {
        let mut buf = Vec::new();
        frame.encode(&mut buf);
        self.conn.handle_input(self.now, &buf);
    }

    pub fn send_raw(&mut self, bytes: &[u8]) {
        self.conn.handle_input(self.now, bytes);
    }

    pub fn advance(&mut self, d: Duration) {
        self.now += d;
        self.conn.handle_timeout(self.now);
    }

    /// Everything the connection wants to send now, decoded.
    pub fn take_frames(&mut self) -> Vec<Frame> {
        let mut buf = Vec::new();
        while self.conn.poll_transmit(self.now, &mut buf) > 0 {}
        self.out.extend_from_slice(&buf);
        let mut frames = Vec::new();
        while let Some(f) = self.decoder.decode(&mut self.out).expect("connection sent a valid frame") {
            frames.push(f);
        }
        frames
    }

    pub fn drain_events(&mut self) -> Vec<Event> {
        std::iter::from_fn(|| self.conn.poll_event()).collect()
    }

    /// HPACK-encodes fields into one block.
    pub fn block(&mut self, fields: &[(&str, &str)]) -> Vec<u8> {
        let fields: Vec<HeaderField> = fields
            .iter()
            .map(|(n, v)| {
                HeaderField::new(Bytes::copy_from_slice(n.as_bytes()), Bytes::copy_from_slice(v.as_bytes()))
            })
            .collect();
        let mut block = Vec::new();
        self.enc.encode(&fields, &mut block);
        block
    }

    /// A complete HEADERS frame.
    pub fn headers(&mut self, id: u32, fields: &[(&str, &str)], end_stream: bool) -> Frame {
        let block = self.block(fields);
        Frame::Headers(HeadersFrame {
            stream_id: StreamId(id),
            fragment: Bytes::from(block),
            end_stream,
            end_headers: true,
            priority: None,
            pad_len: None,
        })
    }

    /// Sends a GET-like gRPC request's HEADERS on `id`.
    pub fn request(&mut self, id: u32, end_stream: bool) {
        let f = self.headers(id, REQUEST, end_stream);
        self.send(f);
    }

    /// Sends a raw header block split into HEADERS + CONTINUATION of `max` octets.
    pub fn send_block(&mut self, id: u32, block: &[u8], end_stream: bool, max: u32) {
        let mut wire = Vec::new();
        encode_header_block(
            HeaderBlockKind::Headers { end_stream, priority: None },
            StreamId(id),
            block,
            max,
            &mut wire,
        );
        self.send_raw(&wire);
    }
}

pub const REQUEST: &[(&str, &str)] = &[
    (":method", "POST"),
    (":scheme", "http"),
    (":authority", "localhost"),
    (":path", "/pkg.Svc/Method"),
    ("content-type", "application/grpc"),
    ("te", "trailers"),
];

pub fn settings(s: Settings) -> Frame {
    Frame::Settings(SettingsFrame { ack: false, settings: s })
}

pub fn settings_ack() -> Frame {
    Frame::Settings(SettingsFrame { ack: true, settings: Settings::default() })
}

pub fn data(id: u32, payload: &'static [u8], end_stream: bool) -> Frame {
    Frame::Data(Data {
        stream_id: StreamId(id),
        data: Bytes::from_static(payload),
        end_stream,
        pad_len: None,
    })
}

pub fn rst(id: u32, code: ErrorCode) -> Frame {
    Frame::RstStream(RstStream { stream_id: StreamId(id), error_code: code })
}

/// The GOAWAY among `frames`, if any.
pub fn goaway(frames: &[Frame]) -> Option<&GoAway> {
    frames.iter().find_map(|f| match f {
        Frame::GoAway(g) => Some(g),
        _ => None,
    })
}

/// The RST_STREAM codes among `frames`, by stream.
pub fn resets(frames: &[Frame]) -> Vec<(u32, ErrorCode)> {
    frames
        .iter()
        .filter_map(|f| match f {
            Frame::RstStream(r) => Some((r.stream_id.0, r.error_code)),
            _ => None,
        })
        .collect()
}

/// Asserts the connection answered with GOAWAY `code` and closed.
#[track_caller]
pub fn assert_goaway(p: &mut Peer, code: ErrorCode) {
    let frames = p.take_frames();
    let g = goaway(&frames).unwrap_or_else(|| panic!("expected GOAWAY {code:?}, got {frames:?}"));
    assert_eq!(g.error_code, code, "GOAWAY code");
    assert!(p.conn.is_closed(), "connection closed after GOAWAY");
    let events = p.drain_events();
    assert!(
        events.iter().any(|e| matches!(e, Event::Closed { error: Some(err) } if err.code == code)),
        "Closed event with {code:?}: {events:?}"
    );
}

/// Asserts the connection answered with RST_STREAM `code` on `id` and stayed open.
#[track_caller]
pub fn assert_reset(p: &mut Peer, id: u32, code: ErrorCode) {
    let frames = p.take_frames();
    assert!(goaway(&frames).is_none(), "no GOAWAY expected: {frames:?}");
    assert!(resets(&frames).contains(&(id, code)), "expected RST_STREAM {id} {code:?}, got {frames:?}");
    assert!(!p.conn.is_closed());
}

/// A request's header section for `open_stream`.
pub fn request_headers() -> Headers {
    let mut h = Headers::request("POST", "http", "localhost", "/pkg.Svc/Method");
    h.push("content-type", "application/grpc");
    h
}
