//! What `poll_transmit` produces: many streams' frames in one call, chunks
//! gathered into one DATA frame, frame size and windows respected, fair
//! round-robin between streams, and zero-copy payloads in a `ChunkedBuf`.

mod support;

use bytes::Bytes;
use support::*;
use weir_core::conn::{ChunkedBuf, Config, SEND_ENTRY_COST, TransmitBuf};
use weir_core::frame::{Frame, Settings, StreamId};
use weir_core::headers::Headers;

fn data_frames(frames: &[Frame]) -> Vec<(u32, usize, bool)> {
    frames
        .iter()
        .filter_map(|f| match f {
            Frame::Data(d) => Some((d.stream_id.0, d.data.len(), d.end_stream)),
            _ => None,
        })
        .collect()
}

#[test]
fn consecutive_chunks_become_one_data_frame() {
    let mut c = Peer::client(Config::default());
    let id = c.conn.open_stream(request_headers(), false).unwrap();
    c.conn.send_data(id, Bytes::from_static(&[0, 0, 0, 0, 5]), false).unwrap();
    c.conn.send_data(id, Bytes::from_static(b"hello"), false).unwrap();
    c.conn.send_data(id, Bytes::new(), true).unwrap();
    let frames = c.take_frames();
    assert_eq!(data_frames(&frames), vec![(id.0, 10, true)]);
    let Some(Frame::Data(d)) = frames.iter().find(|f| matches!(f, Frame::Data(_))) else { unreachable!() };
    assert_eq!(&d.data[..], b"\0\0\0\0\x05hello");
}

#[test]
fn one_call_carries_many_streams() {
    let mut c = Peer::client(Config::default());
    let ids: Vec<StreamId> = (0..50)
        .map(|_| {
            let id = c.conn.open_stream(request_headers(), false).unwrap();
            c.conn.send_data(id, Bytes::from_static(b"payload"), true).unwrap();
            id
        })
        .collect();
    let mut buf = Vec::new();
    c.conn.poll_transmit(c.now, &mut buf);
    let mut dec = weir_core::frame::FrameDecoder::new(1 << 20);
    let mut bytes = bytes::BytesMut::from(&buf[..]);
    let mut headers = 0;
    let mut datas = 0;
    while let Some(f) = dec.decode(&mut bytes).unwrap() {
        match f {
            Frame::Headers(_) => headers += 1,
            Frame::Data(_) => datas += 1,
            _ => {}
        }
    }
    assert_eq!((headers, datas), (ids.len(), ids.len()), "one poll_transmit, every stream");
}

#[test]
fn frames_respect_the_peer_max_frame_size_and_windows() {
    let mut c = Peer::client(Config::default());
    c.send(settings(Settings { initial_window_size: Some(40_000), ..Settings::default() }));
    c.take_frames();
    let id = c.conn.open_stream(request_headers(), false).unwrap();
    c.conn.send_data(id, Bytes::from(vec![1u8; 100_000]), true).unwrap();
    let frames = data_frames(&c.take_frames());
    assert_eq!(frames, vec![(id.0, 16_384, false), (id.0, 16_384, false), (id.0, 40_000 - 32_768, false)]);
    assert_eq!(c.conn.stream_send_window(id), Some(0));
}

#[test]
fn streams_share_the_connection_round_robin() {
    let mut c = Peer::client(Config::default());
    let a = c.conn.open_stream(request_headers(), false).unwrap();
    let b = c.conn.open_stream(request_headers(), false).unwrap();
    c.take_frames();
    c.conn.send_data(a, Bytes::from(vec![1u8; 64 * 1024]), true).unwrap();
    c.conn.send_data(b, Bytes::from(vec![2u8; 64 * 1024]), true).unwrap();
    let order: Vec<u32> = data_frames(&c.take_frames()).iter().map(|f| f.0).collect();
    // The 65,535-octet connection window is shared: frames alternate a, b, a, b...
    assert_eq!(&order[..4], &[a.0, b.0, a.0, b.0], "{order:?}");
}

