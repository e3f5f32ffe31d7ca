//! Message compression over loopback: every built-in algorithm per call
//! (requests) and per message (responses), and an unsupported encoding.

use bytes::Bytes;
use weir_rt::runtime::Net;
use weir_rt::{Code, Endpoint, Method, Request, Response, Server, Status};

use super::start;

const ECHO: &str = "/test.Zip/Echo";

/// The algorithm a request names in `x-algo`, as the `'static` token the
/// response API takes.
fn algorithm(name: &str) -> Option<&'static str> {
    ["gzip", "deflate", "zstd"].into_iter().find(|a| *a == name)
}

fn zip_server<R: Net>(rt: R) -> Server<R> {
    Server::new(rt).route(
        ECHO,
        Method::unary(|req: Request<Bytes>| async move {
            let algo = req.metadata().get_str("x-algo").and_then(algorithm);
            let algo = algo.ok_or_else(|| Status::new(Code::InvalidArgument, "x-algo"))?;
            if !req.message_compressed() {
                return Err(Status::new(Code::InvalidArgument, "request was not compressed"));
            }
            let mut resp = Response::new(req.into_inner());
            resp.set_compression(algo);
            Ok(resp)
        }),
    )
}

/// Requests compressed per call, responses per message, with gzip, deflate
/// and zstd: both sides see compressed messages and the same bytes.
pub async fn every_algorithm_compresses_both_ways<R: Net + Default>(rt: R) {
    let server = start(&rt, zip_server(rt.clone())).await;
    let ch = Endpoint::<R>::new(format!("http://{}", server.addr.unwrap())).unwrap().connect().await.unwrap();
    let body = Bytes::from(b"compress me ".repeat(10_000));
    for algo in ["gzip", "deflate", "zstd"] {
        let mut req = Request::new(body.clone());
        req.set_compression(algo);
        req.metadata_mut().insert("x-algo", algo).unwrap();
        let resp = ch.unary(ECHO, req).await.unwrap_or_else(|e| panic!("{algo}: {e}"));
        assert!(resp.message_compressed(), "{algo}: the response came compressed");
        assert_eq!(resp.into_inner(), body, "{algo}");
    }
    server.stop().await;
}

/// A request in an encoding the server does not have: UNIMPLEMENTED, naming
/// what it accepts, and the handler never runs.
pub async fn unsupported_encoding_is_unimplemented<R: Net + Default>(rt: R) {
    let mut zip = zip_server(rt.clone());
    zip.config_mut().messages.compressors = weir_core::grpc::Compressors::none();
    let server = start(&rt, zip).await;
    let ch = Endpoint::<R>::new(format!("http://{}", server.addr.unwrap())).unwrap().connect().await.unwrap();
    let mut req = Request::new(Bytes::from_static(b"x"));
    req.set_compression("zstd");
    req.metadata_mut().insert("x-algo", "zstd").unwrap();
    let err = ch.unary(ECHO, req).await.unwrap_err();
    assert_eq!(err.code, Code::Unimplemented, "{err}");
    assert!(err.message.contains("\"zstd\"") && err.message.contains("accepted: identity"), "{err}");
    server.stop().await;
}
