//! Frame encoding into a caller-owned `Vec<u8>` (RFC 9113 §4.1, §6).
//!
//! Every function reserves the exact number of octets once, then appends.
//! Frame sizes are the caller's business: payloads must respect the peer's
//! `SETTINGS_MAX_FRAME_SIZE` (and so always fit the 24-bit Length field).

use super::header::{FrameHeader, FrameType, HEADER_LEN, flags};
use super::settings::Settings;
use super::{
    Continuation, Data, Frame, GoAway, Headers, MAX_MAX_FRAME_SIZE, Ping, Priority, PriorityFrame,
    PushPromise, RstStream, SettingsFrame, StreamId, Unknown, WindowUpdate,
};

/// Length of the priority fields (§6.2, §6.3).
const PRIORITY_LEN: usize = 5;
/// Length of one SETTINGS parameter (§6.5.1).
const SETTING_LEN: usize = 6;
/// Length of the Promised Stream ID field (§6.6).
const PROMISED_ID_LEN: usize = 4;

/// The frame that starts a field block split by [`encode_header_block`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HeaderBlockKind {
    /// A HEADERS frame (§6.2).
    Headers {
        /// Set END_STREAM on the HEADERS frame.
        end_stream: bool,
        /// Priority fields to send (PRIORITY flag), if any.
        priority: Option<Priority>,
    },
    /// A PUSH_PROMISE frame (§6.6).
    PushPromise {
        /// The stream being reserved.
        promised_id: StreamId,
    },
}

impl HeaderBlockKind {
    /// Octets of fixed fields in front of the fragment.
    fn fixed_len(&self) -> usize {
        match self {
            HeaderBlockKind::Headers { priority, .. } => priority_len(priority),
            HeaderBlockKind::PushPromise { .. } => PROMISED_ID_LEN,
        }
    }
}

/// Appends the 9-octet header of a DATA frame (§6.1) with a `len`-octet
/// payload and no padding, so the caller can write the payload separately
/// (e.g. with a vectored write).
pub fn encode_data_header(stream_id: StreamId, len: u32, end_stream: bool, dst: &mut Vec<u8>) {
    let flags = flag(end_stream, flags::END_STREAM);
    FrameHeader::new(FrameType::Data, flags, stream_id, len).encode(dst);
}

/// Appends a whole field block as one HEADERS or PUSH_PROMISE frame followed
/// by as many CONTINUATION frames as needed (§4.3, §6.10), none with a
/// payload above `max_frame_size`. END_HEADERS is set on the last frame only,
/// END_STREAM (HEADERS) on the first only. No padding is sent.
///
/// `max_frame_size` is normally the peer's `SETTINGS_MAX_FRAME_SIZE`. It is
/// lowered to 2^24-1 if larger, and raised so that the first frame holds its
/// fixed fields plus one octet of the block if smaller.
pub fn encode_header_block(
    kind: HeaderBlockKind,
    stream_id: StreamId,
    block: &[u8],
    max_frame_size: u32,
    dst: &mut Vec<u8>,
) {
    let fixed = kind.fixed_len();
    let max = (max_frame_size as usize).clamp(fixed + 1, MAX_MAX_FRAME_SIZE as usize);
    let (first, rest) = block.split_at(block.len().min(max - fixed));
    let continuations = rest.len().div_ceil(max);
    dst.reserve(HEADER_LEN * (1 + continuations) + fixed + block.len());

    let end_headers = flag(rest.is_empty(), flags::END_HEADERS);
    match kind {
        HeaderBlockKind::Headers { end_stream, priority } => {
            let flags =
                end_headers | flag(end_stream, flags::END_STREAM) | flag(priority.is_some(), flags::PRIORITY);
            let len = frame_len(fixed + first.len());
            FrameHeader::new(FrameType::Headers, flags, stream_id, len).encode(dst);
            if let Some(priority) = priority {
                put_priority(&priority, dst);
            }
        }
        HeaderBlockKind::PushPromise { promised_id } => {
            let len = frame_len(fixed + first.len());
            FrameHeader::new(FrameType::PushPromise, end_headers, stream_id, len).encode(dst);
            put_stream_id(promised_id, dst);
        }
    }
    dst.extend_from_slice(first);

    let mut chunks = rest.chunks(max).peekable();
    while let Some(chunk) = chunks.next() {
        let flags = flag(chunks.peek().is_none(), flags::END_HEADERS);
        let len = frame_len(chunk.len());
        FrameHeader::new(FrameType::Continuation, flags, stream_id, len).encode(dst);
        dst.extend_from_slice(chunk);
    }
}

