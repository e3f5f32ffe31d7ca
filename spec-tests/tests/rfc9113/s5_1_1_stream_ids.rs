//! RFC 9113 §5.1.1 Stream Identifiers.

use weir_spec_tests::prelude::*;

/// §5.1.1: "Streams initiated by a client MUST use odd-numbered stream
/// identifiers" and "An endpoint that receives an unexpected stream identifier
/// MUST respond with a connection error (Section 5.4.1) of type PROTOCOL_ERROR."
/// h2spec http2/5.1.1/1
pub fn sends_even_numbered_stream_identifier<T: ServerTarget>(c: &mut H2Conn<T>) {
    c.handshake();
    let headers = c.common_headers();
    c.write_request(2, &headers, true);
    c.verify_connection_error(&[ErrorCode::PROTOCOL_ERROR]);
}

/// §5.1.1: "The identifier of a newly established stream MUST be numerically
/// greater than all streams that the initiating endpoint has opened or
/// reserved." ... "An endpoint that receives an unexpected stream identifier
/// MUST respond with a connection error (Section 5.4.1) of type PROTOCOL_ERROR."
/// h2spec http2/5.1.1/2
pub fn sends_stream_identifier_that_is_numerically_smaller_than_previous<T: ServerTarget>(c: &mut H2Conn<T>) {
    c.handshake();
    let headers = c.common_headers();
    c.write_request(5, &headers, true);
    c.write_request(3, &headers, true);
    c.verify_connection_error(&[ErrorCode::PROTOCOL_ERROR]);
}

/// §5.4.2: "An endpoint that detects a stream error sends a RST_STREAM frame
/// (Section 6.4) that contains the stream identifier of the stream where the
/// error occurred": a second HEADERS on half-closed (remote) stream 5.
/// h2spec http2/5.1.1/3 (master)
pub fn sends_headers_frame_with_the_stream_which_is_in_half_closed_remote_state<T: ServerTarget>(
    c: &mut H2Conn<T>,
) {
    c.handshake();
    let headers = c.common_headers();
    c.write_request(5, &headers, true);
    c.write_request(5, &headers, true);
    c.verify_stream_error(5, &[ErrorCode::STREAM_CLOSED]);
}

/// §5.1.1: "Streams initiated by a client MUST use odd-numbered stream
/// identifiers" and a new stream's identifier "MUST be numerically greater
/// than all streams that the initiating endpoint has opened or reserved."
#[test]
fn client_opens_odd_increasing_stream_ids() {
    let mut c = H2Conn::client();
    let ids: Vec<u32> = (0..3).map(|_| c.open_post(true)).collect();
    assert_eq!(ids, [1, 3, 5]);
}

/// §5.1.1: "Streams initiated by a server MUST use even-numbered stream
/// identifiers"; a server can only initiate them with PUSH_PROMISE (§8.4), so
/// HEADERS on stream 2 is "an unexpected stream identifier" (PROTOCOL_ERROR).
#[test]
fn client_rejects_headers_on_server_initiated_stream() {
    let mut c = H2Conn::client();
    c.open_post(true);
    c.respond(2, "200", &[], true);
    c.verify_connection_error(&[ErrorCode::PROTOCOL_ERROR]);
}

/// §5.1.1: "An endpoint that receives an unexpected stream identifier MUST
/// respond with a connection error (Section 5.4.1) of type PROTOCOL_ERROR": a
/// response on an odd stream the client never opened.
#[test]
fn client_rejects_headers_on_unopened_odd_stream() {
    let mut c = H2Conn::client();
    c.open_post(true);
    c.respond(3, "200", &[], true);
    c.verify_connection_error(&[ErrorCode::PROTOCOL_ERROR]);
}

/// §5.1.1: "Stream identifiers cannot be reused. Long-lived connections can
/// result in an endpoint exhausting the available range of stream
/// identifiers. A client that is unable to establish a new stream identifier
/// can establish a new connection for new streams."
#[test]
fn client_stops_at_the_last_stream_identifier() {
    let config = Config { first_local_stream_id: Some((1 << 31) - 1), ..Config::default() };
    let mut c = H2Conn::client_with(config, &[]);
    assert_eq!(c.open_post(true), (1 << 31) - 1);
    let next = c.target.conn.open_stream(Headers::request("GET", "http", "x", "/"), true);
    assert_eq!(next, Err(weir_core::conn::OpenError::StreamIdsExhausted));
}

weir_spec_tests::cases! {
    server: [
        sends_even_numbered_stream_identifier,
        sends_stream_identifier_that_is_numerically_smaller_than_previous,
        sends_headers_frame_with_the_stream_which_is_in_half_closed_remote_state,
    ],
    client: [
        client_opens_odd_increasing_stream_ids,
        client_rejects_headers_on_server_initiated_stream,
        client_rejects_headers_on_unopened_odd_stream,
        client_stops_at_the_last_stream_identifier,
    ],
}
