//! The HPACK static Huffman code (RFC 7541 §5.2, Appendix B).
//!
//! Encoding uses the code table directly. Decoding runs a finite automaton
//! generated at compile time from the same table: its states are the 256
//! internal nodes of the code tree, its 4-bit-nibble transitions are composed
//! into one table lookup per input octet (256 states × 256 octets, 256 KiB).

mod code;
mod fsm;

use super::HuffmanError;
use bytes::Bytes;
use code::CODES;
use fsm::{BYTE_TRANSITIONS, ENDS, End};

/// Octets needed to Huffman-encode `input`, padding included.
pub fn encoded_len(input: &[u8]) -> usize {
    let bits: usize = input.iter().map(|&byte| usize::from(CODES[usize::from(byte)].1)).sum();
    bits.div_ceil(8)
}

/// Appends the Huffman encoding of `input` to `dst`, padded with ones.
pub fn encode(input: &[u8], dst: &mut Vec<u8>) {
    dst.reserve(encoded_len(input));
    write_code(input, dst);
}

/// Appends the Huffman encoding of `input` (the caller reserves space).
pub(crate) fn write_code(input: &[u8], dst: &mut Vec<u8>) {
    // Pending bits are the low `pending` bits of `bits` (higher bits are
    // stale); fewer than 32 are pending before each code (at most 30 bits).
    let mut bits: u64 = 0;
    let mut pending: u32 = 0;
    for &byte in input {
        let (code, len) = CODES[usize::from(byte)];
        bits = (bits << len) | u64::from(code);
        pending += u32::from(len);
        if pending >= 32 {
            pending -= 32;
            dst.extend_from_slice(&((bits >> pending) as u32).to_be_bytes());
        }
    }
    while pending >= 8 {
        pending -= 8;
        dst.push((bits >> pending) as u8);
    }
    if pending > 0 {
        let padding = 8 - pending;
        dst.push(((bits << padding) as u8) | (0xff >> pending));
    }
}

/// Most octets `encoded_len` Huffman-coded octets can decode to (every code
/// is at least 5 bits long).
pub fn max_decoded_len(encoded_len: usize) -> usize {
    encoded_len.saturating_mul(8) / 5
}

/// Decodes a Huffman-coded string into a buffer allocated once.
pub fn decode(input: &[u8]) -> Result<Bytes, HuffmanError> {
    let mut output = Vec::new();
    decode_into(input, &mut output)?;
    Ok(Bytes::from(output))
}

/// Decodes a Huffman-coded string, replacing the contents of `output`
/// (resized once to [`max_decoded_len`], then truncated).
pub fn decode_into(input: &[u8], output: &mut Vec<u8>) -> Result<(), HuffmanError> {
    output.clear();
    output.resize(max_decoded_len(input.len()), 0);
    let len = run::<true>(input, output)?;
    output.truncate(len);
    Ok(())
}

/// Validates a Huffman-coded string and returns its decoded length without
/// allocating.
pub fn decoded_len(input: &[u8]) -> Result<usize, HuffmanError> {
    run::<false>(input, &mut [])
}

