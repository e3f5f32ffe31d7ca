//! What the two gRPC roles share, in one place: the HTTP/2 connection, the
//! table of calls with their receive state, call deadlines, the event queue
//! and the per-connection receive budget. [`super::Client`] and
//! [`super::Server`] each own one [`Calls`] and add only what their role
//! does (as rustls's client and server connections wrap one common
//! connection type).

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;

use super::compression::{Compression, Compressors};
use super::inbound::{Inbound, Pumped, RecvBatch, RecvHold, RecvMessage, Rest, Room, first_partial};
use super::received::Received;
use super::status::Status;
use super::{BatchCheck, CONTENT_TYPE, CallId, Deadlines, codec};
use crate::conn::{self, Connection, Role};
use crate::frame::StreamId;
use crate::hash::FxBuild;
use crate::hpack::HeaderField;

/// Receive states kept for reuse (each holds two small queues).
const SPARE_INBOUND: usize = 64;

/// Default [`MessageConfig::max_recv_buffer_per_connection`]: 16 MiB.
pub const DEFAULT_MAX_RECV_BUFFER_PER_CONNECTION: usize = 16 << 20;

/// Message limits and compression, the same knobs for both roles
/// ([`super::ClientConfig::messages`], [`super::ServerConfig::messages`]).
#[derive(Clone, Debug)]
pub struct MessageConfig {
    /// Largest message accepted from the peer (after decompression).
    pub max_recv_message_size: usize,
    /// Largest message sent.
    pub max_send_message_size: usize,
    /// Received bytes the calls of one connection may hold in the core:
    /// partial messages and whole ones not yet taken with `recv_message`
    /// (counted as received, before decompression). Past it only the call
    /// whose partial message began first keeps reading; the others leave
    /// their data unread, so their stream windows push back on the peer.
    /// Without it, `max_recv_message_size` would be held per call, times
    /// the streams of the connection.
    pub max_recv_buffer_per_connection: usize,
    /// Supported compression algorithms (advertised in `grpc-accept-encoding`).
    pub compressors: Compressors,
}

impl Default for MessageConfig {
    fn default() -> Self {
        MessageConfig {
            max_recv_message_size: codec::DEFAULT_MAX_RECV_MESSAGE,
            max_send_message_size: usize::MAX,
            max_recv_buffer_per_connection: DEFAULT_MAX_RECV_BUFFER_PER_CONNECTION,
            compressors: Compressors::builtin(),
        }
    }
}

/// One call's record: what both roles keep, and `side`, what only one does.
#[derive(Debug)]
pub(crate) struct Call<S> {
    /// Receive state.
    pub inbound: Inbound,
    /// How this side's messages are compressed (`None`: identity).
    pub send_compression: Option<Arc<dyn Compression>>,
    /// The call's deadline, while it is registered.
    pub deadline: Option<Instant>,
    /// The final status is known (a client that saw it, a server that sent
    /// it): a stream with nothing more is over.
    pub finished: bool,
    /// Payload octets of the messages queued, as framed (compressed when
    /// compressed, prefixes not counted).
    pub wire_sent: u64,
    /// The role's own part.
    pub side: S,
}

/// A call's message payload octets as they crossed the wire: after
/// compression when a message was compressed, without the 5-octet gRPC
/// prefixes, HTTP/2 framing or metadata (what gRFC A66's
/// `*_total_compressed_message_size` instruments count).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct WireBytes {
    /// Of the messages this side queued.
    pub sent: u64,
    /// Of the messages this side received whole.
    pub received: u64,
}

impl<S> Call<S> {
    /// What crossed the wire so far.
    pub fn wire(&self) -> WireBytes {
        WireBytes { sent: self.wire_sent, received: self.inbound.wire_received() }
    }

    pub fn new(
        inbound: Inbound,
        send_compression: Option<Arc<dyn Compression>>,
        deadline: Option<Instant>,
        side: S,
    ) -> Self {
        Call { inbound, send_compression, deadline, finished: false, wire_sent: 0, side }
    }
}

/// What data arriving on a call's stream gives its role to report.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Report {
    Nothing,
    /// A message can be taken.
    Message,
    /// The peer ended its side and every message was taken.
    End,
}

