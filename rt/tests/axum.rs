//! A Weir server's services mounted in an axum `Router` (`Server::into_service`):
//! REST routes and gRPC calls answered on one port, served by axum (hyper),
//! and called by Weir's own client (HTTP/2), raw HTTP/1.1 and curl.
//!
//! The gRPC side is checked as on Weir's own server: the four call kinds,
//! large streams with backpressure, deadlines and cancellation reaching the
//! handler, interceptors, metadata both ways, and the PROTOCOL-HTTP2 answer
//! to a request that is not gRPC (415).

mod suite;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use axum::routing::get;
use bytes::Bytes;
use suite::{Observed, test_server, wait_until};
use weir_rt::{Code, Endpoint, Metadata, Method, Request, Response, Server, Status};
use weir_tokio::Tokio;

/// Serves `app` on a free loopback port (HTTP/1.1 and h2c, as axum does).
async fn serve(app: axum::Router) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    addr
}

/// A REST app with the test service as its fallback.
fn app(server: Server<Tokio>) -> axum::Router {
    axum::Router::new()
        .route("/healthz", get(|| async { "ok" }))
        .route(
            "/api/items/{id}",
            get(|axum::extract::Path(id): axum::extract::Path<u32>| async move { format!("item {id}") }),
        )
        .fallback_service(server.into_service())
}

async fn channel(addr: SocketAddr) -> weir_rt::Channel {
    Endpoint::<Tokio>::new(format!("http://{addr}")).unwrap().connect().await.expect("connect")
}

/// An HTTP/1.1 GET on a fresh connection: status line and body.
async fn http1_get(addr: SocketAddr, path: &str) -> (String, String) {
    let path = path.to_string();
    tokio::task::spawn_blocking(move || {
        let mut s = TcpStream::connect(addr).unwrap();
        write!(s, "GET {path} HTTP/1.1\r\nhost: test\r\nconnection: close\r\n\r\n").unwrap();
        let mut out = String::new();
        s.read_to_string(&mut out).unwrap();
        let status = out.lines().next().unwrap_or_default().to_string();
        let body = out.split("\r\n\r\n").nth(1).unwrap_or_default().to_string();
        (status, body)
    })
    .await
    .unwrap()
}

fn run(scenario: impl std::future::Future<Output = ()>) {
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    rt.block_on(async { tokio::time::timeout(Duration::from_secs(60), scenario).await.expect("timed out") });
}

#[test]
fn rest_routes_and_grpc_calls_share_one_port() {
    run(async {
        let addr = serve(app(test_server(Tokio, Default::default()))).await;
        let ch = channel(addr).await;
        suite::four_call_kinds(&ch).await;
        assert_eq!(http1_get(addr, "/healthz").await, ("HTTP/1.1 200 OK".into(), "ok".into()));
        assert_eq!(http1_get(addr, "/api/items/7").await.1, "item 7");
        // A REST request after gRPC calls, and gRPC calls after REST ones.
        suite::call_kinds_against_any_server(&ch).await;
    });
}

#[test]
fn route_service_mounts_the_services_under_their_paths() {
    run(async {
        let grpc = test_server(Tokio, Default::default()).into_service();
        let app = axum::Router::new()
            .route("/healthz", get(|| async { "ok" }))
            .route_service("/test.Test/{method}", grpc);
        let addr = serve(app).await;
        let ch = channel(addr).await;
        suite::call_kinds_against_any_server(&ch).await;
        // axum answers what is not routed.
        let err = ch.unary("/other.Svc/Nope", Request::new(Bytes::new())).await.unwrap_err();
        assert_ne!(err.code, Code::Ok);
        assert_eq!(http1_get(addr, "/healthz").await.1, "ok");
    });
}

#[test]
fn large_streams_both_ways_with_backpressure() {
    run(async {
        let addr = serve(app(test_server(Tokio, Default::default()))).await;
        suite::large_transfers(&channel(addr).await).await;
    });
}

