//! The seed corpora, generated rather than typed: valid frame sequences,
//! real header blocks (from Weir's own HPACK encoder), a client's requests
//! and a server's responses after the handshake, gRPC messages, and for the
//! structured targets inputs picked from a deterministic random search for
//! ones that exercise what matters (streams opened and delivered, table
//! changes...).
//!
//! `cargo run -p weir-fuzz-targets --bin gen-seeds` writes them to
//! `fuzz/corpus/<target>/seed-<name>`.

use arbitrary::{Arbitrary, Unstructured};
use bytes::Bytes;
use weir_core::ErrorCode;
use weir_core::frame::{
    Continuation, Data, Frame, GoAway, HeaderBlockKind, Headers as HeadersFrame, MAX_MAX_FRAME_SIZE,
    MAX_WINDOW_SIZE, Ping, Priority, PriorityFrame, PushPromise, RstStream, Settings, SettingsFrame,
    StreamId, Unknown, WindowUpdate, encode_header_block,
};
use weir_core::grpc::Compression;
use weir_core::grpc::codec::prefix;
use weir_core::grpc::compression::Gzip;
use weir_core::hpack::{Encoder, HeaderField, HuffmanPolicy, IndexPolicy};
use weir_core::sim::Rng;

use crate::drive::Header;
use crate::{hpack_roundtrip, pair_operations};

/// One seed: its target, a file-name suffix, and its octets.
#[derive(Clone, Debug)]
pub struct Seed {
    /// The target's name.
    pub target: &'static str,
    /// The seed's name (the file is `seed-<name>`).
    pub name: String,
    /// The input.
    pub data: Vec<u8>,
}

/// Every seed of every target.
pub fn all() -> Vec<Seed> {
    let mut out = Vec::new();
    let mut add = |target: &'static str, list: Vec<(String, Vec<u8>)>| {
        out.extend(list.into_iter().map(|(name, data)| Seed { target, name, data }));
    };
    add("frame_decoder", frame_decoder());
    add("hpack_decoder", hpack_decoder());
    add("hpack_roundtrip", hpack_roundtrip());
    add("server_connection", server_connection());
    add("client_connection", client_connection());
    add("grpc_message_decoder", grpc_message_decoder());
    add("pair_operations", pair_operations());
    add("http1_server", http1_server());
    add("http1_client", http1_client());
    add("grpc_web_decoder", grpc_web_decoder());
    out
}

fn b(s: &'static [u8]) -> Bytes {
    Bytes::from_static(s)
}

fn field(n: &str, v: &str) -> HeaderField {
    HeaderField::new(Bytes::copy_from_slice(n.as_bytes()), Bytes::copy_from_slice(v.as_bytes()))
}

fn fields(list: &[(&str, &str)]) -> Vec<HeaderField> {
    list.iter().map(|(n, v)| field(n, v)).collect()
}

const GRPC_REQUEST: &[(&str, &str)] = &[
    (":method", "POST"),
    (":scheme", "http"),
    (":path", "/helloworld.Greeter/SayHello"),
    (":authority", "localhost:50051"),
    ("content-type", "application/grpc"),
    ("te", "trailers"),
    ("grpc-accept-encoding", "identity,gzip"),
    ("user-agent", "grpc-python/1.62.0 grpc-c/39.0.0 (linux; chttp2)"),
];

const GET_REQUEST: &[(&str, &str)] =
    &[(":method", "GET"), (":scheme", "https"), (":path", "/index.html"), (":authority", "example.com")];

const GRPC_RESPONSE: &[(&str, &str)] =
    &[(":status", "200"), ("content-type", "application/grpc"), ("grpc-accept-encoding", "identity,gzip")];

const GRPC_TRAILERS: &[(&str, &str)] = &[("grpc-status", "0"), ("grpc-message", "")];

