//! Typed handlers over the byte-level router: decode requests and encode
//! responses with a [`Codec`]. Generated service code calls these.

use std::future::Future;

use bytes::Bytes;
use futures_core::Stream;
use weir_core::grpc::Status;

use super::router::{Method, ResponseStream};
use crate::batch::EncodeBatches;
use crate::codec::{Codec, encode_to_bytes};
use crate::request::{Request, Response, Streaming};

fn decode_request<C: Codec>(req: Request<Bytes>) -> Result<Request<C::Decode>, Status> {
    let mut err = None;
    let req = req.map(|b| match C::decode(b) {
        Ok(m) => Some(m),
        Err(e) => {
            err = Some(e);
            None
        }
    });
    match err {
        Some(e) => Err(e),
        None => Ok(req.map(|m| m.expect("decoded"))),
    }
}

fn encode_response<C: Codec>(resp: Response<C::Encode>) -> Result<Response<Bytes>, Status> {
    let bytes = encode_to_bytes::<C>(resp.get_ref())?;
    Ok(resp.map(|_| bytes))
}

fn encode_stream<C, S>(resp: Response<S>) -> Response<ResponseStream>
where
    C: Codec,
    S: Stream<Item = Result<C::Encode, Status>> + Send + 'static,
{
    resp.map(|s| Box::pin(EncodeBatches::<_, C>::new(Box::pin(s))) as ResponseStream)
}

/// A typed unary method.
pub fn unary<C, F, Fut>(f: F) -> Method
where
    C: Codec,
    F: Fn(Request<C::Decode>) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<Response<C::Encode>, Status>> + Send + 'static,
{
    Method::unary(move |req| {
        let fut = decode_request::<C>(req).map(&f);
        async move { encode_response::<C>(fut?.await?) }
    })
}

/// A typed server-streaming method.
pub fn server_streaming<C, F, Fut, S>(f: F) -> Method
where
    C: Codec,
    F: Fn(Request<C::Decode>) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<Response<S>, Status>> + Send + 'static,
    S: Stream<Item = Result<C::Encode, Status>> + Send + 'static,
{
    Method::server_streaming(move |req| {
        let fut = decode_request::<C>(req).map(&f);
        async move { Ok(encode_stream::<C, S>(fut?.await?)) }
    })
}

/// A typed client-streaming method.
pub fn client_streaming<C, F, Fut>(f: F) -> Method
where
    C: Codec,
    F: Fn(Request<Streaming<C::Decode>>) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<Response<C::Encode>, Status>> + Send + 'static,
{
    Method::client_streaming(move |req| {
        let fut = f(req.map(|s| s.with_codec::<C>()));
        async move { encode_response::<C>(fut.await?) }
    })
}

/// A typed bidirectional-streaming method.
pub fn bidi<C, F, Fut, S>(f: F) -> Method
where
    C: Codec,
    F: Fn(Request<Streaming<C::Decode>>) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<Response<S>, Status>> + Send + 'static,
    S: Stream<Item = Result<C::Encode, Status>> + Send + 'static,
{
    Method::bidi(move |req| {
        let fut = f(req.map(|s| s.with_codec::<C>()));
        async move { Ok(encode_stream::<C, S>(fut.await?)) }
    })
}
