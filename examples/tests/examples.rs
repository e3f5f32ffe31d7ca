//! Every example binary runs: the README demo, the helloworld and route guide
//! servers with their clients, the chat room with several members, and the
//! custom event loop serving grpcio and Weir clients.

use std::io::{BufRead, BufReader, Write};
use std::path::PathBuf;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

#[path = "../../rt/tests/python/interpreter.rs"]
mod interpreter;
use interpreter::python;

/// A server binary that prints its address on its first line; its standard
/// output stays open (a server may print more, such as when it stops).
struct Spawned {
    child: Child,
    addr: String,
    _stdout: BufReader<std::process::ChildStdout>,
}

impl Drop for Spawned {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn spawn_server(bin: &str, prefix_words: usize) -> Spawned {
    let mut child =
        Command::new(bin).arg("127.0.0.1:0").stdout(Stdio::piped()).spawn().expect("spawn server");
    let mut line = String::new();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    stdout.read_line(&mut line).unwrap();
    let addr = line.split_whitespace().nth(prefix_words).unwrap_or_default().to_owned();
    assert!(addr.contains(':'), "no address in {line:?}");
    Spawned { child, addr, _stdout: stdout }
}

/// Runs a client binary with a time limit.
fn run(bin: &str, args: &[&str]) -> Output {
    let mut child =
        Command::new(bin).args(args).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    while child.try_wait().unwrap().is_none() {
        assert!(Instant::now() < deadline, "{bin} did not finish");
        std::thread::sleep(Duration::from_millis(20));
    }
    child.wait_with_output().unwrap()
}

fn stdout_of(out: &Output) -> String {
    assert!(
        out.status.success(),
        "failed: {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn the_readme_demo_runs_every_rpc_kind() {
    let out = stdout_of(&run(env!("CARGO_BIN_EXE_demo"), &[]));
    for expected in [
        "SayHello -> \"Hello Weir\"",
        "SayHelloStreamReply -> \"Hallo world\"",
        "GetFeature -> \"Landmark 3-0\"",
        "ListFeatures -> 3 features",
        "RecordRoute -> 5 points, 2 features",
        "RouteChat -> earlier note \"second\"",
        "demo OK",
    ] {
        assert!(out.contains(expected), "missing {expected:?} in:\n{out}");
    }
}

#[test]
fn helloworld_server_and_client() {
    let server = spawn_server(env!("CARGO_BIN_EXE_helloworld_server"), 3);
    let out = stdout_of(&run(
        env!("CARGO_BIN_EXE_helloworld_client"),
        &[&format!("http://{}", server.addr), "tester"],
    ));
    assert_eq!(out.trim(), "Hello tester");
}

#[test]
fn route_guide_server_and_client() {
    let server = spawn_server(env!("CARGO_BIN_EXE_route_guide_server"), 3);
    let out =
        stdout_of(&run(env!("CARGO_BIN_EXE_route_guide_client"), &[&format!("http://{}", server.addr)]));
    assert!(out.contains("feature at origin: \"Landmark 0-0\""), "{out}");
    assert!(out.contains("features in the world: 34"), "{out}");
    assert!(out.contains("route: 10 points, 4 features"), "{out}");
    assert!(out.contains("earlier note at origin: note 1"), "{out}");
}

#[test]
fn chat_members_see_each_other() {
    let server = spawn_server(env!("CARGO_BIN_EXE_chat_server"), 3);
    let url = format!("http://{}", server.addr);
    let names = ["ada", "bob", "cy"];
    let mut clients: Vec<Child> = names
        .iter()
        .map(|n| {
            Command::new(env!("CARGO_BIN_EXE_chat_client"))
                .args([*n, url.as_str()])
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    // Each member joins, then says one line once everyone is in.
    std::thread::sleep(Duration::from_millis(500));
    for (c, n) in clients.iter_mut().zip(names) {
        writeln!(c.stdin.as_mut().unwrap(), "hi from {n}").unwrap();
    }
    let readers: Vec<_> = clients
        .iter_mut()
        .map(|c| {
            let out = c.stdout.take().unwrap();
            std::thread::spawn(move || {
                let mut seen = Vec::new();
                for line in BufReader::new(out).lines().map_while(Result::ok) {
                    seen.push(line);
                    if seen.len() == 3 {
                        break;
                    }
                }
                seen
            })
        })
        .collect();
    for r in readers {
        let mut seen = r.join().unwrap();
        seen.sort();
        assert_eq!(seen, vec!["[ada] hi from ada", "[bob] hi from bob", "[cy] hi from cy"]);
    }
    for mut c in clients {
        let _ = c.kill();
        let _ = c.wait();
    }
}

#[test]
fn custom_event_loop_serves_grpcio_and_weir_clients() {
    let server = spawn_server(env!("CARGO_BIN_EXE_custom_event_loop"), 1);
    let port = server.addr.rsplit(':').next().unwrap().to_owned();
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let script = dir.join("tests/python/greeter_client.py");
    let out = run(
        python().to_str().unwrap(),
        &[script.to_str().unwrap(), dir.join("proto").to_str().unwrap(), &port],
    );
    let text = stdout_of(&out);
    assert_eq!(text.matches("PASS").count(), 3, "{text}");
    // And Weir's own client.
    let out = stdout_of(&run(
        env!("CARGO_BIN_EXE_helloworld_client"),
        &[&format!("http://{}", server.addr), "loop"],
    ));
    assert_eq!(out.trim(), "Hello loop");
}

/// Every server example stops on SIGTERM (what `kill`, systemd and
/// Kubernetes send) by shutting down gracefully, and exits with status 0,
/// with a client connection open at the time.
#[test]
fn servers_exit_cleanly_on_sigterm() {
    for (bin, words) in [
        (env!("CARGO_BIN_EXE_helloworld_server"), 3),
        (env!("CARGO_BIN_EXE_route_guide_server"), 3),
        (env!("CARGO_BIN_EXE_chat_server"), 3),
        (env!("CARGO_BIN_EXE_custom_event_loop"), 1),
    ] {
        let mut server = spawn_server(bin, words);
        let conn = std::net::TcpStream::connect(&server.addr).expect("connect");
        let kill = Command::new("kill").args(["-TERM", &server.child.id().to_string()]).status().unwrap();
        assert!(kill.success());
        let deadline = Instant::now() + Duration::from_secs(10);
        let status = loop {
            if let Some(status) = server.child.try_wait().unwrap() {
                break status;
            }
            assert!(Instant::now() < deadline, "{bin}: still running 10 s after SIGTERM");
            std::thread::sleep(Duration::from_millis(20));
        };
        assert!(status.success(), "{bin}: {status:?}");
        drop(conn);
    }
}

/// The README's quick start is `examples/src/bin/quickstart.rs`, verbatim
/// (the file's leading `//!` lines aside), so what a new user copies builds
/// and runs: this test and the next keep it so.
#[test]
fn the_readme_quick_start_is_the_quickstart_example() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    let readme = std::fs::read_to_string(root.join("README.md")).unwrap();
    let marker = "<!-- quickstart: kept equal to examples/src/bin/quickstart.rs by a test -->\n```rust\n";
    let start = readme.find(marker).expect("the quick start marker in README.md") + marker.len();
    let block = &readme[start..start + readme[start..].find("\n```").expect("the end of the block")];
    let file = std::fs::read_to_string(root.join("examples/src/bin/quickstart.rs")).unwrap();
    let body: Vec<&str> = file.lines().skip_while(|l| l.starts_with("//!") || l.is_empty()).collect();
    assert_eq!(
        block.trim_end(),
        body.join("\n").trim_end(),
        "README.md's quick start and quickstart.rs differ"
    );
}

/// The README's axum section is an excerpt of `examples/src/bin/axum_app.rs`
/// (its `main`, one indent less), so what it shows builds and runs.
#[test]
fn the_readme_axum_excerpt_is_in_the_axum_example() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    let readme = std::fs::read_to_string(root.join("README.md")).unwrap();
    let marker = "<!-- axum: an excerpt of examples/src/bin/axum_app.rs, checked by a test -->\n```rust\n";
    let start = readme.find(marker).expect("the axum marker in README.md") + marker.len();
    let block = &readme[start..start + readme[start..].find("\n```").expect("the end of the block")];
    let indented: Vec<String> = block.lines().map(|l| format!("    {l}")).collect();
    let file = std::fs::read_to_string(root.join("examples/src/bin/axum_app.rs")).unwrap();
    assert!(file.contains(&indented.join("\n")), "README.md's axum excerpt is not in axum_app.rs");
}

#[test]
fn the_axum_example_answers_rest_and_grpc_on_one_port() {
    let out = stdout_of(&run(env!("CARGO_BIN_EXE_axum_app"), &[]));
    let lines: Vec<&str> = out.lines().collect();
    assert!(lines[0].starts_with("serving REST and gRPC on 127.0.0.1:"), "{out}");
    assert_eq!(lines[1..], ["gRPC: Hello gRPC", "REST: Hello REST"], "{out}");
}

#[test]
fn the_quick_start_runs() {
    let out = stdout_of(&run(env!("CARGO_BIN_EXE_quickstart"), &[]));
    assert_eq!(out, "Hello world\nHello world\nBonjour world\nINVALID_ARGUMENT: say who to greet\n");
}