/// The connection, its calls and what they share (`S`: the role's part of
/// a call record, `E`: the role's event).
#[derive(Debug)]
pub(crate) struct Calls<S, E> {
    pub h2: Connection,
    pub map: HashMap<StreamId, Call<S>, FxBuild>,
    pub deadlines: Deadlines,
    pub events: VecDeque<E>,
    /// Received bytes held by the calls, against their per-connection limit.
    pub hold: RecvHold,
    /// Receive state of finished calls, reused by new ones.
    spare: Vec<Inbound>,
}

impl<S, E> Calls<S, E> {
    pub fn new(role: Role, h2: &conn::Config, messages: &MessageConfig, now: Instant) -> Self {
        Calls {
            h2: Connection::new(role, h2.clone(), now),
            map: HashMap::default(),
            deadlines: Deadlines::default(),
            events: VecDeque::new(),
            hold: RecvHold::new(messages.max_recv_buffer_per_connection),
            spare: Vec::new(),
        }
    }

    pub fn get(&self, call: CallId) -> Option<&Call<S>> {
        self.map.get(&call.0)
    }

    pub fn get_mut(&mut self, call: CallId) -> Option<&mut Call<S>> {
        self.map.get_mut(&call.0)
    }

    pub fn contains(&self, call: CallId) -> bool {
        self.map.contains_key(&call.0)
    }

    /// The earliest deadline of the connection or any call.
    pub fn poll_timeout(&self) -> Option<Instant> {
        [self.h2.poll_timeout(), self.deadlines.next()].into_iter().flatten().min()
    }

    /// Queues messages the owner framed into one buffer on a call, compressed
    /// one by one when the call compresses ([`super::send_batch`]).
    pub fn send_batch(
        &mut self,
        call: CallId,
        framed: Bytes,
        check: Option<BatchCheck>,
        max_send: usize,
        end: bool,
    ) -> Result<(), Status> {
        let c = self.map.get(&call.0).ok_or_else(super::gone)?;
        let algo = c.send_compression.clone();
        let wire = super::send_batch(&mut self.h2, call.0, framed, check, algo.as_deref(), max_send, end)?;
        if let Some(c) = self.map.get_mut(&call.0) {
            c.wire_sent += wire;
        }
        Ok(())
    }

    /// What crossed the wire on a call so far (`None`: no such call).
    pub fn wire(&self, call: CallId) -> Option<WireBytes> {
        self.map.get(&call.0).map(Call::wire)
    }

    /// Runs the connection's timers; the calls whose deadline passed.
    pub fn handle_timeout(&mut self, now: Instant) -> Vec<CallId> {
        self.h2.handle_timeout(now);
        self.deadlines.expired(now)
    }

    /// Fresh receive state for a new call (a spare one when there is one),
    /// taking messages up to `max` bytes.
    pub fn new_inbound(&mut self, encoding: Option<Arc<dyn Compression>>, max: usize) -> Inbound {
        match self.spare.pop() {
            Some(mut i) => {
                i.reset(max, encoding);
                i
            }
            None => Inbound::new(max, encoding),
        }
    }

    /// Registers a new call and its deadline.
    pub fn insert(&mut self, call: CallId, record: Call<S>) {
        if let Some(d) = record.deadline {
            self.deadlines.insert(d, call);
        }
        self.map.insert(call.0, record);
    }

    /// Removes a finished call whose receive state becomes a [`Rest`]
    /// (see [`Inbound::rest_size`]); the call stays when it cannot.
    pub fn take_rest(&mut self, call: CallId) -> Option<Rest> {
        let c = self.map.get_mut(&call.0)?;
        if !c.finished || self.h2.recv_buffered(call.0) > 0 {
            return None;
        }
        let size = c.inbound.rest_size()?;
        let rest = std::mem::replace(&mut c.inbound, Inbound::new(0, None)).into_rest(size);
        // `remove` releases what the placeholder holds (nothing).
        self.remove(call);
        self.hold.adjust(rest.held(), 0);
        Some(rest)
    }

