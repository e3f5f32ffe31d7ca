//! FrameDecoder over a byte stream: partial input, zero copy, size limits,
//! recovery after stream errors.

use super::*;

/// Decodes every complete frame in `buf`; panics on errors.
fn drain(decoder: &mut FrameDecoder, buf: &mut BytesMut, out: &mut Vec<Frame>) {
    loop {
        let before = buf.len();
        match decoder.decode(buf) {
            Ok(Some(frame)) => out.push(frame),
            Ok(None) => {
                assert_eq!(buf.len(), before, "Ok(None) must not consume input");
                return;
            }
            Err(e) => panic!("unexpected error {e}"),
        }
    }
}

fn sample_wire() -> (Vec<Frame>, Vec<u8>) {
    let frames = sample_frames();
    let mut wire = Vec::new();
    for frame in &frames {
        frame.encode(&mut wire);
    }
    (frames, wire)
}

#[test]
fn partial_input_split_at_every_byte() {
    let (frames, wire) = sample_wire();
    for split in 0..=wire.len() {
        let (head, tail) = wire.split_at(split);
        let mut decoder = FrameDecoder::default();
        let mut buf = BytesMut::from(head);
        let mut out = Vec::new();
        drain(&mut decoder, &mut buf, &mut out);
        buf.extend_from_slice(tail);
        drain(&mut decoder, &mut buf, &mut out);
        assert!(buf.is_empty(), "split at {split}");
        assert_eq!(out, frames, "split at {split}");
    }
}

#[test]
fn partial_input_one_byte_at_a_time() {
    let (frames, wire) = sample_wire();
    let mut decoder = FrameDecoder::default();
    let mut buf = BytesMut::new();
    let mut out = Vec::new();
    for &octet in &wire {
        buf.extend_from_slice(&[octet]);
        drain(&mut decoder, &mut buf, &mut out);
    }
    assert!(buf.is_empty());
    assert_eq!(out, frames);
}

#[test]
fn hand_built_stream_decodes() {
    let mut wire = raw(0x4, 0, 0, &[0, 3, 0, 0, 0, 100]);
    wire.extend(raw(0x1, 0x5, 1, &[0x82]));
    wire.extend(raw(0x0, 0x9, 1, &[1, b'x', 0]));
    wire.extend(raw(0xee, 0x3, 0, b"ext"));
    wire.extend(raw(0x6, 0x1, 0, b"pingpong"));
    let mut buf = BytesMut::from(&wire[..]);
    let mut out = Vec::new();
    drain(&mut FrameDecoder::default(), &mut buf, &mut out);
    let settings = Settings { max_concurrent_streams: Some(100), ..Settings::default() };
    let expected = vec![
        Frame::Settings(SettingsFrame { ack: false, settings }),
        Frame::Headers(Headers {
            stream_id: StreamId(1),
            fragment: b(b"\x82"),
            end_stream: true,
            end_headers: true,
            priority: None,
            pad_len: None,
        }),
        Frame::Data(Data { stream_id: StreamId(1), data: b(b"x"), end_stream: true, pad_len: Some(1) }),
        Frame::Unknown(Unknown { kind: 0xee, flags: 0x3, stream_id: StreamId(0), payload: b(b"ext") }),
        Frame::Ping(Ping { ack: true, payload: *b"pingpong" }),
    ];
    assert_eq!(out, expected);
    assert!(buf.is_empty());
}

#[test]
fn zero_copy_payloads_point_into_input() {
    let mut wire = raw(0x0, 0x8, 1, &[2, b'a', b'b', b'c', 0, 0]);
    wire.extend(raw(0x1, 0x4, 1, b"\x82\x86"));
    wire.extend(raw(0x7, 0, 0, &[0, 0, 0, 1, 0, 0, 0, 0, b'd', b'b', b'g']));
    wire.extend(raw(0xab, 0, 1, b"raw"));
    let mut buf = BytesMut::from(&wire[..]);
    let input = buf.as_ptr_range();
    let inside = |bytes: &Bytes, expected: &[u8]| {
        assert_eq!(&bytes[..], expected);
        let range = bytes.as_ptr_range();
        assert!(input.start <= range.start && range.end <= input.end, "copied: {bytes:?}");
    };
    let mut decoder = FrameDecoder::default();
    let Ok(Some(Frame::Data(data))) = decoder.decode(&mut buf) else { panic!("DATA") };
    inside(&data.data, b"abc");
    // Exactly after the Pad Length octet of the first frame.
    assert_eq!(data.data.as_ptr(), input.start.wrapping_add(HEADER_LEN + 1));
    let Ok(Some(Frame::Headers(headers))) = decoder.decode(&mut buf) else { panic!("HEADERS") };
    inside(&headers.fragment, b"\x82\x86");
    let Ok(Some(Frame::GoAway(goaway))) = decoder.decode(&mut buf) else { panic!("GOAWAY") };
    inside(&goaway.debug_data, b"dbg");
    let Ok(Some(Frame::Unknown(unknown))) = decoder.decode(&mut buf) else { panic!("Unknown") };
    inside(&unknown.payload, b"raw");
}

fn data_frame(len: usize) -> Vec<u8> {
    raw(0x0, 0, 1, &vec![0xab; len])
}