#[test]
fn deadline_exceeded_cancels_the_handler() {
    run(async {
        let obs = Arc::new(Observed::default());
        let addr = serve(app(test_server(Tokio, obs.clone()))).await;
        let ch = channel(addr).await;
        let mut r = Request::new(Bytes::copy_from_slice(&5_000u32.to_be_bytes()));
        r.set_timeout(Duration::from_millis(100));
        let t0 = Instant::now();
        let err = ch.unary("/test.Test/Sleep", r).await.unwrap_err();
        assert_eq!(err.code, Code::DeadlineExceeded, "{err}");
        assert!(t0.elapsed() < Duration::from_secs(2));
        wait_until(&Tokio, || obs.cancelled.load(Ordering::SeqCst) == 1).await;
        assert_eq!(obs.finished.load(Ordering::SeqCst), 0);
    });
}

#[test]
fn a_client_that_goes_away_cancels_the_handler() {
    run(async {
        let obs = Arc::new(Observed::default());
        let addr = serve(app(test_server(Tokio, obs.clone()))).await;
        let ch = channel(addr).await;
        let call = {
            let ch = ch.clone();
            tokio::spawn(async move {
                ch.unary("/test.Test/Sleep", Request::new(Bytes::copy_from_slice(&10_000u32.to_be_bytes())))
                    .await
            })
        };
        wait_until(&Tokio, || obs.started.load(Ordering::SeqCst) == 1).await;
        call.abort();
        wait_until(&Tokio, || obs.cancelled.load(Ordering::SeqCst) == 1).await;
        ch.unary("/test.Test/Unary", Request::new(Bytes::from_static(b"still here"))).await.unwrap();
    });
}

#[test]
fn interceptors_metadata_and_statuses_go_through() {
    run(async {
        let afters = Arc::new(AtomicUsize::new(0));
        let seen = afters.clone();
        let auth = weir_rt::interceptor::from_fn(|_, md| match md.get_str("authorization") {
            Some("Bearer let-me-in") => Ok(()),
            _ => Err(Status::new(Code::Unauthenticated, "missing token")),
        });
        let counting = Arc::new(CountAfters(seen));
        let server = Server::new(Tokio)
            .interceptor(counting)
            .interceptor(auth)
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
            );
        let addr = serve(app(server)).await;
        let ch = channel(addr).await;
        let err = ch.unary("/test.Test/Meta", Request::new(Bytes::new())).await.unwrap_err();
        assert_eq!((err.code, err.message.as_str()), (Code::Unauthenticated, "missing token"));

        let mut r = Request::new(Bytes::new());
        r.metadata_mut().insert("authorization", "Bearer let-me-in").unwrap();
        r.metadata_mut().insert("x-who", "tester").unwrap();
        let resp = ch.unary("/test.Test/Meta", r).await.unwrap();
        assert_eq!(resp.metadata().get_str("x-header"), Some("from-handler"));
        assert_eq!(resp.trailers().get("x-trailer-bin").map(|v| &v[..]), Some(&b"tester"[..]));
        assert_eq!(resp.get_ref(), &Bytes::from_static(b"tester"));

        let mut r = Request::new(Bytes::new());
        r.metadata_mut().insert("authorization", "Bearer let-me-in").unwrap();
        let err = ch.unary("/test.Test/Fail", r).await.unwrap_err();
        assert_eq!((err.code, err.message.as_str()), (Code::FailedPrecondition, "not now: 100% sure"));
        assert_eq!(err.metadata.get_str("x-why"), Some("because"));
        // Three calls, three `after` hooks.
        wait_until(&Tokio, || afters.load(Ordering::SeqCst) == 3).await;
    });
}

/// Counts the `after` hooks run.
struct CountAfters(Arc<AtomicUsize>);

