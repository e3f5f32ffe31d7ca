//! The 9-octet frame header (RFC 9113 §4.1).

use super::StreamId;

/// Length of the frame header in octets (§4.1).
pub const HEADER_LEN: usize = 9;

/// Largest value the 24-bit Length field can carry.
const MAX_LEN: u32 = (1 << 24) - 1;

/// Frame flags (§6). A flag octet means different things per frame type;
/// flags not defined for a type are ignored on receipt (§4.1).
pub mod flags {
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

/// The frame Type field (§4.1, §6, §11.2).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum FrameType {
    /// DATA (0x0).
    Data,
    /// HEADERS (0x1).
    Headers,
    /// PRIORITY (0x2).
    Priority,
    /// RST_STREAM (0x3).
    RstStream,
    /// SETTINGS (0x4).
    Settings,
    /// PUSH_PROMISE (0x5).
    PushPromise,
    /// PING (0x6).
    Ping,
    /// GOAWAY (0x7).
    GoAway,
    /// WINDOW_UPDATE (0x8).
    WindowUpdate,
    /// CONTINUATION (0x9).
    Continuation,
    /// Any other type octet (always 0x0a or above when built with `from`).
    Unknown(u8),
}

impl From<u8> for FrameType {
    fn from(v: u8) -> Self {
        match v {
            0x0 => FrameType::Data,
            0x1 => FrameType::Headers,
            0x2 => FrameType::Priority,
            0x3 => FrameType::RstStream,
            0x4 => FrameType::Settings,
            0x5 => FrameType::PushPromise,
            0x6 => FrameType::Ping,
            0x7 => FrameType::GoAway,
            0x8 => FrameType::WindowUpdate,
            0x9 => FrameType::Continuation,
            other => FrameType::Unknown(other),
        }
    }
}

impl From<FrameType> for u8 {
    fn from(t: FrameType) -> Self {
        match t {
            FrameType::Data => 0x0,
            FrameType::Headers => 0x1,
            FrameType::Priority => 0x2,
            FrameType::RstStream => 0x3,
            FrameType::Settings => 0x4,
            FrameType::PushPromise => 0x5,
            FrameType::Ping => 0x6,
            FrameType::GoAway => 0x7,
            FrameType::WindowUpdate => 0x8,
            FrameType::Continuation => 0x9,
            FrameType::Unknown(v) => v,
        }
    }
}

/// A parsed frame header (§4.1).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FrameHeader {
    /// Payload length (24 bits; the 9 header octets are not included).
    pub len: u32,
    /// Frame type.
    pub kind: FrameType,
    /// Flags octet, as received (undefined flags included).
    pub flags: u8,
    /// Stream identifier, reserved bit cleared.
    pub stream_id: StreamId,
}

impl FrameHeader {
    /// Builds a header.
    pub fn new(kind: FrameType, flags: u8, stream_id: StreamId, len: u32) -> Self {
        FrameHeader { len, kind, flags, stream_id }
    }

    /// Parses a complete 9-octet header. The reserved bit of the stream
    /// identifier is ignored (§4.1).
    pub fn parse(buf: &[u8; HEADER_LEN]) -> FrameHeader {
        let [l0, l1, l2, kind, flags, s0, s1, s2, s3] = *buf;
        FrameHeader {
            len: u32::from_be_bytes([0, l0, l1, l2]),
            kind: FrameType::from(kind),
            flags,
            stream_id: StreamId::from_wire(u32::from_be_bytes([s0, s1, s2, s3])),
        }
    }

    /// Parses the header at the start of `buf`; `None` while fewer than
    /// [`HEADER_LEN`] octets are available. Octets after the header are not
    /// looked at.
    pub fn try_parse(buf: &[u8]) -> Option<FrameHeader> {
        buf.first_chunk::<HEADER_LEN>().map(FrameHeader::parse)
    }

    /// True when every bit of `flag` is set.
    pub fn has_flag(&self, flag: u8) -> bool {
        self.flags & flag == flag
    }

    /// Appends the 9-octet wire form to `dst`. The reserved bit is sent as 0.
    ///
    /// `len` must fit in 24 bits (checked in debug builds; higher bits are
    /// dropped otherwise). Frame sizes are the caller's responsibility.
    pub fn encode(&self, dst: &mut Vec<u8>) {
        dst.extend_from_slice(&self.to_bytes());
    }

    /// The 9-octet wire form ([`FrameHeader::encode`] without a buffer).
    pub fn to_bytes(&self) -> [u8; HEADER_LEN] {
        debug_assert!(self.len <= MAX_LEN, "frame length {} exceeds 24 bits", self.len);
        let [_, l0, l1, l2] = self.len.to_be_bytes();
        let [s0, s1, s2, s3] = (self.stream_id.0 & StreamId::MAX.0).to_be_bytes();
        [l0, l1, l2, self.kind.into(), self.flags, s0, s1, s2, s3]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frame_type_round_trips_every_octet() {
        for v in 0..=u8::MAX {
            let t = FrameType::from(v);
            assert_eq!(u8::from(t), v);
            assert_eq!(matches!(t, FrameType::Unknown(_)), v >= 0x0a);
        }
    }

    #[test]
    fn header_parse_and_encode() {
        let wire = [0x01, 0x02, 0x03, 0x04, 0x25, 0x80, 0x00, 0x00, 0x07];
        let h = FrameHeader::parse(&wire);
        assert_eq!(h.len, 0x01_0203);
        assert_eq!(h.kind, FrameType::Settings);
        assert_eq!(h.flags, 0x25);
        // Reserved bit cleared (§4.1).
        assert_eq!(h.stream_id, StreamId(7));
        assert!(h.has_flag(flags::PRIORITY | flags::END_HEADERS));
        assert!(!h.has_flag(flags::PADDED));

        let mut out = Vec::new();
        h.encode(&mut out);
        assert_eq!(out, [0x01, 0x02, 0x03, 0x04, 0x25, 0x00, 0x00, 0x00, 0x07]);
    }

    #[test]
    fn header_try_parse_needs_nine_octets() {
        let wire = [0u8, 0, 8, 6, 1, 0, 0, 0, 0, 0xaa];
        for n in 0..HEADER_LEN {
            assert_eq!(FrameHeader::try_parse(&wire[..n]), None);
        }
        let h = FrameHeader::try_parse(&wire).expect("complete header");
        assert_eq!(h, FrameHeader::new(FrameType::Ping, flags::ACK, StreamId::ZERO, 8));
    }

    #[test]
    fn header_encode_clears_reserved_bit() {
        let mut out = Vec::new();
        FrameHeader::new(FrameType::Unknown(0xfe), 0xff, StreamId(u32::MAX), 0).encode(&mut out);
        assert_eq!(out, [0, 0, 0, 0xfe, 0xff, 0x7f, 0xff, 0xff, 0xff]);
    }
}
