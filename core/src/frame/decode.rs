//! Frame decoding (RFC 9113 §4 and §6): [`FrameDecoder`] for a byte stream,
//! [`parse_frame`] for one complete frame.

use bytes::{Bytes, BytesMut};

use super::error::{FrameError, FrameErrorKind as Kind};
use super::header::{FrameHeader, FrameType, HEADER_LEN, flags};
use super::settings::{SettingId, Settings};
use super::{
    Continuation, DEFAULT_MAX_FRAME_SIZE, Data, Frame, GoAway, Headers, MAX_MAX_FRAME_SIZE, MAX_WINDOW_SIZE,
    Ping, Priority, PriorityFrame, PushPromise, RstStream, SettingsFrame, StreamId, Unknown, WindowUpdate,
};
use crate::error_code::ErrorCode;

/// Frames longer than this (a header and HTTP/2's default largest payload)
/// get room for all of them as soon as their header is in, so that a large
/// frame is read into one buffer grown once. A shorter one waiting at the
/// end of a full buffer is left to the reader, which can move it to a
/// buffer it reuses: grown here, it took a fresh allocation, and a reader
/// that fills its buffer to the end met one after almost every read.
pub const GROW_ABOVE: usize = HEADER_LEN + (16 << 10);

/// Length of the priority fields: E bit + 31-bit dependency, weight (§6.2, §6.3).
const PRIORITY_LEN: usize = 5;
/// Length of one SETTINGS parameter: 16-bit id, 32-bit value (§6.5.1).
const SETTING_LEN: usize = 6;
/// Length of the Promised Stream ID field (§6.6).
const PROMISED_ID_LEN: usize = 4;

type Result<T> = std::result::Result<T, FrameError>;

/// Splits frames off a byte stream.
///
/// The only state is the local `SETTINGS_MAX_FRAME_SIZE`: input is kept by
/// the caller in a `BytesMut`, so partial frames cost nothing here.
#[derive(Clone, Debug)]
pub struct FrameDecoder {
    max_frame_size: u32,
}

impl Default for FrameDecoder {
    /// A decoder with the initial limit of 2^14 octets (§6.5.2).
    fn default() -> Self {
        FrameDecoder::new(DEFAULT_MAX_FRAME_SIZE)
    }
}

impl FrameDecoder {
    /// A decoder that rejects payloads longer than `max_frame_size` (the
    /// value of `SETTINGS_MAX_FRAME_SIZE` we advertised and the peer acked).
    pub fn new(max_frame_size: u32) -> Self {
        FrameDecoder { max_frame_size }
    }

    /// Changes the payload limit (e.g. once the peer acks our new SETTINGS).
    pub fn set_max_frame_size(&mut self, max_frame_size: u32) {
        self.max_frame_size = max_frame_size;
    }

    /// The payload limit in force.
    pub fn max_frame_size(&self) -> u32 {
        self.max_frame_size
    }

    /// Takes the next frame off the front of `buf`.
    ///
    /// * `Ok(None)`: no complete frame yet; nothing was consumed. Once the
    ///   header of a frame larger than HTTP/2's default maximum (16 KiB) is
    ///   in, `buf` is grown to hold the whole frame; room for a smaller one
    ///   is the reader's to make ([`GROW_ABOVE`]).
    /// * `Ok(Some(frame))`: the frame's octets were split off `buf`; its
    ///   payload fields are slices of them (no copy).
    /// * `Err(e)`: a protocol violation. For [`FrameErrorKind::TooLarge`]
    ///   (checked as soon as the 9 header octets are in, §4.2) nothing was
    ///   consumed and the connection must be closed. For every other error the
    ///   frame was consumed, so after a stream error decoding can go on.
    ///
    /// [`FrameErrorKind::TooLarge`]: super::FrameErrorKind::TooLarge
    pub fn decode(&mut self, buf: &mut BytesMut) -> Result<Option<Frame>> {
        let Some(header) = FrameHeader::try_parse(buf) else {
            return Ok(None);
        };
        // §4.2: a frame larger than SETTINGS_MAX_FRAME_SIZE is a FRAME_SIZE_ERROR;
        // reject it before its payload is buffered.
        if header.len > self.max_frame_size {
            let kind = Kind::TooLarge { len: header.len, max: self.max_frame_size };
            return Err(FrameError::connection(kind));
        }
        let frame_len = HEADER_LEN + header.len as usize;
        if buf.len() < frame_len {
            if frame_len > GROW_ABOVE {
                buf.reserve(frame_len - buf.len());
            }
            return Ok(None);
        }
        let payload = buf.split_to(frame_len).freeze().slice(HEADER_LEN..);
        parse_frame(header, payload).map(Some)
    }
}