/// Every frame type once, valid.
fn sample_frames(block: &[u8]) -> Vec<Frame> {
    vec![
        Frame::Settings(SettingsFrame {
            ack: false,
            settings: Settings {
                header_table_size: Some(4096),
                enable_push: Some(false),
                max_concurrent_streams: Some(100),
                initial_window_size: Some(1 << 20),
                max_frame_size: Some(1 << 14),
                max_header_list_size: Some(16 << 10),
                enable_connect_protocol: Some(false),
            },
        }),
        Frame::Settings(SettingsFrame { ack: true, settings: Settings::default() }),
        Frame::WindowUpdate(WindowUpdate { stream_id: StreamId::ZERO, increment: 1 << 20 }),
        Frame::Headers(HeadersFrame {
            stream_id: StreamId(1),
            fragment: Bytes::copy_from_slice(block),
            end_stream: false,
            end_headers: true,
            priority: Some(Priority { exclusive: true, dependency: StreamId(0), weight: 15 }),
            pad_len: Some(3),
        }),
        Frame::Data(Data {
            stream_id: StreamId(1),
            data: Bytes::from(grpc_message(b"hello", false)),
            end_stream: false,
            pad_len: Some(7),
        }),
        Frame::Data(Data { stream_id: StreamId(1), data: Bytes::new(), end_stream: true, pad_len: None }),
        Frame::Priority(PriorityFrame {
            stream_id: StreamId(3),
            priority: Priority { exclusive: false, dependency: StreamId(1), weight: 200 },
        }),
        Frame::RstStream(RstStream { stream_id: StreamId(3), error_code: ErrorCode::CANCEL }),
        Frame::PushPromise(PushPromise {
            stream_id: StreamId(1),
            promised_id: StreamId(2),
            fragment: Bytes::copy_from_slice(block),
            end_headers: false,
            pad_len: None,
        }),
        Frame::Continuation(Continuation { stream_id: StreamId(1), fragment: b(b"\x82"), end_headers: true }),
        Frame::Ping(Ping { ack: false, payload: *b"weir-pin" }),
        Frame::Ping(Ping { ack: true, payload: *b"weir-pin" }),
        Frame::GoAway(GoAway {
            last_stream_id: StreamId(1),
            error_code: ErrorCode::ENHANCE_YOUR_CALM,
            debug_data: b(b"calm down"),
        }),
        Frame::Unknown(Unknown { kind: 0xfa, flags: 0x5, stream_id: StreamId(7), payload: b(b"??") }),
    ]
}

fn encode(frames: &[Frame]) -> Vec<u8> {
    let mut out = Vec::new();
    for f in frames {
        f.encode(&mut out);
    }
    out
}

/// A frame built by hand (for malformed ones): length, type, flags, stream,
/// payload.
fn raw(kind: u8, flags: u8, stream: u32, payload: &[u8]) -> Vec<u8> {
    let len = (payload.len() as u32).to_be_bytes();
    let mut out = vec![len[1], len[2], len[3], kind, flags];
    out.extend_from_slice(&stream.to_be_bytes());
    out.extend_from_slice(payload);
    out
}

fn request_block(enc: &mut Encoder, list: &[(&str, &str)]) -> Vec<u8> {
    let mut block = Vec::new();
    enc.encode(&fields(list), &mut block);
    block
}

fn grpc_message(payload: &[u8], gzip: bool) -> Vec<u8> {
    let body = if gzip {
        let mut z = Vec::new();
        Gzip::default().compress(payload, &mut z).expect("gzip");
        z
    } else {
        payload.to_vec()
    };
    let mut out = prefix(gzip, body.len() as u32).to_vec();
    out.extend_from_slice(&body);
    out
}

