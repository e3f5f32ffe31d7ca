//! RFC 9113 §8.3 HTTP Control Data (pseudo-header fields; RFC 7540 §8.1.2.1,
//! §8.1.2.3).

use weir_spec_tests::prelude::*;

/// Sends `headers` as one request on stream 1 and expects a stream error
/// PROTOCOL_ERROR: the request is malformed.
fn malformed_request<T: ServerTarget>(c: &mut H2Conn<T>, headers: &[(String, String)]) {
    c.write_request(1, headers, true);
    c.verify_stream_error(1, &[ErrorCode::PROTOCOL_ERROR]);
}

/// §8.3: "Pseudo-header fields are only valid in the context in which they
/// are defined." ... "Endpoints MUST treat a request or response that contains
/// undefined or invalid pseudo-header fields as malformed (Section 8.1.1)."
/// h2spec http2/8.1.2.1/1
pub fn sends_a_headers_frame_that_contains_a_unknown_pseudo_header_field<T: ServerTarget>(c: &mut H2Conn<T>) {
    c.handshake();
    let mut headers = c.common_headers();
    headers.push((":test".into(), "ok".into()));
    malformed_request(c, &headers);
}

/// §8.3: "Pseudo-header fields defined for responses MUST NOT appear in
/// requests."
/// h2spec http2/8.1.2.1/2
pub fn sends_a_headers_frame_that_contains_the_pseudo_header_field_defined_for_response<T: ServerTarget>(
    c: &mut H2Conn<T>,
) {
    c.handshake();
    let mut headers = c.common_headers();
    headers.push((":status".into(), "200".into()));
    malformed_request(c, &headers);
}

/// §8.3: "Pseudo-header fields MUST NOT appear in a trailer section."
/// h2spec http2/8.1.2.1/3
pub fn sends_a_headers_frame_that_contains_a_pseudo_header_field_as_trailers<T: ServerTarget>(
    c: &mut H2Conn<T>,
) {
    c.handshake();
    let headers = c.common_headers_with("POST");
    c.write_request(1, &headers, false);
    c.write_data(1, false, b"test");
    c.write_request(1, &[(":method", "POST")], false);
    c.verify_stream_error(1, &[ErrorCode::PROTOCOL_ERROR]);
}

/// §8.3: "All pseudo-header fields MUST appear in a field block before all
/// regular field lines. Any request or response that contains a pseudo-header
/// field that appears in a field block after a regular field line MUST be
/// treated as malformed (Section 8.1.1)."
/// h2spec http2/8.1.2.1/4
pub fn sends_a_pseudo_header_field_that_appears_in_a_header_block_after_a_regular_header_field<
    T: ServerTarget,
>(
    c: &mut H2Conn<T>,
) {
    c.handshake();
    let mut headers = fields(&[("x-test", "ok")]);
    headers.extend(c.common_headers());
    malformed_request(c, &headers);
}

/// §8.3.1: "This pseudo-header field MUST NOT be empty for "http" or "https"
/// URIs; "http" or "https" URIs that do not contain a path component MUST
/// include a value of '/'."
/// h2spec http2/8.1.2.3/1
pub fn sends_a_headers_frame_with_empty_path_pseudo_header_field<T: ServerTarget>(c: &mut H2Conn<T>) {
    c.handshake();
    let mut headers = c.common_headers();
    headers[2].1 = String::new();
    malformed_request(c, &headers);
}

/// §8.3.1: "All HTTP/2 requests MUST include exactly one valid value for the
/// ":method", ":scheme", and ":path" pseudo-header fields, unless they are
/// CONNECT requests (Section 8.5). An HTTP request that omits mandatory
/// pseudo-header fields is malformed (Section 8.1.1)."
/// h2spec http2/8.1.2.3/2
pub fn sends_a_headers_frame_that_omits_method_pseudo_header_field<T: ServerTarget>(c: &mut H2Conn<T>) {
    c.handshake();
    let h = c.common_headers();
    malformed_request(c, &[h[1].clone(), h[2].clone(), h[3].clone()]);
}

/// §8.3.1: "An HTTP request that omits mandatory pseudo-header fields is
/// malformed (Section 8.1.1)."
/// h2spec http2/8.1.2.3/3
pub fn sends_a_headers_frame_that_omits_scheme_pseudo_header_field<T: ServerTarget>(c: &mut H2Conn<T>) {
    c.handshake();
    let h = c.common_headers();
    malformed_request(c, &[h[0].clone(), h[2].clone(), h[3].clone()]);
}

/// §8.3.1: "An HTTP request that omits mandatory pseudo-header fields is
/// malformed (Section 8.1.1)."
/// h2spec http2/8.1.2.3/4
pub fn sends_a_headers_frame_that_omits_path_pseudo_header_field<T: ServerTarget>(c: &mut H2Conn<T>) {
    c.handshake();
    let h = c.common_headers();
    malformed_request(c, &[h[0].clone(), h[1].clone(), h[3].clone()]);
}

/// §8.3.1: "All HTTP/2 requests MUST include exactly one valid value for the
/// ":method", ":scheme", and ":path" pseudo-header fields".
/// h2spec http2/8.1.2.3/5
pub fn sends_a_headers_frame_with_duplicated_method_pseudo_header_field<T: ServerTarget>(c: &mut H2Conn<T>) {
    c.handshake();
    let mut headers = c.common_headers();
    let method = headers[0].1.clone();
    headers.push((":method".into(), method));
    malformed_request(c, &headers);
}

