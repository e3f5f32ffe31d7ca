//! RFC 9113 §6.9 WINDOW_UPDATE (§6.9.1 The Flow-Control Window, §6.9.2
//! Initial Flow-Control Window Size).

use weir_spec_tests::prelude::*;

const MAX_WINDOW: u32 = (1 << 31) - 1;

/// A client whose receive windows are exactly 65535 (no automatic growth).
fn small_window_client(stream_window: u32, connection_window: u32) -> H2Conn<InMemoryClient> {
    let config = Config {
        initial_stream_window: stream_window,
        initial_connection_window: connection_window,
        bdp_window_growth: false,
        ..Config::default()
    };
    H2Conn::client_with(config, &[])
}

/// The server's response body starts with a DATA frame of `len` octets.
#[track_caller]
fn expect_data_len<T: ServerTarget>(c: &mut H2Conn<T>, len: usize) {
    let d = c.wait_data();
    assert_eq!((d.stream_id.0, d.data.len()), (1, len), "DATA (length:{len}, stream_id:1)");
}

/// §6.9: "A receiver MUST treat the receipt of a WINDOW_UPDATE frame with a
/// flow-control window increment of 0 as a stream error (Section 5.4.2) of
/// type PROTOCOL_ERROR; errors on the connection flow-control window MUST be
/// treated as a connection error (Section 5.4.1)."
/// h2spec http2/6.9/1
pub fn sends_a_window_update_frame_with_a_flow_control_window_increment_of_0<T: ServerTarget>(
    c: &mut H2Conn<T>,
) {
    c.handshake();
    c.write_window_update(0, 0);
    c.verify_connection_error(&[ErrorCode::PROTOCOL_ERROR]);
}

/// §6.9: "A receiver MUST treat the receipt of a WINDOW_UPDATE frame with a
/// flow-control window increment of 0 as a stream error (Section 5.4.2) of
/// type PROTOCOL_ERROR".
/// h2spec http2/6.9/2
pub fn sends_a_window_update_frame_with_a_flow_control_window_increment_of_0_on_a_stream<T: ServerTarget>(
    c: &mut H2Conn<T>,
) {
    c.handshake();
    let headers = c.common_headers();
    c.write_request(1, &headers, false);
    c.write_window_update(1, 0);
    c.verify_stream_error(1, &[ErrorCode::PROTOCOL_ERROR]);
}

/// §6.9: "A WINDOW_UPDATE frame with a length other than 4 octets MUST be
/// treated as a connection error (Section 5.4.1) of type FRAME_SIZE_ERROR."
/// h2spec http2/6.9/3
pub fn sends_a_window_update_frame_with_a_length_other_than_4_octets<T: ServerTarget>(c: &mut H2Conn<T>) {
    c.handshake();
    c.send(b"\x00\x00\x03\x08\x00\x00\x00\x00\x00\x00\x00\x01");
    c.verify_connection_error(&[ErrorCode::FRAME_SIZE_ERROR]);
}

/// §6.9.1: "The sender MUST NOT send a flow-controlled frame with a length
/// that exceeds the space available in either of the flow-control windows
/// advertised by the receiver."
/// h2spec http2/6.9.1/1
pub fn sends_settings_frame_to_set_the_initial_window_size_to_1_and_sends_headers_frame<T: ServerTarget>(
    c: &mut H2Conn<T>,
) {
    c.handshake();
    c.write_settings(&[(setting::INITIAL_WINDOW_SIZE, 1)]);
    c.verify_settings(true);
    let headers = c.common_headers();
    c.write_request(1, &headers, true);
    expect_data_len(c, 1);
}

/// §6.9.1: "A sender MUST NOT allow a flow-control window to exceed 2^31-1
/// octets. If a sender receives a WINDOW_UPDATE that causes a flow-control
/// window to exceed this maximum, it MUST terminate either the stream or the
/// connection, as appropriate. For streams, the sender sends a RST_STREAM with
/// an error code of FLOW_CONTROL_ERROR; for the connection, a GOAWAY frame
/// with an error code of FLOW_CONTROL_ERROR is sent."
/// h2spec http2/6.9.1/2
pub fn sends_multiple_window_update_frames_increasing_the_flow_control_window_to_above_2_31_1<
    T: ServerTarget,
