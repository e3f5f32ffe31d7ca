//! What handlers and callers hold: requests and responses with their
//! metadata, and message streams.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures_core::Stream;
use weir_core::grpc::{BatchCheck, Code, MessageBuf, Metadata, Received, Rest, Status};

use crate::call::CallShared;
use crate::codec::Codec;
pub use crate::extensions::Extensions;
use crate::interceptor::Owed;
use crate::runtime::{BoxFuture, PeerInfo};

/// What the server knows about a call when its handler starts.
#[derive(Clone, Debug, Default)]
pub struct CallInfo {
    /// `/package.Service/Method`.
    pub path: Bytes,
    /// `:authority` as sent by the client.
    pub authority: Option<Bytes>,
    /// When the client gives up.
    pub deadline: Option<Instant>,
    /// The peer's address and certificates.
    pub peer: Arc<PeerInfo>,
}

/// What an interceptor's `before` hook sees of a request besides its call
/// info: the metadata (sent or received) and typed extensions, which a
/// server handler reads with [`Request::extensions`].
#[derive(Debug, Default)]
pub struct RequestHead {
    /// The request metadata.
    pub metadata: Metadata,
    /// Typed values, local to this process (never sent).
    pub extensions: Extensions,
}

/// A request: metadata and a message (or a message stream).
#[derive(Debug)]
pub struct Request<T> {
    head: RequestHead,
    message: T,
    /// Client: an absolute deadline (from [`Request::set_deadline`]).
    pub(crate) deadline: Option<Instant>,
    pub(crate) timeout: Option<Duration>,
    /// Client: wait for a ready connection (`None`: as the method's config says).
    pub(crate) wait_for_ready: Option<bool>,
    pub(crate) compression: Option<&'static str>,
    pub(crate) info: Option<Arc<CallInfo>>,
    pub(crate) call: Option<Arc<CallShared>>,
    pub(crate) compressed: bool,
}

impl<T> Request<T> {
    /// A request carrying `message` and no metadata.
    pub fn new(message: T) -> Self {
        Request {
            head: RequestHead::default(),
            message,
            deadline: None,
            timeout: None,
            wait_for_ready: None,
            compression: None,
            info: None,
            call: None,
            compressed: false,
        }
    }

    /// Server: whether the request message arrived compressed (unary and
    /// server-streaming calls).
    pub fn message_compressed(&self) -> bool {
        self.compressed
    }

    /// The request metadata.
    pub fn metadata(&self) -> &Metadata {
        &self.head.metadata
    }

    /// The request metadata, to add or change entries.
    pub fn metadata_mut(&mut self) -> &mut Metadata {
        &mut self.head.metadata
    }

    /// Typed values: on a server, what interceptors stored for the handler.
    pub fn extensions(&self) -> &Extensions {
        &self.head.extensions
    }

    /// Typed values, to add or take.
    pub fn extensions_mut(&mut self) -> &mut Extensions {
        &mut self.head.extensions
    }

    pub(crate) fn head_mut(&mut self) -> &mut RequestHead {
        &mut self.head
    }

    /// The message.
    pub fn get_ref(&self) -> &T {
        &self.message
    }

    /// The message, mutably.
    pub fn get_mut(&mut self) -> &mut T {
        &mut self.message
    }

    /// Takes the message.
    pub fn into_inner(self) -> T {
        self.message
    }

    /// Splits into metadata and message.
    pub fn into_parts(self) -> (Metadata, T) {
        (self.head.metadata, self.message)
    }

    /// Splits into metadata with extensions, and message.
    pub(crate) fn into_head(self) -> (RequestHead, T) {
        (self.head, self.message)
    }

    /// Client: the call's deadline, relative to its start (sent as `grpc-timeout`).
    pub fn set_timeout(&mut self, timeout: Duration) {
        self.timeout = Some(timeout);
    }

    /// Client: whether the call waits for a ready connection while every
    /// backend is down or the name is not resolved yet (gRPC's
    /// wait-for-ready), until its deadline, instead of failing with
    /// UNAVAILABLE at once. Overrides the method's `waitForReady`.
    pub fn set_wait_for_ready(&mut self, wait: bool) {
        self.wait_for_ready = Some(wait);
    }

