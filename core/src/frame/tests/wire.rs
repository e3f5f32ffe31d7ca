//! Exact wire bytes for every frame type, both directions.

use super::*;

#[test]
fn data_wire() {
    let frame = Data { stream_id: StreamId(1), data: b(b"hello"), end_stream: true, pad_len: None };
    assert_wire(Frame::Data(frame), &raw(0x0, 0x1, 1, b"hello"));
}

#[test]
fn data_padded_wire() {
    let frame = Data { stream_id: StreamId(3), data: b(b"hi"), end_stream: false, pad_len: Some(3) };
    assert_eq!(frame.flow_len(), 6);
    let frame = Frame::Data(frame);
    assert_wire(frame.clone(), &raw(0x0, 0x8, 3, &[3, b'h', b'i', 0, 0, 0]));
    // Padding content is not checked (§6.1 allows but does not require it).
    assert_eq!(decode_one(&raw(0x0, 0x8, 3, &[3, b'h', b'i', 9, 9, 9])), Ok(frame));
}

#[test]
fn data_padded_empty_wire() {
    let empty =
        |pad_len| Frame::Data(Data { stream_id: StreamId(1), data: Bytes::new(), end_stream: true, pad_len });
    assert_wire(empty(Some(0)), &raw(0x0, 0x9, 1, &[0]));
    // Pad length = payload length - 1: all padding, still valid.
    assert_wire(empty(Some(2)), &raw(0x0, 0x9, 1, &[2, 0, 0]));
    assert_wire(empty(None), &raw(0x0, 0x1, 1, &[]));
}

#[test]
fn headers_wire() {
    let frame = Headers {
        stream_id: StreamId(1),
        fragment: b(b"\x82\x86"),
        end_stream: false,
        end_headers: true,
        priority: None,
        pad_len: None,
    };
    assert_wire(Frame::Headers(frame), &raw(0x1, 0x4, 1, &[0x82, 0x86]));
}

#[test]
fn headers_priority_padded_wire() {
    let frame = Headers {
        stream_id: StreamId(3),
        fragment: b(b"\x82"),
        end_stream: true,
        end_headers: true,
        priority: Some(Priority { exclusive: true, dependency: StreamId(1), weight: 255 }),
        pad_len: Some(2),
    };
    let wire = raw(0x1, 0x2d, 3, &[2, 0x80, 0, 0, 1, 255, 0x82, 0, 0]);
    assert_wire(Frame::Headers(frame), &wire);
}

#[test]
fn headers_priority_only_wire() {
    let frame = Headers {
        stream_id: StreamId(5),
        fragment: b(b"\xaa"),
        end_stream: false,
        end_headers: false,
        priority: Some(Priority { exclusive: false, dependency: StreamId(3), weight: 16 }),
        pad_len: None,
    };
    assert_wire(Frame::Headers(frame), &raw(0x1, 0x20, 5, &[0, 0, 0, 3, 16, 0xaa]));
}

#[test]
fn headers_padding_filling_the_rest_is_valid() {
    // Pad Length equal to what remains after the priority fields: empty fragment.
    let frame = decode_one(&raw(0x1, 0x28, 3, &[1, 0, 0, 0, 1, 7, 0])).expect("valid");
    let Frame::Headers(h) = frame else { panic!("not HEADERS: {frame:?}") };
    assert!(h.fragment.is_empty());
    assert_eq!(h.pad_len, Some(1));
    assert_eq!(h.priority, Some(Priority { exclusive: false, dependency: StreamId(1), weight: 7 }));
}

#[test]
fn priority_wire() {
    let priority = Priority { exclusive: false, dependency: StreamId(3), weight: 16 };
    let frame = Frame::Priority(PriorityFrame { stream_id: StreamId(5), priority });
    assert_wire(frame, &raw(0x2, 0, 5, &[0, 0, 0, 3, 16]));

    let priority = Priority { exclusive: true, dependency: StreamId(0x7fff_ffff), weight: 0 };
    let frame = Frame::Priority(PriorityFrame { stream_id: StreamId(5), priority });
    assert_wire(frame, &raw(0x2, 0, 5, &[0xff, 0xff, 0xff, 0xff, 0]));
}

#[test]
fn rst_stream_wire() {
    let frame = RstStream { stream_id: StreamId(1), error_code: ErrorCode::PROTOCOL_ERROR };
    assert_wire(Frame::RstStream(frame), &raw(0x3, 0, 1, &[0, 0, 0, 1]));
    // Unknown codes are preserved (§7).
    let frame = RstStream { stream_id: StreamId(9), error_code: ErrorCode(0xdead_beef) };
    assert_wire(Frame::RstStream(frame), &raw(0x3, 0, 9, &[0xde, 0xad, 0xbe, 0xef]));
}

