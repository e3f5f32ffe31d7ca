//! Limits and timeouts of HTTP/1.1 server and client connections, secure by
//! default.

use std::time::Duration;

/// What one HTTP/1.1 connection lets a client make it hold or wait for.
/// Every field has a bounded default; [`Config::default`] is meant for
/// servers facing untrusted clients.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Config {
    /// The most octets of one request head: request line, header field
    /// lines and the empty line ending them (blank lines a client sends
    /// before the request line count too). Past it: 431 (or 414 while the
    /// request line is not complete). The same bound applies to the trailer
    /// section of a chunked body.
    ///
    /// Default 16 KiB: what Node.js accepts, and the same as the HTTP/2
    /// connection's `max_header_list_size`, so a request that fits one
    /// protocol fits the other.
    pub max_head_size: usize,
    /// The most header field lines in one head (and trailer field lines in
    /// one trailer section). Past it: 431.
    ///
    /// Default 100: hyper's limit. Browsers send 10–25, gRPC-Web clients
    /// fewer; 100 leaves room for proxies' additions while keeping the
    /// per-request parse array (on the stack up to 128) small.
    pub max_headers: usize,
    /// The most octets of one chunk-size line, extensions included
    /// (RFC 9112 §7.1.1 asks servers to limit extensions). Past it: 400.
    ///
    /// Default 1 KiB: a size needs at most 16 hex digits; real extensions
    /// are a few dozen octets. Every line is also body overhead the client
    /// must send, so the bound caps what a line costs, not a rate.
    pub max_chunk_line: usize,
    /// The most body octets delivered in events the application has not
    /// polled yet. At the limit the connection stops processing input
    /// (the rest waits in the input buffer and [`wants_input`] turns false)
    /// until events are polled: backpressure, as the HTTP/2 flow-control
    /// windows give.
    ///
    /// Default 64 KiB: one socket read.
    ///
    /// [`wants_input`]: super::ServerConnection::wants_input
    pub max_body_buffer: usize,
    /// The most unprocessed input the connection asks for: [`wants_input`]
    /// is false from this many octets (pipelined requests waiting for
    /// their turn, input held back by `max_body_buffer`). A driver that
    /// reads only while it is true holds at most this plus one read.
    ///
    /// Default 64 KiB.
    ///
    /// [`wants_input`]: super::ServerConnection::wants_input
    pub max_recv_buffer: usize,
    /// The largest request body accepted (`Content-Length`, or the sum of a
    /// chunked body's chunks). Past it: 413. `None`: no limit.
    ///
    /// Default `None`: the connection never accumulates a body (it passes
    /// through in events, bounded by `max_body_buffer`), so a long body
    /// costs the core nothing; the application bounds what it keeps (gRPC:
    /// `max_recv_message_size`).
    pub max_body_size: Option<u64>,
    /// How long a request head may take from its first octet to its end
    /// (slowloris). Past it: 408, then close. `None`: no limit.
    ///
    /// Default 30 s (Node.js: 60 s, Apache's `RequestReadTimeout`: 20–40 s).
    pub head_timeout: Option<Duration>,
    /// How long the connection waits for the first octet of a request, on a
    /// new connection and between keep-alive requests. Past it the
    /// connection closes without a response (RFC 9112 §9.5). `None`: no
    /// limit.
    ///
    /// Default 60 s (nginx's `keepalive_timeout`: 75 s).
    pub idle_timeout: Option<Duration>,
}

/// The default of [`Config::max_head_size`].
pub const DEFAULT_MAX_HEAD_SIZE: usize = 16 << 10;
/// The default of [`Config::max_headers`].
pub const DEFAULT_MAX_HEADERS: usize = 100;

impl Default for Config {
    fn default() -> Self {
        Config {
            max_head_size: DEFAULT_MAX_HEAD_SIZE,
            max_headers: DEFAULT_MAX_HEADERS,
            max_chunk_line: 1 << 10,
            max_body_buffer: 64 << 10,
            max_recv_buffer: 64 << 10,
            max_body_size: None,
            head_timeout: Some(Duration::from_secs(30)),
            idle_timeout: Some(Duration::from_secs(60)),
        }
    }
}

