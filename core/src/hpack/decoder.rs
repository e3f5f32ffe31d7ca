//! Header block decoding (RFC 7541 §3, §6).

use super::integer::decode_integer;
use super::table::{DynamicTable, entry_size};
use super::{DecoderError, HeaderField, huffman};
use bytes::Bytes;
use std::ops::Range;

/// Decodes header blocks from one peer, keeping its dynamic table.
///
/// One `Decoder` per connection direction. Any error is a connection error
/// (`COMPRESSION_ERROR`): the table may have been partly updated.
#[derive(Debug)]
pub struct Decoder {
    table: DynamicTable,
    /// Our acknowledged `SETTINGS_HEADER_TABLE_SIZE`.
    max_table_size: usize,
    /// Reused Huffman output; each string is then copied into an exact-size
    /// buffer.
    huffman_scratch: Vec<u8>,
}

/// Largest Huffman scratch buffer kept between blocks.
const MAX_KEPT_SCRATCH: usize = 16 * 1024;

/// Summary of one decoded header block.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Decoded {
    /// Header list size of the whole block (name + value + 32 per field,
    /// RFC 9113 §6.5.2), including fields past the limit (saturating).
    pub list_size: usize,
    /// Number of fields passed to `emit`.
    pub fields: usize,
    /// The list size went over `max_list_size`: fields from the one that
    /// crossed it on were decoded (to keep the table in sync) but not emitted.
    pub over_limit: bool,
    /// Every representation was an indexed field (RFC 7541 §6.1): the block
    /// left the table as it was, and decodes the same way again while the
    /// table's [`Decoder::table_generation`] stays the same.
    pub indexed_only: bool,
}

impl Decoder {
    /// A decoder whose dynamic table may use up to `max_table_size` octets:
    /// our `SETTINGS_HEADER_TABLE_SIZE`, the limit the peer's encoder may use.
    /// The table starts with that maximum size.
    pub fn new(max_table_size: usize) -> Decoder {
        Decoder { table: DynamicTable::new(max_table_size), max_table_size, huffman_scratch: Vec::new() }
    }

    /// Sets a new acknowledged `SETTINGS_HEADER_TABLE_SIZE`. A lower limit
    /// evicts entries now; a higher one only allows the peer's encoder to
    /// grow its table with a dynamic table size update.
    pub fn set_max_table_size(&mut self, size: usize) {
        self.max_table_size = size;
        if self.table.max_size() > size {
            self.table.set_max_size(size);
        }
    }

    /// The limit set by [`Decoder::new`] or [`Decoder::set_max_table_size`].
    pub fn max_table_size(&self) -> usize {
        self.max_table_size
    }

    /// Changes whenever the dynamic table changes (insertion, size change).
    pub fn table_generation(&self) -> u64 {
        self.table.generation()
    }

    /// Current dynamic table size (sum of entry sizes, RFC 7541 §4.1).
    pub fn table_size(&self) -> usize {
        self.table.size()
    }

    /// Current maximum size of the dynamic table, as last set by the peer's
    /// dynamic table size update (or lowered by [`Decoder::set_max_table_size`]).
    pub fn table_capacity(&self) -> usize {
        self.table.max_size()
    }

    /// Dynamic table entries as `(name, value)`, newest (index 62) first.
    pub fn table_entries(&self) -> impl ExactSizeIterator<Item = (&[u8], &[u8])> {
        self.table.entries().map(|(name, value)| (name.as_ref(), value.as_ref()))
    }

    /// Decodes one complete header block, calling `emit` per field in order.
    ///
    /// Once the header list size would exceed `max_list_size`, that field and
    /// the following ones are not emitted (and non-indexed literals are not
    /// allocated), but every representation is still processed so the dynamic
    /// table stays in sync; the result then has `over_limit` set.
    pub fn decode<F: FnMut(HeaderField)>(
        &mut self,
        block: &Bytes,
        max_list_size: usize,
        mut emit: F,
    ) -> Result<Decoded, DecoderError> {
        self.decode_checked(block, max_list_size, |field, _| emit(field))
    }