#[test]
fn settings_wire() {
    let settings = Settings {
        header_table_size: Some(4096),
        enable_push: Some(false),
        max_concurrent_streams: Some(100),
        initial_window_size: Some(65_535),
        max_frame_size: Some(16_384),
        max_header_list_size: Some(8192),
        enable_connect_protocol: Some(true),
    };
    #[rustfmt::skip]
    let payload = [
        0, 1, 0, 0, 0x10, 0,
        0, 2, 0, 0, 0, 0,
        0, 3, 0, 0, 0, 100,
        0, 4, 0, 0, 0xff, 0xff,
        0, 5, 0, 0, 0x40, 0,
        0, 6, 0, 0, 0x20, 0,
        0, 8, 0, 0, 0, 1,
    ];
    assert_wire(Frame::Settings(SettingsFrame { ack: false, settings }), &raw(0x4, 0, 0, &payload));
}

#[test]
fn settings_ack_and_empty_wire() {
    let ack = SettingsFrame { ack: true, settings: Settings::default() };
    assert_wire(Frame::Settings(ack), &raw(0x4, 0x1, 0, &[]));
    let empty = SettingsFrame { ack: false, settings: Settings::default() };
    assert_wire(Frame::Settings(empty), &raw(0x4, 0, 0, &[]));
}

#[test]
fn settings_unknown_ignored_and_last_wins() {
    #[rustfmt::skip]
    let payload = [
        0, 0, 1, 2, 3, 4,          // id 0: unknown
        0, 3, 0, 0, 0, 1,          // MAX_CONCURRENT_STREAMS = 1
        0xff, 0xff, 0, 0, 0, 9,    // unknown
        0, 3, 0, 0, 0, 2,          // repeated: last wins
        0, 2, 0, 0, 0, 1,          // ENABLE_PUSH = 1
        0, 7, 0xff, 0xff, 0xff, 0xff,
        0, 4, 0x7f, 0xff, 0xff, 0xff, // INITIAL_WINDOW_SIZE = 2^31-1 (max legal)
        0, 5, 0, 0xff, 0xff, 0xff, // MAX_FRAME_SIZE = 2^24-1 (max legal)
        0, 8, 0, 0, 0, 0,          // ENABLE_CONNECT_PROTOCOL = 0
    ];
    let expected = Settings {
        max_concurrent_streams: Some(2),
        enable_push: Some(true),
        initial_window_size: Some(MAX_WINDOW_SIZE),
        max_frame_size: Some(MAX_MAX_FRAME_SIZE),
        enable_connect_protocol: Some(false),
        ..Settings::default()
    };
    let frame = decode_one(&raw(0x4, 0, 0, &payload));
    assert_eq!(frame, Ok(Frame::Settings(SettingsFrame { ack: false, settings: expected })));
}

#[test]
fn push_promise_wire() {
    let frame = PushPromise {
        stream_id: StreamId(1),
        promised_id: StreamId(2),
        fragment: b(b"\x82"),
        end_headers: true,
        pad_len: Some(1),
    };
    assert_wire(Frame::PushPromise(frame), &raw(0x5, 0xc, 1, &[1, 0, 0, 0, 2, 0x82, 0]));

    // Reserved bit of the promised id ignored; empty fragment.
    let frame = PushPromise {
        stream_id: StreamId(1),
        promised_id: StreamId(4),
        fragment: Bytes::new(),
        end_headers: false,
        pad_len: None,
    };
    let decoded = decode_one(&raw(0x5, 0, 1, &[0x80, 0, 0, 4]));
    assert_eq!(decoded, Ok(Frame::PushPromise(frame.clone())));
    assert_eq!(encode(&Frame::PushPromise(frame)), raw(0x5, 0, 1, &[0, 0, 0, 4]));
}

#[test]
fn ping_wire() {
    let payload = [1, 2, 3, 4, 5, 6, 7, 8];
    assert_wire(Frame::Ping(Ping { ack: false, payload }), &raw(0x6, 0, 0, &payload));
    assert_wire(Frame::Ping(Ping { ack: true, payload }), &raw(0x6, 0x1, 0, &payload));
}

#[test]
fn goaway_wire() {
    let frame =
        GoAway { last_stream_id: StreamId(5), error_code: ErrorCode::PROTOCOL_ERROR, debug_data: b(b"oops") };
    let wire = raw(0x7, 0, 0, &[0, 0, 0, 5, 0, 0, 0, 1, b'o', b'o', b'p', b's']);
    assert_wire(Frame::GoAway(frame), &wire);

    let frame =
        GoAway { last_stream_id: StreamId(5), error_code: ErrorCode::NO_ERROR, debug_data: Bytes::new() };
    // Reserved bit of Last-Stream-ID ignored.
    let decoded = decode_one(&raw(0x7, 0, 0, &[0x80, 0, 0, 5, 0, 0, 0, 0]));
    assert_eq!(decoded, Ok(Frame::GoAway(frame.clone())));
    assert_eq!(encode(&Frame::GoAway(frame)), raw(0x7, 0, 0, &[0, 0, 0, 5, 0, 0, 0, 0]));
}

