//! Criterion micro-benches of the core's lower layers: the frame codec,
//! flow-control windows and the gRPC message codec. (HPACK, the connection
//! and the in-memory gRPC pair are benched in `core/benches/`.)

use std::hint::black_box;

use bytes::{Bytes, BytesMut};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use weir_core::flow::{RecvWindow, SendWindow};
use weir_core::frame::{Data, Frame, FrameDecoder, Headers, StreamId};
use weir_core::grpc::codec::{MessageDecoder, prefix};

/// A connection's worth of frames: HEADERS + DATA pairs on many streams.
fn frame_stream(n: u32, data_len: usize) -> Vec<u8> {
    let mut wire = Vec::new();
    let payload = Bytes::from(vec![1u8; data_len]);
    for i in 0..n {
        let id = StreamId(2 * i + 1);
        Frame::Headers(Headers {
            stream_id: id,
            fragment: Bytes::from_static(b"\x83\x86\x84\x41\x0blocalhost:1"),
            end_stream: false,
            end_headers: true,
            priority: None,
            pad_len: None,
        })
        .encode(&mut wire);
        Frame::Data(Data { stream_id: id, data: payload.clone(), end_stream: true, pad_len: None })
            .encode(&mut wire);
    }
    wire
}

fn bench_frames(c: &mut Criterion) {
    let mut g = c.benchmark_group("frame");
    for (name, len) in [("100B", 100), ("16KiB", 16 << 10)] {
        let wire = frame_stream(100, len);
        g.throughput(Throughput::Bytes(wire.len() as u64));
        g.bench_function(format!("decode_200_frames_data_{name}"), |b| {
            let mut dec = FrameDecoder::new(1 << 20);
            b.iter(|| {
                let mut buf = BytesMut::from(&wire[..]);
                let mut n = 0;
                while let Some(f) = dec.decode(&mut buf).unwrap() {
                    black_box(&f);
                    n += 1;
                }
                assert_eq!(n, 200);
            })
        });
        // The same input arriving in 1400-byte segments (a TCP MSS).
        g.bench_function(format!("decode_200_frames_data_{name}_segmented"), |b| {
            let mut dec = FrameDecoder::new(1 << 20);
            b.iter(|| {
                let mut buf = BytesMut::new();
                let mut n = 0;
                for seg in wire.chunks(1400) {
                    buf.extend_from_slice(seg);
                    while let Some(f) = dec.decode(&mut buf).unwrap() {
                        black_box(&f);
                        n += 1;
                    }
                }
                assert_eq!(n, 200);
            })
        });
        g.bench_function(format!("encode_200_frames_data_{name}"), |b| {
            let payload = Bytes::from(vec![1u8; len]);
            let mut out = Vec::with_capacity(wire.len());
            b.iter(|| {
                out.clear();
                for i in 0..100 {
                    let id = StreamId(2 * i + 1);
                    Frame::Data(Data {
                        stream_id: id,
                        data: payload.clone(),
                        end_stream: true,
                        pad_len: None,
                    })
                    .encode(&mut out);
                }
                black_box(out.len())
            })
        });
    }
    g.finish();
}

fn bench_flow(c: &mut Criterion) {
    let mut g = c.benchmark_group("flow");
    g.bench_function("send_window_consume_grow_1000", |b| {
        let mut w = SendWindow::new(65_535);
        b.iter(|| {
            for _ in 0..1000 {
                let n = black_box(w.available().min(1400));
                w.consume(n);
                w.grow(n).unwrap();
            }
        })
    });
    g.bench_function("recv_window_receive_release_update_1000", |b| {
        let mut w = RecvWindow::new(65_535);
        b.iter(|| {
            let mut updates = 0u64;
            for _ in 0..1000 {
                w.receive(black_box(1400)).unwrap();
                w.release(1400);
                if let Some(inc) = w.take_update() {
                    updates += u64::from(inc);
                }
            }
            black_box(updates)
        })
    });
    g.finish();
}

fn framed(msgs: usize, len: usize) -> Vec<u8> {
    let mut v = Vec::new();
    for _ in 0..msgs {
        v.extend_from_slice(&prefix(false, len as u32));
        v.extend(std::iter::repeat_n(3u8, len));
    }
    v
}

fn bench_messages(c: &mut Criterion) {
    let mut g = c.benchmark_group("grpc_codec");
    for (name, msgs, len, chunk) in
        [("100x_64B", 100, 64, 16 << 10), ("1x_1MiB_in_16KiB_frames", 1, 1 << 20, 16 << 10)]
    {
        let wire = Bytes::from(framed(msgs, len));
        g.throughput(Throughput::Bytes(wire.len() as u64));
        g.bench_function(format!("decode_{name}"), |b| {
            let mut dec = MessageDecoder::new(4 << 20);
            b.iter(|| {
                let mut got = 0;
                for piece in wire.chunks(chunk) {
                    dec.push(wire.slice_ref(piece));
                    while let Some(m) = dec.next_message().unwrap() {
                        black_box(&m);
                        got += 1;
                    }
                }
                assert_eq!(got, msgs);
            })
        });
    }
    g.finish();
}

criterion_group!(benches, bench_frames, bench_flow, bench_messages);
criterion_main!(benches);
