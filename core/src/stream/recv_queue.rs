//! A stream's received DATA not yet read by its owner.
//!
//! A payload is a slice of the read buffer it arrived in, and keeps that
//! whole buffer alive while it waits. A peer could make tiny payloads (one
//! octet, padded, whose padding's credit returns at once, RFC 9113 §6.1)
//! hold every buffer it filled while the limits counted one octet each, so
//! payloads smaller than a full frame are copied into one buffer of the
//! stream's own: what a stream holds is then what its window counts (twice
//! at most, for the buffer's growth), and full frames (bulk transfers) are
//! still kept without a copy (one read buffer holds a few of them).

use std::collections::VecDeque;

use bytes::{Bytes, BytesMut};

/// Payloads shorter than this are copied (the default and least
/// `SETTINGS_MAX_FRAME_SIZE`, RFC 9113 §6.5.2).
pub(crate) const COPY_BELOW: usize = 1 << 14;
/// Spare room in the copy buffer worth keeping after its octets were taken.
const KEEP_ROOM: usize = 1 << 10;

/// Received payloads in order: slices of full frames, and the small ones
/// copied together.
#[derive(Debug, Default)]
pub(crate) struct RecvQueue {
    chunks: VecDeque<Bytes>,
    /// Small payloads that arrived after the last chunk, copied.
    small: BytesMut,
}

impl RecvQueue {
    /// Queues a payload.
    pub fn push(&mut self, data: Bytes) {
        if data.len() < COPY_BELOW {
            self.small.extend_from_slice(&data);
        } else {
            self.seal();
            self.chunks.push_back(data);
        }
    }

    /// The small payloads so far become one chunk. The buffer's spare room
    /// stays for the next ones (reused in place once the chunks cut from it
    /// are dropped), unless it is too little to matter.
    fn seal(&mut self) {
        if !self.small.is_empty() {
            self.chunks.push_back(self.small.split().freeze());
            if self.small.capacity() < KEEP_ROOM {
                self.small = BytesMut::new();
            }
        }
    }

    /// True when nothing is queued.
    pub fn is_empty(&self) -> bool {
        self.chunks.is_empty() && self.small.is_empty()
    }

    /// Up to `max` octets from the front, if any.
    pub fn take(&mut self, max: usize) -> Option<Bytes> {
        if self.chunks.is_empty() {
            self.seal();
        }
        let front = self.chunks.front_mut()?;
        Some(match front.len() <= max {
            true => self.chunks.pop_front().unwrap_or_default(),
            false => front.split_to(max),
        })
    }

    /// Drops everything queued, and the queue's allocation if it grew past
    /// `keep` chunks.
    pub fn clear(&mut self, keep: usize) {
        if self.chunks.capacity() > keep {
            self.chunks = VecDeque::new();
        }
        self.chunks.clear();
        self.small = BytesMut::new();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Small payloads are copied together, full frames kept as they came,
    /// and everything is read back in order, split anywhere.
    #[test]
    fn payloads_come_back_in_order_small_ones_copied() {
        let big = Bytes::from(vec![7u8; COPY_BELOW]);
        let mut q = RecvQueue::default();
        q.push(Bytes::from_static(b"ab"));
        q.push(Bytes::from_static(b"c"));
        q.push(big.clone());
        q.push(Bytes::from_static(b"d"));
        let mut got = Vec::new();
        while let Some(b) = q.take(3) {
            if b.len() == 3 && b[0] == 7 && got.len() == 3 {
                assert_eq!(b.as_ptr(), big.as_ptr(), "a full frame is not copied");
            }
            got.extend_from_slice(&b);
        }
        let mut want = b"abc".to_vec();
        want.extend_from_slice(&big);
        want.push(b'd');
        assert_eq!(got, want);
        assert!(q.is_empty());

        let mut q = RecvQueue::default();
        let frame = Bytes::from(vec![1u8; 64]);
        q.push(frame.slice(10..11));
        let taken = q.take(usize::MAX).expect("one octet");
        assert_ne!(taken.as_ptr(), frame[10..].as_ptr(), "a small payload is copied");
        q.push(Bytes::from_static(b"x"));
        q.clear(0);
        assert!(q.is_empty() && q.take(1).is_none());
    }
}
