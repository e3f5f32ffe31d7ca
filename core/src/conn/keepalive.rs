//! Keepalive enforcement (gRPC-Go's `keepalive.EnforcementPolicy`): a server
//! counts PINGs that come more often than its policy allows as strikes, and
//! after too many closes the connection with GOAWAY ENHANCE_YOUR_CALM and the
//! debug data `too_many_pings`. A client notes that answer, so its owner can
//! back off (gRPC-Go doubles the keepalive time of later connections).
//!
//! This bounds how often a *reading* peer may ping; a peer that pings without
//! reading the answers is bounded by `Config::max_pending_control_frames`.

use std::time::{Duration, Instant};

use bytes::Bytes;

use super::error::{ConnectionError, Limit};
use super::{Connection, Role};
use crate::error_code::ErrorCode;

/// The GOAWAY debug data of a connection closed for pinging too often.
pub const TOO_MANY_PINGS: &[u8] = b"too_many_pings";

/// With no stream open and [`PingPolicy::permit_without_stream`] unset, PINGs
/// closer together than this are strikes (gRPC-Go's `defaultPingTimeout`).
const IDLE_PING_MIN_TIME: Duration = Duration::from_secs(2 * 60 * 60);

/// How often a client may ping a server (gRPC-Go `EnforcementPolicy`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PingPolicy {
    /// Least time between two PINGs (gRPC-Go `MinTime`, default 5 minutes).
    pub min_time: Duration,
    /// Allow PINGs while no stream is open (gRPC-Go `PermitWithoutStream`,
    /// default false: then any two PINGs less than two hours apart are a strike).
    pub permit_without_stream: bool,
    /// Strikes tolerated; one more closes the connection (gRPC-Go `maxPingStrikes`, 2).
    pub max_strikes: u32,
}

impl Default for PingPolicy {
    fn default() -> Self {
        PingPolicy { min_time: Duration::from_secs(5 * 60), permit_without_stream: false, max_strikes: 2 }
    }
}

/// Per-connection state of the policy, and what the peer told us about ours.
#[derive(Clone, Debug, Default)]
pub(crate) struct PingEnforcement {
    strikes: u32,
    last_ping: Option<Instant>,
    /// We wrote HEADERS or DATA since the last PING: the next one is free.
    reset_due: bool,
    /// The peer closed the connection because we pinged too often.
    told_too_many_pings: bool,
}

impl PingEnforcement {
    /// Records a PING at `now`; true when it is one strike too many.
    pub fn on_ping(&mut self, policy: &PingPolicy, now: Instant, active_streams: usize) -> bool {
        let last = self.last_ping.replace(now);
        if std::mem::take(&mut self.reset_due) {
            // As gRPC-Go: writing headers or data forgives earlier pings.
            self.strikes = 0;
            return false;
        }
        let Some(last) = last else { return false };
        let min_time = if active_streams == 0 && !policy.permit_without_stream {
            IDLE_PING_MIN_TIME
        } else {
            policy.min_time
        };
        if now.saturating_duration_since(last) < min_time {
            self.strikes = self.strikes.saturating_add(1);
        }
        self.strikes > policy.max_strikes
    }

    /// We wrote a HEADERS or DATA frame. gRPC-Go's server forgives a
    /// client's pings each time its writer puts one on the wire
    /// (`internal/transport/controlbuf.go`: the `onWrite` of a header frame
    /// and the `onEachWrite` of every data frame call
    /// `http2Server.setResetPingStrikes`; `handlePing` then resets the strike
    /// count). Its clients rely on that: they send a BDP ping whenever data
    /// arrives, so a response written over several round trips draws
    /// several pings.
    pub fn on_headers_or_data_sent(&mut self) {
        self.reset_due = true;
    }

    /// The peer sent GOAWAY with `code` and `debug`.
    pub fn on_goaway(&mut self, code: ErrorCode, debug: &[u8]) {
        if code == ErrorCode::ENHANCE_YOUR_CALM && debug == TOO_MANY_PINGS {
            self.told_too_many_pings = true;
        }
    }
}

