//! What can be wrong with a received request or response, and with what the
//! application asks to send.

use std::fmt;

/// Why a request was refused. Each has the status the connection answers
/// with ([`RequestError::status`]); after any of them the connection reads
/// nothing more and closes once its output is written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RequestError {
    /// The request line did not end within `max_head_size` (414).
    RequestLineTooLong {
        /// The limit.
        max: usize,
    },
    /// The head did not end within `max_head_size` (431).
    HeadTooLarge {
        /// The limit.
        max: usize,
    },
    /// More than `max_headers` field lines (431).
    TooManyHeaders {
        /// The limit.
        max: usize,
    },
    /// A line ended by LF without CR (RFC 9112 §2.2 allows recognising it;
    /// Weir does not: a proxy in front that reads lines differently could
    /// be smuggled past) (400).
    BareLf,
    /// A CR not followed by LF (RFC 9112 §2.2) (400).
    BareCr,
    /// A field line starting with whitespace: obsolete line folding
    /// (RFC 9112 §5.2) or whitespace before the first field (§2.2) (400).
    ObsFold,
    /// A request line that is not `method SP request-target SP version`
    /// (RFC 9112 §3) (400).
    MalformedRequestLine,
    /// A well-formed version other than HTTP/1.0 and HTTP/1.1 (505).
    UnsupportedVersion,
    /// A field name that is not a token, or whitespace before its colon
    /// (RFC 9112 §5.1) (400).
    InvalidHeaderName,
    /// A field value with a control character (RFC 9110 §5.5) (400).
    InvalidHeaderValue,
    /// An HTTP/1.1 request without `Host`, with more than one, or with an
    /// empty or invalid one (RFC 9112 §3.2) (400).
    InvalidHost,
    /// A `Content-Length` that is not a decimal number of at most 19 digits
    /// (RFC 9112 §6.3 rule 5) (400).
    InvalidContentLength,
    /// `Content-Length` values that differ (RFC 9112 §6.3 rule 5) (400).
    ConflictingContentLength,
    /// Both `Content-Length` and `Transfer-Encoding` (RFC 9112 §6.1, §6.3
    /// rule 3: "ought to be handled as an error") (400).
    ContentLengthWithTransferEncoding,
    /// A `Transfer-Encoding` whose final coding is not `chunked`, or that
    /// applies `chunked` twice (RFC 9112 §6.3 rule 4, §7) (400).
    ChunkedNotLast,
    /// A transfer coding other than `chunked` (RFC 9112 §6.1: 501).
    UnsupportedTransferEncoding,
    /// `Transfer-Encoding` in an HTTP/1.0 request (RFC 9112 §6.1: its
    /// framing is faulty) (400).
    TransferEncodingInHttp10,
    /// A body longer than `max_body_size` (413).
    BodyTooLarge {
        /// The limit.
        max: u64,
    },
    /// A chunk size that is empty, not hexadecimal, or over 2⁶⁴−1
    /// (RFC 9112 §7.1) (400).
    InvalidChunkSize,
    /// A chunk-size line longer than `max_chunk_line` (RFC 9112 §7.1.1) (400).
    ChunkLineTooLong {
        /// The limit.
        max: usize,
    },
    /// Chunk extensions with a control character, or not starting with `;`
    /// (RFC 9112 §7.1.1) (400).
    InvalidChunkExtension,
    /// Chunk data not followed by CRLF (RFC 9112 §7.1) (400).
    MissingChunkCrlf,
    /// A trailer section over `max_head_size` (431).
    TrailersTooLarge {
        /// The limit.
        max: usize,
    },
    /// A malformed trailer section (RFC 9112 §7.1.2) (400).
    InvalidTrailers,
    /// The client closed the connection inside a request (400, for the
    /// record: nobody may be reading).
    Truncated,
    /// The head was not complete within `head_timeout` (408).
    HeadTimeout,
}

impl RequestError {
    /// The status code to answer with.
    pub fn status(self) -> u16 {
        use RequestError::*;
        match self {
            RequestLineTooLong { .. } => 414,
            HeadTooLarge { .. } | TooManyHeaders { .. } | TrailersTooLarge { .. } => 431,
            UnsupportedVersion => 505,
            UnsupportedTransferEncoding => 501,
            BodyTooLarge { .. } => 413,
            HeadTimeout => 408,
            BareLf
            | BareCr
            | ObsFold
            | MalformedRequestLine
            | InvalidHeaderName
            | InvalidHeaderValue
            | InvalidHost
            | InvalidContentLength
            | ConflictingContentLength
            | ContentLengthWithTransferEncoding
            | ChunkedNotLast
            | TransferEncodingInHttp10
            | InvalidChunkSize
            | ChunkLineTooLong { .. }
            | InvalidChunkExtension
            | MissingChunkCrlf
            | InvalidTrailers
            | Truncated => 400,
        }
    }
}

impl fmt::Display for RequestError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{self:?} ({})", self.status())
    }
}

impl std::error::Error for RequestError {}

