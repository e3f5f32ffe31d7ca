//! The receive half of a call, shared by both roles: pulls DATA from the HTTP/2
//! stream only while no complete message is waiting (so the stream window is
//! the backpressure), reassembles messages, decompresses them when taken.
//!
//! Pulling DATA returns its flow-control credit, so what the calls of one
//! connection hold (partial messages, whole ones not yet taken) is counted
//! against one per-connection limit ([`RecvHold`]): past it, only the call
//! whose partial message began first keeps reading; the others leave their
//! data in the HTTP/2 stream, whose windows then push back on the peer.

use std::collections::VecDeque;
use std::sync::Arc;

use bytes::Bytes;

use super::codec::{DecodeError, MessageDecoder, RawMessage};
use super::compression::{Compression, CompressionError};
use super::received::{Received, Run};
use super::status::{Code, Status};
use super::web::{TextDecoder, WebError};
use crate::conn::{Connection, Read};
use crate::frame::StreamId;

/// What [`super::Server::recv_message`] and [`super::Client::recv_message`] return.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RecvMessage {
    /// A whole message, decompressed.
    Message(Bytes),
    /// None yet; a `Message` event follows when one is complete.
    Pending,
    /// The peer finished sending; no more messages.
    End,
}

/// How a batch from [`super::Server::recv_messages`] or
/// [`super::Client::recv_messages`] ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RecvBatch {
    /// The batch reached its room: more messages may be ready.
    Full,
    /// No more for now; a `Message` event follows when one is complete.
    Pending,
    /// The peer finished sending: no messages after these.
    End,
}

/// The messages a finished call still held when the client took them out
/// of its connection ([`super::Client::take_rest`]): checked whole when the
/// trailers came, and cut from the received octets one at a time as they
/// are taken, by whoever holds them (no queue of messages in between).
#[derive(Debug)]
pub struct Rest(Box<RestInner>);

/// A [`Rest`]'s state, boxed (a call keeps room for one all its life).
#[derive(Debug)]
struct RestInner {
    inbound: Inbound,
    messages: u64,
    payload: u64,
    /// Octets held when taken out.
    held: usize,
}

impl Rest {
    /// Octets held (payloads and prefixes).
    pub fn held(&self) -> usize {
        self.0.inbound.held()
    }

    /// Messages held when taken out, and their payload octets.
    pub fn size(&self) -> (u64, u64) {
        (self.0.messages, self.0.payload)
    }

    /// Octets held when taken out (what [`Rest::held`] was then).
    pub fn held_at_first(&self) -> usize {
        self.0.held
    }

    /// The whole messages at the front of what is held, as one run, when
    /// they can be taken so (none is left from before the check);
    /// [`Rest::next_message`] takes the others.
    pub fn next_run(&mut self) -> Option<Run> {
        let inbound = &mut self.0.inbound;
        if !inbound.ready.is_empty() {
            return None;
        }
        inbound.decoder.take_run(usize::MAX, 0)
    }

    /// The next message (a rest holds uncompressed messages only); `None`
    /// after the last.
    pub fn next_message(&mut self) -> Option<Bytes> {
        let inbound = &mut self.0.inbound;
        if let Some(m) = inbound.ready.pop_front() {
            inbound.ready_bytes -= m.data.len();
            return Some(m.data);
        }
        // Checked whole: no error is left to find.
        inbound.decoder.next_message().ok().flatten().map(|m| m.data)
    }
}

/// Received bytes held by the calls of one connection, and the limit.
#[derive(Debug)]
pub(crate) struct RecvHold {
    held: usize,
    limit: usize,
    next_seq: u64,
    /// Calls that stopped reading at the limit.
    starved: Vec<StreamId>,
    /// Bytes were released since the starved calls were last pumped.
    released: bool,
}

impl RecvHold {
    pub fn new(limit: usize) -> Self {
        RecvHold { held: 0, limit, next_seq: 0, starved: Vec::new(), released: false }
    }

    /// Bytes held now.
    pub fn held(&self) -> usize {
        self.held
    }

    /// Bytes a call may pull before it must stop: what is left under the
    /// limit, or everything for the call whose partial message began first
    /// (`first`), so that one message always completes.
    pub fn allowance(&self, first: impl FnOnce() -> bool) -> usize {
        match self.limit.saturating_sub(self.held) {
            0 if first() => usize::MAX,
            left => left,
        }
    }

