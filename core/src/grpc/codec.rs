//! Length-prefixed messages (PROTOCOL-HTTP2 "Length-Prefixed-Message"): a
//! compressed flag, a 4-octet big-endian length, the message. DATA frame
//! boundaries have no relation to message boundaries.

use std::collections::VecDeque;

use bytes::{Buf, Bytes, BytesMut};

use super::received::Run;
use crate::stream::append_small;

/// Length of the message prefix.
pub const PREFIX_LEN: usize = 5;

/// Default maximum received message size (4 MiB, as gRPC).
pub const DEFAULT_MAX_RECV_MESSAGE: usize = 4 << 20;

/// Chunks shorter than this are appended to the last one when that is a
/// small copy ([`append_small`]): a peer sending a large message one octet
/// per DATA frame would otherwise make each octet cost a chunk's
/// bookkeeping (some 64 octets), which no limit counts.
const COALESCE_BELOW: usize = 1 << 10;

/// The 5-octet prefix for a message of `len` octets.
pub fn prefix(compressed: bool, len: u32) -> [u8; PREFIX_LEN] {
    let l = len.to_be_bytes();
    [u8::from(compressed), l[0], l[1], l[2], l[3]]
}

/// One message as it came off the wire.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RawMessage {
    /// The compressed flag was set.
    pub compressed: bool,
    /// The message octets (still compressed when the flag is set).
    pub data: Bytes,
}

/// Why the message stream is broken.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DecodeError {
    /// A message longer than the limit (RESOURCE_EXHAUSTED).
    TooLarge {
        /// Declared length.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// A compressed flag other than 0 or 1 (INTERNAL).
    BadFlag(u8),
    /// The stream ended inside a message (INTERNAL).
    Truncated,
}

/// Reassembles messages from DATA payloads split and packed in any way. A
/// message that lies inside one payload is returned as a slice of it (no copy).
#[derive(Debug)]
pub struct MessageDecoder {
    chunks: VecDeque<Bytes>,
    buffered: usize,
    max_len: usize,
    /// The current message's prefix once read: (compressed, length).
    pending: Option<(bool, usize)>,
    /// Payload octets of the messages returned so far (as received:
    /// compressed when they were, without their prefixes).
    decoded: u64,
    /// Once [`MessageDecoder::check_whole`] found the stream ended on a
    /// message boundary: the payload octets of every message, taken or
    /// not (0 before; never below `decoded`).
    whole_total: u64,
    /// What [`MessageDecoder::check_whole`] found, until a message is
    /// taken: the messages held, and whether any of them is compressed.
    whole_messages: Option<(u32, bool)>,
}

impl MessageDecoder {
    /// A decoder rejecting messages over `max_len` octets.
    pub fn new(max_len: usize) -> Self {
        MessageDecoder {
            chunks: VecDeque::new(),
            buffered: 0,
            max_len,
            pending: None,
            decoded: 0,
            whole_total: 0,
            whole_messages: None,
        }
    }

    /// Empties the decoder for reuse by another call.
    pub fn reset(&mut self, max_len: usize) {
        self.chunks.clear();
        self.buffered = 0;
        self.max_len = max_len;
        self.pending = None;
        self.decoded = 0;
        self.whole_total = 0;
        self.whole_messages = None;
    }

    /// Payload octets of every message returned so far, as they arrived
    /// (compressed when they were; prefixes not counted); after
    /// [`MessageDecoder::check_whole`], of every message received.
    pub fn decoded(&self) -> u64 {
        self.decoded.max(self.whole_total)
    }

    /// Adds received octets.
    pub fn push(&mut self, chunk: Bytes) {
        if chunk.is_empty() {
            return;
        }
        self.buffered += chunk.len();
        if chunk.len() >= COALESCE_BELOW {
            self.chunks.push_back(chunk);
        } else if append_small(self.chunks.back_mut(), &chunk).is_err() {
            // A small chunk nothing else refers to is kept (the next ones are
            // appended to it); one that shares a buffer is copied.
            self.chunks.push_back(if chunk.is_unique() { chunk } else { Bytes::copy_from_slice(&chunk) });
        }
    }

