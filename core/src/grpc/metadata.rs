//! Custom metadata (PROTOCOL-HTTP2 "Custom-Metadata"): ASCII keys and values
//! validated, `-bin` keys carried base64-encoded, reserved headers kept out.

use std::fmt;

use bytes::Bytes;

use super::base64;
use crate::hpack::HeaderField;

/// Why a metadata entry was rejected.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MetadataError {
    /// Key empty or outside `[0-9a-z_.-]`.
    InvalidKey,
    /// ASCII value outside 0x20..=0x7E.
    InvalidValue,
    /// A reserved header name (`grpc-status`, `content-type`, ...).
    Reserved,
    /// A binary value given for an ASCII key or the reverse.
    WrongKind,
    /// A received `-bin` value that is not valid base64.
    InvalidBase64,
}

impl fmt::Display for MetadataError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self, f)
    }
}

impl std::error::Error for MetadataError {}

/// True for header names gRPC reserves for itself (never user metadata).
pub fn is_reserved(name: &[u8]) -> bool {
    // Dispatch on the first octet: most names are settled without a compare.
    match name.first() {
        Some(b':') => true,
        Some(b'c') => name == b"content-type",
        Some(b't') => name == b"te",
        Some(b'g') => matches!(
            name,
            b"grpc-timeout"
                | b"grpc-encoding"
                | b"grpc-accept-encoding"
                | b"grpc-status"
                | b"grpc-message"
                | b"grpc-status-details-bin"
                | b"grpc-message-type"
        ),
        _ => false,
    }
}

/// True for keys whose values are binary (`-bin` suffix).
pub fn is_binary_key(key: &[u8]) -> bool {
    key.ends_with(b"-bin")
}

fn valid_key(key: &[u8]) -> bool {
    !key.is_empty() && key.iter().all(|&b| matches!(b, b'0'..=b'9' | b'a'..=b'z' | b'_' | b'-' | b'.'))
}

fn valid_ascii_value(v: &[u8]) -> bool {
    v.iter().all(|b| (0x20..=0x7e).contains(b))
}

/// An ordered list of metadata entries; keys may repeat.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Metadata {
    /// Entries as header fields (binary values decoded), the form they are
    /// received and sent in.
    entries: Vec<HeaderField>,
}

impl Metadata {
    /// Empty metadata.
    pub fn new() -> Self {
        Metadata::default()
    }

    /// Appends an ASCII entry.
    pub fn append(&mut self, key: &str, value: &str) -> Result<(), MetadataError> {
        self.append_bytes(Bytes::copy_from_slice(key.as_bytes()), Bytes::copy_from_slice(value.as_bytes()))
    }

    /// Appends an entry from owned parts; the key decides ASCII or binary.
    pub fn append_bytes(&mut self, key: Bytes, value: Bytes) -> Result<(), MetadataError> {
        if !valid_key(&key) {
            return Err(MetadataError::InvalidKey);
        }
        if is_reserved(&key) {
            return Err(MetadataError::Reserved);
        }
        if !is_binary_key(&key) && !valid_ascii_value(&value) {
            return Err(MetadataError::InvalidValue);
        }
        self.entries.push(HeaderField { name: key, value, sensitive: false });
        Ok(())
    }

    /// Appends a binary entry; `key` must end in `-bin`.
    pub fn append_bin(&mut self, key: &str, value: impl Into<Bytes>) -> Result<(), MetadataError> {
        if !is_binary_key(key.as_bytes()) {
            return Err(MetadataError::WrongKind);
        }
        self.append_bytes(Bytes::copy_from_slice(key.as_bytes()), value.into())
    }

    /// Replaces all entries of `key` with one ASCII value.
    pub fn insert(&mut self, key: &str, value: &str) -> Result<(), MetadataError> {
        self.remove(key);
        self.append(key, value)
    }

    /// The first value for `key` (decoded bytes for `-bin` keys).
    pub fn get(&self, key: &str) -> Option<&Bytes> {
        self.entries.iter().find(|f| f.name.as_ref() == key.as_bytes()).map(|f| &f.value)
    }

    /// The first value for `key` as text, for ASCII keys.
    pub fn get_str(&self, key: &str) -> Option<&str> {
        self.get(key).filter(|_| !is_binary_key(key.as_bytes())).and_then(|v| std::str::from_utf8(v).ok())
    }