    /// [`Decoder::decode`], also telling `emit` whether the field is known to
    /// pass RFC 9113 §8.2.1's character rules: true for fields from the static
    /// table and for dynamic entries checked when inserted, so a receiver can
    /// skip re-checking fields that repeat block after block.
    pub fn decode_checked<F: FnMut(HeaderField, bool)>(
        &mut self,
        block: &Bytes,
        max_list_size: usize,
        emit: F,
    ) -> Result<Decoded, DecoderError> {
        let mut run = BlockRun {
            reader: Reader { block, pos: 0 },
            scratch: &mut self.huffman_scratch,
            budget: ListBudget { max: max_list_size, decoded: Decoded::default() },
            emit,
            size_updates: 0,
            seen_field: false,
            indexed_only: true,
        };
        while let Some(first) = run.reader.peek() {
            match first {
                0x80..=0xff => run.indexed_field(&self.table)?,
                0x40..=0x7f => run.literal_field(&mut self.table, Indexing::Incremental)?,
                0x20..=0x3f => run.table_size_update(&mut self.table, self.max_table_size)?,
                0x10..=0x1f => run.literal_field(&mut self.table, Indexing::Never)?,
                0x00..=0x0f => run.literal_field(&mut self.table, Indexing::Without)?,
            }
        }
        let decoded = Decoded { indexed_only: run.indexed_only, ..run.budget.decoded };
        if self.huffman_scratch.capacity() > MAX_KEPT_SCRATCH {
            self.huffman_scratch = Vec::new();
        }
        Ok(decoded)
    }
}

/// How a literal field representation affects the table (RFC 7541 §6.2).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Indexing {
    /// §6.2.1: added to the dynamic table.
    Incremental,
    /// §6.2.2: not added.
    Without,
    /// §6.2.3: not added, and must never be (the field is sensitive).
    Never,
}

impl Indexing {
    /// Bits of the first octet holding the name index.
    fn prefix_bits(self) -> u8 {
        match self {
            Indexing::Incremental => 6,
            Indexing::Without | Indexing::Never => 4,
        }
    }
}

/// A cursor over the block being decoded.
struct Reader<'a> {
    block: &'a Bytes,
    pos: usize,
}

/// A string literal located in the block, not yet materialised.
struct RawString {
    range: Range<usize>,
    huffman: bool,
}

impl Reader<'_> {
    fn peek(&self) -> Option<u8> {
        self.block.get(self.pos).copied()
    }

    /// Reads a prefixed integer starting at the current octet.
    fn integer(&mut self, prefix_bits: u8) -> Result<usize, DecoderError> {
        let rest = self.block.get(self.pos..).unwrap_or_default();
        let (value, octets) = decode_integer(rest, prefix_bits)?;
        self.pos += octets;
        Ok(value)
    }

    /// Reads a string literal's header and skips its octets (RFC 7541 §5.2).
    fn string(&mut self) -> Result<RawString, DecoderError> {
        let huffman = self.peek().ok_or(DecoderError::Truncated)? & 0x80 != 0;
        let len = self.integer(7)?;
        let end = self.pos.checked_add(len).filter(|&end| end <= self.block.len());
        let end = end.ok_or(DecoderError::Truncated)?;
        let range = self.pos..end;
        self.pos = end;
        Ok(RawString { range, huffman })
    }

    /// Upper bound of the decoded length of `string`, without decoding.
    fn max_len(&self, string: &RawString) -> usize {
        if string.huffman { huffman::max_decoded_len(string.range.len()) } else { string.range.len() }
    }

    /// Exact decoded length of `string`; validates Huffman without allocating.
    fn exact_len(&self, string: &RawString) -> Result<usize, DecoderError> {
        if string.huffman { Ok(huffman::decoded_len(self.octets(string))?) } else { Ok(string.range.len()) }
    }

    /// The decoded string: a zero-copy slice of the block, or for
    /// Huffman-coded strings a fresh buffer of the exact size (decoded
    /// through `scratch`).
    fn materialize(&self, string: &RawString, scratch: &mut Vec<u8>) -> Result<Bytes, DecoderError> {
        if string.huffman {
            huffman::decode_into(self.octets(string), scratch)?;
            Ok(Bytes::copy_from_slice(scratch))
        } else {
            Ok(self.block.slice(string.range.clone()))
        }
    }

    fn octets(&self, string: &RawString) -> &[u8] {
        self.block.get(string.range.clone()).unwrap_or_default()
    }
}

