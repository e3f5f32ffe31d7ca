//! Frame-level protocol violations, typed by scope and error code.

use std::fmt;

use super::StreamId;
use crate::error_code::ErrorCode;

/// Whether a violation poisons the whole connection or one stream (RFC 9113 §5.4).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scope {
    /// Connection error (§5.4.1): send GOAWAY and close.
    Connection,
    /// Stream error (§5.4.2): send RST_STREAM on this stream, keep the connection.
    Stream(StreamId),
}

/// What exactly was wrong with a frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FrameErrorKind {
    /// Length field exceeds our `SETTINGS_MAX_FRAME_SIZE` (§4.2).
    TooLarge {
        /// Declared payload length.
        len: u32,
        /// The limit in force.
        max: u32,
    },
    /// Payload length invalid for the frame type (§6.x "length" rules).
    BadLength,
    /// Padding length not smaller than the payload (§6.1, §6.2, §6.6).
    PaddingTooLong,
    /// A frame that must carry a stream id came on stream 0.
    StreamIdRequired,
    /// A connection-level frame (SETTINGS, PING, GOAWAY) came on a stream.
    StreamIdNotAllowed,
    /// A stream depends on itself (§5.3.1).
    SelfDependency,
    /// WINDOW_UPDATE with an increment of 0 (§6.9).
    ZeroWindowIncrement,
    /// SETTINGS with ACK and a non-empty payload (§6.5).
    SettingsAckWithPayload,
    /// SETTINGS_ENABLE_PUSH not 0 or 1 (§6.5.2).
    InvalidEnablePush,
    /// SETTINGS_INITIAL_WINDOW_SIZE above 2^31-1 (§6.5.2).
    InvalidInitialWindowSize,
    /// SETTINGS_MAX_FRAME_SIZE outside 2^14..=2^24-1 (§6.5.2).
    InvalidMaxFrameSize,
    /// SETTINGS_ENABLE_CONNECT_PROTOCOL not 0 or 1 (RFC 8441 §3).
    InvalidEnableConnectProtocol,
}

/// A frame that violates RFC 9113, with the scope and code the RFC requires.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FrameError {
    /// What was wrong.
    pub kind: FrameErrorKind,
    /// Connection or stream error.
    pub scope: Scope,
}

impl FrameError {
    /// A connection error of the given kind.
    pub fn connection(kind: FrameErrorKind) -> Self {
        FrameError { kind, scope: Scope::Connection }
    }

    /// A stream error of the given kind on `id`.
    pub fn stream(id: StreamId, kind: FrameErrorKind) -> Self {
        FrameError { kind, scope: Scope::Stream(id) }
    }

    /// The error code the RFC requires for this violation.
    pub fn code(&self) -> ErrorCode {
        use FrameErrorKind::*;
        match self.kind {
            TooLarge { .. } | BadLength | SettingsAckWithPayload => ErrorCode::FRAME_SIZE_ERROR,
            InvalidInitialWindowSize => ErrorCode::FLOW_CONTROL_ERROR,
            PaddingTooLong
            | StreamIdRequired
            | StreamIdNotAllowed
            | SelfDependency
            | ZeroWindowIncrement
            | InvalidEnablePush
            | InvalidMaxFrameSize
            | InvalidEnableConnectProtocol => ErrorCode::PROTOCOL_ERROR,
        }
    }

    /// True when the whole connection must be closed.
    pub fn is_connection_error(&self) -> bool {
        self.scope == Scope::Connection
    }
}

impl fmt::Display for FrameError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.scope {
            Scope::Connection => write!(f, "connection error {}: {:?}", self.code(), self.kind),
            Scope::Stream(id) => {
                write!(f, "stream {} error {}: {:?}", id, self.code(), self.kind)
            }
        }
    }
}

impl std::error::Error for FrameError {}
