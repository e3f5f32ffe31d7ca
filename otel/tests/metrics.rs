//! gRFC A66's instruments for a scripted run through a real Weir server and
//! channel (tokio, loopback): an OK call, an error, a retried call, a hedged
//! call, a cancelled stream, a compressed call. Each instrument's name, unit,
//! attributes and values are pinned.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use bytes::Bytes;
use opentelemetry::metrics::MeterProvider as _;
use opentelemetry_sdk::metrics::data::{AggregatedMetrics, Metric, MetricData, ResourceMetrics};
use opentelemetry_sdk::metrics::{InMemoryMetricExporter, PeriodicReader, SdkMeterProvider};
use weir_otel::metrics::{LATENCY_BUCKETS, SIZE_BUCKETS, names};
use weir_otel::prometheus::PrometheusExporter;
use weir_otel::{GrpcMetrics, NativeMetrics};
use weir_rt::server::ResponseStream;
use weir_rt::{Code, Method, Request, Response, Status};

const SERVICE_CONFIG: &str = r#"{"methodConfig": [
  {"name": [{"service": "test.Echo", "method": "Flaky"}],
   "retryPolicy": {"maxAttempts": 3, "initialBackoff": "0.01s", "maxBackoff": "0.01s",
                   "backoffMultiplier": 1, "retryableStatusCodes": ["UNAVAILABLE"]}},
  {"name": [{"service": "test.Echo", "method": "Slow"}],
   "hedgingPolicy": {"maxAttempts": 2, "hedgingDelay": "0.05s"}}
]}"#;

fn first_attempt(req: &Request<Bytes>) -> bool {
    req.metadata().get_str("grpc-previous-rpc-attempts").is_none()
}

fn server() -> weir_tokio::Server {
    weir_tokio::Server::builder()
        .route(
            "/test.Echo/Unary",
            Method::unary(|req: Request<Bytes>| async move { Ok(Response::new(req.into_inner())) }),
        )
        .route(
            "/test.Echo/Fail",
            Method::unary(|_: Request<Bytes>| async move { Err(Status::new(Code::InvalidArgument, "no")) }),
        )
        .route(
            "/test.Echo/Flaky",
            Method::unary(|req: Request<Bytes>| async move {
                if first_attempt(&req) {
                    return Err(Status::new(Code::Unavailable, "try again"));
                }
                Ok(Response::new(req.into_inner()))
            }),
        )
        .route(
            "/test.Echo/Slow",
            Method::unary(|req: Request<Bytes>| async move {
                if first_attempt(&req) {
                    tokio::time::sleep(Duration::from_secs(10)).await;
                }
                Ok(Response::new(req.into_inner()))
            }),
        )
        .route(
            "/test.Echo/Compressed",
            Method::unary(|req: Request<Bytes>| async move {
                let mut resp = Response::new(req.into_inner());
                resp.set_compression("gzip");
                Ok(resp)
            }),
        )
        .route(
            "/test.Echo/Stream",
            Method::server_streaming(|_: Request<Bytes>| async move {
                let s: ResponseStream = Box::pin(futures::stream::unfold(0u32, |n| async move {
                    if n > 0 {
                        tokio::time::sleep(Duration::from_millis(10)).await;
                    }
                    (n < 1000).then(|| (Ok(Bytes::from(vec![1u8; 10]).into()), n + 1))
                }));
                Ok(Response::new(s))
            }),
        )
}

/// One data point: its attributes, and (count, sum) of a histogram or
/// (1, value) of a counter.
type Point = (BTreeMap<String, String>, (u64, f64));

fn points(metric: &Metric) -> Vec<Point> {
    fn attrs<'a>(kv: impl Iterator<Item = &'a opentelemetry::KeyValue>) -> BTreeMap<String, String> {
        kv.map(|kv| (kv.key.to_string(), kv.value.to_string())).collect()
    }
    let mut out: Vec<Point> = match metric.data() {
        AggregatedMetrics::U64(MetricData::Sum(s)) => {
            s.data_points().map(|p| (attrs(p.attributes()), (1, p.value() as f64))).collect()
        }
        AggregatedMetrics::U64(MetricData::Histogram(h)) => {
            h.data_points().map(|p| (attrs(p.attributes()), (p.count(), p.sum() as f64))).collect()
        }
        AggregatedMetrics::F64(MetricData::Histogram(h)) => {
            h.data_points().map(|p| (attrs(p.attributes()), (p.count(), p.sum()))).collect()
        }
        other => panic!("{}: unexpected data {other:?}", metric.name()),
    };
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

