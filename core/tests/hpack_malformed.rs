//! Malformed header blocks are rejected with the exact error, and the header
//! list size limit stops emission without desynchronising the table.

use bytes::Bytes;
use weir_core::hpack::{
    Decoded, Decoder, DecoderError, Encoder, HeaderField, HuffmanError, IndexPolicy, huffman,
};

fn decode(decoder: &mut Decoder, wire: &[u8]) -> Result<Vec<HeaderField>, DecoderError> {
    let mut fields = Vec::new();
    decoder.decode(&Bytes::copy_from_slice(wire), usize::MAX, |field| fields.push(field))?;
    Ok(fields)
}

fn decode_error(wire: &[u8]) -> DecoderError {
    decode(&mut Decoder::new(4096), wire).expect_err("must be rejected")
}

/// Literal without indexing, new name, with the given raw name string octets
/// (length prefix included) and value "v".
fn literal_with_name_string(name_string: &[u8]) -> Vec<u8> {
    [&[0x00], name_string, &[0x01, b'v']].concat()
}

#[test]
fn truncated_integer() {
    // Indexed field whose 7-bit prefix is full and whose continuation is missing.
    assert_eq!(decode_error(&[0xff]), DecoderError::Truncated);
    assert_eq!(decode_error(&[0xff, 0x80]), DecoderError::Truncated);
}

#[test]
fn truncated_string_length() {
    // Literal with a new name whose length octet is missing.
    assert_eq!(decode_error(&[0x40]), DecoderError::Truncated);
    // ... or whose multi-octet length stops early.
    assert_eq!(decode_error(&[0x40, 0x7f, 0x81]), DecoderError::Truncated);
    // Value length missing after a complete name.
    assert_eq!(decode_error(&[0x41]), DecoderError::Truncated);
}

#[test]
fn truncated_string() {
    assert_eq!(decode_error(&[0x40, 0x05, b'a', b'b']), DecoderError::Truncated);
    assert_eq!(decode_error(&[0x41, 0x03, b'a', b'b']), DecoderError::Truncated);
    // Huffman strings too.
    assert_eq!(decode_error(&[0x41, 0x82, 0x1f]), DecoderError::Truncated);
}

#[test]
fn integer_of_six_octets() {
    assert_eq!(decode_error(&[0xff, 0x80, 0x80, 0x80, 0x80, 0x01]), DecoderError::IntegerOverflow);
    // Five octets are fine (here an index far past the table).
    assert_eq!(decode_error(&[0xff, 0x80, 0x80, 0x80, 0x01]), DecoderError::InvalidIndex(127 + (1 << 21)));
    // String lengths are integers too.
    assert_eq!(decode_error(&[0x40, 0x7f, 0xff, 0xff, 0xff, 0xff, 0x0f]), DecoderError::IntegerOverflow);
}

#[test]
fn index_zero() {
    assert_eq!(decode_error(&[0x80]), DecoderError::InvalidIndex(0));
}

#[test]
fn index_past_the_table() {
    assert_eq!(decode_error(&[0xbe]), DecoderError::InvalidIndex(62));
    let mut decoder = Decoder::new(4096);
    decode(&mut decoder, b"\x40\x01a\x01b").unwrap();
    assert_eq!(decode(&mut decoder, &[0xbe]).unwrap(), [HeaderField::new("a", "b")]);
    assert_eq!(decode(&mut decoder, &[0xbf]), Err(DecoderError::InvalidIndex(63)));
    // A literal's name index too.
    assert_eq!(decode(&mut decoder, &[0x0f, 0x31, 0x01, b'v']), Err(DecoderError::InvalidIndex(64)));
}

#[test]
fn huffman_with_eos() {
    // 'a' (00011) then EOS (30 ones), padded: 00011111 11111111 11111111 11111111 11111111.
    let name = [0x85, 0x1f, 0xff, 0xff, 0xff, 0xff];
    assert_eq!(decode_error(&literal_with_name_string(&name)), DecoderError::Huffman(HuffmanError::Eos));
}

