//! RFC 7541 Appendix C: every example decodes, the dynamic table matches the
//! RFC after each block, and the encoder reproduces C.3 to C.6 byte for byte.

mod hpack_support;

use bytes::Bytes;
use hpack_support::{Example, hex, load_appendix_c};
use weir_core::hpack::{Decoder, Encoder, HeaderField, HuffmanPolicy, IndexPolicy};

/// Table entries, newest first.
type Entries = &'static [(&'static str, &'static str)];

/// Dynamic table after each block of a C.3-C.6 example, newest first, with its size.
type Tables = [(Entries, usize); 3];

const REQUEST_TABLES: Tables = [
    (&[(":authority", "www.example.com")], 57),
    (&[("cache-control", "no-cache"), (":authority", "www.example.com")], 110),
    (
        &[("custom-key", "custom-value"), ("cache-control", "no-cache"), (":authority", "www.example.com")],
        164,
    ),
];

const RESPONSE_TABLES: Tables = [
    (
        &[
            ("location", "https://www.example.com"),
            ("date", "Mon, 21 Oct 2013 20:13:21 GMT"),
            ("cache-control", "private"),
            (":status", "302"),
        ],
        222,
    ),
    (
        &[
            (":status", "307"),
            ("location", "https://www.example.com"),
            ("date", "Mon, 21 Oct 2013 20:13:21 GMT"),
            ("cache-control", "private"),
        ],
        222,
    ),
    (
        &[
            ("set-cookie", "foo=ASDJKHQKBZXOQWEOPIUAXQWEOIU; max-age=3600; version=1"),
            ("content-encoding", "gzip"),
            ("date", "Mon, 21 Oct 2013 20:13:22 GMT"),
        ],
        215,
    ),
];

fn example(name_prefix: &str) -> Example {
    load_appendix_c()
        .into_iter()
        .find(|example| example.name.starts_with(name_prefix))
        .unwrap_or_else(|| panic!("no example {name_prefix}"))
}

fn fields(headers: &[(String, String)]) -> Vec<HeaderField> {
    headers.iter().map(|(name, value)| HeaderField::new(name.clone(), value.clone())).collect()
}

fn decode(decoder: &mut Decoder, wire: &[u8]) -> Vec<HeaderField> {
    let mut fields = Vec::new();
    decoder.decode(&Bytes::copy_from_slice(wire), usize::MAX, |field| fields.push(field)).expect("decodes");
    fields
}

fn assert_table<'a>(
    entries: impl Iterator<Item = (&'a [u8], &'a [u8])>,
    expected: &[(&str, &str)],
    context: &str,
) {
    let entries: Vec<(&[u8], &[u8])> = entries.collect();
    let expected: Vec<(&[u8], &[u8])> =
        expected.iter().map(|(name, value)| (name.as_bytes(), value.as_bytes())).collect();
    assert_eq!(entries, expected, "{context}");
}

#[test]
fn appendix_c_has_eight_examples() {
    let names: Vec<String> = load_appendix_c().into_iter().map(|example| example.name).collect();
    assert_eq!(names.len(), 8, "{names:?}");
}

#[test]
fn c_2_examples_decode() {
    let expected_tables: [(&str, Entries, usize, bool); 4] = [
        ("C.2.1", &[("custom-key", "custom-header")], 55, false),
        ("C.2.2", &[], 0, false),
        ("C.2.3", &[], 0, true),
        ("C.2.4", &[], 0, false),
    ];
    for (name, table, size, sensitive) in expected_tables {
        let example = example(name);
        let mut decoder = Decoder::new(example.table_size);
        let (wire, headers) = &example.blocks[0];
        let decoded = decode(&mut decoder, wire);
        let mut expected = fields(headers);
        expected.iter_mut().for_each(|field| field.sensitive = sensitive);
        assert_eq!(decoded, expected, "{name}");
        assert_table(decoder.table_entries(), table, name);
        assert_eq!(decoder.table_size(), size, "{name}");
    }
}

fn check_decoding(name: &str, tables: &Tables) {
    let example = example(name);
    let mut decoder = Decoder::new(example.table_size);
    assert_eq!(example.blocks.len(), 3);
    for (index, ((wire, headers), (table, size))) in example.blocks.iter().zip(tables).enumerate() {
        let context = format!("{name} block {}", index + 1);
        assert_eq!(decode(&mut decoder, wire), fields(headers), "{context}");
        assert_table(decoder.table_entries(), table, &context);
        assert_eq!(decoder.table_size(), *size, "{context}");
    }
}

