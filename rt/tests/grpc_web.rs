//! gRPC-Web (grpc/doc/PROTOCOL-WEB.md) on the server's own port, on tokio
//! and smol. Over HTTP/1.1 (issue 24): a raw HTTP/1.1 client (a blocking
//! `std::net::TcpStream` on a thread of its own) calls the suite's test
//! service in binary and text mode, CORS preflights are allowed or refused,
//! HTTP/2 clients share the port, and `curl --http1.1` gets a valid
//! response. Over HTTP/2: `curl --http2-prior-knowledge` makes the same
//! calls (unary in both modes, server streaming, error statuses, CORS
//! preflights) and gets the same answers; with TLS, ALPN offers `h2` first,
//! so a client offering both (curl, browsers) gets HTTP/2 and one offering
//! only `http/1.1` the HTTP/1.1 driver.

mod suite;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use futures::channel::oneshot;
use suite::{Running, certs, channel, start, test_server};
use weir_core::grpc::web::TextDecoder;
use weir_rt::runtime::Net;
use weir_rt::tls::{Identity, ServerTlsConfig, rustls};
use weir_rt::{CallInfo, GrpcWeb, Interceptor, RequestHead, Server, Status};

/// The origin the test servers allow.
const APP: &str = "https://app.example";

/// A parsed HTTP/1.1 response.
#[derive(Debug)]
struct HttpResponse {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl HttpResponse {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }
}

/// One frame of a gRPC-Web response body.
#[derive(Debug, PartialEq, Eq)]
enum Frame {
    Message(Vec<u8>),
    Trailers(Vec<(String, String)>),
}

/// The test service with gRPC-Web on, allowing [`APP`].
fn web_server<R: Net>(rt: R) -> Server<R> {
    test_server(rt, Default::default()).grpc_web(GrpcWeb::new().allow_origin(APP).expose_header("x-echo"))
}

/// Runs blocking client code on a thread of its own.
async fn blocking<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    let (tx, rx) = oneshot::channel();
    std::thread::spawn(move || {
        let _ = tx.send(f());
    });
    rx.await.expect("client thread panicked")
}

/// Sends `request` on a new connection and reads until the server closes.
fn exchange(addr: SocketAddr, request: Vec<u8>) -> Vec<u8> {
    let mut s = TcpStream::connect(addr).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s.write_all(&request).expect("write");
    let mut out = Vec::new();
    s.read_to_end(&mut out).expect("read to the end");
    out
}

/// A POST of `body` to `path` with these extra header lines; the last
/// request of its connection.
fn post(path: &str, content_type: &str, extra: &[(&str, &str)], body: &[u8], close: bool) -> Vec<u8> {
    let mut r = format!(
        "POST {path} HTTP/1.1\r\nhost: localhost\r\ncontent-type: {content_type}\r\nx-grpc-web: 1\r\ncontent-length: {}\r\n",
        body.len()
    );
    for (n, v) in extra {
        r.push_str(&format!("{n}: {v}\r\n"));
    }
    if close {
        r.push_str("connection: close\r\n");
    }
    r.push_str("\r\n");
    let mut r = r.into_bytes();
    r.extend_from_slice(body);
    r
}

/// One message frame (flag 0).
fn frame(msg: &[u8]) -> Vec<u8> {
    let mut f = vec![0];
    f.extend_from_slice(&(msg.len() as u32).to_be_bytes());
    f.extend_from_slice(msg);
    f
}

/// Standard base64 with padding (written here, independently of Weir's).
fn base64(data: &[u8]) -> Vec<u8> {
    const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = Vec::new();
    for c in data.chunks(3) {
        let n = (u32::from(c[0]) << 16)
            | (u32::from(*c.get(1).unwrap_or(&0)) << 8)
            | u32::from(*c.get(2).unwrap_or(&0));
        for i in 0..4 {
            out.push(if i <= c.len() { A[(n >> (18 - 6 * i) & 63) as usize] } else { b'=' });
        }
    }
    out
}

