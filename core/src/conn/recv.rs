//! Handling of received frames (RFC 9113 §5, §6, §8).

use std::sync::Arc;
use std::time::Instant;

use bytes::{Bytes, BytesMut};

use super::block_memo::Built;
use super::error::{ConnectionError, ConnectionErrorKind, Limit};
use super::event::{Event, HeadersKind, Initiator, LocalResetCause};
use super::{Connection, PendingBlock, Role, Shutdown, ping_payload};
use crate::error_code::ErrorCode;
use crate::frame::{
    Continuation, Data, Frame, GoAway, Headers as HeadersFrame, Ping, RstStream, SettingsFrame, StreamId,
    WindowUpdate,
};
use crate::headers::{BlockKind, HeaderBuilder, Headers, Malformed};
use crate::hpack::DecoderError;
use crate::stream::{Closed, Input, Outcome, RecvPhase, State};

/// How a frame's stream id relates to what we know.
enum Known {
    /// A stream with a live record.
    Live,
    /// Never opened by its initiator (§5.1 "idle").
    Idle,
    /// Closed and forgotten, or recently closed in the given way.
    Closed(Option<Closed>),
}

impl Connection {
    /// A client's first bytes from the server are a TLS record (an alert or
    /// a handshake message of version 3.x) where its SETTINGS should be: the
    /// server speaks TLS on this port. Read as a frame header, those bytes
    /// would announce a SETTINGS frame of more than 1.3 MB, which no server
    /// sends.
    pub(super) fn tls_instead_of_settings(&self) -> bool {
        self.role == Role::Client
            && !self.got_peer_settings
            && matches!(self.recv_buf[..], [0x15 | 0x16, 0x03, 0x00..=0x04, ..])
    }

    fn classify(&self, id: StreamId) -> Known {
        if self.streams.get(id).is_some() {
            return Known::Live;
        }
        if self.is_idle_id(id) {
            return Known::Idle;
        }
        Known::Closed(self.streams.closed_how(id))
    }

    pub(super) fn on_frame(&mut self, now: Instant, frame: Frame) {
        if let Some(block) = &self.block {
            // §6.2/§6.10: a header block "MUST be followed by a CONTINUATION frame
            // for the same stream"; anything else is a PROTOCOL_ERROR.
            let continues = matches!(&frame, Frame::Continuation(c) if c.stream_id == block.stream);
            if !continues {
                return self.fail(ConnectionError::protocol(ConnectionErrorKind::Continuation));
            }
        }
        if !self.got_peer_settings && !matches!(&frame, Frame::Settings(s) if !s.ack) {
            // §3.4: the preface "MUST be followed by a SETTINGS frame" / the server's
            // preface is a SETTINGS frame that "MUST be the first frame".
            return self.fail(ConnectionError::protocol(ConnectionErrorKind::MissingSettings));
        }
        match frame {
            Frame::Data(d) => self.on_data(now, d),
            Frame::Headers(h) => self.on_headers(now, h),
            // Priority signals are deprecated (§5.3.2): validated by the decoder, then ignored.
            Frame::Priority(_) => {}
            Frame::RstStream(r) => self.on_rst_stream(now, r),
            Frame::Settings(s) => self.on_settings(now, s),
            // §8.4: "A client cannot push"; we advertise ENABLE_PUSH=0 as a client,
            // so "receipt of a PUSH_PROMISE frame ... MUST be treated as a connection
            // error of type PROTOCOL_ERROR" (§6.6).
            Frame::PushPromise(_) => self.fail(ConnectionError::protocol(ConnectionErrorKind::Push)),
            Frame::Ping(p) => self.on_ping(now, p),
            Frame::GoAway(g) => self.on_goaway(now, g),
            Frame::WindowUpdate(w) => self.on_window_update(now, w),
            Frame::Continuation(c) => self.on_continuation(now, c),
            // §5.5: "Implementations MUST ignore and discard frames of unknown types."
            Frame::Unknown(_) => {}
        }
    }

    // ----- DATA ----------------------------------------------------------------