fn frame_decoder() -> Vec<(String, Vec<u8>)> {
    let max = |m: u32, chunk: u8| {
        let m = m.to_be_bytes();
        vec![m[1], m[2], m[3], chunk]
    };
    let block = request_block(&mut Encoder::new(), GRPC_REQUEST);
    let mut out = Vec::new();
    let mut all = max(1 << 14, 0x07);
    all.extend(encode(&sample_frames(&block)));
    out.push(("all-types".to_string(), all));

    // A request split into HEADERS + CONTINUATION, a padded body.
    let mut split = max(1 << 14, 0x40);
    encode_header_block(
        HeaderBlockKind::Headers { end_stream: false, priority: None },
        StreamId(1),
        &block,
        40,
        &mut split,
    );
    split.extend(encode(&[Frame::Data(Data {
        stream_id: StreamId(1),
        data: Bytes::from(vec![b'x'; 300]),
        end_stream: true,
        pad_len: Some(255),
    })]));
    out.push(("continuation".to_string(), split));

    let mut big = max(MAX_MAX_FRAME_SIZE, 0xff);
    big.extend(encode(&[Frame::Data(Data {
        stream_id: StreamId(1),
        data: Bytes::from(vec![7u8; 20_000]),
        end_stream: false,
        pad_len: None,
    })]));
    out.push(("large-frame".to_string(), big));

    let malformed: &[(&str, Vec<u8>)] = &[
        ("too-large", raw(0, 0, 1, &[0; 16_385])),
        ("data-stream-0", raw(0, 0, 0, b"x")),
        ("padding-too-long", raw(0, 0x8, 1, &[9, 1, 2])),
        ("settings-bad-length", raw(4, 0, 0, &[0, 1, 0, 0, 0])),
        ("settings-ack-payload", raw(4, 1, 0, &[0, 1, 0, 0, 0, 0])),
        ("enable-push-2", raw(4, 0, 0, &[0, 2, 0, 0, 0, 2])),
        ("window-too-large", raw(4, 0, 0, &[0, 4, 0x80, 0, 0, 0])),
        ("max-frame-too-small", raw(4, 0, 0, &[0, 5, 0, 0, 0x3f, 0xff])),
        ("ping-short", raw(6, 0, 0, &[0; 7])),
        ("ping-on-stream", raw(6, 0, 1, &[0; 8])),
        ("window-update-zero", raw(8, 0, 3, &[0; 4])),
        ("rst-stream-0", raw(3, 0, 0, &[0, 0, 0, 8])),
        ("rst-bad-length", raw(3, 0, 1, &[0, 0, 8])),
        ("priority-self", raw(2, 0, 5, &[0, 0, 0, 5, 16])),
        ("priority-short", raw(2, 0, 5, &[0, 0, 0, 1])),
        ("goaway-short", raw(7, 0, 0, &[0, 0, 0, 1])),
        ("headers-stream-0", raw(1, 0x4, 0, b"\x82")),
        ("headers-priority-short", raw(1, 0x24, 1, &[0, 0, 1])),
        ("push-promise-short", raw(5, 0x4, 1, &[0, 0])),
        ("reserved-bit", raw(0, 1, 0x8000_0001, b"r")),
    ];
    for (name, wire) in malformed {
        let mut seed = max(1 << 14, 0x01);
        seed.extend_from_slice(wire);
        // A valid frame after it: decoding goes on after a stream error.
        seed.extend(encode(&[Frame::Ping(Ping { ack: false, payload: [1; 8] })]));
        out.push((format!("bad-{name}"), seed));
    }
    let mut truncated = max(1 << 14, 0x02);
    let frames = encode(&sample_frames(&block));
    truncated.extend_from_slice(&frames[..frames.len() - 5]);
    out.push(("truncated".to_string(), truncated));
    out
}

fn hpack_decoder() -> Vec<(String, Vec<u8>)> {
    let head = |table: u16, list: u16| {
        let mut v = table.to_be_bytes().to_vec();
        v.extend_from_slice(&list.to_be_bytes());
        v
    };
    let record = |out: &mut Vec<u8>, block: &[u8]| {
        out.extend_from_slice(&(block.len() as u16).to_be_bytes());
        out.extend_from_slice(block);
    };
    let mut out = Vec::new();

    // Three requests and responses on one connection: dynamic-table hits.
    let mut enc = Encoder::new();
    let mut seed = head(4096, u16::MAX);
    for list in [GRPC_REQUEST, GRPC_REQUEST, GET_REQUEST, GRPC_RESPONSE, GRPC_TRAILERS] {
        record(&mut seed, &request_block(&mut enc, list));
    }
    out.push(("requests".to_string(), seed));

    // RFC 7541 C.4 and C.6 style: everything indexed, Huffman when not longer.
    let mut enc = Encoder::new();
    enc.set_index_policy(IndexPolicy::Always);
    enc.set_huffman(HuffmanPolicy::WhenNotLonger);
    enc.set_max_table_size(256);
    let mut seed = head(256, u16::MAX);
    let c4: [&[(&str, &str)]; 3] = [
        &[(":method", "GET"), (":scheme", "http"), (":path", "/"), (":authority", "www.example.com")],
        &[
            (":method", "GET"),
            (":scheme", "http"),
            (":path", "/"),
            (":authority", "www.example.com"),
            ("cache-control", "no-cache"),
        ],
        &[
            (":method", "GET"),
            (":scheme", "https"),
            (":path", "/index.html"),
            (":authority", "www.example.com"),
            ("custom-key", "custom-value"),
        ],
    ];
    for list in c4 {
        record(&mut seed, &request_block(&mut enc, list));
    }
    let c6: [&[(&str, &str)]; 2] = [
        &[
            (":status", "302"),
            ("cache-control", "private"),
            ("date", "Mon, 21 Oct 2013 20:13:21 GMT"),
            ("location", "https://www.example.com"),
        ],
        &[
            (":status", "200"),
            ("cache-control", "private"),
            ("date", "Mon, 21 Oct 2013 20:13:22 GMT"),
            ("location", "https://www.example.com"),
            ("content-encoding", "gzip"),
            ("set-cookie", "foo=ASDJKHQKBZXOQWEOPIUAXQWEOIU; max-age=3600; version=1"),
        ],
    ];
    for list in c6 {
        record(&mut seed, &request_block(&mut enc, list));
    }
    out.push(("rfc7541-examples".to_string(), seed));

    // Over the list-size limit: decoding goes on, emission stops.
    let mut enc = Encoder::new();
    let mut seed = head(4096, 120);
    record(&mut seed, &request_block(&mut enc, GRPC_REQUEST));
    record(&mut seed, &request_block(&mut enc, GRPC_REQUEST));
    out.push(("list-limit".to_string(), seed));

    // Our SETTINGS lower the table to 0 then raise it: the peer's encoder
    // signals both.
    let mut enc = Encoder::new();
    enc.set_index_policy(IndexPolicy::Always);
    let mut seed = head(4096, u16::MAX);
    record(&mut seed, &request_block(&mut enc, GRPC_REQUEST));
    enc.set_max_table_size(0);
    enc.set_max_table_size(1024);
    seed.extend_from_slice(&0x8400u16.to_be_bytes());
    record(&mut seed, &request_block(&mut enc, GRPC_REQUEST));
    out.push(("table-size-change".to_string(), seed));

    // Never-indexed fields.
    let mut enc = Encoder::new();
    let mut seed = head(4096, u16::MAX);
    let mut block = Vec::new();
    enc.encode(
        &[
            field(":method", "GET"),
            HeaderField::sensitive("authorization", "Bearer abc.def.ghi"),
            HeaderField::sensitive("cookie", "session=1"),
        ],
        &mut block,
    );
    record(&mut seed, &block);
    out.push(("sensitive".to_string(), seed));

    let bad: &[(&str, &[u8])] = &[
        ("index-0", b"\x80"),
        ("index-past-table", b"\xbf\xff\x7f"),
        ("integer-overflow", b"\xff\xff\xff\xff\xff\xff\x7f"),
        ("truncated-string", b"\x40\x05ab"),
        ("huffman-eos", b"\x40\x81\xff\x81\x82"),
        ("late-size-update", b"\x82\x3f\xe1\x1f"),
        ("size-update-over-limit", b"\x3f\xe1\x3f"),
        ("three-size-updates", b"\x20\x20\x20\x82"),
    ];
    for (name, block) in bad {
        let mut seed = head(4096, u16::MAX);
        record(&mut seed, block);
        out.push((format!("bad-{name}"), seed));
    }
    out
}

