//! One-sided tests: hand-built frames fed to one connection, asserting the
//! events and the exact frames it answers with (GOAWAY or RST_STREAM code),
//! one per class of protocol violation.

mod support;

use bytes::Bytes;
use support::*;
use weir_core::ErrorCode;
use weir_core::conn::{Config, Connection, ConnectionErrorKind, Event, HeadersKind, LocalResetCause, Role};
use weir_core::frame::{
    Continuation, Frame, Headers as HeadersFrame, Priority, PushPromise, Settings, StreamId, WindowUpdate,
};
use weir_core::headers::Malformed;

fn server() -> Peer {
    Peer::server(Config::default())
}

#[test]
fn bad_preface_is_a_protocol_error() {
    // §3.4: "Clients and servers MUST treat an invalid connection preface as a
    // connection error of type PROTOCOL_ERROR."
    let now = std::time::Instant::now();
    let mut p = Peer::raw(Connection::new(Role::Server, Config::default(), now), now);
    p.send_raw(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_goaway(&mut p, ErrorCode::PROTOCOL_ERROR);
}

#[test]
fn first_frame_must_be_settings() {
    let now = std::time::Instant::now();
    let mut p = Peer::raw(Connection::new(Role::Server, Config::default(), now), now);
    p.send_raw(weir_core::conn::PREFACE);
    p.send(data(1, b"x", false));
    assert_goaway(&mut p, ErrorCode::PROTOCOL_ERROR);
    assert!(matches!(p.conn.error().map(|e| e.kind), Some(ConnectionErrorKind::MissingSettings)));
}

#[test]
fn tls_record_where_the_servers_settings_should_be() {
    // A plaintext client at a TLS port: the server's alert (or handshake
    // record) arrives where its SETTINGS should; told in words, no 1.3 MB
    // "frame" awaited.
    let now = std::time::Instant::now();
    for record in [&[0x15u8, 0x03, 0x03, 0x00, 0x02, 0x02, 0x32][..], &[0x16, 0x03, 0x01, 0x00]] {
        let mut client = Connection::new(Role::Client, Config::default(), now);
        client.handle_input(now, record);
        let err = client.error().copied().expect("failed at once");
        assert_eq!(err.kind, ConnectionErrorKind::TlsFromServer);
        assert_eq!(err.to_string(), "the server answered with TLS: use https:// (or ClientTlsConfig)");
    }
    // A server's SETTINGS is not mistaken for TLS.
    let mut client = Connection::new(Role::Client, Config::default(), now);
    client.handle_input(now, &[0x00, 0x00, 0x00, 0x04, 0x00, 0x00, 0x00, 0x00, 0x00]);
    assert_eq!(client.error(), None);
}

#[test]
fn data_on_idle_stream() {
    // §5.1 idle: "Receiving any frame other than HEADERS or PRIORITY on a stream in
    // this state MUST be treated as a connection error of type PROTOCOL_ERROR."
    let mut p = server();
    p.send(data(1, b"x", false));
    assert_goaway(&mut p, ErrorCode::PROTOCOL_ERROR);
}

#[test]
fn rst_stream_and_window_update_on_idle_stream() {
    let mut p = server();
    p.send(rst(3, ErrorCode::CANCEL));
    assert_goaway(&mut p, ErrorCode::PROTOCOL_ERROR);
    let mut p = server();
    p.send(Frame::WindowUpdate(WindowUpdate { stream_id: StreamId(5), increment: 1 }));
    assert_goaway(&mut p, ErrorCode::PROTOCOL_ERROR);
}

#[test]
fn even_stream_id_from_client() {
    // §5.1.1: "Streams initiated by a client MUST use odd-numbered stream identifiers".
    let mut p = server();
    p.request(2, true);
    assert_goaway(&mut p, ErrorCode::PROTOCOL_ERROR);
}

#[test]
fn decreasing_stream_id() {
    // §5.1.1: "An endpoint that receives an unexpected stream identifier MUST
    // respond with a connection error of type PROTOCOL_ERROR."
    let mut p = server();
    p.request(5, false);
    p.request(3, false);
    assert_goaway(&mut p, ErrorCode::PROTOCOL_ERROR);
}

#[test]
fn data_after_end_stream_is_stream_closed() {
    // §5.1 half-closed (remote): "it MUST respond with a stream error of type STREAM_CLOSED."
    let mut p = server();
    p.request(1, true);
    p.send(data(1, b"late", false));
    assert_reset(&mut p, 1, ErrorCode::STREAM_CLOSED);
}

#[test]
fn headers_after_peer_reset_is_stream_closed() {
    let mut p = server();
    p.request(1, false);
    p.send(rst(1, ErrorCode::CANCEL));
    p.take_frames();
    let h = p.headers(1, &[("x", "y")], true);
    p.send(h);
    assert_reset(&mut p, 1, ErrorCode::STREAM_CLOSED);
}

#[test]
fn late_frames_after_our_reset_are_ignored() {
    // §5.1 closed: "An endpoint MUST ignore frames that it receives on closed
    // streams after it has sent a RST_STREAM frame."
    let mut p = server();
    p.request(1, false);
    p.drain_events();
    p.conn.reset_stream(StreamId(1), ErrorCode::CANCEL).unwrap();
    assert_eq!(resets(&p.take_frames()), vec![(1, ErrorCode::CANCEL)]);
    p.send(data(1, b"in flight", false));
    let h = p.headers(1, &[("grpc-status", "0")], true);
    p.send(h);
    let frames = p.take_frames();
    assert!(resets(&frames).is_empty() && goaway(&frames).is_none(), "{frames:?}");
    // The ignored DATA still counted against the connection window and came back.
    assert!(!p.conn.is_closed());
}

#[test]
fn continuation_without_headers() {
    // §6.10: a CONTINUATION not preceded by HEADERS/PUSH_PROMISE/CONTINUATION
    // without END_HEADERS is a connection error of type PROTOCOL_ERROR.
    let mut p = server();
    p.send(Frame::Continuation(Continuation {
        stream_id: StreamId(1),
        fragment: Bytes::from_static(&[0x82]),
        end_headers: true,
    }));
    assert_goaway(&mut p, ErrorCode::PROTOCOL_ERROR);
}

#[test]
fn frame_interleaved_in_header_block() {
    // §4.3: "Each field block ... MUST be transmitted as a contiguous sequence of
    // frames, with no interleaved frames of any other type or from any other stream."
    let mut p = server();
    let block = p.block(REQUEST);
    p.send(Frame::Headers(HeadersFrame {
        stream_id: StreamId(1),
        fragment: Bytes::copy_from_slice(&block[..3]),
        end_stream: true,
        end_headers: false,
        priority: None,
        pad_len: None,
    }));
    p.send(Frame::Ping(weir_core::frame::Ping { ack: false, payload: [0; 8] }));
    assert_goaway(&mut p, ErrorCode::PROTOCOL_ERROR);
}

#[test]
fn continuation_on_another_stream() {
    let mut p = server();
    let block = p.block(REQUEST);
    p.send(Frame::Headers(HeadersFrame {
        stream_id: StreamId(1),
        fragment: Bytes::copy_from_slice(&block[..3]),
        end_stream: true,
        end_headers: false,
        priority: None,
        pad_len: None,
    }));
    p.send(Frame::Continuation(Continuation {
        stream_id: StreamId(3),
        fragment: Bytes::copy_from_slice(&block[3..]),
        end_headers: true,
    }));
    assert_goaway(&mut p, ErrorCode::PROTOCOL_ERROR);
}

#[test]
fn header_block_split_across_continuations_is_accepted() {
    let mut p = server();
    let block = p.block(REQUEST);
    p.send_block(1, &block, true, 8);
    let ev = p.drain_events();
    assert!(
        ev.iter().any(|e| matches!(e, Event::Headers { kind: HeadersKind::Request, end_stream: true, .. })),
        "{ev:?}"
    );
}

#[test]
fn connection_window_overflow() {
    // §6.9.1: "If a sender receives a WINDOW_UPDATE that causes a flow-control
    // window to exceed this maximum, it MUST terminate either the stream or the
    // connection, as appropriate."
    let mut p = server();
    p.send(Frame::WindowUpdate(WindowUpdate { stream_id: StreamId::ZERO, increment: 0x7fff_ffff }));
    assert_goaway(&mut p, ErrorCode::FLOW_CONTROL_ERROR);
}

#[test]
fn stream_window_overflow() {
    let mut p = server();
    p.request(1, false);
    p.send(Frame::WindowUpdate(WindowUpdate { stream_id: StreamId(1), increment: 0x7fff_ffff }));
    assert_reset(&mut p, 1, ErrorCode::FLOW_CONTROL_ERROR);
}

#[test]
fn zero_window_increment() {
    // §6.9: increment 0 → stream error on a stream, connection error on stream 0.
    let mut p = server();
    p.request(1, false);
    p.send(Frame::WindowUpdate(WindowUpdate { stream_id: StreamId(1), increment: 0 }));
    assert_reset(&mut p, 1, ErrorCode::PROTOCOL_ERROR);
    p.send(Frame::WindowUpdate(WindowUpdate { stream_id: StreamId::ZERO, increment: 0 }));
    assert_goaway(&mut p, ErrorCode::PROTOCOL_ERROR);
}

#[test]
fn data_beyond_the_stream_window() {
    let cfg = Config { initial_stream_window: 10, ..Config::default() };
    let mut p = Peer::server(cfg);
    p.request(1, false);
    p.send(data(1, b"0123456789abc", false));
    assert_reset(&mut p, 1, ErrorCode::FLOW_CONTROL_ERROR);
}

#[test]
fn data_beyond_the_connection_window() {
    let cfg = Config { initial_connection_window: 65_535, ..Config::default() };
    let mut p = Peer::server(cfg);
    p.request(1, false);
    static BIG: [u8; 16_384] = [0; 16_384];
    for _ in 0..4 {
        p.send(data(1, &BIG, false));
    }
    p.send(data(1, &BIG[..10], false));
    assert_goaway(&mut p, ErrorCode::FLOW_CONTROL_ERROR);
}

#[test]
fn malformed_request_is_a_stream_error() {
    // §8.2: "A request or response containing uppercase characters in field names
    // MUST be treated as malformed"; §8.1.1: malformed → stream error PROTOCOL_ERROR.
    let mut p = server();
    let mut fields = REQUEST.to_vec();
    fields.push(("X-Upper", "1"));
    let h = p.headers(1, &fields, true);
    p.send(h);
    let ev = p.drain_events();
    assert!(ev.iter().all(|e| !matches!(e, Event::Headers { .. })), "not delivered");
    assert_reset(&mut p, 1, ErrorCode::PROTOCOL_ERROR);
    // The connection goes on.
    p.request(3, true);
    assert!(p.drain_events().iter().any(|e| matches!(e, Event::Headers { stream: StreamId(3), .. })));
}

/// §8.2.1: a field value with LF is malformed. The check must also catch the
/// field when the peer references it from the HPACK dynamic table later
/// (validity of table entries is cached when they are inserted).
#[test]
fn invalid_field_stays_malformed_when_indexed() {
    let mut p = server();
    let mut fields = REQUEST.to_vec();
    fields.push(("x-bad", "a\nb"));
    for id in [1, 3] {
        let h = p.headers(id, &fields, true);
        if id == 3 {
            let Frame::Headers(hf) = &h else { unreachable!() };
            assert!(hf.fragment.len() < 8, "the second block references table entries");
        }
        p.send(h);
        let ev = p.drain_events();
        assert!(ev.iter().all(|e| !matches!(e, Event::Headers { .. })), "{id}: not delivered");
        assert_reset(&mut p, id, ErrorCode::PROTOCOL_ERROR);
    }
}

/// The same all-indexed octets mean other fields once the table changed
/// (RFC 7541 §2.3.3): a reused decoding must follow the table.
#[test]
fn repeated_indexed_block_follows_the_table() {
    let mut p = server();
    let pseudo: &[u8] = b"\x83\x86\x84\x41\x09localhost"; // POST, http, /, :authority
    let insert = |v: u8| [pseudo, b"\x40\x03x-v\x01", &[v]].concat(); // x-v: v, indexed
    let indexed = [b"\x83\x86\x84\xbf".as_slice(), b"\xbe"].concat(); // :authority (63), x-v (62)
    let mut seen = Vec::new();
    for (id, block) in
        [(1, insert(b'1')), (3, indexed.clone()), (5, indexed.clone()), (7, insert(b'2')), (9, indexed)]
    {
        p.send_block(id, &block, true, 16384);
        for e in p.drain_events() {
            if let Event::Headers { headers, .. } = e {
                let v = headers.fields.iter().find(|f| &f.name[..] == b"x-v").map(|f| f.value.clone());
                seen.push((id, v.map(|v| String::from_utf8_lossy(&v).into_owned())));
            }
        }
    }
    let want = |v: &str| Some(v.to_owned());
    assert_eq!(seen, [(1, want("1")), (3, want("1")), (5, want("1")), (7, want("2")), (9, want("2"))]);
}

#[test]
fn each_http_message_rule_resets_the_stream() {
    let cases: &[(&[(&str, &str)], Malformed)] = &[
        (
            &[(":method", "POST"), (":scheme", "http"), (":path", "/"), ("connection", "keep-alive")],
            Malformed::ConnectionSpecific,
        ),
        (
            &[(":method", "POST"), (":scheme", "http"), (":path", "/"), ("te", "gzip")],
            Malformed::TeNotTrailers,
        ),
        (&[(":method", "POST"), (":scheme", "http")], Malformed::MissingPseudo),
        (
            &[(":method", "POST"), (":scheme", "http"), (":path", "/"), (":unknown", "x")],
            Malformed::UnknownPseudo,
        ),
        (
            &[(":method", "POST"), ("a", "b"), (":scheme", "http"), (":path", "/")],
            Malformed::PseudoAfterRegular,
        ),
        (
            &[(":method", "POST"), (":method", "GET"), (":scheme", "http"), (":path", "/")],
            Malformed::DuplicatePseudo,
        ),
        (&[(":method", "POST"), (":scheme", "http"), (":path", "")], Malformed::EmptyPath),
        (
            &[(":method", "POST"), (":scheme", "http"), (":path", "/"), (":status", "200")],
            Malformed::UnknownPseudo,
        ),
    ];
    for (fields, want) in cases {
        let mut p = server();
        let h = p.headers(1, fields, true);
        p.send(h);
        let ev = p.drain_events();
        assert!(
            ev.iter().any(
                |e| matches!(e, Event::Reset { cause: Some(LocalResetCause::Malformed(m)), .. } if m == want)
            ) || p.take_frames().iter().any(|f| matches!(f, Frame::RstStream(_))),
            "{fields:?}: {ev:?}"
        );
    }
}

#[test]
fn content_length_mismatch() {
    // §8.1.1: content-length must equal the sum of DATA payload lengths.
    let mut p = server();
    let mut fields = REQUEST.to_vec();
    fields.push(("content-length", "3"));
    let h = p.headers(1, &fields, false);
    p.send(h);
    p.send(data(1, b"abcd", true));
    assert_reset(&mut p, 1, ErrorCode::PROTOCOL_ERROR);
    let mut p = server();
    let h = p.headers(1, &fields, false);
    p.send(h);
    p.send(data(1, b"ab", true));
    assert_reset(&mut p, 1, ErrorCode::PROTOCOL_ERROR);
}

#[test]
fn invalid_hpack_is_a_compression_error() {
    // §4.3: "A decoding error in a field block MUST be treated as a connection
    // error of type COMPRESSION_ERROR."
    let mut p = server();
    p.send_block(1, &[0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f], true, 16_384);
    assert_goaway(&mut p, ErrorCode::COMPRESSION_ERROR);
}

#[test]
fn frame_larger_than_max_frame_size() {
    // §4.2: "An endpoint MUST send an error code of FRAME_SIZE_ERROR if a frame
    // exceeds the size defined in SETTINGS_MAX_FRAME_SIZE".
    let mut p = server();
    p.request(1, false);
    let mut wire = vec![0, 0x40, 0x01, 0, 0, 0, 0, 0, 1]; // DATA, 16385 octets
    wire.resize(9 + 16_385, 0);
    p.send_raw(&wire);
    assert_goaway(&mut p, ErrorCode::FRAME_SIZE_ERROR);
}

#[test]
fn streams_beyond_max_concurrent_are_refused() {
    // §5.1.2: "...MUST treat this as a stream error of type PROTOCOL_ERROR or
    // REFUSED_STREAM."
    let mut p = Peer::server(Config { max_concurrent_streams: 2, ..Config::default() });
    p.request(1, false);
    p.request(3, false);
    p.request(5, false);
    assert_reset(&mut p, 5, ErrorCode::REFUSED_STREAM);
    assert_eq!(p.conn.active_peer_streams(), 2);
    // Late DATA for the refused stream is ignored, not an error.
    p.send(data(5, b"x", true));
    let frames = p.take_frames();
    assert!(resets(&frames).is_empty(), "{frames:?}");
}

#[test]
fn push_promise_is_a_protocol_error() {
    // §8.4: "A client cannot push"; a client with ENABLE_PUSH=0 rejects pushes too.
    let mut p = server();
    p.request(1, false);
    p.send(Frame::PushPromise(PushPromise {
        stream_id: StreamId(1),
        promised_id: StreamId(2),
        fragment: Bytes::from_static(&[0x82]),
        end_headers: true,
        pad_len: None,
    }));
    assert_goaway(&mut p, ErrorCode::PROTOCOL_ERROR);
    let mut c = Peer::client(Config::default());
    c.send(settings(Settings { enable_push: Some(true), ..Settings::default() }));
    assert_goaway(&mut c, ErrorCode::PROTOCOL_ERROR);
}

#[test]
fn self_dependent_headers_reset_but_keep_hpack_in_sync() {
    // §5.3.1: "A stream cannot depend on itself ... stream error of type PROTOCOL_ERROR."
    let mut p = server();
    let block = p.block(&[REQUEST, &[("x-custom", "indexed-value")][..]].concat());
    p.send(Frame::Headers(HeadersFrame {
        stream_id: StreamId(1),
        fragment: Bytes::from(block),
        end_stream: true,
        end_headers: true,
        priority: Some(Priority { exclusive: false, dependency: StreamId(1), weight: 16 }),
        pad_len: None,
    }));
    assert_reset(&mut p, 1, ErrorCode::PROTOCOL_ERROR);
    // The next block references entries the rejected one inserted: still decodes.
    let h = p.headers(3, &[REQUEST, &[("x-custom", "indexed-value")][..]].concat(), true);
    p.send(h);
    let ev = p.drain_events();
    let got = ev.iter().find_map(|e| match e {
        Event::Headers { stream: StreamId(3), headers, .. } => headers.get(b"x-custom").cloned(),
        _ => None,
    });
    assert_eq!(got.as_deref(), Some(&b"indexed-value"[..]));
}

#[test]
fn settings_ack_timeout() {
    // §6.5.3: a SETTINGS frame not acknowledged in time → SETTINGS_TIMEOUT.
    let now = std::time::Instant::now();
    let mut p = Peer::raw(Connection::new(Role::Server, Config::default(), now), now);
    p.send_raw(weir_core::conn::PREFACE);
    p.send(settings(Settings::default()));
    p.take_frames();
    p.advance(std::time::Duration::from_secs(11));
    assert_goaway(&mut p, ErrorCode::SETTINGS_TIMEOUT);
}

#[test]
fn unknown_frames_and_settings_are_ignored() {
    // §4.1/§5.5: unknown frame types are ignored; §6.5.2: unknown settings too.
    let mut p = server();
    p.send_raw(&[0, 0, 3, 0xfa, 0xff, 0, 0, 0, 1, 1, 2, 3]);
    p.send_raw(&[0, 0, 6, 4, 0, 0, 0, 0, 0, 0x7f, 0x7f, 0, 0, 0, 1]);
    let frames = p.take_frames();
    assert!(goaway(&frames).is_none());
    assert!(frames.iter().any(|f| matches!(f, Frame::Settings(s) if s.ack)));
}

#[test]
fn ping_is_answered_with_the_same_payload() {
    // §6.7: "...MUST send a PING frame with the ACK flag set in response, with an
    // identical frame payload."
    let mut p = server();
    p.send(Frame::Ping(weir_core::frame::Ping { ack: false, payload: *b"12345678" }));
    let frames = p.take_frames();
    assert!(frames.contains(&Frame::Ping(weir_core::frame::Ping { ack: true, payload: *b"12345678" })));
}

#[test]
fn goaway_fails_unprocessed_streams_for_retry() {
    // §6.8: streams above last-stream-id were not processed and may be retried.
    let mut c = Peer::client(Config::default());
    let a = c.conn.open_stream(request_headers(), true).unwrap();
    let b = c.conn.open_stream(request_headers(), true).unwrap();
    c.take_frames();
    c.send(Frame::GoAway(weir_core::frame::GoAway {
        last_stream_id: a,
        error_code: ErrorCode::NO_ERROR,
        debug_data: Bytes::new(),
    }));
    let ev = c.drain_events();
    assert!(
        ev.iter().any(
            |e| matches!(e, Event::Reset { stream, code: ErrorCode::REFUSED_STREAM, .. } if *stream == b)
        )
    );
    assert!(!ev.iter().any(|e| matches!(e, Event::Reset { stream, .. } if *stream == a)));
    assert!(c.conn.open_stream(request_headers(), true).is_err());
}

#[test]
fn server_answers_oversized_request_headers_with_431() {
    let mut p = Peer::server(Config { max_header_list_size: 1024, ..Config::default() });
    let big = "v".repeat(2000);
    let mut fields = REQUEST.to_vec();
    fields.push(("x-big", &big));
    let h = p.headers(1, &fields, true);
    p.send(h);
    let ev = p.drain_events();
    assert!(ev.iter().all(|e| !matches!(e, Event::Headers { .. })), "request not delivered");
    let frames = p.take_frames();
    assert!(
        frames.iter().any(|f| matches!(f, Frame::Headers(h) if h.stream_id == StreamId(1) && h.end_stream)),
        "{frames:?}"
    );
    // And the connection still serves requests.
    p.request(3, true);
    assert!(p.drain_events().iter().any(|e| matches!(e, Event::Headers { stream: StreamId(3), .. })));
}