    /// Drops a call's record, its deadline and what it held; its receive
    /// state is kept for reuse. False when there was no such call.
    pub fn remove(&mut self, call: CallId) -> bool {
        let Some(c) = self.map.remove(&call.0) else {
            return false;
        };
        self.deadlines.remove(c.deadline, call);
        let inbound = c.inbound;
        self.hold.adjust(inbound.held(), 0);
        if self.spare.len() < SPARE_INBOUND {
            self.spare.push(inbound);
        }
        if self.map.is_empty() {
            // An idle connection holds no call slots (heap per idle
            // connection, mem-probe); the next call allocates them again.
            self.map.shrink_to_fit();
        }
        true
    }

    /// Bytes a call may pull from its stream now.
    fn allowance(&self, id: StreamId) -> usize {
        self.hold.allowance(|| first_partial(self.map.iter().map(|(id, c)| (id, &c.inbound))) == Some(id))
    }

    /// Pumps a call's stream as data arrives; `None` when there is no such
    /// call (its data is then read and dropped, so its credit returns).
    pub fn pump(&mut self, id: StreamId) -> Option<Result<Pumped, Status>> {
        let allowance = self.allowance(id);
        let Some(c) = self.map.get_mut(&id) else {
            self.discard(id);
            return None;
        };
        Some(self.hold.pump(&mut c.inbound, &mut self.h2, id, allowance))
    }

    /// [`Self::pump`] as data arrives, told as what the role should
    /// report: a message once until the owner takes messages again, the end
    /// of the peer's messages once.
    pub fn pump_to_report(&mut self, id: StreamId) -> Option<Result<Report, Status>> {
        let pumped = self.pump(id)?;
        let inbound = &mut self.map.get_mut(&id)?.inbound;
        Some(pumped.map(|p| match p {
            Pumped::Ready if std::mem::take(&mut inbound.armed) => Report::Message,
            Pumped::Ended if !std::mem::replace(&mut inbound.end_reported, true) => Report::End,
            _ => Report::Nothing,
        }))
    }

    /// The next message of a call, with its compressed flag; `single`: the
    /// call takes exactly one message ([`Inbound::pump_single`]). An error
    /// is the role's to act on (it fails the call).
    pub fn recv_message(&mut self, call: CallId, single: bool) -> Result<(RecvMessage, bool), Status> {
        let allowance = self.allowance(call.0);
        let Some(c) = self.map.get_mut(&call.0) else {
            return Ok((RecvMessage::End, false));
        };
        let finished = c.finished;
        let inbound = &mut c.inbound;
        inbound.armed = true;
        let pumped = if single {
            let before = inbound.held();
            let out = inbound.pump_single(&mut self.h2, call.0, allowance, self.hold.seq());
            self.hold.adjust(before, inbound.held());
            self.hold.note_starved(call.0, out)
        } else {
            self.hold.pump(inbound, &mut self.h2, call.0, allowance)
        };
        match pumped? {
            Pumped::Ready => {
                let before = inbound.held();
                let taken = inbound.take();
                self.hold.adjust(before, inbound.held());
                Ok(match taken? {
                    Some((data, compressed)) => (RecvMessage::Message(data), compressed),
                    None => (RecvMessage::Pending, false),
                })
            }
            Pumped::Waiting | Pumped::Starved if finished => Ok((RecvMessage::End, false)),
            Pumped::Waiting | Pumped::Starved => Ok((RecvMessage::Pending, false)),
            Pumped::Ended => {
                inbound.end_reported = true;
                Ok((RecvMessage::End, false))
            }
        }
    }

    /// Every whole message of a call that fits `room`, into `out`
    /// ([`RecvHold::recv_batch`]).
    pub fn take_batch(&mut self, call: CallId, room: Room, out: &mut Received) -> Result<RecvBatch, Status> {
        let allowance = self.allowance(call.0);
        let Some(c) = self.map.get_mut(&call.0) else {
            return Ok(RecvBatch::End);
        };
        let finished = c.finished;
        self.hold.recv_batch(&mut c.inbound, &mut self.h2, call.0, allowance, room, out, finished)
    }

