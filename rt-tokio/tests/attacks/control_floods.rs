//! Control-frame floods: SETTINGS, PING, empty DATA, WINDOW_UPDATE.

use std::time::Duration;

use weir_core::ErrorCode;
use weir_core::frame::MAX_WINDOW_SIZE;

use crate::harness::*;

/// Floods `frame` from a client that never reads (a 4 KiB receive buffer),
/// so every answer the server owes piles up.
fn flood_without_reading(server: &TestServer, frame: &[u8], count: usize) -> Raw {
    let mut raw = Raw::connect_small_rcvbuf(server.addr);
    raw.handshake(&[]);
    let attack = frame.repeat(count);
    let meter = Meter::start();
    flood(&mut raw, &attack, 64 << 10);
    drop(attack);
    let bound = per_connection(&server.config) + SLACK;
    meter.assert_below(bound, "control-frame flood");
    raw
}

/// SETTINGS flood (CVE-2019-9515): SETTINGS frames, each owed an ACK, from
/// a client that does not read. Limit: `Config::max_pending_control_frames`;
/// reaction: GOAWAY ENHANCE_YOUR_CALM. Memory: one connection's bound (which
/// counts every control frame it may owe).
#[test]
fn settings_flood_gets_enhance_your_calm() {
    let _serial = serial();
    let server = TestServer::start(|s| s);
    let settings = frames::settings(&[(frames::setting::MAX_CONCURRENT_STREAMS, 100)]);
    let mut raw = flood_without_reading(&server, &settings, 2_000_000);
    expect_goaway(&mut raw, ErrorCode::ENHANCE_YOUR_CALM, Duration::from_secs(20), "SETTINGS flood");
    server.assert_still_serving();
}

/// PING flood (CVE-2019-9512) from a client that does not read, with
/// keepalive enforcement off (`Server::no_keepalive_policy`). Limit:
/// `Config::max_pending_control_frames`; reaction: GOAWAY ENHANCE_YOUR_CALM.
#[test]
fn ping_flood_gets_enhance_your_calm() {
    let _serial = serial();
    let server = TestServer::start(|s| s.no_keepalive_policy());
    let mut raw = flood_without_reading(&server, &frames::ping(false, *b"flooding"), 2_000_000);
    expect_goaway(&mut raw, ErrorCode::ENHANCE_YOUR_CALM, Duration::from_secs(20), "PING flood");
    server.assert_still_serving();
}

/// PING flood (CVE-2019-9512) against the default keepalive enforcement
/// (`Config::ping_policy`, gRPC-Go's `EnforcementPolicy`: one ping per
/// 5 minutes, none without calls): the third early PING gets GOAWAY
/// ENHANCE_YOUR_CALM with debug data `too_many_pings`.
#[test]
fn ping_flood_breaks_the_keepalive_policy() {
    let _serial = serial();
    let server = TestServer::start(|s| s);
    let mut raw = Raw::open(server.addr, &[]);
    let meter = Meter::start();
    flood(&mut raw, &frames::ping(false, *b"pingpong").repeat(10_000), 16 << 10);
    let g = expect_goaway(&mut raw, ErrorCode::ENHANCE_YOUR_CALM, Duration::from_secs(5), "PING flood");
    assert_eq!(&g.debug_data[..], b"too_many_pings");
    meter.assert_below(per_connection(&server.config) + SLACK, "PING flood (policy)");
    server.assert_still_serving();
}

