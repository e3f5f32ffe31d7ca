//! Building a [`Headers`] from decoded fields while checking RFC 9113 §8.

use bytes::Bytes;

use super::{Headers, Pseudo};
use crate::hpack::HeaderField;

/// Which header section a block is, which decides the pseudo-header rules.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BlockKind {
    /// The first block a server receives on a stream.
    Request,
    /// A block a client receives before the final response ended (1xx or final).
    Response,
    /// A block after the message's header section: must end the stream.
    Trailers,
}

/// Why a received message is malformed (§8.1.1): a stream error of type
/// PROTOCOL_ERROR.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Malformed {
    /// An empty field name.
    EmptyName,
    /// Uppercase characters in a field name (§8.2).
    UppercaseName,
    /// A field name with characters outside §8.2.1's allowed set.
    InvalidName,
    /// A field value with NUL, CR or LF, or surrounding whitespace (§8.2.1).
    InvalidValue,
    /// A pseudo-header field not defined for this kind of message (§8.3).
    UnknownPseudo,
    /// A pseudo-header field that appeared twice (§8.3.1).
    DuplicatePseudo,
    /// A pseudo-header field after a regular field (§8.3).
    PseudoAfterRegular,
    /// A pseudo-header field in trailers (§8.1).
    PseudoInTrailers,
    /// A connection-specific field such as `connection` (§8.2.2).
    ConnectionSpecific,
    /// `te` with a value other than `trailers` (§8.2.2).
    TeNotTrailers,
    /// A required pseudo-header field is missing (§8.3.1, §8.3.2).
    MissingPseudo,
    /// `:path` is empty (§8.3.1).
    EmptyPath,
    /// `:status` is not three digits (§8.3.2).
    InvalidStatus,
    /// `content-length` is not a number, or values disagree (§8.1.1).
    InvalidContentLength,
    /// DATA octets do not match `content-length` (§8.1.1).
    ContentLengthMismatch,
    /// Trailers without END_STREAM, or a second header section (§8.1).
    UnexpectedHeaders,
    /// A 101 response, which HTTP/2 does not allow (§8.6).
    SwitchingProtocols,
}

/// True when `name` is a valid regular field name (§8.2.1).
pub fn is_valid_name(name: &[u8]) -> bool {
    !name.is_empty() && name.iter().all(|&b| NAME_CHAR[b as usize])
}

/// True when `value` is a valid field value (§8.2.1).
pub fn is_valid_value(value: &[u8]) -> bool {
    let edges_ok = match (value.first(), value.last()) {
        (Some(f), Some(l)) => !is_ws(*f) && !is_ws(*l),
        _ => true,
    };
    edges_ok && !value.iter().any(|&b| b == 0 || b == b'\r' || b == b'\n')
}

fn is_ws(b: u8) -> bool {
    b == b' ' || b == b'\t'
}

/// "A field name MUST NOT contain characters in the ranges 0x00-0x20, 0x41-0x5a,
/// or 0x7f-0xff" (§8.2.1); ':' only starts pseudo-header names.
static NAME_CHAR: [bool; 256] = {
    let mut t = [false; 256];
    let mut i = 0x21;
    while i < 0x7f {
        t[i] = !(i >= 0x41 && i <= 0x5a) && i != b':' as usize;
        i += 1;
    }
    t
};

/// Accumulates decoded fields into a [`Headers`], recording the first violation.
pub(crate) struct HeaderBuilder {
    headers: Headers,
    kind: BlockKind,
    seen_regular: bool,
    content_length: Option<u64>,
    error: Option<Malformed>,
}

impl HeaderBuilder {
    /// Starts a block of the given kind.
    pub(crate) fn new(kind: BlockKind) -> Self {
        HeaderBuilder {
            // Room for a typical gRPC request without regrowing.
            headers: Headers { fields: Vec::with_capacity(8), ..Headers::default() },
            kind,
            seen_regular: false,
            content_length: None,
            error: None,
        }
    }

    fn fail(&mut self, m: Malformed) {
        if self.error.is_none() {
            self.error = Some(m);
        }
    }

    /// Adds one decoded field; `chars_valid` says its name and value are
    /// already known to pass §8.2.1's character rules (see
    /// [`crate::hpack::Decoder::decode_checked`]).
    pub(crate) fn push_checked(&mut self, field: HeaderField, chars_valid: bool) {
        if self.error.is_some() {
            return;
        }
        if !chars_valid && !is_valid_value(&field.value) {
            return self.fail(Malformed::InvalidValue);
        }
        if field.name.first() == Some(&b':') {
            self.push_pseudo(field);
        } else {
            self.push_regular(field, chars_valid);
        }
    }

