//! Interoperability with Python grpcio (the C core): a grpcio client calls a
//! Weir server, and a Weir client calls a grpcio server, for all four call
//! kinds. The interpreter comes from `scripts/setup-python.sh` (`.venv`), or
//! `WEIR_PYTHON`.

mod suite;

use std::io::{BufRead, BufReader, Write};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::Duration;

use bytes::Bytes;
use weir_rt::{Code, Request};
use weir_tokio::{Endpoint, Tokio};

fn python() -> PathBuf {
    if let Ok(p) = std::env::var("WEIR_PYTHON") {
        return p.into();
    }
    let venv = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../.venv/bin/python");
    assert!(venv.exists(), "Python peer missing: run scripts/setup-python.sh (or set WEIR_PYTHON)");
    venv
}

fn peer_script() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/python/peer.py")
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap()
}

#[test]
fn python_client_calls_weir_server() {
    let rt = runtime();
    rt.block_on(async {
        let server = suite::start(&Tokio, suite::test_server(Tokio, Default::default())).await;
        let port = server.addr.unwrap().port();
        let out = tokio::task::spawn_blocking(move || {
            Command::new(python()).arg(peer_script()).arg("client").arg(port.to_string()).output().unwrap()
        });
        let out = tokio::time::timeout(Duration::from_secs(60), out)
            .await
            .expect("python client timed out")
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "python client failed:\n{stdout}\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(stdout.matches("PASS").count(), 6, "{stdout}");
        server.stop().await;
    });
}

#[test]
fn weir_client_calls_python_server() {
    let mut child = Command::new(python())
        .arg(peer_script())
        .arg("server")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
    let port: u16 = line.trim().strip_prefix("LISTENING ").expect("port line").parse().unwrap();
    let rt = runtime();
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        rt.block_on(async {
            tokio::time::timeout(Duration::from_secs(60), async {
                let ch = Endpoint::new(format!("http://127.0.0.1:{port}")).unwrap().connect().await.unwrap();
                suite::call_kinds_against_any_server(&ch).await;
                let err = ch.unary("/test.Test/Missing", Request::new(Bytes::new())).await.unwrap_err();
                assert_eq!(err.code, Code::Unimplemented);
            })
            .await
            .expect("timed out")
        })
    }));
    let _ = child.stdin.take().map(|mut s| s.write_all(b""));
    let _ = child.kill();
    let _ = child.wait();
    if let Err(e) = result {
        std::panic::resume_unwind(e);
    }
}