impl weir_rt::Interceptor for CountAfters {
    fn before<'a>(
        &'a self,
        _: &'a weir_rt::request::CallInfo,
        _: &'a mut weir_rt::request::RequestHead,
    ) -> weir_rt::runtime::BoxFuture<'a, Result<(), Status>> {
        Box::pin(async { Ok(()) })
    }

    fn after<'a>(
        &'a self,
        _: &'a weir_rt::request::CallInfo,
        _: &'a mut Status,
    ) -> weir_rt::runtime::BoxFuture<'a, ()> {
        self.0.fetch_add(1, Ordering::SeqCst);
        Box::pin(async {})
    }
}

/// A gRPC-Web frame holding one message.
fn frame(msg: &[u8]) -> Vec<u8> {
    let mut f = vec![0];
    f.extend_from_slice(&(msg.len() as u32).to_be_bytes());
    f.extend_from_slice(msg);
    f
}

/// curl POSTs a gRPC-Web body (`--http1.1` or h2c): the response body
/// holds the echoed message, then the trailers frame (PROTOCOL-WEB: flag
/// 0x80, `grpc-status: 0`).
fn curl_grpc_web(addr: SocketAddr, http: &str) -> Vec<u8> {
    let body_file = std::env::temp_dir().join(format!("weir-axum-{}-{http}.bin", std::process::id()));
    std::fs::write(&body_file, frame(b"from curl")).unwrap();
    let out = std::process::Command::new("curl")
        .args([http, "-s", "--max-time", "10", "--data-binary", &format!("@{}", body_file.display())])
        .args(["-H", "content-type: application/grpc-web+proto", "-H", "x-grpc-web: 1"])
        .arg(format!("http://{addr}/test.Test/Unary"))
        .output()
        .expect("run curl (apt-get install curl)");
    let _ = std::fs::remove_file(&body_file);
    assert!(out.status.success(), "curl failed: {}", String::from_utf8_lossy(&out.stderr));
    out.stdout
}

#[test]
fn grpc_web_clients_are_served_over_http1_and_http2() {
    run(async {
        let addr = serve(app(test_server(Tokio, Default::default()))).await;
        for http in ["--http1.1", "--http2-prior-knowledge"] {
            let body = tokio::task::spawn_blocking(move || curl_grpc_web(addr, http)).await.unwrap();
            let mut expected = frame(b"from curl");
            expected.extend_from_slice(&[0x80, 0, 0, 0, 16]);
            expected.extend_from_slice(b"grpc-status: 0\r\n");
            assert_eq!(body, expected, "{http}: {:?}", String::from_utf8_lossy(&body));
        }
    });
}

#[test]
fn a_request_that_is_not_grpc_is_415() {
    run(async {
        let addr = serve(app(test_server(Tokio, Default::default()))).await;
        let raw = tokio::task::spawn_blocking(move || {
            let mut s = TcpStream::connect(addr).unwrap();
            let body = "{}";
            write!(
                s,
                "POST /test.Test/Unary HTTP/1.1\r\nhost: t\r\ncontent-type: application/json\r\n\
                 content-length: {}\r\nconnection: close\r\n\r\n{body}",
                body.len()
            )
            .unwrap();
            let mut out = String::new();
            s.read_to_string(&mut out).unwrap();
            out
        })
        .await
        .unwrap();
        assert!(raw.starts_with("HTTP/1.1 415"), "{raw}");
        assert!(raw.contains("grpc-status: 3"), "{raw}");
    });
}

#[test]
fn unary_request_without_a_message_is_internal() {
    run(async {
        let addr = serve(app(test_server(Tokio, Default::default()))).await;
        let ch = channel(addr).await;
        // A client stream with no message, sent to a unary method.
        let empty = futures::stream::iter(Vec::<Bytes>::new());
        let err = ch.client_streaming("/test.Test/Unary", Request::new(empty)).await.unwrap_err();
        assert_eq!(err.code, Code::Internal, "{err}");
    });
}

