//! gRPC-Web framing (grpc/doc/PROTOCOL-WEB.md): messages and the trailers
//! frame round-trip through the encoder and the decoder in binary and text
//! modes, whatever the chunking of the body.

use bytes::Bytes;
use proptest::prelude::*;
use weir_core::grpc::web::{
    TextDecoder, TextEncoder, WebDecoder, WebEncoder, WebEncoding, WebError, WebFrame, encode_message,
    encode_trailers,
};
use weir_core::grpc::{Code, Metadata, Status, base64};

/// Decodes `body` fed in pieces of the given sizes (cycled); returns the
/// messages, the trailers' status, and the first error.
fn decode(
    encoding: WebEncoding,
    body: &[u8],
    sizes: &[usize],
    max: usize,
) -> (Vec<Bytes>, Option<Status>, Option<WebError>) {
    let mut d = WebDecoder::new(encoding, max);
    let mut messages = Vec::new();
    let mut status = None;
    let mut rest = body;
    let mut i = 0;
    let take = |d: &mut WebDecoder, messages: &mut Vec<Bytes>, status: &mut Option<Status>| loop {
        match d.next_frame()? {
            Some(WebFrame::Message(m)) => messages.push(m.data),
            Some(WebFrame::Trailers(t)) => *status = Some(t.status()),
            None => return Ok::<(), WebError>(()),
        }
    };
    let result = (|| {
        while !rest.is_empty() {
            let n = sizes[i % sizes.len()].clamp(1, rest.len());
            i += 1;
            d.push(&rest[..n]);
            rest = &rest[n..];
            take(&mut d, &mut messages, &mut status)?;
        }
        d.finish()?;
        take(&mut d, &mut messages, &mut status)
    })();
    (messages, status, result.err())
}

fn status_with_metadata(code: u8, message: &str, bin: &[u8]) -> Status {
    let mut md = Metadata::new();
    md.append("x-trace", "abc-123").unwrap();
    md.append_bin("x-blob-bin", Bytes::copy_from_slice(bin)).unwrap();
    Status::new(Code::from_i32(i32::from(code % 17)), message).with_metadata(md)
}

#[test]
fn a_response_body_round_trips_in_both_modes() {
    let messages: Vec<&[u8]> = vec![b"", b"a", b"hello", &[0xff; 300]];
    let status = status_with_metadata(3, "bad argument: ünïcode", b"\x00\x01\x02");
    for encoding in [WebEncoding::Binary, WebEncoding::Text] {
        let enc = WebEncoder::new(encoding);
        let mut body = Vec::new();
        for m in &messages {
            body.extend_from_slice(&enc.message(m));
        }
        body.extend_from_slice(&enc.trailers(&status));
        for size in [1, 2, 3, 4, 5, 7, 64, body.len()] {
            let (got, trailers, err) = decode(encoding, &body, &[size], 1024);
            assert_eq!(err, None, "{encoding:?} in pieces of {size}");
            assert_eq!(got, messages.iter().map(|m| Bytes::copy_from_slice(m)).collect::<Vec<_>>());
            assert_eq!(trailers.as_ref(), Some(&status));
        }
    }
}

#[test]
fn text_frames_are_padded_between_frames() {
    // PROTOCOL-WEB: base64 padding may come at frame boundaries (each
    // frame flushed on its own), so the body is not one base64 entity.
    let enc = WebEncoder::new(WebEncoding::Text);
    let body = [enc.message(b"x"), enc.message(b"yz"), enc.trailers(&Status::ok())].concat();
    assert!(body[..body.len() - 1].contains(&b'='), "padding inside the body");
    assert!(base64::decode(&body).is_none(), "not one base64 entity");
    let (got, status, err) = decode(WebEncoding::Text, &body, &[3], 16);
    assert_eq!(err, None);
    assert_eq!(got, vec![Bytes::from_static(b"x"), Bytes::from_static(b"yz")]);
    assert_eq!(status.map(|s| s.code), Some(Code::Ok));
}

#[test]
fn trailers_frame_is_flag_0x80_then_header_lines() {
    let mut frame = Vec::new();
    encode_trailers(&Status::new(Code::Unavailable, ""), &mut frame);
    assert_eq!(frame, b"\x80\x00\x00\x00\x11grpc-status: 14\r\n");
    let mut frame = Vec::new();
    encode_message(b"hi", &mut frame);
    assert_eq!(frame, b"\x00\x00\x00\x00\x02hi");
}

