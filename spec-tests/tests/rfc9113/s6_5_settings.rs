//! RFC 9113 §6.5 SETTINGS (§6.5.2 Defined Settings, §6.5.3 Settings
//! Synchronization).

use weir_spec_tests::prelude::*;

/// §6.5: "Receipt of a SETTINGS frame with the ACK flag set and a length field
/// value other than 0 MUST be treated as a connection error (Section 5.4.1) of
/// type FRAME_SIZE_ERROR."
/// h2spec http2/6.5/1
pub fn sends_a_settings_frame_with_ack_flag_and_payload<T: ServerTarget>(c: &mut H2Conn<T>) {
    c.handshake();
    c.send(b"\x00\x00\x01\x04\x01\x00\x00\x00\x00\x00");
    c.verify_connection_error(&[ErrorCode::FRAME_SIZE_ERROR]);
}

/// §6.5: "If an endpoint receives a SETTINGS frame whose Stream Identifier
/// field is anything other than 0x00, the endpoint MUST respond with a
/// connection error (Section 5.4.1) of type PROTOCOL_ERROR."
/// h2spec http2/6.5/2
pub fn sends_a_settings_frame_with_a_stream_identifier_other_than_0x0<T: ServerTarget>(c: &mut H2Conn<T>) {
    c.handshake();
    c.send(b"\x00\x00\x06\x04\x00\x00\x00\x00\x01\x00\x03\x00\x00\x00\x64");
    c.verify_connection_error(&[ErrorCode::PROTOCOL_ERROR]);
}

/// §6.5: "A SETTINGS frame with a length other than a multiple of 6 octets
/// MUST be treated as a connection error (Section 5.4.1) of type
/// FRAME_SIZE_ERROR." (A complete 3-octet SETTINGS, as h2spec master sends.)
/// h2spec http2/6.5/3
pub fn sends_a_settings_frame_with_a_length_other_than_a_multiple_of_6_octets<T: ServerTarget>(
    c: &mut H2Conn<T>,
) {
    c.handshake();
    c.send(b"\x00\x00\x03\x04\x00\x00\x00\x00\x00\x00\x03\x00");
    c.verify_connection_error(&[ErrorCode::FRAME_SIZE_ERROR]);
}

/// §6.5.2 SETTINGS_ENABLE_PUSH: "Any value other than 0 or 1 MUST be treated
/// as a connection error (Section 5.4.1) of type PROTOCOL_ERROR."
/// h2spec http2/6.5.2/1
pub fn settings_enable_push_sends_the_value_other_than_0_or_1<T: ServerTarget>(c: &mut H2Conn<T>) {
    c.handshake();
    c.write_settings(&[(setting::ENABLE_PUSH, 2)]);
    c.verify_connection_error(&[ErrorCode::PROTOCOL_ERROR]);
}

/// §6.5.2 SETTINGS_INITIAL_WINDOW_SIZE: "Values above the maximum flow-control
/// window size of 2^31-1 MUST be treated as a connection error (Section 5.4.1)
/// of type FLOW_CONTROL_ERROR."
/// h2spec http2/6.5.2/2
pub fn settings_initial_window_size_sends_the_value_above_the_maximum_flow_control_window_size<
    T: ServerTarget,
>(
    c: &mut H2Conn<T>,
) {
    c.handshake();
    c.write_settings(&[(setting::INITIAL_WINDOW_SIZE, 1 << 31)]);
    c.verify_connection_error(&[ErrorCode::FLOW_CONTROL_ERROR]);
}

/// §6.5.2 SETTINGS_MAX_FRAME_SIZE: "The value advertised by an endpoint MUST
/// be between this initial value and the maximum allowed frame size (2^24-1
/// or 16,777,215 octets), inclusive. Values outside this range MUST be treated
/// as a connection error (Section 5.4.1) of type PROTOCOL_ERROR."
/// h2spec http2/6.5.2/3
pub fn settings_max_frame_size_sends_the_value_below_the_initial_value<T: ServerTarget>(c: &mut H2Conn<T>) {
    c.handshake();
    c.write_settings(&[(setting::MAX_FRAME_SIZE, 16_383)]);
    c.verify_connection_error(&[ErrorCode::PROTOCOL_ERROR]);
}

