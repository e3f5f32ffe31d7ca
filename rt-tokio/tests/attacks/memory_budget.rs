//! Clients that make the server hold memory for them, per call and times
//! the calls and connections they open (issue 18): zero-window readers of
//! large responses, and small compressed requests that inflate to megabytes
//! but are never consumed. Limits: `Server::connection_memory_budget` and
//! `Server::server_memory_budget` (weir-rt), `MessageConfig::max_recv_buffer_per_connection`
//! (the core). Reaction: backpressure (handlers' sends wait, request
//! messages stay compressed in the core), then RESOURCE_EXHAUSTED for new
//! calls on a connection its client keeps full, counted like resets until
//! GOAWAY ENHANCE_YOUR_CALM.

use std::time::{Duration, Instant};

use weir_core::ErrorCode;
use weir_core::frame::Frame;
use weir_core::grpc::Compressors;
use weir_tokio::server::{DEFAULT_CONNECTION_BUDGET, DEFAULT_SERVER_BUDGET};

use crate::alloc;
use crate::harness::*;

/// RESOURCE_EXHAUSTED.
const RESOURCE_EXHAUSTED: u32 = 8;

/// Waits until the live heap stops growing (the attack reached its steady
/// state): no change above 1 % over half a second, or 10 s at most.
fn settle() {
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut last = alloc::current();
    let mut stable = 0;
    while stable < 5 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
        let now = alloc::current();
        stable = if now.abs_diff(last) <= last / 100 { stable + 1 } else { 0 };
        last = now;
    }
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    Compressors::builtin().get(b"gzip").expect("gzip").compress(data, &mut out).expect("compress");
    out
}

/// A gRPC message with the compressed flag.
fn compressed_message(z: &[u8]) -> Vec<u8> {
    let mut out = vec![1];
    out.extend_from_slice(&(z.len() as u32).to_be_bytes());
    out.extend_from_slice(z);
    out
}

/// HEADERS opening a gzip-encoded call.
fn gzip_call(stream: u32, path: &str) -> Vec<u8> {
    headers(stream, request_block(path, &[(b"grpc-encoding", b"gzip")]), false)
}

/// A request that inflates to just under the 4 MiB message limit, and its
/// gzip form (a few KiB).
fn bomb() -> Vec<u8> {
    let z = gzip(&vec![0u8; (4 << 20) - 64]);
    assert!(z.len() < 8 << 10, "{} compressed bytes", z.len());
    z
}

/// Opens calls on a full connection, in batches well under the stream
/// limit, until the refusals end it.
/// `batch`: how many more streams the client may open.
fn refusals_end_with_enhance_your_calm(raw: &mut Raw, from_id: u32, batch: u32, limit: u32, attack: &str) {
    const BATCH: u32 = 64;
    let batch = batch.min(BATCH);
    let mut id = from_id;
    while raw.goaway.is_none() && id < from_id + 2 * (limit + 2 * batch) {
        let mut calls = Vec::new();
        for i in 0..batch {
            calls.extend(request(id + 2 * i, path::HOLD, false));
        }
        if !raw.send(&calls) {
            break;
        }
        id += 2 * batch;
        let _ = raw.stream_end(id - 2, Duration::from_secs(5));
    }
    expect_goaway(raw, ErrorCode::ENHANCE_YOUR_CALM, Duration::from_secs(10), attack);
    let refused = raw.resets.iter().filter(|(_, c)| *c == ErrorCode::REFUSED_STREAM).count();
    assert_eq!(refused, 0, "{attack}: refused by the memory budget, not by the stream limit");
}

/// The request of SERVER_STREAM: `count` responses of `size` bytes.
fn streaming_request(count: u32, size: u32) -> Vec<u8> {
    let mut req = count.to_be_bytes().to_vec();
    req.extend(size.to_be_bytes());
    req
}

