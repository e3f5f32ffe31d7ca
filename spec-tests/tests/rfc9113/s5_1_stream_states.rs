//! RFC 9113 §5.1 Stream States.

use weir_spec_tests::prelude::*;

/// §5.1 idle: "Receiving any frame other than HEADERS or PRIORITY on a stream
/// in this state MUST be treated as a connection error (Section 5.4.1) of type
/// PROTOCOL_ERROR."
/// h2spec http2/5.1/1
pub fn idle_sends_a_data_frame<T: ServerTarget>(c: &mut H2Conn<T>) {
    c.handshake();
    c.write_data(1, true, b"test");
    c.verify_connection_error(&[ErrorCode::PROTOCOL_ERROR]);
}

/// §5.1 idle: "Receiving any frame other than HEADERS or PRIORITY on a stream
/// in this state MUST be treated as a connection error (Section 5.4.1) of type
/// PROTOCOL_ERROR."
/// h2spec http2/5.1/2
pub fn idle_sends_a_rst_stream_frame<T: ServerTarget>(c: &mut H2Conn<T>) {
    c.handshake();
    c.write_rst_stream(1, ErrorCode::CANCEL);
    c.verify_connection_error(&[ErrorCode::PROTOCOL_ERROR]);
}

/// §5.1 idle: "Receiving any frame other than HEADERS or PRIORITY on a stream
/// in this state MUST be treated as a connection error (Section 5.4.1) of type
/// PROTOCOL_ERROR."
/// h2spec http2/5.1/3
pub fn idle_sends_a_window_update_frame<T: ServerTarget>(c: &mut H2Conn<T>) {
    c.handshake();
    c.write_window_update(1, 100);
    c.verify_connection_error(&[ErrorCode::PROTOCOL_ERROR]);
}

/// §5.1 idle: "Receiving any frame other than HEADERS or PRIORITY on a stream
/// in this state MUST be treated as a connection error (Section 5.4.1) of type
/// PROTOCOL_ERROR."
/// h2spec http2/5.1/4
pub fn idle_sends_a_continuation_frame<T: ServerTarget>(c: &mut H2Conn<T>) {
    c.handshake();
    let headers = c.common_headers();
    let block = c.encode_headers(&headers);
    c.write_continuation(1, true, &block);
    c.verify_connection_error(&[ErrorCode::PROTOCOL_ERROR]);
}

/// §5.1 half-closed (remote): "If an endpoint receives additional frames,
/// other than WINDOW_UPDATE, PRIORITY, or RST_STREAM, for a stream that is in
/// this state, it MUST respond with a stream error (Section 5.4.2) of type
/// STREAM_CLOSED."
/// h2spec http2/5.1/5
pub fn half_closed_remote_sends_a_data_frame<T: ServerTarget>(c: &mut H2Conn<T>) {
    c.handshake();
    let headers = c.common_headers();
    c.write_request(1, &headers, true);
    c.write_data(1, true, b"test");
    c.verify_stream_error(1, &[ErrorCode::STREAM_CLOSED]);
}

/// §5.1 half-closed (remote): "If an endpoint receives additional frames,
/// other than WINDOW_UPDATE, PRIORITY, or RST_STREAM, for a stream that is in
/// this state, it MUST respond with a stream error (Section 5.4.2) of type
/// STREAM_CLOSED."
/// h2spec http2/5.1/6
pub fn half_closed_remote_sends_a_headers_frame<T: ServerTarget>(c: &mut H2Conn<T>) {
    c.handshake();
    let headers = c.common_headers();
    c.write_request(1, &headers, true);
    c.write_request(1, &headers, true);
    c.verify_stream_error(1, &[ErrorCode::STREAM_CLOSED]);
}

