//! Telling HTTP/2 from HTTP/1.1 on a shared cleartext port by the first
//! octets, and handing those octets to the driver chosen.

use std::io::{self, IoSlice};
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::{Buf, BytesMut};
use weir_core::http1::{Detected, detect};

use crate::runtime::{Io, Runtime};
use crate::util::{Either, select};

/// Which driver a connection gets.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Protocol {
    Http2,
    Http1,
}

/// The start of a connection preface: octets that begin with it are an
/// HTTP/2 client's, even when the rest is wrong (the HTTP/2 driver then
/// answers with GOAWAY PROTOCOL_ERROR rather than HTTP/1.1 505).
const PREFACE_LINE: &[u8] = b"PRI * HTTP/2.0\r\n";

/// Octets read at most while sniffing (one read; `detect` decides within
/// 40 octets).
const SNIFF_READ: usize = 4 << 10;

/// Reads until the first octets tell the protocol, for at most `timeout`.
/// `None` when the client closed or sent nothing decisive in time.
/// Anything that is not an HTTP/1.x request line goes to HTTP/2, whose
/// driver refuses it as today.
pub(crate) async fn sniff<R: Runtime>(
    rt: &R,
    io: &mut Box<dyn Io>,
    timeout: Duration,
) -> Option<(Protocol, BytesMut)> {
    let mut buf = BytesMut::with_capacity(SNIFF_READ);
    let deadline = rt.sleep_until(rt.now() + timeout);
    let mut deadline = std::pin::pin!(deadline);
    loop {
        let read = std::future::poll_fn(|cx| {
            if buf.capacity() == buf.len() {
                buf.reserve(SNIFF_READ);
            }
            io.poll_read_buf(cx, &mut buf)
        });
        match select(read, deadline.as_mut()).await {
            Either::Left(Ok(0)) | Either::Left(Err(_)) | Either::Right(()) => return None,
            Either::Left(Ok(_)) => {}
        }
        let protocol = match detect(&buf) {
            Detected::NeedMore => continue,
            Detected::Http1 if !buf.starts_with(PREFACE_LINE) => Protocol::Http1,
            Detected::Http1 | Detected::Http2 | Detected::Unknown => Protocol::Http2,
        };
        return Some((protocol, buf));
    }
}

/// An [`Io`] whose first reads return octets already read from it.
pub(crate) struct Replay {
    head: BytesMut,
    io: Box<dyn Io>,
}

impl Replay {
    /// `io`, with `head` to be read again first.
    pub fn new(head: BytesMut, io: Box<dyn Io>) -> Self {
        Replay { head, io }
    }
}

impl Io for Replay {
    fn poll_read_buf(&mut self, cx: &mut Context<'_>, buf: &mut BytesMut) -> Poll<io::Result<usize>> {
        if self.head.is_empty() {
            return self.io.poll_read_buf(cx, buf);
        }
        let room = buf.capacity() - buf.len();
        let n = self.head.len().min(room.max(1));
        buf.extend_from_slice(&self.head[..n]);
        self.head.advance(n);
        if self.head.is_empty() {
            self.head = BytesMut::new();
        }
        Poll::Ready(Ok(n))
    }

    fn poll_write_vectored(&mut self, cx: &mut Context<'_>, bufs: &[IoSlice<'_>]) -> Poll<io::Result<usize>> {
        self.io.poll_write_vectored(cx, bufs)
    }

    fn poll_flush(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.io.poll_flush(cx)
    }

    fn poll_shutdown(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.io.poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::memory::duplex;
    use std::task::Waker;

    #[test]
    fn replayed_octets_come_first_then_the_socket() {
        let (a, mut b) = duplex();
        let mut cx = Context::from_waker(Waker::noop());
        assert!(b.poll_write_vectored(&mut cx, &[IoSlice::new(b" world")]).is_ready());
        let mut io = Replay::new(BytesMut::from(&b"hello"[..]), Box::new(a));
        let mut buf = BytesMut::with_capacity(3);
        assert!(matches!(io.poll_read_buf(&mut cx, &mut buf), Poll::Ready(Ok(3))));
        buf.reserve(64);
        assert!(matches!(io.poll_read_buf(&mut cx, &mut buf), Poll::Ready(Ok(2))));
        assert!(matches!(io.poll_read_buf(&mut cx, &mut buf), Poll::Ready(Ok(6))));
        assert_eq!(&buf[..], b"hello world");
    }
}
