//! PROTOCOL-HTTP2 "Requests": Call-Definition, Content-Type, EOS.

use super::common::*;
use weir_core::grpc::ServerEvent;

/// "Request-Headers → Call-Definition *Custom-Metadata" and "If Timeout is
/// omitted a server should assume an infinite timeout." A well-formed request
/// starts a call on its path and authority, without a deadline.
#[test]
fn request_headers_start_a_call() {
    let mut c = server();
    let start = start_call(&mut c, 1, &[], false).expect("a call");
    assert_eq!(&start.path[..], PATH.as_bytes());
    assert_eq!(start.authority.as_deref(), Some(&b"localhost"[..]));
    assert_eq!((start.deadline, start.timeout), (None, None));
    assert!(output(&mut c).blocks.is_empty(), "nothing is answered before the application does");
}

/// "If Content-Type does not begin with "application/grpc", gRPC servers
/// SHOULD respond with HTTP status of 415 (Unsupported Media Type). This will
/// prevent other HTTP/2 clients from interpreting a gRPC error response, which
/// uses status 200 (OK), as successful." The body says why, for plain HTTP
/// clients; no call reaches the application.
#[test]
fn non_grpc_content_type_gets_415_with_a_body() {
    for content_type in [Some("text/plain"), Some("application/json"), None] {
        let mut c = server();
        let mut f = request_fields(&[]);
        f.retain(|(n, _)| n != "content-type");
        if let Some(ct) = content_type {
            f.push(("content-type".into(), ct.into()));
        }
        c.write_request(1, &f, true);
        let o = output(&mut c);
        assert_eq!(o.blocks.len(), 1, "{content_type:?}");
        let (stream, fields, end) = &o.blocks[0];
        assert_eq!((*stream, get(fields, ":status"), *end), (1, Some("415"), false));
        let body: Vec<u8> = o.data.iter().flat_map(|(_, d, _)| d.clone()).collect();
        assert!(!body.is_empty() && o.data.last().is_some_and(|(_, _, end)| *end), "a text body");
        assert!(!c.target.events.iter().any(|e| matches!(e, ServerEvent::Call { .. })));
    }
}

/// "Content-Type → "content-type" "application/grpc" [("+proto" / "+json" /
/// {custom})]": every form starts a call.
#[test]
fn content_type_with_a_subtype_is_grpc() {
    for ct in
        ["application/grpc", "application/grpc+proto", "application/grpc+json", "application/grpc+thrift"]
    {
        let mut c = server();
        let mut f = request_fields(&[]);
        f.retain(|(n, _)| n != "content-type");
        f.push(("content-type".into(), ct.into()));
        c.write_request(1, &f, false);
        assert!(c.target.events.iter().any(|e| matches!(e, ServerEvent::Call { .. })), "{ct}");
    }
}

/// "For requests, EOS (end-of-stream) is indicated by the presence of the
/// END_STREAM flag on the last received DATA frame." The message arrives,
/// then the half-close.
#[test]
fn end_stream_on_the_last_data_frame_is_eos() {
    let mut c = server();
    start_call(&mut c, 1, &[], false).expect("a call");
    c.write_data(1, true, &lpm(false, b"only"));
    let events: Vec<&ServerEvent> = c.target.events.iter().skip(1).collect();
    assert!(matches!(events[0], ServerEvent::Message { .. }), "{events:?}");
    let msg = c.target.server.recv_message(call(1)).unwrap();
    assert_eq!(msg, weir_core::grpc::RecvMessage::Message(bytes::Bytes::from_static(b"only")));
    assert_eq!(c.target.server.recv_message(call(1)).unwrap(), weir_core::grpc::RecvMessage::End);
}

/// "In scenarios where the Request stream needs to be closed but no data
/// remains to be sent implementations MUST send an empty DATA frame with this
/// flag set." Server side: an empty DATA with END_STREAM half-closes.
#[test]
fn empty_data_with_end_stream_half_closes() {
    let mut c = server();
    start_call(&mut c, 1, &[], false).expect("a call");
    c.write_data(1, false, &lpm(false, b"m"));
    c.write_data(1, true, b"");
    assert_eq!(
        c.target.server.recv_message(call(1)).unwrap(),
        weir_core::grpc::RecvMessage::Message(bytes::Bytes::from_static(b"m"))
    );
    assert_eq!(c.target.server.recv_message(call(1)).unwrap(), weir_core::grpc::RecvMessage::End);
    assert!(output(&mut c).resets.is_empty(), "an empty DATA frame is no error");
}

/// "In scenarios where the Request stream needs to be closed but no data
/// remains to be sent implementations MUST send an empty DATA frame with this
/// flag set." Client side: `half_close` after the last message.
#[test]
fn client_closes_the_request_with_an_empty_data_frame() {
    let mut c = client();
    let now = c.target.now;
    let id = c.target.client.start_call(now, weir_core::grpc::CallRequest::new(PATH, "x")).unwrap();
    c.target.client.send_message(id, bytes::Bytes::from_static(b"m")).unwrap();
    output(&mut c);
    c.target.client.half_close(id).unwrap();
    let o = output(&mut c);
    assert_eq!(o.data, vec![(id.0.0, Vec::new(), true)]);
}

/// "Call-Definition → Method Scheme Path TE [Authority] [Timeout]
/// Content-Type ..." with "Method → ":method POST"" and "TE → "te" "trailers"":
/// what the client sends.
#[test]
fn client_sends_the_call_definition() {
    let mut c = client();
    let now = c.target.now;
    let id =
        c.target.client.start_call(now, weir_core::grpc::CallRequest::new(PATH, "example.com:443")).unwrap();
    let o = output(&mut c);
    let (stream, f, end) = &o.blocks[0];
    assert_eq!((*stream, *end), (id.0.0, false));
    assert_eq!(get(f, ":method"), Some("POST"));
    assert!(matches!(get(f, ":scheme"), Some("http" | "https")));
    assert_eq!(get(f, ":path"), Some(PATH));
    assert_eq!(get(f, ":authority"), Some("example.com:443"));
    assert_eq!(get(f, "te"), Some("trailers"));
    assert!(get(f, "content-type").is_some_and(|ct| ct.starts_with("application/grpc")));
    let ua = get(f, "user-agent").expect("a user-agent");
    assert!(
        ua.starts_with("grpc-") && ua.contains('/'),
        "User-Agent → \"grpc-\" Language ... \"/\" Version: {ua}"
    );
}

weir_spec_tests::cases! {
    server: [],
    client: [
        request_headers_start_a_call,
        non_grpc_content_type_gets_415_with_a_body,
        content_type_with_a_subtype_is_grpc,
        end_stream_on_the_last_data_frame_is_eos,
        empty_data_with_end_stream_half_closes,
        client_closes_the_request_with_an_empty_data_frame,
        client_sends_the_call_definition,
    ],
}
