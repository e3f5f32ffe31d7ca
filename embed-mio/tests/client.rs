//! The calling side of the mio loop: many connections from one thread,
//! against the mio server itself and against grpcio's server, over h2c and
//! TLS; refused and over-limit connections fail their calls as UNAVAILABLE
//! instead of hanging.

use std::io::BufRead;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;

use weir_core::grpc::Code;
use weir_embed_mio::client::{LoadOptions, Report, run_unary_load, tls_client_config};
use weir_embed_mio::{EventLoop, Options, StopHandle, TEST_CERT, TEST_KEY, tls_config};

#[path = "../../rt/tests/python/interpreter.rs"]
mod interpreter;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn mio_server(tls: bool, max_connections: usize) -> (SocketAddr, StopHandle) {
    let mut options = Options { max_connections, ..Options::default() };
    if tls {
        options.tls = Some(Arc::new(tls_config(TEST_CERT, TEST_KEY).unwrap()));
    }
    let server = EventLoop::bind("127.0.0.1:0".parse().unwrap(), options).unwrap();
    let (addr, stop) = (server.local_addr().unwrap(), server.stop_handle());
    std::thread::spawn(move || server.run());
    (addr, stop)
}

fn load(addr: SocketAddr, tls: bool, connections: usize, calls: usize) -> Report {
    let mut options = LoadOptions::new(addr);
    (options.connections, options.calls, options.concurrency) = (connections, calls, 16);
    (options.request_size, options.response_size) = (300, 5000);
    if tls {
        let config = tls_client_config(&std::fs::read(root().join("interop/certs/ca.pem")).unwrap()).unwrap();
        options.tls = Some((Arc::new(config), "foo.test.google.fr".try_into().unwrap()));
    }
    run_unary_load(&options).expect("the load ran to its end")
}

fn assert_all_ok(report: &Report, want: usize) {
    assert_eq!((report.ok, report.failed), (want, 0), "{:?}", report.errors);
}

#[test]
fn calls_the_mio_server_over_h2c_and_tls() {
    for tls in [false, true] {
        let (addr, stop) = mio_server(tls, 100);
        assert_all_ok(&load(addr, tls, 8, 200), 1600);
        stop.stop();
    }
}

/// grpcio's interop server (`interop/python/interop_server.py`), stopped
/// when dropped.
struct GrpcioServer(Child, u16);

impl GrpcioServer {
    fn start(tls: bool) -> Self {
        let mut child = Command::new(interpreter::python())
            .arg(root().join("interop/python/interop_server.py"))
            .arg(format!("--use_tls={tls}"))
            .stdout(Stdio::piped())
            .spawn()
            .expect("start the grpcio server");
        let mut line = String::new();
        std::io::BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
        let port = line.trim().rsplit(':').next().and_then(|p| p.parse().ok());
        GrpcioServer(child, port.unwrap_or_else(|| panic!("no port in {line:?}")))
    }
}