/// Inputs of a structured target from a deterministic random search: the
/// first `count` candidates `keep` accepts.
fn search<T: for<'a> Arbitrary<'a>>(
    salt: u64,
    count: usize,
    sizes: &[usize],
    mut keep: impl FnMut(&T) -> bool,
) -> Vec<Vec<u8>> {
    let mut rng = Rng::new(salt);
    let mut out = Vec::new();
    for attempt in 0..200_000 {
        if out.len() == count {
            break;
        }
        let len = sizes[attempt % sizes.len()];
        let data: Vec<u8> = (0..len).map(|_| rng.next_u64() as u8).collect();
        let Ok(input) = T::arbitrary_take_rest(Unstructured::new(&data)) else { continue };
        if keep(&input) {
            out.push(data);
        }
    }
    assert_eq!(out.len(), count, "seed search found too few inputs");
    out
}

fn hpack_roundtrip() -> Vec<(String, Vec<u8>)> {
    use hpack_roundtrip::Step;
    let found = search::<hpack_roundtrip::Input>(0x0048_5041_434b, 6, &[256, 512, 1024], |input| {
        let blocks = input.steps.iter().filter(|s| matches!(s, Step::Block(f) if f.len() >= 2)).count();
        let sizes = input.steps.iter().filter(|s| matches!(s, Step::TableSize(_))).count();
        blocks >= 3 && sizes >= 1 && hpack_roundtrip::execute(input) >= 8
    });
    found.into_iter().enumerate().map(|(i, d)| (format!("search-{i}"), d)).collect()
}

fn pair_operations() -> Vec<(String, Vec<u8>)> {
    let found = search::<pair_operations::Input>(0x5041_4952, 6, &[384, 768, 1536], |input| {
        let s = pair_operations::execute(input);
        s.streams >= 2 && s.delivered >= 256 && s.complete >= 1
    });
    found.into_iter().enumerate().map(|(i, d)| (format!("search-{i}"), d)).collect()
}

/// Builds what a peer sends, with its own HPACK encoder.
struct Wire {
    enc: Encoder,
    out: Vec<u8>,
}

impl Wire {
    fn new(index: bool) -> Self {
        let mut enc = Encoder::new();
        if !index {
            enc.set_index_policy(IndexPolicy::Never);
        }
        Wire { enc, out: Vec::new() }
    }

    fn frame(&mut self, f: Frame) -> &mut Self {
        f.encode(&mut self.out);
        self
    }

    fn ack(&mut self) -> &mut Self {
        self.frame(Frame::Settings(SettingsFrame { ack: true, settings: Settings::default() }))
    }

