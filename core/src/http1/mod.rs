//! HTTP/1.1 (RFC 9112) as a Sans-IO state machine, the same way as the
//! HTTP/2 [`Connection`](crate::conn::Connection): bytes in, events out,
//! bytes out, time passed in as an argument.
//!
//! * [`ServerConnection`]: one server-side connection. Request heads are
//!   parsed by `httparse` (allocation-free; Weir keeps zero-copy `Bytes`
//!   slices of the received head), bodies are framed by `Content-Length` or
//!   the chunked transfer coding (extensions and trailers included), and
//!   responses are serialized with `Content-Length` when the application
//!   knows it, chunked otherwise. Keep-alive and pipelining: requests are
//!   answered in order, one at a time; the next pipelined request is parsed
//!   once the current exchange is over.
//! * [`ClientConnection`]: one client-side connection, one exchange at a
//!   time (no pipelining), reused while both sides keep it alive. Requests
//!   ([`ClientRequest`]) go out with `Content-Length` when the application
//!   knows it, chunked otherwise; response heads are parsed by `httparse`
//!   into zero-copy slices ([`ClientResponse`]), interim `1xx` responses are
//!   skipped (`101` is refused), and bodies are framed per RFC 9112 §6.3:
//!   none for `HEAD`, 204 and 304, chunked, `Content-Length`, or until the
//!   server closes the connection (which is then not reused).
//! * [`detect()`]: what a shared port needs to choose between this and HTTP/2
//!   (the client preface against a plausible request line).
//!
//! Everything a peer can make a connection hold is bounded by [`Config`]
//! (server) or [`ClientConfig`] (client). Every malformed or ambiguous
//! request (the request-smuggling patterns of RFC 9112 §11.2 among them) is
//! a typed [`RequestError`] with the 4xx/5xx status the server connection
//! answers with before it closes; every malformed, ambiguous or oversize
//! response (the same patterns, seen from the client: `Content-Length` with
//! `Transfer-Encoding`, differing lengths, bad chunk sizes, obs-fold, bare
//! LF) is a typed [`ResponseError`], after which the client connection
//! reads nothing more and closes.

mod body;
mod chunked;
mod client;
mod config;
pub mod detect;
mod error;
mod head;
mod response;
mod server;

pub use client::{ClientConnection, ClientEvent, ClientRequest, ClientResponse, ResponseBody};
pub use config::{ClientConfig, Config};
pub use detect::{Detected, detect};
pub use error::{RequestError, ResponseError, SendError};
pub use response::{ResponseHead, reason_phrase};
pub use server::{Event, ServerConnection};

use bytes::Bytes;

/// The HTTP version of a request (RFC 9112 §2.3). Only HTTP/1.0 and
/// HTTP/1.1 are accepted; anything else is [`RequestError::UnsupportedVersion`]
/// or malformed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Version {
    /// HTTP/1.0: no chunked coding, not persistent unless `keep-alive`.
    Http10,
    /// HTTP/1.1: persistent unless `close`.
    Http11,
}

/// One header (or trailer) field line as received: the name as sent (compare
/// it case-insensitively), the value without surrounding whitespace. Both
/// are zero-copy slices of the received head.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Field {
    /// Field name (a token; case as sent).
    pub name: Bytes,
    /// Field value (no leading or trailing whitespace).
    pub value: Bytes,
}

impl Field {
    /// A field from owned parts.
    pub fn new(name: impl Into<Bytes>, value: impl Into<Bytes>) -> Self {
        Field { name: name.into(), value: value.into() }
    }
}

/// How a request's body is framed (RFC 9112 §6.3).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BodyKind {
    /// No body (no `Content-Length`, no `Transfer-Encoding`, or a length of 0).
    Empty,
    /// `Content-Length` octets.
    Length(u64),
    /// The chunked transfer coding (RFC 9112 §7.1).
    Chunked,
}

/// A request's position on its connection: 0 for the first, then 1, 2...
/// Responses go out in this order (RFC 9112 §9.3.2). A client connection
/// numbers the requests it sends the same way.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RequestId(pub u64);

/// A validated request head.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RequestHead {
    /// Which request of the connection this is.
    pub id: RequestId,
    /// The method token (`GET`, `POST`, ...; case-sensitive).
    pub method: Bytes,
    /// The request target as sent (origin-form `/path?q`, absolute-form,
    /// authority-form or `*`).
    pub target: Bytes,
    /// HTTP/1.0 or HTTP/1.1.
    pub version: Version,
    /// The header fields in the order received.
    pub headers: Vec<Field>,
    /// How the body is framed.
    pub body: BodyKind,
    /// The connection persists after this exchange (RFC 9112 §9.3), unless
    /// the response asks to close.
    pub keep_alive: bool,
    /// The client sent `Expect: 100-continue` (RFC 9110 §10.1.1) and may
    /// wait for [`ServerConnection::send_continue`] before sending its body.
    pub expects_continue: bool,
}

impl RequestHead {
    /// The first value of the header called `name` (ASCII case-insensitive).
    pub fn header(&self, name: &str) -> Option<&Bytes> {
        self.headers.iter().find(|f| f.name.eq_ignore_ascii_case(name.as_bytes())).map(|f| &f.value)
    }

    /// Every value of the header called `name`, in order.
    pub fn headers_named<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a Bytes> + 'a {
        self.headers.iter().filter(move |f| f.name.eq_ignore_ascii_case(name.as_bytes())).map(|f| &f.value)
    }

    /// True for a `HEAD` request (its response has no body, RFC 9110 §9.3.2).
    pub fn is_head(&self) -> bool {
        &self.method[..] == b"HEAD"
    }
}

/// The elements of a comma-separated list value (RFC 9110 §5.6.1), without
/// surrounding whitespace; empty elements are skipped, as the RFC asks.
pub(crate) fn list_elements(value: &[u8]) -> impl Iterator<Item = &[u8]> {
    value.split(|&b| b == b',').map(<[u8]>::trim_ascii).filter(|e| !e.is_empty())
}

/// RFC 9110 §5.6.2 `tchar`.
pub(crate) fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}
