//! Frame-factory tests for malformed gRPC input: hand-built frames fed to one
//! gRPC core, asserting the status or HTTP response it produces.

use std::time::Instant;

use bytes::{Bytes, BytesMut};
use weir_core::ErrorCode;
use weir_core::conn::PREFACE;
use weir_core::frame::{
    Data, Frame, FrameDecoder, Headers as HeadersFrame, Settings, SettingsFrame, StreamId,
};
use weir_core::grpc::{
    CallRequest, Client, ClientConfig, ClientEvent, Code, Server, ServerConfig, ServerEvent, codec::prefix,
};
use weir_core::hpack::{Decoder, Encoder, HeaderField};

/// A hand-driven HTTP/2 peer around one gRPC core.
struct Raw<E> {
    core: E,
    now: Instant,
    enc: Encoder,
    dec: Decoder,
    frames: FrameDecoder,
    out: BytesMut,
}

trait Core {
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
type Fields = Vec<(String, String)>;

impl<E: Core> Raw<E> {
    fn new(core: E, now: Instant) -> Self {
        Raw {
            core,
            now,
            enc: Encoder::new(),
            dec: Decoder::new(4096),
            frames: FrameDecoder::new(1 << 24),
            out: BytesMut::new(),
        }
    }

    fn send(&mut self, f: Frame) {
        let mut b = Vec::new();
        f.encode(&mut b);
        self.core.input(self.now, &b);
    }