>(
    c: &mut H2Conn<T>,
) {
    c.handshake();
    c.write_window_update(0, MAX_WINDOW);
    c.write_window_update(0, MAX_WINDOW);
    let r = c.wait_frame("GOAWAY", |f| matches!(f, Frame::GoAway(_)));
    assert!(matches!(r.frame, Frame::GoAway(g) if g.error_code == ErrorCode::FLOW_CONTROL_ERROR));
}

/// §6.9.1: "For streams, the sender sends a RST_STREAM with an error code of
/// FLOW_CONTROL_ERROR".
/// h2spec http2/6.9.1/3
pub fn sends_multiple_window_update_frames_increasing_the_flow_control_window_to_above_2_31_1_on_a_stream<
    T: ServerTarget,
>(
    c: &mut H2Conn<T>,
) {
    c.handshake();
    let headers = c.common_headers();
    c.write_request(1, &headers, false);
    c.write_window_update(1, MAX_WINDOW);
    c.write_window_update(1, MAX_WINDOW);
    let r = c.wait_frame("RST_STREAM", |f| matches!(f, Frame::RstStream(_)));
    assert!(
        matches!(r.frame, Frame::RstStream(r) if r.stream_id.0 == 1 && r.error_code == ErrorCode::FLOW_CONTROL_ERROR),
        "RST_STREAM (stream 1, FLOW_CONTROL_ERROR)"
    );
}

/// §6.9.2: "When the value of SETTINGS_INITIAL_WINDOW_SIZE changes, a receiver
/// MUST adjust the size of all stream flow-control windows that it maintains
/// by the difference between the new value and the old value."
/// h2spec http2/6.9.2/1
pub fn changes_settings_initial_window_size_after_sending_headers_frame<T: ServerTarget>(c: &mut H2Conn<T>) {
    c.handshake();
    c.write_settings(&[(setting::INITIAL_WINDOW_SIZE, 0)]);
    c.verify_settings(true);
    let headers = c.common_headers();
    c.write_request(1, &headers, true);
    c.write_settings(&[(setting::INITIAL_WINDOW_SIZE, 1)]);
    c.verify_settings(true);
    expect_data_len(c, 1);
}

/// §6.9.2: "A sender MUST track the negative flow-control window and MUST NOT
/// send new flow-controlled frames until it receives WINDOW_UPDATE frames that
/// cause the flow-control window to become positive."
/// h2spec http2/6.9.2/2
pub fn sends_a_settings_frame_for_window_size_to_be_negative<T: ServerTarget>(c: &mut H2Conn<T>) {
    c.handshake();
    c.write_settings(&[(setting::INITIAL_WINDOW_SIZE, 3)]);
    c.verify_settings(true);
    let headers = c.common_headers();
    c.write_request(1, &headers, true);
    expect_data_len(c, 3);
    c.write_settings(&[(setting::INITIAL_WINDOW_SIZE, 2)]);
    c.verify_settings(true);
    c.write_window_update(1, 2);
    expect_data_len(c, 1);
}

/// §6.9.2: "An endpoint MUST treat a change to SETTINGS_INITIAL_WINDOW_SIZE
/// that causes any flow-control window to exceed the maximum size as a
/// connection error (Section 5.4.1) of type FLOW_CONTROL_ERROR."
/// h2spec http2/6.9.2/3
pub fn sends_a_settings_initial_window_size_settings_with_an_exceeded_maximum_window_size_value<
    T: ServerTarget,
>(
    c: &mut H2Conn<T>,
) {
    c.handshake();
    c.send(b"\x00\x00\x06\x04\x00\x00\x00\x00\x00\x00\x04\x80\x00\x00\x00");
    c.verify_connection_error(&[ErrorCode::FLOW_CONTROL_ERROR]);
}

