//! Requests that are not calls on HTTP/2 streams, with
//! `ServerConfig::other_requests` on (what a runtime's fallback service
//! serves): hand-built frames into one server core, its frames out. Such a
//! request becomes `ServerEvent::Request` whatever its method; its body is
//! read with flow control (credit returns as it is read); its response is a
//! head, body data with send-buffer backpressure, and trailers or an end. A
//! reset is reported. With the setting off, the answer is 415 as before.

mod grpc_raw;

use bytes::Bytes;
use grpc_raw::*;
use weir_core::conn::Read;
use weir_core::error_code::ErrorCode;
use weir_core::frame::{Frame, RstStream, StreamId};
use weir_core::grpc::{CallId, Code, Metadata, RecvMessage, ServerConfig, ServerEvent, Status};
use weir_core::hpack::HeaderField;

fn server_on() -> Raw<weir_core::grpc::Server> {
    server_with(ServerConfig { other_requests: true, ..ServerConfig::default() })
}

fn events(r: &mut Raw<weir_core::grpc::Server>) -> Vec<ServerEvent> {
    std::iter::from_fn(|| r.core.poll_event()).collect()
}

fn field(name: &'static str, value: &'static str) -> HeaderField {
    HeaderField::new(Bytes::from_static(name.as_bytes()), Bytes::from_static(value.as_bytes()))
}

const GET: &[(&str, &str)] =
    &[(":method", "GET"), (":scheme", "http"), (":path", "/rest/hello?x=1"), (":authority", "x")];

fn post_json(id_path: &'static str) -> Vec<(&'static str, &'static str)> {
    vec![
        (":method", "POST"),
        (":scheme", "http"),
        (":path", id_path),
        (":authority", "x"),
        ("content-type", "application/json"),
    ]
}

/// Window updates the server sent, as (stream, increment).
fn window_updates(frames: &[Frame]) -> Vec<(u32, u32)> {
    frames
        .iter()
        .filter_map(|f| match f {
            Frame::WindowUpdate(w) => Some((w.stream_id.0, w.increment)),
            _ => None,
        })
        .collect()
}

/// DATA payload sent on `id`, joined, and whether the last had END_STREAM.
fn data_on(frames: &[Frame], id: u32) -> (Vec<u8>, bool) {
    let mut body = Vec::new();
    let mut end = false;
    for f in frames {
        if let Frame::Data(d) = f
            && d.stream_id.0 == id
        {
            body.extend_from_slice(&d.data);
            end = d.end_stream;
        }
    }
    (body, end)
}

/// With the setting off (the default), a request that is not gRPC gets 415
/// with its text body, a GET as well as a POST: no `Request` event.
#[test]
fn with_the_setting_off_other_requests_still_get_415() {
    for headers in [GET.to_vec(), post_json("/rest/echo")] {
        let mut r = server();
        r.headers(1, &headers, true);
        assert!(events(&mut r).iter().all(|e| !matches!(e, ServerEvent::Request { .. })));
        let (frames, blocks) = r.take();
        let (fields, _) = blocks.iter().find(|(id, ..)| *id == 1).map(|(_, f, e)| (f, e)).unwrap();
        assert_eq!(get(fields, ":status"), Some("415"), "{headers:?}");
        let (body, end) = data_on(&frames, 1);
        assert!(String::from_utf8_lossy(&body).contains("invalid gRPC request content-type"));
        assert!(end);
    }
}

/// A GET is a `Request` (method not restricted), with its headers; the
/// response head, then body data, then the end go out as sent.
#[test]
fn a_get_becomes_a_request_answered_with_head_and_body() {
    let mut r = server_on();
    r.headers(1, GET, true);
    let ev = events(&mut r);
    let (stream, headers, end_stream) = ev
        .iter()
        .find_map(|e| match e {
            ServerEvent::Request { stream, headers, end_stream } => {
                Some((*stream, headers.clone(), *end_stream))
            }
            _ => None,
        })
        .unwrap_or_else(|| panic!("no request in {ev:?}"));
    assert_eq!(stream, CallId(StreamId(1)));
    assert!(end_stream);
    assert_eq!(headers.pseudo.method.as_deref(), Some(&b"GET"[..]));
    assert_eq!(headers.pseudo.path.as_deref(), Some(&b"/rest/hello?x=1"[..]));
    assert_eq!(r.core.read_body(stream, usize::MAX), Ok(Read::Finished));
    let (frames, _) = r.take();
    assert!(frames.iter().all(|f| !matches!(f, Frame::Headers(_) | Frame::Data(_))), "nothing answered yet");

    r.core.send_response(stream, 200, vec![field("content-type", "text/plain")], false).unwrap();
    let again = r.core.send_response(stream, 200, Vec::new(), false).unwrap_err();
    assert_eq!(again.code, Code::Internal, "one response head");
    r.core.send_body(stream, Bytes::from_static(b"hello "), false).unwrap();
    r.core.send_body(stream, Bytes::from_static(b"world"), true).unwrap();
    let (frames, blocks) = r.take();
    assert_eq!(blocks.len(), 1);
    let (id, fields, end) = &blocks[0];
    assert_eq!((*id, *end), (1, false));
    assert_eq!(get(fields, ":status"), Some("200"));
    assert_eq!(get(fields, "content-type"), Some("text/plain"));
    assert_eq!(data_on(&frames, 1), (b"hello world".to_vec(), true));
    // The response is over: the stream is no longer the owner's.
    assert_eq!(r.core.send_body(stream, Bytes::from_static(b"x"), true).unwrap_err().code, Code::Cancelled);
}