/// Parses one response at the start of `buf`; returns it and what follows.
fn parse_response(buf: &[u8]) -> (HttpResponse, &[u8]) {
    let end = buf.windows(4).position(|w| w == b"\r\n\r\n").unwrap_or_else(|| {
        panic!("no complete head in {:?}", String::from_utf8_lossy(buf));
    });
    let head = std::str::from_utf8(&buf[..end]).expect("ASCII head");
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap();
    assert!(status_line.starts_with("HTTP/1.1 "), "status line {status_line:?}");
    let status = status_line[9..12].parse().unwrap();
    let headers: Vec<(String, String)> = lines
        .map(|l| {
            let (n, v) = l.split_once(':').expect("field line");
            (n.to_ascii_lowercase(), v.trim().to_owned())
        })
        .collect();
    let mut rest = &buf[end + 4..];
    let mut resp = HttpResponse { status, headers, body: Vec::new() };
    if resp.header("transfer-encoding") == Some("chunked") {
        loop {
            let line_end = rest.windows(2).position(|w| w == b"\r\n").expect("chunk line");
            let size = usize::from_str_radix(std::str::from_utf8(&rest[..line_end]).unwrap(), 16).unwrap();
            rest = &rest[line_end + 2..];
            if size == 0 {
                assert!(rest.starts_with(b"\r\n"), "no trailers expected");
                rest = &rest[2..];
                break;
            }
            resp.body.extend_from_slice(&rest[..size]);
            assert_eq!(&rest[size..size + 2], b"\r\n");
            rest = &rest[size + 2..];
        }
    } else {
        let len: usize = resp.header("content-length").map_or(0, |v| v.parse().unwrap());
        resp.body.extend_from_slice(&rest[..len]);
        rest = &rest[len..];
    }
    (resp, rest)
}

/// The frames of a gRPC-Web body (binary).
fn frames(mut body: &[u8]) -> Vec<Frame> {
    let mut out = Vec::new();
    while !body.is_empty() {
        let flag = body[0];
        let len = u32::from_be_bytes(body[1..5].try_into().unwrap()) as usize;
        let data = &body[5..5 + len];
        body = &body[5 + len..];
        out.push(match flag {
            0 => Frame::Message(data.to_vec()),
            0x80 => Frame::Trailers(
                std::str::from_utf8(data)
                    .unwrap()
                    .split("\r\n")
                    .filter(|l| !l.is_empty())
                    .map(|l| {
                        let (n, v) = l.split_once(": ").expect("trailer line");
                        (n.to_owned(), v.to_owned())
                    })
                    .collect(),
            ),
            f => panic!("unexpected frame flag {f:#x}"),
        });
    }
    assert!(matches!(out.last(), Some(Frame::Trailers(_))), "the trailers frame comes last: {out:?}");
    out
}

/// The status in the trailers frame (the last one).
fn grpc_status(frames: &[Frame]) -> (String, Option<String>) {
    let Some(Frame::Trailers(t)) = frames.last() else { panic!("no trailers") };
    let get = |name: &str| t.iter().find(|(n, _)| n == name).map(|(_, v)| v.clone());
    (get("grpc-status").expect("grpc-status"), get("grpc-message"))
}

/// POSTs one gRPC-Web call and parses its response and frames.
async fn call(
    addr: SocketAddr,
    path: &str,
    body: Vec<u8>,
    extra: &[(&str, &str)],
) -> (HttpResponse, Vec<Frame>) {
    let extra: Vec<(String, String)> = extra.iter().map(|(a, b)| (a.to_string(), b.to_string())).collect();
    let path = path.to_owned();
    let raw = blocking(move || {
        let extra: Vec<(&str, &str)> = extra.iter().map(|(a, b)| (a.as_str(), b.as_str())).collect();
        exchange(addr, post(&path, "application/grpc-web+proto", &extra, &body, true))
    })
    .await;
    let (resp, rest) = parse_response(&raw);
    assert!(rest.is_empty(), "one response");
    let f = frames(&resp.body);
    (resp, f)
}

fn addr(server: &Running) -> SocketAddr {
    server.addr.expect("tcp")
}

async fn unary_in_binary_mode<R: Net + Default>(rt: R) {
    let server = start(&rt, web_server(rt.clone())).await;
    let (resp, f) = call(addr(&server), "/test.Test/Unary", frame(b"hello web"), &[("origin", APP)]).await;
    assert_eq!(resp.status, 200);
    assert_eq!(resp.header("content-type"), Some("application/grpc-web+proto"));
    assert_eq!(resp.header("access-control-allow-origin"), Some(APP));
    let expose = resp.header("access-control-expose-headers").expect("exposed headers");
    assert!(expose.contains("grpc-status") && expose.contains("grpc-message") && expose.contains("x-echo"));
    assert_eq!(f[0], Frame::Message(b"hello web".to_vec()));
    assert_eq!(f.len(), 2);
    assert_eq!(grpc_status(&f).0, "0");
    server.stop().await;
}

