//! RFC 9113 §6.1 DATA.

use weir_spec_tests::prelude::*;

/// §6.1: "DATA frames MUST be associated with a stream. If a DATA frame is
/// received whose Stream Identifier field is 0x00, the recipient MUST respond
/// with a connection error (Section 5.4.1) of type PROTOCOL_ERROR."
/// h2spec http2/6.1/1
pub fn sends_a_data_frame_with_0x0_stream_identifier<T: ServerTarget>(c: &mut H2Conn<T>) {
    c.handshake();
    c.write_data(0, true, b"test");
    c.verify_connection_error(&[ErrorCode::PROTOCOL_ERROR]);
}

/// §6.1: "If a DATA frame is received whose stream is not in the "open" or
/// "half-closed (local)" state, the recipient MUST respond with a stream error
/// (Section 5.4.2) of type STREAM_CLOSED."
/// h2spec http2/6.1/2
pub fn sends_a_data_frame_on_the_stream_that_is_not_in_open_or_half_closed_local_state<T: ServerTarget>(
    c: &mut H2Conn<T>,
) {
    c.handshake();
    let headers = c.common_headers_with("POST");
    c.write_request(1, &headers, true);
    c.write_data(1, true, b"test");
    c.verify_stream_error(1, &[ErrorCode::STREAM_CLOSED]);
}

/// §6.1: "If the length of the padding is the length of the frame payload or
/// greater, the recipient MUST treat this as a connection error (Section
/// 5.4.1) of type PROTOCOL_ERROR." (Length 5, Pad Length 6.)
/// h2spec http2/6.1/3
pub fn sends_a_data_frame_with_invalid_pad_length<T: ServerTarget>(c: &mut H2Conn<T>) {
    c.handshake();
    let mut headers = c.common_headers_with("POST");
    headers.push(("content-length".into(), "4".into()));
    c.write_request(1, &headers, false);
    c.send(b"\x00\x00\x05\x00\x09\x00\x00\x00\x01\x06\x54\x65\x73\x74");
    c.verify_connection_error(&[ErrorCode::PROTOCOL_ERROR]);
}

/// §6.1: "DATA frames (type=0x00) convey arbitrary, variable-length sequences
/// of octets associated with a stream. One or more DATA frames are used, for
/// instance, to carry HTTP request or response content."
/// h2spec generic/3.1/1
pub fn sends_a_data_frame<T: ServerTarget>(c: &mut H2Conn<T>) {
    c.handshake();
    let headers = c.common_headers_with("POST");
    c.write_request(1, &headers, false);
    c.write_data(1, true, b"test");
    c.verify_headers_frame(1);
}

/// §6.1: "One or more DATA frames are used, for instance, to carry HTTP
/// request or response content."
/// h2spec generic/3.1/2
pub fn sends_multiple_data_frames<T: ServerTarget>(c: &mut H2Conn<T>) {
    c.handshake();
    let headers = c.common_headers_with("POST");
    c.write_request(1, &headers, false);
    c.write_data(1, false, b"test");
    c.write_data(1, true, b"test");
    c.verify_headers_frame(1);
}

/// §6.1: "DATA frames MAY also contain padding. Padding can be added to DATA
/// frames to obscure the size of messages."
/// h2spec generic/3.1/3
pub fn sends_a_data_frame_with_padding<T: ServerTarget>(c: &mut H2Conn<T>) {
    c.handshake();
    let headers = c.common_headers_with("POST");
    c.write_request(1, &headers, false);
    c.write_data_padded(1, true, b"test", b"padded");
    c.verify_headers_frame(1);
}

/// §6.1: "If a DATA frame is received whose Stream Identifier field is 0x00,
/// the recipient MUST respond with a connection error (Section 5.4.1) of type
/// PROTOCOL_ERROR."
#[test]
fn client_data_on_stream_zero() {
    let mut c = H2Conn::client();
    c.open_post(true);
    c.write_data(0, false, b"test");
    c.verify_connection_error(&[ErrorCode::PROTOCOL_ERROR]);
}

/// §6.1: "If the length of the padding is the length of the frame payload or
/// greater, the recipient MUST treat this as a connection error (Section
/// 5.4.1) of type PROTOCOL_ERROR."
#[test]
fn client_data_with_invalid_pad_length() {
    let mut c = H2Conn::client();
    let id = c.open_post(true);
    c.respond(id, "200", &[], false);
    // Payload of 5 octets whose Pad Length says 5: padding = payload length.
    c.send(&frames::frame(kind::DATA, flag::PADDED, id, b"\x05abcd"));
    c.verify_connection_error(&[ErrorCode::PROTOCOL_ERROR]);
}

/// §6.1: "Padding octets MUST be set to zero when sending. A receiver is not
/// obligated to verify padding but MAY treat non-zero padding as a connection
/// error": non-zero padding may be accepted, and what is delivered is the
/// payload without Pad Length and Padding.
#[test]
fn client_strips_padding() {
    let mut c = H2Conn::client();
    let id = c.open_post(true);
    c.respond(id, "200", &[], false);
    c.write_data_padded(id, true, b"body", &[0; 20]);
    c.verify_no_error();
    let read = c.target.conn.read(StreamId(id), usize::MAX).unwrap();
    assert_eq!(read, weir_core::conn::Read::Data { data: bytes::Bytes::from_static(b"body"), fin: true });
}

/// §6.1: "If a DATA frame is received whose stream is not in the "open" or
/// "half-closed (local)" state, the recipient MUST respond with a stream error
/// (Section 5.4.2) of type STREAM_CLOSED." Client role: the response ended.
#[test]
fn client_data_after_response_end_stream() {
    let mut c = H2Conn::client();
    let id = c.open_post(false);
    c.respond(id, "200", &[], false);
    c.write_data(id, true, b"end");
    c.write_data(id, false, b"more");
    c.verify_stream_error(id, &[ErrorCode::STREAM_CLOSED]);
}

/// §6.1: "END_STREAM (0x01): When set, the END_STREAM flag indicates that this
/// frame is the last that the endpoint will send for the identified stream."
/// The request body's last DATA frame carries it.
#[test]
fn client_ends_request_body_with_end_stream() {
    let mut c = H2Conn::client();
    let id = c.open_post(false);
    c.target.conn.send_data(StreamId(id), bytes::Bytes::from_static(b"abc"), false).unwrap();
    c.target.conn.send_data(StreamId(id), bytes::Bytes::from_static(b"def"), true).unwrap();
    let data: Vec<_> = c
        .drain()
        .into_iter()
        .filter_map(|r| match r.frame {
            Frame::Data(d) => Some((d.data.to_vec(), d.end_stream)),
            _ => None,
        })
        .collect();
    let body: Vec<u8> = data.iter().flat_map(|(d, _)| d.clone()).collect();
    assert_eq!(body, b"abcdef");
    assert_eq!(data.iter().filter(|(_, end)| *end).count(), 1);
    assert!(data.last().is_some_and(|(_, end)| *end), "END_STREAM on the last DATA frame: {data:?}");
}

weir_spec_tests::cases! {
    server: [
        sends_a_data_frame_with_0x0_stream_identifier,
        sends_a_data_frame_on_the_stream_that_is_not_in_open_or_half_closed_local_state,
        sends_a_data_frame_with_invalid_pad_length,
        sends_a_data_frame,
        sends_multiple_data_frames,
        sends_a_data_frame_with_padding,
    ],
    client: [
        client_data_on_stream_zero,
        client_data_with_invalid_pad_length,
        client_strips_padding,
        client_data_after_response_end_stream,
        client_ends_request_body_with_end_stream,
    ],
}
