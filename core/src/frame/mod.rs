//! HTTP/2 frames (RFC 9113 §4 and §6): zero-copy decoding from [`Bytes`],
//! encoding into a caller-owned buffer.
//!
//! Decoding is split in two steps so that partial input works at any byte:
//! [`FrameDecoder::decode`] waits until a whole frame sits in the caller's
//! `BytesMut`, checks the 9-octet header against `SETTINGS_MAX_FRAME_SIZE`
//! *before* the payload arrives (an oversized frame is rejected without
//! buffering it), then splits the frame off and parses the payload as slices
//! of the same allocation.
//!
//! Every violation is a [`FrameError`] that says whether it is a connection
//! or a stream error (RFC 9113 §5.4) and which [`ErrorCode`] the RFC requires.
//! Rules that need connection state (which streams are open, CONTINUATION
//! sequencing, flow control) belong to the connection, not to this module.

mod decode;
mod encode;
mod error;
mod header;
mod settings;
#[cfg(test)]
mod tests;

pub use decode::{FrameDecoder, GROW_ABOVE, parse_frame};
pub use encode::{HeaderBlockKind, encode_data_header, encode_header_block};
pub use error::{FrameError, FrameErrorKind, Scope};
pub use header::{FrameHeader, FrameType, HEADER_LEN, flags};
pub use settings::{SettingId, Settings};

use bytes::Bytes;

use crate::error_code::ErrorCode;

/// The initial and minimum value of `SETTINGS_MAX_FRAME_SIZE` (RFC 9113 §6.5.2).
pub const DEFAULT_MAX_FRAME_SIZE: u32 = 1 << 14;
/// The largest value `SETTINGS_MAX_FRAME_SIZE` may take (2^24 - 1).
pub const MAX_MAX_FRAME_SIZE: u32 = (1 << 24) - 1;
/// The largest flow-control window (2^31 - 1, RFC 9113 §6.9.1).
pub const MAX_WINDOW_SIZE: u32 = (1 << 31) - 1;

/// A 31-bit stream identifier (RFC 9113 §5.1.1). The reserved high bit is
/// always cleared on decode.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct StreamId(pub u32);

impl StreamId {
    /// Stream 0: the connection itself.
    pub const ZERO: StreamId = StreamId(0);
    /// The largest stream identifier (2^31 - 1).
    pub const MAX: StreamId = StreamId((1 << 31) - 1);

    /// Builds an id from a raw 32-bit field, clearing the reserved bit.
    pub fn from_wire(v: u32) -> StreamId {
        StreamId(v & 0x7fff_ffff)
    }

    /// True for stream 0 (the connection control stream).
    pub fn is_zero(self) -> bool {
        self.0 == 0
    }

    /// True for odd ids: streams opened by clients.
    pub fn is_client_initiated(self) -> bool {
        self.0 % 2 == 1
    }

    /// True for even, non-zero ids: streams opened by servers (push).
    pub fn is_server_initiated(self) -> bool {
        self.0 != 0 && self.0.is_multiple_of(2)
    }
}

impl std::fmt::Debug for StreamId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "StreamId({})", self.0)
    }
}

impl std::fmt::Display for StreamId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.0)
    }
}

impl From<u32> for StreamId {
    fn from(v: u32) -> Self {
        StreamId::from_wire(v)
    }
}

/// Stream priority information (RFC 9113 §5.3.2, §6.3). Deprecated by RFC 9113
/// but still parsed and validated; the connection ignores it for scheduling.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Priority {
    /// Whether the dependency is exclusive.
    pub exclusive: bool,
    /// The stream this one depends on.
    pub dependency: StreamId,
    /// Wire weight (0..=255, meaning 1..=256).
    pub weight: u8,
}

/// A decoded frame. Payload fields are slices of the input [`Bytes`]: no copy.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Frame {
    /// DATA (§6.1).
    Data(Data),
    /// HEADERS (§6.2).
    Headers(Headers),
    /// PRIORITY (§6.3).
    Priority(PriorityFrame),
    /// RST_STREAM (§6.4).
    RstStream(RstStream),
    /// SETTINGS (§6.5).
    Settings(SettingsFrame),
    /// PUSH_PROMISE (§6.6).
    PushPromise(PushPromise),
    /// PING (§6.7).
    Ping(Ping),
    /// GOAWAY (§6.8).
    GoAway(GoAway),
    /// WINDOW_UPDATE (§6.9).
    WindowUpdate(WindowUpdate),
    /// CONTINUATION (§6.10).
    Continuation(Continuation),
    /// A frame of an unknown type: implementations MUST ignore and discard it
    /// (§4.1, §5.5), except inside a header block (checked by the connection).
    Unknown(Unknown),
}

