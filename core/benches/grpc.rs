//! One unary call through client and server gRPC cores in memory, and 1 MiB
//! message streaming, no I/O: what the protocol layers cost by themselves.

use std::hint::black_box;

use bytes::Bytes;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use weir_core::grpc::{
    CallRequest, Client, ClientConfig, ClientEvent, Metadata, RecvMessage, Server, ServerConfig, ServerEvent,
    Status,
};
use weir_core::sim::Pair;

type GrpcPair = Pair<Client, Server>;

fn request() -> CallRequest {
    CallRequest::new(
        Bytes::from_static(b"/helloworld.Greeter/SayHello"),
        Bytes::from_static(b"localhost:50051"),
    )
}

fn unary(p: &mut GrpcPair, msg: &Bytes, reply: &Bytes, ok: &Status, empty: &Metadata) {
    let call = p.client.start_call(p.now, request()).unwrap();
    p.client.send_last_message(call, msg.clone()).unwrap();
    p.drive();
    while let Some(e) = p.server.poll_event() {
        if let ServerEvent::Call { call, .. } = e {
            while let RecvMessage::Message(m) = p.server.recv_message(call).unwrap() {
                black_box(m);
            }
            p.server.send_message(call, reply.clone()).unwrap();
            p.server.finish(call, ok, empty).unwrap();
        }
    }
    p.drive();
    let mut done = false;
    while let Some(e) = p.client.poll_event() {
        if let ClientEvent::Finished { .. } = e {
            done = true;
        }
    }
    while let RecvMessage::Message(m) = p.client.recv_message(call).unwrap() {
        black_box(m);
    }
    assert!(done);
}

fn bench_unary(c: &mut Criterion) {
    let mut p = Pair::grpc(ClientConfig::default(), ServerConfig::default(), 1);
    p.split = false;
    p.drive();
    let msg = Bytes::from_static(b"\n\x05world");
    let reply = Bytes::from_static(b"\n\x0bHello world");
    let ok = Status::ok();
    let empty = Metadata::new();
    c.bench_function("grpc/unary_call_in_memory", |b| b.iter(|| unary(&mut p, &msg, &reply, &ok, &empty)));
}

fn bench_stream_1mib(c: &mut Criterion) {
    let mut p = Pair::grpc(ClientConfig::default(), ServerConfig::default(), 2);
    p.split = false;
    let call = p.client.start_call(p.now, request()).unwrap();
    p.client.send_message(call, Bytes::new()).unwrap();
    p.drive();
    while p.server.poll_event().is_some() {}
    let _ = p.server.recv_message(call);
    let mb = Bytes::from(vec![7u8; 1 << 20]);
    let mut g = c.benchmark_group("grpc");
    g.throughput(Throughput::Bytes(1 << 20));
    g.bench_function("server_stream_1MiB_message", |b| {
        b.iter(|| {
            p.server.send_message(call, mb.clone()).unwrap();
            loop {
                p.drive_rounds(1);
                while p.client.poll_event().is_some() {}
                if let RecvMessage::Message(m) = p.client.recv_message(call).unwrap() {
                    break black_box(m.len());
                }
            }
        })
    });
    g.finish();
}

criterion_group!(benches, bench_unary, bench_stream_1mib);
criterion_main!(benches);