#[test]
fn a_small_per_call_budget_still_lets_a_large_upload_through() {
    run(async {
        // A budget of 1 MiB a call: a 4 MiB upload still completes (the
        // handler takes messages as they come, freeing the budget).
        let server = test_server(Tokio, Default::default()).connection_memory_budget(1 << 20);
        let addr = serve(app(server)).await;
        let ch = channel(addr).await;
        let chunk = Bytes::from(vec![1u8; 64 << 10]);
        let upload = futures::stream::iter((0..64).map(move |_| chunk.clone()));
        let r = ch.client_streaming("/test.Test/ClientStream", Request::new(upload)).await.unwrap();
        assert_eq!(u64::from_be_bytes(r.into_inner()[..].try_into().unwrap()), 64 * (64 << 10));
    });
}

// ----- the other way round: axum as the fallback of a Weir server ----------------

/// REST routes for a Weir server's fallback: a plain GET, an echo of the
/// request body, and a streamed (chunked) response.
fn rest_routes() -> axum::Router {
    use axum::body::Body;
    axum::Router::new()
        .route("/healthz", get(|| async { "ok" }))
        .route("/echo", axum::routing::post(|body: Bytes| async move { body }))
        .route(
            "/stream",
            get(|| async {
                let chunks = (0..5).map(|i| Ok::<_, std::io::Error>(Bytes::from(format!("chunk {i}\n"))));
                Body::from_stream(futures::stream::iter(chunks))
            }),
        )
        // Bodies of any size (axum refuses more than 2 MB by default).
        .layer(axum::extract::DefaultBodyLimit::disable())
}

/// Weir's own server with the test service and `rest_routes` as fallback.
async fn weir_with_fallback(server: Server<Tokio>) -> suite::Running {
    suite::start(&Tokio, server.fallback(rest_routes())).await
}

/// Sends raw HTTP/1.1 requests on one connection and reads until `until`
/// responses' worth of text arrived (the connection is closed by the last
/// request's `connection: close`).
async fn http1_exchange(addr: SocketAddr, requests: Vec<u8>) -> String {
    tokio::task::spawn_blocking(move || {
        let mut s = TcpStream::connect(addr).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        s.write_all(&requests).unwrap();
        let mut out = Vec::new();
        s.read_to_end(&mut out).unwrap();
        String::from_utf8_lossy(&out).into_owned()
    })
    .await
    .unwrap()
}

#[test]
fn an_axum_router_as_the_fallback_of_a_weir_server() {
    run(async {
        let server = weir_with_fallback(test_server(Tokio, Default::default())).await;
        let addr = server.addr.unwrap();
        // gRPC on Weir's own driver, HTTP/2.
        suite::four_call_kinds(&channel(addr).await).await;
        // REST over HTTP/1.1 on the same port, three requests on one connection.
        let raw = http1_exchange(
            addr,
            b"GET /healthz HTTP/1.1\r\nhost: t\r\n\r\n\
              POST /echo HTTP/1.1\r\nhost: t\r\ncontent-length: 5\r\n\r\nhello\
              GET /nope HTTP/1.1\r\nhost: t\r\nconnection: close\r\n\r\n"
                .to_vec(),
        )
        .await;
        assert_eq!(raw.matches("HTTP/1.1 200 OK\r\n").count(), 2, "{raw}");
        assert_eq!(raw.matches("HTTP/1.1 404 Not Found\r\n").count(), 1, "{raw}");
        assert!(raw.contains("\r\n\r\nok"), "{raw}");
        assert!(raw.contains("\r\n\r\nhello"), "{raw}");
        // A streamed response goes out chunked, as it comes.
        let raw =
            http1_exchange(addr, b"GET /stream HTTP/1.1\r\nhost: t\r\nconnection: close\r\n\r\n".to_vec())
                .await;
        assert!(raw.to_ascii_lowercase().contains("transfer-encoding: chunked"), "{raw}");
        for i in 0..5 {
            assert!(raw.contains(&format!("chunk {i}\n")), "{raw}");
        }
        server.stop().await;
    });
}

