//! An in-memory transport: a server and its clients in one process with no
//! port (gRPC-Go's bufconn), for unit tests of services. It runs on any
//! runtime, since it needs nothing from one.
//!
//! ```no_run
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let (listener, connector) = weir_rt::memory::channel();
//! # let server = weir_rt::Server::new(weir_tokio::Tokio);
//! let bound = server.with_listener(Box::new(listener));
//! # let _ = bound;
//! let channel = weir_tokio::Endpoint::new("http://in-memory")?.in_memory(connector).connect().await?;
//! # let _ = channel; Ok(()) }
//! ```

use std::collections::VecDeque;
use std::io::{self, IoSlice};
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll, Waker};

use bytes::{BufMut, BytesMut};

use crate::runtime::{BoxFuture, Io, Listener, PeerInfo};

/// Bytes one direction of a connection holds before the writer waits (as
/// a socket's buffer would).
const PIPE_CAPACITY: usize = 1 << 20;

#[derive(Default)]
struct Pipe {
    bytes: VecDeque<u8>,
    /// The writer closed its side.
    closed: bool,
    reader: Option<Waker>,
    writer: Option<Waker>,
}

type Shared = Arc<Mutex<Pipe>>;

fn lock(p: &Shared) -> MutexGuard<'_, Pipe> {
    p.lock().unwrap_or_else(|e| e.into_inner())
}

/// One end of an in-memory connection.
pub struct MemoryStream {
    incoming: Shared,
    outgoing: Shared,
}

impl std::fmt::Debug for MemoryStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MemoryStream")
    }
}

/// Two connected ends.
pub fn duplex() -> (MemoryStream, MemoryStream) {
    let (a, b) = (Shared::default(), Shared::default());
    (MemoryStream { incoming: a.clone(), outgoing: b.clone() }, MemoryStream { incoming: b, outgoing: a })
}

impl Io for MemoryStream {
    fn poll_read_buf(&mut self, cx: &mut Context<'_>, buf: &mut BytesMut) -> Poll<io::Result<usize>> {
        let mut p = lock(&self.incoming);
        if p.bytes.is_empty() {
            if p.closed {
                return Poll::Ready(Ok(0));
            }
            p.reader = Some(cx.waker().clone());
            return Poll::Pending;
        }
        let want = buf.capacity().saturating_sub(buf.len()).max(8 * 1024);
        let n = want.min(p.bytes.len());
        let (front, back) = p.bytes.as_slices();
        let from_front = n.min(front.len());
        buf.put_slice(&front[..from_front]);
        buf.put_slice(&back[..n - from_front]);
        p.bytes.drain(..n);
        if let Some(w) = p.writer.take() {
            w.wake();
        }
        Poll::Ready(Ok(n))
    }

    fn poll_write_vectored(&mut self, cx: &mut Context<'_>, bufs: &[IoSlice<'_>]) -> Poll<io::Result<usize>> {
        let mut p = lock(&self.outgoing);
        if p.closed {
            return Poll::Ready(Err(io::ErrorKind::BrokenPipe.into()));
        }
        let room = PIPE_CAPACITY.saturating_sub(p.bytes.len());
        if room == 0 {
            p.writer = Some(cx.waker().clone());
            return Poll::Pending;
        }
        let mut written = 0;
        for b in bufs {
            let n = b.len().min(room - written);
            p.bytes.extend(&b[..n]);
            written += n;
            if written == room {
                break;
            }
        }
        if let Some(w) = p.reader.take() {
            w.wake();
        }
        Poll::Ready(Ok(written))
    }

    fn poll_flush(&mut self, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(&mut self, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.close();
        Poll::Ready(Ok(()))
    }
}

impl MemoryStream {
    fn close(&self) {
        let mut p = lock(&self.outgoing);
        p.closed = true;
        if let Some(w) = p.reader.take() {
            w.wake();
        }
    }
}

impl Drop for MemoryStream {
    /// Both directions end: the peer reads EOF, its writes fail.
    fn drop(&mut self) {
        self.close();
        let mut p = lock(&self.incoming);
        p.closed = true;
        p.bytes.clear();
        if let Some(w) = p.writer.take() {
            w.wake();
        }
    }
}

#[derive(Default)]
struct Queue {
    pending: VecDeque<MemoryStream>,
    acceptor: Option<Waker>,
    /// The listener is gone: connecting fails.
    closed: bool,
}