#[test]
fn malformed_bodies_are_typed_errors() {
    let cases: Vec<(WebEncoding, Vec<u8>, WebError)> = vec![
        (WebEncoding::Binary, b"\x02\x00\x00\x00\x00".to_vec(), WebError::BadFlag(2)),
        (WebEncoding::Binary, b"\x81\x00\x00\x00\x00".to_vec(), WebError::CompressedTrailers),
        (WebEncoding::Binary, b"\x00\x00\x00\x01\x00".to_vec(), WebError::TooLarge { len: 256, max: 16 }),
        (WebEncoding::Binary, b"\x00\x00\x00\x00\x03ab".to_vec(), WebError::Truncated),
        (WebEncoding::Binary, b"\x80\x00\x00\x00\x03abc".to_vec(), WebError::InvalidTrailers),
        (
            WebEncoding::Binary,
            b"\x80\x00\x00\x00\x00\x00\x00\x00\x00\x00".to_vec(),
            WebError::DataAfterTrailers,
        ),
        (WebEncoding::Text, b"AAAA!AAA".to_vec(), WebError::InvalidBase64),
        (WebEncoding::Text, b"AA=A".to_vec(), WebError::InvalidBase64),
        (WebEncoding::Text, b"AAAAA".to_vec(), WebError::Truncated),
        // A whole 5-octet prefix announcing 3 octets, then nothing.
        (WebEncoding::Text, b"AAAAAAM=".to_vec(), WebError::Truncated),
    ];
    for (encoding, body, want) in cases {
        for size in [1, body.len()] {
            let (_, _, err) = decode(encoding, &body, &[size], 16);
            assert_eq!(err, Some(want), "{encoding:?} {body:?} in pieces of {size}");
        }
    }
}

#[test]
fn frames_before_broken_text_come_out_whatever_the_split() {
    let enc = WebEncoder::new(WebEncoding::Text);
    let body = [&enc.message(b"ok")[..], b"AAAA!AAA"].concat();
    for size in 1..=body.len() {
        let (got, _, err) = decode(WebEncoding::Text, &body, &[size], 16);
        assert_eq!(got, vec![Bytes::from_static(b"ok")], "pieces of {size}");
        assert_eq!(err, Some(WebError::InvalidBase64), "pieces of {size}");
    }
}

proptest! {
    /// Messages and trailers round-trip in both modes, the body fed in any
    /// pieces; in text mode the sender may also flush (pad) anywhere.
    #[test]
    fn round_trip_with_arbitrary_chunking(
        messages in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..200), 0..8),
        code in any::<u8>(),
        message in "[ -~é]{0,20}",
        bin in proptest::collection::vec(any::<u8>(), 0..20),
        text in any::<bool>(),
        flushes in proptest::collection::vec(any::<bool>(), 1..16),
        sizes in proptest::collection::vec(1usize..50, 1..16),
    ) {
        let encoding = if text { WebEncoding::Text } else { WebEncoding::Binary };
        let status = status_with_metadata(code, &message, &bin);
        let mut plain = Vec::new();
        for m in &messages {
            encode_message(m, &mut plain);
        }
        encode_trailers(&status, &mut plain);
        let body = if text {
            // Flush after random pieces: padding lands anywhere.
            let mut enc = TextEncoder::new();
            let mut out = Vec::new();
            let mut rest = &plain[..];
            let mut i = 0;
            while !rest.is_empty() {
                let n = sizes[i % sizes.len()].min(rest.len());
                enc.push(&rest[..n], &mut out);
                if flushes[i % flushes.len()] {
                    enc.flush(&mut out);
                }
                rest = &rest[n..];
                i += 1;
            }
            enc.flush(&mut out);
            out
        } else {
            plain.clone()
        };
        let (got, trailers, err) = decode(encoding, &body, &sizes, 256);
        prop_assert_eq!(err, None);
        prop_assert_eq!(got, messages.iter().map(|m| Bytes::copy_from_slice(m)).collect::<Vec<_>>());
        prop_assert_eq!(trailers, Some(status));
    }

    /// The streaming text decoder equals one-shot decoding of each padded
    /// run, however the text is split; it never holds more than 3 characters.
    #[test]
    fn text_decoder_is_split_invariant(data in proptest::collection::vec(any::<u8>(), 0..300), cut in any::<prop::sample::Index>()) {
        let mut enc = TextEncoder::new();
        let mut text = Vec::new();
        enc.push(&data, &mut text);
        enc.flush(&mut text);
        let at = cut.index(text.len() + 1);
        let mut d = TextDecoder::new();
        let mut out = Vec::new();
        d.push(&text[..at], &mut out).unwrap();
        prop_assert!(d.pending() <= 3);
        d.push(&text[at..], &mut out).unwrap();
        d.finish(&mut out).unwrap();
        prop_assert_eq!(out, data);
    }

    /// Arbitrary bodies never panic, and the decoder holds no more than it
    /// was given.
    #[test]
    fn arbitrary_bodies_do_not_panic(body in proptest::collection::vec(any::<u8>(), 0..600), text in any::<bool>(), size in 1usize..64) {
        let encoding = if text { WebEncoding::Text } else { WebEncoding::Binary };
        let mut d = WebDecoder::new(encoding, 64);
        for piece in body.chunks(size) {
            d.push(piece);
            prop_assert!(d.buffered() <= body.len());
            while let Ok(Some(_)) = d.next_frame() {}
        }
    }
}
