//! RFC 9113 §6.7 PING.

use weir_spec_tests::prelude::*;

const H2SPEC: [u8; 8] = *b"h2spec\0\0";

/// §6.7: "Receivers of a PING frame that does not include an ACK flag MUST
/// send a PING frame with the ACK flag set in response, with an identical
/// frame payload."
/// h2spec http2/6.7/1
pub fn sends_a_ping_frame<T: ServerTarget>(c: &mut H2Conn<T>) {
    c.handshake();
    c.write_ping(false, H2SPEC);
    c.verify_ping_ack(H2SPEC);
}

/// §6.7: "ACK (0x01): When set, the ACK flag indicates that this PING frame is
/// a PING response. An endpoint MUST set this flag in PING responses. An
/// endpoint MUST NOT respond to PING frames containing this flag."
/// h2spec http2/6.7/2
pub fn sends_a_ping_frame_with_ack<T: ServerTarget>(c: &mut H2Conn<T>) {
    c.handshake();
    let unexpected = *b"invalid\0";
    c.write_ping(true, unexpected);
    c.write_ping(false, H2SPEC);
    let r = c.wait_frame("a PING", |f| matches!(f, Frame::Ping(p) if p.payload == unexpected || p.ack));
    assert!(
        matches!(&r.frame, Frame::Ping(p) if p.ack && p.payload == H2SPEC),
        "the PING ACK was answered: {:?}",
        r.frame
    );
}

/// §6.7: "If a PING frame is received with a Stream Identifier field value
/// other than 0x00, the recipient MUST respond with a connection error
/// (Section 5.4.1) of type PROTOCOL_ERROR."
/// h2spec http2/6.7/3
pub fn sends_a_ping_frame_with_a_stream_identifier_field_value_other_than_0x0<T: ServerTarget>(
    c: &mut H2Conn<T>,
) {
    c.handshake();
    c.send(b"\x00\x00\x08\x06\x00\x00\x00\x00\x01\x00\x00\x00\x00\x00\x00\x00\x00");
    c.verify_connection_error(&[ErrorCode::PROTOCOL_ERROR]);
}

/// §6.7: "Receipt of a PING frame with a length field value other than 8 MUST
/// be treated as a connection error (Section 5.4.1) of type FRAME_SIZE_ERROR."
/// (A 6-octet PING on stream 0, as h2spec master sends.)
/// h2spec http2/6.7/4
pub fn sends_a_ping_frame_with_a_length_field_value_other_than_8<T: ServerTarget>(c: &mut H2Conn<T>) {
    c.handshake();
    c.send(b"\x00\x00\x06\x06\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00");
    c.verify_connection_error(&[ErrorCode::FRAME_SIZE_ERROR]);
}

/// §6.7: "The PING frame (type=0x06) is a mechanism for measuring a minimal
/// round-trip time from the sender, as well as determining whether an idle
/// connection is still functional. PING frames can be sent from any endpoint."
/// h2spec generic/3.7/1
pub fn sends_a_ping_frame_generic<T: ServerTarget>(c: &mut H2Conn<T>) {
    c.handshake();
    c.write_ping(false, H2SPEC);
    c.verify_ping_ack(H2SPEC);
}

/// §6.7: "Receivers of a PING frame that does not include an ACK flag MUST
/// send a PING frame with the ACK flag set in response, with an identical
/// frame payload."
#[test]
fn client_answers_ping() {
    let mut c = H2Conn::client();
    c.write_ping(false, *b"\x01\x02\x03\x04\x05\x06\x07\x08");
    c.verify_ping_ack(*b"\x01\x02\x03\x04\x05\x06\x07\x08");
}

/// §6.7: "An endpoint MUST NOT respond to PING frames containing this flag."
#[test]
fn client_does_not_answer_ping_ack() {
    let mut c = H2Conn::client();
    c.write_ping(true, *b"unsolici");
    for r in c.drain() {
        assert!(!matches!(r.frame, Frame::Ping(_)), "answered a PING ACK: {:?}", r.frame);
    }
    assert!(!c.target.is_closed());
}

/// §6.7: "If a PING frame is received with a Stream Identifier field value
/// other than 0x00, the recipient MUST respond with a connection error
/// (Section 5.4.1) of type PROTOCOL_ERROR."
#[test]
fn client_ping_on_a_stream() {
    let mut c = H2Conn::client();
    let id = c.open_post(true);
    c.send(&frames::frame(kind::PING, 0, id, &[0; 8]));
    c.verify_connection_error(&[ErrorCode::PROTOCOL_ERROR]);
}

/// §6.7: "Receipt of a PING frame with a length field value other than 8 MUST
/// be treated as a connection error (Section 5.4.1) of type FRAME_SIZE_ERROR."
#[test]
fn client_ping_with_length_other_than_8() {
    let mut c = H2Conn::client();
    c.send(&frames::frame(kind::PING, 0, 0, &[0; 9]));
    c.verify_connection_error(&[ErrorCode::FRAME_SIZE_ERROR]);
}

/// §6.7: "PING frames can be sent from any endpoint": the client's PING is
/// answered and reported with its round-trip time.
#[test]
fn client_ping_round_trip() {
    let mut c = H2Conn::client();
    c.target.conn.ping(c.target.now, *b"rtt-test");
    let r = c.wait_frame("the client's PING", |f| matches!(f, Frame::Ping(p) if !p.ack));
    let Frame::Ping(p) = r.frame else { unreachable!() };
    c.target.advance(std::time::Duration::from_millis(30));
    c.write_ping(true, p.payload);
    let events = c.events();
    assert!(
        events.iter().any(|e| matches!(e, Event::Pong { payload, rtt }
            if payload == b"rtt-test" && *rtt == std::time::Duration::from_millis(30))),
        "{events:?}"
    );
}

weir_spec_tests::cases! {
    server: [
        sends_a_ping_frame,
        sends_a_ping_frame_with_ack,
        sends_a_ping_frame_with_a_stream_identifier_field_value_other_than_0x0,
        sends_a_ping_frame_with_a_length_field_value_other_than_8,
        sends_a_ping_frame_generic,
    ],
    client: [
        client_answers_ping,
        client_does_not_answer_ping_ack,
        client_ping_on_a_stream,
        client_ping_with_length_other_than_8,
        client_ping_round_trip,
    ],
}