    /// Pumps `inbound` with the call's allowance and keeps the count.
    pub fn pump(
        &mut self,
        inbound: &mut Inbound,
        h2: &mut Connection,
        id: StreamId,
        allowance: usize,
    ) -> Result<Pumped, Status> {
        let before = inbound.held();
        let out = inbound.pump(h2, id, allowance, &mut self.next_seq);
        self.adjust(before, inbound.held());
        self.note_starved(id, out)
    }

    /// A batch for a call of either role ([`Inbound::pump_batch`], counted
    /// here), told as a [`RecvBatch`]; `finished`: the call has its final
    /// status (a client that saw the trailers), so a stream with nothing
    /// more ended.
    #[allow(clippy::too_many_arguments)]
    pub fn recv_batch(
        &mut self,
        inbound: &mut Inbound,
        h2: &mut Connection,
        id: StreamId,
        allowance: usize,
        room: Room,
        out: &mut Received,
        finished: bool,
    ) -> Result<RecvBatch, Status> {
        inbound.armed = true;
        let before = inbound.held();
        let pumped = inbound.pump_batch(h2, id, allowance, &mut self.next_seq, room, out);
        self.adjust(before, inbound.held());
        match self.note_starved(id, pumped)? {
            Pumped::Ready => Ok(RecvBatch::Full),
            Pumped::Waiting | Pumped::Starved if finished => Ok(RecvBatch::End),
            Pumped::Waiting | Pumped::Starved => Ok(RecvBatch::Pending),
            Pumped::Ended => {
                inbound.end_reported = true;
                Ok(RecvBatch::End)
            }
        }
    }

    /// The partial-message sequence, for [`Inbound::pump_single`].
    pub fn seq(&mut self) -> &mut u64 {
        &mut self.next_seq
    }

    /// Remembers a call that stopped at its allowance (reported as waiting).
    pub fn note_starved(&mut self, id: StreamId, out: Result<Pumped, Status>) -> Result<Pumped, Status> {
        if let Ok(Pumped::Starved) = out {
            if !self.starved.contains(&id) {
                self.starved.push(id);
            }
            return Ok(Pumped::Waiting);
        }
        out
    }

    /// Records a change of one call's holding from `before` to `after`.
    pub fn adjust(&mut self, before: usize, after: usize) {
        if after < before {
            self.released = true;
        }
        self.held = self.held + after - before;
    }

    /// The calls to pump again, if bytes were released since they stopped.
    pub fn take_starved_if_released(&mut self) -> Vec<StreamId> {
        if self.starved.is_empty() || !std::mem::take(&mut self.released) {
            return Vec::new();
        }
        std::mem::take(&mut self.starved)
    }
}

/// How much one batch of received messages may take: messages are counted
/// as their length plus `per_message` (the taker's bookkeeping), and the
/// batch stops once it reached `bytes`. One message is always taken when
/// one is whole.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Room {
    /// Where the batch stops.
    pub bytes: usize,
    /// What each message counts besides its length.
    pub per_message: usize,
}

impl Room {
    /// No limit: everything that is whole (a finished call being drained).
    pub const ALL: Room = Room { bytes: usize::MAX, per_message: 0 };
}

/// The call whose partial message began first, among `calls`.
pub(crate) fn first_partial<'a>(
    calls: impl Iterator<Item = (&'a StreamId, &'a Inbound)>,
) -> Option<StreamId> {
    calls.filter_map(|(id, i)| i.partial_since.map(|seq| (seq, *id))).min().map(|(_, id)| id)
}

/// Receive state of one call.
#[derive(Debug)]
pub(crate) struct Inbound {
    decoder: MessageDecoder,
    /// Messages decoded and not yet taken: at most one while the stream
    /// runs (so the window pushes back). Once the stream ended (trailers),
    /// the rest stay in the decoder, checked whole, and are decoded as
    /// they are taken.
    ready: VecDeque<RawMessage>,
    /// Bytes in `ready`.
    ready_bytes: usize,
    /// When the message being reassembled began (a connection-wide sequence
    /// number), while the decoder holds part of one.
    partial_since: Option<u64>,
    /// A message was taken.
    delivered: bool,
    /// The HTTP/2 stream's receive side is finished (all its data pulled).
    peer_ended: bool,
    /// A `Message` event may be emitted.
    pub armed: bool,
    /// The half-close was reported.
    pub end_reported: bool,
    encoding: Option<Arc<dyn Compression>>,
    max_len: usize,
    /// A gRPC-Web text call (PROTOCOL-WEB `application/grpc-web-text`): its
    /// DATA is base64, split anywhere, decoded before the message decoder.
    text: Option<Box<TextDecoder>>,
}