/// Parses one complete frame whose header is `header` and payload `payload`.
///
/// `payload` is authoritative for the length (`header.len` is not consulted);
/// no `SETTINGS_MAX_FRAME_SIZE` check is made here (see [`FrameDecoder`]).
/// Payload fields of the result are slices of `payload`.
pub fn parse_frame(header: FrameHeader, payload: Bytes) -> Result<Frame> {
    match header.kind {
        FrameType::Data => parse_data(header, payload),
        FrameType::Headers => parse_headers(header, payload),
        FrameType::Priority => parse_priority(header, &payload),
        FrameType::RstStream => parse_rst_stream(header, &payload),
        FrameType::Settings => parse_settings(header, &payload),
        FrameType::PushPromise => parse_push_promise(header, payload),
        FrameType::Ping => parse_ping(header, &payload),
        FrameType::GoAway => parse_go_away(header, payload),
        FrameType::WindowUpdate => parse_window_update(header, &payload),
        FrameType::Continuation => parse_continuation(header, payload),
        // §4.1, §5.5: unknown types are passed up to be ignored.
        FrameType::Unknown(kind) => {
            Ok(Frame::Unknown(Unknown { kind, flags: header.flags, stream_id: header.stream_id, payload }))
        }
    }
}

/// DATA (§6.1).
fn parse_data(header: FrameHeader, payload: Bytes) -> Result<Frame> {
    // §6.1: DATA on stream 0 is a connection error of type PROTOCOL_ERROR.
    require_stream(header)?;
    let (data, pad_len) = strip_padding(header, payload, 0)?;
    Ok(Frame::Data(Data {
        stream_id: header.stream_id,
        data,
        end_stream: header.has_flag(flags::END_STREAM),
        pad_len,
    }))
}

/// HEADERS (§6.2).
fn parse_headers(header: FrameHeader, payload: Bytes) -> Result<Frame> {
    // §6.2: HEADERS on stream 0 is a connection error of type PROTOCOL_ERROR.
    require_stream(header)?;
    let has_priority = header.has_flag(flags::PRIORITY);
    let fixed = if has_priority { PRIORITY_LEN } else { 0 };
    let (rest, pad_len) = strip_padding(header, payload, fixed)?;
    let (priority, fragment) = if has_priority {
        let (fields, fragment) = split_fixed::<PRIORITY_LEN>(rest)?;
        // A self-dependency (§5.3.1) is a stream error, but the header block
        // must still reach HPACK (§4.3): the connection checks it after decoding.
        (Some(parse_priority_fields(fields)), fragment)
    } else {
        (None, rest)
    };
    Ok(Frame::Headers(Headers {
        stream_id: header.stream_id,
        fragment,
        end_stream: header.has_flag(flags::END_STREAM),
        end_headers: header.has_flag(flags::END_HEADERS),
        priority,
        pad_len,
    }))
}

/// PRIORITY (§6.3).
fn parse_priority(header: FrameHeader, payload: &[u8]) -> Result<Frame> {
    // §6.3: PRIORITY on stream 0 is a connection error of type PROTOCOL_ERROR.
    require_stream(header)?;
    // §6.3: a length other than 5 is a stream error of type FRAME_SIZE_ERROR.
    let fields = <[u8; PRIORITY_LEN]>::try_from(payload)
        .map_err(|_| FrameError::stream(header.stream_id, Kind::BadLength))?;
    let priority = parse_priority_fields(fields);
    // §5.3.1: a stream cannot depend on itself: stream error PROTOCOL_ERROR.
    if priority.dependency == header.stream_id {
        return Err(FrameError::stream(header.stream_id, Kind::SelfDependency));
    }
    Ok(Frame::Priority(PriorityFrame { stream_id: header.stream_id, priority }))
}

