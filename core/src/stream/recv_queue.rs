//! A stream's received DATA not yet read by its owner.
//!
//! A payload is a slice of the read buffer it arrived in, and keeps that
//! whole buffer alive while it waits. A peer could make tiny payloads (one
//! octet, padded, whose padding's credit returns at once, RFC 9113 §6.1)
//! hold every buffer it filled while the limits counted one octet each, so
//! payloads smaller than a full frame are copied, each appended to the
//! stream's last copy: what a stream holds is then what its window counts
//! (twice at most, for the copies' growth), and full frames (bulk
//! transfers) are still kept without a copy (a read buffer holds a few).

use std::collections::VecDeque;

use bytes::Bytes;

/// Payloads shorter than this are copied (the default and least
/// `SETTINGS_MAX_FRAME_SIZE`, RFC 9113 §6.5.2), appended to the last copy
/// while that is shorter than this too.
pub(crate) const COPY_BELOW: usize = 1 << 14;

/// Received payloads in order: slices of full frames, and the small ones
/// copied together.
#[derive(Debug, Default)]
pub(crate) struct RecvQueue {
    chunks: VecDeque<Bytes>,
}

impl RecvQueue {
    /// Queues a payload.
    pub fn push(&mut self, data: Bytes) {
        if data.len() >= COPY_BELOW {
            self.chunks.push_back(data);
        } else if let Err(data) = append_small(self.chunks.back_mut(), &data) {
            self.chunks.push_back(Bytes::copy_from_slice(data));
        }
    }

    /// True when nothing is queued.
    pub fn is_empty(&self) -> bool {
        self.chunks.is_empty()
    }

    /// Up to `max` octets from the front, if any.
    pub fn take(&mut self, max: usize) -> Option<Bytes> {
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
    }
}

/// Appends `data` to `last` when that is a copy of small payloads (shorter
/// than [`COPY_BELOW`] and referred to by nothing else), growing it in
/// place; hands `data` back otherwise.
pub(crate) fn append_small<'a>(last: Option<&mut Bytes>, data: &'a [u8]) -> Result<(), &'a [u8]> {
    let Some(last) = last.filter(|l| l.len() < COPY_BELOW) else {
        return Err(data);
    };
    match std::mem::take(last).try_into_mut() {
        Ok(mut m) => {
            m.extend_from_slice(data);
            *last = m.freeze();
            Ok(())
        }
        Err(shared) => {
            *last = shared;
            Err(data)
        }
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
