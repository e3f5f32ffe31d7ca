//! W3C Trace Context (<https://www.w3.org/TR/trace-context/>) in gRPC
//! metadata: the `traceparent` and `tracestate` headers.

use std::str::FromStr;

use opentelemetry::Context;
use opentelemetry::trace::{SpanContext, SpanId, TraceContextExt, TraceFlags, TraceId, TraceState};
use weir_rt::Metadata;

/// The header carrying the trace id, parent span id and flags.
pub const TRACEPARENT: &str = "traceparent";
/// The header carrying vendor-specific trace state.
pub const TRACESTATE: &str = "tracestate";

/// Writes `cx`'s span context into `metadata` (replacing any there); does
/// nothing when `cx` has no valid span context.
pub fn inject(cx: &Context, metadata: &mut Metadata) {
    let span = cx.span();
    let sc = span.span_context();
    if !sc.is_valid() {
        return;
    }
    let parent = format!("00-{}-{}-{:02x}", sc.trace_id(), sc.span_id(), sc.trace_flags().to_u8() & 0x01);
    // Hex digits and dashes: always a valid metadata value.
    let _ = metadata.insert(TRACEPARENT, &parent);
    let state = sc.trace_state().header();
    // An empty (or unsendable) trace state leaves no stale one behind.
    if state.is_empty() || metadata.insert(TRACESTATE, &state).is_err() {
        metadata.remove(TRACESTATE);
    }
}

/// The remote span context `metadata` carries, if it carries a valid one.
pub fn extract(metadata: &Metadata) -> Option<SpanContext> {
    let (trace_id, span_id, flags) = parse_traceparent(metadata.get_str(TRACEPARENT)?)?;
    let state = metadata.get_str(TRACESTATE).and_then(|s| TraceState::from_str(s).ok()).unwrap_or_default();
    Some(SpanContext::new(trace_id, span_id, flags, true, state))
}

/// A context whose parent is the remote span `metadata` carries (the empty
/// context when it carries none).
pub fn extract_context(metadata: &Metadata) -> Context {
    match extract(metadata) {
        Some(sc) => Context::new().with_remote_span_context(sc),
        None => Context::new(),
    }
}

/// Parses a `traceparent` value as the W3C recommendation's section 3.2
/// says: version 00 is exactly `00-<32 hex>-<16 hex>-<2 hex>`, lowercase,
/// with non-zero ids; a higher version (but not `ff`) may append fields
/// after a dash, which are ignored.
fn parse_traceparent(value: &str) -> Option<(TraceId, SpanId, TraceFlags)> {
    let b = value.as_bytes();
    if b.len() < 55 || b[2] != b'-' || b[35] != b'-' || b[52] != b'-' {
        return None;
    }
    let version = &value[0..2];
    if !is_lower_hex(version) || version == "ff" {
        return None;
    }
    if version == "00" && b.len() != 55 {
        return None;
    }
    if b.len() > 55 && b[55] != b'-' {
        return None;
    }
    let (trace, span, flags) = (&value[3..35], &value[36..52], &value[53..55]);
    if !(is_lower_hex(trace) && is_lower_hex(span) && is_lower_hex(flags)) {
        return None;
    }
    let trace_id = TraceId::from_hex(trace).ok()?;
    let span_id = SpanId::from_hex(span).ok()?;
    if trace_id == TraceId::INVALID || span_id == SpanId::INVALID {
        return None;
    }
    let flags = u8::from_str_radix(flags, 16).ok()?;
    Some((trace_id, span_id, TraceFlags::new(flags & 0x01)))
}

fn is_lower_hex(s: &str) -> bool {
    s.bytes().all(|c| c.is_ascii_digit() || (b'a'..=b'f').contains(&c))
}

#[cfg(test)]
mod tests {
    use super::*;

    const PARENT: &str = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";

    #[test]
    fn round_trips_through_metadata() {
        let sc = SpanContext::new(
            TraceId::from_hex("0af7651916cd43dd8448eb211c80319c").unwrap(),
            SpanId::from_hex("b7ad6b7169203331").unwrap(),
            TraceFlags::SAMPLED,
            false,
            TraceState::from_str("vendor=value").unwrap(),
        );
        let mut md = Metadata::new();
        inject(&Context::new().with_remote_span_context(sc.clone()), &mut md);
        assert_eq!(md.get_str(TRACEPARENT), Some(PARENT));
        assert_eq!(md.get_str(TRACESTATE), Some("vendor=value"));
        let got = extract(&md).unwrap();
        assert_eq!(
            (got.trace_id(), got.span_id(), got.trace_flags()),
            (sc.trace_id(), sc.span_id(), sc.trace_flags())
        );
        assert!(got.is_remote());
        assert_eq!(got.trace_state().get("vendor"), Some("value"));
    }

    #[test]
    fn nothing_is_injected_without_a_span() {
        let mut md = Metadata::new();
        inject(&Context::new(), &mut md);
        assert!(md.get(TRACEPARENT).is_none());
    }

    #[test]
    fn malformed_values_are_ignored() {
        // W3C Trace Context, section 3.2.2: each of these must be rejected.
        for bad in [
            "",
            "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331",
            "00-0AF7651916CD43DD8448EB211C80319C-b7ad6b7169203331-01",
            "00-00000000000000000000000000000000-b7ad6b7169203331-01",
            "00-0af7651916cd43dd8448eb211c80319c-0000000000000000-01",
            "ff-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
            "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01-extra",
            "0g-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
            "00_0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
        ] {
            assert!(parse_traceparent(bad).is_none(), "{bad:?} accepted");
        }
        // A later version may append fields.
        assert!(parse_traceparent("01-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01-what").is_some());
        assert!(parse_traceparent(PARENT).is_some());
    }
}
