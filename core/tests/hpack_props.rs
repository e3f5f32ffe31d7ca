//! Property tests: encoder → decoder round trips over sequences of blocks
//! with table size changes, arbitrary input never panics the decoder, and
//! Huffman coding round-trips.

use bytes::Bytes;
use proptest::prelude::*;
use weir_core::hpack::{Decoder, Encoder, HeaderField, HuffmanPolicy, IndexPolicy, huffman};

/// Names that hit the static table, churn or repeat, plus arbitrary ones.
fn name() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        3 => prop::sample::select(vec![
            ":method", ":path", ":authority", ":status", "content-type", "content-length",
            "grpc-timeout", "authorization", "cookie", "x-custom", "te", "user-agent",
        ])
        .prop_map(|name| name.as_bytes().to_vec()),
        1 => prop::collection::vec(any::<u8>(), 0..24),
    ]
}

fn value() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        2 => prop::sample::select(vec!["", "GET", "POST", "/", "200", "application/grpc", "trailers", "1S", "a"])
            .prop_map(|value| value.as_bytes().to_vec()),
        2 => "[a-z0-9/._-]{0,40}".prop_map(String::into_bytes),
        1 => prop::collection::vec(any::<u8>(), 0..300),
    ]
}

fn field() -> impl Strategy<Value = HeaderField> {
    (name(), value(), prop::bool::weighted(0.1)).prop_map(|(name, value, sensitive)| HeaderField {
        name: name.into(),
        value: value.into(),
        sensitive,
    })
}

/// A peer `SETTINGS_HEADER_TABLE_SIZE`, small sizes favoured to force eviction.
fn table_size() -> impl Strategy<Value = usize> {
    prop_oneof![Just(0usize), 0usize..400, Just(4096usize), 4096usize..70_000,]
}

/// One block: the table size settings changes acknowledged before it, then its fields.
fn block() -> impl Strategy<Value = (Vec<usize>, Vec<HeaderField>)> {
    (prop::collection::vec(table_size(), 0..3), prop::collection::vec(field(), 0..12))
}

fn encoder_with(huffman: HuffmanPolicy, policy: IndexPolicy) -> Encoder {
    let mut encoder = Encoder::new();
    encoder.set_huffman(huffman);
    encoder.set_index_policy(policy);
    encoder
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn header_lists_round_trip_across_blocks_and_table_size_changes(
        blocks in prop::collection::vec(block(), 1..12),
        huffman in prop::sample::select(vec![HuffmanPolicy::Never, HuffmanPolicy::WhenShorter, HuffmanPolicy::WhenNotLonger]),
        policy in prop::sample::select(vec![IndexPolicy::Default, IndexPolicy::Always, IndexPolicy::Never]),
    ) {
        let mut encoder = encoder_with(huffman, policy);
        let mut decoder = Decoder::new(4096);
        for (changes, fields) in blocks {
            for size in changes {
                encoder.set_max_table_size(size);
                decoder.set_max_table_size(size);
            }
            let mut wire = Vec::new();
            encoder.encode(&fields, &mut wire);
            let mut decoded = Vec::new();
            let summary = decoder.decode(&Bytes::from(wire), usize::MAX, |field| decoded.push(field)).unwrap();
            prop_assert_eq!(&decoded, &fields);
            prop_assert_eq!(summary.fields, fields.len());
            prop_assert_eq!(summary.list_size, fields.iter().map(HeaderField::size).sum::<usize>());
            prop_assert!(encoder.table_entries().eq(decoder.table_entries()));
            prop_assert_eq!(encoder.table_size(), decoder.table_size());
            prop_assert!(decoder.table_size() <= decoder.table_capacity());
            prop_assert!(decoder.table_capacity() <= decoder.max_table_size());
        }
    }

    #[test]
    fn list_limit_emits_a_prefix_and_keeps_tables_in_sync(
        blocks in prop::collection::vec(prop::collection::vec(field(), 0..12), 1..6),
        limit in 0usize..600,
    ) {
        let mut encoder = Encoder::new();
        let mut limited = Decoder::new(4096);
        let mut unlimited = Decoder::new(4096);
        for fields in blocks {
            let mut wire = Vec::new();
            encoder.encode(&fields, &mut wire);
            let wire = Bytes::from(wire);
            let mut emitted = Vec::new();
            let summary = limited.decode(&wire, limit, |field| emitted.push(field)).unwrap();
            unlimited.decode(&wire, usize::MAX, |_| {}).unwrap();
            let sizes: Vec<usize> = fields.iter().map(HeaderField::size).collect();
            let fitting = sizes.iter().scan(0, |total, size| { *total += size; Some(*total) }).take_while(|&total| total <= limit).count();
            prop_assert_eq!(&emitted[..], &fields[..fitting]);
            prop_assert_eq!(summary.fields, fitting);
            prop_assert_eq!(summary.over_limit, fitting < fields.len());
            prop_assert_eq!(summary.list_size, sizes.iter().sum::<usize>());
            prop_assert!(limited.table_entries().eq(unlimited.table_entries()));
        }
    }

    #[test]
    fn arbitrary_bytes_never_panic(
        input in prop::collection::vec(any::<u8>(), 0..256),
        max_table_size in 0usize..5000,
        limit in prop_oneof![Just(usize::MAX), 0usize..500],
    ) {
        let mut decoder = Decoder::new(max_table_size);
        let mut emitted_size = 0;
        let result = decoder.decode(&Bytes::from(input), limit, |field| emitted_size += field.size());
        if let Ok(summary) = result {
            prop_assert!(emitted_size <= summary.list_size);
            prop_assert!(summary.over_limit || emitted_size == summary.list_size);
            prop_assert!(emitted_size <= limit);
        }
        prop_assert!(decoder.table_size() <= decoder.table_capacity());
        prop_assert!(decoder.table_capacity() <= max_table_size);
    }

    #[test]
    fn mutated_valid_blocks_never_panic(
        fields in prop::collection::vec(field(), 1..10),
        flips in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..4),
        cut in any::<prop::sample::Index>(),
    ) {
        let mut wire = Vec::new();
        Encoder::new().encode(&fields, &mut wire);
        for (position, byte) in flips {
            let position = position.index(wire.len());
            wire[position] ^= byte;
        }
        let cut = cut.index(wire.len() + 1);
        let mut decoder = Decoder::new(4096);
        let _ = decoder.decode(&Bytes::from(wire[..cut].to_vec()), usize::MAX, |_| {});
        prop_assert!(decoder.table_size() <= 4096);
    }

    #[test]
    fn huffman_round_trips(input in prop::collection::vec(any::<u8>(), 0..512)) {
        let mut wire = Vec::new();
        huffman::encode(&input, &mut wire);
        prop_assert_eq!(wire.len(), huffman::encoded_len(&input));
        prop_assert_eq!(huffman::decoded_len(&wire), Ok(input.len()));
        prop_assert_eq!(huffman::decode(&wire).unwrap(), Bytes::from(input));
    }
}
