//! Keepalive enforcement over an in-memory client/server pair: a client that
//! pings more often than the server's policy allows is closed with GOAWAY
//! ENHANCE_YOUR_CALM `too_many_pings`; pings within the policy are answered.

mod support;

use std::time::Duration;

use bytes::Bytes;
use support::request_headers;
use weir_core::ErrorCode;
use weir_core::conn::{Config, ConnectionErrorKind, Event, Initiator, Limit, PingPolicy, TOO_MANY_PINGS};
use weir_core::sim::Pair;

fn policy(min_time_secs: u64, permit_without_stream: bool) -> Config {
    let ping_policy = PingPolicy {
        min_time: Duration::from_secs(min_time_secs),
        permit_without_stream,
        ..PingPolicy::default()
    };
    Config { ping_policy: Some(ping_policy), ..Config::default() }
}

fn keepalive_client(interval_secs: u64, while_idle: bool) -> Config {
    Config {
        keepalive_interval: Some(Duration::from_secs(interval_secs)),
        keepalive_while_idle: while_idle,
        ..Config::default()
    }
}

/// Lets simulated time run one keepalive interval at a time, `rounds` times.
fn run_keepalive(p: &mut Pair, interval_secs: u64, rounds: usize) {
    for _ in 0..rounds {
        p.drive();
        p.advance(Duration::from_secs(interval_secs));
        p.drive();
        if p.server.is_closed() || p.client.is_closed() {
            return;
        }
    }
}

fn client_goaway(p: &mut Pair) -> Option<(ErrorCode, Bytes)> {
    std::iter::from_fn(|| p.client.poll_event()).find_map(|e| match e {
        Event::GoAway { code, debug_data, .. } => Some((code, debug_data)),
        _ => None,
    })
}

#[test]
fn pinging_too_often_with_a_stream_open_gets_too_many_pings() {
    let mut p = Pair::new(keepalive_client(1, false), policy(10, false), 7);
    p.client.open_stream(request_headers(), false).unwrap();
    run_keepalive(&mut p, 1, 20);
    let err = p.server.error().copied().expect("server closed the connection");
    assert_eq!(err.code, ErrorCode::ENHANCE_YOUR_CALM);
    assert_eq!(err.kind, ConnectionErrorKind::Limit(Limit::TooManyPings));
    let (code, debug) = client_goaway(&mut p).expect("client saw GOAWAY");
    assert_eq!((code, &debug[..]), (ErrorCode::ENHANCE_YOUR_CALM, TOO_MANY_PINGS));
    assert!(p.client.peer_said_too_many_pings());
    let client_err = p.client.error().copied().expect("client connection failed");
    assert_eq!(client_err.initiator, Initiator::Remote);
}

#[test]
fn pinging_at_the_allowed_rate_is_accepted() {
    let mut p = Pair::new(keepalive_client(11, false), policy(10, false), 8);
    p.client.open_stream(request_headers(), false).unwrap();
    run_keepalive(&mut p, 11, 30);
    assert!(p.server.is_open() && p.client.is_open(), "{:?}", p.server.error());
    assert!(!p.client.peer_said_too_many_pings());
}

#[test]
fn idle_pings_need_permit_without_stream() {
    let mut strict = Pair::new(keepalive_client(60, true), policy(10, false), 9);
    run_keepalive(&mut strict, 60, 20);
    assert_eq!(strict.server.error().map(|e| e.kind), Some(ConnectionErrorKind::Limit(Limit::TooManyPings)));
    assert!(strict.client.peer_said_too_many_pings());

    let mut permissive = Pair::new(keepalive_client(60, true), policy(10, true), 9);
    run_keepalive(&mut permissive, 60, 20);
    assert!(permissive.server.is_open() && permissive.client.is_open());
}

#[test]
fn response_data_forgives_earlier_pings() {
    let mut p = Pair::new(Config::default(), policy(3600, false), 10);
    let id = p.client.open_stream(request_headers(), false).unwrap();
    p.drive();
    let mut headers_sent = false;
    for i in 0..20u8 {
        // Every ping follows response data (as BDP pings do): never a strike.
        if !headers_sent {
            p.server.send_headers(id, weir_core::headers::Headers::response(200), false).unwrap();
            headers_sent = true;
        }
        p.server.send_data(id, Bytes::from(vec![i; 10]), false).unwrap();
        p.drive();
        p.client.ping(p.now, [i; 8]);
        p.drive();
    }
    assert!(p.server.is_open(), "{:?}", p.server.error());
    // Without data in between, the same pings are strikes.
    for i in 0..4u8 {
        p.client.ping(p.now, [100 + i; 8]);
        p.drive();
    }
    assert_eq!(p.server.error().map(|e| e.kind), Some(ConnectionErrorKind::Limit(Limit::TooManyPings)));
}

#[test]
fn no_policy_means_no_enforcement() {
    let mut p = Pair::new(Config::default(), Config::default(), 11);
    for i in 0..50u8 {
        p.client.ping(p.now, [i; 8]);
        p.drive();
    }
    assert!(p.server.is_open() && p.client.is_open());
}
