//! PROTOCOL-HTTP2 "Responses": Response-Headers, Trailers, Trailers-Only,
//! Status and Status-Message, synthesized statuses, early closure.

use super::common::*;
use weir_core::grpc::{CallRequest, ClientEvent, Code, Metadata, Status};
use weir_spec_tests::prelude::*;

/// Starts a call on a client and returns its stream id, request drained.
fn client_call(c: &mut H2Conn<InMemoryGrpcClient>) -> u32 {
    let now = c.target.now;
    let id = c.target.client.start_call(now, CallRequest::new(PATH, "x")).unwrap();
    output(c);
    id.0.0
}

/// The status the client finished the call with.
#[track_caller]
fn finished(c: &mut H2Conn<InMemoryGrpcClient>) -> Status {
    c.target
        .take_events()
        .into_iter()
        .find_map(|e| match e {
            ClientEvent::Finished { status, .. } => Some(status),
            _ => None,
        })
        .expect("the call finished")
}

/// "Trailers-Only → HTTP-Status Content-Type Trailers" and "Response-Headers
/// & Trailers-Only are each delivered in a single HTTP2 HEADERS frame block.
/// ... Trailers-Only is permitted for calls that produce an immediate error."
#[test]
fn trailers_only_is_one_headers_frame() {
    let mut c = server();
    start_call(&mut c, 1, &[], true).expect("a call");
    c.target.server.finish(call(1), &Status::new(Code::NotFound, "no such thing"), &Metadata::new()).unwrap();
    let o = output(&mut c);
    assert!(o.data.is_empty(), "no DATA");
    assert_eq!(o.blocks.len(), 1);
    let (_, f, end) = &o.blocks[0];
    assert!(*end, "END_STREAM on the only HEADERS");
    assert_eq!(get(f, ":status"), Some("200"));
    assert!(get(f, "content-type").is_some_and(|ct| ct.starts_with("application/grpc")));
    assert_eq!((get(f, "grpc-status"), get(f, "grpc-message")), (Some("5"), Some("no such thing")));
}

/// "Response → (Response-Headers *Length-Prefixed-Message Trailers)" and
/// "Status must be sent in Trailers even if the status code is OK." and "For
/// responses end-of-stream is indicated by the presence of the END_STREAM flag
/// on the last received HEADERS frame that carries Trailers."
#[test]
fn response_headers_messages_then_trailers() {
    let mut c = server();
    start_call(&mut c, 1, &[], true).expect("a call");
    c.target.server.send_message(call(1), bytes::Bytes::from_static(b"reply")).unwrap();
    c.target.server.finish(call(1), &Status::new(Code::Ok, ""), &Metadata::new()).unwrap();
    let o = output(&mut c);
    assert_eq!(o.order, ["HEADERS(1)", "DATA(1)", "HEADERS(1)"]);
    let (_, head, head_end) = &o.blocks[0];
    assert_eq!((get(head, ":status"), *head_end), (Some("200"), false));
    assert!(get(head, "content-type").is_some_and(|ct| ct.starts_with("application/grpc")));
    assert!(get(head, "grpc-status").is_none(), "status only in trailers");
    assert!(o.data.iter().all(|(_, _, end)| !end), "END_STREAM is on the trailers");
    let (_, trailers, end) = &o.blocks[1];
    assert_eq!((get(trailers, "grpc-status"), *end), (Some("0"), true));
    assert!(trailers.iter().all(|(n, _)| !n.starts_with(':')), "no pseudo-header in trailers");
}

/// "Status → "grpc-status" 1*DIGIT ; 0-9" and "The value portion of Status is
/// a decimal-encoded integer as an ASCII string, without any leading zeros."
#[test]
fn status_is_decimal_without_leading_zeros() {
    for n in 0..=16 {
        let mut c = server();
        start_call(&mut c, 1, &[], true).expect("a call");
        c.target.server.finish(call(1), &Status::new(Code::from_i32(n), "x"), &Metadata::new()).unwrap();
        let o = output(&mut c);
        assert_eq!(get(&o.blocks[0].1, "grpc-status"), Some(n.to_string().as_str()));
    }
}

/// "Status-Message → "grpc-message" Percent-Encoded", "Percent-Byte-Unencoded
/// → 1*( %x20-%x24 / %x26-%x7E ) ; space and VCHAR, except %",
/// "Percent-Byte-Encoded → "%" 2HEXDIGIT ; 0-9 A-F", and "The value portion of
/// Status-Message is conceptually a Unicode string description of the error,
/// physically encoded as UTF-8 followed by percent-encoding."
#[test]
fn status_message_is_percent_encoded_utf8() {
    let text = "100% caf\u{e9} \u{263a}\ttab\nline ~";
    let mut c = server();
    start_call(&mut c, 1, &[], true).expect("a call");
    c.target.server.finish(call(1), &Status::new(Code::Internal, text), &Metadata::new()).unwrap();
    let o = output(&mut c);
    let wire = get(&o.blocks[0].1, "grpc-message").expect("grpc-message").to_string();
    assert_eq!(wire, "100%25 caf%C3%A9 %E2%98%BA%09tab%0Aline ~");
    let bytes = wire.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = &bytes[i + 1..i + 3];
            assert!(hex.iter().all(|b| b.is_ascii_digit() || (b'A'..=b'F').contains(b)), "{wire}");
            i += 3;
        } else {
            assert!((0x20..=0x7e).contains(&bytes[i]) && bytes[i] != b'%', "{wire}");
            i += 1;
        }
    }
    // And the client decodes it back.
    let mut cl = client();
    let id = client_call(&mut cl);
    cl.write_request(
        id,
        &[
            (":status", "200"),
            ("content-type", "application/grpc"),
            ("grpc-status", "13"),
            ("grpc-message", &wire),
        ],
        true,
    );
    let st = finished(&mut cl);
    assert_eq!((st.code, st.message.as_str()), (Code::Internal, text));
}