impl Frame {
    /// Appends the exact wire form of the frame (header and payload) to
    /// `dst`. Padding is written as `pad_len` zero octets; flags are derived
    /// from the fields. The frame is written as given, not validated: the
    /// payload must fit the peer's `SETTINGS_MAX_FRAME_SIZE`, and fields must
    /// be valid (e.g. no parameters on a SETTINGS ACK, a type octet of 0x0a or
    /// above in [`Frame::Unknown`]).
    pub fn encode(&self, dst: &mut Vec<u8>) {
        dst.reserve(self.encoded_len());
        match self {
            Frame::Data(f) => encode_data(f, dst),
            Frame::Headers(f) => encode_headers(f, dst),
            Frame::Priority(f) => encode_priority(f, dst),
            Frame::RstStream(f) => encode_rst_stream(f, dst),
            Frame::Settings(f) => encode_settings(f, dst),
            Frame::PushPromise(f) => encode_push_promise(f, dst),
            Frame::Ping(f) => encode_ping(f, dst),
            Frame::GoAway(f) => encode_go_away(f, dst),
            Frame::WindowUpdate(f) => encode_window_update(f, dst),
            Frame::Continuation(f) => encode_continuation(f, dst),
            Frame::Unknown(f) => encode_unknown(f, dst),
        }
    }

    /// Number of octets [`Frame::encode`] appends (header included).
    pub fn encoded_len(&self) -> usize {
        HEADER_LEN + self.payload_len()
    }

    /// Payload length on the wire.
    fn payload_len(&self) -> usize {
        match self {
            Frame::Data(f) => padded_len(f.pad_len, f.data.len()),
            Frame::Headers(f) => padded_len(f.pad_len, priority_len(&f.priority) + f.fragment.len()),
            Frame::Priority(_) => PRIORITY_LEN,
            Frame::RstStream(_) | Frame::WindowUpdate(_) => 4,
            Frame::Settings(f) => SETTING_LEN * f.settings.iter().count(),
            Frame::PushPromise(f) => padded_len(f.pad_len, PROMISED_ID_LEN + f.fragment.len()),
            Frame::Ping(_) => 8,
            Frame::GoAway(f) => 8 + f.debug_data.len(),
            Frame::Continuation(f) => f.fragment.len(),
            Frame::Unknown(f) => f.payload.len(),
        }
    }
}

/// DATA (§6.1).
fn encode_data(f: &Data, dst: &mut Vec<u8>) {
    let flags = pad_flag(f.pad_len) | flag(f.end_stream, flags::END_STREAM);
    let len = frame_len(padded_len(f.pad_len, f.data.len()));
    FrameHeader::new(FrameType::Data, flags, f.stream_id, len).encode(dst);
    put_padded(f.pad_len, dst, |dst| dst.extend_from_slice(&f.data));
}

/// HEADERS (§6.2).
fn encode_headers(f: &Headers, dst: &mut Vec<u8>) {
    let flags = pad_flag(f.pad_len)
        | flag(f.end_stream, flags::END_STREAM)
        | flag(f.end_headers, flags::END_HEADERS)
        | flag(f.priority.is_some(), flags::PRIORITY);
    let len = frame_len(padded_len(f.pad_len, priority_len(&f.priority) + f.fragment.len()));
    FrameHeader::new(FrameType::Headers, flags, f.stream_id, len).encode(dst);
    put_padded(f.pad_len, dst, |dst| {
        if let Some(priority) = &f.priority {
            put_priority(priority, dst);
        }
        dst.extend_from_slice(&f.fragment);
    });
}

/// PRIORITY (§6.3).
fn encode_priority(f: &PriorityFrame, dst: &mut Vec<u8>) {
    let len = frame_len(PRIORITY_LEN);
    FrameHeader::new(FrameType::Priority, 0, f.stream_id, len).encode(dst);
    put_priority(&f.priority, dst);
}

/// RST_STREAM (§6.4).
fn encode_rst_stream(f: &RstStream, dst: &mut Vec<u8>) {
    FrameHeader::new(FrameType::RstStream, 0, f.stream_id, 4).encode(dst);
    dst.extend_from_slice(&f.error_code.0.to_be_bytes());
}

/// SETTINGS (§6.5), parameters in [`Settings::iter`] order.
fn encode_settings(f: &SettingsFrame, dst: &mut Vec<u8>) {
    let flags = flag(f.ack, flags::ACK);
    let len = frame_len(SETTING_LEN * f.settings.iter().count());
    FrameHeader::new(FrameType::Settings, flags, StreamId::ZERO, len).encode(dst);
    put_settings(&f.settings, dst);
}

/// The parameters of a SETTINGS payload (§6.5.1).
fn put_settings(settings: &Settings, dst: &mut Vec<u8>) {
    for (id, value) in settings.iter() {
        dst.extend_from_slice(&(id as u16).to_be_bytes());
        dst.extend_from_slice(&value.to_be_bytes());
    }
}

