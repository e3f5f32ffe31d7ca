//! RFC 9113 §3.4 HTTP/2 Connection Preface (RFC 7540 §3.5).

use weir_spec_tests::prelude::*;

/// §3.4: "The server connection preface consists of a potentially empty
/// SETTINGS frame (Section 6.5) that MUST be the first frame the server sends
/// in the HTTP/2 connection." The very first frame is checked.
/// h2spec generic/1/1
pub fn sends_a_client_connection_preface<T: ServerTarget>(c: &mut H2Conn<T>) {
    c.send(weir_core::conn::PREFACE);
    c.write_settings(&[(setting::INITIAL_WINDOW_SIZE, DEFAULT_WINDOW_SIZE)]);
    let first = c.next_frame().expect("the server's preface");
    assert!(matches!(&first.frame, Frame::Settings(s) if !s.ack), "first frame: {:?}", first.frame);
}

/// §3.4: "The server connection preface consists of a potentially empty
/// SETTINGS frame (Section 6.5) that MUST be the first frame the server sends
/// in the HTTP/2 connection."
/// h2spec http2/3.5/1
pub fn sends_client_connection_preface<T: ServerTarget>(c: &mut H2Conn<T>) {
    c.send(weir_core::conn::PREFACE);
    c.write_settings(&[(setting::INITIAL_WINDOW_SIZE, DEFAULT_WINDOW_SIZE)]);
    c.verify_settings(false);
}

/// §3.4: "Clients and servers MUST treat an invalid connection preface as a
/// connection error (Section 5.4.1) of type PROTOCOL_ERROR." Nothing was
/// negotiated, so h2spec only requires the connection to close.
/// h2spec http2/3.5/2
pub fn sends_invalid_connection_preface<T: ServerTarget>(c: &mut H2Conn<T>) {
    c.send(b"INVALID CONNECTION PREFACE\r\n\r\n");
    c.verify_connection_close();
}

/// §3.4: "That is, the connection preface starts with the string
/// `PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n`. This sequence MUST be followed by a
/// SETTINGS frame (Section 6.5), which MAY be empty."
#[test]
fn client_sends_preface_then_settings() {
    let mut c = H2Conn::new(InMemoryClient::new(Config::default()));
    // InMemoryClient checks the 24 preface octets before any frame.
    let first = c.next_frame().expect("the client's SETTINGS");
    assert!(matches!(&first.frame, Frame::Settings(s) if !s.ack), "first frame: {:?}", first.frame);
}

/// §3.4: "The server connection preface consists of a potentially empty
/// SETTINGS frame (Section 6.5) that MUST be the first frame the server sends"
/// and "Clients and servers MUST treat an invalid connection preface as a
/// connection error (Section 5.4.1) of type PROTOCOL_ERROR."
#[test]
fn client_rejects_server_preface_that_is_not_settings() {
    let mut c = H2Conn::new(InMemoryClient::new(Config::default()));
    c.drain();
    c.write_ping(false, *b"notsettn");
    c.verify_connection_error(&[ErrorCode::PROTOCOL_ERROR]);
    assert!(c.target.is_closed());
}

/// §3.4: the server preface is "a potentially empty SETTINGS frame"; a
/// SETTINGS ACK acknowledges and is not one, so it cannot come first.
#[test]
fn client_rejects_settings_ack_as_server_preface() {
    let mut c = H2Conn::new(InMemoryClient::new(Config::default()));
    c.drain();
    c.write_settings_ack();
    c.verify_connection_error(&[ErrorCode::PROTOCOL_ERROR]);
}

/// §3.4: "Clients and servers MUST treat an invalid connection preface as a
/// connection error": DATA before the server's SETTINGS.
#[test]
fn client_rejects_data_before_server_preface() {
    let mut c = H2Conn::new(InMemoryClient::new(Config::default()));
    c.drain();
    c.write_data(1, true, b"early");
    c.verify_connection_error(&[ErrorCode::PROTOCOL_ERROR]);
}

weir_spec_tests::cases! {
    server: [
        sends_a_client_connection_preface,
        sends_client_connection_preface,
        sends_invalid_connection_preface,
    ],
    client: [
        client_sends_preface_then_settings,
        client_rejects_server_preface_that_is_not_settings,
        client_rejects_settings_ack_as_server_preface,
        client_rejects_data_before_server_preface,
    ],
}
