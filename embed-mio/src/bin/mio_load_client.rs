//! `mio-load-client --server_port N [--server_host H] [--use_tls=true
//! --server_host_override NAME --ca_file PEM] [--connections C] [--calls N]
//! [--concurrency K] [--size BYTES]`: `UnaryCall`s against any
//! grpc.testing.TestService from one mio thread, N per connection, K in
//! flight on each; every response checked. Exits non-zero if any failed.

use std::sync::Arc;

use weir_embed_mio::client::{LoadOptions, run_unary_load, tls_client_config};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let (mut host, mut port, mut tls, mut name, mut ca) =
        ("127.0.0.1".to_string(), 50051u16, false, None, None);
    let mut options = LoadOptions::new(([127, 0, 0, 1], 0).into());
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let (flag, value) = match arg.split_once('=') {
            Some((n, v)) => (n.to_string(), v.to_string()),
            None => (arg.clone(), args.next().ok_or(format!("{arg} needs a value"))?),
        };
        match flag.as_str() {
            "--server_host" => host = value,
            "--server_port" => port = value.parse()?,
            "--use_tls" => tls = value.parse()?,
            "--server_host_override" => name = Some(value),
            "--ca_file" => ca = Some(std::fs::read(value)?),
            "--connections" => options.connections = value.parse()?,
            "--calls" => options.calls = value.parse()?,
            "--concurrency" => options.concurrency = value.parse()?,
            "--size" => (options.request_size, options.response_size) = (value.parse()?, value.parse()?),
            _ => return Err(format!("unknown flag {flag}").into()),
        }
    }
    options.addr =
        std::net::ToSocketAddrs::to_socket_addrs(&(host.as_str(), port))?.next().ok_or("no address")?;
    if tls {
        let config = tls_client_config(&ca.ok_or("--use_tls=true needs --ca_file")?)?;
        let name = rustls_pki_types::ServerName::try_from(name.unwrap_or(host))?;
        options.tls = Some((Arc::new(config), name));
    }
    let report = run_unary_load(&options)?;
    let secs = report.elapsed.as_secs_f64();
    println!(
        "{} calls OK, {} failed, over {} connections in {:.0} ms ({:.0} calls/s)",
        report.ok,
        report.failed,
        options.connections,
        secs * 1e3,
        report.ok as f64 / secs.max(1e-9)
    );
    for e in &report.errors {
        println!("  failed: {e}");
    }
    if report.failed > 0 || report.ok != options.calls * options.connections {
        std::process::exit(1);
    }
    Ok(())
}
