//! The static table (RFC 7541 Appendix A) and the decoder's dynamic table
//! (RFC 7541 §2.3.2, §4).

use super::ENTRY_OVERHEAD;
use bytes::Bytes;
use std::collections::VecDeque;

/// Number of static table entries; dynamic indices start after it.
pub(super) const STATIC_LEN: usize = 61;

/// The static table; HPACK index `i` is `STATIC[i - 1]`.
pub(super) static STATIC: [(&[u8], &[u8]); STATIC_LEN] = [
    (b":authority", b""),
    (b":method", b"GET"),
    (b":method", b"POST"),
    (b":path", b"/"),
    (b":path", b"/index.html"),
    (b":scheme", b"http"),
    (b":scheme", b"https"),
    (b":status", b"200"),
    (b":status", b"204"),
    (b":status", b"206"),
    (b":status", b"304"),
    (b":status", b"400"),
    (b":status", b"404"),
    (b":status", b"500"),
    (b"accept-charset", b""),
    (b"accept-encoding", b"gzip, deflate"),
    (b"accept-language", b""),
    (b"accept-ranges", b""),
    (b"accept", b""),
    (b"access-control-allow-origin", b""),
    (b"age", b""),
    (b"allow", b""),
    (b"authorization", b""),
    (b"cache-control", b""),
    (b"content-disposition", b""),
    (b"content-encoding", b""),
    (b"content-language", b""),
    (b"content-length", b""),
    (b"content-location", b""),
    (b"content-range", b""),
    (b"content-type", b""),
    (b"cookie", b""),
    (b"date", b""),
    (b"etag", b""),
    (b"expect", b""),
    (b"expires", b""),
    (b"from", b""),
    (b"host", b""),
    (b"if-match", b""),
    (b"if-modified-since", b""),
    (b"if-none-match", b""),
    (b"if-range", b""),
    (b"if-unmodified-since", b""),
    (b"last-modified", b""),
    (b"link", b""),
    (b"location", b""),
    (b"max-forwards", b""),
    (b"proxy-authenticate", b""),
    (b"proxy-authorization", b""),
    (b"range", b""),
    (b"referer", b""),
    (b"refresh", b""),
    (b"retry-after", b""),
    (b"server", b""),
    (b"set-cookie", b""),
    (b"strict-transport-security", b""),
    (b"transfer-encoding", b""),
    (b"user-agent", b""),
    (b"vary", b""),
    (b"via", b""),
    (b"www-authenticate", b""),
];

/// The static entry at HPACK index `index` (1-based) as refcount-free
/// [`Bytes`], or `None` past the static table.
pub(super) fn static_entry(index: usize) -> Option<(Bytes, Bytes)> {
    let (name, value) = STATIC.get(index.checked_sub(1)?)?;
    Some((Bytes::from_static(name), Bytes::from_static(value)))
}

/// The HPACK indices `first..=last` of the static entries named `name`.
pub(super) fn static_name_indices(name: &[u8]) -> Option<(usize, usize)> {
    let range = match name {
        b":authority" => (1, 1),
        b":method" => (2, 3),
        b":path" => (4, 5),
        b":scheme" => (6, 7),
        b":status" => (8, 14),
        b"accept-charset" => (15, 15),
        b"accept-encoding" => (16, 16),
        b"accept-language" => (17, 17),
        b"accept-ranges" => (18, 18),
        b"accept" => (19, 19),
        b"access-control-allow-origin" => (20, 20),
        b"age" => (21, 21),
        b"allow" => (22, 22),
        b"authorization" => (23, 23),
        b"cache-control" => (24, 24),
        b"content-disposition" => (25, 25),
        b"content-encoding" => (26, 26),
        b"content-language" => (27, 27),
        b"content-length" => (28, 28),
        b"content-location" => (29, 29),
        b"content-range" => (30, 30),
        b"content-type" => (31, 31),
        b"cookie" => (32, 32),
        b"date" => (33, 33),
        b"etag" => (34, 34),
        b"expect" => (35, 35),
        b"expires" => (36, 36),
        b"from" => (37, 37),
        b"host" => (38, 38),
        b"if-match" => (39, 39),
        b"if-modified-since" => (40, 40),
        b"if-none-match" => (41, 41),
        b"if-range" => (42, 42),
        b"if-unmodified-since" => (43, 43),
        b"last-modified" => (44, 44),
        b"link" => (45, 45),
        b"location" => (46, 46),
        b"max-forwards" => (47, 47),
        b"proxy-authenticate" => (48, 48),
        b"proxy-authorization" => (49, 49),
        b"range" => (50, 50),
        b"referer" => (51, 51),
        b"refresh" => (52, 52),
        b"retry-after" => (53, 53),
        b"server" => (54, 54),
        b"set-cookie" => (55, 55),
        b"strict-transport-security" => (56, 56),
        b"transfer-encoding" => (57, 57),
        b"user-agent" => (58, 58),
        b"vary" => (59, 59),
        b"via" => (60, 60),
        b"www-authenticate" => (61, 61),
        _ => return None,
    };
    Some(range)
}

