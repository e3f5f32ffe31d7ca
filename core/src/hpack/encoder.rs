//! Header block encoding (RFC 7541 §6) with hash-based table lookup.
//!
//! Representation chosen per field, in order:
//! 1. sensitive fields: literal never indexed (§6.2.3), name from a table when
//!    possible, never a fully indexed field;
//! 2. `name: value` in the static table, then the dynamic table: indexed (§6.1);
//! 3. otherwise a literal whose name comes from the static table, else the
//!    dynamic table, else a string; with incremental indexing (§6.2.1) if the
//!    [`IndexPolicy`] says so, without indexing (§6.2.2) otherwise.
//!
//! String literals are Huffman-coded only when strictly shorter, by default
//! (see [`HuffmanPolicy`]).

use super::huffman;
use super::integer::encode_integer;
use super::table::{STATIC, StaticMatch, entry_size, static_lookup};
use super::{DEFAULT_TABLE_SIZE, HeaderField};
use bytes::Bytes;
use std::collections::{HashMap, VecDeque};
use std::hash::{BuildHasherDefault, Hasher};

/// Largest dynamic table the encoder uses, whatever the peer allows.
pub const MAX_ENCODER_TABLE_SIZE: usize = 64 * 1024;

/// `:path` values longer than this are not indexed: long paths usually carry
/// per-request query strings, while gRPC method paths are short and repeat.
pub const MAX_INDEXED_PATH_LEN: usize = 64;

/// When the encoder Huffman-codes a string literal.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum HuffmanPolicy {
    /// Never: every string is sent as is.
    Never,
    /// Only when the Huffman code is strictly shorter (saves the peer the
    /// decoding work when nothing is gained).
    #[default]
    WhenShorter,
    /// When the Huffman code is not longer, as the examples of RFC 7541
    /// Appendix C do (C.6.2 codes the 3-octet `307` in 3 octets).
    WhenNotLonger,
}

/// Which non-sensitive fields the encoder adds to the dynamic table.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum IndexPolicy {
    /// Index fields likely to repeat: not those whose value changes per
    /// request (see [`value_churns`]) nor those larger than 3/4 of the table.
    #[default]
    Default,
    /// Index every non-sensitive field that is not already fully indexed, as
    /// the examples of RFC 7541 Appendix C do.
    Always,
    /// Never add to the dynamic table (fields already there are still used).
    Never,
}

/// Whether a field's value typically changes with every request or response,
/// so indexing it would only evict useful entries: lengths, deadlines,
/// per-request identifiers and dates of conditional requests, error messages,
/// and long `:path` values.
pub fn value_churns(name: &[u8], value: &[u8]) -> bool {
    match name {
        b":path" => value.len() > MAX_INDEXED_PATH_LEN,
        b"content-length" | b"content-range" | b"grpc-timeout" | b"grpc-message" | b"age"
        | b"if-modified-since" | b"if-none-match" | b"location" | b"traceparent" | b"x-request-id"
        | b"grpc-trace-bin" => true,
        _ => false,
    }
}

/// Where an encoder's dynamic table stands: while it is the same, the same
/// fields encode to the same octets ([`Encoder::table_state`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TableState {
    inserted: u64,
    max_size: usize,
    len: usize,
}

impl TableState {
    #[cfg(test)]
    pub(crate) fn for_tests(inserted: u64, max_size: usize) -> Self {
        TableState { inserted, max_size, len: 0 }
    }
}

/// Encodes header blocks for one peer, keeping the dynamic table in step
/// with the peer's decoder.
#[derive(Debug)]
pub struct Encoder {
    table: EncoderTable,
    /// Table size to use: the peer's `SETTINGS_HEADER_TABLE_SIZE`, capped.
    target_size: usize,
    /// Smallest target since the last block, when it changed.
    pending_smallest: Option<usize>,
    huffman: HuffmanPolicy,
    policy: IndexPolicy,
    /// Recently indexed fields by buffer identity ([`Encoder::encode_shared`]):
    /// direct-mapped slots, up to `MEMO_SLOTS`, grown as they are used.
    memo: Vec<Option<Memo>>,
}

/// Slots of the encoder's memo.
const MEMO_SLOTS: usize = 16;

/// A field recently encoded as indexed, and where it is. Holding the buffers
/// keeps them alive and unchanged (`Bytes` are immutable), so a field whose
/// name and value are the same buffers (pointer and length) has the same
/// octets.
#[derive(Debug)]
struct Memo {
    name: Bytes,
    value: Bytes,
    at: Indexed,
}

