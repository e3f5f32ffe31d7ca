//! PROTOCOL-HTTP2 "Errors" (RST_STREAM mapping), "Client Cancellation",
//! "Connection Management".

use super::common::*;
use weir_core::grpc::{CallRequest, ClientEvent, Code, Metadata, ServerEvent, Status};
use weir_spec_tests::prelude::*;

/// "RPC runtime implementations should interpret RST_STREAM as immediate
/// full-closure of the stream and should propagate an error up to the calling
/// application layer. The following mapping from RST_STREAM error codes to
/// GRPC error codes is applied." Every row of the table but STREAM_CLOSED
/// ("No mapping as there is no open stream to propagate to").
#[test]
fn client_maps_rst_stream_codes() {
    let table = [
        (ErrorCode::NO_ERROR, Code::Internal),
        (ErrorCode::PROTOCOL_ERROR, Code::Internal),
        (ErrorCode::INTERNAL_ERROR, Code::Internal),
        (ErrorCode::FLOW_CONTROL_ERROR, Code::Internal),
        (ErrorCode::SETTINGS_TIMEOUT, Code::Internal),
        (ErrorCode::FRAME_SIZE_ERROR, Code::Internal),
        (ErrorCode::REFUSED_STREAM, Code::Unavailable),
        (ErrorCode::CANCEL, Code::Cancelled),
        (ErrorCode::COMPRESSION_ERROR, Code::Internal),
        (ErrorCode::CONNECT_ERROR, Code::Internal),
        (ErrorCode::ENHANCE_YOUR_CALM, Code::ResourceExhausted),
        (ErrorCode::INADEQUATE_SECURITY, Code::PermissionDenied),
    ];
    for (h2, grpc) in table {
        let mut c = client();
        let now = c.target.now;
        let id = c.target.client.start_call(now, CallRequest::new(PATH, "x")).unwrap().0.0;
        output(&mut c);
        c.write_request(id, &[(":status", "200"), ("content-type", "application/grpc")], false);
        c.write_rst_stream(id, h2);
        let got = c.target.take_events().into_iter().find_map(|e| match e {
            ClientEvent::Finished { status, .. } => Some(status.code),
            _ => None,
        });
        assert_eq!(got, Some(grpc), "{h2:?}");
    }
}

/// "Client cancellation is performed by the client sending RST_STREAM with
/// CANCEL error code."
#[test]
fn client_cancellation_sends_rst_stream_cancel() {
    let mut c = client();
    let now = c.target.now;
    let id = c.target.client.start_call(now, CallRequest::new(PATH, "x")).unwrap();
    output(&mut c);
    c.target.client.cancel(id);
    assert_eq!(output(&mut c).resets, [(id.0.0, ErrorCode::CANCEL)]);
    assert!(c.target.take_events().iter().any(|e| matches!(e, ClientEvent::Finished { status, .. }
        if status.code == Code::Cancelled)));
}

/// "CANCEL(8) | Mapped to call cancellation when sent by a client." The
/// server reports the call cancelled with CANCELLED and answers nothing.
#[test]
fn server_maps_client_cancel_to_cancelled() {
    let mut c = server();
    start_call(&mut c, 1, &[], false).expect("a call");
    c.write_rst_stream(1, ErrorCode::CANCEL);
    assert!(
        c.target.events.iter().any(|e| matches!(e, ServerEvent::Cancelled { reason, .. }
            if reason.code == Code::Cancelled)),
        "{:?}",
        c.target.events
    );
    let o = output(&mut c);
    assert!(o.resets.is_empty() && o.blocks.is_empty(), "nothing answered to a reset");
    assert!(c.target.server.finish(call(1), &Status::new(Code::Ok, ""), &Metadata::new()).is_err());
}

/// "Note that servers should only use this mechanism when they need to cancel
/// a call but the payload byte sequence is incomplete." A server cancelling a
/// call sends RST_STREAM(CANCEL) in place of trailers.
#[test]
fn server_cancellation_is_rst_stream_cancel() {
    let mut c = server();
    start_call(&mut c, 1, &[], false).expect("a call");
    c.target.server.send_headers(call(1), &Metadata::new()).unwrap();
    output(&mut c);
    c.target.server.cancel(call(1));
    let o = output(&mut c);
    assert_eq!((o.blocks.len(), o.resets.as_slice()), (0, &[(1, ErrorCode::CANCEL)][..]));
}

/// "GOAWAY Frame: ... This frame includes the id of the last successfully
/// accepted stream by the server. Clients should consider any stream initiated
/// after the last successfully accepted stream as UNAVAILABLE and retry the
/// call elsewhere. Clients are free to continue working with the already
/// accepted streams until they complete".
#[test]
fn client_fails_unaccepted_calls_with_unavailable_on_goaway() {
    let mut c = client();
    let now = c.target.now;
    let one = c.target.client.start_call(now, CallRequest::new(PATH, "x")).unwrap();
    let three = c.target.client.start_call(now, CallRequest::new(PATH, "x")).unwrap();
    output(&mut c);
    c.write_goaway(one.0.0, ErrorCode::NO_ERROR, b"");
    c.write_request(
        one.0.0,
        &[(":status", "200"), ("content-type", "application/grpc"), ("grpc-status", "0")],
        true,
    );
    let events = c.target.take_events();
    let status = |id: weir_core::grpc::CallId| {
        events.iter().find_map(|e| match e {
            ClientEvent::Finished { call, status, .. } if *call == id => Some(status.code),
            _ => None,
        })
    };
    assert_eq!((status(one), status(three)), (Some(Code::Ok), Some(Code::Unavailable)));
}

/// "Servers should send GOAWAY before terminating a connection to reliably
/// inform clients which work has been accepted by the server and is being
/// executed." A graceful shutdown announces GOAWAY and keeps the accepted
/// call running until it ends.
#[test]
fn server_sends_goaway_before_closing() {
    let mut c = server();
    start_call(&mut c, 1, &[], true).expect("a call");
    let now = c.target.now;
    c.target.server.shutdown(now);
    let first = c.wait_frame("GOAWAY", |f| matches!(f, Frame::GoAway(_)));
    assert!(matches!(first.frame, Frame::GoAway(g) if g.error_code == ErrorCode::NO_ERROR));
    let ping = c.wait_frame("the shutdown PING", |f| matches!(f, Frame::Ping(p) if !p.ack));
    let Frame::Ping(p) = ping.frame else { unreachable!() };
    c.write_ping(true, p.payload);
    let last = c.wait_frame("the final GOAWAY", |f| matches!(f, Frame::GoAway(_)));
    assert!(matches!(last.frame, Frame::GoAway(g) if g.last_stream_id.0 == 1), "stream 1 was accepted");
    assert!(!c.target.is_closed(), "the accepted call may finish");
    c.target.server.finish(call(1), &Status::new(Code::Ok, ""), &Metadata::new()).unwrap();
    c.verify_connection_close();
}

weir_spec_tests::cases! {
    server: [],
    client: [
        client_maps_rst_stream_codes,
        client_cancellation_sends_rst_stream_cancel,
        server_maps_client_cancel_to_cancelled,
        server_cancellation_is_rst_stream_cancel,
        client_fails_unaccepted_calls_with_unavailable_on_goaway,
        server_sends_goaway_before_closing,
    ],
}