impl Drop for GrpcioServer {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn calls_the_grpcio_server_over_h2c_and_tls() {
    for tls in [false, true] {
        let server = GrpcioServer::start(tls);
        assert_all_ok(&load(([127, 0, 0, 1], server.1).into(), tls, 4, 100), 400);
    }
}

#[test]
fn a_refused_connection_fails_its_calls_as_unavailable() {
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let report = load(([127, 0, 0, 1], port).into(), false, 2, 50);
    assert_eq!((report.ok, report.failed), (0, 100));
    assert!(report.errors.iter().all(|e| e.code == Code::Unavailable), "{:?}", report.errors);
}

#[test]
fn connections_over_the_limit_are_closed_and_their_calls_fail() {
    let (addr, stop) = mio_server(false, 2);
    let report = load(addr, false, 5, 20);
    // Two connections are served; the other three are closed at accept.
    assert_eq!((report.ok, report.failed), (40, 60), "{:?}", report.errors);
    assert!(report.errors.iter().all(|e| e.code == Code::Unavailable), "{:?}", report.errors);
    stop.stop();
}

/// A connection that never speaks (no ClientHello over TLS, no preface over
/// h2c) is closed by the core's `settings_ack_timeout`: the SETTINGS it sent
/// at accept go unanswered. No separate handshake timer is needed.
#[test]
fn silent_connections_are_closed_by_the_settings_timeout() {
    use std::io::Read;
    use std::time::{Duration, Instant};
    for tls in [false, true] {
        let mut options = Options::default();
        options.core.h2.settings_ack_timeout = Duration::from_millis(300);
        if tls {
            options.tls = Some(Arc::new(tls_config(TEST_CERT, TEST_KEY).unwrap()));
        }
        let server = EventLoop::bind("127.0.0.1:0".parse().unwrap(), options).unwrap();
        let (addr, stop) = (server.local_addr().unwrap(), server.stop_handle());
        std::thread::spawn(move || server.run());
        let mut silent = std::net::TcpStream::connect(addr).unwrap();
        silent.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        let start = Instant::now();
        let mut buf = [0; 4096];
        // h2c: SETTINGS, then GOAWAY and the close; TLS: only the close.
        while silent.read(&mut buf).is_ok_and(|n| n > 0) {}
        let took = start.elapsed();
        assert!(
            took >= Duration::from_millis(250) && took < Duration::from_secs(5),
            "tls {tls}: closed after {took:?}"
        );
        stop.stop();
    }
}

/// Connects, asks for `mebibytes` one-MiB responses on a FullDuplexCall,
/// and returns the socket, which the caller never reads.
fn ask_and_never_read(
    addr: SocketAddr,
    config: weir_core::grpc::ClientConfig,
    mebibytes: usize,
) -> std::net::TcpStream {
    use prost::Message;
    use std::io::Write;
    use weir_core::grpc::{CallRequest, Client};
    use weir_embed_mio::testing::{ResponseParameters, StreamingOutputCallRequest};
    let now = std::time::Instant::now();
    let mut client = Client::new(config, now);
    let call =
        client.start_call(now, CallRequest::new("/grpc.testing.TestService/FullDuplexCall", "test")).unwrap();
    let params = vec![ResponseParameters { size: 1 << 20, ..Default::default() }; mebibytes];
    let msg = StreamingOutputCallRequest { response_parameters: params, ..Default::default() };
    client.send_message(call, msg.encode_to_vec().into()).unwrap();
    let mut out = Vec::new();
    while client.poll_transmit(now, &mut out) > 0 {}
    let mut socket = std::net::TcpStream::connect(addr).unwrap();
    socket.write_all(&out).unwrap();
    socket
}

/// A client that asks for 16 MiB of responses, grants the window for all of
/// it and never reads its socket: once the server is stopped, its GOAWAY
/// cannot be written either, and the connection is dropped after the
/// core's `close_flush_timeout`; the loop ends instead of waiting forever.
#[test]
fn a_peer_that_never_reads_is_dropped_when_its_output_cannot_drain() {
    use std::time::Duration;
    use weir_core::grpc::ClientConfig;

    let mut options = Options::default();
    options.core.h2.close_flush_timeout = Duration::from_millis(300);
    options.core.h2.shutdown_grace = Duration::from_millis(300);
    let server = EventLoop::bind("127.0.0.1:0".parse().unwrap(), options).unwrap();
    let (addr, stop) = (server.local_addr().unwrap(), server.stop_handle());
    let (done_tx, done_rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || done_tx.send(server.run().is_ok()));

    let mut config = ClientConfig::default();
    config.h2.initial_stream_window = 32 << 20;
    config.h2.initial_connection_window = 32 << 20;
    let socket = ask_and_never_read(addr, config, 16);
    // The responses fill the socket buffers; then the server's own.
    std::thread::sleep(Duration::from_millis(300));
    stop.stop();
    let ended = done_rx.recv_timeout(Duration::from_secs(10));
    assert_eq!(ended, Ok(true), "the loop did not end: the stuck connection was kept");
    drop(socket);
}

/// A call whose responses wait for window (its client reads nothing) waits
/// for the core's `Writable`, not for the clock: the loop stays asleep. A
/// timer left in the past would wake it every 1 ms tick.
#[test]
fn a_call_waiting_for_window_does_not_wake_the_loop() {
    use std::time::Duration;
    use weir_core::grpc::ClientConfig;

    let (addr, stop) = mio_server(false, 100);
    let socket = ask_and_never_read(addr, ClientConfig::default(), 8);
    // The window the client granted fills; then nothing can move.
    std::thread::sleep(Duration::from_millis(300));
    let before = stop.turns();
    std::thread::sleep(Duration::from_millis(500));
    let woke = stop.turns() - before;
    // The stop check alone wakes the loop every 100 ms.
    assert!(woke <= 10, "the loop woke {woke} times in 500 ms with nothing to do");
    stop.stop();
    drop(socket);
}
