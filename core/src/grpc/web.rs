//! gRPC-Web framing (grpc/doc/PROTOCOL-WEB.md), over any HTTP version.
//!
//! The differences from gRPC over HTTP/2 that live in the body:
//! * the status and trailing metadata travel as the last length-prefixed
//!   frame of the response body, flagged by the most significant bit of its
//!   first octet ("8th (MSB) bit of the 1st gRPC frame byte ... 1:
//!   trailers"), their payload "encoded as a HTTP/1 headers block (without
//!   the terminating newline)" with lower-case names;
//! * `application/grpc-web-text` bodies are base64, and "the client library
//!   should not assume base64 padding always happens at the boundary of
//!   message frames": padding may come after any flush, so the text decoder
//!   here restarts after each padded group, whatever the chunking.
//!
//! `-bin` trailer values stay base64 in both modes, as grpc-web's JavaScript
//! client and tonic-web expect (the spec's note that text mode skips their
//! extra encoding is not what those implementations do).

use bytes::{Buf, Bytes, BytesMut};

use super::codec::{PREFIX_LEN, RawMessage, prefix};
use super::{Code, Metadata, Status, base64, parse_status, status_fields};
use crate::headers::Headers;
use crate::hpack::HeaderField;

/// `application/grpc-web`: binary frames (protobuf implied).
pub const CONTENT_TYPE: &str = "application/grpc-web";
/// `application/grpc-web+proto`.
pub const CONTENT_TYPE_PROTO: &str = "application/grpc-web+proto";
/// `application/grpc-web-text`: base64 frames.
pub const CONTENT_TYPE_TEXT: &str = "application/grpc-web-text";
/// `application/grpc-web-text+proto`.
pub const CONTENT_TYPE_TEXT_PROTO: &str = "application/grpc-web-text+proto";

/// The flag bit of a trailers frame (`0x80`; `0x81` would be compressed
/// trailers).
pub const TRAILERS_FLAG: u8 = 0x80;

/// The largest trailers frame [`WebDecoder`] accepts (the same bound as an
/// HTTP/2 header list, `Config::max_header_list_size`).
pub const MAX_TRAILERS_LEN: usize = 16 << 10;

/// How a gRPC-Web body is carried.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum WebEncoding {
    /// `application/grpc-web[+subtype]`: frames as octets.
    Binary,
    /// `application/grpc-web-text[+subtype]`: frames in base64.
    Text,
}

impl WebEncoding {
    /// The content type to answer with (`+proto`).
    pub fn content_type(self) -> &'static str {
        match self {
            WebEncoding::Binary => CONTENT_TYPE_PROTO,
            WebEncoding::Text => CONTENT_TYPE_TEXT_PROTO,
        }
    }
}

/// The encoding a `content-type` value names: `application/grpc-web` or
/// `application/grpc-web-text`, optionally followed by `+subtype` or
/// `;parameters`; type and subtype compared case-insensitively (RFC 9110
/// §8.3.1). `None` for anything else (plain `application/grpc` included).
pub fn parse_content_type(v: &[u8]) -> Option<WebEncoding> {
    let after = |base: &str| {
        let b = base.as_bytes();
        (v.len() >= b.len() && v[..b.len()].eq_ignore_ascii_case(b))
            .then(|| &v[b.len()..])
            .filter(|rest| rest.is_empty() || rest[0] == b'+' || rest[0] == b';')
    };
    if after(CONTENT_TYPE_TEXT).is_some() {
        Some(WebEncoding::Text)
    } else if after(CONTENT_TYPE).is_some() {
        Some(WebEncoding::Binary)
    } else {
        None
    }
}

/// Why a gRPC-Web body cannot be decoded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WebError {
    /// Text mode: not base64 (a character outside the alphabet, misplaced
    /// padding, non-zero trailing bits).
    InvalidBase64,
    /// A frame flag other than 0x00, 0x01 (messages) and 0x80 (trailers).
    BadFlag(u8),
    /// Compressed trailers (0x81), which Weir does not accept.
    CompressedTrailers,
    /// A message longer than the limit, or trailers longer than
    /// [`MAX_TRAILERS_LEN`].
    TooLarge {
        /// Declared length.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// A trailers frame that is not `name: value` lines.
    InvalidTrailers,
    /// A frame after the trailers ("Trailers must be the last message").
    DataAfterTrailers,
    /// The body ended inside a frame (or, in text mode, inside a base64
    /// group of one character).
    Truncated,
}

