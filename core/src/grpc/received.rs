//! Received messages as the owner takes them in batches: single messages,
//! and runs of whole messages still in their received octets, so that a
//! batch of small messages costs one entry, not one per message, and each
//! message is cut out (or decoded in place) only when it is taken.

use std::collections::VecDeque;

use bytes::{Buf, Bytes};

use super::codec::PREFIX_LEN;

/// Whole, uncompressed, length-prefixed messages as received, each checked
/// (flag 0, length within the receive limit) when the run was cut
/// ([`super::codec::MessageDecoder::take_run`]).
#[derive(Clone, Debug)]
pub struct Run {
    /// The framed messages; those before `at` were taken.
    octets: Bytes,
    at: usize,
    messages: usize,
    payload: usize,
}

impl Run {
    /// A run of `messages` messages with `payload` octets in all, framed in
    /// `octets`; the caller checked every prefix.
    pub(crate) fn new(octets: Bytes, messages: usize, payload: usize) -> Self {
        Run { octets, at: 0, messages, payload }
    }

    /// Messages left.
    pub fn messages(&self) -> usize {
        self.messages
    }

    /// Payload octets left (prefixes not counted).
    pub fn payload(&self) -> usize {
        self.payload
    }

    /// Reads the next prefix and steps past it: where the message starts
    /// and its length.
    #[inline]
    fn next_len(&mut self) -> Option<(usize, usize)> {
        let &[_, l0, l1, l2, l3] = self.octets.get(self.at..)?.first_chunk::<PREFIX_LEN>()?;
        let len = u32::from_be_bytes([l0, l1, l2, l3]) as usize;
        let start = self.at + PREFIX_LEN;
        self.at = start + len;
        self.messages -= 1;
        self.payload -= len;
        Some((start, len))
    }

    /// The next message, cut from the run (no copy).
    pub fn next_message(&mut self) -> Option<Bytes> {
        let (start, len) = self.next_len()?;
        Some(self.octets.slice(start..start + len))
    }

    /// The next message, handed to `decode` in place ([`MessageBuf`]).
    #[inline]
    pub fn decode_next<T>(&mut self, decode: impl FnOnce(&mut MessageBuf<'_>) -> T) -> Option<T> {
        let (start, len) = self.next_len()?;
        Some(decode(&mut MessageBuf { whole: &self.octets, pos: start, end: start + len }))
    }
}

/// One received message, read where it lies: a [`Buf`] over part of the
/// received octets, whose [`Buf::copy_to_bytes`] is a slice of them (no
/// copy). The octets themselves are not touched while a message is read,
/// only a position (advancing a `Bytes` for every field and then reading it
/// whole to cut a slice made the processor wait on its own writes).
#[derive(Debug)]
pub struct MessageBuf<'a> {
    whole: &'a Bytes,
    pos: usize,
    end: usize,
}

impl<'a> MessageBuf<'a> {
    /// All of `message`.
    pub fn new(message: &'a Bytes) -> Self {
        MessageBuf { whole: message, pos: 0, end: message.len() }
    }
}

impl Buf for MessageBuf<'_> {
    #[inline]
    fn remaining(&self) -> usize {
        self.end - self.pos
    }

    #[inline]
    fn chunk(&self) -> &[u8] {
        &self.whole[self.pos..self.end]
    }

    #[inline]
    fn advance(&mut self, cnt: usize) {
        assert!(cnt <= self.remaining(), "advance past the end of the message");
        self.pos += cnt;
    }

    #[inline]
    fn copy_to_bytes(&mut self, len: usize) -> Bytes {
        assert!(len <= self.remaining(), "copy past the end of the message");
        let out = self.whole.slice(self.pos..self.pos + len);
        self.pos += len;
        out
    }
}

/// One entry of [`Received`].
#[derive(Debug)]
enum Entry {
    /// A message and its compressed flag (decompressed when it was set).
    One(Bytes, bool),
    /// Whole uncompressed messages, never empty.
    Run(Run),
}

/// Messages taken from a call, in order, each with its compressed flag
/// (a compressed message is held decompressed).
#[derive(Debug, Default)]
pub struct Received {
    entries: VecDeque<Entry>,
    messages: usize,
    payload: usize,
}

impl Received {
    /// Nothing received.
    pub fn new() -> Self {
        Received::default()
    }

    /// Messages held.
    pub fn len(&self) -> usize {
        self.messages
    }

    /// True when no message is held.
    pub fn is_empty(&self) -> bool {
        self.messages == 0
    }

    /// Payload octets held (decompressed; prefixes not counted).
    pub fn payload(&self) -> usize {
        self.payload
    }

    /// Entries the queue has room for without allocating.
    pub fn capacity(&self) -> usize {
        self.entries.capacity()
    }

    /// Adds one message.
    pub fn push_back(&mut self, message: Bytes, compressed: bool) {
        self.messages += 1;
        self.payload += message.len();
        self.entries.push_back(Entry::One(message, compressed));
    }

    /// Adds a run of messages (none when it is empty).
    pub fn push_run(&mut self, run: Run) {
        if run.messages == 0 {
            return;
        }
        self.messages += run.messages;
        self.payload += run.payload;
        self.entries.push_back(Entry::Run(run));
    }

    /// Moves every message of `other` behind these.
    pub fn append(&mut self, other: &mut Received) {
        self.messages += std::mem::take(&mut other.messages);
        self.payload += std::mem::take(&mut other.payload);
        self.entries.append(&mut other.entries);
    }

    /// Drops every message.
    pub fn clear(&mut self) {
        self.entries.clear();
        self.messages = 0;
        self.payload = 0;
    }