async fn unary_in_text_mode<R: Net + Default>(rt: R) {
    let server = start(&rt, web_server(rt.clone())).await;
    let a = addr(&server);
    // Two frames' worth of base64 in one body, padded where a sender flushed.
    let body = base64(&frame(b"text mode!"));
    let raw = blocking(move || {
        exchange(a, post("/test.Test/Unary", "application/grpc-web-text", &[], &body, true))
    })
    .await;
    let (resp, _) = parse_response(&raw);
    assert_eq!(resp.status, 200);
    assert_eq!(resp.header("content-type"), Some("application/grpc-web-text+proto"));
    assert!(resp.body.iter().all(|b| b.is_ascii_alphanumeric() || b"+/=".contains(b)), "base64 body");
    let mut decoded = Vec::new();
    let mut d = TextDecoder::new();
    d.push(&resp.body, &mut decoded).unwrap();
    d.finish(&mut decoded).unwrap();
    let f = frames(&decoded);
    assert_eq!(f[0], Frame::Message(b"text mode!".to_vec()));
    assert_eq!(grpc_status(&f).0, "0");
    // Each frame was padded on its own ("flushed atomically"): the message
    // frame's text alone decodes to it.
    assert!(resp.body.starts_with(&base64(&frame(b"text mode!"))));
    server.stop().await;
}

async fn server_streaming_sends_each_message<R: Net + Default>(rt: R) {
    let server = start(&rt, web_server(rt.clone())).await;
    let mut req = 4u32.to_be_bytes().to_vec();
    req.extend_from_slice(&100u32.to_be_bytes());
    let (resp, f) = call(addr(&server), "/test.Test/ServerStream", frame(&req), &[]).await;
    assert_eq!(resp.header("transfer-encoding"), Some("chunked"), "streamed as it comes");
    assert_eq!(resp.header("access-control-allow-origin"), None, "no origin, no CORS headers");
    assert_eq!(f.len(), 5);
    for m in &f[..4] {
        assert_eq!(*m, Frame::Message(vec![0xab; 100]));
    }
    assert_eq!(grpc_status(&f).0, "0");
    // A handler's error status after no message.
    let (_, f) = call(addr(&server), "/test.Test/ServerStream", frame(b"bad"), &[]).await;
    assert_eq!(grpc_status(&f), ("3".into(), Some("need count and size".into())));
    server.stop().await;
}

/// Every message a handler streams keeps the server's
/// `max_send_message_size` over gRPC-Web too (RESOURCE_EXHAUSTED, nothing
/// over the limit sent).
async fn batched_messages_keep_the_send_limit<R: Net + Default>(rt: R) {
    let server = start(&rt, web_server(rt.clone()).max_send_message_size(50)).await;
    let mut req = 4u32.to_be_bytes().to_vec();
    req.extend_from_slice(&100u32.to_be_bytes());
    let (_, f) = call(addr(&server), "/test.Test/ServerStream", frame(&req), &[]).await;
    assert_eq!(grpc_status(&f).0, "8", "{f:?}");
    assert!(!f.iter().any(|m| matches!(m, Frame::Message(_))), "nothing over the limit went out");
    // Within the limit, the same stream goes through.
    let mut req = 4u32.to_be_bytes().to_vec();
    req.extend_from_slice(&50u32.to_be_bytes());
    let (_, f) = call(addr(&server), "/test.Test/ServerStream", frame(&req), &[]).await;
    assert_eq!((f.len(), grpc_status(&f).0.as_str()), (5, "0"));
    server.stop().await;
}

async fn client_streaming_takes_the_whole_body<R: Net + Default>(rt: R) {
    let server = start(&rt, web_server(rt.clone())).await;
    let mut body = Vec::new();
    for i in 0..3u8 {
        body.extend_from_slice(&frame(&vec![i; 1000]));
    }
    let (_, f) = call(addr(&server), "/test.Test/ClientStream", body, &[]).await;
    assert_eq!(f[0], Frame::Message(3000u64.to_be_bytes().to_vec()));
    assert_eq!(grpc_status(&f).0, "0");
    server.stop().await;
}

