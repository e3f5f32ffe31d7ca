//! Keepalive enforcement against a client that pings the way gRPC-Go's does.
//!
//! gRPC-Go's client runs a BDP estimator (`internal/transport/bdp_estimator.go`):
//! whenever DATA arrives and none of its pings is outstanding, it sends a
//! PING. A response written over several flow-control windows therefore
//! draws one PING per round trip. gRPC-Go's server forgives a client's pings
//! each time it writes a DATA or HEADERS frame (`controlbuf.go` calls
//! `setResetPingStrikes` on every data frame written), so such a client is
//! never told `too_many_pings`. These tests pin the same rule in our core.

use std::time::Duration;

use bytes::Bytes;
use weir_core::conn::{Config, ConnectionErrorKind, Limit, PingPolicy};
use weir_core::grpc::{
    CallId, CallRequest, Client, ClientConfig, ClientEvent, Code, Metadata, RecvMessage, Server,
    ServerConfig, ServerEvent, Status,
};
use weir_core::sim::Pair;

const FRAME_HEADER: usize = 9;
const DATA: u8 = 0x0;
const PING: u8 = 0x6;
const ACK: u8 = 0x1;

/// A server with weir-rt's default policy (gRPC-Go's defaults: one ping per
/// five minutes, two strikes) and a client whose windows make a 1 MiB
/// response take sixteen round trips.
fn pair() -> Pair<Client, Server> {
    let mut server = ServerConfig::default();
    server.h2.ping_policy = Some(PingPolicy::default());
    let client = ClientConfig {
        h2: Config {
            initial_stream_window: 64 << 10,
            initial_connection_window: 64 << 10,
            bdp_window_growth: false,
            ..Config::default()
        },
        ..ClientConfig::default()
    };
    let mut p = Pair::grpc(client, server, 1);
    p.split = false;
    p
}

/// Splits a byte stream into whole frames: (type, flags, frame bytes).
fn frames(bytes: &[u8]) -> Vec<(u8, u8, &[u8])> {
    let mut out = Vec::new();
    let mut rest = bytes;
    while rest.len() >= FRAME_HEADER {
        let len = u32::from_be_bytes([0, rest[0], rest[1], rest[2]]) as usize;
        let (frame, tail) = rest.split_at(FRAME_HEADER + len);
        out.push((frame[3], frame[4], frame));
        rest = tail;
    }
    assert!(rest.is_empty(), "transmit output ends on a frame boundary");
    out
}

/// Moves everything the client has to send to the server.
fn client_to_server(p: &mut Pair<Client, Server>) {
    let mut buf = Vec::new();
    while p.client.poll_transmit(p.now, &mut buf) > 0 {}
    p.server.handle_input(p.now, &buf);
}

/// Reads every response message the client has, returning their total size.
fn drain_client(p: &mut Pair<Client, Server>, call: CallId) -> usize {
    let mut n = 0;
    while let Ok(RecvMessage::Message(m)) = p.client.recv_message(call) {
        n += m.len();
    }
    n
}

struct Outcome {
    status: Option<Status>,
    received: usize,
    pings: usize,
}

/// Runs one unary call whose response is `response` bytes, delivering the
/// server's output frame by frame; after each DATA frame the client reads
/// and, when no ping of its own is outstanding, pings (as gRPC-Go's BDP
/// estimator), and its output reaches the server at once.
fn call_with_bdp_pings(p: &mut Pair<Client, Server>, response: usize, rtt: Duration) -> Outcome {
    let call = p.client.start_call(p.now, CallRequest::new("/big.Service/Get", "localhost")).unwrap();
    p.client.send_last_message(call, Bytes::from_static(b"please")).unwrap();
    p.drive();
    let started = std::iter::from_fn(|| p.server.poll_event()).any(|e| matches!(e, ServerEvent::Call { .. }));
    assert!(started);
    while let Ok(RecvMessage::Message(_)) = p.server.recv_message(call) {}
    p.server.send_message(call, Bytes::from(vec![7u8; response])).unwrap();
    p.server.finish(call, &Status::ok(), &Metadata::new()).unwrap();

    let (mut outstanding, mut pings, mut received, mut status) = (false, 0, 0, None);
    for round in 0..10_000 {
        assert!(round < 9_999, "the call never finished");
        let mut out = Vec::new();
        while p.server.poll_transmit(p.now, &mut out) > 0 {}
        if out.is_empty() && !outstanding {
            break;
        }
        p.now += rtt / 2;
        for (kind, flags, frame) in frames(&out) {
            p.client.handle_input(p.now, frame);
            if kind == PING && flags & ACK != 0 {
                outstanding = false;
            }
            if kind == DATA {
                received += drain_client(p, call);
                if !outstanding {
                    p.client.h2_mut().ping(p.now, [9; 8]);
                    outstanding = true;
                    pings += 1;
                }
            }
            client_to_server(p);
        }
        p.now += rtt / 2;
        received += drain_client(p, call);
        for e in std::iter::from_fn(|| p.client.poll_event()) {
            if let ClientEvent::Finished { status: s, .. } = e {
                status = Some(s);
            }
        }
        if !p.server.h2().is_open() {
            break;
        }
    }
    Outcome { status, received, pings }
}

#[test]
fn a_client_pinging_on_response_data_keeps_its_connection() {
    let mut p = pair();
    let out = call_with_bdp_pings(&mut p, 1 << 20, Duration::from_millis(1));
    assert_eq!(p.server.h2().error(), None, "the server closed the connection");
    assert!(out.pings >= 10, "the response took many round trips, each with a ping: {}", out.pings);
    assert_eq!(out.status.map(|s| s.code), Some(Code::Ok));
    assert_eq!(out.received, 1 << 20);
    // Several such calls in a row, all within the ping policy's five minutes.
    for _ in 0..3 {
        let out = call_with_bdp_pings(&mut p, 300_000, Duration::from_millis(1));
        assert_eq!(out.status.map(|s| s.code), Some(Code::Ok));
    }
    assert!(p.server.h2().is_open());
}

#[test]
fn pings_without_response_data_are_still_strikes() {
    let mut p = pair();
    let call = p.client.start_call(p.now, CallRequest::new("/big.Service/Wait", "localhost")).unwrap();
    p.client.send_last_message(call, Bytes::from_static(b"x")).unwrap();
    p.drive();
    // The server writes nothing while the client pings every second.
    for _ in 0..4 {
        p.now += Duration::from_secs(1);
        p.client.h2_mut().ping(p.now, [1; 8]);
        p.drive();
    }
    let err = p.server.h2().error().copied().expect("closed for pinging");
    assert_eq!(err.kind, ConnectionErrorKind::Limit(Limit::TooManyPings));
}