/// RST_STREAM (§6.4).
fn parse_rst_stream(header: FrameHeader, payload: &[u8]) -> Result<Frame> {
    // §6.4: RST_STREAM on stream 0 is a connection error of type PROTOCOL_ERROR.
    require_stream(header)?;
    // §6.4: a length other than 4 is a connection error of type FRAME_SIZE_ERROR.
    let code = exact_u32(payload)?;
    Ok(Frame::RstStream(RstStream { stream_id: header.stream_id, error_code: ErrorCode(code) }))
}

/// SETTINGS (§6.5).
fn parse_settings(header: FrameHeader, payload: &[u8]) -> Result<Frame> {
    // §6.5: SETTINGS on a stream other than 0 is a connection PROTOCOL_ERROR.
    forbid_stream(header)?;
    let ack = header.has_flag(flags::ACK);
    // §6.5: an ACK with a non-empty payload is a connection FRAME_SIZE_ERROR.
    if ack && !payload.is_empty() {
        return Err(FrameError::connection(Kind::SettingsAckWithPayload));
    }
    // §6.5: a length that is not a multiple of 6 is a connection FRAME_SIZE_ERROR.
    if !payload.len().is_multiple_of(SETTING_LEN) {
        return Err(FrameError::connection(Kind::BadLength));
    }
    let mut settings = Settings::default();
    for param in payload.chunks_exact(SETTING_LEN) {
        if let [i0, i1, v0, v1, v2, v3] = *param {
            let value = u32::from_be_bytes([v0, v1, v2, v3]);
            apply_setting(&mut settings, u16::from_be_bytes([i0, i1]), value)?;
        }
    }
    Ok(Frame::Settings(SettingsFrame { ack, settings }))
}

/// Validates one SETTINGS parameter (§6.5.2) and stores it; the last value of
/// a repeated identifier wins, unknown identifiers are ignored.
fn apply_setting(settings: &mut Settings, id: u16, value: u32) -> Result<()> {
    const HEADER_TABLE_SIZE: u16 = SettingId::HeaderTableSize as u16;
    const ENABLE_PUSH: u16 = SettingId::EnablePush as u16;
    const MAX_CONCURRENT_STREAMS: u16 = SettingId::MaxConcurrentStreams as u16;
    const INITIAL_WINDOW_SIZE: u16 = SettingId::InitialWindowSize as u16;
    const MAX_FRAME_SIZE: u16 = SettingId::MaxFrameSize as u16;
    const MAX_HEADER_LIST_SIZE: u16 = SettingId::MaxHeaderListSize as u16;
    const ENABLE_CONNECT_PROTOCOL: u16 = SettingId::EnableConnectProtocol as u16;
    match id {
        HEADER_TABLE_SIZE => settings.header_table_size = Some(value),
        // §6.5.2: ENABLE_PUSH other than 0 or 1 is a connection PROTOCOL_ERROR.
        ENABLE_PUSH => settings.enable_push = Some(flag_setting(value, Kind::InvalidEnablePush)?),
        MAX_CONCURRENT_STREAMS => settings.max_concurrent_streams = Some(value),
        INITIAL_WINDOW_SIZE => {
            // §6.5.2: INITIAL_WINDOW_SIZE above 2^31-1 is a connection FLOW_CONTROL_ERROR.
            if value > MAX_WINDOW_SIZE {
                return Err(FrameError::connection(Kind::InvalidInitialWindowSize));
            }
            settings.initial_window_size = Some(value);
        }
        MAX_FRAME_SIZE => {
            // §6.5.2: MAX_FRAME_SIZE outside 2^14..=2^24-1 is a connection PROTOCOL_ERROR.
            if !(DEFAULT_MAX_FRAME_SIZE..=MAX_MAX_FRAME_SIZE).contains(&value) {
                return Err(FrameError::connection(Kind::InvalidMaxFrameSize));
            }
            settings.max_frame_size = Some(value);
        }
        MAX_HEADER_LIST_SIZE => settings.max_header_list_size = Some(value),
        ENABLE_CONNECT_PROTOCOL => {
            // RFC 8441 §3: the value MUST be 0 or 1 (treated as PROTOCOL_ERROR).
            let kind = Kind::InvalidEnableConnectProtocol;
            settings.enable_connect_protocol = Some(flag_setting(value, kind)?);
        }
        // §6.5.2: an endpoint MUST ignore a setting with an unknown identifier.
        _ => {}
    }
    Ok(())
}

