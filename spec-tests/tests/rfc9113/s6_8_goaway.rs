//! RFC 9113 §6.8 GOAWAY.

use weir_spec_tests::prelude::*;

/// §6.8: "An endpoint MUST treat a GOAWAY frame with a stream identifier other
/// than 0x00 as a connection error (Section 5.4.1) of type PROTOCOL_ERROR."
/// h2spec http2/6.8/1
pub fn sends_a_goaway_frame_with_a_stream_identifier_other_than_0x0<T: ServerTarget>(c: &mut H2Conn<T>) {
    c.handshake();
    c.send(b"\x00\x00\x08\x07\x00\x00\x00\x00\x01\x00\x00\x00\x00\x00\x00\x00\x00");
    c.verify_connection_error(&[ErrorCode::PROTOCOL_ERROR]);
}

/// §6.8: "The GOAWAY frame (type=0x07) is used to initiate shutdown of a
/// connection or to signal serious error conditions." With nothing in flight
/// the server closes.
/// h2spec generic/3.8/1
pub fn sends_a_goaway_frame<T: ServerTarget>(c: &mut H2Conn<T>) {
    c.handshake();
    c.write_goaway(0, ErrorCode::NO_ERROR, b"h2spec");
    c.verify_connection_close();
}

/// §6.8: "An endpoint MUST treat a GOAWAY frame with a stream identifier other
/// than 0x00 as a connection error (Section 5.4.1) of type PROTOCOL_ERROR."
#[test]
fn client_goaway_on_a_stream() {
    let mut c = H2Conn::client();
    let id = c.open_post(true);
    c.send(&frames::frame(kind::GOAWAY, 0, id, &[0; 8]));
    c.verify_connection_error(&[ErrorCode::PROTOCOL_ERROR]);
}

/// §6.8: "Once the GOAWAY is sent, the sender will ignore frames sent on
/// streams initiated by the receiver if the stream has an identifier higher
/// than the included last stream identifier" and "Activity on streams
/// numbered lower than or equal to the last stream identifier might still
/// complete successfully." Stream 3 is reported refused, stream 1 completes.
#[test]
fn client_goaway_refuses_streams_above_last() {
    let mut c = H2Conn::client();
    let one = c.open_post(true);
    let three = c.open_post(true);
    c.write_goaway(one, ErrorCode::NO_ERROR, b"");
    c.respond(one, "200", &[], true);
    let events = c.events();
    assert!(
        events.iter().any(|e| matches!(e, Event::Reset { stream, code: ErrorCode::REFUSED_STREAM, .. }
            if stream.0 == three)),
        "{events:?}"
    );
    assert!(
        events.iter().any(|e| matches!(e, Event::Headers { stream, kind: HeadersKind::Response, .. }
            if stream.0 == one)),
        "{events:?}"
    );
}

/// §6.8: "Receivers of a GOAWAY frame MUST NOT open additional streams on the
/// connection, although a new connection can be established for new streams."
#[test]
fn client_opens_no_stream_after_goaway() {
    let mut c = H2Conn::client();
    let id = c.open_post(false);
    c.write_goaway(id, ErrorCode::NO_ERROR, b"");
    let opened = c.target.conn.open_stream(Headers::request("GET", "http", "x", "/"), true);
    assert_eq!(opened, Err(weir_core::conn::OpenError::GoingAway));
    assert!(c.drain().iter().all(|r| !matches!(r.frame, Frame::Headers(_))));
}

/// §6.8: "The GOAWAY frame ... allows an endpoint to gracefully stop accepting
/// new streams while still finishing processing of previously established
/// streams": once the last stream ends, the client closes too.
#[test]
fn client_closes_after_goaway_once_streams_finish() {
    let mut c = H2Conn::client();
    let id = c.open_post(true);
    c.write_goaway(id, ErrorCode::NO_ERROR, b"bye");
    c.verify_no_error();
    c.respond(id, "200", &[], true);
    c.verify_connection_close();
}

weir_spec_tests::cases! {
    server: [sends_a_goaway_frame_with_a_stream_identifier_other_than_0x0, sends_a_goaway_frame],
    client: [
        client_goaway_on_a_stream,
        client_goaway_refuses_streams_above_last,
        client_opens_no_stream_after_goaway,
        client_closes_after_goaway_once_streams_finish,
    ],
}
