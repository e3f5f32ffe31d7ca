//! The stream store: live streams by id, plus a bounded memory of recently
//! closed streams so the peer's late frames are judged by how the stream
//! closed (§5.1 "closed").

use std::collections::{HashMap, VecDeque};
use std::hash::{BuildHasherDefault, Hasher};

use bytes::Bytes;

use super::{Closed, Outgoing, State, Stream};
use crate::frame::StreamId;

/// Hashes a stream id with one multiplication (Fibonacci hashing). Ids come
/// from the peer, but the map never holds more than the concurrency limit,
/// so adversarial collisions cost at most a probe over that many entries.
#[derive(Default)]
pub(crate) struct IdHasher(u64);

impl Hasher for IdHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0 << 8 | u64::from(b)).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        }
    }

    fn write_u32(&mut self, n: u32) {
        self.0 = u64::from(n).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    }
}

type IdMap<V> = HashMap<u32, V, BuildHasherDefault<IdHasher>>;

/// Queues of finished streams kept for new ones: a stream's queues allocate
/// on first use, and per-call allocations are what short calls cost most.
const SPARE_QUEUES: usize = 64;

/// Live streams and recently closed ones.
#[derive(Debug, Default)]
pub(crate) struct Store {
    streams: IdMap<Stream>,
    recently_closed: VecDeque<(u32, Closed)>,
    memory: usize,
    spare: Vec<(VecDeque<Bytes>, VecDeque<Outgoing>)>,
}

impl std::fmt::Debug for IdHasher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("IdHasher")
    }
}

impl Store {
    /// An empty store remembering up to `memory` closed streams.
    pub fn new(memory: usize) -> Self {
        Store { streams: IdMap::default(), recently_closed: VecDeque::new(), memory, spare: Vec::new() }
    }

    /// A new idle stream, reusing a finished stream's queues when there are any.
    pub fn new_stream(&mut self, id: StreamId, recv_window: u32, send_window: u32) -> Stream {
        let mut s = Stream::new(id, recv_window, send_window);
        if let Some((recv, send)) = self.spare.pop() {
            s.recv_queue = recv;
            s.send_queue = send;
        }
        s
    }

    /// Keeps a removed stream's (emptied) queues for a future stream.
    pub fn recycle(&mut self, mut s: Stream) {
        if self.spare.len() < SPARE_QUEUES && s.recv_queue.capacity() <= 16 && s.send_queue.capacity() <= 16 {
            s.recv_queue.clear();
            s.send_queue.clear();
            self.spare.push((s.recv_queue, s.send_queue));
        }
    }

    pub fn get(&self, id: StreamId) -> Option<&Stream> {
        self.streams.get(&id.0)
    }

    pub fn get_mut(&mut self, id: StreamId) -> Option<&mut Stream> {
        self.streams.get_mut(&id.0)
    }

    pub fn insert(&mut self, stream: Stream) -> &mut Stream {
        self.streams.entry(stream.id.0).or_insert(stream)
    }

    /// Removes a stream, remembering how it closed.
    pub fn remove(&mut self, id: StreamId) -> Option<Stream> {
        let s = self.streams.remove(&id.0)?;
        if let State::Closed(how) = s.state {
            self.remember(id, how);
        }
        Some(s)
    }

    /// Records a stream that closed without ever having a record (refused).
    pub fn remember(&mut self, id: StreamId, how: Closed) {
        if self.memory == 0 {
            return;
        }
        if self.recently_closed.len() == self.memory {
            self.recently_closed.pop_front();
        }
        self.recently_closed.push_back((id.0, how));
    }

    /// How a forgotten stream closed, if it closed recently.
    pub fn closed_how(&self, id: StreamId) -> Option<Closed> {
        self.recently_closed.iter().rev().find(|(i, _)| *i == id.0).map(|(_, how)| *how)
    }

    pub fn len(&self) -> usize {
        self.streams.len()
    }

    pub fn ids(&self) -> Vec<StreamId> {
        self.streams.keys().map(|&k| StreamId(k)).collect()
    }

    pub fn iter_mut(&mut self) -> impl Iterator<Item = &mut Stream> {
        self.streams.values_mut()
    }

    pub fn iter(&self) -> impl Iterator<Item = &Stream> {
        self.streams.values()
    }
}
