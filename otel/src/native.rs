//! gRFC A66's instruments aggregated in-process and rendered for Prometheus
//! directly, without the OpenTelemetry SDK: [`NativeMetrics`].
//!
//! The SDK path ([`crate::GrpcMetrics`]) hashes each measurement's
//! attribute set under a lock, about 1,200 instructions per measurement,
//! four per call. Here a call looks its series up once by the interned
//! names' addresses and adds to atomics: what a server that only needs
//! Prometheus scraping pays. The text is the same the SDK path gives through
//! [`crate::prometheus::PrometheusExporter`] (same families, names, labels,
//! buckets and values; `otel_scope_name="weir"`), so dashboards do not care
//! which one a process runs.

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;
use std::sync::RwLock;
use std::sync::atomic::{AtomicU64, Ordering};

use weir_rt::Code;
use weir_rt::stats::{CallEnd, CallMeta, ClientCall, ClientCallEnd, Side, StatsHandler};

use crate::metrics::{Fx, LATENCY_BUCKETS, Name, Names, SIZE_BUCKETS, descriptions, method_name};

/// Series kept per instrument family (a series: one combination of method,
/// target and status). Past it, further combinations are counted under
/// method `other` (and target `other` on a client).
pub const MAX_SERIES: usize = 16_384;

/// One histogram series: cumulative bucket counts, count and sum.
#[derive(Debug)]
struct Hist {
    bounds: &'static [f64],
    /// One per bound, then the overflow bucket.
    counts: Box<[AtomicU64]>,
    count: AtomicU64,
    /// The sum's f64 bits.
    sum: AtomicU64,
}

impl Hist {
    fn new(bounds: &'static [f64]) -> Self {
        Hist {
            bounds,
            counts: (0..=bounds.len()).map(|_| AtomicU64::new(0)).collect(),
            count: AtomicU64::new(0),
            sum: AtomicU64::new(0f64.to_bits()),
        }
    }

    fn record(&self, v: f64) {
        // OpenTelemetry's explicit buckets are (previous bound, bound].
        let i = self.bounds.partition_point(|&b| b < v);
        self.counts[i].fetch_add(1, Ordering::Relaxed);
        self.count.fetch_add(1, Ordering::Relaxed);
        let mut old = self.sum.load(Ordering::Relaxed);
        loop {
            let new = (f64::from_bits(old) + v).to_bits();
            match self.sum.compare_exchange_weak(old, new, Ordering::Relaxed, Ordering::Relaxed) {
                Ok(_) => break,
                Err(now) => old = now,
            }
        }
    }
}

/// A call's (or attempt's) three histograms.
#[derive(Debug)]
struct CallHists {
    duration: Hist,
    sent: Hist,
    rcvd: Hist,
}

impl CallHists {
    fn new() -> Self {
        CallHists {
            duration: Hist::new(&LATENCY_BUCKETS),
            sent: Hist::new(&SIZE_BUCKETS),
            rcvd: Hist::new(&SIZE_BUCKETS),
        }
    }
}

/// A series' labels: method, target (client) and status.
#[derive(Debug, Clone, Copy)]
struct Labels {
    method: &'static Name,
    target: Option<&'static Name>,
    code: Code,
}

type Key = (usize, usize, u8);

fn key(labels: &Labels) -> Key {
    (
        std::ptr::from_ref(labels.method) as usize,
        labels.target.map_or(0, |t| std::ptr::from_ref(t) as usize),
        labels.code as u8,
    )
}

/// A bounded map from series to their (leaked, never freed) state.
#[derive(Debug)]
struct Series<T: 'static>(RwLock<HashMap<Key, (Labels, &'static T), Fx>>);

impl<T> Default for Series<T> {
    fn default() -> Self {
        Series(RwLock::new(HashMap::default()))
    }
}

impl<T: 'static> Series<T> {
    fn get(&self, labels: Labels, names: &Names, make: impl Fn() -> T) -> &'static T {
        let k = key(&labels);
        if let Some((_, s)) = self.0.read().unwrap_or_else(|e| e.into_inner()).get(&k) {
            return s;
        }
        let mut map = self.0.write().unwrap_or_else(|e| e.into_inner());
        let (k, labels) = if map.len() < MAX_SERIES || map.contains_key(&k) {
            (k, labels)
        } else {
            let other = names.get("other");
            let labels = Labels { method: other, target: labels.target.map(|_| other), code: labels.code };
            (key(&labels), labels)
        };
        map.entry(k).or_insert_with(|| (labels, Box::leak(Box::new(make())))).1
    }

    fn each(&self, mut f: impl FnMut(&Labels, &T)) {
        for (labels, s) in self.0.read().unwrap_or_else(|e| e.into_inner()).values() {
            f(labels, s);
        }
    }
}