/// A header-only response: END_STREAM on the head.
#[test]
fn a_head_without_body_ends_the_stream() {
    let mut r = server_on();
    r.headers(1, &[(":method", "DELETE"), (":scheme", "http"), (":path", "/r/1"), (":authority", "x")], true);
    assert!(matches!(events(&mut r)[..], [ServerEvent::Request { .. }]));
    r.core.send_response(CallId(StreamId(1)), 204, Vec::new(), true).unwrap();
    let (_, blocks) = r.take();
    assert_eq!(blocks.len(), 1);
    assert_eq!(get(&blocks[0].1, ":status"), Some("204"));
    assert!(blocks[0].2, "END_STREAM on the head");
}

/// The request body stays in the core, its stream credit withheld, until
/// the owner reads it: no WINDOW_UPDATE for the stream before, one after.
/// The connection's credit returns on arrival (`early_connection_credit`),
/// so a body nobody reads holds its stream, not the connection.
/// `RequestData` tells when there is something to read, and reading tells
/// the end.
#[test]
fn the_body_is_read_with_flow_control_credit() {
    let mut config = ServerConfig { other_requests: true, ..ServerConfig::default() };
    // Small windows, so that reading what came is worth an update.
    config.h2.initial_stream_window = 65_535;
    config.h2.initial_connection_window = 65_535;
    config.h2.bdp_window_growth = false;
    let mut r = server_with(config);
    r.headers(1, &post_json("/rest/echo"), false);
    let stream = CallId(StreamId(1));
    assert!(matches!(events(&mut r)[..], [ServerEvent::Request { end_stream: false, .. }]));
    let chunk = vec![7u8; 16_000];
    for _ in 0..3 {
        r.data(1, &chunk, false);
    }
    let ev = events(&mut r);
    assert!(ev.contains(&ServerEvent::RequestData { stream }), "{ev:?}");
    let (frames, _) = r.take();
    let updates = window_updates(&frames);
    assert!(!updates.iter().any(|&(id, _)| id == 1), "stream credit before the owner read: {updates:?}");
    assert!(updates.iter().any(|&(id, _)| id == 0), "connection credit on arrival: {updates:?}");
    let mut got = 0;
    while let Ok(Read::Data { data, fin }) = r.core.read_body(stream, 10_000) {
        assert!(data.len() <= 10_000);
        assert!(!fin);
        got += data.len();
    }
    assert_eq!(got, 48_000);
    assert_eq!(r.core.read_body(stream, usize::MAX), Ok(Read::Pending));
    let (frames, _) = r.take();
    let updates = window_updates(&frames);
    assert!(updates.iter().any(|&(id, _)| id == 1), "stream credit returned: {updates:?}");
    // The end comes as an event too.
    r.data(1, b"tail", true);
    assert!(events(&mut r).contains(&ServerEvent::RequestData { stream }));
    assert_eq!(
        r.core.read_body(stream, usize::MAX),
        Ok(Read::Data { data: Bytes::from_static(b"tail"), fin: true })
    );
    assert_eq!(r.core.read_body(stream, usize::MAX), Ok(Read::Finished));
    // Request trailers end the body as well.
    r.headers(3, &post_json("/rest/echo"), false);
    r.data(3, b"abc", false);
    r.headers(3, &[("x-checksum", "1")], true);
    let ev = events(&mut r);
    assert!(ev.contains(&ServerEvent::RequestData { stream: CallId(StreamId(3)) }), "{ev:?}");
    let third = CallId(StreamId(3));
    assert!(matches!(r.core.read_body(third, usize::MAX), Ok(Read::Data { fin: true, .. })));
}

