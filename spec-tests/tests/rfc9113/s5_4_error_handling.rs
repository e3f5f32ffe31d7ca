//! RFC 9113 §5.4 Error Handling (RFC 7540 §5.4.1 Connection Error Handling).

use weir_spec_tests::prelude::*;

/// A PING on stream 3: a connection error (§6.7), h2spec's trigger.
const PING_ON_STREAM_3: &[u8] = b"\x00\x00\x08\x06\x00\x00\x00\x00\x03\x00\x00\x00\x00\x00\x00\x00\x00";

/// §5.4.1: "After sending the GOAWAY frame for an error condition, the
/// endpoint MUST close the TCP connection."
/// h2spec http2/5.4.1/1
pub fn sends_an_invalid_ping_frame_for_connection_close<T: ServerTarget>(c: &mut H2Conn<T>) {
    c.handshake();
    c.send(PING_ON_STREAM_3);
    c.verify_connection_close();
}

/// §5.4.1: "An endpoint that encounters a connection error SHOULD first send
/// a GOAWAY frame (Section 6.8) with the stream identifier of the last stream
/// that it successfully received from its peer."
/// h2spec http2/5.4.1/2 (strict)
pub fn sends_an_invalid_ping_frame_to_receive_goaway_frame<T: ServerTarget>(c: &mut H2Conn<T>) {
    c.handshake();
    c.send(PING_ON_STREAM_3);
    let r = c.wait_frame("GOAWAY before the close", |f| matches!(f, Frame::GoAway(_)));
    let Frame::GoAway(g) = r.frame else { unreachable!() };
    assert_eq!((g.last_stream_id.0, g.error_code), (0, ErrorCode::PROTOCOL_ERROR));
}

/// §5.4.1: "An endpoint that encounters a connection error SHOULD first send
/// a GOAWAY frame (Section 6.8) with the stream identifier of the last stream
/// that it successfully received from its peer." ... "After sending the
/// GOAWAY frame for an error condition, the endpoint MUST close the TCP
/// connection." Client role: no server-initiated stream, so last is 0.
#[test]
fn client_connection_error_sends_goaway_then_closes() {
    let mut c = H2Conn::client();
    c.open_post(true);
    c.send(PING_ON_STREAM_3);
    let r = c.wait_frame("GOAWAY", |f| matches!(f, Frame::GoAway(_)));
    let Frame::GoAway(g) = r.frame else { unreachable!() };
    assert_eq!((g.last_stream_id.0, g.error_code), (0, ErrorCode::PROTOCOL_ERROR));
    c.verify_connection_close();
    let events = c.events();
    assert!(
        events.iter().any(|e| matches!(e, Event::Closed { error: Some(err) }
            if err.code == ErrorCode::PROTOCOL_ERROR && err.initiator == Initiator::Local)),
        "{events:?}"
    );
}

/// §5.4.2: "A stream error is an error related to a specific stream that does
/// not affect processing of other streams." The other stream's response still
/// arrives.
#[test]
fn client_stream_error_leaves_other_streams_alone() {
    let mut c = H2Conn::client();
    let one = c.open_post(true);
    let three = c.open_post(true);
    c.respond(one, "200", &[("Bad-Name", "x")], true);
    c.verify_stream_error(one, &[ErrorCode::PROTOCOL_ERROR]);
    c.respond(three, "200", &[], true);
    c.verify_no_error();
    let events = c.events();
    assert!(
        events.iter().any(|e| matches!(e, Event::Headers { stream, kind: HeadersKind::Response, .. }
            if stream.0 == three)),
        "{events:?}"
    );
}

/// §5.4.2: "To avoid looping, an endpoint MUST NOT send a RST_STREAM in
/// response to a RST_STREAM frame."
#[test]
fn client_does_not_answer_rst_stream_with_rst_stream() {
    let mut c = H2Conn::client();
    let id = c.open_post(false);
    c.write_rst_stream(id, ErrorCode::INTERNAL_ERROR);
    c.verify_no_error();
    let events = c.events();
    assert!(
        events.iter().any(|e| matches!(
            e,
            Event::Reset { code: ErrorCode::INTERNAL_ERROR, initiator: Initiator::Remote, .. }
        )),
        "{events:?}"
    );
}

/// §5.4.2: "An endpoint that detects a stream error sends a RST_STREAM frame
/// (Section 6.4) that contains the stream identifier of the stream where the
/// error occurred."
#[test]
fn client_stream_error_names_the_stream() {
    let mut c = H2Conn::client();
    c.open_post(true);
    let three = c.open_post(true);
    c.respond(three, "200", &[("connection", "close")], true);
    c.verify_stream_error(three, &[ErrorCode::PROTOCOL_ERROR]);
}

weir_spec_tests::cases! {
    server: [
        sends_an_invalid_ping_frame_for_connection_close,
        sends_an_invalid_ping_frame_to_receive_goaway_frame,
    ],
    client: [
        client_connection_error_sends_goaway_then_closes,
        client_stream_error_leaves_other_streams_alone,
        client_does_not_answer_rst_stream_with_rst_stream,
        client_stream_error_names_the_stream,
    ],
}
