//! RFC 9113 §8.2 HTTP Fields (§8.2.1 Field Validity, §8.2.2
//! Connection-Specific Header Fields; RFC 7540 §8.1.2, §8.1.2.2).

use weir_spec_tests::prelude::*;

/// §8.2.1: "A field name MUST NOT contain characters in the ranges 0x00-0x20,
/// 0x41-0x5a, or 0x7f-0xff (all ranges inclusive)" and "A request or response
/// that contains a field that violates any of these conditions MUST be
/// treated as malformed (Section 8.1.1)."
/// h2spec http2/8.1.2/1
pub fn sends_a_headers_frame_that_contains_the_header_field_name_in_uppercase_letters<T: ServerTarget>(
    c: &mut H2Conn<T>,
) {
    c.handshake();
    let mut headers = c.common_headers();
    headers.push(("X-TEST".into(), "ok".into()));
    c.write_request(1, &headers, true);
    c.verify_stream_error(1, &[ErrorCode::PROTOCOL_ERROR]);
}

/// §8.2.2: "An endpoint MUST NOT generate an HTTP/2 message containing
/// connection-specific header fields. ... Any message containing
/// connection-specific header fields MUST be treated as malformed (Section
/// 8.1.1)."
/// h2spec http2/8.1.2.2/1
pub fn sends_a_headers_frame_that_contains_the_connection_specific_header_field<T: ServerTarget>(
    c: &mut H2Conn<T>,
) {
    c.handshake();
    let mut headers = c.common_headers();
    headers.push(("connection".into(), "keep-alive".into()));
    c.write_request(1, &headers, true);
    c.verify_stream_error(1, &[ErrorCode::PROTOCOL_ERROR]);
}

/// §8.2.2: "The only exception to this is the TE header field, which MAY be
/// present in an HTTP/2 request; when it is, it MUST NOT contain any value
/// other than "trailers"."
/// h2spec http2/8.1.2.2/2
pub fn sends_a_headers_frame_that_contains_the_te_header_field_with_any_value_other_than_trailers<
    T: ServerTarget,
>(
    c: &mut H2Conn<T>,
) {
    c.handshake();
    let mut headers = c.common_headers();
    headers.push(("trailers".into(), "test".into()));
    headers.push(("te".into(), "trailers, deflate".into()));
    c.write_request(1, &headers, true);
    c.verify_stream_error(1, &[ErrorCode::PROTOCOL_ERROR]);
}

/// §8.2.1: "A field name MUST NOT contain characters in the ranges 0x00-0x20,
/// 0x41-0x5a, or 0x7f-0xff" and "A request or response that contains a field
/// that violates any of these conditions MUST be treated as malformed".
/// Client role.
#[test]
fn client_uppercase_field_name_in_response() {
    let mut c = H2Conn::client();
    let id = c.open_post(true);
    c.respond(id, "200", &[("Content-Type", "text/plain")], true);
    c.verify_stream_error(id, &[ErrorCode::PROTOCOL_ERROR]);
}

/// §8.2.2: "Any message containing connection-specific header fields MUST be
/// treated as malformed (Section 8.1.1)." Client role: transfer-encoding.
#[test]
fn client_connection_specific_field_in_response() {
    let mut c = H2Conn::client();
    let id = c.open_post(true);
    c.respond(id, "200", &[("transfer-encoding", "chunked")], false);
    c.verify_stream_error(id, &[ErrorCode::PROTOCOL_ERROR]);
}

/// §8.2.1: "A field value MUST NOT contain the zero value (ASCII NUL, 0x00),
/// line feed (ASCII LF, 0x0a), or carriage return (ASCII CR, 0x0d) at any
/// position." ... "A request or response that contains a field that violates
/// any of these conditions MUST be treated as malformed (Section 8.1.1)."
#[test]
fn client_field_value_with_cr_lf_or_nul() {
    for bad in ["a\r\nb", "a\nb", "a\0b"] {
        let mut c = H2Conn::client();
        let id = c.open_post(true);
        c.respond(id, "200", &[("x-bad", bad)], true);
        c.verify_stream_error(id, &[ErrorCode::PROTOCOL_ERROR]);
    }
}

/// §8.2.1: "A field value MUST NOT start or end with an ASCII whitespace
/// character (ASCII SP or HTAB, 0x20 or 0x09)."
#[test]
fn client_field_value_with_surrounding_whitespace() {
    for bad in [" lead", "trail\t"] {
        let mut c = H2Conn::client();
        let id = c.open_post(true);
        c.respond(id, "200", &[("x-bad", bad)], true);
        c.verify_stream_error(id, &[ErrorCode::PROTOCOL_ERROR]);
    }
}

/// §8.2.2: "An endpoint MUST NOT generate an HTTP/2 message containing
/// connection-specific header fields", §8.2: "Field names MUST be converted to
/// lowercase": the fields the client adds itself are valid, and `te` carries
/// only "trailers".
#[test]
fn client_generates_no_connection_specific_fields() {
    let mut c = H2Conn::client();
    let mut h = Headers::request("POST", "http", "x", "/");
    h.push("te", "trailers");
    h.push("content-type", "application/grpc");
    let id = c.target.conn.open_stream(h, true).unwrap().0;
    let r = c.wait_frame("the request", |f| matches!(f, Frame::Headers(h) if h.stream_id.0 == id));
    let fields = r.fields.expect("decoded request");
    let forbidden = ["connection", "keep-alive", "proxy-connection", "transfer-encoding", "upgrade"];
    for (n, v) in &fields {
        assert!(!forbidden.contains(&n.as_str()), "{n}");
        assert!(n != "te" || v == "trailers", "te: {v}");
        assert_eq!(n.to_lowercase(), *n);
    }
    assert_eq!(fields.iter().filter(|(n, _)| n == "te").count(), 1);
}

weir_spec_tests::cases! {
    server: [
        sends_a_headers_frame_that_contains_the_header_field_name_in_uppercase_letters,
        sends_a_headers_frame_that_contains_the_connection_specific_header_field,
        sends_a_headers_frame_that_contains_the_te_header_field_with_any_value_other_than_trailers,
    ],
    client: [
        client_uppercase_field_name_in_response,
        client_connection_specific_field_in_response,
        client_field_value_with_cr_lf_or_nul,
        client_field_value_with_surrounding_whitespace,
        client_generates_no_connection_specific_fields,
    ],
}