    fn on_data(&mut self, now: Instant, d: Data) {
        let id = d.stream_id;
        let flow = d.flow_len();
        // §6.9: DATA counts toward the connection window whatever the stream state.
        if let Err(e) = self.recv_window.receive(flow) {
            let kind = ConnectionErrorKind::FlowControl(e);
            return self.fail(ConnectionError::local(ErrorCode::FLOW_CONTROL_ERROR, kind));
        }
        self.stats.data_received += d.data.len() as u64;
        // Counted whatever the stream's state: empty frames on a stream we
        // reset cost as much to process as on a live one.
        if d.data.is_empty() && !d.end_stream && self.empty_data.record(now) {
            return self.fail(ConnectionError::limit(Limit::EmptyDataFrames));
        }
        match self.classify(id) {
            Known::Live => {}
            Known::Idle => {
                return self.fail(ConnectionError::protocol(ConnectionErrorKind::StreamId));
            }
            Known::Closed(Some(Closed::EndStream)) => {
                return self.fail(ConnectionError::local(
                    ErrorCode::STREAM_CLOSED,
                    ConnectionErrorKind::StreamClosed,
                ));
            }
            Known::Closed(how) => {
                self.recv_window.release(flow);
                if how != Some(Closed::LocalReset) {
                    self.stream_error(now, id, ErrorCode::STREAM_CLOSED, LocalResetCause::Protocol);
                }
                return;
            }
        }
        if self.streams.get(id).is_some_and(|s| s.state == State::Idle) {
            return self.fail(ConnectionError::protocol(ConnectionErrorKind::StreamId));
        }
        match self.transition(id, Input::RecvData) {
            Outcome::Next(_) => {}
            Outcome::Ignore | Outcome::LocalMisuse => return self.recv_window.release(flow),
            Outcome::StreamError(code) => {
                self.recv_window.release(flow);
                return self.stream_error(now, id, code, LocalResetCause::Protocol);
            }
            Outcome::ConnectionError(code) => {
                return self.fail(ConnectionError::local(code, ConnectionErrorKind::StreamClosed));
            }
        }
        let Some(s) = self.streams.get_mut(id) else {
            return;
        };
        if s.recv_window.receive(flow).is_err() {
            // §6.9.1: the peer sent more than the stream window allowed.
            self.recv_window.release(flow);
            return self.stream_error(now, id, ErrorCode::FLOW_CONTROL_ERROR, LocalResetCause::Protocol);
        }
        // Padding is never read by anyone: its credit returns at once (§6.1).
        let padding = flow - d.data.len() as u32;
        s.recv_window.release(padding);
        self.recv_window.release(padding);
        let len = d.data.len();
        let over_length = match &mut s.content_length_left {
            Some(left) if (len as u64) > *left => true,
            Some(left) => {
                *left -= len as u64;
                d.end_stream && *left != 0
            }
            None => false,
        };
        if over_length {
            // §8.1.1: "A request or response is also malformed if the value of a
            // content-length header field does not equal the sum of the DATA frame
            // payload lengths".
            self.recv_window.release(len as u32);
            let cause = LocalResetCause::Malformed(crate::headers::Malformed::ContentLengthMismatch);
            return self.stream_error(now, id, ErrorCode::PROTOCOL_ERROR, cause);
        }
        let discard = !s.visible;
        if len > 0 && !discard {
            s.recv_queue.push(d.data);
            s.recv_buffered += len;
        } else if discard {
            s.recv_window.release(len as u32);
            self.recv_window.release(len as u32);
        }
        let notify = (len > 0 || d.end_stream) && s.data_event_armed && !discard;
        if notify {
            s.data_event_armed = false;
        }
        if len > 0 && !discard {
            self.buffer(len);
        }
        if d.end_stream {
            self.transition(id, Input::RecvEndStream);
        }
        if notify {
            self.push_event(Event::Data { stream: id, end_stream: d.end_stream });
        }
        if discard {
            self.queue_stream_window_update(id);
        }
        if len > 0
            && let Some(bdp) = &mut self.bdp
            && bdp.on_data(len, now)
        {
            self.control.push_back(Frame::Ping(Ping { ack: false, payload: ping_payload::BDP }));
        }
        self.maybe_remove(id);
    }

    // ----- HEADERS and CONTINUATION ---------------------------------------------

    fn on_headers(&mut self, now: Instant, h: HeadersFrame) {
        let self_dependent = h.priority.is_some_and(|p| p.dependency == h.stream_id);
        if h.end_headers {
            return self.on_header_block(now, h.stream_id, h.fragment, h.end_stream, self_dependent);
        }
        let mut fragments = BytesMut::with_capacity(h.fragment.len() * 2);
        fragments.extend_from_slice(&h.fragment);
        self.block = Some(PendingBlock {
            stream: h.stream_id,
            end_stream: h.end_stream,
            self_dependent,
            fragments,
            frames: 1,
        });
        self.check_block_size();
    }

