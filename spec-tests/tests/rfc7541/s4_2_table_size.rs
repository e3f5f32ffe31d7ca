//! RFC 7541 §4.2 Maximum Table Size.

use super::common::*;
use weir_spec_tests::prelude::*;

/// §4.2: "This dynamic table size update MUST occur at the beginning of the
/// first header block following the change to the dynamic table size." A
/// size update after a field is a decoding error.
/// h2spec hpack/4.2/1
pub fn sends_a_dynamic_table_size_update_at_the_end_of_header_block<T: ServerTarget>(c: &mut H2Conn<T>) {
    send_block(c, b"", b"\x21");
    c.verify_connection_error(&[ErrorCode::COMPRESSION_ERROR]);
}

/// §4.2: "Multiple updates to the maximum table size can occur between the
/// transmission of two header blocks. In the case that this size is changed
/// more than once in this interval, the smallest maximum table size that
/// occurs in that interval MUST be signaled in a dynamic table size update.
/// The final maximum size is always signaled, resulting in at most two
/// dynamic table size updates." (0 then 4096.)
/// h2spec generic/5/15
pub fn sends_multiple_dynamic_table_size_update<T: ServerTarget>(c: &mut H2Conn<T>) {
    send_block(c, b"\x20\x3f\xe1\x1f", b"");
    c.verify_headers_frame(1);
}

/// §4.2: "This dynamic table size update MUST occur at the beginning of the
/// first header block following the change to the dynamic table size."
/// Client role.
#[test]
fn client_size_update_after_a_field() {
    let (mut c, _) = client_response_with(b"", b"\x3f\xe1\x1f");
    c.verify_connection_error(&[ErrorCode::COMPRESSION_ERROR]);
}

/// §4.2: "resulting in at most two dynamic table size updates": two at the
/// start are accepted, and a first update to 0 evicts every entry (§4.3).
#[test]
fn client_two_size_updates_evict_the_table() {
    let mut c = H2Conn::client();
    let one = c.open_post(true);
    // :status 200, x-a: 1 added to the dynamic table.
    c.write_headers(HeadersParam {
        stream: one,
        block: b"\x88\x40\x03x-a\x011".to_vec(),
        end_stream: true,
        end_headers: true,
        ..Default::default()
    });
    let three = c.open_post(true);
    // Size 0 then 4096: the table is empty, so index 62 is invalid.
    c.write_headers(HeadersParam {
        stream: three,
        block: b"\x20\x3f\xe1\x1f\x88\xbe".to_vec(),
        end_stream: true,
        end_headers: true,
        ..Default::default()
    });
    c.verify_connection_error(&[ErrorCode::COMPRESSION_ERROR]);
    assert_eq!(responses(&mut c).len(), 1, "the first response decoded");
}

weir_spec_tests::cases! {
    server: [sends_a_dynamic_table_size_update_at_the_end_of_header_block, sends_multiple_dynamic_table_size_update],
    client: [client_size_update_after_a_field, client_two_size_updates_evict_the_table],
}