/// §6.9: "The WINDOW_UPDATE frame (type=0x08) is used to implement flow
/// control" ... "Flow control operates at two levels: on each individual
/// stream and on the entire connection." An increment for the connection.
/// h2spec generic/3.9/1
pub fn sends_a_window_update_frame_with_stream_id_0<T: ServerTarget>(c: &mut H2Conn<T>) {
    c.handshake();
    c.write_window_update(0, 1);
    c.write_ping(false, [0; 8]);
    c.verify_ping_ack([0; 8]);
}

/// §6.9: flow control operates "on each individual stream": an increment for
/// stream 1 (whose request ended) is accepted.
/// h2spec generic/3.9/2
pub fn sends_a_window_update_frame_with_stream_id_1<T: ServerTarget>(c: &mut H2Conn<T>) {
    c.handshake();
    let headers = c.common_headers();
    c.write_request(1, &headers, true);
    c.write_window_update(1, 1);
    c.verify_headers_frame(1);
}

/// §6.9: "errors on the connection flow-control window MUST be treated as a
/// connection error (Section 5.4.1)": a zero increment for stream 0.
#[test]
fn client_window_update_of_zero_on_the_connection() {
    let mut c = H2Conn::client();
    c.write_window_update(0, 0);
    c.verify_connection_error(&[ErrorCode::PROTOCOL_ERROR]);
}

/// §6.9: "A receiver MUST treat the receipt of a WINDOW_UPDATE frame with a
/// flow-control window increment of 0 as a stream error (Section 5.4.2) of
/// type PROTOCOL_ERROR".
#[test]
fn client_window_update_of_zero_on_a_stream() {
    let mut c = H2Conn::client();
    let id = c.open_post(false);
    c.write_window_update(id, 0);
    c.verify_stream_error(id, &[ErrorCode::PROTOCOL_ERROR]);
}

/// §6.9: "A WINDOW_UPDATE frame with a length other than 4 octets MUST be
/// treated as a connection error (Section 5.4.1) of type FRAME_SIZE_ERROR."
#[test]
fn client_window_update_with_length_other_than_4() {
    let mut c = H2Conn::client();
    c.send(&frames::frame(kind::WINDOW_UPDATE, 0, 0, &[0, 0, 0, 0, 1]));
    c.verify_connection_error(&[ErrorCode::FRAME_SIZE_ERROR]);
}

/// §6.9.1: "The sender MUST NOT send a flow-controlled frame with a length
/// that exceeds the space available in either of the flow-control windows
/// advertised by the receiver." With the server's INITIAL_WINDOW_SIZE at 1,
/// one octet of the request body goes out; a WINDOW_UPDATE releases more.
#[test]
fn client_respects_a_stream_window_of_1() {
    let mut c = H2Conn::client_with(Config::default(), &[(setting::INITIAL_WINDOW_SIZE, 1)]);
    let id = c.open_post(false);
    c.target.conn.send_data(StreamId(id), bytes::Bytes::from_static(b"abc"), true).unwrap();
    assert_eq!(&c.wait_data().data[..], b"a");
    assert!(c.drain().iter().all(|r| !matches!(r.frame, Frame::Data(_))));
    c.write_window_update(id, 2);
    let d = c.wait_data();
    assert_eq!((&d.data[..], d.end_stream), (&b"bc"[..], true));
}

/// §6.9.1: "If a sender receives a WINDOW_UPDATE that causes a flow-control
/// window to exceed this maximum, it MUST terminate either the stream or the
/// connection, as appropriate. ... for the connection, a GOAWAY frame with an
/// error code of FLOW_CONTROL_ERROR is sent."
#[test]
fn client_connection_window_above_maximum() {
    let mut c = H2Conn::client();
    c.write_window_update(0, MAX_WINDOW);
    c.verify_connection_error(&[ErrorCode::FLOW_CONTROL_ERROR]);
}

/// §6.9.1: "For streams, the sender sends a RST_STREAM with an error code of
/// FLOW_CONTROL_ERROR".
#[test]
fn client_stream_window_above_maximum() {
    let mut c = H2Conn::client();
    let id = c.open_post(false);
    c.write_window_update(id, MAX_WINDOW - 100);
    c.write_window_update(id, MAX_WINDOW - 100);
    c.verify_stream_error(id, &[ErrorCode::FLOW_CONTROL_ERROR]);
    assert!(!c.target.is_closed());
}