    fn on_continuation(&mut self, now: Instant, c: Continuation) {
        let Some(block) = &mut self.block else {
            // §6.10: a CONTINUATION not preceded by HEADERS, PUSH_PROMISE or
            // CONTINUATION without END_HEADERS is a PROTOCOL_ERROR.
            return self.fail(ConnectionError::protocol(ConnectionErrorKind::Continuation));
        };
        block.frames += 1;
        block.fragments.extend_from_slice(&c.fragment);
        if block.frames > self.config.max_continuation_frames + 1 {
            return self.fail(ConnectionError::limit(Limit::ContinuationFrames));
        }
        if !self.check_block_size() || !c.end_headers {
            return;
        }
        if let Some(b) = self.block.take() {
            self.on_header_block(now, b.stream, b.fragments.freeze(), b.end_stream, b.self_dependent);
        }
    }

    /// Bounds the encoded size of a block being assembled: no valid block
    /// needs more than twice the list-size limit (and at least 64 KiB).
    fn check_block_size(&mut self) -> bool {
        let max = (self.config.max_header_list_size as usize * 2).max(64 << 10);
        if self.block.as_ref().is_some_and(|b| b.fragments.len() > max) {
            self.fail(ConnectionError::limit(Limit::HeaderBlockSize));
            return false;
        }
        true
    }

    /// A complete header block: always HPACK-decoded (the table must stay in
    /// sync, §4.3), then judged by the stream it belongs to.
    fn on_header_block(
        &mut self,
        now: Instant,
        id: StreamId,
        block: Bytes,
        end_stream: bool,
        self_dep: bool,
    ) {
        let known = self.classify(id);
        let kind = match (&known, self.streams.get(id)) {
            (Known::Live, Some(s)) if s.recv_phase == RecvPhase::Head && self.role == Role::Client => {
                BlockKind::Response
            }
            (Known::Live, Some(s)) if s.recv_phase == RecvPhase::Head => BlockKind::Request,
            (Known::Live, _) => BlockKind::Trailers,
            _ => BlockKind::Request,
        };
        let (built, over_limit) = match self.decode_block(kind, &block) {
            Ok(done) => done,
            Err(e) => {
                let kind = ConnectionErrorKind::Compression(e);
                return self.fail(ConnectionError::local(ErrorCode::COMPRESSION_ERROR, kind));
            }
        };
        match known {
            Known::Idle if !self.is_local(id) && self.role == Role::Server => {
                self.on_request_headers(now, id, built, over_limit, end_stream, self_dep)
            }
            // §5.1.1: a stream id the peer may not use, or a HEADERS frame that
            // would reopen a stream below the highest one opened.
            Known::Idle => self.fail(ConnectionError::protocol(ConnectionErrorKind::StreamId)),
            Known::Closed(None) => self.fail(ConnectionError::protocol(ConnectionErrorKind::StreamId)),
            Known::Closed(Some(Closed::LocalReset)) => {}
            Known::Closed(Some(Closed::EndStream)) => {
                self.fail(ConnectionError::local(ErrorCode::STREAM_CLOSED, ConnectionErrorKind::StreamClosed))
            }
            Known::Closed(Some(_)) => {
                self.stream_error(now, id, ErrorCode::STREAM_CLOSED, LocalResetCause::Protocol)
            }
            Known::Live => self.on_stream_headers(now, id, built, over_limit, end_stream, self_dep),
        }
    }

    /// HPACK-decodes and validates a header block (the table is updated even
    /// when the result is then not used, §4.3), or reuses what the same
    /// all-indexed block gave last time. Also says whether the list went over
    /// our SETTINGS_MAX_HEADER_LIST_SIZE.
    fn decode_block(
        &mut self,
        kind: BlockKind,
        block: &Bytes,
    ) -> Result<(Result<Built, Malformed>, bool), DecoderError> {
        let generation = self.hpack_dec.table_generation();
        if let Some(built) = self.block_memo.get(kind, block, generation) {
            return Ok((Ok(built), false));
        }
        let mut builder = HeaderBuilder::new(kind);
        let limit = self.config.max_header_list_size as usize;
        let decoded =
            self.hpack_dec.decode_checked(block, limit, |f, valid| builder.push_checked(f, valid))?;
        let built = builder.finish().map(|(headers, length)| (Arc::new(headers), length));
        if decoded.indexed_only
            && !decoded.over_limit
            && let Ok(b) = &built
        {
            self.block_memo.put(kind, block, generation, b);
        }
        Ok((built, decoded.over_limit))
    }

