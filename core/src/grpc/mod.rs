//! gRPC over HTTP/2 (grpc/doc/PROTOCOL-HTTP2.md) as a Sans-IO layer on top of
//! [`crate::conn::Connection`], with the same input/output/poll shape, speaking
//! in calls: started (method, metadata, deadline), messages, half-close,
//! finished (status, trailers).
//!
//! [`Server`] and [`Client`] each own one HTTP/2 connection. Messages are
//! pulled with `recv_message` (pulling is what returns flow-control credit)
//! and pushed with `send_message`.

pub mod base64;
mod calls;
mod client;
pub mod codec;
pub mod compression;
mod inbound;
pub mod metadata;
mod received;
mod server;
pub mod status;
pub mod timeout;
pub mod web;

pub use calls::{DEFAULT_MAX_RECV_BUFFER_PER_CONNECTION, MessageConfig, WireBytes};
pub use client::{
    CallRequest, Client, ClientConfig, ClientEvent, DEFAULT_CLIENT_MAX_FRAME_SIZE, UNPROCESSED,
};
pub use compression::{Compression, CompressionError, Compressors};
pub use inbound::{RecvBatch, RecvMessage, Rest, Room};
pub use metadata::{Metadata, MetadataError};
pub use received::{MessageBuf, Received, Run};
pub use server::{CallStart, Server, ServerConfig, ServerEvent};
pub use status::{Code, Status};

use std::collections::BTreeSet;
use std::time::Instant;

use bytes::Bytes;

use crate::conn::{Connection, StreamError};
use crate::frame::StreamId;
use crate::headers::Headers;
use crate::hpack::HeaderField;

/// A call on one connection (its HTTP/2 stream id).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CallId(pub StreamId);

impl std::fmt::Display for CallId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "call {}", self.0)
    }
}

/// `content-type` of gRPC messages.
pub const CONTENT_TYPE: &[u8] = b"application/grpc";

/// True for "application/grpc" optionally followed by "+subtype" or ";params".
pub fn is_grpc_content_type(v: &[u8]) -> bool {
    v.strip_prefix(CONTENT_TYPE).is_some_and(|rest| rest.is_empty() || rest[0] == b'+' || rest[0] == b';')
}

/// Appends `grpc-status`, `grpc-message` and `grpc-status-details-bin`.
pub(crate) fn status_fields(status: &Status, out: &mut Vec<HeaderField>) {
    out.push(HeaderField {
        name: Bytes::from_static(b"grpc-status"),
        value: Bytes::from_static(status.code.as_header_value()),
        sensitive: false,
    });
    if !status.message.is_empty() {
        out.push(HeaderField::new(
            Bytes::from_static(b"grpc-message"),
            status::percent_encode(&status.message),
        ));
    }
    if !status.details.is_empty() {
        let v = base64::encode(&status.details);
        out.push(HeaderField::new(Bytes::from_static(b"grpc-status-details-bin"), v));
    }
}

/// Reads the status carried by trailers (or a trailers-only response).
/// A missing `grpc-status` is UNKNOWN, as gRPC-Go.
pub(crate) fn parse_status(h: &Headers) -> Status {
    let code = match h.get(b"grpc-status") {
        Some(v) => Code::parse_header(v).unwrap_or(Code::Unknown),
        None => return Status::new(Code::Unknown, "missing grpc-status in trailers"),
    };
    let message = h.get(b"grpc-message").map(|m| status::percent_decode(m)).unwrap_or_default();
    let details = h
        .get(b"grpc-status-details-bin")
        .and_then(|d| base64::decode(d))
        .map(Bytes::from)
        .unwrap_or_default();
    Status { details, ..Status::new(code, message) }
}

/// An encoded message to send: one buffer, or several sent one after the
/// other without being joined (an encoding that kept large fields by
/// reference).
#[derive(Debug)]
pub(crate) enum Payload {
    One(Bytes),
    Chunks(Vec<Bytes>),
}