/// Response body data is refused once the stream's send buffer is full
/// (RESOURCE_EXHAUSTED), a `Writable` event follows when it drained, and
/// trailers end the response.
#[test]
fn response_body_backpressure_then_trailers() {
    let mut config = ServerConfig { other_requests: true, ..ServerConfig::default() };
    config.h2.max_send_buffer_per_stream = 4_000;
    let mut r = server_with(config);
    r.headers(1, &post_json("/rest/stream"), true);
    events(&mut r);
    let stream = CallId(StreamId(1));
    r.core.send_response(stream, 200, Vec::new(), false).unwrap();
    let piece = Bytes::from(vec![1u8; 3_000]);
    let mut sent = 0;
    let refused = loop {
        match r.core.send_body(stream, piece.clone(), false) {
            Ok(()) => sent += piece.len(),
            Err(status) => break status,
        }
        assert!(sent < 100_000, "never refused");
    };
    assert_eq!(refused.code, Code::ResourceExhausted);
    assert!(!r.core.poll_writable(stream));
    let (frames, _) = r.take();
    assert_eq!(data_on(&frames, 1).0.len(), sent);
    assert!(events(&mut r).contains(&ServerEvent::Writable { call: stream }));
    r.core.send_body(stream, piece.clone(), false).unwrap();
    r.core.send_trailers(stream, vec![field("x-digest", "abc")]).unwrap();
    let (frames, blocks) = r.take();
    assert_eq!(data_on(&frames, 1), (piece.to_vec(), false));
    let (_, fields, end) = blocks.last().unwrap();
    assert_eq!(get(fields, "x-digest"), Some("abc"));
    assert!(*end, "trailers end the stream");
}

/// A client reset is reported as `Cancelled` (so the owner drops what
/// serves the request); the stream can no longer be read or answered.
#[test]
fn a_reset_by_the_client_is_reported() {
    let mut r = server_on();
    r.headers(1, &post_json("/rest/echo"), false);
    r.data(1, b"partial", false);
    events(&mut r);
    r.send(Frame::RstStream(RstStream { stream_id: StreamId(1), error_code: ErrorCode::CANCEL }));
    let stream = CallId(StreamId(1));
    let ev = events(&mut r);
    assert!(
        ev.iter().any(|e| matches!(e, ServerEvent::Cancelled { call, reason, .. }
            if *call == stream && reason.code == Code::Cancelled)),
        "{ev:?}"
    );
    assert!(r.core.read_body(stream, usize::MAX).is_err());
    assert!(r.core.send_response(stream, 200, Vec::new(), true).is_err());
    // And so is the end of the connection under a request.
    r.headers(3, GET, true);
    events(&mut r);
    r.core.handle_eof(r.now);
    let ev = events(&mut r);
    assert!(ev.iter().any(|e| matches!(e, ServerEvent::Cancelled { call, .. } if call.0 .0 == 3)), "{ev:?}");
}

/// gRPC calls are unaffected beside such requests, on the same connection;
/// with gRPC-Web on too, gRPC-Web calls stay calls and `OPTIONS` becomes a
/// `Request` (the owner tells preflights apart).
#[test]
fn calls_stay_calls_beside_requests() {
    let mut r = server_on();
    r.headers(1, GET, true);
    r.headers(3, GRPC_REQUEST, false);
    r.data(3, &framed(b"ping"), true);
    let ev = events(&mut r);
    assert!(matches!(ev[0], ServerEvent::Request { .. }), "{ev:?}");
    let call = ev
        .iter()
        .find_map(|e| match e {
            ServerEvent::Call { call, .. } => Some(*call),
            _ => None,
        })
        .unwrap();
    assert_eq!(call, CallId(StreamId(3)));
    assert_eq!(r.core.recv_message(call), Ok(RecvMessage::Message(Bytes::from_static(b"ping"))));
    r.core.send_message(call, Bytes::from_static(b"pong")).unwrap();
    r.core.finish(call, &Status::ok(), &Metadata::new()).unwrap();
    r.core.send_response(CallId(StreamId(1)), 200, Vec::new(), true).unwrap();
    let (frames, blocks) = r.take();
    assert_eq!(data_on(&frames, 3).0, framed(b"pong"));
    assert!(blocks.iter().any(|(id, f, end)| *id == 3 && *end && get(f, "grpc-status") == Some("0")));
    assert!(blocks.iter().any(|(id, f, end)| *id == 1 && *end && get(f, ":status") == Some("200")));

    let mut r = server_with(ServerConfig { other_requests: true, grpc_web: true, ..ServerConfig::default() });
    let preflight =
        [(":method", "OPTIONS"), (":scheme", "http"), (":path", "/pkg.Svc/Do"), (":authority", "x")];
    r.headers(1, &preflight, true);
    let web = [
        (":method", "POST"),
        (":scheme", "http"),
        (":path", "/pkg.Svc/Do"),
        (":authority", "x"),
        ("content-type", "application/grpc-web+proto"),
    ];
    r.headers(3, &web, false);
    let ev = events(&mut r);
    assert!(matches!(&ev[0], ServerEvent::Request { stream, .. } if stream.0 .0 == 1), "{ev:?}");
    assert!(matches!(&ev[1], ServerEvent::Call { call, start } if call.0 .0 == 3 && start.web.is_some()));
    // A preflight answered with `respond`.
    r.core.respond(CallId(StreamId(1)), 204, vec![field("access-control-allow-origin", "*")]).unwrap();
    let (_, blocks) = r.take();
    assert!(blocks.iter().any(|(id, f, end)| *id == 1 && *end && get(f, ":status") == Some("204")));
}
