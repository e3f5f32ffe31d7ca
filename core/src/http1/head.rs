//! Request heads, response heads and trailer sections: finding where one
//! ends (strictly: CRLF only, no folding, within the size limit) without
//! rescanning, then parsing it with `httparse` and deciding the body's
//! framing.

use bytes::Bytes;

use super::{
    BodyKind, Config, Field, RequestError, RequestHead, RequestId, ResponseError, Version, is_tchar,
    list_elements,
};

/// Up to this many fields are parsed into an array on the stack; a larger
/// `max_headers` allocates one per head.
const STACK_HEADERS: usize = 128;

/// Finds the end of a head (or trailer section) incrementally: each octet is
/// looked at once, however the input is split.
#[derive(Debug, Default)]
pub(crate) struct SectionScanner {
    /// Octets already scanned.
    scanned: usize,
    /// Where the current line starts.
    line_start: usize,
}

impl SectionScanner {
    /// Starts over (a new head or trailer section).
    pub(crate) fn reset(&mut self) {
        *self = SectionScanner::default();
    }

    /// True before any octet was scanned.
    pub(crate) fn is_fresh(&self) -> bool {
        self.scanned == 0
    }

    /// Scans `buf` (the section so far) for the empty line that ends it and
    /// returns the section's length with that line. Only the first `max`
    /// octets are looked at, so errors past the limit are not reported
    /// before the limit is, whatever the split. `first_line_may_fold`:
    /// whitespace at the start of the first line is folding too (trailer
    /// sections have no start line).
    pub(crate) fn scan(
        &mut self,
        buf: &[u8],
        max: usize,
        first_line_may_fold: bool,
    ) -> Result<Option<usize>, ScanError> {
        let limit = buf.len().min(max);
        while self.scanned < limit {
            let i = self.scanned;
            let b = buf[i];
            self.scanned += 1;
            let after_cr = i > 0 && buf[i - 1] == b'\r';
            if b == b'\n' {
                if !after_cr {
                    return Err(ScanError::BareLf);
                }
                if i == self.line_start + 1 {
                    return Ok(Some(i + 1));
                }
                self.line_start = i + 1;
                continue;
            }
            if after_cr {
                return Err(ScanError::BareCr);
            }
            if i == self.line_start && (b == b' ' || b == b'\t') && (i > 0 || first_line_may_fold) {
                return Err(ScanError::Fold);
            }
        }
        if buf.len() >= max {
            return Err(if self.line_start == 0 { ScanError::FirstLineTooLong } else { ScanError::TooLong });
        }
        Ok(None)
    }
}

/// What [`SectionScanner::scan`] can find wrong.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ScanError {
    BareLf,
    BareCr,
    Fold,
    /// No end within the limit, still on the first line.
    FirstLineTooLong,
    /// No end within the limit.
    TooLong,
}

impl ScanError {
    /// As a request head's error.
    pub(crate) fn in_head(self, max: usize) -> RequestError {
        match self {
            ScanError::BareLf => RequestError::BareLf,
            ScanError::BareCr => RequestError::BareCr,
            ScanError::Fold => RequestError::ObsFold,
            ScanError::FirstLineTooLong => RequestError::RequestLineTooLong { max },
            ScanError::TooLong => RequestError::HeadTooLarge { max },
        }
    }

    /// As a trailer section's error.
    pub(crate) fn in_trailers(self, max: usize) -> RequestError {
        match self {
            ScanError::BareLf => RequestError::BareLf,
            ScanError::BareCr => RequestError::BareCr,
            ScanError::Fold => RequestError::ObsFold,
            ScanError::FirstLineTooLong | ScanError::TooLong => RequestError::TrailersTooLarge { max },
        }
    }

    /// As a response head's error.
    pub(crate) fn in_response_head(self, max: usize) -> ResponseError {
        match self {
            ScanError::BareLf => ResponseError::BareLf,
            ScanError::BareCr => ResponseError::BareCr,
            ScanError::Fold => ResponseError::ObsFold,
            ScanError::FirstLineTooLong | ScanError::TooLong => ResponseError::HeadTooLarge { max },
        }
    }

