//! RFC 9113 §6.4 RST_STREAM.

use weir_spec_tests::prelude::*;

/// §6.4: "RST_STREAM frames MUST be associated with a stream. If a RST_STREAM
/// frame is received with a stream identifier of 0x00, the recipient MUST
/// treat this as a connection error (Section 5.4.1) of type PROTOCOL_ERROR."
/// h2spec http2/6.4/1
pub fn sends_a_rst_stream_frame_with_0x0_stream_identifier<T: ServerTarget>(c: &mut H2Conn<T>) {
    c.handshake();
    c.write_rst_stream(0, ErrorCode::CANCEL);
    c.verify_connection_error(&[ErrorCode::PROTOCOL_ERROR]);
}

/// §6.4: "RST_STREAM frames MUST NOT be sent for a stream in the "idle" state.
/// If a RST_STREAM frame identifying an idle stream is received, the
/// recipient MUST treat this as a connection error (Section 5.4.1) of type
/// PROTOCOL_ERROR."
/// h2spec http2/6.4/2
pub fn sends_a_rst_stream_frame_on_a_idle_stream<T: ServerTarget>(c: &mut H2Conn<T>) {
    c.handshake();
    c.write_rst_stream(1, ErrorCode::CANCEL);
    c.verify_connection_error(&[ErrorCode::PROTOCOL_ERROR]);
}

/// §6.4: "A RST_STREAM frame with a length other than 4 octets MUST be treated
/// as a connection error (Section 5.4.1) of type FRAME_SIZE_ERROR."
/// h2spec http2/6.4/3
pub fn sends_a_rst_stream_frame_with_a_length_other_than_4_octets<T: ServerTarget>(c: &mut H2Conn<T>) {
    c.handshake();
    let headers = c.common_headers();
    c.write_request(1, &headers, true);
    c.send(b"\x00\x00\x03\x03\x00\x00\x00\x00\x01\x00\x00\x00");
    c.verify_stream_error(1, &[ErrorCode::FRAME_SIZE_ERROR]);
}

/// §6.4: "The RST_STREAM frame (type=0x03) allows for immediate termination of
/// a stream. RST_STREAM is sent to request cancellation of a stream or to
/// indicate that an error condition has occurred." The connection goes on.
/// h2spec generic/3.4/1
pub fn sends_a_rst_stream_frame<T: ServerTarget>(c: &mut H2Conn<T>) {
    c.handshake();
    let headers = c.common_headers();
    c.write_request(1, &headers, false);
    c.write_rst_stream(1, ErrorCode::CANCEL);
    c.write_ping(false, [0; 8]);
    c.verify_ping_ack_or_close([0; 8]);
}

/// §6.4: "If a RST_STREAM frame is received with a stream identifier of 0x00,
/// the recipient MUST treat this as a connection error (Section 5.4.1) of type
/// PROTOCOL_ERROR."
#[test]
fn client_rst_stream_on_stream_zero() {
    let mut c = H2Conn::client();
    c.open_post(true);
    c.write_rst_stream(0, ErrorCode::CANCEL);
    c.verify_connection_error(&[ErrorCode::PROTOCOL_ERROR]);
}

/// §6.4: "If a RST_STREAM frame identifying an idle stream is received, the
/// recipient MUST treat this as a connection error (Section 5.4.1) of type
/// PROTOCOL_ERROR." Stream 5 is above every stream the client opened.
#[test]
fn client_rst_stream_on_idle_stream_above_open_ones() {
    let mut c = H2Conn::client();
    c.open_post(true);
    c.write_rst_stream(5, ErrorCode::CANCEL);
    c.verify_connection_error(&[ErrorCode::PROTOCOL_ERROR]);
}

/// §6.4: "A RST_STREAM frame with a length other than 4 octets MUST be treated
/// as a connection error (Section 5.4.1) of type FRAME_SIZE_ERROR."
#[test]
fn client_rst_stream_with_length_other_than_4() {
    let mut c = H2Conn::client();
    let id = c.open_post(true);
    c.send(&frames::frame(kind::RST_STREAM, 0, id, &[0, 0, 0, 8, 0]));
    c.verify_connection_error(&[ErrorCode::FRAME_SIZE_ERROR]);
}

/// §6.4: "The RST_STREAM frame fully terminates the referenced stream and
/// causes it to enter the "closed" state." The application learns the code,
/// and sending on the stream is refused.
#[test]
fn client_rst_stream_terminates_the_stream() {
    let mut c = H2Conn::client();
    let id = c.open_post(false);
    c.write_rst_stream(id, ErrorCode::REFUSED_STREAM);
    c.verify_no_error();
    let events = c.events();
    assert!(
        events.iter().any(|e| matches!(e, Event::Reset { stream, code: ErrorCode::REFUSED_STREAM,
            initiator: Initiator::Remote, .. } if stream.0 == id)),
        "{events:?}"
    );
    let sent = c.target.conn.send_data(StreamId(id), bytes::Bytes::from_static(b"x"), true);
    assert!(sent.is_err(), "no DATA after the stream closed: {sent:?}");
    assert!(c.drain().iter().all(|r| !matches!(r.frame, Frame::Data(_))));
}

weir_spec_tests::cases! {
    server: [
        sends_a_rst_stream_frame_with_0x0_stream_identifier,
        sends_a_rst_stream_frame_on_a_idle_stream,
        sends_a_rst_stream_frame_with_a_length_other_than_4_octets,
        sends_a_rst_stream_frame,
    ],
    client: [
        client_rst_stream_on_stream_zero,
        client_rst_stream_on_idle_stream_above_open_ones,
        client_rst_stream_with_length_other_than_4,
        client_rst_stream_terminates_the_stream,
    ],
}