    /// HEADERS opening a new stream (server role).
    fn on_request_headers(
        &mut self,
        now: Instant,
        id: StreamId,
        built: Result<Built, Malformed>,
        over_limit: bool,
        end_stream: bool,
        self_dep: bool,
    ) {
        // §5.1.1: "Streams initiated by a client MUST use odd-numbered stream identifiers".
        if !id.is_client_initiated() {
            return self.fail(ConnectionError::protocol(ConnectionErrorKind::StreamId));
        }
        // §6.8: after GOAWAY, "the sender can ignore frames on streams with
        // identifiers higher than last-stream-id".
        if self.goaway_sent.is_some_and(|last| id > last) {
            return;
        }
        self.last_peer_id = id;
        if self.active_peer >= self.config.max_concurrent_streams as usize {
            // §5.1.2: "An endpoint that receives a HEADERS frame that causes its
            // advertised concurrent stream limit to be exceeded MUST treat this as a
            // stream error of type PROTOCOL_ERROR or REFUSED_STREAM."
            // A peer that has not acknowledged our SETTINGS may not know our
            // limit yet (§6.5.3): those refusals are not held against it. The
            // acknowledgement is due within `settings_ack_timeout`.
            if self.settings_acked && self.refused.record(now) {
                return self.fail(ConnectionError::limit(Limit::RefusedStreams));
            }
            self.streams.remember(id, Closed::LocalReset);
            let rst = RstStream { stream_id: id, error_code: ErrorCode::REFUSED_STREAM };
            return self.queue_control_answer(Frame::RstStream(rst));
        }
        self.streams.insert_new(id, self.local.initial_window(), self.peer.initial_window_size);
        self.transition(id, Input::RecvHeaders);
        if end_stream {
            self.transition(id, Input::RecvEndStream);
        }
        if self_dep {
            // §5.3.1: "A stream cannot depend on itself... stream error of type PROTOCOL_ERROR."
            return self.stream_error(now, id, ErrorCode::PROTOCOL_ERROR, LocalResetCause::Protocol);
        }
        if over_limit {
            return self.answer_header_list_too_large(now, id);
        }
        match built {
            Err(m) => self.stream_error(now, id, ErrorCode::PROTOCOL_ERROR, LocalResetCause::Malformed(m)),
            Ok((headers, content_length)) => {
                if let Some(s) = self.streams.get_mut(id) {
                    s.recv_phase = RecvPhase::Body;
                    s.visible = true;
                    s.content_length_left = content_length;
                    if end_stream && content_length.is_some_and(|n| n != 0) {
                        let cause =
                            LocalResetCause::Malformed(crate::headers::Malformed::ContentLengthMismatch);
                        return self.stream_error(now, id, ErrorCode::PROTOCOL_ERROR, cause);
                    }
                }
                self.push_event(Event::Headers {
                    stream: id,
                    kind: HeadersKind::Request,
                    headers,
                    end_stream,
                });
                self.maybe_remove(id);
            }
        }
    }

    /// A server answers an oversized request header section with 431 (RFC 6585,
    /// as RFC 9113 §10.5.1 suggests) and never shows the request to the owner.
    fn answer_header_list_too_large(&mut self, now: Instant, id: StreamId) {
        if self.resets.record(now) {
            return self.fail(ConnectionError::limit(Limit::Resets));
        }
        if let Some(s) = self.streams.get_mut(id) {
            s.headers_queued = true;
            s.end_queued = true;
            s.send_queue.push_back(crate::stream::Outgoing::Headers {
                headers: Box::new(Headers::response(431)),
                end_stream: true,
            });
        }
        self.schedule_stream(id);
    }

