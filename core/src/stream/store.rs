//! The stream store: live streams by id, plus a bounded memory of recently
//! closed streams so the peer's late frames are judged by how the stream
//! closed (§5.1 "closed").

use std::collections::{HashMap, VecDeque};
use std::hash::{BuildHasherDefault, Hasher};

use super::{Closed, State, Stream};
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

/// A freed slot keeps its queues' allocations for the next stream only up to
/// this capacity (per-call allocations are what short calls cost most).
const KEPT_QUEUE_CAPACITY: usize = 16;

/// Live streams in slots (a slab: records are built and reset in place, never
/// moved), found by id through a small map; plus recently closed ones.
#[derive(Debug, Default)]
pub(crate) struct Store {
    index: IdMap<u32>,
    slots: Vec<Slot>,
    free: Vec<u32>,
    /// The last id looked up mutably and its slot: consecutive operations on
    /// one stream skip the map.
    last: Option<(u32, u32)>,
    recently_closed: VecDeque<(u32, Closed)>,
    memory: usize,
}

#[derive(Debug)]
struct Slot {
    stream: Stream,
    live: bool,
}

/// What a removed stream left behind, for the connection's accounting.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Removed {
    /// Its state when removed.
    pub state: State,
    /// Octets it still had queued for sending (now dropped).
    pub send_buffered: usize,
    /// Octets it had received and not yet delivered (now dropped).
    pub recv_buffered: usize,
}

impl std::fmt::Debug for IdHasher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("IdHasher")
    }
}

impl Store {
    /// An empty store remembering up to `memory` closed streams.
    pub fn new(memory: usize) -> Self {
        Store { memory, ..Store::default() }
    }

    /// Adds a new idle stream (in a freed slot when there is one, reusing its
    /// queues) and returns it. The id must not be live.
    pub fn insert_new(&mut self, id: StreamId, recv_window: u32, send_window: u32) -> &mut Stream {
        let slot = match self.free.pop() {
            Some(slot) => {
                let entry = &mut self.slots[slot as usize];
                entry.stream.reset(recv_window, send_window);
                entry.live = true;
                slot
            }
            None => {
                self.slots.push(Slot { stream: Stream::new(recv_window, send_window), live: true });
                (self.slots.len() - 1) as u32
            }
        };
        self.index.insert(id.0, slot);
        self.last = Some((id.0, slot));
        &mut self.slots[slot as usize].stream
    }

    #[inline]
    pub fn get(&self, id: StreamId) -> Option<&Stream> {
        let slot = match self.last {
            Some((last, slot)) if last == id.0 => slot,
            _ => *self.index.get(&id.0)?,
        };
        Some(&self.slots[slot as usize].stream)
    }

    #[inline]
    pub fn get_mut(&mut self, id: StreamId) -> Option<&mut Stream> {
        let slot = match self.last {
            Some((last, slot)) if last == id.0 => slot,
            _ => {
                let slot = *self.index.get(&id.0)?;
                self.last = Some((id.0, slot));
                slot
            }
        };
        Some(&mut self.slots[slot as usize].stream)
    }

    /// Removes a stream, dropping what it still queued and remembering how it
    /// closed; its slot (and small queues) wait for the next stream.
    pub fn remove(&mut self, id: StreamId) -> Option<Removed> {
        let slot = self.index.remove(&id.0)?;
        if self.last.is_some_and(|(last, _)| last == id.0) {
            self.last = None;
        }
        let entry = &mut self.slots[slot as usize];
        entry.live = false;
        let s = &mut entry.stream;
        let removed =
            Removed { state: s.state, send_buffered: s.send_buffered, recv_buffered: s.recv_buffered };
        s.recv_queue.clear(KEPT_QUEUE_CAPACITY);
        if s.send_queue.capacity() > KEPT_QUEUE_CAPACITY {
            s.send_queue = VecDeque::new();
        }
        s.clear_send_queue();
        s.clear_recv_queue();
        self.free.push(slot);
        if let State::Closed(how) = removed.state {
            self.remember(id, how);
        }
        Some(removed)
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
        self.index.len()
    }

    pub fn ids(&self) -> Vec<StreamId> {
        self.index.keys().map(|&k| StreamId(k)).collect()
    }

    pub fn iter_mut(&mut self) -> impl Iterator<Item = &mut Stream> {
        self.slots.iter_mut().filter(|e| e.live).map(|e| &mut e.stream)
    }

    pub fn iter(&self) -> impl Iterator<Item = &Stream> {
        self.slots.iter().filter(|e| e.live).map(|e| &e.stream)
    }
}
