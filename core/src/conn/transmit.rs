//! Where `poll_transmit` writes: any buffer that can take slices, and a chunked
//! buffer that keeps large DATA payloads by reference for vectored writes.

use std::collections::VecDeque;
use std::io::IoSlice;

use bytes::{Buf, Bytes, BytesMut};

/// A caller-owned output buffer for [`super::Connection::poll_transmit`].
pub trait TransmitBuf {
    /// Appends bytes that are copied (frame headers, control frames).
    fn put_slice(&mut self, src: &[u8]);
    /// Appends a DATA payload owned elsewhere. The default copies it; a
    /// chunked buffer keeps a reference instead.
    fn put_bytes(&mut self, src: Bytes) {
        self.put_slice(&src);
    }
    /// Bytes held.
    fn len(&self) -> usize;
    /// True when empty.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl TransmitBuf for Vec<u8> {
    fn put_slice(&mut self, src: &[u8]) {
        self.extend_from_slice(src);
    }

    fn len(&self) -> usize {
        Vec::len(self)
    }
}

impl TransmitBuf for BytesMut {
    fn put_slice(&mut self, src: &[u8]) {
        self.extend_from_slice(src);
    }

    fn len(&self) -> usize {
        BytesMut::len(self)
    }
}

/// Output as a list of chunks: small writes are gathered into one buffer, DATA
/// payloads of at least [`ChunkedBuf::ZERO_COPY_MIN`] octets are kept as the
/// caller's `Bytes`, so a vectored write sends them without a copy.
#[derive(Debug, Default)]
pub struct ChunkedBuf {
    chunks: VecDeque<Bytes>,
    tail: BytesMut,
    len: usize,
}

impl ChunkedBuf {
    /// Payloads this large or larger are not copied.
    pub const ZERO_COPY_MIN: usize = 1024;
    /// Room reserved at a time for copied bytes.
    const TAIL_BLOCK: usize = 4 << 10;

    /// An empty buffer.
    pub fn new() -> Self {
        ChunkedBuf::default()
    }

    fn seal_tail(&mut self) {
        if !self.tail.is_empty() {
            self.chunks.push_back(self.tail.split().freeze());
        }
    }

    /// Fills `dst` with slices of the pending bytes, in order; returns how many.
    pub fn io_slices<'a>(&'a self, dst: &mut [IoSlice<'a>]) -> usize {
        let tail = (!self.tail.is_empty()).then_some(&self.tail[..]);
        let all = self.chunks.iter().map(|c| &c[..]).chain(tail);
        let mut n = 0;
        for (slot, chunk) in dst.iter_mut().zip(all) {
            *slot = IoSlice::new(chunk);
            n += 1;
        }
        n
    }

    /// Moves every pending chunk to `out`, in order, without copying (the
    /// gathered small writes become one chunk); returns the octets moved.
    /// For transports that must own what they write (completion I/O).
    pub fn take_chunks(&mut self, out: &mut impl Extend<Bytes>) -> usize {
        self.seal_tail();
        out.extend(self.chunks.drain(..));
        std::mem::take(&mut self.len)
    }

    /// Drops the first `n` bytes (after a write of that many).
    pub fn advance(&mut self, mut n: usize) {
        self.len -= n.min(self.len);
        while n > 0 {
            match self.chunks.front_mut() {
                Some(front) if front.len() <= n => {
                    n -= front.len();
                    self.chunks.pop_front();
                }
                Some(front) => {
                    front.advance(n);
                    return;
                }
                None => {
                    let k = n.min(self.tail.len());
                    self.tail.advance(k);
                    return;
                }
            }
        }
    }

    /// When everything was written, gives back buffer space above `keep`
    /// octets, so a quiet connection holds little memory.
    pub fn release_if_idle(&mut self, keep: usize) {
        if self.len == 0 {
            if self.tail.capacity() > keep {
                self.tail = BytesMut::new();
            }
            if self.chunks.capacity() > 16 {
                self.chunks = VecDeque::new();
            }
        }
    }