    fn settings(&mut self, settings: Settings) -> &mut Self {
        self.frame(Frame::Settings(SettingsFrame { ack: false, settings }))
    }

    /// A header block, split into CONTINUATION frames of `max` octets.
    fn headers(&mut self, id: u32, list: &[(&str, &str)], end: bool, max: u32) -> &mut Self {
        let block = request_block(&mut self.enc, list);
        let kind = HeaderBlockKind::Headers { end_stream: end, priority: None };
        encode_header_block(kind, StreamId(id), &block, max, &mut self.out);
        self
    }

    fn data(&mut self, id: u32, data: &[u8], end: bool) -> &mut Self {
        self.frame(Frame::Data(Data {
            stream_id: StreamId(id),
            data: Bytes::copy_from_slice(data),
            end_stream: end,
            pad_len: None,
        }))
    }

    fn ping(&mut self) -> &mut Self {
        self.frame(Frame::Ping(Ping { ack: false, payload: *b"12345678" }))
    }

    fn window(&mut self, id: u32, increment: u32) -> &mut Self {
        self.frame(Frame::WindowUpdate(WindowUpdate { stream_id: StreamId(id), increment }))
    }

    fn rst(&mut self, id: u32, code: ErrorCode) -> &mut Self {
        self.frame(Frame::RstStream(RstStream { stream_id: StreamId(id), error_code: code }))
    }

    fn goaway(&mut self, last: u32) -> &mut Self {
        self.frame(Frame::GoAway(GoAway {
            last_stream_id: StreamId(last),
            error_code: ErrorCode::NO_ERROR,
            debug_data: Bytes::new(),
        }))
    }

    fn seed(&self, grpc: bool, profile: u8, seed: u64) -> Vec<u8> {
        let mut v = Header { grpc, profile, seed }.encode().to_vec();
        v.extend_from_slice(&self.out);
        v
    }
}

fn server_connection() -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    let get = Wire::new(true).ack().headers(1, GET_REQUEST, true, 16384).seed(false, 0, 1);
    out.push(("h2-get".to_string(), get));

    let body: Vec<u8> = (0..3000u32).map(|i| i as u8).collect();
    let post = Wire::new(true)
        .ack()
        .headers(1, GRPC_REQUEST, false, 16384)
        .data(1, &body[..1000], false)
        .window(0, 100_000)
        .ping()
        .data(1, &body[1000..], true)
        .seed(false, 0, 2);
    out.push(("h2-post".to_string(), post));

    // More streams than the tight profile allows, a reset, a split block.
    let mut w = Wire::new(false);
    w.ack();
    for id in [1, 3, 5, 7, 9, 11] {
        w.headers(id, GRPC_REQUEST, false, 16384);
    }
    w.rst(3, ErrorCode::CANCEL).headers(13, GRPC_REQUEST, true, 20).data(1, b"abc", true);
    out.push(("h2-many-streams".to_string(), w.seed(false, 1, 3)));

    // Flow-control settings changes around a response.
    let settings = |initial: u32| Settings { initial_window_size: Some(initial), ..Settings::default() };
    let flow = Wire::new(true)
        .ack()
        .settings(settings(0))
        .headers(1, GRPC_REQUEST, true, 16384)
        .window(1, 10)
        .settings(Settings { header_table_size: Some(0), max_frame_size: Some(1 << 15), ..settings(100) })
        .window(1, MAX_WINDOW_SIZE - 200)
        .goaway(1)
        .seed(false, 5, 4);
    out.push(("h2-settings-flow".to_string(), flow));

    let unary = Wire::new(true)
        .ack()
        .headers(1, GRPC_REQUEST, false, 16384)
        .data(1, &grpc_message(b"\x0a\x05world", false), true)
        .seed(true, 0, 5);
    out.push(("grpc-unary".to_string(), unary));

    let mut gz: Vec<(&str, &str)> = GRPC_REQUEST.to_vec();
    gz.push(("grpc-encoding", "gzip"));
    gz.push(("grpc-timeout", "2S"));
    let big: Vec<u8> = b"hello world ".iter().copied().cycle().take(5000).collect();
    let gzip = Wire::new(true)
        .ack()
        .headers(1, &gz, false, 16384)
        .data(1, &grpc_message(&big, true), false)
        .data(1, &grpc_message(b"plain", false), true)
        .seed(true, 0, 6);
    out.push(("grpc-gzip".to_string(), gzip));

    // A streaming call whose messages straddle frames, with timers.
    let mut msgs = Vec::new();
    for i in 0..5u8 {
        msgs.extend(grpc_message(&[i; 40], false));
    }
    let mut w = Wire::new(true);
    w.ack().headers(1, GRPC_REQUEST, false, 16384);
    for chunk in msgs.chunks(33) {
        w.data(1, chunk, false);
    }
    w.ping().headers(3, GRPC_REQUEST, false, 16384).data(3, &msgs[..7], false);
    out.push(("grpc-streaming-timers".to_string(), w.seed(true, 2, 7)));

    let bad = Wire::new(true)
        .ack()
        .headers(1, GRPC_REQUEST, false, 16384)
        .data(1, &[2, 0, 0, 0, 1, 0], false)
        .headers(3, GRPC_REQUEST, false, 16384)
        .data(3, &[0, 0xff, 0, 0, 0], true)
        .headers(5, &[(":method", "POST"), (":path", "/x")], true, 16384)
        .seed(true, 1, 8);
    out.push(("grpc-malformed".to_string(), bad));

    // gRPC-Web on HTTP/2 (the seed's top bit): a text call whose base64 is
    // split mid-group across DATA frames, a binary one, a preflight, and a
    // text body that is not base64.
    let web = |ct: &'static str| {
        let mut h: Vec<(&str, &str)> =
            GRPC_REQUEST.iter().copied().filter(|(n, _)| *n != "content-type" && *n != "te").collect();
        h.push(("content-type", ct));
        h.push(("x-grpc-web", "1"));
        h
    };
    let text = base64_padded(&grpc_message(b"\x0a\x05world", false));
    let options = [
        (":method", "OPTIONS"),
        (":scheme", "https"),
        (":path", "/helloworld.Greeter/SayHello"),
        (":authority", "localhost"),
        ("origin", "https://app.example"),
        ("access-control-request-method", "POST"),
    ];
    let w = Wire::new(true)
        .ack()
        .headers(1, &web("application/grpc-web-text"), false, 16384)
        .data(1, &text[..3], false)
        .data(1, &text[3..10], false)
        .data(1, &text[10..], true)
        .headers(3, &web("application/grpc-web+proto"), false, 16384)
        .data(3, &grpc_message(b"\x0a\x02hi", false), true)
        .headers(5, &options, true, 16384)
        .headers(7, &web("application/grpc-web-text+proto"), false, 16384)
        .data(7, b"AAAA!!!=", true)
        .seed(true, 0, (1 << 63) | 9);
    out.push(("grpc-web".to_string(), w));
    out
}

