//! Message codecs: how typed messages become bytes. Prost is the default;
//! anything else implements [`Codec`].

use bytes::{Bytes, BytesMut};
use weir_core::grpc::{Code, Status};

/// Encodes and decodes one message type pair.
pub trait Codec: Send + Sync + 'static {
    /// What is sent.
    type Encode: Send + 'static;
    /// What is received.
    type Decode: Send + 'static;

    /// Appends the encoding of `item` to `buf`.
    fn encode(item: &Self::Encode, buf: &mut BytesMut) -> Result<(), Status>;

    /// Decodes one message.
    fn decode(buf: Bytes) -> Result<Self::Decode, Status>;

    /// The encoded size of `item` if known cheaply (picks the buffer pool).
    fn size_hint(_item: &Self::Encode) -> usize {
        0
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

    fn decode(buf: Bytes) -> Result<D, Status> {
        D::decode(buf).map_err(|e| Status::new(Code::Internal, format!("failed to decode message: {e}")))
    }

    fn size_hint(item: &E) -> usize {
        item.encoded_len()
    }
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

    #[test]
    fn prost_round_trip_and_decode_error() {
        type C = ProstCodec<Hello, Hello>;
        let b = encode_to_bytes::<C>(&Hello { name: "world".into() }).unwrap();
        assert_eq!(&b[..], b"\n\x05world");
        assert_eq!(C::decode(b).unwrap().name, "world");
        let err = C::decode(Bytes::from_static(b"\x0a\x05wo")).unwrap_err();
        assert_eq!(err.code, Code::Internal);
    }
}
