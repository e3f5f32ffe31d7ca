//! RFC 9113 §8.4 Server Push (RFC 7540 §8.2).

use weir_spec_tests::prelude::*;

/// §8.4: "A client cannot push. Thus, servers MUST treat the receipt of a
/// PUSH_PROMISE frame as a connection error (Section 5.4.1) of type
/// PROTOCOL_ERROR."
/// h2spec http2/8.2/1
pub fn sends_a_push_promise_frame<T: ServerTarget>(c: &mut H2Conn<T>) {
    c.handshake();
    let headers = c.common_headers();
    let block = c.encode_headers(&headers);
    c.write_push_promise(1, 3, true, &block);
    c.verify_connection_error(&[ErrorCode::PROTOCOL_ERROR]);
}

/// §8.4: "A client cannot push." A client that does not want pushes says so:
/// §6.5.2 SETTINGS_ENABLE_PUSH "The initial value is 1" and "A value of 0
/// indicates that server push is not permitted"; weir's client sends 0.
#[test]
fn client_disables_push_in_its_settings() {
    let mut c = H2Conn::new(InMemoryClient::new(Config::default()));
    let r = c.next_frame().expect("client SETTINGS");
    let Frame::Settings(s) = r.frame else { panic!("{:?}", r.frame) };
    assert_eq!(s.settings.enable_push, Some(false));
}

weir_spec_tests::cases! {
    server: [sends_a_push_promise_frame],
    client: [client_disables_push_in_its_settings],
}