async fn errors_before_the_handler_are_grpc_statuses<R: Net + Default>(rt: R) {
    let server = start(&rt, web_server(rt.clone())).await;
    let a = addr(&server);
    let (resp, f) = call(a, "/test.Test/Nope", frame(b""), &[]).await;
    assert_eq!(resp.status, 200);
    assert_eq!(f.len(), 1, "trailers only");
    assert_eq!(grpc_status(&f), ("12".into(), Some("unknown method Nope for service test.Test".into())));
    let (_, f) = call(a, "/other.Svc/Nope", frame(b""), &[]).await;
    assert_eq!(grpc_status(&f).0, "12");
    // Not frames: a truncated body, a flag that is not one.
    let (_, f) = call(a, "/test.Test/Unary", vec![0, 0, 0, 0, 9, 1], &[]).await;
    assert_eq!(grpc_status(&f).0, "13");
    let (_, f) = call(a, "/test.Test/Unary", vec![7, 0, 0, 0, 0], &[]).await;
    assert_eq!(grpc_status(&f).0, "13");
    // Two messages to a unary method.
    let mut two = frame(b"a");
    two.extend_from_slice(&frame(b"b"));
    let (_, f) = call(a, "/test.Test/Unary", two, &[]).await;
    assert_eq!(grpc_status(&f).0, "13");
    // Past max_recv_message_size (4 MiB): refused from the prefix alone.
    let (_, f) = call(a, "/test.Test/Unary", vec![0, 0x7f, 0, 0, 0], &[]).await;
    assert_eq!(grpc_status(&f).0, "8");
    // The deadline is honoured: the handler sleeps 5 s, the client gives 100 ms.
    let (_, f) =
        call(a, "/test.Test/Sleep", frame(&5000u32.to_be_bytes()), &[("grpc-timeout", "100m")]).await;
    assert_eq!(grpc_status(&f).0, "4");
    server.stop().await;
}

async fn preflights_follow_the_allowed_origins<R: Net + Default>(rt: R) {
    let server = start(&rt, web_server(rt.clone())).await;
    let a = addr(&server);
    let preflight = |origin: &str| {
        format!(
            "OPTIONS /test.Test/Unary HTTP/1.1\r\nhost: localhost\r\norigin: {origin}\r\n\
             access-control-request-method: POST\r\n\
             access-control-request-headers: content-type,x-grpc-web,x-user-agent,x-custom\r\n\
             connection: close\r\n\r\n"
        )
        .into_bytes()
    };
    let allowed = preflight(APP);
    let raw = blocking(move || exchange(a, allowed)).await;
    let (resp, _) = parse_response(&raw);
    assert_eq!(resp.status, 204);
    assert_eq!(resp.header("access-control-allow-origin"), Some(APP));
    assert_eq!(resp.header("access-control-allow-methods"), Some("POST"));
    let headers = resp.header("access-control-allow-headers").unwrap();
    for h in ["content-type", "x-grpc-web", "x-user-agent", "grpc-timeout", "x-custom"] {
        assert!(headers.split(", ").any(|x| x == h), "{h} allowed: {headers}");
    }
    assert!(resp.header("access-control-max-age").is_some());
    let denied = preflight("https://evil.example");
    let raw = blocking(move || exchange(a, denied)).await;
    let (resp, _) = parse_response(&raw);
    assert_eq!(resp.status, 403);
    assert!(resp.headers.iter().all(|(n, _)| !n.starts_with("access-control")));
    // An actual call from a disallowed origin gets no CORS headers.
    let (resp, _) = call(a, "/test.Test/Unary", frame(b"x"), &[("origin", "https://evil.example")]).await;
    assert_eq!(resp.header("access-control-allow-origin"), None);
    // Anything else: 404.
    let get = b"GET / HTTP/1.1\r\nhost: localhost\r\nconnection: close\r\n\r\n".to_vec();
    let raw = blocking(move || exchange(a, get)).await;
    assert_eq!(parse_response(&raw).0.status, 404);
    server.stop().await;
}

