//! RFC 7541 §6.1 Indexed Header Field Representation.

use super::common::*;
use weir_spec_tests::prelude::*;

/// §6.1: "The index value of 0 is not used. It MUST be treated as a decoding
/// error if found in an indexed header field representation."
/// h2spec hpack/6.1/1
pub fn sends_a_indexed_header_field_representation_with_index_0<T: ServerTarget>(c: &mut H2Conn<T>) {
    send_block(c, b"", b"\x80");
    c.verify_connection_error(&[ErrorCode::COMPRESSION_ERROR]);
}

/// §6.1: "An indexed header field representation identifies an entry in
/// either the static table or the dynamic table (see Section 2.3)."
/// (Index 58, `user-agent` with an empty value.)
/// h2spec generic/5/1
pub fn sends_a_indexed_header_field_representation<T: ServerTarget>(c: &mut H2Conn<T>) {
    send_block(c, b"", b"\xba");
    c.verify_headers_frame(1);
}

/// §6.1: "The index value of 0 is not used. It MUST be treated as a decoding
/// error if found in an indexed header field representation." Client role.
#[test]
fn client_indexed_representation_with_index_0() {
    let (mut c, _) = client_response_with(b"", b"\x80");
    c.verify_connection_error(&[ErrorCode::COMPRESSION_ERROR]);
}

/// §6.1: "An indexed header field representation identifies an entry in
/// either the static table or the dynamic table" and "causes a header field
/// to be added to the decoded header list". Client role: index 58.
#[test]
fn client_indexed_representation() {
    let (mut c, _) = client_response_with(b"", b"\xba");
    c.verify_no_error();
    assert_eq!(responses(&mut c)[0].get(b"user-agent").map(|v| &v[..]), Some(&b""[..]));
}

weir_spec_tests::cases! {
    server: [
        sends_a_indexed_header_field_representation_with_index_0,
        sends_a_indexed_header_field_representation,
    ],
    client: [client_indexed_representation_with_index_0, client_indexed_representation],
}
