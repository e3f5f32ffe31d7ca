//! Weir's client speaking gRPC-Web over HTTP/1.1 (`Endpoint::grpc_web`):
//! against Weir's server (`Server::grpc_web`, its own HTTP/1.1 driver) on
//! tokio and smol, and against the same services mounted in axum
//! (`Server::into_service`, hyper's HTTP/1.1). PROTOCOL-WEB: requests are
//! `application/grpc-web+proto` POSTs, the status comes in the trailers
//! frame (or a trailers-only head).

mod suite;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures::StreamExt;
use suite::{Observed, certs, start, test_server, wait_until};
use weir_rt::runtime::Net;
use weir_rt::stats::{ConnInfo, StatsHandler};
use weir_rt::tls::{ClientTlsConfig, Identity, ServerTlsConfig};
use weir_rt::{Channel, Code, Endpoint, GrpcWeb, Metadata, Method, Request, Response, Server, Status};

/// Counts the connections a server accepted.
#[derive(Default)]
struct Conns(AtomicUsize);

impl StatsHandler for Conns {
    fn conn_open(&self, _: &ConnInfo) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

fn web_server<R: Net>(rt: R, obs: Arc<Observed>) -> Server<R> {
    test_server(rt, obs)
        .grpc_web(GrpcWeb::new())
        .route(
            "/test.Test/Meta",
            Method::unary(|req| async move {
                let who = req.metadata().get("x-who").cloned().unwrap_or_default();
                let mut resp = Response::new(who.clone());
                resp.metadata_mut().insert("x-header", "from-handler").unwrap();
                resp.trailers_mut().append_bin("x-trailer-bin", who).unwrap();
                Ok(resp)
            }),
        )
        .route(
            "/test.Test/Fail",
            Method::unary(|_| async move {
                let mut md = Metadata::new();
                md.insert("x-why", "because").unwrap();
                Err(Status::new(Code::FailedPrecondition, "not now: 100% sure").with_metadata(md))
            }),
        )
        .route(
            "/test.Test/Zip",
            Method::unary(|req: Request<Bytes>| async move {
                if !req.message_compressed() {
                    return Err(Status::new(Code::InvalidArgument, "request was not compressed"));
                }
                let mut resp = Response::new(req.into_inner());
                resp.set_compression("gzip");
                Ok(resp)
            }),
        )
}

async fn web_channel<R: Net + Default>(url: &str) -> Channel {
    Endpoint::<R>::new(url).unwrap().grpc_web(true).connect().await.expect("connect")
}

fn req(b: impl Into<Bytes>) -> Request<Bytes> {
    Request::new(b.into())
}

fn count_size(count: u32, size: u32) -> Bytes {
    let mut v = count.to_be_bytes().to_vec();
    v.extend_from_slice(&size.to_be_bytes());
    v.into()
}

/// The call kinds gRPC-Web carries over HTTP/1.1, statuses, metadata both
/// ways and compression, all on one connection (keep-alive).
async fn calls_of_every_kind(ch: &Channel) {
    let r = ch.unary("/test.Test/Unary", req(&b"hello"[..])).await.unwrap();
    assert_eq!(r.into_inner(), Bytes::from_static(b"hello"));

    let mut s =
        ch.server_streaming("/test.Test/ServerStream", req(count_size(5, 100))).await.unwrap().into_inner();
    let mut n = 0;
    while let Some(m) = s.message().await.unwrap() {
        assert_eq!(m.len(), 100);
        n += 1;
    }
    assert_eq!(n, 5);

    let upload = futures::stream::iter((0..10).map(|i| Bytes::from(vec![i as u8; 1000])));
    let r = ch.client_streaming("/test.Test/ClientStream", Request::new(upload)).await.unwrap();
    assert_eq!(u64::from_be_bytes(r.into_inner()[..].try_into().unwrap()), 10_000);

    // Bidi, half duplex: every request, then every reply.
    let upload = futures::stream::iter((0..10u8).map(|i| Bytes::from(vec![i; 10])));
    let replies = ch.streaming("/test.Test/Bidi", Request::new(upload)).await.unwrap().into_inner();
    let got: Vec<Bytes> = replies.map(|r| r.unwrap()).collect().await;
    assert_eq!(got, (0..10u8).map(|i| Bytes::from(vec![i; 10])).collect::<Vec<_>>());

    let mut r = req(Bytes::new());
    r.metadata_mut().insert("x-who", "tester").unwrap();
    let resp = ch.unary("/test.Test/Meta", r).await.unwrap();
    assert_eq!(resp.metadata().get_str("x-header"), Some("from-handler"));
    assert_eq!(resp.trailers().get("x-trailer-bin").map(|v| &v[..]), Some(&b"tester"[..]));

    let err = ch.unary("/test.Test/Fail", req(Bytes::new())).await.unwrap_err();
    assert_eq!((err.code, err.message.as_str()), (Code::FailedPrecondition, "not now: 100% sure"));
    assert_eq!(err.metadata.get_str("x-why"), Some("because"));

    let err = ch.unary("/test.Test/Nope", req(Bytes::new())).await.unwrap_err();
    assert_eq!(err.code, Code::Unimplemented, "{err}");

    let body = Bytes::from(b"compress me ".repeat(10_000));
    let mut r = req(body.clone());
    r.set_compression("gzip");
    let resp = ch.unary("/test.Test/Zip", r).await.unwrap();
    assert_eq!(resp.into_inner(), body);

    // 8 MiB from the server through the call's bounded queue.
    let mut s = ch
        .server_streaming("/test.Test/ServerStream", req(count_size(8, 1 << 20)))
        .await
        .unwrap()
        .into_inner();
    let mut total = 0;
    while let Some(m) = s.message().await.unwrap() {
        assert!(m.iter().all(|&b| b == 0xab));
        total += m.len();
    }
    assert_eq!(total, 8 << 20);
}

async fn every_kind_on_one_connection<R: Net + Default>(rt: R) {
    let conns = Arc::new(Conns::default());
    let server = start(&rt, web_server(rt.clone(), Default::default()).stats_handler(conns.clone())).await;
    let ch = web_channel::<R>(&server.url()).await;
    calls_of_every_kind(&ch).await;
    assert_eq!(conns.0.load(Ordering::SeqCst), 1, "every call reused the one connection");
    server.stop().await;
}

/// HTTP/1.1 carries one call at a time: concurrent calls wait their turn
/// on the connection, and all succeed.
async fn concurrent_calls_take_turns<R: Net + Default>(rt: R) {
    let server = start(&rt, web_server(rt.clone(), Default::default())).await;
    let ch = web_channel::<R>(&server.url()).await;
    let calls = (0..20u8).map(|i| {
        let ch = ch.clone();
        async move { ch.unary("/test.Test/Unary", req(vec![i; 3])).await.map(|r| r.into_inner()) }
    });
    let got = futures::future::join_all(calls).await;
    for (i, r) in got.into_iter().enumerate() {
        assert_eq!(r.unwrap(), Bytes::from(vec![i as u8; 3]));
    }
    server.stop().await;
}

/// A deadline the server enforces (grpc-timeout) and the client's own:
/// DEADLINE_EXCEEDED, the handler cancelled, and the channel still works
/// (on a new connection: cancelling an exchange closes its connection).
async fn deadlines_and_cancellation<R: Net + Default>(rt: R) {
    let obs = Arc::new(Observed::default());
    let server = start(&rt, web_server(rt.clone(), obs.clone())).await;
    let ch = web_channel::<R>(&server.url()).await;
    let mut r = req(Bytes::copy_from_slice(&5_000u32.to_be_bytes()));
    r.set_timeout(Duration::from_millis(100));
    let t0 = Instant::now();
    let err = ch.unary("/test.Test/Sleep", r).await.unwrap_err();
    assert_eq!(err.code, Code::DeadlineExceeded, "{err}");
    assert!(t0.elapsed() < Duration::from_secs(2));
    wait_until(&rt, || obs.cancelled.load(Ordering::SeqCst) == 1).await;
    let r = ch.unary("/test.Test/Unary", req(&b"after"[..])).await.unwrap();
    assert_eq!(r.into_inner(), Bytes::from_static(b"after"));
    server.stop().await;
}

/// Cancelling a call under way closes its HTTP/1.1 connection (the only
/// way to stop an exchange); the calls waiting behind it go out on a new
/// connection the driver dials, and all succeed.
async fn calls_waiting_behind_a_cancelled_one_go_out_on_a_new_connection<R: Net + Default>(rt: R) {
    let obs = Arc::new(Observed::default());
    let conns = Arc::new(Conns::default());
    let server = start(&rt, web_server(rt.clone(), obs.clone()).stats_handler(conns.clone())).await;
    let ch = web_channel::<R>(&server.url()).await;
    let sleeper = {
        let ch = ch.clone();
        Box::pin(async move {
            ch.unary("/test.Test/Sleep", req(Bytes::copy_from_slice(&10_000u32.to_be_bytes()))).await
        })
    };
    let started = {
        let (rt, obs) = (rt.clone(), obs.clone());
        Box::pin(async move { wait_until(&rt, || obs.started.load(Ordering::SeqCst) == 1).await })
    };
    let sleeper = match futures::future::select(sleeper, started).await {
        futures::future::Either::Left((r, _)) => panic!("finished early: {r:?}"),
        futures::future::Either::Right(((), sleeper)) => sleeper,
    };
    let queued = (0..5u8).map(|i| {
        let ch = ch.clone();
        async move { ch.unary("/test.Test/Unary", req(vec![i; 2])).await.map(|r| r.into_inner()) }
    });
    let queued = futures::future::join_all(queued);
    futures::pin_mut!(queued);
    // Let them reach the connection's queue, then cancel the one under way.
    let nudge = rt.sleep_until(rt.now() + Duration::from_millis(50));
    if let futures::future::Either::Left(_) = futures::future::select(&mut queued, nudge).await {
        panic!("the queued calls went out while the connection was busy");
    }
    drop(sleeper);
    for (i, r) in queued.await.into_iter().enumerate() {
        assert_eq!(r.unwrap(), Bytes::from(vec![i as u8; 2]));
    }
    wait_until(&rt, || obs.cancelled.load(Ordering::SeqCst) == 1).await;
    assert_eq!(conns.0.load(Ordering::SeqCst), 2, "one new connection after the cancel");
    server.stop().await;
}

/// TLS with ALPN `http/1.1`: the server (gRPC-Web on) picks its HTTP/1.1
/// driver for this client.
async fn over_tls<R: Net + Default>(rt: R) {
    let pki = certs::generate();
    let tls = ServerTlsConfig::new(Identity::from_pem(&pki.server_cert, &pki.server_key).unwrap());
    let server = start(&rt, web_server(rt.clone(), Default::default()).tls_config(tls).unwrap()).await;
    let tls = ClientTlsConfig::new().ca_pem(&pki.ca).unwrap();
    let ch =
        Endpoint::<R>::new(server.tls_url()).unwrap().tls_config(tls).grpc_web(true).connect().await.unwrap();
    let r = ch.unary("/test.Test/Unary", req(&b"over tls"[..])).await.unwrap();
    assert_eq!(r.into_inner(), Bytes::from_static(b"over tls"));
    server.stop().await;
}

/// A server that does not serve gRPC-Web over HTTP/1.1 (gRPC-Web off): the
/// call fails UNAVAILABLE (the connection is refused as not HTTP/2), it does
/// not hang.
async fn a_server_without_grpc_web_fails_the_call<R: Net + Default>(rt: R) {
    let server = start(&rt, test_server(rt.clone(), Default::default())).await;
    let ch = Endpoint::<R>::new(server.url()).unwrap().grpc_web(true).connect_lazy().unwrap();
    let mut r = req(&b"x"[..]);
    r.set_timeout(Duration::from_secs(5));
    let err = ch.unary("/test.Test/Unary", r).await.unwrap_err();
    assert!(matches!(err.code, Code::Unavailable | Code::Internal | Code::Unknown), "{err}");
    server.stop().await;
}

macro_rules! on_each_runtime {
    ($($name:ident),* $(,)?) => {
        mod on_tokio {
            $(
                #[test]
                fn $name() {
                    crate::suite::runners::run_on_tokio(super::$name);
                }
            )*
        }
        mod on_smol {
            $(
                #[test]
                fn $name() {
                    crate::suite::runners::run_on_smol(super::$name);
                }
            )*
        }
    };
}

on_each_runtime!(
    every_kind_on_one_connection,
    concurrent_calls_take_turns,
    deadlines_and_cancellation,
    calls_waiting_behind_a_cancelled_one_go_out_on_a_new_connection,
    over_tls,
    a_server_without_grpc_web_fails_the_call,
);

/// The same calls against the services mounted in axum: hyper's HTTP/1.1
/// and Weir's tower service, an implementation of the server side that
/// shares no HTTP code with Weir's client.
#[test]
fn against_the_services_mounted_in_axum() {
    suite::runners::run_on_tokio(|rt| async move {
        let app = axum::Router::new().fallback_service(web_server(rt, Default::default()).into_service());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        let ch = web_channel::<weir_tokio::Tokio>(&format!("http://{addr}")).await;
        calls_of_every_kind(&ch).await;
    });
}