    /// Client: the call's deadline as an instant (the earlier of this and a
    /// [`Request::set_timeout`] wins).
    pub fn set_deadline(&mut self, deadline: Instant) {
        self.deadline = Some(deadline);
    }

    /// Client: the same deadline as a call this server is handling, so a
    /// call made on its behalf gives up when its caller does (deadline
    /// propagation). Nothing changes when `parent` has no deadline.
    ///
    /// ```no_run
    /// # async fn handler(req: weir_rt::Request<bytes::Bytes>, downstream: weir_rt::Channel) -> Result<(), weir_rt::Status> {
    /// let child = weir_rt::Request::new(bytes::Bytes::from_static(b"query")).with_deadline_of(&req);
    /// downstream.unary("/store.Store/Get", child).await?;
    /// # Ok(()) }
    /// ```
    pub fn with_deadline_of<U>(mut self, parent: &Request<U>) -> Self {
        if let Some(d) = parent.deadline() {
            self.deadline = Some(self.deadline.map_or(d, |mine| mine.min(d)));
        }
        self
    }

    /// Server: how long until the client gives up, if it said (zero once
    /// passed).
    pub fn time_remaining(&self) -> Option<Duration> {
        self.deadline().map(|d| d.saturating_duration_since(Instant::now()))
    }

    /// Client: compress request messages (`gzip`, or any installed algorithm).
    pub fn set_compression(&mut self, algorithm: &'static str) {
        self.compression = Some(algorithm);
    }

    /// Server: when the client gives up, if it said.
    pub fn deadline(&self) -> Option<Instant> {
        self.info.as_ref().and_then(|i| i.deadline)
    }

    /// Server: what is known about the call (method, authority, peer).
    pub fn call_info(&self) -> Option<&CallInfo> {
        self.info.as_deref()
    }

    /// Server: a token that resolves when the call is cancelled (the client
    /// cancelled, the deadline passed, or the connection went away).
    pub fn cancellation(&self) -> Cancellation {
        Cancellation { call: self.call.clone() }
    }

    /// Replaces the message, keeping everything else.
    pub fn map<U>(self, f: impl FnOnce(T) -> U) -> Request<U> {
        Request {
            head: self.head,
            message: f(self.message),
            deadline: self.deadline,
            timeout: self.timeout,
            wait_for_ready: self.wait_for_ready,
            compression: self.compression,
            info: self.info,
            call: self.call,
            compressed: self.compressed,
        }
    }

    pub(crate) fn with_server_parts(
        mut self,
        metadata: Metadata,
        info: Arc<CallInfo>,
        call: Arc<CallShared>,
    ) -> Self {
        self.head.metadata = metadata;
        self.info = Some(info);
        self.call = Some(call);
        self
    }
}

/// Anything a client call accepts as its request: a message (or stream), or
/// a [`Request`] carrying metadata and a timeout.
pub trait IntoRequest<T> {
    /// Wraps into a request.
    fn into_request(self) -> Request<T>;
}

impl<T> IntoRequest<T> for T {
    fn into_request(self) -> Request<T> {
        Request::new(self)
    }
}

impl<T> IntoRequest<T> for Request<T> {
    fn into_request(self) -> Request<T> {
        self
    }
}

/// Anything a streaming client call accepts: a stream of messages, or a
/// [`Request`] carrying one with metadata and a timeout.
pub trait IntoStreamingRequest {
    /// The stream type.
    type Stream: futures_core::Stream<Item = Self::Message> + Send + 'static;
    /// The message type.
    type Message;
    /// Wraps into a request.
    fn into_streaming_request(self) -> Request<Self::Stream>;
}

impl<S: futures_core::Stream + Send + 'static> IntoStreamingRequest for S {
    type Stream = S;
    type Message = S::Item;
    fn into_streaming_request(self) -> Request<S> {
        Request::new(self)
    }
}

impl<S: futures_core::Stream + Send + 'static> IntoStreamingRequest for Request<S> {
    type Stream = S;
    type Message = S::Item;
    fn into_streaming_request(self) -> Request<S> {
        self
    }
}

/// Resolves when a server call is cancelled.
#[derive(Clone)]
pub struct Cancellation {
    call: Option<Arc<CallShared>>,
}

