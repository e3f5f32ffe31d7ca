//! A fallback HTTP service (an axum `Router`, any `tower::Service`) for the
//! requests of a Weir server that are not gRPC: REST routes beside gRPC on
//! one port, with gRPC on Weir's own connection driver
//! ([`Server::fallback`](crate::Server::fallback)).
//!
//! The connection's driver, HTTP/1.1 or HTTP/2, hands the service an
//! `http::Request<`[`Incoming`]`>` whose body it feeds as the client sends
//! it, at most `BODY_HIGH` (64 KiB) octets ahead of the service (then the
//! HTTP/1.1 driver stops reading the connection, and the HTTP/2 one leaves
//! the stream's data unread, so its window pushes back), and writes the
//! response the service returns.

use std::collections::VecDeque;
use std::convert::Infallible;
use std::error::Error;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll, Waker};

use bytes::{Buf, Bytes};
use http_body::{Body, Frame, SizeHint};

use weir_core::http1::{BodyKind, Field, RequestHead, RequestId, ResponseHead, ServerConnection, Version};

use crate::runtime::BoxFuture;

/// Request body octets queued for the fallback service above which the
/// driver stops reading the connection (HTTP/1.1) or the stream (HTTP/2).
pub(crate) const BODY_HIGH: usize = 64 << 10;

/// The error of a response body, boxed.
pub type BoxError = Box<dyn Error + Send + Sync>;

/// A response body of any type, boxed.
pub(crate) type BoxBody = Pin<Box<dyn Body<Data = Bytes, Error = BoxError> + Send>>;

/// The fallback service as the drivers call it.
pub(crate) trait Fallback: Send + Sync + 'static {
    fn call(&self, req: http::Request<Incoming>) -> BoxFuture<'static, http::Response<BoxBody>>;
}

/// A `tower::Service` as a [`Fallback`]: cloned per request, as hyper and
/// axum do.
pub(crate) struct TowerFallback<S>(pub S);

impl<S, B> Fallback for TowerFallback<S>
where
    S: tower_service::Service<http::Request<Incoming>, Response = http::Response<B>, Error = Infallible>
        + Clone
        + Send
        + Sync
        + 'static,
    S::Future: Send + 'static,
    B: Body<Data = Bytes> + Send + 'static,
    B::Error: Into<BoxError>,
{
    fn call(&self, req: http::Request<Incoming>) -> BoxFuture<'static, http::Response<BoxBody>> {
        let mut svc = self.0.clone();
        Box::pin(async move {
            let ready = std::future::poll_fn(|cx| svc.poll_ready(cx)).await;
            let resp = match ready {
                Ok(()) => svc.call(req).await,
                Err(e) => Err(e),
            };
            let Ok(resp) = resp;
            resp.map(|b| Box::pin(MapErr(Box::pin(b))) as BoxBody)
        })
    }
}

/// A body whose error is boxed.
struct MapErr<B>(Pin<Box<B>>);

impl<B> Body for MapErr<B>
where
    B: Body<Data = Bytes>,
    B::Error: Into<BoxError>,
{
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        self.get_mut().0.as_mut().poll_frame(cx).map(|f| f.map(|r| r.map_err(Into::into)))
    }

    fn is_end_stream(&self) -> bool {
        self.0.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.0.size_hint()
    }
}

/// What the driver and the service share of a request body.
#[derive(Default)]
struct Shared {
    chunks: VecDeque<Bytes>,
    queued: usize,
    /// The body ended: `Ok` at its end, `Err` when the connection failed.
    end: Option<Result<(), String>>,
    /// The service waits for data.
    reader: Option<Waker>,
    /// The driver waits for room.
    writer: Option<Waker>,
    /// The service dropped the body: what still comes is read and dropped
    /// (never queued), so the connection does not stall on it.
    dropped: bool,
}

/// The request body a fallback service reads: the octets the client sends,
/// as they arrive.
pub struct Incoming {
    shared: Arc<Mutex<Shared>>,
    /// What the request's framing announced (`Content-Length`).
    len: Option<u64>,
}

impl std::fmt::Debug for Incoming {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Incoming")
    }
}

/// The driver's end of an [`Incoming`] body.
pub(crate) struct BodySender {
    shared: Arc<Mutex<Shared>>,
}