/// What a pump found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Pumped {
    /// A message is ready.
    Ready,
    /// Waiting for more data.
    Waiting,
    /// Data is waiting in the stream, but the call used its allowance.
    Starved,
    /// The peer ended and every message was taken.
    Ended,
}

impl Inbound {
    pub fn new(max_len: usize, encoding: Option<Arc<dyn Compression>>) -> Self {
        Inbound {
            decoder: MessageDecoder::new(max_len),
            ready: VecDeque::new(),
            ready_bytes: 0,
            partial_since: None,
            delivered: false,
            peer_ended: false,
            armed: true,
            end_reported: false,
            encoding,
            max_len,
            text: None,
        }
    }

    /// Makes this a gRPC-Web text call's receive state: its DATA is base64
    /// (padding allowed after any group, groups split anywhere) holding the
    /// length-prefixed messages.
    pub fn set_base64(&mut self) {
        self.text = Some(Box::new(TextDecoder::new()));
    }

    /// `data` as the message decoder takes it: as it came, or decoded from
    /// base64 on a text call (`fin`: the body ends with it, so an unpadded
    /// last group is decoded now). At most three characters wait in the
    /// text decoder; what comes out is shorter than what went in.
    fn unwrap_data(&mut self, data: Bytes, fin: bool) -> Result<Bytes, Status> {
        let Some(text) = &mut self.text else { return Ok(data) };
        let mut out = Vec::with_capacity(data.len() / 4 * 3 + 3);
        let decoded = text.push(&data, &mut out).and_then(|()| match fin {
            true => text.finish(&mut out),
            false => Ok(()),
        });
        decoded.map_err(web_status)?;
        Ok(Bytes::from(out))
    }

    /// The peer ended the stream without data: on a text call, the last
    /// group it left unpadded goes to the decoder.
    fn end_text(&mut self) -> Result<(), Status> {
        if self.text.is_some() {
            let tail = self.unwrap_data(Bytes::new(), true)?;
            self.decoder.push(tail);
        }
        Ok(())
    }

    /// Reuses this state for a new call (keeps the queues' allocations).
    pub fn reset(&mut self, max_len: usize, encoding: Option<Arc<dyn Compression>>) {
        self.decoder.reset(max_len);
        self.ready.clear();
        self.ready_bytes = 0;
        self.partial_since = None;
        self.delivered = false;
        self.peer_ended = false;
        self.armed = true;
        self.end_reported = false;
        self.encoding = encoding;
        self.max_len = max_len;
        self.text = None;
    }

    /// Received bytes this call holds: its partial message and the whole
    /// ones not yet taken.
    pub fn held(&self) -> usize {
        self.decoder.buffered() + self.ready_bytes
    }

    /// Payload octets of the messages received whole so far, as they
    /// arrived (compressed when they were).
    pub fn wire_received(&self) -> u64 {
        self.decoder.decoded()
    }

    fn push_ready(&mut self, m: RawMessage) {
        self.ready_bytes += m.data.len();
        self.ready.push_back(m);
    }

    /// Notes when the partial message in the decoder began (none once the
    /// peer ended: nothing more can complete it).
    fn track_partial(&mut self, seq: &mut u64) {
        if self.decoder.is_empty() || self.peer_ended {
            self.partial_since = None;
        } else if self.partial_since.is_none() {
            *seq += 1;
            self.partial_since = Some(*seq);
        }
    }

    /// Pulls from the stream until a message is ready or nothing is
    /// buffered, pulling at most about `allowance` bytes (one DATA payload
    /// may overshoot it); `seq` numbers the partial messages of the connection.
    pub fn pump(
        &mut self,
        h2: &mut Connection,
        id: StreamId,
        allowance: usize,
        seq: &mut u64,
    ) -> Result<Pumped, Status> {
        let mut pulled = 0;
        let out = loop {
            if !self.ready.is_empty() {
                break Ok(Pumped::Ready);
            }
            match self.decoder.next_message() {
                Ok(Some(m)) => {
                    self.push_ready(m);
                    continue;
                }
                Ok(None) => {}
                Err(e) => break Err(decode_status(e)),
            }
            if self.peer_ended {
                break match self.decoder.finish() {
                    Ok(()) => Ok(Pumped::Ended),
                    Err(e) => Err(decode_status(e)),
                };
            }
            // Past the allowance, only a stream with no data left may be
            // read (to learn that it ended).
            if pulled >= allowance && h2.recv_buffered(id) > 0 {
                break Ok(Pumped::Starved);
            }
            match h2.read(id, usize::MAX) {
                Ok(Read::Data { data, fin }) => {
                    self.peer_ended = fin;
                    pulled += data.len();
                    let data = match self.unwrap_data(data, fin) {
                        Ok(data) => data,
                        Err(status) => break Err(status),
                    };
                    match self.decoder.push_whole(data) {
                        Ok(Some(m)) => self.push_ready(m),
                        Ok(None) => {}
                        Err(e) => break Err(decode_status(e)),
                    }
                }
                Ok(Read::Finished) => {
                    self.peer_ended = true;
                    if let Err(status) = self.end_text() {
                        break Err(status);
                    }
                }
                Ok(Read::Pending) => break Ok(Pumped::Waiting),
                // The stream is gone (reset or closed and dropped): the owner
                // learns why from the reset event.
                Err(_) => break Ok(Pumped::Waiting),
            }
        };
        self.track_partial(seq);
        out
    }