    /// [`MessageDecoder::push`], except that a chunk holding exactly one
    /// whole message while nothing is buffered (a small message in one DATA
    /// frame, the usual case) is returned at once instead of queued.
    pub fn push_whole(&mut self, mut chunk: Bytes) -> Result<Option<RawMessage>, DecodeError> {
        if self.buffered == 0
            && self.pending.is_none()
            && let Some(&[flag, l0, l1, l2, l3]) = chunk.first_chunk::<PREFIX_LEN>()
            && chunk.len() - PREFIX_LEN == u32::from_be_bytes([l0, l1, l2, l3]) as usize
        {
            let compressed = match flag {
                0 => false,
                1 => true,
                f => return Err(DecodeError::BadFlag(f)),
            };
            let len = chunk.len() - PREFIX_LEN;
            if len > self.max_len {
                return Err(DecodeError::TooLarge { len, max: self.max_len });
            }
            chunk.advance(PREFIX_LEN);
            self.decoded += len as u64;
            self.whole_messages = None;
            return Ok(Some(RawMessage { compressed, data: chunk }));
        }
        self.push(chunk);
        Ok(None)
    }

    /// Octets held (partial messages included).
    pub fn buffered(&self) -> usize {
        self.buffered
    }

    /// True when nothing is held, not even a partial prefix.
    pub fn is_empty(&self) -> bool {
        self.buffered == 0 && self.pending.is_none()
    }

    /// Octets still missing to complete the current message (at least 1 when
    /// a prefix is incomplete, 0 when a message is ready).
    pub fn wanted(&self) -> usize {
        match self.pending {
            Some((_, len)) => len.saturating_sub(self.buffered),
            None => PREFIX_LEN.saturating_sub(self.buffered),
        }
    }

    /// The next complete message, if any. A length over the limit is reported
    /// as soon as the prefix is read, before the body is buffered.
    pub fn next_message(&mut self) -> Result<Option<RawMessage>, DecodeError> {
        // The usual case first: prefix and message within the first chunk.
        if self.pending.is_none()
            && let Some(front) = self.chunks.front_mut()
            && let Some(&[flag, l0, l1, l2, l3]) = front.first_chunk::<PREFIX_LEN>()
        {
            let len = u32::from_be_bytes([l0, l1, l2, l3]) as usize;
            if front.len() - PREFIX_LEN >= len {
                let compressed = match flag {
                    0 => false,
                    1 => true,
                    f => return Err(DecodeError::BadFlag(f)),
                };
                if len > self.max_len {
                    return Err(DecodeError::TooLarge { len, max: self.max_len });
                }
                front.advance(PREFIX_LEN);
                let data = front.split_to(len);
                if front.is_empty() {
                    self.chunks.pop_front();
                }
                self.buffered -= PREFIX_LEN + len;
                self.decoded += len as u64;
                self.whole_messages = None;
                return Ok(Some(RawMessage { compressed, data }));
            }
        }
        if self.pending.is_none() {
            if self.buffered < PREFIX_LEN {
                return Ok(None);
            }
            let mut p = [0u8; PREFIX_LEN];
            self.copy_out(&mut p);
            let compressed = match p[0] {
                0 => false,
                1 => true,
                f => return Err(DecodeError::BadFlag(f)),
            };
            let len = u32::from_be_bytes([p[1], p[2], p[3], p[4]]) as usize;
            if len > self.max_len {
                return Err(DecodeError::TooLarge { len, max: self.max_len });
            }
            self.pending = Some((compressed, len));
        }
        let Some((compressed, len)) = self.pending else {
            return Ok(None);
        };
        if self.buffered < len {
            return Ok(None);
        }
        self.pending = None;
        self.decoded += len as u64;
        self.whole_messages = None;
        Ok(Some(RawMessage { compressed, data: self.take(len) }))
    }

    /// The whole uncompressed messages at the start of the first chunk, as
    /// one [`Run`] (no copy): taken while their cost (length plus
    /// `per_message` each) stays under `room`, at least one. `None` when
    /// the next message is not such a one (partial, compressed, or one
    /// [`MessageDecoder::next_message`] rejects, which then says why).
    pub fn take_run(&mut self, room: usize, per_message: usize) -> Option<Run> {
        if self.pending.is_some() {
            return None;
        }
        let front = self.chunks.front_mut()?;
        let (mut at, mut messages, mut payload, mut used) = (0, 0, 0, 0usize);
        while used < room
            && let Some(&[0, l0, l1, l2, l3]) = front.get(at..).and_then(|c| c.first_chunk::<PREFIX_LEN>())
        {
            let len = u32::from_be_bytes([l0, l1, l2, l3]) as usize;
            if len > self.max_len || front.len() - at - PREFIX_LEN < len {
                break;
            }
            at += PREFIX_LEN + len;
            messages += 1;
            payload += len;
            used = used.saturating_add(len + per_message);
        }
        if messages == 0 {
            return None;
        }
        let octets = front.split_to(at);
        if front.is_empty() {
            self.chunks.pop_front();
        }
        self.buffered -= at;
        self.decoded += payload as u64;
        self.whole_messages = None;
        Some(Run::new(octets, messages, payload))
    }