async fn keep_alive_serves_several_calls_on_one_connection<R: Net + Default>(rt: R) {
    let server = start(&rt, web_server(rt.clone())).await;
    let a = addr(&server);
    // Pipelined: three calls in one write, answered in order.
    let mut reqs = post("/test.Test/Unary", "application/grpc-web", &[], &frame(b"one"), false);
    reqs.extend(post("/test.Test/Nope", "application/grpc-web", &[], &frame(b"two"), false));
    reqs.extend(post("/test.Test/Unary", "application/grpc-web", &[], &frame(b"three"), true));
    let raw = blocking(move || exchange(a, reqs)).await;
    let (r1, rest) = parse_response(&raw);
    let (r2, rest) = parse_response(rest);
    let (r3, rest) = parse_response(rest);
    assert!(rest.is_empty());
    assert_eq!(frames(&r1.body)[0], Frame::Message(b"one".to_vec()));
    assert_eq!(grpc_status(&frames(&r2.body)).0, "12");
    assert_eq!(frames(&r3.body)[0], Frame::Message(b"three".to_vec()));
    server.stop().await;
}

/// Counts `before` and `after` hooks, and adds a trailer.
#[derive(Default)]
struct Hooks {
    before: AtomicUsize,
    after: AtomicUsize,
}

impl Interceptor for Hooks {
    fn before<'a>(
        &'a self,
        _: &'a CallInfo,
        head: &'a mut RequestHead,
    ) -> weir_rt::runtime::BoxFuture<'a, Result<(), Status>> {
        self.before.fetch_add(1, Ordering::SeqCst);
        let denied = head.metadata.get_str("x-deny").is_some();
        Box::pin(async move {
            if denied { Err(Status::permission_denied("denied by interceptor")) } else { Ok(()) }
        })
    }

    fn after<'a>(&'a self, _: &'a CallInfo, _: &'a mut Status) -> weir_rt::runtime::BoxFuture<'a, ()> {
        self.after.fetch_add(1, Ordering::SeqCst);
        Box::pin(async {})
    }
}

async fn interceptors_run_around_web_calls<R: Net + Default>(rt: R) {
    let hooks = Arc::new(Hooks::default());
    let server = start(&rt, web_server(rt.clone()).interceptor(hooks.clone())).await;
    let a = addr(&server);
    let (_, f) = call(a, "/test.Test/Unary", frame(b"x"), &[]).await;
    assert_eq!(grpc_status(&f).0, "0");
    let (_, f) = call(a, "/test.Test/Unary", frame(b"x"), &[("x-deny", "1")]).await;
    assert_eq!(grpc_status(&f), ("7".into(), Some("denied by interceptor".into())));
    let mut req = 2u32.to_be_bytes().to_vec();
    req.extend_from_slice(&10u32.to_be_bytes());
    let (_, f) = call(a, "/test.Test/ServerStream", frame(&req), &[]).await;
    assert_eq!(f.len(), 3);
    let (_, f) = call(a, "/test.Test/Sleep", frame(&5000u32.to_be_bytes()), &[("grpc-timeout", "50m")]).await;
    assert_eq!(grpc_status(&f).0, "4");
    assert_eq!(hooks.before.load(Ordering::SeqCst), 4);
    assert_eq!(hooks.after.load(Ordering::SeqCst), 4, "each call's after hooks ran once");
    server.stop().await;
}

async fn http2_clients_share_the_port<R: Net + Default>(rt: R) {
    let server = start(&rt, web_server(rt.clone())).await;
    let ch = channel::<R>(&server.url()).await;
    suite::four_call_kinds(&ch).await;
    // And gRPC-Web on the same port meanwhile.
    let (_, f) = call(addr(&server), "/test.Test/Unary", frame(b"web"), &[]).await;
    assert_eq!(f[0], Frame::Message(b"web".to_vec()));
    suite::four_call_kinds(&ch).await;
    server.stop().await;
}

async fn without_grpc_web_http1_is_refused_as_before<R: Net + Default>(rt: R) {
    let server = start(&rt, test_server(rt.clone(), Default::default())).await;
    let a = addr(&server);
    let raw = blocking(move || {
        exchange(a, post("/test.Test/Unary", "application/grpc-web", &[], &frame(b"x"), true))
    })
    .await;
    assert!(!raw.starts_with(b"HTTP/1.1"), "no HTTP/1.1 answer: {:?}", String::from_utf8_lossy(&raw));
    server.stop().await;
}