    /// The calls that stopped at the receive limit, to pump again once
    /// bytes were released.
    pub fn starved(&mut self) -> Vec<StreamId> {
        self.hold.take_starved_if_released()
    }

    /// Reads and drops what a stream without a call has buffered, so its
    /// flow-control credit returns.
    pub fn discard(&mut self, id: StreamId) {
        while let Ok(conn::Read::Data { .. }) = self.h2.read(id, usize::MAX) {}
    }
}

/// Appends the fields both roles open their header section with:
/// `content-type`, the `grpc-encoding` of what they send, and the
/// `grpc-accept-encoding` of what they read (`extra` goes between the first
/// two: a client's `te: trailers`).
pub(crate) fn push_call_fields(
    f: &mut Vec<HeaderField>,
    extra: Option<HeaderField>,
    send: Option<&Arc<dyn Compression>>,
    compressors: &Compressors,
) {
    f.push(HeaderField::new(Bytes::from_static(b"content-type"), Bytes::from_static(CONTENT_TYPE)));
    f.extend(extra);
    if let Some(algo) = send {
        f.push(HeaderField::new(
            Bytes::from_static(b"grpc-encoding"),
            Bytes::from_static(algo.name().as_bytes()),
        ));
    }
    f.push(HeaderField::new(Bytes::from_static(b"grpc-accept-encoding"), compressors.accept_encoding()));
}

/// The receive methods both roles offer, in the same words, expanded in
/// each role's `impl` block; the role defines `after_recv` (what a broken
/// stream does to the call) and `on_data`.
macro_rules! recv_methods {
    () => {
        /// What crossed the wire on a live call so far: payload octets of
        /// its messages, compressed when they were (`None`: no such call).
        pub fn wire_bytes(&self, call: CallId) -> Option<WireBytes> {
            self.calls.wire(call)
        }

        /// The next message of a call.
        pub fn recv_message(&mut self, call: CallId) -> Result<RecvMessage, Status> {
            self.recv_message_flagged(call).map(|(m, _)| m)
        }

        /// `recv_message`, with whether the message had the compressed flag
        /// set (the interop `expect_compressed` check needs it).
        pub fn recv_message_flagged(&mut self, call: CallId) -> Result<(RecvMessage, bool), Status> {
            self.recv_with(call, false)
        }

        fn recv_with(&mut self, call: CallId, single: bool) -> Result<(RecvMessage, bool), Status> {
            let out = self.calls.recv_message(call, single);
            self.after_recv(call, &out);
            out
        }

        /// Takes every whole message of `call` that fits `room` into `out`
        /// (decompressed, with its compressed flag): one call for a batch of
        /// `recv_message_flagged`. On an error the call has failed as there,
        /// and the messages before the error are in `out`.
        pub fn recv_messages(
            &mut self,
            call: CallId,
            room: Room,
            out: &mut Received,
        ) -> Result<RecvBatch, Status> {
            let out = self.calls.take_batch(call, room, out);
            self.after_recv(call, &out);
            out
        }

        /// Pumps again the calls that stopped at the limit, once bytes were released.
        fn wake_starved(&mut self) {
            for id in self.calls.starved() {
                self.on_data(id);
            }
        }
    };
}
pub(crate) use recv_methods;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::grpc::ClientConfig;

    #[test]
    fn an_idle_connection_keeps_no_call_slots() {
        let now = Instant::now();
        let config = ClientConfig::default();
        let mut calls: Calls<(), ()> = Calls::new(Role::Client, &config.h2, &config.messages, now);
        for id in [1u32, 3, 5] {
            let inbound = calls.new_inbound(None, 1024);
            calls.insert(CallId(StreamId(id)), Call::new(inbound, None, None, ()));
        }
        assert!(calls.remove(CallId(StreamId(1))));
        assert!(calls.map.capacity() > 0, "slots kept while calls run");
        assert!(calls.remove(CallId(StreamId(3))) && calls.remove(CallId(StreamId(5))));
        assert_eq!(calls.map.capacity(), 0, "the last call's end frees the slots");
        // The receive states stay for the next calls.
        assert_eq!(calls.spare.len(), 3);
    }
}
