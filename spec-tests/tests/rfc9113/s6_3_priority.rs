//! RFC 9113 §6.3 PRIORITY.

use weir_spec_tests::prelude::*;

/// Sends a PRIORITY with `p` on stream 1, then a request on stream 1, and
/// expects the response (h2spec generic/3.3's shape).
fn priority_then_request<T: ServerTarget>(c: &mut H2Conn<T>, stream: u32, p: Priority) {
    c.handshake();
    c.write_priority(stream, p);
    let headers = c.common_headers();
    c.write_request(1, &headers, true);
    c.verify_headers_frame(1);
}

/// §6.3: "The PRIORITY frame always identifies a stream. If a PRIORITY frame
/// is received with a stream identifier of 0x00, the recipient MUST respond
/// with a connection error (Section 5.4.1) of type PROTOCOL_ERROR."
/// h2spec http2/6.3/1
pub fn sends_a_priority_frame_with_0x0_stream_identifier<T: ServerTarget>(c: &mut H2Conn<T>) {
    c.handshake();
    c.write_priority(0, Priority::on(0, 255));
    c.verify_connection_error(&[ErrorCode::PROTOCOL_ERROR]);
}

/// §6.3: "A PRIORITY frame with a length other than 5 octets MUST be treated
/// as a stream error (Section 5.4.2) of type FRAME_SIZE_ERROR."
/// h2spec http2/6.3/2
pub fn sends_a_priority_frame_with_a_length_other_than_5_octets<T: ServerTarget>(c: &mut H2Conn<T>) {
    c.handshake();
    let headers = c.common_headers();
    c.write_request(1, &headers, true);
    c.send(b"\x00\x00\x04\x02\x00\x00\x00\x00\x01\x80\x00\x00\x01");
    c.verify_stream_error(1, &[ErrorCode::FRAME_SIZE_ERROR]);
}

/// §6.3: "A PRIORITY frame can be sent in any stream state, including idle or
/// closed streams." A PRIORITY for idle stream 3 does not make stream 1 a
/// lower, unusable id.
/// h2spec http2/6.3/3 (strict)
pub fn sends_a_priority_frame_for_an_idle_stream_then_send_a_header_frame_for_a_lower_stream_id_strict<
    T: ServerTarget,
>(
    c: &mut H2Conn<T>,
) {
    priority_then_request(c, 3, Priority::on(0, 255));
}

/// §6.3: "Weight: An unsigned 8-bit integer representing a priority weight
/// for the stream" (weight octet 0: priority 1).
/// h2spec generic/3.3/1
pub fn sends_a_priority_frame_with_priority_1<T: ServerTarget>(c: &mut H2Conn<T>) {
    priority_then_request(c, 1, Priority::on(0, 0));
}

/// §6.3: "Weight: An unsigned 8-bit integer representing a priority weight
/// for the stream" (weight octet 255: priority 256).
/// h2spec generic/3.3/2
pub fn sends_a_priority_frame_with_priority_256<T: ServerTarget>(c: &mut H2Conn<T>) {
    priority_then_request(c, 1, Priority::on(0, 255));
}

/// §6.3: "Stream Dependency: A 31-bit stream identifier." Stream 3 depends
/// on stream 1.
/// h2spec generic/3.3/3
pub fn sends_a_priority_frame_with_stream_dependency<T: ServerTarget>(c: &mut H2Conn<T>) {
    priority_then_request(c, 3, Priority::on(1, 0));
}

/// §6.3: "Exclusive: A single-bit flag."
/// h2spec generic/3.3/4
pub fn sends_a_priority_frame_with_exclusive<T: ServerTarget>(c: &mut H2Conn<T>) {
    priority_then_request(c, 1, Priority { dependency: 0, exclusive: true, weight: 0 });
}

/// §6.3: "A PRIORITY frame can be sent in any stream state, including idle or
/// closed streams."
/// h2spec generic/3.3/5
pub fn sends_a_priority_frame_for_an_idle_stream_then_send_a_header_frame_for_a_lower_stream_id<
    T: ServerTarget,
>(
    c: &mut H2Conn<T>,
) {
    priority_then_request(c, 3, Priority::on(0, 255));
}

/// §6.3: "If a PRIORITY frame is received with a stream identifier of 0x00,
/// the recipient MUST respond with a connection error (Section 5.4.1) of type
/// PROTOCOL_ERROR."
#[test]
fn client_priority_on_stream_zero() {
    let mut c = H2Conn::client();
    c.open_post(true);
    c.write_priority(0, Priority::on(0, 1));
    c.verify_connection_error(&[ErrorCode::PROTOCOL_ERROR]);
}

/// §6.3: "A PRIORITY frame with a length other than 5 octets MUST be treated
/// as a stream error (Section 5.4.2) of type FRAME_SIZE_ERROR."
#[test]
fn client_priority_with_length_other_than_5() {
    let mut c = H2Conn::client();
    let id = c.open_post(false);
    c.send(&frames::frame(kind::PRIORITY, 0, id, &[0, 0, 0, 0, 16, 0]));
    c.verify_stream_error(id, &[ErrorCode::FRAME_SIZE_ERROR]);
    assert!(!c.target.is_closed());
}

/// §6.3: "A PRIORITY frame can be sent in any stream state, including idle or
/// closed streams." Client role: on an idle and on a closed stream.
#[test]
fn client_accepts_priority_on_idle_and_closed_streams() {
    let mut c = H2Conn::client();
    let id = c.open_post(true);
    c.respond(id, "200", &[], true);
    c.write_priority(id, Priority::on(0, 3));
    c.write_priority(id + 2, Priority::on(0, 3));
    c.write_priority(2, Priority::on(0, 3));
    c.verify_no_error();
    // The idle stream 3 is still usable: the next request gets it.
    assert_eq!(c.open_post(true), id + 2);
}

weir_spec_tests::cases! {
    server: [
        sends_a_priority_frame_with_0x0_stream_identifier,
        sends_a_priority_frame_with_a_length_other_than_5_octets,
        sends_a_priority_frame_for_an_idle_stream_then_send_a_header_frame_for_a_lower_stream_id_strict,
        sends_a_priority_frame_with_priority_1,
        sends_a_priority_frame_with_priority_256,
        sends_a_priority_frame_with_stream_dependency,
        sends_a_priority_frame_with_exclusive,
        sends_a_priority_frame_for_an_idle_stream_then_send_a_header_frame_for_a_lower_stream_id,
    ],
    client: [
        client_priority_on_stream_zero,
        client_priority_with_length_other_than_5,
        client_accepts_priority_on_idle_and_closed_streams,
    ],
}
