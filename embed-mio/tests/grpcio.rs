//! gRPC's interop client in Python grpcio (the C core) runs every one of its
//! 18 cases against the mio loop, over h2c and over TLS. The interpreter is
//! `scripts/setup-python.sh`'s `.venv`, or `WEIR_PYTHON`.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::Command;
use std::sync::Arc;

use weir_embed_mio::{EventLoop, Options, TEST_CERT, TEST_KEY, tls_config};

#[path = "../../rt/tests/python/interpreter.rs"]
mod interpreter;

const CASES: usize = 18;

fn start(
    tls: bool,
) -> (SocketAddr, weir_embed_mio::StopHandle, std::thread::JoinHandle<std::io::Result<()>>) {
    let mut options = Options::default();
    if tls {
        options.tls = Some(Arc::new(tls_config(TEST_CERT, TEST_KEY).expect("test certificate")));
    }
    let server = EventLoop::bind("127.0.0.1:0".parse().unwrap(), options).expect("bind");
    let (addr, stop) = (server.local_addr().unwrap(), server.stop_handle());
    (addr, stop, std::thread::spawn(move || server.run()))
}

fn grpcio_client_passes_every_case(tls: bool) {
    let (addr, stop, running) = start(tls);
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut cmd = Command::new(interpreter::python());
    cmd.arg(root.join("interop/python/interop_client.py")).args([
        "--server_host",
        "127.0.0.1",
        "--server_port",
        &addr.port().to_string(),
        "--test_case",
        "all",
    ]);
    if tls {
        cmd.args(["--use_tls=true", "--server_host_override", "foo.test.google.fr", "--ca_file"])
            .arg(root.join("interop/certs/ca.pem"));
    } else {
        cmd.arg("--use_tls=false");
    }
    let out = cmd.output().expect("run the grpcio interop client");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let report = format!("{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "grpcio client failed:\n{report}");
    assert_eq!(stdout.lines().filter(|l| l.starts_with("PASS ")).count(), CASES, "{report}");
    assert!(stdout.contains(&format!("{CASES} passed, 0 failed")), "{report}");
    // The loop stops gracefully: run returns once its connections closed.
    stop.stop();
    running.join().expect("loop thread").expect("loop ran without an error");
}

#[test]
fn grpcio_client_passes_every_case_over_h2c() {
    grpcio_client_passes_every_case(false);
}

#[test]
fn grpcio_client_passes_every_case_over_tls() {
    grpcio_client_passes_every_case(true);
}
