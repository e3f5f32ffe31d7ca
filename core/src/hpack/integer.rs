//! Prefixed integers (RFC 7541 §5.1).

use super::DecoderError;

/// Most octets an integer may use: the prefix octet and 4 continuation octets,
/// enough for 2^28 + 254, far beyond any length or index HTTP/2 allows.
const MAX_OCTETS: usize = 5;

/// Decodes an integer with an `prefix_bits`-bit prefix (1..=8) from the start
/// of `input`, ignoring the octet's bits above the prefix.
///
/// Returns the value and the number of octets it used.
#[inline]
pub(super) fn decode_integer(input: &[u8], prefix_bits: u8) -> Result<(usize, usize), DecoderError> {
    let max_prefix = prefix_max(prefix_bits);
    let first = *input.first().ok_or(DecoderError::Truncated)?;
    let prefix = u32::from(first) & max_prefix;
    if prefix < max_prefix {
        return Ok((prefix as usize, 1));
    }
    let mut value = prefix;
    for (shift, octets) in (0..).step_by(7).zip(2..=MAX_OCTETS) {
        let byte = *input.get(octets - 1).ok_or(DecoderError::Truncated)?;
        // At most 4 continuation octets: value <= 255 + (2^28 - 1), fits in u32.
        value += u32::from(byte & 0x7f) << shift;
        if byte & 0x80 == 0 {
            let value = usize::try_from(value).map_err(|_| DecoderError::IntegerOverflow)?;
            return Ok((value, octets));
        }
    }
    Err(DecoderError::IntegerOverflow)
}

/// Appends `value` with an `prefix_bits`-bit prefix; `flags` holds the bits of
/// the first octet above the prefix.
#[inline]
pub(super) fn encode_integer(value: usize, prefix_bits: u8, flags: u8, dst: &mut Vec<u8>) {
    let max_prefix = prefix_max(prefix_bits) as usize;
    if value < max_prefix {
        // `value < max_prefix <= 255`: the cast is exact.
        dst.push(flags | value as u8);
        return;
    }
    dst.push(flags | max_prefix as u8);
    let mut rest = value - max_prefix;
    while rest >= 0x80 {
        dst.push(0x80 | (rest & 0x7f) as u8);
        rest >>= 7;
    }
    dst.push(rest as u8);
}

/// `2^prefix_bits - 1`: the prefix value that announces continuation octets.
fn prefix_max(prefix_bits: u8) -> u32 {
    debug_assert!((1..=8).contains(&prefix_bits));
    (1u32 << prefix_bits) - 1
}

#[cfg(test)]
mod tests {
    use super::*;

    fn encoded(value: usize, prefix_bits: u8, flags: u8) -> Vec<u8> {
        let mut dst = Vec::new();
        encode_integer(value, prefix_bits, flags, &mut dst);
        dst
    }

    #[test]
    fn rfc_c_1_1_ten_with_5_bit_prefix() {
        assert_eq!(encoded(10, 5, 0), [0b0000_1010]);
        assert_eq!(decode_integer(&[0b1110_1010], 5), Ok((10, 1)));
    }

    #[test]
    fn rfc_c_1_2_1337_with_5_bit_prefix() {
        assert_eq!(encoded(1337, 5, 0), [0b0001_1111, 0b1001_1010, 0b0000_1010]);
        assert_eq!(decode_integer(&[0b0001_1111, 0b1001_1010, 0b0000_1010, 0xff], 5), Ok((1337, 3)));
    }

    #[test]
    fn rfc_c_1_3_42_at_octet_boundary() {
        assert_eq!(encoded(42, 8, 0), [0b0010_1010]);
        assert_eq!(decode_integer(&[0b0010_1010], 8), Ok((42, 1)));
    }

    #[test]
    fn flags_are_kept_above_the_prefix() {
        assert_eq!(encoded(3, 7, 0x80), [0x83]);
        assert_eq!(encoded(127, 7, 0x80), [0xff, 0x00]);
        assert_eq!(encoded(30, 5, 0x20), [0x3e]);
    }

    #[test]
    fn prefix_boundary_values() {
        for prefix_bits in 1..=8 {
            let max = (1usize << prefix_bits) - 1;
            for value in [0, max - 1, max, max + 1, max + 127, max + 128, 1 << 20] {
                let wire = encoded(value, prefix_bits, 0);
                assert_eq!(
                    decode_integer(&wire, prefix_bits),
                    Ok((value, wire.len())),
                    "{value}/{prefix_bits}"
                );
            }
        }
    }

    #[test]
    fn largest_five_octet_integer() {
        let wire = [0x1f, 0xff, 0xff, 0xff, 0x7f];
        assert_eq!(decode_integer(&wire, 5), Ok((31 + (1 << 28) - 1, 5)));
        assert_eq!(encoded(31 + (1 << 28) - 1, 5, 0), wire);
    }

    #[test]
    fn six_octets_overflow() {
        assert_eq!(
            decode_integer(&[0x1f, 0x80, 0x80, 0x80, 0x80, 0x00], 5),
            Err(DecoderError::IntegerOverflow)
        );
        // Even when the sixth octet is missing.
        assert_eq!(decode_integer(&[0x1f, 0x80, 0x80, 0x80, 0x80], 5), Err(DecoderError::IntegerOverflow));
    }

    #[test]
    fn truncated() {
        assert_eq!(decode_integer(&[], 5), Err(DecoderError::Truncated));
        assert_eq!(decode_integer(&[0x1f], 5), Err(DecoderError::Truncated));
        assert_eq!(decode_integer(&[0x1f, 0x80, 0x80], 5), Err(DecoderError::Truncated));
    }
}
