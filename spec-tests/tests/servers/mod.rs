//! Real servers as conformance targets: the tokio server, and weir-core in
//! a mio event loop.

/// A weir-tokio server on 127.0.0.1 with one unary echo method, served by a
/// runtime on a background thread for the rest of the test process.
pub fn start() -> std::net::SocketAddr {
    start_server(false)
}

/// The same server with gRPC-Web on: HTTP/2 and HTTP/1.1 share its port
/// (each connection's first octets choose the driver).
pub fn start_with_grpc_web() -> std::net::SocketAddr {
    start_server(true)
}

fn start_server(grpc_web: bool) -> std::net::SocketAddr {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
        rt.block_on(async move {
            let mut server = weir_tokio::Server::builder().route(
                "/spec.Echo/Say",
                weir_tokio::Method::unary(
                    |req| async move { Ok(weir_tokio::Response::new(req.into_inner())) },
                ),
            );
            if grpc_web {
                server = server.grpc_web(weir_tokio::GrpcWeb::new());
            }
            let bound = server.bind("127.0.0.1:0".parse().expect("addr")).await.expect("bind");
            tx.send(bound.local_addr().expect("tcp address")).expect("report address");
            bound.serve().await.expect("serve");
        });
    });
    rx.recv().expect("server address")
}

/// weir-core in a mio event loop with no async runtime (`weir-embed-mio`,
/// serving grpc.testing.TestService), on a thread of its own for the rest
/// of the test process.
pub fn start_mio() -> std::net::SocketAddr {
    let addr = "127.0.0.1:0".parse().expect("addr");
    let server = weir_embed_mio::EventLoop::bind(addr, Default::default()).expect("bind");
    let addr = server.local_addr().expect("bound address");
    std::thread::spawn(move || server.run());
    addr
}
