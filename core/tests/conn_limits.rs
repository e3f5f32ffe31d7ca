//! Every limit holds under a flood fed through `handle_input`: the connection
//! answers with the right GOAWAY and its queues and buffers stay bounded.

mod support;

use std::time::Duration;

use bytes::Bytes;
use support::*;
use weir_core::ErrorCode;
use weir_core::conn::{Config, ConnectionErrorKind, Limit, StreamError};
use weir_core::frame::{Continuation, Frame, Headers as HeadersFrame, Ping, Settings, StreamId};

fn limit_of(p: &Peer) -> Option<Limit> {
    match p.conn.error().map(|e| e.kind) {
        Some(ConnectionErrorKind::Limit(l)) => Some(l),
        _ => None,
    }
}

#[test]
fn rapid_reset_flood_is_cut_off() {
    // CVE-2023-44487: HEADERS immediately followed by RST_STREAM, repeatedly.
    let cfg = Config { max_resets_per_window: 100, ..Config::default() };
    let mut p = Peer::server(cfg);
    let mut id = 1;
    let mut max_live = 0;
    while p.conn.is_open() && id < 10_000 {
        p.request(id, false);
        p.send(rst(id, ErrorCode::CANCEL));
        max_live = max_live.max(p.conn.stats().live_streams);
        p.drain_events();
        p.take_frames();
        id += 2;
    }
    assert_eq!(limit_of(&p), Some(Limit::Resets));
    assert!(id <= 2 * 102 + 1, "cut off right after the limit: stream {id}");
    assert!(max_live <= 1, "reset streams are not kept: {max_live}");
}

#[test]
fn resets_spread_over_time_are_fine() {
    let cfg = Config { max_resets_per_window: 10, reset_window: Duration::from_secs(1), ..Config::default() };
    let mut p = Peer::server(cfg);
    let mut id = 1;
    for _ in 0..100 {
        p.request(id, false);
        p.send(rst(id, ErrorCode::CANCEL));
        id += 2;
        p.advance(Duration::from_millis(200));
        p.take_frames();
    }
    assert!(!p.conn.is_closed(), "5 resets per second is under 10");
}

#[test]
fn continuation_flood_is_cut_off() {
    // 2024 CONTINUATION flood: a header block that never ends.
    let cfg = Config { max_continuation_frames: 32, ..Config::default() };
    let mut p = Peer::server(cfg);
    p.send(Frame::Headers(HeadersFrame {
        stream_id: StreamId(1),
        fragment: Bytes::from_static(&[0x82]),
        end_stream: true,
        end_headers: false,
        priority: None,
        pad_len: None,
    }));
    let mut sent = 0;
    while p.conn.is_open() && sent < 10_000 {
        p.send(Frame::Continuation(Continuation {
            stream_id: StreamId(1),
            fragment: Bytes::new(),
            end_headers: false,
        }));
        sent += 1;
        p.take_frames();
    }
    assert_eq!(limit_of(&p), Some(Limit::ContinuationFrames));
    assert!(sent <= 33, "{sent} frames accepted");
}

#[test]
fn continuation_bytes_are_bounded() {
    let cfg = Config { max_continuation_frames: 10_000, max_header_list_size: 16 << 10, ..Config::default() };
    let mut p = Peer::server(cfg);
    p.send(Frame::Headers(HeadersFrame {
        stream_id: StreamId(1),
        fragment: Bytes::from_static(&[0x82]),
        end_stream: true,
        end_headers: false,
        priority: None,
        pad_len: None,
    }));
    static CHUNK: [u8; 16_000] = [0x82; 16_000];
    let mut sent = 0usize;
    while p.conn.is_open() && sent < 10 << 20 {
        p.send(Frame::Continuation(Continuation {
            stream_id: StreamId(1),
            fragment: Bytes::from_static(&CHUNK),
            end_headers: false,
        }));
        sent += CHUNK.len();
    }
    assert_eq!(limit_of(&p), Some(Limit::HeaderBlockSize));
    assert!(sent <= 80_000, "buffered at most ~64 KiB: {sent}");
}

