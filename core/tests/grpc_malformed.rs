//! Frame-factory tests for malformed gRPC input: hand-built frames fed to one
//! gRPC core, asserting the status or HTTP response it produces.

mod grpc_raw;

use bytes::Bytes;
use grpc_raw::*;
use weir_core::ErrorCode;
use weir_core::frame::{Frame, StreamId};
use weir_core::grpc::{Code, ServerEvent, codec::prefix};

#[test]
fn truncated_message_at_end_of_stream_is_internal() {
    let mut r = server();
    r.headers(1, GRPC_REQUEST, false);
    let mut m = framed(b"hello");
    m.truncate(7);
    r.data(1, &m, true);
    let ev: Vec<_> = std::iter::from_fn(|| r.core.poll_event()).collect();
    assert!(
        ev.iter()
            .any(|e| matches!(e, ServerEvent::Cancelled { reason, .. } if reason.code == Code::Internal)),
        "{ev:?}"
    );
    assert_eq!(answered_status(&mut r).as_deref(), Some("13"));
}

#[test]
fn length_over_the_limit_is_resource_exhausted() {
    let mut r = server();
    r.headers(1, GRPC_REQUEST, false);
    r.data(1, &prefix(false, (4 << 20) + 1), false);
    assert_eq!(answered_status(&mut r).as_deref(), Some("8"));
}

#[test]
fn compressed_flag_without_encoding_is_internal() {
    let mut r = server();
    r.headers(1, GRPC_REQUEST, false);
    let mut m = framed(b"abc");
    m[0] = 1;
    r.data(1, &m, true);
    let ev: Vec<_> = std::iter::from_fn(|| r.core.poll_event()).collect();
    let call = ev
        .iter()
        .find_map(|e| match e {
            ServerEvent::Message { call } => Some(*call),
            _ => None,
        })
        .expect("message reported");
    let err = r.core.recv_message(call).unwrap_err();
    assert_eq!(err.code, Code::Internal);
    assert_eq!(answered_status(&mut r).as_deref(), Some("13"));
}

#[test]
fn invalid_grpc_timeout_is_internal_trailers_only() {
    for bad in ["1.5S", "123456789S", "10s", "S", ""] {
        let mut r = server();
        let mut fields = GRPC_REQUEST.to_vec();
        fields.push(("grpc-timeout", bad));
        r.headers(1, &fields, true);
        let ev: Vec<_> = std::iter::from_fn(|| r.core.poll_event()).collect();
        assert!(ev.is_empty(), "no call for {bad:?}: {ev:?}");
        let (_, blocks) = r.take();
        let (_, f, end) = &blocks[0];
        assert!(*end, "trailers-only");
        assert_eq!(get(f, ":status"), Some("200"));
        assert_eq!(get(f, "grpc-status"), Some("13"), "{bad:?}");
    }
}

/// PROTOCOL-HTTP2 "Timeouts": on expiry the server cancels the call. As
/// grpc-core does, it answers DEADLINE_EXCEEDED and then resets with NO_ERROR
/// (RFC 9113 §8.1) while the client is still sending: grpcio reports any
/// CANCEL reset as CANCELLED, even one after the trailers.
#[test]
fn expired_deadline_sends_status_4_then_no_error_reset() {
    let mut r = server();
    let mut fields = GRPC_REQUEST.to_vec();
    fields.push(("grpc-timeout", "5m"));
    r.headers(1, &fields, false);
    r.take();
    r.now += std::time::Duration::from_millis(6);
    let now = r.now;
    r.core.handle_timeout(now);
    let ev: Vec<_> = std::iter::from_fn(|| r.core.poll_event()).collect();
    assert!(
        ev.iter().any(
            |e| matches!(e, ServerEvent::Cancelled { reason, .. } if reason.code == Code::DeadlineExceeded)
        ),
        "{ev:?}"
    );
    let (frames, blocks) = r.take();
    let trailers = blocks.iter().find(|(id, _, end)| *id == 1 && *end).expect("trailers sent");
    assert_eq!(get(&trailers.1, "grpc-status"), Some("4"));
    let headers_at = frames.iter().position(|f| matches!(f, Frame::Headers(_))).unwrap();
    let reset_at = frames
        .iter()
        .position(|f| matches!(f, Frame::RstStream(rs) if rs.error_code == ErrorCode::NO_ERROR))
        .expect("RST_STREAM(NO_ERROR) sent");
    assert!(headers_at < reset_at, "{frames:?}");
}

