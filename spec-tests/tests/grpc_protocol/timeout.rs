//! PROTOCOL-HTTP2 "Timeout" and "Client Cancellation" (deadlines).

use std::time::Duration;

use super::common::*;
use weir_core::grpc::timeout::parse_timeout;
use weir_core::grpc::{CallRequest, ClientEvent, Code, ServerEvent};
use weir_spec_tests::prelude::*;

/// "Timeout → "grpc-timeout" TimeoutValue TimeoutUnit", "TimeoutValue →
/// {positive integer as ASCII string of at most 8 digits}", "TimeoutUnit →
/// Hour / Minute / Second / Millisecond / Microsecond / Nanosecond" with
/// "Hour → "H"", "Minute → "M"", "Second → "S"", "Millisecond → "m"",
/// "Microsecond → "u"", "Nanosecond → "n"". Every unit, and 8 digits.
#[test]
fn every_timeout_unit() {
    let cases = [
        ("1H", Duration::from_secs(3600)),
        ("2M", Duration::from_secs(120)),
        ("3S", Duration::from_secs(3)),
        ("4m", Duration::from_millis(4)),
        ("5u", Duration::from_micros(5)),
        ("6n", Duration::from_nanos(6)),
        ("99999999S", Duration::from_secs(99_999_999)),
        ("00000010m", Duration::from_millis(10)),
    ];
    for (value, want) in cases {
        let mut c = server();
        let now = c.target.now;
        let start = start_call(&mut c, 1, &[("grpc-timeout", value)], false).expect(value);
        assert_eq!((start.timeout, start.deadline), (Some(want), Some(now + want)), "{value}");
    }
}

/// "TimeoutValue → {positive integer as ASCII string of at most 8 digits}"
/// and a unit among H M S m u n: anything else is not a timeout. No call
/// starts with a made-up deadline; the request is refused with a
/// Trailers-Only INTERNAL status (as gRPC-Go does).
#[test]
fn invalid_timeouts_are_refused() {
    for value in ["", "S", "10", "123456789S", "1.5S", "-1S", "+1S", "1 S", "10s", "1k", "SS"] {
        let mut c = server();
        assert!(start_call(&mut c, 1, &[("grpc-timeout", value)], false).is_none(), "{value:?}");
        let o = output(&mut c);
        assert_eq!(o.blocks.len(), 1, "{value:?}");
        let (_, f, end) = &o.blocks[0];
        assert_eq!(
            (get(f, ":status"), get(f, "grpc-status"), *end),
            (Some("200"), Some("13"), true),
            "{value:?}"
        );
    }
}

/// The client's Timeout follows the grammar for any deadline: at most 8
/// digits, a valid unit, and never shorter than asked.
#[test]
fn client_timeouts_follow_the_grammar() {
    let asks = [
        Duration::from_nanos(1),
        Duration::from_millis(100),
        Duration::from_secs(1),
        Duration::from_secs(3600 * 24 * 1000),
        Duration::new(5, 123_456_789),
    ];
    for ask in asks {
        let mut c = client();
        let mut req = CallRequest::new(PATH, "x");
        req.timeout = Some(ask);
        let now = c.target.now;
        c.target.client.start_call(now, req).unwrap();
        let o = output(&mut c);
        let v = get(&o.blocks[0].1, "grpc-timeout").expect("grpc-timeout").to_string();
        let (digits, unit) = v.split_at(v.len() - 1);
        assert!(digits.len() <= 8 && digits.bytes().all(|b| b.is_ascii_digit()), "{v}");
        assert!("HMSmun".contains(unit), "{v}");
        assert!(parse_timeout(v.as_bytes()).unwrap() >= ask, "{v} for {ask:?}");
    }
}

