//! Interoperability with Python grpcio (the C core): a grpcio client calls a
//! Weir server, and a Weir client calls a grpcio server, for all four call
//! kinds, on each runtime. The interpreter comes from
//! `scripts/setup-python.sh` (`.venv`), or `WEIR_PYTHON`.

mod suite;

use std::path::PathBuf;
use std::process::Command;

use bytes::Bytes;
use weir_rt::runtime::Net;
use weir_rt::{Code, Endpoint, Request};

#[path = "python/interpreter.rs"]
mod interpreter;
use interpreter::{PythonServer, python};

fn peer_script() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/python/peer.py")
}

async fn python_client_calls_weir_server<R: Net + Default>(rt: R) {
    let server = suite::start(&rt, suite::test_server(rt.clone(), Default::default())).await;
    let port = server.addr.unwrap().port();
    // The client process is waited for on a thread of its own.
    let (tx, rx) = futures::channel::oneshot::channel();
    std::thread::spawn(move || {
        let _ = tx.send(
            Command::new(python()).arg(peer_script()).arg("client").arg(port.to_string()).output().unwrap(),
        );
    });
    let out = rx.await.expect("python client ran");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "python client failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(stdout.matches("PASS").count(), 8, "{stdout}");
    server.stop().await;
}

async fn weir_client_calls_python_server<R: Net + Default>(_rt: R, port: u16) {
    let ch = Endpoint::<R>::new(format!("http://127.0.0.1:{port}")).unwrap().connect().await.unwrap();
    // grpcio's server answers deflate-compressed; requests go gzip and deflate.
    suite::call_kinds_against_any_server(&ch).await;
    let big = Bytes::from(vec![b'w'; 100_000]);
    for algo in ["gzip", "deflate"] {
        let mut req = Request::new(big.clone());
        req.set_compression(algo);
        let reply = ch.unary("/test.Test/Unary", req).await.unwrap_or_else(|e| panic!("{algo}: {e}"));
        assert!(reply.message_compressed(), "grpcio answered deflate-compressed");
        assert_eq!(reply.into_inner(), big, "{algo}");
    }
    let err = ch.unary("/test.Test/Missing", Request::new(Bytes::new())).await.unwrap_err();
    assert_eq!(err.code, Code::Unimplemented);
}

/// Both tests on one runtime's runner.
macro_rules! on_runtime {
    ($module:ident, $run:path) => {
        mod $module {
            #[test]
            fn python_client_calls_weir_server() {
                $run(super::python_client_calls_weir_server);
            }

            #[test]
            fn weir_client_calls_python_server() {
                let peer = super::PythonServer::start(&super::peer_script());
                $run(|rt| super::weir_client_calls_python_server(rt, peer.port));
            }
        }
    };
}

on_runtime!(tokio, crate::suite::runners::run_on_tokio);
on_runtime!(smol, crate::suite::runners::run_on_smol);
