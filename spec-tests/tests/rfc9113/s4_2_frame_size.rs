//! RFC 9113 §4.2 Frame Size.

use weir_spec_tests::prelude::*;

/// §4.2: "All implementations MUST be capable of receiving and minimally
/// processing frames up to 2^14 octets in length, plus the 9-octet frame
/// header." A request body in one DATA frame of SETTINGS_MAX_FRAME_SIZE octets
/// is answered, and nothing is reported as an error.
/// h2spec http2/4.2/1
pub fn sends_a_data_frame_with_2_14_octets_in_length<T: ServerTarget>(c: &mut H2Conn<T>) {
    c.handshake();
    let headers = c.common_headers_with("POST");
    c.write_request(1, &headers, false);
    let data = vec![b'x'; c.max_frame_size()];
    c.write_data(1, true, &data);
    c.verify_headers_frame(1);
    c.verify_no_error();
}

/// §4.2: "An endpoint MUST send an error code of FRAME_SIZE_ERROR if a frame
/// exceeds the size defined in SETTINGS_MAX_FRAME_SIZE".
/// h2spec http2/4.2/2
pub fn sends_a_large_size_data_frame_that_exceeds_the_settings_max_frame_size<T: ServerTarget>(
    c: &mut H2Conn<T>,
) {
    c.handshake();
    let headers = c.common_headers_with("POST");
    c.write_request(1, &headers, false);
    let data = vec![b'x'; c.max_frame_size() + 1];
    c.write_data(1, true, &data);
    c.verify_stream_error(1, &[ErrorCode::FRAME_SIZE_ERROR]);
}

/// §4.2: "A frame size error in a frame that could alter the state of the
/// entire connection MUST be treated as a connection error (Section 5.4.1);
/// this includes any frame carrying a field block (Section 4.3) (that is,
/// HEADERS, PUSH_PROMISE, and CONTINUATION)".
/// h2spec http2/4.2/3
pub fn sends_a_large_size_headers_frame_that_exceeds_the_settings_max_frame_size<T: ServerTarget>(
    c: &mut H2Conn<T>,
) {
    c.handshake();
    let mut headers = c.common_headers();
    headers.extend(c.dummy_headers(5));
    let block = c.encode_headers(&headers);
    assert!(block.len() > c.max_frame_size(), "the block must not fit: {}", block.len());
    c.write_headers(HeadersParam {
        stream: 1,
        block,
        end_stream: true,
        end_headers: true,
        ..Default::default()
    });
    c.verify_connection_error(&[ErrorCode::FRAME_SIZE_ERROR]);
}

/// §4.2: "All implementations MUST be capable of receiving and minimally
/// processing frames up to 2^14 octets in length": a response DATA frame of
/// exactly 2^14 octets reaches the application whole.
#[test]
fn client_accepts_data_frame_of_2_14_octets() {
    let mut c = H2Conn::client();
    let id = c.open_post(true);
    c.respond(id, "200", &[], false);
    c.write_data(id, true, &[7u8; 1 << 14]);
    c.verify_no_error();
    let mut got = 0;
    while let Ok(weir_core::conn::Read::Data { data, .. }) = c.target.conn.read(StreamId(id), usize::MAX) {
        assert!(data.iter().all(|&b| b == 7));
        got += data.len();
    }
    assert_eq!(got, 1 << 14);
}

/// §4.2: "An endpoint MUST send an error code of FRAME_SIZE_ERROR if a frame
/// exceeds the size defined in SETTINGS_MAX_FRAME_SIZE".
#[test]
fn client_data_frame_over_max_frame_size() {
    let mut c = H2Conn::client();
    let id = c.open_post(true);
    c.respond(id, "200", &[], false);
    c.write_data(id, true, &vec![0u8; (1 << 14) + 1]);
    c.verify_stream_error(id, &[ErrorCode::FRAME_SIZE_ERROR]);
}

/// §4.2: a frame size error in a frame carrying a field block "MUST be
/// treated as a connection error".
#[test]
fn client_headers_frame_over_max_frame_size() {
    let mut c = H2Conn::client();
    let id = c.open_post(true);
    let big = "v".repeat(20_000);
    let block = c.encode_headers(&[(":status", "200"), ("x-big", big.as_str())]);
    assert!(block.len() > 1 << 14, "the block must not fit: {}", block.len());
    c.write_headers(HeadersParam {
        stream: id,
        block,
        end_stream: true,
        end_headers: true,
        ..Default::default()
    });
    c.verify_connection_error(&[ErrorCode::FRAME_SIZE_ERROR]);
}

/// §4.2: "An endpoint MUST NOT send a frame in excess of this size": a request
/// body larger than the server's SETTINGS_MAX_FRAME_SIZE goes out in frames
/// of at most 2^14 octets.
#[test]
fn client_sends_no_frame_over_peer_max_frame_size() {
    let mut c = H2Conn::client();
    let id = c.open_post(false);
    c.target.conn.send_data(StreamId(id), bytes::Bytes::from(vec![1u8; 40_000]), true).unwrap();
    let mut total = 0;
    for r in c.drain() {
        if let Frame::Data(d) = r.frame {
            assert!(d.data.len() <= 1 << 14, "DATA of {} octets", d.data.len());
            total += d.data.len();
        }
    }
    assert_eq!(total, 40_000);
}

weir_spec_tests::cases! {
    server: [
        sends_a_data_frame_with_2_14_octets_in_length,
        sends_a_large_size_data_frame_that_exceeds_the_settings_max_frame_size,
        sends_a_large_size_headers_frame_that_exceeds_the_settings_max_frame_size,
    ],
    client: [
        client_accepts_data_frame_of_2_14_octets,
        client_data_frame_over_max_frame_size,
        client_headers_frame_over_max_frame_size,
        client_sends_no_frame_over_peer_max_frame_size,
    ],
}
