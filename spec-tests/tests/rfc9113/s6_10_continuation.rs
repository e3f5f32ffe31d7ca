//! RFC 9113 §6.10 CONTINUATION.

use weir_spec_tests::prelude::*;

/// §6.10: "Any number of CONTINUATION frames can be sent, as long as the
/// preceding frame is on the same stream and is a HEADERS, PUSH_PROMISE, or
/// CONTINUATION frame without the END_HEADERS flag set."
/// h2spec http2/6.10/1
pub fn sends_multiple_continuation_frames_preceded_by_a_headers_frame<T: ServerTarget>(c: &mut H2Conn<T>) {
    c.handshake();
    let headers = c.common_headers();
    let block = c.encode_headers(&headers);
    c.write_headers(HeadersParam {
        stream: 1,
        block,
        end_stream: true,
        end_headers: false,
        ..Default::default()
    });
    let dummy = c.dummy_headers(1);
    let block = c.encode_headers(&dummy);
    c.write_continuation(1, false, &block);
    let block = c.encode_headers(&dummy);
    c.write_continuation(1, true, &block);
    c.verify_headers_frame(1);
}

/// §6.10: "If the END_HEADERS flag is not set, this frame MUST be followed by
/// another CONTINUATION frame. A receiver MUST treat the receipt of any other
/// type of frame or a frame on a different stream as a connection error
/// (Section 5.4.1) of type PROTOCOL_ERROR."
/// h2spec http2/6.10/2
pub fn sends_a_continuation_frame_followed_by_any_frame_other_than_continuation<T: ServerTarget>(
    c: &mut H2Conn<T>,
) {
    c.handshake();
    let headers = c.common_headers_with("POST");
    let block = c.encode_headers(&headers);
    c.write_headers(HeadersParam { stream: 1, block, end_headers: false, ..Default::default() });
    let dummy = c.dummy_headers(1);
    let block = c.encode_headers(&dummy);
    c.write_continuation(1, false, &block);
    c.write_data(1, true, b"test");
    c.verify_connection_error(&[ErrorCode::PROTOCOL_ERROR]);
}

/// §6.10: "CONTINUATION frames MUST be associated with a stream. If a
/// CONTINUATION frame is received with a Stream Identifier field of 0x00, the
/// recipient MUST respond with a connection error (Section 5.4.1) of type
/// PROTOCOL_ERROR."
/// h2spec http2/6.10/3
pub fn sends_a_continuation_frame_with_0x0_stream_identifier<T: ServerTarget>(c: &mut H2Conn<T>) {
    c.handshake();
    let headers = c.common_headers();
    let block = c.encode_headers(&headers);
    c.write_headers(HeadersParam {
        stream: 1,
        block,
        end_stream: true,
        end_headers: false,
        ..Default::default()
    });
    let dummy = c.dummy_headers(1);
    let block = c.encode_headers(&dummy);
    c.write_continuation(0, true, &block);
    c.verify_connection_error(&[ErrorCode::PROTOCOL_ERROR]);
}

/// §6.10: "A CONTINUATION frame MUST be preceded by a HEADERS, PUSH_PROMISE or
/// CONTINUATION frame without the END_HEADERS flag set. A recipient that
/// observes violation of this rule MUST respond with a connection error
/// (Section 5.4.1) of type PROTOCOL_ERROR."
/// h2spec http2/6.10/4
pub fn sends_a_continuation_frame_preceded_by_a_headers_frame_with_end_headers_flag<T: ServerTarget>(
    c: &mut H2Conn<T>,
) {
    c.handshake();
    let headers = c.common_headers();
    c.write_request(1, &headers, true);
    let dummy = c.dummy_headers(1);
    let block = c.encode_headers(&dummy);
    c.write_continuation(1, true, &block);
    c.verify_connection_error(&[ErrorCode::PROTOCOL_ERROR]);
}