/// Where an indexed field is.
#[derive(Clone, Copy, Debug)]
enum Indexed {
    /// A static table index: never changes.
    Static(usize),
    /// A dynamic entry's absolute insertion number: valid until evicted.
    Dynamic(u64),
}

fn same_buffer(a: &Bytes, b: &Bytes) -> bool {
    a.as_ptr() == b.as_ptr() && a.len() == b.len()
}

impl Default for Encoder {
    fn default() -> Self {
        Encoder::new()
    }
}

/// Representation bits of a literal field and its name-index prefix size.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Literal {
    Incremental,
    Without,
    NeverIndexed,
}

impl Literal {
    fn flags(self) -> u8 {
        match self {
            Literal::Incremental => 0x40,
            Literal::Without => 0x00,
            Literal::NeverIndexed => 0x10,
        }
    }

    fn prefix_bits(self) -> u8 {
        match self {
            Literal::Incremental => 6,
            Literal::Without | Literal::NeverIndexed => 4,
        }
    }
}

/// Where a literal's name comes from.
enum NameSource {
    Static(usize),
    Dynamic(usize),
    Literal,
}

impl Encoder {
    /// An encoder with the default table size (4096, the peer's initial
    /// `SETTINGS_HEADER_TABLE_SIZE`), Huffman coding when shorter and the
    /// default [`IndexPolicy`].
    pub fn new() -> Encoder {
        Encoder {
            table: EncoderTable::new(DEFAULT_TABLE_SIZE),
            target_size: DEFAULT_TABLE_SIZE,
            pending_smallest: None,
            huffman: HuffmanPolicy::WhenShorter,
            policy: IndexPolicy::Default,
            memo: Vec::new(),
        }
    }

    /// Chooses when string literals are Huffman-coded (default: when
    /// strictly shorter).
    pub fn set_huffman(&mut self, policy: HuffmanPolicy) {
        self.huffman = policy;
    }

    /// Chooses which fields are added to the dynamic table.
    pub fn set_index_policy(&mut self, policy: IndexPolicy) {
        self.policy = policy;
    }

    /// The peer's `SETTINGS_HEADER_TABLE_SIZE` changed. The encoder uses
    /// `min(size, MAX_ENCODER_TABLE_SIZE)` from the next block on, which
    /// starts with the dynamic table size update(s): the smallest size seen
    /// since the last block first if it is below the final one (RFC 7541 §4.2).
    /// Call it between blocks.
    pub fn set_max_table_size(&mut self, size: usize) {
        let size = size.min(MAX_ENCODER_TABLE_SIZE);
        self.target_size = size;
        let smallest = self.pending_smallest.map_or(size, |smallest| smallest.min(size));
        self.pending_smallest = Some(smallest);
    }

    /// The table size the encoder will use (after pending updates).
    pub fn max_table_size(&self) -> usize {
        self.target_size
    }

    /// Current dynamic table size (sum of entry sizes, RFC 7541 §4.1).
    pub fn table_size(&self) -> usize {
        self.table.size
    }

    /// Dynamic table entries as `(name, value)`, newest (index 62) first.
    pub fn table_entries(&self) -> impl ExactSizeIterator<Item = (&[u8], &[u8])> {
        self.table.entries.iter().map(|entry| (entry.name.as_ref(), entry.value.as_ref()))
    }

    /// The dynamic table's state; `None` while a table size update is due
    /// at the start of the next block.
    pub fn table_state(&self) -> Option<TableState> {
        if self.pending_smallest.is_some() {
            return None;
        }
        let t = &self.table;
        Some(TableState { inserted: t.next_id, max_size: t.max_size, len: t.entries.len() })
    }

    /// Starts a header block: emits pending dynamic table size updates.
    /// Every block must start with it ([`Encoder::encode`] does).
    pub fn begin_block(&mut self, dst: &mut Vec<u8>) {
        let Some(smallest) = self.pending_smallest.take() else {
            return;
        };
        if smallest < self.table.max_size.min(self.target_size) {
            self.emit_size_update(smallest, dst);
        }
        if self.table.max_size != self.target_size {
            self.emit_size_update(self.target_size, dst);
        }
    }

    /// Appends one field of the current block.
    pub fn encode_field(&mut self, name: &[u8], value: &[u8], sensitive: bool, dst: &mut Vec<u8>) {
        self.encode_field_at(name, value, sensitive, dst);
    }