impl Cancellation {
    /// True once the call was cancelled.
    pub fn is_cancelled(&self) -> bool {
        self.call.as_ref().is_some_and(|c| c.send_closed().is_some())
    }

    /// Waits for the cancellation; returns why.
    pub fn cancelled(&self) -> impl Future<Output = Status> + Send + 'static {
        let call = self.call.clone();
        std::future::poll_fn(move |cx| match &call {
            Some(c) => c.poll_send_closed(cx),
            None => Poll::Pending,
        })
    }
}

/// A response: header metadata, a message (or stream), trailing metadata.
#[derive(Debug)]
pub struct Response<T> {
    metadata: Metadata,
    message: T,
    trailers: Metadata,
    pub(crate) compression: Option<&'static str>,
    pub(crate) compressed: bool,
}

impl<T> Response<T> {
    /// A response carrying `message`.
    pub fn new(message: T) -> Self {
        Response {
            metadata: Metadata::new(),
            message,
            trailers: Metadata::new(),
            compression: None,
            compressed: false,
        }
    }

    /// Server: compress response messages with this algorithm (it must be
    /// one the client accepts); stream items can still opt out one by one
    /// with [`OutMessage`].
    pub fn set_compression(&mut self, algorithm: &'static str) {
        self.compression = Some(algorithm);
    }

    /// Client: whether the response message arrived compressed (unary calls).
    pub fn message_compressed(&self) -> bool {
        self.compressed
    }

    /// Header metadata (sent before the first message).
    pub fn metadata(&self) -> &Metadata {
        &self.metadata
    }

    /// Header metadata, mutably.
    pub fn metadata_mut(&mut self) -> &mut Metadata {
        &mut self.metadata
    }

    /// Trailing metadata (sent with the status).
    pub fn trailers(&self) -> &Metadata {
        &self.trailers
    }

    /// Trailing metadata, mutably.
    pub fn trailers_mut(&mut self) -> &mut Metadata {
        &mut self.trailers
    }

    /// The message.
    pub fn get_ref(&self) -> &T {
        &self.message
    }

    /// Takes the message.
    pub fn into_inner(self) -> T {
        self.message
    }

    /// Splits into header metadata, message and trailers.
    pub fn into_parts(self) -> (Metadata, T, Metadata) {
        (self.metadata, self.message, self.trailers)
    }

    /// Builds a response from its parts.
    pub fn from_parts(metadata: Metadata, message: T, trailers: Metadata) -> Self {
        Response { metadata, message, trailers, compression: None, compressed: false }
    }

    /// Replaces the message, keeping the metadata and compression settings.
    pub fn map<U>(self, f: impl FnOnce(T) -> U) -> Response<U> {
        Response {
            metadata: self.metadata,
            message: f(self.message),
            trailers: self.trailers,
            compression: self.compression,
            compressed: self.compressed,
        }
    }
}

/// An outgoing message with its compression choice: `None` follows the
/// call's encoding, `Some(false)` sends this one uncompressed, `Some(true)`
/// compresses it (the call needs an encoding).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OutMessage {
    /// The encoded message (its first part when `more` is not empty).
    pub data: Bytes,
    /// Further parts of the same message, sent after `data` without being
    /// joined: an encoding that kept large `bytes` fields by reference.
    pub more: Vec<Bytes>,
    /// Per-message compression override.
    pub compress: Option<bool>,
    /// Set when `data` holds several messages, each behind its prefix.
    pub(crate) batch: Option<BatchCheck>,
}

impl OutMessage {
    /// How many gRPC messages this is (a batch holds several).
    pub(crate) fn messages(&self) -> usize {
        self.batch.as_ref().map_or(1, BatchCheck::messages)
    }

    /// A message sent with an explicit compression choice.
    pub fn new(data: Bytes, compress: bool) -> Self {
        OutMessage { data, more: Vec::new(), compress: Some(compress), batch: None }
    }

    /// Messages framed into one buffer (see [`crate::batch`]).
    pub(crate) fn batch(data: Bytes, check: BatchCheck) -> Self {
        OutMessage { data, more: Vec::new(), compress: None, batch: Some(check) }
    }