#[test]
fn huffman_padding_longer_than_7_bits() {
    // 'a' + 3 bits of padding, then a whole octet of ones: 11 bits.
    let name = [0x82, 0x1f, 0xff];
    assert_eq!(
        decode_error(&literal_with_name_string(&name)),
        DecoderError::Huffman(HuffmanError::PaddingTooLong)
    );
}

#[test]
fn huffman_padding_not_all_ones() {
    // 'a' (00011) + padding 110.
    let name = [0x81, 0x1e];
    assert_eq!(
        decode_error(&literal_with_name_string(&name)),
        DecoderError::Huffman(HuffmanError::PaddingNotOnes)
    );
}

#[test]
fn size_update_after_a_field() {
    assert_eq!(decode_error(&[0x82, 0x20]), DecoderError::TableSizeUpdateNotAtStart);
    assert_eq!(decode_error(&[0x20, 0x82, 0x3f, 0x01]), DecoderError::TableSizeUpdateNotAtStart);
}

#[test]
fn three_size_updates() {
    assert_eq!(decode_error(&[0x20, 0x3f, 0xe1, 0x1f, 0x20]), DecoderError::TooManyTableSizeUpdates);
    // Two are allowed.
    let mut decoder = Decoder::new(4096);
    assert_eq!(
        decode(&mut decoder, &[0x20, 0x3f, 0xe1, 0x1f, 0x82]).unwrap(),
        [HeaderField::new(":method", "GET")]
    );
}

#[test]
fn size_update_above_limit() {
    // 4097 = 31 + 0x62 + (0x1f << 7).
    assert_eq!(
        decode_error(&[0x3f, 0xe2, 0x1f]),
        DecoderError::TableSizeAboveLimit { requested: 4097, limit: 4096 }
    );
    let mut decoder = Decoder::new(4096);
    decoder.set_max_table_size(100);
    assert_eq!(
        decode(&mut decoder, &[0x3f, 0x46]),
        Err(DecoderError::TableSizeAboveLimit { requested: 101, limit: 100 })
    );
    assert_eq!(decode(&mut decoder, &[0x3f, 0x45]), Ok(vec![]));
}

#[test]
fn errors_display_and_expose_their_source() {
    let error = DecoderError::TableSizeAboveLimit { requested: 4097, limit: 4096 };
    assert_eq!(error.to_string(), "dynamic table size update to 4097 above the limit of 4096");
    let error = DecoderError::Huffman(HuffmanError::PaddingNotOnes);
    assert_eq!(error.to_string(), "invalid Huffman string: padding is not all ones");
    let source = std::error::Error::source(&error).map(ToString::to_string);
    assert_eq!(source.as_deref(), Some("padding is not all ones"));
}

/// A block mixing every representation: fields 1-2 fit the limit, field 3
/// crosses it and fields 3-8 include insertions (raw and Huffman) that the
/// next block refers to.
fn block_over_limit(encoder: &mut Encoder) -> (Vec<u8>, Vec<HeaderField>) {
    let fields = vec![
        HeaderField::new(":method", "POST"),                  // indexed, 42
        HeaderField::new("x-first", "1"),                     // incremental, 40
        HeaderField::new("x-crossing", "value-that-crosses"), // incremental, 60: crosses 100
        HeaderField::new("x-after", "wwwwwwwwwwwwwwwwwwww"),  // incremental, Huffman
        HeaderField::new("content-length", "12345"),          // without indexing
        HeaderField::sensitive("authorization", "secret"),    // never indexed
        HeaderField::new("x-first", "1"),                     // indexed (dynamic)
        HeaderField::new("x-plain", "\u{1}\u{2}\u{3}"),       // incremental, raw (Huffman longer)
    ];
    let mut wire = Vec::new();
    encoder.encode(&fields, &mut wire);
    (wire, fields)
}