impl Connection {
    /// Applies the server's [`PingPolicy`] to a PING received at `now`;
    /// closes the connection with GOAWAY ENHANCE_YOUR_CALM `too_many_pings`
    /// after too many strikes. Returns false when the connection was closed.
    pub(super) fn enforce_ping_policy(&mut self, now: Instant) -> bool {
        let Some(policy) = self.config.ping_policy.as_ref().filter(|_| self.role == Role::Server) else {
            return true;
        };
        let active = self.active_local + self.active_peer;
        if !self.ping_enforcement.on_ping(policy, now, active) {
            return true;
        }
        let err = ConnectionError::limit(Limit::TooManyPings);
        self.fail_with_debug(err, Bytes::from_static(TOO_MANY_PINGS));
        false
    }

    /// True once the peer closed the connection with GOAWAY ENHANCE_YOUR_CALM
    /// `too_many_pings`: a client should ping less often on its next
    /// connections (gRPC-Go doubles its keepalive time).
    pub fn peer_said_too_many_pings(&self) -> bool {
        self.ping_enforcement.told_too_many_pings
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(t0: Instant, secs: u64) -> Instant {
        t0 + Duration::from_secs(secs)
    }

    #[test]
    fn pings_closer_than_min_time_are_strikes() {
        let policy = PingPolicy { min_time: Duration::from_secs(10), ..PingPolicy::default() };
        let t0 = Instant::now();
        let mut e = PingEnforcement::default();
        assert!(!e.on_ping(&policy, t0, 1), "the first ping is free");
        assert!(!e.on_ping(&policy, at(t0, 1), 1), "strike 1");
        assert!(!e.on_ping(&policy, at(t0, 2), 1), "strike 2");
        assert!(e.on_ping(&policy, at(t0, 3), 1), "strike 3 is one too many");
    }

    #[test]
    fn pings_within_policy_are_never_strikes() {
        let policy = PingPolicy { min_time: Duration::from_secs(10), ..PingPolicy::default() };
        let t0 = Instant::now();
        let mut e = PingEnforcement::default();
        for i in 0..100 {
            assert!(!e.on_ping(&policy, at(t0, i * 10), 1), "ping {i}");
        }
    }

    #[test]
    fn sending_headers_or_data_forgives_strikes() {
        let policy = PingPolicy { min_time: Duration::from_secs(10), ..PingPolicy::default() };
        let t0 = Instant::now();
        let mut e = PingEnforcement::default();
        for i in 0..100 {
            e.on_headers_or_data_sent();
            assert!(!e.on_ping(&policy, at(t0, i), 1), "ping {i} after data");
        }
    }

    #[test]
    fn idle_pings_need_permission_or_two_hours() {
        let t0 = Instant::now();
        let strict = PingPolicy { min_time: Duration::from_secs(1), ..PingPolicy::default() };
        let mut e = PingEnforcement::default();
        let outcomes: Vec<bool> = (0..4).map(|i| e.on_ping(&strict, at(t0, i * 60), 0)).collect();
        assert_eq!(outcomes, [false, false, false, true], "minutes apart, no stream: strikes");
        let permissive = PingPolicy { permit_without_stream: true, ..strict };
        let mut e = PingEnforcement::default();
        assert!((0..10).all(|i| !e.on_ping(&permissive, at(t0, i * 60), 0)));
        let mut e = PingEnforcement::default();
        assert!((0..10).all(|i| !e.on_ping(&strict, at(t0, i * 3 * 60 * 60), 0)), "hours apart");
    }

    #[test]
    fn only_too_many_pings_goaway_is_noted() {
        let mut e = PingEnforcement::default();
        e.on_goaway(ErrorCode::ENHANCE_YOUR_CALM, b"other");
        e.on_goaway(ErrorCode::NO_ERROR, TOO_MANY_PINGS);
        assert!(!e.told_too_many_pings);
        e.on_goaway(ErrorCode::ENHANCE_YOUR_CALM, TOO_MANY_PINGS);
        assert!(e.told_too_many_pings);
    }
}