fn lock(m: &Mutex<Shared>) -> MutexGuard<'_, Shared> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// A request body and the driver's end of it.
pub(crate) fn body(len: Option<u64>) -> (BodySender, Incoming) {
    let shared = Arc::new(Mutex::new(Shared::default()));
    (BodySender { shared: shared.clone() }, Incoming { shared, len })
}

impl BodySender {
    /// Queues octets for the service.
    pub fn push(&self, data: Bytes) {
        if data.is_empty() {
            return;
        }
        let waker = {
            let mut s = lock(&self.shared);
            if s.dropped {
                return;
            }
            s.queued += data.len();
            s.chunks.push_back(data);
            s.reader.take()
        };
        if let Some(w) = waker {
            w.wake();
        }
    }

    /// Ends the body (`Err`: the request was cut short).
    pub fn end(&self, result: Result<(), String>) {
        let waker = {
            let mut s = lock(&self.shared);
            if s.end.is_none() {
                s.end = Some(result);
            }
            s.reader.take()
        };
        if let Some(w) = waker {
            w.wake();
        }
    }

    /// True when the service dropped the body (it will read no more).
    pub fn is_abandoned(&self) -> bool {
        lock(&self.shared).dropped
    }

    /// Octets queued and not yet read by the service.
    pub fn queued(&self) -> usize {
        lock(&self.shared).queued
    }

    /// True when the service may take more; otherwise the driver is woken
    /// when it has read some.
    pub fn has_room(&self, cx: &Context<'_>) -> bool {
        let mut s = lock(&self.shared);
        if s.queued < BODY_HIGH || s.dropped {
            return true;
        }
        s.writer = Some(cx.waker().clone());
        false
    }
}

impl BodySender {
    /// The service dropped the body before its end: the connection cannot
    /// be reused after this exchange without reading the rest.
    pub fn abandoned(&self) -> bool {
        let s = lock(&self.shared);
        s.dropped && s.end.is_none()
    }
}

impl Drop for Incoming {
    /// The service will not read the rest: it is dropped as it comes, and
    /// the driver, if it waited for room, goes on.
    fn drop(&mut self) {
        let writer = {
            let mut s = lock(&self.shared);
            s.dropped = true;
            s.chunks.clear();
            s.queued = 0;
            s.writer.take()
        };
        if let Some(w) = writer {
            w.wake();
        }
    }
}

impl Drop for BodySender {
    fn drop(&mut self) {
        self.end(Err("connection closed".into()));
    }
}

impl Body for Incoming {
    type Data = Bytes;
    type Error = std::io::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        let (item, writer) = {
            let mut s = lock(&self.shared);
            match s.chunks.pop_front() {
                Some(chunk) => {
                    s.queued -= chunk.len();
                    (Poll::Ready(Some(Ok(Frame::data(chunk)))), s.writer.take())
                }
                None => match &s.end {
                    Some(Ok(())) => (Poll::Ready(None), None),
                    Some(Err(e)) => {
                        let e = std::io::Error::new(std::io::ErrorKind::UnexpectedEof, e.clone());
                        (Poll::Ready(Some(Err(e))), None)
                    }
                    None => {
                        s.reader = Some(cx.waker().clone());
                        (Poll::Pending, None)
                    }
                },
            }
        };
        if let Some(w) = writer {
            w.wake();
        }
        item
    }

    fn is_end_stream(&self) -> bool {
        let s = lock(&self.shared);
        s.chunks.is_empty() && matches!(s.end, Some(Ok(())))
    }

    fn size_hint(&self) -> SizeHint {
        match self.len {
            Some(n) => SizeHint::with_exact(n),
            None => SizeHint::default(),
        }
    }
}

/// The response body's next frame, as data octets or trailers.
pub(crate) enum Out {
    Data(Bytes),
    Trailers(http::HeaderMap),
}

/// Polls a boxed response body for its next frame (`None` at its end; an
/// error ends it too, which the caller reports by cutting the response).
pub(crate) fn poll_out(body: &mut BoxBody, cx: &mut Context<'_>) -> Poll<Option<Result<Out, BoxError>>> {
    match body.as_mut().poll_frame(cx) {
        Poll::Pending => Poll::Pending,
        Poll::Ready(None) => Poll::Ready(None),
        Poll::Ready(Some(Err(e))) => Poll::Ready(Some(Err(e))),
        Poll::Ready(Some(Ok(frame))) => Poll::Ready(Some(Ok(match frame.into_data() {
            Ok(mut data) => Out::Data(data.copy_to_bytes(data.remaining())),
            Err(frame) => Out::Trailers(frame.into_trailers().unwrap_or_default()),
        }))),
    }
}

