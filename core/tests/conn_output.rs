//! What `poll_transmit` produces: many streams' frames in one call, chunks
//! gathered into one DATA frame, frame size and windows respected, fair
//! round-robin between streams, and zero-copy payloads in a `ChunkedBuf`.

mod support;

use bytes::Bytes;
use support::*;
use weir_core::conn::{ChunkedBuf, Config, TransmitBuf};
use weir_core::frame::{Frame, Settings, StreamId};

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