#[test]
fn a_large_request_body_reaches_the_fallback_through_its_bounded_queue() {
    run(async {
        let server = weir_with_fallback(test_server(Tokio, Default::default())).await;
        let addr = server.addr.unwrap();
        // 8 MiB, far above the 64 KiB the driver queues for the service: it
        // arrives whole, in order, with the connection read as it is taken.
        let body: Vec<u8> = (0..8u32 << 20).map(|i| (i % 251) as u8).collect();
        let mut req = format!(
            "POST /echo HTTP/1.1\r\nhost: t\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
            body.len()
        )
        .into_bytes();
        req.extend_from_slice(&body);
        let raw = tokio::task::spawn_blocking(move || {
            let mut s = TcpStream::connect(addr).unwrap();
            s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
            let mut w = s.try_clone().unwrap();
            let writer = std::thread::spawn(move || w.write_all(&req).unwrap());
            let mut out = Vec::new();
            s.read_to_end(&mut out).unwrap();
            writer.join().unwrap();
            out
        })
        .await
        .unwrap();
        let split = raw.windows(4).position(|w| w == b"\r\n\r\n").expect("a head") + 4;
        assert!(raw.starts_with(b"HTTP/1.1 200 OK"));
        assert_eq!(raw[split..].len(), body.len());
        assert!(raw[split..] == body[..], "the echoed body differs");
        server.stop().await;
    });
}

#[test]
fn grpc_web_and_the_fallback_share_http1() {
    run(async {
        let server = test_server(Tokio, Default::default()).grpc_web(weir_rt::GrpcWeb::new());
        let server = weir_with_fallback(server).await;
        let addr = server.addr.unwrap();
        let body = tokio::task::spawn_blocking(move || curl_grpc_web(addr, "--http1.1")).await.unwrap();
        assert!(body.starts_with(&frame(b"from curl")), "{body:?}");
        assert_eq!(http1_get(addr, "/healthz").await, ("HTTP/1.1 200 OK".into(), "ok".into()));
        suite::call_kinds_against_any_server(&channel(addr).await).await;
        server.stop().await;
    });
}

/// PROTOCOL-WEB: the trailers frame carries the status and the trailing
/// metadata; a handler's error status keeps the metadata it was given, on
/// Weir's own HTTP/1.1 driver as through `into_service`.
#[test]
fn grpc_web_error_statuses_keep_their_trailing_metadata() {
    run(async {
        let fail = || {
            Server::new(Tokio).grpc_web(weir_rt::GrpcWeb::new()).route(
                "/test.Test/Fail",
                Method::unary(|_| async move {
                    let mut md = Metadata::new();
                    md.insert("x-why", "because").unwrap();
                    Err(Status::new(Code::FailedPrecondition, "not now").with_metadata(md))
                }),
            )
        };
        let own = suite::start(&Tokio, fail()).await;
        let mounted = serve(app(fail())).await;
        for addr in [own.addr.unwrap(), mounted] {
            let body = frame(b"");
            let mut req = format!(
                "POST /test.Test/Fail HTTP/1.1\r\nhost: t\r\ncontent-type: application/grpc-web+proto\r\n\
                 content-length: {}\r\nconnection: close\r\n\r\n",
                body.len()
            )
            .into_bytes();
            req.extend_from_slice(&body);
            let raw = http1_exchange(addr, req).await;
            assert!(raw.contains("grpc-status: 9\r\n"), "{raw}");
            assert!(raw.contains("grpc-message: not now\r\n"), "{raw}");
            assert!(raw.contains("x-why: because\r\n"), "{addr}: {raw}");
        }
        own.stop().await;
    });
}