/// One request a connection's driver hands to the fallback service: its
/// body as the client sends it, then the response as the service makes it.
pub(crate) struct FallbackExchange {
    /// The request body's sending end, until the request ends.
    body: Option<BodySender>,
    fut: Option<BoxFuture<'static, http::Response<BoxBody>>>,
    resp: Option<BoxBody>,
    /// Trailers the response body ended with.
    trailers: Vec<Field>,
    done: bool,
}

/// What driving a fallback exchange asks of the connection.
pub(crate) enum Drive {
    /// Nothing more for now (`true`: something happened).
    Progress(bool),
    /// The response body failed midway: the connection must close, so the
    /// client sees the response cut short.
    Abort,
}

/// Header fields of a response that belong to the connection, which the
/// HTTP/1.1 connection writes itself.
const CONNECTION_FIELDS: &[&str] =
    &["connection", "keep-alive", "transfer-encoding", "content-length", "upgrade"];

impl FallbackExchange {
    /// Starts the service on `head`; `None` when the head is not a valid
    /// `http::Request` (the caller answers 400).
    pub fn start(fallback: &dyn Fallback, head: &RequestHead) -> Option<Self> {
        let len = match head.body {
            BodyKind::Length(n) => Some(n),
            BodyKind::Empty => Some(0),
            _ => None,
        };
        let (sender, incoming) = body(len);
        let mut req = http::Request::new(incoming);
        *req.method_mut() = http::Method::from_bytes(&head.method).ok()?;
        *req.uri_mut() = http::Uri::from_maybe_shared(head.target.clone()).ok()?;
        *req.version_mut() = match head.version {
            Version::Http10 => http::Version::HTTP_10,
            Version::Http11 => http::Version::HTTP_11,
        };
        for f in &head.headers {
            let name = http::HeaderName::from_bytes(&f.name).ok()?;
            req.headers_mut().append(name, http::HeaderValue::from_maybe_shared(f.value.clone()).ok()?);
        }
        Some(FallbackExchange {
            body: Some(sender),
            fut: Some(fallback.call(req)),
            resp: None,
            trailers: Vec::new(),
            done: false,
        })
    }

    /// Request body octets.
    pub fn on_data(&mut self, data: Bytes) {
        if let Some(b) = &self.body {
            b.push(data);
        }
    }

    /// The request ended (`Err`: cut short).
    pub fn on_end(&mut self, result: Result<(), String>) {
        if let Some(b) = self.body.take() {
            b.end(result);
        }
    }

    /// True when the service may be given more request octets; otherwise
    /// the driver is woken once it read some.
    pub fn has_room(&self, cx: &Context<'_>) -> bool {
        self.body.as_ref().is_none_or(|b| b.has_room(cx))
    }

    /// Request octets waiting for the service.
    pub fn held(&self) -> usize {
        self.body.as_ref().map_or(0, BodySender::queued)
    }

    /// The response was written to its end.
    pub fn is_done(&self) -> bool {
        self.done
    }