    fn push_pseudo(&mut self, field: HeaderField) {
        if self.seen_regular {
            return self.fail(Malformed::PseudoAfterRegular);
        }
        let p = &mut self.headers.pseudo;
        let slot: &mut Option<Bytes> = match (self.kind, field.name.as_ref()) {
            (BlockKind::Trailers, _) => return self.fail(Malformed::PseudoInTrailers),
            (BlockKind::Request, b":method") => &mut p.method,
            (BlockKind::Request, b":scheme") => &mut p.scheme,
            (BlockKind::Request, b":authority") => &mut p.authority,
            (BlockKind::Request, b":path") => &mut p.path,
            (BlockKind::Request, b":protocol") => &mut p.protocol,
            (BlockKind::Response, b":status") => {
                if p.status.is_some() {
                    return self.fail(Malformed::DuplicatePseudo);
                }
                match parse_status(&field.value) {
                    Some(s) => p.status = Some(s),
                    None => self.fail(Malformed::InvalidStatus),
                }
                return;
            }
            _ => return self.fail(Malformed::UnknownPseudo),
        };
        if slot.is_some() {
            return self.fail(Malformed::DuplicatePseudo);
        }
        *slot = Some(field.value);
    }

    fn push_regular(&mut self, field: HeaderField, chars_valid: bool) {
        self.seen_regular = true;
        let name = field.name.as_ref();
        if name.is_empty() {
            return self.fail(Malformed::EmptyName);
        }
        if !chars_valid && !is_valid_name(name) {
            let upper = name.iter().any(u8::is_ascii_uppercase);
            return self.fail(if upper { Malformed::UppercaseName } else { Malformed::InvalidName });
        }
        match name {
            // §8.2.2: "An endpoint MUST NOT generate an HTTP/2 message containing
            // connection-specific header fields... treated as malformed".
            b"connection" | b"keep-alive" | b"proxy-connection" | b"transfer-encoding" | b"upgrade" => {
                return self.fail(Malformed::ConnectionSpecific);
            }
            // "The only exception to this is the TE header field, which MAY be
            // present in an HTTP/2 request; when it is, it MUST NOT contain any value
            // other than 'trailers'."
            b"te" if field.value.as_ref() != b"trailers" => {
                return self.fail(Malformed::TeNotTrailers);
            }
            b"content-length" => match parse_content_length(&field.value) {
                Some(n) if self.content_length.is_none_or(|prev| prev == n) => self.content_length = Some(n),
                _ => return self.fail(Malformed::InvalidContentLength),
            },
            _ => {}
        }
        self.headers.fields.push(field);
    }

    /// Finishes the block, checking the required pseudo-header fields.
    pub(crate) fn finish(self) -> Result<(Headers, Option<u64>), Malformed> {
        if let Some(e) = self.error {
            return Err(e);
        }
        let p = &self.headers.pseudo;
        match self.kind {
            BlockKind::Request => check_request(p)?,
            BlockKind::Response => match p.status {
                None => return Err(Malformed::MissingPseudo),
                Some(101) => return Err(Malformed::SwitchingProtocols),
                Some(_) => {}
            },
            BlockKind::Trailers => {}
        }
        Ok((self.headers, self.content_length))
    }
}

/// §8.3.1: "All HTTP/2 requests MUST include exactly one valid value for the
/// :method, :scheme, and :path pseudo-header fields, unless they are CONNECT
/// requests"; CONNECT (§8.5) carries only `:authority`, unless extended (RFC 8441).
fn check_request(p: &Pseudo) -> Result<(), Malformed> {
    let is_connect = p.method.as_deref() == Some(b"CONNECT");
    if is_connect && p.protocol.is_none() {
        if p.scheme.is_some() || p.path.is_some() {
            return Err(Malformed::UnknownPseudo);
        }
        return if p.authority.is_some() { Ok(()) } else { Err(Malformed::MissingPseudo) };
    }
    if p.protocol.is_some() && !is_connect {
        return Err(Malformed::UnknownPseudo);
    }
    if p.method.is_none() || p.scheme.is_none() {
        return Err(Malformed::MissingPseudo);
    }
    match &p.path {
        None => Err(Malformed::MissingPseudo),
        Some(path) if path.is_empty() => Err(Malformed::EmptyPath),
        Some(_) => Ok(()),
    }
}

fn parse_status(v: &[u8]) -> Option<u16> {
    if v.len() != 3 || !v.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let n = v.iter().fold(0u16, |acc, d| acc * 10 + u16::from(d - b'0'));
    (100..=999).contains(&n).then_some(n)
}

