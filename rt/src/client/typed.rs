//! Typed calls over the byte-level channel: encode requests and decode
//! responses with a [`Codec`]. Generated clients call these.

use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use futures_core::Stream;
use weir_core::grpc::Status;

use super::Channel;
use crate::batch::{EncodeBatches, Infallible};
use crate::codec::{Codec, encode_to_bytes};
use crate::request::{OutMessage, Request, Response, Streaming};

fn decode_response<C: Codec>(resp: Response<Bytes>) -> Result<Response<C::Decode>, Status> {
    let msg = C::decode(resp.get_ref().clone())?;
    Ok(resp.map(|_| msg))
}

/// Encodes a typed request stream in batches ([`EncodeBatches`]); an item
/// that fails to encode ends it.
struct EncodeRequests<S, C>(EncodeBatches<S, C, Infallible>);

impl<S, C> Stream for EncodeRequests<S, C>
where
    S: Stream<Item = C::Encode> + Unpin,
    C: Codec,
{
    type Item = OutMessage;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<OutMessage>> {
        Pin::new(&mut self.0).poll_next(cx).map(|item| item.and_then(Result::ok))
    }
}

fn encode_requests<C, S>(req: Request<S>) -> Request<EncodeRequests<Pin<Box<S>>, C>>
where
    C: Codec,
    S: Stream<Item = C::Encode> + Send + 'static,
{
    req.map(|s| EncodeRequests(EncodeBatches::new(Box::pin(s))))
}

/// A typed unary call.
pub async fn unary<C: Codec>(
    channel: &Channel,
    path: &'static str,
    req: Request<C::Encode>,
) -> Result<Response<C::Decode>, Status> {
    let bytes = encode_to_bytes::<C>(req.get_ref())?;
    let resp = channel.unary(Bytes::from_static(path.as_bytes()), req.map(|_| bytes)).await?;
    decode_response::<C>(resp)
}

/// A typed server-streaming call.
pub async fn server_streaming<C: Codec>(
    channel: &Channel,
    path: &'static str,
    req: Request<C::Encode>,
) -> Result<Response<Streaming<C::Decode>>, Status> {
    let bytes = encode_to_bytes::<C>(req.get_ref())?;
    let resp = channel.server_streaming(Bytes::from_static(path.as_bytes()), req.map(|_| bytes)).await?;
    Ok(resp.map(|s| s.with_codec::<C>()))
}

/// A typed client-streaming call.
pub async fn client_streaming<C, S>(
    channel: &Channel,
    path: &'static str,
    req: Request<S>,
) -> Result<Response<C::Decode>, Status>
where
    C: Codec,
    S: Stream<Item = C::Encode> + Send + 'static,
{
    let resp =
        channel.client_streaming(Bytes::from_static(path.as_bytes()), encode_requests::<C, S>(req)).await?;
    decode_response::<C>(resp)
}

/// A typed bidirectional-streaming call.
pub async fn streaming<C, S>(
    channel: &Channel,
    path: &'static str,
    req: Request<S>,
) -> Result<Response<Streaming<C::Decode>>, Status>
where
    C: Codec,
    S: Stream<Item = C::Encode> + Send + 'static,
{
    let resp = channel.streaming(Bytes::from_static(path.as_bytes()), encode_requests::<C, S>(req)).await?;
    Ok(resp.map(|s| s.with_codec::<C>()))
}
