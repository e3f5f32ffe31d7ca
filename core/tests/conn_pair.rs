//! Client and server connections wired back to back in memory (the `Pair`
//! harness): bytes split at seeded random points, simulated time.

mod support;

use std::collections::HashMap;
use std::time::Duration;

use bytes::Bytes;
use support::request_headers;
use weir_core::ErrorCode;
use weir_core::conn::{Config, Connection, Event, HeadersKind, Initiator, OpenError, Read};
use weir_core::frame::StreamId;
use weir_core::headers::Headers;
use weir_core::sim::Pair;

fn pair(seed: u64) -> Pair {
    Pair::new(Config::default(), Config::default(), seed)
}

fn events(c: &mut Connection) -> Vec<Event> {
    std::iter::from_fn(|| c.poll_event()).collect()
}

/// Reads everything buffered on a stream; returns (bytes, finished).
fn read_all(c: &mut Connection, id: StreamId) -> (Vec<u8>, bool) {
    let mut out = Vec::new();
    loop {
        match c.read(id, usize::MAX) {
            Ok(Read::Data { data, fin }) => {
                out.extend_from_slice(&data);
                if fin {
                    return (out, true);
                }
            }
            Ok(Read::Pending) => return (out, false),
            Ok(Read::Finished) | Err(_) => return (out, true),
        }
    }
}

/// A pattern that makes misordered or lost bytes visible.
fn pattern(len: usize, salt: u8) -> Bytes {
    (0..len).map(|i| (i as u8).wrapping_mul(31).wrapping_add(salt)).collect::<Vec<u8>>().into()
}

#[test]
fn handshake_exchanges_and_acknowledges_settings() {
    let mut p = pair(1);
    p.drive();
    assert!(p.client.is_established() && p.server.is_established());
    assert!(events(&mut p.client).contains(&Event::Connected));
    assert!(events(&mut p.server).contains(&Event::Connected));
    // Both SETTINGS were acknowledged: no SETTINGS_TIMEOUT ever fires.
    p.advance(Duration::from_secs(60));
    p.drive();
    assert!(!p.client.is_closed() && !p.server.is_closed());
    assert_eq!(p.client.peer_max_concurrent_streams(), Config::default().max_concurrent_streams);
}

#[test]
fn request_response_with_trailers() {
    let mut p = pair(2);
    let id = p.client.open_stream(request_headers(), false).unwrap();
    p.client.send_data(id, Bytes::from_static(b"hello"), true).unwrap();
    p.drive();
    let ev = events(&mut p.server);
    let req = ev.iter().find_map(|e| match e {
        Event::Headers { stream, kind: HeadersKind::Request, headers, .. } => {
            Some((*stream, headers.clone()))
        }
        _ => None,
    });
    let (sid, headers) = req.expect("request headers");
    assert_eq!(sid, id);
    assert_eq!(headers.pseudo.path.as_deref(), Some(&b"/pkg.Svc/Method"[..]));
    assert_eq!(read_all(&mut p.server, sid), (b"hello".to_vec(), true));

    let mut resp = Headers::response(200);
    resp.push("content-type", "application/grpc");
    p.server.send_headers(sid, resp, false).unwrap();
    p.server.send_data(sid, Bytes::from_static(b"world"), false).unwrap();
    let mut trailers = Headers::trailers();
    trailers.push("grpc-status", "0");
    p.server.send_headers(sid, trailers, true).unwrap();
    p.drive();

    let ev = events(&mut p.client);
    let kinds: Vec<HeadersKind> = ev
        .iter()
        .filter_map(|e| match e {
            Event::Headers { kind, .. } => Some(*kind),
            _ => None,
        })
        .collect();
    assert_eq!(kinds, vec![HeadersKind::Response, HeadersKind::Trailers]);
    assert_eq!(read_all(&mut p.client, id), (b"world".to_vec(), true));
    assert!(events(&mut p.client).contains(&Event::StreamClosed { stream: id }));
    assert_eq!(p.client.active_local_streams(), 0);
    assert_eq!(p.server.active_peer_streams(), 0);
}