/// `conns` connections that grant no flow-control window (initial window 0)
/// and open `calls` server-streaming calls each, asking for `count`
/// responses of `size` bytes.
fn zero_window_readers(server: &TestServer, conns: usize, calls: u32, count: u32, size: u32) -> Vec<Raw> {
    let req = grpc_message(&streaming_request(count, size));
    (0..conns)
        .map(|_| {
            let mut raw = Raw::open(server.addr, &[(frames::setting::INITIAL_WINDOW_SIZE, 0)]);
            let mut attack = Vec::new();
            for i in 0..calls {
                attack.extend(request(1 + 2 * i, path::SERVER_STREAM, false));
                attack.extend(frames::data(1 + 2 * i, true, &req));
            }
            assert!(raw.send(&attack));
            raw
        })
        .collect()
}

/// 255 calls per connection on 4 connections ask for 64 MiB each of
/// server-streaming responses and never grant flow-control window (the
/// finding: +274 MiB per connection, +1.1 GiB for 4). Handlers' sends wait
/// once a connection holds its budget (queued responses and the core's send
/// buffer together); a bystander is served meanwhile; a new call on a full
/// connection is refused with RESOURCE_EXHAUSTED, and a client that keeps
/// opening calls is cut off.
#[test]
fn zero_window_streams_on_four_connections_stay_within_the_budget() {
    let _serial = serial();
    let server = TestServer::start(|s| s);
    let budget = DEFAULT_CONNECTION_BUDGET;
    const CONNS: usize = 4;
    const CALLS: u32 = 255;
    let size = 64 << 10;
    let meter = Meter::start();
    let mut conns = zero_window_readers(&server, CONNS, CALLS, 1024, size);
    let req = streaming_request(1024, size);
    settle();
    server.assert_still_serving();
    let held = meter.grown();
    assert!(held > budget, "the attack did fill the budgets ({held} bytes held)");
    let next = 1 + 2 * CALLS;
    for raw in &mut conns {
        let mut call = request(next, path::SERVER_STREAM, false);
        call.extend(frames::data(next, true, &grpc_message(&req)));
        assert!(raw.send(&call));
        let end = raw.stream_end(next, Duration::from_secs(5)).expect("an answer to the new call");
        assert_eq!(end.grpc_status, Some(RESOURCE_EXHAUSTED), "refused on a full connection: {end:?}");
    }
    let resets = server.config.h2.max_resets_per_window;
    let free = server.config.h2.max_concurrent_streams - CALLS;
    refusals_end_with_enhance_your_calm(&mut conns[0], next + 2, free, resets, "zero-window call flood");
    let bound = CONNS * (2 * budget + per_connection(&server.config) + CALLS as usize * PER_STREAM) + SLACK;
    assert!(bound <= DEFAULT_SERVER_BUDGET, "the bound is within the server's budget too");
    assert!(bound < CONNS * CALLS as usize * (1 << 20), "far below what the calls could queue");
    meter.assert_below(bound, "zero-window streams on 4 connections");
    drop(conns);
    server.assert_still_serving();
}

/// A client that reads, only slower than the handlers write, is not holding
/// the connection's memory: its full connection gets backpressure, and new
/// calls on it are served however long the responses have waited for window
/// in all. The stall that leads to refusals is counted from the last DATA
/// sent (the bug: from the first moment every response waited, so after
/// 500 ms any slow reader, a gRPC-Go client with small windows among them,
/// got RESOURCE_EXHAUSTED for every new call).
#[test]
fn a_slow_steady_reader_is_served_new_calls() {
    let _serial = serial();
    let server = TestServer::start(|s| s.connection_memory_budget(256 << 10));
    let mut raw = Raw::open(server.addr, &[(frames::setting::INITIAL_WINDOW_SIZE, 16 << 10)]);
    const STREAMS: u32 = 4;
    let req = grpc_message(&streaming_request(4096, 16 << 10));
    let mut calls = Vec::new();
    for i in 0..STREAMS {
        calls.extend(request(1 + 2 * i, path::SERVER_STREAM, false));
        calls.extend(frames::data(1 + 2 * i, true, &req));
    }
    assert!(raw.send(&calls));
    let started = Instant::now();
    let (mut received, mut opened, mut next) = (0usize, Vec::new(), 1 + 2 * STREAMS);
    let mut refused = Vec::new();
    // Three times the stall the server tolerates, reading 8 KiB every 50 ms.
    while started.elapsed() < Duration::from_millis(1500) {
        for f in raw.frames_for(Duration::from_millis(50)) {
            match f {
                Frame::Data(d) => received += d.data.len(),
                Frame::Headers(h) => {
                    let id = h.stream_id.0;
                    let fields = raw.decode_block(&h.fragment);
                    let status = fields.iter().find(|(n, _)| &n[..] == b"grpc-status");
                    if let Some((_, v)) = status
                        && &v[..] == b"8"
                    {
                        refused.push(id);
                    }
                }
                _ => {}
            }
        }
        let mut grant = frames::window_update(0, 8 << 10);
        for i in 0..STREAMS {
            grant.extend(frames::window_update(1 + 2 * i, 8 << 10));
        }
        assert!(raw.send(&grant));
        if opened.len() < started.elapsed().as_millis() as usize / 250 {
            assert!(raw.send(&request(next, path::HOLD, false)));
            opened.push(next);
            next += 2;
        }
    }
    assert!(received > 16 << 10, "the responses moved ({received} octets)");
    assert!(opened.len() >= 5, "calls opened while the reader was slow: {opened:?}");
    assert!(refused.is_empty(), "calls {refused:?} of {opened:?} refused on a connection that reads");
    assert!(raw.goaway.is_none() && raw.resets.is_empty(), "{:?} {:?}", raw.goaway, raw.resets);
    server.assert_still_serving();
}

