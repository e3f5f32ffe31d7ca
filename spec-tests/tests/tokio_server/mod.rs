//! The real tokio server as a conformance target.

/// A weir-tokio server on 127.0.0.1 with one unary echo method, served by a
/// runtime on a background thread for the rest of the test process.
pub fn start() -> std::net::SocketAddr {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
        rt.block_on(async move {
            let bound = weir_tokio::Server::builder()
                .route(
                    "/spec.Echo/Say",
                    weir_tokio::Method::unary(|req| async move {
                        Ok(weir_tokio::Response::new(req.into_inner()))
                    }),
                )
                .bind("127.0.0.1:0".parse().expect("addr"))
                .await
                .expect("bind");
            tx.send(bound.local_addr().expect("tcp address")).expect("report address");
            bound.serve().await.expect("serve");
        });
    });
    rx.recv().expect("server address")
}
