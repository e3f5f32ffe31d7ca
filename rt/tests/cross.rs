//! The two adapters against each other in one process: a smol client calls
//! a tokio server, and a tokio client a smol server, over TCP and over TLS
//! (futures-rustls against tokio-rustls). The serving runtime runs on its own
//! threads (a tokio runtime's workers, smol's global executor) while the test
//! thread drives the calling runtime.

mod suite;

use std::time::Duration;

use suite::certs::{self, TestPki};
use suite::runners::{run_on_smol, run_on_tokio};
use suite::{Running, four_call_kinds, large_transfers, start, test_server, tls_channel, tls_server};
use weir_rt::runtime::Net;
use weir_smol::Smol;
use weir_tokio::Tokio;

/// A plain and a TLS server of the test service, on one runtime.
struct Servers {
    plain: Running,
    tls: Running,
    pki: TestPki,
}

async fn serve<S: Net>(rt: S) -> Servers {
    let pki = certs::generate();
    let plain = start(&rt, test_server(rt.clone(), Default::default())).await;
    let tls = start(&rt, tls_server(rt.clone(), Default::default(), &pki)).await;
    Servers { plain, tls, pki }
}

/// Every call kind over both, and 64 MiB each way over TCP, from runtime `C`.
async fn call<C: Net + Default>(servers: Servers) {
    let ch = suite::channel::<C>(&servers.plain.url()).await;
    four_call_kinds(&ch).await;
    large_transfers(&ch).await;
    let ch = tls_channel::<C>(&servers.tls, &servers.pki).await;
    four_call_kinds(&ch).await;
    servers.plain.stop().await;
    servers.tls.stop().await;
}

#[test]
fn smol_client_tokio_server() {
    let tokio = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let servers = tokio.block_on(serve(Tokio));
    run_on_smol(|_: Smol| call::<Smol>(servers));
    tokio.shutdown_timeout(Duration::from_secs(5));
}

#[test]
fn tokio_client_smol_server() {
    // Smol::default() spawns on smol's global executor, which has its own thread.
    let servers = smol::block_on(serve(Smol::default()));
    run_on_tokio(|_: Tokio| call::<Tokio>(servers));
}