/// The name of a literal field: from a table, or a literal string.
enum LiteralName {
    Indexed(Bytes),
    Literal(RawString),
}

/// Running header list size against the caller's limit.
struct ListBudget {
    max: usize,
    decoded: Decoded,
}

impl ListBudget {
    /// Whether a field of `size` octets can still be emitted.
    fn fits(&self, size: usize) -> bool {
        !self.decoded.over_limit && self.decoded.list_size.saturating_add(size) <= self.max
    }

    /// Counts a field; returns whether it is emitted.
    fn admit(&mut self, size: usize) -> bool {
        let emit = self.fits(size);
        self.decoded.list_size = self.decoded.list_size.saturating_add(size);
        if emit {
            self.decoded.fields += 1;
        } else {
            self.decoded.over_limit = true;
        }
        emit
    }
}

/// State of one `decode` call.
struct BlockRun<'a, F> {
    reader: Reader<'a>,
    scratch: &'a mut Vec<u8>,
    budget: ListBudget,
    emit: F,
    size_updates: u8,
    seen_field: bool,
    indexed_only: bool,
}

impl<F: FnMut(HeaderField, bool)> BlockRun<'_, F> {
    /// Indexed header field (RFC 7541 §6.1).
    fn indexed_field(&mut self, table: &DynamicTable) -> Result<(), DecoderError> {
        self.seen_field = true;
        let index = self.reader.integer(7)?;
        let (name, value, valid) = table.get_checked(index).ok_or(DecoderError::InvalidIndex(index))?;
        if self.budget.admit(entry_size(name.len(), value.len())) {
            (self.emit)(HeaderField { name, value, sensitive: false }, valid);
        }
        Ok(())
    }

    /// Literal header field, with or without indexing or never indexed
    /// (RFC 7541 §6.2).
    fn literal_field(&mut self, table: &mut DynamicTable, indexing: Indexing) -> Result<(), DecoderError> {
        self.seen_field = true;
        self.indexed_only = false;
        let name = self.literal_name(table, indexing.prefix_bits())?;
        let value = self.reader.string()?;
        if self.will_emit(&name, &value)? {
            let name = self.materialize_name(name)?;
            let value = self.reader.materialize(&value, self.scratch)?;
            let field = HeaderField { name, value, sensitive: indexing == Indexing::Never };
            self.budget.admit(field.size());
            if indexing == Indexing::Incremental {
                table.insert(field.name.clone(), field.value.clone());
            }
            (self.emit)(field, false);
            return Ok(());
        }
        let size = self.exact_size(&name, &value)?;
        self.budget.admit(size);
        if indexing == Indexing::Incremental && !table.clear_if_larger_than_max(size) {
            let name = self.materialize_name(name)?;
            table.insert(name, self.reader.materialize(&value, self.scratch)?);
        }
        Ok(())
    }

    /// Reads a literal's name: index > 0 refers to a table, 0 means a string follows.
    fn literal_name(&mut self, table: &DynamicTable, prefix_bits: u8) -> Result<LiteralName, DecoderError> {
        match self.reader.integer(prefix_bits)? {
            0 => Ok(LiteralName::Literal(self.reader.string()?)),
            index => table.name(index).map(LiteralName::Indexed).ok_or(DecoderError::InvalidIndex(index)),
        }
    }

    /// The literal's name as [`Bytes`].
    fn materialize_name(&mut self, name: LiteralName) -> Result<Bytes, DecoderError> {
        match name {
            LiteralName::Indexed(name) => Ok(name),
            LiteralName::Literal(raw) => self.reader.materialize(&raw, self.scratch),
        }
    }

    /// Whether the field fits the list budget, deciding from upper bounds when
    /// possible and from exact (validated, unallocated) lengths otherwise.
    fn will_emit(&self, name: &LiteralName, value: &RawString) -> Result<bool, DecoderError> {
        if self.budget.decoded.over_limit {
            return Ok(false);
        }
        let name_max = match name {
            LiteralName::Indexed(name) => name.len(),
            LiteralName::Literal(raw) => self.reader.max_len(raw),
        };
        if self.budget.fits(entry_size(name_max, self.reader.max_len(value))) {
            return Ok(true);
        }
        Ok(self.budget.fits(self.exact_size(name, value)?))
    }

    /// Exact RFC 7541 §4.1 size of a literal field, without allocating.
    fn exact_size(&self, name: &LiteralName, value: &RawString) -> Result<usize, DecoderError> {
        let name_len = match name {
            LiteralName::Indexed(name) => name.len(),
            LiteralName::Literal(raw) => self.reader.exact_len(raw)?,
        };
        Ok(entry_size(name_len, self.reader.exact_len(value)?))
    }

    /// Dynamic table size update (RFC 7541 §6.3): at most two, at the start.
    fn table_size_update(&mut self, table: &mut DynamicTable, limit: usize) -> Result<(), DecoderError> {
        self.indexed_only = false;
        if self.seen_field {
            return Err(DecoderError::TableSizeUpdateNotAtStart);
        }
        if self.size_updates == 2 {
            return Err(DecoderError::TooManyTableSizeUpdates);
        }
        self.size_updates += 1;
        let requested = self.reader.integer(5)?;
        if requested > limit {
            return Err(DecoderError::TableSizeAboveLimit { requested, limit });
        }
        table.set_max_size(requested);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode_all(decoder: &mut Decoder, wire: &[u8]) -> Result<Vec<HeaderField>, DecoderError> {
        let mut fields = Vec::new();
        decoder.decode(&Bytes::copy_from_slice(wire), usize::MAX, |f| fields.push(f))?;
        Ok(fields)
    }

    #[test]
    fn raw_literals_are_slices_of_the_block() {
        let block = Bytes::from_static(b"\x40\x0acustom-key\x0dcustom-header");
        let mut fields = Vec::new();
        Decoder::new(4096).decode(&block, usize::MAX, |f| fields.push(f)).unwrap();
        let range = block.as_ptr_range();
        assert!(range.contains(&fields[0].name.as_ptr()));
        assert!(range.contains(&fields[0].value.as_ptr()));
    }

    #[test]
    fn only_indexed_blocks_keep_the_table_generation() {
        let mut decoder = Decoder::new(4096);
        let g0 = decoder.table_generation();
        let inserted = decoder.decode(&Bytes::from_static(b"\x40\x01a\x01b"), usize::MAX, |_| {}).unwrap();
        assert!(!inserted.indexed_only);
        let g1 = decoder.table_generation();
        assert_ne!(g0, g1, "an insertion changes what indexes mean");
        let indexed = decoder.decode(&Bytes::from_static(b"\xbe\x82"), usize::MAX, |_| {}).unwrap();
        assert!(indexed.indexed_only);
        assert_eq!(decoder.table_generation(), g1, "indexed fields leave the table as it was");
        let literal = decoder.decode(&Bytes::from_static(b"\x00\x01c\x01d"), usize::MAX, |_| {}).unwrap();
        assert!(!literal.indexed_only, "a literal is not reusable: it may pin the peer's buffer");
        decoder.set_max_table_size(0);
        assert_ne!(decoder.table_generation(), g1, "a size change evicts");
    }

    #[test]
    fn indexed_fields_share_the_table_entry() {
        let mut decoder = Decoder::new(4096);
        let block = Bytes::from_static(b"\x40\x01a\x01b");
        let mut first = Vec::new();
        decoder.decode(&block, usize::MAX, |f| first.push(f)).unwrap();
        let second = decode_all(&mut decoder, b"\xbe").unwrap();
        let third = decode_all(&mut decoder, b"\xbe").unwrap();
        assert_eq!(first, second);
        assert_eq!(second[0].value.as_ptr(), third[0].value.as_ptr(), "a refcount, not a copy");
        // The table holds its own copy: it never pins the peer's buffer.
        assert!(!block.as_ptr_range().contains(&second[0].value.as_ptr()));
    }

    #[test]
    fn checked_flag_trusts_only_table_entries_that_passed() {
        let mut decoder = Decoder::new(4096);
        let mut seen = Vec::new();
        let mut run = |decoder: &mut Decoder, wire: &'static [u8]| {
            seen.clear();
            decoder
                .decode_checked(&Bytes::from_static(wire), usize::MAX, |f, ok| seen.push((f.name, ok)))
                .unwrap();
            seen.iter().map(|(_, ok)| *ok).collect::<Vec<_>>()
        };
        // Static indexed: trusted. Literals: never (the receiver checks them).
        assert_eq!(run(&mut decoder, b"\x83\x40\x01a\x01b"), [true, false]);
        // The entry `a: b` was checked on insertion.
        assert_eq!(run(&mut decoder, b"\xbe"), [true]);
        // An entry with a bad value (LF) or bad name (uppercase) is inserted but
        // never trusted when referenced.
        assert_eq!(run(&mut decoder, b"\x40\x01a\x02x\n\x40\x01A\x01b"), [false, false]);
        assert_eq!(run(&mut decoder, b"\xbe\xbf\xc0"), [false, false, true]);
        // Pseudo-header names are judged by the receiver, the value still counts.
        assert_eq!(run(&mut decoder, b"\x40\x05:path\x01/\xbe"), [false, true]);
    }

    #[test]
    fn never_indexed_is_sensitive_and_not_inserted() {
        let mut decoder = Decoder::new(4096);
        let fields = decode_all(&mut decoder, b"\x10\x01a\x01b").unwrap();
        assert_eq!(fields, [HeaderField::sensitive("a", "b")]);
        assert_eq!(decoder.table_size(), 0);
    }

    #[test]
    fn huffman_name_and_value() {
        let mut wire = vec![0x40];
        for string in [b"foo".as_slice(), b"bar-baz"] {
            wire.push(0x80 | huffman::encoded_len(string) as u8);
            huffman::encode(string, &mut wire);
        }
        let mut decoder = Decoder::new(4096);
        assert_eq!(decode_all(&mut decoder, &wire).unwrap(), [HeaderField::new("foo", "bar-baz")]);
        assert_eq!(decoder.table_size(), 3 + 7 + 32);
    }

    #[test]
    fn size_update_to_zero_then_back() {
        let mut decoder = Decoder::new(4096);
        decode_all(&mut decoder, b"\x40\x01a\x01b").unwrap();
        assert_eq!(decoder.table_size(), 34);
        decode_all(&mut decoder, &[0x20, 0x3f, 0xe1, 0x1f]).unwrap();
        assert_eq!(decoder.table_size(), 0);
        assert_eq!(decoder.table_capacity(), 4096);
    }

    #[test]
    fn lowering_the_limit_evicts_and_raising_does_not_grow() {
        let mut decoder = Decoder::new(4096);
        decode_all(&mut decoder, b"\x40\x01a\x01b\x40\x01c\x01d").unwrap();
        decoder.set_max_table_size(40);
        assert_eq!(decoder.table_size(), 34);
        assert_eq!(decoder.table_entries().next(), Some((b"c".as_slice(), b"d".as_slice())));
        decoder.set_max_table_size(8192);
        assert_eq!(decoder.table_capacity(), 40);
        assert_eq!(decoder.max_table_size(), 8192);
    }
}