/// Echo server loop: answers every request with its body, reversed order of arrival.
fn serve_echo(p: &mut Pair, bodies: &mut HashMap<StreamId, Vec<u8>>) {
    for e in events(&mut p.server) {
        if let Event::Headers { stream, kind: HeadersKind::Request, .. } = e {
            bodies.entry(stream).or_default();
            p.server.send_headers(stream, Headers::response(200), false).unwrap();
        }
    }
    let ids: Vec<StreamId> = bodies.keys().copied().collect();
    for id in ids {
        let (data, fin) = read_all(&mut p.server, id);
        let body = bodies.get_mut(&id).unwrap();
        body.extend_from_slice(&data);
        if fin {
            let body = bodies.remove(&id).unwrap();
            p.server.send_data(id, Bytes::from(body), true).unwrap();
        }
    }
}

#[test]
fn many_concurrent_streams_beyond_the_peer_limit() {
    let server_cfg = Config { max_concurrent_streams: 10, ..Config::default() };
    let mut p = Pair::new(Config::default(), server_cfg, 3);
    p.drive(); // learn the limit first
    let mut expected = HashMap::new();
    for i in 0..200u32 {
        let id = p.client.open_stream(request_headers(), false).unwrap();
        let body = pattern(100 + i as usize * 7, i as u8);
        p.client.send_data(id, body.clone(), true).unwrap();
        expected.insert(id, body.to_vec());
    }
    let mut bodies = HashMap::new();
    let mut got: HashMap<StreamId, Vec<u8>> = HashMap::new();
    for _ in 0..1000 {
        p.drive_rounds(1);
        assert!(p.server.active_peer_streams() <= 10, "peer limit respected");
        serve_echo(&mut p, &mut bodies);
        for e in events(&mut p.client) {
            assert!(!matches!(e, Event::Reset { .. }), "no stream refused: {e:?}");
        }
        for id in expected.keys() {
            if let Ok(Read::Data { data, .. }) = p.client.read(*id, usize::MAX) {
                got.entry(*id).or_default().extend_from_slice(&data);
            }
        }
        if got.len() == expected.len() && got.iter().all(|(id, b)| b.len() == expected[id].len()) {
            break;
        }
    }
    assert_eq!(got, expected, "every stream echoed byte for byte");
}

/// Moves `len` bytes one way over a stream with small windows; returns the
/// number of WINDOW_UPDATE frames the receiver sent.
fn transfer(len: usize, client_sends: bool, seed: u64) -> u64 {
    let small = Config {
        initial_stream_window: 65_535,
        initial_connection_window: 65_535,
        bdp_window_growth: false,
        ..Config::default()
    };
    let mut p = Pair::new(small.clone(), small, seed);
    let id = p.client.open_stream(request_headers(), client_sends && len == 0).unwrap();
    let payload = pattern(len, 9);
    if client_sends {
        p.client.send_data(id, payload.clone(), true).unwrap();
    } else {
        p.client.send_data(id, Bytes::new(), true).unwrap();
    }
    let mut received = Vec::new();
    let mut offset = 0;
    for _ in 0..100_000 {
        p.drive_rounds(1);
        if client_sends {
            for e in events(&mut p.server) {
                if let Event::Headers { kind: HeadersKind::Request, .. } = e {
                    p.server.send_headers(id, Headers::response(200), false).unwrap();
                }
            }
            let (d, fin) = read_all(&mut p.server, id);
            received.extend_from_slice(&d);
            if fin {
                break;
            }
        } else {
            for e in events(&mut p.server) {
                if let Event::Headers { kind: HeadersKind::Request, .. } = e {
                    p.server.send_headers(id, Headers::response(200), false).unwrap();
                }
            }
            // Feed the server's send buffer as it drains.
            while offset < len && p.server.is_writable(id) {
                let end = (offset + 100_000).min(len);
                p.server.send_data(id, payload.slice(offset..end), end == len).unwrap();
                offset = end;
            }
            let (d, fin) = read_all(&mut p.client, id);
            received.extend_from_slice(&d);
            if fin {
                break;
            }
        }
    }
    assert_eq!(received.len(), len, "all bytes arrived");
    assert!(received == payload, "byte-exact");
    if client_sends { p.server.stats().window_updates_sent } else { p.client.stats().window_updates_sent }
}

