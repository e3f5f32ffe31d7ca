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
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use weir_examples::greeter::MyGreeter;
use weir_examples::helloworld::greeter_server::GreeterServer;
use weir_otel::prometheus::{CONTENT_TYPE, PrometheusExporter};
use weir_otel::{GrpcMetrics, NativeMetrics};
use weir_rt::StatsHandler;
use weir_tokio::Server;

/// The largest request head the metrics listener reads.
const MAX_REQUEST_HEAD: usize = 8 * 1024;

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
    tokio::spawn(serve_metrics(listener, source.clone()));
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

/// A minimal HTTP/1.1 listener: `GET /metrics` gives the text exposition,
/// anything else 404; one request per connection.
async fn serve_metrics(listener: TcpListener, source: Source) {
    loop {
        let Ok((socket, _)) = listener.accept().await else {
            tokio::time::sleep(Duration::from_millis(50)).await;
            continue;
        };
        let source = source.clone();
        tokio::spawn(async move {
            let _ = tokio::time::timeout(Duration::from_secs(10), answer(socket, source)).await;
        });
    }
}

async fn answer(mut socket: TcpStream, source: Source) -> std::io::Result<()> {
    let mut head = Vec::with_capacity(1024);
    let mut buf = [0u8; 1024];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
        let n = socket.read(&mut buf).await?;
        if n == 0 || head.len() + n > MAX_REQUEST_HEAD {
            return Ok(());
        }
        head.extend_from_slice(&buf[..n]);
    }
    let line = head.split(|&b| b == b'\r').next().unwrap_or_default();
    let mut words = line.split(|&b| b == b' ');
    let (method, target) = (words.next().unwrap_or_default(), words.next().unwrap_or_default());
    let path = target.split(|&b| b == b'?').next().unwrap_or_default();
    let (status, content_type, body) = if method == b"GET" && path == b"/metrics" {
        match source.render().await {
            Some(text) => ("200 OK", CONTENT_TYPE, text),
            None => ("500 Internal Server Error", "text/plain", "collection failed\n".to_owned()),
        }
    } else {
        ("404 Not Found", "text/plain", "try /metrics\n".to_owned())
    };
    let response = format!(
        "HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    socket.write_all(response.as_bytes()).await?;
    socket.shutdown().await
}
