//! The stream lifecycle of RFC 9113 §5.1 as one exhaustive state/input match.

use crate::error_code::ErrorCode;

/// Stream states (RFC 9113 §5.1, figure 2).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum State {
    /// Not yet used.
    #[default]
    Idle,
    /// We promised this stream with PUSH_PROMISE.
    ReservedLocal,
    /// The peer promised this stream with PUSH_PROMISE.
    ReservedRemote,
    /// Both sides may send.
    Open,
    /// We sent END_STREAM; the peer may still send.
    HalfClosedLocal,
    /// The peer sent END_STREAM; we may still send.
    HalfClosedRemote,
    /// Terminal, with how it got there (which decides how late frames are treated).
    Closed(Closed),
}

/// How a stream reached "closed" (§5.1 "closed").
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Closed {
    /// Both sides sent END_STREAM.
    EndStream,
    /// We sent RST_STREAM: late frames from the peer are expected and ignored.
    LocalReset,
    /// The peer sent RST_STREAM: it must send nothing more but PRIORITY.
    RemoteReset,
}

/// Something that happens to a stream: a frame sent or received.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Input {
    /// We send a HEADERS frame (END_STREAM applied separately).
    SendHeaders,
    /// We receive a HEADERS frame.
    RecvHeaders,
    /// We send a DATA frame.
    SendData,
    /// We receive a DATA frame.
    RecvData,
    /// We send END_STREAM (on HEADERS or DATA).
    SendEndStream,
    /// We receive END_STREAM.
    RecvEndStream,
    /// We send RST_STREAM.
    SendReset,
    /// We receive RST_STREAM.
    RecvReset,
    /// We reserve this stream with a PUSH_PROMISE we send.
    SendPushPromise,
    /// The peer reserves this stream with a PUSH_PROMISE.
    RecvPushPromise,
    /// We receive WINDOW_UPDATE for this stream.
    RecvWindowUpdate,
}

/// What a transition yields.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Legal: the stream is now in this state.
    Next(State),
    /// A late frame on a stream we reset: minimally processed and discarded (§5.1).
    Ignore,
    /// The peer broke §5.1: stream error with this code.
    StreamError(ErrorCode),
    /// The peer broke §5.1: connection error with this code.
    ConnectionError(ErrorCode),
    /// We tried something the state forbids (a local usage error, nothing is sent).
    LocalMisuse,
}

impl State {
    /// True once the stream is closed.
    #[inline]
    pub fn is_closed(self) -> bool {
        matches!(self, State::Closed(_))
    }

    /// True while we may still send DATA (HEADERS may also open a reserved stream).
    #[inline]
    pub fn can_send(self) -> bool {
        matches!(self, State::Open | State::HalfClosedRemote)
    }

    /// True while the peer may still send DATA or HEADERS.
    #[inline]
    pub fn can_recv(self) -> bool {
        matches!(self, State::Open | State::HalfClosedLocal | State::ReservedRemote)
    }

    /// True for streams that count toward a MAX_CONCURRENT_STREAMS limit
    /// ("open" or either "half-closed" state, §5.1.2).
    #[inline]
    pub fn is_active(self) -> bool {
        matches!(self, State::Open | State::HalfClosedLocal | State::HalfClosedRemote)
    }

