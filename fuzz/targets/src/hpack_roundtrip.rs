//! `hpack_roundtrip`: structured header lists and table-size changes through
//! an [`Encoder`] and a [`Decoder`] kept in step, as on a connection.
//!
//! Input: an [`Input`] built with `arbitrary` from the octets.
//!
//! Checks:
//! * every block decodes to exactly the list encoded (names, values, the
//!   never-indexed flag, order), with the list size reported exactly;
//! * after every block (table-size changes included), the encoder's dynamic
//!   table and the decoder's hold the same entries and size, within the
//!   advertised limit and the encoder's cap;
//! * Huffman encoding of arbitrary octets decodes back to them, with the
//!   predicted lengths.

use arbitrary::{Arbitrary, Unstructured};
use bytes::Bytes;
use weir_core::hpack::{
    Decoder, Encoder, HeaderField, HuffmanPolicy, IndexPolicy, MAX_ENCODER_TABLE_SIZE, huffman,
};

/// Names that hit the static table, gRPC's reserved headers and common
/// custom ones.
const NAMES: &[&str] = &[
    ":authority",
    ":method",
    ":path",
    ":scheme",
    ":status",
    "content-type",
    "te",
    "user-agent",
    "grpc-timeout",
    "grpc-encoding",
    "grpc-accept-encoding",
    "grpc-status",
    "grpc-message",
    "grpc-status-details-bin",
    "cookie",
    "authorization",
    "x-request-id",
    "traceparent",
    "content-length",
    "accept-encoding",
];

/// Values matching static-table entries and typical gRPC values.
const VALUES: &[&str] = &[
    "",
    "GET",
    "POST",
    "/",
    "/index.html",
    "http",
    "https",
    "200",
    "204",
    "404",
    "500",
    "gzip, deflate",
    "application/grpc",
    "trailers",
    "identity,gzip",
    "0",
    "1S",
    "/helloworld.Greeter/SayHello",
    "grpc-rust-weir/0.1.0",
];

/// One fuzz input.
#[derive(Arbitrary, Debug)]
pub struct Input {
    /// When strings are Huffman-coded.
    pub huffman: Huffman,
    /// Which fields are indexed.
    pub index: Index,
    /// The sequence of operations.
    pub steps: Vec<Step>,
}

/// [`HuffmanPolicy`] as fuzz input.
#[derive(Arbitrary, Clone, Copy, Debug)]
#[allow(missing_docs)]
pub enum Huffman {
    Never,
    WhenShorter,
    WhenNotLonger,
}

/// [`IndexPolicy`] as fuzz input.
#[derive(Arbitrary, Clone, Copy, Debug)]
#[allow(missing_docs)]
pub enum Index {
    Default,
    Always,
    Never,
}

/// One operation.
#[derive(Arbitrary, Debug)]
pub enum Step {
    /// Encode and decode one header list.
    Block(Vec<Field>),
    /// A new `SETTINGS_HEADER_TABLE_SIZE` (small values).
    TableSize(u16),
    /// A new `SETTINGS_HEADER_TABLE_SIZE` (any value).
    LargeTableSize(u32),
    /// Huffman-code these octets and decode them back.
    Huffman(Vec<u8>),
}

/// One header field.
#[derive(Arbitrary, Debug)]
pub struct Field {
    /// The name.
    pub name: Text,
    /// The value.
    pub value: Text,
    /// Never indexed.
    pub sensitive: bool,
}

/// A name or value: a known one, arbitrary octets, or one octet repeated
/// (long entries, evictions).
#[derive(Arbitrary, Debug)]
#[allow(missing_docs)]
pub enum Text {
    Known(u8),
    Octets(Vec<u8>),
    Repeat(u8, u16),
}

impl Text {
    fn bytes(&self, known: &[&str]) -> Bytes {
        match self {
            Text::Known(i) => Bytes::from(known[usize::from(*i) % known.len()].as_bytes().to_vec()),
            Text::Octets(v) => Bytes::copy_from_slice(v),
            Text::Repeat(b, n) => Bytes::from(vec![*b; usize::from(*n) % 8192]),
        }
    }
}

