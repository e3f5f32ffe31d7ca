//! The hpack-test-case corpus (http2jp): every block of every story decodes
//! to the listed header list, and every story's header lists round-trip
//! through our encoder and decoder.

mod hpack_support;

use bytes::Bytes;
use hpack_support::{Case, Story, load_stories};
use std::sync::OnceLock;
use weir_core::hpack::{DEFAULT_TABLE_SIZE, Decoder, Encoder, HeaderField};

/// Blocks in all story files of the corpus (14 encoders).
const CORPUS_BLOCKS: usize = 47_142;

/// Decompressing and parsing the corpus is slow: do it once per test binary.
fn stories() -> &'static [Story] {
    static STORIES: OnceLock<Vec<Story>> = OnceLock::new();
    STORIES.get_or_init(load_stories)
}

fn decode(decoder: &mut Decoder, wire: Bytes) -> Vec<(Vec<u8>, Vec<u8>)> {
    let mut fields = Vec::new();
    let decoded = decoder
        .decode(&wire, usize::MAX, |field| fields.push((field.name.to_vec(), field.value.to_vec())))
        .unwrap_or_else(|error| panic!("decode error {error:?}"));
    assert_eq!(decoded.fields, fields.len());
    assert!(!decoded.over_limit);
    let list_size: usize = fields.iter().map(|(name, value)| name.len() + value.len() + 32).sum();
    assert_eq!(decoded.list_size, list_size);
    fields
}

fn apply_table_size(case: &Case, decoder: &mut Decoder) {
    if let Some(size) = case.header_table_size {
        decoder.set_max_table_size(size);
    }
}

#[test]
fn every_corpus_block_decodes_to_its_header_list() {
    let stories = stories();
    let mut blocks = 0;
    let mut fixtures = std::collections::BTreeSet::new();
    for story in stories {
        fixtures.insert(story.path.split('/').next().unwrap_or_default());
        let mut decoder = Decoder::new(DEFAULT_TABLE_SIZE);
        for case in &story.cases {
            apply_table_size(case, &mut decoder);
            let fields = decode(&mut decoder, Bytes::copy_from_slice(&case.wire));
            assert!(fields == case.headers, "{} seqno {}", story.path, case.seqno);
            assert!(decoder.table_size() <= decoder.max_table_size());
            blocks += 1;
        }
    }
    assert_eq!(stories.len(), 446);
    assert_eq!(fixtures.len(), 14);
    assert_eq!(blocks, CORPUS_BLOCKS);
}

/// Encodes every header list of every story with a fresh encoder (with the
/// given settings), decodes with a fresh decoder, and checks both tables
/// stay identical. Returns (blocks, encoded octets).
fn round_trip_corpus(configure: impl Fn(&mut Encoder)) -> (usize, usize) {
    let mut blocks = 0;
    let mut octets = 0;
    for story in stories() {
        let mut encoder = Encoder::new();
        configure(&mut encoder);
        let mut decoder = Decoder::new(DEFAULT_TABLE_SIZE);
        let mut wire = Vec::new();
        for case in &story.cases {
            if let Some(size) = case.header_table_size {
                encoder.set_max_table_size(size);
                decoder.set_max_table_size(size);
            }
            let fields: Vec<HeaderField> = case
                .headers
                .iter()
                .map(|(name, value)| HeaderField::new(name.clone(), value.clone()))
                .collect();
            wire.clear();
            encoder.encode(&fields, &mut wire);
            octets += wire.len();
            let decoded = decode(&mut decoder, Bytes::copy_from_slice(&wire));
            assert!(decoded == case.headers, "{} seqno {}", story.path, case.seqno);
            assert!(
                encoder.table_entries().eq(decoder.table_entries()),
                "{} seqno {}",
                story.path,
                case.seqno
            );
            assert_eq!(encoder.table_size(), decoder.table_size());
            blocks += 1;
        }
    }
    (blocks, octets)
}

#[test]
fn every_corpus_header_list_round_trips() {
    let (blocks, octets) = round_trip_corpus(|_| {});
    assert_eq!(blocks, CORPUS_BLOCKS);
    // Sanity check on compression: far below the plain header list sizes.
    let plain: usize = stories()
        .iter()
        .flat_map(|story| &story.cases)
        .flat_map(|case| &case.headers)
        .map(|(name, value)| name.len() + value.len())
        .sum();
    assert!(octets * 3 < plain, "{octets} octets for {plain} plain");
}

#[test]
fn every_corpus_header_list_round_trips_without_huffman_and_indexing_everything() {
    let (blocks, _) = round_trip_corpus(|encoder| {
        encoder.set_huffman(weir_core::hpack::HuffmanPolicy::Never);
        encoder.set_index_policy(weir_core::hpack::IndexPolicy::Always);
    });
    assert_eq!(blocks, CORPUS_BLOCKS);
}
