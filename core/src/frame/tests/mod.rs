//! Unit tests of the frame codec. Wire bytes are built by hand with [`raw`]
//! so that the decoder is checked independently of the encoder.

mod header_block;
mod malformed;
mod stream;
mod wire;

use bytes::{Bytes, BytesMut};

use super::*;

/// A frame on the wire, built by hand: 24-bit length, type, flags, raw 32-bit
/// stream field (reserved bit included), payload.
fn raw(kind: u8, flags: u8, stream: u32, payload: &[u8]) -> Vec<u8> {
    let [_, l0, l1, l2] = u32::try_from(payload.len()).expect("test payload").to_be_bytes();
    let mut wire = vec![l0, l1, l2, kind, flags];
    wire.extend_from_slice(&stream.to_be_bytes());
    wire.extend_from_slice(payload);
    wire
}

/// Decodes exactly one frame from `wire` (with the largest legal limit) and
/// checks it consumed all of it.
fn decode_one(wire: &[u8]) -> Result<Frame, FrameError> {
    let mut buf = BytesMut::from(wire);
    let frame = FrameDecoder::new(MAX_MAX_FRAME_SIZE).decode(&mut buf)?;
    assert!(buf.is_empty(), "frame left {} octets", buf.len());
    Ok(frame.expect("a complete frame"))
}

/// The encoder's output for one frame, checking `encoded_len` and that the
/// single reservation was exact.
fn encode(frame: &Frame) -> Vec<u8> {
    let mut out = Vec::new();
    frame.encode(&mut out);
    assert_eq!(out.len(), frame.encoded_len());
    assert_eq!(out.capacity(), out.len(), "encode must reserve exactly once");
    out
}

/// Asserts that `frame` encodes to `wire` and that `wire` decodes to `frame`.
fn assert_wire(frame: Frame, wire: &[u8]) {
    assert_eq!(encode(&frame), wire, "encoding of {frame:?}");
    assert_eq!(decode_one(wire), Ok(frame));
}

/// Asserts that decoding `wire` fails with exactly this kind, scope and code.
fn assert_error(wire: &[u8], kind: FrameErrorKind, scope: Scope, code: ErrorCode) {
    let err = decode_one(wire).expect_err("malformed frame must be rejected");
    assert_eq!(err, FrameError { kind, scope });
    assert_eq!(err.code(), code);
    assert_eq!(err.is_connection_error(), scope == Scope::Connection);
}

fn b(s: &'static [u8]) -> Bytes {
    Bytes::from_static(s)
}

/// At least one frame of every type, with padding and priority variants.
fn sample_frames() -> Vec<Frame> {
    vec![
        Frame::Data(Data { stream_id: StreamId(1), data: b(b"hello"), end_stream: false, pad_len: None }),
        Frame::Data(Data { stream_id: StreamId(3), data: b(b"pad"), end_stream: true, pad_len: Some(4) }),
        Frame::Data(Data { stream_id: StreamId(5), data: Bytes::new(), end_stream: true, pad_len: None }),
        Frame::Headers(Headers {
            stream_id: StreamId(1),
            fragment: b(b"\x82\x86\x84"),
            end_stream: true,
            end_headers: true,
            priority: None,
            pad_len: None,
        }),
        Frame::Headers(Headers {
            stream_id: StreamId(7),
            fragment: b(b"\x41\x8a"),
            end_stream: false,
            end_headers: false,
            priority: Some(Priority { exclusive: true, dependency: StreamId(3), weight: 200 }),
            pad_len: Some(2),
        }),
        Frame::Priority(PriorityFrame {
            stream_id: StreamId(9),
            priority: Priority { exclusive: false, dependency: StreamId(0), weight: 15 },
        }),
        Frame::RstStream(RstStream { stream_id: StreamId(7), error_code: ErrorCode::CANCEL }),
        Frame::Settings(SettingsFrame {
            ack: false,
            settings: Settings {
                header_table_size: Some(0),
                enable_push: Some(false),
                initial_window_size: Some(MAX_WINDOW_SIZE),
                max_frame_size: Some(MAX_MAX_FRAME_SIZE),
                ..Settings::default()
            },
        }),
        Frame::Settings(SettingsFrame { ack: true, settings: Settings::default() }),
        Frame::PushPromise(PushPromise {
            stream_id: StreamId(1),
            promised_id: StreamId(2),
            fragment: b(b"\x88"),
            end_headers: true,
            pad_len: Some(1),
        }),
        Frame::Ping(Ping { ack: true, payload: *b"weir-pin" }),
        Frame::GoAway(GoAway {
            last_stream_id: StreamId(7),
            error_code: ErrorCode::ENHANCE_YOUR_CALM,
            debug_data: b(b"slow down"),
        }),
        Frame::WindowUpdate(WindowUpdate { stream_id: StreamId::ZERO, increment: MAX_WINDOW_SIZE }),
        Frame::WindowUpdate(WindowUpdate { stream_id: StreamId(7), increment: 1 }),
        Frame::Continuation(Continuation { stream_id: StreamId(7), fragment: b(b"\x87"), end_headers: true }),
        Frame::Unknown(Unknown { kind: 0xfa, flags: 0xff, stream_id: StreamId(11), payload: b(b"??") }),
    ]
}
