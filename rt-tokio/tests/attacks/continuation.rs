//! CONTINUATION floods (the 2024 family: CVE-2024-27316, CVE-2024-27983,
//! CVE-2024-28182 and others): a header block that never ends.

use std::time::Duration;

use weir_core::ErrorCode;

use crate::harness::*;

/// HEADERS without END_HEADERS opening a block.
fn open_block(stream: u32, fragment: Vec<u8>) -> Vec<u8> {
    frames::headers(&frames::HeadersParam {
        stream,
        block: fragment,
        end_headers: false,
        ..Default::default()
    })
}

/// CONTINUATION flood (2024 family), many tiny frames: endless CONTINUATION
/// frames of one octet without END_HEADERS. Limit:
/// `Config::max_continuation_frames`; reaction: GOAWAY ENHANCE_YOUR_CALM.
/// Memory: one connection's bound (the block assembled is tiny).
#[test]
fn continuation_flood_of_small_frames_is_cut_off() {
    let _serial = serial();
    let server = TestServer::start(|s| s);
    let frames_sent = 20_000;
    let mut attack = open_block(1, request_block(path::UNARY, &[]));
    for _ in 0..frames_sent {
        attack.extend(frames::continuation(1, false, &[0x80 | 1]));
    }
    let mut raw = Raw::open(server.addr, &[]);
    let meter = Meter::start();
    flood(&mut raw, &attack, 16 << 10);
    expect_goaway(&mut raw, ErrorCode::ENHANCE_YOUR_CALM, Duration::from_secs(10), "CONTINUATION flood");
    assert!(raw.wait_closed(Duration::from_secs(5)), "the server closes the connection");
    meter.assert_below(per_connection(&server.config) + SLACK, "CONTINUATION flood (small frames)");
    server.assert_still_serving();
}

/// CONTINUATION flood (2024 family), full-size frames: 1000 frames of
/// 16 KiB (16 MB if buffered). Limit: the block's encoded size (twice
/// `Config::max_header_list_size`, at least 64 KiB) and
/// `Config::max_continuation_frames`; reaction: GOAWAY ENHANCE_YOUR_CALM.
/// Memory: one connection's bound, which counts one block at its limit.
#[test]
fn continuation_flood_of_large_frames_is_cut_off() {
    let _serial = serial();
    let server = TestServer::start(|s| s);
    let max_frame = server.config.h2.max_frame_size as usize;
    let mut attack = open_block(1, request_block(path::UNARY, &[]));
    let filler = vec![0x80 | 1; max_frame];
    for _ in 0..1000 {
        attack.extend(frames::continuation(1, false, &filler));
    }
    let mut raw = Raw::open(server.addr, &[]);
    let meter = Meter::start();
    flood(&mut raw, &attack, 64 << 10);
    expect_goaway(&mut raw, ErrorCode::ENHANCE_YOUR_CALM, Duration::from_secs(10), "CONTINUATION flood");
    drop(attack);
    meter.assert_below(per_connection(&server.config) + SLACK, "CONTINUATION flood (large frames)");
    server.assert_still_serving();
}

/// CONTINUATION flood (2024 family) interleaved: a frame of another kind
/// (here PING) inside an unfinished block. RFC 9113 §6.10: PROTOCOL_ERROR.
#[test]
fn frame_inside_a_header_block_is_a_protocol_error() {
    let _serial = serial();
    let server = TestServer::start(|s| s);
    let mut raw = Raw::open(server.addr, &[]);
    let meter = Meter::start();
    let mut attack = open_block(1, request_block(path::UNARY, &[]));
    attack.extend(frames::ping(false, *b"sneaky!!"));
    raw.send(&attack);
    expect_goaway(&mut raw, ErrorCode::PROTOCOL_ERROR, Duration::from_secs(5), "interleaved CONTINUATION");
    meter.assert_below(per_connection(&server.config) + SLACK, "interleaved CONTINUATION");
    server.assert_still_serving();
}