    /// HEADERS on a stream with a record: a response, 1xx, or trailers.
    fn on_stream_headers(
        &mut self,
        now: Instant,
        id: StreamId,
        built: Result<Built, Malformed>,
        over_limit: bool,
        end_stream: bool,
        self_dep: bool,
    ) {
        if self.streams.get(id).is_some_and(|s| s.state == State::Idle) {
            // Our own stream, HEADERS not sent yet: the peer cannot know it.
            return self.fail(ConnectionError::protocol(ConnectionErrorKind::StreamId));
        }
        match self.transition(id, Input::RecvHeaders) {
            Outcome::Next(_) => {}
            Outcome::Ignore | Outcome::LocalMisuse => return,
            Outcome::StreamError(code) => {
                return self.stream_error(now, id, code, LocalResetCause::Protocol);
            }
            Outcome::ConnectionError(code) => {
                return self.fail(ConnectionError::local(code, ConnectionErrorKind::StreamClosed));
            }
        }
        if self_dep {
            return self.stream_error(now, id, ErrorCode::PROTOCOL_ERROR, LocalResetCause::Protocol);
        }
        if over_limit {
            if self.resets.record(now) {
                return self.fail(ConnectionError::limit(Limit::Resets));
            }
            return self.reset_locally(id, ErrorCode::CANCEL, LocalResetCause::HeaderListTooLarge);
        }
        let (headers, content_length) = match built {
            Ok(ok) => ok,
            Err(m) => {
                return self.stream_error(now, id, ErrorCode::PROTOCOL_ERROR, LocalResetCause::Malformed(m));
            }
        };
        let Some(s) = self.streams.get_mut(id) else {
            return;
        };
        let kind = match (s.recv_phase, headers.pseudo.status) {
            (RecvPhase::Head, Some(status)) if (100..200).contains(&status) => HeadersKind::Informational,
            (RecvPhase::Head, Some(status)) => {
                s.recv_phase = RecvPhase::Body;
                let bodyless = s.is_head_request || status == 204 || status == 304;
                s.content_length_left = if bodyless { None } else { content_length };
                HeadersKind::Response
            }
            (RecvPhase::Head, None) => HeadersKind::Request,
            (RecvPhase::Body, _) => HeadersKind::Trailers,
        };
        // §8.1: trailers must end the stream, and a 1xx response cannot.
        let misplaced = match kind {
            HeadersKind::Trailers => !end_stream,
            HeadersKind::Informational => end_stream,
            _ => false,
        };
        let short_body = end_stream && s.content_length_left.is_some_and(|n| n != 0);
        if misplaced || short_body {
            let m = if misplaced {
                crate::headers::Malformed::UnexpectedHeaders
            } else {
                crate::headers::Malformed::ContentLengthMismatch
            };
            return self.stream_error(now, id, ErrorCode::PROTOCOL_ERROR, LocalResetCause::Malformed(m));
        }
        if end_stream {
            self.transition(id, Input::RecvEndStream);
            if let Some(s) = self.streams.get_mut(id) {
                // The end of the stream is also what `read` reports; re-arm so a
                // reader waiting on data learns it.
                s.data_event_armed = true;
            }
        }
        self.push_event(Event::Headers { stream: id, kind, headers, end_stream });
        self.maybe_remove(id);
    }

    // ----- RST_STREAM, SETTINGS, PING, GOAWAY, WINDOW_UPDATE ----------------------

    fn on_rst_stream(&mut self, now: Instant, r: RstStream) {
        let id = r.stream_id;
        match self.classify(id) {
            // §6.4: "If a RST_STREAM frame identifying an idle stream is received, the
            // recipient MUST treat this as a connection error of type PROTOCOL_ERROR."
            Known::Idle => {
                return self.fail(ConnectionError::protocol(ConnectionErrorKind::StreamId));
            }
            Known::Closed(_) => return,
            Known::Live => {}
        }
        if self.streams.get(id).is_some_and(|s| s.state == State::Idle) {
            return self.fail(ConnectionError::protocol(ConnectionErrorKind::StreamId));
        }
        // §8.1: a server may reset with NO_ERROR after a complete response to
        // stop the request body: "Clients MUST NOT discard responses as a result
        // of receiving such a RST_STREAM frame". Whatever arrived before the
        // peer's END_STREAM stays readable.
        let response_complete = self.streams.get(id).is_some_and(|s| s.state == State::HalfClosedRemote);
        match self.transition(id, Input::RecvReset) {
            Outcome::Next(_) => {}
            _ => return,
        }
        // Rapid Reset (CVE-2023-44487): streams the peer opens and cancels cost
        // us work each; too many in the window is abuse.
        if self.resets.record(now) {
            return self.fail(ConnectionError::limit(Limit::Resets));
        }
        let (visible, unread) = if let Some(s) = self.streams.get_mut(id) {
            let sent = s.clear_send_queue();
            self.send_buffered -= sent;
            let unread = if response_complete {
                s.recv_ended = true;
                0
            } else {
                s.clear_recv_queue()
            };
            (s.visible, unread)
        } else {
            (false, 0)
        };
        self.unbuffer(unread);
        if visible {
            self.push_event(Event::Reset {
                stream: id,
                code: r.error_code,
                initiator: Initiator::Remote,
                cause: None,
            });
        }
        self.maybe_remove(id);
    }