    /// Applies `input`: the whole of RFC 9113 §5.1 in one match.
    #[inline]
    pub fn transition(self, input: Input) -> Outcome {
        use self::Closed as How;
        use Input::*;
        use Outcome::*;
        use State::*;
        const PROTOCOL: ErrorCode = ErrorCode::PROTOCOL_ERROR;
        const CLOSED: ErrorCode = ErrorCode::STREAM_CLOSED;
        match (self, input) {
            // idle: "Sending or receiving a HEADERS frame causes the stream to become open."
            (Idle, SendHeaders | RecvHeaders) => Next(Open),
            (Idle, SendPushPromise) => Next(ReservedLocal),
            (Idle, RecvPushPromise) => Next(ReservedRemote),
            // "Receiving any frame other than HEADERS or PRIORITY on a stream in this
            // state MUST be treated as a connection error of type PROTOCOL_ERROR."
            (Idle, RecvData | RecvEndStream | RecvReset | RecvWindowUpdate) => ConnectionError(PROTOCOL),
            (Idle, SendData | SendEndStream | SendReset) => LocalMisuse,

            // reserved (local): "the endpoint can send a HEADERS frame. This causes the
            // stream to open in a half-closed (remote) state."
            (ReservedLocal, SendHeaders) => Next(HalfClosedRemote),
            (ReservedLocal, SendReset) => Next(Closed(How::LocalReset)),
            (ReservedLocal, RecvReset) => Next(Closed(How::RemoteReset)),
            (ReservedLocal, RecvWindowUpdate) => Next(ReservedLocal),
            // "Receiving any type of frame other than RST_STREAM, PRIORITY, or
            // WINDOW_UPDATE on a stream in this state MUST be treated as a connection
            // error of type PROTOCOL_ERROR."
            (ReservedLocal, RecvHeaders | RecvData | RecvEndStream | RecvPushPromise) => {
                ConnectionError(PROTOCOL)
            }
            (ReservedLocal, SendData | SendEndStream | SendPushPromise) => LocalMisuse,

            // reserved (remote): "Receiving a HEADERS frame causes the stream to
            // transition to half-closed (local)."
            (ReservedRemote, RecvHeaders) => Next(HalfClosedLocal),
            (ReservedRemote, SendReset) => Next(Closed(How::LocalReset)),
            (ReservedRemote, RecvReset) => Next(Closed(How::RemoteReset)),
            // "Receiving any type of frame other than HEADERS, RST_STREAM, or PRIORITY on
            // a stream in this state MUST be treated as a connection error of type
            // PROTOCOL_ERROR."
            (ReservedRemote, RecvData | RecvEndStream | RecvPushPromise | RecvWindowUpdate) => {
                ConnectionError(PROTOCOL)
            }
            (ReservedRemote, SendHeaders | SendData | SendEndStream | SendPushPromise) => LocalMisuse,

            // open: "frames of any type can be sent by either peer".
            (Open, SendHeaders | RecvHeaders | SendData | RecvData | RecvWindowUpdate) => Next(Open),
            (Open, SendEndStream) => Next(HalfClosedLocal),
            (Open, RecvEndStream) => Next(HalfClosedRemote),
            (Open, SendReset) => Next(Closed(How::LocalReset)),
            (Open, RecvReset) => Next(Closed(How::RemoteReset)),
            (Open, SendPushPromise | RecvPushPromise) => LocalMisuse,

            // half-closed (local): "A stream can transition from this state to closed
            // when a frame is received with the END_STREAM flag set or when either peer
            // sends a RST_STREAM frame."
            (HalfClosedLocal, RecvHeaders | RecvData | RecvWindowUpdate) => Next(HalfClosedLocal),
            (HalfClosedLocal, RecvEndStream) => Next(Closed(How::EndStream)),
            (HalfClosedLocal, SendReset) => Next(Closed(How::LocalReset)),
            (HalfClosedLocal, RecvReset) => Next(Closed(How::RemoteReset)),
            (HalfClosedLocal, SendHeaders | SendData | SendEndStream | SendPushPromise) => LocalMisuse,
            (HalfClosedLocal, RecvPushPromise) => ConnectionError(PROTOCOL),

            // half-closed (remote): "If an endpoint receives additional frames, other
            // than WINDOW_UPDATE, PRIORITY, or RST_STREAM, for a stream that is in this
            // state, it MUST respond with a stream error of type STREAM_CLOSED."
            (HalfClosedRemote, SendHeaders | SendData | RecvWindowUpdate) => Next(HalfClosedRemote),
            (HalfClosedRemote, SendEndStream) => Next(Closed(How::EndStream)),
            (HalfClosedRemote, SendReset) => Next(Closed(How::LocalReset)),
            (HalfClosedRemote, RecvReset) => Next(Closed(How::RemoteReset)),
            (HalfClosedRemote, RecvHeaders | RecvData | RecvEndStream | RecvPushPromise) => {
                StreamError(CLOSED)
            }
            (HalfClosedRemote, SendPushPromise) => LocalMisuse,

            // closed: "An endpoint MUST ignore frames that it receives on closed streams
            // after it has sent a RST_STREAM frame."
            (Closed(How::LocalReset), RecvHeaders | RecvData | RecvEndStream | RecvPushPromise) => Ignore,
            // "An endpoint that sends a frame with the END_STREAM flag set or a
            // RST_STREAM frame might receive a WINDOW_UPDATE or RST_STREAM frame from its
            // peer" — both are harmless.
            (Closed(_), RecvWindowUpdate | RecvReset) => Ignore,
            // After the peer's RST_STREAM it must not send DATA or HEADERS; a
            // stream error contains it.
            (Closed(How::RemoteReset), RecvHeaders | RecvData | RecvEndStream | RecvPushPromise) => {
                StreamError(CLOSED)
            }
            // After both END_STREAMs no timing excuses a DATA or HEADERS frame:
            // "An endpoint MAY treat receipt of any other type of frame on a closed
            // stream as a connection error of type STREAM_CLOSED" (and RFC 7540, which
            // h2spec checks, required it).
            (Closed(How::EndStream), RecvHeaders | RecvData | RecvEndStream | RecvPushPromise) => {
                ConnectionError(CLOSED)
            }
            (Closed(_), SendReset) => Ignore,
            (Closed(_), SendHeaders | SendData | SendEndStream | SendPushPromise) => LocalMisuse,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ALL_STATES: [State; 9] = [
        State::Idle,
        State::ReservedLocal,
        State::ReservedRemote,
        State::Open,
        State::HalfClosedLocal,
        State::HalfClosedRemote,
        State::Closed(Closed::EndStream),
        State::Closed(Closed::LocalReset),
        State::Closed(Closed::RemoteReset),
    ];

    #[test]
    fn request_response_lifecycle_both_roles() {
        // client: send HEADERS+END_STREAM, receive HEADERS, DATA, trailers+END_STREAM
        let s = State::Idle.transition(Input::SendHeaders);
        assert_eq!(s, Outcome::Next(State::Open));
        let s = State::Open.transition(Input::SendEndStream);
        assert_eq!(s, Outcome::Next(State::HalfClosedLocal));
        assert_eq!(
            State::HalfClosedLocal.transition(Input::RecvEndStream),
            Outcome::Next(State::Closed(Closed::EndStream))
        );
        // server mirror image
        assert_eq!(State::Idle.transition(Input::RecvHeaders), Outcome::Next(State::Open));
        assert_eq!(State::Open.transition(Input::RecvEndStream), Outcome::Next(State::HalfClosedRemote));
        assert_eq!(
            State::HalfClosedRemote.transition(Input::SendEndStream),
            Outcome::Next(State::Closed(Closed::EndStream))
        );
    }

    #[test]
    fn idle_stream_frames_are_connection_errors() {
        for input in [Input::RecvData, Input::RecvReset, Input::RecvWindowUpdate] {
            assert_eq!(
                State::Idle.transition(input),
                Outcome::ConnectionError(ErrorCode::PROTOCOL_ERROR),
                "{input:?} on idle (RFC 9113 §5.1)"
            );
        }
    }

    #[test]
    fn half_closed_remote_rejects_data_with_stream_closed() {
        assert_eq!(
            State::HalfClosedRemote.transition(Input::RecvData),
            Outcome::StreamError(ErrorCode::STREAM_CLOSED)
        );
        assert_eq!(
            State::HalfClosedRemote.transition(Input::RecvWindowUpdate),
            Outcome::Next(State::HalfClosedRemote)
        );
    }

    #[test]
    fn closed_streams_ignore_late_frames_only_after_our_reset() {
        let local = State::Closed(Closed::LocalReset);
        let remote = State::Closed(Closed::RemoteReset);
        let ended = State::Closed(Closed::EndStream);
        assert_eq!(local.transition(Input::RecvData), Outcome::Ignore);
        assert_eq!(local.transition(Input::RecvHeaders), Outcome::Ignore);
        assert_eq!(remote.transition(Input::RecvData), Outcome::StreamError(ErrorCode::STREAM_CLOSED));
        assert_eq!(ended.transition(Input::RecvHeaders), Outcome::ConnectionError(ErrorCode::STREAM_CLOSED));
        assert_eq!(ended.transition(Input::RecvData), Outcome::ConnectionError(ErrorCode::STREAM_CLOSED));
        assert_eq!(ended.transition(Input::RecvWindowUpdate), Outcome::Ignore);
    }

    #[test]
    fn resets_close_every_live_state() {
        for s in ALL_STATES {
            let out = s.transition(Input::RecvReset);
            match s {
                State::Idle => assert_eq!(out, Outcome::ConnectionError(ErrorCode::PROTOCOL_ERROR)),
                State::Closed(_) => assert_eq!(out, Outcome::Ignore),
                _ => assert_eq!(out, Outcome::Next(State::Closed(Closed::RemoteReset))),
            }
        }
    }

    #[test]
    fn we_never_send_on_a_closed_send_side() {
        for s in ALL_STATES {
            let out = s.transition(Input::SendData);
            assert_eq!(out == Outcome::LocalMisuse, !s.can_send(), "{s:?}");
        }
    }
}