impl std::fmt::Display for WebError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Debug::fmt(self, f)
    }
}

impl std::error::Error for WebError {}

impl WebError {
    /// The call's status for a body that failed to decode: RESOURCE_EXHAUSTED
    /// for a message over the limit, INTERNAL naming `what` (the request
    /// body, the response) otherwise.
    pub fn status(self, what: &str) -> Status {
        match self {
            WebError::TooLarge { len, max } => Status::new(
                Code::ResourceExhausted,
                format!("received message larger than max ({len} vs. {max})"),
            ),
            e => Status::new(Code::Internal, format!("malformed {what}: {e}")),
        }
    }
}

/// Appends a message frame: flag 0 (uncompressed), length, octets.
pub fn encode_message(msg: &[u8], out: &mut Vec<u8>) {
    out.extend_from_slice(&prefix(false, msg.len() as u32));
    out.extend_from_slice(msg);
}

/// Appends the trailers frame for `status` and its metadata: flag 0x80,
/// length, then `name: value\r\n` per field with `grpc-status` first,
/// names lower-case.
pub fn encode_trailers(status: &Status, out: &mut Vec<u8>) {
    let mut fields = Vec::new();
    status_fields(status, &mut fields);
    status.metadata.to_fields(&mut fields);
    encode_trailer_fields(&fields, out);
}

/// Appends a trailers frame holding `fields` as they are (the status ones
/// first, as [`encode_trailers`] puts them), names lower-cased.
pub(crate) fn encode_trailer_fields(fields: &[HeaderField], out: &mut Vec<u8>) {
    let start = out.len();
    out.extend_from_slice(&[TRAILERS_FLAG, 0, 0, 0, 0]);
    for f in fields {
        out.extend(f.name.iter().map(u8::to_ascii_lowercase));
        out.extend_from_slice(b": ");
        if f.name.as_ref() == b"grpc-message" {
            put_message_keeping_edge_spaces(&f.value, out);
        } else {
            out.extend_from_slice(&f.value);
        }
        out.extend_from_slice(b"\r\n");
    }
    let len = (out.len() - start - PREFIX_LEN) as u32;
    out[start + 1..start + PREFIX_LEN].copy_from_slice(&len.to_be_bytes());
}

/// Appends a percent-encoded `grpc-message` with spaces at either end as
/// `%20`: a header line's value loses its surrounding whitespace (RFC 9112
/// §5.1), and the message must come back as it was sent.
fn put_message_keeping_edge_spaces(value: &[u8], out: &mut Vec<u8>) {
    let lead = value.iter().take_while(|&&b| b == b' ').count();
    let trail = value[lead..].iter().rev().take_while(|&&b| b == b' ').count();
    for _ in 0..lead {
        out.extend_from_slice(b"%20");
    }
    out.extend_from_slice(&value[lead..value.len() - trail]);
    for _ in 0..trail {
        out.extend_from_slice(b"%20");
    }
}

/// Streaming base64 encoder for `grpc-web-text` bodies: octets in any
/// pieces, whole groups out; [`TextEncoder::flush`] pads what is left, so a
/// flushed body can be sent at once (and decoded by [`TextDecoder`]).
#[derive(Clone, Debug, Default)]
pub struct TextEncoder {
    carry: [u8; 2],
    carried: usize,
}

impl TextEncoder {
    /// An encoder with nothing pending.
    pub fn new() -> Self {
        TextEncoder::default()
    }

    /// Encodes `data`; up to two octets wait for the next call or `flush`.
    pub fn push(&mut self, mut data: &[u8], out: &mut Vec<u8>) {
        if self.carried > 0 {
            let take = (3 - self.carried).min(data.len());
            let mut group = [0u8; 3];
            group[..self.carried].copy_from_slice(&self.carry[..self.carried]);
            group[self.carried..self.carried + take].copy_from_slice(&data[..take]);
            data = &data[take..];
            if self.carried + take < 3 {
                self.carry[..self.carried + take].copy_from_slice(&group[..self.carried + take]);
                self.carried += take;
                return;
            }
            out.extend_from_slice(&base64::encode(&group));
            self.carried = 0;
        }
        let whole = data.len() / 3 * 3;
        out.extend_from_slice(&base64::encode(&data[..whole]));
        let rest = &data[whole..];
        self.carry[..rest.len()].copy_from_slice(rest);
        self.carried = rest.len();
    }

