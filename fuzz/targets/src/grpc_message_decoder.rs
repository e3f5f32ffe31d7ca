//! `grpc_message_decoder`: length-prefixed gRPC messages split into arbitrary
//! chunks through [`MessageDecoder`], checked against a simple reference
//! parser.
//!
//! Input: 1 mode octet (top bit: structured), 2 octets of maximum message
//! length (u16), 8 octets seeding the chunk sizes, then
//! * raw mode: the message stream itself (any octets);
//! * structured mode: records `[flags][len u16][len octets]` turned into a
//!   valid stream, compressed with gzip when the flag's low bit is set.
//!
//! Checks: the same messages (flag and octets) as the reference parser, the
//! same error at the same place (bad flag, over-long length reported from the
//! prefix alone), `buffered`/`wanted`/`finish` consistent with what is left;
//! compressed messages decompress within the limit (structured mode: back to
//! the original, or `TooLarge` when it is over the limit).

use bytes::Bytes;
use weir_core::grpc::Compression;
use weir_core::grpc::codec::{DecodeError, MessageDecoder, PREFIX_LEN, RawMessage, prefix};
use weir_core::grpc::compression::{CompressionError, Gzip};
use weir_core::sim::Rng;

/// What the reference parser expects, in order.
#[derive(Debug, PartialEq, Eq)]
enum Expected {
    Message(RawMessage),
    Error(DecodeError),
}

/// Runs one input.
pub fn run(data: &[u8]) {
    let Some((head, rest)) = data.split_first_chunk::<11>() else {
        return;
    };
    let structured = head[0] & 0x80 != 0;
    let max_len = usize::from(u16::from_be_bytes([head[1], head[2]]));
    let mut seed = [0u8; 8];
    seed.copy_from_slice(&head[3..11]);
    let mut rng = Rng::new(u64::from_le_bytes(seed));
    let (wire, originals) = if structured { build(rest) } else { (rest.to_vec(), Vec::new()) };
    let expected = reference(&wire, max_len);
    let got = decode_chunked(&wire, max_len, &mut rng, head[0]);
    assert_eq!(got.len(), expected.0.len(), "{got:?} vs {:?}", expected.0);
    for (g, e) in got.iter().zip(&expected.0) {
        assert_eq!(g, e);
    }
    let gzip = Gzip::default();
    for (i, e) in got.iter().enumerate() {
        let Expected::Message(m) = e else { continue };
        if !m.compressed {
            if let Some(original) = originals.get(i) {
                assert_eq!(&m.data[..], &original[..]);
            }
            continue;
        }
        let mut out = Vec::new();
        let result = gzip.decompress(&m.data, &mut out, max_len);
        assert!(out.len() <= max_len, "decompressed past the limit");
        if let Some(original) = originals.get(i) {
            if original.len() <= max_len {
                assert_eq!(result, Ok(()));
                assert_eq!(&out[..], &original[..]);
            } else {
                assert_eq!(result, Err(CompressionError::TooLarge { max: max_len }));
                assert!(out.is_empty());
            }
        }
    }
}

/// Structured mode: a valid message stream and the original payloads.
fn build(mut rest: &[u8]) -> (Vec<u8>, Vec<Vec<u8>>) {
    let gzip = Gzip::default();
    let mut wire = Vec::new();
    let mut originals = Vec::new();
    while let Some((h, tail)) = rest.split_first_chunk::<3>() {
        let n = usize::from(u16::from_be_bytes([h[1], h[2]])).min(tail.len());
        let (payload, tail) = tail.split_at(n);
        rest = tail;
        let body = if h[0] & 1 == 1 {
            let mut z = Vec::new();
            gzip.compress(payload, &mut z).expect("gzip compresses");
            z
        } else {
            payload.to_vec()
        };
        wire.extend_from_slice(&prefix(h[0] & 1 == 1, body.len() as u32));
        wire.extend_from_slice(&body);
        originals.push(payload.to_vec());
    }
    (wire, originals)
}

/// The reference parser: the expected results and how many octets they use.
fn reference(wire: &[u8], max_len: usize) -> (Vec<Expected>, usize) {
    let mut out = Vec::new();
    let mut pos = 0;
    while let Some(p) = wire[pos..].first_chunk::<PREFIX_LEN>() {
        let compressed = match p[0] {
            0 => false,
            1 => true,
            f => {
                out.push(Expected::Error(DecodeError::BadFlag(f)));
                return (out, pos + PREFIX_LEN);
            }
        };
        let len = u32::from_be_bytes([p[1], p[2], p[3], p[4]]) as usize;
        if len > max_len {
            out.push(Expected::Error(DecodeError::TooLarge { len, max: max_len }));
            return (out, pos + PREFIX_LEN);
        }
        let start = pos + PREFIX_LEN;
        if wire.len() - start < len {
            break;
        }
        let data = Bytes::copy_from_slice(&wire[start..start + len]);
        out.push(Expected::Message(RawMessage { compressed, data }));
        pos = start + len;
    }
    (out, pos)
}

/// Feeds `wire` in random chunks, pulling messages at random moments and
/// checking the decoder's bookkeeping along the way.
fn decode_chunked(wire: &[u8], max_len: usize, rng: &mut Rng, mode: u8) -> Vec<Expected> {
    let mut d = MessageDecoder::new(max_len);
    let mut out = Vec::new();
    // Octets pushed, and octets of the messages returned so far.
    let mut pushed = 0;
    let mut used = 0;
    // Whether the decoder has read the current message's prefix: it does so
    // on any `next_message` call with 5 octets in.
    let mut parsed = false;
    let mut rest = wire;
    let max_chunk = [1, 7, 64, 4096][usize::from(mode & 3)];
    loop {
        if !rest.is_empty() {
            let n = (1 + rng.below(max_chunk)).min(rest.len());
            // Sometimes an empty chunk: it must change nothing.
            if rng.below(8) == 0 {
                d.push(Bytes::new());
            }
            d.push(Bytes::copy_from_slice(&rest[..n]));
            rest = &rest[n..];
            pushed += n;
        }
        let pulls = if rest.is_empty() { usize::MAX } else { rng.below(3) };
        for _ in 0..pulls {
            match d.next_message() {
                Ok(Some(m)) => {
                    used += PREFIX_LEN + m.data.len();
                    parsed = false;
                    assert!(m.data.len() <= max_len);
                    out.push(Expected::Message(m));
                }
                Ok(None) => {
                    parsed = pushed - used >= PREFIX_LEN;
                    assert!(d.wanted() > 0, "no message but nothing wanted");
                    break;
                }
                Err(e) => {
                    out.push(Expected::Error(e));
                    return out;
                }
            }
        }
        let held = pushed - used - if parsed { PREFIX_LEN } else { 0 };
        assert_eq!(d.buffered(), held, "buffered octets");
        let wanted = match wire[used..].first_chunk::<PREFIX_LEN>() {
            Some(p) if parsed => (u32::from_be_bytes([p[1], p[2], p[3], p[4]]) as usize).saturating_sub(held),
            _ => PREFIX_LEN.saturating_sub(held),
        };
        assert_eq!(d.wanted(), wanted);
        assert_eq!(d.is_empty(), held == 0 && !parsed);
        if rest.is_empty() {
            let (_, consumed) = reference(wire, max_len);
            let leftover = wire.len() - consumed;
            assert_eq!(d.finish().is_ok(), leftover == 0, "finish with {leftover} octets left");
            return out;
        }
    }
}
