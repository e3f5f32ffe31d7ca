//! HPACK header compression (RFC 7541), written for HTTP/2 servers under attack.
//!
//! * [`Decoder`] walks a header block once with a cursor (linear time), keeps
//!   dynamic-table entries as [`Bytes`] so an indexed field costs a refcount,
//!   and enforces the header-list-size limit while decoding: past the limit it
//!   keeps the table in sync but stops emitting fields and reports it.
//! * [`Encoder`] finds table matches by hash, uses Huffman only when shorter,
//!   never indexes sensitive fields and signals table-size changes at the start
//!   of the next block.
//! * Huffman decoding is table driven: a state machine over 4-bit nibbles,
//!   generated at compile time, with two nibble steps composed per lookup.

mod decoder;
mod encoder;
mod error;
pub mod huffman;
mod integer;
mod table;

pub use decoder::{Decoded, Decoder};
pub use encoder::{
    Encoder, HuffmanPolicy, IndexPolicy, MAX_ENCODER_TABLE_SIZE, MAX_INDEXED_PATH_LEN, TableState,
    value_churns,
};
pub use error::{DecoderError, HuffmanError};

use bytes::Bytes;

/// Default `SETTINGS_HEADER_TABLE_SIZE` (RFC 9113 §6.5.2).
pub const DEFAULT_TABLE_SIZE: usize = 4096;

/// Per-entry overhead counted in table size and header list size (RFC 7541 §4.1,
/// RFC 9113 §6.5.2).
pub const ENTRY_OVERHEAD: usize = 32;

/// One header field as decoded or to be encoded.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct HeaderField {
    /// Field name (lowercase in HTTP/2; not checked here).
    pub name: Bytes,
    /// Field value.
    pub value: Bytes,
    /// Never-indexed (RFC 7541 §6.2.3): intermediaries must not compress it.
    /// Decoded from the representation; honoured by the encoder.
    pub sensitive: bool,
}

impl HeaderField {
    /// A field from owned parts.
    pub fn new(name: impl Into<Bytes>, value: impl Into<Bytes>) -> Self {
        HeaderField { name: name.into(), value: value.into(), sensitive: false }
    }

    /// A field that must never be indexed (credentials, cookies...).
    pub fn sensitive(name: impl Into<Bytes>, value: impl Into<Bytes>) -> Self {
        HeaderField { name: name.into(), value: value.into(), sensitive: true }
    }

    /// Size as counted by RFC 7541 §4.1: name + value + 32.
    pub fn size(&self) -> usize {
        self.name.len() + self.value.len() + ENTRY_OVERHEAD
    }
}

impl std::fmt::Debug for HeaderField {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}: {}{}",
            String::from_utf8_lossy(&self.name),
            String::from_utf8_lossy(&self.value),
            if self.sensitive { " (sensitive)" } else { "" }
        )
    }
}
