//! Property tests of the frame codec: round trips, robustness against
//! arbitrary input, and header-block splitting.

use bytes::{Bytes, BytesMut};
use proptest::collection::vec;
use proptest::prelude::*;
use weir_core::ErrorCode;
use weir_core::frame::{
    Continuation, DEFAULT_MAX_FRAME_SIZE, Data, Frame, FrameDecoder, FrameHeader, FrameType, GoAway,
    HEADER_LEN, HeaderBlockKind, Headers, MAX_MAX_FRAME_SIZE, MAX_WINDOW_SIZE, Ping, Priority, PriorityFrame,
    PushPromise, RstStream, Scope, Settings, SettingsFrame, StreamId, Unknown, WindowUpdate,
    encode_header_block,
};

fn any_stream() -> impl Strategy<Value = StreamId> {
    (0..=StreamId::MAX.0).prop_map(StreamId)
}

fn nonzero_stream() -> impl Strategy<Value = StreamId> {
    (1..=StreamId::MAX.0).prop_map(StreamId)
}

fn payload(max: usize) -> impl Strategy<Value = Bytes> {
    vec(any::<u8>(), 0..=max).prop_map(Bytes::from)
}

/// Priority fields for `stream`: any dependency except the stream itself.
fn priority_for(stream: StreamId) -> impl Strategy<Value = Priority> {
    (any::<bool>(), any_stream(), any::<u8>()).prop_map(move |(exclusive, dep, weight)| {
        let dependency = if dep == stream { StreamId(dep.0 ^ 1) } else { dep };
        Priority { exclusive, dependency, weight }
    })
}

fn settings() -> impl Strategy<Value = Settings> {
    (
        proptest::option::of(any::<u32>()),
        proptest::option::of(any::<bool>()),
        proptest::option::of(any::<u32>()),
        proptest::option::of(0..=MAX_WINDOW_SIZE),
        proptest::option::of(DEFAULT_MAX_FRAME_SIZE..=MAX_MAX_FRAME_SIZE),
        proptest::option::of(any::<u32>()),
        proptest::option::of(any::<bool>()),
    )
        .prop_map(|(hts, push, mcs, iws, mfs, mhls, connect)| Settings {
            header_table_size: hts,
            enable_push: push,
            max_concurrent_streams: mcs,
            initial_window_size: iws,
            max_frame_size: mfs,
            max_header_list_size: mhls,
            enable_connect_protocol: connect,
        })
}

fn data() -> impl Strategy<Value = Frame> {
    (nonzero_stream(), payload(300), any::<bool>(), any::<Option<u8>>()).prop_map(
        |(stream_id, data, end_stream, pad_len)| Frame::Data(Data { stream_id, data, end_stream, pad_len }),
    )
}

fn headers() -> impl Strategy<Value = Frame> {
    nonzero_stream().prop_flat_map(|stream_id| {
        let fields = (payload(300), any::<bool>(), any::<bool>());
        let extras = (proptest::option::of(priority_for(stream_id)), any::<Option<u8>>());
        (fields, extras).prop_map(move |((fragment, end_stream, end_headers), (priority, pad))| {
            Frame::Headers(Headers { stream_id, fragment, end_stream, end_headers, priority, pad_len: pad })
        })
    })
}

fn priority() -> impl Strategy<Value = Frame> {
    nonzero_stream().prop_flat_map(|stream_id| {
        priority_for(stream_id)
            .prop_map(move |priority| Frame::Priority(PriorityFrame { stream_id, priority }))
    })
}

fn push_promise() -> impl Strategy<Value = Frame> {
    let fields = (nonzero_stream(), any_stream(), payload(300));
    (fields, any::<bool>(), any::<Option<u8>>()).prop_map(
        |((stream_id, promised_id, fragment), end_headers, pad_len)| {
            Frame::PushPromise(PushPromise { stream_id, promised_id, fragment, end_headers, pad_len })
        },
    )
}

fn settings_frame() -> impl Strategy<Value = Frame> {
    prop_oneof![
        settings().prop_map(|settings| Frame::Settings(SettingsFrame { ack: false, settings })),
        Just(Frame::Settings(SettingsFrame { ack: true, settings: Settings::default() })),
    ]
}