    /// [`Encoder::encode_field`] for fields held as [`Bytes`]: a field whose
    /// name and value are the very buffers of a recently encoded indexed field
    /// (the same static strings, or clones of the same `Bytes`, as request
    /// after request uses) is found without hashing or comparing octets.
    ///
    /// `position` picks the memo slot (taken modulo its size): a caller that
    /// sends the same fields in the same order block after block passes each
    /// field's place in its block, so the fields never evict each other. Any
    /// value is correct; a poor one only costs memo misses.
    pub fn encode_shared(
        &mut self,
        position: usize,
        name: &Bytes,
        value: &Bytes,
        sensitive: bool,
        dst: &mut Vec<u8>,
    ) {
        if sensitive {
            return self.encode_field(name, value, true, dst);
        }
        let slot = position % MEMO_SLOTS;
        if let Some(memo) = self.memo.get(slot).and_then(Option::as_ref)
            && same_buffer(&memo.name, name)
            && same_buffer(&memo.value, value)
        {
            let index = match memo.at {
                Indexed::Static(index) => Some(index),
                Indexed::Dynamic(id) => self.table.live_index(id),
            };
            if let Some(index) = index {
                encode_integer(index, 7, 0x80, dst);
                return;
            }
        }
        if let Some(at) = self.encode_field_at(name, value, false, dst) {
            // Grown to the slots used (a server's responses and trailers
            // use six or so of them): the memo is kept per connection.
            if self.memo.len() <= slot {
                self.memo.reserve_exact(slot + 1 - self.memo.len());
                self.memo.resize_with(slot + 1, || None);
            }
            self.memo[slot] = Some(Memo { name: name.clone(), value: value.clone(), at });
        }
    }

    /// Encodes one field; returns where the field now is in a table (indexed,
    /// or just inserted), for the memo.
    fn encode_field_at(
        &mut self,
        name: &[u8],
        value: &[u8],
        sensitive: bool,
        dst: &mut Vec<u8>,
    ) -> Option<Indexed> {
        let static_match = static_lookup(name, value);
        if let (StaticMatch::Field(index), false) = (static_match, sensitive) {
            encode_integer(index, 7, 0x80, dst);
            return Some(Indexed::Static(index));
        }
        let hashes = self.table.hashes(name, value);
        if !sensitive && let Some(index) = self.table.find_field(name, value, hashes.field) {
            encode_integer(index, 7, 0x80, dst);
            return self.table.id_of(index).map(Indexed::Dynamic);
        }
        let source = match static_match {
            StaticMatch::Field(index) | StaticMatch::Name(index) => NameSource::Static(index),
            StaticMatch::None => match self.table.find_name(name, hashes.name) {
                Some(index) => NameSource::Dynamic(index),
                None => NameSource::Literal,
            },
        };
        let literal = if sensitive {
            Literal::NeverIndexed
        } else if self.should_index(name, value) {
            Literal::Incremental
        } else {
            Literal::Without
        };
        self.write_literal(literal, &source, name, value, dst);
        if literal != Literal::Incremental {
            return None;
        }
        let name = self.table.name_bytes(&source, name);
        self.table.insert(name, Bytes::copy_from_slice(value), hashes);
        // The newest entry, unless it was too large to keep.
        self.table.id_of(STATIC.len() + 1).map(Indexed::Dynamic)
    }

    /// Encodes a whole header block: [`Encoder::begin_block`], then every field.
    pub fn encode<'a, I: IntoIterator<Item = &'a HeaderField>>(&mut self, fields: I, dst: &mut Vec<u8>) {
        self.begin_block(dst);
        for field in fields {
            self.encode_field(&field.name, &field.value, field.sensitive, dst);
        }
    }

    fn emit_size_update(&mut self, size: usize, dst: &mut Vec<u8>) {
        encode_integer(size, 5, 0x20, dst);
        self.table.set_max_size(size);
    }

    fn should_index(&self, name: &[u8], value: &[u8]) -> bool {
        match self.policy {
            IndexPolicy::Always => true,
            IndexPolicy::Never => false,
            IndexPolicy::Default => {
                entry_size(name.len(), value.len()) <= self.table.max_size / 4 * 3
                    && !value_churns(name, value)
            }
        }
    }