    /// Pumps and takes whole messages (decompressed, with their compressed
    /// flag) into `out` until they fill `room`. `Ready` when it stopped at
    /// the room (more may be ready), otherwise how the stream stands after
    /// the last message. On an error, the messages before it stay in `out`.
    pub fn pump_batch(
        &mut self,
        h2: &mut Connection,
        id: StreamId,
        allowance: usize,
        seq: &mut u64,
        room: Room,
        out: &mut Received,
    ) -> Result<Pumped, Status> {
        let mut used = 0usize;
        while used < room.bytes {
            let raw = match self.ready.pop_front() {
                Some(m) => {
                    self.ready_bytes -= m.data.len();
                    m
                }
                // Whole plain messages stay in their octets, as one entry.
                None if let Some(run) = self.decoder.take_run(room.bytes - used, room.per_message) => {
                    self.delivered = true;
                    used = used.saturating_add(run.payload() + run.messages() * room.per_message);
                    out.push_run(run);
                    continue;
                }
                None => match self.decoder.next_message() {
                    Ok(Some(m)) => m,
                    // Read more from the stream (what `pump` decides).
                    Ok(None) => match self.pump(h2, id, allowance, seq)? {
                        Pumped::Ready => continue,
                        other => return Ok(other),
                    },
                    Err(e) => {
                        self.track_partial(seq);
                        return Err(decode_status(e));
                    }
                },
            };
            // The usual case inline: an uncompressed message is handed over
            // as it is (`open` returns through a `Status`-sized result).
            let m = if raw.compressed {
                self.open(raw)?
            } else {
                self.delivered = true;
                (raw.data, false)
            };
            used = used.saturating_add(m.0.len() + room.per_message);
            out.push_back(m.0, m.1);
        }
        self.track_partial(seq);
        Ok(Pumped::Ready)
    }

    /// For a call that takes exactly one request message (unary and
    /// server-streaming): `Ready` once the message is whole *and* the peer
    /// ended the stream, so the message is decompressed only when the
    /// request is complete and nothing is inflated for a request that never
    /// ends. A second message, or none, is an error.
    pub fn pump_single(
        &mut self,
        h2: &mut Connection,
        id: StreamId,
        allowance: usize,
        seq: &mut u64,
    ) -> Result<Pumped, Status> {
        loop {
            let pumped = match self.ready.len() {
                0 => self.pump(h2, id, allowance, seq)?,
                _ => self.pump_past_ready(h2, id, allowance, seq)?,
            };
            match pumped {
                Pumped::Ready if self.ready.len() > 1 || !self.decoder.is_empty() => {
                    return Err(Status::new(
                        Code::Internal,
                        "unary call received more than one request message",
                    ));
                }
                Pumped::Ready if self.peer_ended => return Ok(Pumped::Ready),
                // The message is whole: read on to learn whether the stream ends.
                Pumped::Ready => continue,
                Pumped::Ended if self.delivered => return Ok(Pumped::Ended),
                Pumped::Ended => {
                    return Err(Status::new(Code::Internal, "unary call ended without a request message"));
                }
                waiting => return Ok(waiting),
            }
        }
    }