    /// Number of chunks (for tests and write sizing).
    pub fn chunk_count(&self) -> usize {
        self.chunks.len() + usize::from(!self.tail.is_empty())
    }

    /// Copies everything into one contiguous buffer (tests, fallbacks).
    pub fn to_vec(&self) -> Vec<u8> {
        let mut v = Vec::with_capacity(self.len);
        for c in &self.chunks {
            v.extend_from_slice(c);
        }
        v.extend_from_slice(&self.tail);
        v
    }
}

impl TransmitBuf for ChunkedBuf {
    fn put_slice(&mut self, src: &[u8]) {
        if self.tail.capacity() - self.tail.len() < src.len() {
            // One block holds many frame headers: the tail is sealed into a
            // chunk before every zero-copy payload, and must not need an
            // allocation of its own each time.
            self.tail.reserve(src.len().max(Self::TAIL_BLOCK));
        }
        self.tail.extend_from_slice(src);
        self.len += src.len();
    }

    fn put_bytes(&mut self, src: Bytes) {
        if src.len() < Self::ZERO_COPY_MIN {
            return self.put_slice(&src);
        }
        self.seal_tail();
        self.len += src.len();
        self.chunks.push_back(src);
    }

    fn len(&self) -> usize {
        self.len
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Taking the chunks gives the same octets in the same order, the
    /// payloads themselves (not copies), and leaves the buffer empty.
    #[test]
    fn taken_chunks_are_the_pending_octets_and_share_the_payloads() {
        let mut b = ChunkedBuf::new();
        let payload = Bytes::from(vec![7u8; 4096]);
        b.put_slice(b"head");
        b.put_bytes(payload.clone());
        b.put_slice(b"tail");
        let expected = b.to_vec();
        let mut out = Vec::new();
        assert_eq!(b.take_chunks(&mut out), expected.len());
        assert_eq!(out.concat(), expected);
        assert!(out.iter().any(|c| c.as_ptr() == payload.as_ptr()), "the payload was copied");
        assert_eq!((b.len(), b.chunk_count()), (0, 0));
    }

    #[test]
    fn frame_headers_between_payloads_share_one_block() {
        let mut b = ChunkedBuf::new();
        let payload = Bytes::from(vec![7u8; 2048]);
        for _ in 0..100 {
            b.put_slice(&[1; 14]);
            b.put_bytes(payload.clone());
        }
        let mut slices = [IoSlice::new(&[]); 8];
        let n = b.io_slices(&mut slices);
        assert_eq!(n, 8);
        assert_eq!(slices[1].as_ptr(), payload.as_ptr(), "payloads by reference");
        // The second header follows the first in the same allocation.
        assert_eq!(slices[2].as_ptr() as usize, slices[0].as_ptr() as usize + 14);
        b.advance(b.len());
        b.release_if_idle(0);
        assert_eq!((b.len(), b.chunk_count()), (0, 0));
    }

    #[test]
    fn chunked_buf_keeps_large_payloads_by_reference() {
        let mut b = ChunkedBuf::new();
        b.put_slice(b"head");
        let payload = Bytes::from(vec![7u8; 4096]);
        let ptr = payload.as_ptr();
        b.put_bytes(payload);
        b.put_slice(b"tail");
        b.put_bytes(Bytes::from_static(b"small"));
        assert_eq!(b.len(), 4 + 4096 + 4 + 5);
        assert_eq!(b.chunk_count(), 3);
        let mut slices = [IoSlice::new(&[]); 8];
        let n = b.io_slices(&mut slices);
        assert_eq!(n, 3);
        assert_eq!(slices[1].as_ptr(), ptr, "payload not copied");
        let flat = b.to_vec();
        assert_eq!(&flat[..4], b"head");
        assert_eq!(&flat[flat.len() - 9..], b"tailsmall");
        b.advance(4 + 100);
        assert_eq!(b.len(), 3996 + 9);
        b.advance(3996 + 2);
        assert_eq!(b.to_vec(), b"ilsmall");
    }
}
