//! RFC 9113 §8.1 HTTP Message Framing (§8.1.1 Malformed Messages; RFC 7540
//! §8.1 and §8.1.2.6).

use weir_spec_tests::prelude::*;

/// §8.1: "An endpoint that receives a HEADERS frame without the END_STREAM
/// flag set after receiving the HEADERS frame that opens a request or after
/// receiving a final (non-informational) status code MUST treat the
/// corresponding request or response as malformed (Section 8.1.1)."
/// h2spec http2/8.1/1
pub fn sends_a_second_headers_frame_without_the_end_stream_flag<T: ServerTarget>(c: &mut H2Conn<T>) {
    c.handshake();
    let headers = c.common_headers_with("POST");
    c.write_request(1, &headers, false);
    c.write_data(1, false, b"test");
    c.write_request(1, &[("x-test", "ok")], false);
    c.verify_stream_error(1, &[ErrorCode::PROTOCOL_ERROR]);
}

/// §8.1.1: "A request or response is also malformed if the value of a
/// content-length header field does not equal the sum of the DATA frame
/// payload lengths that form the content" and "Malformed requests or
/// responses that are detected MUST be treated as a stream error (Section
/// 5.4.2) of type PROTOCOL_ERROR."
/// h2spec http2/8.1.2.6/1
pub fn sends_content_length_that_does_not_equal_the_data_frame_payload_length<T: ServerTarget>(
    c: &mut H2Conn<T>,
) {
    c.handshake();
    let mut headers = c.common_headers_with("POST");
    headers.push(("content-length".into(), "1".into()));
    c.write_request(1, &headers, false);
    c.write_data(1, true, b"test");
    c.verify_stream_error(1, &[ErrorCode::PROTOCOL_ERROR]);
}

/// §8.1.1: "A request or response is also malformed if the value of a
/// content-length header field does not equal the sum of the DATA frame
/// payload lengths that form the content".
/// h2spec http2/8.1.2.6/2
pub fn sends_content_length_that_does_not_equal_the_sum_of_multiple_data_frames<T: ServerTarget>(
    c: &mut H2Conn<T>,
) {
    c.handshake();
    let mut headers = c.common_headers_with("POST");
    headers.push(("content-length".into(), "1".into()));
    c.write_request(1, &headers, false);
    c.write_data(1, false, b"test");
    c.write_data(1, true, b"test");
    c.verify_stream_error(1, &[ErrorCode::PROTOCOL_ERROR]);
}

/// §8.1: "A client sends an HTTP request on a new stream, using a previously
/// unused stream identifier (Section 5.1.1). A server sends an HTTP response
/// on the same stream as the request."
/// h2spec generic/4/1
pub fn sends_a_get_request<T: ServerTarget>(c: &mut H2Conn<T>) {
    c.handshake();
    let headers = c.common_headers();
    c.write_request(1, &headers, true);
    c.verify_headers_frame(1);
}

/// §8.1: "A server sends an HTTP response on the same stream as the request."
/// h2spec generic/4/2
pub fn sends_a_head_request<T: ServerTarget>(c: &mut H2Conn<T>) {
    c.handshake();
    let headers = c.common_headers_with("HEAD");
    c.write_request(1, &headers, true);
    c.verify_headers_frame(1);
}

/// §8.1: "A server sends an HTTP response on the same stream as the request."
/// h2spec generic/4/3
pub fn sends_a_post_request<T: ServerTarget>(c: &mut H2Conn<T>) {
    c.handshake();
    let headers = c.common_headers_with("POST");
    c.write_request(1, &headers, false);
    c.write_data(1, true, b"test");
    c.verify_headers_frame(1);
}

/// §8.1: an HTTP message is "one HEADERS frame ..., zero or more DATA frames
/// containing the message content, optionally, one HEADERS frame ...
/// containing the trailer section".
/// h2spec generic/4/4
pub fn sends_a_post_request_with_trailers<T: ServerTarget>(c: &mut H2Conn<T>) {
    c.handshake();
    let mut headers = c.common_headers_with("POST");
    headers.push(("trailer".into(), "x-test".into()));
    c.write_request(1, &headers, false);
    c.write_data(1, false, b"test");
    c.write_request(1, &[("x-test", "ok")], true);
    c.verify_headers_frame(1);
}

/// §8.1: "An endpoint that receives a HEADERS frame without the END_STREAM
/// flag set after receiving ... a final (non-informational) status code MUST
/// treat the corresponding request or response as malformed (Section 8.1.1)."
#[test]
fn client_trailers_without_end_stream() {
    let mut c = H2Conn::client();
    let id = c.open_post(true);
    c.respond(id, "200", &[], false);
    c.write_data(id, false, b"body");
    c.write_request(id, &[("grpc-status", "0")], false);
    c.verify_stream_error(id, &[ErrorCode::PROTOCOL_ERROR]);
}

/// §8.1: "A HEADERS frame with the END_STREAM flag set that carries an
/// informational status code is malformed (Section 8.1.1)."
#[test]
fn client_informational_response_with_end_stream() {
    let mut c = H2Conn::client();
    let id = c.open_post(true);
    c.respond(id, "103", &[("link", "</a>; rel=preload")], true);
    c.verify_stream_error(id, &[ErrorCode::PROTOCOL_ERROR]);
}