/// PUSH_PROMISE (§6.6).
fn encode_push_promise(f: &PushPromise, dst: &mut Vec<u8>) {
    let flags = pad_flag(f.pad_len) | flag(f.end_headers, flags::END_HEADERS);
    let len = frame_len(padded_len(f.pad_len, PROMISED_ID_LEN + f.fragment.len()));
    FrameHeader::new(FrameType::PushPromise, flags, f.stream_id, len).encode(dst);
    put_padded(f.pad_len, dst, |dst| {
        put_stream_id(f.promised_id, dst);
        dst.extend_from_slice(&f.fragment);
    });
}

/// PING (§6.7).
fn encode_ping(f: &Ping, dst: &mut Vec<u8>) {
    let flags = flag(f.ack, flags::ACK);
    FrameHeader::new(FrameType::Ping, flags, StreamId::ZERO, 8).encode(dst);
    dst.extend_from_slice(&f.payload);
}

/// GOAWAY (§6.8).
fn encode_go_away(f: &GoAway, dst: &mut Vec<u8>) {
    let len = frame_len(8 + f.debug_data.len());
    FrameHeader::new(FrameType::GoAway, 0, StreamId::ZERO, len).encode(dst);
    put_stream_id(f.last_stream_id, dst);
    dst.extend_from_slice(&f.error_code.0.to_be_bytes());
    dst.extend_from_slice(&f.debug_data);
}

/// WINDOW_UPDATE (§6.9); the reserved bit is sent as 0.
fn encode_window_update(f: &WindowUpdate, dst: &mut Vec<u8>) {
    FrameHeader::new(FrameType::WindowUpdate, 0, f.stream_id, 4).encode(dst);
    dst.extend_from_slice(&(f.increment & super::MAX_WINDOW_SIZE).to_be_bytes());
}

/// CONTINUATION (§6.10).
fn encode_continuation(f: &Continuation, dst: &mut Vec<u8>) {
    let flags = flag(f.end_headers, flags::END_HEADERS);
    let len = frame_len(f.fragment.len());
    FrameHeader::new(FrameType::Continuation, flags, f.stream_id, len).encode(dst);
    dst.extend_from_slice(&f.fragment);
}

/// A frame of unknown type, written as-is (§5.5).
fn encode_unknown(f: &Unknown, dst: &mut Vec<u8>) {
    let len = frame_len(f.payload.len());
    FrameHeader::new(FrameType::from(f.kind), f.flags, f.stream_id, len).encode(dst);
    dst.extend_from_slice(&f.payload);
}

/// `flag` when `set`, else no flag.
fn flag(set: bool, flag: u8) -> u8 {
    if set { flag } else { 0 }
}

/// Octets taken by the priority fields, if present.
fn priority_len(priority: &Option<Priority>) -> usize {
    priority.map_or(0, |_| PRIORITY_LEN)
}

/// Payload length with the Pad Length octet and padding added.
fn padded_len(pad_len: Option<u8>, inner: usize) -> usize {
    inner + pad_len.map_or(0, |p| 1 + usize::from(p))
}

/// PADDED when a Pad Length is given.
fn pad_flag(pad_len: Option<u8>) -> u8 {
    flag(pad_len.is_some(), flags::PADDED)
}

/// Writes the Pad Length octet, the body (via `body`) and the zero padding.
fn put_padded(pad_len: Option<u8>, dst: &mut Vec<u8>, body: impl FnOnce(&mut Vec<u8>)) {
    if let Some(p) = pad_len {
        dst.push(p);
    }
    body(dst);
    if let Some(p) = pad_len {
        dst.resize(dst.len() + usize::from(p), 0);
    }
}

/// Priority fields: E bit + 31-bit dependency, weight (§6.2, §6.3).
fn put_priority(priority: &Priority, dst: &mut Vec<u8>) {
    let exclusive = if priority.exclusive { 0x8000_0000 } else { 0 };
    let dependency = (priority.dependency.0 & StreamId::MAX.0) | exclusive;
    dst.extend_from_slice(&dependency.to_be_bytes());
    dst.push(priority.weight);
}

/// A 31-bit stream identifier with the reserved bit cleared.
fn put_stream_id(id: StreamId, dst: &mut Vec<u8>) {
    dst.extend_from_slice(&(id.0 & StreamId::MAX.0).to_be_bytes());
}

/// A payload length for the header. Lengths above 24 bits are a caller bug
/// caught by [`FrameHeader::encode`] in debug builds.
fn frame_len(len: usize) -> u32 {
    u32::try_from(len).unwrap_or(u32::MAX)
}
