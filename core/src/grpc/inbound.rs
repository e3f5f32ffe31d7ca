//! The receive half of a call, shared by both roles: pulls DATA from the HTTP/2
//! stream only while no complete message is waiting (so the stream window is
//! the backpressure), reassembles messages, decompresses them.

use std::collections::VecDeque;
use std::sync::Arc;

use bytes::Bytes;

use super::codec::{DecodeError, MessageDecoder, RawMessage};
use super::compression::{Compression, CompressionError};
use super::status::{Code, Status};
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

/// Receive state of one call.
#[derive(Debug)]
pub(crate) struct Inbound {
    decoder: MessageDecoder,
    /// Messages decoded and not yet taken: at most one while the stream
    /// runs (so the window pushes back); all remaining ones once it ended.
    ready: VecDeque<RawMessage>,
    /// The HTTP/2 stream's receive side is finished (all its data pulled).
    peer_ended: bool,
    /// A `Message` event may be emitted.
    pub armed: bool,
    /// The half-close was reported.
    pub end_reported: bool,
    encoding: Option<Arc<dyn Compression>>,
    max_len: usize,
}

/// What a pump found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Pumped {
    /// A message is ready.
    Ready,
    /// Waiting for more data.
    Waiting,
    /// The peer ended and every message was taken.
    Ended,
}

impl Inbound {
    pub fn new(max_len: usize, encoding: Option<Arc<dyn Compression>>) -> Self {
        Inbound {
            decoder: MessageDecoder::new(max_len),
            ready: VecDeque::new(),
            peer_ended: false,
            armed: true,
            end_reported: false,
            encoding,
            max_len,
        }
    }

    /// Reuses this state for a new call (keeps the queues' allocations).
    pub fn reset(&mut self, max_len: usize, encoding: Option<Arc<dyn Compression>>) {
        self.decoder.reset(max_len);
        self.ready.clear();
        self.peer_ended = false;
        self.armed = true;
        self.end_reported = false;
        self.encoding = encoding;
        self.max_len = max_len;
    }

    /// Pulls from the stream until a message is ready or nothing is buffered.
    pub fn pump(&mut self, h2: &mut Connection, id: StreamId) -> Result<Pumped, Status> {
        loop {
            if !self.ready.is_empty() {
                return Ok(Pumped::Ready);
            }
            if let Some(m) = self.decoder.next_message().map_err(decode_status)? {
                self.ready.push_back(m);
                continue;
            }
            if self.peer_ended {
                self.decoder.finish().map_err(decode_status)?;
                return Ok(Pumped::Ended);
            }
            match h2.read(id, usize::MAX) {
                Ok(Read::Data { data, fin }) => {
                    self.peer_ended = fin;
                    if let Some(m) = self.decoder.push_whole(data).map_err(decode_status)? {
                        self.ready.push_back(m);
                    }
                }
                Ok(Read::Finished) => self.peer_ended = true,
                Ok(Read::Pending) => return Ok(Pumped::Waiting),
                // The stream is gone (reset or closed and dropped): the owner
                // learns why from the reset event.
                Err(_) => return Ok(Pumped::Waiting),
            }
        }
    }

    /// True when no message, whole or partial, is held.
    pub fn is_drained(&self) -> bool {
        self.ready.is_empty() && self.decoder.is_empty()
    }

    /// The peer ended the stream (trailers): decodes everything it sent, which
    /// is already in memory, and checks that it ended on a message boundary.
    pub fn finish_stream(&mut self, h2: &mut Connection, id: StreamId) -> Result<(), Status> {
        while let Ok(Read::Data { data, .. }) = h2.read(id, usize::MAX) {
            self.decoder.push(data);
        }
        self.peer_ended = true;
        while let Some(m) = self.decoder.next_message().map_err(decode_status)? {
            self.ready.push_back(m);
        }
        self.decoder.finish().map_err(decode_status)
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
        if !m.compressed {
            return Ok(Some((m.data, false)));
        }
        // PROTOCOL-HTTP2: "If the Message-Encoding header is omitted then the
        // Compressed-Flag must be 0."
        let Some(algo) = &self.encoding else {
            return Err(Status::new(Code::Internal, "compressed flag set without grpc-encoding"));
        };
        let mut out = Vec::new();
        match algo.decompress(&m.data, &mut out, self.max_len) {
            Ok(()) => Ok(Some((out.into(), true))),
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
