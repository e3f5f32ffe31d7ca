//! The fallback service on HTTP/2 streams: a request the core reports as
//! not a call (`ServerEvent::Request`, with `ServerConfig::other_requests`
//! on) becomes an `http::Request<`[`Incoming`](super::fallback::Incoming)`>`
//! for the service, polled by the connection's driver (as the HTTP/1.1
//! driver polls it). Its body is read from the core only while the bounded
//! queue has room (`fallback::BODY_HIGH`), so the stream's window is what
//! pushes back on the client beyond that; the response goes out as the
//! service makes it: the head, body frames while the stream's send buffer
//! has room (the core's `Writable` wakes the driver), then trailers or the
//! end.

use std::task::{Context, Poll};

use bytes::Bytes;
use weir_core::conn::Read;
use weir_core::grpc::{self, CallId};
use weir_core::headers::Headers;
use weir_core::hpack::HeaderField;

use super::fallback::{self, BODY_HIGH, BodySender, BoxBody, Fallback, Out};
use crate::runtime::BoxFuture;

/// Response header fields that are connection-specific, which HTTP/2
/// forbids (RFC 9113 §8.2.2).
const CONNECTION_FIELDS: &[&str] =
    &["connection", "keep-alive", "proxy-connection", "transfer-encoding", "upgrade"];

/// One request the fallback service serves on an HTTP/2 stream.
pub(crate) struct H2Fallback {
    /// The request body's sending end, until the body ended.
    body: Option<BodySender>,
    fut: Option<BoxFuture<'static, http::Response<BoxBody>>>,
    resp: Option<BoxBody>,
    /// The service dropped the body unread: the rest is read and dropped,
    /// so its credit returns (the client can finish sending, and other
    /// streams keep the connection's window).
    drain: bool,
}

/// What driving an exchange came to.
pub(crate) enum Step {
    /// Not over (`true`: something happened).
    Progress(bool),
    /// The response went out to its end, or the stream is gone.
    Done,
}

/// Converts a trailers or header map to HTTP/2 fields (lower-case names,
/// connection-specific ones left out).
fn fields(map: &http::HeaderMap) -> Vec<HeaderField> {
    map.iter()
        .filter(|(name, _)| !CONNECTION_FIELDS.contains(&name.as_str()) && *name != http::header::TE)
        .map(|(name, value)| {
            HeaderField::new(
                Bytes::copy_from_slice(name.as_str().as_bytes()),
                Bytes::copy_from_slice(value.as_bytes()),
            )
        })
        .collect()
}

/// The request's target from its pseudo-headers: absolute when the scheme
/// and authority came (as hyper builds it for HTTP/2), the path otherwise.
fn uri(h: &Headers) -> Option<http::Uri> {
    let p = &h.pseudo;
    match (&p.scheme, &p.authority, &p.path) {
        (Some(s), Some(a), Some(path)) => http::Uri::builder()
            .scheme(std::str::from_utf8(s).ok()?)
            .authority(a.as_ref())
            .path_and_query(path.as_ref())
            .build()
            .ok(),
        (_, _, Some(path)) => http::Uri::from_maybe_shared(path.clone()).ok(),
        (_, Some(a), None) => http::Uri::from_maybe_shared(a.clone()).ok(),
        _ => None,
    }
}

impl H2Fallback {
    /// Starts the service on a request's headers; `None` when they do not
    /// make a valid `http::Request` (the caller answers 400).
    pub fn start(fallback: &dyn Fallback, h: &Headers, end_stream: bool) -> Option<Self> {
        let announced = h.get(b"content-length").and_then(|v| std::str::from_utf8(v).ok()?.parse().ok());
        let len = announced.or(end_stream.then_some(0));
        let (sender, incoming) = fallback::body(len);
        let mut req = http::Request::new(incoming);
        *req.method_mut() = http::Method::from_bytes(h.pseudo.method.as_deref()?).ok()?;
        *req.uri_mut() = uri(h)?;
        *req.version_mut() = http::Version::HTTP_2;
        for f in &h.fields {
            let name = http::HeaderName::from_bytes(&f.name).ok()?;
            req.headers_mut().append(name, http::HeaderValue::from_maybe_shared(f.value.clone()).ok()?);
        }
        if end_stream {
            sender.end(Ok(()));
        }
        Some(H2Fallback {
            body: (!end_stream).then_some(sender),
            fut: Some(fallback.call(req)),
            resp: None,
            drain: false,
        })
    }

    /// Request body octets waiting for the service.
    pub fn held(&self) -> usize {
        self.body.as_ref().map_or(0, BodySender::queued)
    }

    /// Moves request body octets from the core to the service while its
    /// queue has room (the driver is woken when the service reads).
    pub fn feed(&mut self, core: &mut grpc::Server, stream: CallId, cx: &Context<'_>) -> bool {
        let mut progress = false;
        if self.body.as_ref().is_some_and(BodySender::is_abandoned) {
            self.body = None;
            self.drain = true;
        }
        if self.drain {
            while let Ok(Read::Data { .. }) = core.read_body(stream, usize::MAX) {
                progress = true;
            }
            return progress;
        }
        while let Some(b) = &self.body {
            if !b.has_room(cx) {
                break;
            }
            let room = BODY_HIGH.saturating_sub(b.queued()).max(1);
            match core.read_body(stream, room) {
                Ok(Read::Data { data, fin }) => {
                    b.push(data);
                    if fin {
                        b.end(Ok(()));
                        self.body = None;
                    }
                }
                Ok(Read::Pending) => break,
                Ok(Read::Finished) => {
                    b.end(Ok(()));
                    self.body = None;
                }
                Err(status) => {
                    b.end(Err(status.message));
                    self.body = None;
                }
            }
            progress = true;
        }
        progress
    }

    /// Polls the service's response and writes it while the stream's send
    /// buffer has room. A response body that fails midway resets the
    /// stream, so the client sees the response cut short.
    pub fn drive(&mut self, core: &mut grpc::Server, stream: CallId, cx: &mut Context<'_>) -> Step {
        let mut progress = false;
        if let Some(fut) = &mut self.fut {
            let Poll::Ready(resp) = fut.as_mut().poll(cx) else { return Step::Progress(false) };
            self.fut = None;
            progress = true;
            let (parts, body) = resp.into_parts();
            let end = body.is_end_stream();
            if core.send_response(stream, parts.status.as_u16(), fields(&parts.headers), end).is_err() {
                core.cancel(stream);
                return Step::Done;
            }
            if end {
                return Step::Done;
            }
            self.resp = Some(body);
        }
        let Some(body) = &mut self.resp else { return Step::Progress(progress) };
        while core.poll_writable(stream) {
            let sent = match fallback::poll_out(body, cx) {
                Poll::Pending => return Step::Progress(progress),
                Poll::Ready(Some(Ok(Out::Data(data)))) => {
                    let end = body.is_end_stream();
                    if data.is_empty() && !end {
                        continue;
                    }
                    match core.send_body(stream, data, end) {
                        Ok(()) if end => return Step::Done,
                        other => other,
                    }
                }
                Poll::Ready(Some(Ok(Out::Trailers(map)))) => {
                    let _ = core.send_trailers(stream, fields(&map));
                    return Step::Done;
                }
                Poll::Ready(None) => {
                    let _ = core.send_body(stream, Bytes::new(), true);
                    return Step::Done;
                }
                Poll::Ready(Some(Err(_))) => {
                    core.cancel(stream);
                    return Step::Done;
                }
            };
            if sent.is_err() {
                core.cancel(stream);
                return Step::Done;
            }
            progress = true;
        }
        Step::Progress(progress)
    }
}