impl Payload {
    fn len(&self) -> usize {
        match self {
            Payload::One(b) => b.len(),
            Payload::Chunks(v) => v.iter().map(Bytes::len).sum(),
        }
    }

    /// The message in one buffer (copied only when it was in chunks).
    fn contiguous(self) -> Bytes {
        match self {
            Payload::One(b) => b,
            Payload::Chunks(v) => v.concat().into(),
        }
    }
}

/// A message ready to queue: its 5-octet prefix and its payload.
pub(crate) type Framed = ([u8; codec::PREFIX_LEN], Payload);

/// Frames one message: prefix + payload, compressed when `compress` is given.
/// The payload is never copied: the HTTP/2 layer keeps the prefix inline and
/// gathers prefix and chunks into DATA frames.
pub(crate) fn frame_message(
    msg: Payload,
    compress: Option<&dyn Compression>,
    max_send: usize,
) -> Result<Framed, Status> {
    let (payload, compressed) = match compress {
        Some(c) => {
            let msg = msg.contiguous();
            let mut out = Vec::with_capacity(msg.len() / 2 + 16);
            c.compress(&msg, &mut out)
                .map_err(|e| Status::new(Code::Internal, format!("compression failed: {e}")))?;
            (Payload::One(Bytes::from(out)), true)
        }
        None => (msg, false),
    };
    let len = payload.len();
    if len > max_send || len > u32::MAX as usize {
        return Err(too_large(len, max_send));
    }
    Ok((codec::prefix(compressed, len as u32), payload))
}

/// What [`BatchCheck::of`] found in a buffer of framed messages: whole
/// gRPC messages back to back, each behind its 5-octet prefix with the
/// compressed flag clear.
///
/// Checked where the batch was framed (while it is still in the cache), it
/// lets `send_framed_checked` queue the batch without reading it again: a
/// connection driver serving many streams reads each batch long after it
/// was written, and walking its prefixes then missed the cache once per
/// message (a sixth of a 64-call server's time streaming 64 B messages).
///
/// A check is bound to the buffer by its address and length, not by its
/// contents: a buffer rewritten in place after it was checked (same
/// memory, same length) must be checked again, or a malformed or oversized
/// batch goes out as the caller wrote it. Only the caller's own output is
/// at stake (peer input never reaches this path).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BatchCheck {
    /// Where the checked octets begin: a check vouches for them only (their
    /// length is the payload plus a prefix per message).
    addr: std::num::NonZeroUsize,
    payload: u64,
    /// Message lengths are 32-bit (the prefix).
    largest: u32,
    /// Saturated past `u32::MAX` (then the length no longer matches, and a
    /// batch that large is read again instead).
    messages: u32,
}

impl BatchCheck {
    /// Checks `batch`; a malformed batch is an INTERNAL status.
    pub fn of(batch: &[u8]) -> Result<Self, Status> {
        // A slice's address is never 0.
        let addr =
            std::num::NonZeroUsize::new(batch.as_ptr() as usize).unwrap_or(std::num::NonZeroUsize::MIN);
        let mut check = BatchCheck { addr, payload: 0, largest: 0, messages: 0 };
        check_batch(batch, usize::MAX, |_, len| {
            check.payload += len as u64;
            // `check_batch` read `len` from a 32-bit prefix.
            check.largest = check.largest.max(len as u32);
            check.messages = check.messages.saturating_add(1);
        })?;
        Ok(check)
    }

    /// True when this check was made of `batch` (its address and length).
    fn vouches_for(&self, batch: &[u8]) -> bool {
        self.addr.get() == batch.as_ptr() as usize
            && self.payload + u64::from(self.messages) * codec::PREFIX_LEN as u64 == batch.len() as u64
    }

    /// How many messages the batch holds.
    pub fn messages(&self) -> usize {
        self.messages as usize
    }

    /// Their payload octets (prefixes not counted).
    pub fn payload(&self) -> u64 {
        self.payload
    }