/// Every frame variant, with valid fields.
fn frame() -> impl Strategy<Value = Frame> {
    prop_oneof![
        data(),
        headers(),
        priority(),
        (nonzero_stream(), any::<u32>()).prop_map(|(stream_id, code)| {
            Frame::RstStream(RstStream { stream_id, error_code: ErrorCode(code) })
        }),
        settings_frame(),
        push_promise(),
        (any::<bool>(), any::<[u8; 8]>()).prop_map(|(ack, payload)| Frame::Ping(Ping { ack, payload })),
        (any_stream(), any::<u32>(), payload(300)).prop_map(|(last, code, debug_data)| {
            Frame::GoAway(GoAway { last_stream_id: last, error_code: ErrorCode(code), debug_data })
        }),
        (any_stream(), 1..=MAX_WINDOW_SIZE).prop_map(|(stream_id, increment)| {
            Frame::WindowUpdate(WindowUpdate { stream_id, increment })
        }),
        (nonzero_stream(), payload(300), any::<bool>()).prop_map(|(stream_id, fragment, end_headers)| {
            Frame::Continuation(Continuation { stream_id, fragment, end_headers })
        }),
        (0x0au8..=0xff, any::<u8>(), any_stream(), payload(300)).prop_map(
            |(kind, flags, stream_id, payload)| {
                Frame::Unknown(Unknown { kind, flags, stream_id, payload })
            }
        ),
    ]
}

/// Decodes all complete frames in `buf`, stopping at the first connection
/// error. Checks that each call either consumed input or returned a terminal
/// result, so the loop always ends.
fn decode_all(decoder: &mut FrameDecoder, buf: &mut BytesMut) -> Vec<Frame> {
    let mut frames = Vec::new();
    loop {
        let before = buf.len();
        match decoder.decode(buf) {
            Ok(Some(frame)) => {
                assert!(buf.len() < before, "a frame must consume input");
                frames.push(frame);
            }
            Ok(None) => {
                assert_eq!(buf.len(), before);
                return frames;
            }
            Err(e) if e.scope == Scope::Connection => return frames,
            Err(e) => {
                assert!(buf.len() < before, "stream error {e} must consume its frame");
            }
        }
    }
}

/// decode(encode(f)) == f for a decoded frame `f`.
fn assert_reencodes(frame: &Frame) {
    let mut wire = Vec::new();
    frame.encode(&mut wire);
    let mut buf = BytesMut::from(&wire[..]);
    let again = FrameDecoder::new(MAX_MAX_FRAME_SIZE).decode(&mut buf);
    assert_eq!(again, Ok(Some(frame.clone())));
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1024))]

    #[test]
    fn frame_round_trips(frame in frame()) {
        let mut wire = Vec::new();
        frame.encode(&mut wire);
        prop_assert_eq!(wire.len(), frame.encoded_len());
        let mut buf = BytesMut::from(&wire[..]);
        let decoded = FrameDecoder::new(MAX_MAX_FRAME_SIZE).decode(&mut buf);
        prop_assert_eq!(decoded, Ok(Some(frame)));
        prop_assert!(buf.is_empty());
    }

    #[test]
    fn frame_sequences_round_trip_in_chunks(
        frames in vec(frame(), 1..8),
        chunk in 1usize..64,
    ) {
        let mut wire = Vec::new();
        for frame in &frames {
            frame.encode(&mut wire);
        }
        let mut decoder = FrameDecoder::new(MAX_MAX_FRAME_SIZE);
        let mut buf = BytesMut::new();
        let mut out = Vec::new();
        for piece in wire.chunks(chunk) {
            buf.extend_from_slice(piece);
            out.extend(decode_all(&mut decoder, &mut buf));
        }
        prop_assert_eq!(out, frames);
        prop_assert!(buf.is_empty());
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1024))]

    #[test]
    fn arbitrary_bytes_never_panic(input in vec(any::<u8>(), 0..4096), max in 0u32..=20_000) {
        let mut buf = BytesMut::from(&input[..]);
        for frame in decode_all(&mut FrameDecoder::new(max), &mut buf) {
            assert_reencodes(&frame);
        }
    }

    #[test]
    fn arbitrary_payload_behind_valid_header_never_panics(
        kind in 0u8..=0x0c,
        flags in any::<u8>(),
        stream in any::<u32>(),
        body in vec(any::<u8>(), 0..512),
        tail in vec(any::<u8>(), 0..64),
    ) {
        let len = u32::try_from(body.len()).unwrap_or(u32::MAX);
        let header = FrameHeader::new(FrameType::from(kind), flags, StreamId(stream), len);
        let mut wire = Vec::new();
        header.encode(&mut wire);
        // The reserved stream bit is set on the wire half of the time.
        if let Some(first) = wire.get_mut(5) {
            *first |= (stream >> 24) as u8 & 0x80;
        }
        wire.extend_from_slice(&body);
        wire.extend_from_slice(&tail);
        let mut buf = BytesMut::from(&wire[..]);
        let mut decoder = FrameDecoder::new(DEFAULT_MAX_FRAME_SIZE);
        match decoder.decode(&mut buf) {
            Ok(Some(frame)) => assert_reencodes(&frame),
            Ok(None) => prop_assert!(false, "a complete frame must decode or fail"),
            Err(_) => {}
        }
        // The first frame was consumed either way.
        prop_assert_eq!(buf.len(), tail.len());
        decode_all(&mut decoder, &mut buf);
    }
}