/// Runs one input.
pub fn run(data: &[u8]) {
    if let Ok(input) = Input::arbitrary_take_rest(Unstructured::new(data)) {
        execute(&input);
    }
}

/// Runs a decoded input; returns the number of fields that went through.
pub fn execute(input: &Input) -> usize {
    let mut encoder = Encoder::new();
    encoder.set_huffman(match input.huffman {
        Huffman::Never => HuffmanPolicy::Never,
        Huffman::WhenShorter => HuffmanPolicy::WhenShorter,
        Huffman::WhenNotLonger => HuffmanPolicy::WhenNotLonger,
    });
    encoder.set_index_policy(match input.index {
        Index::Default => IndexPolicy::Default,
        Index::Always => IndexPolicy::Always,
        Index::Never => IndexPolicy::Never,
    });
    let mut decoder = Decoder::new(weir_core::hpack::DEFAULT_TABLE_SIZE);
    let mut limit = weir_core::hpack::DEFAULT_TABLE_SIZE;
    let mut total = 0;
    for step in &input.steps {
        match step {
            Step::Block(fields) => {
                let list: Vec<HeaderField> = fields
                    .iter()
                    .map(|f| HeaderField {
                        name: f.name.bytes(NAMES),
                        value: f.value.bytes(VALUES),
                        sensitive: f.sensitive,
                    })
                    .collect();
                round_trip(&mut encoder, &mut decoder, &list);
                // Only between blocks do both tables agree: a lower limit
                // evicts from the decoder at once, from the encoder at the
                // start of its next block.
                check_tables(&encoder, &decoder, limit);
                total += list.len();
            }
            Step::TableSize(size) => {
                limit = usize::from(*size);
                set_table_size(&mut encoder, &mut decoder, limit);
            }
            Step::LargeTableSize(size) => {
                limit = *size as usize;
                set_table_size(&mut encoder, &mut decoder, limit);
            }
            Step::Huffman(octets) => huffman_round_trip(octets),
        }
    }
    total
}

/// Our decoder's new limit is acknowledged: the peer's encoder learns it, our
/// decoder applies it (between blocks, as on a connection).
fn set_table_size(encoder: &mut Encoder, decoder: &mut Decoder, size: usize) {
    encoder.set_max_table_size(size);
    decoder.set_max_table_size(size);
}

fn round_trip(encoder: &mut Encoder, decoder: &mut Decoder, list: &[HeaderField]) {
    let mut block = Vec::new();
    encoder.encode(list, &mut block);
    let mut out = Vec::with_capacity(list.len());
    let decoded = decoder
        .decode(&Bytes::from(block), usize::MAX, |f| out.push(f))
        .unwrap_or_else(|e| panic!("decoding our own block failed: {e}"));
    assert_eq!(out, list, "decoded list differs");
    assert_eq!(decoded.fields, list.len());
    assert!(!decoded.over_limit);
    assert_eq!(decoded.list_size, list.iter().map(HeaderField::size).sum::<usize>());
}

/// Both dynamic tables hold the same entries, within the limits.
fn check_tables(encoder: &Encoder, decoder: &Decoder, limit: usize) {
    let enc: Vec<(&[u8], &[u8])> = encoder.table_entries().collect();
    let dec: Vec<(&[u8], &[u8])> = decoder.table_entries().collect();
    assert_eq!(enc, dec, "encoder and decoder tables diverged");
    assert_eq!(encoder.table_size(), decoder.table_size());
    assert!(encoder.table_size() <= limit.min(MAX_ENCODER_TABLE_SIZE));
    assert!(decoder.table_size() <= decoder.table_capacity());
}

fn huffman_round_trip(octets: &[u8]) {
    let mut coded = Vec::new();
    huffman::encode(octets, &mut coded);
    assert_eq!(coded.len(), huffman::encoded_len(octets));
    assert_eq!(huffman::decoded_len(&coded), Ok(octets.len()));
    assert_eq!(huffman::decode(&coded).as_deref(), Ok(octets));
    assert!(huffman::max_decoded_len(coded.len()) >= octets.len());
}