/// Empty DATA frames flood (CVE-2019-9518): zero-length DATA without
/// END_STREAM on an open call. Limit: `Config::max_empty_data_frames` per
/// `Config::reset_window`; reaction: GOAWAY ENHANCE_YOUR_CALM.
#[test]
fn empty_data_flood_gets_enhance_your_calm() {
    let _serial = serial();
    let server = TestServer::start(|s| s);
    let h2 = server.config.h2.clone();
    let mut raw = Raw::open(server.addr, &[]);
    let mut attack = request(1, path::BIDI, false);
    attack.extend(frames::data(1, false, &[]).repeat(h2.max_empty_data_frames as usize * 100));
    let meter = Meter::start();
    flood(&mut raw, &attack, 16 << 10);
    expect_goaway(&mut raw, ErrorCode::ENHANCE_YOUR_CALM, Duration::from_secs(10), "empty DATA flood");
    meter.assert_below(per_connection(&server.config) + PER_STREAM + SLACK, "empty DATA flood");
    server.assert_still_serving();
}

/// WINDOW_UPDATE flood and overflow (RFC 9113 §6.9.1; the flood is
/// CVE-2019-9517's cousin): 200 000 WINDOW_UPDATEs of 1 octet cost O(1)
/// each and hold nothing (no limit needed; the connection still answers),
/// a stream window pushed past 2^31-1 gets RST_STREAM(FLOW_CONTROL_ERROR),
/// the connection window pushed past it gets GOAWAY FLOW_CONTROL_ERROR.
#[test]
fn window_update_flood_and_overflow() {
    let _serial = serial();
    let server = TestServer::start(|s| s);
    let mut raw = Raw::open(server.addr, &[]);
    let attack = frames::window_update(0, 1).repeat(200_000);
    let meter = Meter::start();
    flood(&mut raw, &attack, 64 << 10);
    // The connection still works after the flood.
    assert!(raw.send(&unary_call(1, b"after the flood")));
    let end = raw.stream_end(1, Duration::from_secs(10)).expect("a call after the WINDOW_UPDATE flood");
    assert_eq!(end.grpc_status, Some(0), "{end:?}");
    // A stream window overflow: a stream error.
    let mut overflow = request(3, path::BIDI, false);
    overflow.extend(frames::window_update(3, MAX_WINDOW_SIZE));
    assert!(raw.send(&overflow));
    let end = raw.stream_end(3, Duration::from_secs(5)).expect("an answer to the stream overflow");
    assert_eq!(end.reset, Some(ErrorCode::FLOW_CONTROL_ERROR), "{end:?}");
    // The connection window overflow: a connection error.
    assert!(raw.send(&frames::window_update(0, MAX_WINDOW_SIZE)));
    expect_goaway(&mut raw, ErrorCode::FLOW_CONTROL_ERROR, Duration::from_secs(5), "WINDOW_UPDATE overflow");
    meter.assert_below(per_connection(&server.config) + 2 * PER_STREAM + SLACK, "WINDOW_UPDATE flood");
    server.assert_still_serving();
}

/// A connection error in the middle of what a client is still sending
/// (RFC 9113 §5.4.1: send GOAWAY, then close). The server shuts its write
/// side and reads on, discarding, before it closes the socket: closing with
/// the client's octets unread makes the kernel send a TCP reset, which can
/// destroy the GOAWAY before the client reads it. Here DATA on stream 0
/// (§6.1, PROTOCOL_ERROR) comes first, then 4 MiB of PINGs the server no
/// longer reads as frames; the GOAWAY must still arrive, and the server
/// must close the connection once the client stops sending.
#[test]
fn a_connection_error_mid_flood_still_delivers_goaway() {
    let _serial = serial();
    let server = TestServer::start(|s| s.no_keepalive_policy());
    let mut raw = Raw::open(server.addr, &[]);
    let mut attack = frames::data(0, false, b"stream zero");
    attack.extend(frames::ping(false, *b"trailing").repeat((4 << 20) / 17));
    let sent = flood(&mut raw, &attack, 64 << 10);
    assert_eq!(sent, attack.len(), "the server kept reading (discarding) after its GOAWAY");
    expect_goaway(&mut raw, ErrorCode::PROTOCOL_ERROR, Duration::from_secs(5), "DATA on stream 0 mid-flood");
    assert!(raw.wait_closed(Duration::from_secs(5)), "the server closes the connection after its GOAWAY");
    server.assert_still_serving();
}