async fn tls_alpn_chooses_the_driver<R: Net + Default>(rt: R) {
    let pki = certs::generate();
    let tls = ServerTlsConfig::new(Identity::from_pem(&pki.server_cert, &pki.server_key).unwrap());
    let server = start(&rt, web_server(rt.clone()).tls_config(tls).unwrap()).await;
    // gRPC clients (ALPN h2 only) get HTTP/2.
    let ch = suite::tls_channel::<R>(&server, &pki).await;
    suite::four_call_kinds(&ch).await;
    // A client offering only http/1.1 gets HTTP/1.1 and gRPC-Web.
    let (a, ca) = (addr(&server), pki.ca.clone());
    let (alpn, raw) = blocking(move || {
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
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        let name = "localhost".try_into().unwrap();
        let conn = rustls::ClientConnection::new(Arc::new(config), name).unwrap();
        let mut tls = rustls::StreamOwned::new(conn, TcpStream::connect(a).unwrap());
        tls.write_all(&post("/test.Test/Unary", "application/grpc-web", &[], &frame(b"over tls"), true))
            .unwrap();
        let mut out = Vec::new();
        let _ = tls.read_to_end(&mut out);
        (tls.conn.alpn_protocol().map(<[u8]>::to_vec), out)
    })
    .await;
    assert_eq!(alpn.as_deref(), Some(&b"http/1.1"[..]));
    let (resp, _) = parse_response(&raw);
    assert_eq!(frames(&resp.body)[0], Frame::Message(b"over tls".to_vec()));
    // A client offering both (curl, as browsers) gets HTTP/2, h2 being the
    // server's first choice, and gRPC-Web over it.
    let ca_file = temp_file("ca.pem", pki.ca.as_bytes());
    let port = a.port();
    let resp = curl(vec![
        "--cacert".into(),
        ca_file.display().to_string(),
        "--resolve".into(),
        format!("localhost:{port}:127.0.0.1"),
        "--data-binary".into(),
        format!("@{}", temp_file("tls-body", &frame(b"h2 over tls")).display()),
        "-H".into(),
        "content-type: application/grpc-web+proto".into(),
        format!("https://localhost:{port}/test.Test/Unary"),
    ])
    .await;
    assert_eq!(resp.version, "HTTP/2");
    assert_eq!(resp.status, 200);
    let f = frames(&resp.body);
    assert_eq!(f[0], Frame::Message(b"h2 over tls".to_vec()));
    assert_eq!(grpc_status(&f).0, "0");
    server.stop().await;
}

// ----- gRPC-Web over HTTP/2 ------------------------------------------------------

/// A response as `curl -i` prints it.
#[derive(Debug)]
struct CurlResponse {
    version: String,
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl CurlResponse {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }
}

/// A file under the temporary directory, unique to this process and call.
fn temp_file(name: &str, contents: &[u8]) -> std::path::PathBuf {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    let path = std::env::temp_dir().join(format!("weir-grpc-web-h2-{}-{n}-{name}", std::process::id()));
    std::fs::write(&path, contents).unwrap();
    path
}

/// Runs `curl -s -i` with `args` (URL last) and parses what it printed.
async fn curl(args: Vec<String>) -> CurlResponse {
    let out = blocking(move || {
        std::process::Command::new("curl")
            .args(["-sS", "-i", "--max-time", "10"])
            .args(&args)
            .output()
            .expect("run curl (apt-get install curl)")
    })
    .await;
    assert!(out.status.success(), "curl failed: {}", String::from_utf8_lossy(&out.stderr));
    let buf = &out.stdout;
    let end = buf.windows(4).position(|w| w == b"\r\n\r\n").expect("a head");
    let head = std::str::from_utf8(&buf[..end]).unwrap();
    let mut lines = head.split("\r\n");
    let mut status_line = lines.next().unwrap().split_whitespace();
    let version = status_line.next().unwrap().to_owned();
    let status = status_line.next().unwrap().parse().unwrap();
    let headers = lines
        .map(|l| {
            let (n, v) = l.split_once(':').expect("field line");
            (n.to_ascii_lowercase(), v.trim().to_owned())
        })
        .collect();
    CurlResponse { version, status, headers, body: buf[end + 4..].to_vec() }
}