#[test]
fn chunked_output_keeps_payloads_by_reference() {
    let mut c = Peer::client(Config::default());
    let id = c.conn.open_stream(request_headers(), false).unwrap();
    let payload = Bytes::from(vec![9u8; 8192]);
    let ptr = payload.as_ptr();
    c.conn.send_data(id, payload, true).unwrap();
    let mut out = ChunkedBuf::new();
    c.conn.poll_transmit(c.now, &mut out);
    let mut slices = [std::io::IoSlice::new(&[]); 16];
    let n = out.io_slices(&mut slices);
    assert!(slices[..n].iter().any(|s| s.as_ptr() == ptr), "DATA payload not copied");
    assert!(out.len() > 8192);
}

fn data_payloads(frames: &[Frame]) -> Vec<Vec<u8>> {
    frames
        .iter()
        .filter_map(|f| match f {
            Frame::Data(d) => Some(d.data.to_vec()),
            _ => None,
        })
        .collect()
}

#[test]
fn an_inline_head_goes_before_its_payload_even_when_a_window_splits_it() {
    let mut c = Peer::client(Config::default());
    c.send(settings(Settings { initial_window_size: Some(3), ..Settings::default() }));
    c.take_frames();
    let id = c.conn.open_stream(request_headers(), false).unwrap();
    c.conn.send_data_with_head(id, &[0, 0, 0, 0, 5], Bytes::from_static(b"hello"), true).unwrap();
    let first = c.take_frames();
    assert_eq!(data_payloads(&first), vec![b"\0\0\0".to_vec()], "the window cuts inside the head");
    assert_eq!(c.conn.stream_send_window(id), Some(0));
    c.send(Frame::WindowUpdate(weir_core::frame::WindowUpdate { stream_id: id, increment: 100 }));
    let rest = c.take_frames();
    assert_eq!(data_payloads(&rest), vec![b"\0\x05hello".to_vec()]);
    assert_eq!(data_frames(&rest), vec![(id.0, 7, true)]);
}

#[test]
fn a_head_longer_than_the_inline_room_is_still_sent_whole() {
    let mut c = Peer::client(Config::default());
    let id = c.conn.open_stream(request_headers(), false).unwrap();
    c.conn.send_data_with_head(id, b"0123456789ab", Bytes::from_static(b"tail"), true).unwrap();
    assert!(c.conn.send_data_with_head(id, b"", Bytes::new(), false).is_err(), "the stream ended");
    assert_eq!(data_payloads(&c.take_frames()), vec![b"0123456789abtail".to_vec()]);
}

#[test]
fn a_head_alone_is_data_and_counts_against_the_buffers() {
    let mut c = Peer::client(Config::default());
    let id = c.conn.open_stream(request_headers(), false).unwrap();
    c.conn.send_data_with_head(id, &[0, 0, 0, 0, 0], Bytes::new(), false).unwrap();
    assert_eq!(c.conn.send_buffered(id), 5 + SEND_ENTRY_COST, "its octets and its queue entry");
    c.conn.send_data(id, Bytes::new(), true).unwrap();
    let frames = c.take_frames();
    assert_eq!(data_payloads(&frames).concat(), vec![0u8; 5]);
    assert!(data_frames(&frames).last().is_some_and(|f| f.2), "END_STREAM sent");
}

#[test]
fn empty_chunks_behind_heads_fill_the_buffer_by_their_entries() {
    // A gRPC peer echoing empty messages queues a 5-octet prefix per
    // message: each entry's own size is counted, so the buffer limit bounds
    // the entries' memory too.
    let cfg = Config { max_send_buffer_per_stream: 64 << 10, ..Config::default() };
    let mut c = Peer::client(cfg);
    c.send(settings(Settings { initial_window_size: Some(0), ..Settings::default() }));
    c.take_frames();
    let id = c.conn.open_stream(request_headers(), false).unwrap();
    let mut queued = 0;
    while c.conn.send_data_with_head(id, &[0, 0, 0, 0, 0], Bytes::new(), false).is_ok() {
        queued += 1;
        assert!(queued < 100_000, "never full");
    }
    assert_eq!(queued, (64 << 10) / (5 + SEND_ENTRY_COST) + 1);
    c.take_frames();
    c.send(Frame::WindowUpdate(weir_core::frame::WindowUpdate { stream_id: id, increment: 1 << 20 }));
    c.take_frames();
    assert_eq!(c.conn.send_buffered(id), 0, "written out, the entries' cost is released");
}

