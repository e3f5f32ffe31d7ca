//! Serving and calling over async-std's `TcpListener` and `TcpStream`,
//! wrapped in `FuturesIo`: the server takes a stream of accepted connections
//! (`StreamListener`), the client dials with `Endpoint::connector`.
//!
//! async-std's sockets are async-io sockets, driven by async-io's reactor
//! thread, so they need no particular executor. The test body runs on
//! async-std's own (`async_std::task::block_on`); the connection drivers and
//! handlers spawn on smol's global executor through `Smol::default()` (a
//! `Runtime` must be able to spawn, and async-std exposes no executor handle;
//! it is deprecated in favour of smol).

mod suite;

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use async_std::net::{TcpListener, TcpStream};
use futures::{Stream, StreamExt};
use suite::certs;
use weir_rt::runtime::PeerInfo;
use weir_smol::{Endpoint, FuturesIo, Server, Smol, StreamListener};

/// The connections an async-std listener accepts.
fn incoming(listener: TcpListener) -> impl Stream<Item = io::Result<(FuturesIo<TcpStream>, PeerInfo)>> {
    futures::stream::unfold(listener, |listener| async move {
        let accepted = listener.accept().await.map(|(stream, addr)| {
            stream.set_nodelay(true).ok();
            (FuturesIo(stream), PeerInfo { addr: Some(addr), ..PeerInfo::default() })
        });
        Some((accepted, listener))
    })
}

/// Serves `server` on an async-std listener of a free loopback port.
async fn serve(server: Server) -> suite::Running {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let listener = StreamListener::new(incoming(listener).boxed()).with_local_addr(addr);
    suite::spawn_bound(&Smol::default(), server.with_listener(Box::new(listener)))
}

/// An endpoint dialing `addr` with async-std, counting its connections.
fn dial(url: String, addr: SocketAddr, dials: Arc<AtomicUsize>) -> Endpoint {
    Endpoint::new(url).unwrap().connector(move || {
        dials.fetch_add(1, Ordering::SeqCst);
        async move {
            let stream = TcpStream::connect(addr).await?;
            stream.set_nodelay(true)?;
            Ok(FuturesIo(stream))
        }
    })
}

fn run(test: impl Future<Output = ()>) {
    async_std::task::block_on(async_std::future::timeout(Duration::from_secs(60), test)).expect("timed out");
}

#[test]
fn all_kinds_over_async_std_sockets() {
    run(async {
        let server = serve(suite::test_server(Smol::default(), Default::default())).await;
        let dials = Arc::new(AtomicUsize::new(0));
        let ch = dial(server.url(), server.addr.unwrap(), dials.clone()).connect().await.unwrap();
        suite::four_call_kinds(&ch).await;
        assert_eq!(dials.load(Ordering::SeqCst), 1, "one connection, through the connector");
        server.stop().await;
    });
}

#[test]
fn tls_over_async_std_sockets() {
    run(async {
        let pki = certs::generate();
        let server = serve(suite::tls_server(Smol::default(), Default::default(), &pki)).await;
        let tls = weir_rt::tls::ClientTlsConfig::new().ca_pem(&pki.ca).unwrap();
        let dials = Arc::new(AtomicUsize::new(0));
        let ch = dial(server.tls_url(), server.addr.unwrap(), dials).tls_config(tls).connect().await.unwrap();
        suite::four_call_kinds(&ch).await;
        server.stop().await;
    });
}

#[test]
fn connector_reconnects_after_server_restart() {
    run(async {
        let first = serve(suite::test_server(Smol::default(), Default::default())).await;
        let addr = first.addr.unwrap();
        let dials = Arc::new(AtomicUsize::new(0));
        let backoff = weir_rt::Backoff { initial: Duration::from_millis(20), ..Default::default() };
        let ch = dial(first.url(), addr, dials.clone()).backoff(backoff).connect().await.unwrap();
        ch.unary("/test.Test/Unary", weir_rt::Request::new(bytes::Bytes::from_static(b"one"))).await.unwrap();
        first.stop().await;
        let listener = TcpListener::bind(addr).await.unwrap();
        let listener = StreamListener::new(incoming(listener).boxed()).with_local_addr(addr);
        let second = suite::spawn_bound(
            &Smol::default(),
            suite::test_server(Smol::default(), Default::default()).with_listener(Box::new(listener)),
        );
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        while ch.unary("/test.Test/Unary", weir_rt::Request::new(bytes::Bytes::new())).await.is_err() {
            assert!(std::time::Instant::now() < deadline, "did not reconnect");
            async_std::task::sleep(Duration::from_millis(20)).await;
        }
        assert!(dials.load(Ordering::SeqCst) >= 2, "reconnected through the connector");
        second.stop().await;
    });
}