    fn on_settings(&mut self, now: Instant, f: SettingsFrame) {
        if f.ack {
            if let Some(applied) = self.local.ack() {
                self.settings_acked = true;
                self.apply_acked_settings(applied);
            }
            return;
        }
        let s = f.settings;
        // §6.5.2: "A server MUST NOT send this parameter [ENABLE_PUSH] with a value
        // other than 0"... a client treats 1 as a PROTOCOL_ERROR.
        if self.role == Role::Client && s.enable_push == Some(true) {
            return self.fail(ConnectionError::protocol(ConnectionErrorKind::Push));
        }
        if let Some(v) = s.header_table_size {
            self.peer.header_table_size = v;
            let size = v.min(self.config.max_encoder_table_size) as usize;
            self.hpack_enc.set_max_table_size(size);
        }
        if let Some(v) = s.enable_push {
            self.peer.enable_push = v;
        }
        if let Some(v) = s.max_concurrent_streams {
            self.peer.max_concurrent_streams = v;
        } else if !self.got_peer_settings {
            // The assumption made until now gives way to the RFC's initial
            // value: no limit unless the peer states one.
            self.peer.max_concurrent_streams = u32::MAX;
        }
        if let Some(v) = s.initial_window_size {
            // §6.9.2: apply the difference to every stream's send window; a window
            // pushed over 2^31-1 is a connection FLOW_CONTROL_ERROR.
            let delta = i64::from(v) - i64::from(self.peer.initial_window_size);
            self.peer.initial_window_size = v;
            let mut overflow = None;
            for st in self.streams.iter_mut() {
                if let Err(e) = st.send_window.adjust(delta) {
                    overflow = Some(e);
                }
            }
            if let Some(e) = overflow {
                let kind = ConnectionErrorKind::FlowControl(e);
                return self.fail(ConnectionError::local(ErrorCode::FLOW_CONTROL_ERROR, kind));
            }
            if delta > 0 {
                self.reschedule_all();
            }
        }
        if let Some(v) = s.max_frame_size {
            self.peer.max_frame_size = v;
        }
        if let Some(v) = s.max_header_list_size {
            self.peer.max_header_list_size = Some(v);
        }
        if let Some(v) = s.enable_connect_protocol {
            self.peer.enable_connect_protocol = v;
        }
        self.queue_control_answer(Frame::Settings(SettingsFrame { ack: true, settings: Default::default() }));
        if !self.got_peer_settings {
            self.got_peer_settings = true;
            self.push_event(Event::Connected);
        }
        let _ = now;
    }

    /// Our SETTINGS took effect at the peer: tighten what was lenient.
    fn apply_acked_settings(&mut self, s: crate::frame::Settings) {
        if let Some(v) = s.header_table_size {
            self.hpack_dec.set_max_table_size(v as usize);
        }
        if let Some(v) = s.max_frame_size {
            self.frames.set_max_frame_size(v);
        }
        if let Some(v) = s.initial_window_size {
            let target = self.local.initial_window();
            let _ = v;
            for st in self.streams.iter_mut() {
                st.recv_window.set_target_with_settings(target);
            }
        }
    }

    fn on_ping(&mut self, now: Instant, p: Ping) {
        if !p.ack {
            if !self.enforce_ping_policy(now) {
                return;
            }
            // §6.7: "Receivers of a PING frame that does not include an ACK flag MUST
            // send a PING frame with the ACK flag set in response, with an identical
            // frame payload."
            return self.queue_control_answer(Frame::Ping(Ping { ack: true, payload: p.payload }));
        }
        match p.payload {
            ping_payload::BDP => self.on_bdp_ack(now),
            ping_payload::KEEPALIVE => self.keepalive_sent = None,
            ping_payload::SHUTDOWN => self.on_shutdown_ping_ack(now),
            payload => {
                if let Some(pos) = self.user_pings.iter().position(|(p, _)| *p == payload) {
                    let (_, sent) = self.user_pings.remove(pos).unwrap_or((payload, now));
                    let rtt = now.saturating_duration_since(sent);
                    self.push_event(Event::Pong { payload, rtt });
                }
            }
        }
    }