/// §5.1 half-closed (remote): "... it MUST respond with a stream error
/// (Section 5.4.2) of type STREAM_CLOSED." A CONTINUATION without an open
/// field block may also be a PROTOCOL_ERROR (§6.10), as h2spec accepts.
/// h2spec http2/5.1/7
pub fn half_closed_remote_sends_a_continuation_frame<T: ServerTarget>(c: &mut H2Conn<T>) {
    c.handshake();
    let headers = c.common_headers();
    let block = c.encode_headers(&headers);
    c.write_headers(HeadersParam {
        stream: 1,
        block: block.clone(),
        end_stream: true,
        end_headers: true,
        ..Default::default()
    });
    c.write_continuation(1, true, &block);
    c.verify_stream_error(1, &[ErrorCode::STREAM_CLOSED, ErrorCode::PROTOCOL_ERROR]);
}

/// §5.1 closed: "An endpoint that receives any frame other than PRIORITY after
/// receiving a RST_STREAM MUST treat that as a stream error (Section 5.4.2) of
/// type STREAM_CLOSED." (RFC 7540 §5.1; RFC 9113 keeps "MUST NOT send frames
/// other than PRIORITY on a closed stream".)
/// h2spec http2/5.1/8
pub fn closed_sends_a_data_frame_after_sending_rst_stream_frame<T: ServerTarget>(c: &mut H2Conn<T>) {
    c.handshake();
    let headers = c.common_headers();
    c.write_request(1, &headers, false);
    c.write_rst_stream(1, ErrorCode::CANCEL);
    c.write_data(1, true, b"test");
    c.verify_stream_error(1, &[ErrorCode::STREAM_CLOSED]);
}

/// §5.1 closed: "An endpoint that receives any frame other than PRIORITY after
/// receiving a RST_STREAM MUST treat that as a stream error (Section 5.4.2) of
/// type STREAM_CLOSED."
/// h2spec http2/5.1/9
pub fn closed_sends_a_headers_frame_after_sending_rst_stream_frame<T: ServerTarget>(c: &mut H2Conn<T>) {
    c.handshake();
    let headers = c.common_headers();
    c.write_request(1, &headers, false);
    c.write_rst_stream(1, ErrorCode::CANCEL);
    c.write_request(1, &headers, true);
    c.verify_stream_error(1, &[ErrorCode::STREAM_CLOSED]);
}

/// §5.1 closed: "An endpoint that receives any frame other than PRIORITY after
/// receiving a RST_STREAM MUST treat that as a stream error (Section 5.4.2) of
/// type STREAM_CLOSED." (or PROTOCOL_ERROR for a CONTINUATION, §6.10).
/// h2spec http2/5.1/10
pub fn closed_sends_a_continuation_frame_after_sending_rst_stream_frame<T: ServerTarget>(c: &mut H2Conn<T>) {
    c.handshake();
    let headers = c.common_headers();
    c.write_request(1, &headers, false);
    c.write_rst_stream(1, ErrorCode::CANCEL);
    let dummy = c.dummy_headers(1);
    let block = c.encode_headers(&dummy);
    c.write_continuation(1, true, &block);
    c.verify_stream_error(1, &[ErrorCode::STREAM_CLOSED, ErrorCode::PROTOCOL_ERROR]);
}

/// §5.1 closed: "An endpoint that receives any frames after receiving a frame
/// with the END_STREAM flag set MUST treat that as a connection error
/// (Section 6.4.1) of type STREAM_CLOSED" (RFC 7540 §5.1, which h2spec checks;
/// RFC 9113: "An endpoint MAY treat receipt of any other type of frame on a
/// closed stream as a connection error (Section 5.4.1) of type STREAM_CLOSED").
/// h2spec http2/5.1/11
pub fn closed_sends_a_data_frame<T: ServerTarget>(c: &mut H2Conn<T>) {
    c.handshake();
    let headers = c.common_headers();
    c.write_request(1, &headers, true);
    c.verify_stream_close(1);
    c.write_data(1, true, b"test");
    c.verify_connection_error(&[ErrorCode::STREAM_CLOSED]);
}