/// What one HTTP/1.1 client connection lets a server make it hold or wait
/// for. Every size has a bounded default.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClientConfig {
    /// The most octets of one response head: status line, header field
    /// lines and the empty line ending them (each interim `1xx` head is
    /// bounded on its own). Past it: [`ResponseError::HeadTooLarge`]. The
    /// same bound applies to the trailer section of a chunked body
    /// ([`ResponseError::TrailersTooLarge`]).
    ///
    /// Default 64 KiB: responses carry more than requests (cookies, CORS,
    /// long `grpc-message`s); hyper's client reads heads up to about 400 KiB,
    /// Go's up to 10 MiB, but a gRPC-Web head is a few hundred octets.
    ///
    /// [`ResponseError::HeadTooLarge`]: super::ResponseError::HeadTooLarge
    /// [`ResponseError::TrailersTooLarge`]: super::ResponseError::TrailersTooLarge
    pub max_head_size: usize,
    /// The most header field lines in one head (and trailer field lines in
    /// one trailer section). Past it: [`ResponseError::TooManyHeaders`].
    ///
    /// Default 100, as [`Config::max_headers`].
    ///
    /// [`ResponseError::TooManyHeaders`]: super::ResponseError::TooManyHeaders
    pub max_headers: usize,
    /// The most octets of one chunk-size line, extensions included. Past it:
    /// [`ResponseError::ChunkLineTooLong`].
    ///
    /// Default 1 KiB, as [`Config::max_chunk_line`].
    ///
    /// [`ResponseError::ChunkLineTooLong`]: super::ResponseError::ChunkLineTooLong
    pub max_chunk_line: usize,
    /// The most body octets delivered in events the application has not
    /// polled yet. At the limit the connection stops processing input
    /// (it waits in the input buffer and [`wants_input`] turns false) until
    /// events are polled.
    ///
    /// Default 64 KiB: one socket read.
    ///
    /// [`wants_input`]: super::ClientConnection::wants_input
    pub max_body_buffer: usize,
    /// The most unprocessed input the connection asks for:
    /// [`wants_input`] is false from this many octets (inside a head or
    /// trailer section from `max_head_size`, inside a chunk-size line from
    /// `max_chunk_line`, when larger: what fits a limit can always be read).
    /// A driver that reads only while it is true holds at most this plus
    /// one read.
    ///
    /// Default 64 KiB.
    ///
    /// [`wants_input`]: super::ClientConnection::wants_input
    pub max_recv_buffer: usize,
    /// The largest response body accepted (`Content-Length`, the sum of a
    /// chunked body's chunks, or what a body delimited by the connection's
    /// close carried). Past it: [`ResponseError::BodyTooLarge`]. `None`: no
    /// limit.
    ///
    /// Default `None`: bodies pass through in events, never accumulated.
    ///
    /// [`ResponseError::BodyTooLarge`]: super::ResponseError::BodyTooLarge
    pub max_body_size: Option<u64>,
    /// How long the final response head may take, from the moment the last
    /// octet of the request was handed to the transport
    /// ([`poll_transmit`]) to the end of the head (interim `1xx` responses
    /// do not stop it). Past it: [`ResponseError::HeadTimeout`]. `None`: no
    /// limit.
    ///
    /// Default `None`, as hyper and Go's `http.Transport`: a server may
    /// rightly think long before it answers (a unary gRPC call sends its
    /// head with its reply); deadlines belong to the caller.
    ///
    /// [`poll_transmit`]: super::ClientConnection::poll_transmit
    /// [`ResponseError::HeadTimeout`]: super::ResponseError::HeadTimeout
    pub response_head_timeout: Option<Duration>,
    /// How long the connection stays open without a request, when new and
    /// between exchanges. Past it the connection closes (no error).
    /// `None`: no limit.
    ///
    /// Default 90 s (hyper's pool and Go's `IdleConnTimeout`); keep it under
    /// the server's own keep-alive timeout, so the client closes first.
    pub idle_timeout: Option<Duration>,
}

impl Default for ClientConfig {
    fn default() -> Self {
        ClientConfig {
            max_head_size: 64 << 10,
            max_headers: DEFAULT_MAX_HEADERS,
            max_chunk_line: 1 << 10,
            max_body_buffer: 64 << 10,
            max_recv_buffer: 64 << 10,
            max_body_size: None,
            response_head_timeout: None,
            idle_timeout: Some(Duration::from_secs(90)),
        }
    }
}
