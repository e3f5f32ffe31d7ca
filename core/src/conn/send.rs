//! Producing output: the preface, control frames, WINDOW_UPDATEs, then HEADERS
//! and DATA of all streams in fair round-robin, into one caller-owned buffer.

use std::time::Instant;

use bytes::Bytes;

use super::event::Event;
use super::settings::LocalSettings;
use super::transmit::TransmitBuf;
use super::{Connection, PREFACE, Phase, SEND_ENTRY_COST};
use crate::frame::{
    Frame, FrameHeader, FrameType, HeaderBlockKind, SettingsFrame, StreamId, WindowUpdate,
    encode_header_block, flags,
};
use crate::headers::Headers;
use crate::stream::{Input, Outcome, Outgoing};

impl Connection {
    /// Appends every frame that is ready to `buf` (up to
    /// `Config::max_transmit_size` of stream data per call; control frames
    /// always go). Returns the number of bytes appended; 0 means nothing to send.
    pub fn poll_transmit<B: TransmitBuf>(&mut self, now: Instant, buf: &mut B) -> usize {
        let start = buf.len();
        if self.phase == Phase::Closed || self.nothing_to_send() {
            return 0;
        }
        self.write_preface(now, buf);
        self.write_control(buf);
        if self.phase == Phase::Closing {
            self.close_now();
            return buf.len() - start;
        }
        self.write_window_updates(buf);
        let budget = start + self.config.max_transmit_size;
        self.write_pending_opens(buf);
        self.write_streams(buf, budget);
        // Frames written may have finished the last stream of a draining connection.
        if self.phase == Phase::Closing {
            self.write_control(buf);
            self.close_now();
        }
        buf.len() - start
    }

    /// The cheap check that lets an owner polling until 0 stop quickly.
    #[inline]
    fn nothing_to_send(&self) -> bool {
        self.preface_sent
            && self.phase == Phase::Open
            && self.control.is_empty()
            && self.window_update_due.is_empty()
            && self.pending_open.is_empty()
            && self.schedule.is_empty()
            && !self.recv_window.update_due()
    }

    fn write_preface<B: TransmitBuf>(&mut self, now: Instant, buf: &mut B) {
        if self.preface_sent {
            return;
        }
        self.preface_sent = true;
        if self.role == super::Role::Client {
            buf.put_slice(PREFACE);
        }
        let settings = LocalSettings::initial_frame(&self.config, self.role);
        self.local.push_initial(settings, now);
        self.put_frame(buf, &Frame::Settings(SettingsFrame { ack: false, settings }));
        if let Some(inc) = self.recv_window.take_all() {
            self.put_frame(
                buf,
                &Frame::WindowUpdate(WindowUpdate { stream_id: StreamId::ZERO, increment: inc }),
            );
        }
    }

    fn put_frame<B: TransmitBuf>(&mut self, buf: &mut B, frame: &Frame) {
        self.frame_buf.clear();
        frame.encode(&mut self.frame_buf);
        buf.put_slice(&self.frame_buf);
        self.stats.frames_sent += 1;
    }

    fn write_control<B: TransmitBuf>(&mut self, buf: &mut B) {
        while let Some(frame) = self.control.pop_front() {
            self.put_frame(buf, &frame);
        }
    }

    fn write_window_updates<B: TransmitBuf>(&mut self, buf: &mut B) {
        for id in std::mem::take(&mut self.window_update_due) {
            let inc = self
                .streams
                .get_mut(id)
                .filter(|s| s.state.can_recv())
                .and_then(|s| s.recv_window.take_update());
            if let Some(increment) = inc {
                self.stats.window_updates_sent += 1;
                self.put_frame(buf, &Frame::WindowUpdate(WindowUpdate { stream_id: id, increment }));
            }
        }
        if let Some(increment) = self.recv_window.take_update() {
            self.stats.window_updates_sent += 1;
            self.put_frame(buf, &Frame::WindowUpdate(WindowUpdate { stream_id: StreamId::ZERO, increment }));
        }
    }

    /// Sends the HEADERS of waiting streams in id order (§5.1.1: new ids must
    /// increase) while the peer's concurrency limit allows.
    fn write_pending_opens<B: TransmitBuf>(&mut self, buf: &mut B) {
        while let Some(&id) = self.pending_open.front() {
            if self.active_local >= self.peer.max_concurrent_streams as usize {
                break;
            }
            self.pending_open.pop_front();
            self.stream_turn(id, buf);
        }
    }

    fn write_streams<B: TransmitBuf>(&mut self, buf: &mut B, budget: usize) {
        while buf.len() < budget {
            let Some(id) = self.schedule.pop_front() else {
                break;
            };
            if let Some(s) = self.streams.get_mut(id) {
                s.scheduled = false;
            }
            self.stream_turn(id, buf);
        }
    }

