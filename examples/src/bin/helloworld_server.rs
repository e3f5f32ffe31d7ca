//! `helloworld_server [ADDR]`: serves helloworld.Greeter (default 127.0.0.1:50051)
//! until Ctrl-C or SIGTERM
//! (then calls in flight finish).

use weir_examples::greeter::MyGreeter;
use weir_examples::helloworld::greeter_server::GreeterServer;
use weir_tokio::Server;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let addr = std::env::args().nth(1).unwrap_or_else(|| "127.0.0.1:50051".into()).parse()?;
    let bound = Server::builder().add_service(GreeterServer::new(MyGreeter)).bind(addr).await?;
    // Handlers first: a SIGTERM right after the address is printed stops us cleanly.
    let stop = weir_tokio::shutdown_signal();
    println!("Greeter listening on {}", bound.local_addr().expect("tcp"));
    bound.serve_with_shutdown(stop).await?;
    Ok(())
}
