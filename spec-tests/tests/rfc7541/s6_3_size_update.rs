//! RFC 7541 §6.3 Dynamic Table Size Update.

use super::common::*;
use weir_spec_tests::prelude::*;

/// The size update representation for `size` (5-bit prefix integer, §5.1).
fn size_update(size: u32) -> Vec<u8> {
    if size < 31 {
        return vec![0x20 | size as u8];
    }
    let mut out = vec![0x3f];
    let mut rest = size - 31;
    while rest >= 128 {
        out.push(0x80 | (rest & 0x7f) as u8);
        rest >>= 7;
    }
    out.push(rest as u8);
    out
}

/// §6.3: "The new maximum size MUST be lower than or equal to the limit
/// determined by the protocol using HPACK. A value that exceeds this limit
/// MUST be treated as a decoding error. In HTTP/2, this limit is the last
/// value of the SETTINGS_HEADER_TABLE_SIZE parameter (see Section 6.5.2 of
/// [HTTP2]) received from the decoder and acknowledged by the encoder".
/// h2spec hpack/6.3/1
pub fn sends_a_dynamic_table_size_update_larger_than_the_value_of_settings_header_table_size<
    T: ServerTarget,
>(
    c: &mut H2Conn<T>,
) {
    c.handshake();
    let max = c.peer_setting(setting::HEADER_TABLE_SIZE).unwrap_or(4096);
    let headers = c.common_headers();
    let mut block = size_update(max + 1);
    block.extend(c.encode_headers(&headers));
    c.write_headers(HeadersParam {
        stream: 1,
        block,
        end_stream: true,
        end_headers: true,
        ..Default::default()
    });
    c.verify_connection_error(&[ErrorCode::COMPRESSION_ERROR]);
}

/// §6.3: "A dynamic table size update signals a change to the size of the
/// dynamic table." (Size 0 at the start of the block.)
/// h2spec generic/5/14
pub fn sends_a_dynamic_table_size_update<T: ServerTarget>(c: &mut H2Conn<T>) {
    send_block(c, b"\x20", b"");
    c.verify_headers_frame(1);
}

/// §6.3: "A value that exceeds this limit MUST be treated as a decoding
/// error." Client role: the client advertised 4096 (the default).
#[test]
fn client_size_update_above_its_setting() {
    let (mut c, _) = client_response_with(&size_update(4097), b"");
    c.verify_connection_error(&[ErrorCode::COMPRESSION_ERROR]);
}

/// §6.3: the limit is SETTINGS_HEADER_TABLE_SIZE as advertised: a client
/// configured with 256 rejects 257 and accepts 256.
#[test]
fn client_size_update_checked_against_its_own_setting() {
    for (size, ok) in [(256, true), (257, false)] {
        let config = Config { header_table_size: 256, ..Config::default() };
        let mut c = H2Conn::client_with(config, &[]);
        assert_eq!(c.peer_setting(setting::HEADER_TABLE_SIZE), Some(256));
        let id = c.open_post(true);
        let mut block = size_update(size);
        block.push(0x88);
        c.write_headers(HeadersParam {
            stream: id,
            block,
            end_stream: true,
            end_headers: true,
            ..Default::default()
        });
        if ok {
            c.verify_no_error();
        } else {
            c.verify_connection_error(&[ErrorCode::COMPRESSION_ERROR]);
        }
    }
}

/// §6.3: a size update to 0 "signals a change to the size of the dynamic
/// table": entries are evicted (§4.3), later blocks can still index new ones.
#[test]
fn client_size_update_to_zero() {
    let (mut c, _) = client_response_with(b"\x20", b"\x40\x03x-a\x011");
    c.verify_no_error();
    let r = responses(&mut c);
    assert_eq!(r[0].get(b"x-a").map(|v| &v[..]), Some(&b"1"[..]));
    assert_eq!(size_update(4096), [0x3f, 0xe1, 0x1f]);
}

weir_spec_tests::cases! {
    server: [
        sends_a_dynamic_table_size_update_larger_than_the_value_of_settings_header_table_size,
        sends_a_dynamic_table_size_update,
    ],
    client: [
        client_size_update_above_its_setting,
        client_size_update_checked_against_its_own_setting,
        client_size_update_to_zero,
    ],
}