/// Standard base64 with padding, for gRPC-Web text bodies.
fn base64_padded(data: &[u8]) -> Vec<u8> {
    const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = Vec::new();
    for c in data.chunks(3) {
        let n = (u32::from(c[0]) << 16)
            | (u32::from(*c.get(1).unwrap_or(&0)) << 8)
            | u32::from(*c.get(2).unwrap_or(&0));
        for i in 0..4 {
            out.push(if i <= c.len() { A[(n >> (18 - 6 * i) & 63) as usize] } else { b'=' });
        }
    }
    out
}

fn client_connection() -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    let body: Vec<u8> = (0..2000u32).map(|i| (i * 7) as u8).collect();
    let resp = Wire::new(true)
        .ack()
        .headers(1, GRPC_RESPONSE, false, 16384)
        .data(1, &body, false)
        .headers(1, GRPC_TRAILERS, true, 16384)
        .headers(3, &[(":status", "204")], true, 16384)
        .rst(5, ErrorCode::CANCEL)
        .ping()
        .seed(false, 0, 11);
    out.push(("h2-responses".to_string(), resp));

    let flow = Wire::new(false)
        .ack()
        .settings(Settings {
            initial_window_size: Some(1),
            max_concurrent_streams: Some(2),
            ..Settings::default()
        })
        .window(1, 5)
        .window(0, 1 << 20)
        .headers(1, &[(":status", "100")], false, 16384)
        .headers(1, GRPC_RESPONSE, false, 16384)
        .settings(Settings { initial_window_size: Some(1 << 20), ..Settings::default() })
        .goaway(1)
        .seed(false, 1, 12);
    out.push(("h2-flow-goaway".to_string(), flow));

    let unary = Wire::new(true)
        .ack()
        .headers(1, GRPC_RESPONSE, false, 16384)
        .data(1, &grpc_message(b"\x0a\x0bhello world", false), false)
        .headers(1, GRPC_TRAILERS, true, 16384)
        .seed(true, 0, 13);
    out.push(("grpc-unary".to_string(), unary));

    let trailers_only = Wire::new(true)
        .ack()
        .headers(
            1,
            &[
                (":status", "200"),
                ("content-type", "application/grpc"),
                ("grpc-status", "5"),
                ("grpc-message", "not%20found"),
            ],
            true,
            16384,
        )
        .headers(3, &[(":status", "503")], true, 16384)
        .seed(true, 0, 14);
    out.push(("grpc-trailers-only".to_string(), trailers_only));

    let mut gz: Vec<(&str, &str)> = GRPC_RESPONSE.to_vec();
    gz.push(("grpc-encoding", "gzip"));
    let big: Vec<u8> = b"weir ".iter().copied().cycle().take(4000).collect();
    let gzip = Wire::new(true)
        .ack()
        .headers(1, &gz, false, 16384)
        .data(1, &grpc_message(&big, true), false)
        .headers(1, GRPC_TRAILERS, true, 16384)
        .seed(true, 0, 15);
    out.push(("grpc-gzip".to_string(), gzip));

    // Early server closure: complete response, then RST_STREAM(NO_ERROR).
    let early = Wire::new(true)
        .ack()
        .headers(1, GRPC_RESPONSE, false, 16384)
        .data(1, &grpc_message(b"reply", false), false)
        .headers(1, GRPC_TRAILERS, true, 16384)
        .rst(1, ErrorCode::NO_ERROR)
        .seed(true, 2, 16);
    out.push(("grpc-early-closure".to_string(), early));

    let mut push = Wire::new(true);
    push.ack().headers(1, GRPC_RESPONSE, false, 16384);
    let block = request_block(&mut push.enc, GET_REQUEST);
    push.frame(Frame::PushPromise(PushPromise {
        stream_id: StreamId(1),
        promised_id: StreamId(2),
        fragment: Bytes::from(block),
        end_headers: true,
        pad_len: None,
    }));
    out.push(("push-promise".to_string(), push.seed(false, 0, 17)));
    out
}

