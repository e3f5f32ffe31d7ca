//! Helpers shared by the RFC 7541 sections.

use weir_spec_tests::prelude::*;

/// h2spec's HPACK cases: the common request headers encoded by our encoder,
/// with `before` and `after` raw representations around them, sent as one
/// HEADERS frame (END_STREAM, END_HEADERS) on stream 1 after the handshake.
pub fn send_block<T: ServerTarget>(c: &mut H2Conn<T>, before: &[u8], after: &[u8]) {
    c.handshake();
    let headers = c.common_headers();
    let mut block = before.to_vec();
    block.extend(c.encode_headers(&headers));
    block.extend_from_slice(after);
    c.write_headers(HeadersParam {
        stream: 1,
        block,
        end_stream: true,
        end_headers: true,
        ..Default::default()
    });
}

/// Client role: a response block `:status 200` (indexed) with `after`
/// appended, on a fresh request; returns the connection for verification.
pub fn client_response_with(before: &[u8], after: &[u8]) -> (H2Conn<InMemoryClient>, u32) {
    let mut c = H2Conn::client();
    let id = c.open_post(true);
    let mut block = before.to_vec();
    block.push(0x88); // indexed :status 200 (static index 8)
    block.extend_from_slice(after);
    c.write_headers(HeadersParam {
        stream: id,
        block,
        end_stream: true,
        end_headers: true,
        ..Default::default()
    });
    (c, id)
}

/// The response header sections the client delivered.
pub fn responses(c: &mut H2Conn<InMemoryClient>) -> Vec<Headers> {
    c.events()
        .into_iter()
        .filter_map(|e| match e {
            Event::Headers { kind: HeadersKind::Response, headers, .. } => Some(Headers::clone(&headers)),
            _ => None,
        })
        .collect()
}
