//! Spans for calls, with W3C trace context carried from client to server,
//! as two opt-in interceptors:
//!
//! - [`ClientTracing`] (on an [`weir_rt::Endpoint`]): a `Sent.<service>.<method>`
//!   span of kind CLIENT per call, child of the caller's context (an
//!   `opentelemetry::Context` in the request's extensions, else the current
//!   one), whose context travels in `traceparent`/`tracestate`;
//! - [`ServerTracing`] (on a [`weir_rt::Server`]): a `Recv.<service>.<method>`
//!   span of kind SERVER per call, child of the context the client sent. The
//!   handler finds that span's `opentelemetry::Context` in its request's
//!   extensions, to parent its own spans on it.
//!
//! Span names follow gRPC-Go's OpenTelemetry tracing (gRFC A72): the method's
//! slash becomes a dot. Both spans end when the call does, with status OK,
//! or ERROR and the gRPC status for any other code, and carry the semantic
//! conventions' `rpc.system`, `rpc.service`, `rpc.method` and
//! `rpc.grpc.status_code`.

use std::collections::HashMap;
use std::sync::Mutex;

use opentelemetry::trace::{SpanKind, Status as SpanStatus, TraceContextExt, Tracer};
use opentelemetry::{Context, KeyValue};
use weir_rt::request::{CallInfo, RequestHead};
use weir_rt::runtime::BoxFuture;
use weir_rt::{Code, Interceptor, Status};

use crate::propagation;

/// The spans of the calls in flight, by their call's address (each call's
/// info lives, at one address, from its `before` hook to its `after` hook,
/// which runs exactly once).
#[derive(Default)]
struct Live(Mutex<HashMap<usize, Context>>);

impl Live {
    fn key(call: &CallInfo) -> usize {
        call as *const CallInfo as usize
    }

    fn insert(&self, call: &CallInfo, cx: Context) {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).insert(Self::key(call), cx);
    }

    fn end(&self, call: &CallInfo, status: &Status) {
        let cx = self.0.lock().unwrap_or_else(|e| e.into_inner()).remove(&Self::key(call));
        if let Some(cx) = cx {
            let span = cx.span();
            span.set_attribute(KeyValue::new("rpc.grpc.status_code", status.code as i64));
            if status.code == Code::Ok {
                span.set_status(SpanStatus::Ok);
            } else {
                span.set_status(SpanStatus::error(format!("{}, {}", status.code.name(), status.message)));
            }
            span.end();
        }
    }

    fn len(&self) -> usize {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).len()
    }
}

/// `Sent.` or `Recv.` and the method with its slash as a dot
/// (`/helloworld.Greeter/SayHello` → `Sent.helloworld.Greeter.SayHello`),
/// and the semantic conventions' attributes.
fn describe(prefix: &str, path: &[u8]) -> (String, Vec<KeyValue>) {
    let path = String::from_utf8_lossy(path);
    let method = path.strip_prefix('/').unwrap_or(&path);
    let (service, name) = method.split_once('/').unwrap_or((method, ""));
    let attributes = vec![
        KeyValue::new("rpc.system", "grpc"),
        KeyValue::new("rpc.service", service.to_owned()),
        KeyValue::new("rpc.method", name.to_owned()),
    ];
    (format!("{prefix}.{}", method.replace('/', ".")), attributes)
}

/// A tracer and the spans of its calls in flight: what both interceptors keep.
struct Spans<T> {
    tracer: T,
    live: Live,
}

impl<T> Spans<T>
where
    T: Tracer,
    T::Span: Send + Sync + 'static,
{
    /// Opens `call`'s span (`Sent.`/`Recv.` + method) as a child of
    /// `parent`, and keeps it until [`Live::end`]; its context.
    fn start(&self, call: &CallInfo, kind: SpanKind, parent: &Context) -> Context {
        let prefix = if kind == SpanKind::Client { "Sent" } else { "Recv" };
        let (name, attributes) = describe(prefix, &call.path);
        let span = self
            .tracer
            .span_builder(name)
            .with_kind(kind)
            .with_attributes(attributes)
            .start_with_context(&self.tracer, parent);
        let cx = parent.with_span(span);
        self.live.insert(call, cx.clone());
        cx
    }
}

/// The client interceptor: a span per call, its context sent along.
pub struct ClientTracing<T>(Spans<T>);

impl<T> ClientTracing<T> {
    /// Spans from `tracer` (e.g. `provider.tracer("my-client")`).
    pub fn new(tracer: T) -> Self {
        ClientTracing(Spans { tracer, live: Live::default() })
    }

    /// Calls whose span is still open.
    pub fn in_flight(&self) -> usize {
        self.0.live.len()
    }
}

impl<T> Interceptor for ClientTracing<T>
where
    T: Tracer + Send + Sync + 'static,
    T::Span: Send + Sync + 'static,
{
    fn before<'a>(
        &'a self,
        call: &'a CallInfo,
        head: &'a mut RequestHead,
    ) -> BoxFuture<'a, Result<(), Status>> {
        let parent = head.extensions.get::<Context>().cloned().unwrap_or_else(Context::current);
        let cx = self.0.start(call, SpanKind::Client, &parent);
        propagation::inject(&cx, &mut head.metadata);
        Box::pin(async { Ok(()) })
    }

    fn after<'a>(&'a self, call: &'a CallInfo, status: &'a mut Status) -> BoxFuture<'a, ()> {
        self.0.live.end(call, status);
        Box::pin(async {})
    }
}

/// The server interceptor: a span per call, parented on the client's.
pub struct ServerTracing<T>(Spans<T>);

impl<T> ServerTracing<T> {
    /// Spans from `tracer` (e.g. `provider.tracer("my-server")`).
    pub fn new(tracer: T) -> Self {
        ServerTracing(Spans { tracer, live: Live::default() })
    }

    /// Calls whose span is still open.
    pub fn in_flight(&self) -> usize {
        self.0.live.len()
    }
}

impl<T> Interceptor for ServerTracing<T>
where
    T: Tracer + Send + Sync + 'static,
    T::Span: Send + Sync + 'static,
{
    fn before<'a>(
        &'a self,
        call: &'a CallInfo,
        head: &'a mut RequestHead,
    ) -> BoxFuture<'a, Result<(), Status>> {
        let parent = propagation::extract_context(&head.metadata);
        let cx = self.0.start(call, SpanKind::Server, &parent);
        head.extensions.insert(cx);
        Box::pin(async { Ok(()) })
    }

    fn after<'a>(&'a self, call: &'a CallInfo, status: &'a mut Status) -> BoxFuture<'a, ()> {
        self.0.live.end(call, status);
        Box::pin(async {})
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn span_names_follow_grpc_go() {
        let (name, attrs) = describe("Sent", b"/helloworld.Greeter/SayHello");
        assert_eq!(name, "Sent.helloworld.Greeter.SayHello");
        assert_eq!(attrs[1], KeyValue::new("rpc.service", "helloworld.Greeter"));
        assert_eq!(attrs[2], KeyValue::new("rpc.method", "SayHello"));
    }
}