    /// Encodes what is pending, padded to a whole group.
    pub fn flush(&mut self, out: &mut Vec<u8>) {
        if self.carried > 0 {
            out.extend_from_slice(&base64::encode(&self.carry[..self.carried]));
            out.extend_from_slice(if self.carried == 1 { b"==" } else { b"=" });
            self.carried = 0;
        }
    }
}

/// Streaming base64 decoder for `grpc-web-text` bodies: text in any pieces,
/// octets out as soon as a 4-character group is whole. A padded group ends
/// one base64 run and the next character starts another (PROTOCOL-WEB:
/// padding may come between frames, or wherever the sender flushed).
#[derive(Clone, Debug, Default)]
pub struct TextDecoder {
    carry: [u8; 4],
    carried: usize,
}

impl TextDecoder {
    /// A decoder with nothing pending.
    pub fn new() -> Self {
        TextDecoder::default()
    }

    /// Characters of an incomplete group held (0..=3).
    pub fn pending(&self) -> usize {
        self.carried
    }

    /// Decodes `text` into `out`; up to three characters wait for the rest
    /// of their group.
    pub fn push(&mut self, mut text: &[u8], out: &mut Vec<u8>) -> Result<(), WebError> {
        if self.carried > 0 {
            let take = (4 - self.carried).min(text.len());
            self.carry[self.carried..self.carried + take].copy_from_slice(&text[..take]);
            self.carried += take;
            text = &text[take..];
            if self.carried < 4 {
                return Ok(());
            }
            self.carried = 0;
            let group = self.carry;
            decode_groups(&group, out)?;
        }
        let whole = text.len() / 4 * 4;
        decode_groups(&text[..whole], out)?;
        let rest = &text[whole..];
        self.carry[..rest.len()].copy_from_slice(rest);
        self.carried = rest.len();
        Ok(())
    }

    /// The text ended: an unpadded final group of 2 or 3 characters is
    /// decoded; a lone character is [`WebError::Truncated`].
    pub fn finish(&mut self, out: &mut Vec<u8>) -> Result<(), WebError> {
        let n = std::mem::take(&mut self.carried);
        match n {
            0 => Ok(()),
            1 => Err(WebError::Truncated),
            _ => {
                let tail = base64::decode(&self.carry[..n]).ok_or(WebError::InvalidBase64)?;
                out.extend_from_slice(&tail);
                Ok(())
            }
        }
    }
}

/// Decodes whole 4-character groups; a group ending in `=` closes a run.
/// On an invalid group, `out` holds the octets of every group before it
/// (so what is reported does not depend on how the text was split).
fn decode_groups(groups: &[u8], out: &mut Vec<u8>) -> Result<(), WebError> {
    let mut start = 0;
    for end in (4..=groups.len()).step_by(4) {
        if groups[end - 1] == b'=' || end == groups.len() {
            match base64::decode(&groups[start..end]) {
                Some(run) => out.extend_from_slice(&run),
                None => {
                    // The slow path, once per broken body: the valid groups first.
                    for group in groups[start..end].chunks_exact(4) {
                        out.extend_from_slice(&base64::decode(group).ok_or(WebError::InvalidBase64)?);
                    }
                }
            }
            start = end;
        }
    }
    Ok(())
}

/// A response's trailers, from its trailers frame: lower-case names, values
/// as sent (`-bin` ones still base64).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Trailers {
    /// The fields in order.
    pub fields: Vec<HeaderField>,
}

impl Trailers {
    /// The first value of `name` (lower-case).
    pub fn get(&self, name: &str) -> Option<&Bytes> {
        self.fields.iter().find(|f| f.name.as_ref() == name.as_bytes()).map(|f| &f.value)
    }

    /// The call's status with its trailing metadata (a missing
    /// `grpc-status` is UNKNOWN, malformed metadata INTERNAL).
    pub fn status(&self) -> Status {
        let mut headers = Headers::trailers();
        headers.fields.clone_from(&self.fields);
        let status = parse_status(&headers);
        match Metadata::from_fields(&self.fields) {
            Ok(md) => status.with_metadata(md),
            Err(e) => Status::new(Code::Internal, format!("malformed trailing metadata: {e}")),
        }
    }