#[test]
fn large_transfers_need_many_window_updates_both_ways() {
    let len = 4 << 20;
    let up = transfer(len, true, 4);
    let down = transfer(len, false, 5);
    // A 64 KiB window needs at least len / 64 KiB updates per window (stream and
    // connection), but batching means far fewer than one per 16 KiB frame.
    let frames = (len / 16_384) as u64;
    for updates in [up, down] {
        assert!(updates >= (len / 65_535) as u64, "{updates} updates");
        assert!(updates < frames * 2, "batched: {updates} updates for {frames} frames");
    }
}

#[test]
fn settings_change_mid_connection_applies_to_open_streams() {
    let mut p = pair(6);
    let id = p.client.open_stream(request_headers(), false).unwrap();
    p.drive();
    let before = p.client.stream_send_window(id).unwrap();
    // The server shrinks the stream window: open streams shrink too (§6.9.2).
    p.server.set_initial_window_size(p.now, 1000);
    p.drive();
    let after = p.client.stream_send_window(id).unwrap();
    assert_eq!(before - after, Config::default().initial_stream_window as i64 - 1000);
    // The client can only send 1000 octets until the server reads and updates.
    p.client.send_data(id, pattern(5000, 1), true).unwrap();
    p.drive();
    events(&mut p.server);
    assert_eq!(p.server.stats().recv_buffered, 1000);
    let (data, _) = read_all(&mut p.server, id);
    assert_eq!(data.len(), 1000);
    // Reading all of it releases credit in batches; the rest arrives.
    let mut total = data.len();
    for _ in 0..100 {
        p.drive();
        total += read_all(&mut p.server, id).0.len();
    }
    assert_eq!(total, 5000);
}

#[test]
fn negative_windows_recover() {
    let mut p = pair(7);
    let id = p.client.open_stream(request_headers(), false).unwrap();
    p.drive();
    p.client.send_data(id, pattern(60_000, 2), false).unwrap();
    p.drive_rounds(1); // client sends, server receives
    p.server.set_initial_window_size(p.now, 10_000);
    p.drive();
    let w = p.client.stream_send_window(id).unwrap();
    assert!(w < 0, "window went negative: {w}");
    p.client.send_data(id, pattern(10, 3), true).unwrap();
    let mut total = 0;
    for _ in 0..100 {
        p.drive();
        events(&mut p.server);
        total += read_all(&mut p.server, id).0.len();
    }
    assert_eq!(total, 60_010);
}

#[test]
fn resets_both_ways() {
    let mut p = pair(8);
    let a = p.client.open_stream(request_headers(), false).unwrap();
    let b = p.client.open_stream(request_headers(), false).unwrap();
    p.drive();
    events(&mut p.server);
    // client cancels a
    p.client.reset_stream(a, ErrorCode::CANCEL).unwrap();
    // server refuses b
    p.server.reset_stream(b, ErrorCode::REFUSED_STREAM).unwrap();
    p.drive();
    let s = events(&mut p.server);
    assert!(s.iter().any(|e| matches!(e, Event::Reset { stream, code: ErrorCode::CANCEL, initiator: Initiator::Remote, .. } if *stream == a)));
    let c = events(&mut p.client);
    assert!(c.iter().any(|e| matches!(e, Event::Reset { stream, code: ErrorCode::REFUSED_STREAM, initiator: Initiator::Remote, .. } if *stream == b)));
    assert_eq!(p.client.active_local_streams(), 0);
    assert_eq!(p.server.active_peer_streams(), 0);
    assert!(p.client.send_data(a, Bytes::new(), true).is_err());
    assert!(!p.client.is_closed() && !p.server.is_closed());
}