    /// A message in several parts, sent in order without being joined.
    pub fn from_parts(mut parts: Vec<Bytes>) -> Self {
        if parts.len() == 1 {
            return OutMessage::from(parts.remove(0));
        }
        OutMessage { data: Bytes::new(), more: parts, compress: None, batch: None }
    }

    /// The encoded length (of a batch: with the prefixes).
    pub fn len(&self) -> usize {
        self.data.len() + self.more.iter().map(Bytes::len).sum::<usize>()
    }

    /// True for an empty message.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The message as parts to send in order.
    pub(crate) fn into_parts(self) -> Vec<Bytes> {
        let mut parts = Vec::with_capacity(1 + self.more.len());
        if !self.data.is_empty() {
            parts.push(self.data);
        }
        parts.extend(self.more);
        parts
    }

    /// The message in one buffer (joined only when it is in parts).
    pub(crate) fn into_contiguous(self) -> Bytes {
        if self.more.is_empty() {
            return self.data;
        }
        self.into_parts().concat().into()
    }
}

impl From<Bytes> for OutMessage {
    fn from(data: Bytes) -> Self {
        OutMessage { data, more: Vec::new(), compress: None, batch: None }
    }
}

/// How a stream asks its driver for more messages and cancels its call.
pub(crate) trait CallLink: Send + Sync + 'static {
    /// Pull more messages from the core into the call's queue.
    fn pull(&self);
    /// Cancel the call (the stream was dropped before it ended).
    fn cancel(&self);
}

/// A stream of messages received on a call: requests on the server, responses
/// on the client. Dropping it early cancels a client call.
pub struct Streaming<T> {
    call: Arc<CallShared>,
    /// The batch taken from the call's queue, worked through without locks.
    batch: Received,
    /// Client: what the finished call still held, worked through after
    /// `batch` (taken into it a run of messages at a time).
    rest: Option<Rest>,
    /// This stream holds the batch last taken (and gives its cost back to
    /// the budget when dropped).
    holds_batch: bool,
    link: Arc<dyn CallLink>,
    decode: Decode<T>,
    done: bool,
    cancel_on_drop: bool,
    last_compressed: bool,
    /// Client: the `after` interceptors owed when the stream ends.
    owed: Option<Owed>,
    /// Client: those hooks running on the final status.
    settling: Option<BoxFuture<'static, Status>>,
}

/// How a [`Streaming`] turns message octets into its items.
enum Decode<T> {
    /// From each message cut out on its own.
    Whole(fn(Bytes) -> Result<T, Status>),
    /// In place, from the received octets ([`Codec::decode_into`]).
    InPlace(DecodeInto<T>),
}

/// What a codec that decoded without filling its slot gets (rather than
/// ending the stream early).
#[cold]
fn no_message() -> Status {
    Status::new(Code::Internal, "the codec decoded no message")
}