    /// As a response's trailer section's error.
    pub(crate) fn in_response_trailers(self, max: usize) -> ResponseError {
        match self {
            ScanError::BareLf => ResponseError::BareLf,
            ScanError::BareCr => ResponseError::BareCr,
            ScanError::Fold => ResponseError::ObsFold,
            ScanError::FirstLineTooLong | ScanError::TooLong => ResponseError::TrailersTooLarge { max },
        }
    }
}

/// What [`parse_trailers`] can find wrong.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum TrailersError {
    /// More than the field-line limit.
    TooMany {
        /// The limit.
        max: usize,
    },
    /// Not a valid field section.
    Invalid,
}

impl TrailersError {
    /// As a request's error.
    pub(crate) fn in_request(self) -> RequestError {
        match self {
            TrailersError::TooMany { max } => RequestError::TooManyHeaders { max },
            TrailersError::Invalid => RequestError::InvalidTrailers,
        }
    }

    /// As a response's error.
    pub(crate) fn in_response(self) -> ResponseError {
        match self {
            TrailersError::TooMany { max } => ResponseError::TooManyHeaders { max },
            TrailersError::Invalid => ResponseError::InvalidTrailers,
        }
    }
}

/// Runs `f` with an array of `n` empty `httparse` headers (on the stack when
/// small enough).
fn with_header_array<'b, R>(n: usize, f: impl FnOnce(&mut [httparse::Header<'b>]) -> R) -> R {
    if n <= STACK_HEADERS {
        let mut storage: [httparse::Header<'b>; STACK_HEADERS] = [httparse::EMPTY_HEADER; STACK_HEADERS];
        f(&mut storage[..n])
    } else {
        let mut storage: Vec<httparse::Header<'b>> = vec![httparse::EMPTY_HEADER; n];
        f(&mut storage)
    }
}

/// The fields `httparse` found, as zero-copy slices of `section`.
fn fields_of(section: &Bytes, parsed: &[httparse::Header<'_>]) -> Vec<Field> {
    parsed
        .iter()
        .map(|h| Field {
            name: section.slice_ref(h.name.as_bytes()),
            value: section.slice_ref(h.value.trim_ascii()),
        })
        .collect()
}

/// Parses a complete head (as found by [`SectionScanner`]) into a validated
/// request head.
pub(crate) fn parse_request(
    head: Bytes,
    id: RequestId,
    config: &Config,
) -> Result<RequestHead, RequestError> {
    let max = config.max_headers;
    let parsed = with_header_array(max, |storage| {
        let mut req = httparse::Request::new(storage);
        match req.parse(&head) {
            Ok(httparse::Status::Complete(_)) => {}
            Ok(httparse::Status::Partial) => return Err(RequestError::MalformedRequestLine),
            Err(httparse::Error::TooManyHeaders) => return Err(RequestError::TooManyHeaders { max }),
            Err(httparse::Error::HeaderName) => return Err(RequestError::InvalidHeaderName),
            Err(httparse::Error::HeaderValue) => return Err(RequestError::InvalidHeaderValue),
            Err(httparse::Error::Version) if well_formed_other_version(&head) => {
                return Err(RequestError::UnsupportedVersion);
            }
            Err(_) => return Err(RequestError::MalformedRequestLine),
        }
        let (Some(method), Some(target), Some(minor)) = (req.method, req.path, req.version) else {
            return Err(RequestError::MalformedRequestLine);
        };
        let version = if minor == 0 { Version::Http10 } else { Version::Http11 };
        Ok((
            head.slice_ref(method.as_bytes()),
            head.slice_ref(target.as_bytes()),
            version,
            fields_of(&head, req.headers),
        ))
    })?;
    let (method, target, version, headers) = parsed;
    let framing = Framing::of(&headers, version)?;
    let body = framing.body(config)?;
    let keep_alive = match version {
        Version::Http11 => !framing.close,
        Version::Http10 => framing.keep_alive && !framing.close,
    };
    Ok(RequestHead {
        id,
        method,
        target,
        version,
        headers,
        body,
        keep_alive,
        // RFC 9110 §10.1.1: ignored in an HTTP/1.0 request.
        expects_continue: framing.expects_continue && version == Version::Http11,
    })
}

/// Parses a complete trailer section (field lines and the empty line), with
/// at most `max` fields.
pub(crate) fn parse_trailers(section: Bytes, max: usize) -> Result<Vec<Field>, TrailersError> {
    with_header_array(max, |storage| match httparse::parse_headers(&section, storage) {
        Ok(httparse::Status::Complete((_, parsed))) => Ok(fields_of(&section, parsed)),
        Err(httparse::Error::TooManyHeaders) => Err(TrailersError::TooMany { max }),
        Ok(httparse::Status::Partial) | Err(_) => Err(TrailersError::Invalid),
    })
}

/// A parsed response head, before the client decides its body's framing
/// (which depends on the request).
#[derive(Debug)]
pub(crate) struct ParsedResponse {
    pub(crate) status: u16,
    pub(crate) reason: Bytes,
    pub(crate) version: Version,
    pub(crate) headers: Vec<Field>,
    /// The `Content-Length` (all values equal).
    pub(crate) content_length: Option<u64>,
    /// `Transfer-Encoding: chunked` (the only coding accepted).
    pub(crate) chunked: bool,
    /// The response's persistence (RFC 9112 §9.3): HTTP/1.1 without
    /// `close`, HTTP/1.0 with `keep-alive`.
    pub(crate) keep_alive: bool,
}

/// Parses a complete response head (as found by [`SectionScanner`]) with at
/// most `max_headers` fields, and checks its framing fields (RFC 9112 §6).
pub(crate) fn parse_response(head: Bytes, max_headers: usize) -> Result<ParsedResponse, ResponseError> {
    let max = max_headers;
    let (status, reason, version, headers) = with_header_array(max, |storage| {
        let mut res = httparse::Response::new(storage);
        match res.parse(&head) {
            Ok(httparse::Status::Complete(_)) => {}
            Ok(httparse::Status::Partial) => return Err(ResponseError::MalformedStatusLine),
            Err(httparse::Error::TooManyHeaders) => return Err(ResponseError::TooManyHeaders { max }),
            Err(httparse::Error::HeaderName) => return Err(ResponseError::InvalidHeaderName),
            Err(httparse::Error::HeaderValue) => return Err(ResponseError::InvalidHeaderValue),
            Err(httparse::Error::Status) => return Err(ResponseError::InvalidStatus),
            Err(httparse::Error::Version) if other_response_version(&head) => {
                return Err(ResponseError::UnsupportedVersion);
            }
            Err(_) => return Err(ResponseError::MalformedStatusLine),
        }
        let (Some(code), Some(minor)) = (res.code, res.version) else {
            return Err(ResponseError::MalformedStatusLine);
        };
        let reason = head.slice_ref(res.reason.unwrap_or_default().as_bytes());
        let version = if minor == 0 { Version::Http10 } else { Version::Http11 };
        Ok((code, reason, version, fields_of(&head, res.headers)))
    })?;
    if !(100..=599).contains(&status) {
        return Err(ResponseError::InvalidStatus);
    }
    let mut content_length = None;
    let mut transfer_encoding = false;
    let mut codings = 0;
    let mut chunked_count = 0;
    let mut chunked_last = false;
    let mut close = false;
    let mut keep_alive = false;
    for h in &headers {
        let name = &h.name[..];
        if name.eq_ignore_ascii_case(b"content-length") {
            let mut any = false;
            for element in h.value.split(|&b| b == b',') {
                let n =
                    parse_content_length(element.trim_ascii()).ok_or(ResponseError::InvalidContentLength)?;
                any = true;
                match content_length {
                    Some(m) if m != n => return Err(ResponseError::ConflictingContentLength),
                    _ => content_length = Some(n),
                }
            }
            if !any {
                return Err(ResponseError::InvalidContentLength);
            }
        } else if name.eq_ignore_ascii_case(b"transfer-encoding") {
            transfer_encoding = true;
            for coding in list_elements(&h.value) {
                codings += 1;
                chunked_last = coding.eq_ignore_ascii_case(b"chunked");
                if chunked_last {
                    chunked_count += 1;
                }
            }
        } else if name.eq_ignore_ascii_case(b"connection") {
            for option in list_elements(&h.value) {
                close |= option.eq_ignore_ascii_case(b"close");
                keep_alive |= option.eq_ignore_ascii_case(b"keep-alive");
            }
        }
    }
    if transfer_encoding {
        if version == Version::Http10 {
            return Err(ResponseError::TransferEncodingInHttp10);
        }
        if content_length.is_some() {
            return Err(ResponseError::ContentLengthWithTransferEncoding);
        }
        if !chunked_last || chunked_count > 1 {
            return Err(ResponseError::ChunkedNotLast);
        }
        if codings > 1 {
            return Err(ResponseError::UnsupportedTransferEncoding);
        }
    }
    let keep_alive = match version {
        Version::Http11 => !close,
        Version::Http10 => keep_alive && !close,
    };
    Ok(ParsedResponse {
        status,
        reason,
        version,
        headers,
        content_length,
        chunked: transfer_encoding,
        keep_alive,
    })
}

/// True when the status line starts with `HTTP/<digit>.<digit> `: a version
/// we do not speak rather than garbage.
fn other_response_version(head: &[u8]) -> bool {
    matches!(head, [b'H', b'T', b'T', b'P', b'/', major, b'.', minor, b' ', ..] if major.is_ascii_digit() && minor.is_ascii_digit())
}

/// True when the request line ends in `HTTP/<digit>.<digit>`: a version we
/// do not speak (505) rather than garbage (400).
fn well_formed_other_version(head: &[u8]) -> bool {
    let line = head.split(|&b| b == b'\r').next().unwrap_or_default();
    let version = line.rsplit(|&b| b == b' ').next().unwrap_or_default();
    matches!(version, [b'H', b'T', b'T', b'P', b'/', major, b'.', minor] if major.is_ascii_digit() && minor.is_ascii_digit())
}

/// What the header fields say about framing and persistence.
#[derive(Debug, Default)]
struct Framing {
    content_length: Option<u64>,
    transfer_encoding: bool,
    /// `chunked` is the last coding, applied once, and no other coding.
    chunked_only: bool,
    chunked_last: bool,
    chunked_count: usize,
    close: bool,
    keep_alive: bool,
    expects_continue: bool,
}

impl Framing {
    fn of(headers: &[Field], version: Version) -> Result<Framing, RequestError> {
        let mut f = Framing::default();
        let mut hosts = 0;
        let mut codings = 0;
        for h in headers {
            let name = &h.name[..];
            if name.eq_ignore_ascii_case(b"content-length") {
                // RFC 9110 §8.6: a list of one repeated value may stand for
                // that value; different values cannot.
                let mut any = false;
                for element in h.value.split(|&b| b == b',') {
                    let n = parse_content_length(element.trim_ascii())
                        .ok_or(RequestError::InvalidContentLength)?;
                    any = true;
                    match f.content_length {
                        Some(m) if m != n => return Err(RequestError::ConflictingContentLength),
                        _ => f.content_length = Some(n),
                    }
                }
                if !any {
                    return Err(RequestError::InvalidContentLength);
                }
            } else if name.eq_ignore_ascii_case(b"transfer-encoding") {
                f.transfer_encoding = true;
                for coding in list_elements(&h.value) {
                    codings += 1;
                    f.chunked_last = coding.eq_ignore_ascii_case(b"chunked");
                    if f.chunked_last {
                        f.chunked_count += 1;
                    }
                }
            } else if name.eq_ignore_ascii_case(b"host") {
                hosts += 1;
                if !h.value.iter().all(|&b| is_host_char(b)) {
                    return Err(RequestError::InvalidHost);
                }
            } else if name.eq_ignore_ascii_case(b"connection") {
                for option in list_elements(&h.value) {
                    f.close |= option.eq_ignore_ascii_case(b"close");
                    f.keep_alive |= option.eq_ignore_ascii_case(b"keep-alive");
                }
            } else if name.eq_ignore_ascii_case(b"expect") {
                f.expects_continue |= h.value.eq_ignore_ascii_case(b"100-continue");
            }
        }
        // RFC 9112 §3.2: exactly one Host in HTTP/1.1, never more than one.
        if hosts > 1 || (version == Version::Http11 && hosts == 0) {
            return Err(RequestError::InvalidHost);
        }
        if f.transfer_encoding {
            if version == Version::Http10 {
                return Err(RequestError::TransferEncodingInHttp10);
            }
            if f.content_length.is_some() {
                return Err(RequestError::ContentLengthWithTransferEncoding);
            }
            if !f.chunked_last || f.chunked_count > 1 {
                return Err(RequestError::ChunkedNotLast);
            }
            if codings > 1 {
                return Err(RequestError::UnsupportedTransferEncoding);
            }
            f.chunked_only = true;
        }
        Ok(f)
    }

    fn body(&self, config: &Config) -> Result<BodyKind, RequestError> {
        if self.chunked_only {
            return Ok(BodyKind::Chunked);
        }
        match self.content_length {
            None | Some(0) => Ok(BodyKind::Empty),
            Some(n) => match config.max_body_size {
                Some(max) if n > max => Err(RequestError::BodyTooLarge { max }),
                _ => Ok(BodyKind::Length(n)),
            },
        }
    }
}

/// `Content-Length = 1*DIGIT`, at most 19 digits (so it fits a u64 and
/// leading zeros cannot make a line long).
fn parse_content_length(v: &[u8]) -> Option<u64> {
    if v.is_empty() || v.len() > 19 || !v.iter().all(u8::is_ascii_digit) {
        return None;
    }
    Some(v.iter().fold(0u64, |n, &d| n * 10 + u64::from(d - b'0')))
}

/// Octets of `Host = uri-host [ ":" port ]` (RFC 3986 reg-name, IP literal
/// or IPv4, percent-encoded octets; RFC 9112 §3.2).
pub(crate) fn is_host_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"-._~%!$&'()*+,;=:[]".contains(&b)
}

/// True for a non-empty token.
pub(crate) fn is_token(s: &[u8]) -> bool {
    !s.is_empty() && s.iter().all(|&b| is_tchar(b))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scan_all(buf: &[u8], max: usize) -> Result<Option<usize>, ScanError> {
        SectionScanner::default().scan(buf, max, false)
    }

    #[test]
    fn scanner_finds_the_end_whatever_the_split() {
        let head = b"GET / HTTP/1.1\r\nHost: a\r\n\r\nBODY";
        for cut in 0..head.len() {
            let mut s = SectionScanner::default();
            let first = s.scan(&head[..cut], 100, false).unwrap();
            let end = first.or_else(|| s.scan(head, 100, false).unwrap());
            assert_eq!(end, Some(27), "cut {cut}");
        }
    }

    #[test]
    fn scanner_rejects_bare_lf_bare_cr_and_folding() {
        assert_eq!(scan_all(b"GET / HTTP/1.1\nHost: a\r\n\r\n", 100), Err(ScanError::BareLf));
        assert_eq!(scan_all(b"GET / HTTP/1.1\r\rHost: a\r\n\r\n", 100), Err(ScanError::BareCr));
        assert_eq!(scan_all(b"GET / HTTP/1.1\r\nA: b\r\n c\r\n\r\n", 100), Err(ScanError::Fold));
        assert_eq!(scan_all(b"GET / HTTP/1.1\r\n\tA: b\r\n\r\n", 100), Err(ScanError::Fold));
    }

    #[test]
    fn scanner_limit_is_inclusive() {
        let head = b"GET / HTTP/1.1\r\nHost: a\r\n\r\n";
        assert_eq!(scan_all(head, head.len()), Ok(Some(head.len())));
        assert_eq!(scan_all(head, head.len() - 1), Err(ScanError::TooLong));
        assert_eq!(scan_all(b"GET /aaaaaaaa", 8), Err(ScanError::FirstLineTooLong));
        // Errors past the limit are not looked at.
        assert_eq!(scan_all(b"GET / HTTP/1.1\r\nA: b\n", 16), Err(ScanError::TooLong));
    }

    #[test]
    fn content_length_is_strict_decimal() {
        assert_eq!(parse_content_length(b"0"), Some(0));
        assert_eq!(parse_content_length(b"0000000000000000042"), Some(42));
        assert_eq!(parse_content_length(b"9999999999999999999"), Some(9_999_999_999_999_999_999));
        for bad in [&b""[..], b"-1", b"+1", b"1.0", b"0x10", b"1 2", b"18446744073709551616"] {
            assert_eq!(parse_content_length(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn other_versions_are_told_from_garbage() {
        assert!(well_formed_other_version(b"GET / HTTP/2.0\r\n\r\n"));
        assert!(well_formed_other_version(b"GET / HTTP/1.2\r\n\r\n"));
        assert!(!well_formed_other_version(b"GET / HTTP/1.10\r\n\r\n"));
        assert!(!well_formed_other_version(b"GET / FTP/1.1\r\n\r\n"));
    }
}