fn grpc_message_decoder() -> Vec<(String, Vec<u8>)> {
    let head = |mode: u8, max: u16, seed: u64| {
        let mut v = vec![mode];
        v.extend_from_slice(&max.to_be_bytes());
        v.extend_from_slice(&seed.to_le_bytes());
        v
    };
    let mut out = Vec::new();
    let mut raw = head(1, 1024, 1);
    for m in [&b""[..], b"a", &[7; 100], &[9; 300]] {
        raw.extend(grpc_message(m, false));
    }
    raw.extend(grpc_message(b"abc", true));
    out.push(("messages".to_string(), raw));

    let mut bad = head(2, 64, 2);
    bad.extend(grpc_message(b"ok", false));
    bad.extend_from_slice(&[3, 0, 0, 0, 1, 0]);
    out.push(("bad-flag".to_string(), bad));

    let mut large = head(3, 16, 3);
    large.extend(grpc_message(&[1; 17], false));
    out.push(("too-large".to_string(), large));

    let mut partial = head(0, 100, 4);
    partial.extend(grpc_message(b"complete", false));
    partial.extend_from_slice(&grpc_message(b"cut short", false)[..8]);
    out.push(("truncated".to_string(), partial));

    // Structured: records [flags][len u16][payload], gzip when flags & 1.
    let mut structured = head(0x80 | 2, 4096, 5);
    let text: Vec<u8> = b"compressible ".iter().copied().cycle().take(600).collect();
    for (flags, payload) in [(1u8, &text[..]), (0, b"raw"), (1, &text[..10]), (1, &[0u8; 3000][..])] {
        structured.push(flags);
        structured.extend_from_slice(&(payload.len() as u16).to_be_bytes());
        structured.extend_from_slice(payload);
    }
    out.push(("structured-gzip".to_string(), structured));

    // A gzip bomb for a small limit.
    let mut bomb = head(0x80 | 3, 512, 6);
    bomb.push(1);
    bomb.extend_from_slice(&(20_000u16).to_be_bytes());
    bomb.extend_from_slice(&[0u8; 20_000]);
    out.push(("gzip-over-limit".to_string(), bomb));
    out
}

