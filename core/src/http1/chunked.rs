//! The chunked transfer coding (RFC 9112 §7.1): chunk-size lines, strictly.
//! `httparse::parse_chunk_size` is not used: it takes an empty size as 0 and
//! any octet in extensions, which is how chunked bodies get smuggled past
//! proxies that disagree.

use super::{RequestError, ResponseError};

/// What can be wrong with a chunk-size line, on either side of a connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ChunkError {
    /// Empty, not hexadecimal, or over 2⁶⁴−1.
    InvalidSize,
    /// Extensions with a control character, or not starting with `;`.
    InvalidExtension,
    /// LF without CR.
    BareLf,
    /// CR without LF.
    BareCr,
    /// Longer than the limit.
    LineTooLong {
        /// The limit.
        max: usize,
    },
}

impl From<ChunkError> for RequestError {
    fn from(e: ChunkError) -> Self {
        match e {
            ChunkError::InvalidSize => RequestError::InvalidChunkSize,
            ChunkError::InvalidExtension => RequestError::InvalidChunkExtension,
            ChunkError::BareLf => RequestError::BareLf,
            ChunkError::BareCr => RequestError::BareCr,
            ChunkError::LineTooLong { max } => RequestError::ChunkLineTooLong { max },
        }
    }
}

impl From<ChunkError> for ResponseError {
    fn from(e: ChunkError) -> Self {
        match e {
            ChunkError::InvalidSize => ResponseError::InvalidChunkSize,
            ChunkError::InvalidExtension => ResponseError::InvalidChunkExtension,
            ChunkError::BareLf => ResponseError::BareLf,
            ChunkError::BareCr => ResponseError::BareCr,
            ChunkError::LineTooLong { max } => ResponseError::ChunkLineTooLong { max },
        }
    }
}

/// A parsed chunk-size line.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct ChunkLine {
    /// Octets of the line, CRLF included.
    pub(crate) len: usize,
    /// The chunk size (0: the last chunk; a trailer section follows).
    pub(crate) size: u64,
}

/// Parses the chunk-size line at the start of `buf`:
/// `1*HEXDIG *( BWS ";" ext ) CRLF`, at most `max` octets with its CRLF.
/// `Ok(None)`: more input needed. Octets are judged in order and only the
/// first `max` are looked at, so the result does not depend on how the input
/// was split.
pub(crate) fn parse_chunk_line(buf: &[u8], max: usize) -> Result<Option<ChunkLine>, ChunkError> {
    let limit = buf.len().min(max);
    let mut size: u64 = 0;
    let mut digits = 0;
    let mut i = 0;
    // The size.
    while i < limit && buf[i].is_ascii_hexdigit() {
        let d = (buf[i] as char).to_digit(16).unwrap_or(0);
        size =
            size.checked_mul(16).and_then(|s| s.checked_add(u64::from(d))).ok_or(ChunkError::InvalidSize)?;
        digits += 1;
        i += 1;
    }
    if i < limit && digits == 0 {
        return Err(ChunkError::InvalidSize);
    }
    // Whitespace before ';' (BWS), then extensions.
    let mut in_ext = false;
    let mut bws = false;
    while i < limit {
        match buf[i] {
            b'\r' => break,
            b'\n' => return Err(ChunkError::BareLf),
            b';' => in_ext = true,
            b' ' | b'\t' if !in_ext => bws = true,
            b if in_ext && (b == b'\t' || (b >= 0x20 && b != 0x7f)) => {}
            _ if in_ext || bws => return Err(ChunkError::InvalidExtension),
            _ => return Err(ChunkError::InvalidSize),
        }
        i += 1;
    }
    if i + 1 < limit {
        // buf[i] is CR.
        return match buf[i + 1] {
            b'\n' => Ok(Some(ChunkLine { len: i + 2, size })),
            _ => Err(ChunkError::BareCr),
        };
    }
    if buf.len() >= max {
        return Err(ChunkError::LineTooLong { max });
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(s: &[u8]) -> Result<Option<ChunkLine>, ChunkError> {
        parse_chunk_line(s, 64)
    }

    #[test]
    fn sizes_and_extensions() {
        assert_eq!(line(b"0\r\n"), Ok(Some(ChunkLine { len: 3, size: 0 })));
        assert_eq!(line(b"1a\r\nxx"), Ok(Some(ChunkLine { len: 4, size: 26 })));
        assert_eq!(line(b"FF;name=value\r\n"), Ok(Some(ChunkLine { len: 15, size: 255 })));
        assert_eq!(line(b"5 ;a;b=\"q s\"\r\n"), Ok(Some(ChunkLine { len: 14, size: 5 })));
        assert_eq!(line(b"ffffffffffffffff\r\n"), Ok(Some(ChunkLine { len: 18, size: u64::MAX })));
        assert_eq!(line(b"00000000000000000001\r\n"), Ok(Some(ChunkLine { len: 22, size: 1 })));
    }

    #[test]
    fn partial_lines_wait() {
        for partial in [&b""[..], b"1", b"1;", b"1;a=b", b"1\r"] {
            assert_eq!(line(partial), Ok(None), "{partial:?}");
        }
    }

    #[test]
    fn malformed_lines_are_typed_errors() {
        // RFC 9112 §7.1: chunk-size = 1*HEXDIG; recipients must guard against overflow.
        assert_eq!(line(b"\r\n"), Err(ChunkError::InvalidSize));
        assert_eq!(line(b";ext\r\n"), Err(ChunkError::InvalidSize));
        assert_eq!(line(b"-1\r\n"), Err(ChunkError::InvalidSize));
        assert_eq!(line(b"0x10\r\n"), Err(ChunkError::InvalidSize));
        assert_eq!(line(b"10000000000000000\r\n"), Err(ChunkError::InvalidSize));
        assert_eq!(line(b"5 5\r\n"), Err(ChunkError::InvalidExtension));
        assert_eq!(line(b"5;a\x00\r\n"), Err(ChunkError::InvalidExtension));
        assert_eq!(line(b"5\n"), Err(ChunkError::BareLf));
        assert_eq!(line(b"5;a\n"), Err(ChunkError::BareLf));
        assert_eq!(line(b"5\rx"), Err(ChunkError::BareCr));
    }

    #[test]
    fn line_limit_is_inclusive() {
        assert_eq!(parse_chunk_line(b"5;abc\r\n", 7), Ok(Some(ChunkLine { len: 7, size: 5 })));
        assert_eq!(parse_chunk_line(b"5;abc\r\n", 6), Err(ChunkError::LineTooLong { max: 6 }));
        assert_eq!(parse_chunk_line(b"5;abc", 5), Err(ChunkError::LineTooLong { max: 5 }));
        assert_eq!(parse_chunk_line(b"5;abc", 6), Ok(None));
    }
}
