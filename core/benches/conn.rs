//! The in-memory connection pair: one small request/response exchange, and a
//! 1 MiB transfer, through client and server `Connection`s.

use std::hint::black_box;

use bytes::Bytes;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use weir_core::conn::{Config, Connection, Event, HeadersKind, Read};
use weir_core::frame::StreamId;
use weir_core::headers::Headers;
use weir_core::sim::Pair;

fn request() -> Headers {
    let mut h = Headers::request("POST", "http", "localhost:50051", "/helloworld.Greeter/SayHello");
    h.push("content-type", "application/grpc");
    h.push("te", "trailers");
    h
}

fn drain(c: &mut Connection, id: StreamId) -> usize {
    let mut n = 0;
    while let Ok(Read::Data { data, .. }) = c.read(id, usize::MAX) {
        n += data.len();
    }
    n
}

fn exchange(p: &mut Pair, body: &Bytes) {
    let id = p.client.open_stream(request(), false).unwrap();
    p.client.send_data(id, body.clone(), true).unwrap();
    p.drive();
    while let Some(e) = p.server.poll_event() {
        if let Event::Headers { stream, kind: HeadersKind::Request, .. } = e {
            drain(&mut p.server, stream);
            let mut h = Headers::response(200);
            h.push("content-type", "application/grpc");
            p.server.send_headers(stream, h, false).unwrap();
            p.server.send_data(stream, body.clone(), false).unwrap();
            let mut t = Headers::trailers();
            t.push("grpc-status", "0");
            p.server.send_headers(stream, t, true).unwrap();
        }
    }
    p.drive();
    while p.client.poll_event().is_some() {}
    black_box(drain(&mut p.client, id));
    while p.server.poll_event().is_some() {}
}

fn bench_exchange(c: &mut Criterion) {
    let mut p = Pair::new(Config::default(), Config::default(), 1);
    p.split = false;
    p.drive();
    let body = Bytes::from_static(b"\0\0\0\0\x07\n\x05world");
    c.bench_function("conn/request_response_exchange", |b| b.iter(|| exchange(&mut p, &body)));
}

fn bench_transfer(c: &mut Criterion) {
    let mut p = Pair::new(Config::default(), Config::default(), 2);
    p.split = false;
    p.drive();
    let mb = Bytes::from(vec![7u8; 1 << 20]);
    let mut g = c.benchmark_group("conn");
    g.throughput(Throughput::Bytes(1 << 20));
    g.bench_function("transfer_1MiB", |b| {
        b.iter(|| {
            let id = p.client.open_stream(request(), false).unwrap();
            p.client.send_data(id, mb.clone(), true).unwrap();
            let mut got = 0;
            let mut responded = false;
            while got < 1 << 20 {
                p.drive_rounds(1);
                while let Some(e) = p.server.poll_event() {
                    if let Event::Headers { stream, .. } = e {
                        p.server.send_headers(stream, Headers::response(200), true).unwrap();
                        responded = true;
                    }
                }
                got += drain(&mut p.server, id);
            }
            assert!(responded);
            p.drive();
            while p.client.poll_event().is_some() {}
            drain(&mut p.client, id);
            black_box(got)
        })
    });
    g.finish();
}

criterion_group!(benches, bench_exchange, bench_transfer);
criterion_main!(benches);
