//! Typed HPACK decoding errors. Every one of them is a connection error of
//! type `COMPRESSION_ERROR` (RFC 9113 §4.3): the dynamic table can no longer
//! be trusted.

use std::fmt;

/// Why a header block could not be decoded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DecoderError {
    /// The block ended inside an integer, a string length or string octets.
    Truncated,
    /// An integer used more than 5 octets (prefix octet + 4 continuation
    /// octets); no valid HPACK integer needs more.
    IntegerOverflow,
    /// Index 0, or an index past the static and dynamic tables.
    InvalidIndex(usize),
    /// A Huffman-coded string was malformed.
    Huffman(HuffmanError),
    /// A dynamic table size update came after a header field representation
    /// (RFC 7541 §4.2).
    TableSizeUpdateNotAtStart,
    /// More than two dynamic table size updates at the start of a block.
    TooManyTableSizeUpdates,
    /// A dynamic table size update above our acknowledged
    /// `SETTINGS_HEADER_TABLE_SIZE` (RFC 7541 §6.3).
    TableSizeAboveLimit {
        /// The size the peer's encoder asked for.
        requested: usize,
        /// Our limit.
        limit: usize,
    },
}

/// Why a Huffman-coded string was rejected (RFC 7541 §5.2).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HuffmanError {
    /// The string contains the EOS symbol.
    Eos,
    /// The padding after the last symbol is longer than 7 bits.
    PaddingTooLong,
    /// The padding after the last symbol is not a prefix of EOS (all ones).
    PaddingNotOnes,
}

impl fmt::Display for DecoderError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DecoderError::Truncated => f.write_str("header block truncated"),
            DecoderError::IntegerOverflow => f.write_str("HPACK integer longer than 5 octets"),
            DecoderError::InvalidIndex(index) => write!(f, "invalid HPACK table index {index}"),
            DecoderError::Huffman(error) => write!(f, "invalid Huffman string: {error}"),
            DecoderError::TableSizeUpdateNotAtStart => {
                f.write_str("dynamic table size update after a header field")
            }
            DecoderError::TooManyTableSizeUpdates => f.write_str("more than two dynamic table size updates"),
            DecoderError::TableSizeAboveLimit { requested, limit } => {
                write!(f, "dynamic table size update to {requested} above the limit of {limit}")
            }
        }
    }
}

impl fmt::Display for HuffmanError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            HuffmanError::Eos => "EOS symbol in string",
            HuffmanError::PaddingTooLong => "padding longer than 7 bits",
            HuffmanError::PaddingNotOnes => "padding is not all ones",
        })
    }
}

impl std::error::Error for DecoderError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            DecoderError::Huffman(error) => Some(error),
            _ => None,
        }
    }
}

impl std::error::Error for HuffmanError {}

impl From<HuffmanError> for DecoderError {
    fn from(error: HuffmanError) -> Self {
        DecoderError::Huffman(error)
    }
}