    fn write_literal(
        &self,
        literal: Literal,
        source: &NameSource,
        name: &[u8],
        value: &[u8],
        dst: &mut Vec<u8>,
    ) {
        match *source {
            NameSource::Static(index) | NameSource::Dynamic(index) => {
                encode_integer(index, literal.prefix_bits(), literal.flags(), dst);
            }
            NameSource::Literal => {
                dst.push(literal.flags());
                self.write_string(name, dst);
            }
        }
        self.write_string(value, dst);
    }

    /// String literal (RFC 7541 §5.2), Huffman-coded as the policy says.
    fn write_string(&self, string: &[u8], dst: &mut Vec<u8>) {
        if self.huffman != HuffmanPolicy::Never {
            let huffman_len = huffman::encoded_len(string);
            let shorter = huffman_len < string.len();
            let not_longer = huffman_len <= string.len();
            if shorter || (not_longer && self.huffman == HuffmanPolicy::WhenNotLonger) {
                encode_integer(huffman_len, 7, 0x80, dst);
                dst.reserve(huffman_len);
                huffman::write_code(string, dst);
                return;
            }
        }
        encode_integer(string.len(), 7, 0, dst);
        dst.extend_from_slice(string);
    }
}

/// Keyed hashes of a field's name and of the whole field.
#[derive(Clone, Copy, Debug)]
struct FieldHashes {
    name: u64,
    field: u64,
}

/// An entry of the encoder's dynamic table.
#[derive(Debug)]
struct Entry {
    name: Bytes,
    value: Bytes,
    hashes: FieldHashes,
}

/// The encoder's dynamic table: a ring of entries (newest first) plus maps
/// from keyed hashes to absolute insertion numbers, so eviction touches one
/// map slot and never renumbers. A hash collision only costs a missed match.
#[derive(Debug)]
struct EncoderTable {
    entries: VecDeque<Entry>,
    size: usize,
    max_size: usize,
    /// Absolute number the next inserted entry gets.
    next_id: u64,
    by_field: HashMap<u64, u64, BuildHasherDefault<PrehashedKey>>,
    by_name: HashMap<u64, u64, BuildHasherDefault<PrehashedKey>>,
    hash_seed: u64,
}

impl EncoderTable {
    fn new(max_size: usize) -> Self {
        EncoderTable {
            entries: VecDeque::new(),
            size: 0,
            max_size,
            next_id: 0,
            by_field: HashMap::default(),
            by_name: HashMap::default(),
            hash_seed: crate::hash::random_seed(),
        }
    }

    /// Hashes the name, then the name and value (length-delimited).
    fn hashes(&self, name: &[u8], value: &[u8]) -> FieldHashes {
        let mut hasher = crate::hash::FxHasher::with_seed(self.hash_seed);
        hasher.write(name);
        hasher.write_usize(name.len());
        let name_hash = hasher.finish();
        hasher.write(value);
        FieldHashes { name: name_hash, field: hasher.finish() }
    }

    /// HPACK index of the entry `name: value`, if present.
    fn find_field(&self, name: &[u8], value: &[u8], field_hash: u64) -> Option<usize> {
        let id = *self.by_field.get(&field_hash)?;
        let entry = self.entry(id)?;
        (entry.name == name && entry.value == value).then(|| self.hpack_index(id))
    }

    /// HPACK index of the newest entry named `name`, if present.
    fn find_name(&self, name: &[u8], name_hash: u64) -> Option<usize> {
        let id = *self.by_name.get(&name_hash)?;
        (self.entry(id)?.name == name).then(|| self.hpack_index(id))
    }

    fn entry(&self, id: u64) -> Option<&Entry> {
        let age = usize::try_from(self.next_id.checked_sub(id)?.checked_sub(1)?).ok()?;
        self.entries.get(age)
    }

    /// The HPACK index of the entry numbered `id`, if not evicted yet.
    fn live_index(&self, id: u64) -> Option<usize> {
        let oldest = self.next_id - self.entries.len() as u64;
        (id >= oldest && id < self.next_id).then(|| self.hpack_index(id))
    }

    /// The absolute number of the dynamic entry at HPACK index `index`.
    fn id_of(&self, index: usize) -> Option<u64> {
        let age = index.checked_sub(STATIC.len() + 1)?;
        (age < self.entries.len()).then(|| self.next_id - 1 - age as u64)
    }

    fn hpack_index(&self, id: u64) -> usize {
        let age = (self.next_id - id - 1) as usize;
        STATIC.len() + 1 + age
    }

