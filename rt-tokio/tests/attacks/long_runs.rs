//! Long runs: memory goes back to where it was (issue 18, finding 3: the
//! server kept a waker for every connection it ever accepted, and a call
//! added one per pending poll). The live heap is read from the counting
//! allocator, so the figures are exact and do not depend on the allocator's
//! habit of keeping freed pages.

use std::time::{Duration, Instant};

use bytes::Bytes;
use futures::StreamExt;
use weir_tokio::{Endpoint, Request};

use crate::alloc;
use crate::harness::*;

const MIB: usize = 1 << 20;
/// How much the heap may move over a long stream after warm-up.
const FLAT: usize = 256 << 10;

/// Waits (up to 10 s) until the live heap is back within `slack` of
/// `baseline`; returns the last reading.
fn back_to(baseline: usize, slack: usize) -> usize {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let now = alloc::current();
        if now <= baseline + slack || Instant::now() > deadline {
            return now;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// One short connection: handshake, one unary call, close.
fn one_connection(server: &TestServer, i: usize) {
    let mut raw = Raw::open(server.addr, &[]);
    assert!(raw.send(&unary_call(1, b"ping")), "connection {i}");
    let end =
        raw.stream_end(1, Duration::from_secs(5)).unwrap_or_else(|| panic!("connection {i}: no answer"));
    assert_eq!(end.grpc_status, Some(0), "connection {i}: {end:?}");
}

/// 20,000 connections one after the other, each with a call: once they are
/// closed the live heap is back within 1 MiB of where it was after warm-up.
#[test]
fn twenty_thousand_sequential_connections_leave_the_heap_where_it_was() {
    let _serial = serial();
    let server = TestServer::start(|s| s);
    for i in 0..200 {
        one_connection(&server, i);
    }
    let baseline = back_to(alloc::current(), 0);
    let started = Instant::now();
    for i in 0..20_000 {
        one_connection(&server, i);
    }
    let after = back_to(baseline, MIB);
    eprintln!(
        "20,000 sequential connections in {:?}: live heap {baseline} -> {after} bytes",
        started.elapsed()
    );
    assert!(after <= baseline + MIB, "the live heap grew by {} bytes", after - baseline);
    server.assert_still_serving();
}

/// One bidirectional stream carrying 1,000,000 echoed messages: after
/// warm-up the live heap stays flat (nothing accumulates per message: no
/// waker, queue entry or stats record left behind). The issue asks for
/// ±1 MiB; the test holds it to 256 KiB, which still catches a waker kept
/// per pending poll (about 460 KiB over the run, measured) while the
/// run's own variation is a few KiB.
#[test]
fn a_million_messages_on_one_bidi_stream_keep_the_heap_flat() {
    let _serial = serial();
    let server = TestServer::start(|s| s);
    const MESSAGES: usize = 1_000_000;
    const WARM_UP: usize = 100_000;
    const SAMPLE_EVERY: usize = 50_000;
    const IN_FLIGHT: usize = 64;
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    let url = format!("http://{}", server.addr);
    let (received, samples) = rt.block_on(async move {
        let ch = Endpoint::new(url).expect("endpoint").connect().await.expect("connect");
        let payload = Bytes::from_static(b"0123456789abcdef0123456789abcdef");
        // At most IN_FLIGHT messages travel at once, so the queues on the
        // way hold about the same whenever the heap is read.
        let (tx, requests) = futures::channel::mpsc::unbounded::<Bytes>();
        for _ in 0..IN_FLIGHT {
            tx.unbounded_send(payload.clone()).expect("queue a request");
        }
        let mut sent = IN_FLIGHT;
        let mut echoes =
            ch.streaming(path::BIDI, Request::new(requests)).await.expect("bidi call").into_inner();
        let (mut received, mut samples) = (0usize, Vec::new());
        while let Some(m) = echoes.next().await {
            assert_eq!(m.expect("an echo").len(), 32);
            received += 1;
            if sent < MESSAGES {
                tx.unbounded_send(payload.clone()).expect("queue a request");
                sent += 1;
            } else if sent == MESSAGES {
                tx.close_channel();
                sent += 1;
            }
            if received >= WARM_UP && received % SAMPLE_EVERY == 0 {
                samples.push(alloc::current());
            }
        }
        (received, samples)
    });
    assert_eq!(received, MESSAGES);
    let (lo, hi) = (*samples.iter().min().unwrap(), *samples.iter().max().unwrap());
    eprintln!("1,000,000 messages on one bidi stream: live heap after warm-up {lo}..{hi} bytes");
    assert!(hi - lo <= FLAT, "the live heap moved by {} bytes over the stream: {samples:?}", hi - lo);
}
