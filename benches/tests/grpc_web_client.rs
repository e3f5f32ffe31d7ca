//! Weir's gRPC-Web client (`Endpoint::grpc_web`) against an implementation
//! it shares no code with: tonic-web (`bench-server --impl tonic --grpc-web
//! on`: tonic's `GrpcWebLayer` with `accept_http1`, hyper's HTTP/1.1).
//! PROTOCOL-WEB unary calls: the reply, then an error status.

use std::process::Command;

use bytes::Bytes;
use weir_benches::harness::process;
use weir_rt::{Code, Request};
use weir_tokio::Endpoint;

/// `HelloRequest { name }` as protobuf (field 1, a string).
fn hello_request(name: &str) -> Bytes {
    let mut b = vec![0x0a, name.len() as u8];
    b.extend_from_slice(name.as_bytes());
    Bytes::from(b)
}

#[test]
fn weir_grpc_web_client_calls_tonic_web() {
    let port = process::free_port().unwrap();
    let addr = format!("127.0.0.1:{port}");
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_bench-server"));
    cmd.args(["--addr", &addr, "--threads", "1", "--impl", "tonic", "--grpc-web", "on"]);
    let _server = process::start_server(cmd, addr.parse().unwrap()).expect("tonic-web server");
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    rt.block_on(async {
        let ch = Endpoint::new(format!("http://{addr}")).unwrap().grpc_web(true).connect().await.unwrap();
        for name in ["web", "again"] {
            let reply =
                ch.unary("/helloworld.Greeter/SayHello", Request::new(hello_request(name))).await.unwrap();
            let text = format!("Hello {name}");
            let mut want = vec![0x0a, text.len() as u8];
            want.extend_from_slice(text.as_bytes());
            assert_eq!(reply.into_inner(), Bytes::from(want));
        }
        let err = ch.unary("/helloworld.Greeter/Nope", Request::new(Bytes::new())).await.unwrap_err();
        assert_eq!(err.code, Code::Unimplemented, "{err}");
    });
}
