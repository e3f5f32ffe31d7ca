//! `interop-server --port N [--use_tls] [--runtime tokio]`: grpc.testing.TestService.

use weir_interop::args::Args;
use weir_interop::{certs, server::test_service};
use weir_rt::tls::{Identity, ServerTlsConfig};
use weir_tokio::{Server, Tokio};

const HELP: &str = "interop-server --port N [--use_tls[=true|false]] [--runtime tokio]";

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args = Args::parse(std::env::args().skip(1))?;
    if args.flag("help") {
        println!("{HELP}");
        return Ok(());
    }
    let port: u16 = args.get("port").unwrap_or("0").parse()?;
    match args.get("runtime").unwrap_or("tokio") {
        "tokio" => {}
        other => return Err(format!("unsupported --runtime {other}: {HELP}").into()),
    }
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    rt.block_on(async move {
        let mut server = test_service(Server::builder(), Tokio);
        if args.flag("use_tls") {
            let id = Identity::from_pem(certs::SERVER_CERT, certs::SERVER_KEY)?;
            server = server.tls_config(ServerTlsConfig::new(id))?;
        }
        let bound = server.bind(([127, 0, 0, 1], port).into()).await?;
        eprintln!("interop server listening on {}", bound.local_addr().expect("tcp"));
        bound.serve().await?;
        Ok(())
    })
}
