//! RFC 9113 §5.3 Prioritization (RFC 7540 §5.3.1 Stream Dependencies).

use weir_spec_tests::prelude::*;

/// RFC 7540 §5.3.1 (the scheme RFC 9113 §5.3.1 deprecates but whose fields
/// HEADERS still carries): "A stream cannot depend on itself. An endpoint MUST
/// treat this as a stream error (Section 5.4.2) of type PROTOCOL_ERROR."
/// h2spec http2/5.3.1/1
pub fn sends_headers_frame_that_depends_on_itself<T: ServerTarget>(c: &mut H2Conn<T>) {
    c.handshake();
    let headers = c.common_headers();
    let block = c.encode_headers(&headers);
    c.write_headers(HeadersParam {
        stream: 1,
        block,
        end_stream: true,
        end_headers: true,
        priority: Some(Priority::on(1, 255)),
        ..Default::default()
    });
    c.verify_stream_error(1, &[ErrorCode::PROTOCOL_ERROR]);
}

/// RFC 7540 §5.3.1: "A stream cannot depend on itself. An endpoint MUST
/// treat this as a stream error (Section 5.4.2) of type PROTOCOL_ERROR."
/// h2spec http2/5.3.1/2
pub fn sends_priority_frame_that_depend_on_itself<T: ServerTarget>(c: &mut H2Conn<T>) {
    c.handshake();
    c.write_priority(1, Priority::on(1, 255));
    c.verify_stream_error(1, &[ErrorCode::PROTOCOL_ERROR]);
}

/// RFC 7540 §5.3.1: "A stream cannot depend on itself. An endpoint MUST treat
/// this as a stream error (Section 5.4.2) of type PROTOCOL_ERROR." Client role: the
/// response HEADERS carries a self-dependency.
#[test]
fn client_headers_depending_on_itself() {
    let mut c = H2Conn::client();
    let id = c.open_post(true);
    let block = c.encode_headers(&[(":status", "200")]);
    c.write_headers(HeadersParam {
        stream: id,
        block,
        end_stream: true,
        end_headers: true,
        priority: Some(Priority::on(id, 15)),
        ..Default::default()
    });
    c.verify_stream_error(id, &[ErrorCode::PROTOCOL_ERROR]);
    assert!(!c.target.is_closed());
}

/// RFC 7540 §5.3.1, client role: a PRIORITY frame making an open stream depend on
/// itself.
#[test]
fn client_priority_depending_on_itself() {
    let mut c = H2Conn::client();
    let id = c.open_post(false);
    c.write_priority(id, Priority::on(id, 15));
    c.verify_stream_error(id, &[ErrorCode::PROTOCOL_ERROR]);
}

/// §6.3: "The PRIORITY frame (type=0x02) is deprecated; see Section 5.3.2. A
/// PRIORITY frame can be sent in any stream state, including idle or closed
/// streams." A client accepts them on open and idle streams without effect.
#[test]
fn client_ignores_priority_signals() {
    let mut c = H2Conn::client();
    let id = c.open_post(true);
    c.write_priority(id, Priority { dependency: 0, exclusive: true, weight: 0 });
    c.write_priority(id + 2, Priority::on(id, 200));
    c.respond(id, "200", &[], true);
    c.verify_no_error();
}

weir_spec_tests::cases! {
    server: [sends_headers_frame_that_depends_on_itself, sends_priority_frame_that_depend_on_itself],
    client: [
        client_headers_depending_on_itself,
        client_priority_depending_on_itself,
        client_ignores_priority_signals,
    ],
}