    /// The length of the largest message.
    pub fn largest(&self) -> usize {
        self.largest as usize
    }
}

/// Queues messages the owner framed into one buffer, each behind its
/// 5-octet prefix with the compressed flag clear: checked whole (unless
/// `check` is what [`BatchCheck::of`] found in these very octets) and within `max_send`
/// each, then queued as one piece, or one by one compressed when the call
/// compresses (`compress`). Gives the payload octets queued, as framed
/// (compressed when compressed).
pub(crate) fn send_batch(
    h2: &mut Connection,
    id: StreamId,
    batch: Bytes,
    check: Option<BatchCheck>,
    compress: Option<&dyn Compression>,
    max_send: usize,
    end: bool,
) -> Result<u64, Status> {
    let check = match check {
        Some(c) if c.vouches_for(&batch) => c,
        _ => BatchCheck::of(&batch)?,
    };
    if check.largest as usize > max_send {
        return Err(too_large(check.largest as usize, max_send));
    }
    match compress {
        // The usual case: queued as one piece.
        None => {
            h2.send_data(id, batch, end).map_err(stream_status)?;
            Ok(check.payload)
        }
        Some(algo) => {
            let mut messages = Vec::with_capacity(check.messages());
            check_batch(&batch, max_send, |start, len| messages.push((start, len)))?;
            let count = messages.len();
            let mut payload = 0u64;
            for (i, (start, len)) in messages.into_iter().enumerate() {
                let msg = Payload::One(batch.slice(start..start + len));
                let framed = frame_message(msg, Some(algo), max_send)?;
                payload += framed_len(&framed);
                send_framed(h2, id, framed, end && i + 1 == count).map_err(stream_status)?;
            }
            Ok(payload)
        }
    }
}

/// A message over the sender's `max_send_message_size` (RESOURCE_EXHAUSTED).
fn too_large(len: usize, max_send: usize) -> Status {
    Status::new(
        Code::ResourceExhausted,
        format!("trying to send message larger than max ({len} vs. {max_send})"),
    )
}

/// The payload length a framed message's prefix announces.
pub(crate) fn framed_len((prefix, _): &Framed) -> u64 {
    u64::from(u32::from_be_bytes([prefix[1], prefix[2], prefix[3], prefix[4]]))
}

/// Checks every message of a batch, telling `each` where its payload lies
/// (start, length); nothing is allocated.
fn check_batch(batch: &[u8], max_send: usize, mut each: impl FnMut(usize, usize)) -> Result<(), Status> {
    let mut at = 0;
    while at < batch.len() {
        let Some(&[flag, l0, l1, l2, l3]) = batch[at..].first_chunk::<{ codec::PREFIX_LEN }>() else {
            return Err(Status::new(Code::Internal, "message batch ends inside a prefix"));
        };
        let len = u32::from_be_bytes([l0, l1, l2, l3]) as usize;
        let start = at + codec::PREFIX_LEN;
        if flag != 0 || len > batch.len() - start {
            return Err(Status::new(Code::Internal, "malformed message batch"));
        }
        if len > max_send {
            return Err(too_large(len, max_send));
        }
        each(start, len);
        at = start + len;
    }
    Ok(())
}

/// The status of an operation on a call that already ended.
pub(crate) fn gone() -> Status {
    Status::new(Code::Cancelled, "call is no longer active")
}

/// The status of a call whose stream refused an operation.
pub(crate) fn stream_status(e: StreamError) -> Status {
    match e {
        StreamError::BufferFull => {
            Status::new(Code::ResourceExhausted, "send buffer full: wait for Writable")
        }
        StreamError::Reset(code) => Status::new(Code::from_h2_reset(code), format!("stream reset: {code}")),
        other => Status::new(Code::Unavailable, format!("stream unavailable: {other:?}")),
    }
}

