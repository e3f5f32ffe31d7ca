//! The chat room: every member's messages are broadcast to all members.

use futures::stream::{BoxStream, StreamExt};
use tokio::sync::broadcast;
use weir_rt::{Request, Response, Status, Streaming};

use crate::chat::ChatMessage;
use crate::chat::chat_server::Chat;

/// One room, shared by all connections.
#[derive(Debug)]
pub struct ChatRoom {
    tx: broadcast::Sender<ChatMessage>,
}

impl Default for ChatRoom {
    fn default() -> Self {
        ChatRoom { tx: broadcast::channel(1024).0 }
    }
}

impl Chat for ChatRoom {
    type ConverseStream = BoxStream<'static, Result<ChatMessage, Status>>;

    async fn converse(
        &self,
        request: Request<Streaming<ChatMessage>>,
    ) -> Result<Response<Self::ConverseStream>, Status> {
        let mut incoming = request.into_inner();
        let rx = self.tx.subscribe();
        let tx = self.tx.clone();
        tokio::spawn(async move {
            while let Ok(Some(mut msg)) = incoming.message().await {
                let now =
                    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
                msg.sent_at = Some(prost_types::Timestamp {
                    seconds: now.as_secs() as i64,
                    nanos: now.subsec_nanos() as i32,
                });
                let _ = tx.send(msg);
            }
        });
        let outgoing = futures::stream::unfold(rx, |mut rx| async move {
            loop {
                match rx.recv().await {
                    Ok(msg) => return Some((Ok(msg), rx)),
                    Err(broadcast::error::RecvError::Lagged(_)) => continue,
                    Err(broadcast::error::RecvError::Closed) => return None,
                }
            }
        });
        Ok(Response::new(outgoing.boxed()))
    }
}