fn bounds(metric: &Metric) -> Vec<f64> {
    match metric.data() {
        AggregatedMetrics::U64(MetricData::Histogram(h)) => {
            h.data_points().next().unwrap().bounds().collect()
        }
        AggregatedMetrics::F64(MetricData::Histogram(h)) => {
            h.data_points().next().unwrap().bounds().collect()
        }
        _ => Vec::new(),
    }
}

fn find<'a>(all: &'a [ResourceMetrics], name: &str) -> Option<&'a Metric> {
    all.iter().flat_map(|r| r.scope_metrics()).flat_map(|s| s.metrics()).find(|m| m.name() == name)
}

fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

/// The data points of `name` with `attrs`: (count, sum).
fn value(all: &[ResourceMetrics], name: &str, attrs: &[(&str, &str)]) -> Option<(u64, f64)> {
    let want = labels(attrs);
    points(find(all, name)?).into_iter().find(|(a, _)| *a == want).map(|(_, v)| v)
}

struct Collector {
    provider: SdkMeterProvider,
    exporter: InMemoryMetricExporter,
    prometheus: PrometheusExporter,
}

impl Collector {
    fn new() -> Self {
        let exporter = InMemoryMetricExporter::default();
        let prometheus = PrometheusExporter::new();
        let hour = Duration::from_secs(3600);
        let provider = SdkMeterProvider::builder()
            .with_reader(PeriodicReader::builder(exporter.clone()).with_interval(hour).build())
            .with_reader(PeriodicReader::builder(prometheus.clone()).with_interval(hour).build())
            .build();
        Collector { provider, exporter, prometheus }
    }

    fn collect(&self) -> Vec<ResourceMetrics> {
        self.exporter.reset();
        self.provider.force_flush().unwrap();
        self.exporter.get_finished_metrics().unwrap()
    }

