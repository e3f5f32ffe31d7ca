//! Response heads and their serialization (RFC 9112 §4, §6).

use super::{Field, SendError, head::is_token};

/// A response head as the application gives it. Framing fields
/// (`Content-Length`, `Transfer-Encoding`, `Connection`) are the
/// connection's to write: say what you know with `content_length` and
/// `close`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ResponseHead {
    /// The status code, 200..=599 (`100 Continue` has its own command).
    pub status: u16,
    /// Header fields, written in order with the names as given.
    pub headers: Vec<Field>,
    /// The body's length when known: sent as `Content-Length`. Unknown:
    /// chunked to an HTTP/1.1 client, delimited by closing the connection
    /// for an HTTP/1.0 one.
    pub content_length: Option<u64>,
    /// Close the connection after this response.
    pub close: bool,
}

impl ResponseHead {
    /// A head with this status and nothing else.
    pub fn new(status: u16) -> Self {
        ResponseHead { status, ..ResponseHead::default() }
    }

    /// Adds a header field.
    pub fn with_header(mut self, name: impl Into<bytes::Bytes>, value: impl Into<bytes::Bytes>) -> Self {
        self.headers.push(Field::new(name, value));
        self
    }

    /// Sets the body's length.
    pub fn with_content_length(mut self, len: u64) -> Self {
        self.content_length = Some(len);
        self
    }

    /// Asks to close the connection after the response.
    pub fn with_close(mut self) -> Self {
        self.close = true;
        self
    }
}

/// The reason phrase Weir sends with `status` (RFC 9110 §15); empty for
/// codes without one (the phrase is optional, RFC 9112 §4).
pub fn reason_phrase(status: u16) -> &'static str {
    match status {
        100 => "Continue",
        200 => "OK",
        201 => "Created",
        202 => "Accepted",
        204 => "No Content",
        206 => "Partial Content",
        301 => "Moved Permanently",
        302 => "Found",
        303 => "See Other",
        304 => "Not Modified",
        307 => "Temporary Redirect",
        308 => "Permanent Redirect",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        408 => "Request Timeout",
        411 => "Length Required",
        413 => "Content Too Large",
        414 => "URI Too Long",
        415 => "Unsupported Media Type",
        429 => "Too Many Requests",
        431 => "Request Header Fields Too Large",
        500 => "Internal Server Error",
        501 => "Not Implemented",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        505 => "HTTP Version Not Supported",
        _ => "",
    }
}

/// Appends `HTTP/1.1 <status> <reason>\r\n`.
pub(crate) fn put_status_line(out: &mut Vec<u8>, status: u16) {
    out.extend_from_slice(b"HTTP/1.1 ");
    out.extend_from_slice(status.to_string().as_bytes());
    out.push(b' ');
    out.extend_from_slice(reason_phrase(status).as_bytes());
    out.extend_from_slice(b"\r\n");
}

/// Appends `name: value\r\n`.
pub(crate) fn put_field(out: &mut Vec<u8>, name: &[u8], value: &[u8]) {
    out.extend_from_slice(name);
    out.extend_from_slice(b": ");
    out.extend_from_slice(value);
    out.extend_from_slice(b"\r\n");
}

/// Checks fields the application wants to send: token names, values without
/// CR, LF or NUL (what would let a value split the response, RFC 9110 §5.5).
pub(crate) fn check_fields(fields: &[Field]) -> Result<(), SendError> {
    for f in fields {
        if !is_token(&f.name) || f.value.iter().any(|&b| matches!(b, b'\r' | b'\n' | 0)) {
            return Err(SendError::InvalidField);
        }
        if [&b"content-length"[..], b"transfer-encoding", b"connection"]
            .iter()
            .any(|n| f.name.eq_ignore_ascii_case(n))
        {
            return Err(SendError::FramingField);
        }
    }
    Ok(())
}

/// The complete response the connection sends on its own when it refuses a
/// request: no body, and the connection closes after it.
pub(crate) fn error_response(status: u16) -> Vec<u8> {
    let mut out = Vec::with_capacity(96);
    put_status_line(&mut out, status);
    put_field(&mut out, b"connection", b"close");
    put_field(&mut out, b"content-length", b"0");
    out.extend_from_slice(b"\r\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_response_is_complete_and_closes() {
        assert_eq!(
            error_response(431),
            b"HTTP/1.1 431 Request Header Fields Too Large\r\nconnection: close\r\ncontent-length: 0\r\n\r\n"
        );
        assert_eq!(&error_response(299)[..15], b"HTTP/1.1 299 \r\n");
    }

    #[test]
    fn fields_that_would_split_a_response_are_refused() {
        assert_eq!(check_fields(&[Field::new("x-ok", "a b\tc")]), Ok(()));
        assert_eq!(check_fields(&[Field::new("x", "a\r\nSet-Cookie: x")]), Err(SendError::InvalidField));
        assert_eq!(check_fields(&[Field::new("bad name", "v")]), Err(SendError::InvalidField));
        assert_eq!(check_fields(&[Field::new("", "v")]), Err(SendError::InvalidField));
        assert_eq!(check_fields(&[Field::new("Content-Length", "5")]), Err(SendError::FramingField));
        assert_eq!(check_fields(&[Field::new("connection", "close")]), Err(SendError::FramingField));
    }
}