/// Tiny DATA frames to calls whose handlers never read: one octet each,
/// padded with 255 (padding's credit returns at once, RFC 9113 §6.1), for a
/// message that never completes. Each octet was a slice of the read buffer
/// it arrived in and kept that whole buffer alive, so the server held every
/// octet the client sent (266 per octet counted) while its limits counted
/// one. Limit: the core copies DATA payloads smaller than a full frame,
/// appending each to the stream's last copy (`stream::recv_queue::COPY_BELOW`),
/// so what a stream holds is about what its window counts.
#[test]
fn tiny_padded_frames_hold_only_their_octets() {
    let _serial = serial();
    let server = TestServer::start(|s| s);
    let mut raw = Raw::open(server.addr, &[]);
    const STREAMS: u32 = 2;
    const OCTETS: usize = 300 << 10;
    let meter = Meter::start();
    let mut open = Vec::new();
    for i in 0..STREAMS {
        open.extend(request(1 + 2 * i, path::HOLD, false));
        // A message announced at 4 MiB, which never completes.
        open.extend(frames::data(1 + 2 * i, false, &[0, 0, 0x40, 0, 0]));
    }
    assert!(raw.send(&open));
    let mut batch = Vec::new();
    for i in 0..STREAMS {
        batch.extend(frames::data_padded(1 + 2 * i, false, b"x", &[0; 255]));
    }
    let batch = batch.repeat(64);
    for _ in 0..OCTETS / 64 {
        assert!(raw.send(&batch), "the server reads on (padding's credit returns at once)");
    }
    settle();
    let sent = OCTETS * STREAMS as usize * (9 + 1 + 1 + 255);
    let bound = per_connection(&server.config) + 4 * OCTETS * STREAMS as usize + SLACK;
    assert!(bound < sent / 16, "the bound is far below what was sent ({sent} octets)");
    meter.assert_below(bound, "tiny padded DATA frames");
    assert!(raw.goaway.is_none(), "{:?}", raw.goaway);
    server.assert_still_serving();
}

/// 256 unary calls per connection, each one 4 KiB gzip message that
/// inflates to just under 4 MiB, never ending the stream (the finding:
/// +1,025 MiB from 1.08 MB sent). A request is decompressed only once it is
/// complete, so the server holds the compressed bytes only.
#[test]
fn held_gzip_unary_calls_are_never_inflated() {
    let _serial = serial();
    let z = bomb();
    for conns in [1usize, 4] {
        let server = TestServer::start(|s| s);
        let streams = server.config.h2.max_concurrent_streams;
        let meter = Meter::start();
        let attackers: Vec<Raw> = (0..conns)
            .map(|_| {
                let mut raw = Raw::open(server.addr, &[]);
                let mut attack = Vec::new();
                for i in 0..streams {
                    attack.extend(gzip_call(1 + 2 * i, path::UNARY));
                    attack.extend(frames::data(1 + 2 * i, false, &compressed_message(&z)));
                }
                assert!(raw.send(&attack));
                raw
            })
            .collect();
        settle();
        server.assert_still_serving();
        let per_call = PER_STREAM + 2 * z.len();
        let bound = conns * (per_connection(&server.config) + streams as usize * per_call) + SLACK;
        assert!(bound < 2 * DEFAULT_CONNECTION_BUDGET * conns, "tighter than the budget");
        meter.assert_below(bound, &format!("held gzip unary calls on {conns} connection(s)"));
        drop(attackers);
    }
}