#[test]
fn header_list_limit_stops_emission_but_keeps_the_table_in_sync() {
    let mut encoder = Encoder::new();
    encoder.set_index_policy(IndexPolicy::Default);
    let (wire, fields) = block_over_limit(&mut encoder);
    let wire = Bytes::from(wire);
    let total: usize = fields.iter().map(HeaderField::size).sum();

    let mut limited = Decoder::new(4096);
    let mut emitted = Vec::new();
    let decoded = limited.decode(&wire, 100, |field| emitted.push(field)).unwrap();
    assert_eq!(emitted, fields[..2]);
    assert_eq!(decoded, Decoded { list_size: total, fields: 2, over_limit: true, indexed_only: false });

    let mut unlimited = Decoder::new(4096);
    let mut all = Vec::new();
    let decoded = unlimited.decode(&wire, usize::MAX, |field| all.push(field)).unwrap();
    assert_eq!(all, fields);
    assert_eq!(decoded, Decoded { list_size: total, fields: 8, over_limit: false, indexed_only: false });

    // Both tables are identical, and the next block (all indexed) decodes alike.
    assert!(limited.table_entries().eq(unlimited.table_entries()));
    assert_eq!(limited.table_size(), unlimited.table_size());
    let next_fields = [&fields[1], &fields[2], &fields[3], &fields[7]];
    let mut next = Vec::new();
    encoder.encode(next_fields, &mut next);
    // Newest first: x-plain 62, x-after 63, x-crossing 64, x-first 65.
    assert_eq!(next, [0x80 | 65, 0x80 | 64, 0x80 | 63, 0x80 | 62]);
    let next = Bytes::from(next);
    let (mut from_limited, mut from_unlimited) = (Vec::new(), Vec::new());
    limited.decode(&next, usize::MAX, |field| from_limited.push(field)).unwrap();
    unlimited.decode(&next, usize::MAX, |field| from_unlimited.push(field)).unwrap();
    assert_eq!(from_limited, from_unlimited);
    assert_eq!(from_limited, next_fields.map(Clone::clone));
}

#[test]
fn field_exactly_at_the_limit_is_emitted() {
    // :method GET twice: 42 + 42.
    let wire = Bytes::from_static(b"\x82\x82");
    let mut fields = 0;
    let decoded = Decoder::new(4096).decode(&wire, 84, |_| fields += 1).unwrap();
    assert_eq!(decoded, Decoded { list_size: 84, fields: 2, over_limit: false, indexed_only: true });
    let decoded = Decoder::new(4096).decode(&wire, 83, |_| fields += 1).unwrap();
    assert_eq!(decoded, Decoded { list_size: 84, fields: 1, over_limit: true, indexed_only: true });
    assert_eq!(fields, 3);
}

#[test]
fn huffman_past_the_limit_is_still_validated() {
    // First field crosses a limit of 0; the second has bad padding.
    let mut wire = vec![0x82, 0x00, 0x81, 0x1e, 0x01, b'v'];
    let result = Decoder::new(4096).decode(&Bytes::from(wire.clone()), 0, |_| panic!("nothing fits"));
    assert_eq!(result, Err(DecoderError::Huffman(HuffmanError::PaddingNotOnes)));
    // With valid padding the same block passes and counts the decoded length.
    wire[3] = 0x1f;
    let result = Decoder::new(4096).decode(&Bytes::from(wire), 0, |_| panic!("nothing fits"));
    assert_eq!(
        result,
        Ok(Decoded { list_size: 42 + (1 + 1 + 32), fields: 0, over_limit: true, indexed_only: false })
    );
}

#[test]
fn huffman_crossing_field_uses_its_exact_length() {
    // A Huffman value whose upper bound (len * 8 / 5) would cross the limit
    // but whose decoded length does not.
    let value = b"aaaaaaaaaa";
    let mut wire = vec![0x00, 0x01, b'n'];
    wire.push(0x80 | huffman::encoded_len(value) as u8);
    huffman::encode(value, &mut wire);
    let exact = 1 + value.len() + 32;
    let mut fields = Vec::new();
    let decoded = Decoder::new(4096).decode(&Bytes::from(wire), exact, |field| fields.push(field)).unwrap();
    assert_eq!(decoded, Decoded { list_size: exact, fields: 1, over_limit: false, indexed_only: false });
    assert_eq!(fields, [HeaderField::new("n", "aaaaaaaaaa")]);
}