#[test]
fn hpack_bomb_is_not_delivered() {
    // One large dynamic-table entry referenced thousands of times: tiny on the
    // wire, huge decoded. Decoding stops emitting at the list limit.
    let mut p = Peer::server(Config { max_header_list_size: 16 << 10, ..Config::default() });
    let mut block = p.block(REQUEST);
    // Literal with incremental indexing, new name "bomb", 4000-octet value
    // (RFC 7541 §6.2.1; length 4000 = 127 + 0x21 + 30 * 128).
    block.extend_from_slice(&[0x40, 4]);
    block.extend_from_slice(b"bomb");
    block.extend_from_slice(&[0x7f, 0xa1, 0x1e]);
    block.extend(std::iter::repeat_n(b'x', 4000));
    // Then the new entry (dynamic index 62) referenced 10,000 times: 40 MB decoded.
    block.extend(std::iter::repeat_n(0x80 | 62u8, 10_000));
    p.send_block(1, &block, true, 16_384);
    let ev = p.drain_events();
    assert!(ev.iter().all(|e| !matches!(e, weir_core::conn::Event::Headers { .. })));
    assert!(!p.conn.is_closed(), "answered per stream, not per connection");
    let frames = p.take_frames();
    assert!(frames.iter().any(|f| matches!(f, Frame::Headers(h) if h.stream_id == StreamId(1))), "431 sent");
}

#[test]
fn ping_flood_from_a_peer_that_does_not_read() {
    let cfg = Config { max_pending_control_frames: 100, ..Config::default() };
    let mut p = Peer::server(cfg);
    let mut sent = 0;
    // Never poll_transmit: the answers pile up until the limit.
    while p.conn.is_open() && sent < 100_000 {
        p.send(Frame::Ping(Ping { ack: false, payload: [1; 8] }));
        sent += 1;
        assert!(p.conn.stats().pending_control_frames <= 101);
    }
    assert_eq!(limit_of(&p), Some(Limit::PendingControlFrames));
    assert_goaway(&mut p, ErrorCode::ENHANCE_YOUR_CALM);
}

#[test]
fn ping_flood_from_a_reading_peer_is_answered() {
    let cfg = Config { max_pending_control_frames: 100, ..Config::default() };
    let mut p = Peer::server(cfg);
    for _ in 0..10_000 {
        p.send(Frame::Ping(Ping { ack: false, payload: [1; 8] }));
        let mut sink = Vec::new();
        p.conn.poll_transmit(p.now, &mut sink);
    }
    assert!(!p.conn.is_closed());
}

#[test]
fn settings_flood_is_cut_off() {
    let cfg = Config { max_pending_control_frames: 100, ..Config::default() };
    let mut p = Peer::server(cfg);
    let mut sent = 0;
    while p.conn.is_open() && sent < 100_000 {
        p.send(settings(Settings { header_table_size: Some(sent % 4096), ..Settings::default() }));
        sent += 1;
    }
    assert_eq!(limit_of(&p), Some(Limit::PendingControlFrames));
    assert!(sent <= 101);
}

#[test]
fn empty_data_flood_is_cut_off() {
    // CVE-2019-9518: empty DATA frames cost work and carry nothing.
    let cfg = Config { max_empty_data_frames: 50, ..Config::default() };
    let mut p = Peer::server(cfg);
    p.request(1, false);
    let mut sent = 0;
    while p.conn.is_open() && sent < 100_000 {
        p.send(data(1, b"", false));
        sent += 1;
    }
    assert_eq!(limit_of(&p), Some(Limit::EmptyDataFrames));
    assert!(sent <= 51);
}

#[test]
fn empty_data_on_a_stream_we_reset_is_counted_too() {
    // The frames are ignored after our RST_STREAM (§5.4.2), but each still
    // costs work: they count toward the same limit.
    let cfg = Config { max_empty_data_frames: 50, ..Config::default() };
    let mut p = Peer::server(cfg);
    p.request(1, false);
    p.conn.reset_stream(StreamId(1), ErrorCode::CANCEL).unwrap();
    p.take_frames();
    let mut sent = 0;
    while p.conn.is_open() && sent < 100_000 {
        p.send(data(1, b"", false));
        sent += 1;
    }
    assert_eq!(limit_of(&p), Some(Limit::EmptyDataFrames));
    assert!(sent <= 51, "cut off after {sent}");
}