    fn headers(&mut self, id: u32, fields: &[(&str, &str)], end_stream: bool) {
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

    fn data(&mut self, id: u32, payload: &[u8], end_stream: bool) {
        self.send(Frame::Data(Data {
            stream_id: StreamId(id),
            data: Bytes::copy_from_slice(payload),
            end_stream,
            pad_len: None,
        }));
    }

    /// Output frames, with header blocks decoded.
    fn take(&mut self) -> (Vec<Frame>, Vec<(u32, Fields, bool)>) {
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

fn get<'a>(fields: &'a Fields, name: &str) -> Option<&'a str> {
    fields.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
}

fn server() -> Raw<Server> {
    let now = Instant::now();
    let mut r = Raw::new(Server::new(ServerConfig::default(), now), now);
    r.core.input(now, PREFACE);
    r.send(Frame::Settings(SettingsFrame { ack: false, settings: Settings::default() }));
    r.take();
    r
}

const GRPC_REQUEST: &[(&str, &str)] = &[
    (":method", "POST"),
    (":scheme", "http"),
    (":path", "/pkg.Svc/Do"),
    (":authority", "x"),
    ("content-type", "application/grpc"),
    ("te", "trailers"),
];

fn framed(msg: &[u8]) -> Vec<u8> {
    let mut v = prefix(false, msg.len() as u32).to_vec();
    v.extend_from_slice(msg);
    v
}

/// The grpc-status the server answered on stream 1 (trailers or trailers-only).
fn answered_status(r: &mut Raw<Server>) -> Option<String> {
    let (_, blocks) = r.take();
    blocks.iter().rev().find_map(|(id, f, end)| {
        (*id == 1 && *end).then(|| get(f, "grpc-status").map(str::to_owned)).flatten()
    })
}

#[test]
fn truncated_message_at_end_of_stream_is_internal() {
    let mut r = server();
    r.headers(1, GRPC_REQUEST, false);
    let mut m = framed(b"hello");
    m.truncate(7);
    r.data(1, &m, true);
    let ev: Vec<_> = std::iter::from_fn(|| r.core.poll_event()).collect();
    assert!(
        ev.iter()
            .any(|e| matches!(e, ServerEvent::Cancelled { reason, .. } if reason.code == Code::Internal)),
        "{ev:?}"
    );
    assert_eq!(answered_status(&mut r).as_deref(), Some("13"));
}

#[test]
fn length_over_the_limit_is_resource_exhausted() {
    let mut r = server();
    r.headers(1, GRPC_REQUEST, false);
    r.data(1, &prefix(false, (4 << 20) + 1), false);
    assert_eq!(answered_status(&mut r).as_deref(), Some("8"));
}

#[test]
fn compressed_flag_without_encoding_is_internal() {
    let mut r = server();
    r.headers(1, GRPC_REQUEST, false);
    let mut m = framed(b"abc");
    m[0] = 1;
    r.data(1, &m, true);
    let ev: Vec<_> = std::iter::from_fn(|| r.core.poll_event()).collect();
    let call = ev
        .iter()
        .find_map(|e| match e {
            ServerEvent::Message { call } => Some(*call),
            _ => None,
        })
        .expect("message reported");
    let err = r.core.recv_message(call).unwrap_err();
    assert_eq!(err.code, Code::Internal);
    assert_eq!(answered_status(&mut r).as_deref(), Some("13"));
}

#[test]
fn invalid_grpc_timeout_is_internal_trailers_only() {
    for bad in ["1.5S", "123456789S", "10s", "S", ""] {
        let mut r = server();
        let mut fields = GRPC_REQUEST.to_vec();
        fields.push(("grpc-timeout", bad));
        r.headers(1, &fields, true);
        let ev: Vec<_> = std::iter::from_fn(|| r.core.poll_event()).collect();
        assert!(ev.is_empty(), "no call for {bad:?}: {ev:?}");
        let (_, blocks) = r.take();
        let (_, f, end) = &blocks[0];
        assert!(*end, "trailers-only");
        assert_eq!(get(f, ":status"), Some("200"));
        assert_eq!(get(f, "grpc-status"), Some("13"), "{bad:?}");
    }
}

/// PROTOCOL-HTTP2 "Timeouts": on expiry the server cancels the call. As
/// grpc-core does, it answers DEADLINE_EXCEEDED and then resets with NO_ERROR
/// (RFC 9113 §8.1) while the client is still sending: grpcio reports any
/// CANCEL reset as CANCELLED, even one after the trailers.
#[test]
fn expired_deadline_sends_status_4_then_no_error_reset() {
    let mut r = server();
    let mut fields = GRPC_REQUEST.to_vec();
    fields.push(("grpc-timeout", "5m"));
    r.headers(1, &fields, false);
    r.take();
    r.now += std::time::Duration::from_millis(6);
    let now = r.now;
    r.core.handle_timeout(now);
    let ev: Vec<_> = std::iter::from_fn(|| r.core.poll_event()).collect();
    assert!(
        ev.iter().any(
            |e| matches!(e, ServerEvent::Cancelled { reason, .. } if reason.code == Code::DeadlineExceeded)
        ),
        "{ev:?}"
    );
    let (frames, blocks) = r.take();
    let trailers = blocks.iter().find(|(id, _, end)| *id == 1 && *end).expect("trailers sent");
    assert_eq!(get(&trailers.1, "grpc-status"), Some("4"));
    let headers_at = frames.iter().position(|f| matches!(f, Frame::Headers(_))).unwrap();
    let reset_at = frames
        .iter()
        .position(|f| matches!(f, Frame::RstStream(rs) if rs.error_code == ErrorCode::NO_ERROR))
        .expect("RST_STREAM(NO_ERROR) sent");
    assert!(headers_at < reset_at, "{frames:?}");
}

#[test]
fn non_grpc_content_type_gets_415_with_a_body() {
    let mut r = server();
    r.headers(
        1,
        &[(":method", "POST"), (":scheme", "http"), (":path", "/"), ("content-type", "application/json")],
        true,
    );
    let (frames, blocks) = r.take();
    let (_, f, end) = &blocks[0];
    assert_eq!(get(f, ":status"), Some("415"));
    assert!(!end, "a body follows");
    let body = frames.iter().find_map(|fr| match fr {
        Frame::Data(d) => Some(d.clone()),
        _ => None,
    });
    let body = body.expect("DATA body");
    assert!(body.end_stream && !body.data.is_empty());
    assert!(String::from_utf8_lossy(&body.data).contains("content-type"));
}

#[test]
fn missing_path_is_a_malformed_request() {
    // RFC 9113 §8.3.1: a request without :path is malformed: RST_STREAM PROTOCOL_ERROR.
    let mut r = server();
    r.headers(1, &[(":method", "POST"), (":scheme", "http"), ("content-type", "application/grpc")], true);
    let (frames, _) = r.take();
    assert!(
        frames.iter().any(|f| matches!(f, Frame::RstStream(x) if x.error_code == ErrorCode::PROTOCOL_ERROR)),
        "{frames:?}"
    );
}

#[test]
fn malformed_method_path_is_unimplemented() {
    let mut r = server();
    let mut fields = GRPC_REQUEST.to_vec();
    fields[2] = (":path", "/no-method");
    r.headers(1, &fields, true);
    assert_eq!(answered_status(&mut r).as_deref(), Some("12"));
}

#[test]
fn non_post_method_is_rejected() {
    let mut r = server();
    let mut fields = GRPC_REQUEST.to_vec();
    fields[0] = (":method", "GET");
    r.headers(1, &fields, true);
    let (_, blocks) = r.take();
    assert_eq!(get(&blocks[0].1, ":status"), Some("405"));
}

#[test]
fn messages_split_at_every_byte_reach_the_server_intact() {
    let mut wire = framed(b"first message");
    wire.extend(framed(&[7u8; 40]));
    wire.extend(framed(b""));
    for cut in 0..=wire.len() {
        let mut r = server();
        r.headers(1, GRPC_REQUEST, false);
        r.data(1, &wire[..cut], false);
        r.data(1, &wire[cut..], true);
        let call = weir_core::grpc::CallId(StreamId(1));
        let mut got = Vec::new();
        while let weir_core::grpc::RecvMessage::Message(m) = r.core.recv_message(call).unwrap() {
            got.push(m);
        }
        assert_eq!(
            got,
            vec![Bytes::from_static(b"first message"), Bytes::from(vec![7u8; 40]), Bytes::new()],
            "cut {cut}"
        );
    }
}

// ----- client side: broken responses --------------------------------------------

fn client() -> (Raw<Client>, weir_core::grpc::CallId) {
    let now = Instant::now();
    let mut r = Raw::new(Client::new(ClientConfig::default(), now), now);
    let call = r.core.start_call(now, CallRequest::new("/pkg.Svc/Do", "x")).unwrap();
    r.core.send_last_message(call, Bytes::new()).unwrap();
    r.send(Frame::Settings(SettingsFrame { ack: false, settings: Settings::default() }));
    let mut sink = Vec::new();
    while r.core.output(now, &mut sink) > 0 {}
    (r, call)
}

fn client_status(r: &mut Raw<Client>) -> weir_core::grpc::Status {
    std::iter::from_fn(|| r.core.poll_event())
        .find_map(|e| match e {
            ClientEvent::Finished { status, .. } => Some(status),
            _ => None,
        })
        .expect("finished")
}

#[test]
fn http_error_status_maps_to_grpc_codes() {
    for (http, code) in [
        ("404", Code::Unimplemented),
        ("503", Code::Unavailable),
        ("401", Code::Unauthenticated),
        ("500", Code::Unknown),
    ] {
        let (mut r, _) = client();
        r.headers(1, &[(":status", http), ("content-type", "text/html")], true);
        assert_eq!(client_status(&mut r).code, code, "HTTP {http}");
    }
}

#[test]
fn missing_grpc_status_is_unknown_and_truncated_response_is_internal() {
    let (mut r, _) = client();
    r.headers(1, &[(":status", "200"), ("content-type", "application/grpc")], false);
    r.headers(1, &[("x-other", "1")], true);
    assert_eq!(client_status(&mut r).code, Code::Unknown);

    let (mut r, _) = client();
    r.headers(1, &[(":status", "200"), ("content-type", "application/grpc")], false);
    r.data(1, &framed(b"hello")[..6], false);
    r.headers(1, &[("grpc-status", "0")], true);
    assert_eq!(client_status(&mut r).code, Code::Internal);
}

#[test]
fn server_reset_maps_to_status() {
    let (mut r, _) = client();
    r.send(Frame::RstStream(weir_core::frame::RstStream {
        stream_id: StreamId(1),
        error_code: ErrorCode::REFUSED_STREAM,
    }));
    assert_eq!(client_status(&mut r).code, Code::Unavailable);
    let (mut r, _) = client();
    r.send(Frame::RstStream(weir_core::frame::RstStream {
        stream_id: StreamId(1),
        error_code: ErrorCode::ENHANCE_YOUR_CALM,
    }));
    assert_eq!(client_status(&mut r).code, Code::ResourceExhausted);
}