#[test]
fn graceful_shutdown_lets_in_flight_streams_finish() {
    let mut p = pair(9);
    let a = p.client.open_stream(request_headers(), true).unwrap();
    p.drive();
    events(&mut p.server);
    p.server.shutdown(p.now);
    p.drive();
    // The client learned it must not open more.
    let c = events(&mut p.client);
    assert!(c.iter().any(|e| matches!(e, Event::GoAway { code: ErrorCode::NO_ERROR, .. })));
    assert_eq!(p.client.open_stream(request_headers(), true), Err(OpenError::GoingAway));
    assert!(!p.server.is_closed(), "in-flight stream keeps the connection");
    // The in-flight stream completes.
    p.server.send_headers(a, Headers::response(200), false).unwrap();
    p.server.send_data(a, Bytes::from_static(b"done"), true).unwrap();
    p.drive();
    assert_eq!(read_all(&mut p.client, a), (b"done".to_vec(), true));
    p.drive();
    assert!(p.server.is_closed(), "server closes once drained");
    assert!(events(&mut p.server).iter().any(|e| matches!(e, Event::Closed { error: None })));
}

#[test]
fn graceful_shutdown_grace_period_expires() {
    let mut p = Pair::new(
        Config::default(),
        Config { shutdown_grace: Duration::from_secs(5), ..Config::default() },
        10,
    );
    let _a = p.client.open_stream(request_headers(), false).unwrap();
    p.drive();
    p.server.shutdown(p.now);
    p.drive();
    assert!(!p.server.is_closed());
    p.advance(Duration::from_secs(6));
    p.drive();
    assert!(p.server.is_closed(), "grace over");
}

#[test]
fn shutdown_before_the_peer_said_anything_closes_at_once() {
    // A connection whose client never sent its preface and SETTINGS holds
    // no request: the server does not wait for a PING it would never get.
    let now = std::time::Instant::now();
    let mut server = Connection::new(weir_core::conn::Role::Server, Config::default(), now);
    server.shutdown(now);
    let mut out = Vec::new();
    while server.poll_transmit(now, &mut out) > 0 {}
    assert!(server.is_closed(), "closed without waiting");
    let mut types = Vec::new();
    let mut rest = &out[..];
    while rest.len() >= 9 {
        let len = u32::from_be_bytes([0, rest[0], rest[1], rest[2]]) as usize;
        types.push(rest[3]);
        rest = &rest[9 + len..];
    }
    assert_eq!(types.first(), Some(&0x4), "SETTINGS first: {types:?}");
    assert_eq!(types.last(), Some(&0x7), "then the final GOAWAY: {types:?}");
    assert!(!types.contains(&0x6), "no PING to wait for: {types:?}");
}

#[test]
fn ping_measures_rtt() {
    let mut p = pair(11);
    p.latency = Duration::from_millis(5);
    p.drive();
    events(&mut p.client);
    p.client.ping(p.now, *b"rtt-test");
    p.drive();
    let pong = events(&mut p.client).into_iter().find_map(|e| match e {
        Event::Pong { payload, rtt } => Some((payload, rtt)),
        _ => None,
    });
    let (payload, rtt) = pong.expect("pong");
    assert_eq!(&payload, b"rtt-test");
    assert_eq!(rtt, Duration::from_millis(10), "two one-way delays");
}

#[test]
fn stream_id_exhaustion_drains_the_connection() {
    let max = StreamId::MAX.0;
    let cfg = Config { first_local_stream_id: Some(max - 4), ..Config::default() };
    let mut p = Pair::new(cfg, Config::default(), 12);
    let ids: Vec<StreamId> = (0..3).map(|_| p.client.open_stream(request_headers(), true).unwrap()).collect();
    assert_eq!(ids.last(), Some(&StreamId(max)));
    assert_eq!(p.client.open_stream(request_headers(), true), Err(OpenError::StreamIdsExhausted));
    p.drive();
    for e in events(&mut p.server) {
        if let Event::Headers { stream, kind: HeadersKind::Request, .. } = e {
            p.server.send_headers(stream, Headers::response(200), true).unwrap();
        }
    }
    p.drive();
    for id in &ids {
        assert!(read_all(&mut p.client, *id).1);
    }
    p.drive();
    assert!(p.client.is_closed(), "client closes the exhausted connection once drained");
}