/// §5.1 closed: "An endpoint that receives any frames after receiving a frame
/// with the END_STREAM flag set MUST treat that as a connection error
/// (Section 6.4.1) of type STREAM_CLOSED" (RFC 7540 §5.1).
/// h2spec http2/5.1/12
pub fn closed_sends_a_headers_frame<T: ServerTarget>(c: &mut H2Conn<T>) {
    c.handshake();
    let headers = c.common_headers();
    let block = c.encode_headers(&headers);
    let p = HeadersParam { stream: 1, block, end_stream: true, end_headers: true, ..Default::default() };
    c.write_headers(p.clone());
    c.verify_stream_close(1);
    c.write_headers(p);
    c.verify_connection_error(&[ErrorCode::STREAM_CLOSED]);
}

/// §5.1 closed: "An endpoint that receives any frames after receiving a frame
/// with the END_STREAM flag set MUST treat that as a connection error
/// (Section 6.4.1) of type STREAM_CLOSED" (or PROTOCOL_ERROR for a
/// CONTINUATION, §6.10).
/// h2spec http2/5.1/13
pub fn closed_sends_a_continuation_frame<T: ServerTarget>(c: &mut H2Conn<T>) {
    c.handshake();
    let headers = c.common_headers();
    c.write_request(1, &headers, true);
    c.verify_stream_close(1);
    let dummy = c.dummy_headers(1);
    let block = c.encode_headers(&dummy);
    c.write_continuation(1, true, &block);
    c.verify_connection_error(&[ErrorCode::STREAM_CLOSED, ErrorCode::PROTOCOL_ERROR]);
}

/// §5.1 idle: "Receiving any frame other than HEADERS or PRIORITY on a stream
/// in this state MUST be treated as a connection error": PRIORITY is allowed.
/// h2spec generic/2/1
pub fn sends_a_priority_frame_on_idle_stream<T: ServerTarget>(c: &mut H2Conn<T>) {
    c.handshake();
    c.write_priority(1, Priority::on(0, 255));
    c.write_ping(false, [0; 8]);
    c.verify_ping_ack([0; 8]);
}

/// §5.1 half-closed (remote): frames "other than WINDOW_UPDATE, PRIORITY, or
/// RST_STREAM" are errors: a WINDOW_UPDATE is accepted (and lets DATA flow).
/// h2spec generic/2/2
pub fn sends_a_window_update_frame_on_half_closed_remote_stream<T: ServerTarget>(c: &mut H2Conn<T>) {
    c.handshake();
    c.write_settings(&[(setting::INITIAL_WINDOW_SIZE, 0)]);
    let headers = c.common_headers();
    c.write_request(1, &headers, true);
    c.write_window_update(1, 1);
    c.wait_data();
}

/// §5.1 half-closed (remote): frames "other than WINDOW_UPDATE, PRIORITY, or
/// RST_STREAM" are errors: PRIORITY is accepted.
/// h2spec generic/2/3
pub fn sends_a_priority_frame_on_half_closed_remote_stream<T: ServerTarget>(c: &mut H2Conn<T>) {
    c.handshake();
    c.write_settings(&[(setting::INITIAL_WINDOW_SIZE, 0)]);
    let headers = c.common_headers();
    c.write_request(1, &headers, true);
    c.write_priority(1, Priority::on(0, 255));
    c.write_window_update(1, 1);
    c.wait_data();
}

/// §5.1 half-closed (remote): frames "other than WINDOW_UPDATE, PRIORITY, or
/// RST_STREAM" are errors: RST_STREAM is accepted.
/// h2spec generic/2/4
pub fn sends_a_rst_stream_frame_on_half_closed_remote_stream<T: ServerTarget>(c: &mut H2Conn<T>) {
    c.handshake();
    let headers = c.common_headers();
    c.write_request(1, &headers, true);
    c.write_rst_stream(1, ErrorCode::CANCEL);
    c.write_ping(false, [0; 8]);
    c.verify_ping_ack_or_close([0; 8]);
}

