//! grpcio (Python, the C core) calls a Weir server's health, reflection and
//! channelz services: grpcio-health-checking's stub, grpcio-reflection's
//! descriptor database and grpcio-channelz's stubs. The interpreter comes
//! from `scripts/setup-python.sh` (`.venv`), or `WEIR_PYTHON`.

use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use weir_rt::{Code, Server};
use weir_services::admin::Admin;
use weir_services::health::{HealthClient, HealthReporter, ServingStatus};
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
    let stdout = run_peer("peer.py", port);
    assert_eq!(stdout.matches("PASS").count(), 9, "{stdout}");
    drop(rt);
}

/// Runs `tests/python/SCRIPT PORT` (at most 60 s); its output when it succeeded.
fn run_peer(script: &str, port: u16) -> String {
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/python").join(script);
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
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(out.status.success(), "grpcio peer failed:\n{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    stdout
}

/// grpcio-channelz lists a Weir server's calls: a server with the admin
/// bundle, and a Weir channel registered with the same channelz registry
/// that made 2 OK and 1 failing calls (what `channelz.py` expects) and stays
/// open while the script checks servers, server sockets, the channel, its
/// subchannel and sockets against the calls both sides made.
#[test]
fn grpcio_channelz_lists_our_calls() {
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let admin = Admin::new();
    let (port, channel, watch) = rt.block_on(async {
        let bound = admin
            .register(Server::new(weir_tokio::Tokio))
            .bind("127.0.0.1:0".parse().unwrap())
            .await
            .unwrap();
        let port = bound.local_addr().unwrap().port();
        tokio::spawn(bound.serve());
        let target = format!("http://127.0.0.1:{port}");
        let handler = admin.channelz().channel_handler(target.clone());
        let endpoint = weir_tokio::Endpoint::new(target).unwrap().stats_handler(handler.clone());
        let channel = endpoint.connect().await.unwrap();
        let watch = handler.watch(&channel);
        let health = HealthClient::new(channel.clone());
        for _ in 0..2 {
            assert_eq!(health.check("").await.unwrap(), ServingStatus::Serving);
        }
        assert_eq!(health.check("no.Such").await.unwrap_err().code, Code::NotFound);
        (port, channel, watch)
    });
    let stdout = run_peer("channelz.py", port);
    assert_eq!(stdout.matches("PASS").count(), 30, "{stdout}");
    drop((channel, watch));
    drop(rt);
}
