//! Zero-window slow reader (CVE-2019-9517 "Internal Data Buffering", and
//! the Slowloris family): a client that calls a streaming method and never
//! grants flow-control window.

use std::time::{Duration, Instant};

use weir_core::ErrorCode;

use crate::harness::*;

/// What weir-rt lets a response stream queue ahead of the core per call
/// (`call::SEND_LIMIT`, the handler-side backpressure).
const HANDLER_QUEUE: usize = 1 << 20;

/// Zero-window slow reader (CVE-2019-9517): SETTINGS_INITIAL_WINDOW_SIZE 0
/// and no WINDOW_UPDATE ever, while a server-streaming call would send
/// 64 MiB. Limits: `Config::max_send_buffer_per_stream` (and the handler's
/// own 1 MiB queue) bound what is buffered; `Server::max_connection_age`
/// (here 1 s, grace 1 s) bounds how long the stalled call holds it; the
/// reaction is GOAWAY, then the connection is closed.
#[test]
fn zero_window_reader_is_bounded_then_closed() {
    let _serial = serial();
    let server =
        TestServer::start(|s| s.max_connection_age(Duration::from_secs(1), Duration::from_millis(500)));
    let h2 = server.config.h2.clone();
    let (count, size) = (1024u32, 64u32 << 10);
    let mut req = count.to_be_bytes().to_vec();
    req.extend(size.to_be_bytes());
    let mut raw = Raw::open(server.addr, &[(frames::setting::INITIAL_WINDOW_SIZE, 0)]);
    let meter = Meter::start();
    let started = Instant::now();
    let mut call = request(1, path::SERVER_STREAM, false);
    call.extend(frames::data(1, true, &grpc_message(&req)));
    assert!(raw.send(&call));
    // Read (so TCP never pushes back) but never grant window.
    let closed = raw.wait_closed(Duration::from_secs(10));
    assert!(closed, "the stalled connection is closed within the connection age and grace");
    assert!(started.elapsed() < Duration::from_secs(6), "closed after {:?}", started.elapsed());
    let g = raw.goaway.clone().expect("a GOAWAY before the close");
    assert_eq!(g.error_code, ErrorCode::NO_ERROR, "graceful GOAWAY for the connection age");
    let bound = per_connection(&server.config)
        + h2.max_send_buffer_per_stream
        + HANDLER_QUEUE
        + 2 * size as usize
        + PER_STREAM
        + SLACK;
    assert!(bound < (count * size) as usize / 8, "the bound is far below the response");
    meter.assert_below(bound, "zero-window reader");
    server.assert_still_serving();
}

/// Slow Read at the TCP level (the Slowloris family; the "Slow Read" attack):
/// the client grants every window, starts a 64 MiB server-streaming call,
/// then never reads its socket. Limits: the send buffers as above,
/// `Server::keepalive` (here 500 ms + 500 ms): the unanswered PING closes the
/// connection, and `Config::close_flush_timeout` (here 500 ms): the server
/// then drops the socket although the GOAWAY can never be written. With
/// `Server::max_connections(1)`, the fresh connection afterwards is only
/// served if the stuck one was dropped.
#[test]
fn tcp_non_reader_is_dropped_after_keepalive_timeout() {
    let _serial = serial();
    let server = TestServer::start(|mut s| {
        s.config_mut().h2.close_flush_timeout = Duration::from_millis(500);
        s.max_connections(1).keepalive(Duration::from_millis(500), Duration::from_millis(500))
    });
    let h2 = server.config.h2.clone();
    let (count, size) = (1024u32, 64u32 << 10);
    let mut req = count.to_be_bytes().to_vec();
    req.extend(size.to_be_bytes());
    let mut raw = Raw::connect_small_rcvbuf(server.addr);
    raw.handshake(&[(frames::setting::INITIAL_WINDOW_SIZE, weir_core::frame::MAX_WINDOW_SIZE)]);
    let meter = Meter::start();
    let mut call = frames::window_update(0, weir_core::frame::MAX_WINDOW_SIZE - 65_535);
    call.extend(request(1, path::SERVER_STREAM, false));
    call.extend(frames::data(1, true, &grpc_message(&req)));
    assert!(raw.send(&call));
    // Never read: keepalive interval + timeout + close flush timeout, and a margin.
    std::thread::sleep(Duration::from_millis(2500));
    let bound = per_connection(&server.config)
        + h2.max_send_buffer_per_stream
        + HANDLER_QUEUE
        + 2 * size as usize
        + PER_STREAM
        + SLACK;
    meter.assert_below(bound, "TCP non-reader");
    server.assert_still_serving();
    drop(raw);
}
