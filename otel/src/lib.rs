//! # weir-otel
//!
//! OpenTelemetry for Weir servers and channels, on the `opentelemetry` API
//! (bring your own SDK and exporter: OTLP, Prometheus, stdout):
//!
//! - [`GrpcMetrics`]: gRFC A66's standard gRPC instruments
//!   (`grpc.client.attempt.*`, `grpc.client.call.duration`,
//!   `grpc.server.call.*`) with the names, units, attributes and buckets
//!   gRPC-Go, Java and C++ use, so one dashboard covers a mixed fleet;
//! - [`ClientTracing`] and [`ServerTracing`]: a span per call on each side,
//!   the server's parented on the client's through W3C `traceparent`
//!   ([`propagation`]);
//! - `prometheus::PrometheusExporter` (feature `prometheus`, on by default):
//!   the text exposition format for Prometheus to scrape, from an SDK meter
//!   provider;
//! - [`NativeMetrics`]: the same instruments aggregated in-process and
//!   rendered for Prometheus without the SDK, at a fraction of its cost per
//!   call, for servers that only need scraping.
//!
//! ```no_run
//! use std::sync::Arc;
//! use weir_otel::{ClientTracing, GrpcMetrics, ServerTracing};
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! // With the global providers (set by your SDK setup):
//! let metrics = GrpcMetrics::global();
//! let tracer = || opentelemetry::global::tracer("my-app");
//! let server = weir_tokio::Server::builder()
//!     .stats_handler(metrics.clone())
//!     .interceptor(Arc::new(ServerTracing::new(tracer())));
//! let channel = weir_tokio::Endpoint::new("http://127.0.0.1:50051")?
//!     .stats_handler(metrics)
//!     .interceptor(Arc::new(ClientTracing::new(tracer())))
//!     .connect()
//!     .await?;
//! # let _ = (server, channel);
//! # Ok(())
//! # }
//! ```
//!
//! Recording costs a few hash lookups per call (the SDK's attribute sets);
//! with no handler registered, Weir measures nothing at all.

pub mod metrics;
pub mod native;
#[cfg(feature = "prometheus")]
pub mod prometheus;
pub mod propagation;
pub mod tracing;

pub use metrics::GrpcMetrics;
pub use native::NativeMetrics;
pub use tracing::{ClientTracing, ServerTracing};
