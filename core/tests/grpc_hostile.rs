//! A hostile client against the gRPC server core: what it can make the
//! server hold, and what its refused requests cost it. Frame-factory tests.

mod grpc_raw;

use bytes::Bytes;
use grpc_raw::*;
use weir_core::conn::{ConnectionErrorKind, Limit};
use weir_core::grpc::{CallId, Code, Compressors, RecvMessage, ServerConfig, ServerEvent, codec::prefix};

fn events(r: &mut Raw<weir_core::grpc::Server>) -> Vec<ServerEvent> {
    std::iter::from_fn(|| r.core.poll_event()).collect()
}

fn calls(ev: &[ServerEvent]) -> Vec<CallId> {
    ev.iter()
        .filter_map(|e| match e {
            ServerEvent::Call { call, .. } => Some(*call),
            _ => None,
        })
        .collect()
}

/// gRPC-Go and grpcio answer a call whose `grpc-timeout` is zero with
/// DEADLINE_EXCEEDED: its deadline passed before it began. No handler runs.
#[test]
fn zero_timeout_is_deadline_exceeded_before_any_handler() {
    for zero in ["0S", "0n", "0m", "0H"] {
        let mut r = server();
        let mut fields = GRPC_REQUEST.to_vec();
        fields.push(("grpc-timeout", zero));
        r.headers(1, &fields, false);
        r.data(1, &framed(b"hi"), true);
        assert!(calls(&events(&mut r)).is_empty(), "no call reported for {zero}");
        assert_eq!(answered_status(&mut r).as_deref(), Some("4"), "{zero}");
    }
}

/// A request refused at the gRPC level (a message over the limit,
/// RESOURCE_EXHAUSTED then RST_STREAM NO_ERROR) counts toward
/// `max_resets_per_window`, as a reset would: a flood of them ends with
/// GOAWAY ENHANCE_YOUR_CALM.
#[test]
fn refused_requests_count_toward_the_reset_limit() {
    let mut config = ServerConfig::default();
    config.h2.max_resets_per_window = 50;
    let mut r = server_with(config);
    let mut id = 1;
    while r.core.h2().is_open() && id < 2_000 {
        r.headers(id, GRPC_REQUEST, false);
        r.data(id, &prefix(false, (4 << 20) + 1), false);
        events(&mut r);
        r.take();
        id += 2;
    }
    let err = r.core.h2().error().copied().expect("the connection was closed");
    assert_eq!(err.kind, ConnectionErrorKind::Limit(Limit::Resets));
    assert!(id <= 2 * 52 + 1, "cut off right after the limit: stream {id}");
}

#[test]
fn malformed_requests_count_toward_the_reset_limit() {
    let mut config = ServerConfig::default();
    config.h2.max_resets_per_window = 50;
    let mut r = server_with(config);
    let mut id = 1;
    let bad: &[(&str, &str)] =
        &[(":method", "POST"), (":scheme", "http"), (":path", "/"), ("content-type", "text/plain")];
    while r.core.h2().is_open() && id < 2_000 {
        r.headers(id, bad, true);
        r.take();
        id += 2;
    }
    assert_eq!(r.core.h2().error().map(|e| e.kind), Some(ConnectionErrorKind::Limit(Limit::Resets)));
    assert!(id <= 2 * 52 + 1, "stream {id}");
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    Compressors::builtin().get(b"gzip").expect("gzip built in").compress(data, &mut out).unwrap();
    out
}

fn gzip_request() -> Vec<(&'static str, &'static str)> {
    let mut fields = GRPC_REQUEST.to_vec();
    fields.push(("grpc-encoding", "gzip"));
    fields
}

fn compressed_framed(z: &[u8]) -> Vec<u8> {
    let mut m = prefix(true, z.len() as u32).to_vec();
    m.extend_from_slice(z);
    m
}

/// A unary request is inflated only once the client ended it: a client that
/// sends a small compressed message which would inflate to megabytes and
/// never ends the stream makes the server hold the compressed bytes only.
#[test]
fn a_single_request_is_inflated_only_once_it_ends() {
    let mut r = server();
    let big = vec![0u8; (4 << 20) - 100];
    let z = gzip(&big);
    assert!(z.len() < 8 << 10, "{} compressed bytes", z.len());
    r.headers(1, &gzip_request(), false);
    r.data(1, &compressed_framed(&z), false);
    let call = calls(&events(&mut r))[0];
    let (m, _) = r.core.recv_single_message(call).unwrap();
    assert_eq!(m, RecvMessage::Pending, "not ended yet");
    assert!(r.core.recv_held() <= z.len() + 5, "held {}", r.core.recv_held());
    r.data(1, b"", true);
    assert!(events(&mut r).iter().any(|e| matches!(e, ServerEvent::Message { .. })));
    let (m, compressed) = r.core.recv_single_message(call).unwrap();
    assert!(compressed);
    assert_eq!(m, RecvMessage::Message(Bytes::from(big)));
    assert_eq!(r.core.recv_held(), 0);
    assert_eq!(r.core.recv_single_message(call).unwrap().0, RecvMessage::End);
}

