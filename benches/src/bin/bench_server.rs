//! `bench-server --addr 127.0.0.1:PORT --threads N [--runtime tokio|smol|compio] [--impl weir|weir-axum|tonic]
//! [--send-buffer BYTES] [--metrics on|native|null] [--grpc-web on]`: serves helloworld.Greeter/SayHello
//! (reply "Hello " + name) and bench.Bench until killed. tonic runs on tokio only.
//!
//! `--metrics on` records gRFC A66's metrics (weir-otel) into an
//! OpenTelemetry SDK meter provider, read every 10 s by the Prometheus
//! exporter: what a production server pays for them. `--metrics native`
//! records the same instruments with weir-otel's SDK-free `NativeMetrics`;
//! `--metrics null` registers a stats handler that does nothing (the hook's
//! own cost).
//!
//! `--send-buffer` sets `SO_SNDBUF` on accepted loopback connections: Weir's
//! `loopback_send_buffer` (0: the kernel's autotuning), and the same option
//! on tonic's sockets (which it otherwise leaves to autotuning).
//!
//! `--grpc-web on` also serves gRPC-Web over HTTP/1.1 on the same port:
//! Weir with `Server::grpc_web(GrpcWeb::new().allow_any_origin())`, tonic
//! with tonic-web's `GrpcWebLayer` and `accept_http1(true)`.
//!
//! `--impl weir-axum` mounts the same Weir services in an axum `Router`
//! (`Server::into_service` as its fallback, beside a REST route) served by
//! axum on tokio: hyper's HTTP/2 instead of Weir's own connection driver.

use std::net::SocketAddr;
use std::sync::Arc;

use weir_benches::args::Args;
use weir_benches::services::{tonic_serve, tonic_serve_grpc_web, tonic_serve_with_send_buffer, weir_server};

type Error = Box<dyn std::error::Error>;

fn main() -> Result<(), Error> {
    let args = Args::from_env();
    let addr: SocketAddr = args.get("addr", "127.0.0.1:50051").parse()?;
    let threads: usize = args.num("threads", 1).max(1);
    let send_buffer = args.send_buffer();
    let grpc_web = match args.get("grpc-web", "off") {
        "on" | "true" => true,
        "off" => false,
        other => return Err(format!("unknown --grpc-web {other} (on|off)").into()),
    };
    let metrics = (args.get("metrics", "off") == "on").then(|| {
        let exporter = weir_otel::prometheus::PrometheusExporter::new();
        let reader = opentelemetry_sdk::metrics::PeriodicReader::builder(exporter)
            .with_interval(std::time::Duration::from_secs(10))
            .build();
        let provider = opentelemetry_sdk::metrics::SdkMeterProvider::builder().with_reader(reader).build();
        (weir_otel::GrpcMetrics::new(&provider), provider)
    });
    /// Hears every event and does nothing: what the stats hook itself costs.
    struct Nothing;
    impl weir_rt::StatsHandler for Nothing {}
    let stats = match args.get("metrics", "off") {
        "null" => Some(Arc::new(Nothing) as Arc<dyn weir_rt::StatsHandler>),
        "native" => Some(weir_otel::NativeMetrics::new() as Arc<dyn weir_rt::StatsHandler>),
        _ => metrics.as_ref().map(|(m, _)| m.clone() as Arc<dyn weir_rt::StatsHandler>),
    };
    match (args.get("runtime", "tokio"), args.get("impl", "weir")) {
        ("tokio", stack) => {
            let rt =
                tokio::runtime::Builder::new_multi_thread().worker_threads(threads).enable_all().build()?;
            rt.block_on(async move {
                match stack {
                    "weir" => {
                        let bound = configured(weir_tokio::Server::builder(), send_buffer, stats, grpc_web)
                            .bind(addr)
                            .await?;
                        eprintln!("weir bench server (tokio) listening on {addr}");
                        bound.serve().await?;
                    }
                    "weir-axum" => {
                        let grpc =
                            configured(weir_tokio::Server::builder(), None, stats, false).into_service();
                        let app = axum::Router::new()
                            .route("/healthz", axum::routing::get(|| async { "ok" }))
                            .fallback_service(grpc);
                        let listener = tokio::net::TcpListener::bind(addr).await?;
                        eprintln!("weir-axum bench server listening on {addr}");
                        axum::serve(listener, app).await?;
                    }
                    "tonic" => {
                        eprintln!("tonic bench server listening on {addr}");
                        match send_buffer {
                            Some(Some(_)) if grpc_web => {
                                return Err("tonic: --send-buffer with --grpc-web on is not supported".into());
                            }
                            _ if grpc_web => tonic_serve_grpc_web(addr).await?,
                            Some(Some(bytes)) => tonic_serve_with_send_buffer(addr, bytes).await?,
                            _ => tonic_serve(addr).await?,
                        }
                    }
                    other => return Err(format!("unknown --impl {other}").into()),
                }
                Ok::<_, Error>(())
            })
        }
        ("smol", "weir") => {
            let ex = Arc::new(smol::Executor::new());
            // The main thread runs the executor too: `threads` in all.
            for _ in 1..threads {
                let ex = ex.clone();
                std::thread::spawn(move || smol::block_on(ex.run(smol::future::pending::<()>())));
            }
            smol::block_on(ex.run(async {
                let server = configured(
                    weir_smol::Server::new(weir_smol::Smol::new(ex.clone())),
                    send_buffer,
                    stats,
                    grpc_web,
                );
                let bound = server.bind(addr).await?;
                eprintln!("weir bench server (smol) listening on {addr}");
                bound.serve().await?;
                Ok(())
            }))
        }
        ("compio", "weir") => {
            // Thread-per-core: `threads` io_uring loops, each with its own
            // listener on the port (SO_REUSEPORT) and its own connections.
            let shared = (send_buffer, stats, grpc_web);
            eprintln!("weir bench server (compio, {threads} cores) listening on {addr}");
            weir_compio::serve_per_core(threads, move |rt, _core| {
                let (send_buffer, stats, grpc_web) = shared.clone();
                async move {
                    configured(weir_compio::Server::new(rt), send_buffer, stats, grpc_web).serve(addr).await
                }
            })?;
            Ok(())
        }
        (runtime, stack) => Err(format!("unsupported --runtime {runtime} --impl {stack}").into()),
    }
}

/// The bench server with `--send-buffer`, `--metrics` and `--grpc-web` applied.
fn configured<R: weir_rt::runtime::Net>(
    server: weir_rt::Server<R>,
    send_buffer: Option<Option<usize>>,
    stats: Option<Arc<dyn weir_rt::StatsHandler>>,
    grpc_web: bool,
) -> weir_rt::Server<R> {
    let server = match stats {
        Some(stats) => weir_server(server).stats_handler(stats),
        None => weir_server(server),
    };
    let server = if grpc_web { server.grpc_web(weir_rt::GrpcWeb::new().allow_any_origin()) } else { server };
    match send_buffer {
        Some(bytes) => server.loopback_send_buffer(bytes),
        None => server,
    }
}
