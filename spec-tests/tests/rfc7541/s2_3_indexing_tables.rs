//! RFC 7541 §2.3.3 Index Address Space.

use super::common::*;
use weir_spec_tests::prelude::*;

/// §2.3.3: "Indices strictly greater than the sum of the lengths of both
/// tables MUST be treated as a decoding error." RFC 9113 §4.3: "A decoding
/// error in a field block MUST be treated as a connection error (Section
/// 5.4.1) of type COMPRESSION_ERROR." (Indexed representation, index 70.)
/// h2spec hpack/2.3.3/1
pub fn sends_a_indexed_header_field_representation_with_invalid_index<T: ServerTarget>(c: &mut H2Conn<T>) {
    send_block(c, b"", b"\xc6");
    c.verify_connection_error(&[ErrorCode::COMPRESSION_ERROR]);
}

/// §2.3.3: "Indices strictly greater than the sum of the lengths of both
/// tables MUST be treated as a decoding error." (Literal with incremental
/// indexing whose name index is 70.)
/// h2spec hpack/2.3.3/2
pub fn sends_a_literal_header_field_representation_with_invalid_index<T: ServerTarget>(c: &mut H2Conn<T>) {
    send_block(c, b"", b"\x7f\x07\x00");
    c.verify_connection_error(&[ErrorCode::COMPRESSION_ERROR]);
}

/// §2.3.3: "Indices strictly greater than the sum of the lengths of both
/// tables MUST be treated as a decoding error." Client role, both forms.
#[test]
fn client_invalid_indices() {
    for rep in [&b"\xc6"[..], b"\x7f\x07\x00", b"\xbf"] {
        let (mut c, _) = client_response_with(b"", rep);
        c.verify_connection_error(&[ErrorCode::COMPRESSION_ERROR]);
    }
}

/// §2.3.3: "Indices between 1 and the length of the static table (inclusive)
/// refer to elements in the static table" and "Indices strictly greater than
/// the length of the static table refer to elements in the dynamic table":
/// index 62 is the newest dynamic entry.
#[test]
fn client_resolves_static_and_dynamic_indices() {
    // Literal with incremental indexing, new name (x-a: 1), then index 62.
    let (mut c, _) = client_response_with(b"", b"\x40\x03x-a\x011\xbe\xba");
    c.verify_no_error();
    let r = responses(&mut c);
    let fields: Vec<(&[u8], &[u8])> = r[0].fields.iter().map(|f| (&f.name[..], &f.value[..])).collect();
    assert_eq!(fields, [(&b"x-a"[..], &b"1"[..]), (b"x-a", b"1"), (b"user-agent", b"")]);
}

weir_spec_tests::cases! {
    server: [
        sends_a_indexed_header_field_representation_with_invalid_index,
        sends_a_literal_header_field_representation_with_invalid_index,
    ],
    client: [client_invalid_indices, client_resolves_static_and_dynamic_indices],
}
