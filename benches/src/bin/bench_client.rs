//! `bench-client --impl weir|tonic --addr HOST:PORT --mode unary|download|upload|echo|idle|streams|churn [options]`
//!
//! Each stack's own client, driving a bench server:
//! - `unary`: SayHello with `--concurrency` workers over `--connections`
//!   connections for `--duration` seconds; prints rate and latency percentiles;
//! - `download`: repeated Download of `--count` chunks of `--size` bytes; prints MB/s;
//! - `upload`: repeated Upload (client streaming) of `--count` chunks of `--size`
//!   bytes; prints MB/s;
//! - `echo`: repeated Hold streams that send `--count` chunks of `--size` bytes and
//!   read their echoes; prints MB/s of one direction;
//! - `idle`: opens `--connections` connections (one call each), prints READY and
//!   holds them until stdin closes (memory probes);
//! - `streams`: opens `--streams` Hold streams on one connection, prints READY,
//!   holds them until stdin closes;
//! - `churn`: `--connections` short connections one after another, each a fresh
//!   channel doing `--calls` SayHello calls and then dropped; prints how many
//!   connections and calls succeeded, exits non-zero if any failed (soak tests).
//!
//! `--send-buffer BYTES` sets Weir's `loopback_send_buffer` (0: the kernel's
//! autotuning); tonic's client has no such option.

use std::time::{Duration, Instant};

use weir_benches::args::Args;
use weir_benches::harness::percentile;
use weir_benches::{tonic_gen, weir_gen};

#[derive(Clone)]
enum Client {
    Weir(weir_gen::helloworld::greeter_client::GreeterClient, weir_gen::bench::bench_client::BenchClient),
    Tonic(
        Box<tonic_gen::helloworld::greeter_client::GreeterClient<tonic::transport::Channel>>,
        Box<tonic_gen::bench::bench_client::BenchClient<tonic::transport::Channel>>,
    ),
}

async fn connect(stack: &str, addr: &str, send_buffer: Option<Option<usize>>) -> Result<Client, String> {
    let url = format!("http://{addr}");
    match stack {
        "weir" => {
            let mut endpoint = weir_tokio::Endpoint::new(&url).map_err(|e| e.to_string())?;
            if let Some(bytes) = send_buffer {
                endpoint = endpoint.loopback_send_buffer(bytes);
            }
            let ch = endpoint.connect().await.map_err(|e| e.to_string())?;
            Ok(Client::Weir(
                weir_gen::helloworld::greeter_client::GreeterClient::new(ch.clone()),
                weir_gen::bench::bench_client::BenchClient::new(ch),
            ))
        }
        "tonic" => {
            let ch = tonic::transport::Endpoint::from_shared(url)
                .map_err(|e| e.to_string())?
                .tcp_nodelay(true)
                .connect()
                .await
                .map_err(|e| e.to_string())?;
            Ok(Client::Tonic(
                Box::new(tonic_gen::helloworld::greeter_client::GreeterClient::new(ch.clone())),
                Box::new(tonic_gen::bench::bench_client::BenchClient::new(ch)),
            ))
        }
        other => Err(format!("unknown --impl {other}")),
    }
}

impl Client {
    async fn say_hello(&mut self) -> Result<(), String> {
        match self {
            Client::Weir(g, _) => {
                let r = g.say_hello(weir_gen::helloworld::HelloRequest { name: "world".into() }).await;
                check_reply(r.map(|r| r.into_inner().message).map_err(|e| e.to_string()))
            }
            Client::Tonic(g, _) => {
                let r = g.say_hello(tonic_gen::helloworld::HelloRequest { name: "world".into() }).await;
                check_reply(r.map(|r| r.into_inner().message).map_err(|e| e.to_string()))
            }
        }
    }

    async fn download(&mut self, count: u32, size: u32) -> Result<u64, String> {
        let mut bytes = 0u64;
        match self {
            Client::Weir(_, b) => {
                let req = weir_gen::bench::DownloadRequest { count, size };
                let mut s = b.download(req).await.map_err(|e| e.to_string())?.into_inner();
                while let Some(c) = s.message().await.map_err(|e| e.to_string())? {
                    bytes += c.data.len() as u64;
                }
            }
            Client::Tonic(_, b) => {
                let req = tonic_gen::bench::DownloadRequest { count, size };
                let mut s = b.download(req).await.map_err(|e| e.to_string())?.into_inner();
                while let Some(c) = s.message().await.map_err(|e| e.to_string())? {
                    bytes += c.data.len() as u64;
                }
            }
        }
        Ok(bytes)
    }

