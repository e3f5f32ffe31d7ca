//! Message codecs: how typed messages become bytes. Prost is the default;
//! anything else implements [`Codec`].

use bytes::buf::UninitSlice;
use bytes::{Buf, BufMut, Bytes, BytesMut};
use weir_core::grpc::{Code, MessageBuf, Status};

use crate::request::OutMessage;

/// Encodes and decodes one message type pair.
pub trait Codec: Send + Sync + 'static {
    /// What is sent.
    type Encode: Send + 'static;
    /// What is received.
    type Decode: Send + 'static;

    /// Appends the encoding of `item` to `buf`.
    fn encode(item: &Self::Encode, buf: &mut BytesMut) -> Result<(), Status>;

    /// [`Codec::encode`] into a buffer the caller already gave room for
    /// the item's [`Codec::size_hint`] (the batch encoder does): a codec
    /// may skip its own sizing.
    fn encode_reserved(item: &Self::Encode, buf: &mut BytesMut) -> Result<(), Status> {
        Self::encode(item, buf)
    }

    /// Decodes one message.
    fn decode(buf: Bytes) -> Result<Self::Decode, Status>;

    /// Decodes one message read in place from the received octets (`buf`
    /// holds exactly the message) into `slot`, which holds `None`. A codec
    /// that can read from a [`Buf`] and fill a message where it lies saves
    /// cutting each small message out on its own and moving the decoded
    /// message on through its result. On success `slot` must hold the
    /// message (left empty, the call's stream fails with INTERNAL); on an
    /// error it may hold part of one, which the caller drops.
    fn decode_into(buf: &mut MessageBuf<'_>, slot: &mut Option<Self::Decode>) -> Result<(), Status> {
        *slot = Some(Self::decode(buf.copy_to_bytes(buf.remaining()))?);
        Ok(())
    }

    /// The encoded size of `item` if known cheaply (picks the buffer pool).
    fn size_hint(_item: &Self::Encode) -> usize {
        0
    }

    /// Encodes a large `item` in parts, keeping large buffers it holds by
    /// reference (see [`GatherBuf`]); `None` when the codec cannot.
    fn encode_parts(_item: &Self::Encode) -> Option<Result<Vec<Bytes>, Status>> {
        None
    }
}

/// The protobuf codec (prost).
pub struct ProstCodec<E, D>(std::marker::PhantomData<fn(E) -> D>);

impl<E, D> Codec for ProstCodec<E, D>
where
    E: prost::Message + Send + 'static,
    D: prost::Message + Default + Send + 'static,
{
    type Encode = E;
    type Decode = D;

    fn encode(item: &E, buf: &mut BytesMut) -> Result<(), Status> {
        buf.reserve(item.encoded_len());
        item.encode(buf).map_err(|e| Status::new(Code::Internal, format!("encoding failed: {e}")))
    }

    fn encode_reserved(item: &E, buf: &mut BytesMut) -> Result<(), Status> {
        item.encode(buf).map_err(|e| Status::new(Code::Internal, format!("encoding failed: {e}")))
    }

    fn decode(buf: Bytes) -> Result<D, Status> {
        D::decode(buf).map_err(decode_failed)
    }

    fn decode_into(buf: &mut MessageBuf<'_>, slot: &mut Option<D>) -> Result<(), Status> {
        slot.insert(D::default()).merge(buf).map_err(decode_failed)
    }

    fn size_hint(item: &E) -> usize {
        item.encoded_len()
    }

    fn encode_parts(item: &E) -> Option<Result<Vec<Bytes>, Status>> {
        let mut buf = GatherBuf::default();
        let encoded = item.encode(&mut buf);
        Some(
            encoded
                .map(|()| buf.into_parts())
                .map_err(|e| Status::new(Code::Internal, format!("encoding failed: {e}"))),
        )
    }
}

fn decode_failed(e: prost::DecodeError) -> Status {
    Status::new(Code::Internal, format!("failed to decode message: {e}"))
}

/// Size of the per-thread arena messages are encoded into.
const ARENA: usize = 64 << 10;

thread_local! {
    /// Messages are encoded into a shared per-thread arena and split off, so
    /// small messages cost no allocation of their own; the arena is replaced
    /// when full (its memory is freed when the last message in it is).
    static POOL: std::cell::RefCell<BytesMut> = std::cell::RefCell::new(BytesMut::new());
}

