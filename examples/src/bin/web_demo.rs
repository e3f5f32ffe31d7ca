//! `web_demo [GRPC_ADDR] [PAGE_ADDR] [ALLOWED_ORIGIN]`: helloworld.Greeter
//! for browsers.
//! Serves the Greeter (default 127.0.0.1:50051) to gRPC clients and, with
//! `Server::grpc_web`, to gRPC-Web clients on the same port, allowing calls
//! from the page's origin only; and serves that page from a second port
//! (default 127.0.0.1:8080), so the browser's calls are cross-origin (CORS
//! preflight included). `ALLOWED_ORIGIN` replaces the page's origin in
//! that rule (to see a browser refuse the replies). Runs until Ctrl-C or SIGTERM. Prints
//! `Greeter listening on GRPC_ADDR page on http://PAGE_ADDR/` first.
//!
//! The page (`examples/web/index.html`, its script bundled from
//! `examples/web/src/app.js` into `examples/web/dist/app.js` by
//! `scripts/setup-browser.sh`) makes a unary SayHello, a server-streaming
//! SayHelloStreamReply and a call to a method the server does not have,
//! and renders the replies and the status. Its descriptors come from the
//! FileDescriptorSet weir-build wrote for the example protos, served as
//! `/descriptors.binpb`. `WEB_DIR` overrides where `dist/app.js` is read
//! from (default: this crate's `web/`).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use tokio::net::TcpListener;
use weir_examples::greeter::MyGreeter;
use weir_examples::helloworld::greeter_server::GreeterServer;
use weir_examples::tiny_http::{self, Reply};
use weir_rt::GrpcWeb;
use weir_tokio::Server;

/// The page, with `{{GRPC_BASE_URL}}` where the gRPC server's URL goes.
const INDEX_HTML: &str = include_str!("../../web/index.html");

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let arg = |i: usize, default: &str| std::env::args().nth(i).unwrap_or_else(|| default.into());
    let grpc_addr: SocketAddr = arg(1, "127.0.0.1:50051").parse()?;
    let page_addr: SocketAddr = arg(2, "127.0.0.1:8080").parse()?;
    let web_dir = std::env::var_os("WEB_DIR")
        .map_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("web"), PathBuf::from);
    let bundle = web_dir.join("dist/app.js");
    if !bundle.is_file() {
        eprintln!("warning: {} is missing: run scripts/setup-browser.sh to build it", bundle.display());
    }

    // The page's port first: its origin is the one gRPC-Web calls may come from.
    let listener = TcpListener::bind(page_addr).await?;
    let page_addr = listener.local_addr()?;
    let web = match std::env::args().nth(3) {
        Some(origin) => GrpcWeb::new().allow_origin(origin),
        None if page_addr.ip().is_loopback() => GrpcWeb::new()
            .allow_origin(format!("http://{page_addr}"))
            .allow_origin(format!("http://localhost:{}", page_addr.port())),
        None => GrpcWeb::new().allow_origin(format!("http://{page_addr}")),
    };
    let bound =
        Server::builder().add_service(GreeterServer::new(MyGreeter)).grpc_web(web).bind(grpc_addr).await?;
    let grpc_addr = bound.local_addr().expect("tcp");
    let stop = weir_tokio::shutdown_signal();
    println!("Greeter listening on {grpc_addr} page on http://{page_addr}/");

    let page = Arc::new(Page {
        index: INDEX_HTML.replace("{{GRPC_BASE_URL}}", &format!("http://{grpc_addr}")),
        bundle,
    });
    tokio::spawn(tiny_http::serve(listener, move |path| {
        let reply = page_file(&path, &page);
        async move { reply }
    }));
    bound.serve_with_shutdown(stop).await?;
    Ok(())
}

/// What the page listener serves.
struct Page {
    /// index.html, filled in.
    index: String,
    /// The bundled script, read on each request (rebuilt without a restart;
    /// a small file, read in place).
    bundle: PathBuf,
}

/// The page's files: `GET /` (the page), `/app.js` and `/descriptors.binpb`;
/// anything else 404.
fn page_file(path: &str, page: &Page) -> Reply {
    match path {
        "/" | "/index.html" => Reply::ok("text/html; charset=utf-8", page.index.as_bytes()),
        "/app.js" => match std::fs::read(&page.bundle) {
            Ok(script) => Reply::ok("text/javascript; charset=utf-8", script),
            Err(e) => Reply::text(
                "404 Not Found",
                format!("{}: {e}: run scripts/setup-browser.sh\n", page.bundle.display()),
            ),
        },
        "/descriptors.binpb" => Reply::ok("application/octet-stream", weir_examples::FILE_DESCRIPTOR_SET),
        _ => Reply::text("404 Not Found", "not found\n"),
    }
}
