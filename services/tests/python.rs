//! grpcio (Python, the C core) calls a Weir server's health and reflection
//! services: grpcio-health-checking's stub and grpcio-reflection's
//! descriptor database. The interpreter comes from `scripts/setup-python.sh`
//! (`.venv`), or `WEIR_PYTHON`.

use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use weir_rt::Server;
use weir_services::health::{HealthReporter, ServingStatus};
use weir_services::reflection::ReflectionBuilder;

#[path = "../../rt/tests/python/interpreter.rs"]
mod interpreter;
use interpreter::python;

#[test]
fn grpcio_checks_health_and_reflection() {
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let port = rt.block_on(async {
        let (reporter, health) = HealthReporter::new();
        reporter.set("test.Svc", ServingStatus::Serving);
        let reflection = ReflectionBuilder::new();
        let server = Server::new(weir_tokio::Tokio)
            .add_service(health)
            .add_service(reflection.build_v1().unwrap())
            .add_service(reflection.build_v1alpha().unwrap());
        let bound = server.bind("127.0.0.1:0".parse().unwrap()).await.unwrap();
        let port = bound.local_addr().unwrap().port();
        tokio::spawn(async move {
            let _keep = reporter;
            let _ = bound.serve().await;
        });
        port
    });
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/python/peer.py");
    let mut child = Command::new(python())
        .arg(script)
        .arg(port.to_string())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while child.try_wait().unwrap().is_none() {
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            panic!("the grpcio peer did not finish in 60 s");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let out = child.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "grpcio peer failed:\n{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(stdout.matches("PASS").count(), 9, "{stdout}");
    drop(rt);
}
