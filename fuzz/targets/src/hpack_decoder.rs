//! `hpack_decoder`: arbitrary header blocks through one [`Decoder`].
//!
//! Input: 2 octets of `SETTINGS_HEADER_TABLE_SIZE` (u16), 2 octets of
//! header-list-size limit (u16; 0xffff means unlimited), then records of a
//! 2-octet big-endian length and that many octets of header block. A length
//! with the top bit set is not a block but a new table-size limit (the low 15
//! bits), as when our SETTINGS change is acknowledged.
//!
//! Checks, per block, until the first error (a connection error: the table
//! can no longer be trusted):
//! * the emitted fields fit the list-size limit and their count and sizes
//!   match the returned [`Decoded`](weir_core::hpack::Decoded);
//! * `over_limit` is set exactly when the block's list size exceeds the limit;
//! * memory is bounded: no more fields than octets in the block, no field
//!   longer than Huffman expansion of the block or the table allows, and the
//!   dynamic table within its capacity and limit (its size the sum of its
//!   entries);
//! * the fields of a block decoded in full, re-encoded by a fresh encoder,
//!   decode back to the same list.

use bytes::Bytes;
use weir_core::hpack::{Decoder, ENTRY_OVERHEAD, Encoder, HeaderField, huffman};

/// Longest name or value in the static table (RFC 7541 Appendix A).
const STATIC_LONGEST: usize = 27;

/// Runs one input.
pub fn run(data: &[u8]) {
    let Some((head, mut rest)) = data.split_first_chunk::<4>() else {
        return;
    };
    let table_size = usize::from(u16::from_be_bytes([head[0], head[1]]));
    let max_list = match u16::from_be_bytes([head[2], head[3]]) {
        u16::MAX => usize::MAX,
        n => usize::from(n),
    };
    let mut decoder = Decoder::new(table_size);
    while let Some((len, tail)) = rest.split_first_chunk::<2>() {
        let len = u16::from_be_bytes(*len);
        if len & 0x8000 != 0 {
            decoder.set_max_table_size(usize::from(len & 0x7fff));
            check_table(&decoder);
            rest = tail;
            continue;
        }
        let n = usize::from(len).min(tail.len());
        let (block, tail) = tail.split_at(n);
        rest = tail;
        if !decode_block(&mut decoder, block, max_list) {
            return;
        }
    }
}

/// Decodes one block and checks it; false after a decoding error.
fn decode_block(decoder: &mut Decoder, block: &[u8], max_list: usize) -> bool {
    let block = Bytes::copy_from_slice(block);
    let mut fields = Vec::new();
    let result = decoder.decode(&block, max_list, |f| fields.push(f));
    check_table(decoder);
    let decoded = match result {
        Ok(d) => d,
        Err(_) => return false,
    };
    let emitted: usize = fields.iter().map(HeaderField::size).sum();
    assert_eq!(decoded.fields, fields.len());
    assert!(fields.len() <= block.len(), "more fields than octets");
    assert!(emitted <= max_list, "emitted {emitted} octets over the limit {max_list}");
    assert!(decoded.list_size >= emitted);
    assert_eq!(decoded.over_limit, decoded.list_size > max_list);
    if !decoded.over_limit {
        assert_eq!(decoded.list_size, emitted);
    }
    // A literal is at most the block (Huffman: 8/5 of it), an indexed field
    // at most a table entry; static-table names and values are short.
    let longest = huffman::max_decoded_len(block.len()).max(decoder.max_table_size()).max(STATIC_LONGEST);
    for f in &fields {
        assert!(f.name.len() <= longest && f.value.len() <= longest, "field too long: {f:?}");
    }
    if !decoded.over_limit {
        check_reencode(&fields);
    }
    true
}

/// The dynamic table respects its capacity and limit; its size is the sum
/// of its entries.
fn check_table(decoder: &Decoder) {
    let sum: usize = decoder.table_entries().map(|(n, v)| n.len() + v.len() + ENTRY_OVERHEAD).sum();
    assert_eq!(decoder.table_size(), sum);
    assert!(decoder.table_size() <= decoder.table_capacity());
    assert!(decoder.table_capacity() <= decoder.max_table_size());
}

/// A fresh encoder/decoder pair reproduces the list.
fn check_reencode(fields: &[HeaderField]) {
    let mut block = Vec::new();
    Encoder::new().encode(fields, &mut block);
    let mut again = Vec::new();
    Decoder::new(weir_core::hpack::DEFAULT_TABLE_SIZE)
        .decode(&Bytes::from(block), usize::MAX, |f| again.push(f))
        .expect("our own encoding decodes");
    assert_eq!(again, fields);
}