/// §6.10: "A CONTINUATION frame MUST be preceded by a HEADERS, PUSH_PROMISE or
/// CONTINUATION frame without the END_HEADERS flag set."
/// h2spec http2/6.10/5
pub fn sends_a_continuation_frame_preceded_by_a_continuation_frame_with_end_headers_flag<T: ServerTarget>(
    c: &mut H2Conn<T>,
) {
    c.handshake();
    let headers = c.common_headers();
    let block = c.encode_headers(&headers);
    c.write_headers(HeadersParam {
        stream: 1,
        block,
        end_stream: true,
        end_headers: false,
        ..Default::default()
    });
    let dummy = c.dummy_headers(1);
    let block = c.encode_headers(&dummy);
    c.write_continuation(1, true, &block);
    let block = c.encode_headers(&dummy);
    c.write_continuation(1, true, &block);
    c.verify_connection_error(&[ErrorCode::PROTOCOL_ERROR]);
}

/// §6.10: "A CONTINUATION frame MUST be preceded by a HEADERS, PUSH_PROMISE or
/// CONTINUATION frame without the END_HEADERS flag set."
/// h2spec http2/6.10/6
pub fn sends_a_continuation_frame_preceded_by_a_data_frame<T: ServerTarget>(c: &mut H2Conn<T>) {
    c.handshake();
    let headers = c.common_headers_with("POST");
    let block = c.encode_headers(&headers);
    c.write_headers(HeadersParam { stream: 1, block, end_headers: false, ..Default::default() });
    c.write_data(1, true, b"test");
    let dummy = c.dummy_headers(1);
    let block = c.encode_headers(&dummy);
    c.write_continuation(1, false, &block);
    c.write_continuation(0, true, &block);
    c.verify_connection_error(&[ErrorCode::PROTOCOL_ERROR]);
}

/// §6.10: "The CONTINUATION frame (type=0x09) is used to continue a sequence
/// of field block fragments (Section 4.3)." The block split after 5 octets.
/// h2spec generic/3.10/1
pub fn sends_a_continuation_frame<T: ServerTarget>(c: &mut H2Conn<T>) {
    c.handshake();
    let headers = c.common_headers();
    let block = c.encode_headers(&headers);
    c.write_headers(HeadersParam {
        stream: 1,
        block: block[..5].to_vec(),
        end_stream: true,
        end_headers: false,
        ..Default::default()
    });
    c.write_continuation(1, true, &block[5..]);
    c.verify_headers_frame(1);
}

/// §6.10: "Any number of CONTINUATION frames can be sent". The block split in
/// three.
/// h2spec generic/3.10/2
pub fn sends_multiple_continuation_frames<T: ServerTarget>(c: &mut H2Conn<T>) {
    c.handshake();
    let headers = c.common_headers();
    let block = c.encode_headers(&headers);
    assert!(block.len() > 10, "the block spans three frames");
    c.write_headers(HeadersParam {
        stream: 1,
        block: block[..5].to_vec(),
        end_stream: true,
        end_headers: false,
        ..Default::default()
    });
    c.write_continuation(1, false, &block[5..10]);
    c.write_continuation(1, true, &block[10..]);
    c.verify_headers_frame(1);
}

/// §6.10: "Any number of CONTINUATION frames can be sent, as long as the
/// preceding frame is on the same stream and is a HEADERS ... without the
/// END_HEADERS flag set." Client role: a response in four frames.
#[test]
fn client_accepts_response_over_continuations() {
    let mut c = H2Conn::client();
    let id = c.open_post(true);
    let block = c.encode_headers(&[(":status", "200"), ("x-long", "a fairly long value"), ("x-more", "1")]);
    let (a, rest) = block.split_at(2);
    let (b, rest) = rest.split_at(3);
    let (d, e) = rest.split_at(4);
    c.write_headers(HeadersParam { stream: id, block: a.to_vec(), end_stream: true, ..Default::default() });
    c.write_continuation(id, false, b);
    c.write_continuation(id, false, d);
    c.write_continuation(id, true, e);
    c.verify_no_error();
    let events = c.events();
    assert!(
        events.iter().any(|e| matches!(e, Event::Headers { headers, end_stream: true, .. }
            if headers.get(b"x-long").map(|v| &v[..]) == Some(&b"a fairly long value"[..]))),
        "{events:?}"
    );
}