    /// The name as [`Bytes`] for a new entry, sharing storage when it came
    /// from a table.
    fn name_bytes(&self, source: &NameSource, name: &[u8]) -> Bytes {
        match *source {
            NameSource::Static(index) => Bytes::from_static(STATIC[index - 1].0),
            NameSource::Dynamic(index) => self
                .entries
                .get(index - STATIC.len() - 1)
                .map_or_else(|| Bytes::copy_from_slice(name), |entry| entry.name.clone()),
            NameSource::Literal => Bytes::copy_from_slice(name),
        }
    }

    fn set_max_size(&mut self, max_size: usize) {
        self.max_size = max_size;
        self.evict_to(max_size);
    }

    /// Inserts per RFC 7541 §4.4: evict until it fits; too large empties the table.
    fn insert(&mut self, name: Bytes, value: Bytes, hashes: FieldHashes) {
        let size = entry_size(name.len(), value.len());
        if size > self.max_size {
            self.evict_to(0);
            return;
        }
        self.evict_to(self.max_size - size);
        let id = self.next_id;
        self.next_id += 1;
        self.by_field.insert(hashes.field, id);
        self.by_name.insert(hashes.name, id);
        self.entries.push_front(Entry { name, value, hashes });
        self.size += size;
    }

    fn evict_to(&mut self, target: usize) {
        while self.size > target {
            let oldest_id = self.next_id - self.entries.len() as u64;
            let Some(entry) = self.entries.pop_back() else {
                self.size = 0;
                break;
            };
            self.size -= entry_size(entry.name.len(), entry.value.len());
            remove_if_points_to(&mut self.by_field, entry.hashes.field, oldest_id);
            remove_if_points_to(&mut self.by_name, entry.hashes.name, oldest_id);
        }
    }
}

fn remove_if_points_to(map: &mut HashMap<u64, u64, BuildHasherDefault<PrehashedKey>>, key: u64, id: u64) {
    if map.get(&key) == Some(&id) {
        map.remove(&key);
    }
}

/// Hasher for keys that already are keyed hashes: passes them through.
#[derive(Default)]
struct PrehashedKey(u64);