/// §5.1 closed: "An endpoint MUST NOT send frames other than PRIORITY on a
/// closed stream": PRIORITY on a closed stream is accepted.
/// h2spec generic/2/5
pub fn sends_a_priority_frame_on_closed_stream<T: ServerTarget>(c: &mut H2Conn<T>) {
    c.handshake();
    let headers = c.common_headers();
    c.write_request(1, &headers, true);
    c.verify_stream_close(1);
    c.write_priority(1, Priority::on(0, 255));
    c.write_ping(false, [0; 8]);
    c.verify_ping_ack([0; 8]);
}

/// §5.1 idle: "Receiving any frame other than HEADERS or PRIORITY on a stream
/// in this state MUST be treated as a connection error (Section 5.4.1) of type
/// PROTOCOL_ERROR." Client role: DATA before the request.
#[test]
fn client_data_on_idle_stream() {
    let mut c = H2Conn::client();
    c.write_data(1, true, b"test");
    c.verify_connection_error(&[ErrorCode::PROTOCOL_ERROR]);
}

/// §5.1 idle, client role: RST_STREAM for a stream never opened.
#[test]
fn client_rst_stream_on_idle_stream() {
    let mut c = H2Conn::client();
    c.write_rst_stream(1, ErrorCode::CANCEL);
    c.verify_connection_error(&[ErrorCode::PROTOCOL_ERROR]);
}

/// §5.1 idle, client role: WINDOW_UPDATE for a stream never opened.
#[test]
fn client_window_update_on_idle_stream() {
    let mut c = H2Conn::client();
    c.write_window_update(3, 100);
    c.verify_connection_error(&[ErrorCode::PROTOCOL_ERROR]);
}

/// §5.1 idle, client role: CONTINUATION for a stream never opened.
#[test]
fn client_continuation_on_idle_stream() {
    let mut c = H2Conn::client();
    let block = c.encode_headers(&[(":status", "200")]);
    c.write_continuation(1, true, &block);
    c.verify_connection_error(&[ErrorCode::PROTOCOL_ERROR]);
}

/// §5.1 half-closed (remote), client role: after the response's END_STREAM,
/// DATA "MUST respond with a stream error (Section 5.4.2) of type STREAM_CLOSED".
#[test]
fn client_half_closed_remote_data() {
    let mut c = H2Conn::client();
    let id = c.open_post(false);
    c.respond(id, "200", &[], true);
    assert_eq!(c.target.conn.stream_state(StreamId(id)), Some(weir_core::stream::State::HalfClosedRemote));
    c.write_data(id, true, b"late");
    c.verify_stream_error(id, &[ErrorCode::STREAM_CLOSED]);
}

/// §5.1 half-closed (remote), client role: HEADERS after END_STREAM.
#[test]
fn client_half_closed_remote_headers() {
    let mut c = H2Conn::client();
    let id = c.open_post(false);
    c.respond(id, "200", &[], true);
    c.write_request(id, &[("x-late", "1")], true);
    c.verify_stream_error(id, &[ErrorCode::STREAM_CLOSED]);
}

/// §5.1 closed, client role: "An endpoint that receives any frame other than
/// PRIORITY after receiving a RST_STREAM MUST treat that as a stream error
/// (Section 5.4.2) of type STREAM_CLOSED."
#[test]
fn client_closed_data_after_rst_stream() {
    let mut c = H2Conn::client();
    let id = c.open_post(false);
    c.respond(id, "200", &[], false);
    c.write_rst_stream(id, ErrorCode::CANCEL);
    c.write_data(id, true, b"late");
    c.verify_stream_error(id, &[ErrorCode::STREAM_CLOSED]);
}

/// §5.1 closed, client role: HEADERS after RST_STREAM.
#[test]
fn client_closed_headers_after_rst_stream() {
    let mut c = H2Conn::client();
    let id = c.open_post(false);
    c.write_rst_stream(id, ErrorCode::CANCEL);
    c.respond(id, "200", &[], true);
    c.verify_stream_error(id, &[ErrorCode::STREAM_CLOSED]);
}