/// §6.10: "If the END_HEADERS flag is not set, this frame MUST be followed by
/// another CONTINUATION frame. A receiver MUST treat the receipt of any other
/// type of frame or a frame on a different stream as a connection error".
#[test]
fn client_continuation_followed_by_other_frame() {
    let mut c = H2Conn::client();
    let id = c.open_post(true);
    let block = c.encode_headers(&[(":status", "200"), ("x-a", "b")]);
    c.write_headers(HeadersParam { stream: id, block: block[..1].to_vec(), ..Default::default() });
    c.write_continuation(id, false, &block[1..2]);
    c.write_ping(false, [1; 8]);
    c.verify_connection_error(&[ErrorCode::PROTOCOL_ERROR]);
}

/// §6.10: "If a CONTINUATION frame is received with a Stream Identifier field
/// of 0x00, the recipient MUST respond with a connection error (Section 5.4.1)
/// of type PROTOCOL_ERROR."
#[test]
fn client_continuation_on_stream_zero() {
    let mut c = H2Conn::client();
    let id = c.open_post(true);
    let block = c.encode_headers(&[(":status", "200")]);
    c.write_headers(HeadersParam { stream: id, block: block.clone(), ..Default::default() });
    c.write_continuation(0, true, &[]);
    c.verify_connection_error(&[ErrorCode::PROTOCOL_ERROR]);
}

/// §6.10: "A CONTINUATION frame MUST be preceded by a HEADERS, PUSH_PROMISE or
/// CONTINUATION frame without the END_HEADERS flag set."
#[test]
fn client_continuation_after_end_headers() {
    let mut c = H2Conn::client();
    let id = c.open_post(true);
    c.respond(id, "200", &[], false);
    let block = c.encode_headers(&[("x-extra", "1")]);
    c.write_continuation(id, true, &block);
    c.verify_connection_error(&[ErrorCode::PROTOCOL_ERROR]);
}

/// §4.3, §6.10: a field block larger than the peer's SETTINGS_MAX_FRAME_SIZE
/// is sent as HEADERS then CONTINUATION frames, contiguous, END_HEADERS on
/// the last only.
#[test]
fn client_splits_a_large_request_over_continuations() {
    let mut c = H2Conn::client();
    let mut h = Headers::request("POST", "http", "x", "/big");
    h.push("x-big", "q".repeat(40_000));
    let id = c.target.conn.open_stream(h, true).unwrap().0;
    let frames: Vec<Received> = c.drain();
    let kinds: Vec<(&'static str, bool)> = frames
        .iter()
        .map(|r| match &r.frame {
            Frame::Headers(h) if h.stream_id.0 == id => ("HEADERS", h.end_headers),
            Frame::Continuation(k) if k.stream_id.0 == id => ("CONTINUATION", k.end_headers),
            other => panic!("unexpected {other:?}"),
        })
        .collect();
    assert!(kinds.len() >= 2, "{kinds:?}");
    assert_eq!(kinds[0], ("HEADERS", false));
    assert!(kinds[1..kinds.len() - 1].iter().all(|k| *k == ("CONTINUATION", false)), "{kinds:?}");
    assert_eq!(kinds.last(), Some(&("CONTINUATION", true)));
    assert_eq!(frames[0].field("x-big").map(str::len), Some(40_000));
}

weir_spec_tests::cases! {
    server: [
        sends_multiple_continuation_frames_preceded_by_a_headers_frame,
        sends_a_continuation_frame_followed_by_any_frame_other_than_continuation,
        sends_a_continuation_frame_with_0x0_stream_identifier,
        sends_a_continuation_frame_preceded_by_a_headers_frame_with_end_headers_flag,
        sends_a_continuation_frame_preceded_by_a_continuation_frame_with_end_headers_flag,
        sends_a_continuation_frame_preceded_by_a_data_frame,
        sends_a_continuation_frame,
        sends_multiple_continuation_frames,
    ],
    client: [
        client_accepts_response_over_continuations,
        client_continuation_followed_by_other_frame,
        client_continuation_on_stream_zero,
        client_continuation_after_end_headers,
        client_splits_a_large_request_over_continuations,
    ],
}