/// HEADERS frames in `frames`.
fn opened(frames: &[Frame]) -> usize {
    frames.iter().filter(|f| matches!(f, Frame::Headers(_))).count()
}

#[test]
fn a_client_opens_at_most_100_streams_before_the_servers_settings() {
    // RFC 9113 §6.5.2: the initial limit is unlimited, but the server's real
    // one (256 for gRPC servers) is unknown until its SETTINGS arrive; as
    // gRPC-Go, the client assumes 100 until then and queues the rest.
    // (the server's limit, streams opened once its SETTINGS arrive)
    for (limit, more) in [(Some(256), 156), (None, 200)] {
        let now = std::time::Instant::now();
        let conn = weir_core::conn::Connection::new(weir_core::conn::Role::Client, Config::default(), now);
        let mut c = Peer::raw(conn, now);
        let mut preface = Vec::new();
        c.conn.poll_transmit(now, &mut preface);
        assert!(preface.starts_with(weir_core::conn::PREFACE));
        for _ in 0..300 {
            c.conn.open_stream(request_headers(), false).unwrap();
        }
        assert_eq!(opened(&c.take_frames()), 100, "before the server's SETTINGS");
        c.send(settings(Settings { max_concurrent_streams: limit, ..Settings::default() }));
        let after = opened(&c.take_frames());
        assert_eq!(after, more, "after SETTINGS with MAX_CONCURRENT_STREAMS {limit:?}");
    }
}

#[test]
fn header_sections_are_reused_empty_and_only_a_few_small_ones_are_kept() {
    let mut c = Peer::client(Config::default());
    let mut h = c.conn.take_headers();
    *h = request_headers();
    h.push("x-custom", "value");
    c.conn.open_stream(h, true).unwrap();
    c.take_frames();
    let again = c.conn.take_headers();
    assert_eq!(*again, weir_core::headers::Headers::default(), "nothing of the sent section is left");
    assert!(again.fields.capacity() >= 2, "its field storage is kept");
    for capacity in [4, 4, 4, 4, 64] {
        let mut h = Box::<weir_core::headers::Headers>::default();
        h.fields.reserve_exact(capacity);
        c.conn.recycle_headers(h);
    }
    let kept: Vec<usize> = (0..5).map(|_| c.conn.take_headers().fields.capacity()).collect();
    assert_eq!(kept.iter().filter(|&&n| n >= 4).count(), 3, "three kept: {kept:?}");
    assert!(kept.iter().all(|&n| n < 64), "a large section is not kept: {kept:?}");
}

#[test]
fn chunks_behind_a_head_go_out_in_order_as_one_unit() {
    let mut c = Peer::client(Config::default());
    c.send(settings(Settings { initial_window_size: Some(6), ..Settings::default() }));
    c.take_frames();
    let id = c.conn.open_stream(request_headers(), false).unwrap();
    let chunks = vec![Bytes::from_static(b"ab"), Bytes::new(), Bytes::from_static(b"cdef")];
    c.conn.send_data_with_head_chunks(id, &[0, 0, 0, 0, 6], chunks, true).unwrap();
    assert_eq!(c.conn.send_buffered(id), 11 + 2 * SEND_ENTRY_COST, "two entries: head and ab, then cdef");
    let first = c.take_frames();
    assert_eq!(data_payloads(&first), vec![b"\0\0\0\0\x06a".to_vec()], "the window cuts inside a chunk");
    c.send(Frame::WindowUpdate(weir_core::frame::WindowUpdate { stream_id: id, increment: 100 }));
    let rest = c.take_frames();
    assert_eq!(data_payloads(&rest), vec![b"bcdef".to_vec()]);
    assert_eq!(data_frames(&rest), vec![(id.0, 5, true)]);
}