/// §6.9.2: "When the value of SETTINGS_INITIAL_WINDOW_SIZE changes, a receiver
/// MUST adjust the size of all stream flow-control windows that it maintains
/// by the difference between the new value and the old value."
#[test]
fn client_adjusts_open_streams_on_initial_window_change() {
    let mut c = H2Conn::client_with(Config::default(), &[(setting::INITIAL_WINDOW_SIZE, 0)]);
    let id = c.open_post(false);
    c.target.conn.send_data(StreamId(id), bytes::Bytes::from_static(b"xyz"), true).unwrap();
    assert!(c.drain().iter().all(|r| !matches!(r.frame, Frame::Data(_))), "window 0");
    c.write_settings(&[(setting::INITIAL_WINDOW_SIZE, 2)]);
    assert_eq!(&c.wait_data().data[..], b"xy");
}

/// §6.9.2: "A sender MUST track the negative flow-control window and MUST NOT
/// send new flow-controlled frames until it receives WINDOW_UPDATE frames that
/// cause the flow-control window to become positive."
#[test]
fn client_tracks_a_negative_window() {
    let mut c = H2Conn::client_with(Config::default(), &[(setting::INITIAL_WINDOW_SIZE, 3)]);
    let id = c.open_post(false);
    c.target.conn.send_data(StreamId(id), bytes::Bytes::from_static(b"abcdef"), true).unwrap();
    assert_eq!(&c.wait_data().data[..], b"abc");
    c.write_settings(&[(setting::INITIAL_WINDOW_SIZE, 2)]);
    c.write_window_update(id, 1);
    assert!(c.drain().iter().all(|r| !matches!(r.frame, Frame::Data(_))), "window -1 + 1 = 0");
    c.write_window_update(id, 1);
    assert_eq!(&c.wait_data().data[..], b"d");
}

/// §6.9.2: "An endpoint MUST treat a change to SETTINGS_INITIAL_WINDOW_SIZE
/// that causes any flow-control window to exceed the maximum size as a
/// connection error (Section 5.4.1) of type FLOW_CONTROL_ERROR."
#[test]
fn client_initial_window_change_overflowing_a_stream() {
    let mut c = H2Conn::client();
    let id = c.open_post(false);
    c.write_window_update(id, MAX_WINDOW - DEFAULT_WINDOW_SIZE);
    c.verify_no_error();
    c.write_settings(&[(setting::INITIAL_WINDOW_SIZE, DEFAULT_WINDOW_SIZE + 1)]);
    c.verify_connection_error(&[ErrorCode::FLOW_CONTROL_ERROR]);
}

/// §6.9.1: "The sender MUST NOT send a flow-controlled frame with a length
/// that exceeds the space available in either of the flow-control windows
/// advertised by the receiver"; a receiver detecting the violation on a stream
/// window answers FLOW_CONTROL_ERROR (§5.4.2 stream error).
#[test]
fn client_server_overruns_the_stream_window() {
    let mut c = small_window_client(DEFAULT_WINDOW_SIZE, 1 << 20);
    let id = c.open_post(true);
    c.respond(id, "200", &[], false);
    for _ in 0..3 {
        c.write_data(id, false, &[0; 1 << 14]);
    }
    c.write_data(id, false, &[0; (1 << 14) - 1]);
    c.verify_no_error();
    c.write_data(id, false, &[0; 1]);
    c.verify_stream_error(id, &[ErrorCode::FLOW_CONTROL_ERROR]);
}

/// §6.9.1 (as above), on the connection window: a connection error of type
/// FLOW_CONTROL_ERROR (§5.4.1).
#[test]
fn client_server_overruns_the_connection_window() {
    let mut c = small_window_client(1 << 20, DEFAULT_WINDOW_SIZE);
    let id = c.open_post(true);
    c.respond(id, "200", &[], false);
    for _ in 0..4 {
        c.write_data(id, false, &[0; 1 << 14]);
    }
    c.verify_connection_error(&[ErrorCode::FLOW_CONTROL_ERROR]);
}

