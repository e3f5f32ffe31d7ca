//! `interop-server --port N [--use_tls] [--runtime tokio|smol|axum] [--grpc_web]`:
//! grpc.testing.TestService, until SIGTERM or SIGINT, then a graceful shutdown
//! (calls in flight finish). `--grpc_web` also serves gRPC-Web over HTTP/1.1
//! on the same port, to any origin (off by default). `--runtime axum`
//! mounts the service in an axum `Router` (beside a REST route, `GET
//! /healthz`) served by axum on tokio: Weir's `Server::into_service` behind
//! hyper (cleartext only).

use std::future::Future;
use std::time::Duration;

use weir_interop::args::Args;
use weir_interop::{certs, server::test_service};
use weir_rt::runtime::Net;
use weir_rt::tls::{Identity, ServerTlsConfig};
use weir_rt::{GrpcWeb, Server};

const HELP: &str =
    "interop-server --port N [--use_tls[=true|false]] [--runtime tokio|smol|axum] [--grpc_web[=true|false]]";

type Error = Box<dyn std::error::Error>;

fn main() -> Result<(), Error> {
    let args = Args::parse(std::env::args().skip(1))?;
    if args.flag("help") {
        println!("{HELP}");
        return Ok(());
    }
    let port: u16 = args.get("port").unwrap_or("0").parse()?;
    let tls = args.flag("use_tls");
    let web = args.flag("grpc_web");
    match args.get("runtime").unwrap_or("tokio") {
        "tokio" => {
            let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
            // Inside the runtime, the handlers are installed before the port is printed.
            let stop = {
                let _context = rt.enter();
                weir_tokio::shutdown_signal()
            };
            rt.block_on(serve(weir_tokio::Tokio, port, tls, web, stop))
        }
        "axum" if tls || web => Err("--runtime axum serves cleartext gRPC only".into()),
        "axum" => {
            let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
            let stop = {
                let _context = rt.enter();
                weir_tokio::shutdown_signal()
            };
            rt.block_on(serve_axum(port, stop))
        }
        "smol" => {
            smol::block_on(serve(weir_smol::Smol::default(), port, tls, web, weir_smol::shutdown_signal()))
        }
        other => Err(format!("unsupported --runtime {other}: {HELP}").into()),
    }
}

/// The service in an axum app, beside a REST route, on one port.
async fn serve_axum(port: u16, stop: impl Future<Output = ()> + Send + 'static) -> Result<(), Error> {
    let grpc = test_service(Server::new(weir_tokio::Tokio), weir_tokio::Tokio).into_service();
    let app =
        axum::Router::new().route("/healthz", axum::routing::get(|| async { "ok" })).fallback_service(grpc);
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
    eprintln!("interop server listening on {} (axum)", listener.local_addr()?);
    axum::serve(listener, app).with_graceful_shutdown(stop).await?;
    eprintln!("interop server stopped");
    Ok(())
}

/// How long calls in flight may finish after SIGTERM.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

async fn serve<R: Net>(
    rt: R,
    port: u16,
    tls: bool,
    web: bool,
    stop: impl Future<Output = ()> + Send,
) -> Result<(), Error> {
    let mut server = test_service(Server::new(rt.clone()), rt).shutdown_grace(SHUTDOWN_GRACE);
    if web {
        server = server.grpc_web(GrpcWeb::new().allow_any_origin());
    }
    if tls {
        let id = Identity::from_pem(certs::SERVER_CERT, certs::SERVER_KEY)?;
        server = server.tls_config(ServerTlsConfig::new(id))?;
    }
    let bound = server.bind(([127, 0, 0, 1], port).into()).await?;
    eprintln!("interop server listening on {}", bound.local_addr().expect("tcp"));
    bound.serve_with_shutdown(stop).await?;
    eprintln!("interop server stopped");
    Ok(())
}
