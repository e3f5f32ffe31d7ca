//! `tracing` spans: a small subscriber captures the spans of a server and a
//! client and checks the per-call span carries the method and the status.

#![cfg(feature = "tracing")]

mod suite;

use std::collections::HashMap;
use std::fmt::Debug;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Metadata, Subscriber};
use weir_rt::{Code, Endpoint, Request};
use weir_tokio::Tokio;

/// One captured span: its name and every field recorded on it.
#[derive(Clone, Debug, Default)]
struct Captured {
    name: &'static str,
    fields: HashMap<&'static str, String>,
}

impl Visit for Captured {
    fn record_debug(&mut self, field: &Field, value: &dyn Debug) {
        self.fields.insert(field.name(), format!("{value:?}"));
    }
    fn record_str(&mut self, field: &Field, value: &str) {
        self.fields.insert(field.name(), value.to_owned());
    }
}

/// Keeps every span it is told about.
#[derive(Clone, Default)]
struct Capture {
    next: Arc<AtomicU64>,
    spans: Arc<Mutex<HashMap<u64, Captured>>>,
}

impl Subscriber for Capture {
    fn enabled(&self, _: &Metadata<'_>) -> bool {
        true
    }
    fn new_span(&self, attrs: &Attributes<'_>) -> Id {
        let id = self.next.fetch_add(1, Ordering::Relaxed) + 1;
        let mut c = Captured { name: attrs.metadata().name(), ..Default::default() };
        attrs.record(&mut c);
        self.spans.lock().unwrap().insert(id, c);
        Id::from_u64(id)
    }
    fn record(&self, span: &Id, values: &Record<'_>) {
        if let Some(c) = self.spans.lock().unwrap().get_mut(&span.into_u64()) {
            values.record(c);
        }
    }
    fn record_follows_from(&self, _: &Id, _: &Id) {}
    fn event(&self, _: &Event<'_>) {}
    fn enter(&self, _: &Id) {}
    fn exit(&self, _: &Id) {}
}

impl Capture {
    fn calls(&self, side: &str, method: &str) -> Vec<Captured> {
        let spans = self.spans.lock().unwrap();
        spans
            .values()
            .filter(|c| c.name == "grpc.call")
            .filter(|c| c.fields.get("side").map(String::as_str) == Some(side))
            .filter(|c| c.fields.get("method").map(String::as_str) == Some(method))
            .cloned()
            .collect()
    }
}

#[test]
fn call_spans_carry_method_and_status() {
    let capture = Capture::default();
    tracing::subscriber::set_global_default(capture.clone()).expect("the only subscriber of this binary");
    suite::runners::run_on_tokio(|rt: Tokio| async move {
        let server = suite::start(&rt, suite::test_server(rt, Default::default())).await;
        let ch = Endpoint::<Tokio>::new(server.url()).unwrap().connect().await.unwrap();
        ch.unary("/test.Test/Unary", Request::new(Bytes::from_static(b"hi"))).await.unwrap();
        let err = ch.unary("/test.Test/Nope", Request::new(Bytes::new())).await.unwrap_err();
        assert_eq!(err.code, Code::Unimplemented);
        drop(ch);
        server.stop().await;
    });
    for side in ["server", "client"] {
        let ok = capture.calls(side, "/test.Test/Unary");
        assert_eq!(ok.len(), 1, "{side}: one span for the unary call");
        assert_eq!(ok[0].fields.get("status").map(String::as_str), Some("OK"), "{side}: {:?}", ok[0]);
        assert_eq!(ok[0].fields.get("code").map(String::as_str), Some("0"));
        let failed = capture.calls(side, "/test.Test/Nope");
        assert_eq!(failed.len(), 1, "{side}: one span for the failed call");
        assert_eq!(failed[0].fields.get("status").map(String::as_str), Some("UNIMPLEMENTED"));
        assert_eq!(failed[0].fields.get("code").map(String::as_str), Some("12"));
    }
    let spans = capture.spans.lock().unwrap();
    let conns = spans.values().filter(|c| c.name == "grpc.conn").count();
    assert_eq!(conns, 2, "one connection span per side");
}