    /// With one message ready, reads on to learn whether the stream ends:
    /// more data is a second message, the end makes the request complete.
    fn pump_past_ready(
        &mut self,
        h2: &mut Connection,
        id: StreamId,
        allowance: usize,
        seq: &mut u64,
    ) -> Result<Pumped, Status> {
        if self.peer_ended {
            return Ok(Pumped::Ready);
        }
        if allowance == 0 && h2.recv_buffered(id) > 0 {
            return Ok(Pumped::Starved);
        }
        match h2.read(id, usize::MAX) {
            Ok(Read::Data { data, fin }) => {
                self.peer_ended = fin;
                let data = self.unwrap_data(data, fin)?;
                self.decoder.push(data);
            }
            Ok(Read::Finished) => {
                self.peer_ended = true;
                self.end_text()?;
            }
            Ok(Read::Pending) | Err(_) => return Ok(Pumped::Waiting),
        }
        if let Some(m) = self.decoder.next_message().map_err(decode_status)? {
            self.push_ready(m);
        }
        self.track_partial(seq);
        Ok(Pumped::Ready)
    }

    /// What a finished call's receive state holds, when it can become a
    /// [`Rest`] ([`Inbound::into_rest`]): its messages were checked whole,
    /// none is compressed (those are opened by the connection's owner, as
    /// they are taken) and at least two are held (one, a unary response, is
    /// cheaper taken at once). Messages and payload octets.
    pub fn rest_size(&self) -> Option<(u64, u64)> {
        let ready = self.ready.len() as u64;
        match self.decoder.whole_rest() {
            Some((held, payload, false))
                if held + ready > 1 && self.text.is_none() && self.ready.iter().all(|m| !m.compressed) =>
            {
                Some((held + ready, payload + self.ready_bytes as u64))
            }
            _ => None,
        }
    }

    /// This receive state as a [`Rest`] of `size` ([`Inbound::rest_size`]).
    pub fn into_rest(self, (messages, payload): (u64, u64)) -> Rest {
        let held = self.held();
        Rest(Box::new(RestInner { inbound: self, messages, payload, held }))
    }

    /// True when no message, whole or partial, is held.
    pub fn is_drained(&self) -> bool {
        self.ready.is_empty() && self.decoder.is_empty()
    }

    /// The peer ended the stream (trailers): takes everything it sent, which
    /// is already in memory, and checks that it ended on a message boundary.
    /// The messages stay in the decoder, taken by the batches that follow
    /// (decoded once, as they go, rather than queued first).
    pub fn finish_stream(&mut self, h2: &mut Connection, id: StreamId) -> Result<(), Status> {
        while let Ok(Read::Data { data, .. }) = h2.read(id, usize::MAX) {
            let data = self.unwrap_data(data, false)?;
            self.decoder.push(data);
        }
        self.end_text()?;
        self.peer_ended = true;
        self.partial_since = None;
        self.decoder.check_whole().map_err(decode_status)
    }

    /// Marks the receive side finished without more data (trailers-only,
    /// END_STREAM on the header block).
    pub fn set_peer_ended(&mut self) {
        self.peer_ended = true;
    }

    /// Takes the ready message, decompressed, with its compressed flag.
    pub fn take(&mut self) -> Result<Option<(Bytes, bool)>, Status> {
        let Some(m) = self.ready.pop_front() else {
            return Ok(None);
        };
        self.ready_bytes -= m.data.len();
        self.open(m).map(Some)
    }

    /// A message being delivered: decompressed, with its compressed flag.
    fn open(&mut self, m: RawMessage) -> Result<(Bytes, bool), Status> {
        self.delivered = true;
        if !m.compressed {
            return Ok((m.data, false));
        }
        // PROTOCOL-HTTP2: "If the Message-Encoding header is omitted then the
        // Compressed-Flag must be 0."
        let Some(algo) = &self.encoding else {
            return Err(Status::new(Code::Internal, "compressed flag set without grpc-encoding"));
        };
        let mut out = Vec::new();
        match algo.decompress(&m.data, &mut out, self.max_len) {
            Ok(()) => Ok((out.into(), true)),
            Err(CompressionError::TooLarge { max }) => Err(Status::new(
                Code::ResourceExhausted,
                format!("decompressed message larger than max ({max})"),
            )),
            Err(CompressionError::Corrupt(e)) => {
                Err(Status::new(Code::Internal, format!("failed to decompress message: {e}")))
            }
        }
    }
}

/// The status of a gRPC-Web text body that is not base64.
fn web_status(e: WebError) -> Status {
    e.status("gRPC-Web request body")
}

fn decode_status(e: DecodeError) -> Status {
    match e {
        DecodeError::TooLarge { len, max } => Status::new(
            Code::ResourceExhausted,
            format!("received message larger than max ({len} vs. {max})"),
        ),
        DecodeError::BadFlag(f) => Status::new(Code::Internal, format!("invalid compressed flag {f}")),
        DecodeError::Truncated => Status::new(Code::Internal, "stream ended inside a message"),
    }
}