/// A boolean setting: 0 or 1, anything else is a connection error of `kind`.
fn flag_setting(value: u32, kind: Kind) -> Result<bool> {
    match value {
        0 => Ok(false),
        1 => Ok(true),
        _ => Err(FrameError::connection(kind)),
    }
}

/// PUSH_PROMISE (§6.6).
fn parse_push_promise(header: FrameHeader, payload: Bytes) -> Result<Frame> {
    // §6.6: PUSH_PROMISE on stream 0 is a connection error of type PROTOCOL_ERROR.
    require_stream(header)?;
    // §6.6, §4.2: the 4-octet Promised Stream ID is mandatory (FRAME_SIZE_ERROR).
    let (rest, pad_len) = strip_padding(header, payload, PROMISED_ID_LEN)?;
    let (promised, fragment) = split_fixed::<PROMISED_ID_LEN>(rest)?;
    let promised_id = StreamId::from_wire(u32::from_be_bytes(promised));
    Ok(Frame::PushPromise(PushPromise {
        stream_id: header.stream_id,
        promised_id,
        fragment,
        end_headers: header.has_flag(flags::END_HEADERS),
        pad_len,
    }))
}

/// PING (§6.7).
fn parse_ping(header: FrameHeader, payload: &[u8]) -> Result<Frame> {
    // §6.7: PING on a stream other than 0 is a connection PROTOCOL_ERROR.
    forbid_stream(header)?;
    // §6.7: a length other than 8 is a connection error of type FRAME_SIZE_ERROR.
    let payload = <[u8; 8]>::try_from(payload).map_err(|_| FrameError::connection(Kind::BadLength))?;
    Ok(Frame::Ping(Ping { ack: header.has_flag(flags::ACK), payload }))
}

/// GOAWAY (§6.8).
fn parse_go_away(header: FrameHeader, payload: Bytes) -> Result<Frame> {
    // §6.8: GOAWAY on a stream other than 0 is a connection PROTOCOL_ERROR.
    forbid_stream(header)?;
    // §6.8, §4.2: Last-Stream-ID and Error Code (8 octets) are mandatory.
    let ([s0, s1, s2, s3, c0, c1, c2, c3], debug_data) = split_fixed::<8>(payload)?;
    Ok(Frame::GoAway(GoAway {
        last_stream_id: StreamId::from_wire(u32::from_be_bytes([s0, s1, s2, s3])),
        error_code: ErrorCode(u32::from_be_bytes([c0, c1, c2, c3])),
        debug_data,
    }))
}

/// WINDOW_UPDATE (§6.9).
fn parse_window_update(header: FrameHeader, payload: &[u8]) -> Result<Frame> {
    // §6.9: a length other than 4 is a connection error of type FRAME_SIZE_ERROR.
    // The reserved bit is ignored.
    let increment = exact_u32(payload)? & MAX_WINDOW_SIZE;
    // §6.9: an increment of 0 is a stream error of type PROTOCOL_ERROR; on the
    // connection window (stream 0) it is a connection error.
    if increment == 0 {
        return Err(stream_or_connection(header.stream_id, Kind::ZeroWindowIncrement));
    }
    Ok(Frame::WindowUpdate(WindowUpdate { stream_id: header.stream_id, increment }))
}

