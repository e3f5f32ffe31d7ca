//! A Weir server's services mounted in an axum `Router` (`Server::into_service`):
//! REST routes and gRPC calls answered on one port, served by axum (hyper),
//! and called by Weir's own client (HTTP/2), raw HTTP/1.1 and curl.
//!
//! The gRPC side is checked as on Weir's own server: the four call kinds,
//! large streams with backpressure, deadlines and cancellation reaching the
//! handler, interceptors, metadata both ways, and the PROTOCOL-HTTP2 answer
//! to a request that is not gRPC (415).
//!
//! The other way round, an axum `Router` as the fallback of Weir's own
//! server (`Server::fallback`): REST over HTTP/1.1 and over HTTP/2 (h2c,
//! with a hand-driven `h2` client on the same connection as gRPC calls, and
//! curl), large bodies through the bounded queue, resets, TLS ALPN.

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
    // One file per call: tests run in parallel in one process.
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let n = NEXT.fetch_add(1, Ordering::SeqCst);
    let body_file = std::env::temp_dir().join(format!("weir-axum-{}-{n}{http}.bin", std::process::id()));
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

/// A bidi echo read slowly under a small per-call budget finishes: the
/// handler takes no request until it has sent its echo, so requests queued
/// ahead of it must leave it room to send (the hang the HTTP/2 driver had
/// with many calls, `suite::limits::busy_echo_handlers_neither_hang_nor_get_new_calls_refused`);
/// a message larger than a quarter of the budget still goes.
#[test]
fn an_echo_under_a_small_per_call_budget_does_not_hang() {
    run(async {
        let server = test_server(Tokio, Default::default()).connection_memory_budget(256 << 10);
        let addr = serve(app(server)).await;
        let ch = channel(addr).await;
        for (count, size) in [(512usize, 4usize << 10), (8, 96 << 10)] {
            let echo = suite::slow_echo(&Tokio, &ch, count, size);
            let n = tokio::time::timeout(Duration::from_secs(20), echo).await;
            let n = n.unwrap_or_else(|_| panic!("an echo of {count} messages of {size} B hung"));
            assert_eq!(n.expect("the echo call"), count);
        }
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
        .route("/hang", axum::routing::post(hang))
        .route("/ignore", axum::routing::post(ignore_body))
        // Bodies of any size (axum refuses more than 2 MB by default).
        .layer(axum::extract::DefaultBodyLimit::disable())
}

/// Set by a test once its upload to `/ignore` went through.
static IGNORE_RELEASE: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Drops the request body unread, then answers once `IGNORE_RELEASE` is set.
async fn ignore_body() -> &'static str {
    while !IGNORE_RELEASE.load(Ordering::SeqCst) {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    "ignored"
}

/// `/hang` requests started, and their futures dropped.
static HANG_STARTED: AtomicUsize = AtomicUsize::new(0);
static HANG_DROPPED: AtomicUsize = AtomicUsize::new(0);

/// Never answers; counts when its future is dropped (its body with it).
async fn hang(_body: axum::body::Body) -> &'static str {
    struct Guard;
    impl Drop for Guard {
        fn drop(&mut self) {
            HANG_DROPPED.fetch_add(1, Ordering::SeqCst);
        }
    }
    let _guard = Guard;
    HANG_STARTED.fetch_add(1, Ordering::SeqCst);
    std::future::pending::<()>().await;
    "never"
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

/// A scratch file for curl, removed when dropped.
struct Scratch(std::path::PathBuf);

impl Scratch {
    fn new(name: &str, contents: &[u8]) -> Self {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let n = NEXT.fetch_add(1, Ordering::SeqCst);
        let path = std::env::temp_dir().join(format!("weir-axum-{}-{n}-{name}", std::process::id()));
        std::fs::write(&path, contents).unwrap();
        Scratch(path)
    }

    fn path(&self) -> String {
        self.0.display().to_string()
    }

    fn read(&self) -> Vec<u8> {
        std::fs::read(&self.0).unwrap()
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// Runs curl with `args`; its standard output.
fn curl(args: &[String]) -> String {
    let out =
        std::process::Command::new("curl").args(args).output().expect("run curl (apt-get install curl)");
    let (stdout, stderr) = (String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "curl {args:?} failed ({}): {stdout} {stderr}", out.status);
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// One request on a hand-driven HTTP/2 connection (the `h2` crate's
/// client): the response head, its body (credit released as read) and
/// trailers.
/// An h2c connection to `addr` (prior knowledge), its driver spawned.
async fn h2_connect(addr: std::net::SocketAddr) -> h2::client::SendRequest<Bytes> {
    let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    let (send, conn) = h2::client::handshake(tcp).await.expect("h2 handshake");
    tokio::spawn(async move {
        let _ = conn.await;
    });
    send
}

/// Opens a POST to `uri` whose body the caller sends.
async fn h2_open(
    send: &h2::client::SendRequest<Bytes>,
    uri: String,
) -> (h2::client::ResponseFuture, h2::SendStream<Bytes>) {
    let req = axum::http::Request::builder().method("POST").uri(uri).body(()).unwrap();
    let mut ready = send.clone().ready().await.expect("connection ready");
    ready.send_request(req, false).expect("request sent")
}

async fn h2_request(
    send: &h2::client::SendRequest<Bytes>,
    method: &str,
    uri: String,
    headers: &[(&str, &str)],
    body: Option<Bytes>,
) -> (axum::http::response::Parts, Vec<u8>, Option<axum::http::HeaderMap>) {
    let mut req = axum::http::Request::builder().method(method).uri(uri);
    for (n, v) in headers {
        req = req.header(*n, *v);
    }
    let req = req.body(()).unwrap();
    let mut send = send.clone().ready().await.expect("connection ready");
    let (resp, mut stream) = send.send_request(req, body.is_none()).expect("request sent");
    if let Some(body) = body {
        stream.send_data(body, true).unwrap();
    }
    let (parts, mut recv) = resp.await.expect("a response").into_parts();
    let mut out = Vec::new();
    while let Some(chunk) = recv.data().await {
        let chunk = chunk.expect("body data");
        recv.flow_control().release_capacity(chunk.len()).unwrap();
        out.extend_from_slice(&chunk);
    }
    let trailers = recv.trailers().await.expect("trailers");
    (parts, out, trailers)
}

/// Over h2c, on ONE connection (a hand-driven `h2` client; curl 7.88
/// cannot reuse a prior-knowledge connection), concurrently: a REST GET,
/// a POST echo of 200 KiB (above the 64 KiB queue and the client's 64 KiB
/// stream window, so both sides' flow control takes turns), the streamed
/// route, an unknown route (axum's 404), and gRPC calls (a framed message
/// echoed by the test service, `grpc-status: 0` in the trailers) beside
/// them. Then curl (h2c) gets the REST routes on a connection of its own,
/// and Weir's client's calls work on the same port.
#[test]
fn the_fallback_serves_http2_requests_beside_grpc_calls() {
    run(async {
        let server = weir_with_fallback(test_server(Tokio, Default::default())).await;
        let addr = server.addr.unwrap();
        let send = h2_connect(addr).await;
        let url = move |path: &str| format!("http://{addr}{path}");
        let big: Bytes = (0..200u32 << 10).map(|i| (i % 253) as u8).collect::<Vec<u8>>().into();
        let grpc = [("content-type", "application/grpc"), ("te", "trailers")];
        let (healthz, echo, streamed, nope, call, call2) = tokio::join!(
            h2_request(&send, "GET", url("/healthz"), &[], None),
            h2_request(&send, "POST", url("/echo"), &[], Some(big.clone())),
            h2_request(&send, "GET", url("/stream"), &[], None),
            h2_request(&send, "DELETE", url("/nope"), &[], None),
            h2_request(&send, "POST", url("/test.Test/Unary"), &grpc, Some(frame(b"over h2c").into())),
            h2_request(&send, "POST", url("/test.Test/Unary"), &grpc, Some(frame(b"again").into())),
        );
        assert_eq!((healthz.0.status.as_u16(), &healthz.1[..]), (200, &b"ok"[..]));
        assert_eq!(echo.0.status.as_u16(), 200);
        assert_eq!(echo.1.len(), big.len());
        assert!(echo.1 == big[..], "the echoed body differs");
        let chunks: String = (0..5).map(|i| format!("chunk {i}\n")).collect();
        assert_eq!((streamed.0.status.as_u16(), String::from_utf8_lossy(&streamed.1)), (200, chunks.into()));
        assert_eq!(nope.0.status.as_u16(), 404);
        for (c, msg) in [(call, &b"over h2c"[..]), (call2, b"again")] {
            assert_eq!(c.0.headers["content-type"], "application/grpc");
            assert_eq!(c.1, frame(msg));
            assert_eq!(c.2.expect("gRPC trailers")["grpc-status"], "0");
        }
        // The connection is still fine for more after all that.
        let again = h2_request(&send, "GET", url("/healthz"), &[], None).await;
        assert_eq!(again.1, b"ok");
        // curl over h2c, each request on its own connection.
        let out = tokio::task::spawn_blocking(move || {
            let echo = Scratch::new("h2-echo.txt", b"hello over h2");
            let base =
                ["--http2-prior-knowledge", "-sS", "--max-time", "10", "-w", " %{http_version} %{http_code}"];
            let base = base.map(String::from);
            let with = |more: &[String]| [&base[..], more].concat();
            [
                curl(&with(&[url("/healthz")])),
                curl(&with(&["--data-binary".into(), format!("@{}", echo.path()), url("/echo")])),
                curl(&with(&[url("/stream")])),
            ]
        })
        .await
        .unwrap();
        assert_eq!(out[0], "ok 2 200");
        assert_eq!(out[1], "hello over h2 2 200");
        let chunks: String = (0..5).map(|i| format!("chunk {i}\n")).collect();
        assert_eq!(out[2], format!("{chunks} 2 200"));
        suite::four_call_kinds(&channel(addr).await).await;
        server.stop().await;
    });
}

/// A client that resets its HTTP/2 stream (RST_STREAM(CANCEL)) while the
/// fallback service waits, its request body unfinished: the service's
/// future and the body are dropped, and the connection serves on.
#[test]
fn a_reset_http2_stream_drops_the_fallback_future() {
    run(async {
        let server = weir_with_fallback(test_server(Tokio, Default::default())).await;
        let addr = server.addr.unwrap();
        let send = h2_connect(addr).await;
        let (_resp, mut stream) = h2_open(&send, format!("http://{addr}/hang")).await;
        stream.send_data(Bytes::from_static(b"part of a body"), false).unwrap();
        wait_until(&Tokio, || HANG_STARTED.load(Ordering::SeqCst) == 1).await;
        assert_eq!(HANG_DROPPED.load(Ordering::SeqCst), 0);
        stream.send_reset(h2::Reason::CANCEL);
        wait_until(&Tokio, || HANG_DROPPED.load(Ordering::SeqCst) == 1).await;
        let (parts, body, _) = h2_request(&send, "GET", format!("http://{addr}/healthz"), &[], None).await;
        assert_eq!((parts.status.as_u16(), &body[..]), (200, &b"ok"[..]));
        server.stop().await;
    });
}

/// A service that drops the request body unread and answers later: on
/// HTTP/2 the rest of the body is read and dropped (credit returned), so a
/// client sending 8 MiB only as its flow-control windows allow (far above
/// the stream's window and the 64 KiB queue) gets it all out before
/// the answer comes, and the connection serves on.
#[test]
fn an_http2_body_the_fallback_drops_unread_is_drained() {
    run(async {
        let server = weir_with_fallback(test_server(Tokio, Default::default())).await;
        let addr = server.addr.unwrap();
        let send = h2_connect(addr).await;
        let (resp, mut stream) = h2_open(&send, format!("http://{addr}/ignore")).await;
        let mut left = Bytes::from(vec![3u8; 8 << 20]);
        let upload = async {
            while !left.is_empty() {
                stream.reserve_capacity(left.len());
                let n = std::future::poll_fn(|cx| stream.poll_capacity(cx)).await.unwrap().unwrap();
                let chunk = left.split_to(n.min(left.len()));
                stream.send_data(chunk, left.is_empty()).unwrap();
            }
        };
        tokio::time::timeout(Duration::from_secs(10), upload).await.expect("the whole body went out");
        IGNORE_RELEASE.store(true, Ordering::SeqCst);
        let (parts, mut body) = resp.await.unwrap().into_parts();
        assert_eq!(parts.status.as_u16(), 200);
        assert_eq!(body.data().await.unwrap().unwrap(), "ignored");
        let (parts, body, _) = h2_request(&send, "GET", format!("http://{addr}/healthz"), &[], None).await;
        assert_eq!((parts.status.as_u16(), &body[..]), (200, &b"ok"[..]));
        server.stop().await;
    });
}

/// An 8 MiB POST over h2c, far above the 64 KiB the driver queues for the
/// service and above the stream's window: the driver reads the body
/// from the core only as the service takes it (credit returned as read),
/// and the echo goes back whole and in order through the stream's send
/// buffer backpressure.
#[test]
fn a_large_request_body_reaches_the_fallback_over_http2() {
    run(async {
        let server = weir_with_fallback(test_server(Tokio, Default::default())).await;
        let addr = server.addr.unwrap();
        let body: Vec<u8> = (0..8u32 << 20).map(|i| (i % 251) as u8).collect();
        let echoed = tokio::task::spawn_blocking(move || {
            let input = Scratch::new("h2-large-in.bin", &body);
            let output = Scratch::new("h2-large-out.bin", b"");
            let args = [
                "--http2-prior-knowledge".to_string(),
                "-s".into(),
                "--max-time".into(),
                "30".into(),
                "-w".into(),
                "%{http_version} %{http_code}".into(),
                "-o".into(),
                output.path(),
                "--data-binary".into(),
                format!("@{}", input.path()),
                format!("http://{addr}/echo"),
            ];
            let status = curl(&args);
            (status, output.read() == body, output.read().len())
        })
        .await
        .unwrap();
        assert_eq!(echoed.0, "2 200");
        assert_eq!(echoed.2, 8 << 20);
        assert!(echoed.1, "the echoed body differs");
        suite::call_kinds_against_any_server(&channel(addr).await).await;
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

/// gRPC-Web and the fallback on HTTP/2 (h2c, curl): a gRPC-Web call stays
/// Weir's, a CORS preflight for a method the router serves is answered by
/// Weir's policy, and every other request (an `OPTIONS` for a REST path
/// too) goes to the fallback.
#[test]
fn grpc_web_preflights_and_the_fallback_share_http2() {
    run(async {
        let server = test_server(Tokio, Default::default())
            .grpc_web(weir_rt::GrpcWeb::new().allow_origin("https://app.example"));
        let server = weir_with_fallback(server).await;
        let addr = server.addr.unwrap();
        let body = tokio::task::spawn_blocking(move || curl_grpc_web(addr, "--http2-prior-knowledge"))
            .await
            .unwrap();
        assert!(body.starts_with(&frame(b"from curl")), "{body:?}");
        let out = tokio::task::spawn_blocking(move || {
            let base = ["--http2-prior-knowledge", "-sS", "--max-time", "10"].map(String::from);
            let with =
                |more: &[&str]| [&base[..], &more.iter().map(|s| s.to_string()).collect::<Vec<_>>()].concat();
            let preflight = ["-i", "-X", "OPTIONS", "-H", "origin: https://app.example"];
            let preflight = [&preflight[..], &["-H", "access-control-request-method: POST"]].concat();
            let grpc_path = format!("http://{addr}/test.Test/Unary");
            let rest_path = format!("http://{addr}/healthz");
            [
                curl(&with(&["-w", " %{http_version}", &rest_path])),
                curl(&with(&[&preflight[..], &[grpc_path.as_str()]].concat())),
                curl(&with(&[&preflight[..], &[rest_path.as_str()]].concat())),
            ]
        })
        .await
        .unwrap();
        assert_eq!(out[0], "ok 2");
        let grpc_preflight = out[1].to_ascii_lowercase();
        assert!(grpc_preflight.starts_with("http/2 20"), "{grpc_preflight}");
        assert!(
            grpc_preflight.contains("access-control-allow-origin"),
            "Weir's CORS policy: {grpc_preflight}"
        );
        let rest_preflight = out[2].to_ascii_lowercase();
        assert!(rest_preflight.starts_with("http/2 405"), "axum's answer: {rest_preflight}");
        assert!(!rest_preflight.contains("access-control-allow-origin"), "{rest_preflight}");
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

/// With a fallback, TLS still offers `h2` first: a browser-like client
/// offering both gets HTTP/2, and the REST route over it (curl, ALPN h2);
/// a client offering only `http/1.1` gets HTTP/1.1 and the route too; a
/// gRPC client keeps HTTP/2.
#[test]
fn on_tls_a_fallback_keeps_h2_first() {
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
            let config = rustls::ClientConfig::builder_with_provider(provider)
                .with_safe_default_protocol_versions()
                .unwrap()
                .with_root_certificates(roots)
                .with_no_client_auth();
            let config = Arc::new(config);
            let negotiated = |offer: Vec<Vec<u8>>| {
                let mut config = (*config).clone();
                config.alpn_protocols = offer;
                let conn =
                    rustls::ClientConnection::new(Arc::new(config), "localhost".try_into().unwrap()).unwrap();
                let mut tls = rustls::StreamOwned::new(conn, TcpStream::connect(addr).unwrap());
                tls.write_all(b"GET /healthz HTTP/1.1\r\nhost: t\r\nconnection: close\r\n\r\n").unwrap();
                let mut out = Vec::new();
                let _ = tls.read_to_end(&mut out);
                (tls.conn.alpn_protocol().map(<[u8]>::to_vec), String::from_utf8_lossy(&out).into_owned())
            };
            let (both, _) = negotiated(vec![b"h2".to_vec(), b"http/1.1".to_vec()]);
            let (only_http1, raw) = negotiated(vec![b"http/1.1".to_vec()]);
            assert_eq!(only_http1.as_deref(), Some(&b"http/1.1"[..]));
            // The browser-like client's REST request, over h2 (curl offers both).
            let ca_file = Scratch::new("tls-ca.pem", ca.as_bytes());
            let args = [
                "-s".to_string(),
                "--max-time".into(),
                "10".into(),
                "--cacert".into(),
                ca_file.path(),
                "--resolve".into(),
                format!("localhost:{}:127.0.0.1", addr.port()),
                "-w".into(),
                " %{http_version}".into(),
                format!("https://localhost:{}/healthz", addr.port()),
            ];
            (both, (raw, curl(&args)))
        })
        .await
        .unwrap();
        assert_eq!(alpn.as_deref(), Some(&b"h2"[..]), "h2 first for a client offering both");
        let (raw, over_h2) = raw;
        assert!(raw.starts_with("HTTP/1.1 200 OK") && raw.ends_with("ok"), "{raw}");
        assert_eq!(over_h2, "ok 2", "the REST route over h2");
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
