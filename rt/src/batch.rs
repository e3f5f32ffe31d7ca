//! Many small messages framed into one buffer: one send reservation, one
//! hand-off to the connection driver, one queue entry in the core and as few
//! DATA frames as the windows allow, instead of one of each per message.
//! Typed streams encode straight into the batch ([`EncodeBatches`]); the
//! server's relay copies small messages of byte-level streams into one.

use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::{BufMut, BytesMut};
use futures_core::Stream;
use weir_core::grpc::BatchCheck;
use weir_core::grpc::codec::{PREFIX_LEN, prefix};
use weir_core::grpc::{Code, Status};

use crate::buf_pool::BufPool;
use crate::codec::{Codec, encode_message};
use crate::request::OutMessage;

/// Messages at most this large go into batches (larger ones are sent as
/// they are, by reference).
pub(crate) const BATCH_MESSAGE_MAX: usize = 4 << 10;
/// A batch closes at this size.
pub(crate) const BATCH_BYTES: usize = 32 << 10;
/// A busy stream's batch buffer: a full batch and the message that
/// overflows it.
const ROOM: usize = BATCH_BYTES + BATCH_MESSAGE_MAX + PREFIX_LEN;
/// Full-size batch buffers, reused once written ([`BufPool`]): 64 of them
/// (2.3 MiB) for the whole process.
static BATCHES: BufPool = BufPool::new(ROOM, 64);

/// A batch being filled. Each batch is a buffer of its own, sized after
/// the previous one (a stream sending one message now and then holds a
/// small buffer, and none once its batch is written; a busy one gets a
/// full batch's worth at once).
#[derive(Default)]
pub(crate) struct FrameBuf {
    buf: BytesMut,
    /// Messages in `buf`.
    messages: usize,
    /// The size of the last batch taken.
    last: usize,
    /// `buf` came from [`BATCHES`] and goes back when taken.
    pooled: bool,
}

impl FrameBuf {
    /// Room for a message of about `len` bytes.
    fn make_room(&mut self, len: usize) {
        let need = len + PREFIX_LEN;
        if self.buf.capacity() - self.buf.len() < need {
            let first = self.buf.capacity() == 0;
            // Twice the last batch: a stream whose batches are small (one
            // message now and then) keeps small buffers, a busy one fills
            // its first at once instead of growing it a step at a time.
            let size = if first {
                (2 * self.last).next_power_of_two().clamp(4 << 10, ROOM)
            } else {
                2 * self.buf.capacity()
            };
            if first && size == ROOM && need <= ROOM {
                self.buf = BATCHES.take();
                self.pooled = true;
            } else {
                self.buf.reserve(size.max(need));
            }
        }
    }

    /// Encodes `item`, of about `size` bytes ([`Codec::size_hint`]), behind
    /// its prefix.
    pub fn push_encoded<C: Codec>(&mut self, item: &C::Encode, size: usize) -> Result<(), Status> {
        self.make_room(size);
        let start = self.buf.len();
        self.buf.put_slice(&[0; PREFIX_LEN]);
        let encoded = C::encode_reserved(item, &mut self.buf);
        let len = self.buf.len() - start - PREFIX_LEN;
        match encoded {
            Ok(()) if len <= u32::MAX as usize => {
                self.buf[start..start + PREFIX_LEN].copy_from_slice(&prefix(false, len as u32));
                self.messages += 1;
                Ok(())
            }
            other => {
                self.buf.truncate(start);
                Err(other.err().unwrap_or_else(|| Status::new(Code::ResourceExhausted, "message too large")))
            }
        }
    }

    /// Copies an encoded message in behind its prefix.
    pub fn push_copy(&mut self, msg: &OutMessage) {
        let len = msg.len();
        self.make_room(len);
        self.buf.put_slice(&prefix(false, len as u32));
        self.buf.put_slice(&msg.data);
        for part in &msg.more {
            self.buf.put_slice(part);
        }
        self.messages += 1;
    }

    /// True once the batch should go.
    pub fn is_full(&self) -> bool {
        self.buf.len() >= BATCH_BYTES
    }