/// What the static table offers for a field.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum StaticMatch {
    /// No entry has this name.
    None,
    /// Entry with this HPACK index has the name but another value.
    Name(usize),
    /// Entry with this HPACK index has the name and the value.
    Field(usize),
}

/// Finds `name: value` in the static table: at most 7 value comparisons
/// after a `match` on the name.
pub(super) fn static_lookup(name: &[u8], value: &[u8]) -> StaticMatch {
    let Some((first, last)) = static_name_indices(name) else {
        return StaticMatch::None;
    };
    let found = STATIC
        .get(first - 1..last)
        .and_then(|entries| entries.iter().position(|&(_, entry_value)| entry_value == value));
    match found {
        Some(offset) => StaticMatch::Field(first + offset),
        None => StaticMatch::Name(first),
    }
}

/// The decoder's dynamic table: newest entry first, O(1) insertion and
/// eviction, sizes counted as in RFC 7541 §4.1.
#[derive(Debug)]
pub(super) struct DynamicTable {
    /// `(name, value, chars_valid)`: the last says the name and value pass
    /// RFC 9113 §8.2.1's character rules, checked once on insertion.
    entries: VecDeque<(Bytes, Bytes, bool)>,
    size: usize,
    max_size: usize,
    /// Changes whenever an index may come to mean another entry.
    generation: u64,
}

impl DynamicTable {
    /// An empty table that may hold `max_size` octets.
    pub(super) fn new(max_size: usize) -> Self {
        DynamicTable { entries: VecDeque::new(), size: 0, max_size, generation: 0 }
    }

    /// A counter that changes on every insertion and size change: equal
    /// generations mean every index names the same entry.
    pub(super) fn generation(&self) -> u64 {
        self.generation
    }

    /// Current size: the sum of entry sizes.
    pub(super) fn size(&self) -> usize {
        self.size
    }

    /// Current maximum size, as last set by the peer's encoder (or clamped by us).
    pub(super) fn max_size(&self) -> usize {
        self.max_size
    }

    /// Entries, newest first.
    pub(super) fn entries(&self) -> impl ExactSizeIterator<Item = (&Bytes, &Bytes)> {
        self.entries.iter().map(|(name, value, _)| (name, value))
    }

    /// The entry at HPACK index `index` (static or dynamic), cloned by refcount.
    #[cfg(test)]
    pub(super) fn get(&self, index: usize) -> Option<(Bytes, Bytes)> {
        self.get_checked(index).map(|(name, value, _)| (name, value))
    }

    /// The entry at HPACK index `index`, cloned by refcount, and whether its
    /// characters are valid field characters (RFC 9113 §8.2.1; every static
    /// entry's are).
    pub(super) fn get_checked(&self, index: usize) -> Option<(Bytes, Bytes, bool)> {
        if index <= STATIC_LEN {
            return static_entry(index).map(|(name, value)| (name, value, true));
        }
        let (name, value, valid) = self.entries.get(index - STATIC_LEN - 1)?;
        Some((name.clone(), value.clone(), *valid))
    }

    /// The name at HPACK index `index`, cloned by refcount.
    pub(super) fn name(&self, index: usize) -> Option<Bytes> {
        if index <= STATIC_LEN {
            return static_entry(index).map(|(name, _)| name);
        }
        self.entries.get(index - STATIC_LEN - 1).map(|(name, _, _)| name.clone())
    }

    /// Sets the maximum size, evicting the oldest entries to fit.
    pub(super) fn set_max_size(&mut self, max_size: usize) {
        self.generation += 1;
        self.max_size = max_size;
        self.evict_to(max_size);
    }