/// Queues a framed message on a stream.
pub(crate) fn send_framed(
    h2: &mut Connection,
    id: StreamId,
    (prefix, payload): Framed,
    end: bool,
) -> Result<(), StreamError> {
    match payload {
        Payload::One(data) => h2.send_data_with_head(id, &prefix, data, end),
        Payload::Chunks(chunks) => h2.send_data_with_head_chunks(id, &prefix, chunks, end),
    }
}

/// Call deadlines, earliest first.
#[derive(Debug, Default)]
pub(crate) struct Deadlines(BTreeSet<(Instant, u32)>);

impl Deadlines {
    pub fn insert(&mut self, at: Instant, call: CallId) {
        self.0.insert((at, call.0.0));
    }

    pub fn remove(&mut self, at: Option<Instant>, call: CallId) {
        if let Some(at) = at {
            self.0.remove(&(at, call.0.0));
        }
    }

    pub fn next(&self) -> Option<Instant> {
        self.0.first().map(|(t, _)| *t)
    }

    /// Removes and returns every call whose deadline is at or before `now`.
    pub fn expired(&mut self, now: Instant) -> Vec<CallId> {
        let mut out = Vec::new();
        while let Some(&(t, id)) = self.0.first() {
            if t > now {
                break;
            }
            self.0.pop_first();
            out.push(CallId(StreamId(id)));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_type_forms() {
        for ok in [&b"application/grpc"[..], b"application/grpc+proto", b"application/grpc;charset=utf-8"] {
            assert!(is_grpc_content_type(ok));
        }
        for bad in [&b"application/grpcx"[..], b"application/json", b"", b"application/gr"] {
            assert!(!is_grpc_content_type(bad));
        }
    }

    #[test]
    fn status_round_trips_through_trailers() {
        let st = Status::new(Code::InvalidArgument, "bad ☺ 100%").with_details(vec![1u8, 2, 3]);
        let mut h = Headers::trailers();
        status_fields(&st, &mut h.fields);
        assert_eq!(parse_status(&h), st);
        assert_eq!(parse_status(&Headers::trailers()).code, Code::Unknown);
    }

    #[test]
    fn framing_keeps_the_payload_and_checks_the_limit() {
        let small = Bytes::from_static(b"abc");
        let (prefix, payload) = frame_message(Payload::One(small.clone()), None, 100).unwrap();
        assert_eq!(prefix, [0, 0, 0, 0, 3]);
        assert!(matches!(payload, Payload::One(p) if p.as_ptr() == small.as_ptr()), "payload not copied");
        let big = Bytes::from(vec![1u8; 2000]);
        let (prefix, payload) = frame_message(Payload::One(big.clone()), None, 4000).unwrap();
        assert_eq!(&prefix[..], &[0, 0, 0, 0x07, 0xd0]);
        assert!(matches!(payload, Payload::One(p) if p.as_ptr() == big.as_ptr()), "large payload not copied");
        let chunks = vec![Bytes::from_static(b"ab"), big.clone()];
        let (prefix, payload) = frame_message(Payload::Chunks(chunks), None, 4000).unwrap();
        assert_eq!(&prefix[..], &[0, 0, 0, 0x07, 0xd2], "the length counts every chunk");
        assert!(matches!(&payload, Payload::Chunks(v) if v[1].as_ptr() == big.as_ptr()), "chunks not joined");
        let err = frame_message(Payload::One(big), None, 1000).unwrap_err();
        assert_eq!(err.code, Code::ResourceExhausted);
    }

    #[cfg(feature = "gzip")]
    #[test]
    fn chunks_are_joined_before_compressing() {
        let chunks = vec![Bytes::from_static(b"ab"), Bytes::from(vec![1u8; 2000])];
        let gzip = compression::Gzip::default();
        let (prefix, payload) = frame_message(Payload::Chunks(chunks), Some(&gzip), 4000).unwrap();
        assert_eq!(prefix[0], 1, "compressed flag");
        let mut plain = Vec::new();
        gzip.decompress(&payload.contiguous(), &mut plain, 4000).unwrap();
        assert_eq!(&plain[..2], b"ab");
        assert_eq!(plain.len(), 2002);
    }
}