    /// The batch filled so far, if any, checked ([`BatchCheck`]) now, while
    /// it is in this core's cache: the driver takes it much later (after
    /// other streams' batches) and need not read it again.
    pub fn take(&mut self) -> Option<Result<OutMessage, Status>> {
        if std::mem::take(&mut self.messages) == 0 {
            return None;
        }
        let batch = if std::mem::take(&mut self.pooled) {
            let batch = self.buf.split().freeze();
            BATCHES.put(std::mem::take(&mut self.buf));
            batch
        } else {
            std::mem::take(&mut self.buf).freeze()
        };
        self.last = batch.len();
        Some(BatchCheck::of(&batch).map(|check| OutMessage::batch(batch, check)))
    }
}

/// What came after a batch, kept for the next poll: an item (boxed: it is
/// rare, a large message or an error, while streams are many and each
/// holds one of these) or the end.
#[derive(Default)]
pub(crate) enum Held {
    #[default]
    Nothing,
    End,
    Item(Box<Result<OutMessage, Status>>),
}

impl Held {
    /// Keeps `item` (`None`: the end).
    pub fn put(&mut self, item: Option<Result<OutMessage, Status>>) {
        *self = match item {
            None => Held::End,
            Some(item) => Held::Item(Box::new(item)),
        };
    }

    /// What was kept, if anything.
    pub fn take(&mut self) -> Option<Option<Result<OutMessage, Status>>> {
        match std::mem::take(self) {
            Held::Nothing => None,
            Held::End => Some(None),
            Held::Item(item) => Some(Some(*item)),
        }
    }
}

/// True when `msg` may be copied into a batch: small, following the call's
/// compression, not a batch itself.
pub(crate) fn batchable(msg: &OutMessage) -> bool {
    msg.compress.is_none() && msg.batch.is_none() && msg.len() <= BATCH_MESSAGE_MAX
}

/// What the items of a stream given to [`EncodeBatches`] are: messages, or
/// results of messages (`K` of [`EncodeBatches`]).
pub(crate) trait ItemKind<I, T> {
    /// The message `item` holds, if any.
    fn message(item: &I) -> Option<&T>;
    /// The error `item` is, if it holds no message.
    fn error(item: I) -> Option<Status>;
}

/// Items are `Result<T, Status>` (a handler's response stream).
pub(crate) enum Fallible {}

/// Items are messages (a client's request stream).
pub(crate) enum Infallible {}

impl<T> ItemKind<Result<T, Status>, T> for Fallible {
    fn message(item: &Result<T, Status>) -> Option<&T> {
        item.as_ref().ok()
    }

    fn error(item: Result<T, Status>) -> Option<Status> {
        item.err()
    }
}

impl<T> ItemKind<T, T> for Infallible {
    fn message(item: &T) -> Option<&T> {
        Some(item)
    }

    fn error(_: T) -> Option<Status> {
        None
    }
}

/// Encodes a typed message stream, every message that is ready at once
/// into one batch (tonic's encoder does the same); a large message travels
/// alone. An item's error ends the batch before it and is passed on.
pub(crate) struct EncodeBatches<S, C, K = Fallible> {
    inner: S,
    buf: FrameBuf,
    /// What came after the batch being returned: the next item or the end.
    held: Held,
    _codec: std::marker::PhantomData<fn() -> (C, K)>,
}

impl<S, C, K> EncodeBatches<S, C, K> {
    pub fn new(inner: S) -> Self {
        EncodeBatches {
            inner,
            buf: FrameBuf::default(),
            held: Held::Nothing,
            _codec: std::marker::PhantomData,
        }
    }
}