/// Messages at least this large are encoded into reusable buffers of their own.
const LARGE: usize = 16 << 10;
/// Large-message buffers kept per thread, and the largest one kept.
const LARGE_BUFFERS: usize = 4;
const LARGE_KEEP_MAX: usize = 8 << 20;

thread_local! {
    /// Buffers large messages are encoded into. A buffer whose previous
    /// message was written and dropped is reused in place: no allocation and
    /// no page faults for every large message.
    static LARGE_POOL: std::cell::RefCell<Vec<BytesMut>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// Encodes `item` into a pooled buffer.
pub fn encode_to_bytes<C: Codec>(item: &C::Encode) -> Result<Bytes, Status> {
    let len = C::size_hint(item);
    if len >= LARGE {
        return LARGE_POOL.with(|pool| encode_large::<C>(item, len, &mut pool.borrow_mut()));
    }
    POOL.with(|pool| {
        let mut buf = pool.borrow_mut();
        if buf.capacity() - buf.len() < 1024 {
            *buf = BytesMut::with_capacity(ARENA);
        }
        encode_split::<C>(item, &mut buf)
    })
}

/// Encodes a large message into a free pooled buffer, or a new one.
fn encode_large<C: Codec>(item: &C::Encode, len: usize, pool: &mut Vec<BytesMut>) -> Result<Bytes, Status> {
    if let Some(buf) = pool.iter_mut().find_map(|b| b.try_reclaim(len).then_some(b)) {
        return encode_split::<C>(item, buf);
    }
    let mut buf = BytesMut::with_capacity(len);
    let out = encode_split::<C>(item, &mut buf);
    if len <= LARGE_KEEP_MAX {
        if pool.len() == LARGE_BUFFERS {
            pool.remove(0);
        }
        pool.push(buf);
    }
    out
}

/// Encodes `item` as an outgoing message. A large message is encoded with
/// [`GatherBuf`] when the codec allows it, so its large `bytes` fields held
/// as `Bytes` are sent by reference, not copied.
pub fn encode_message<C: Codec>(item: &C::Encode) -> Result<OutMessage, Status> {
    if C::size_hint(item) >= LARGE
        && let Some(parts) = C::encode_parts(item)
    {
        return parts.map(OutMessage::from_parts);
    }
    encode_to_bytes::<C>(item).map(OutMessage::from)
}

/// A `BufMut` that keeps large buffers written into it by reference: prost
/// writes a `bytes` field held as `Bytes` with `put(Bytes)`, and
/// `Buf::copy_to_bytes` of a `Bytes` is a reference, not a copy. Everything
/// else is written into `cur`.
#[derive(Default)]
pub struct GatherBuf {
    cur: BytesMut,
    parts: Vec<Bytes>,
}

impl GatherBuf {
    /// Buffers at least this large are kept by reference.
    pub const BY_REFERENCE_MIN: usize = 16 << 10;

    /// The encoding, in order.
    pub fn into_parts(mut self) -> Vec<Bytes> {
        if !self.cur.is_empty() {
            self.parts.push(self.cur.freeze());
        }
        self.parts
    }
}

// SAFETY: `remaining_mut`, `chunk_mut` and `advance_mut` forward to `cur`, a
// `BytesMut`, whose implementation upholds the trait's contract; `put` only
// appends whole buffers to `parts` after sealing `cur`, never touching bytes
// handed out by `chunk_mut`. Measured reason: a 1 MiB `bytes` field is not
// copied into the encoding (see BENCHMARKS.md, server streaming 1 MiB).
#[allow(unsafe_code)]
unsafe impl BufMut for GatherBuf {
    fn remaining_mut(&self) -> usize {
        self.cur.remaining_mut()
    }

    unsafe fn advance_mut(&mut self, cnt: usize) {
        // SAFETY: the caller's promise (`cnt` bytes of `chunk_mut` written) is
        // passed on to the buffer that handed out the chunk.
        unsafe { self.cur.advance_mut(cnt) }
    }

    fn chunk_mut(&mut self) -> &mut UninitSlice {
        self.cur.chunk_mut()
    }

    fn put<T: Buf>(&mut self, mut src: T)
    where
        Self: Sized,
    {
        if src.remaining() < Self::BY_REFERENCE_MIN {
            return self.cur.put(src);
        }
        if !self.cur.is_empty() {
            self.parts.push(self.cur.split().freeze());
        }
        let n = src.remaining();
        self.parts.push(src.copy_to_bytes(n));
    }

    fn put_slice(&mut self, src: &[u8]) {
        self.cur.put_slice(src);
    }
}

fn encode_split<C: Codec>(item: &C::Encode, buf: &mut BytesMut) -> Result<Bytes, Status> {
    let start = buf.len();
    match C::encode(item, buf) {
        Ok(()) => Ok(buf.split().freeze()),
        Err(e) => {
            buf.truncate(start);
            Err(e)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Clone, PartialEq, prost::Message)]
    struct Hello {
        #[prost(string, tag = "1")]
        name: String,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    struct Blob {
        #[prost(uint32, tag = "1")]
        id: u32,
        #[prost(bytes = "bytes", tag = "2")]
        payload: Bytes,
        #[prost(string, tag = "3")]
        note: String,
    }

    #[test]
    fn a_large_bytes_field_is_encoded_by_reference() {
        type C = ProstCodec<Blob, Blob>;
        let payload = Bytes::from(vec![7u8; 1 << 20]);
        let blob = Blob { id: 9, payload: payload.clone(), note: "tail".into() };
        let msg = encode_message::<C>(&blob).unwrap();
        let parts = msg.clone().into_parts();
        assert_eq!(parts.len(), 3, "head, the payload itself, the fields after it");
        assert_eq!(parts[1].as_ptr(), payload.as_ptr(), "the payload was not copied");
        assert_eq!(msg.len(), prost::Message::encoded_len(&blob));
        assert_eq!(C::decode(msg.into_contiguous()).unwrap(), blob);
        // A small message stays one buffer.
        let small = Blob { id: 1, payload: Bytes::from_static(b"xy"), note: String::new() };
        let msg = encode_message::<C>(&small).unwrap();
        assert!(msg.more.is_empty());
        assert_eq!(C::decode(msg.data).unwrap(), small);
    }

    #[test]
    fn prost_round_trip_and_decode_error() {
        type C = ProstCodec<Hello, Hello>;
        let b = encode_to_bytes::<C>(&Hello { name: "world".into() }).unwrap();
        assert_eq!(&b[..], b"\n\x05world");
        assert_eq!(C::decode(b).unwrap().name, "world");
        let err = C::decode(Bytes::from_static(b"\x0a\x05wo")).unwrap_err();
        assert_eq!(err.code, Code::Internal);
    }

    /// Messages decoded in place from a run of received octets: a `bytes`
    /// field is a slice of them, a malformed message fails alone (its
    /// neighbours decode), and no decoder reads into the next message.
    #[test]
    fn messages_decode_in_place_from_a_run() {
        use weir_core::grpc::Received;
        use weir_core::grpc::codec::{MessageDecoder, prefix};
        type C = ProstCodec<Blob, Blob>;
        let blobs: Vec<Blob> = (0..3)
            .map(|i| Blob { id: i, payload: Bytes::from(vec![i as u8; 40]), note: "n".into() })
            .collect();
        let mut wire = Vec::new();
        for (i, b) in blobs.iter().enumerate() {
            let mut m = prost::Message::encode_to_vec(b);
            if i == 1 {
                m.truncate(m.len() - 1); // cut inside the note: malformed
            }
            wire.extend_from_slice(&prefix(false, m.len() as u32));
            wire.extend_from_slice(&m);
        }
        let wire = Bytes::from(wire);
        let start = wire.as_ptr() as usize;
        let mut d = MessageDecoder::new(1024);
        d.push(wire);
        let mut got = Received::new();
        got.push_run(d.take_run(usize::MAX, 0).unwrap());
        assert_eq!(got.len(), 3);
        let mut slot = None;
        assert!(got.pop_decoded(|b| C::decode_into(b, &mut slot)).unwrap().0.is_ok());
        let first = slot.take().unwrap();
        assert_eq!(first, blobs[0]);
        let at = first.payload.as_ptr() as usize;
        assert!((start..start + 60).contains(&at), "a slice of the received octets");
        let (failed, _) = got.pop_decoded(|b| C::decode_into(b, &mut slot)).unwrap();
        assert_eq!(failed.unwrap_err().code, Code::Internal);
        slot = None;
        assert!(got.pop_decoded(|b| C::decode_into(b, &mut slot)).unwrap().0.is_ok());
        assert_eq!(slot, Some(blobs[2].clone()));
        assert!(got.is_empty());
    }
}