#[test]
fn non_grpc_content_type_gets_415_with_a_body() {
    let mut r = server();
    r.headers(
        1,
        &[(":method", "POST"), (":scheme", "http"), (":path", "/"), ("content-type", "application/json")],
        true,
    );
    let (frames, blocks) = r.take();
    let (_, f, end) = &blocks[0];
    assert_eq!(get(f, ":status"), Some("415"));
    assert!(!end, "a body follows");
    let body = frames.iter().find_map(|fr| match fr {
        Frame::Data(d) => Some(d.clone()),
        _ => None,
    });
    let body = body.expect("DATA body");
    assert!(body.end_stream && !body.data.is_empty());
    assert!(String::from_utf8_lossy(&body.data).contains("content-type"));
}

#[test]
fn missing_path_is_a_malformed_request() {
    // RFC 9113 §8.3.1: a request without :path is malformed: RST_STREAM PROTOCOL_ERROR.
    let mut r = server();
    r.headers(1, &[(":method", "POST"), (":scheme", "http"), ("content-type", "application/grpc")], true);
    let (frames, _) = r.take();
    assert!(
        frames.iter().any(|f| matches!(f, Frame::RstStream(x) if x.error_code == ErrorCode::PROTOCOL_ERROR)),
        "{frames:?}"
    );
}

#[test]
fn malformed_method_path_is_unimplemented() {
    let mut r = server();
    let mut fields = GRPC_REQUEST.to_vec();
    fields[2] = (":path", "/no-method");
    r.headers(1, &fields, true);
    assert_eq!(answered_status(&mut r).as_deref(), Some("12"));
}

#[test]
fn non_post_method_is_rejected() {
    let mut r = server();
    let mut fields = GRPC_REQUEST.to_vec();
    fields[0] = (":method", "GET");
    r.headers(1, &fields, true);
    let (_, blocks) = r.take();
    assert_eq!(get(&blocks[0].1, ":status"), Some("405"));
}

#[test]
fn messages_split_at_every_byte_reach_the_server_intact() {
    let mut wire = framed(b"first message");
    wire.extend(framed(&[7u8; 40]));
    wire.extend(framed(b""));
    for cut in 0..=wire.len() {
        let mut r = server();
        r.headers(1, GRPC_REQUEST, false);
        r.data(1, &wire[..cut], false);
        r.data(1, &wire[cut..], true);
        let call = weir_core::grpc::CallId(StreamId(1));
        let mut got = Vec::new();
        while let weir_core::grpc::RecvMessage::Message(m) = r.core.recv_message(call).unwrap() {
            got.push(m);
        }
        assert_eq!(
            got,
            vec![Bytes::from_static(b"first message"), Bytes::from(vec![7u8; 40]), Bytes::new()],
            "cut {cut}"
        );
    }
}

// ----- client side: broken responses --------------------------------------------

#[test]
fn http_error_status_maps_to_grpc_codes() {
    for (http, code) in [
        ("404", Code::Unimplemented),
        ("503", Code::Unavailable),
        ("401", Code::Unauthenticated),
        ("500", Code::Unknown),
    ] {
        let (mut r, _) = client();
        r.headers(1, &[(":status", http), ("content-type", "text/html")], true);
        assert_eq!(client_status(&mut r).code, code, "HTTP {http}");
    }
}

#[test]
fn missing_grpc_status_is_unknown_and_truncated_response_is_internal() {
    let (mut r, _) = client();
    r.headers(1, &[(":status", "200"), ("content-type", "application/grpc")], false);
    r.headers(1, &[("x-other", "1")], true);
    assert_eq!(client_status(&mut r).code, Code::Unknown);

    let (mut r, _) = client();
    r.headers(1, &[(":status", "200"), ("content-type", "application/grpc")], false);
    r.data(1, &framed(b"hello")[..6], false);
    r.headers(1, &[("grpc-status", "0")], true);
    assert_eq!(client_status(&mut r).code, Code::Internal);
}

#[test]
fn server_reset_maps_to_status() {
    let (mut r, _) = client();
    r.send(Frame::RstStream(weir_core::frame::RstStream {
        stream_id: StreamId(1),
        error_code: ErrorCode::REFUSED_STREAM,
    }));
    assert_eq!(client_status(&mut r).code, Code::Unavailable);
    let (mut r, _) = client();
    r.send(Frame::RstStream(weir_core::frame::RstStream {
        stream_id: StreamId(1),
        error_code: ErrorCode::ENHANCE_YOUR_CALM,
    }));
    assert_eq!(client_status(&mut r).code, Code::ResourceExhausted);
}