    /// One Hold stream: sends `count` chunks of `size` bytes, reads the echoes.
    async fn echo(&mut self, count: u32, size: u32) -> Result<u64, String> {
        let data = bytes::Bytes::from(vec![7u8; size as usize]);
        let mut bytes = 0u64;
        match self {
            Client::Weir(_, b) => {
                let chunks = (0..count).map(move |_| weir_gen::bench::Chunk { data: data.clone() });
                let mut s =
                    b.hold(futures::stream::iter(chunks)).await.map_err(|e| e.to_string())?.into_inner();
                while let Some(c) = s.message().await.map_err(|e| e.to_string())? {
                    bytes += c.data.len() as u64;
                }
            }
            Client::Tonic(_, b) => {
                let chunks = (0..count).map(move |_| tonic_gen::bench::Chunk { data: data.clone() });
                let mut s =
                    b.hold(futures::stream::iter(chunks)).await.map_err(|e| e.to_string())?.into_inner();
                while let Some(c) = s.message().await.map_err(|e| e.to_string())? {
                    bytes += c.data.len() as u64;
                }
            }
        }
        Ok(bytes)
    }

    /// One Upload: sends `count` chunks of `size` bytes, reads the summary.
    async fn upload(&mut self, count: u32, size: u32) -> Result<u64, String> {
        let data = bytes::Bytes::from(vec![7u8; size as usize]);
        let (bytes, chunks) = match self {
            Client::Weir(_, b) => {
                let chunks = (0..count).map(move |_| weir_gen::bench::Chunk { data: data.clone() });
                let s =
                    b.upload(futures::stream::iter(chunks)).await.map_err(|e| e.to_string())?.into_inner();
                (s.bytes, s.chunks)
            }
            Client::Tonic(_, b) => {
                let chunks = (0..count).map(move |_| tonic_gen::bench::Chunk { data: data.clone() });
                let s =
                    b.upload(futures::stream::iter(chunks)).await.map_err(|e| e.to_string())?.into_inner();
                (s.bytes, s.chunks)
            }
        };
        if chunks != count {
            return Err(format!("the server counted {chunks} chunks of {count}"));
        }
        Ok(bytes)
    }

    /// Opens a Hold stream, sends one chunk, waits for its echo; returns a
    /// guard keeping the stream open.
    async fn hold(&mut self) -> Result<Box<dyn std::any::Any + Send>, String> {
        match self {
            Client::Weir(_, b) => {
                let (tx, rx) = futures::channel::mpsc::unbounded();
                let mut s = b.hold(rx).await.map_err(|e| e.to_string())?.into_inner();
                let _ = tx.unbounded_send(weir_gen::bench::Chunk { data: bytes::Bytes::from_static(b"x") });
                s.message().await.map_err(|e| e.to_string())?;
                Ok(Box::new((tx, s)))
            }
            Client::Tonic(_, b) => {
                let (tx, rx) = futures::channel::mpsc::unbounded();
                let _ = tx.unbounded_send(tonic_gen::bench::Chunk { data: bytes::Bytes::from_static(b"x") });
                let mut s = b.hold(rx).await.map_err(|e| e.to_string())?.into_inner();
                s.message().await.map_err(|e| e.to_string())?;
                Ok(Box::new((tx, s)))
            }
        }
    }
}

fn check_reply(r: Result<String, String>) -> Result<(), String> {
    match r? {
        m if m == "Hello world" => Ok(()),
        other => Err(format!("unexpected reply {other:?}")),
    }
}

