//! `frame_decoder`: arbitrary octets through [`FrameDecoder`].
//!
//! Input: 3 octets of `SETTINGS_MAX_FRAME_SIZE` (big-endian, any 24-bit value),
//! 1 octet choosing a chunk size and a header-block split size, then the wire.
//!
//! Checks:
//! * decoding the wire at once and fed in chunks gives the same frames and
//!   errors (partial input is invisible);
//! * `Ok(None)` consumes nothing; a frame or a non-`TooLarge` error consumes
//!   exactly its 9 + length octets; `TooLarge` consumes nothing and only
//!   happens when the length is over the limit;
//! * every decoded frame re-encodes (`encoded_len` exact, never longer than
//!   what was read) and decodes back to itself;
//! * every decoded HEADERS / PUSH_PROMISE fragment, split again with
//!   `encode_header_block`, comes back as the same fragment in frames no
//!   larger than asked, END_HEADERS on the last only.

use bytes::{Bytes, BytesMut};
use weir_core::frame::Frame;
use weir_core::frame::{
    FrameDecoder, FrameError, FrameErrorKind, FrameHeader, HEADER_LEN, HeaderBlockKind, MAX_MAX_FRAME_SIZE,
    Scope, encode_header_block,
};

/// What one decode call produced, with the octets it consumed.
type Step = (Result<Frame, FrameError>, usize);

/// Runs one input.
pub fn run(data: &[u8]) {
    let Some((head, wire)) = data.split_first_chunk::<4>() else {
        return;
    };
    let max = u32::from_be_bytes([0, head[0], head[1], head[2]]);
    let chunk = usize::from(head[3] & 0x3f) + 1;
    let split = (u32::from(head[3] >> 6) + 1) * 4096;

    let (whole, left_whole) = decode_all(max, wire, wire.len().max(1));
    let (pieces, left_pieces) = decode_all(max, wire, chunk);
    assert_eq!(whole, pieces, "chunked decoding differs (chunk {chunk})");
    assert_eq!(left_whole, left_pieces);

    for (result, consumed) in &whole {
        match result {
            Ok(frame) => {
                check_round_trip(frame, *consumed);
                check_header_block_split(frame, split);
            }
            Err(e) => {
                assert_eq!(e.is_connection_error(), e.scope == Scope::Connection);
                let _ = e.code();
            }
        }
    }
}

/// Decodes `wire` fed `chunk` octets at a time. Returns every result and the
/// octets left undecoded (buffered or never fed).
fn decode_all(max: u32, wire: &[u8], chunk: usize) -> (Vec<Step>, usize) {
    let mut decoder = FrameDecoder::new(max);
    let mut buf = BytesMut::new();
    let mut out = Vec::new();
    let mut rest = wire;
    loop {
        let n = chunk.min(rest.len());
        buf.extend_from_slice(&rest[..n]);
        rest = &rest[n..];
        loop {
            let before = buf.len();
            let header = FrameHeader::try_parse(&buf);
            match decoder.decode(&mut buf) {
                Ok(None) => {
                    assert_eq!(buf.len(), before, "Ok(None) must consume nothing");
                    break;
                }
                Ok(Some(frame)) => {
                    let header = header.expect("a frame needs a header");
                    let consumed = before - buf.len();
                    assert_eq!(consumed, HEADER_LEN + header.len as usize);
                    assert!(header.len <= max);
                    assert_eq!(frame.stream_id(), header.stream_id);
                    out.push((Ok(frame), consumed));
                }
                Err(e) => {
                    let header = header.expect("an error needs a header");
                    let consumed = before - buf.len();
                    if let FrameErrorKind::TooLarge { len, max: limit } = e.kind {
                        assert_eq!(consumed, 0, "TooLarge consumes nothing");
                        assert_eq!((len, limit), (header.len, max));
                        assert!(len > max);
                        assert!(e.is_connection_error());
                        out.push((Err(e), 0));
                        return (out, buf.len() + rest.len());
                    }
                    assert_eq!(consumed, HEADER_LEN + header.len as usize);
                    out.push((Err(e), consumed));
                }
            }
        }
        if rest.is_empty() {
            return (out, buf.len());
        }
    }
}

/// The frame encodes to at most the octets it was decoded from, and those
/// decode back to the same frame.
fn check_round_trip(frame: &Frame, consumed: usize) {
    let mut wire = Vec::new();
    frame.encode(&mut wire);
    assert_eq!(wire.len(), frame.encoded_len());
    assert!(wire.len() <= consumed, "re-encoding grew the frame");
    let mut buf = BytesMut::from(&wire[..]);
    let again = FrameDecoder::new(MAX_MAX_FRAME_SIZE)
        .decode(&mut buf)
        .unwrap_or_else(|e| panic!("re-encoded {frame:?} does not decode: {e:?}"))
        .expect("a whole frame");
    assert!(buf.is_empty());
    assert_eq!(&again, frame);
}

/// `encode_header_block` splits a fragment into HEADERS/PUSH_PROMISE +
/// CONTINUATION frames that reassemble to it.
fn check_header_block_split(frame: &Frame, max: u32) {
    let (kind, stream, fragment) = match frame {
        Frame::Headers(h) => (
            HeaderBlockKind::Headers { end_stream: h.end_stream, priority: h.priority },
            h.stream_id,
            &h.fragment,
        ),
        Frame::PushPromise(p) => {
            (HeaderBlockKind::PushPromise { promised_id: p.promised_id }, p.stream_id, &p.fragment)
        }
        _ => return,
    };
    let mut wire = Vec::new();
    encode_header_block(kind, stream, fragment, max, &mut wire);
    let mut buf = BytesMut::from(&wire[..]);
    let mut decoder = FrameDecoder::new(max);
    let mut block = Vec::new();
    let mut frames = 0;
    let mut ended = false;
    while !buf.is_empty() {
        assert!(!ended, "frames after END_HEADERS");
        let f = decoder.decode(&mut buf).expect("split frames decode").expect("split frames are complete");
        let (id, part, end) = match (&f, frames) {
            (Frame::Headers(h), 0) => {
                assert_eq!(Some(kind), Some(headers_kind(h)));
                (h.stream_id, &h.fragment, h.end_headers)
            }
            (Frame::PushPromise(p), 0) => {
                assert_eq!(kind, HeaderBlockKind::PushPromise { promised_id: p.promised_id });
                (p.stream_id, &p.fragment, p.end_headers)
            }
            (Frame::Continuation(c), 1..) => (c.stream_id, &c.fragment, c.end_headers),
            _ => panic!("unexpected frame {frames} in a split block: {f:?}"),
        };
        assert_eq!(id, stream);
        block.extend_from_slice(part);
        ended = end;
        frames += 1;
    }
    assert!(ended, "no END_HEADERS");
    assert_eq!(Bytes::from(block), fragment);
}

fn headers_kind(h: &weir_core::frame::Headers) -> HeaderBlockKind {
    HeaderBlockKind::Headers { end_stream: h.end_stream, priority: h.priority }
}