#[test]
fn keepalive_pings_and_times_out_an_unresponsive_peer() {
    let cfg = Config {
        keepalive_interval: Some(Duration::from_secs(10)),
        keepalive_timeout: Duration::from_secs(5),
        keepalive_while_idle: true,
        ..Config::default()
    };
    let mut p = Pair::new(cfg, Config::default(), 13);
    p.drive();
    // A responsive peer: pings go out and are answered, the connection stays.
    for _ in 0..3 {
        p.advance(Duration::from_secs(11));
        p.drive();
    }
    assert!(!p.client.is_closed());
    // Now the server stops answering.
    p.advance(Duration::from_secs(11));
    let mut sink = Vec::new();
    p.client.poll_transmit(p.now, &mut sink); // the keepalive ping is lost
    p.advance(Duration::from_secs(6));
    p.client.poll_transmit(p.now, &mut sink);
    assert!(p.client.is_closed());
}

#[test]
fn idle_timeout_closes_without_streams() {
    let cfg = Config { idle_timeout: Some(Duration::from_secs(30)), ..Config::default() };
    let mut p = Pair::new(Config::default(), cfg, 14);
    let id = p.client.open_stream(request_headers(), true).unwrap();
    p.drive();
    p.advance(Duration::from_secs(31));
    p.drive();
    assert!(!p.server.is_closed(), "a stream is open: not idle");
    p.server.send_headers(id, Headers::response(200), true).unwrap();
    p.drive();
    p.advance(Duration::from_secs(31));
    p.drive();
    assert!(p.server.is_closed());
    assert!(events(&mut p.client).iter().any(|e| matches!(e, Event::GoAway { .. })));
}

#[test]
fn bdp_estimation_grows_windows_on_a_long_transfer() {
    let mut p = pair(15);
    p.latency = Duration::from_millis(1);
    let id = p.client.open_stream(request_headers(), false).unwrap();
    let start = p.server.config().initial_stream_window;
    let mut sent = 0;
    for _ in 0..200 {
        while p.client.is_writable(id) && sent < 64 << 20 {
            p.client.send_data(id, pattern(256 << 10, 4), false).unwrap();
            sent += 256 << 10;
        }
        p.drive_rounds(1);
        events(&mut p.server);
        read_all(&mut p.server, id);
    }
    // The server announced a larger SETTINGS_INITIAL_WINDOW_SIZE (gRPC-Go's BDP rule).
    let w = p.client.peer_settings().initial_window_size;
    assert!(w > start, "stream window grew past {start}: {w}");
}

/// The request ends with an empty DATA frame after the server already sent
/// its complete response: the stream is forgotten at once (nothing left to
/// read), and reading it still reports the end rather than an unknown
/// stream. Found by the `pair_operations` fuzz target.
#[test]
fn empty_end_of_request_after_the_response_reads_as_finished() {
    let mut p = pair(17);
    let id = p.client.open_stream(request_headers(), false).unwrap();
    p.drive();
    events(&mut p.server);
    p.client.send_data(id, Bytes::new(), true).unwrap();
    p.server.send_headers(id, Headers::response(200), true).unwrap();
    p.drive();
    let ev = events(&mut p.server);
    assert!(
        ev.iter().any(|e| matches!(e, Event::Data { stream, end_stream: true } if *stream == id)),
        "{ev:?}"
    );
    assert!(ev.iter().any(|e| matches!(e, Event::StreamClosed { stream } if *stream == id)), "{ev:?}");
    assert!(matches!(p.server.read(id, 100), Ok(Read::Finished)));
    assert!(p.server.read(StreamId(99), 100).is_err(), "a stream never seen is still unknown");
}