/// gRFC A66's instruments, aggregated in-process; register it as a stats
/// handler on servers and channels and serve [`NativeMetrics::render`] on
/// `/metrics`.
#[derive(Debug, Default)]
pub struct NativeMetrics {
    names: Names,
    server: Series<CallHists>,
    attempts: Series<CallHists>,
    calls: Series<Hist>,
}

impl NativeMetrics {
    /// Empty metrics.
    pub fn new() -> std::sync::Arc<Self> {
        std::sync::Arc::new(Self::default())
    }

    fn method(&self, path: &str) -> &'static Name {
        self.names.get(method_name(path))
    }

    /// Every instrument in Prometheus's text exposition format (0.0.4).
    pub fn render(&self) -> String {
        let scope = format!("otel_scope_name=\"weir\",otel_scope_version=\"{}\"", env!("CARGO_PKG_VERSION"));
        let mut families = Families::new();
        // The started counters.
        {
            let out = family(
                &mut families,
                "grpc_client_attempt_started_total",
                "counter",
                descriptions::CLIENT_ATTEMPT_STARTED,
            );
            for a in self.names.attempts.read().unwrap_or_else(|e| e.into_inner()).values() {
                let labels = format!(
                    "grpc_method=\"{}\",grpc_target=\"{}\",{scope}",
                    escape(a.method.text),
                    escape(a.target.text)
                );
                let _ = writeln!(
                    out,
                    "grpc_client_attempt_started_total{{{labels}}} {}",
                    a.started.load(Ordering::Relaxed)
                );
            }
        }
        {
            let out = family(
                &mut families,
                "grpc_server_call_started_total",
                "counter",
                descriptions::SERVER_CALL_STARTED,
            );
            for n in self.names.names.read().unwrap_or_else(|e| e.into_inner()).values() {
                let started = n.server_started.load(Ordering::Relaxed);
                if started > 0 {
                    let _ = writeln!(
                        out,
                        "grpc_server_call_started_total{{grpc_method=\"{}\",{scope}}} {started}",
                        escape(n.text)
                    );
                }
            }
        }
        let labels_of = |l: &Labels| match l.target {
            Some(t) => format!(
                "grpc_method=\"{}\",grpc_status=\"{}\",grpc_target=\"{}\",{scope}",
                escape(l.method.text),
                l.code.name(),
                escape(t.text)
            ),
            None => {
                format!("grpc_method=\"{}\",grpc_status=\"{}\",{scope}", escape(l.method.text), l.code.name())
            }
        };
        type Names3 = [(&'static str, &'static str); 3];
        let attempt: Names3 = [
            ("grpc_client_attempt_duration_seconds", descriptions::CLIENT_ATTEMPT_DURATION),
            (
                "grpc_client_attempt_sent_total_compressed_message_size_bytes",
                descriptions::CLIENT_ATTEMPT_SENT_SIZE,
            ),
            (
                "grpc_client_attempt_rcvd_total_compressed_message_size_bytes",
                descriptions::CLIENT_ATTEMPT_RCVD_SIZE,
            ),
        ];
        let server: Names3 = [
            ("grpc_server_call_duration_seconds", descriptions::SERVER_CALL_DURATION),
            (
                "grpc_server_call_sent_total_compressed_message_size_bytes",
                descriptions::SERVER_CALL_SENT_SIZE,
            ),
            (
                "grpc_server_call_rcvd_total_compressed_message_size_bytes",
                descriptions::SERVER_CALL_RCVD_SIZE,
            ),
        ];
        for (families_of, series) in [(attempt, &self.attempts), (server, &self.server)] {
            series.each(|l, h| {
                let labels = labels_of(l);
                for ((name, help), hist) in families_of.iter().zip([&h.duration, &h.sent, &h.rcvd]) {
                    write_hist(family(&mut families, name, "histogram", help), name, &labels, hist);
                }
            });
        }
        let name = "grpc_client_call_duration_seconds";
        self.calls.each(|l, h| {
            let labels = labels_of(l);
            write_hist(
                family(&mut families, name, "histogram", descriptions::CLIENT_CALL_DURATION),
                name,
                &labels,
                h,
            );
        });
        let mut out = String::new();
        for (name, (help, kind, samples)) in families {
            if samples.is_empty() {
                continue;
            }
            let _ = writeln!(out, "# HELP {name} {help}");
            let _ = writeln!(out, "# TYPE {name} {kind}");
            out.push_str(&samples);
        }
        out
    }
}