/// Decodes one message in place into a slot ([`Codec::decode_into`]).
type DecodeInto<T> = fn(&mut MessageBuf<'_>, &mut Option<T>) -> Result<(), Box<Status>>;

/// [`Codec::decode_into`] with its error boxed. Each small message's
/// decoded value used to be moved on through a result at every layer
/// between the codec and the caller, as large as a [`Status`] (about 100
/// bytes), each move read right after the layer below wrote it (the
/// processor stalls on that): a good part of each message's cost.
fn decode_into<C: Codec>(buf: &mut MessageBuf<'_>, slot: &mut Option<C::Decode>) -> Result<(), Box<Status>> {
    C::decode_into(buf, slot).map_err(Box::new)?;
    match slot {
        Some(_) => Ok(()),
        None => Err(Box::new(no_message())),
    }
}

impl<T> Clone for Decode<T> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<T> Copy for Decode<T> {}

impl<T> Streaming<T> {
    pub(crate) fn new(
        call: Arc<CallShared>,
        link: Arc<dyn CallLink>,
        decode: fn(Bytes) -> Result<T, Status>,
        cancel_on_drop: bool,
    ) -> Self {
        Streaming {
            call,
            batch: Received::new(),
            rest: None,
            holds_batch: true,
            link,
            decode: Decode::Whole(decode),
            done: false,
            cancel_on_drop,
            last_compressed: false,
            owed: None,
            settling: None,
        }
    }

    /// Client: runs the channel's `after` interceptors when the stream ends.
    pub(crate) fn with_owed(mut self, owed: Owed) -> Self {
        self.owed = owed.is_owed().then_some(owed);
        self
    }

    /// Whether the last message returned arrived compressed.
    pub fn last_message_compressed(&self) -> bool {
        self.last_compressed
    }

    /// The same stream, decoding each message with `decode`.
    pub fn with_decoder<U>(self, decode: fn(Bytes) -> Result<U, Status>) -> Streaming<U> {
        self.decoding(Decode::Whole(decode))
    }

    /// The same stream, decoding each message with codec `C` (in place,
    /// when the codec can).
    pub fn with_codec<C: Codec>(self) -> Streaming<C::Decode> {
        self.decoding(Decode::InPlace(decode_into::<C>))
    }

    fn decoding<U>(mut self, decode: Decode<U>) -> Streaming<U> {
        // The new stream takes over the cancel-on-drop duty.
        let cancel_on_drop = std::mem::replace(&mut self.cancel_on_drop, false);
        self.holds_batch = false;
        Streaming {
            call: self.call.clone(),
            batch: std::mem::take(&mut self.batch),
            rest: self.rest.take(),
            holds_batch: true,
            link: self.link.clone(),
            decode,
            done: self.done,
            cancel_on_drop,
            last_compressed: self.last_compressed,
            owed: self.owed.take(),
            settling: self.settling.take(),
        }
    }

    /// The next message; `Ok(None)` at the end of the stream.
    pub async fn message(&mut self) -> Result<Option<T>, Status> {
        std::future::poll_fn(|cx| self.poll_message(cx)).await
    }

    fn poll_message(&mut self, cx: &mut Context<'_>) -> Poll<Result<Option<T>, Status>> {
        if let Some(settling) = &mut self.settling {
            let status = std::task::ready!(settling.as_mut().poll(cx));
            self.settling = None;
            self.done = true;
            return Poll::Ready(if status.is_ok() { Ok(None) } else { Err(status) });
        }
        if self.done {
            return Poll::Ready(Ok(None));
        }
        match self.decode {
            Decode::InPlace(decode) => {
                let mut item = None;
                if let Some((decoded, compressed)) = self.batch.pop_decoded(|buf| decode(buf, &mut item)) {
                    self.last_compressed = compressed;
                    return Poll::Ready(match decoded {
                        Ok(()) => Ok(item),
                        Err(status) => Err(*status),
                    });
                }
            }
            Decode::Whole(decode) => {
                if let Some((message, compressed)) = self.batch.pop_front() {
                    self.last_compressed = compressed;
                    return Poll::Ready(decode(message).map(Some));
                }
            }
        }
        if let Some(rest) = &mut self.rest {
            // Into the batch, decoded there like the others.
            if let Some(run) = rest.next_run() {
                self.batch.push_run(run);
                return self.poll_message(cx);
            }
            if let Some(message) = rest.next_message() {
                self.batch.push_back(message, false);
                return self.poll_message(cx);
            }
            self.rest = None;
        }
        let popped = self.call.poll_batch(cx, &mut self.batch, &mut self.rest);
        if popped.pull {
            self.link.pull();
        }
        let end = match popped.item {
            Poll::Pending => {
                // A stream that went quiet after a message or two keeps no
                // buffer (a busy one keeps its larger one between batches).
                if self.batch.capacity() <= 8 {
                    self.batch = Received::new();
                }
                return Poll::Pending;
            }
            Poll::Ready(None) => Status::ok(),
            Poll::Ready(Some(Err(status))) => status,
            Poll::Ready(Some(Ok(()))) => return self.poll_message(cx),
        };
        match self.owed.take() {
            // The caller learns the end once the `after` hooks had their say.
            Some(owed) => {
                self.settling = Some(owed.settle(end));
                self.poll_message(cx)
            }
            None => {
                self.done = true;
                Poll::Ready(if end.is_ok() { Ok(None) } else { Err(end) })
            }
        }
    }

    /// Client: cancels the call (RST_STREAM CANCEL); the stream then ends
    /// with CANCELLED.
    pub fn cancel(&self) {
        if !self.call.is_finished() {
            self.link.cancel();
        }
    }

    /// Client: the response header metadata, once the server sent it.
    pub async fn headers(&self) -> Result<Metadata, Status> {
        std::future::poll_fn(|cx| self.call.poll_headers(cx)).await
    }

    /// Client: the trailing metadata, once the stream has ended.
    pub async fn trailers(&mut self) -> Result<Metadata, Status> {
        let (status, trailers) = std::future::poll_fn(|cx| self.call.poll_finished(cx)).await;
        if status.is_ok() { Ok(trailers) } else { Err(status) }
    }
}

impl<T> Stream for Streaming<T> {
    type Item = Result<T, Status>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        this.poll_message(cx).map(Result::transpose)
    }
}

