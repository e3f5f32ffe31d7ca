//! gRFC A66's per-call instruments, recorded from Weir's stats hook.
//!
//! [`GrpcMetrics`] is a [`StatsHandler`]: register the same value on a
//! server ([`weir_rt::Server::stats_handler`]) and on channels
//! ([`weir_rt::Endpoint::stats_handler`]). It records exactly the
//! instruments gRPC-Go, gRPC-Java and gRPC C++ record, with the same names,
//! units, attributes and bucket boundaries, so one dashboard covers a mixed
//! fleet:
//!
//! | instrument | kind | unit | attributes |
//! |---|---|---|---|
//! | `grpc.client.attempt.started` | counter | `{attempt}` | method, target |
//! | `grpc.client.attempt.duration` | histogram | `s` | method, target, status |
//! | `grpc.client.attempt.sent_total_compressed_message_size` | histogram | `By` | method, target, status |
//! | `grpc.client.attempt.rcvd_total_compressed_message_size` | histogram | `By` | method, target, status |
//! | `grpc.client.call.duration` | histogram | `s` | method, target, status |
//! | `grpc.server.call.started` | counter | `{call}` | method |
//! | `grpc.server.call.duration` | histogram | `s` | method, status |
//! | `grpc.server.call.sent_total_compressed_message_size` | histogram | `By` | method, status |
//! | `grpc.server.call.rcvd_total_compressed_message_size` | histogram | `By` | method, status |
//!
//! Attribute values follow gRPC-Go (`stats/opentelemetry`): `grpc.method` is
//! the full method without its leading slash (`helloworld.Greeter/SayHello`);
//! a server reports methods it does not serve as `other` (weir-rt already
//! collapses them, so a client cannot grow the label set); `grpc.status` is
//! the code's name (`OK`, `UNAVAILABLE`); `grpc.target` is the channel's
//! target as given to its endpoint.
//!
//! The two `started` counters are observable counters (a call adds to an
//! atomic; the SDK reads them when it collects): exported exactly like
//! synchronous ones (monotonic sums), at a fraction of the cost per call.
//! Method and target names are interned, at most [`MAX_NAMES`] of them;
//! past that, names are reported as `other`.
//!
//! What an *attempt* is: each stream a call opens on a connection, so
//! retries, hedges and transparent retries count one each. An attempt that
//! never reached a connection (no address could be reached before the
//! deadline) is not counted as an attempt; the call's duration still
//! records its status. Sizes are the messages' payload octets as they
//! crossed the wire: after compression, without the 5-octet gRPC prefix,
//! HTTP/2 framing or metadata.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};

use opentelemetry::metrics::{Histogram, Meter, MeterProvider, ObservableCounter};
use opentelemetry::{InstrumentationScope, KeyValue};
use weir_rt::stats::{CallEnd, CallMeta, ClientCall, ClientCallEnd, Side, StatsHandler, UNREGISTERED_METHOD};

/// Instrument names (gRFC A66).
pub mod names {
    /// Client attempts started.
    pub const CLIENT_ATTEMPT_STARTED: &str = "grpc.client.attempt.started";
    /// Client attempt duration.
    pub const CLIENT_ATTEMPT_DURATION: &str = "grpc.client.attempt.duration";
    /// Compressed bytes an attempt sent.
    pub const CLIENT_ATTEMPT_SENT_SIZE: &str = "grpc.client.attempt.sent_total_compressed_message_size";
    /// Compressed bytes an attempt received.
    pub const CLIENT_ATTEMPT_RCVD_SIZE: &str = "grpc.client.attempt.rcvd_total_compressed_message_size";
    /// Client call duration, as the application sees it.
    pub const CLIENT_CALL_DURATION: &str = "grpc.client.call.duration";
    /// Server calls started.
    pub const SERVER_CALL_STARTED: &str = "grpc.server.call.started";
    /// Server call duration.
    pub const SERVER_CALL_DURATION: &str = "grpc.server.call.duration";
    /// Compressed bytes a server call sent.
    pub const SERVER_CALL_SENT_SIZE: &str = "grpc.server.call.sent_total_compressed_message_size";
    /// Compressed bytes a server call received.
    pub const SERVER_CALL_RCVD_SIZE: &str = "grpc.server.call.rcvd_total_compressed_message_size";
}