/// With a fallback, TLS offers `http/1.1` before `h2`: a browser-like
/// client offering both gets HTTP/1.1 and the REST route, while a gRPC
/// client (only `h2`) keeps HTTP/2.
#[test]
fn on_tls_a_fallback_makes_browsers_use_http1() {
    use weir_rt::tls::{ClientTlsConfig, Identity, ServerTlsConfig, rustls};
    run(async {
        let pki = suite::certs::generate();
        let tls = ServerTlsConfig::new(Identity::from_pem(&pki.server_cert, &pki.server_key).unwrap());
        let server = test_server(Tokio, Default::default()).tls_config(tls).unwrap();
        let server = weir_with_fallback(server).await;
        let addr = server.addr.unwrap();
        let ca = pki.ca.clone();
        let (alpn, raw) = tokio::task::spawn_blocking(move || {
            let mut roots = rustls::RootCertStore::empty();
            for c in weir_rt::tls::certificates_from_pem(ca.as_bytes()).unwrap() {
                roots.add(c).unwrap();
            }
            let provider = Arc::new(rustls::crypto::ring::default_provider());
            let mut config = rustls::ClientConfig::builder_with_provider(provider)
                .with_safe_default_protocol_versions()
                .unwrap()
                .with_root_certificates(roots)
                .with_no_client_auth();
            config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
            let conn =
                rustls::ClientConnection::new(Arc::new(config), "localhost".try_into().unwrap()).unwrap();
            let mut tls = rustls::StreamOwned::new(conn, TcpStream::connect(addr).unwrap());
            tls.write_all(b"GET /healthz HTTP/1.1\r\nhost: t\r\nconnection: close\r\n\r\n").unwrap();
            let mut out = Vec::new();
            let _ = tls.read_to_end(&mut out);
            (tls.conn.alpn_protocol().map(<[u8]>::to_vec), String::from_utf8_lossy(&out).into_owned())
        })
        .await
        .unwrap();
        assert_eq!(alpn.as_deref(), Some(&b"http/1.1"[..]));
        assert!(raw.starts_with("HTTP/1.1 200 OK") && raw.ends_with("ok"), "{raw}");
        let tls = ClientTlsConfig::new().ca_pem(&pki.ca).unwrap();
        let ch = Endpoint::<Tokio>::new(server.tls_url()).unwrap().tls_config(tls).connect().await.unwrap();
        suite::call_kinds_against_any_server(&ch).await;
        server.stop().await;
    });
}

/// A fallback route that never reads its request body (axum's 404 here)
/// must not stall the connection behind it: the rest of the body is read
/// and dropped, and the connection closes after the answer (RFC 9112 §9.6)
/// instead of waiting for a body nobody takes.
#[test]
fn an_unread_fallback_body_does_not_stall_the_connection() {
    run(async {
        let server = weir_with_fallback(test_server(Tokio, Default::default())).await;
        let addr = server.addr.unwrap();
        let body = vec![b'x'; 1 << 20];
        let raw = tokio::task::spawn_blocking(move || {
            let mut s = TcpStream::connect(addr).unwrap();
            s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
            let mut w = s.try_clone().unwrap();
            let writer = std::thread::spawn(move || {
                let head =
                    format!("POST /nope HTTP/1.1\r\nhost: t\r\ncontent-length: {}\r\n\r\n", body.len());
                let _ = w.write_all(head.as_bytes());
                let _ = w.write_all(&body);
            });
            let mut out = Vec::new();
            let read = s.read_to_end(&mut out);
            writer.join().unwrap();
            (read.map_err(|e| e.kind()), String::from_utf8_lossy(&out).into_owned())
        })
        .await
        .unwrap();
        assert!(raw.0.is_ok(), "the connection stalled: {:?}", raw.0);
        assert!(raw.1.starts_with("HTTP/1.1 404"), "{}", raw.1);
        server.stop().await;
    });
}
