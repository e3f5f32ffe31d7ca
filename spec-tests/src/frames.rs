//! A raw frame writer: builds the exact octets of any frame, valid or not.
//!
//! Nothing here checks the RFC: conformance cases need illegal sequences
//! (DATA on stream 0, a PING of 6 octets, padding longer than the payload...),
//! so every builder writes what it is told. The core's own encoder is not used
//! for what the suite sends, so a bug there cannot hide a bug in the decoder.

/// Frame type octets (RFC 9113 §6, §11.2).
pub mod kind {
    /// DATA.
    pub const DATA: u8 = 0x0;
    /// HEADERS.
    pub const HEADERS: u8 = 0x1;
    /// PRIORITY.
    pub const PRIORITY: u8 = 0x2;
    /// RST_STREAM.
    pub const RST_STREAM: u8 = 0x3;
    /// SETTINGS.
    pub const SETTINGS: u8 = 0x4;
    /// PUSH_PROMISE.
    pub const PUSH_PROMISE: u8 = 0x5;
    /// PING.
    pub const PING: u8 = 0x6;
    /// GOAWAY.
    pub const GOAWAY: u8 = 0x7;
    /// WINDOW_UPDATE.
    pub const WINDOW_UPDATE: u8 = 0x8;
    /// CONTINUATION.
    pub const CONTINUATION: u8 = 0x9;
}

/// Flag bits (RFC 9113 §6).
pub mod flag {
    /// END_STREAM (DATA, HEADERS).
    pub const END_STREAM: u8 = 0x1;
    /// ACK (SETTINGS, PING).
    pub const ACK: u8 = 0x1;
    /// END_HEADERS (HEADERS, PUSH_PROMISE, CONTINUATION).
    pub const END_HEADERS: u8 = 0x4;
    /// PADDED (DATA, HEADERS, PUSH_PROMISE).
    pub const PADDED: u8 = 0x8;
    /// PRIORITY (HEADERS).
    pub const PRIORITY: u8 = 0x20;
}

/// SETTINGS identifiers (RFC 9113 §6.5.2).
pub mod setting {
    /// SETTINGS_HEADER_TABLE_SIZE.
    pub const HEADER_TABLE_SIZE: u16 = 0x1;
    /// SETTINGS_ENABLE_PUSH.
    pub const ENABLE_PUSH: u16 = 0x2;
    /// SETTINGS_MAX_CONCURRENT_STREAMS.
    pub const MAX_CONCURRENT_STREAMS: u16 = 0x3;
    /// SETTINGS_INITIAL_WINDOW_SIZE.
    pub const INITIAL_WINDOW_SIZE: u16 = 0x4;
    /// SETTINGS_MAX_FRAME_SIZE.
    pub const MAX_FRAME_SIZE: u16 = 0x5;
    /// SETTINGS_MAX_HEADER_LIST_SIZE.
    pub const MAX_HEADER_LIST_SIZE: u16 = 0x6;
}

/// The 9-octet header and the payload, as given. The Length field is the
/// payload's length (use [`frame_with_len`] to lie about it).
pub fn frame(kind: u8, flags: u8, stream: u32, payload: &[u8]) -> Vec<u8> {
    frame_with_len(payload.len() as u32, kind, flags, stream, payload)
}

/// A frame whose Length field says `len` whatever the payload is.
pub fn frame_with_len(len: u32, kind: u8, flags: u8, stream: u32, payload: &[u8]) -> Vec<u8> {
    let [_, l0, l1, l2] = len.to_be_bytes();
    let mut out = vec![l0, l1, l2, kind, flags];
    out.extend_from_slice(&stream.to_be_bytes());
    out.extend_from_slice(payload);
    out
}

/// Priority fields: E bit + 31-bit dependency, then the weight octet.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Priority {
    /// Stream dependency.
    pub dependency: u32,
    /// Exclusive flag.
    pub exclusive: bool,
    /// Weight octet (weight - 1).
    pub weight: u8,
}

impl Priority {
    /// A dependency on `dependency` with `weight`, not exclusive.
    pub fn on(dependency: u32, weight: u8) -> Self {
        Priority { dependency, exclusive: false, weight }
    }

    fn put(&self, out: &mut Vec<u8>) {
        let e = if self.exclusive { 0x8000_0000 } else { 0 };
        out.extend_from_slice(&(self.dependency | e).to_be_bytes());
        out.push(self.weight);
    }
}

/// DATA.
pub fn data(stream: u32, end_stream: bool, payload: &[u8]) -> Vec<u8> {
    frame(kind::DATA, end_flag(end_stream), stream, payload)
}

/// DATA with PADDED: a Pad Length octet of `padding.len()`, then the padding.
pub fn data_padded(stream: u32, end_stream: bool, payload: &[u8], padding: &[u8]) -> Vec<u8> {
    let mut body = vec![padding.len() as u8];
    body.extend_from_slice(payload);
    body.extend_from_slice(padding);
    frame(kind::DATA, end_flag(end_stream) | flag::PADDED, stream, &body)
}

