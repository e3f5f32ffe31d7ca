//! Typed errors: connection errors record who started them, and each command
//! has its own error type.

use std::fmt;

use super::event::Initiator;
use crate::error_code::ErrorCode;
use crate::flow::FlowError;
use crate::frame::{FrameErrorKind, StreamId};
use crate::hpack::DecoderError;

/// A limit the peer exceeded (answered with GOAWAY ENHANCE_YOUR_CALM unless
/// the RFC names another code).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Limit {
    /// Too many streams reset by the peer or for its errors in the window
    /// (Rapid Reset, CVE-2023-44487).
    Resets,
    /// Too many control-frame answers owed while the peer does not read.
    PendingControlFrames,
    /// Too many empty DATA frames (CVE-2019-9518).
    EmptyDataFrames,
    /// Too many CONTINUATION frames in one header block.
    ContinuationFrames,
    /// A header block's encoded size grew past what the list-size limit allows.
    HeaderBlockSize,
    /// Too many streams opened beyond MAX_CONCURRENT_STREAMS.
    RefusedStreams,
    /// PINGs more often than the server's [`super::PingPolicy`] allows
    /// (GOAWAY debug data `too_many_pings`).
    TooManyPings,
}

/// What broke the connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ConnectionErrorKind {
    /// The client connection preface was wrong (RFC 9113 §3.4).
    Preface,
    /// The first frame from the server was not SETTINGS (§3.4).
    MissingSettings,
    /// The server answered with a TLS record where its SETTINGS should be: a
    /// plaintext client talking to a port that serves TLS.
    TlsFromServer,
    /// A frame broke a framing rule (§4, §6).
    Frame(FrameErrorKind),
    /// HPACK decoding failed (COMPRESSION_ERROR, §4.3).
    Compression(DecoderError),
    /// A frame on an idle stream, or a stream id that breaks §5.1.1.
    StreamId,
    /// A frame other than CONTINUATION inside a header block, or a CONTINUATION
    /// outside one (§6.10).
    Continuation,
    /// PUSH_PROMISE received although push is disabled or impossible (§8.4).
    Push,
    /// A frame after END_STREAM or RST_STREAM treated as a connection error (§5.1).
    StreamClosed,
    /// Flow control violated (§6.9).
    FlowControl(FlowError),
    /// Our SETTINGS were not acknowledged in time (§6.5.3).
    SettingsTimeout,
    /// A keepalive PING went unanswered.
    KeepaliveTimeout,
    /// The peer exceeded a limit.
    Limit(Limit),
    /// The peer sent GOAWAY with an error code.
    GoAway,
    /// The transport closed before the connection finished.
    Eof,
    /// The transport failed before the connection finished (the peer reset it).
    Reset,
    /// The application closed the connection with an error code.
    Application,
}

/// A connection error (RFC 9113 §5.4.1).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ConnectionError {
    /// The GOAWAY error code sent or received.
    pub code: ErrorCode,
    /// Who detected or declared it.
    pub initiator: Initiator,
    /// What happened.
    pub kind: ConnectionErrorKind,
}

impl ConnectionError {
    pub(crate) fn local(code: ErrorCode, kind: ConnectionErrorKind) -> Self {
        ConnectionError { code, initiator: Initiator::Local, kind }
    }

    pub(crate) fn protocol(kind: ConnectionErrorKind) -> Self {
        Self::local(ErrorCode::PROTOCOL_ERROR, kind)
    }

    pub(crate) fn limit(limit: Limit) -> Self {
        Self::local(ErrorCode::ENHANCE_YOUR_CALM, ConnectionErrorKind::Limit(limit))
    }
}

impl fmt::Display for ConnectionError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Not protocol errors: the transport ended.
        match self.kind {
            ConnectionErrorKind::Eof => return f.write_str("closed by the peer without GOAWAY"),
            ConnectionErrorKind::Reset => return f.write_str("connection reset by the peer"),
            ConnectionErrorKind::TlsFromServer => {
                return f.write_str("the server answered with TLS: use https:// (or ClientTlsConfig)");
            }
            _ => {}
        }
        let who = match self.initiator {
            Initiator::Local => "local",
            Initiator::Remote => "remote",
        };
        write!(f, "HTTP/2 connection error {} ({who}): {:?}", self.code, self.kind)
    }
}

impl std::error::Error for ConnectionError {}

/// Why [`super::Connection::open_stream`] failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OpenError {
    /// Only clients open streams (server push is not supported).
    NotClient,
    /// GOAWAY was sent or received: no new streams on this connection.
    GoingAway,
    /// Stream ids ran out (§5.1.1): open a new connection.
    StreamIdsExhausted,
    /// The peer's MAX_CONCURRENT_STREAMS is reached and the wait queue is full.
    ConcurrencyLimit,
    /// The connection is closed.
    Closed,
}

/// Why a command on a stream failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StreamError {
    /// No such stream (never opened, or closed and forgotten).
    UnknownStream(StreamId),
    /// Our side of the stream is already finished.
    SendClosed,
    /// The stream was reset with this code.
    Reset(ErrorCode),
    /// The send buffer is full: wait for [`super::Event::Writable`].
    BufferFull,
    /// Headers must be sent before data on this stream.
    HeadersFirst,
    /// The connection is closed.
    ConnectionClosed,
}

impl fmt::Display for OpenError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self, f)
    }
}

impl std::error::Error for OpenError {}

impl fmt::Display for StreamError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self, f)
    }
}

impl std::error::Error for StreamError {}
