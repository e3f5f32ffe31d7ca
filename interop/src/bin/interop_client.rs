//! `interop-client --server_host H --server_port P --test_case NAME[,NAME...]
//! [--use_tls] [--server_host_override NAME] [--ca_file PATH] [--runtime tokio|smol] [--grpc_web]`:
//! runs interop cases, one PASS/FAIL line each, then `N passed, M failed`.
//! `all` stands for every standard case; a name may repeat; the extra case
//! `server_streaming_4mib` runs only when named. `--grpc_web` calls as
//! gRPC-Web over HTTP/1.1 (`Endpoint::grpc_web`); `all` then leaves out the
//! two cases that need a full-duplex stream (ping_pong,
//! cancel_after_first_response), which HTTP/1.1 cannot carry.

use std::time::{Duration, Instant};

use futures::future::{Either, select};
use weir_interop::args::Args;
use weir_interop::{certs, client};
use weir_rt::Endpoint;
use weir_rt::runtime::Net;
use weir_rt::tls::ClientTlsConfig;

const HELP: &str = "interop-client --server_host H --server_port P --test_case NAME[,NAME...|all] \
[--use_tls] [--server_host_override NAME] [--ca_file PATH] [--runtime tokio|smol] [--grpc_web]";

/// How long one case may take before it counts as failed.
const CASE_LIMIT: Duration = Duration::from_secs(30);

type Error = Box<dyn std::error::Error>;

fn main() -> Result<(), Error> {
    let args = Args::parse(std::env::args().skip(1))?;
    if args.flag("help") {
        println!("{HELP}");
        return Ok(());
    }
    let failed = match args.get("runtime").unwrap_or("tokio") {
        "tokio" => {
            let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
            rt.block_on(run_cases(weir_tokio::Tokio, &args))?
        }
        "smol" => smol::block_on(run_cases(weir_smol::Smol::default(), &args))?,
        other => return Err(format!("unsupported --runtime {other}: {HELP}").into()),
    };
    std::process::exit(if failed == 0 { 0 } else { 1 });
}

/// Runs the selected cases on one channel; returns how many failed.
async fn run_cases<R: Net>(rt: R, args: &Args) -> Result<usize, Error> {
    let host = args.get("server_host").unwrap_or("localhost").to_owned();
    let port: u16 = args.get("server_port").ok_or("--server_port is required")?.parse()?;
    // A comma-separated list; `all` stands for every standard case, and a
    // name may repeat (each occurrence runs).
    let web = args.flag("grpc_web");
    let cases: Vec<String> = args
        .get("test_case")
        .unwrap_or("all")
        .split(',')
        .flat_map(|name| match name {
            "all" if web => {
                client::CASES.into_iter().filter(|c| !client::FULL_DUPLEX_CASES.contains(c)).collect()
            }
            "all" => client::CASES.to_vec(),
            one => vec![one],
        })
        .map(str::to_owned)
        .collect();
    let tls = args.flag("use_tls");
    let scheme = if tls { "https" } else { "http" };
    let mut endpoint = Endpoint::with_runtime(rt.clone(), format!("{scheme}://{host}:{port}"))?.grpc_web(web);
    if tls {
        let ca = match args.get("ca_file") {
            Some(path) => std::fs::read_to_string(path)?,
            None => certs::CA.to_owned(),
        };
        let mut cfg = ClientTlsConfig::new().ca_pem(ca)?;
        if let Some(name) = args.get("server_host_override") {
            cfg = cfg.domain_name(name);
            endpoint = endpoint.authority(format!("{name}:{port}"));
        }
        endpoint = endpoint.tls_config(cfg);
    }
    let channel = endpoint.connect_lazy()?;
    let (mut passed, mut failed) = (0, 0);
    for case in &cases {
        let limit = rt.sleep_until(Instant::now() + CASE_LIMIT);
        match select(Box::pin(client::run(&channel, case)), limit).await {
            Either::Left((Ok(()), _)) => {
                passed += 1;
                println!("PASS {case}");
            }
            Either::Left((Err(why), _)) => {
                failed += 1;
                println!("FAIL {case}: {why}");
            }
            Either::Right(_) => {
                failed += 1;
                println!("FAIL {case}: timed out after {} s", CASE_LIMIT.as_secs());
            }
        }
    }
    println!("{passed} passed, {failed} failed");
    Ok(failed)
}
