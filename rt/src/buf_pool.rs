//! Buffers of one size class handed back and forth instead of freed: read
//! buffers and message batches go out as `Bytes` slices, to the core and
//! the socket, and come back once every slice is dropped. Freed instead,
//! each call's worth of them left the top of the heap empty, glibc gave it
//! back to the kernel (`madvise`), and the next call faulted every page in
//! again: 60,000–160,000 page faults in 2 s on a server streaming 1 KiB
//! messages, 100,000 on a client taking 64 B ones.
//!
//! The pool keeps handles to buffers still in use and reclaims one once its
//! last slice is gone (`BytesMut::try_reclaim`). It is one per process and
//! size class, and holds at most `max` handles, so what it keeps does not
//! grow with connections and calls; a buffer that was grown past twice its
//! class is freed when it comes back, not handed out again.

use std::collections::VecDeque;
use std::sync::Mutex;

use bytes::BytesMut;

/// Handles to buffers of one size, oldest first.
pub(crate) struct BufPool {
    size: usize,
    max: usize,
    handles: Mutex<VecDeque<BytesMut>>,
}

/// Handles looked at per [`BufPool::take`] before a fresh buffer is made.
const LOOK: usize = 4;

impl BufPool {
    /// A pool of buffers of `size` bytes, keeping at most `max`.
    pub const fn new(size: usize, max: usize) -> Self {
        BufPool { size, max, handles: Mutex::new(VecDeque::new()) }
    }

    /// The size of its buffers.
    pub fn size(&self) -> usize {
        self.size
    }

    /// An empty buffer of at least [`BufPool::size`] bytes: a reclaimed one
    /// if one of the oldest handles is free again, else a fresh one.
    pub fn take(&self) -> BytesMut {
        let mut handles = self.handles.lock().unwrap_or_else(|e| e.into_inner());
        for _ in 0..LOOK.min(handles.len()) {
            let Some(mut b) = handles.pop_front() else { break };
            if b.try_reclaim(self.size) {
                if b.capacity() <= 2 * self.size {
                    return b;
                }
                // Grown past its class since: freed, not kept.
                continue;
            }
            // Still in use: it goes to the back.
            handles.push_back(b);
        }
        drop(handles);
        BytesMut::with_capacity(self.size)
    }

    /// Keeps `handle`, an empty handle to a buffer of this pool whose
    /// contents went out as slices; past [`BufPool::max`] the oldest is let
    /// go (its memory is freed with its last slice).
    pub fn put(&self, handle: BytesMut) {
        debug_assert!(handle.is_empty());
        let mut handles = self.handles.lock().unwrap_or_else(|e| e.into_inner());
        if handles.len() >= self.max {
            handles.pop_front();
        }
        handles.push_back(handle);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_buffer_comes_back_once_its_slices_are_gone() {
        let pool = BufPool::new(1024, 2);
        let mut b = pool.take();
        assert!(b.capacity() >= 1024);
        let at = b.as_ptr();
        b.extend_from_slice(&[1; 100]);
        let slice = b.split().freeze();
        pool.put(b);
        let other = pool.take();
        assert_ne!(other.as_ptr(), at, "still in use: a fresh buffer");
        drop(slice);
        let again = pool.take();
        assert_eq!(again.as_ptr(), at, "reclaimed once the slice was dropped");
        assert!(again.capacity() >= 1024 && again.is_empty());
    }

    #[test]
    fn a_buffer_grown_past_its_class_is_not_handed_out() {
        let pool = BufPool::new(1024, 4);
        pool.put(BytesMut::with_capacity(64 << 10));
        let b = pool.take();
        assert!(b.capacity() >= 1024 && b.capacity() < 64 << 10, "the large buffer was let go");
        assert!(pool.handles.lock().unwrap().is_empty());
    }

    #[test]
    fn the_pool_keeps_at_most_its_maximum() {
        let pool = BufPool::new(64, 3);
        let mut in_use = Vec::new();
        for _ in 0..10 {
            let mut b = pool.take();
            b.extend_from_slice(b"x");
            in_use.push(b.split().freeze());
            pool.put(b);
        }
        assert_eq!(pool.handles.lock().unwrap().len(), 3, "every buffer still in use; the oldest let go");
        in_use.clear();
        let b = pool.take();
        assert!(b.capacity() >= 64);
        assert_eq!(pool.handles.lock().unwrap().len(), 2, "one reclaimed");
    }
}