impl Hasher for PrehashedKey {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for &byte in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(byte);
        }
    }

    fn write_u64(&mut self, value: u64) {
        self.0 = value;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hpack::Decoder;

    fn block(encoder: &mut Encoder, fields: &[(&str, &str)]) -> Vec<u8> {
        let mut dst = Vec::new();
        encoder.begin_block(&mut dst);
        for (name, value) in fields {
            encoder.encode_field(name.as_bytes(), value.as_bytes(), false, &mut dst);
        }
        dst
    }

    #[test]
    fn repeated_field_becomes_one_octet() {
        let mut encoder = Encoder::new();
        let first = block(&mut encoder, &[("content-type", "application/grpc")]);
        assert_eq!(first[0], 0x40 | 31);
        assert_eq!(block(&mut encoder, &[("content-type", "application/grpc")]), [0x80 | 62]);
    }

    #[test]
    fn shared_fields_match_plain_encoding_whatever_the_memo_positions() {
        let fields = [
            (Bytes::from_static(b"content-type"), Bytes::from_static(b"application/grpc")),
            (Bytes::from_static(b"te"), Bytes::from_static(b"trailers")),
            (Bytes::from_static(b":path"), Bytes::from_static(b"/a.B/C")),
        ];
        let mut plain = Encoder::new();
        let mut shared = Encoder::new();
        let mut decoder = Decoder::new(4096);
        // Same positions block after block (memo hits), then every field
        // forced into one slot (each evicts the last), then positions past
        // the memo's size.
        for positions in [[0, 1, 2], [0, 1, 2], [5, 5, 5], [5, 5, 5], [31, 32, 1000], [0, 1, 2]] {
            let mut want = Vec::new();
            let mut got = Vec::new();
            plain.begin_block(&mut want);
            shared.begin_block(&mut got);
            for ((name, value), position) in fields.iter().zip(positions) {
                plain.encode_field(name, value, false, &mut want);
                shared.encode_shared(position, name, value, false, &mut got);
            }
            assert_eq!(got, want, "positions {positions:?}");
            let mut decoded = Vec::new();
            decoder.decode(&Bytes::from(got), 1 << 16, |f| decoded.push((f.name, f.value))).unwrap();
            assert_eq!(decoded, fields, "positions {positions:?}");
        }
    }

    #[test]
    fn static_field_is_indexed() {
        assert_eq!(block(&mut Encoder::new(), &[(":method", "POST")]), [0x83]);
    }

    #[test]
    fn sensitive_field_is_never_indexed_even_when_in_the_static_table() {
        let mut encoder = Encoder::new();
        let mut dst = Vec::new();
        encoder.encode_field(b":method", b"GET", true, &mut dst);
        assert_eq!(dst, [0x12, 0x03, b'G', b'E', b'T']);
        dst.clear();
        encoder.encode_field(b"authorization", b"secret", true, &mut dst);
        assert_eq!(dst[0], 0x1f);
        assert_eq!(encoder.table_size(), 0);
    }

    #[test]
    fn churning_values_are_not_indexed() {
        let mut encoder = Encoder::new();
        let wire = block(&mut encoder, &[("grpc-timeout", "1S"), ("content-length", "12")]);
        assert_eq!(wire[0], 0x00);
        assert_eq!(encoder.table_size(), 0);
        let long_path = format!("/{}", "a".repeat(MAX_INDEXED_PATH_LEN));
        block(&mut encoder, &[(":path", &long_path)]);
        assert_eq!(encoder.table_size(), 0);
        block(&mut encoder, &[(":path", "/helloworld.Greeter/SayHello")]);
        assert_eq!(encoder.table_size(), 5 + 28 + 32);
    }

    #[test]
    fn fields_over_three_quarters_of_the_table_are_not_indexed() {
        let mut encoder = Encoder::new();
        encoder.set_max_table_size(100);
        block(&mut encoder, &[("a", &"x".repeat(100 / 4 * 3 - 33 + 1))]);
        assert_eq!(encoder.table_size(), 0);
        block(&mut encoder, &[("a", &"x".repeat(100 / 4 * 3 - 33))]);
        assert_eq!(encoder.table_size(), 75);
    }

    #[test]
    fn dynamic_name_match_is_used() {
        let mut encoder = Encoder::new();
        block(&mut encoder, &[("x-custom", "one")]);
        let wire = block(&mut encoder, &[("x-custom", "two")]);
        assert_eq!(wire[0], 0x40 | 62);
        // The new entry shares the name storage of the old one.
        let mut names = encoder.table.entries.iter().map(|e| e.name.as_ptr());
        assert_eq!(names.next(), names.next());
    }

    #[test]
    fn size_updates_shrink_then_grow() {
        let mut encoder = Encoder::new();
        block(&mut encoder, &[("x-a", "1")]);
        encoder.set_max_table_size(0);
        encoder.set_max_table_size(4096);
        let wire = block(&mut encoder, &[]);
        assert_eq!(wire, [0x20, 0x3f, 0xe1, 0x1f]);
        assert_eq!(encoder.table_size(), 0);
        assert_eq!(block(&mut encoder, &[]), []);
    }

    #[test]
    fn size_update_is_capped_and_only_sent_on_change() {
        let mut encoder = Encoder::new();
        encoder.set_max_table_size(4096);
        assert_eq!(block(&mut encoder, &[]), []);
        encoder.set_max_table_size(1 << 20);
        assert_eq!(encoder.max_table_size(), MAX_ENCODER_TABLE_SIZE);
        let mut expected = Vec::new();
        encode_integer(MAX_ENCODER_TABLE_SIZE, 5, 0x20, &mut expected);
        assert_eq!(block(&mut encoder, &[]), expected);
    }

    #[test]
    fn eviction_keeps_lookups_consistent() {
        let mut encoder = Encoder::new();
        encoder.set_index_policy(IndexPolicy::Always);
        encoder.set_max_table_size(3 * 34);
        let mut decoder = Decoder::new(3 * 34);
        for round in 0..50 {
            let name = format!("n{}", round % 7);
            let value = format!("{}", round % 5);
            let wire = block(&mut encoder, &[(&name, &value), ("n0", "0")]);
            let mut fields = Vec::new();
            decoder.decode(&Bytes::from(wire), usize::MAX, |f| fields.push(f)).unwrap();
            assert_eq!(fields, [HeaderField::new(name, value), HeaderField::new("n0", "0")]);
            assert!(encoder.table_entries().eq(decoder.table_entries()));
            assert_eq!(encoder.by_field_len(), encoder.table.entries.len());
        }
    }

    impl Encoder {
        fn by_field_len(&self) -> usize {
            self.table.by_field.len()
        }
    }
}