/// Instrument descriptions (gRPC-Go's wording).
pub(crate) mod descriptions {
    pub const CLIENT_ATTEMPT_STARTED: &str = "Number of client call attempts started.";
    pub const CLIENT_ATTEMPT_DURATION: &str = "End-to-end time taken to complete a client call attempt.";
    pub const CLIENT_ATTEMPT_SENT_SIZE: &str = "Compressed message bytes sent per client call attempt.";
    pub const CLIENT_ATTEMPT_RCVD_SIZE: &str = "Compressed message bytes received per call attempt.";
    pub const CLIENT_CALL_DURATION: &str =
        "Time taken by gRPC to complete an RPC from application's perspective.";
    pub const SERVER_CALL_STARTED: &str = "Number of server calls started.";
    pub const SERVER_CALL_DURATION: &str =
        "End-to-end time taken to complete a call from server transport's perspective.";
    pub const SERVER_CALL_SENT_SIZE: &str = "Compressed message bytes sent per server call.";
    pub const SERVER_CALL_RCVD_SIZE: &str = "Compressed message bytes received per server call.";
}

/// Attribute keys (gRFC A66).
pub mod keys {
    /// The full method name, without its leading slash, or `other`.
    pub const METHOD: &str = "grpc.method";
    /// The status code's name.
    pub const STATUS: &str = "grpc.status";
    /// The channel's target.
    pub const TARGET: &str = "grpc.target";
}

/// Latency bucket boundaries in seconds (gRFC A66, as gRPC-Go uses them).
pub const LATENCY_BUCKETS: [f64; 41] = [
    0.0, 0.00001, 0.00005, 0.0001, 0.0003, 0.0006, 0.0008, 0.001, 0.002, 0.003, 0.004, 0.005, 0.006, 0.008,
    0.01, 0.013, 0.016, 0.02, 0.025, 0.03, 0.04, 0.05, 0.065, 0.08, 0.1, 0.13, 0.16, 0.2, 0.25, 0.3, 0.4,
    0.5, 0.65, 0.8, 1.0, 2.0, 5.0, 10.0, 20.0, 50.0, 100.0,
];

/// Size bucket boundaries in bytes (gRFC A66, as gRPC-Go uses them).
pub const SIZE_BUCKETS: [f64; 14] = [
    0.0,
    1024.0,
    2048.0,
    4096.0,
    16384.0,
    65536.0,
    262144.0,
    1048576.0,
    4194304.0,
    16777216.0,
    67108864.0,
    268435456.0,
    1073741824.0,
    4294967296.0,
];

/// Distinct method and target names kept (each once, for the life of the
/// process). Past it, further names are reported as `other`, so memory stays
/// bounded whatever names a process sees.
pub const MAX_NAMES: usize = 4096;

/// The attribute value of names past [`MAX_NAMES`].
const OVERFLOW: &str = "other";

/// A method or target name, interned: attribute values built from it cost
/// no allocation and no reference count.
#[derive(Debug)]
pub(crate) struct Name {
    pub text: &'static str,
    /// Server calls started for this method.
    pub server_started: AtomicU64,
}

/// Client attempts started for one (method, target).
#[derive(Debug)]
pub(crate) struct Attempts {
    pub method: &'static Name,
    pub target: &'static Name,
    pub started: AtomicU64,
}

/// rustc's FxHash: the tables are small and bounded ([`MAX_NAMES`]), so a
/// fast hash is enough.
#[derive(Default)]
pub(crate) struct FxHasher(u64);

impl FxHasher {
    fn add(&mut self, word: u64) {
        self.0 = (self.0.rotate_left(5) ^ word).wrapping_mul(0x517c_c1b7_2722_0a95);
    }
}

impl Hasher for FxHasher {
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            self.add(u64::from_le_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]));
        }
        for &b in chunks.remainder() {
            self.add(u64::from(b));
        }
    }
    fn write_u8(&mut self, i: u8) {
        self.add(u64::from(i));
    }
    fn write_usize(&mut self, i: usize) {
        self.add(i as u64);
    }
    fn finish(&self) -> u64 {
        self.0
    }
}

pub(crate) type Fx = BuildHasherDefault<FxHasher>;

