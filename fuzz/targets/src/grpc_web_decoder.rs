//! `grpc_web_decoder`: gRPC-Web bodies (binary or base64 text) through
//! [`WebDecoder`] in random pieces.
//!
//! Input: a mode octet (bit 0: text mode; bit 7: structured), 2 octets of
//! maximum message length (u16), 8 octets seeding the piece sizes, then
//! * raw mode: the body itself (any octets);
//! * structured mode: records `[flush][len u8][len octets]` made into
//!   messages, then trailers whose status message is the rest; in text mode
//!   the encoder flushes (pads) after the records whose flush bit is set.
//!
//! Checks: the same frames and the same error whether the body comes whole
//! or in pieces; the decoder never holds more octets than it was given; in
//! structured mode, the messages and the status come back as sent (or
//! `TooLarge` for a message over the limit).

use bytes::Bytes;
use weir_core::grpc::web::{
    TextEncoder, WebDecoder, WebEncoding, WebError, WebFrame, encode_message, encode_trailers,
};
use weir_core::grpc::{Code, Status};
use weir_core::sim::Rng;

/// Runs one input.
pub fn run(data: &[u8]) {
    let Some((head, rest)) = data.split_first_chunk::<11>() else {
        return;
    };
    let encoding = if head[0] & 1 == 1 { WebEncoding::Text } else { WebEncoding::Binary };
    let max = usize::from(u16::from_be_bytes([head[1], head[2]]));
    let mut seed = [0u8; 8];
    seed.copy_from_slice(&head[3..11]);
    let mut rng = Rng::new(u64::from_le_bytes(seed));
    let (body, sent) = if head[0] & 0x80 != 0 { build(rest, encoding) } else { (rest.to_vec(), None) };
    let whole = decode(encoding, max, &body, &mut |_| usize::MAX);
    let pieces = decode(encoding, max, &body, &mut |left| 1 + rng.below(left.min(64)));
    assert_eq!(whole, pieces, "frames differ with the split");
    if let Some((messages, status)) = sent {
        let (frames, err) = pieces;
        let too_large = messages.iter().position(|m| m.len() > max);
        let upto = too_large.unwrap_or(messages.len());
        let got: Vec<&Bytes> = frames
            .iter()
            .filter_map(|f| match f {
                WebFrame::Message(m) => Some(&m.data),
                WebFrame::Trailers(_) => None,
            })
            .collect();
        assert_eq!(got.len(), upto);
        for (g, m) in got.iter().zip(&messages) {
            assert_eq!(&g[..], &m[..]);
        }
        match too_large {
            Some(i) => assert_eq!(err, Some(WebError::TooLarge { len: messages[i].len(), max })),
            None => {
                assert_eq!(err, None);
                let Some(WebFrame::Trailers(t)) = frames.last() else { panic!("no trailers") };
                assert_eq!(t.status(), status);
            }
        }
    }
}

/// A valid body and what it carries.
#[allow(clippy::type_complexity)]
fn build(mut rest: &[u8], encoding: WebEncoding) -> (Vec<u8>, Option<(Vec<Vec<u8>>, Status)>) {
    let mut plain = Vec::new();
    let mut text = Vec::new();
    let mut enc = TextEncoder::new();
    let mut messages = Vec::new();
    while let Some((&[flush, len], tail)) = rest.split_first_chunk::<2>() {
        let n = usize::from(len).min(tail.len());
        let start = plain.len();
        encode_message(&tail[..n], &mut plain);
        enc.push(&plain[start..], &mut text);
        if flush & 1 == 1 {
            enc.flush(&mut text);
        }
        messages.push(tail[..n].to_vec());
        rest = &tail[n..];
    }
    let status = Status::new(
        Code::from_i32(i32::from(rest.first().copied().unwrap_or(0) % 17)),
        String::from_utf8_lossy(rest),
    );
    let start = plain.len();
    encode_trailers(&status, &mut plain);
    enc.push(&plain[start..], &mut text);
    enc.flush(&mut text);
    let body = match encoding {
        WebEncoding::Binary => plain,
        WebEncoding::Text => text,
    };
    (body, Some((messages, status)))
}

/// Decodes `body` in pieces; the frames and the first error.
fn decode(
    encoding: WebEncoding,
    max: usize,
    body: &[u8],
    sizes: &mut dyn FnMut(usize) -> usize,
) -> (Vec<WebFrame>, Option<WebError>) {
    let mut d = WebDecoder::new(encoding, max);
    let mut frames = Vec::new();
    let mut rest = body;
    let mut given = 0;
    let result = (|| {
        while !rest.is_empty() {
            let n = sizes(rest.len()).min(rest.len());
            d.push(&rest[..n]);
            given += n;
            rest = &rest[n..];
            assert!(d.buffered() <= given, "holds more than it was given");
            while let Some(f) = d.next_frame()? {
                frames.push(f);
            }
        }
        d.finish()?;
        while let Some(f) = d.next_frame()? {
            frames.push(f);
        }
        Ok(())
    })();
    (frames, result.err())
}
