//! gRPC status codes and the `grpc-status` / `grpc-message` /
//! `grpc-status-details-bin` trailers.

use std::fmt;
use std::sync::Arc;

use bytes::Bytes;

use super::metadata::Metadata;
use crate::error_code::ErrorCode;

/// The 17 gRPC status codes (grpc/doc/statuscodes.md).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[repr(i32)]
pub enum Code {
    /// Not an error.
    Ok = 0,
    /// The operation was cancelled, typically by the caller.
    Cancelled = 1,
    /// Unknown error.
    Unknown = 2,
    /// The client specified an invalid argument.
    InvalidArgument = 3,
    /// The deadline expired before the operation could complete.
    DeadlineExceeded = 4,
    /// Some requested entity was not found.
    NotFound = 5,
    /// The entity a client tried to create already exists.
    AlreadyExists = 6,
    /// The caller lacks permission.
    PermissionDenied = 7,
    /// Some resource has been exhausted.
    ResourceExhausted = 8,
    /// The system is not in a state required for the operation.
    FailedPrecondition = 9,
    /// The operation was aborted.
    Aborted = 10,
    /// The operation was attempted past the valid range.
    OutOfRange = 11,
    /// The operation is not implemented or supported.
    Unimplemented = 12,
    /// Internal error.
    Internal = 13,
    /// The service is currently unavailable.
    Unavailable = 14,
    /// Unrecoverable data loss or corruption.
    DataLoss = 15,
    /// The request lacks valid authentication credentials.
    Unauthenticated = 16,
}

impl Code {
    /// Every code, in numeric order.
    pub const ALL: [Code; 17] = [
        Code::Ok,
        Code::Cancelled,
        Code::Unknown,
        Code::InvalidArgument,
        Code::DeadlineExceeded,
        Code::NotFound,
        Code::AlreadyExists,
        Code::PermissionDenied,
        Code::ResourceExhausted,
        Code::FailedPrecondition,
        Code::Aborted,
        Code::OutOfRange,
        Code::Unimplemented,
        Code::Internal,
        Code::Unavailable,
        Code::DataLoss,
        Code::Unauthenticated,
    ];

    /// The code for a number; unknown numbers map to `Unknown` (as gRPC-Go).
    pub fn from_i32(n: i32) -> Code {
        usize::try_from(n).ok().and_then(|i| Code::ALL.get(i).copied()).unwrap_or(Code::Unknown)
    }

    /// The canonical upper-case name, e.g. `DEADLINE_EXCEEDED`.
    pub fn name(self) -> &'static str {
        match self {
            Code::Ok => "OK",
            Code::Cancelled => "CANCELLED",
            Code::Unknown => "UNKNOWN",
            Code::InvalidArgument => "INVALID_ARGUMENT",
            Code::DeadlineExceeded => "DEADLINE_EXCEEDED",
            Code::NotFound => "NOT_FOUND",
            Code::AlreadyExists => "ALREADY_EXISTS",
            Code::PermissionDenied => "PERMISSION_DENIED",
            Code::ResourceExhausted => "RESOURCE_EXHAUSTED",
            Code::FailedPrecondition => "FAILED_PRECONDITION",
            Code::Aborted => "ABORTED",
            Code::OutOfRange => "OUT_OF_RANGE",
            Code::Unimplemented => "UNIMPLEMENTED",
            Code::Internal => "INTERNAL",
            Code::Unavailable => "UNAVAILABLE",
            Code::DataLoss => "DATA_LOSS",
            Code::Unauthenticated => "UNAUTHENTICATED",
        }
    }

    /// The decimal form sent in `grpc-status` (no leading zeros).
    pub fn as_header_value(self) -> &'static [u8] {
        const DIGITS: [&[u8]; 17] = [
            b"0", b"1", b"2", b"3", b"4", b"5", b"6", b"7", b"8", b"9", b"10", b"11", b"12", b"13", b"14",
            b"15", b"16",
        ];
        DIGITS[self as usize]
    }

    /// Parses a `grpc-status` value: "a decimal-encoded integer ... without any
    /// leading zeros". Anything else is `None`.
    pub fn parse_header(v: &[u8]) -> Option<Code> {
        if v.is_empty() || v.len() > 10 || !v.iter().all(u8::is_ascii_digit) || (v.len() > 1 && v[0] == b'0')
        {
            return None;
        }
        let n = v.iter().fold(0i64, |acc, d| acc * 10 + i64::from(d - b'0'));
        Some(i32::try_from(n).map_or(Code::Unknown, Code::from_i32))
    }

    /// The gRPC code for an HTTP status when a response lacks `grpc-status`
    /// (grpc/doc/http-grpc-status-mapping.md).
    pub fn from_http_status(status: u16) -> Code {
        match status {
            400 => Code::Internal,
            401 => Code::Unauthenticated,
            403 => Code::PermissionDenied,
            404 => Code::Unimplemented,
            429 | 502 | 503 | 504 => Code::Unavailable,
            _ => Code::Unknown,
        }
    }

    /// The gRPC code for a RST_STREAM error code (PROTOCOL-HTTP2 "Errors").
    pub fn from_h2_reset(code: ErrorCode) -> Code {
        match code {
            ErrorCode::REFUSED_STREAM => Code::Unavailable,
            ErrorCode::CANCEL => Code::Cancelled,
            ErrorCode::ENHANCE_YOUR_CALM => Code::ResourceExhausted,
            ErrorCode::INADEQUATE_SECURITY => Code::PermissionDenied,
            _ => Code::Internal,
        }
    }
}