impl Frame {
    /// The stream the frame belongs to (0 for connection frames).
    pub fn stream_id(&self) -> StreamId {
        match self {
            Frame::Data(f) => f.stream_id,
            Frame::Headers(f) => f.stream_id,
            Frame::Priority(f) => f.stream_id,
            Frame::RstStream(f) => f.stream_id,
            Frame::Settings(_) | Frame::Ping(_) | Frame::GoAway(_) => StreamId::ZERO,
            Frame::PushPromise(f) => f.stream_id,
            Frame::WindowUpdate(f) => f.stream_id,
            Frame::Continuation(f) => f.stream_id,
            Frame::Unknown(f) => f.stream_id,
        }
    }
}

/// DATA frame (§6.1).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Data {
    /// Stream the data belongs to (never 0).
    pub stream_id: StreamId,
    /// Application data, padding removed.
    pub data: Bytes,
    /// END_STREAM flag.
    pub end_stream: bool,
    /// Pad Length field when PADDED was set (the padding itself is dropped).
    pub pad_len: Option<u8>,
}

impl Data {
    /// Octets this frame counts against flow control: the whole payload,
    /// padding and the Pad Length octet included (§6.1, §6.9).
    pub fn flow_len(&self) -> u32 {
        self.data.len() as u32 + self.pad_len.map_or(0, |p| p as u32 + 1)
    }
}

/// HEADERS frame (§6.2).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Headers {
    /// Stream the header block opens or continues (never 0).
    pub stream_id: StreamId,
    /// Field block fragment (HPACK-encoded), padding and priority removed.
    pub fragment: Bytes,
    /// END_STREAM flag.
    pub end_stream: bool,
    /// END_HEADERS flag: false means CONTINUATION frames follow.
    pub end_headers: bool,
    /// Priority fields when the PRIORITY flag was set.
    pub priority: Option<Priority>,
    /// Pad Length field when PADDED was set.
    pub pad_len: Option<u8>,
}

/// PRIORITY frame (§6.3).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PriorityFrame {
    /// Stream whose priority is given (never 0).
    pub stream_id: StreamId,
    /// The priority fields.
    pub priority: Priority,
}

/// RST_STREAM frame (§6.4).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RstStream {
    /// Stream being reset (never 0).
    pub stream_id: StreamId,
    /// Why.
    pub error_code: ErrorCode,
}

/// SETTINGS frame (§6.5).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SettingsFrame {
    /// ACK flag: acknowledges the peer's SETTINGS (payload then empty).
    pub ack: bool,
    /// The parameters, validated (§6.5.2); unknown identifiers ignored.
    pub settings: Settings,
}

/// PUSH_PROMISE frame (§6.6).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PushPromise {
    /// Stream the promise is associated with (never 0).
    pub stream_id: StreamId,
    /// The stream being reserved.
    pub promised_id: StreamId,
    /// Field block fragment, padding removed.
    pub fragment: Bytes,
    /// END_HEADERS flag.
    pub end_headers: bool,
    /// Pad Length field when PADDED was set.
    pub pad_len: Option<u8>,
}

/// PING frame (§6.7).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Ping {
    /// ACK flag.
    pub ack: bool,
    /// Opaque data, echoed in the ACK.
    pub payload: [u8; 8],
}

/// GOAWAY frame (§6.8).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GoAway {
    /// Highest peer-initiated stream that was or might be processed.
    pub last_stream_id: StreamId,
    /// Why the connection is closing.
    pub error_code: ErrorCode,
    /// Opaque diagnostic data.
    pub debug_data: Bytes,
}

/// WINDOW_UPDATE frame (§6.9).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WindowUpdate {
    /// Stream whose window grows, 0 for the connection window.
    pub stream_id: StreamId,
    /// Window size increment (1..=2^31-1).
    pub increment: u32,
}

/// CONTINUATION frame (§6.10).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Continuation {
    /// Stream the header block belongs to (never 0).
    pub stream_id: StreamId,
    /// Field block fragment.
    pub fragment: Bytes,
    /// END_HEADERS flag.
    pub end_headers: bool,
}

/// A frame of an unknown type (§5.5), kept so it can be counted or logged.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Unknown {
    /// The frame type octet.
    pub kind: u8,
    /// The flags octet.
    pub flags: u8,
    /// The stream identifier.
    pub stream_id: StreamId,
    /// The raw payload.
    pub payload: Bytes,
}