/// The interned names, and the `started` counters (observable: a call adds
/// to an atomic, the SDK reads them when it collects).
#[derive(Debug, Default)]
pub(crate) struct Names {
    pub names: RwLock<HashMap<&'static str, &'static Name, Fx>>,
    /// By the addresses of the interned method and target.
    pub attempts: RwLock<HashMap<(usize, usize), &'static Attempts, Fx>>,
}

impl Names {
    /// `text` interned (`other` once [`MAX_NAMES`] are kept).
    pub fn get(&self, text: &str) -> &'static Name {
        if let Some(n) = self.names.read().unwrap_or_else(|e| e.into_inner()).get(text) {
            return n;
        }
        let mut names = self.names.write().unwrap_or_else(|e| e.into_inner());
        let text = if names.len() < MAX_NAMES || names.contains_key(text) { text } else { OVERFLOW };
        if let Some(n) = names.get(text) {
            return n;
        }
        let name: &'static Name =
            Box::leak(Box::new(Name { text: Box::leak(text.into()), server_started: AtomicU64::new(0) }));
        names.insert(name.text, name);
        name
    }

    pub fn attempts(&self, method: &'static Name, target: &'static Name) -> &'static Attempts {
        let key = (std::ptr::from_ref(method) as usize, std::ptr::from_ref(target) as usize);
        if let Some(a) = self.attempts.read().unwrap_or_else(|e| e.into_inner()).get(&key) {
            return a;
        }
        let mut attempts = self.attempts.write().unwrap_or_else(|e| e.into_inner());
        attempts
            .entry(key)
            .or_insert_with(|| Box::leak(Box::new(Attempts { method, target, started: AtomicU64::new(0) })))
    }
}

/// gRFC A66's client and server instruments, recorded from the stats hook.
#[derive(Debug)]
pub struct GrpcMetrics {
    attempt_duration: Histogram<f64>,
    attempt_sent: Histogram<u64>,
    attempt_rcvd: Histogram<u64>,
    call_duration: Histogram<f64>,
    server_duration: Histogram<f64>,
    server_sent: Histogram<u64>,
    server_rcvd: Histogram<u64>,
    names: Arc<Names>,
    _started: (ObservableCounter<u64>, ObservableCounter<u64>),
}

impl GrpcMetrics {
    /// The instrumentation scope Weir's instruments are created under.
    pub fn scope() -> InstrumentationScope {
        InstrumentationScope::builder("weir").with_version(env!("CARGO_PKG_VERSION")).build()
    }

    /// Instruments from a meter provider (under [`GrpcMetrics::scope`]).
    pub fn new(provider: &dyn MeterProvider) -> Arc<Self> {
        Self::with_meter(&provider.meter_with_scope(Self::scope()))
    }

    /// Instruments from the global meter provider.
    pub fn global() -> Arc<Self> {
        Self::with_meter(&opentelemetry::global::meter_with_scope(Self::scope()))
    }

    /// Instruments from a meter.
    pub fn with_meter(meter: &Meter) -> Arc<Self> {
        let seconds = |name: &'static str, description: &'static str| {
            meter
                .f64_histogram(name)
                .with_unit("s")
                .with_description(description)
                .with_boundaries(LATENCY_BUCKETS.to_vec())
                .build()
        };
        let bytes = |name: &'static str, description: &'static str| {
            meter
                .u64_histogram(name)
                .with_unit("By")
                .with_description(description)
                .with_boundaries(SIZE_BUCKETS.to_vec())
                .build()
        };
        let names = Arc::new(Names::default());
        let attempts = names.clone();
        let attempt_started = meter
            .u64_observable_counter(names::CLIENT_ATTEMPT_STARTED)
            .with_unit("{attempt}")
            .with_description(descriptions::CLIENT_ATTEMPT_STARTED)
            .with_callback(move |observer| {
                let attempts = attempts.attempts.read().unwrap_or_else(|e| e.into_inner());
                for a in attempts.values() {
                    let attrs = [
                        KeyValue::new(keys::METHOD, a.method.text),
                        KeyValue::new(keys::TARGET, a.target.text),
                    ];
                    observer.observe(a.started.load(Ordering::Relaxed), &attrs);
                }
            })
            .build();
        let calls = names.clone();
        let server_started = meter
            .u64_observable_counter(names::SERVER_CALL_STARTED)
            .with_unit("{call}")
            .with_description(descriptions::SERVER_CALL_STARTED)
            .with_callback(move |observer| {
                let names = calls.names.read().unwrap_or_else(|e| e.into_inner());
                for n in names.values() {
                    let started = n.server_started.load(Ordering::Relaxed);
                    if started > 0 {
                        observer.observe(started, &[KeyValue::new(keys::METHOD, n.text)]);
                    }
                }
            })
            .build();
        Arc::new(GrpcMetrics {
            attempt_duration: seconds(names::CLIENT_ATTEMPT_DURATION, descriptions::CLIENT_ATTEMPT_DURATION),
            attempt_sent: bytes(names::CLIENT_ATTEMPT_SENT_SIZE, descriptions::CLIENT_ATTEMPT_SENT_SIZE),
            attempt_rcvd: bytes(names::CLIENT_ATTEMPT_RCVD_SIZE, descriptions::CLIENT_ATTEMPT_RCVD_SIZE),
            call_duration: seconds(names::CLIENT_CALL_DURATION, descriptions::CLIENT_CALL_DURATION),
            server_duration: seconds(names::SERVER_CALL_DURATION, descriptions::SERVER_CALL_DURATION),
            server_sent: bytes(names::SERVER_CALL_SENT_SIZE, descriptions::SERVER_CALL_SENT_SIZE),
            server_rcvd: bytes(names::SERVER_CALL_RCVD_SIZE, descriptions::SERVER_CALL_RCVD_SIZE),
            names,
            _started: (attempt_started, server_started),
        })
    }

