//! `stream-instr --impl weir|tonic --mode download|upload|echo --size BYTES --count N [--calls K]`:
//! one process, one thread: a server and a client on a current-thread tokio
//! runtime over loopback, a warm-up call, then `calls` streaming calls at once
//! (default 1) on one connection, each of `count` messages of `size` bytes. Run under callgrind with two counts, the
//! difference of the instruction totals over the difference of the counts is
//! what one streamed message costs both sides together, without start-up
//! costs and without timing noise (`benches/instr.sh` does exactly that).

use std::net::SocketAddr;
use std::time::Duration;

use futures::StreamExt;
use weir_benches::args::Args;
use weir_benches::services::{tonic_serve, weir_server};
use weir_benches::{tonic_gen, weir_gen};

type Error = Box<dyn std::error::Error>;

fn main() -> Result<(), Error> {
    let args = Args::from_env();
    let stack = args.get("impl", "weir").to_owned();
    let mode = args.get("mode", "download").to_owned();
    let size: u32 = args.num("size", 1024);
    let count: u32 = args.num("count", 10_000);
    let calls: u32 = args.num("calls", 1);
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    let got = rt.block_on(async move {
        let addr = std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?;
        match stack.as_str() {
            "weir" => {
                let bound = weir_server(weir_tokio::Server::builder()).bind(addr).await?;
                tokio::spawn(async move { bound.serve().await });
                let ch = weir_tokio::Endpoint::new(format!("http://{addr}"))?.connect().await?;
                let mut c = weir_gen::bench::bench_client::BenchClient::new(ch);
                weir_call(&mut c, &mode, size, 10).await?;
                let all = (0..calls).map(|_| {
                    let mut c = c.clone();
                    let mode = mode.clone();
                    async move { weir_call(&mut c, &mode, size, count).await }
                });
                sum(futures::future::join_all(all).await)
            }
            "tonic" => {
                tokio::spawn(tonic_serve(addr));
                let mut c = tonic_gen::bench::bench_client::BenchClient::new(tonic_channel(addr).await?);
                tonic_call(&mut c, &mode, size, 10).await?;
                let all = (0..calls).map(|_| {
                    let mut c = c.clone();
                    let mode = mode.clone();
                    async move { tonic_call(&mut c, &mode, size, count).await }
                });
                sum(futures::future::join_all(all).await)
            }
            other => Err(format!("unknown --impl {other}").into()),
        }
    })?;
    let want = u64::from(count) * u64::from(calls);
    if got != want {
        return Err(format!("{got} messages of {want}").into());
    }
    println!("messages={got}");
    Ok(())
}

/// The messages of every call, or the first error.
fn sum(results: Vec<Result<u64, Error>>) -> Result<u64, Error> {
    results.into_iter().sum()
}

/// tonic's channel, once its server listens.
async fn tonic_channel(addr: SocketAddr) -> Result<tonic::transport::Channel, Error> {
    let endpoint = tonic::transport::Endpoint::from_shared(format!("http://{addr}"))?.tcp_nodelay(true);
    for _ in 0..200 {
        if let Ok(ch) = endpoint.connect().await {
            return Ok(ch);
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    Err("tonic's server did not start".into())
}

/// One call through Weir; the number of messages that made the trip.
async fn weir_call(
    c: &mut weir_gen::bench::bench_client::BenchClient,
    mode: &str,
    size: u32,
    count: u32,
) -> Result<u64, Error> {
    use weir_gen::bench::{Chunk, DownloadRequest};
    let data = bytes::Bytes::from(vec![7u8; size as usize]);
    let chunks = futures::stream::iter((0..count).map(move |_| Chunk { data: data.clone() }));
    let mut n = 0;
    match mode {
        "download" => {
            let mut s = c.download(DownloadRequest { count, size }).await?.into_inner();
            while s.message().await?.is_some() {
                n += 1;
            }
        }
        "upload" => n = u64::from(c.upload(chunks).await?.into_inner().chunks),
        _ => {
            let mut s = c.hold(chunks).await?.into_inner();
            while s.message().await?.is_some() {
                n += 1;
            }
        }
    }
    Ok(n)
}

/// One call through tonic; the number of messages that made the trip.
async fn tonic_call(
    c: &mut tonic_gen::bench::bench_client::BenchClient<tonic::transport::Channel>,
    mode: &str,
    size: u32,
    count: u32,
) -> Result<u64, Error> {
    use tonic_gen::bench::{Chunk, DownloadRequest};
    let data = bytes::Bytes::from(vec![7u8; size as usize]);
    let chunks = futures::stream::iter((0..count).map(move |_| Chunk { data: data.clone() }));
    let mut n = 0;
    match mode {
        "download" => {
            let mut s = c.download(DownloadRequest { count, size }).await?.into_inner();
            while s.message().await?.is_some() {
                n += 1;
            }
        }
        "upload" => n = u64::from(c.upload(chunks.boxed()).await?.into_inner().chunks),
        _ => {
            let mut s = c.hold(chunks.boxed()).await?.into_inner();
            while s.message().await?.is_some() {
                n += 1;
            }
        }
    }
    Ok(n)
}