/// §6.1: "The entire DATA frame payload is included in flow control, including
/// the Pad Length and Padding fields if present." 10 octets of window left: 5
/// octets of data with 10 of padding do not fit.
#[test]
fn client_counts_padding_in_flow_control() {
    let mut c = small_window_client(DEFAULT_WINDOW_SIZE, 1 << 20);
    let id = c.open_post(true);
    c.respond(id, "200", &[], false);
    for _ in 0..3 {
        c.write_data(id, false, &[0; 1 << 14]);
    }
    c.write_data(id, false, &[0; (1 << 14) - 11]);
    c.verify_no_error();
    c.write_data_padded(id, false, b"12345", &[0; 10]);
    c.verify_stream_error(id, &[ErrorCode::FLOW_CONTROL_ERROR]);
}

/// §6.9: "The WINDOW_UPDATE frame (type=0x08) is used to implement flow
/// control": the client returns the stream's credit as the application
/// reads, and the connection's as the octets arrive (within
/// `Config::early_connection_credit`), so that a stream nobody reads holds
/// its own window only.
#[test]
fn client_returns_credit_as_data_is_read() {
    let mut c = small_window_client(DEFAULT_WINDOW_SIZE, DEFAULT_WINDOW_SIZE);
    let id = c.open_post(true);
    c.respond(id, "200", &[], false);
    for _ in 0..3 {
        c.write_data(id, false, &[0; 1 << 14]);
    }
    let updates = |c: &mut H2Conn<InMemoryClient>| -> Vec<u32> {
        c.drain()
            .into_iter()
            .filter_map(|r| match r.frame {
                Frame::WindowUpdate(w) => Some(w.stream_id.0),
                Frame::GoAway(_) | Frame::RstStream(_) => panic!("unexpected {:?}", r.frame),
                _ => None,
            })
            .collect()
    };
    let on_arrival = updates(&mut c);
    assert!(on_arrival.contains(&0) && !on_arrival.contains(&id), "WINDOW_UPDATE for 0 only: {on_arrival:?}");
    while let Ok(weir_core::conn::Read::Data { .. }) = c.target.conn.read(StreamId(id), usize::MAX) {}
    let on_read = updates(&mut c);
    assert!(on_read.contains(&id), "WINDOW_UPDATE for {id}: {on_read:?}");
}

weir_spec_tests::cases! {
    server: [
        sends_a_window_update_frame_with_a_flow_control_window_increment_of_0,
        sends_a_window_update_frame_with_a_flow_control_window_increment_of_0_on_a_stream,
        sends_a_window_update_frame_with_a_length_other_than_4_octets,
        sends_settings_frame_to_set_the_initial_window_size_to_1_and_sends_headers_frame,
        sends_multiple_window_update_frames_increasing_the_flow_control_window_to_above_2_31_1,
        sends_multiple_window_update_frames_increasing_the_flow_control_window_to_above_2_31_1_on_a_stream,
        changes_settings_initial_window_size_after_sending_headers_frame,
        sends_a_settings_frame_for_window_size_to_be_negative,
        sends_a_settings_initial_window_size_settings_with_an_exceeded_maximum_window_size_value,
        sends_a_window_update_frame_with_stream_id_0,
        sends_a_window_update_frame_with_stream_id_1,
    ],
    client: [
        client_window_update_of_zero_on_the_connection,
        client_window_update_of_zero_on_a_stream,
        client_window_update_with_length_other_than_4,
        client_respects_a_stream_window_of_1,
        client_connection_window_above_maximum,
        client_stream_window_above_maximum,
        client_adjusts_open_streams_on_initial_window_change,
        client_tracks_a_negative_window,
        client_initial_window_change_overflowing_a_stream,
        client_server_overruns_the_stream_window,
        client_server_overruns_the_connection_window,
        client_counts_padding_in_flow_control,
        client_returns_credit_as_data_is_read,
    ],
}