/// CONTINUATION (§6.10).
fn parse_continuation(header: FrameHeader, payload: Bytes) -> Result<Frame> {
    // §6.10: CONTINUATION on stream 0 is a connection error of type PROTOCOL_ERROR.
    require_stream(header)?;
    Ok(Frame::Continuation(Continuation {
        stream_id: header.stream_id,
        fragment: payload,
        end_headers: header.has_flag(flags::END_HEADERS),
    }))
}

/// Stream-specific frames on stream 0 are a connection PROTOCOL_ERROR.
fn require_stream(header: FrameHeader) -> Result<()> {
    if header.stream_id.is_zero() {
        return Err(FrameError::connection(Kind::StreamIdRequired));
    }
    Ok(())
}

/// Connection frames on a stream other than 0 are a connection PROTOCOL_ERROR.
fn forbid_stream(header: FrameHeader) -> Result<()> {
    if !header.stream_id.is_zero() {
        return Err(FrameError::connection(Kind::StreamIdNotAllowed));
    }
    Ok(())
}

/// A stream error on `id`, or a connection error when `id` is 0.
fn stream_or_connection(id: StreamId, kind: Kind) -> FrameError {
    if id.is_zero() { FrameError::connection(kind) } else { FrameError::stream(id, kind) }
}

/// Removes the Pad Length octet and the padding of a PADDED frame (§6.1,
/// §6.2, §6.6), checking that `fixed` octets of mandatory fields remain in
/// front of the padding. Returns what is left (fixed fields first) and the
/// Pad Length.
fn strip_padding(header: FrameHeader, payload: Bytes, fixed: usize) -> Result<(Bytes, Option<u8>)> {
    let padded = header.has_flag(flags::PADDED);
    let overhead = fixed + usize::from(padded);
    // §4.2: a frame too small to contain mandatory fields is a FRAME_SIZE_ERROR,
    // a connection error for frames carrying a field block (and for DATA here).
    let too_short = FrameError::connection(Kind::BadLength);
    if payload.len() < overhead {
        return Err(too_short);
    }
    if !padded {
        return Ok((payload, None));
    }
    let pad_len = *payload.first().ok_or(too_short)?;
    // §6.1, §6.2, §6.6: padding that does not fit in what remains after the
    // Pad Length octet and the fixed fields is a connection PROTOCOL_ERROR
    // (for DATA: pad length >= payload length).
    let end = payload
        .len()
        .checked_sub(usize::from(pad_len))
        .filter(|&end| end >= overhead)
        .ok_or(FrameError::connection(Kind::PaddingTooLong))?;
    Ok((payload.slice(1..end), Some(pad_len)))
}

/// Priority fields: E bit + 31-bit Stream Dependency, Weight (§5.3.2, §6.3).
fn parse_priority_fields(fields: [u8; PRIORITY_LEN]) -> Priority {
    let [d0, d1, d2, d3, weight] = fields;
    let raw = u32::from_be_bytes([d0, d1, d2, d3]);
    let dependency = StreamId::from_wire(raw);
    Priority { exclusive: raw & 0x8000_0000 != 0, dependency, weight }
}

/// Splits `N` octets of mandatory fields off the front of `buf`; fewer is a
/// connection FRAME_SIZE_ERROR (§4.2).
fn split_fixed<const N: usize>(buf: Bytes) -> Result<([u8; N], Bytes)> {
    let Some(&fixed) = buf.first_chunk::<N>() else {
        return Err(FrameError::connection(Kind::BadLength));
    };
    Ok((fixed, buf.slice(N..)))
}

/// A payload that must be exactly 4 octets (RST_STREAM, WINDOW_UPDATE);
/// any other length is a connection FRAME_SIZE_ERROR (§6.4, §6.9).
fn exact_u32(payload: &[u8]) -> Result<u32> {
    <[u8; 4]>::try_from(payload).map(u32::from_be_bytes).map_err(|_| FrameError::connection(Kind::BadLength))
}