    /// Collects until `ready` holds (server-side records and a hedge's
    /// losing attempt end after the caller got its answer), within 10 s.
    async fn until(&self, ready: impl Fn(&[ResourceMetrics]) -> bool) -> Vec<ResourceMetrics> {
        let start = Instant::now();
        loop {
            let all = self.collect();
            if ready(&all) || start.elapsed() > Duration::from_secs(10) {
                return all;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a66_instruments_for_a_scripted_run() {
    let collector = Collector::new();
    let metrics = GrpcMetrics::new(&collector.provider);
    // The SDK-free recorder hears the same run: its text must match.
    let native = NativeMetrics::new();
    let bound = server()
        .stats_handler(metrics.clone())
        .stats_handler(native.clone())
        .bind("127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let addr = bound.local_addr().unwrap();
    let (stop, stopped) = futures::channel::oneshot::channel::<()>();
    let serving = tokio::spawn(bound.serve_with_shutdown(async move {
        let _ = stopped.await;
    }));
    let target = format!("http://{addr}");
    let ch = weir_tokio::Endpoint::new(&target)
        .unwrap()
        .default_service_config(SERVICE_CONFIG)
        .unwrap()
        .stats_handler(metrics.clone())
        .stats_handler(native.clone())
        .connect()
        .await
        .unwrap();

    // OK: 100 bytes each way, uncompressed.
    ch.unary("/test.Echo/Unary", Request::new(Bytes::from(vec![7u8; 100]))).await.unwrap();
    // An error status.
    let err = ch.unary("/test.Echo/Fail", Request::new(Bytes::from_static(b"x"))).await.unwrap_err();
    assert_eq!(err.code, Code::InvalidArgument);
    // Retried: UNAVAILABLE, then OK.
    ch.unary("/test.Echo/Flaky", Request::new(Bytes::from(vec![1u8; 50]))).await.unwrap();
    // Hedged: the first copy hangs, the second answers; the first is cancelled.
    ch.unary("/test.Echo/Slow", Request::new(Bytes::from(vec![2u8; 20]))).await.unwrap();
    // Cancelled by the caller: a stream dropped after its first message.
    let mut s =
        ch.server_streaming("/test.Echo/Stream", Request::new(Bytes::new())).await.unwrap().into_inner();
    assert!(s.message().await.unwrap().is_some());
    drop(s);
    // Compressed both ways: 10,000 zeros shrink to a few dozen bytes.
    let mut req = Request::new(Bytes::from(vec![0u8; 10_000]));
    req.set_compression("gzip");
    let resp = ch.unary("/test.Echo/Compressed", req).await.unwrap();
    assert_eq!(resp.into_inner().len(), 10_000);

    let t = target.as_str();
    let all = collector
        .until(|all| {
            value(
                all,
                names::SERVER_CALL_DURATION,
                &[("grpc.method", "test.Echo/Stream"), ("grpc.status", "CANCELLED")],
            )
            .is_some()
                && value(
                    all,
                    names::SERVER_CALL_DURATION,
                    &[("grpc.method", "test.Echo/Slow"), ("grpc.status", "CANCELLED")],
                )
                .is_some()
                && value(
                    all,
                    names::CLIENT_ATTEMPT_DURATION,
                    &[("grpc.method", "test.Echo/Slow"), ("grpc.status", "CANCELLED"), ("grpc.target", t)],
                )
                .is_some()
                && value(
                    all,
                    names::CLIENT_ATTEMPT_DURATION,
                    &[("grpc.method", "test.Echo/Stream"), ("grpc.status", "CANCELLED"), ("grpc.target", t)],
                )
                .is_some()
        })
        .await;

    // Names, units, descriptions and buckets.
    let expect = [
        (names::CLIENT_ATTEMPT_STARTED, "{attempt}", "Number of client call attempts started."),
        (names::CLIENT_ATTEMPT_DURATION, "s", "End-to-end time taken to complete a client call attempt."),
        (names::CLIENT_ATTEMPT_SENT_SIZE, "By", "Compressed message bytes sent per client call attempt."),
        (names::CLIENT_ATTEMPT_RCVD_SIZE, "By", "Compressed message bytes received per call attempt."),
        (
            names::CLIENT_CALL_DURATION,
            "s",
            "Time taken by gRPC to complete an RPC from application's perspective.",
        ),
        (names::SERVER_CALL_STARTED, "{call}", "Number of server calls started."),
        (
            names::SERVER_CALL_DURATION,
            "s",
            "End-to-end time taken to complete a call from server transport's perspective.",
        ),
        (names::SERVER_CALL_SENT_SIZE, "By", "Compressed message bytes sent per server call."),
        (names::SERVER_CALL_RCVD_SIZE, "By", "Compressed message bytes received per server call."),
    ];
    for (name, unit, description) in expect {
        let m = find(&all, name).unwrap_or_else(|| panic!("{name} not recorded"));
        assert_eq!((m.unit(), m.description()), (unit, description), "{name}");
        if unit == "s" {
            assert_eq!(bounds(m), LATENCY_BUCKETS, "{name}");
        } else if unit == "By" {
            assert_eq!(bounds(m), SIZE_BUCKETS, "{name}");
        }
    }
    let scope = all.iter().flat_map(|r| r.scope_metrics()).next().unwrap().scope();
    assert_eq!(scope.name(), "weir");

    let m = |method: &str| format!("test.Echo/{method}");
    let client = |method: &str| vec![("grpc.method", m(method)), ("grpc.target", t.to_owned())];
    let with_status = |mut v: Vec<(&'static str, String)>, status: &str| {
        v.push(("grpc.status", status.to_owned()));
        v
    };
    let get = |name: &str, attrs: Vec<(&'static str, String)>| {
        let attrs: Vec<(&str, &str)> = attrs.iter().map(|(k, v)| (*k, v.as_str())).collect();
        value(&all, name, &attrs)
    };

    // Attempts started: one each, two for the retried and the hedged call.
    let started: Vec<_> = points(find(&all, names::CLIENT_ATTEMPT_STARTED).unwrap())
        .into_iter()
        .map(|(a, (_, v))| (a["grpc.method"].clone(), a["grpc.target"].clone(), v as u64))
        .collect();
    let expected_started: Vec<_> =
        [("Compressed", 1), ("Fail", 1), ("Flaky", 2), ("Slow", 2), ("Stream", 1), ("Unary", 1)]
            .into_iter()
            .map(|(method, n)| (m(method), t.to_owned(), n))
            .collect();
    assert_eq!(started, expected_started);

    // Attempt durations by status: the retried call's two attempts, the
    // hedged call's winner and its cancelled copy.
    let attempts =
        |method: &str, status: &str| get(names::CLIENT_ATTEMPT_DURATION, with_status(client(method), status));
    assert_eq!(attempts("Unary", "OK").map(|v| v.0), Some(1));
    assert_eq!(attempts("Fail", "INVALID_ARGUMENT").map(|v| v.0), Some(1));
    assert_eq!(attempts("Flaky", "UNAVAILABLE").map(|v| v.0), Some(1));
    assert_eq!(attempts("Flaky", "OK").map(|v| v.0), Some(1));
    assert_eq!(attempts("Slow", "OK").map(|v| v.0), Some(1));
    assert_eq!(attempts("Slow", "CANCELLED").map(|v| v.0), Some(1));
    assert_eq!(attempts("Stream", "CANCELLED").map(|v| v.0), Some(1));

    // Calls as the application saw them: one each, with its final status.
    let call =
        |method: &str, status: &str| get(names::CLIENT_CALL_DURATION, with_status(client(method), status));
    for (method, status) in [
        ("Unary", "OK"),
        ("Fail", "INVALID_ARGUMENT"),
        ("Flaky", "OK"),
        ("Slow", "OK"),
        ("Stream", "CANCELLED"),
        ("Compressed", "OK"),
    ] {
        assert_eq!(call(method, status).map(|v| v.0), Some(1), "{method} call");
    }
    assert_eq!(points(find(&all, names::CLIENT_CALL_DURATION).unwrap()).len(), 6, "no other call series");
    // The retried call's duration covers both attempts and the backoff.
    let flaky_call = call("Flaky", "OK").unwrap().1;
    let flaky_attempts = attempts("Flaky", "UNAVAILABLE").unwrap().1 + attempts("Flaky", "OK").unwrap().1;
    assert!(flaky_call >= flaky_attempts, "call {flaky_call} s < its attempts {flaky_attempts} s");

    // Sizes: payload octets as on the wire (no prefixes), per attempt.
    let sent = |method: &str, status: &str| {
        get(names::CLIENT_ATTEMPT_SENT_SIZE, with_status(client(method), status))
    };
    let rcvd = |method: &str, status: &str| {
        get(names::CLIENT_ATTEMPT_RCVD_SIZE, with_status(client(method), status))
    };
    assert_eq!(sent("Unary", "OK"), Some((1, 100.0)));
    assert_eq!(rcvd("Unary", "OK"), Some((1, 100.0)));
    assert_eq!(sent("Fail", "INVALID_ARGUMENT"), Some((1, 1.0)));
    assert_eq!(rcvd("Fail", "INVALID_ARGUMENT"), Some((1, 0.0)));
    // Each attempt of the retried call sent the request again.
    assert_eq!(sent("Flaky", "UNAVAILABLE"), Some((1, 50.0)));
    assert_eq!(sent("Flaky", "OK"), Some((1, 50.0)));
    assert_eq!(rcvd("Flaky", "OK"), Some((1, 50.0)));
    let (_, compressed_sent) = sent("Compressed", "OK").unwrap();
    let (_, compressed_rcvd) = rcvd("Compressed", "OK").unwrap();
    assert!(compressed_sent > 0.0 && compressed_sent < 200.0, "compressed request took {compressed_sent} B");
    assert!(compressed_rcvd > 0.0 && compressed_rcvd < 200.0, "compressed response took {compressed_rcvd} B");

    // The server: started per method (the hedge's two copies and the retry's
    // two attempts are two calls each), durations and sizes by status.
    let server = |method: &str| vec![("grpc.method", m(method))];
    let server_started: Vec<_> = points(find(&all, names::SERVER_CALL_STARTED).unwrap())
        .into_iter()
        .map(|(a, (_, v))| (a["grpc.method"].clone(), v as u64))
        .collect();
    let expected: Vec<_> =
        [("Compressed", 1), ("Fail", 1), ("Flaky", 2), ("Slow", 2), ("Stream", 1), ("Unary", 1)]
            .into_iter()
            .map(|(method, n)| (m(method), n))
            .collect();
    assert_eq!(server_started, expected);
    for (method, status) in [
        ("Unary", "OK"),
        ("Fail", "INVALID_ARGUMENT"),
        ("Flaky", "UNAVAILABLE"),
        ("Flaky", "OK"),
        ("Slow", "OK"),
        ("Slow", "CANCELLED"),
        ("Stream", "CANCELLED"),
        ("Compressed", "OK"),
    ] {
        let d = get(names::SERVER_CALL_DURATION, with_status(server(method), status));
        assert_eq!(d.map(|v| v.0), Some(1), "server {method} {status}");
    }
    let server_size = |name: &str, method: &str, status: &str| get(name, with_status(server(method), status));
    assert_eq!(server_size(names::SERVER_CALL_RCVD_SIZE, "Unary", "OK"), Some((1, 100.0)));
    assert_eq!(server_size(names::SERVER_CALL_SENT_SIZE, "Unary", "OK"), Some((1, 100.0)));
    let (_, server_rcvd) = server_size(names::SERVER_CALL_RCVD_SIZE, "Compressed", "OK").unwrap();
    let (_, server_sent) = server_size(names::SERVER_CALL_SENT_SIZE, "Compressed", "OK").unwrap();
    assert_eq!(
        (server_rcvd, server_sent),
        (compressed_sent, compressed_rcvd),
        "both ends count the same bytes"
    );
    let (n, streamed) = server_size(names::SERVER_CALL_SENT_SIZE, "Stream", "CANCELLED").unwrap();
    assert!(n == 1 && streamed >= 10.0 && (streamed as u64).is_multiple_of(10), "stream sent {streamed} B");

    // The SDK's text through PrometheusExporter and NativeMetrics' text
    // agree line for line (sums to rounding: they add in other orders).
    let sdk = collector.prometheus.render(&collector.provider).unwrap();
    let direct = native.render();
    assert_same_exposition(&sdk, &direct);
    assert!(
        direct.contains("grpc_client_attempt_started_total{grpc_method=\"test.Echo/Flaky\",grpc_target=")
    );

    drop(ch);
    let _ = stop.send(());
    serving.await.unwrap().unwrap();
}

/// Both texts hold the same families and series with the same values.
fn assert_same_exposition(sdk: &str, direct: &str) {
    let parse = |text: &str| -> BTreeMap<String, String> {
        text.lines()
            .map(|l| match l.rsplit_once(' ') {
                Some((series, value)) if !l.starts_with('#') => (series.to_owned(), value.to_owned()),
                _ => (l.to_owned(), String::new()),
            })
            .collect()
    };
    let (a, b) = (parse(sdk), parse(direct));
    assert_eq!(a.keys().collect::<Vec<_>>(), b.keys().collect::<Vec<_>>(), "SDK:\n{sdk}\nnative:\n{direct}");
    for (series, value) in &a {
        let other = &b[series];
        if series.contains("_sum{") {
            let (x, y): (f64, f64) = (value.parse().unwrap(), other.parse().unwrap());
            assert!((x - y).abs() <= 1e-9 * x.abs().max(1.0), "{series}: {x} vs {y}");
        } else {
            assert_eq!(value, other, "{series}");
        }
    }
}

#[tokio::test]
async fn an_unregistered_method_is_other_on_the_server() {
    let collector = Collector::new();
    let server_metrics = GrpcMetrics::with_meter(&collector.provider.meter("server"));
    let bound = server().stats_handler(server_metrics).bind("127.0.0.1:0".parse().unwrap()).await.unwrap();
    let addr = bound.local_addr().unwrap();
    tokio::spawn(bound.serve());
    let ch = weir_tokio::Endpoint::new(format!("http://{addr}")).unwrap().connect().await.unwrap();
    for i in 0..5 {
        let path = format!("/test.Echo/Made{i}");
        let err = ch.unary(path, Request::new(Bytes::new())).await.unwrap_err();
        assert_eq!(err.code, Code::Unimplemented);
    }
    let all = collector
        .until(|all| {
            value(
                all,
                names::SERVER_CALL_DURATION,
                &[("grpc.method", "other"), ("grpc.status", "UNIMPLEMENTED")],
            )
            .is_some_and(|v| v.0 == 5)
        })
        .await;
    let started = points(find(&all, names::SERVER_CALL_STARTED).unwrap());
    assert_eq!(started, vec![(labels(&[("grpc.method", "other")]), (1, 5.0))]);
}