    /// Inserts an entry of `entry_size(name, value)` octets (RFC 7541 §4.4):
    /// evicts until it fits; an entry larger than the table empties it.
    ///
    /// The entry is copied into one allocation of its own: literals arrive as
    /// slices of the peer's receive buffers, and a table of small entries must
    /// not keep dozens of those buffers alive.
    pub(super) fn insert(&mut self, name: Bytes, value: Bytes) {
        self.generation += 1;
        let size = entry_size(name.len(), value.len());
        if size > self.max_size {
            self.entries.clear();
            self.size = 0;
            return;
        }
        self.evict_to(self.max_size - size);
        self.size += size;
        let mut owned = bytes::BytesMut::with_capacity(name.len() + value.len());
        owned.extend_from_slice(&name);
        owned.extend_from_slice(&value);
        let owned = owned.freeze();
        let valid = crate::headers::is_valid_value(&value)
            && (name.first() == Some(&b':') || crate::headers::is_valid_name(&name));
        self.entries.push_front((owned.slice(..name.len()), owned.slice(name.len()..), valid));
    }

    /// Empties the table when an entry of `size` octets would not fit at all,
    /// without materialising the entry. Returns whether it did.
    pub(super) fn clear_if_larger_than_max(&mut self, size: usize) -> bool {
        if size > self.max_size {
            self.entries.clear();
            self.size = 0;
            return true;
        }
        false
    }

    /// Evicts oldest entries until the size is at most `target`.
    fn evict_to(&mut self, target: usize) {
        while self.size > target {
            match self.entries.pop_back() {
                Some((name, value, _)) => self.size -= entry_size(name.len(), value.len()),
                None => {
                    self.size = 0;
                    break;
                }
            }
        }
    }
}

/// Size of an entry as counted by RFC 7541 §4.1 (saturating: a field that
/// large can never fit in a table or a header list).
pub(super) fn entry_size(name_len: usize, value_len: usize) -> usize {
    name_len.saturating_add(value_len).saturating_add(ENTRY_OVERHEAD)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn static_table_matches_appendix_a_landmarks() {
        assert_eq!(STATIC[0], (b":authority".as_slice(), b"".as_slice()));
        assert_eq!(STATIC[1], (b":method".as_slice(), b"GET".as_slice()));
        assert_eq!(STATIC[15], (b"accept-encoding".as_slice(), b"gzip, deflate".as_slice()));
        assert_eq!(STATIC[60], (b"www-authenticate".as_slice(), b"".as_slice()));
    }

    #[test]
    fn name_ranges_agree_with_the_table() {
        for (position, &(name, _)) in STATIC.iter().enumerate() {
            let index = position + 1;
            let (first, last) = static_name_indices(name).unwrap();
            assert!((first..=last).contains(&index), "{index}");
            assert!(STATIC[first - 1..last].iter().all(|&(n, _)| n == name));
            let before = first.checked_sub(2).map(|i| STATIC[i].0);
            assert_ne!(before, Some(name));
            assert_ne!(STATIC.get(last).map(|e| e.0), Some(name));
        }
    }

    #[test]
    fn static_lookup_finds_fields_and_names() {
        assert_eq!(static_lookup(b":method", b"POST"), StaticMatch::Field(3));
        assert_eq!(static_lookup(b":method", b"PUT"), StaticMatch::Name(2));
        assert_eq!(static_lookup(b":status", b"500"), StaticMatch::Field(14));
        assert_eq!(static_lookup(b"content-type", b""), StaticMatch::Field(31));
        assert_eq!(static_lookup(b"content-type", b"application/grpc"), StaticMatch::Name(31));
        assert_eq!(static_lookup(b"grpc-status", b"0"), StaticMatch::None);
    }

    #[test]
    fn insertion_evicts_oldest_first() {
        let mut table = DynamicTable::new(100);
        table.insert(Bytes::from_static(b"a"), Bytes::from_static(b"1")); // 34
        table.insert(Bytes::from_static(b"b"), Bytes::from_static(b"2")); // 34
        assert_eq!(table.size(), 68);
        table.insert(Bytes::from_static(b"c"), Bytes::from_static(b"3"));
        assert_eq!(table.size(), 68);
        assert_eq!(table.get(62), Some((Bytes::from_static(b"c"), Bytes::from_static(b"3"))));
        assert_eq!(table.get(63), Some((Bytes::from_static(b"b"), Bytes::from_static(b"2"))));
        assert_eq!(table.get(64), None);
        table.set_max_size(40);
        assert_eq!(table.size(), 34);
        assert_eq!(table.entries().len(), 1);
        table.insert(Bytes::from_static(b"long-name"), Bytes::from_static(b"x"));
        assert_eq!(table.size(), 0);
        assert_eq!(table.entries().len(), 0);
    }

    #[test]
    fn index_zero_is_absent() {
        let table = DynamicTable::new(4096);
        assert_eq!(table.get(0), None);
        assert_eq!(table.name(0), None);
        assert_eq!(table.get(61).map(|e| e.0), Some(Bytes::from_static(b"www-authenticate")));
    }
}