    fn method(&self, path: &str) -> &'static Name {
        self.names.get(method_name(path))
    }

    fn target(&self, target: Option<&str>) -> &'static Name {
        self.names.get(target.unwrap_or(""))
    }
}

/// The `grpc.method` of a path (`/pkg.Svc/M` → `pkg.Svc/M`; `other` stays).
pub(crate) fn method_name(path: &str) -> &str {
    if path == UNREGISTERED_METHOD { path } else { path.strip_prefix('/').unwrap_or(path) }
}

fn status(code: weir_rt::Code) -> KeyValue {
    KeyValue::new(keys::STATUS, code.name())
}

impl StatsHandler for GrpcMetrics {
    fn call_start(&self, call: &CallMeta<'_>) {
        let method = self.method(call.method);
        match call.side {
            Side::Client => {
                let target = self.target(call.target);
                self.names.attempts(method, target).started.fetch_add(1, Ordering::Relaxed);
            }
            Side::Server => {
                method.server_started.fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    fn call_end(&self, call: &CallMeta<'_>, end: &CallEnd) {
        let seconds = end.latency.as_secs_f64();
        let method = KeyValue::new(keys::METHOD, self.method(call.method).text);
        match call.side {
            Side::Client => {
                let target = KeyValue::new(keys::TARGET, self.target(call.target).text);
                let attrs = [method, target, status(end.code)];
                self.attempt_duration.record(seconds, &attrs);
                self.attempt_sent.record(end.request_wire_bytes, &attrs);
                self.attempt_rcvd.record(end.response_wire_bytes, &attrs);
            }
            Side::Server => {
                let attrs = [method, status(end.code)];
                self.server_duration.record(seconds, &attrs);
                self.server_sent.record(end.response_wire_bytes, &attrs);
                self.server_rcvd.record(end.request_wire_bytes, &attrs);
            }
        }
    }

    fn client_call_end(&self, call: &ClientCall<'_>, end: &ClientCallEnd) {
        let method = KeyValue::new(keys::METHOD, self.method(call.method).text);
        let target = KeyValue::new(keys::TARGET, self.target(Some(call.target)).text);
        self.call_duration.record(end.duration.as_secs_f64(), &[method, target, status(end.code)]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_interned_and_bounded() {
        let names = Names::default();
        let a = names.get("pkg.S/M");
        assert!(std::ptr::eq(a, names.get("pkg.S/M")), "one entry per name");
        for i in 0..MAX_NAMES + 10 {
            names.get(&format!("pkg.S/M{i}"));
        }
        assert_eq!(names.names.read().unwrap().len(), MAX_NAMES + 1, "the cap and `other`");
        assert_eq!(names.get("pkg.S/Unseen").text, "other");
        assert_eq!(names.get("pkg.S/M").text, "pkg.S/M", "names kept before the cap stay");
    }
}
