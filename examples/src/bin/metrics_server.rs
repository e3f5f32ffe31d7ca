//! `metrics_server [GRPC_ADDR] [METRICS_ADDR] [sdk|native]`: serves
//! helloworld.Greeter (default 127.0.0.1:50051) with gRFC A66's metrics
//! recorded by weir-otel, and serves them for Prometheus to scrape on
//! `http://METRICS_ADDR/metrics` (default 127.0.0.1:9464), until Ctrl-C or
//! SIGTERM. Prints `Greeter listening on GRPC_ADDR metrics on URL` first.
//!
//! `sdk` (the default) records through the OpenTelemetry SDK and renders
//! with weir-otel's `PrometheusExporter`; `native` uses `NativeMetrics`
//! (no SDK, a third of its cost per call, the same text).
//!
//! A Prometheus scrape config for it:
//!
//! ```yaml
//! scrape_configs:
//!   - job_name: weir
//!     static_configs: [{ targets: ["127.0.0.1:9464"] }]
//! ```

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use opentelemetry_sdk::metrics::{PeriodicReader, SdkMeterProvider};
use tokio::net::TcpListener;
use weir_examples::greeter::MyGreeter;
use weir_examples::helloworld::greeter_server::GreeterServer;
use weir_examples::tiny_http::{self, Reply};
use weir_otel::prometheus::{CONTENT_TYPE, PrometheusExporter};
use weir_otel::{GrpcMetrics, NativeMetrics};
use weir_rt::StatsHandler;
use weir_tokio::Server;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let arg = |i: usize, default: &str| std::env::args().nth(i).unwrap_or_else(|| default.into());
    let grpc_addr: SocketAddr = arg(1, "127.0.0.1:50051").parse()?;
    let metrics_addr: SocketAddr = arg(2, "127.0.0.1:9464").parse()?;
    let (source, stats): (Source, Arc<dyn StatsHandler>) = match arg(3, "sdk").as_str() {
        "native" => {
            let metrics = NativeMetrics::new();
            (Source::Native(metrics.clone()), metrics)
        }
        "sdk" => {
            // The SDK pipeline: the exporter renders what the reader
            // collects; a scrape flushes first, so it sees every call.
            let exporter = PrometheusExporter::new();
            let reader =
                PeriodicReader::builder(exporter.clone()).with_interval(Duration::from_secs(60)).build();
            let provider = SdkMeterProvider::builder().with_reader(reader).build();
            let metrics = GrpcMetrics::new(&provider);
            (Source::Sdk(exporter, provider), metrics)
        }
        other => return Err(format!("unknown metrics source {other:?}: sdk or native").into()),
    };

    let bound = Server::builder()
        .stats_handler(stats)
        .add_service(GreeterServer::new(MyGreeter))
        .bind(grpc_addr)
        .await?;
    let listener = TcpListener::bind(metrics_addr).await?;
    let stop = weir_tokio::shutdown_signal();
    println!(
        "Greeter listening on {} metrics on http://{}/metrics",
        bound.local_addr().expect("tcp"),
        listener.local_addr()?
    );
    let scrape = source.clone();
    tokio::spawn(tiny_http::serve(listener, move |path| {
        let source = scrape.clone();
        async move {
            match path.as_str() {
                "/metrics" => match source.render().await {
                    Some(text) => Reply::ok(CONTENT_TYPE, text),
                    None => Reply::text("500 Internal Server Error", "collection failed\n"),
                },
                _ => Reply::text("404 Not Found", "try /metrics\n"),
            }
        }
    }));
    bound.serve_with_shutdown(stop).await?;
    if let Source::Sdk(_, provider) = source {
        provider.shutdown()?;
    }
    Ok(())
}

/// Where a scrape's text comes from.
#[derive(Clone)]
enum Source {
    Sdk(PrometheusExporter, SdkMeterProvider),
    Native(Arc<NativeMetrics>),
}

impl Source {
    async fn render(&self) -> Option<String> {
        match self {
            // Flushing waits for the SDK's reader thread: not on a runtime thread.
            Source::Sdk(exporter, provider) => {
                let (exporter, provider) = (exporter.clone(), provider.clone());
                tokio::task::spawn_blocking(move || exporter.render(&provider).ok()).await.ok().flatten()
            }
            Source::Native(metrics) => Some(metrics.render()),
        }
    }
}