#[test]
fn refusals_before_our_settings_are_acknowledged_are_not_abuse() {
    // A client that opens streams before it has seen our SETTINGS cannot
    // know our limit (RFC 9113 §6.5.3): its excess is refused, not counted.
    // Once it acknowledged them, refusals count again.
    let cfg = Config { max_concurrent_streams: 1, max_refused_streams_per_window: 20, ..Config::default() };
    let now = std::time::Instant::now();
    let mut p = Peer::raw(weir_core::conn::Connection::new(weir_core::conn::Role::Server, cfg, now), now);
    p.conn.handle_input(now, weir_core::conn::PREFACE);
    p.send(settings(Settings::default()));
    p.request(1, false);
    let mut id = 3;
    for _ in 0..100 {
        p.request(id, false);
        id += 2;
    }
    let frames = p.take_frames();
    assert!(p.conn.is_open(), "100 refusals before the acknowledgement: {:?}", p.conn.error());
    assert_eq!(resets(&frames).iter().filter(|(_, c)| *c == ErrorCode::REFUSED_STREAM).count(), 100);
    p.send(settings_ack());
    let mut after = 0;
    while p.conn.is_open() && after < 1_000 {
        p.request(id, false);
        p.take_frames();
        id += 2;
        after += 1;
    }
    assert_eq!(limit_of(&p), Some(Limit::RefusedStreams));
    assert!(after <= 21, "counted again after the acknowledgement: {after}");
}

#[test]
fn streams_beyond_the_limit_flood_is_cut_off() {
    let cfg = Config { max_concurrent_streams: 1, max_refused_streams_per_window: 20, ..Config::default() };
    let mut p = Peer::server(cfg);
    p.request(1, false);
    let mut id = 3;
    while p.conn.is_open() && id < 100_000 {
        p.request(id, false);
        p.take_frames();
        id += 2;
    }
    assert_eq!(limit_of(&p), Some(Limit::RefusedStreams));
    assert!(p.conn.stats().live_streams <= 1);
}

#[test]
fn window_update_flood_is_harmless_until_overflow() {
    let mut p = Peer::server(Config::default());
    p.request(1, false);
    for _ in 0..10_000 {
        p.send(Frame::WindowUpdate(weir_core::frame::WindowUpdate { stream_id: StreamId(1), increment: 1 }));
    }
    assert!(!p.conn.is_closed());
    assert!(p.take_frames().iter().all(|f| !matches!(f, Frame::RstStream(_))));
    p.send(Frame::WindowUpdate(weir_core::frame::WindowUpdate {
        stream_id: StreamId(1),
        increment: 0x7fff_ffff,
    }));
    assert_reset(&mut p, 1, ErrorCode::FLOW_CONTROL_ERROR);
}

#[test]
fn send_buffers_are_bounded_per_stream_and_connection() {
    let cfg = Config {
        max_send_buffer_per_stream: 64 << 10,
        max_send_buffer_per_connection: 256 << 10,
        ..Config::default()
    };
    let mut c = Peer::client(cfg);
    // A peer that never grants window: nothing drains.
    c.send(settings(Settings { initial_window_size: Some(0), ..Settings::default() }));
    let chunk = Bytes::from(vec![0u8; 16 << 10]);
    let mut ids = Vec::new();
    for _ in 0..8 {
        let id = c.conn.open_stream(request_headers(), false).unwrap();
        ids.push(id);
        let mut accepted = 0;
        while c.conn.send_data(id, chunk.clone(), false).is_ok() {
            accepted += chunk.len();
            assert!(accepted <= (64 << 10) + chunk.len(), "stream bound");
        }
    }
    c.take_frames();
    let buffered = c.conn.stats().send_buffered;
    assert!(buffered <= (256 << 10) + chunk.len(), "connection bound: {buffered}");
    assert_eq!(c.conn.send_data(ids[7], chunk, false), Err(StreamError::BufferFull));
}

#[test]
fn receive_buffers_are_bounded_by_the_windows() {
    // A peer that floods data on many streams while the owner never reads:
    // the connection window caps what is buffered.
    let cfg = Config {
        initial_stream_window: 1 << 20,
        initial_connection_window: 1 << 20,
        bdp_window_growth: false,
        ..Config::default()
    };
    let mut p = Peer::server(cfg);
    static CHUNK: [u8; 16_384] = [7; 16_384];
    let mut id = 1;
    while p.conn.is_open() && id < 200 {
        p.request(id, false);
        for _ in 0..4 {
            p.send(data(id, &CHUNK, false));
        }
        id += 2;
    }
    assert!(p.conn.stats().recv_buffered <= 1 << 20, "{}", p.conn.stats().recv_buffered);
    assert_goaway(&mut p, ErrorCode::FLOW_CONTROL_ERROR);
}