    /// Parses a trailers frame's payload: `name: value` lines ended by CRLF
    /// (or a bare LF; the last line's ending is optional), empty lines
    /// ignored; names must be tokens and are lower-cased.
    pub fn parse(block: &[u8]) -> Result<Trailers, WebError> {
        let mut fields = Vec::new();
        for line in block.split(|&b| b == b'\n') {
            let line = line.strip_suffix(b"\r").unwrap_or(line);
            if line.is_empty() {
                continue;
            }
            let colon = line.iter().position(|&b| b == b':').ok_or(WebError::InvalidTrailers)?;
            let (name, value) = (&line[..colon], line[colon + 1..].trim_ascii());
            if name.is_empty()
                || !name.iter().all(|&b| crate::http1::is_tchar(b))
                || value.iter().any(|&b| b == b'\r' || b == 0)
            {
                return Err(WebError::InvalidTrailers);
            }
            let name: Vec<u8> = name.iter().map(u8::to_ascii_lowercase).collect();
            fields.push(HeaderField::new(name, Bytes::copy_from_slice(value)));
        }
        Ok(Trailers { fields })
    }
}

/// One frame of a gRPC-Web body.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum WebFrame {
    /// A message (flag 0x00 or 0x01).
    Message(RawMessage),
    /// The trailers (flag 0x80): the last frame of a response.
    Trailers(Trailers),
}

/// Decodes a gRPC-Web body (a response, for a client; a request's messages,
/// for a server) pushed in arbitrary pieces, binary or text.
///
/// Holds at most one partial frame plus what was pushed and not yet taken;
/// a frame's length is checked against the limit from its prefix alone.
#[derive(Debug)]
pub struct WebDecoder {
    encoding: WebEncoding,
    text: TextDecoder,
    buf: BytesMut,
    scratch: Vec<u8>,
    max_message: usize,
    trailers_seen: bool,
    /// A text body that stopped being base64: reported once the frames
    /// before it were taken.
    broken: Option<WebError>,
}

impl WebDecoder {
    /// A decoder rejecting messages over `max_message` octets.
    pub fn new(encoding: WebEncoding, max_message: usize) -> Self {
        WebDecoder {
            encoding,
            text: TextDecoder::new(),
            buf: BytesMut::new(),
            scratch: Vec::new(),
            max_message,
            trailers_seen: false,
            broken: None,
        }
    }

    /// Adds body octets (base64 text in text mode). Errors, invalid base64
    /// included, are reported by [`WebDecoder::next_frame`] after the frames
    /// that came before them, whatever the pieces.
    pub fn push(&mut self, chunk: &[u8]) {
        match self.encoding {
            WebEncoding::Binary => self.buf.extend_from_slice(chunk),
            WebEncoding::Text if self.broken.is_none() => {
                self.scratch.clear();
                if let Err(e) = self.text.push(chunk, &mut self.scratch) {
                    self.broken = Some(e);
                }
                self.buf.extend_from_slice(&self.scratch);
            }
            WebEncoding::Text => {}
        }
    }

    /// Decoded octets held (partial frames included).
    pub fn buffered(&self) -> usize {
        self.buf.len()
    }

    /// True once the trailers frame was decoded.
    pub fn trailers_seen(&self) -> bool {
        self.trailers_seen
    }

    /// The next complete frame, if any.
    pub fn next_frame(&mut self) -> Result<Option<WebFrame>, WebError> {
        let Some(&[flag, l0, l1, l2, l3]) = self.buf.first_chunk::<PREFIX_LEN>() else {
            return self.broken.map_or(Ok(None), Err);
        };
        if self.trailers_seen {
            return Err(WebError::DataAfterTrailers);
        }
        let len = u32::from_be_bytes([l0, l1, l2, l3]) as usize;
        let max = match flag {
            0 | 1 => self.max_message,
            TRAILERS_FLAG => MAX_TRAILERS_LEN,
            0x81 => return Err(WebError::CompressedTrailers),
            f => return Err(WebError::BadFlag(f)),
        };
        if len > max {
            return Err(WebError::TooLarge { len, max });
        }
        if self.buf.len() - PREFIX_LEN < len {
            return self.broken.map_or(Ok(None), Err);
        }
        self.buf.advance(PREFIX_LEN);
        let data = self.buf.split_to(len).freeze();
        if flag == TRAILERS_FLAG {
            self.trailers_seen = true;
            return Trailers::parse(&data).map(|t| Some(WebFrame::Trailers(t)));
        }
        Ok(Some(WebFrame::Message(RawMessage { compressed: flag == 1, data })))
    }