/// §5.1 closed, client role: "An endpoint that receives any frames after
/// receiving a frame with the END_STREAM flag set MUST treat that as a
/// connection error (Section 6.4.1) of type STREAM_CLOSED" (RFC 7540 §5.1, the
/// rule h2spec http2/5.1/11 checks).
#[test]
fn client_closed_data_after_end_stream() {
    let mut c = H2Conn::client();
    let id = c.open_post(true);
    c.respond(id, "200", &[], true);
    assert_eq!(c.target.conn.stream_state(StreamId(id)), None, "closed and forgotten");
    c.write_data(id, true, b"late");
    c.verify_connection_error(&[ErrorCode::STREAM_CLOSED]);
}

/// §5.1 closed: "An endpoint MUST ignore frames that it receives on closed
/// streams after it has sent a RST_STREAM frame." The server's in-flight
/// DATA and trailers after the client's reset cause nothing.
#[test]
fn client_ignores_frames_after_its_own_rst_stream() {
    let mut c = H2Conn::client();
    let id = c.open_post(false);
    c.respond(id, "200", &[], false);
    c.target.conn.reset_stream(StreamId(id), ErrorCode::CANCEL).unwrap();
    let r = c.wait_frame("RST_STREAM", |f| matches!(f, Frame::RstStream(_)));
    assert!(matches!(r.frame, Frame::RstStream(r) if r.error_code == ErrorCode::CANCEL));
    c.write_data(id, false, b"in flight");
    c.write_request(id, &[("x-trailer", "1")], true);
    c.write_ping(false, *b"still-up");
    c.verify_ping_ack(*b"still-up");
    c.verify_no_error();
}

/// §5.1 closed: "An endpoint that sends a frame with the END_STREAM flag set
/// or a RST_STREAM frame might receive a WINDOW_UPDATE or RST_STREAM frame
/// from its peer in the time before the peer receives and processes the frame
/// that closes the stream": both are ignored.
#[test]
fn client_accepts_window_update_and_rst_stream_after_close() {
    let mut c = H2Conn::client();
    let id = c.open_post(true);
    c.respond(id, "200", &[], true);
    c.write_window_update(id, 10);
    c.write_rst_stream(id, ErrorCode::NO_ERROR);
    c.write_priority(id, Priority::on(0, 7));
    c.verify_no_error();
}

weir_spec_tests::cases! {
    server: [
        idle_sends_a_data_frame,
        idle_sends_a_rst_stream_frame,
        idle_sends_a_window_update_frame,
        idle_sends_a_continuation_frame,
        half_closed_remote_sends_a_data_frame,
        half_closed_remote_sends_a_headers_frame,
        half_closed_remote_sends_a_continuation_frame,
        closed_sends_a_data_frame_after_sending_rst_stream_frame,
        closed_sends_a_headers_frame_after_sending_rst_stream_frame,
        closed_sends_a_continuation_frame_after_sending_rst_stream_frame,
        closed_sends_a_data_frame,
        closed_sends_a_headers_frame,
        closed_sends_a_continuation_frame,
        sends_a_priority_frame_on_idle_stream,
        sends_a_window_update_frame_on_half_closed_remote_stream,
        sends_a_priority_frame_on_half_closed_remote_stream,
        sends_a_rst_stream_frame_on_half_closed_remote_stream,
        sends_a_priority_frame_on_closed_stream,
    ],
    client: [
        client_data_on_idle_stream,
        client_rst_stream_on_idle_stream,
        client_window_update_on_idle_stream,
        client_continuation_on_idle_stream,
        client_half_closed_remote_data,
        client_half_closed_remote_headers,
        client_closed_data_after_rst_stream,
        client_closed_headers_after_rst_stream,
        client_closed_data_after_end_stream,
        client_ignores_frames_after_its_own_rst_stream,
        client_accepts_window_update_and_rst_stream_after_close,
    ],
}