impl<T> Drop for Streaming<T> {
    fn drop(&mut self) {
        if self.holds_batch {
            self.call.release_handed();
        }
        if self.cancel_on_drop && !self.call.is_finished() {
            self.link.cancel();
        }
        if let Some(owed) = self.owed.take() {
            // Dropped before its end: the hooks see how the call ended, or
            // that the caller cancelled it.
            let status = self.call.finished_status().unwrap_or_else(|| {
                Status::new(weir_core::grpc::Code::Cancelled, "call cancelled by the caller")
            });
            owed.settle_detached(status);
        }
    }
}

impl<T> std::fmt::Debug for Streaming<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Streaming").field("done", &self.done).finish()
    }
}

#[cfg(test)]
mod tests {
    use std::task::Waker;

    use bytes::BytesMut;

    use super::*;
    use crate::codec::ProstCodec;

    struct NoLink;

    impl CallLink for NoLink {
        fn pull(&self) {}
        fn cancel(&self) {}
    }

    #[derive(Clone, PartialEq, prost::Message)]
    struct Chunk {
        #[prost(bytes = "bytes", tag = "1")]
        data: Bytes,
    }

    /// A codec that reports success without filling its slot.
    struct Hollow;

    impl Codec for Hollow {
        type Encode = ();
        type Decode = ();

        fn encode(_: &(), _: &mut BytesMut) -> Result<(), Status> {
            Ok(())
        }

        fn decode(_: Bytes) -> Result<(), Status> {
            Ok(())
        }

        fn decode_into(_: &mut MessageBuf<'_>, _: &mut Option<()>) -> Result<(), Status> {
            Ok(())
        }
    }

    fn stream_of(messages: &[Bytes]) -> Streaming<Bytes> {
        let call = CallShared::new();
        for m in messages {
            call.push_message(m.clone(), false);
        }
        call.end_messages(Ok(()));
        Streaming::new(call, Arc::new(NoLink), Ok, false)
    }

    fn next<T>(s: &mut Streaming<T>) -> Result<Option<T>, Status> {
        match s.poll_message(&mut Context::from_waker(Waker::noop())) {
            Poll::Ready(r) => r,
            Poll::Pending => panic!("every message is queued"),
        }
    }

    /// A typed stream decodes each message in place, a malformed one fails
    /// alone, and a codec that decodes nothing fails the message instead of
    /// ending the stream.
    #[test]
    fn typed_streams_decode_in_place() {
        let chunk = |n: u8| Chunk { data: Bytes::from(vec![n; 3]) };
        let wire = |c: &Chunk| Bytes::from(prost::Message::encode_to_vec(c));
        let msgs = [wire(&chunk(1)), Bytes::from_static(b"\x0a\x05ab"), wire(&chunk(2))];
        let mut s = stream_of(&msgs).with_codec::<ProstCodec<Chunk, Chunk>>();
        assert_eq!(next(&mut s).unwrap(), Some(chunk(1)));
        assert_eq!(next(&mut s).unwrap_err().code, Code::Internal);
        assert_eq!(next(&mut s).unwrap(), Some(chunk(2)));
        assert_eq!(next(&mut s).unwrap(), None);

        let mut hollow = stream_of(&msgs[..1]).with_codec::<Hollow>();
        assert_eq!(next(&mut hollow).unwrap_err().code, Code::Internal);
        assert_eq!(next(&mut hollow).unwrap(), None);
    }
}
