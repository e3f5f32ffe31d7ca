//! RFC 7541 §6.2 Literal Header Field Representation (§6.2.1 with
//! incremental indexing, §6.2.2 without indexing, §6.2.3 never indexed).
//! The representations are h2spec's bytes, labels included (they name the
//! Huffman variant of some cases the other way round than the bytes are).

use super::common::*;
use weir_spec_tests::prelude::*;

const INC_INDEXED_NAME: &[u8] = b"\x40\x87\xb5\x05\xb1\x61\xcc\x5a\x93\x84\x9c\x48\xac\xa4";
const INC_INDEXED_NAME_HUFFMAN: &[u8] =
    b"\x40\x0a\x75\x73\x65\x72\x2d\x61\x67\x65\x6e\x74\x06\x68\x32\x73\x70\x65\x63";
const INC_NEW_NAME: &[u8] = b"\x40\x06\x78\x2d\x74\x65\x73\x74\x06\x68\x32\x73\x70\x65\x63";
const INC_NEW_NAME_HUFFMAN: &[u8] = b"\x40\x85\xf2\xb2\x4a\x84\xff\x84\x9c\x48\xac\xa4";
const WITHOUT_INDEXED_NAME: &[u8] =
    b"\x00\x0a\x75\x73\x65\x72\x2d\x61\x67\x65\x6e\x74\x06\x68\x32\x73\x70\x65\x63";
const WITHOUT_INDEXED_NAME_HUFFMAN: &[u8] = b"\x00\x87\xb5\x05\xb1\x61\xcc\x5a\x93\x84\x9c\x48\xac\xa4";
const WITHOUT_NEW_NAME: &[u8] = b"\x00\x06\x78\x2d\x74\x65\x73\x74\x06\x68\x32\x73\x70\x65\x63";
const WITHOUT_NEW_NAME_HUFFMAN: &[u8] = b"\x00\x85\xf2\xb2\x4a\x84\xff\x84\x9c\x48\xac\xa4";
const NEVER_INDEXED_NAME: &[u8] =
    b"\x10\x0a\x75\x73\x65\x72\x2d\x61\x67\x65\x6e\x74\x06\x68\x32\x73\x70\x65\x63";
const NEVER_INDEXED_NAME_HUFFMAN: &[u8] = b"\x10\x87\xb5\x05\xb1\x61\xcc\x5a\x93\x84\x9c\x48\xac\xa4";
const NEVER_NEW_NAME: &[u8] = b"\x10\x85\xf2\xb2\x4a\x84\xff\x84\x9c\x48\xac\xa4";
const NEVER_NEW_NAME_HUFFMAN: &[u8] = b"\x10\x85\xf2\xb2\x4a\x84\xff\x84\x9c\x48\xac\xa4";

/// Every representation above with the field it carries and whether it is
/// never-indexed.
const ALL: [(&[u8], &str, bool); 12] = [
    (INC_INDEXED_NAME, "user-agent", false),
    (INC_INDEXED_NAME_HUFFMAN, "user-agent", false),
    (INC_NEW_NAME, "x-test", false),
    (INC_NEW_NAME_HUFFMAN, "x-test", false),
    (WITHOUT_INDEXED_NAME, "user-agent", false),
    (WITHOUT_INDEXED_NAME_HUFFMAN, "user-agent", false),
    (WITHOUT_NEW_NAME, "x-test", false),
    (WITHOUT_NEW_NAME_HUFFMAN, "x-test", false),
    (NEVER_INDEXED_NAME, "user-agent", true),
    (NEVER_INDEXED_NAME_HUFFMAN, "user-agent", true),
    (NEVER_NEW_NAME, "x-test", true),
    (NEVER_NEW_NAME_HUFFMAN, "x-test", true),
];

/// Sends the common request with `rep` appended and expects the response.
fn accepted<T: ServerTarget>(c: &mut H2Conn<T>, rep: &[u8]) {
    send_block(c, b"", rep);
    c.verify_headers_frame(1);
}

/// §6.2.1: "A literal header field with incremental indexing representation
/// results in appending a header field to the decoded header list and
/// inserting it as a new entry into the dynamic table."
/// h2spec generic/5/2
pub fn sends_a_literal_header_field_with_incremental_indexing_indexed_name<T: ServerTarget>(
    c: &mut H2Conn<T>,
) {
    accepted(c, INC_INDEXED_NAME);
}

/// §6.2.1 (as above), Huffman-coded.
/// h2spec generic/5/3
pub fn sends_a_literal_header_field_with_incremental_indexing_indexed_name_with_huffman_coding<
    T: ServerTarget,
>(
    c: &mut H2Conn<T>,
) {
    accepted(c, INC_INDEXED_NAME_HUFFMAN);
}

/// §6.2.1: "A literal header field with incremental indexing representation
/// results in appending a header field to the decoded header list and
/// inserting it as a new entry into the dynamic table." New name.
/// h2spec generic/5/4
pub fn sends_a_literal_header_field_with_incremental_indexing_new_name<T: ServerTarget>(c: &mut H2Conn<T>) {
    accepted(c, INC_NEW_NAME);
}

/// §6.2.1 (as above), new name, Huffman-coded.
/// h2spec generic/5/5
pub fn sends_a_literal_header_field_with_incremental_indexing_new_name_with_huffman_coding<
    T: ServerTarget,
