//! RFC 9113 §7 Error Codes.

use weir_spec_tests::prelude::*;

/// §7: "Unknown or unsupported error codes MUST NOT trigger any special
/// behavior. These MAY be treated by an implementation as being equivalent to
/// INTERNAL_ERROR." A GOAWAY with code 0xff: the server closes as for any
/// GOAWAY with nothing in flight.
/// h2spec http2/7/1
pub fn sends_a_goaway_frame_with_unknown_error_code<T: ServerTarget>(c: &mut H2Conn<T>) {
    c.handshake();
    c.write_goaway(0, ErrorCode(0xff), b"");
    c.verify_connection_close();
}

/// §7: "Unknown or unsupported error codes MUST NOT trigger any special
/// behavior." A RST_STREAM with code 0xff; the connection still answers PING.
/// h2spec http2/7/2
pub fn sends_a_rst_stream_frame_with_unknown_error_code<T: ServerTarget>(c: &mut H2Conn<T>) {
    c.handshake();
    let headers = c.common_headers_with("POST");
    c.write_request(1, &headers, false);
    c.write_rst_stream(1, ErrorCode(0xff));
    c.write_ping(false, [0; 8]);
    c.verify_ping_ack([0; 8]);
}

/// §7: "Unknown or unsupported error codes MUST NOT trigger any special
/// behavior." Client role: a GOAWAY with an unknown code lets stream 1 (at or
/// below the last stream id) finish.
#[test]
fn client_goaway_with_unknown_error_code() {
    let mut c = H2Conn::client();
    let id = c.open_post(true);
    c.write_goaway(id, ErrorCode(0xabcd), b"");
    c.respond(id, "200", &[], true);
    let events = c.events();
    assert!(events.iter().any(|e| matches!(e, Event::GoAway { code, .. } if code.0 == 0xabcd)), "{events:?}");
    assert!(
        events.iter().any(|e| matches!(e, Event::Headers { kind: HeadersKind::Response, .. })),
        "{events:?}"
    );
}

/// §7: "Unknown or unsupported error codes MUST NOT trigger any special
/// behavior." Client role: the stream is reset with the code as received,
/// the connection goes on.
#[test]
fn client_rst_stream_with_unknown_error_code() {
    let mut c = H2Conn::client();
    let id = c.open_post(false);
    c.write_rst_stream(id, ErrorCode(0xff));
    c.write_ping(false, [2; 8]);
    c.verify_ping_ack([2; 8]);
    let events = c.events();
    assert!(
        events.iter().any(|e| matches!(e, Event::Reset { code, initiator: Initiator::Remote, .. }
            if code.0 == 0xff)),
        "{events:?}"
    );
}

weir_spec_tests::cases! {
    server: [sends_a_goaway_frame_with_unknown_error_code, sends_a_rst_stream_frame_with_unknown_error_code],
    client: [client_goaway_with_unknown_error_code, client_rst_stream_with_unknown_error_code],
}
