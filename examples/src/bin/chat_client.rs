//! `chat_client NAME [URL]`: joins the chat room; every line typed on stdin is
//! sent, every message in the room is printed. Ends at end of input.

use weir_examples::chat::ChatMessage;
use weir_examples::chat::chat_client::ChatClient;
use weir_tokio::Endpoint;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let name = std::env::args().nth(1).unwrap_or_else(|| "anonymous".into());
    let url = std::env::args().nth(2).unwrap_or_else(|| "http://127.0.0.1:50052".into());
    let client = ChatClient::new(Endpoint::new(url)?.connect().await?);
    let (tx, rx) = futures::channel::mpsc::unbounded();
    let mut room = client.converse(rx).await?.into_inner();
    let from = name.clone();
    std::thread::spawn(move || {
        for line in std::io::stdin().lines().map_while(Result::ok) {
            let msg = ChatMessage { from: from.clone(), text: line, sent_at: None };
            if tx.unbounded_send(msg).is_err() {
                break;
            }
        }
    });
    while let Some(m) = room.message().await? {
        println!("[{}] {}", m.from, m.text);
    }
    Ok(())
}