/// §8.3.1: "All HTTP/2 requests MUST include exactly one valid value for the
/// ":method", ":scheme", and ":path" pseudo-header fields".
/// h2spec http2/8.1.2.3/6
pub fn sends_a_headers_frame_with_duplicated_scheme_pseudo_header_field<T: ServerTarget>(c: &mut H2Conn<T>) {
    c.handshake();
    let mut headers = c.common_headers();
    let scheme = headers[1].1.clone();
    headers.push((":scheme".into(), scheme));
    malformed_request(c, &headers);
}

/// §8.3.1: "All HTTP/2 requests MUST include exactly one valid value for the
/// ":method", ":scheme", and ":path" pseudo-header fields". (h2spec's source
/// appends a second `:method` whose value is the path.)
/// h2spec http2/8.1.2.3/7
pub fn sends_a_headers_frame_with_duplicated_path_pseudo_header_field<T: ServerTarget>(c: &mut H2Conn<T>) {
    c.handshake();
    let mut headers = c.common_headers();
    let path = headers[2].1.clone();
    headers.push((":method".into(), path));
    malformed_request(c, &headers);
}

/// A response `list` on a fresh request; the client must reset it with
/// PROTOCOL_ERROR.
#[track_caller]
fn malformed_response(list: &[(&str, &str)]) {
    let mut c = H2Conn::client();
    let id = c.open_post(true);
    c.write_request(id, list, true);
    c.verify_stream_error(id, &[ErrorCode::PROTOCOL_ERROR]);
    let events = c.events();
    assert!(
        events.iter().any(|e| matches!(e, Event::Reset { cause: Some(LocalResetCause::Malformed(_)), .. })),
        "reported as malformed: {events:?}"
    );
}

/// §8.3: "Endpoints MUST treat a request or response that contains undefined
/// or invalid pseudo-header fields as malformed (Section 8.1.1)."
#[test]
fn client_unknown_pseudo_header_in_response() {
    malformed_response(&[(":status", "200"), (":test", "ok")]);
}

/// §8.3: "Pseudo-header fields defined for requests MUST NOT appear in
/// responses".
#[test]
fn client_request_pseudo_header_in_response() {
    malformed_response(&[(":status", "200"), (":path", "/")]);
}

/// §8.3: "Pseudo-header fields MUST NOT appear in a trailer section."
#[test]
fn client_pseudo_header_in_trailers() {
    let mut c = H2Conn::client();
    let id = c.open_post(true);
    c.respond(id, "200", &[], false);
    c.write_request(id, &[(":status", "200")], true);
    c.verify_stream_error(id, &[ErrorCode::PROTOCOL_ERROR]);
}

/// §8.3: "Any request or response that contains a pseudo-header field that
/// appears in a field block after a regular field line MUST be treated as
/// malformed".
#[test]
fn client_pseudo_header_after_regular_field() {
    malformed_response(&[("server", "x"), (":status", "200")]);
}

/// §8.3.2: "For HTTP/2 responses, a single ":status" pseudo-header field is
/// defined that carries the HTTP status code field ... This pseudo-header
/// field MUST be included in all responses, including interim responses;
/// otherwise, the response is malformed (Section 8.1.1)."
#[test]
fn client_response_without_status() {
    malformed_response(&[("server", "x")]);
}

/// §8.3.2: "a single ":status" pseudo-header field": two are malformed.
#[test]
fn client_response_with_duplicate_status() {
    malformed_response(&[(":status", "200"), (":status", "204")]);
}

/// §8.3.2: ":status" "carries the HTTP status code field" — a three-digit
/// integer ([HTTP] §15); anything else is invalid, hence malformed (§8.3).
#[test]
fn client_response_with_invalid_status() {
    for bad in ["20", "2000", "abc", ""] {
        malformed_response(&[(":status", bad)]);
    }
}

weir_spec_tests::cases! {
    server: [
        sends_a_headers_frame_that_contains_a_unknown_pseudo_header_field,
        sends_a_headers_frame_that_contains_the_pseudo_header_field_defined_for_response,
        sends_a_headers_frame_that_contains_a_pseudo_header_field_as_trailers,
        sends_a_pseudo_header_field_that_appears_in_a_header_block_after_a_regular_header_field,
        sends_a_headers_frame_with_empty_path_pseudo_header_field,
        sends_a_headers_frame_that_omits_method_pseudo_header_field,
        sends_a_headers_frame_that_omits_scheme_pseudo_header_field,
        sends_a_headers_frame_that_omits_path_pseudo_header_field,
        sends_a_headers_frame_with_duplicated_method_pseudo_header_field,
        sends_a_headers_frame_with_duplicated_scheme_pseudo_header_field,
        sends_a_headers_frame_with_duplicated_path_pseudo_header_field,
    ],
    client: [
        client_unknown_pseudo_header_in_response,
        client_request_pseudo_header_in_response,
        client_pseudo_header_in_trailers,
        client_pseudo_header_after_regular_field,
        client_response_without_status,
        client_response_with_duplicate_status,
        client_response_with_invalid_status,
    ],
}
