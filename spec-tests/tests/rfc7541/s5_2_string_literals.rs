//! RFC 7541 §5.2 String Literal Representation.

use super::common::*;
use weir_spec_tests::prelude::*;

/// `x-test: test` without indexing, new name, Huffman value with an extra
/// padding octet (h2spec's bytes).
const PADDING_OVER_7_BITS: &[u8] = b"\x00\x85\xf2\xb2\x4a\x84\xff\x84\x49\x50\x9f\xff";
/// The same with zero bits as padding.
const ZERO_PADDING: &[u8] = b"\x00\x85\xf2\xb2\x4a\x84\xff\x83\x49\x50\x90";
/// The same with the EOS symbol inside the value.
const EOS_INSIDE: &[u8] = b"\x00\x85\xf2\xb2\x4a\x87\xff\xff\xff\xfd\x25\x42\x7f";

/// §5.2: "A padding strictly longer than 7 bits MUST be treated as a decoding
/// error."
/// h2spec hpack/5.2/1
pub fn sends_a_huffman_encoded_string_literal_representation_with_padding_longer_than_7_bits<
    T: ServerTarget,
>(
    c: &mut H2Conn<T>,
) {
    send_block(c, b"", PADDING_OVER_7_BITS);
    c.verify_connection_error(&[ErrorCode::COMPRESSION_ERROR]);
}

/// §5.2: "A padding not corresponding to the most significant bits of the
/// code for the EOS symbol MUST be treated as a decoding error."
/// h2spec hpack/5.2/2
pub fn sends_a_huffman_encoded_string_literal_representation_padded_by_zero<T: ServerTarget>(
    c: &mut H2Conn<T>,
) {
    send_block(c, b"", ZERO_PADDING);
    c.verify_connection_error(&[ErrorCode::COMPRESSION_ERROR]);
}

/// §5.2: "A Huffman-encoded string literal containing the EOS symbol MUST be
/// treated as a decoding error."
/// h2spec hpack/5.2/3
pub fn sends_a_huffman_encoded_string_literal_representation_containing_the_eos_symbol<T: ServerTarget>(
    c: &mut H2Conn<T>,
) {
    send_block(c, b"", EOS_INSIDE);
    c.verify_connection_error(&[ErrorCode::COMPRESSION_ERROR]);
}

/// §5.2: each of the three Huffman decoding errors, client role.
#[test]
fn client_huffman_decoding_errors() {
    for rep in [PADDING_OVER_7_BITS, ZERO_PADDING, EOS_INSIDE] {
        let (mut c, _) = client_response_with(b"", rep);
        c.verify_connection_error(&[ErrorCode::COMPRESSION_ERROR]);
    }
}

/// §5.2: "Upon decoding, an incomplete code at the end of the encoded data is
/// to be considered as padding and discarded." The valid form of the same
/// field (EOS-prefix padding) decodes to `x-test: test`.
#[test]
fn client_huffman_with_eos_padding() {
    let (mut c, _) = client_response_with(b"", b"\x00\x85\xf2\xb2\x4a\x84\xff\x83\x49\x50\x9f");
    c.verify_no_error();
    let r = responses(&mut c);
    assert_eq!(r[0].get(b"x-test").map(|v| &v[..]), Some(&b"test"[..]));
}

weir_spec_tests::cases! {
    server: [
        sends_a_huffman_encoded_string_literal_representation_with_padding_longer_than_7_bits,
        sends_a_huffman_encoded_string_literal_representation_padded_by_zero,
        sends_a_huffman_encoded_string_literal_representation_containing_the_eos_symbol,
    ],
    client: [client_huffman_decoding_errors, client_huffman_with_eos_padding],
}
