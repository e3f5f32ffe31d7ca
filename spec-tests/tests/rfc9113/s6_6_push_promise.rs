//! RFC 9113 §6.6 PUSH_PROMISE. h2spec has no server case here (a client cannot
//! push; its PUSH_PROMISE is h2spec http2/8.2/1, see §8.4): these are the
//! frame rules as a client enforces them.

use weir_spec_tests::prelude::*;

/// §6.6: "PUSH_PROMISE MUST NOT be sent if the SETTINGS_ENABLE_PUSH setting of
/// the peer endpoint is set to 0. An endpoint that has set this setting and
/// has received acknowledgment MUST treat the receipt of a PUSH_PROMISE frame
/// as a connection error (Section 5.4.1) of type PROTOCOL_ERROR."
#[test]
fn client_push_promise_with_push_disabled() {
    let mut c = H2Conn::client();
    assert_eq!(c.peer_setting(setting::ENABLE_PUSH), Some(0), "the client disabled push");
    let id = c.open_post(true);
    let block =
        c.encode_headers(&[(":method", "GET"), (":scheme", "http"), (":path", "/p"), (":authority", "x")]);
    c.write_push_promise(id, 2, true, &block);
    c.verify_connection_error(&[ErrorCode::PROTOCOL_ERROR]);
}

/// §6.6: "If the Stream Identifier field specifies the value 0x00, a recipient
/// MUST respond with a connection error (Section 5.4.1) of type
/// PROTOCOL_ERROR."
#[test]
fn client_push_promise_on_stream_zero() {
    let mut c = H2Conn::client();
    c.open_post(true);
    let block =
        c.encode_headers(&[(":method", "GET"), (":scheme", "http"), (":path", "/p"), (":authority", "x")]);
    c.write_push_promise(0, 2, true, &block);
    c.verify_connection_error(&[ErrorCode::PROTOCOL_ERROR]);
}

weir_spec_tests::cases! {
    server: [],
    client: [client_push_promise_with_push_disabled, client_push_promise_on_stream_zero],
}