#[test]
fn window_update_wire() {
    let frame = WindowUpdate { stream_id: StreamId::ZERO, increment: 65_535 };
    assert_wire(Frame::WindowUpdate(frame), &raw(0x8, 0, 0, &[0, 0, 0xff, 0xff]));
    let frame = WindowUpdate { stream_id: StreamId(3), increment: MAX_WINDOW_SIZE };
    assert_wire(Frame::WindowUpdate(frame), &raw(0x8, 0, 3, &[0x7f, 0xff, 0xff, 0xff]));
    // Reserved bit ignored (§6.9).
    let frame = WindowUpdate { stream_id: StreamId(3), increment: 1 };
    assert_eq!(decode_one(&raw(0x8, 0, 3, &[0x80, 0, 0, 1])), Ok(Frame::WindowUpdate(frame)));
}

#[test]
fn continuation_wire() {
    let frame = Continuation { stream_id: StreamId(3), fragment: b(b"\x84"), end_headers: true };
    assert_wire(Frame::Continuation(frame), &raw(0x9, 0x4, 3, &[0x84]));
    let frame = Continuation { stream_id: StreamId(3), fragment: Bytes::new(), end_headers: false };
    assert_wire(Frame::Continuation(frame), &raw(0x9, 0, 3, &[]));
}

#[test]
fn unknown_wire() {
    let frame = Unknown { kind: 0x0a, flags: 0xff, stream_id: StreamId(3), payload: b(b"x") };
    assert_wire(Frame::Unknown(frame), &raw(0x0a, 0xff, 3, b"x"));
    let frame = Unknown { kind: 0xff, flags: 0, stream_id: StreamId::ZERO, payload: Bytes::new() };
    assert_wire(Frame::Unknown(frame), &raw(0xff, 0, 0, &[]));
}

#[test]
fn encode_data_header_wire() {
    let mut out = Vec::new();
    encode_data_header(StreamId(3), 0x01_0203, true, &mut out);
    encode_data_header(StreamId(0xffff_ffff), 0, false, &mut out);
    let mut expected = vec![1, 2, 3, 0, 1, 0, 0, 0, 3];
    expected.extend_from_slice(&[0, 0, 0, 0, 0, 0x7f, 0xff, 0xff, 0xff]);
    assert_eq!(out, expected);
}

/// (type, undefined flags, a payload valid with no flags set).
const UNDEFINED_FLAGS: [(u8, u8, &[u8]); 10] = [
    (0x0, 0xf6, b"abc"),
    (0x1, 0xd2, b"\x82"),
    (0x2, 0xff, &[0, 0, 0, 1, 9]),
    (0x3, 0xff, &[0, 0, 0, 8]),
    (0x4, 0xfe, &[0, 3, 0, 0, 0, 5]),
    (0x5, 0xf3, &[0, 0, 0, 2, 0x82]),
    (0x6, 0xfe, b"12345678"),
    (0x7, 0xff, &[0, 0, 0, 1, 0, 0, 0, 0]),
    (0x8, 0xff, &[0, 0, 1, 0]),
    (0x9, 0xfb, b"\x82"),
];

#[test]
fn undefined_flags_are_ignored() {
    for (kind, undefined, payload) in UNDEFINED_FLAGS {
        let stream = if matches!(kind, 0x4 | 0x6 | 0x7) { 0 } else { 3 };
        let plain = decode_one(&raw(kind, 0, stream, payload)).expect("valid frame");
        let flagged = decode_one(&raw(kind, undefined, stream, payload)).expect("valid frame");
        assert_eq!(flagged, plain, "type {kind:#x}");
        // The encoder writes only defined flags: back to the plain form.
        assert_eq!(encode(&flagged), raw(kind, 0, stream, payload), "type {kind:#x}");
    }
}

#[test]
fn stream_id_reserved_bit_is_cleared() {
    for (kind, _, payload) in UNDEFINED_FLAGS {
        if matches!(kind, 0x4 | 0x6 | 0x7) {
            continue;
        }
        let frame = decode_one(&raw(kind, 0, 0x8000_0003, payload)).expect("valid frame");
        assert_eq!(frame.stream_id(), StreamId(3), "type {kind:#x}");
    }
    // SETTINGS, PING, GOAWAY with only the reserved bit set are on stream 0.
    let frame = decode_one(&raw(0x6, 0, 0x8000_0000, b"12345678")).expect("valid frame");
    assert_eq!(frame, Frame::Ping(Ping { ack: false, payload: *b"12345678" }));
}
