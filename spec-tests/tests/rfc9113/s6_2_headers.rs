//! RFC 9113 §6.2 HEADERS.

use weir_spec_tests::prelude::*;

/// §6.2: "A HEADERS frame without the END_HEADERS flag set MUST be followed by
/// a CONTINUATION frame for the same stream. A receiver MUST treat the receipt
/// of any other type of frame or a frame on a different stream as a
/// connection error (Section 5.4.1) of type PROTOCOL_ERROR."
/// h2spec http2/6.2/1
pub fn sends_a_headers_frame_without_the_end_headers_flag_and_a_priority_frame<T: ServerTarget>(
    c: &mut H2Conn<T>,
) {
    c.handshake();
    let headers = c.common_headers();
    let block = c.encode_headers(&headers);
    c.write_headers(HeadersParam { stream: 1, block, end_headers: false, ..Default::default() });
    c.write_priority(1, Priority::on(0, 255));
    let dummy = c.dummy_headers(1);
    let block = c.encode_headers(&dummy);
    c.write_continuation(1, true, &block);
    c.verify_connection_error(&[ErrorCode::PROTOCOL_ERROR]);
}

/// §6.2: "A receiver MUST treat the receipt of any other type of frame or a
/// frame on a different stream as a connection error (Section 5.4.1) of type
/// PROTOCOL_ERROR."
/// h2spec http2/6.2/2
pub fn sends_a_headers_frame_to_another_stream_while_sending_a_headers_frame<T: ServerTarget>(
    c: &mut H2Conn<T>,
) {
    c.handshake();
    let headers = c.common_headers();
    let block = c.encode_headers(&headers);
    c.write_headers(HeadersParam { stream: 1, block, end_headers: false, ..Default::default() });
    let block = c.encode_headers(&headers);
    c.write_headers(HeadersParam {
        stream: 3,
        block,
        end_stream: true,
        end_headers: true,
        ..Default::default()
    });
    let dummy = c.dummy_headers(1);
    let block = c.encode_headers(&dummy);
    c.write_continuation(1, true, &block);
    c.verify_connection_error(&[ErrorCode::PROTOCOL_ERROR]);
}

/// §6.2: "HEADERS frames MUST be associated with a stream. If a HEADERS frame
/// is received whose Stream Identifier field is 0x00, the recipient MUST
/// respond with a connection error (Section 5.4.1) of type PROTOCOL_ERROR."
/// h2spec http2/6.2/3
pub fn sends_a_headers_frame_with_0x0_stream_identifier<T: ServerTarget>(c: &mut H2Conn<T>) {
    c.handshake();
    let headers = c.common_headers();
    c.write_request(0, &headers, true);
    c.verify_connection_error(&[ErrorCode::PROTOCOL_ERROR]);
}

/// §6.2: "Padding that exceeds the size remaining for the field block
/// fragment MUST be treated as a PROTOCOL_ERROR." (Pad Length = fragment + 2.)
/// h2spec http2/6.2/4
pub fn sends_a_headers_frame_with_invalid_pad_length<T: ServerTarget>(c: &mut H2Conn<T>) {
    c.handshake();
    let headers = c.common_headers();
    let block = c.encode_headers(&headers);
    let mut payload = vec![block.len() as u8 + 2];
    payload.extend_from_slice(&block);
    c.send(&frames::frame(kind::HEADERS, 0x0d, 1, &payload));
    c.verify_stream_error(1, &[ErrorCode::PROTOCOL_ERROR]);
}

/// §6.2: "The HEADERS frame (type=0x01) is used to open a stream (Section
/// 5.1), and additionally carries a field block fragment."
/// h2spec generic/3.2/1
pub fn sends_a_headers_frame<T: ServerTarget>(c: &mut H2Conn<T>) {
    c.handshake();
    let headers = c.common_headers();
    c.write_request(1, &headers, true);
    c.verify_headers_frame(1);
}

/// §6.2: "PADDED (0x08): When set, the PADDED flag indicates that the Pad
/// Length field and any padding that it describes are present."
/// h2spec generic/3.2/2
pub fn sends_a_headers_frame_with_padding<T: ServerTarget>(c: &mut H2Conn<T>) {
    c.handshake();
    let headers = c.common_headers();
    let block = c.encode_headers(&headers);
    c.write_headers(HeadersParam {
        stream: 1,
        block,
        end_stream: true,
        end_headers: true,
        pad_len: Some(8),
        ..Default::default()
    });
    c.verify_headers_frame(1);
}