    /// The stream ended with what is held: checks, without taking them,
    /// that the held octets are whole messages within the limit (the errors
    /// [`MessageDecoder::next_message`] would give), so that they can be
    /// taken later, one batch at a time, while the end is already known.
    pub fn check_whole(&mut self) -> Result<(), DecodeError> {
        let mut total = self.decoded;
        // Body octets of the message under way, then of each one found.
        let mut body = self.pending.map_or(0, |(_, len)| len);
        total += body as u64;
        let mut messages = u64::from(self.pending.is_some());
        let mut compressed = self.pending.is_some_and(|(c, _)| c);
        let mut prefix = [0u8; PREFIX_LEN];
        let mut have = 0;
        for chunk in &self.chunks {
            let mut at = 0;
            while at < chunk.len() {
                if body > 0 {
                    let n = body.min(chunk.len() - at);
                    body -= n;
                    at += n;
                    continue;
                }
                // The usual case: the whole prefix in this chunk, read at
                // a fixed size (a copy of variable length is a libc call).
                if have == 0
                    && let Some(p) = chunk.get(at..).and_then(|c| c.first_chunk::<PREFIX_LEN>())
                {
                    prefix = *p;
                    have = PREFIX_LEN;
                    at += PREFIX_LEN;
                } else {
                    let n = (PREFIX_LEN - have).min(chunk.len() - at);
                    prefix[have..have + n].copy_from_slice(&chunk[at..at + n]);
                    have += n;
                    at += n;
                }
                if have == PREFIX_LEN {
                    have = 0;
                    if prefix[0] > 1 {
                        return Err(DecodeError::BadFlag(prefix[0]));
                    }
                    body = u32::from_be_bytes([prefix[1], prefix[2], prefix[3], prefix[4]]) as usize;
                    if body > self.max_len {
                        return Err(DecodeError::TooLarge { len: body, max: self.max_len });
                    }
                    total += body as u64;
                    messages += 1;
                    compressed |= prefix[0] == 1;
                }
            }
        }
        if body > 0 || have > 0 {
            return Err(DecodeError::Truncated);
        }
        self.whole_total = total;
        self.whole_messages = u32::try_from(messages).ok().map(|m| (m, compressed));
        Ok(())
    }

    /// After [`MessageDecoder::check_whole`], until a message is taken: the
    /// messages held, their payload octets, and whether any of them is
    /// compressed (`None` before the check, or once one was taken).
    pub fn whole_rest(&self) -> Option<(u64, u64, bool)> {
        let (messages, compressed) = self.whole_messages?;
        Some((u64::from(messages), self.whole_total - self.decoded, compressed))
    }

    /// Checks what is left when the stream ends.
    pub fn finish(&self) -> Result<(), DecodeError> {
        if self.is_empty() { Ok(()) } else { Err(DecodeError::Truncated) }
    }

    fn copy_out(&mut self, dst: &mut [u8]) {
        let mut filled = 0;
        while filled < dst.len() {
            let Some(front) = self.chunks.front_mut() else {
                return;
            };
            let n = front.len().min(dst.len() - filled);
            dst[filled..filled + n].copy_from_slice(&front[..n]);
            front.advance(n);
            filled += n;
            if front.is_empty() {
                self.chunks.pop_front();
            }
        }
        self.buffered -= filled;
    }

