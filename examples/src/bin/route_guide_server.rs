//! `route_guide_server [ADDR]`: serves routeguide.RouteGuide until Ctrl-C or SIGTERM
//! (then calls in flight finish).

use weir_examples::route_guide::RouteGuideService;
use weir_examples::routeguide::route_guide_server::RouteGuideServer;
use weir_tokio::Server;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let addr = std::env::args().nth(1).unwrap_or_else(|| "127.0.0.1:10000".into()).parse()?;
    let bound =
        Server::builder().add_service(RouteGuideServer::new(RouteGuideService::default())).bind(addr).await?;
    // Handlers first: a SIGTERM right after the address is printed stops us cleanly.
    let stop = weir_tokio::shutdown_signal();
    println!("RouteGuide listening on {}", bound.local_addr().expect("tcp"));
    bound.serve_with_shutdown(stop).await?;
    Ok(())
}
