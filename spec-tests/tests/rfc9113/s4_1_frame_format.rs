//! RFC 9113 §4.1 Frame Format.

use weir_spec_tests::prelude::*;

/// An unknown frame type (0x16), 8 octets, stream 0 (h2spec's bytes).
const UNKNOWN_FRAME: &[u8] = b"\x00\x00\x08\x16\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00";

/// §4.1: "Implementations MUST ignore and discard frames of unknown types."
/// h2spec http2/4.1/1
pub fn sends_a_frame_with_unknown_type<T: ServerTarget>(c: &mut H2Conn<T>) {
    c.handshake();
    c.send(UNKNOWN_FRAME);
    c.write_ping(false, [0; 8]);
    c.verify_ping_ack([0; 8]);
}

/// §4.1: "Flags that have no defined semantics for a particular frame type
/// MUST be ignored and MUST be left unset (0x00) when sending." A PING with
/// flags 0x16 (ACK clear) is a PING to answer.
/// h2spec http2/4.1/2
pub fn sends_a_frame_with_undefined_flag<T: ServerTarget>(c: &mut H2Conn<T>) {
    c.handshake();
    c.send(b"\x00\x00\x08\x06\x16\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00");
    c.verify_ping_ack([0; 8]);
}

/// §4.1: "Reserved: A reserved 1-bit field. The semantics of this bit are
/// undefined, and the bit MUST remain unset (0x00) when sending and MUST be
/// ignored when receiving."
/// h2spec http2/4.1/3
pub fn sends_a_frame_with_reserved_field_bit<T: ServerTarget>(c: &mut H2Conn<T>) {
    c.handshake();
    c.send(b"\x00\x00\x08\x06\x16\x80\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00");
    c.verify_ping_ack([0; 8]);
}

/// §4.1: "Implementations MUST ignore and discard frames of unknown types."
#[test]
fn client_ignores_frame_of_unknown_type() {
    let mut c = H2Conn::client();
    let id = c.open_post(true);
    c.send(&frames::frame(0xfa, 0xff, id, b"whatever"));
    c.respond(id, "200", &[], true);
    c.write_ping(false, *b"after-uk");
    c.verify_ping_ack(*b"after-uk");
    assert!(c.events().iter().any(|e| matches!(e, Event::Headers { kind: HeadersKind::Response, .. })));
}

/// §4.1: "Flags that have no defined semantics for a particular frame type
/// MUST be ignored": a response HEADERS with every undefined flag bit set.
#[test]
fn client_ignores_undefined_flags() {
    let mut c = H2Conn::client();
    let id = c.open_post(true);
    let block = c.encode_headers(&[(":status", "200")]);
    let undefined = 0x02 | 0x10 | 0x40 | 0x80;
    c.send(&frames::frame(kind::HEADERS, flag::END_HEADERS | flag::END_STREAM | undefined, id, &block));
    c.verify_no_error();
    let events = c.events();
    assert!(
        events.iter().any(|e| matches!(e, Event::Headers { end_stream: true, headers, .. }
            if headers.pseudo.status == Some(200))),
        "{events:?}"
    );
}

/// §4.1: the reserved bit of the stream identifier "MUST be ignored when
/// receiving": a response on stream 0x80000001 is a response on stream 1.
#[test]
fn client_ignores_reserved_bit() {
    let mut c = H2Conn::client();
    let id = c.open_post(true);
    let block = c.encode_headers(&[(":status", "204")]);
    c.send(&frames::frame(kind::HEADERS, flag::END_HEADERS | flag::END_STREAM, 0x8000_0000 | id, &block));
    c.verify_no_error();
    let events = c.events();
    assert!(
        events.iter().any(|e| matches!(e, Event::Headers { stream, .. } if stream.0 == id)),
        "{events:?}"
    );
}

weir_spec_tests::cases! {
    server: [
        sends_a_frame_with_unknown_type,
        sends_a_frame_with_undefined_flag,
        sends_a_frame_with_reserved_field_bit,
    ],
    client: [
        client_ignores_frame_of_unknown_type,
        client_ignores_undefined_flags,
        client_ignores_reserved_bit,
    ],
}