/// §6.5.2 SETTINGS_MAX_FRAME_SIZE: "Values outside this range MUST be treated
/// as a connection error (Section 5.4.1) of type PROTOCOL_ERROR."
/// h2spec http2/6.5.2/4
pub fn settings_max_frame_size_sends_the_value_above_the_maximum_allowed_frame_size<T: ServerTarget>(
    c: &mut H2Conn<T>,
) {
    c.handshake();
    c.write_settings(&[(setting::MAX_FRAME_SIZE, 16_777_216)]);
    c.verify_connection_error(&[ErrorCode::PROTOCOL_ERROR]);
}

/// §6.5.2: "An endpoint that receives a SETTINGS frame with any unknown or
/// unsupported identifier MUST ignore that setting."
/// h2spec http2/6.5.2/5
pub fn sends_a_settings_frame_with_unknown_identifier<T: ServerTarget>(c: &mut H2Conn<T>) {
    c.handshake();
    c.write_settings(&[(0xff, 1)]);
    c.write_ping(false, [0; 8]);
    c.verify_ping_ack([0; 8]);
}

/// §6.5.3: "The values in the SETTINGS frame MUST be processed in the order
/// they appear, with no other frame processing between values." With
/// INITIAL_WINDOW_SIZE 100 then 1, the response's first DATA frame is 1 octet.
/// h2spec http2/6.5.3/1
pub fn sends_multiple_values_of_settings_initial_window_size<T: ServerTarget>(c: &mut H2Conn<T>) {
    c.handshake();
    c.write_settings(&[(setting::INITIAL_WINDOW_SIZE, 100), (setting::INITIAL_WINDOW_SIZE, 1)]);
    c.verify_settings(true);
    let headers = c.common_headers();
    c.write_request(1, &headers, true);
    let d = c.wait_data();
    assert_eq!((d.stream_id.0, d.data.len()), (1, 1), "DATA (length:1, stream_id:1)");
}

/// §6.5.3: "Once all values have been processed, the recipient MUST
/// immediately emit a SETTINGS frame with the ACK flag set."
/// h2spec http2/6.5.3/2
pub fn sends_a_settings_frame_without_ack_flag<T: ServerTarget>(c: &mut H2Conn<T>) {
    c.handshake();
    c.write_settings(&[(setting::ENABLE_PUSH, 0)]);
    c.verify_settings(true);
}

/// §6.5: "The SETTINGS frame (type=0x04) conveys configuration parameters that
/// affect how endpoints communicate": every defined parameter at once.
/// h2spec generic/3.5/1
pub fn sends_a_settings_frame<T: ServerTarget>(c: &mut H2Conn<T>) {
    c.handshake();
    c.write_settings(&[
        (setting::HEADER_TABLE_SIZE, 4096),
        (setting::ENABLE_PUSH, 1),
        (setting::MAX_CONCURRENT_STREAMS, 100),
        (setting::INITIAL_WINDOW_SIZE, 65_535),
        (setting::MAX_FRAME_SIZE, 16_384),
        (setting::MAX_HEADER_LIST_SIZE, 100),
    ]);
    c.verify_settings(true);
}

/// §6.5: "Receipt of a SETTINGS frame with the ACK flag set and a length field
/// value other than 0 MUST be treated as a connection error (Section 5.4.1) of
/// type FRAME_SIZE_ERROR."
#[test]
fn client_settings_ack_with_payload() {
    let mut c = H2Conn::client();
    c.send(&frames::frame(kind::SETTINGS, flag::ACK, 0, &[0, 3, 0, 0, 0, 1]));
    c.verify_connection_error(&[ErrorCode::FRAME_SIZE_ERROR]);
}

/// §6.5: "If an endpoint receives a SETTINGS frame whose Stream Identifier
/// field is anything other than 0x00, the endpoint MUST respond with a
/// connection error (Section 5.4.1) of type PROTOCOL_ERROR."
#[test]
fn client_settings_on_a_stream() {
    let mut c = H2Conn::client();
    let id = c.open_post(true);
    c.send(&frames::frame(kind::SETTINGS, 0, id, &[]));
    c.verify_connection_error(&[ErrorCode::PROTOCOL_ERROR]);
}