/// A gRPC-Web POST over h2c (`--http2-prior-knowledge`).
async fn post_h2(
    server: &Running,
    path: &str,
    content_type: &str,
    body: &[u8],
    extra: &[(&str, &str)],
) -> CurlResponse {
    let mut args: Vec<String> = vec!["--http2-prior-knowledge".into()];
    args.push("--data-binary".into());
    args.push(format!("@{}", temp_file("body", body).display()));
    for (n, v) in [("content-type", content_type), ("x-grpc-web", "1")].iter().chain(extra) {
        args.push("-H".into());
        args.push(format!("{n}: {v}"));
    }
    args.push(format!("http://{}{path}", addr(server)));
    let resp = curl(args).await;
    assert_eq!(resp.version, "HTTP/2", "h2c");
    resp
}

/// PROTOCOL-WEB over HTTP/2: unary calls in binary and text mode; the
/// response's content type is the request's variant, its body the message
/// frame and the trailers frame; a call from an allowed origin gets the
/// CORS headers.
async fn h2_unary_in_both_modes<R: Net + Default>(rt: R) {
    let server = start(&rt, web_server(rt.clone())).await;
    let resp = post_h2(
        &server,
        "/test.Test/Unary",
        "application/grpc-web+proto",
        &frame(b"hello h2"),
        &[("origin", APP)],
    )
    .await;
    assert_eq!(resp.status, 200);
    assert_eq!(resp.header("content-type"), Some("application/grpc-web+proto"));
    assert_eq!(resp.header("access-control-allow-origin"), Some(APP));
    let expose = resp.header("access-control-expose-headers").expect("exposed headers");
    assert!(expose.contains("grpc-status") && expose.contains("x-echo"), "{expose}");
    assert_eq!(resp.header("grpc-status"), None, "the status is in the body");
    let f = frames(&resp.body);
    assert_eq!(
        f,
        vec![Frame::Message(b"hello h2".to_vec()), Frame::Trailers(vec![("grpc-status".into(), "0".into())])]
    );
    // Text mode: base64 both ways.
    let body = base64(&frame(b"text over h2"));
    let resp = post_h2(&server, "/test.Test/Unary", "application/grpc-web-text", &body, &[]).await;
    assert_eq!(resp.header("content-type"), Some("application/grpc-web-text+proto"));
    assert_eq!(resp.header("access-control-allow-origin"), None, "no origin, no CORS headers");
    let mut decoded = Vec::new();
    let mut d = TextDecoder::new();
    d.push(&resp.body, &mut decoded).unwrap();
    d.finish(&mut decoded).unwrap();
    let f = frames(&decoded);
    assert_eq!(f[0], Frame::Message(b"text over h2".to_vec()));
    assert_eq!(grpc_status(&f).0, "0");
    server.stop().await;
}

/// Server streaming over HTTP/2: each message a frame, then the trailers
/// frame; a handler's error status in the trailers frame.
async fn h2_server_streaming<R: Net + Default>(rt: R) {
    let server = start(&rt, web_server(rt.clone())).await;
    let mut req = 4u32.to_be_bytes().to_vec();
    req.extend_from_slice(&100u32.to_be_bytes());
    let resp = post_h2(&server, "/test.Test/ServerStream", "application/grpc-web", &frame(&req), &[]).await;
    let f = frames(&resp.body);
    assert_eq!(f.len(), 5);
    for m in &f[..4] {
        assert_eq!(*m, Frame::Message(vec![0xab; 100]));
    }
    assert_eq!(grpc_status(&f).0, "0");
    let resp = post_h2(&server, "/test.Test/ServerStream", "application/grpc-web", &frame(b"bad"), &[]).await;
    assert_eq!(grpc_status(&frames(&resp.body)), ("3".into(), Some("need count and size".into())));
    server.stop().await;
}

/// Error statuses over HTTP/2: an unknown method (refused before any
/// handler) answers 200 with the status in the trailers frame, CORS headers
/// included for an allowed origin; a message over the limit is
/// RESOURCE_EXHAUSTED.
async fn h2_error_statuses<R: Net + Default>(rt: R) {
    let server = start(&rt, web_server(rt.clone())).await;
    let resp =
        post_h2(&server, "/test.Test/Nope", "application/grpc-web+proto", &frame(b""), &[("origin", APP)])
            .await;
    assert_eq!(resp.status, 200);
    assert_eq!(resp.header("access-control-allow-origin"), Some(APP));
    let f = frames(&resp.body);
    assert_eq!(f.len(), 1, "the trailers frame alone");
    assert_eq!(grpc_status(&f), ("12".into(), Some("unknown method Nope for service test.Test".into())));
    let resp = post_h2(&server, "/test.Test/Unary", "application/grpc-web", &[0, 0x7f, 0, 0, 0], &[]).await;
    assert_eq!(grpc_status(&frames(&resp.body)).0, "8");
    let resp = post_h2(&server, "/test.Test/Unary", "application/grpc-web-text", b"AAAA!!!=", &[]).await;
    let mut decoded = Vec::new();
    TextDecoder::new().push(&resp.body, &mut decoded).unwrap();
    assert_eq!(grpc_status(&frames(&decoded)).0, "13");
    server.stop().await;
}

