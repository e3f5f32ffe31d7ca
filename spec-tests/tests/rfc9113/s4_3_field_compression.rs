//! RFC 9113 §4.3 Field Section Compression and Decompression.

use weir_spec_tests::prelude::*;

/// §4.3: "A decoding error in a field block MUST be treated as a connection
/// error (Section 5.4.1) of type COMPRESSION_ERROR." The block is a literal
/// with incremental indexing cut before its name length.
/// h2spec http2/4.3/1
pub fn sends_invalid_header_block_fragment<T: ServerTarget>(c: &mut H2Conn<T>) {
    c.handshake();
    c.send(b"\x00\x00\x01\x01\x05\x00\x00\x00\x01\x40");
    c.verify_connection_error(&[ErrorCode::COMPRESSION_ERROR]);
}

/// §4.3: "Each field block is processed as a discrete unit. Field blocks MUST
/// be transmitted as a contiguous sequence of frames, with no interleaved
/// frames of any other type or from any other stream."
/// h2spec http2/4.3/2
pub fn sends_a_priority_frame_while_sending_the_header_blocks<T: ServerTarget>(c: &mut H2Conn<T>) {
    c.handshake();
    let headers = c.common_headers();
    let block = c.encode_headers(&headers);
    c.write_headers(HeadersParam { stream: 1, block, end_headers: false, ..Default::default() });
    c.write_priority(1, Priority::on(0, 255));
    let dummy = c.dummy_headers(1);
    let block = c.encode_headers(&dummy);
    c.write_continuation(1, true, &block);
    c.verify_connection_error(&[ErrorCode::PROTOCOL_ERROR]);
}

/// §4.3: "Field blocks MUST be transmitted as a contiguous sequence of frames,
/// with no interleaved frames of any other type or from any other stream."
/// h2spec http2/4.3/3
pub fn sends_a_headers_frame_to_another_stream_while_sending_the_header_blocks<T: ServerTarget>(
    c: &mut H2Conn<T>,
) {
    c.handshake();
    let headers = c.common_headers();
    let block = c.encode_headers(&headers);
    c.write_headers(HeadersParam { stream: 1, block, end_headers: false, ..Default::default() });
    let block = c.encode_headers(&headers);
    c.write_headers(HeadersParam {
        stream: 3,
        block,
        end_stream: true,
        end_headers: true,
        ..Default::default()
    });
    let dummy = c.dummy_headers(1);
    let block = c.encode_headers(&dummy);
    c.write_continuation(1, true, &block);
    c.verify_connection_error(&[ErrorCode::PROTOCOL_ERROR]);
}

/// §4.3: "A decoding error in a field block MUST be treated as a connection
/// error (Section 5.4.1) of type COMPRESSION_ERROR."
#[test]
fn client_invalid_field_block_is_compression_error() {
    let mut c = H2Conn::client();
    let id = c.open_post(true);
    c.write_headers(HeadersParam {
        stream: id,
        block: vec![0x40],
        end_stream: true,
        end_headers: true,
        ..Default::default()
    });
    c.verify_connection_error(&[ErrorCode::COMPRESSION_ERROR]);
}

/// §4.3: field blocks "MUST be transmitted as a contiguous sequence of frames,
/// with no interleaved frames of any other type".
#[test]
fn client_priority_inside_field_block() {
    let mut c = H2Conn::client();
    let id = c.open_post(true);
    let block = c.encode_headers(&[(":status", "200"), ("x-a", "1")]);
    c.write_headers(HeadersParam { stream: id, block: block[..1].to_vec(), ..Default::default() });
    c.write_priority(id, Priority::on(0, 255));
    c.write_continuation(id, true, &block[1..]);
    c.verify_connection_error(&[ErrorCode::PROTOCOL_ERROR]);
}

/// §4.3: field blocks carry no "interleaved frames ... from any other stream".
#[test]
fn client_other_stream_inside_field_block() {
    let mut c = H2Conn::client();
    let one = c.open_post(true);
    let three = c.open_post(true);
    let block = c.encode_headers(&[(":status", "200")]);
    c.write_headers(HeadersParam { stream: one, block: block.clone(), ..Default::default() });
    c.write_continuation(three, true, &block);
    c.verify_connection_error(&[ErrorCode::PROTOCOL_ERROR]);
}

/// §4.3: "Field compression is stateful. Each endpoint has an HPACK encoder
/// context and an HPACK decoder context that are used for encoding and
/// decoding all field blocks on a connection." The second response refers to
/// entries the first one added to the dynamic table.
#[test]
fn client_decodes_with_one_context_across_streams() {
    let mut c = H2Conn::client();
    let one = c.open_post(true);
    let three = c.open_post(true);
    let list = [(":status", "200"), ("x-session", "0123456789abcdef"), ("cache-control", "no-store")];
    c.write_request(one, &list, true);
    let second = c.encode_headers(&list);
    assert!(second.len() < 6, "the second block is mostly indexed: {second:?}");
    c.write_headers(HeadersParam {
        stream: three,
        block: second,
        end_stream: true,
        end_headers: true,
        ..Default::default()
    });
    c.verify_no_error();
    let responses: Vec<Headers> = c
        .events()
        .into_iter()
        .filter_map(|e| match e {
            Event::Headers { kind: HeadersKind::Response, headers, .. } => Some(Headers::clone(&headers)),
            _ => None,
        })
        .collect();
    assert_eq!(responses.len(), 2);
    assert_eq!(responses[0], responses[1]);
    assert_eq!(responses[1].get(b"x-session").map(|v| &v[..]), Some(&b"0123456789abcdef"[..]));
}

weir_spec_tests::cases! {
    server: [
        sends_invalid_header_block_fragment,
        sends_a_priority_frame_while_sending_the_header_blocks,
        sends_a_headers_frame_to_another_stream_while_sending_the_header_blocks,
    ],
    client: [
        client_invalid_field_block_is_compression_error,
        client_priority_inside_field_block,
        client_other_stream_inside_field_block,
        client_decodes_with_one_context_across_streams,
    ],
}
