//! Prometheus's text exposition format (version 0.0.4) for an
//! OpenTelemetry SDK meter provider (feature `prometheus`).
//!
//! [`PrometheusExporter`] is an exporter the SDK's `PeriodicReader` drives;
//! [`PrometheusExporter::render`] flushes the meter provider (so a scrape
//! sees every measurement up to that moment) and gives the text to serve on
//! `/metrics`:
//!
//! ```
//! use std::time::Duration;
//! use opentelemetry_sdk::metrics::{PeriodicReader, SdkMeterProvider};
//! use weir_otel::prometheus::PrometheusExporter;
//!
//! let exporter = PrometheusExporter::new();
//! let reader = PeriodicReader::builder(exporter.clone()).with_interval(Duration::from_secs(60)).build();
//! let provider = SdkMeterProvider::builder().with_reader(reader).build();
//! let metrics = weir_otel::GrpcMetrics::new(&provider);
//! // ... register `metrics` on servers and channels; on each scrape:
//! let text = exporter.render(&provider).unwrap();
//! # let _ = (metrics, text);
//! ```
//!
//! Names follow the
//! OpenTelemetry-to-Prometheus conventions the official exporters use:
//! dots become underscores, the unit becomes a suffix (`s` → `_seconds`,
//! `By` → `_bytes`; annotations such as `{call}` add none), monotonic sums
//! are counters with `_total`, histograms give `_bucket`/`_sum`/`_count`, and
//! every series carries `otel_scope_name` (and `otel_scope_version`). So
//! `grpc.server.call.duration` is scraped as
//! `grpc_server_call_duration_seconds_count{grpc_method="…",grpc_status="OK",…}`.
//!
//! Exponential histograms are not rendered (Weir records none).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use opentelemetry::KeyValue;
use opentelemetry_sdk::error::{OTelSdkError, OTelSdkResult};
use opentelemetry_sdk::metrics::data::{AggregatedMetrics, Metric, MetricData, ResourceMetrics};
use opentelemetry_sdk::metrics::exporter::PushMetricExporter;
use opentelemetry_sdk::metrics::{SdkMeterProvider, Temporality};

/// Keeps the text of the latest export for Prometheus to scrape. Cheap to
/// clone; clones share the text.
#[derive(Clone, Debug, Default)]
pub struct PrometheusExporter {
    latest: Arc<Mutex<String>>,
}

/// The content type of [`PrometheusExporter::render`]'s output.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

impl PrometheusExporter {
    /// An exporter (cumulative temporality, what Prometheus expects).
    pub fn new() -> Self {
        Self::default()
    }

    /// Flushes `provider` (whose periodic reader drives this exporter) and
    /// gives every metric in the text exposition format.
    pub fn render(&self, provider: &SdkMeterProvider) -> Result<String, OTelSdkError> {
        provider.force_flush()?;
        Ok(self.latest())
    }

    /// The text of the latest export, without flushing.
    pub fn latest(&self) -> String {
        self.latest.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }
}

impl PushMetricExporter for PrometheusExporter {
    async fn export(&self, metrics: &ResourceMetrics) -> OTelSdkResult {
        let text = render(metrics);
        *self.latest.lock().unwrap_or_else(|e| e.into_inner()) = text;
        Ok(())
    }

    fn force_flush(&self) -> OTelSdkResult {
        Ok(())
    }

    fn shutdown_with_timeout(&self, _timeout: Duration) -> OTelSdkResult {
        Ok(())
    }

    fn temporality(&self) -> Temporality {
        Temporality::Cumulative
    }
}

/// One metric family: its HELP, TYPE and sample lines.
#[derive(Default)]
struct Family {
    help: String,
    kind: &'static str,
    samples: String,
}

/// Renders collected metrics; families in name order.
pub fn render(rm: &ResourceMetrics) -> String {
    let mut families: BTreeMap<String, Family> = BTreeMap::new();
    for scope_metrics in rm.scope_metrics() {
        let scope = scope_metrics.scope();
        let mut scope_labels = vec![("otel_scope_name".to_owned(), scope.name().to_owned())];
        if let Some(v) = scope.version() {
            scope_labels.push(("otel_scope_version".to_owned(), v.to_owned()));
        }
        for metric in scope_metrics.metrics() {
            add_metric(&mut families, metric, &scope_labels);
        }
    }
    let mut out = String::new();
    for (name, f) in families {
        if !f.help.is_empty() {
            let _ = writeln!(out, "# HELP {name} {}", escape_help(&f.help));
        }
        let _ = writeln!(out, "# TYPE {name} {}", f.kind);
        out.push_str(&f.samples);
    }
    out
}