    /// One turn of one stream: frames until a turn's quantum of bytes (one
    /// maximum frame) is written or the stream cannot send more. Fair between
    /// streams, and a small response (headers, message, trailers) leaves in
    /// one turn instead of one frame per round, so the peer can finish it
    /// before the rest of a burst arrives.
    fn stream_turn<B: TransmitBuf>(&mut self, id: StreamId, buf: &mut B) {
        let start = buf.len();
        let quantum = self.peer.max_frame_size as usize;
        while let Some(s) = self.streams.get_mut(id) {
            let before = buf.len();
            match s.send_queue.front() {
                None => break,
                Some(Outgoing::Headers { .. }) => {
                    let Some(Outgoing::Headers { headers, end_stream }) = s.send_queue.pop_front() else {
                        break;
                    };
                    self.write_headers(id, &headers, end_stream, buf);
                    self.recycle_headers(headers);
                }
                Some(Outgoing::Data { .. }) => {
                    self.write_data_frame(id, buf);
                    if buf.len() == before {
                        break;
                    }
                }
            }
            if buf.len() - start >= quantum {
                break;
            }
        }
        self.schedule_stream(id);
        self.maybe_remove(id);
    }

    /// Writes one DATA frame gathered from the consecutive data chunks at the
    /// head of the stream's queue (a gRPC prefix and its message become one
    /// frame without a copy), as large as the windows and frame size allow.
    fn write_data_frame<B: TransmitBuf>(&mut self, id: StreamId, buf: &mut B) {
        let conn_window = self.send_window.available() as usize;
        let max_frame = self.peer.max_frame_size as usize;
        let Some(s) = self.streams.get_mut(id) else {
            return;
        };
        let stream_window = s.send_window.available() as usize;
        let mut queued = 0;
        let mut ends = false;
        for item in &s.send_queue {
            let Outgoing::Data { head, data, end_stream } = item else {
                break;
            };
            queued += head.len() + data.len();
            ends = *end_stream;
            if ends || queued >= max_frame {
                break;
            }
        }
        let n = queued.min(max_frame).min(stream_window).min(conn_window);
        if n == 0 && queued > 0 {
            if stream_window > 0 {
                self.conn_blocked.push(id);
            }
            return;
        }
        let end = ends && n == queued;
        s.send_window.consume(n as u32);
        s.send_buffered -= n;
        let writable = s.want_writable && s.send_buffered < self.config.max_send_buffer_per_stream;
        if writable {
            s.want_writable = false;
        }
        self.send_window.consume(n as u32);
        self.send_buffered -= n;
        self.transition(id, Input::SendData);
        if end {
            self.transition(id, Input::SendEndStream);
        }
        let flags = if end { flags::END_STREAM } else { 0 };
        buf.put_slice(&FrameHeader::new(FrameType::Data, flags, id, n as u32).to_bytes());
        self.stats.data_sent += n as u64;
        self.stats.frames_sent += 1;
        self.ping_enforcement.on_headers_or_data_sent();
        let mut left = n;
        while let Some(s) = self.streams.get_mut(id) {
            let Some(Outgoing::Data { head, data, .. }) = s.send_queue.front_mut() else {
                break;
            };
            if head.len() + data.len() > left {
                let from_head = left.min(head.len());
                buf.put_slice(&head.as_slice()[..from_head]);
                head.advance(from_head);
                if left > from_head {
                    buf.put_bytes(data.split_to(left - from_head));
                }
                break;
            }
            left -= head.len() + data.len();
            if !head.is_empty() {
                buf.put_slice(head.as_slice());
            }
            let chunk = std::mem::take(data);
            s.send_queue.pop_front();
            s.send_buffered -= SEND_ENTRY_COST;
            self.send_buffered -= SEND_ENTRY_COST;
            if !chunk.is_empty() {
                buf.put_bytes(chunk);
            }
            let bare_end_next = matches!(
                s.send_queue.front(),
                Some(Outgoing::Data { head, data, .. }) if head.is_empty() && data.is_empty()
            );
            if left == 0 && !bare_end_next {
                break;
            }
        }
        if end {
            self.after_end_sent(id);
        }
        if writable {
            self.push_event(Event::Writable { stream: id });
        }
        self.notify_conn_writable();
    }

