//! Rapid Reset (CVE-2023-44487): streams opened and cancelled at once, so
//! the server starts work for each while the client's concurrency never rises.

use std::time::Duration;

use weir_core::ErrorCode;

use crate::harness::*;

/// CVE-2023-44487 Rapid Reset: HEADERS + RST_STREAM(CANCEL) pairs in a flood,
/// each opening a bidi call (so the server starts a handler for it). Limit:
/// `Config::max_resets_per_window` per `Config::reset_window`; reaction:
/// GOAWAY ENHANCE_YOUR_CALM. Memory: at most the concurrent-stream limit's
/// worth of live streams on one connection.
#[test]
fn rapid_reset_flood_gets_enhance_your_calm() {
    let _serial = serial();
    let server = TestServer::start(|s| s);
    let h2 = server.config.h2.clone();
    let pairs = h2.max_resets_per_window as usize * 2;
    let mut attack = Vec::new();
    for i in 0..pairs as u32 {
        let id = 1 + 2 * i;
        attack.extend(request(id, path::BIDI, false));
        attack.extend(frames::rst_stream(id, ErrorCode::CANCEL.0));
    }
    let mut raw = Raw::open(server.addr, &[]);
    let meter = Meter::start();
    flood(&mut raw, &attack, 16 << 10);
    let g = expect_goaway(&mut raw, ErrorCode::ENHANCE_YOUR_CALM, Duration::from_secs(10), "Rapid Reset");
    assert!(
        g.last_stream_id.0 < 2 * pairs as u32,
        "the GOAWAY stops the flood before its end (last stream {})",
        g.last_stream_id.0
    );
    assert!(raw.wait_closed(Duration::from_secs(5)), "the server closes the connection");
    let bound = per_connection(&server.config) + h2.max_concurrent_streams as usize * PER_STREAM + SLACK;
    meter.assert_below(bound, "Rapid Reset");
    server.assert_still_serving();
}

/// CVE-2023-44487 Rapid Reset below the limit: resets spread so that no
/// window holds more than `Config::max_resets_per_window` are legitimate
/// cancellations; the connection keeps serving calls.
#[test]
fn resets_below_the_limit_are_tolerated() {
    let _serial = serial();
    let server = TestServer::start(|mut s| {
        s.config_mut().h2.max_resets_per_window = 50;
        s.config_mut().h2.reset_window = Duration::from_millis(200);
        s
    });
    let mut raw = Raw::open(server.addr, &[]);
    let meter = Meter::start();
    let mut id = 1;
    for _ in 0..4 {
        let mut burst = Vec::new();
        for _ in 0..40 {
            burst.extend(request(id, path::BIDI, false));
            burst.extend(frames::rst_stream(id, ErrorCode::CANCEL.0));
            id += 2;
        }
        assert!(raw.send(&burst));
        std::thread::sleep(Duration::from_millis(250));
    }
    assert!(raw.send(&unary_call(id, b"after the resets")));
    let end = raw.stream_end(id, Duration::from_secs(5)).expect("the call after the resets ends");
    assert_eq!(end.grpc_status, Some(0), "{end:?}");
    assert!(raw.goaway.is_none(), "no GOAWAY for resets under the limit: {:?}", raw.goaway);
    let h2 = &server.config.h2;
    meter.assert_below(
        per_connection(&server.config) + h2.max_concurrent_streams as usize * PER_STREAM + SLACK,
        "resets below the limit",
    );
    server.assert_still_serving();
}