/// A number as Prometheus writes it.
trait Number: Copy {
    fn render(self) -> String;
}

impl Number for u64 {
    fn render(self) -> String {
        self.to_string()
    }
}

impl Number for i64 {
    fn render(self) -> String {
        self.to_string()
    }
}

impl Number for f64 {
    fn render(self) -> String {
        if self.is_nan() {
            "NaN".into()
        } else if self.is_infinite() {
            if self > 0.0 { "+Inf".into() } else { "-Inf".into() }
        } else {
            self.to_string()
        }
    }
}

fn add_metric(families: &mut BTreeMap<String, Family>, metric: &Metric, scope: &[(String, String)]) {
    match metric.data() {
        AggregatedMetrics::F64(data) => add_data(families, metric, data, scope),
        AggregatedMetrics::U64(data) => add_data(families, metric, data, scope),
        AggregatedMetrics::I64(data) => add_data(families, metric, data, scope),
    }
}

fn add_data<T: Number>(
    families: &mut BTreeMap<String, Family>,
    metric: &Metric,
    data: &MetricData<T>,
    scope: &[(String, String)],
) {
    let base = metric_name(metric.name(), metric.unit());
    let labels = |attrs: &mut dyn Iterator<Item = &KeyValue>| {
        let mut l: Vec<(String, String)> =
            attrs.map(|kv| (label_name(kv.key.as_str()), kv.value.to_string())).collect();
        // The SDK keeps a series under the order its first measurement gave.
        l.sort();
        l.extend(scope.iter().cloned());
        l
    };
    match data {
        MetricData::Sum(sum) => {
            let (name, kind) =
                if sum.is_monotonic() { (format!("{base}_total"), "counter") } else { (base, "gauge") };
            let f = family(families, &name, kind, metric.description());
            for p in sum.data_points() {
                sample(&mut f.samples, &name, &labels(&mut p.attributes()), None, &p.value().render());
            }
        }
        MetricData::Gauge(gauge) => {
            let f = family(families, &base, "gauge", metric.description());
            for p in gauge.data_points() {
                sample(&mut f.samples, &base, &labels(&mut p.attributes()), None, &p.value().render());
            }
        }
        MetricData::Histogram(h) => {
            let f = family(families, &base, "histogram", metric.description());
            let bucket = format!("{base}_bucket");
            for p in h.data_points() {
                let l = labels(&mut p.attributes());
                let mut cumulative = 0u64;
                for (bound, count) in p.bounds().zip(p.bucket_counts()) {
                    cumulative += count;
                    sample(&mut f.samples, &bucket, &l, Some(&bound.render()), &cumulative.to_string());
                }
                sample(&mut f.samples, &bucket, &l, Some("+Inf"), &p.count().to_string());
                sample(&mut f.samples, &format!("{base}_sum"), &l, None, &p.sum().render());
                sample(&mut f.samples, &format!("{base}_count"), &l, None, &p.count().to_string());
            }
        }
        MetricData::ExponentialHistogram(_) => {}
    }
}

fn family<'a>(
    families: &'a mut BTreeMap<String, Family>,
    name: &str,
    kind: &'static str,
    help: &str,
) -> &'a mut Family {
    families.entry(name.to_owned()).or_insert_with(|| Family {
        help: help.to_owned(),
        kind,
        samples: String::new(),
    })
}

fn sample(out: &mut String, name: &str, labels: &[(String, String)], le: Option<&str>, value: &str) {
    out.push_str(name);
    let mut all =
        labels.iter().map(|(k, v)| (k.as_str(), v.as_str())).chain(le.map(|le| ("le", le))).peekable();
    if all.peek().is_some() {
        out.push('{');
        for (i, (k, v)) in all.enumerate() {
            if i > 0 {
                out.push(',');
            }
            let _ = write!(out, "{k}=\"{}\"", escape_value(v));
        }
        out.push('}');
    }
    let _ = writeln!(out, " {value}");
}