/// Accepts in-memory connections: give it to `Server::with_listener`.
pub struct MemoryListener {
    queue: Arc<Mutex<Queue>>,
}

/// Opens connections to a [`MemoryListener`]: give it to
/// `Endpoint::in_memory`. Cheap to clone.
#[derive(Clone)]
pub struct MemoryConnector {
    queue: Arc<Mutex<Queue>>,
}

impl std::fmt::Debug for MemoryConnector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MemoryConnector")
    }
}

/// A listener and the connector that reaches it.
pub fn channel() -> (MemoryListener, MemoryConnector) {
    let queue = Arc::new(Mutex::new(Queue::default()));
    (MemoryListener { queue: queue.clone() }, MemoryConnector { queue })
}

impl MemoryConnector {
    /// A new connection, or `ConnectionRefused` once the listener is gone.
    pub fn connect(&self) -> io::Result<MemoryStream> {
        let mut q = self.queue.lock().unwrap_or_else(|e| e.into_inner());
        if q.closed {
            return Err(io::ErrorKind::ConnectionRefused.into());
        }
        let (client, server) = duplex();
        q.pending.push_back(server);
        if let Some(w) = q.acceptor.take() {
            w.wake();
        }
        Ok(client)
    }
}

impl Listener for MemoryListener {
    fn accept(&mut self) -> BoxFuture<'_, io::Result<(Box<dyn Io>, PeerInfo)>> {
        Box::pin(std::future::poll_fn(|cx| {
            let mut q = self.queue.lock().unwrap_or_else(|e| e.into_inner());
            match q.pending.pop_front() {
                Some(stream) => Poll::Ready(Ok((Box::new(stream) as Box<dyn Io>, PeerInfo::default()))),
                None => {
                    q.acceptor = Some(cx.waker().clone());
                    Poll::Pending
                }
            }
        }))
    }

    fn local_addr(&self) -> Option<std::net::SocketAddr> {
        None
    }
}

impl Drop for MemoryListener {
    fn drop(&mut self) {
        let mut q = self.queue.lock().unwrap_or_else(|e| e.into_inner());
        q.closed = true;
        q.pending.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cx() -> Context<'static> {
        Context::from_waker(Waker::noop())
    }

    #[test]
    fn bytes_flow_both_ways_with_backpressure_and_end_at_drop() {
        let (mut a, mut b) = duplex();
        let big = vec![7u8; PIPE_CAPACITY + 10];
        let Poll::Ready(Ok(n)) = a.poll_write_vectored(&mut cx(), &[IoSlice::new(&big)]) else { panic!() };
        assert_eq!(n, PIPE_CAPACITY, "a full pipe takes no more");
        assert!(a.poll_write_vectored(&mut cx(), &[IoSlice::new(b"x")]).is_pending(), "the writer waits");
        let mut buf = BytesMut::with_capacity(64 * 1024);
        let Poll::Ready(Ok(read)) = b.poll_read_buf(&mut cx(), &mut buf) else { panic!() };
        assert_eq!((read, buf.len()), (64 * 1024, 64 * 1024));
        assert!(a.poll_write_vectored(&mut cx(), &[IoSlice::new(b"x")]).is_ready(), "room again");
        let Poll::Ready(Ok(_)) = b.poll_write_vectored(&mut cx(), &[IoSlice::new(b"back")]) else { panic!() };
        let mut back = BytesMut::new();
        assert!(matches!(a.poll_read_buf(&mut cx(), &mut back), Poll::Ready(Ok(4))));
        assert_eq!(&back[..], b"back");
        drop(a);
        assert!(matches!(b.poll_write_vectored(&mut cx(), &[IoSlice::new(b"x")]), Poll::Ready(Err(_))));
        // What was written before the close is still read, then EOF.
        let mut total = buf.len();
        loop {
            buf.clear();
            match b.poll_read_buf(&mut cx(), &mut buf) {
                Poll::Ready(Ok(0)) => break,
                Poll::Ready(Ok(n)) => total += n,
                other => panic!("{other:?}"),
            }
        }
        assert_eq!(total, PIPE_CAPACITY + 1, "every byte written, then EOF");
    }

    #[test]
    fn connecting_after_the_listener_is_gone_is_refused() {
        let (listener, connector) = channel();
        assert!(connector.connect().is_ok());
        drop(listener);
        assert_eq!(connector.connect().unwrap_err().kind(), io::ErrorKind::ConnectionRefused);
    }
}
