//! `grpc-timeout`: "TimeoutValue TimeoutUnit", at most 8 digits, units
//! H M S m u n (PROTOCOL-HTTP2 "Timeout").

use std::time::Duration;

/// The largest TimeoutValue: 8 digits.
const MAX_VALUE: u64 = 99_999_999;

/// Why a `grpc-timeout` value was rejected.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TimeoutError {
    /// Empty, or no unit.
    TooShort,
    /// More than 8 digits.
    TooManyDigits,
    /// A non-digit in the value.
    NotADigit,
    /// A unit other than H M S m u n.
    UnknownUnit,
}

/// Parses a `grpc-timeout` header value.
pub fn parse_timeout(v: &[u8]) -> Result<Duration, TimeoutError> {
    let Some((&unit, digits)) = v.split_last() else {
        return Err(TimeoutError::TooShort);
    };
    if digits.is_empty() {
        return Err(TimeoutError::TooShort);
    }
    if digits.len() > 8 {
        return Err(TimeoutError::TooManyDigits);
    }
    if !digits.iter().all(u8::is_ascii_digit) {
        return Err(TimeoutError::NotADigit);
    }
    let n = digits.iter().fold(0u64, |acc, d| acc * 10 + u64::from(d - b'0'));
    Ok(match unit {
        b'H' => Duration::from_secs(n * 3600),
        b'M' => Duration::from_secs(n * 60),
        b'S' => Duration::from_secs(n),
        b'm' => Duration::from_millis(n),
        b'u' => Duration::from_micros(n),
        b'n' => Duration::from_nanos(n),
        _ => return Err(TimeoutError::UnknownUnit),
    })
}

/// Formats a timeout in the finest unit whose value fits in 8 digits, rounding
/// up so the peer never sees a shorter deadline than ours.
pub fn format_timeout(d: Duration) -> String {
    const UNITS: [(u128, char); 6] = [
        (1, 'n'),
        (1_000, 'u'),
        (1_000_000, 'm'),
        (1_000_000_000, 'S'),
        (60_000_000_000, 'M'),
        (3_600_000_000_000, 'H'),
    ];
    let nanos = d.as_nanos();
    for (unit, c) in UNITS {
        let v = nanos.div_ceil(unit);
        if v <= u128::from(MAX_VALUE) {
            return format!("{v}{c}");
        }
    }
    format!("{MAX_VALUE}H")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_unit() {
        let cases: [(&[u8], Duration); 7] = [
            (b"1H", Duration::from_secs(3600)),
            (b"2M", Duration::from_secs(120)),
            (b"3S", Duration::from_secs(3)),
            (b"4m", Duration::from_millis(4)),
            (b"5u", Duration::from_micros(5)),
            (b"6n", Duration::from_nanos(6)),
            (b"99999999S", Duration::from_secs(99_999_999)),
        ];
        for (v, d) in cases {
            assert_eq!(parse_timeout(v), Ok(d), "{}", String::from_utf8_lossy(v));
        }
    }

    #[test]
    fn rejects_malformed_values() {
        assert_eq!(parse_timeout(b""), Err(TimeoutError::TooShort));
        assert_eq!(parse_timeout(b"S"), Err(TimeoutError::TooShort));
        assert_eq!(parse_timeout(b"123456789S"), Err(TimeoutError::TooManyDigits));
        assert_eq!(parse_timeout(b"1.5S"), Err(TimeoutError::NotADigit));
        assert_eq!(parse_timeout(b"-1S"), Err(TimeoutError::NotADigit));
        assert_eq!(parse_timeout(b"10s"), Err(TimeoutError::UnknownUnit));
        assert_eq!(parse_timeout(b"10"), Err(TimeoutError::UnknownUnit));
    }

    #[test]
    fn formats_in_the_finest_fitting_unit_rounding_up() {
        assert_eq!(format_timeout(Duration::from_nanos(500)), "500n");
        assert_eq!(format_timeout(Duration::from_millis(100)), "100000u");
        assert_eq!(format_timeout(Duration::from_secs(1)), "1000000u");
        assert_eq!(format_timeout(Duration::from_secs(3600 * 24)), "86400000m");
        assert_eq!(format_timeout(Duration::from_secs(1_000_000)), "1000000S");
        assert_eq!(format_timeout(Duration::new(1, 1)), "1000001u", "rounded up");
        for d in [Duration::from_nanos(1), Duration::from_millis(1234), Duration::from_secs(7 * 86_400)] {
            let s = format_timeout(d);
            let parsed = parse_timeout(s.as_bytes()).unwrap();
            assert!(parsed >= d && s.len() <= 9, "{s}");
        }
    }
}
