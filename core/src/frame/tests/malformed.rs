//! One test per rule: the exact error (kind, scope, code) for each violation.

use super::*;
use FrameErrorKind::*;

const CONN: Scope = Scope::Connection;
const PROTOCOL: ErrorCode = ErrorCode::PROTOCOL_ERROR;
const FRAME_SIZE: ErrorCode = ErrorCode::FRAME_SIZE_ERROR;

fn on_stream(id: u32) -> Scope {
    Scope::Stream(StreamId(id))
}

// DATA (§6.1)

#[test]
fn data_on_stream_zero() {
    assert_error(&raw(0x0, 0, 0, b"x"), StreamIdRequired, CONN, PROTOCOL);
}

#[test]
fn data_padded_without_pad_length() {
    assert_error(&raw(0x0, 0x8, 1, &[]), BadLength, CONN, FRAME_SIZE);
}

#[test]
fn data_padding_too_long() {
    // Pad Length equal to the payload length.
    assert_error(&raw(0x0, 0x8, 1, &[3, 0, 0]), PaddingTooLong, CONN, PROTOCOL);
    assert_error(&raw(0x0, 0x8, 1, &[1]), PaddingTooLong, CONN, PROTOCOL);
    // Pad Length far beyond it.
    assert_error(&raw(0x0, 0x8, 1, &[255, 1, 2]), PaddingTooLong, CONN, PROTOCOL);
}

// HEADERS (§6.2)

#[test]
fn headers_on_stream_zero() {
    assert_error(&raw(0x1, 0x4, 0, b"\x82"), StreamIdRequired, CONN, PROTOCOL);
}

#[test]
fn headers_padded_without_pad_length() {
    assert_error(&raw(0x1, 0x8, 1, &[]), BadLength, CONN, FRAME_SIZE);
}

#[test]
fn headers_priority_fields_truncated() {
    assert_error(&raw(0x1, 0x20, 1, &[0, 0, 0, 3]), BadLength, CONN, FRAME_SIZE);
    // PADDED and PRIORITY: 1 + 5 octets needed.
    assert_error(&raw(0x1, 0x28, 1, &[0, 0, 0, 0, 3]), BadLength, CONN, FRAME_SIZE);
}

#[test]
fn headers_padding_too_long() {
    assert_error(&raw(0x1, 0x8, 1, &[2, 0x82]), PaddingTooLong, CONN, PROTOCOL);
    // The padding may not eat into the priority fields.
    let wire = raw(0x1, 0x28, 1, &[1, 0, 0, 0, 3, 16]);
    assert_error(&wire, PaddingTooLong, CONN, PROTOCOL);
}

#[test]
fn headers_self_dependency_still_delivers_the_block() {
    // §5.3.1 makes this a stream error, but §4.3 requires the field block to be
    // decoded anyway, so the frame is returned and the connection rejects it.
    let wire = raw(0x1, 0x24, 3, &[0x80, 0, 0, 3, 16, 0x82]);
    let Ok(Frame::Headers(h)) = decode_one(&wire) else { panic!("HEADERS expected") };
    assert_eq!(h.priority.map(|p| p.dependency), Some(StreamId(3)));
    assert_eq!(&h.fragment[..], &[0x82]);
}

// PRIORITY (§6.3)

#[test]
fn priority_on_stream_zero() {
    assert_error(&raw(0x2, 0, 0, &[0, 0, 0, 1, 0]), StreamIdRequired, CONN, PROTOCOL);
}

#[test]
fn priority_bad_length() {
    assert_error(&raw(0x2, 0, 5, &[0, 0, 0, 1]), BadLength, on_stream(5), FRAME_SIZE);
    assert_error(&raw(0x2, 0, 5, &[0, 0, 0, 1, 0, 0]), BadLength, on_stream(5), FRAME_SIZE);
    assert_error(&raw(0x2, 0, 5, &[]), BadLength, on_stream(5), FRAME_SIZE);
}

#[test]
fn priority_self_dependency() {
    assert_error(&raw(0x2, 0, 5, &[0, 0, 0, 5, 0]), SelfDependency, on_stream(5), PROTOCOL);
    // The reserved/E bit does not hide a self dependency.
    let wire = raw(0x2, 0, 5, &[0x80, 0, 0, 5, 0]);
    assert_error(&wire, SelfDependency, on_stream(5), PROTOCOL);
}

