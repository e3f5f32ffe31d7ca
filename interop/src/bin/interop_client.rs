//! `interop-client --server_host H --server_port P --test_case NAME[,NAME...|all]
//! [--use_tls] [--server_host_override NAME] [--ca_file PATH] [--runtime tokio]`:
//! runs interop cases, one PASS/FAIL line each, then `N passed, M failed`.

use std::time::Duration;

use weir_interop::args::Args;
use weir_interop::{certs, client};
use weir_rt::tls::ClientTlsConfig;
use weir_tokio::Endpoint;

const HELP: &str = "interop-client --server_host H --server_port P --test_case NAME[,NAME...|all] \
[--use_tls] [--server_host_override NAME] [--ca_file PATH] [--runtime tokio]";

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args = Args::parse(std::env::args().skip(1))?;
    if args.flag("help") {
        println!("{HELP}");
        return Ok(());
    }
    match args.get("runtime").unwrap_or("tokio") {
        "tokio" => {}
        other => return Err(format!("unsupported --runtime {other}: {HELP}").into()),
    }
    let host = args.get("server_host").unwrap_or("localhost").to_owned();
    let port: u16 = args.get("server_port").ok_or("--server_port is required")?.parse()?;
    let cases: Vec<String> = match args.get("test_case").unwrap_or("all") {
        "all" => client::CASES.iter().map(|s| s.to_string()).collect(),
        list => list.split(',').map(str::to_owned).collect(),
    };
    let tls = args.flag("use_tls");
    let ca = match args.get("ca_file") {
        Some(path) => std::fs::read_to_string(path)?,
        None => certs::CA.to_owned(),
    };
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    let failed = rt.block_on(async move {
        let scheme = if tls { "https" } else { "http" };
        let mut endpoint = Endpoint::new(format!("{scheme}://{host}:{port}"))?;
        if tls {
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
            let outcome = tokio::time::timeout(Duration::from_secs(30), client::run(&channel, case)).await;
            match outcome {
                Ok(Ok(())) => {
                    passed += 1;
                    println!("PASS {case}");
                }
                Ok(Err(why)) => {
                    failed += 1;
                    println!("FAIL {case}: {why}");
                }
                Err(_) => {
                    failed += 1;
                    println!("FAIL {case}: timed out after 30 s");
                }
            }
        }
        println!("{passed} passed, {failed} failed");
        Ok::<_, Box<dyn std::error::Error>>(failed)
    })?;
    std::process::exit(if failed == 0 { 0 } else { 1 });
}