/// §6.2: "PRIORITY (0x20): When set, the PRIORITY flag indicates that the
/// Exclusive, Stream Dependency, and Weight fields are present."
/// h2spec generic/3.2/3
pub fn sends_a_headers_frame_with_priority<T: ServerTarget>(c: &mut H2Conn<T>) {
    c.handshake();
    let headers = c.common_headers();
    let block = c.encode_headers(&headers);
    c.write_headers(HeadersParam {
        stream: 1,
        block,
        end_stream: true,
        end_headers: true,
        priority: Some(Priority::on(0, 255)),
        ..Default::default()
    });
    c.verify_headers_frame(1);
}

/// §6.2: "A HEADERS frame without the END_HEADERS flag set MUST be followed by
/// a CONTINUATION frame for the same stream. A receiver MUST treat the receipt
/// of any other type of frame ... as a connection error (Section 5.4.1) of
/// type PROTOCOL_ERROR." Client role, a DATA frame in between.
#[test]
fn client_headers_without_end_headers_then_data() {
    let mut c = H2Conn::client();
    let id = c.open_post(true);
    let block = c.encode_headers(&[(":status", "200")]);
    c.write_headers(HeadersParam { stream: id, block, end_headers: false, ..Default::default() });
    c.write_data(id, true, b"x");
    c.verify_connection_error(&[ErrorCode::PROTOCOL_ERROR]);
}

/// §6.2: "If a HEADERS frame is received whose Stream Identifier field is
/// 0x00, the recipient MUST respond with a connection error (Section 5.4.1) of
/// type PROTOCOL_ERROR."
#[test]
fn client_headers_on_stream_zero() {
    let mut c = H2Conn::client();
    c.open_post(true);
    c.respond(0, "200", &[], true);
    c.verify_connection_error(&[ErrorCode::PROTOCOL_ERROR]);
}

/// §6.2: "Padding that exceeds the size remaining for the field block
/// fragment MUST be treated as a PROTOCOL_ERROR."
#[test]
fn client_headers_with_invalid_pad_length() {
    let mut c = H2Conn::client();
    let id = c.open_post(true);
    let block = c.encode_headers(&[(":status", "200")]);
    let mut payload = vec![block.len() as u8 + 1];
    payload.extend_from_slice(&block);
    c.send(&frames::frame(kind::HEADERS, flag::PADDED | flag::END_HEADERS | flag::END_STREAM, id, &payload));
    c.verify_stream_error(id, &[ErrorCode::PROTOCOL_ERROR]);
}

/// §6.2: the PADDED and PRIORITY fields wrap the field block fragment; a
/// response using both is decoded as if sent without them.
#[test]
fn client_accepts_headers_with_padding_and_priority() {
    let mut c = H2Conn::client();
    let id = c.open_post(true);
    let block = c.encode_headers(&[(":status", "200"), ("x-padded", "yes")]);
    c.write_headers(HeadersParam {
        stream: id,
        block,
        end_stream: true,
        end_headers: true,
        priority: Some(Priority::on(0, 32)),
        pad_len: Some(17),
    });
    c.verify_no_error();
    let events = c.events();
    assert!(
        events.iter().any(|e| matches!(e, Event::Headers { headers, end_stream: true, .. }
            if headers.get(b"x-padded").map(|v| &v[..]) == Some(&b"yes"[..]))),
        "{events:?}"
    );
}

/// §6.2: "END_STREAM (0x01): When set, the END_STREAM flag indicates that the
/// field block (Section 4.3) is the last that the endpoint will send for the
/// identified stream." A request without content is one HEADERS with it.
#[test]
fn client_request_without_body_ends_with_headers() {
    let mut c = H2Conn::client();
    let id = c.target.conn.open_stream(Headers::request("GET", "http", "x", "/"), true).unwrap().0;
    let r = c.wait_frame("the request", |f| matches!(f, Frame::Headers(_)));
    assert!(matches!(&r.frame, Frame::Headers(h) if h.stream_id.0 == id && h.end_stream && h.end_headers));
    assert_eq!(r.field(":method"), Some("GET"));
}

weir_spec_tests::cases! {
    server: [
        sends_a_headers_frame_without_the_end_headers_flag_and_a_priority_frame,
        sends_a_headers_frame_to_another_stream_while_sending_a_headers_frame,
        sends_a_headers_frame_with_0x0_stream_identifier,
        sends_a_headers_frame_with_invalid_pad_length,
        sends_a_headers_frame,
        sends_a_headers_frame_with_padding,
        sends_a_headers_frame_with_priority,
    ],
    client: [
        client_headers_without_end_headers_then_data,
        client_headers_on_stream_zero,
        client_headers_with_invalid_pad_length,
        client_accepts_headers_with_padding_and_priority,
        client_request_without_body_ends_with_headers,
    ],
}
