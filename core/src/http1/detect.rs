//! Telling HTTP/2 from HTTP/1.1 on a shared cleartext port by the first
//! octets a client sends. (With TLS, ALPN decides; that is the runtime's.)
//!
//! An HTTP/2 client starts with the connection preface (RFC 9113 §3.4),
//! `PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n`; an HTTP/1.1 client with a request
//! line, `method SP request-target SP HTTP-version CRLF` (RFC 9112 §3),
//! possibly after empty lines (§2.2). The octets looked at are not
//! consumed: hand the same octets to the connection chosen.

use super::is_tchar;
use crate::conn::PREFACE;

/// The longest method [`detect`] waits for before giving up: longer than
/// any registered method (`VERSION-CONTROL`, `UPDATEREDIRECTREF`).
pub const MAX_METHOD_LEN: usize = 32;

/// Empty lines [`detect`] skips before the request line.
const MAX_LEADING_EMPTY_LINES: usize = 2;

/// What the first octets of a connection look like.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Detected {
    /// The HTTP/2 client preface, complete.
    Http2,
    /// The start of an HTTP/1.x request line: a method token, a space, and
    /// the first octet of a request target.
    Http1,
    /// Too few octets to tell (a prefix of the preface, or of a request
    /// line): read more and call again.
    NeedMore,
    /// Neither (a TLS ClientHello, garbage, a method longer than
    /// [`MAX_METHOD_LEN`]).
    Unknown,
}

/// Classifies the first octets a client sent. Prefixes are matched
/// incrementally: the answer for a longer input never contradicts a
/// definite answer for a shorter one, and `NeedMore` is returned for at
/// most `MAX_METHOD_LEN + 6` octets (or the 24 of the preface).
pub fn detect(first: &[u8]) -> Detected {
    let n = first.len().min(PREFACE.len());
    if first[..n] == PREFACE[..n] {
        return if n == PREFACE.len() { Detected::Http2 } else { Detected::NeedMore };
    }
    let mut rest = first;
    for _ in 0..MAX_LEADING_EMPTY_LINES {
        match rest {
            [b'\r', b'\n', tail @ ..] => rest = tail,
            [b'\r'] => return Detected::NeedMore,
            _ => break,
        }
    }
    let method_len = rest.iter().take_while(|&&b| is_tchar(b)).count();
    if method_len > MAX_METHOD_LEN {
        return Detected::Unknown;
    }
    match rest.get(method_len) {
        None => Detected::NeedMore,
        Some(b' ') if method_len > 0 => match rest.get(method_len + 1) {
            None => Detected::NeedMore,
            Some(&b) if b.is_ascii_graphic() => Detected::Http1,
            Some(_) => Detected::Unknown,
        },
        Some(_) => Detected::Unknown,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_preface_is_http2_once_complete() {
        for n in 0..PREFACE.len() {
            assert_eq!(detect(&PREFACE[..n]), Detected::NeedMore, "{n} octets");
        }
        assert_eq!(detect(PREFACE), Detected::Http2);
        let mut more = PREFACE.to_vec();
        more.extend_from_slice(b"\x00\x00\x00\x04\x00");
        assert_eq!(detect(&more), Detected::Http2);
    }

    #[test]
    fn request_lines_are_http1() {
        for line in [&b"GET / HTTP/1.1\r\n"[..], b"POST /x", b"OPTIONS *", b"\r\nGET /", b"PRI /"] {
            assert_eq!(detect(line), Detected::Http1, "{line:?}");
        }
        // A method that starts like the preface but is not it.
        assert_eq!(detect(b"PRIX / HTTP/1.1"), Detected::Http1);
        assert_eq!(detect(b"PRI * HTTP/1.1\r\n"), Detected::Http1);
    }

    #[test]
    fn prefixes_need_more_and_garbage_is_unknown() {
        for partial in [&b"GE"[..], b"GET", b"GET ", b"\r", b"\r\n", b"\r\nPOS"] {
            assert_eq!(detect(partial), Detected::NeedMore, "{partial:?}");
        }
        // A TLS ClientHello, a space first, a control octet, a long token.
        for junk in [&b"\x16\x03\x01\x02\x00"[..], b" GET /", b"GET\x00/", b"GET  /", b"\r\n\r\n\r\nGET /"] {
            assert_eq!(detect(junk), Detected::Unknown, "{junk:?}");
        }
        assert_eq!(detect(&[b'A'; MAX_METHOD_LEN]), Detected::NeedMore);
        assert_eq!(detect(&[b'A'; MAX_METHOD_LEN + 1]), Detected::Unknown);
    }
}