/// The family name: sanitized, with the unit's suffix.
fn metric_name(name: &str, unit: &str) -> String {
    let mut out = sanitize(name, true);
    let suffix = match unit {
        "" | "1" => None,
        u if u.starts_with('{') => None,
        "s" => Some("seconds".to_owned()),
        "ms" => Some("milliseconds".to_owned()),
        "us" => Some("microseconds".to_owned()),
        "By" => Some("bytes".to_owned()),
        "KiBy" => Some("kibibytes".to_owned()),
        "MiBy" => Some("mebibytes".to_owned()),
        other => Some(sanitize(other, false).trim_matches('_').to_owned()),
    };
    if let Some(s) = suffix.filter(|s| !s.is_empty())
        && !out.ends_with(&format!("_{s}"))
    {
        out.push('_');
        out.push_str(&s);
    }
    out
}

fn label_name(key: &str) -> String {
    let out = sanitize(key, false);
    if out.starts_with(|c: char| c.is_ascii_digit()) { format!("key_{out}") } else { out }
}

/// Characters Prometheus does not allow become `_`; `metric`: a metric name
/// (`:` allowed, a leading digit gets a `_`).
fn sanitize(s: &str, metric: bool) -> String {
    let colon = metric;
    let mut out: String = s
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() || c == '_' || (colon && c == ':') { c } else { '_' })
        .collect();
    if metric && out.starts_with(|c: char| c.is_ascii_digit()) {
        out.insert(0, '_');
    }
    out
}

fn escape_value(v: &str) -> String {
    v.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")
}

fn escape_help(v: &str) -> String {
    v.replace('\\', "\\\\").replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use opentelemetry::metrics::MeterProvider as _;
    use opentelemetry_sdk::metrics::PeriodicReader;

    use super::*;

    #[test]
    fn renders_counters_and_histograms_as_prometheus_names_them() {
        let exporter = PrometheusExporter::new();
        let reader =
            PeriodicReader::builder(exporter.clone()).with_interval(Duration::from_secs(3600)).build();
        let provider = SdkMeterProvider::builder().with_reader(reader).build();
        let meter = provider.meter("scope");
        let calls = meter
            .u64_counter("grpc.server.call.started")
            .with_unit("{call}")
            .with_description("Calls.")
            .build();
        calls.add(3, &[KeyValue::new("grpc.method", "a.B/C")]);
        let latency = meter
            .f64_histogram("grpc.server.call.duration")
            .with_unit("s")
            .with_description("Line one\nline \\two")
            .with_boundaries(vec![0.1, 1.0])
            .build();
        latency.record(0.05, &[KeyValue::new("grpc.status", "OK")]);
        latency.record(0.5, &[KeyValue::new("grpc.status", "OK")]);
        latency.record(5.0, &[KeyValue::new("grpc.status", "OK")]);
        let odd = meter.i64_up_down_counter("queue-depth").with_unit("By").build();
        odd.add(-2, &[KeyValue::new("9what", "a \"quoted\"\\ value\n")]);

        let text = exporter.render(&provider).unwrap();
        let expected = "\
# HELP grpc_server_call_duration_seconds Line one\\nline \\\\two
# TYPE grpc_server_call_duration_seconds histogram
grpc_server_call_duration_seconds_bucket{grpc_status=\"OK\",otel_scope_name=\"scope\",le=\"0.1\"} 1
grpc_server_call_duration_seconds_bucket{grpc_status=\"OK\",otel_scope_name=\"scope\",le=\"1\"} 2
grpc_server_call_duration_seconds_bucket{grpc_status=\"OK\",otel_scope_name=\"scope\",le=\"+Inf\"} 3
grpc_server_call_duration_seconds_sum{grpc_status=\"OK\",otel_scope_name=\"scope\"} 5.55
grpc_server_call_duration_seconds_count{grpc_status=\"OK\",otel_scope_name=\"scope\"} 3
# HELP grpc_server_call_started_total Calls.
# TYPE grpc_server_call_started_total counter
grpc_server_call_started_total{grpc_method=\"a.B/C\",otel_scope_name=\"scope\"} 3
# TYPE queue_depth_bytes gauge
queue_depth_bytes{key_9what=\"a \\\"quoted\\\"\\\\ value\\n\",otel_scope_name=\"scope\"} -2
";
        assert_eq!(text, expected);
    }

    #[test]
    fn names_take_their_unit_once() {
        assert_eq!(metric_name("rpc.duration_seconds", "s"), "rpc_duration_seconds");
        assert_eq!(metric_name("a.b", "{attempt}"), "a_b");
        assert_eq!(metric_name("a-b", "By"), "a_b_bytes");
        assert_eq!(label_name("grpc.lb.locality"), "grpc_lb_locality");
    }
}