impl<S, C, K> Stream for EncodeBatches<S, C, K>
where
    S: Stream + Unpin,
    C: Codec,
    K: ItemKind<S::Item, C::Encode>,
{
    type Item = Result<OutMessage, Status>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        if let Some(held) = this.held.take() {
            return Poll::Ready(held);
        }
        while !this.buf.is_full() {
            let polled = Pin::new(&mut this.inner).poll_next(cx);
            // The message is encoded where the stream returned it, by
            // reference: moving it out at once (in a result as large as a
            // `Status`) made the processor wait for the stream's writes.
            let item = match &polled {
                Poll::Pending => break,
                Poll::Ready(Some(item)) => match K::message(item) {
                    Some(item) => match C::size_hint(item) {
                        size if size <= BATCH_MESSAGE_MAX => match this.buf.push_encoded::<C>(item, size) {
                            Ok(()) => continue,
                            Err(status) => Some(Err(status)),
                        },
                        _ => Some(encode_message::<C>(item)),
                    },
                    None => match polled {
                        Poll::Ready(Some(item)) => K::error(item).map(Err),
                        _ => None,
                    },
                },
                Poll::Ready(None) => None,
            };
            this.held.put(item);
            break;
        }
        match this.buf.take() {
            Some(batch) => Poll::Ready(Some(batch)),
            None => this.held.take().map_or(Poll::Pending, Poll::Ready),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::ProstCodec;
    use bytes::Bytes;

    #[derive(Clone, PartialEq, prost::Message)]
    struct Chunk {
        #[prost(bytes = "bytes", tag = "1")]
        data: Bytes,
    }

    type C = ProstCodec<Chunk, Chunk>;

    fn chunk(n: usize) -> Chunk {
        Chunk { data: Bytes::from(vec![7u8; n]) }
    }

    /// Splits a batch back into its messages (prefix checks included).
    fn messages(batch: &OutMessage) -> Vec<Chunk> {
        let mut data = batch.data.clone();
        let mut out = Vec::new();
        while !data.is_empty() {
            assert_eq!(data[0], 0, "compressed flag clear");
            let len = u32::from_be_bytes(data[1..5].try_into().unwrap()) as usize;
            out.push(C::decode(data.slice(5..5 + len)).unwrap());
            data = data.slice(5 + len..);
        }
        out
    }

    #[test]
    fn ready_messages_share_a_batch_and_large_ones_travel_alone() {
        let items = vec![Ok(chunk(10)), Ok(chunk(20)), Ok(chunk(BATCH_MESSAGE_MAX * 2)), Ok(chunk(30))];
        let mut s = EncodeBatches::<_, C>::new(futures::stream::iter(items));
        let mut cx = Context::from_waker(std::task::Waker::noop());
        let mut poll = || match Pin::new(&mut s).poll_next(&mut cx) {
            Poll::Ready(item) => item,
            Poll::Pending => panic!("an iterator is always ready"),
        };
        let first = poll().unwrap().unwrap();
        let check = first.batch.expect("a batch");
        assert_eq!((check.messages(), check.payload()), (2, 12 + 22));
        assert_eq!(Some(check), BatchCheck::of(&first.data).ok(), "checked when taken");
        assert_eq!(messages(&first), vec![chunk(10), chunk(20)]);
        let large = poll().unwrap().unwrap();
        assert_eq!(large.batch, None, "sent as it is");
        assert_eq!(large.len(), BATCH_MESSAGE_MAX * 2 + 3);
        let last = poll().unwrap().unwrap();
        assert_eq!(messages(&last), vec![chunk(30)]);
        assert!(poll().is_none());
    }

    #[test]
    fn a_batch_closes_at_its_size_and_an_error_follows_its_batch() {
        let mut items: Vec<Result<Chunk, Status>> = (0..100).map(|_| Ok(chunk(1000))).collect();
        items.push(Err(Status::new(Code::Aborted, "stop")));
        let mut s = EncodeBatches::<_, C>::new(futures::stream::iter(items));
        let mut cx = Context::from_waker(std::task::Waker::noop());
        let mut total = 0;
        loop {
            match Pin::new(&mut s).poll_next(&mut cx) {
                Poll::Ready(Some(Ok(batch))) => {
                    assert!(batch.len() < BATCH_BYTES + BATCH_MESSAGE_MAX, "closed near its size");
                    total += messages(&batch).len();
                }
                Poll::Ready(Some(Err(status))) => {
                    assert_eq!(status.code, Code::Aborted);
                    break;
                }
                other => panic!("unexpected {other:?}"),
            }
        }
        assert_eq!(total, 100, "every message before the error was sent");
    }

    #[test]
    fn copied_messages_are_framed_like_encoded_ones() {
        let mut buf = FrameBuf::default();
        assert!(buf.take().is_none(), "an empty batch is not sent");
        buf.push_copy(&OutMessage::from_parts(vec![
            Bytes::from_static(b"\x0a\x02"),
            Bytes::from_static(b"ab"),
        ]));
        let chunk = Chunk { data: Bytes::from_static(b"cd") };
        buf.push_encoded::<C>(&chunk, C::size_hint(&chunk)).unwrap();
        let batch = buf.take().unwrap().unwrap();
        assert_eq!(&batch.data[..], b"\0\0\0\0\x04\x0a\x02ab\0\0\0\0\x04\x0a\x02cd");
        let check = batch.batch.expect("a batch");
        assert_eq!((check.messages(), check.payload()), (2, 8));
        assert_eq!(Some(check), BatchCheck::of(&batch.data).ok(), "checked when taken");
    }
}