/// Metric families by name: (help, type, sample lines).
type Families = BTreeMap<&'static str, (&'static str, &'static str, String)>;

/// The sample lines of family `name`, created empty if needed.
fn family<'a>(
    families: &'a mut Families,
    name: &'static str,
    kind: &'static str,
    help: &'static str,
) -> &'a mut String {
    &mut families.entry(name).or_insert_with(|| (help, kind, String::new())).2
}

fn write_hist(out: &mut String, name: &str, labels: &str, h: &Hist) {
    let mut cumulative = 0u64;
    for (bound, c) in h.bounds.iter().zip(h.counts.iter()) {
        cumulative += c.load(Ordering::Relaxed);
        let _ = writeln!(out, "{name}_bucket{{{labels},le=\"{bound}\"}} {cumulative}");
    }
    let count = h.count.load(Ordering::Relaxed);
    let _ = writeln!(out, "{name}_bucket{{{labels},le=\"+Inf\"}} {count}");
    let _ = writeln!(out, "{name}_sum{{{labels}}} {}", f64::from_bits(h.sum.load(Ordering::Relaxed)));
    let _ = writeln!(out, "{name}_count{{{labels}}} {count}");
}

fn escape(v: &str) -> String {
    v.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")
}

impl StatsHandler for NativeMetrics {
    fn call_start(&self, call: &CallMeta<'_>) {
        let method = self.method(call.method);
        match call.side {
            Side::Client => {
                let target = self.names.get(call.target.unwrap_or(""));
                self.names.attempts(method, target).started.fetch_add(1, Ordering::Relaxed);
            }
            Side::Server => {
                method.server_started.fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    fn call_end(&self, call: &CallMeta<'_>, end: &CallEnd) {
        let method = self.method(call.method);
        let (series, target, sent, rcvd) = match call.side {
            Side::Client => (
                &self.attempts,
                Some(self.names.get(call.target.unwrap_or(""))),
                end.request_wire_bytes,
                end.response_wire_bytes,
            ),
            Side::Server => (&self.server, None, end.response_wire_bytes, end.request_wire_bytes),
        };
        let h = series.get(Labels { method, target, code: end.code }, &self.names, CallHists::new);
        h.duration.record(end.latency.as_secs_f64());
        h.sent.record(sent as f64);
        h.rcvd.record(rcvd as f64);
    }

    fn client_call_end(&self, call: &ClientCall<'_>, end: &ClientCallEnd) {
        let labels = Labels {
            method: self.method(call.method),
            target: Some(self.names.get(call.target)),
            code: end.code,
        };
        let h = self.calls.get(labels, &self.names, || Hist::new(&LATENCY_BUCKETS));
        h.record(end.duration.as_secs_f64());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_are_upper_inclusive() {
        let h = Hist::new(&[1.0, 2.0]);
        for v in [0.5, 1.0, 1.5, 2.0, 3.0] {
            h.record(v);
        }
        let counts: Vec<u64> = h.counts.iter().map(|c| c.load(Ordering::Relaxed)).collect();
        assert_eq!(counts, [2, 2, 1]);
        assert_eq!(f64::from_bits(h.sum.load(Ordering::Relaxed)), 8.0);
    }

    #[test]
    fn series_are_bounded() {
        let names = Names::default();
        let series: Series<Hist> = Series::default();
        for i in 0..MAX_SERIES + 5 {
            let method = names.get(&format!("s/M{}", i % 4000));
            let code = [Code::Ok, Code::Unavailable, Code::Internal, Code::NotFound, Code::Aborted][i / 4000];
            series.get(Labels { method, target: None, code }, &names, || Hist::new(&[1.0]));
        }
        assert!(
            series.0.read().unwrap().len() <= MAX_SERIES + 5,
            "bounded by the cap and `other` per status"
        );
        let other = series.0.read().unwrap().values().filter(|(l, _)| l.method.text == "other").count();
        assert!(other >= 1);
    }
}