/// 64 calls per connection to a handler that never reads its requests,
/// each sending four 4 KiB gzip messages that inflate to 4 MiB (without a
/// budget: 1 GiB per connection). Request messages are pulled out of the
/// core, decompressed, only while those queued hold less than a quarter of
/// the connection's budget (`ConnBudget::pull_ahead_room`; one message may
/// overshoot it); the rest stay compressed in the core, where flow control
/// stops the client. The rest of the budget stays free for responses.
#[test]
fn gzip_requests_to_slow_handlers_are_held_to_a_quarter_of_the_budget() {
    let _serial = serial();
    let z = bomb();
    let budget = DEFAULT_CONNECTION_BUDGET;
    let inflated = 4 << 20;
    const CALLS: u32 = 64;
    const MESSAGES: usize = 4;
    for conns in [1usize, 4] {
        let server = TestServer::start(|s| s);
        let meter = Meter::start();
        let attackers: Vec<Raw> = (0..conns)
            .map(|_| {
                let mut raw = Raw::open(server.addr, &[]);
                let mut attack = Vec::new();
                for i in 0..CALLS {
                    attack.extend(gzip_call(1 + 2 * i, path::HOLD));
                    for _ in 0..MESSAGES {
                        attack.extend(frames::data(1 + 2 * i, false, &compressed_message(&z)));
                    }
                }
                assert!(raw.send(&attack));
                raw
            })
            .collect();
        settle();
        server.assert_still_serving();
        assert!(meter.grown() > conns * budget / 8, "requests were inflated up to their share");
        for raw in &attackers {
            assert!(raw.goaway.is_none() && raw.resets.is_empty(), "{:?} {:?}", raw.goaway, raw.resets);
        }
        let compressed = CALLS as usize * MESSAGES * (z.len() + 5);
        let bound = conns
            * (budget / 4
                + inflated
                + per_connection(&server.config)
                + CALLS as usize * PER_STREAM
                + compressed)
            + SLACK;
        assert!(bound <= DEFAULT_SERVER_BUDGET);
        assert!(bound < conns * budget, "under the connection budget, which these requests used to fill");
        meter.assert_below(bound, &format!("gzip requests to slow handlers on {conns} connection(s)"));
        drop(attackers);
        server.assert_still_serving();
    }
}

/// The server's budget caps what all connections hold together, below the
/// sum of their own budgets: 4 zero-window connections (255 calls each)
/// under a 48 MiB server budget, where 4 × 32 MiB would be allowed
/// connection by connection. A fresh connection is still served (a
/// connection holding nothing always gets one message through).
#[test]
fn the_server_budget_bounds_many_connections() {
    let _serial = serial();
    const SERVER_BUDGET: usize = 48 << 20;
    let server = TestServer::start(|s| s.server_memory_budget(SERVER_BUDGET));
    const CONNS: usize = 4;
    const CALLS: u32 = 255;
    let size = 16 << 10;
    let meter = Meter::start();
    let conns = zero_window_readers(&server, CONNS, CALLS, 100_000, size);
    settle();
    server.assert_still_serving();
    // Each blocked handler also holds the one message it is sending.
    let held_by_handlers = CONNS * CALLS as usize * (size as usize + PER_STREAM);
    let bound = SERVER_BUDGET + CONNS * per_connection(&server.config) + held_by_handlers + SLACK;
    assert!(bound < CONNS * DEFAULT_CONNECTION_BUDGET, "tighter than the connections' own budgets");
    meter.assert_below(bound, "zero-window streams under the server budget");
    drop(conns);
    server.assert_still_serving();
}