#[test]
fn replayed_header_blocks_stay_in_step_with_the_peer_table() {
    // A small table on the server's side makes the client's encoder evict
    // often, so blocks replayed from the sent-block memo meet every kind of
    // table change.
    let server = Config { header_table_size: 200, ..Config::default() };
    let mut p = Pair::new(Config::default(), server, 9);
    p.drive();
    let steady = Bytes::from_static(b"steady-value");
    for round in 0..24u32 {
        let mut h = request_headers();
        h.push(Bytes::from_static(b"x-steady"), steady.clone());
        if round % 3 == 1 {
            // A field seen for the first time: inserted, evicting others.
            h.push(Bytes::from_static(b"x-round"), Bytes::from(format!("value-{round}")));
        }
        let id = p.client.open_stream(h.clone(), true).unwrap();
        p.drive();
        let got: Vec<Headers> = events(&mut p.server)
            .into_iter()
            .filter_map(|e| match e {
                Event::Headers { headers, .. } => Some(Headers::clone(&headers)),
                _ => None,
            })
            .collect();
        assert_eq!(got, vec![h], "round {round}");
        p.server.send_headers(id, Headers::response(200), true).unwrap();
        p.drive();
        let statuses: Vec<Option<u16>> = events(&mut p.client)
            .into_iter()
            .filter_map(|e| match e {
                Event::Headers { headers, .. } => Some(headers.pseudo.status),
                _ => None,
            })
            .collect();
        assert_eq!(statuses, vec![Some(200)], "round {round}");
    }
    assert!(!p.client.is_closed() && !p.server.is_closed());
}

/// Connection-level credit returns on arrival for up to
/// `Config::early_connection_credit` unread octets (RFC 9113 §6.9: the
/// receiver decides when to send WINDOW_UPDATE; gRPC-Go returns connection
/// credit on arrival): a stream whose reader stalls holds its own window,
/// not the connection's, and a second stream still gets through. Past the
/// allowance the credit waits for the reader, so the connection buffers at
/// most the allowance plus one connection window; reading returns it.
#[test]
fn a_stalled_stream_holds_its_window_not_the_connection() {
    let config = Config {
        initial_stream_window: 64 << 10,
        initial_connection_window: 128 << 10,
        bdp_window_growth: false,
        early_connection_credit: 256 << 10,
        ..Config::default()
    };
    let mut p = Pair::new(config.clone(), config, 7);
    // Fills one stream window on each of `n` streams nobody reads.
    let stall = |p: &mut Pair, n: usize| -> Vec<StreamId> {
        let ids: Vec<StreamId> =
            (0..n).map(|_| p.client.open_stream(request_headers(), false).unwrap()).collect();
        for &id in &ids {
            p.client.send_data(id, pattern(64 << 10, 1), false).unwrap();
        }
        p.drive_rounds(20);
        ids
    };
    // Sends 100 KiB on a new stream; true when all of it arrived.
    let goes_through = |p: &mut Pair| -> bool {
        let id = p.client.open_stream(request_headers(), false).unwrap();
        p.client.send_data(id, pattern(100 << 10, 2), true).unwrap();
        let mut got = 0;
        for _ in 0..50 {
            p.drive_rounds(1);
            let (d, _) = read_all(&mut p.server, id);
            got += d.len();
        }
        got == 100 << 10
    };
    let first = stall(&mut p, 2);
    assert!(p.server.stats().recv_buffered >= 128 << 10, "both windows full and unread");
    assert!(goes_through(&mut p), "unread streams do not hold the connection's window");
    // 2 + 5 stalled streams: 448 KiB unread, past 256 KiB of early credit and
    // the 128 KiB connection window.
    let more = stall(&mut p, 5);
    let held = p.server.stats().recv_buffered;
    assert!(held <= (256 << 10) + (128 << 10), "buffered: allowance plus one window ({held})");
    assert!(!goes_through(&mut p), "past the allowance the connection waits for readers");
    for id in first.into_iter().chain(more) {
        read_all(&mut p.server, id);
    }
    p.drive_rounds(20);
    assert!(goes_through(&mut p), "reading returned the withheld credit");
}
