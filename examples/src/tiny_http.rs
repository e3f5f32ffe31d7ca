//! The smallest HTTP/1.1 listener the examples need beside their gRPC port
//! (a Prometheus `/metrics`, a static page): one request per connection,
//! `GET` only, the request head bounded, every exchange within 10 s.

use std::future::Future;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// The largest request head read.
const MAX_REQUEST_HEAD: usize = 8 * 1024;

/// An answer: status line text (`"200 OK"`), content type, body.
pub struct Reply {
    /// Status code and reason, as in the status line.
    pub status: &'static str,
    /// The `Content-Type`.
    pub content_type: &'static str,
    /// The body.
    pub body: Vec<u8>,
}

impl Reply {
    /// A `200 OK` reply.
    pub fn ok(content_type: &'static str, body: impl Into<Vec<u8>>) -> Self {
        Reply { status: "200 OK", content_type, body: body.into() }
    }

    /// A plain-text reply with `status`.
    pub fn text(status: &'static str, body: impl Into<Vec<u8>>) -> Self {
        Reply { status, content_type: "text/plain; charset=utf-8", body: body.into() }
    }
}

/// Serves `GET` requests on `listener` forever: `answer(path)` (the path
/// without its query) gives the reply; other methods get 405.
pub async fn serve<F, Fut>(listener: TcpListener, answer: F)
where
    F: Fn(String) -> Fut + Clone + Send + Sync + 'static,
    Fut: Future<Output = Reply> + Send + 'static,
{
    loop {
        let Ok((socket, _)) = listener.accept().await else {
            tokio::time::sleep(Duration::from_millis(50)).await;
            continue;
        };
        let answer = answer.clone();
        tokio::spawn(async move {
            let _ = tokio::time::timeout(Duration::from_secs(10), exchange(socket, answer)).await;
        });
    }
}

async fn exchange<F, Fut>(mut socket: TcpStream, answer: F) -> std::io::Result<()>
where
    F: Fn(String) -> Fut,
    Fut: Future<Output = Reply>,
{
    let mut head = Vec::with_capacity(1024);
    let mut buf = [0u8; 1024];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
        let n = socket.read(&mut buf).await?;
        if n == 0 || head.len() + n > MAX_REQUEST_HEAD {
            return Ok(());
        }
        head.extend_from_slice(&buf[..n]);
    }
    let line = head.split(|&b| b == b'\r').next().unwrap_or_default();
    let mut words = line.split(|&b| b == b' ');
    let (method, target) = (words.next().unwrap_or_default(), words.next().unwrap_or_default());
    let path = target.split(|&b| b == b'?').next().unwrap_or_default();
    let reply = if method == b"GET" {
        answer(String::from_utf8_lossy(path).into_owned()).await
    } else {
        Reply::text("405 Method Not Allowed", "GET only\n")
    };
    let mut response = format!(
        "HTTP/1.1 {}\r\nContent-Type: {}\r\nContent-Length: {}\r\nCache-Control: no-store\r\nConnection: close\r\n\r\n",
        reply.status,
        reply.content_type,
        reply.body.len()
    )
    .into_bytes();
    response.extend_from_slice(&reply.body);
    socket.write_all(&response).await?;
    socket.shutdown().await
}