/// HTTP/1.1 requests: pipelined, chunked with extensions and trailers, the
/// smuggling shapes the server refuses, at the small profile's limits.
fn http1_server() -> Vec<(String, Vec<u8>)> {
    let chunked = "POST /c HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n";
    let cases: [(&str, u8, String); 8] = [
        ("pipelined", 0, "GET /1 HTTP/1.1\r\nHost: a\r\n\r\nHEAD /2 HTTP/1.1\r\nHost: a\r\n\r\nGET /3 HTTP/1.0\r\n\r\n".into()),
        (
            "chunked-trailers",
            0,
            format!("{chunked}5;ext=\"v\"\r\nhello\r\n10\r\n0123456789abcdef\r\n0\r\nX-T: 1\r\n\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n"),
        ),
        ("content-length-early", 4, "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhelloPOST /x HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\nabc".into()),
        ("cl-te", 0, "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /admin HTTP/1.1\r\nHost: a\r\n\r\n".into()),
        ("te-not-last", 0, "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked, identity\r\n\r\n".into()),
        ("small-limits", 1, format!("{chunked}1;abcdefgh\r\nx\r\n28\r\n{}\r\n0\r\n\r\n", "y".repeat(40))),
        ("obs-fold-bare-lf", 2, "GET / HTTP/1.1\r\nHost: a\r\nX: a\r\n b\r\n\r\nGET / HTTP/1.1\nHost: a\n\n".into()),
        ("expect-continue", 3, "PUT / HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\nok".into()),
    ];
    cases
        .into_iter()
        .enumerate()
        .map(|(i, (name, mode, wire))| {
            let mut seed = vec![mode];
            seed.extend_from_slice(&(0x5eed_0000 + i as u64).to_le_bytes());
            seed.extend_from_slice(wire.as_bytes());
            (name.to_string(), seed)
        })
        .collect()
}

/// HTTP/1.1 responses: a keep-alive sequence of every framing, interim
/// responses, a body delimited by the close, and the smuggling shapes the
/// client refuses, some at the small profile's limits.
fn http1_client() -> Vec<(String, Vec<u8>)> {
    let chunked = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n";
    let cases: [(&str, u8, String); 8] = [
        (
            "keep-alive-framings",
            0,
            format!(
                "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello\
                 {chunked}3;x=y\r\nabc\r\n0\r\ngrpc-status: 0\r\n\r\n\
                 HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 204 No Content\r\n\r\n\
                 HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\n\
                 HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 2\r\n\r\nok"
            ),
        ),
        ("until-close", 4, "HTTP/1.1 200 OK\r\nX: y\r\n\r\nbody until the end".into()),
        ("chunked-single", 4, format!("{chunked}5\r\nhello\r\n10\r\n0123456789abcdef\r\n0\r\n\r\n")),
        (
            "cl-te",
            0,
            "HTTP/1.1 200 OK\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n".into(),
        ),
        (
            "conflicting-lengths",
            4,
            "HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab".into(),
        ),
        ("small-limits", 1, format!("{chunked}1;abcdefgh\r\nx\r\n28\r\n{}\r\n0\r\n\r\n", "y".repeat(40))),
        ("obs-fold-bare-lf", 2, "HTTP/1.1 200 OK\r\nX: a\r\n b\r\n\r\nHTTP/1.1 200 OK\nA: b\n\n".into()),
        ("switching-protocols", 3, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: h2c\r\n\r\n".into()),
    ];
    cases
        .into_iter()
        .enumerate()
        .map(|(i, (name, mode, wire))| {
            let mut seed = vec![mode];
            seed.extend_from_slice(&(0xc11e_0000 + i as u64).to_le_bytes());
            seed.extend_from_slice(wire.as_bytes());
            (name.to_string(), seed)
        })
        .collect()
}

/// gRPC-Web bodies: structured (binary and text, flushed anywhere), raw
/// ones with padding between frames, and malformed ones.
fn grpc_web_decoder() -> Vec<(String, Vec<u8>)> {
    use weir_core::grpc::web::{WebEncoder, WebEncoding};
    let head = |mode: u8, max: u16| {
        let mut v = vec![mode];
        v.extend_from_slice(&max.to_be_bytes());
        v.extend_from_slice(&0x0bad_cafe_u64.to_le_bytes());
        v
    };
    let records = [&[1u8, 5][..], b"hello", &[0, 0], &[1, 3], b"abc", b"not found"].concat();
    let mut out = Vec::new();
    for (name, mode) in [("structured-binary", 0x80u8), ("structured-text", 0x81)] {
        let mut seed = head(mode, 1024);
        seed.extend_from_slice(&records);
        out.push((name.to_string(), seed));
    }
    let mut over = head(0x80, 4);
    over.extend_from_slice(&records);
    out.push(("structured-too-large".to_string(), over));
    let text = WebEncoder::new(WebEncoding::Text);
    let mut padded = head(1, 1024);
    for m in [&b"x"[..], b"yz", b""] {
        padded.extend_from_slice(&text.message(m));
    }
    padded.extend_from_slice(&text.trailers(&weir_core::grpc::Status::ok()));
    out.push(("text-padded-frames".to_string(), padded));
    let mut bad = head(0, 1024);
    bad.extend_from_slice(b"\x80\x00\x00\x00\x05a: b\n\x00\x00\x00\x00\x00");
    out.push(("data-after-trailers".to_string(), bad));
    let mut bad = head(1, 1024);
    bad.extend_from_slice(b"AAAA=AAA");
    out.push(("bad-base64".to_string(), bad));
    out
}
