//! Per-stream state: the §5.1 lifecycle, windows, and the receive and send
//! queues that data is pulled from and pushed into.

mod recv_queue;
mod state;
mod store;

pub(crate) use recv_queue::{RecvQueue, append_small};
pub use state::{Closed, Input, Outcome, State};
pub(crate) use store::Store;

use std::collections::VecDeque;

use bytes::Bytes;

use crate::error_code::ErrorCode;
use crate::flow::{RecvWindow, SendWindow};
use crate::headers::Headers;

/// Where a stream's incoming message is, which decides how the next header
/// block is read (§8.1).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) enum RecvPhase {
    /// Waiting for the request or response header section.
    #[default]
    Head,
    /// Header section received; DATA or trailers may follow.
    Body,
}

/// Something queued for sending on a stream, in order.
#[derive(Debug)]
pub(crate) enum Outgoing {
    /// A header section, HPACK-encoded when it is its turn (encoding order must
    /// equal sending order).
    Headers { headers: Box<Headers>, end_stream: bool },
    /// A chunk of data (a few inline octets, then a payload held by
    /// reference); may be split across frames.
    Data { head: Head, data: Bytes, end_stream: bool },
}

impl Outgoing {
    /// A data chunk without an inline head.
    pub fn data(data: Bytes, end_stream: bool) -> Self {
        Outgoing::Data { head: Head::default(), data, end_stream }
    }
}

/// Up to [`Head::CAPACITY`] octets sent before a data chunk's payload, kept
/// inline (a gRPC message prefix costs no allocation and no copy of the
/// message it precedes).
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Head {
    octets: [u8; Head::CAPACITY],
    start: u8,
    end: u8,
}

impl Head {
    /// The most octets a head holds.
    pub const CAPACITY: usize = 8;

    /// A head holding `src` (at most [`Head::CAPACITY`] octets).
    #[inline]
    pub fn new(src: &[u8]) -> Self {
        let mut octets = [0; Head::CAPACITY];
        octets[..src.len()].copy_from_slice(src);
        Head { octets, start: 0, end: src.len() as u8 }
    }

    /// The octets not yet sent.
    #[inline]
    pub fn as_slice(&self) -> &[u8] {
        &self.octets[self.start as usize..self.end as usize]
    }

    #[inline]
    pub fn len(&self) -> usize {
        usize::from(self.end - self.start)
    }

    #[inline]
    pub fn is_empty(&self) -> bool {
        self.start == self.end
    }

    /// Marks the first `n` octets sent.
    #[inline]
    pub fn advance(&mut self, n: usize) {
        self.start += n.min(self.len()) as u8;
    }
}

/// One stream's record.
#[derive(Debug, Default)]
pub(crate) struct Stream {
    pub state: State,
    pub recv_window: RecvWindow,
    pub send_window: SendWindow,
    /// Received DATA payloads not yet read by the owner.
    pub recv_queue: RecvQueue,
    pub recv_buffered: usize,
    /// True when an `Event::Data` may be emitted at the next arrival.
    pub data_event_armed: bool,
    pub recv_phase: RecvPhase,
    /// Octets still expected per `content-length` (§8.1.1), when it was given.
    pub content_length_left: Option<u64>,
    /// Client side: the request was HEAD, so `content-length` does not bind the body.
    pub is_head_request: bool,
    pub send_queue: VecDeque<Outgoing>,
    pub send_buffered: usize,
    /// A header section has been queued (data may follow).
    pub headers_queued: bool,
    /// END_STREAM has been queued: nothing more may be queued.
    pub end_queued: bool,
    /// The owner hit the buffer limit and wants `Event::Writable`.
    pub want_writable: bool,
    /// The stream sits in the connection's send schedule.
    pub scheduled: bool,
    /// We reset it with this code (sent or queued).
    pub reset_code: Option<ErrorCode>,
    /// We sent any header section (server: response started).
    pub headers_sent: bool,
    /// The connection's count of frames received when our first header
    /// section was written: unchanged, the peer has said nothing since.
    pub frames_received_at_headers: u64,
    /// Reset with this code once our END_STREAM is written, if the peer has
    /// not ended its side by then (gRPC "early server closure").
    pub reset_after_end: Option<ErrorCode>,
    /// The peer ended its side before resetting the stream: what it sent is
    /// complete and stays readable (RFC 9113 §8.1).
    pub recv_ended: bool,
    /// The owner knows the stream (false for requests refused before delivery,
    /// whose data is discarded as it arrives).
    pub visible: bool,
}

impl Stream {
    /// Makes a removed stream's record a new idle stream in place, keeping
    /// its (emptied) queues' allocations. Every field is named, so a new one
    /// cannot be forgotten here.
    pub fn reset(&mut self, recv_window: u32, send_window: u32) {
        let Stream {
            state,
            recv_window: rw,
            send_window: sw,
            recv_queue,
            recv_buffered,
            data_event_armed,
            recv_phase,
            content_length_left,
            is_head_request,
            send_queue,
            send_buffered,
            headers_queued,
            end_queued,
            want_writable,
            scheduled,
            reset_code,
            headers_sent,
            frames_received_at_headers,
            reset_after_end,
            recv_ended,
            visible,
        } = self;
        recv_queue.clear(usize::MAX);
        send_queue.clear();
        *state = State::Idle;
        *rw = RecvWindow::new(recv_window);
        *sw = SendWindow::new(send_window);
        *recv_buffered = 0;
        *data_event_armed = true;
        *recv_phase = RecvPhase::Head;
        *content_length_left = None;
        *is_head_request = false;
        *send_buffered = 0;
        *headers_queued = false;
        *end_queued = false;
        *want_writable = false;
        *scheduled = false;
        *reset_code = None;
        *headers_sent = false;
        *frames_received_at_headers = 0;
        *reset_after_end = None;
        *recv_ended = false;
        *visible = false;
    }

    /// A new idle stream with windows from the current settings.
    pub fn new(recv_window: u32, send_window: u32) -> Self {
        let mut stream = Stream::default();
        stream.reset(recv_window, send_window);
        stream
    }

    /// True when the record can be dropped: closed, nothing left to read or send.
    pub fn is_done(&self) -> bool {
        self.state.is_closed() && self.recv_queue.is_empty() && self.send_queue.is_empty()
    }

    /// True when the head of the send queue can make progress with `conn_window`.
    pub fn has_sendable(&self, conn_window: u32) -> bool {
        match self.send_queue.front() {
            None => false,
            Some(Outgoing::Headers { .. }) => true,
            Some(Outgoing::Data { head, data, .. }) if head.is_empty() && data.is_empty() => true,
            Some(Outgoing::Data { .. }) => self.send_window.available() > 0 && conn_window > 0,
        }
    }

    /// Drops everything queued for sending; returns the octets released.
    pub fn clear_send_queue(&mut self) -> usize {
        self.send_queue.clear();
        std::mem::take(&mut self.send_buffered)
    }

    /// Drops unread received data; returns the octets released.
    pub fn clear_recv_queue(&mut self) -> usize {
        self.recv_queue.clear(usize::MAX);
        std::mem::take(&mut self.recv_buffered)
    }
}
