//! RFC 9113 §5.1.2 Stream Concurrency.

use weir_spec_tests::prelude::*;

/// §5.1.2: "An endpoint that receives a HEADERS frame that causes its
/// advertised concurrent stream limit to be exceeded MUST treat this as a
/// stream error (Section 5.4.2) of type PROTOCOL_ERROR or REFUSED_STREAM."
/// INITIAL_WINDOW_SIZE 0 keeps every response open, as in h2spec. (Weir always
/// advertises SETTINGS_MAX_CONCURRENT_STREAMS, so h2spec's skip never applies.)
/// h2spec http2/5.1.2/1
pub fn sends_headers_frames_that_causes_their_advertised_concurrent_stream_limit_to_be_exceeded<
    T: ServerTarget,
>(
    c: &mut H2Conn<T>,
) {
    c.handshake();
    let max = c.peer_setting(setting::MAX_CONCURRENT_STREAMS).expect("the server advertises a limit");
    c.write_settings(&[(setting::INITIAL_WINDOW_SIZE, 0)]);
    let headers = c.common_headers();
    let block = c.encode_headers(&headers);
    let mut id = 1;
    for _ in 0..=max {
        c.write_headers(HeadersParam {
            stream: id,
            block: block.clone(),
            end_stream: true,
            end_headers: true,
            ..Default::default()
        });
        id += 2;
    }
    c.verify_stream_error(id - 2, &[ErrorCode::PROTOCOL_ERROR, ErrorCode::REFUSED_STREAM]);
}

/// §5.1.2: "An endpoint MUST NOT exceed the limit set by its peer." With the
/// server's limit at 1, the second request waits until the first stream closes.
#[test]
fn client_respects_server_max_concurrent_streams() {
    let mut c = H2Conn::client_with(Config::default(), &[(setting::MAX_CONCURRENT_STREAMS, 1)]);
    let one = c.open_post(true);
    let three = c.target.conn.open_stream(Headers::request("GET", "http", "x", "/"), true).unwrap().0;
    for r in c.drain() {
        assert!(!matches!(r.frame, Frame::Headers(_)), "no second HEADERS yet: {:?}", r.frame);
    }
    c.respond(one, "200", &[], true);
    c.wait_frame("the queued request", |f| matches!(f, Frame::Headers(h) if h.stream_id.0 == three));
}

/// §5.1.2: "A value of 0 for SETTINGS_MAX_CONCURRENT_STREAMS SHOULD NOT be
/// treated as special by endpoints. A zero value does prevent the creation of
/// new streams"; raising it lets the waiting request out.
#[test]
fn client_waits_while_max_concurrent_streams_is_zero() {
    let mut c = H2Conn::client_with(Config::default(), &[(setting::MAX_CONCURRENT_STREAMS, 0)]);
    let id = c.target.conn.open_stream(Headers::request("GET", "http", "x", "/"), true).unwrap().0;
    assert!(c.drain().iter().all(|r| !matches!(r.frame, Frame::Headers(_))));
    c.write_settings(&[(setting::MAX_CONCURRENT_STREAMS, 1)]);
    c.wait_frame("the request once allowed", |f| matches!(f, Frame::Headers(h) if h.stream_id.0 == id));
}

/// §5.1.2: "Streams in either of the "half-closed" states count toward the
/// maximum number of streams that an endpoint is permitted to open." A stream
/// the server ended but the client did not still holds the only slot.
#[test]
fn client_counts_half_closed_streams() {
    let mut c = H2Conn::client_with(Config::default(), &[(setting::MAX_CONCURRENT_STREAMS, 1)]);
    let one = c.open_post(false);
    c.respond(one, "200", &[], true);
    let three = c.target.conn.open_stream(Headers::request("GET", "http", "x", "/"), true).unwrap().0;
    assert!(c.drain().iter().all(|r| !matches!(r.frame, Frame::Headers(_))), "stream {one} still counts");
    c.target.conn.send_data(StreamId(one), bytes::Bytes::new(), true).unwrap();
    c.wait_frame("the queued request", |f| matches!(f, Frame::Headers(h) if h.stream_id.0 == three));
}

weir_spec_tests::cases! {
    server: [sends_headers_frames_that_causes_their_advertised_concurrent_stream_limit_to_be_exceeded],
    client: [
        client_respects_server_max_concurrent_streams,
        client_waits_while_max_concurrent_streams_is_zero,
        client_counts_half_closed_streams,
    ],
}
