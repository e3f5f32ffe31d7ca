//! gRPC-level attacks: oversized and truncated messages, malformed
//! `grpc-timeout`.

use std::time::Duration;

use weir_core::grpc::Code;

use crate::harness::*;

/// Oversized gRPC message (resource exhaustion): a message prefix declaring
/// one octet more than `ServerConfig::max_recv_message_size` (4 MiB by
/// default), followed by 1 MiB of body. Reaction: grpc-status
/// RESOURCE_EXHAUSTED as soon as the prefix is read (the body is never
/// buffered). Memory: one stream window at most.
#[test]
fn oversized_message_gets_resource_exhausted() {
    let _serial = serial();
    let server = TestServer::start(|s| s);
    let max = server.config.messages.max_recv_message_size;
    let mut raw = Raw::open(server.addr, &[]);
    let mut attack = request(1, path::UNARY, false);
    let mut body = vec![0u8];
    body.extend(((max + 1) as u32).to_be_bytes());
    body.resize(1 << 20, 0x42);
    for chunk in body.chunks(server.config.h2.max_frame_size as usize) {
        attack.extend(frames::data(1, false, chunk));
    }
    let meter = Meter::start();
    flood(&mut raw, &attack, 64 << 10);
    let end = raw.stream_end(1, Duration::from_secs(5)).expect("an answer to the oversized message");
    assert_eq!(end.grpc_status, Some(Code::ResourceExhausted as u32), "{end:?}");
    let bound =
        per_connection(&server.config) + server.config.h2.initial_stream_window as usize + PER_STREAM + SLACK;
    assert!(bound < max, "the bound is below the declared message");
    meter.assert_below(bound, "oversized message");
    server.assert_still_serving();
}

/// Truncated gRPC message: the prefix declares 100 octets, 50 arrive, then
/// END_STREAM. Reaction: grpc-status INTERNAL ("stream ended inside a
/// message"), and the connection keeps serving.
#[test]
fn truncated_message_gets_internal() {
    let _serial = serial();
    let server = TestServer::start(|s| s);
    let mut raw = Raw::open(server.addr, &[]);
    let meter = Meter::start();
    let mut msg = vec![0u8];
    msg.extend(100u32.to_be_bytes());
    msg.extend([7u8; 50]);
    let mut attack = request(1, path::UNARY, false);
    attack.extend(frames::data(1, true, &msg));
    assert!(raw.send(&attack));
    let end = raw.stream_end(1, Duration::from_secs(5)).expect("an answer to the truncated message");
    assert_eq!(end.grpc_status, Some(Code::Internal as u32), "{end:?}");
    assert!(raw.send(&unary_call(3, b"next")));
    let end = raw.stream_end(3, Duration::from_secs(5)).expect("the next call");
    assert_eq!(end.grpc_status, Some(0), "{end:?}");
    meter.assert_below(per_connection(&server.config) + 2 * PER_STREAM + SLACK, "truncated message");
    server.assert_still_serving();
}

/// Malformed `grpc-timeout` (PROTOCOL-HTTP2: at most 8 digits and a unit):
/// too many digits, no unit, an unknown unit, a sign, empty, non-ASCII.
/// Reaction: grpc-status INTERNAL for each, no panic or overflow; the
/// largest legal value is accepted.
#[test]
fn malformed_grpc_timeout_gets_internal() {
    let _serial = serial();
    let server = TestServer::start(|s| s);
    let mut raw = Raw::open(server.addr, &[]);
    let meter = Meter::start();
    let bad: [&[u8]; 8] =
        [b"123456789S", b"100", b"10x", b"-1S", b"", b"S", b"1\xffm", b"99999999999999999999H"];
    let mut id = 1;
    for value in bad {
        let mut call = headers(id, request_block(path::UNARY, &[(b"grpc-timeout", value)]), false);
        call.extend(frames::data(id, true, &grpc_message(b"x")));
        assert!(raw.send(&call));
        let end = raw.stream_end(id, Duration::from_secs(5)).expect("an answer to a bad grpc-timeout");
        assert_eq!(end.grpc_status, Some(Code::Internal as u32), "grpc-timeout {value:?}: {end:?}");
        id += 2;
    }
    let mut call = headers(id, request_block(path::UNARY, &[(b"grpc-timeout", b"99999999H")]), false);
    call.extend(frames::data(id, true, &grpc_message(b"x")));
    assert!(raw.send(&call));
    let end = raw.stream_end(id, Duration::from_secs(5)).expect("an answer to the largest timeout");
    assert_eq!(end.grpc_status, Some(0), "the largest legal timeout: {end:?}");
    meter.assert_below(per_connection(&server.config) + 10 * PER_STREAM + SLACK, "malformed grpc-timeout");
    server.assert_still_serving();
}