    /// The body ended: nothing may be left but complete frames (take them
    /// with [`WebDecoder::next_frame`] first).
    pub fn finish(&mut self) -> Result<(), WebError> {
        if let Some(e) = self.broken {
            return Err(e);
        }
        if self.encoding == WebEncoding::Text {
            self.scratch.clear();
            self.text.finish(&mut self.scratch)?;
            self.buf.extend_from_slice(&self.scratch);
        }
        if self.buf.is_empty() { Ok(()) } else { Err(WebError::Truncated) }
    }
}

/// Encodes a gRPC-Web response body frame by frame, each returned whole
/// (text mode: base64, padded per frame, as "the server runtime will always
/// base64-encode and flush gRPC messages atomically").
#[derive(Clone, Debug)]
pub struct WebEncoder {
    encoding: WebEncoding,
}

impl WebEncoder {
    /// An encoder for `encoding`.
    pub fn new(encoding: WebEncoding) -> Self {
        WebEncoder { encoding }
    }

    /// One message frame.
    pub fn message(&self, msg: &[u8]) -> Bytes {
        let mut frame = Vec::with_capacity(PREFIX_LEN + msg.len());
        encode_message(msg, &mut frame);
        self.finish(frame)
    }

    /// The trailers frame for `status` (the last frame of the body).
    pub fn trailers(&self, status: &Status) -> Bytes {
        let mut frame = Vec::new();
        encode_trailers(status, &mut frame);
        self.finish(frame)
    }

    /// Octets that already are whole frames (several messages framed back
    /// to back), as the body carries them: as they are in binary mode (no
    /// copy), base64 in one padded group in text mode.
    pub fn frames(&self, frames: Bytes) -> Bytes {
        match self.encoding {
            WebEncoding::Binary => frames,
            WebEncoding::Text => {
                let mut text = Vec::with_capacity(frames.len().div_ceil(3) * 4);
                let mut enc = TextEncoder::new();
                enc.push(&frames, &mut text);
                enc.flush(&mut text);
                Bytes::from(text)
            }
        }
    }