impl fmt::Display for Code {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The outcome of a call: a code, a message, optional binary details (a
/// serialized `google.rpc.Status`, carried in `grpc-status-details-bin`),
/// metadata (sent as, or received from, trailers) and, for failures that did
/// not come from the peer, the underlying error.
#[derive(Clone)]
pub struct Status {
    /// The code.
    pub code: Code,
    /// A developer-facing message (UTF-8; percent-encoded on the wire).
    pub message: String,
    /// Binary details, empty when absent.
    pub details: Bytes,
    /// Trailing metadata that goes with the status.
    pub metadata: Metadata,
    /// The local error behind the status (I/O, TLS, ...), if any.
    pub source: Option<Arc<dyn std::error::Error + Send + Sync>>,
}

impl PartialEq for Status {
    /// Equal when what travels on the wire is equal (the source does not).
    fn eq(&self, other: &Self) -> bool {
        self.code == other.code
            && self.message == other.message
            && self.details == other.details
            && self.metadata == other.metadata
    }
}

impl Eq for Status {}

impl Status {
    /// A status with a code and message.
    pub fn new(code: Code, message: impl Into<String>) -> Self {
        Status {
            code,
            message: message.into(),
            details: Bytes::new(),
            metadata: Metadata::new(),
            source: None,
        }
    }

    /// Attaches trailing metadata.
    pub fn with_metadata(mut self, metadata: Metadata) -> Self {
        self.metadata = metadata;
        self
    }

    /// Attaches the error behind the status.
    pub fn with_source(mut self, source: impl std::error::Error + Send + Sync + 'static) -> Self {
        self.source = Some(Arc::new(source));
        self
    }

    /// The OK status.
    pub fn ok() -> Self {
        Status::new(Code::Ok, "")
    }

    /// Adds binary details.
    pub fn with_details(mut self, details: impl Into<Bytes>) -> Self {
        self.details = details.into();
        self
    }

    /// True for `Code::Ok`.
    pub fn is_ok(&self) -> bool {
        self.code == Code::Ok
    }

    /// The code.
    pub fn code(&self) -> Code {
        self.code
    }

    /// The developer-facing message (empty when there is none).
    pub fn message(&self) -> &str {
        &self.message
    }

    /// The binary details (`grpc-status-details-bin`, usually a serialized
    /// `google.rpc.Status`); empty when absent.
    pub fn details(&self) -> &Bytes {
        &self.details
    }

    /// The trailing metadata that goes with the status.
    pub fn metadata(&self) -> &Metadata {
        &self.metadata
    }
}

/// One constructor per non-OK code: `Status::not_found("no such user")` is
/// `Status::new(Code::NotFound, "no such user")`.
macro_rules! code_constructors {
    ($($(#[$doc:meta])* $name:ident => $code:ident;)*) => {
        impl Status {
            $(
                $(#[$doc])*
                pub fn $name(message: impl Into<String>) -> Self {
                    Status::new(Code::$code, message)
                }
            )*
        }
    };
}

code_constructors! {
    /// A `CANCELLED` status: the operation was cancelled, typically by the caller.
    cancelled => Cancelled;
    /// An `UNKNOWN` status: an error with no better code.
    unknown => Unknown;
    /// An `INVALID_ARGUMENT` status: the client specified an invalid argument.
    invalid_argument => InvalidArgument;
    /// A `DEADLINE_EXCEEDED` status: the deadline expired before the operation completed.
    deadline_exceeded => DeadlineExceeded;
    /// A `NOT_FOUND` status: some requested entity was not found.
    not_found => NotFound;
    /// An `ALREADY_EXISTS` status: the entity a client tried to create already exists.
    already_exists => AlreadyExists;
    /// A `PERMISSION_DENIED` status: the caller lacks permission.
    permission_denied => PermissionDenied;
    /// A `RESOURCE_EXHAUSTED` status: some resource (quota, space...) has been exhausted.
    resource_exhausted => ResourceExhausted;
    /// A `FAILED_PRECONDITION` status: the system is not in a state required for the operation.
    failed_precondition => FailedPrecondition;
    /// An `ABORTED` status: the operation was aborted (a concurrency conflict, typically).
    aborted => Aborted;
    /// An `OUT_OF_RANGE` status: the operation was attempted past the valid range.
    out_of_range => OutOfRange;
    /// An `UNIMPLEMENTED` status: the operation is not implemented or supported.
    unimplemented => Unimplemented;
    /// An `INTERNAL` status: an internal error.
    internal => Internal;
    /// An `UNAVAILABLE` status: the service is currently unavailable (retrying may help).
    unavailable => Unavailable;
    /// A `DATA_LOSS` status: unrecoverable data loss or corruption.
    data_loss => DataLoss;
    /// An `UNAUTHENTICATED` status: the request lacks valid authentication credentials.
    unauthenticated => Unauthenticated;
}

impl fmt::Debug for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("Status");
        d.field("code", &self.code).field("message", &self.message);
        if !self.details.is_empty() {
            d.field("details", &self.details.len());
        }
        if !self.metadata.is_empty() {
            d.field("metadata", &self.metadata);
        }
        if let Some(s) = &self.source {
            d.field("source", s);
        }
        d.finish()
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.message.is_empty() {
            write!(f, "{}", self.code)
        } else {
            write!(f, "{}: {}", self.code, self.message)
        }
    }
}

impl std::error::Error for Status {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.source.as_deref().map(|e| e as &(dyn std::error::Error + 'static))
    }
}

/// Percent-encodes a status message: bytes outside 0x20..=0x7E, and '%',
/// become `%XX` (PROTOCOL-HTTP2 "Percent-Encoded").
pub fn percent_encode(msg: &str) -> Bytes {
    let needs = |b: u8| !(0x20..=0x7e).contains(&b) || b == b'%';
    if !msg.bytes().any(needs) {
        return Bytes::copy_from_slice(msg.as_bytes());
    }
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    let mut out = Vec::with_capacity(msg.len() * 3);
    for b in msg.bytes() {
        if needs(b) {
            out.extend_from_slice(&[b'%', HEX[usize::from(b >> 4)], HEX[usize::from(b & 15)]]);
        } else {
            out.push(b);
        }
    }
    out.into()
}

/// Decodes a percent-encoded status message. Broken `%` sequences are kept
/// as they are ("implementations MUST NOT error or throw away the message");
/// invalid UTF-8 is replaced.
pub fn percent_decode(v: &[u8]) -> String {
    let hex = |b: u8| match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    };
    let mut out = Vec::with_capacity(v.len());
    let mut i = 0;
    while i < v.len() {
        if v[i] == b'%'
            && let (Some(h), Some(l)) =
                (v.get(i + 1).and_then(|&b| hex(b)), v.get(i + 2).and_then(|&b| hex(b)))
        {
            out.push(h << 4 | l);
            i += 3;
            continue;
        }
        out.push(v[i]);
        i += 1;
    }
    String::from_utf8(out).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn all_seventeen_codes_round_trip_with_names() {
        for (i, code) in Code::ALL.iter().enumerate() {
            assert_eq!(*code as i32, i as i32);
            assert_eq!(Code::from_i32(i as i32), *code);
            assert_eq!(Code::parse_header(code.as_header_value()), Some(*code));
        }
        assert_eq!(Code::DeadlineExceeded.name(), "DEADLINE_EXCEEDED");
        assert_eq!(Code::from_i32(99), Code::Unknown);
        assert_eq!(Code::parse_header(b"01"), None, "no leading zeros");
        assert_eq!(Code::parse_header(b"x"), None);
        assert_eq!(Code::parse_header(b"2147483648"), Some(Code::Unknown));
    }

    #[test]
    fn percent_encoding_round_trips_unicode_and_percent() {
        let msg = "\t\ntest with whitespace\r\nand Unicode BMP ☺ and non-BMP 😈\t\n 100%";
        let enc = percent_encode(msg);
        assert!(enc.iter().all(|b| (0x20..=0x7e).contains(b)));
        assert!(enc.starts_with(b"%09%0Atest with whitespace"));
        assert_eq!(percent_decode(&enc), msg);
        assert_eq!(&percent_encode("plain")[..], b"plain");
    }

    #[test]
    fn broken_percent_sequences_are_kept() {
        assert_eq!(percent_decode(b"50%"), "50%");
        assert_eq!(percent_decode(b"%zz%4"), "%zz%4");
        assert_eq!(percent_decode(b"%E2%98%BA"), "☺");
        assert_eq!(percent_decode(b"%FF"), "\u{FFFD}");
    }

    #[test]
    fn a_constructor_per_code() {
        type Make = fn(String) -> Status;
        let made: [(Make, Code); 16] = [
            (Status::cancelled, Code::Cancelled),
            (Status::unknown, Code::Unknown),
            (Status::invalid_argument, Code::InvalidArgument),
            (Status::deadline_exceeded, Code::DeadlineExceeded),
            (Status::not_found, Code::NotFound),
            (Status::already_exists, Code::AlreadyExists),
            (Status::permission_denied, Code::PermissionDenied),
            (Status::resource_exhausted, Code::ResourceExhausted),
            (Status::failed_precondition, Code::FailedPrecondition),
            (Status::aborted, Code::Aborted),
            (Status::out_of_range, Code::OutOfRange),
            (Status::unimplemented, Code::Unimplemented),
            (Status::internal, Code::Internal),
            (Status::unavailable, Code::Unavailable),
            (Status::data_loss, Code::DataLoss),
            (Status::unauthenticated, Code::Unauthenticated),
        ];
        // Every code but OK, each once, in order.
        assert_eq!(made.iter().map(|(_, c)| *c).collect::<Vec<_>>(), Code::ALL[1..]);
        for (make, code) in made {
            let st = make(format!("{} happened", code.name()));
            assert_eq!(st, Status::new(code, format!("{} happened", code.name())));
            assert_eq!(st.code(), code);
            assert_eq!(st.message(), format!("{} happened", code.name()));
            assert!(st.details().is_empty() && st.metadata().is_empty() && !st.is_ok());
        }
        assert_eq!(Status::ok().code(), Code::Ok);
        assert!(Status::ok().is_ok());
        // `impl Into<String>`: borrowed and owned strings alike.
        assert_eq!(Status::not_found("gone").message(), "gone");
        assert_eq!(Status::internal(String::from("boom")).message(), "boom");
    }

    #[test]
    fn getters_read_the_fields() {
        let mut md = Metadata::new();
        md.insert("retry-hint", "later").unwrap();
        let st = Status::unavailable("down").with_details(vec![8u8, 3]).with_metadata(md.clone());
        assert_eq!(st.code(), Code::Unavailable);
        assert_eq!(st.message(), "down");
        assert_eq!(&st.details()[..], [8, 3]);
        assert_eq!(st.metadata(), &md);
        assert_eq!(st.metadata().get("retry-hint").map(|v| &v[..]), Some(&b"later"[..]));
    }

    #[test]
    fn http_and_reset_mappings() {
        assert_eq!(Code::from_http_status(404), Code::Unimplemented);
        assert_eq!(Code::from_http_status(503), Code::Unavailable);
        assert_eq!(Code::from_http_status(418), Code::Unknown);
        assert_eq!(Code::from_h2_reset(ErrorCode::REFUSED_STREAM), Code::Unavailable);
        assert_eq!(Code::from_h2_reset(ErrorCode::CANCEL), Code::Cancelled);
        assert_eq!(Code::from_h2_reset(ErrorCode::PROTOCOL_ERROR), Code::Internal);
    }
}