    /// The first message and its compressed flag.
    pub fn pop_front(&mut self) -> Option<(Bytes, bool)> {
        let out = match self.entries.front_mut()? {
            Entry::Run(run) => {
                let message = run.next_message()?;
                if run.messages == 0 {
                    self.entries.pop_front();
                }
                (message, false)
            }
            Entry::One(..) => match self.entries.pop_front()? {
                Entry::One(message, compressed) => (message, compressed),
                Entry::Run(_) => return None,
            },
        };
        self.messages -= 1;
        self.payload -= out.0.len();
        Some(out)
    }

    /// The first message handed to `decode` in place (a reader limited to
    /// it: a message in a run is never cut out on its own), with its
    /// compressed flag.
    #[inline]
    pub fn pop_decoded<T>(&mut self, decode: impl FnOnce(&mut MessageBuf<'_>) -> T) -> Option<(T, bool)> {
        let (out, len, compressed) = match self.entries.front_mut()? {
            Entry::Run(run) => {
                let before = run.payload;
                let out = run.decode_next(decode)?;
                let len = before - run.payload;
                if run.messages == 0 {
                    self.entries.pop_front();
                }
                (out, len, false)
            }
            Entry::One(..) => match self.entries.pop_front()? {
                Entry::One(message, compressed) => {
                    (decode(&mut MessageBuf::new(&message)), message.len(), compressed)
                }
                Entry::Run(_) => return None,
            },
        };
        self.messages -= 1;
        self.payload -= len;
        Some((out, compressed))
    }

    /// The messages in order (each cut from a clone of its run).
    pub fn iter(&self) -> impl Iterator<Item = (Bytes, bool)> + '_ {
        self.entries.iter().flat_map(|e| -> Box<dyn Iterator<Item = (Bytes, bool)>> {
            match e {
                Entry::One(m, c) => Box::new(std::iter::once((m.clone(), *c))),
                Entry::Run(run) => {
                    let mut run = run.clone();
                    Box::new(std::iter::from_fn(move || run.next_message().map(|m| (m, false))))
                }
            }
        })
    }
}

/// The messages of a [`Received`], taken in order.
#[derive(Debug)]
pub struct IntoIter(Received);

impl Iterator for IntoIter {
    type Item = (Bytes, bool);

    fn next(&mut self) -> Option<(Bytes, bool)> {
        self.0.pop_front()
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.0.messages, Some(self.0.messages))
    }
}

impl IntoIterator for Received {
    type Item = (Bytes, bool);
    type IntoIter = IntoIter;

    fn into_iter(self) -> IntoIter {
        IntoIter(self)
    }
}

impl FromIterator<(Bytes, bool)> for Received {
    fn from_iter<I: IntoIterator<Item = (Bytes, bool)>>(iter: I) -> Self {
        let mut out = Received::new();
        out.extend(iter);
        out
    }
}

impl Extend<(Bytes, bool)> for Received {
    fn extend<I: IntoIterator<Item = (Bytes, bool)>>(&mut self, iter: I) {
        for (message, compressed) in iter {
            self.push_back(message, compressed);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::grpc::codec::prefix;

    fn run_of(msgs: &[&[u8]]) -> Run {
        let mut octets = Vec::new();
        for m in msgs {
            octets.extend_from_slice(&prefix(false, m.len() as u32));
            octets.extend_from_slice(m);
        }
        Run::new(octets.into(), msgs.len(), msgs.iter().map(|m| m.len()).sum())
    }

    /// Runs and single messages come out in order, counted as they go,
    /// whether cut out or decoded in place.
    #[test]
    fn runs_and_single_messages_come_out_in_order() {
        let mut r = Received::new();
        r.push_back(Bytes::from_static(b"one"), true);
        r.push_run(run_of(&[b"two", b"", b"three"]));
        r.push_run(run_of(&[]));
        r.push_back(Bytes::from_static(b"four"), false);
        assert_eq!((r.len(), r.payload()), (5, 15));
        let all: Vec<_> = r.iter().collect();
        assert_eq!(all.len(), 5, "iter leaves them");
        assert_eq!(r.pop_front(), Some((Bytes::from_static(b"one"), true)));
        let read = |b: &mut MessageBuf<'_>| b.copy_to_bytes(b.remaining());
        assert_eq!(r.pop_decoded(read), Some((Bytes::from_static(b"two"), false)));
        assert_eq!(r.pop_front(), Some((Bytes::new(), false)));
        assert_eq!((r.len(), r.payload()), (2, 9));
        // A decoder that reads only part of its message: the rest is skipped.
        assert_eq!(r.pop_decoded(|b| b.get_u8()), Some((b't', false)));
        assert_eq!(r.pop_decoded(read), Some((Bytes::from_static(b"four"), false)));
        assert_eq!((r.len(), r.payload(), r.pop_front()), (0, 0, None));
        assert_eq!(all.into_iter().map(|(m, _)| m).collect::<Vec<_>>(), ["one", "two", "", "three", "four"]);
    }

    /// A decoder cannot read past its message: the next one is intact.
    #[test]
    fn a_decoder_sees_only_its_message() {
        let mut r = Received::new();
        r.push_run(run_of(&[b"ab", b"cd"]));
        let seen = r.pop_decoded(|b| (b.remaining(), b.chunk().to_vec()));
        assert_eq!(seen, Some(((2, b"ab".to_vec()), false)));
        assert_eq!(r.pop_front(), Some((Bytes::from_static(b"cd"), false)));
    }
}
