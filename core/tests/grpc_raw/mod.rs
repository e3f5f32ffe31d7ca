//! A hand-driven HTTP/2 peer around one gRPC core (frame-factory tests):
//! hand-built frames in, the core's frames and header blocks out.
#![allow(dead_code)]

use std::time::Instant;

use bytes::{Bytes, BytesMut};
use weir_core::conn::PREFACE;
use weir_core::frame::{
    Data, Frame, FrameDecoder, Headers as HeadersFrame, Settings, SettingsFrame, StreamId,
};
use weir_core::grpc::{CallRequest, Client, ClientConfig, ClientEvent, Server, ServerConfig, codec::prefix};
use weir_core::hpack::{Decoder, Encoder, HeaderField};

/// A hand-driven HTTP/2 peer around one gRPC core.
pub struct Raw<E> {
    pub core: E,
    pub now: Instant,
    enc: Encoder,
    dec: Decoder,
    frames: FrameDecoder,
    out: BytesMut,
}

pub trait Core {
    fn input(&mut self, now: Instant, b: &[u8]);
    fn output(&mut self, now: Instant, b: &mut Vec<u8>) -> usize;
}

impl Core for Server {
    fn input(&mut self, now: Instant, b: &[u8]) {
        self.handle_input(now, b)
    }
    fn output(&mut self, now: Instant, b: &mut Vec<u8>) -> usize {
        self.poll_transmit(now, b)
    }
}

impl Core for Client {
    fn input(&mut self, now: Instant, b: &[u8]) {
        self.handle_input(now, b)
    }
    fn output(&mut self, now: Instant, b: &mut Vec<u8>) -> usize {
        self.poll_transmit(now, b)
    }
}

/// A received header block, decoded.
pub type Fields = Vec<(String, String)>;

impl<E: Core> Raw<E> {
    pub fn new(core: E, now: Instant) -> Self {
        Raw {
            core,
            now,
            enc: Encoder::new(),
            dec: Decoder::new(4096),
            frames: FrameDecoder::new(1 << 24),
            out: BytesMut::new(),
        }
    }

    pub fn send(&mut self, f: Frame) {
        let mut b = Vec::new();
        f.encode(&mut b);
        self.core.input(self.now, &b);
    }

    pub fn headers(&mut self, id: u32, fields: &[(&str, &str)], end_stream: bool) {
        let list: Vec<HeaderField> = fields
            .iter()
            .map(|(n, v)| {
                HeaderField::new(Bytes::copy_from_slice(n.as_bytes()), Bytes::copy_from_slice(v.as_bytes()))
            })
            .collect();
        let mut block = Vec::new();
        self.enc.encode(&list, &mut block);
        self.send(Frame::Headers(HeadersFrame {
            stream_id: StreamId(id),
            fragment: block.into(),
            end_stream,
            end_headers: true,
            priority: None,
            pad_len: None,
        }));
    }

    pub fn data(&mut self, id: u32, payload: &[u8], end_stream: bool) {
        self.send(Frame::Data(Data {
            stream_id: StreamId(id),
            data: Bytes::copy_from_slice(payload),
            end_stream,
            pad_len: None,
        }));
    }

    /// Output frames, with header blocks decoded.
    pub fn take(&mut self) -> (Vec<Frame>, Vec<(u32, Fields, bool)>) {
        let mut buf = Vec::new();
        while self.core.output(self.now, &mut buf) > 0 {}
        self.out.extend_from_slice(&buf);
        let mut frames = Vec::new();
        let mut blocks = Vec::new();
        while let Some(f) = self.frames.decode(&mut self.out).unwrap() {
            if let Frame::Headers(h) = &f {
                let mut fields = Vec::new();
                self.dec
                    .decode(&h.fragment, 1 << 20, |hf| {
                        fields.push((
                            String::from_utf8_lossy(&hf.name).into_owned(),
                            String::from_utf8_lossy(&hf.value).into_owned(),
                        ))
                    })
                    .unwrap();
                blocks.push((h.stream_id.0, fields, h.end_stream));
            }
            frames.push(f);
        }
        (frames, blocks)
    }
}

pub fn get<'a>(fields: &'a Fields, name: &str) -> Option<&'a str> {
    fields.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
}

pub fn server() -> Raw<Server> {
    server_with(ServerConfig::default())
}

/// A server core past the preface and SETTINGS exchange.
pub fn server_with(config: ServerConfig) -> Raw<Server> {
    let now = Instant::now();
    let mut r = Raw::new(Server::new(config, now), now);
    r.core.input(now, PREFACE);
    r.send(Frame::Settings(SettingsFrame { ack: false, settings: Settings::default() }));
    r.take();
    r
}

pub const GRPC_REQUEST: &[(&str, &str)] = &[
    (":method", "POST"),
    (":scheme", "http"),
    (":path", "/pkg.Svc/Do"),
    (":authority", "x"),
    ("content-type", "application/grpc"),
    ("te", "trailers"),
];

pub fn framed(msg: &[u8]) -> Vec<u8> {
    let mut v = prefix(false, msg.len() as u32).to_vec();
    v.extend_from_slice(msg);
    v
}

/// The grpc-status the server answered on stream 1 (trailers or trailers-only).
pub fn answered_status(r: &mut Raw<Server>) -> Option<String> {
    let (_, blocks) = r.take();
    blocks.iter().rev().find_map(|(id, f, end)| {
        (*id == 1 && *end).then(|| get(f, "grpc-status").map(str::to_owned)).flatten()
    })
}

// ----- client side ------------------------------------------------------------

pub fn client() -> (Raw<Client>, weir_core::grpc::CallId) {
    let now = Instant::now();
    let mut r = Raw::new(Client::new(ClientConfig::default(), now), now);
    let call = r.core.start_call(now, CallRequest::new("/pkg.Svc/Do", "x")).unwrap();
    r.core.send_last_message(call, Bytes::new()).unwrap();
    r.send(Frame::Settings(SettingsFrame { ack: false, settings: Settings::default() }));
    let mut sink = Vec::new();
    while r.core.output(now, &mut sink) > 0 {}
    (r, call)
}

pub fn client_status(r: &mut Raw<Client>) -> weir_core::grpc::Status {
    std::iter::from_fn(|| r.core.poll_event())
        .find_map(|e| match e {
            ClientEvent::Finished { status, .. } => Some(status),
            _ => None,
        })
        .expect("finished")
}