/// §6.5: "A SETTINGS frame with a length other than a multiple of 6 octets
/// MUST be treated as a connection error (Section 5.4.1) of type
/// FRAME_SIZE_ERROR."
#[test]
fn client_settings_length_not_a_multiple_of_6() {
    let mut c = H2Conn::client();
    c.send(&frames::frame(kind::SETTINGS, 0, 0, &[0, 3, 0, 0, 0, 1, 0]));
    c.verify_connection_error(&[ErrorCode::FRAME_SIZE_ERROR]);
}

/// §6.5.2: "Any value other than 0 or 1 MUST be treated as a connection error
/// (Section 5.4.1) of type PROTOCOL_ERROR."
#[test]
fn client_enable_push_other_than_0_or_1() {
    let mut c = H2Conn::client();
    c.write_settings(&[(setting::ENABLE_PUSH, 7)]);
    c.verify_connection_error(&[ErrorCode::PROTOCOL_ERROR]);
}

/// §6.5.2 SETTINGS_ENABLE_PUSH: "A server MUST NOT explicitly set this value
/// to 1. A server MAY choose to omit this setting when it sends a SETTINGS
/// frame, but if a server does include a value, it MUST be 0. A client MUST
/// treat receipt of a SETTINGS frame with SETTINGS_ENABLE_PUSH set to 1 as a
/// connection error (Section 5.4.1) of type PROTOCOL_ERROR."
#[test]
fn client_rejects_enable_push_set_by_a_server() {
    let mut c = H2Conn::client();
    c.write_settings(&[(setting::ENABLE_PUSH, 1)]);
    c.verify_connection_error(&[ErrorCode::PROTOCOL_ERROR]);
}

/// §6.5.2: "Values above the maximum flow-control window size of 2^31-1 MUST
/// be treated as a connection error (Section 5.4.1) of type
/// FLOW_CONTROL_ERROR."
#[test]
fn client_initial_window_size_above_maximum() {
    let mut c = H2Conn::client();
    c.write_settings(&[(setting::INITIAL_WINDOW_SIZE, u32::MAX)]);
    c.verify_connection_error(&[ErrorCode::FLOW_CONTROL_ERROR]);
}

/// §6.5.2 SETTINGS_MAX_FRAME_SIZE: "Values outside this range MUST be treated
/// as a connection error (Section 5.4.1) of type PROTOCOL_ERROR." Below 2^14.
#[test]
fn client_max_frame_size_below_initial_value() {
    let mut c = H2Conn::client();
    c.write_settings(&[(setting::MAX_FRAME_SIZE, 0)]);
    c.verify_connection_error(&[ErrorCode::PROTOCOL_ERROR]);
}

/// §6.5.2 SETTINGS_MAX_FRAME_SIZE: "Values outside this range MUST be treated
/// as a connection error (Section 5.4.1) of type PROTOCOL_ERROR." Above 2^24-1.
#[test]
fn client_max_frame_size_above_maximum() {
    let mut c = H2Conn::client();
    c.write_settings(&[(setting::MAX_FRAME_SIZE, 1 << 24)]);
    c.verify_connection_error(&[ErrorCode::PROTOCOL_ERROR]);
}

/// §6.5.3: "Once all values have been processed, the recipient MUST
/// immediately emit a SETTINGS frame with the ACK flag set."
#[test]
fn client_acknowledges_settings() {
    let mut c = H2Conn::client();
    c.write_settings(&[(setting::MAX_CONCURRENT_STREAMS, 10), (setting::HEADER_TABLE_SIZE, 1024)]);
    c.verify_settings(true);
    assert_eq!(c.target.conn.peer_max_concurrent_streams(), 10);
}

/// §6.5.3: "The values in the SETTINGS frame MUST be processed in the order
/// they appear, with no other frame processing between values." With
/// INITIAL_WINDOW_SIZE 100 then 1, the request body goes out 1 octet at a time.
#[test]
fn client_processes_settings_values_in_order() {
    let mut c = H2Conn::client();
    c.write_settings(&[(setting::INITIAL_WINDOW_SIZE, 100), (setting::INITIAL_WINDOW_SIZE, 1)]);
    c.verify_settings(true);
    let id = c.open_post(false);
    c.target.conn.send_data(StreamId(id), bytes::Bytes::from_static(b"hello"), true).unwrap();
    let d = c.wait_data();
    assert_eq!((d.stream_id.0, &d.data[..]), (id, &b"h"[..]));
    assert!(c.drain().iter().all(|r| !matches!(r.frame, Frame::Data(_))), "the window is spent");
}