fn frame_streams(frames: &[Frame]) -> Vec<(u32, &'static str)> {
    frames
        .iter()
        .filter_map(|f| match f {
            Frame::Headers(h) => Some((h.stream_id.0, if h.end_stream { "trailers" } else { "headers" })),
            Frame::Data(d) => Some((d.stream_id.0, "data")),
            _ => None,
        })
        .collect()
}

/// A stream's turn writes frames up to one maximum frame of bytes, so a small
/// response (headers, message, trailers) leaves whole, before the next
/// stream's: a peer reading part of a burst can finish those calls at once
/// (round-robin one frame per turn would send every stream's headers first,
/// then every message, then every trailers section).
#[test]
fn a_small_response_leaves_whole_in_its_stream_turn() {
    let mut s = Peer::server(Config::default());
    let ids = [1u32, 3, 5];
    for id in ids {
        s.request(id, true);
    }
    s.drain_events();
    for id in ids {
        let id = StreamId(id);
        s.conn.send_headers(id, Headers::response(200), false).unwrap();
        s.conn.send_data(id, Bytes::from_static(b"\0\0\0\0\x02hi"), false).unwrap();
        let mut trailers = Headers::trailers();
        trailers.push("grpc-status", "0");
        s.conn.send_headers(id, trailers, true).unwrap();
    }
    let order = frame_streams(&s.take_frames());
    let expected: Vec<(u32, &str)> =
        ids.iter().flat_map(|&id| [(id, "headers"), (id, "data"), (id, "trailers")]).collect();
    assert_eq!(order, expected);
}

/// Input processed in slices: each call stops after the frame that reaches
/// the slice size and says input is left; the slices together do what one
/// call over the whole buffer does.
#[test]
fn input_is_processed_in_slices_of_whole_frames() {
    let burst = |s: &mut Peer| {
        let mut wire = Vec::new();
        for id in (1..=199u32).step_by(2) {
            s.headers(id, REQUEST, false).encode(&mut wire);
            data(id, b"\0\0\0\0\x02hi", true).encode(&mut wire);
        }
        wire
    };
    let mut whole = Peer::server(Config::default());
    let wire = burst(&mut whole);
    whole.conn.handle_input(whole.now, &wire);
    let all_at_once = whole.drain_events().len();

    let mut sliced = Peer::server(Config::default());
    let wire = burst(&mut sliced);
    sliced.conn.input_buffer().extend_from_slice(&wire);
    let mut slices = Vec::new();
    loop {
        let before = sliced.conn.input_buffer().len();
        let more = sliced.conn.process_input_up_to(sliced.now, 1024);
        let used = before - sliced.conn.input_buffer().len();
        slices.push((used, sliced.drain_events().len()));
        if !more {
            break;
        }
    }
    assert!(slices.len() >= wire.len() / 1100, "{} bytes in {} slices", wire.len(), slices.len());
    // Whole frames: a slice stops at most one frame past its size.
    assert!(slices.iter().all(|&(used, _)| used <= 1024 + 64), "{slices:?}");
    assert!(slices.iter().all(|&(_, events)| events > 0), "every slice delivers events: {slices:?}");
    assert_eq!(slices.iter().map(|s| s.1).sum::<usize>(), all_at_once);
    assert!(sliced.conn.input_buffer().is_empty());
}

/// Input that arrives after a connection error is dropped, not kept: a peer
/// that floods a failed connection (and does not read its GOAWAY) holds at
/// most one read's worth of memory.
#[test]
fn input_after_a_connection_error_is_dropped() {
    let mut s = Peer::server(Config::default());
    s.send(data(0, b"stream zero", false)); // §6.1: DATA on stream 0 is a connection error
    assert!(!s.conn.is_open());
    s.conn.input_buffer().extend_from_slice(&[0u8; 10_000]);
    assert!(!s.conn.process_input_up_to(s.now, 4096));
    assert!(s.conn.input_buffer().is_empty());
    s.conn.input_buffer().extend_from_slice(&[0u8; 10_000]);
    s.conn.process_input(s.now);
    assert!(s.conn.input_buffer().is_empty());
}