/// "When decoding invalid values, implementations MUST NOT error or throw
/// away the message. At worst, the implementation can abort decoding the
/// status message altogether such that the user would received the raw
/// percent-encoded form. Alternatively, the implementation can decode valid
/// portions while leaving broken %-encodings as-is or replacing them".
#[test]
fn client_keeps_a_broken_percent_encoded_message() {
    for (wire, valid_part) in
        [("bad %zz here", "bad "), ("trailing %4", "trailing "), ("%C3 alone", " alone")]
    {
        let mut c = client();
        let id = client_call(&mut c);
        c.write_request(
            id,
            &[
                (":status", "200"),
                ("content-type", "application/grpc"),
                ("grpc-status", "3"),
                ("grpc-message", wire),
            ],
            true,
        );
        let st = finished(&mut c);
        assert_eq!(st.code, Code::InvalidArgument, "the status itself survives: {wire}");
        assert!(st.message.contains(valid_part), "{wire:?} -> {:?}", st.message);
    }
}

/// "Implementations should expect broken deployments to send non-200 HTTP
/// status codes in responses as well as a variety of non-GRPC content-types
/// and to omit Status & Status-Message. Implementations must synthesize a
/// Status & Status-Message to propagate to the application layer when this
/// occurs." The codes are gRPC's http-grpc-status-mapping.md.
#[test]
fn client_synthesizes_a_status_for_http_errors() {
    let table = [
        ("400", Code::Internal),
        ("401", Code::Unauthenticated),
        ("403", Code::PermissionDenied),
        ("404", Code::Unimplemented),
        ("429", Code::Unavailable),
        ("502", Code::Unavailable),
        ("503", Code::Unavailable),
        ("504", Code::Unavailable),
        ("500", Code::Unknown),
        ("302", Code::Unknown),
    ];
    for (http, code) in table {
        let mut c = client();
        let id = client_call(&mut c);
        c.write_request(id, &[(":status", http), ("content-type", "text/html")], false);
        let st = finished(&mut c);
        assert_eq!(st.code, code, "HTTP {http}");
        assert!(!st.message.is_empty(), "a synthesized Status-Message");
    }
}

/// "... a variety of non-GRPC content-types and to omit Status &
/// Status-Message. Implementations must synthesize a Status": a 200 with an
/// HTML body, and trailers without grpc-status, both fail the call.
#[test]
fn client_synthesizes_a_status_for_missing_grpc_framing() {
    let mut c = client();
    let id = client_call(&mut c);
    c.write_request(id, &[(":status", "200"), ("content-type", "text/html")], false);
    assert_ne!(finished(&mut c).code, Code::Ok);

    let mut c = client();
    let id = client_call(&mut c);
    c.write_request(id, &[(":status", "200"), ("content-type", "application/grpc")], false);
    c.write_request(id, &[("x-not-status", "1")], true);
    assert_eq!(finished(&mut c).code, Code::Unknown);
}

/// "If a server responds with Trailers before the client's END_STREAM, then
/// the server should send RST_STREAM with NO_ERROR error code immediately
/// following that HEADERS frame as suggested by RFC 7540 Section 8.1 to allow
/// the stream to be deallocated."
#[test]
fn early_server_closure_resets_with_no_error() {
    let mut c = server();
    start_call(&mut c, 1, &[], false).expect("a call");
    c.target.server.finish(call(1), &Status::new(Code::Ok, ""), &Metadata::new()).unwrap();
    let o = output(&mut c);
    assert_eq!(o.order, ["HEADERS(1)", "RST_STREAM(1)"], "trailers, then the reset right after");
    assert!(o.blocks[0].2, "END_STREAM on the trailers");
    assert_eq!(o.resets, [(1, ErrorCode::NO_ERROR)]);
    // A server whose client already half-closed sends no reset.
    let mut c = server();
    start_call(&mut c, 1, &[], true).expect("a call");
    c.target.server.finish(call(1), &Status::new(Code::Ok, ""), &Metadata::new()).unwrap();
    assert!(output(&mut c).resets.is_empty());
}

/// "Similarly, when a client receives Trailers before the client's
/// END_STREAM, then the client should send RST_STREAM with NO_ERROR error
/// code to allow the stream to be deallocted."
#[test]
fn client_answers_early_trailers_with_rst_stream_no_error() {
    let mut c = client();
    let id = client_call(&mut c);
    c.write_request(
        id,
        &[(":status", "200"), ("content-type", "application/grpc"), ("grpc-status", "0")],
        true,
    );
    assert_eq!(finished(&mut c).code, Code::Ok);
    assert_eq!(output(&mut c).resets, [(id, ErrorCode::NO_ERROR)]);
}

weir_spec_tests::cases! {
    server: [],
    client: [
        trailers_only_is_one_headers_frame,
        response_headers_messages_then_trailers,
        status_is_decimal_without_leading_zeros,
        status_message_is_percent_encoded_utf8,
        client_keeps_a_broken_percent_encoded_message,
        client_synthesizes_a_status_for_http_errors,
        client_synthesizes_a_status_for_missing_grpc_framing,
        early_server_closure_resets_with_no_error,
        client_answers_early_trailers_with_rst_stream_no_error,
    ],
}