    /// Every value for `key`, in order.
    pub fn get_all<'a>(&'a self, key: &'a str) -> impl Iterator<Item = &'a Bytes> + 'a {
        self.entries.iter().filter(move |f| f.name.as_ref() == key.as_bytes()).map(|f| &f.value)
    }

    /// Removes every entry of `key`; returns how many.
    pub fn remove(&mut self, key: &str) -> usize {
        let before = self.entries.len();
        self.entries.retain(|f| f.name.as_ref() != key.as_bytes());
        before - self.entries.len()
    }

    /// Entries in order.
    pub fn iter(&self) -> impl Iterator<Item = (&Bytes, &Bytes)> {
        self.entries.iter().map(|f| (&f.name, &f.value))
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// True when empty.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Appends every entry of `other`.
    pub fn extend(&mut self, other: Metadata) {
        self.entries.extend(other.entries);
    }

    /// Builds metadata from received header fields: reserved names skipped,
    /// `-bin` values split on ',' and base64-decoded.
    pub fn from_fields<'a>(
        fields: impl IntoIterator<Item = &'a HeaderField>,
    ) -> Result<Metadata, MetadataError> {
        let mut md = Metadata::new();
        for f in fields {
            if is_reserved(&f.name) {
                continue;
            }
            if is_binary_key(&f.name) {
                for part in f.value.split(|&b| b == b',') {
                    let part = part.trim_ascii();
                    let decoded = base64::decode(part).ok_or(MetadataError::InvalidBase64)?;
                    md.entries.push(HeaderField::new(f.name.clone(), Bytes::from(decoded)));
                }
            } else {
                md.entries.push(HeaderField::new(f.name.clone(), f.value.clone()));
            }
        }
        Ok(md)
    }

    /// Builds metadata from received header fields, in place: reserved names
    /// dropped, `-bin` values split on ',' and base64-decoded.
    pub fn from_header_vec(mut fields: Vec<HeaderField>) -> Result<Metadata, MetadataError> {
        fields.retain(|f| !is_reserved(&f.name));
        Metadata::from_unreserved(fields)
    }

    /// The metadata among received header fields (copies of the unreserved
    /// ones; nothing is allocated when there are none, the usual case).
    pub(crate) fn from_received(fields: &[HeaderField]) -> Result<Metadata, MetadataError> {
        Metadata::from_unreserved(fields.iter().filter(|f| !is_reserved(&f.name)).cloned().collect())
    }

    fn from_unreserved(mut fields: Vec<HeaderField>) -> Result<Metadata, MetadataError> {
        if fields.iter().any(|f| is_binary_key(&f.name) && f.value.contains(&b',')) {
            // Joined binary values need splitting: the rare slow path.
            return Metadata::from_fields(&fields);
        }
        for f in fields.iter_mut().filter(|f| is_binary_key(&f.name)) {
            let decoded = base64::decode(f.value.trim_ascii()).ok_or(MetadataError::InvalidBase64)?;
            f.value = Bytes::from(decoded);
        }
        for f in &mut fields {
            f.sensitive = false;
        }
        Ok(Metadata { entries: fields })
    }

    /// Appends the entries as header fields (`-bin` values base64-encoded).
    pub fn to_fields(&self, out: &mut Vec<HeaderField>) {
        for f in &self.entries {
            let value =
                if is_binary_key(&f.name) { Bytes::from(base64::encode(&f.value)) } else { f.value.clone() };
            out.push(HeaderField { name: f.name.clone(), value, sensitive: false });
        }
    }
}

impl fmt::Debug for Metadata {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut m = f.debug_map();
        for e in &self.entries {
            let key = String::from_utf8_lossy(&e.name);
            if is_binary_key(&e.name) {
                m.entry(&key, &format_args!("<{} bytes>", e.value.len()));
            } else {
                m.entry(&key, &String::from_utf8_lossy(&e.value));
            }
        }
        m.finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reserved_names_are_exactly_grpcs_own() {
        for name in [
            &b":path"[..],
            b":status",
            b"content-type",
            b"te",
            b"grpc-timeout",
            b"grpc-encoding",
            b"grpc-accept-encoding",
            b"grpc-status",
            b"grpc-message",
            b"grpc-status-details-bin",
            b"grpc-message-type",
        ] {
            assert!(is_reserved(name), "{}", String::from_utf8_lossy(name));
        }
        for name in
            [&b""[..], b"c", b"t", b"g", b"tee", b"content-types", b"grpc-custom", b"user-agent", b"x-te"]
        {
            assert!(!is_reserved(name), "{}", String::from_utf8_lossy(name));
        }
    }

    #[test]
    fn ascii_and_binary_entries_round_trip_through_fields() {
        let mut md = Metadata::new();
        md.append("x-user", "alice").unwrap();
        md.append("x-user", "bob").unwrap();
        md.append_bin("trace-bin", vec![0u8, 1, 2, 255]).unwrap();
        let mut fields = Vec::new();
        md.to_fields(&mut fields);
        assert_eq!(&fields[2].value[..], b"AAEC/w", "unpadded base64 on the wire");
        let back = Metadata::from_fields(&fields).unwrap();
        assert_eq!(back, md);
        assert_eq!(back.get_all("x-user").count(), 2);
        assert_eq!(back.get_str("x-user"), Some("alice"));
        assert_eq!(&back.get("trace-bin").unwrap()[..], &[0, 1, 2, 255]);
    }

    #[test]
    fn validation() {
        let mut md = Metadata::new();
        assert_eq!(md.append("X-Upper", "v"), Err(MetadataError::InvalidKey));
        assert_eq!(md.append("", "v"), Err(MetadataError::InvalidKey));
        assert_eq!(md.append("k", "caf\u{e9}"), Err(MetadataError::InvalidValue));
        assert_eq!(md.append("k", "a\nb"), Err(MetadataError::InvalidValue));
        assert_eq!(md.append("grpc-status", "0"), Err(MetadataError::Reserved));
        assert_eq!(md.append("content-type", "x"), Err(MetadataError::Reserved));
        assert_eq!(md.append_bin("not-binary", vec![1]), Err(MetadataError::WrongKind));
        assert!(md.is_empty());
    }

    #[test]
    fn received_fields_skip_reserved_and_accept_padded_or_split_binary() {
        let fields = [
            HeaderField::new(":path", "/a/b"),
            HeaderField::new("content-type", "application/grpc"),
            HeaderField::new("grpc-timeout", "1S"),
            HeaderField::new("user-agent", "grpc-python/1.0"),
            HeaderField::new("x-bin", "AAE=, AgM"),
        ];
        let md = Metadata::from_fields(&fields).unwrap();
        assert_eq!(md.len(), 3);
        assert_eq!(md.get_str("user-agent"), Some("grpc-python/1.0"));
        let bins: Vec<&[u8]> = md.get_all("x-bin").map(|v| &v[..]).collect();
        assert_eq!(bins, vec![&[0u8, 1][..], &[2u8, 3][..]]);
        let bad = [HeaderField::new("x-bin", "!!")];
        assert_eq!(Metadata::from_fields(&bad), Err(MetadataError::InvalidBase64));
    }
}
