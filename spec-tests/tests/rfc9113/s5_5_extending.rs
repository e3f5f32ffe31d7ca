//! RFC 9113 §5.5 Extending HTTP/2.

use weir_spec_tests::prelude::*;

/// An unknown frame type (0x16), 8 octets, stream 0 (h2spec's bytes).
const UNKNOWN_FRAME: &[u8] = b"\x00\x00\x08\x16\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00";

/// §5.5: "Implementations MUST ignore unknown or unsupported values in all
/// extensible protocol elements. Implementations MUST discard frames that have
/// unknown or unsupported types."
/// h2spec http2/5.5/1
pub fn sends_an_unknown_extension_frame<T: ServerTarget>(c: &mut H2Conn<T>) {
    c.handshake();
    c.send(UNKNOWN_FRAME);
    c.write_ping(false, [0; 8]);
    c.verify_ping_ack([0; 8]);
}

/// §5.5: "Extension frames that appear in the middle of a field block
/// (Section 4.3) are not permitted; these MUST be treated as a connection
/// error (Section 5.4.1) of type PROTOCOL_ERROR."
/// h2spec http2/5.5/2
pub fn sends_an_unknown_extension_frame_in_the_middle_of_a_header_block<T: ServerTarget>(c: &mut H2Conn<T>) {
    c.handshake();
    let headers = c.common_headers();
    let block = c.encode_headers(&headers);
    c.write_headers(HeadersParam {
        stream: 1,
        block,
        end_stream: true,
        end_headers: false,
        ..Default::default()
    });
    c.send(UNKNOWN_FRAME);
    c.verify_connection_error(&[ErrorCode::PROTOCOL_ERROR]);
}

/// §5.5: "Implementations MUST discard frames that have unknown or
/// unsupported types." Client role, on an open stream.
#[test]
fn client_discards_unknown_extension_frame() {
    let mut c = H2Conn::client();
    let id = c.open_post(true);
    c.send(&frames::frame(0xef, 0, id, b"ext"));
    c.send(UNKNOWN_FRAME);
    c.respond(id, "200", &[], true);
    c.verify_no_error();
    assert!(c.events().iter().any(|e| matches!(e, Event::Headers { kind: HeadersKind::Response, .. })));
}

/// §5.5: "Extension frames that appear in the middle of a field block
/// (Section 4.3) are not permitted; these MUST be treated as a connection
/// error (Section 5.4.1) of type PROTOCOL_ERROR."
#[test]
fn client_unknown_frame_inside_field_block() {
    let mut c = H2Conn::client();
    let id = c.open_post(true);
    let block = c.encode_headers(&[(":status", "200")]);
    c.write_headers(HeadersParam { stream: id, block, end_headers: false, ..Default::default() });
    c.send(&frames::frame(0xef, 0, id, b""));
    c.write_continuation(id, true, &[]);
    c.verify_connection_error(&[ErrorCode::PROTOCOL_ERROR]);
}

/// §5.5: "Implementations MUST ignore unknown or unsupported values in all
/// extensible protocol elements": unknown SETTINGS identifiers and unknown
/// error codes in RST_STREAM.
#[test]
fn client_ignores_unknown_values() {
    let mut c = H2Conn::client();
    let id = c.open_post(false);
    c.write_settings(&[(0x4242, 7), (0xfff0, u32::MAX)]);
    c.verify_settings(true);
    c.write_rst_stream(id, ErrorCode(0xdead));
    c.verify_no_error();
}

weir_spec_tests::cases! {
    server: [sends_an_unknown_extension_frame, sends_an_unknown_extension_frame_in_the_middle_of_a_header_block],
    client: [
        client_discards_unknown_extension_frame,
        client_unknown_frame_inside_field_block,
        client_ignores_unknown_values,
    ],
}