    fn write_headers<B: TransmitBuf>(
        &mut self,
        id: StreamId,
        headers: &Headers,
        end_stream: bool,
        buf: &mut B,
    ) {
        let first = matches!(self.transition(id, Input::SendHeaders), Outcome::Next(_));
        if !first {
            return;
        }
        let frames_received = self.stats.frames_received;
        if let Some(s) = self.streams.get_mut(id)
            && !s.headers_sent
        {
            s.headers_sent = true;
            s.frames_received_at_headers = frames_received;
        }
        if end_stream {
            self.transition(id, Input::SendEndStream);
        }
        let before = self.hpack_enc.table_state();
        let block = match self.sent_memo.get(headers, before) {
            Some(encoded) => encoded,
            None => {
                self.block_buf.clear();
                encode_headers(&mut self.hpack_enc, headers, &mut self.block_buf);
                let after = self.hpack_enc.table_state();
                self.sent_memo.put(headers, before, after, &self.block_buf);
                &self.block_buf[..]
            }
        };
        let max_frame = self.peer.max_frame_size;
        if block.len() <= max_frame as usize {
            // The usual case, one HEADERS frame: no staging copy.
            let flags = flags::END_HEADERS | if end_stream { flags::END_STREAM } else { 0 };
            buf.put_slice(&FrameHeader::new(FrameType::Headers, flags, id, block.len() as u32).to_bytes());
            buf.put_slice(block);
        } else {
            self.frame_buf.clear();
            let kind = HeaderBlockKind::Headers { end_stream, priority: None };
            encode_header_block(kind, id, block, max_frame, &mut self.frame_buf);
            buf.put_slice(&self.frame_buf);
        }
        self.stats.frames_sent += 1;
        self.ping_enforcement.on_headers_or_data_sent();
        if end_stream {
            self.after_end_sent(id);
        }
    }

    fn notify_conn_writable(&mut self) {
        if self.conn_writable_waiters.is_empty()
            || self.send_buffered >= self.config.max_send_buffer_per_connection
        {
            return;
        }
        for id in std::mem::take(&mut self.conn_writable_waiters) {
            if self.streams.get(id).is_some() {
                self.push_event(Event::Writable { stream: id });
            }
        }
    }

    /// Puts a stream in the round-robin schedule if it can make progress.
    pub(super) fn schedule_stream(&mut self, id: StreamId) {
        let conn_window = self.send_window.available();
        let Some(s) = self.streams.get_mut(id) else {
            return;
        };
        // A stream waiting in `pending_open` is still idle: its HEADERS open it.
        if s.scheduled || s.state == crate::stream::State::Idle {
            return;
        }
        if s.has_sendable(conn_window) {
            s.scheduled = true;
            self.schedule.push_back(id);
        } else if conn_window == 0 && !s.send_queue.is_empty() && s.send_window.available() > 0 {
            self.conn_blocked.push(id);
        }
    }

    /// After the peer raised windows for every stream.
    pub(super) fn reschedule_all(&mut self) {
        for id in self.streams.ids() {
            self.schedule_stream(id);
        }
    }
}

/// HPACK-encodes a header section: pseudo-header fields first (§8.3).
fn encode_headers(enc: &mut crate::hpack::Encoder, h: &Headers, dst: &mut Vec<u8>) {
    enc.begin_block(dst);
    let p = &h.pseudo;
    // Each kind of section keeps its fields in its own encoder memo slots. A
    // connection sends requests (a client) or responses and trailers (a
    // server), never both: requests and responses share the low slots.
    let mut position = match (&p.method, p.status) {
        (Some(_), _) | (None, Some(_)) => 0,
        (None, None) => 4,
    };
    static NAMES: [Bytes; 5] = [
        Bytes::from_static(b":method"),
        Bytes::from_static(b":scheme"),
        Bytes::from_static(b":authority"),
        Bytes::from_static(b":path"),
        Bytes::from_static(b":protocol"),
    ];
    let values = [&p.method, &p.scheme, &p.authority, &p.path, &p.protocol];
    for (name, value) in NAMES.iter().zip(values) {
        if let Some(v) = value {
            enc.encode_shared(position, name, v, false, dst);
            position += 1;
        }
    }
    if let Some(status) = p.status {
        // The static table's statuses (RFC 7541 Appendix A, indices 8-14).
        let index = match status {
            200 => 8,
            204 => 9,
            206 => 10,
            304 => 11,
            400 => 12,
            404 => 13,
            500 => 14,
            _ => 0,
        };
        if index != 0 {
            dst.push(0x80 | index);
        } else {
            let digits = [
                b'0' + (status / 100 % 10) as u8,
                b'0' + (status / 10 % 10) as u8,
                b'0' + (status % 10) as u8,
            ];
            enc.encode_field(b":status", &digits, false, dst);
        }
    }
    for f in &h.fields {
        enc.encode_shared(position, &f.name, &f.value, f.sensitive, dst);
        position += 1;
    }
}