    fn on_bdp_ack(&mut self, now: Instant) {
        let Some(grown) = self.bdp.as_mut().and_then(|b| b.on_ack(now)) else {
            return;
        };
        // As gRPC-Go: the new estimate becomes the stream window (a SETTINGS
        // change) and grows the connection window (a WINDOW_UPDATE), which
        // stays twice a stream's, as the configured ones: with both equal,
        // a single stream whose reader stalled filled the connection's.
        let connection = grown.saturating_mul(2).min(crate::frame::MAX_WINDOW_SIZE);
        self.recv_window.grow_target(connection);
        self.rebalance_credit();
        self.set_initial_window_size(now, grown);
    }

    fn on_shutdown_ping_ack(&mut self, now: Instant) {
        if let Some(Shutdown::AwaitingPing { started }) = self.shutdown {
            self.queue_goaway(self.last_peer_id, ErrorCode::NO_ERROR, Bytes::new());
            let deadline = started.max(now) + self.config.shutdown_grace;
            self.shutdown = Some(Shutdown::Draining { deadline });
            self.check_drained();
        }
    }

    fn on_goaway(&mut self, now: Instant, g: GoAway) {
        let last = g.last_stream_id;
        self.ping_enforcement.on_goaway(g.error_code, &g.debug_data);
        self.goaway_recv = Some(self.goaway_recv.map_or(last, |prev| prev.min(last)));
        if g.error_code != ErrorCode::NO_ERROR && self.error.is_none() {
            self.error = Some(ConnectionError {
                code: g.error_code,
                initiator: Initiator::Remote,
                kind: ConnectionErrorKind::GoAway,
            });
        }
        self.push_event(Event::GoAway { last_stream_id: last, code: g.error_code, debug_data: g.debug_data });
        // Streams we opened above `last` were never processed: they may be
        // retried elsewhere (§6.8).
        self.pending_open_fail(now);
        let unprocessed: Vec<StreamId> =
            self.streams.ids().into_iter().filter(|&id| self.is_local(id) && id > last).collect();
        for id in unprocessed {
            if let Some(gone) = self.streams.remove(id) {
                self.send_buffered -= gone.send_buffered;
                self.unbuffer(gone.recv_buffered);
                if gone.state.is_active() {
                    self.active_local -= 1;
                }
            }
            self.push_event(Event::Reset {
                stream: id,
                code: ErrorCode::REFUSED_STREAM,
                initiator: Initiator::Remote,
                cause: None,
            });
        }
        self.check_drained();
    }

    fn on_window_update(&mut self, now: Instant, w: WindowUpdate) {
        let id = w.stream_id;
        if id.is_zero() {
            if let Err(e) = self.send_window.grow(w.increment) {
                // §6.9.1: "...the sender MUST ... terminate ... the connection".
                let kind = ConnectionErrorKind::FlowControl(e);
                return self.fail(ConnectionError::local(ErrorCode::FLOW_CONTROL_ERROR, kind));
            }
            for id in std::mem::take(&mut self.conn_blocked) {
                self.schedule_stream(id);
            }
            return;
        }
        match self.classify(id) {
            Known::Idle => {
                return self.fail(ConnectionError::protocol(ConnectionErrorKind::StreamId));
            }
            Known::Closed(_) => return,
            Known::Live => {}
        }
        if self.streams.get(id).is_some_and(|s| s.state == State::Idle) {
            return self.fail(ConnectionError::protocol(ConnectionErrorKind::StreamId));
        }
        if !matches!(self.transition(id, Input::RecvWindowUpdate), Outcome::Next(_)) {
            return;
        }
        let grown = self.streams.get_mut(id).map(|s| s.send_window.grow(w.increment));
        match grown {
            Some(Err(_)) => {
                // §6.9.1: a stream window over 2^31-1 is a stream FLOW_CONTROL_ERROR.
                self.stream_error(now, id, ErrorCode::FLOW_CONTROL_ERROR, LocalResetCause::Protocol)
            }
            Some(Ok(())) => self.schedule_stream(id),
            None => {}
        }
    }

    /// Queues a WINDOW_UPDATE for a stream whose credit is due.
    pub(super) fn queue_stream_window_update(&mut self, id: StreamId) {
        self.window_update_due.push(id);
    }
}