/// "gRPC servers track the deadline of the RPC as communicated by Timeout.
/// When the server detects the client's deadline has expired (which implies
/// it hasn't received the client's RST_STREAM yet) the server should locally
/// cancel the RPC and send RST_STREAM with CANCEL error code."
///
/// Weir, like gRPC-Go, first tells the client why: a Trailers-Only
/// DEADLINE_EXCEEDED response, then RST_STREAM. The reset is NO_ERROR when
/// the response is complete (RFC 9113 §8.1: "a server can send a complete
/// response prior to the client sending an entire request ... RST_STREAM
/// with an error code of NO_ERROR"), and CANCEL when a message was still
/// queued (`server_cancels_a_half_sent_response_at_the_deadline`).
#[test]
fn server_cancels_at_the_deadline() {
    let mut c = server();
    start_call(&mut c, 1, &[("grpc-timeout", "100m")], false).expect("a call");
    c.target.advance(Duration::from_millis(99));
    assert!(output(&mut c).resets.is_empty(), "not before the deadline");
    c.target.advance(Duration::from_millis(1));
    let o = output(&mut c);
    assert_eq!(o.order, ["HEADERS(1)", "RST_STREAM(1)"], "frames sent at the deadline");
    let (stream, fields, end_stream) = &o.blocks[0];
    assert_eq!((*stream, *end_stream), (1, true), "a Trailers-Only response");
    assert_eq!(get(fields, "grpc-status"), Some("4"), "DEADLINE_EXCEEDED: {fields:?}");
    assert_eq!(o.resets, [(1, ErrorCode::NO_ERROR)]);
    assert!(
        c.target.events.iter().any(|e| matches!(e, ServerEvent::Cancelled { reason, .. }
            if reason.code == Code::DeadlineExceeded)),
        "{:?}",
        c.target.events
    );
}

/// "Client cancellation is performed by the client sending RST_STREAM with
/// CANCEL error code. The RPC's deadline expiring is considered a client
/// cancellation. Client implementations are entitled to fail calls with
/// DEADLINE_EXCEEDED at any point after the deadline expires".
#[test]
fn client_deadline_is_a_cancellation() {
    let mut c = client();
    let mut req = CallRequest::new(PATH, "x");
    req.timeout = Some(Duration::from_millis(50));
    let now = c.target.now;
    let id = c.target.client.start_call(now, req).unwrap();
    output(&mut c);
    c.target.advance(Duration::from_millis(50));
    assert_eq!(output(&mut c).resets, [(id.0.0, ErrorCode::CANCEL)]);
    assert!(c.target.take_events().iter().any(|e| matches!(e, ClientEvent::Finished { status, .. }
        if status.code == Code::DeadlineExceeded)));
}

/// As above, with response messages still queued behind flow control (the
/// payload byte sequence is incomplete): RST_STREAM(CANCEL) replaces them.
#[test]
fn server_cancels_a_half_sent_response_at_the_deadline() {
    let mut c = server();
    c.write_settings(&[(setting::INITIAL_WINDOW_SIZE, 3)]);
    start_call(&mut c, 1, &[("grpc-timeout", "1S")], true).expect("a call");
    c.target.server.send_message(call(1), bytes::Bytes::from_static(b"a long reply")).unwrap();
    let before = output(&mut c);
    assert_eq!(before.data.iter().map(|(_, d, _)| d.len()).sum::<usize>(), 3, "3 octets of window");
    c.target.advance(Duration::from_secs(1));
    let o = output(&mut c);
    assert_eq!((o.resets.as_slice(), o.blocks.len()), (&[(1, ErrorCode::CANCEL)][..], 0), "{:?}", o.order);
}

/// "to deal with client-side races and minor clock-rate skew, when a call
/// fails with CANCELLED status the client is encouraged to check whether the
/// deadline has expired and fail the call with DEADLINE_EXCEEDED instead of
/// CANCELLED." The server's RST_STREAM(CANCEL) lands after the deadline but
/// before the client's own timer ran.
#[test]
fn client_reports_deadline_exceeded_for_a_late_cancel() {
    let mut c = client();
    let mut req = CallRequest::new(PATH, "x");
    req.timeout = Some(Duration::from_millis(50));
    let now = c.target.now;
    let id = c.target.client.start_call(now, req).unwrap();
    output(&mut c);
    c.target.now += Duration::from_millis(60); // no handle_timeout yet
    c.write_rst_stream(id.0.0, ErrorCode::CANCEL);
    let status = c
        .target
        .take_events()
        .into_iter()
        .find_map(|e| match e {
            ClientEvent::Finished { status, .. } => Some(status),
            _ => None,
        })
        .expect("finished");
    assert_eq!(status.code, Code::DeadlineExceeded);
}

weir_spec_tests::cases! {
    server: [],
    client: [
        every_timeout_unit,
        invalid_timeouts_are_refused,
        client_timeouts_follow_the_grammar,
        server_cancels_at_the_deadline,
        server_cancels_a_half_sent_response_at_the_deadline,
        client_deadline_is_a_cancellation,
        client_reports_deadline_exceeded_for_a_late_cancel,
    ],
}
