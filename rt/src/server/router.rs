//! Routing by `/package.Service/Method` to one of four handler kinds, at the
//! byte level (codegen wraps typed handlers around these).

use std::collections::{HashMap, HashSet};
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use bytes::Bytes;
use futures_core::Stream;
use weir_core::grpc::{Code, Status};

use crate::request::{OutMessage, Request, Response, Streaming};
use crate::runtime::BoxFuture;

/// A boxed stream of response messages.
pub type BoxStream<T> = Pin<Box<dyn Stream<Item = T> + Send + 'static>>;

/// A stream of encoded response messages (each may override compression).
pub type ResponseStream = BoxStream<Result<OutMessage, Status>>;

/// Unary: one request, one response.
pub type UnaryHandler =
    dyn Fn(Request<Bytes>) -> BoxFuture<'static, Result<Response<Bytes>, Status>> + Send + Sync;
/// Server streaming: one request, a stream of responses.
pub type ServerStreamingHandler =
    dyn Fn(Request<Bytes>) -> BoxFuture<'static, Result<Response<ResponseStream>, Status>> + Send + Sync;
/// Client streaming: a stream of requests, one response.
pub type ClientStreamingHandler =
    dyn Fn(Request<Streaming<Bytes>>) -> BoxFuture<'static, Result<Response<Bytes>, Status>> + Send + Sync;
/// Bidirectional streaming.
pub type BidiHandler = dyn Fn(Request<Streaming<Bytes>>) -> BoxFuture<'static, Result<Response<ResponseStream>, Status>>
    + Send
    + Sync;

/// A method's handler.
#[derive(Clone)]
pub enum Method {
    /// One request, one response.
    Unary(Arc<UnaryHandler>),
    /// One request, a stream of responses.
    ServerStreaming(Arc<ServerStreamingHandler>),
    /// A stream of requests, one response.
    ClientStreaming(Arc<ClientStreamingHandler>),
    /// Streams both ways.
    Bidi(Arc<BidiHandler>),
}

impl Method {
    /// A unary method from an async function.
    pub fn unary<F, Fut>(f: F) -> Method
    where
        F: Fn(Request<Bytes>) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<Response<Bytes>, Status>> + Send + 'static,
    {
        Method::Unary(Arc::new(move |req| Box::pin(f(req))))
    }

    /// A server-streaming method from an async function.
    pub fn server_streaming<F, Fut>(f: F) -> Method
    where
        F: Fn(Request<Bytes>) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<Response<ResponseStream>, Status>> + Send + 'static,
    {
        Method::ServerStreaming(Arc::new(move |req| Box::pin(f(req))))
    }

    /// A client-streaming method from an async function.
    pub fn client_streaming<F, Fut>(f: F) -> Method
    where
        F: Fn(Request<Streaming<Bytes>>) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<Response<Bytes>, Status>> + Send + 'static,
    {
        Method::ClientStreaming(Arc::new(move |req| Box::pin(f(req))))
    }

    /// A bidirectional-streaming method from an async function.
    pub fn bidi<F, Fut>(f: F) -> Method
    where
        F: Fn(Request<Streaming<Bytes>>) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<Response<ResponseStream>, Status>> + Send + 'static,
    {
        Method::Bidi(Arc::new(move |req| Box::pin(f(req))))
    }

    /// True when the client sends a stream (the handler starts right away).
    pub(crate) fn streams_requests(&self) -> bool {
        matches!(self, Method::ClientStreaming(_) | Method::Bidi(_))
    }
}

/// A service: a name and its methods (what codegen produces).
pub trait Service: Send + Sync + 'static {
    /// The fully qualified service name, e.g. `helloworld.Greeter`.
    fn name(&self) -> &'static str;
    /// `(method name, handler)` pairs.
    fn methods(self: Arc<Self>) -> Vec<(&'static str, Method)>;
}

/// Maps request paths to handlers.
#[derive(Clone, Default)]
pub struct Router {
    methods: HashMap<Bytes, Method>,
    services: HashSet<String>,
}

impl Router {
    /// An empty router: every call is UNIMPLEMENTED.
    pub fn new() -> Self {
        Router::default()
    }

    /// Routes `/service/method` to `handler`.
    pub fn route(mut self, path: &str, handler: Method) -> Self {
        if let Some(service) = path.strip_prefix('/').and_then(|p| p.split_once('/')).map(|(s, _)| s) {
            self.services.insert(service.to_owned());
        }
        self.methods.insert(Bytes::copy_from_slice(path.as_bytes()), handler);
        self
    }

    /// Adds every method of a service.
    pub fn add_service<S: Service>(mut self, service: S) -> Self {
        let service = Arc::new(service);
        let name = service.name();
        self.services.insert(name.to_owned());
        for (method, handler) in service.methods() {
            self = self.route(&format!("/{name}/{method}"), handler);
        }
        self
    }

    /// Names of the services routed.
    pub fn service_names(&self) -> impl Iterator<Item = &str> {
        self.services.iter().map(String::as_str)
    }

    /// The handler for `path`, or UNIMPLEMENTED naming what is unknown.
    pub fn lookup(&self, path: &[u8]) -> Result<&Method, Status> {
        if let Some(m) = self.methods.get(path) {
            return Ok(m);
        }
        let path = String::from_utf8_lossy(path);
        let (service, method) = path.trim_start_matches('/').split_once('/').unwrap_or((&path, ""));
        Err(if self.services.contains(service) {
            Status::new(Code::Unimplemented, format!("unknown method {method} for service {service}"))
        } else {
            Status::new(Code::Unimplemented, format!("unknown service {service}"))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_service_and_method_are_told_apart() {
        let r = Router::new()
            .route("/a.B/Go", Method::unary(|req| async move { Ok(Response::new(req.into_inner())) }));
        assert!(r.lookup(b"/a.B/Go").is_ok());
        let m = r.lookup(b"/a.B/Stop").err().unwrap();
        assert_eq!(
            (m.code, m.message.as_str()),
            (Code::Unimplemented, "unknown method Stop for service a.B")
        );
        let s = r.lookup(b"/x.Y/Go").err().unwrap();
        assert_eq!(s.message, "unknown service x.Y");
    }
}
