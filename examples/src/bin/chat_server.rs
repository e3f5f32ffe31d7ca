//! `chat_server [ADDR]`: one chat room (chat.Chat) until Ctrl-C or SIGTERM
//! (then calls in flight finish).

use weir_examples::chat::chat_server::ChatServer;
use weir_examples::chat_room::ChatRoom;
use weir_tokio::Server;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let addr = std::env::args().nth(1).unwrap_or_else(|| "127.0.0.1:50052".into()).parse()?;
    let bound = Server::builder().add_service(ChatServer::new(ChatRoom::default())).bind(addr).await?;
    // Handlers first: a SIGTERM right after the address is printed stops us cleanly.
    let stop = weir_tokio::shutdown_signal();
    println!("chat room on {}", bound.local_addr().expect("tcp"));
    bound.serve_with_shutdown(stop).await?;
    Ok(())
}