#[test]
fn max_frame_size_exact_is_accepted() {
    let max = DEFAULT_MAX_FRAME_SIZE;
    let mut buf = BytesMut::from(&data_frame(max as usize)[..]);
    let frame = FrameDecoder::new(max).decode(&mut buf).expect("at the limit");
    let Some(Frame::Data(data)) = frame else { panic!("not DATA: {frame:?}") };
    assert_eq!(data.data.len(), max as usize);
    assert!(buf.is_empty());
}

#[test]
fn max_frame_size_plus_one_rejected_on_header_alone() {
    let max = DEFAULT_MAX_FRAME_SIZE;
    let wire = data_frame(max as usize + 1);
    // Only the header: the payload never needs to arrive.
    let mut buf = BytesMut::from(&wire[..HEADER_LEN]);
    let mut decoder = FrameDecoder::new(max);
    let err = decoder.decode(&mut buf).expect_err("over the limit");
    let kind = FrameErrorKind::TooLarge { len: max + 1, max };
    assert_eq!(err, FrameError { kind, scope: Scope::Connection });
    assert_eq!(err.code(), ErrorCode::FRAME_SIZE_ERROR);
    assert_eq!(buf.len(), HEADER_LEN, "nothing consumed");
    // Fewer than 9 octets: still waiting.
    let mut short = BytesMut::from(&wire[..HEADER_LEN - 1]);
    assert_eq!(decoder.decode(&mut short), Ok(None));
}

#[test]
fn set_max_frame_size_lets_larger_frames_through() {
    let mut decoder = FrameDecoder::new(DEFAULT_MAX_FRAME_SIZE);
    let wire = data_frame(100_000);
    let mut buf = BytesMut::from(&wire[..]);
    assert!(decoder.decode(&mut buf).is_err());
    decoder.set_max_frame_size(100_000);
    assert_eq!(decoder.max_frame_size(), 100_000);
    let frame = decoder.decode(&mut buf).expect("now allowed");
    assert!(matches!(frame, Some(Frame::Data(d)) if d.data.len() == 100_000));
    assert!(buf.is_empty());
}

/// A frame larger than HTTP/2's default maximum gets room for all of it
/// once its header is in; room for a smaller one is left to the reader
/// (which may move it to a buffer it reuses instead).
#[test]
fn waiting_for_a_large_payload_reserves_room() {
    let mut decoder = FrameDecoder::default();
    decoder.set_max_frame_size(1 << 20);
    let large = data_frame(GROW_ABOVE);
    let mut buf = BytesMut::from(&large[..HEADER_LEN + 10]);
    assert_eq!(decoder.decode(&mut buf), Ok(None));
    assert!(buf.capacity() >= large.len());
    assert_eq!(&buf[..], &large[..HEADER_LEN + 10]);

    let small = data_frame(GROW_ABOVE - HEADER_LEN);
    let mut buf = BytesMut::from(&small[..HEADER_LEN + 10]);
    assert_eq!(decoder.decode(&mut buf), Ok(None));
    assert_eq!(buf.capacity(), HEADER_LEN + 10, "left to the reader");
    buf.extend_from_slice(&small[HEADER_LEN + 10..]);
    assert!(
        matches!(decoder.decode(&mut buf), Ok(Some(Frame::Data(d))) if d.data.len() == GROW_ABOVE - HEADER_LEN)
    );
}

#[test]
fn decoding_continues_after_stream_errors() {
    let mut wire = raw(0x2, 0, 5, &[0, 0, 0, 5, 0]); // self dependency
    wire.extend(raw(0x8, 0, 3, &[0, 0, 0, 0])); // zero increment on a stream
    wire.extend(raw(0x2, 0, 7, &[0, 0, 0])); // PRIORITY of bad length
    wire.extend(raw(0x6, 0, 0, b"still ok"));
    let mut buf = BytesMut::from(&wire[..]);
    let mut decoder = FrameDecoder::default();
    let scopes: Vec<_> = (0..3).map(|_| decoder.decode(&mut buf).expect_err("stream error").scope).collect();
    let expected = [5, 3, 7].map(|id| Scope::Stream(StreamId(id)));
    assert_eq!(scopes, expected);
    let ping = Frame::Ping(Ping { ack: false, payload: *b"still ok" });
    assert_eq!(decoder.decode(&mut buf), Ok(Some(ping)));
    assert_eq!(decoder.decode(&mut buf), Ok(None));
}

#[test]
fn parse_frame_on_a_complete_frame() {
    let header = FrameHeader::new(FrameType::Continuation, flags::END_HEADERS, StreamId(3), 2);
    let frame = parse_frame(header, b(b"\x82\x84"));
    let expected = Continuation { stream_id: StreamId(3), fragment: b(b"\x82\x84"), end_headers: true };
    assert_eq!(frame, Ok(Frame::Continuation(expected)));
    let header = FrameHeader::new(FrameType::Ping, 0, StreamId::ZERO, 3);
    let err = parse_frame(header, b(b"abc")).expect_err("short PING");
    assert_eq!(err, FrameError::connection(FrameErrorKind::BadLength));
}

#[test]
fn decoder_defaults_to_initial_max_frame_size() {
    assert_eq!(FrameDecoder::default().max_frame_size(), DEFAULT_MAX_FRAME_SIZE);
    assert_eq!(FrameDecoder::new(1 << 20).max_frame_size(), 1 << 20);
}

#[test]
fn encoded_len_matches_encode_for_samples() {
    for frame in sample_frames() {
        assert_eq!(encode(&frame).len(), frame.encoded_len(), "{frame:?}");
        assert_eq!(decode_one(&encode(&frame)), Ok(frame));
    }
}
