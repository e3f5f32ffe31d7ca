//! Stream-id and stream-count attacks.

use std::time::Duration;

use weir_core::ErrorCode;
use weir_core::frame::StreamId;

use crate::harness::*;

/// Stream-id exhaustion (RFC 9113 §5.1.1): a client jumps straight to ids
/// near 2^31-1. Calls on them are served (no state proportional to the ids
/// skipped); a lower id afterwards, or reusing the last one, is a
/// connection PROTOCOL_ERROR (STREAM_CLOSED for the closed one).
#[test]
fn stream_ids_near_the_maximum() {
    let _serial = serial();
    let server = TestServer::start(|s| s);
    let mut raw = Raw::open(server.addr, &[]);
    let meter = Meter::start();
    let top = StreamId::MAX.0;
    for id in [top - 2, top] {
        assert!(raw.send(&unary_call(id, b"high")));
        let end = raw.stream_end(id, Duration::from_secs(5)).expect("a call on a high stream id");
        assert_eq!(end.grpc_status, Some(0), "stream {id}: {end:?}");
    }
    assert!(raw.send(&unary_call(5, b"going back")));
    expect_goaway(&mut raw, ErrorCode::PROTOCOL_ERROR, Duration::from_secs(5), "stream id going back");
    meter.assert_below(per_connection(&server.config) + 2 * PER_STREAM + SLACK, "stream-id exhaustion");
    server.assert_still_serving();
}

/// Streams beyond MAX_CONCURRENT_STREAMS (RFC 9113 §5.1.2): with 8 calls
/// open, each further HEADERS gets RST_STREAM(REFUSED_STREAM); refusing
/// more than `Config::max_refused_streams_per_window` per
/// `Config::reset_window` ends with GOAWAY ENHANCE_YOUR_CALM. Limit:
/// `Config::max_concurrent_streams` (`Server::max_concurrent_streams`).
#[test]
fn streams_beyond_max_concurrent_are_refused_then_cut_off() {
    let _serial = serial();
    let server = TestServer::start(|s| s.max_concurrent_streams(8));
    let h2 = server.config.h2.clone();
    let open = h2.max_concurrent_streams;
    let mut raw = Raw::open(server.addr, &[]);
    let meter = Meter::start();
    let mut attack = Vec::new();
    for i in 0..open {
        attack.extend(request(1 + 2 * i, path::BIDI, false));
    }
    assert!(raw.send(&attack));
    // The 9th stream is refused.
    let ninth = 1 + 2 * open;
    assert!(raw.send(&request(ninth, path::BIDI, false)));
    let end = raw.stream_end(ninth, Duration::from_secs(5)).expect("an answer to the extra stream");
    assert_eq!(end.reset, Some(ErrorCode::REFUSED_STREAM), "{end:?}");
    let mut flood_frames = Vec::new();
    for i in 1..=h2.max_refused_streams_per_window * 2 {
        flood_frames.extend(request(ninth + 2 * i, path::BIDI, false));
    }
    flood(&mut raw, &flood_frames, 16 << 10);
    expect_goaway(&mut raw, ErrorCode::ENHANCE_YOUR_CALM, Duration::from_secs(10), "refused-stream flood");
    let refused = raw.resets.iter().filter(|(_, c)| *c == ErrorCode::REFUSED_STREAM).count();
    assert!(refused >= 1, "refused streams are reset with REFUSED_STREAM");
    assert!(raw.resets.iter().all(|(id, _)| *id > 2 * open), "the calls within the limit are not reset");
    meter.assert_below(
        per_connection(&server.config) + open as usize * PER_STREAM + h2.reset_stream_memory * 64 + SLACK,
        "streams beyond MAX_CONCURRENT_STREAMS",
    );
    server.assert_still_serving();
}