/// Encodes the example's header lists like the RFC does (every field
/// indexed incrementally) and compares with its wire. An example starting
/// with a table of other than 4096 octets needs a size update first, which
/// the RFC leaves out: it is checked separately.
fn check_encoding(name: &str, huffman: HuffmanPolicy, tables: &Tables) {
    let example = example(name);
    let mut encoder = Encoder::new();
    encoder.set_huffman(huffman);
    encoder.set_index_policy(IndexPolicy::Always);
    let mut size_update = Vec::new();
    if example.table_size != 4096 {
        encoder.set_max_table_size(example.table_size);
        assert_eq!(example.table_size, 256);
        size_update = hex("3fe101");
    }
    for (index, ((wire, headers), (table, size))) in example.blocks.iter().zip(tables).enumerate() {
        let context = format!("{name} block {}", index + 1);
        let mut encoded = Vec::new();
        encoder.encode(&fields(headers), &mut encoded);
        let expected = if index == 0 { [size_update.as_slice(), wire].concat() } else { wire.clone() };
        assert_eq!(encoded, expected, "{context}");
        assert_table(encoder.table_entries(), table, &context);
        assert_eq!(encoder.table_size(), *size, "{context}");
    }
}

#[test]
fn c_3_requests_without_huffman_decode() {
    check_decoding("C.3", &REQUEST_TABLES);
}

#[test]
fn c_4_requests_with_huffman_decode() {
    check_decoding("C.4", &REQUEST_TABLES);
}

#[test]
fn c_5_responses_without_huffman_decode_with_eviction() {
    check_decoding("C.5", &RESPONSE_TABLES);
}

#[test]
fn c_6_responses_with_huffman_decode_with_eviction() {
    check_decoding("C.6", &RESPONSE_TABLES);
}

#[test]
fn c_3_requests_without_huffman_encode_byte_for_byte() {
    check_encoding("C.3", HuffmanPolicy::Never, &REQUEST_TABLES);
}

#[test]
fn c_4_requests_with_huffman_encode_byte_for_byte() {
    check_encoding("C.4", HuffmanPolicy::WhenNotLonger, &REQUEST_TABLES);
}

#[test]
fn c_5_responses_without_huffman_encode_byte_for_byte() {
    check_encoding("C.5", HuffmanPolicy::Never, &RESPONSE_TABLES);
}

#[test]
fn c_6_responses_with_huffman_encode_byte_for_byte() {
    check_encoding("C.6", HuffmanPolicy::WhenNotLonger, &RESPONSE_TABLES);
}

/// With the default policy (strictly shorter), C.6.2's `307` is sent as is:
/// the only difference from the RFC's wire.
#[test]
fn c_6_with_default_huffman_policy_sends_307_plain() {
    let example = example("C.6");
    let mut encoder = Encoder::new();
    encoder.set_index_policy(IndexPolicy::Always);
    encoder.set_max_table_size(256);
    let mut first = Vec::new();
    encoder.encode(&fields(&example.blocks[0].1), &mut first);
    assert_eq!(first, [hex("3fe101"), example.blocks[0].0.clone()].concat());
    let mut second = Vec::new();
    encoder.encode(&fields(&example.blocks[1].1), &mut second);
    assert_eq!(second, [hex("4803333037"), hex("c1c0bf")].concat());
    assert_eq!(example.blocks[1].0, [hex("4883640eff"), hex("c1c0bf")].concat());
}

#[test]
fn c_2_1_and_c_2_4_encode_byte_for_byte() {
    for name in ["C.2.1", "C.2.4"] {
        let example = example(name);
        let (wire, headers) = &example.blocks[0];
        let mut encoder = Encoder::new();
        encoder.set_huffman(HuffmanPolicy::Never);
        encoder.set_index_policy(IndexPolicy::Always);
        let mut encoded = Vec::new();
        encoder.encode(&fields(headers), &mut encoded);
        assert_eq!(&encoded, wire, "{name}");
    }
}

#[test]
fn c_2_3_sensitive_field_encodes_never_indexed() {
    let example = example("C.2.3");
    let (wire, headers) = &example.blocks[0];
    let mut encoder = Encoder::new();
    encoder.set_huffman(HuffmanPolicy::Never);
    let mut encoded = Vec::new();
    let (name, value) = &headers[0];
    encoder.begin_block(&mut encoded);
    encoder.encode_field(name.as_bytes(), value.as_bytes(), true, &mut encoded);
    assert_eq!(&encoded, wire);
    assert_eq!(encoder.table_size(), 0);
}