fn parse_content_length(v: &[u8]) -> Option<u64> {
    if v.is_empty() || v.len() > 19 || !v.iter().all(u8::is_ascii_digit) {
        return None;
    }
    Some(v.iter().fold(0u64, |acc, d| acc * 10 + u64::from(d - b'0')))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn build(kind: BlockKind, fields: &[(&'static str, &'static str)]) -> Result<Headers, Malformed> {
        let mut b = HeaderBuilder::new(kind);
        for (n, v) in fields {
            b.push_checked(
                HeaderField::new(Bytes::from_static(n.as_bytes()), Bytes::from_static(v.as_bytes())),
                false,
            );
        }
        b.finish().map(|(h, _)| h)
    }

    const REQ: [(&str, &str); 4] =
        [(":method", "POST"), (":scheme", "http"), (":authority", "x"), (":path", "/a/b")];

    #[test]
    fn valid_request_and_response() {
        let h = build(BlockKind::Request, &[REQ[0], REQ[1], REQ[2], REQ[3], ("te", "trailers")]).unwrap();
        assert_eq!(h.pseudo.path.as_deref(), Some(&b"/a/b"[..]));
        assert_eq!(h.get(b"te").map(|v| &v[..]), Some(&b"trailers"[..]));
        let r =
            build(BlockKind::Response, &[(":status", "200"), ("content-type", "application/grpc")]).unwrap();
        assert_eq!(r.pseudo.status, Some(200));
    }

    #[test]
    fn each_malformation_is_named() {
        use Malformed::*;
        type Case = (BlockKind, Vec<(&'static str, &'static str)>, Malformed);
        let cases: Vec<Case> = vec![
            (BlockKind::Request, vec![REQ[0], REQ[1], REQ[3], ("Upper", "x")], UppercaseName),
            (BlockKind::Request, vec![REQ[0], REQ[1], REQ[3], ("", "x")], EmptyName),
            (BlockKind::Request, vec![REQ[0], REQ[1], REQ[3], ("a b", "x")], InvalidName),
            (BlockKind::Request, vec![REQ[0], REQ[1], REQ[3], ("x", " lead")], InvalidValue),
            (BlockKind::Request, vec![REQ[0], REQ[1], REQ[3], ("x", "a\nb")], InvalidValue),
            (BlockKind::Request, vec![REQ[0], REQ[1], REQ[3], (":foo", "x")], UnknownPseudo),
            (BlockKind::Request, vec![REQ[0], REQ[0], REQ[1], REQ[3]], DuplicatePseudo),
            (BlockKind::Request, vec![REQ[0], REQ[1], ("x", "y"), REQ[3]], PseudoAfterRegular),
            (BlockKind::Request, vec![REQ[0], REQ[1], REQ[3], ("connection", "close")], ConnectionSpecific),
            (BlockKind::Request, vec![REQ[0], REQ[1], REQ[3], ("te", "gzip")], TeNotTrailers),
            (BlockKind::Request, vec![REQ[0], REQ[1]], MissingPseudo),
            (BlockKind::Request, vec![REQ[0], REQ[1], (":path", "")], EmptyPath),
            (
                BlockKind::Request,
                vec![REQ[0], REQ[1], REQ[3], ("content-length", "1x")],
                InvalidContentLength,
            ),
            (BlockKind::Request, vec![REQ[0], REQ[1], REQ[3], (":status", "200")], UnknownPseudo),
            (BlockKind::Response, vec![(":status", "20")], InvalidStatus),
            (BlockKind::Response, vec![(":status", "101")], SwitchingProtocols),
            (BlockKind::Response, vec![(":path", "/")], UnknownPseudo),
            (BlockKind::Response, vec![("x", "y")], MissingPseudo),
            (BlockKind::Trailers, vec![(":status", "200")], PseudoInTrailers),
        ];
        for (kind, fields, want) in cases {
            assert_eq!(build(kind, &fields), Err(want), "{fields:?}");
        }
    }

    #[test]
    fn connect_requests_carry_only_authority() {
        assert!(build(BlockKind::Request, &[(":method", "CONNECT"), (":authority", "h:1")]).is_ok());
        assert_eq!(
            build(BlockKind::Request, &[(":method", "CONNECT"), (":authority", "h:1"), (":path", "/")]),
            Err(Malformed::UnknownPseudo)
        );
    }

    #[test]
    fn content_length_is_parsed_and_must_agree() {
        let mut b = HeaderBuilder::new(BlockKind::Request);
        for (n, v) in REQ.iter().chain(&[("content-length", "12"), ("content-length", "12")]) {
            b.push_checked(
                HeaderField::new(Bytes::from_static(n.as_bytes()), Bytes::from_static(v.as_bytes())),
                false,
            );
        }
        assert_eq!(b.finish().unwrap().1, Some(12));
        assert_eq!(
            build(
                BlockKind::Request,
                &[REQ[0], REQ[1], REQ[3], ("content-length", "1"), ("content-length", "2")]
            ),
            Err(Malformed::InvalidContentLength)
        );
    }
}