/// Why a response command was refused. Nothing was queued (for
/// [`SendError::TooLittleData`], the response is over all the same).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SendError {
    /// Not the request being answered (responses go in request order), or
    /// its response (client: the request's body) is already complete.
    NotCurrent,
    /// The connection is closing or closed.
    Closed,
    /// The response head was already sent.
    HeadAlreadySent,
    /// Data or end before the response head.
    HeadNotSent,
    /// A final status outside 200..=599.
    InvalidStatus,
    /// A field name that is not a token, or a value with CR, LF or NUL.
    InvalidField,
    /// `Content-Length`, `Transfer-Encoding` or `Connection` (or, in a
    /// client's request, `Host`) given as a field: the connection frames the
    /// message itself (use
    /// [`ResponseHead::content_length`](super::ResponseHead) and
    /// [`ResponseHead::close`](super::ResponseHead); in a client, the
    /// fields of [`ClientRequest`](super::ClientRequest)).
    FramingField,
    /// Body octets for a response that has none (HEAD, 204, 304).
    BodyNotAllowed,
    /// More octets than the declared `Content-Length`.
    TooMuchData,
    /// The response (client: the request) ended short of its
    /// `Content-Length`; the connection closes (the peer sees a truncated
    /// body).
    TooLittleData,
    /// Trailers for a response that is not chunked (only the chunked coding
    /// carries them).
    TrailersNotAllowed,
    /// `100 Continue` was not expected or is too late.
    ContinueNotExpected,
    /// Client: a request is still outstanding (one exchange at a time, no
    /// pipelining); wait until [`ClientConnection::can_send`].
    ///
    /// [`ClientConnection::can_send`]: super::ClientConnection::can_send
    Busy,
    /// Client: a method that is not a token (or `CONNECT`, not supported),
    /// or a request target that is empty or has octets other than visible
    /// ASCII (RFC 9112 §3).
    InvalidRequestLine,
}

impl fmt::Display for SendError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self, f)
    }
}

impl std::error::Error for SendError {}

/// Why a client connection refused a response (RFC 9112). After any of them
/// the connection reads nothing more, drops what it had to send and is
/// closed: the exchange in progress failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ResponseError {
    /// The response head (status line and fields) did not end within
    /// `max_head_size`.
    HeadTooLarge {
        /// The limit.
        max: usize,
    },
    /// More than `max_headers` field lines (in the head or the trailers).
    TooManyHeaders {
        /// The limit.
        max: usize,
    },
    /// A line ended by LF without CR (RFC 9112 §2.2; not recognised, as on
    /// the server side).
    BareLf,
    /// A CR not followed by LF (RFC 9112 §2.2).
    BareCr,
    /// A field line starting with whitespace: obsolete line folding
    /// (RFC 9112 §5.2).
    ObsFold,
    /// A status line that is not `HTTP-version SP 3DIGIT SP reason`
    /// (RFC 9112 §4).
    MalformedStatusLine,
    /// A well-formed version other than HTTP/1.0 and HTTP/1.1.
    UnsupportedVersion,
    /// A status code outside 100..=599 (RFC 9110 §15).
    InvalidStatus,
    /// `101 Switching Protocols`: upgrades are not supported.
    SwitchingProtocols,
    /// A field name that is not a token, or whitespace before its colon
    /// (RFC 9112 §5.1).
    InvalidHeaderName,
    /// A field value with a control character (RFC 9110 §5.5).
    InvalidHeaderValue,
    /// A `Content-Length` that is not a decimal number of at most 19 digits
    /// (RFC 9112 §6.3 rule 5).
    InvalidContentLength,
    /// `Content-Length` values that differ (RFC 9112 §6.3 rule 5).
    ConflictingContentLength,
    /// Both `Content-Length` and `Transfer-Encoding` (RFC 9112 §6.1, §6.3
    /// rule 3).
    ContentLengthWithTransferEncoding,
    /// A `Transfer-Encoding` whose final coding is not `chunked`, or that
    /// applies `chunked` twice. RFC 9112 §6.3 rule 4 would read such a
    /// response until the connection closes, still encoded; Weir refuses it.
    ChunkedNotLast,
    /// A transfer coding other than `chunked` (Weir decodes none).
    UnsupportedTransferEncoding,
    /// `Transfer-Encoding` in an HTTP/1.0 response (RFC 9112 §6.1: faulty
    /// framing).
    TransferEncodingInHttp10,
    /// A body longer than `max_body_size`.
    BodyTooLarge {
        /// The limit.
        max: u64,
    },
    /// A chunk size that is empty, not hexadecimal, or over 2⁶⁴−1
    /// (RFC 9112 §7.1).
    InvalidChunkSize,
    /// A chunk-size line longer than `max_chunk_line` (RFC 9112 §7.1.1).
    ChunkLineTooLong {
        /// The limit.
        max: usize,
    },
    /// Chunk extensions with a control character, or not starting with `;`
    /// (RFC 9112 §7.1.1).
    InvalidChunkExtension,
    /// Chunk data not followed by CRLF (RFC 9112 §7.1).
    MissingChunkCrlf,
    /// A trailer section over `max_head_size`.
    TrailersTooLarge {
        /// The limit.
        max: usize,
    },
    /// A malformed trailer section (RFC 9112 §7.1.2).
    InvalidTrailers,
    /// Octets from the server when no response is expected: before a
    /// request, or after the response ended (a response longer than its
    /// framing says, or one nobody asked for).
    UnexpectedData,
    /// The server closed the connection inside a response head or a
    /// length-delimited or chunked body.
    Truncated,
    /// The server closed the connection before sending any octet of a
    /// response. On a reused connection this is the keep-alive race
    /// (RFC 9112 §9.3.1): the server may have closed it as idle without
    /// reading the request, which an idempotent request may then retry.
    NoResponse,
    /// No final response head within `response_head_timeout` of the end of
    /// the request.
    HeadTimeout,
}

impl fmt::Display for ResponseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self, f)
    }
}

impl std::error::Error for ResponseError {}