/// What a HEADERS frame carries (the fields of Go's `HeadersFrameParam`).
#[derive(Clone, Debug, Default)]
pub struct HeadersParam {
    /// Stream identifier.
    pub stream: u32,
    /// The field block fragment.
    pub block: Vec<u8>,
    /// END_STREAM.
    pub end_stream: bool,
    /// END_HEADERS.
    pub end_headers: bool,
    /// Priority fields (sets PRIORITY).
    pub priority: Option<Priority>,
    /// Padding octets (sets PADDED when `Some`).
    pub pad_len: Option<u8>,
}

/// HEADERS.
pub fn headers(p: &HeadersParam) -> Vec<u8> {
    let mut flags = end_flag(p.end_stream);
    if p.end_headers {
        flags |= flag::END_HEADERS;
    }
    let mut body = Vec::with_capacity(p.block.len() + 6);
    if let Some(pad) = p.pad_len {
        flags |= flag::PADDED;
        body.push(pad);
    }
    if let Some(prio) = &p.priority {
        flags |= flag::PRIORITY;
        prio.put(&mut body);
    }
    body.extend_from_slice(&p.block);
    body.resize(body.len() + usize::from(p.pad_len.unwrap_or(0)), 0);
    frame(kind::HEADERS, flags, p.stream, &body)
}

/// PRIORITY.
pub fn priority(stream: u32, p: Priority) -> Vec<u8> {
    let mut body = Vec::with_capacity(5);
    p.put(&mut body);
    frame(kind::PRIORITY, 0, stream, &body)
}

/// RST_STREAM.
pub fn rst_stream(stream: u32, code: u32) -> Vec<u8> {
    frame(kind::RST_STREAM, 0, stream, &code.to_be_bytes())
}

/// SETTINGS with the given (identifier, value) pairs, in order.
pub fn settings(params: &[(u16, u32)]) -> Vec<u8> {
    let mut body = Vec::with_capacity(params.len() * 6);
    for (id, value) in params {
        body.extend_from_slice(&id.to_be_bytes());
        body.extend_from_slice(&value.to_be_bytes());
    }
    frame(kind::SETTINGS, 0, 0, &body)
}

/// An empty SETTINGS with ACK.
pub fn settings_ack() -> Vec<u8> {
    frame(kind::SETTINGS, flag::ACK, 0, &[])
}

/// PUSH_PROMISE.
pub fn push_promise(stream: u32, promised: u32, end_headers: bool, block: &[u8]) -> Vec<u8> {
    let mut body = promised.to_be_bytes().to_vec();
    body.extend_from_slice(block);
    let flags = if end_headers { flag::END_HEADERS } else { 0 };
    frame(kind::PUSH_PROMISE, flags, stream, &body)
}

/// PING.
pub fn ping(ack: bool, payload: [u8; 8]) -> Vec<u8> {
    frame(kind::PING, if ack { flag::ACK } else { 0 }, 0, &payload)
}

/// GOAWAY.
pub fn goaway(last_stream: u32, code: u32, debug: &[u8]) -> Vec<u8> {
    let mut body = last_stream.to_be_bytes().to_vec();
    body.extend_from_slice(&code.to_be_bytes());
    body.extend_from_slice(debug);
    frame(kind::GOAWAY, 0, 0, &body)
}

/// WINDOW_UPDATE.
pub fn window_update(stream: u32, increment: u32) -> Vec<u8> {
    frame(kind::WINDOW_UPDATE, 0, stream, &increment.to_be_bytes())
}

/// CONTINUATION.
pub fn continuation(stream: u32, end_headers: bool, block: &[u8]) -> Vec<u8> {
    frame(kind::CONTINUATION, if end_headers { flag::END_HEADERS } else { 0 }, stream, block)
}

fn end_flag(end_stream: bool) -> u8 {
    if end_stream { flag::END_STREAM } else { 0 }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_with_padding_and_priority_lay_out_as_rfc_figure_7() {
        let p = HeadersParam {
            stream: 3,
            block: vec![0x82],
            end_stream: true,
            end_headers: true,
            priority: Some(Priority { dependency: 1, exclusive: true, weight: 15 }),
            pad_len: Some(2),
        };
        let wire = headers(&p);
        assert_eq!(
            wire,
            [0, 0, 9, 1, 0x2d, 0, 0, 0, 3, 2, 0x80, 0, 0, 1, 15, 0x82, 0, 0],
            "length 9, flags PRIORITY|PADDED|END_HEADERS|END_STREAM"
        );
    }

    #[test]
    fn settings_and_lengths_are_written_as_given() {
        assert_eq!(settings(&[(0xff, 1)]), [0, 0, 6, 4, 0, 0, 0, 0, 0, 0, 0xff, 0, 0, 0, 1]);
        assert_eq!(frame_with_len(9, kind::SETTINGS, 0, 0, &[1, 2]), [0, 0, 9, 4, 0, 0, 0, 0, 0, 1, 2]);
        assert_eq!(data_padded(1, true, b"ab", &[0; 3]), [0, 0, 6, 0, 9, 0, 0, 0, 1, 3, b'a', b'b', 0, 0, 0]);
    }
}