/// A CORS preflight on an h2 stream gets the HTTP/1.1 driver's answer:
/// 204 with the CORS headers for an allowed origin, 403 without them
/// otherwise.
async fn h2_preflights_follow_the_allowed_origins<R: Net + Default>(rt: R) {
    let server = start(&rt, web_server(rt.clone())).await;
    let preflight = |origin: &str| {
        vec![
            "--http2-prior-knowledge".to_string(),
            "-X".into(),
            "OPTIONS".into(),
            "-H".into(),
            format!("origin: {origin}"),
            "-H".into(),
            "access-control-request-method: POST".into(),
            "-H".into(),
            "access-control-request-headers: content-type,x-grpc-web,x-user-agent,x-custom".into(),
            format!("http://{}/test.Test/Unary", addr(&server)),
        ]
    };
    let resp = curl(preflight(APP)).await;
    assert_eq!(resp.version, "HTTP/2");
    assert_eq!(resp.status, 204);
    assert_eq!(resp.header("access-control-allow-origin"), Some(APP));
    assert_eq!(resp.header("access-control-allow-methods"), Some("POST"));
    let headers = resp.header("access-control-allow-headers").unwrap();
    for h in ["content-type", "x-grpc-web", "x-user-agent", "grpc-timeout", "x-custom"] {
        assert!(headers.split(", ").any(|x| x == h), "{h} allowed: {headers}");
    }
    assert_eq!(resp.header("access-control-max-age"), Some("86400"));
    let resp = curl(preflight("https://evil.example")).await;
    assert_eq!(resp.status, 403);
    assert!(resp.headers.iter().all(|(n, _)| !n.starts_with("access-control")), "{:?}", resp.headers);
    server.stop().await;
}

async fn curl_gets_a_valid_response<R: Net + Default>(rt: R) {
    assert!(
        std::process::Command::new("curl").arg("--version").output().is_ok_and(|o| o.status.success()),
        "this test needs curl on PATH (apt-get install curl)"
    );
    let server = start(&rt, web_server(rt.clone())).await;
    let url = format!("http://{}/test.Test/Unary", addr(&server));
    let body_file = std::env::temp_dir().join(format!("weir-grpc-web-{}.bin", std::process::id()));
    std::fs::write(&body_file, frame(b"from curl")).unwrap();
    let arg = format!("@{}", body_file.display());
    let out = blocking(move || {
        std::process::Command::new("curl")
            .args(["--http1.1", "-s", "--max-time", "10", "--data-binary", &arg])
            .args(["-H", "content-type: application/grpc-web+proto", "-H", "x-grpc-web: 1", &url])
            .output()
            .expect("run curl")
    })
    .await;
    let _ = std::fs::remove_file(&body_file);
    assert!(out.status.success(), "curl failed: {}", String::from_utf8_lossy(&out.stderr));
    let f = frames(&out.stdout);
    assert_eq!(f[0], Frame::Message(b"from curl".to_vec()));
    assert_eq!(grpc_status(&f).0, "0");
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
    unary_in_binary_mode,
    unary_in_text_mode,
    server_streaming_sends_each_message,
    batched_messages_keep_the_send_limit,
    client_streaming_takes_the_whole_body,
    errors_before_the_handler_are_grpc_statuses,
    preflights_follow_the_allowed_origins,
    keep_alive_serves_several_calls_on_one_connection,
    interceptors_run_around_web_calls,
    http2_clients_share_the_port,
    without_grpc_web_http1_is_refused_as_before,
    tls_alpn_chooses_the_driver,
    curl_gets_a_valid_response,
    h2_unary_in_both_modes,
    h2_server_streaming,
    h2_error_statuses,
    h2_preflights_follow_the_allowed_origins,
);