/// Runs the automaton over `input`, one lookup per octet (two nibble
/// transitions composed), writing decoded octets to `output` when `WRITE`
/// (`output` must then hold [`max_decoded_len`] octets). Returns the decoded
/// length.
///
/// Branch-free per octet: both possible symbols are stored unconditionally
/// and the length advanced by the number emitted; a failure is remembered and
/// reported once the input is consumed (a failing transition restarts at the
/// root, so at most one symbol per 5 bits is ever emitted and `output` is
/// large enough; stores past its end are skipped).
fn run<const WRITE: bool>(input: &[u8], output: &mut [u8]) -> Result<usize, HuffmanError> {
    let mut state = 0usize;
    let mut len = 0usize;
    let mut failed = 0u32;
    for &byte in input {
        let transition = BYTE_TRANSITIONS[state][usize::from(byte)];
        if WRITE {
            if let Some(slot) = output.get_mut(len) {
                *slot = (transition >> 8) as u8;
            }
            if let Some(slot) = output.get_mut(len + 1) {
                *slot = (transition >> 16) as u8;
            }
        }
        len += ((transition >> 24) & 0x3) as usize;
        failed |= transition >> 26;
        state = (transition & 0xff) as usize;
    }
    if failed != 0 {
        return Err(HuffmanError::Eos);
    }
    match ENDS[state] {
        End::Accept => Ok(len),
        End::PaddingTooLong => Err(HuffmanError::PaddingTooLong),
        End::PaddingNotOnes => Err(HuffmanError::PaddingNotOnes),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn encoded(input: &[u8]) -> Vec<u8> {
        let mut dst = Vec::new();
        encode(input, &mut dst);
        dst
    }

    fn hex(s: &str) -> Vec<u8> {
        (0..s.len()).step_by(2).map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap()).collect()
    }

    #[test]
    fn rfc_c_4_strings() {
        let cases = [
            ("www.example.com", "f1e3c2e5f23a6ba0ab90f4ff"),
            ("no-cache", "a8eb10649cbf"),
            ("custom-key", "25a849e95ba97d7f"),
            ("custom-value", "25a849e95bb8e8b4bf"),
        ];
        for (plain, wire) in cases {
            assert_eq!(encoded(plain.as_bytes()), hex(wire), "{plain}");
            assert_eq!(encoded_len(plain.as_bytes()), wire.len() / 2, "{plain}");
            assert_eq!(decode(&hex(wire)).unwrap(), plain.as_bytes(), "{plain}");
            assert_eq!(decoded_len(&hex(wire)), Ok(plain.len()), "{plain}");
        }
    }

    #[test]
    fn rfc_c_6_strings() {
        let cases = [
            ("302", "6402"),
            ("private", "aec3771a4b"),
            ("Mon, 21 Oct 2013 20:13:21 GMT", "d07abe941054d444a8200595040b8166e082a62d1bff"),
            ("https://www.example.com", "9d29ad171863c78f0b97c8e9ae82ae43d3"),
            ("gzip", "9bd9ab"),
            (
                "foo=ASDJKHQKBZXOQWEOPIUAXQWEOIU; max-age=3600; version=1",
                "94e7821dd7f2e6c7b335dfdfcd5b3960d5af27087f3672c1ab270fb5291f9587316065c003ed4ee5b1063d5007",
            ),
        ];
        for (plain, wire) in cases {
            assert_eq!(encoded(plain.as_bytes()), hex(wire), "{plain}");
            assert_eq!(decode(&hex(wire)).unwrap(), plain.as_bytes(), "{plain}");
        }
    }

    #[test]
    fn every_symbol_round_trips_alone() {
        for byte in 0..=255u8 {
            let wire = encoded(&[byte]);
            assert_eq!(wire.len(), usize::from(CODES[usize::from(byte)].1).div_ceil(8));
            assert_eq!(decode(&wire).unwrap(), [byte].as_slice(), "{byte}");
        }
    }

    #[test]
    fn empty_string() {
        assert_eq!(encoded(b""), b"");
        assert_eq!(decode(b"").unwrap(), b"".as_slice());
    }

    #[test]
    fn eos_in_string_is_rejected() {
        // EOS is 30 ones; four 0xff octets contain it.
        assert_eq!(decode(&[0xff, 0xff, 0xff, 0xff]), Err(HuffmanError::Eos));
        // 'a' (00011) then EOS: 00011111 11111111 11111111 11111111 11xxxxxx.
        assert_eq!(decode(&[0x1f, 0xff, 0xff, 0xff, 0xff]), Err(HuffmanError::Eos));
    }

    #[test]
    fn padding_of_eight_bits_is_rejected() {
        // '0' (00000) + 111 padding fills one octet; a second octet of ones is 11 bits.
        assert_eq!(decode(&[0x07]).unwrap(), b"0".as_slice());
        assert_eq!(decode(&[0x07, 0xff]), Err(HuffmanError::PaddingTooLong));
        // An octet of ones alone is 8 bits of padding.
        assert_eq!(decode(&[0xff]), Err(HuffmanError::PaddingTooLong));
    }

    #[test]
    fn padding_with_a_zero_is_rejected() {
        // '0' (00000) + 110: not all ones.
        assert_eq!(decode(&[0x06]), Err(HuffmanError::PaddingNotOnes));
        // '0' + '0' needs 10 bits: 00000000 00111111 is '0','0' + 6 ones.
        assert_eq!(decode(&[0x00, 0x3f]).unwrap(), b"00".as_slice());
        assert_eq!(decode(&[0x00, 0x3e]), Err(HuffmanError::PaddingNotOnes));
    }

    #[test]
    fn max_decoded_len_is_an_upper_bound() {
        let shortest = encoded(b"00000000");
        assert_eq!(shortest.len(), 5);
        assert_eq!(max_decoded_len(shortest.len()), 8);
    }

    proptest! {
        #[test]
        fn round_trip(input in proptest::collection::vec(any::<u8>(), 0..300)) {
            let wire = encoded(&input);
            prop_assert_eq!(wire.len(), encoded_len(&input));
            prop_assert_eq!(decoded_len(&wire), Ok(input.len()));
            prop_assert!(input.len() <= max_decoded_len(wire.len()));
            prop_assert_eq!(decode(&wire).unwrap(), input.as_slice());
        }

        #[test]
        fn arbitrary_input_never_panics(input in proptest::collection::vec(any::<u8>(), 0..64)) {
            let decoded = decode(&input);
            prop_assert_eq!(decoded.as_ref().map(Bytes::len).map_err(|e| *e), decoded_len(&input));
            if let Ok(decoded) = decoded {
                prop_assert!(decoded.len() <= max_decoded_len(input.len()));
                // Valid strings re-encode to themselves (padding is canonical).
                prop_assert_eq!(encoded(&decoded), input);
            }
        }
    }
}
