//! Header-block attacks: HPACK bombs, oversized header lists, zero-length
//! header names.

use std::time::Duration;

use weir_core::ErrorCode;
use weir_core::hpack::ENTRY_OVERHEAD;

use crate::harness::*;

/// A header block split into HEADERS + CONTINUATION frames of at most `max` octets.
fn split_block(stream: u32, block: &[u8], max: usize, end_stream: bool) -> Vec<u8> {
    let mut parts = block.chunks(max);
    let first = parts.next().unwrap_or(&[]);
    let rest: Vec<&[u8]> = parts.collect();
    let mut out = frames::headers(&frames::HeadersParam {
        stream,
        block: first.to_vec(),
        end_stream,
        end_headers: rest.is_empty(),
        ..Default::default()
    });
    for (i, part) in rest.iter().enumerate() {
        out.extend(frames::continuation(stream, i + 1 == rest.len(), part));
    }
    out
}

/// HPACK bomb (as CVE-2016-6581 and "HPACK Bomb" of the 2016 HTTP/2 audit):
/// one dynamic-table entry as large as the table allows, then referenced
/// with one octet each, tens of thousands of times in 60 KiB blocks (each
/// block would decode to ~240 MB). Limit: `Config::max_header_list_size`
/// enforced while decoding (fields past it are never materialized) and
/// `Config::header_table_size`; reaction: HTTP 431 per request (each
/// counted toward `Config::max_resets_per_window`), the HPACK table stays in
/// sync. Memory: one connection plus the header list limit.
#[test]
fn hpack_bomb_is_not_expanded() {
    let _serial = serial();
    let server = TestServer::start(|s| s);
    let h2 = server.config.h2.clone();
    let name = b"x-bomb";
    let value = vec![b'b'; h2.header_table_size as usize - ENTRY_OVERHEAD - name.len()];
    let max_frame = h2.max_frame_size as usize;
    let block_len = 60 << 10;
    let mut blocks = Vec::new();
    for i in 0..20u32 {
        let mut block = request_block(path::UNARY, &[]);
        if i == 0 {
            hpack_enc::literal_indexed(&mut block, name, &value);
        }
        while block.len() < block_len {
            hpack_enc::indexed(&mut block, 62);
        }
        blocks.push((1 + 2 * i, split_block(1 + 2 * i, &block, max_frame, true)));
    }
    let expanded = (block_len * (value.len() + name.len() + ENTRY_OVERHEAD)) as u64;
    let mut raw = Raw::open(server.addr, &[]);
    let meter = Meter::start();
    for (id, frames) in &blocks {
        assert!(raw.send(frames), "the server reads the bomb");
        let end = raw.stream_end(*id, Duration::from_secs(5)).expect("an answer to the bomb");
        assert_eq!(end.http_status, Some(431), "HPACK bomb on stream {id}: {end:?}");
    }
    let bound = per_connection(&server.config) + 2 * h2.max_header_list_size as usize + PER_STREAM + SLACK;
    assert!((bound as u64) < expanded / 50, "the bound is far below the expansion");
    meter.assert_below(bound, "HPACK bomb");
    // The table is still in sync: a normal call on the same connection works.
    assert!(raw.send(&unary_call(101, b"after the bomb")));
    let end = raw.stream_end(101, Duration::from_secs(5)).expect("a call after the bomb");
    assert_eq!(end.grpc_status, Some(0), "{end:?}");
    server.assert_still_serving();
}

/// Oversized header list (CVE-2016-6581 family, "large header" DoS): one
/// 64 KiB header value across CONTINUATION frames, then 10 000 tiny
/// headers. Limit: `Config::max_header_list_size` (SETTINGS_MAX_HEADER_LIST_SIZE);
/// reaction: HTTP 431 (RFC 9113 §10.5.1), the connection stays usable.
#[test]
fn oversized_header_list_gets_431() {
    let _serial = serial();
    let server = TestServer::start(|s| s);
    let h2 = server.config.h2.clone();
    let max_frame = h2.max_frame_size as usize;
    let big = vec![b'v'; (h2.max_header_list_size as usize).max(32 << 10)];
    let one_big = split_block(1, &request_block(path::UNARY, &[(b"x-big", &big)]), max_frame, true);
    let mut many = request_block(path::UNARY, &[]);
    for _ in 0..10_000 {
        hpack_enc::literal(&mut many, b"a", b"b");
    }
    let many = split_block(3, &many, max_frame, true);
    let mut raw = Raw::open(server.addr, &[]);
    let meter = Meter::start();
    assert!(raw.send(&one_big));
    let end = raw.stream_end(1, Duration::from_secs(5)).expect("an answer to the big header");
    assert_eq!(end.http_status, Some(431), "one big header: {end:?}");
    assert!(raw.send(&many));
    let end = raw.stream_end(3, Duration::from_secs(5)).expect("an answer to many headers");
    assert_eq!(end.http_status, Some(431), "many headers: {end:?}");
    assert!(raw.send(&unary_call(5, b"after")));
    let end = raw.stream_end(5, Duration::from_secs(5)).expect("a call after the big headers");
    assert_eq!(end.grpc_status, Some(0), "{end:?}");
    meter.assert_below(
        per_connection(&server.config) + 2 * h2.max_header_list_size as usize + PER_STREAM + SLACK,
        "oversized header list",
    );
    server.assert_still_serving();
}

/// Zero-length header names (malformed requests, RFC 9113 §8.2.1 / §8.1.1):
/// each request gets RST_STREAM(PROTOCOL_ERROR); a flood of them counts
/// toward `Config::max_resets_per_window` and ends with GOAWAY
/// ENHANCE_YOUR_CALM.
#[test]
fn zero_length_header_names_are_reset_then_cut_off() {
    let _serial = serial();
    let server = TestServer::start(|s| s);
    let h2 = server.config.h2.clone();
    let mut raw = Raw::open(server.addr, &[]);
    let meter = Meter::start();
    assert!(raw.send(&headers(1, request_block(path::UNARY, &[(b"", b"empty name")]), true)));
    let end = raw.stream_end(1, Duration::from_secs(5)).expect("an answer to an empty name");
    assert_eq!(end.reset, Some(ErrorCode::PROTOCOL_ERROR), "{end:?}");
    let mut attack = Vec::new();
    for i in 1..=h2.max_resets_per_window * 2 {
        attack.extend(headers(1 + 2 * i, request_block(path::UNARY, &[(b"", b"")]), true));
    }
    flood(&mut raw, &attack, 16 << 10);
    expect_goaway(&mut raw, ErrorCode::ENHANCE_YOUR_CALM, Duration::from_secs(10), "empty-name flood");
    assert!(
        raw.resets.iter().all(|(_, code)| *code == ErrorCode::PROTOCOL_ERROR),
        "every malformed request is reset with PROTOCOL_ERROR"
    );
    meter.assert_below(
        per_connection(&server.config) + h2.reset_stream_memory * PER_STREAM + SLACK,
        "zero-length header names",
    );
    server.assert_still_serving();
}