    /// Polls the service's response and writes it: the head, then body
    /// octets while `room` says the connection has room for them.
    pub fn drive(
        &mut self,
        conn: &mut ServerConnection,
        id: RequestId,
        cx: &mut Context<'_>,
        room: impl Fn(&ServerConnection) -> bool,
    ) -> Drive {
        let mut progress = false;
        if let Some(fut) = &mut self.fut {
            let Poll::Ready(resp) = fut.as_mut().poll(cx) else { return Drive::Progress(false) };
            self.fut = None;
            progress = true;
            let (parts, body) = resp.into_parts();
            let mut head = ResponseHead::new(parts.status.as_u16());
            // An unread request body (a 404, a 413, a handler that ignores
            // it): the connection closes after this response, rather than
            // being reused behind the rest of that body (RFC 9112 §9.6).
            head.close = self.body.as_ref().is_some_and(BodySender::abandoned);
            // The service's own Content-Length first (a HEAD response's body
            // is empty, its length the representation's).
            head.content_length = parts
                .headers
                .get(http::header::CONTENT_LENGTH)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.parse().ok())
                .or_else(|| body.size_hint().exact());
            for (name, value) in &parts.headers {
                if !CONNECTION_FIELDS.contains(&name.as_str()) {
                    let value = Bytes::copy_from_slice(value.as_bytes());
                    head.headers.push(Field::new(Bytes::copy_from_slice(name.as_str().as_bytes()), value));
                }
            }
            if conn.send_response(id, &head).is_err() {
                return Drive::Abort;
            }
            self.resp = Some(body);
        }
        let Some(body) = &mut self.resp else { return Drive::Progress(progress) };
        while room(conn) {
            match poll_out(body, cx) {
                Poll::Pending => return Drive::Progress(progress),
                Poll::Ready(Some(Ok(Out::Data(data)))) => {
                    if conn.send_data(id, data).is_err() {
                        return Drive::Abort;
                    }
                }
                Poll::Ready(Some(Ok(Out::Trailers(map)))) => {
                    self.trailers.extend(map.iter().map(|(name, value)| {
                        Field::new(
                            Bytes::copy_from_slice(name.as_str().as_bytes()),
                            Bytes::copy_from_slice(value.as_bytes()),
                        )
                    }));
                }
                Poll::Ready(Some(Err(_))) => return Drive::Abort,
                Poll::Ready(None) => {
                    self.resp = None;
                    self.done = true;
                    let trailers = std::mem::take(&mut self.trailers);
                    // Trailers only go with a chunked body.
                    if conn.send_end(id, &trailers).is_err() && conn.send_end(id, &[]).is_err() {
                        return Drive::Abort;
                    }
                    return Drive::Progress(true);
                }
            }
            progress = true;
        }
        Drive::Progress(progress)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::task::Wake;

    struct Count(AtomicUsize);
    impl Wake for Count {
        fn wake(self: Arc<Self>) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }

    /// The driver may queue at most `BODY_HIGH` octets ahead of the service;
    /// it is woken when the service reads, and the body ends as sent.
    #[test]
    fn the_request_body_queue_is_bounded_and_wakes_the_driver() {
        let (tx, mut rx) = body(Some(2 * BODY_HIGH as u64));
        let count = Arc::new(Count(AtomicUsize::new(0)));
        let waker = Waker::from(count.clone());
        let mut cx = Context::from_waker(&waker);
        let chunk = Bytes::from(vec![7u8; BODY_HIGH / 4]);
        let mut pushed = 0;
        while tx.has_room(&cx) {
            tx.push(chunk.clone());
            pushed += chunk.len();
            assert!(pushed <= BODY_HIGH + chunk.len(), "queued past the bound");
        }
        assert_eq!(tx.queued(), BODY_HIGH);
        assert_eq!(count.0.load(Ordering::SeqCst), 0);
        let Poll::Ready(Some(Ok(frame))) = Pin::new(&mut rx).poll_frame(&mut cx) else { panic!("a frame") };
        assert_eq!(frame.into_data().unwrap(), chunk);
        assert_eq!(count.0.load(Ordering::SeqCst), 1, "reading woke the driver");
        assert!(tx.has_room(&cx));
        tx.end(Ok(()));
        let mut total = chunk.len();
        while let Poll::Ready(Some(Ok(f))) = Pin::new(&mut rx).poll_frame(&mut cx) {
            total += f.into_data().unwrap().len();
        }
        assert_eq!(total, BODY_HIGH);
        assert!(rx.is_end_stream());
        assert_eq!(rx.size_hint().exact(), Some(2 * BODY_HIGH as u64));
    }

    /// A connection that ends before the body does makes the body an error.
    #[test]
    fn a_body_cut_short_is_an_error() {
        let (tx, mut rx) = body(None);
        tx.push(Bytes::from_static(b"part"));
        drop(tx);
        let waker = Waker::from(Arc::new(Count(AtomicUsize::new(0))));
        let mut cx = Context::from_waker(&waker);
        assert!(matches!(Pin::new(&mut rx).poll_frame(&mut cx), Poll::Ready(Some(Ok(_)))));
        assert!(matches!(Pin::new(&mut rx).poll_frame(&mut cx), Poll::Ready(Some(Err(_)))));
    }
}
