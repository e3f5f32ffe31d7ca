//! `mem-probe --impl weir|tonic --client PATH [--conns N] [--streams M]`
//!
//! Serves in-process (one runtime thread) under a counting allocator, has a
//! `bench-client` child open N idle connections, then M open streams on one
//! connection, and reports the server's heap growth per connection and per
//! stream, and its peak RSS.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;

use weir_benches::alloc_count::{self, Counting};
use weir_benches::args::Args;
use weir_benches::services::{tonic_serve, weir_server};

#[global_allocator]
static ALLOC: Counting = Counting;

fn peak_rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| s.lines().find(|l| l.starts_with("VmHWM:")).map(str::to_owned))
        .and_then(|l| l.split_whitespace().nth(1).and_then(|v| v.parse().ok()))
        .unwrap_or(0)
}

/// Runs the client child in `mode` and returns the server's live-heap growth
/// once the child reports READY (after letting things settle).
fn measure(client: &str, stack: &str, addr: &str, extra: &[&str]) -> Result<isize, String> {
    let settle = || std::thread::sleep(Duration::from_millis(500));
    settle();
    let before = alloc_count::live();
    let mut child = Command::new(client)
        .args(["--impl", stack, "--addr", addr])
        .args(extra)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .map_err(|e| e.to_string())?;
    let mut line = String::new();
    BufReader::new(child.stdout.take().ok_or("no stdout")?)
        .read_line(&mut line)
        .map_err(|e| e.to_string())?;
    if line.trim() != "READY" {
        return Err(format!("client said {line:?}"));
    }
    settle();
    let after = alloc_count::live();
    drop(child.stdin.take());
    let _ = child.wait();
    Ok(after - before)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args = Args::from_env();
    let stack = args.get("impl", "weir").to_owned();
    let client = args.get("client", "target/release/bench-client").to_owned();
    let conns: usize = args.num("conns", 200);
    let streams: usize = args.num("streams", 1000);
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build()?;
    let addr = rt.block_on(async {
        let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
        let addr = listener.local_addr()?;
        drop(listener);
        if stack == "weir" {
            tokio::spawn(weir_server(weir_tokio::Server::builder()).bind(addr).await?.serve());
        } else {
            tokio::spawn(tonic_serve(addr));
        }
        Ok::<_, std::io::Error>(addr.to_string())
    })?;
    let per_conn = measure(&client, &stack, &addr, &["--mode", "idle", "--connections", &conns.to_string()])?;
    let per_stream =
        measure(&client, &stack, &addr, &["--mode", "streams", "--streams", &streams.to_string()])?;
    println!(
        "impl={stack} heap_per_idle_conn={} heap_per_open_stream={} heap_peak={} peak_rss_kib={}",
        per_conn / conns as isize,
        per_stream / streams as isize,
        alloc_count::peak(),
        peak_rss_kib()
    );
    drop(rt);
    Ok(())
}