/// `--mode churn`: `connections` fresh channels one after another, `calls`
/// SayHello calls on each, every channel dropped before the next one opens.
async fn churn(
    stack: &str,
    addr: &str,
    send_buffer: Option<Option<usize>>,
    connections: usize,
    calls: usize,
) -> Result<(), Box<dyn std::error::Error>> {
    let start = Instant::now();
    let (mut ok_conns, mut ok_calls, mut first_error) = (0usize, 0usize, None);
    for _ in 0..connections {
        let result = async {
            let mut c = connect(stack, addr, send_buffer).await?;
            for _ in 0..calls {
                c.say_hello().await?;
                ok_calls += 1;
            }
            Ok::<_, String>(())
        }
        .await;
        match result {
            Ok(()) => ok_conns += 1,
            Err(e) => {
                first_error.get_or_insert(e);
            }
        }
    }
    let failed = connections - ok_conns;
    println!(
        "impl={stack} mode=churn connections={connections} calls_per_connection={calls} succeeded_connections={ok_conns} failed_connections={failed} succeeded_calls={ok_calls} secs={:.1}",
        start.elapsed().as_secs_f64(),
    );
    match first_error {
        Some(e) => Err(format!("{failed} of {connections} connections failed; first error: {e}").into()),
        None => Ok(()),
    }
}

fn wait_for_stdin_close() {
    let mut sink = String::new();
    while std::io::stdin().read_line(&mut sink).is_ok_and(|n| n > 0) {}
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args = Args::from_env();
    let stack = args.get("impl", "weir").to_owned();
    let addr = args.get("addr", "127.0.0.1:50051").to_owned();
    let mode = args.get("mode", "unary").to_owned();
    let connections: usize = args.num("connections", 1);
    let concurrency: usize = args.num("concurrency", 64);
    let duration = Duration::from_secs_f64(args.num("duration", 5.0));
    let (count, size): (u32, u32) = (args.num("count", 100), args.num("size", 1024));
    let streams: usize = args.num("streams", 1000);
    let threads: usize = args.num("threads", 1);
    let send_buffer = args.send_buffer();
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(threads).enable_all().build()?;
    if mode == "churn" {
        let calls: usize = args.num("calls", 3);
        return rt.block_on(churn(&stack, &addr, send_buffer, connections, calls));
    }
    rt.block_on(async move {
        let mut clients = Vec::with_capacity(connections);
        for _ in 0..connections {
            clients.push(connect(&stack, &addr, send_buffer).await?);
        }
        match mode.as_str() {
            "unary" | "download" | "echo" | "upload" => {
                // Warm up every connection once.
                for c in &mut clients {
                    c.say_hello().await?;
                }
                let start = Instant::now();
                let deadline = start + duration;
                let workers: Vec<_> = (0..concurrency)
                    .map(|w| {
                        let mut c = clients[w % connections].clone();
                        let mode = mode.clone();
                        tokio::spawn(async move {
                            let mut lat = Vec::new();
                            let mut bytes = 0u64;
                            while Instant::now() < deadline {
                                let t0 = Instant::now();
                                match mode.as_str() {
                                    "unary" => c.say_hello().await?,
                                    "download" => bytes += c.download(count, size).await?,
                                    "upload" => bytes += c.upload(count, size).await?,
                                    _ => bytes += c.echo(count, size).await?,
                                }
                                lat.push(t0.elapsed().as_micros() as u64);
                            }
                            Ok::<_, String>((lat, bytes))
                        })
                    })
                    .collect();
                let mut lat = Vec::new();
                let mut bytes = 0u64;
                for w in workers {
                    let (l, b) = w.await.map_err(|e| e.to_string())??;
                    lat.extend(l);
                    bytes += b;
                }
                let secs = start.elapsed().as_secs_f64();
                lat.sort_unstable();
                println!(
                    "impl={stack} mode={mode} connections={connections} concurrency={concurrency} calls={} rps={:.0} p50_us={} p90_us={} p99_us={} mbps={:.1}",
                    lat.len(),
                    lat.len() as f64 / secs,
                    percentile(&lat, 0.50),
                    percentile(&lat, 0.90),
                    percentile(&lat, 0.99),
                    bytes as f64 / secs / 1e6,
                );
            }
            "idle" => {
                for c in &mut clients {
                    c.say_hello().await?;
                }
                println!("READY");
                tokio::task::spawn_blocking(wait_for_stdin_close).await.map_err(|e| e.to_string())?;
            }
            "streams" => {
                let mut guards = Vec::with_capacity(streams);
                for _ in 0..streams {
                    guards.push(clients[0].hold().await?);
                }
                println!("READY");
                tokio::task::spawn_blocking(wait_for_stdin_close).await.map_err(|e| e.to_string())?;
                drop(guards);
            }
            other => return Err(format!("unknown --mode {other}")),
        }
        Ok::<_, String>(())
    })?;
    Ok(())
}