    fn take(&mut self, len: usize) -> Bytes {
        self.buffered -= len;
        if len == 0 {
            return Bytes::new();
        }
        if let Some(front) = self.chunks.front_mut()
            && front.len() >= len
        {
            let out = front.split_to(len);
            if front.is_empty() {
                self.chunks.pop_front();
            }
            return out;
        }
        let mut out = BytesMut::with_capacity(len);
        while out.len() < len {
            let Some(front) = self.chunks.front_mut() else {
                break;
            };
            let n = front.len().min(len - out.len());
            out.extend_from_slice(&front[..n]);
            front.advance(n);
            if front.is_empty() {
                self.chunks.pop_front();
            }
        }
        out.freeze()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn framed(msgs: &[&[u8]]) -> Vec<u8> {
        let mut out = Vec::new();
        for m in msgs {
            out.extend_from_slice(&prefix(false, m.len() as u32));
            out.extend_from_slice(m);
        }
        out
    }

    /// `check_whole` finds, without taking anything, what taking every
    /// message would: whole messages wherever the chunks are cut (one taken
    /// first, leaving a prefix read), or the error the decoder would give.
    #[test]
    fn check_whole_agrees_with_taking_the_messages() {
        let msgs: [&[u8]; 4] = [b"", b"a", b"hello world", &[7u8; 300]];
        let wire = framed(&msgs);
        let total: u64 = msgs.iter().map(|m| m.len() as u64).sum();
        for cut in 0..=wire.len() {
            for take_first in [false, true] {
                let mut d = MessageDecoder::new(1024);
                d.push(Bytes::copy_from_slice(&wire[..cut]));
                assert_eq!(d.whole_rest(), None, "nothing known before the check");
                let first = match take_first {
                    true => d.next_message().unwrap().map_or(0, |m| m.data.len() as u64 + 1),
                    false => 0,
                };
                d.push(Bytes::copy_from_slice(&wire[cut..]));
                assert_eq!(d.check_whole(), Ok(()), "cut {cut}");
                assert_eq!(d.decoded(), total, "every message counted once the end is known");
                let (took, took_len) = (u64::from(first > 0), first.saturating_sub(1));
                let rest = Some((4 - took, total - took_len, false));
                assert_eq!(d.whole_rest(), rest, "cut {cut}: what is held and not taken");
                let mut got = 0;
                while d.next_message().unwrap().is_some() {
                    got += 1;
                }
                assert!(got >= 3 && d.finish().is_ok(), "cut {cut}: the messages are still there");
                assert_eq!(d.decoded(), total);
                assert_eq!(d.whole_rest(), None, "cut {cut}: not known once one is taken");
            }
            // Cut short: a truncated stream.
            if cut < wire.len() {
                let mut d = MessageDecoder::new(1024);
                d.push(Bytes::copy_from_slice(&wire[..cut]));
                let whole = [0, 5, 11, 27, wire.len()].contains(&cut);
                assert_eq!(d.check_whole().is_ok(), whole, "cut {cut}");
            }
        }
        let mut compressed = framed(&[b"x", b"yz"]);
        compressed[6] = 1;
        let mut d = MessageDecoder::new(1024);
        d.push(Bytes::from(compressed));
        assert_eq!(d.check_whole(), Ok(()));
        assert_eq!(d.whole_rest(), Some((2, 3, true)), "a compressed message is told");
        let mut flagged = framed(&[b"x"]);
        flagged[0] = 2;
        let mut d = MessageDecoder::new(1024);
        d.push(Bytes::from(flagged));
        assert_eq!(d.check_whole(), Err(DecodeError::BadFlag(2)));
        let mut d = MessageDecoder::new(10);
        d.push(Bytes::from(framed(&[b"x", &[0u8; 11]])));
        assert_eq!(d.check_whole(), Err(DecodeError::TooLarge { len: 11, max: 10 }));
    }

    #[test]
    fn messages_split_at_every_boundary() {
        let msgs: [&[u8]; 4] = [b"", b"a", b"hello world", &[7u8; 300]];
        let wire = framed(&msgs);
        for cut in 0..=wire.len() {
            for cut2 in cut..=wire.len() {
                let mut d = MessageDecoder::new(1024);
                let mut got = Vec::new();
                for part in [&wire[..cut], &wire[cut..cut2], &wire[cut2..]] {
                    if let Some(m) = d.push_whole(Bytes::copy_from_slice(part)).unwrap() {
                        got.push(m.data.to_vec());
                    }
                    while let Some(m) = d.next_message().unwrap() {
                        got.push(m.data.to_vec());
                    }
                }
                assert_eq!(got, msgs.map(<[u8]>::to_vec), "cuts {cut} {cut2}");
                assert_eq!(d.finish(), Ok(()));
            }
        }
    }

    /// A message inside a chunk of [`COALESCE_BELOW`] or more is a slice of
    /// it; smaller chunks are copied together first.
    #[test]
    fn a_message_inside_one_chunk_is_not_copied() {
        let filler = vec![1u8; COALESCE_BELOW];
        let wire = Bytes::from(framed(&[b"zero-copy", &filler]));
        let mut d = MessageDecoder::new(4096);
        d.push(wire.clone());
        let m = d.next_message().unwrap().unwrap();
        assert_eq!(m.data.as_ptr(), wire[5..].as_ptr());

        let small = Bytes::from(framed(&[b"zero", b"copy"]));
        let mut d = MessageDecoder::new(4096);
        d.push(small.slice(..7));
        d.push(small.slice(7..));
        assert_eq!(d.next_message().unwrap().unwrap().data, Bytes::from_static(b"zero"));
        let m = d.next_message().unwrap().unwrap();
        assert_eq!(m.data, Bytes::from_static(b"copy"));
        assert_ne!(m.data.as_ptr(), small[13..].as_ptr(), "small chunks are copied together");
    }

    #[test]
    fn a_chunk_that_is_one_whole_message_skips_the_queue() {
        let wire = Bytes::from(framed(&[b"whole"]));
        let mut d = MessageDecoder::new(1024);
        let m = d.push_whole(wire.clone()).unwrap().unwrap();
        assert_eq!((m.compressed, m.data.as_ptr()), (false, wire[5..].as_ptr()));
        assert!(d.is_empty());
        let mut bad = framed(&[b"x"]);
        bad[0] = 2;
        assert_eq!(d.push_whole(Bytes::from(bad)), Err(DecodeError::BadFlag(2)));
        let mut small = MessageDecoder::new(3);
        assert_eq!(small.push_whole(wire), Err(DecodeError::TooLarge { len: 5, max: 3 }));
        // Two messages in one chunk are not one whole message: both are queued.
        let two = Bytes::from(framed(&[b"a", b"b"]));
        assert_eq!(d.push_whole(two), Ok(None));
        assert_eq!(d.next_message().unwrap().unwrap().data, Bytes::from_static(b"a"));
        assert_eq!(d.next_message().unwrap().unwrap().data, Bytes::from_static(b"b"));
    }

    /// A run takes the whole uncompressed messages at the front, in one
    /// slice, and stops at its room, at a partial or compressed message and
    /// at one over the limit (which `next_message` then reports).
    #[test]
    fn a_run_takes_the_whole_plain_messages_in_front() {
        let mut wire = framed(&[b"a", b"bc", b"", b"def", b"gh"]);
        wire.extend_from_slice(&prefix(true, 1));
        wire.extend_from_slice(b"z");
        wire.extend_from_slice(&framed(&[b"xyz"])[..6]);
        let wire = Bytes::from(wire);
        let first = wire[5..].as_ptr();
        let mut d = MessageDecoder::new(1024);
        // A chunk nothing else refers to is kept as it is.
        d.push(wire);
        let mut r = d.take_run(70, 32).unwrap();
        assert_eq!((r.messages(), r.payload()), (3, 3), "stops once the room is reached");
        assert_eq!(r.next_message().unwrap().as_ptr(), first, "no copy");
        let r = d.take_run(usize::MAX, 0).unwrap();
        assert_eq!((r.messages(), r.payload()), (2, 5), "up to the compressed one");
        assert!(d.take_run(usize::MAX, 0).is_none());
        assert!(d.next_message().unwrap().unwrap().compressed);
        assert!(d.take_run(usize::MAX, 0).is_none(), "a partial message");
        assert_eq!(d.decoded(), 9);
        d.push(Bytes::from_static(b"yz"));
        assert_eq!(d.next_message().unwrap().unwrap().data, Bytes::from_static(b"xyz"));
        assert!(d.is_empty());

        let mut d = MessageDecoder::new(2);
        d.push(Bytes::from(framed(&[b"ab", b"cde"])));
        assert_eq!(d.take_run(usize::MAX, 0).unwrap().messages(), 1);
        assert!(d.take_run(usize::MAX, 0).is_none());
        assert_eq!(d.next_message(), Err(DecodeError::TooLarge { len: 3, max: 2 }));
    }

    #[test]
    fn oversized_length_is_rejected_from_the_prefix_alone() {
        let mut d = MessageDecoder::new(10);
        d.push(Bytes::from_static(&[0, 0, 0, 0, 11]));
        assert_eq!(d.next_message(), Err(DecodeError::TooLarge { len: 11, max: 10 }));
        let mut d = MessageDecoder::new(10);
        d.push(Bytes::from_static(&[2, 0, 0, 0, 1, 0]));
        assert_eq!(d.next_message(), Err(DecodeError::BadFlag(2)));
    }

    #[test]
    fn truncated_at_end_of_stream() {
        let mut d = MessageDecoder::new(10);
        d.push(Bytes::from_static(&[0, 0, 0, 0, 3, b'a']));
        assert_eq!(d.next_message(), Ok(None));
        assert_eq!(d.wanted(), 2);
        assert_eq!(d.finish(), Err(DecodeError::Truncated));
        let mut d = MessageDecoder::new(10);
        d.push(Bytes::from_static(&[0, 0]));
        assert_eq!(d.finish(), Err(DecodeError::Truncated));
    }

    #[test]
    fn compressed_flag_is_reported() {
        let mut d = MessageDecoder::new(10);
        d.push(Bytes::from_static(&[1, 0, 0, 0, 1, 9]));
        assert_eq!(
            d.next_message(),
            Ok(Some(RawMessage { compressed: true, data: Bytes::from_static(&[9]) }))
        );
    }
}