>(
    c: &mut H2Conn<T>,
) {
    accepted(c, INC_NEW_NAME_HUFFMAN);
}

/// §6.2.2: "A literal header field without indexing representation results
/// in appending a header field to the decoded header list without altering
/// the dynamic table."
/// h2spec generic/5/6
pub fn sends_a_literal_header_field_without_indexing_indexed_name<T: ServerTarget>(c: &mut H2Conn<T>) {
    accepted(c, WITHOUT_INDEXED_NAME);
}

/// §6.2.2 (as above), Huffman-coded.
/// h2spec generic/5/7
pub fn sends_a_literal_header_field_without_indexing_indexed_name_with_huffman_coding<T: ServerTarget>(
    c: &mut H2Conn<T>,
) {
    accepted(c, WITHOUT_INDEXED_NAME_HUFFMAN);
}

/// §6.2.2 (as above), new name.
/// h2spec generic/5/8
pub fn sends_a_literal_header_field_without_indexing_new_name<T: ServerTarget>(c: &mut H2Conn<T>) {
    accepted(c, WITHOUT_NEW_NAME);
}

/// §6.2.2 (as above), new name, Huffman-coded.
/// h2spec generic/5/9
pub fn sends_a_literal_header_field_without_indexing_new_name_huffman_encoded<T: ServerTarget>(
    c: &mut H2Conn<T>,
) {
    accepted(c, WITHOUT_NEW_NAME_HUFFMAN);
}

/// §6.2.3: "A literal header field never-indexed representation results in
/// appending a header field to the decoded header list without altering the
/// dynamic table. Intermediaries MUST use the same representation for
/// encoding this header field."
/// h2spec generic/5/10
pub fn sends_a_literal_header_field_never_indexed_indexed_name<T: ServerTarget>(c: &mut H2Conn<T>) {
    accepted(c, NEVER_INDEXED_NAME);
}

/// §6.2.3 (as above), Huffman-coded.
/// h2spec generic/5/11
pub fn sends_a_literal_header_field_never_indexed_indexed_name_huffman_encoded<T: ServerTarget>(
    c: &mut H2Conn<T>,
) {
    accepted(c, NEVER_INDEXED_NAME_HUFFMAN);
}

/// §6.2.3 (as above), new name.
/// h2spec generic/5/12
pub fn sends_a_literal_header_field_never_indexed_new_name<T: ServerTarget>(c: &mut H2Conn<T>) {
    accepted(c, NEVER_NEW_NAME);
}

/// §6.2.3 (as above), new name, Huffman-coded.
/// h2spec generic/5/13
pub fn sends_a_literal_header_field_never_indexed_new_name_huffman_encoded<T: ServerTarget>(
    c: &mut H2Conn<T>,
) {
    accepted(c, NEVER_NEW_NAME_HUFFMAN);
}

/// §6.2: each literal representation "results in appending a header field to
/// the decoded header list": client role, the field arrives with value
/// `h2spec`, and §6.2.3 never-indexed fields are marked sensitive ("MUST use
/// the same representation for encoding this header field").
#[test]
fn client_decodes_every_literal_representation() {
    for (rep, name, never) in ALL {
        let (mut c, _) = client_response_with(b"", rep);
        c.verify_no_error();
        let r = responses(&mut c);
        let f = r[0].fields.iter().find(|f| f.name == name.as_bytes()).expect("field delivered");
        assert_eq!((&f.value[..], f.sensitive), (&b"h2spec"[..], never), "{name} from {rep:02x?}");
    }
}

/// §6.2.1 inserts into the dynamic table; §6.2.2 and §6.2.3 do not ("without
/// altering the dynamic table"): index 62 resolves only after the first.
#[test]
fn client_only_incremental_indexing_fills_the_table() {
    let (mut c, _) = client_response_with(b"", &[INC_NEW_NAME, b"\xbe"].concat());
    c.verify_no_error();
    assert_eq!(responses(&mut c)[0].get_all(b"x-test").count(), 2);
    for rep in [WITHOUT_NEW_NAME, NEVER_NEW_NAME] {
        let (mut c, _) = client_response_with(b"", &[rep, b"\xbe"].concat());
        c.verify_connection_error(&[ErrorCode::COMPRESSION_ERROR]);
    }
}

weir_spec_tests::cases! {
    server: [
        sends_a_literal_header_field_with_incremental_indexing_indexed_name,
        sends_a_literal_header_field_with_incremental_indexing_indexed_name_with_huffman_coding,
        sends_a_literal_header_field_with_incremental_indexing_new_name,
        sends_a_literal_header_field_with_incremental_indexing_new_name_with_huffman_coding,
        sends_a_literal_header_field_without_indexing_indexed_name,
        sends_a_literal_header_field_without_indexing_indexed_name_with_huffman_coding,
        sends_a_literal_header_field_without_indexing_new_name,
        sends_a_literal_header_field_without_indexing_new_name_huffman_encoded,
        sends_a_literal_header_field_never_indexed_indexed_name,
        sends_a_literal_header_field_never_indexed_indexed_name_huffman_encoded,
        sends_a_literal_header_field_never_indexed_new_name,
        sends_a_literal_header_field_never_indexed_new_name_huffman_encoded,
    ],
    client: [client_decodes_every_literal_representation, client_only_incremental_indexing_fills_the_table],
}
