//! Trace context from a Weir client to a Weir server over loopback: one
//! trace id across the caller's span, the client call span, the server call
//! span and the handler's own span, each parented on the one before
//! (W3C `traceparent` in the request metadata); spans end with the call's
//! status.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use opentelemetry::context::FutureExt as _;
use opentelemetry::trace::{
    SpanId, SpanKind, Status as SpanStatus, TraceContextExt, Tracer, TracerProvider as _,
};
use opentelemetry::{Context, KeyValue};
use opentelemetry_sdk::trace::{InMemorySpanExporter, SdkTracerProvider, SpanData};
use weir_otel::{ClientTracing, ServerTracing};
use weir_rt::{Code, Method, Request, Response, Status};

struct Traced {
    provider: SdkTracerProvider,
    exporter: InMemorySpanExporter,
}

impl Traced {
    fn new() -> Self {
        let exporter = InMemorySpanExporter::default();
        Traced {
            provider: SdkTracerProvider::builder().with_simple_exporter(exporter.clone()).build(),
            exporter,
        }
    }

    fn spans(&self) -> Vec<SpanData> {
        self.exporter.get_finished_spans().unwrap()
    }

    /// The finished span called `name` (waits up to 5 s: the server's ends
    /// on its own task).
    async fn span(&self, name: &str) -> SpanData {
        for _ in 0..250 {
            if let Some(s) = self.spans().into_iter().find(|s| s.name == name) {
                return s;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        panic!("no span {name}: {:?}", self.spans().iter().map(|s| s.name.clone()).collect::<Vec<_>>());
    }
}

async fn serve(traced: &Traced) -> (String, Arc<ServerTracing<opentelemetry_sdk::trace::SdkTracer>>) {
    let tracer = traced.provider.tracer("server");
    let handler_tracer = traced.provider.tracer("handler");
    let tracing = Arc::new(ServerTracing::new(tracer));
    let server = weir_tokio::Server::builder().interceptor(tracing.clone()).route(
        "/test.Echo/Unary",
        Method::unary(move |req: Request<Bytes>| {
            // The handler parents its own work on the call's span.
            let cx = req.extensions().get::<Context>().cloned().expect("the server span's context");
            let span = handler_tracer.start_with_context("work", &cx);
            drop(span);
            async move {
                if req.get_ref().as_ref() == b"fail" {
                    return Err(Status::new(Code::NotFound, "no such thing"));
                }
                Ok(Response::new(req.into_inner()))
            }
        }),
    );
    let bound = server.bind("127.0.0.1:0".parse().unwrap()).await.unwrap();
    let url = format!("http://{}", bound.local_addr().unwrap());
    tokio::spawn(bound.serve());
    (url, tracing)
}

#[tokio::test]
async fn one_trace_id_from_the_caller_to_the_handler() {
    let traced = Traced::new();
    let (url, server_tracing) = serve(&traced).await;
    let client_tracing = Arc::new(ClientTracing::new(traced.provider.tracer("client")));
    let ch =
        weir_tokio::Endpoint::new(&url).unwrap().interceptor(client_tracing.clone()).connect().await.unwrap();

    // The caller's span is current while it calls.
    let caller = traced.provider.tracer("app").start("caller");
    let cx = Context::current_with_span(caller);
    let resp =
        ch.unary("/test.Echo/Unary", Request::new(Bytes::from_static(b"hi"))).with_context(cx.clone()).await;
    assert_eq!(resp.unwrap().into_inner(), Bytes::from_static(b"hi"));
    cx.span().end();

    let caller = traced.span("caller").await;
    let sent = traced.span("Sent.test.Echo.Unary").await;
    let recv = traced.span("Recv.test.Echo.Unary").await;
    let work = traced.span("work").await;
    let trace = caller.span_context.trace_id();
    for s in [&sent, &recv, &work] {
        assert_eq!(s.span_context.trace_id(), trace, "{} is in another trace", s.name);
    }
    assert_eq!(sent.parent_span_id, caller.span_context.span_id());
    assert_eq!(recv.parent_span_id, sent.span_context.span_id());
    assert!(recv.parent_span_is_remote, "the server's parent came over the wire");
    assert_eq!(work.parent_span_id, recv.span_context.span_id());
    assert_eq!((sent.span_kind.clone(), recv.span_kind.clone()), (SpanKind::Client, SpanKind::Server));
    assert_eq!((sent.status.clone(), recv.status.clone()), (SpanStatus::Ok, SpanStatus::Ok));
    for s in [&sent, &recv] {
        assert!(s.attributes.contains(&KeyValue::new("rpc.system", "grpc")));
        assert!(s.attributes.contains(&KeyValue::new("rpc.service", "test.Echo")));
        assert!(s.attributes.contains(&KeyValue::new("rpc.method", "Unary")));
        assert!(s.attributes.contains(&KeyValue::new("rpc.grpc.status_code", 0)));
    }
    assert_eq!((client_tracing.in_flight(), server_tracing.in_flight()), (0, 0));
}

#[tokio::test]
async fn a_failed_call_marks_both_spans_and_a_context_in_the_request_wins() {
    let traced = Traced::new();
    let (url, server_tracing) = serve(&traced).await;
    let client_tracing = Arc::new(ClientTracing::new(traced.provider.tracer("client")));
    let ch =
        weir_tokio::Endpoint::new(&url).unwrap().interceptor(client_tracing.clone()).connect().await.unwrap();

    // The parent given in the request's extensions (no current context).
    let parent = traced.provider.tracer("app").start("parent");
    let cx = Context::new().with_span(parent);
    let mut req = Request::new(Bytes::from_static(b"fail"));
    req.extensions_mut().insert(cx.clone());
    let err = ch.unary("/test.Echo/Unary", req).await.unwrap_err();
    assert_eq!(err.code, Code::NotFound);
    cx.span().end();

    let parent = traced.span("parent").await;
    let sent = traced.span("Sent.test.Echo.Unary").await;
    let recv = traced.span("Recv.test.Echo.Unary").await;
    assert_eq!(sent.parent_span_id, parent.span_context.span_id());
    assert_eq!(recv.span_context.trace_id(), parent.span_context.trace_id());
    let failed = SpanStatus::error("NOT_FOUND, no such thing");
    assert_eq!((sent.status, recv.status), (failed.clone(), failed));
    assert!(recv.attributes.contains(&KeyValue::new("rpc.grpc.status_code", Code::NotFound as i64)));
    assert_eq!((client_tracing.in_flight(), server_tracing.in_flight()), (0, 0));
}

#[tokio::test]
async fn a_call_without_trace_context_starts_a_new_trace_on_the_server() {
    let traced = Traced::new();
    let (url, _) = serve(&traced).await;
    let ch = weir_tokio::Endpoint::new(&url).unwrap().connect().await.unwrap();
    ch.unary("/test.Echo/Unary", Request::new(Bytes::from_static(b"x"))).await.unwrap();
    let recv = traced.span("Recv.test.Echo.Unary").await;
    assert_eq!(recv.parent_span_id, SpanId::INVALID);
    assert!(!recv.parent_span_is_remote);
    assert!(recv.span_context.is_valid());
}