#[test]
fn a_single_request_with_two_messages_or_none_is_internal() {
    let mut r = server();
    r.headers(1, GRPC_REQUEST, false);
    r.data(1, &framed(b"one"), false);
    let call = calls(&events(&mut r))[0];
    assert_eq!(r.core.recv_single_message(call).unwrap().0, RecvMessage::Pending);
    r.data(1, &framed(b"two"), false);
    let err = r.core.recv_single_message(call).unwrap_err();
    assert_eq!(err.code, Code::Internal);
    assert_eq!(answered_status(&mut r).as_deref(), Some("13"));

    let mut r = server();
    r.headers(1, GRPC_REQUEST, false);
    let call = calls(&events(&mut r))[0];
    r.data(1, b"", true);
    let err = r.core.recv_single_message(call).unwrap_err();
    assert_eq!((err.code, answered_status(&mut r).as_deref()), (Code::Internal, Some("13")));
}

const LIMIT: usize = 1 << 20;
const FRAME: usize = 16 << 10;

/// A server whose calls may hold 1 MiB of request bytes in all, with windows
/// wide enough that the client is not what limits it.
fn held_limited_server() -> Raw<weir_core::grpc::Server> {
    let mut config = ServerConfig::default();
    config.messages.max_recv_buffer_per_connection = LIMIT;
    config.h2.initial_connection_window = 64 << 20;
    config.h2.initial_stream_window = 1 << 20;
    config.h2.bdp_window_growth = false;
    server_with(config)
}

/// Sends `n` bytes of zeros on a stream, in frames the server accepts.
fn send_zeros(r: &mut Raw<weir_core::grpc::Server>, id: u32, n: usize) {
    let zeros = vec![0u8; FRAME];
    let mut left = n;
    while left > 0 {
        let k = left.min(FRAME);
        r.data(id, &zeros[..k], false);
        left -= k;
    }
}

/// Twenty streams each start a 900 KiB message and stop short of its end:
/// without a per-connection limit the server would hold 20 partial messages
/// (each allowed by `max_recv_message_size`). With it, what the calls hold
/// stays near the limit, the rest waits unread in the streams (unacknowledged,
/// so the client's windows stop it), and every message still arrives once
/// the client completes them, in any order.
#[test]
fn partial_messages_are_held_up_to_the_connection_limit() {
    let mut r = held_limited_server();
    const STREAMS: u32 = 20;
    const MSG: usize = 900 << 10;
    let ids: Vec<u32> = (0..STREAMS).map(|i| 1 + 2 * i).collect();
    for &id in &ids {
        r.headers(id, GRPC_REQUEST, false);
        r.data(id, &prefix(false, MSG as u32), false);
        send_zeros(&mut r, id, MSG - 1000);
        r.take();
    }
    let held = r.core.recv_held();
    assert!(held <= LIMIT + FRAME, "held {held}");
    assert!(r.core.h2().stats().recv_buffered > 10 * MSG, "the rest waits unread in the streams");
    let started = calls(&events(&mut r));
    assert_eq!(started.len(), STREAMS as usize);
    // The client completes the messages, last stream first.
    for &id in ids.iter().rev() {
        r.data(id, &[0u8; 1000], true);
    }
    let mut delivered = Vec::new();
    for _ in 0..100 {
        let ready: Vec<CallId> = events(&mut r)
            .into_iter()
            .filter_map(|e| match e {
                ServerEvent::Message { call } => Some(call),
                _ => None,
            })
            .collect();
        if ready.is_empty() {
            break;
        }
        for call in ready {
            while let Ok((RecvMessage::Message(m), _)) = r.core.recv_message_flagged(call) {
                assert_eq!(m.len(), MSG);
                delivered.push(call);
            }
            let held = r.core.recv_held();
            assert!(held <= LIMIT + MSG + FRAME, "held {held}");
        }
        r.take();
    }
    assert_eq!(delivered.len(), STREAMS as usize, "every message arrived: {delivered:?}");
    assert_eq!(r.core.recv_held(), 0);
}