    fn finish(&self, frame: Vec<u8>) -> Bytes {
        self.frames(Bytes::from(frame))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_types() {
        assert_eq!(parse_content_type(b"application/grpc-web"), Some(WebEncoding::Binary));
        assert_eq!(parse_content_type(b"application/grpc-web+proto"), Some(WebEncoding::Binary));
        assert_eq!(parse_content_type(b"Application/GRPC-Web;charset=utf-8"), Some(WebEncoding::Binary));
        assert_eq!(parse_content_type(b"application/grpc-web-text"), Some(WebEncoding::Text));
        assert_eq!(parse_content_type(b"application/grpc-web-text+proto"), Some(WebEncoding::Text));
        assert_eq!(parse_content_type(b"application/grpc"), None);
        assert_eq!(parse_content_type(b"application/grpc+proto"), None);
        assert_eq!(parse_content_type(b"application/grpc-webx"), None);
        assert_eq!(parse_content_type(b"application/grpc-web-textual"), None);
    }

    #[test]
    fn trailers_frame_matches_the_spec_layout() {
        let mut md = Metadata::new();
        md.append("x-user", "ada").unwrap();
        md.append_bin("x-raw-bin", &b"\x00\x01"[..]).unwrap();
        let status = Status::new(Code::NotFound, "no such thing").with_metadata(md);
        let mut frame = Vec::new();
        encode_trailers(&status, &mut frame);
        let block = b"grpc-status: 5\r\ngrpc-message: no such thing\r\nx-user: ada\r\nx-raw-bin: AAE\r\n";
        assert_eq!(frame[0], 0x80);
        assert_eq!(&frame[1..5], &(block.len() as u32).to_be_bytes());
        assert_eq!(&frame[5..], block);
        let parsed = Trailers::parse(&frame[5..]).unwrap();
        assert_eq!(parsed.status(), status);
        // Spaces at the ends of the message survive the header-line format.
        let padded = Status::new(Code::Internal, " x ");
        let mut frame = Vec::new();
        encode_trailers(&padded, &mut frame);
        assert_eq!(&frame[5..], b"grpc-status: 13\r\ngrpc-message: %20x%20\r\n");
        assert_eq!(Trailers::parse(&frame[5..]).unwrap().status(), padded);
    }

    #[test]
    fn malformed_trailers_are_rejected() {
        assert_eq!(Trailers::parse(b"grpc-status 0\r\n"), Err(WebError::InvalidTrailers));
        assert_eq!(Trailers::parse(b": 0\r\n"), Err(WebError::InvalidTrailers));
        assert_eq!(Trailers::parse(b"bad name: 0\r\n"), Err(WebError::InvalidTrailers));
        assert_eq!(Trailers::parse(b"a: b\rc\r\n"), Err(WebError::InvalidTrailers));
        // Upper case is lowered, the last line ending is optional, LF alone is accepted.
        let t = Trailers::parse(b"Grpc-Status: 0\nX-A:  b ").unwrap();
        assert_eq!(t.get("grpc-status"), Some(&Bytes::from_static(b"0")));
        assert_eq!(t.get("x-a"), Some(&Bytes::from_static(b"b")));
        assert_eq!(Trailers::default().status().code, Code::Unknown);
    }

    #[test]
    fn text_decoder_restarts_after_padding() {
        // "a" padded, then "bc" padded, then "def": three flushes in one body.
        let mut out = Vec::new();
        let mut d = TextDecoder::new();
        d.push(b"YQ==YmM=ZGVm", &mut out).unwrap();
        d.finish(&mut out).unwrap();
        assert_eq!(out, b"abcdef");
        for bad in [&b"YQ=A"[..], b"Y===", b"====", b"YQ!=", b"Yh=="] {
            let mut d = TextDecoder::new();
            assert_eq!(d.push(bad, &mut Vec::new()), Err(WebError::InvalidBase64), "{bad:?}");
        }
        let mut d = TextDecoder::new();
        d.push(b"ZGVmY", &mut Vec::new()).unwrap();
        assert_eq!(d.finish(&mut Vec::new()), Err(WebError::Truncated));
    }

    #[test]
    fn text_encoder_pads_only_on_flush() {
        let mut enc = TextEncoder::new();
        let mut out = Vec::new();
        for piece in [&b"a"[..], b"", b"bcd", b"e"] {
            enc.push(piece, &mut out);
        }
        assert_eq!(out, b"YWJj");
        enc.flush(&mut out);
        assert_eq!(out, b"YWJjZGU=");
        enc.flush(&mut out);
        assert_eq!(out, b"YWJjZGU=");
    }

    #[test]
    fn decoder_limits_and_ordering() {
        let mut d = WebDecoder::new(WebEncoding::Binary, 4);
        d.push(&[0, 0, 0, 0, 5]);
        assert_eq!(d.next_frame(), Err(WebError::TooLarge { len: 5, max: 4 }));
        let mut d = WebDecoder::new(WebEncoding::Binary, 4);
        d.push(&[0x81, 0, 0, 0, 0]);
        assert_eq!(d.next_frame(), Err(WebError::CompressedTrailers));
        let mut d = WebDecoder::new(WebEncoding::Binary, 4);
        d.push(&[0x02, 0, 0, 0, 0]);
        assert_eq!(d.next_frame(), Err(WebError::BadFlag(2)));
        let mut d = WebDecoder::new(WebEncoding::Binary, 4);
        d.push(&[0x80, 0, 0, 0x40, 1]);
        assert_eq!(d.next_frame(), Err(WebError::TooLarge { len: 0x4001, max: MAX_TRAILERS_LEN }));
        let mut d = WebDecoder::new(WebEncoding::Binary, 4);
        d.push(&[0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
        assert_eq!(d.next_frame(), Ok(Some(WebFrame::Trailers(Trailers::default()))));
        assert_eq!(d.next_frame(), Err(WebError::DataAfterTrailers));
        let mut d = WebDecoder::new(WebEncoding::Binary, 4);
        d.push(&[0, 0, 0, 0, 2, 7]);
        assert_eq!(d.next_frame(), Ok(None));
        assert_eq!(d.finish(), Err(WebError::Truncated));
    }
}