// RST_STREAM (§6.4)

#[test]
fn rst_stream_on_stream_zero() {
    assert_error(&raw(0x3, 0, 0, &[0, 0, 0, 8]), StreamIdRequired, CONN, PROTOCOL);
}

#[test]
fn rst_stream_bad_length() {
    assert_error(&raw(0x3, 0, 1, &[0, 0, 8]), BadLength, CONN, FRAME_SIZE);
    assert_error(&raw(0x3, 0, 1, &[0, 0, 0, 8, 0]), BadLength, CONN, FRAME_SIZE);
}

// SETTINGS (§6.5)

#[test]
fn settings_on_stream() {
    assert_error(&raw(0x4, 0, 1, &[]), StreamIdNotAllowed, CONN, PROTOCOL);
    assert_error(&raw(0x4, 0x1, 1, &[]), StreamIdNotAllowed, CONN, PROTOCOL);
}

#[test]
fn settings_ack_with_payload() {
    let wire = raw(0x4, 0x1, 0, &[0, 3, 0, 0, 0, 1]);
    assert_error(&wire, SettingsAckWithPayload, CONN, FRAME_SIZE);
    assert_error(&raw(0x4, 0x1, 0, &[0]), SettingsAckWithPayload, CONN, FRAME_SIZE);
}

#[test]
fn settings_length_not_multiple_of_six() {
    assert_error(&raw(0x4, 0, 0, &[0, 3, 0, 0, 0]), BadLength, CONN, FRAME_SIZE);
    assert_error(&raw(0x4, 0, 0, &[0, 3, 0, 0, 0, 1, 0]), BadLength, CONN, FRAME_SIZE);
}

#[test]
fn settings_invalid_enable_push() {
    let wire = raw(0x4, 0, 0, &[0, 2, 0, 0, 0, 2]);
    assert_error(&wire, InvalidEnablePush, CONN, PROTOCOL);
    let wire = raw(0x4, 0, 0, &[0, 2, 0x80, 0, 0, 1]);
    assert_error(&wire, InvalidEnablePush, CONN, PROTOCOL);
}

#[test]
fn settings_initial_window_size_too_large() {
    let wire = raw(0x4, 0, 0, &[0, 4, 0x80, 0, 0, 0]);
    assert_error(&wire, InvalidInitialWindowSize, CONN, ErrorCode::FLOW_CONTROL_ERROR);
    let wire = raw(0x4, 0, 0, &[0, 4, 0xff, 0xff, 0xff, 0xff]);
    assert_error(&wire, InvalidInitialWindowSize, CONN, ErrorCode::FLOW_CONTROL_ERROR);
}

#[test]
fn settings_max_frame_size_out_of_range() {
    for value in [0u32, DEFAULT_MAX_FRAME_SIZE - 1, MAX_MAX_FRAME_SIZE + 1, u32::MAX] {
        let [v0, v1, v2, v3] = value.to_be_bytes();
        let wire = raw(0x4, 0, 0, &[0, 5, v0, v1, v2, v3]);
        assert_error(&wire, InvalidMaxFrameSize, CONN, PROTOCOL);
    }
    // Both bounds are legal.
    for value in [DEFAULT_MAX_FRAME_SIZE, MAX_MAX_FRAME_SIZE] {
        let [v0, v1, v2, v3] = value.to_be_bytes();
        let frame = decode_one(&raw(0x4, 0, 0, &[0, 5, v0, v1, v2, v3])).expect("legal value");
        let Frame::Settings(f) = frame else { panic!("not SETTINGS: {frame:?}") };
        assert_eq!(f.settings.max_frame_size, Some(value));
    }
}

#[test]
fn settings_invalid_enable_connect_protocol() {
    let wire = raw(0x4, 0, 0, &[0, 8, 0, 0, 0, 2]);
    assert_error(&wire, InvalidEnableConnectProtocol, CONN, PROTOCOL);
}

