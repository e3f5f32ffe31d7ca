//! What the connection reports to its owner through `poll_event`.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;

use super::error::ConnectionError;
use crate::error_code::ErrorCode;
use crate::frame::StreamId;
use crate::headers::{Headers, Malformed};

/// Who started something: us or the peer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Initiator {
    /// This endpoint.
    Local,
    /// The remote peer.
    Remote,
}

/// What a received header block is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HeadersKind {
    /// A request opening a stream (server side).
    Request,
    /// A 1xx informational response (client side); the final response follows.
    Informational,
    /// The final response header section (client side).
    Response,
    /// A trailer section (always ends the stream).
    Trailers,
}

/// Why we reset a stream on our own initiative.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LocalResetCause {
    /// The application asked for it.
    Application,
    /// The peer sent a malformed message (§8.1.1).
    Malformed(Malformed),
    /// The peer broke a stream rule (state, flow control, frame).
    Protocol,
    /// The header list exceeded our SETTINGS_MAX_HEADER_LIST_SIZE.
    HeaderListTooLarge,
    /// The peer opened a stream beyond our MAX_CONCURRENT_STREAMS.
    Refused,
}

/// Something that happened on the connection.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Event {
    /// The peer's first SETTINGS frame arrived: the connection is established.
    Connected,
    /// A header section arrived on a stream.
    Headers {
        /// The stream.
        stream: StreamId,
        /// Which section it is.
        kind: HeadersKind,
        /// The fields. Shared: a peer repeating an all-indexed block (a gRPC
        /// peer's steady state) gets the section decoded the first time.
        headers: Arc<Headers>,
        /// The peer ended its side with this block.
        end_stream: bool,
    },
    /// Data can be read from the stream (or the peer ended it). Reported once
    /// until the owner reads from the stream again.
    Data {
        /// The stream.
        stream: StreamId,
        /// The peer has ended its side: after the buffered data, reading ends.
        end_stream: bool,
    },
    /// A stream was reset.
    Reset {
        /// The stream.
        stream: StreamId,
        /// The RST_STREAM error code.
        code: ErrorCode,
        /// Who reset it.
        initiator: Initiator,
        /// Why, when we reset it.
        cause: Option<LocalResetCause>,
    },
    /// The stream's send buffer drained below its limit: more may be queued.
    Writable {
        /// The stream.
        stream: StreamId,
    },
    /// Both directions of a stream finished (after END_STREAM both ways or a reset).
    StreamClosed {
        /// The stream.
        stream: StreamId,
    },
    /// A PING we sent with [`super::Connection::ping`] was acknowledged.
    Pong {
        /// The opaque payload we sent.
        payload: [u8; 8],
        /// Time from sending to the acknowledgement.
        rtt: Duration,
    },
    /// The peer sent GOAWAY: streams above `last_stream_id` were not processed
    /// and may be retried on another connection.
    GoAway {
        /// Highest stream the peer may have processed.
        last_stream_id: StreamId,
        /// Why.
        code: ErrorCode,
        /// Opaque diagnostic data.
        debug_data: Bytes,
    },
    /// The connection is finished; nothing more will happen. `None` for an
    /// orderly close.
    Closed {
        /// The error that ended it, if any.
        error: Option<ConnectionError>,
    },
}