/// One frame of a split header block, as seen by the receiver.
fn fragment_of(frame: &Frame) -> (&Bytes, bool) {
    match frame {
        Frame::Headers(f) => (&f.fragment, f.end_headers),
        Frame::PushPromise(f) => (&f.fragment, f.end_headers),
        Frame::Continuation(f) => (&f.fragment, f.end_headers),
        other => panic!("unexpected frame in a header block: {other:?}"),
    }
}

fn header_block_kind() -> impl Strategy<Value = HeaderBlockKind> {
    prop_oneof![
        (any::<bool>(), priority_for(StreamId(1))).prop_map(|(end_stream, priority)| {
            HeaderBlockKind::Headers { end_stream, priority: Some(priority) }
        }),
        any::<bool>().prop_map(|end_stream| HeaderBlockKind::Headers { end_stream, priority: None }),
        any_stream().prop_map(|promised_id| HeaderBlockKind::PushPromise { promised_id }),
    ]
}

fn max_frame_size() -> impl Strategy<Value = u32> {
    prop_oneof![0u32..=64, 64u32..=4096, DEFAULT_MAX_FRAME_SIZE..=MAX_MAX_FRAME_SIZE]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn header_block_splits_and_reassembles(
        kind in header_block_kind(),
        block in vec(any::<u8>(), 0..20_000),
        max in max_frame_size(),
    ) {
        let stream = StreamId(1);
        let mut wire = Vec::new();
        encode_header_block(kind, stream, &block, max, &mut wire);

        // Every frame respects the (raised) limit.
        let fixed = match kind {
            HeaderBlockKind::Headers { priority: Some(_), .. } => 5,
            HeaderBlockKind::Headers { priority: None, .. } => 0,
            HeaderBlockKind::PushPromise { .. } => 4,
        };
        let limit = max.max(fixed + 1);
        let mut decoder = FrameDecoder::new(limit);
        let mut buf = BytesMut::from(&wire[..]);
        let mut frames = Vec::new();
        while let Some(frame) = decoder.decode(&mut buf).expect("valid frames") {
            frames.push(frame);
        }
        prop_assert!(buf.is_empty());

        // The first frame carries the fixed fields; the rest are CONTINUATIONs.
        match (&frames[0], kind) {
            (Frame::Headers(h), HeaderBlockKind::Headers { end_stream, priority }) => {
                prop_assert_eq!(h.end_stream, end_stream);
                prop_assert_eq!(h.priority, priority);
                prop_assert_eq!(h.pad_len, None);
            }
            (Frame::PushPromise(p), HeaderBlockKind::PushPromise { promised_id }) => {
                prop_assert_eq!(p.promised_id, promised_id);
            }
            (first, _) => prop_assert!(false, "wrong first frame {:?}", first),
        }
        prop_assert!(frames[1..].iter().all(|f| matches!(f, Frame::Continuation(_))));
        prop_assert!(frames.iter().all(|f| f.stream_id() == stream));

        // END_HEADERS on the last frame only; fragments concatenate to the block.
        let mut joined = Vec::with_capacity(block.len());
        for (i, frame) in frames.iter().enumerate() {
            let (fragment, end_headers) = fragment_of(frame);
            prop_assert_eq!(end_headers, i + 1 == frames.len());
            prop_assert!(i == 0 || !fragment.is_empty(), "empty CONTINUATION");
            joined.extend_from_slice(fragment);
        }
        prop_assert_eq!(wire.len(), HEADER_LEN * frames.len() + fixed as usize + block.len());
        prop_assert_eq!(joined, block);
    }
}