/// §8.1: a response is "zero or more HEADERS frames (each followed by zero or
/// more CONTINUATION frames) containing the message headers of informational
/// (1xx) HTTP responses" and then the final response.
#[test]
fn client_informational_then_final_response() {
    let mut c = H2Conn::client();
    let id = c.open_post(true);
    c.respond(id, "100", &[], false);
    c.respond(id, "103", &[], false);
    c.respond(id, "200", &[], true);
    c.verify_no_error();
    let kinds: Vec<HeadersKind> = c
        .events()
        .into_iter()
        .filter_map(|e| match e {
            Event::Headers { kind, .. } => Some(kind),
            _ => None,
        })
        .collect();
    assert_eq!(kinds, [HeadersKind::Informational, HeadersKind::Informational, HeadersKind::Response]);
}

/// §8.1.1: "A request or response is also malformed if the value of a
/// content-length header field does not equal the sum of the DATA frame
/// payload lengths": more DATA than announced.
#[test]
fn client_response_longer_than_content_length() {
    let mut c = H2Conn::client();
    let id = c.open_post(true);
    c.respond(id, "200", &[("content-length", "3")], false);
    c.write_data(id, true, b"four");
    c.verify_stream_error(id, &[ErrorCode::PROTOCOL_ERROR]);
}

/// §8.1.1 (as above): END_STREAM before the announced length, over two DATA
/// frames.
#[test]
fn client_response_shorter_than_content_length() {
    let mut c = H2Conn::client();
    let id = c.open_post(true);
    c.respond(id, "200", &[("content-length", "10")], false);
    c.write_data(id, false, b"abc");
    c.write_data(id, true, b"def");
    c.verify_stream_error(id, &[ErrorCode::PROTOCOL_ERROR]);
}

/// §8.1.1: "A response that is defined to have no content, as described in
/// Section 6.4.1 of [HTTP], can have a non-zero content-length header field,
/// even though no content is included in DATA frames." A HEAD response.
#[test]
fn client_head_response_with_content_length_and_no_content() {
    let mut c = H2Conn::client();
    let id = c.open(Headers::request("HEAD", "http", "x", "/"), true);
    c.respond(id, "200", &[("content-length", "1234")], true);
    c.verify_no_error();
    assert!(c.events().iter().any(|e| matches!(e, Event::Headers { end_stream: true, .. })));
}

/// §8.1: "A server can send a complete response prior to the client sending
/// an entire request if the response does not depend on any portion of the
/// request that has not been sent and received. When this is true, a server
/// MAY request that the client abort transmission of a request without error
/// by sending a RST_STREAM with an error code of NO_ERROR after sending a
/// complete response ... Clients MUST NOT discard responses as a result of
/// receiving such a RST_STREAM frame".
#[test]
fn client_keeps_a_complete_response_after_rst_stream_no_error() {
    let mut c = H2Conn::client();
    let id = c.open_post(false);
    c.respond(id, "200", &[], false);
    c.write_data(id, true, b"done");
    c.write_rst_stream(id, ErrorCode::NO_ERROR);
    c.verify_no_error();
    let read = c.target.conn.read(StreamId(id), usize::MAX);
    assert_eq!(read, Ok(weir_core::conn::Read::Data { data: bytes::Bytes::from_static(b"done"), fin: true }));
}

/// §8.6: "HTTP/2 removes support for the 101 (Switching Protocols)
/// informational status code"; a 101 response cannot be valid.
#[test]
fn client_rejects_101_switching_protocols() {
    let mut c = H2Conn::client();
    let id = c.open_post(true);
    c.respond(id, "101", &[("upgrade", "websocket")], false);
    c.verify_stream_error(id, &[ErrorCode::PROTOCOL_ERROR]);
}

/// RFC 9110 §9.3.2 (the semantics §8.1 frames): "The HEAD method is
/// identical to GET except that the server MUST NOT send content in the
/// response." The server's answer to a HEAD request (here its 415 for a
/// non-gRPC request) ends without DATA content.
#[test]
fn server_answers_head_without_content() {
    let mut c = H2Conn::new(InMemoryServer::new());
    c.handshake();
    let headers = c.common_headers_with("HEAD");
    c.write_request(1, &headers, true);
    let head = c.verify_headers_frame(1);
    let content: usize = c
        .drain()
        .iter()
        .filter_map(|r| match &r.frame {
            Frame::Data(d) if d.stream_id.0 == 1 => Some(d.data.len()),
            _ => None,
        })
        .sum();
    assert_eq!(content, 0, "content in a response to HEAD ({:?})", head.field(":status"));
}

weir_spec_tests::cases! {
    server: [
        sends_a_second_headers_frame_without_the_end_stream_flag,
        sends_content_length_that_does_not_equal_the_data_frame_payload_length,
        sends_content_length_that_does_not_equal_the_sum_of_multiple_data_frames,
        sends_a_get_request,
        sends_a_head_request,
        sends_a_post_request,
        sends_a_post_request_with_trailers,
    ],
    client: [
        client_trailers_without_end_stream,
        client_informational_response_with_end_stream,
        client_informational_then_final_response,
        client_response_longer_than_content_length,
        client_response_shorter_than_content_length,
        client_head_response_with_content_length_and_no_content,
        client_keeps_a_complete_response_after_rst_stream_no_error,
        client_rejects_101_switching_protocols,
        server_answers_head_without_content,
    ],
}