#[test]
fn settings_invalid_value_after_valid_ones() {
    let wire = raw(0x4, 0, 0, &[0, 3, 0, 0, 0, 1, 0, 2, 0, 0, 0, 7]);
    assert_error(&wire, InvalidEnablePush, CONN, PROTOCOL);
}

// PUSH_PROMISE (§6.6)

#[test]
fn push_promise_on_stream_zero() {
    assert_error(&raw(0x5, 0x4, 0, &[0, 0, 0, 2]), StreamIdRequired, CONN, PROTOCOL);
}

#[test]
fn push_promise_missing_promised_id() {
    assert_error(&raw(0x5, 0x4, 1, &[0, 0, 2]), BadLength, CONN, FRAME_SIZE);
    assert_error(&raw(0x5, 0x4, 1, &[]), BadLength, CONN, FRAME_SIZE);
    // PADDED: Pad Length octet + 4 octets needed.
    assert_error(&raw(0x5, 0xc, 1, &[0, 0, 0, 2]), BadLength, CONN, FRAME_SIZE);
}

#[test]
fn push_promise_padding_too_long() {
    let wire = raw(0x5, 0xc, 1, &[2, 0, 0, 0, 2, 0x82]);
    assert_error(&wire, PaddingTooLong, CONN, PROTOCOL);
    let wire = raw(0x5, 0xc, 1, &[255, 0, 0, 0, 2]);
    assert_error(&wire, PaddingTooLong, CONN, PROTOCOL);
}

// PING (§6.7)

#[test]
fn ping_on_stream() {
    assert_error(&raw(0x6, 0, 1, b"12345678"), StreamIdNotAllowed, CONN, PROTOCOL);
}

#[test]
fn ping_bad_length() {
    for payload in [&b""[..], b"1234567", b"123456789"] {
        assert_error(&raw(0x6, 0, 0, payload), BadLength, CONN, FRAME_SIZE);
    }
}

// GOAWAY (§6.8)

#[test]
fn goaway_on_stream() {
    let wire = raw(0x7, 0, 3, &[0, 0, 0, 1, 0, 0, 0, 0]);
    assert_error(&wire, StreamIdNotAllowed, CONN, PROTOCOL);
}

#[test]
fn goaway_too_short() {
    assert_error(&raw(0x7, 0, 0, &[0, 0, 0, 1, 0, 0, 0]), BadLength, CONN, FRAME_SIZE);
    assert_error(&raw(0x7, 0, 0, &[]), BadLength, CONN, FRAME_SIZE);
}

// WINDOW_UPDATE (§6.9)

#[test]
fn window_update_bad_length() {
    for stream in [0, 3] {
        assert_error(&raw(0x8, 0, stream, &[0, 0, 1]), BadLength, CONN, FRAME_SIZE);
        assert_error(&raw(0x8, 0, stream, &[0, 0, 0, 1, 0]), BadLength, CONN, FRAME_SIZE);
    }
}

#[test]
fn window_update_zero_increment_on_stream() {
    let scope = on_stream(3);
    assert_error(&raw(0x8, 0, 3, &[0, 0, 0, 0]), ZeroWindowIncrement, scope, PROTOCOL);
    // Only the reserved bit set: the increment is still 0.
    assert_error(&raw(0x8, 0, 3, &[0x80, 0, 0, 0]), ZeroWindowIncrement, scope, PROTOCOL);
}

#[test]
fn window_update_zero_increment_on_connection() {
    assert_error(&raw(0x8, 0, 0, &[0, 0, 0, 0]), ZeroWindowIncrement, CONN, PROTOCOL);
}

// CONTINUATION (§6.10)

#[test]
fn continuation_on_stream_zero() {
    assert_error(&raw(0x9, 0x4, 0, b"\x82"), StreamIdRequired, CONN, PROTOCOL);
}

// Frame size (§4.2)

#[test]
fn too_large_is_connection_frame_size_error() {
    let mut buf = BytesMut::from(&raw(0x0, 0, 1, &[0; 11])[..]);
    let err = FrameDecoder::new(10).decode(&mut buf).expect_err("over the limit");
    assert_eq!(err, FrameError::connection(TooLarge { len: 11, max: 10 }));
    assert_eq!(err.code(), FRAME_SIZE);
}