/// §6.5.3: "If the sender of a SETTINGS frame does not receive an
/// acknowledgment within a reasonable amount of time, it MAY issue a
/// connection error (Section 5.4.1) of type SETTINGS_TIMEOUT."
#[test]
fn client_settings_timeout() {
    let config = Config { settings_ack_timeout: std::time::Duration::from_secs(5), ..Config::default() };
    let mut c = H2Conn::new(InMemoryClient::new(config));
    c.write_settings(&[]);
    c.verify_settings(false);
    c.verify_settings(true);
    c.target.advance(std::time::Duration::from_secs(6));
    c.verify_connection_error(&[ErrorCode::SETTINGS_TIMEOUT]);
}

/// §6.5.2 SETTINGS_MAX_FRAME_SIZE: "Indicates the size of the largest frame
/// payload that the sender is willing to receive": with 20000 the client
/// sends DATA frames of up to 20000 octets, never more.
#[test]
fn client_uses_the_peer_max_frame_size() {
    let mut c = H2Conn::client_with(Config::default(), &[(setting::MAX_FRAME_SIZE, 20_000)]);
    let id = c.open_post(false);
    c.target.conn.send_data(StreamId(id), bytes::Bytes::from(vec![9u8; 40_000]), true).unwrap();
    let sizes: Vec<usize> = c
        .drain()
        .into_iter()
        .filter_map(|r| match r.frame {
            Frame::Data(d) => Some(d.data.len()),
            _ => None,
        })
        .collect();
    assert_eq!(sizes.iter().sum::<usize>(), 40_000);
    assert!(sizes.iter().all(|&n| n <= 20_000) && sizes.iter().any(|&n| n > 1 << 14), "{sizes:?}");
}

/// §6.5.2 SETTINGS_HEADER_TABLE_SIZE: "This setting allows the sender to
/// inform the remote endpoint of the maximum size of the compression table
/// used to decode field blocks"; RFC 7541 §4.2: the change "MUST occur at the
/// beginning of the first field block following the change". With 0, the
/// client's next block starts with a size update to 0.
#[test]
fn client_applies_peer_header_table_size() {
    let mut c = H2Conn::client();
    c.write_settings(&[(setting::HEADER_TABLE_SIZE, 0)]);
    c.verify_settings(true);
    let id = c.target.conn.open_stream(Headers::request("GET", "http", "x", "/"), true).unwrap().0;
    let r = c.wait_frame("the request", |f| matches!(f, Frame::Headers(h) if h.stream_id.0 == id));
    let Frame::Headers(h) = &r.frame else { unreachable!() };
    assert_eq!(h.fragment.first(), Some(&0x20), "dynamic table size update to 0 first");
    assert_eq!(r.field(":authority"), Some("x"));
}

weir_spec_tests::cases! {
    server: [
        sends_a_settings_frame_with_ack_flag_and_payload,
        sends_a_settings_frame_with_a_stream_identifier_other_than_0x0,
        sends_a_settings_frame_with_a_length_other_than_a_multiple_of_6_octets,
        settings_enable_push_sends_the_value_other_than_0_or_1,
        settings_initial_window_size_sends_the_value_above_the_maximum_flow_control_window_size,
        settings_max_frame_size_sends_the_value_below_the_initial_value,
        settings_max_frame_size_sends_the_value_above_the_maximum_allowed_frame_size,
        sends_a_settings_frame_with_unknown_identifier,
        sends_multiple_values_of_settings_initial_window_size,
        sends_a_settings_frame_without_ack_flag,
        sends_a_settings_frame,
    ],
    client: [
        client_settings_ack_with_payload,
        client_settings_on_a_stream,
        client_settings_length_not_a_multiple_of_6,
        client_enable_push_other_than_0_or_1,
        client_rejects_enable_push_set_by_a_server,
        client_initial_window_size_above_maximum,
        client_max_frame_size_below_initial_value,
        client_max_frame_size_above_maximum,
        client_acknowledges_settings,
        client_processes_settings_values_in_order,
        client_settings_timeout,
        client_uses_the_peer_max_frame_size,
        client_applies_peer_header_table_size,
    ],
}
