//! The interop server stops gracefully on SIGTERM: a call in flight when the
//! signal arrives still gets every response and an OK status, and the process
//! exits with status 0 (on both runtimes).

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use weir_interop::testing::test_service_client::TestServiceClient;
use weir_interop::testing::{ResponseParameters, StreamingOutputCallRequest};
use weir_tokio::Endpoint;

/// The server process (killed if the test fails before it exits) and its
/// standard error, kept open so it can still write there.
struct Server(Child, #[allow(dead_code)] BufReader<std::process::ChildStderr>);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn start(runtime: &str) -> (Server, u16) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_interop-server"))
        .args(["--port", "0", "--runtime", runtime])
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn interop-server");
    let mut line = String::new();
    let mut stderr = BufReader::new(child.stderr.take().expect("stderr"));
    stderr.read_line(&mut line).expect("read");
    let port = line.trim().rsplit(':').next().and_then(|p| p.parse().ok());
    let port = port.unwrap_or_else(|| panic!("no port in {line:?}"));
    (Server(child, stderr), port)
}

fn sigterm(child: &Child) {
    let ok = Command::new("kill").args(["-TERM", &child.id().to_string()]).status().expect("kill");
    assert!(ok.success());
}

fn stops_gracefully(runtime: &str) {
    let (mut server, port) = start(runtime);
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    rt.block_on(async {
        let ch = Endpoint::new(format!("http://127.0.0.1:{port}")).unwrap().connect().await.unwrap();
        let c = TestServiceClient::new(ch);
        // Four responses 200 ms apart: the signal arrives after the first.
        let params =
            (0..4).map(|_| ResponseParameters { size: 10, interval_us: 200_000, ..Default::default() });
        let req = StreamingOutputCallRequest { response_parameters: params.collect(), ..Default::default() };
        let mut s = c.streaming_output_call(req).await.expect("call").into_inner();
        assert!(s.message().await.expect("first response").is_some());
        sigterm(&server.0);
        let mut rest = 0;
        while let Some(r) = s.message().await.expect("the call in flight finishes") {
            assert_eq!(r.payload.map(|p| p.body.len()), Some(10));
            rest += 1;
        }
        assert_eq!(rest, 3, "every response after the signal arrived");
    });
    let deadline = Instant::now() + Duration::from_secs(10);
    let status = loop {
        if let Some(status) = server.0.try_wait().expect("wait") {
            break status;
        }
        assert!(Instant::now() < deadline, "{runtime}: still running 10 s after SIGTERM");
        std::thread::sleep(Duration::from_millis(20));
    };
    assert!(status.success(), "{runtime}: exit status {status:?}");
}

#[test]
fn tokio_server_stops_gracefully_on_sigterm() {
    stops_gracefully("tokio");
}

#[test]
fn smol_server_stops_gracefully_on_sigterm() {
    stops_gracefully("smol");
}
