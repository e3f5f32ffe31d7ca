//! Every timeout the connection keeps, surfaced through one deadline. The
//! core never reads a clock: the owner passes `now` in.

use std::time::Instant;

use bytes::Bytes;

use super::error::{ConnectionError, ConnectionErrorKind};
use super::{Connection, Phase, Shutdown, ping_payload};
use crate::error_code::ErrorCode;
use crate::frame::{Frame, Ping};

impl Connection {
    /// The earliest instant at which [`Connection::handle_timeout`] has work.
    pub fn poll_timeout(&self) -> Option<Instant> {
        if self.phase != Phase::Open {
            return None;
        }
        [
            self.settings_deadline(),
            self.keepalive_deadline(),
            self.idle_deadline(),
            self.age_deadline(),
            self.shutdown_deadline(),
        ]
        .into_iter()
        .flatten()
        .min()
    }

    /// Runs every timer that expired at `now`.
    pub fn handle_timeout(&mut self, now: Instant) {
        if self.phase != Phase::Open {
            return;
        }
        if self.settings_deadline().is_some_and(|t| t <= now) {
            // §6.5.3: "If the sender of a SETTINGS frame does not receive an
            // acknowledgment within a reasonable amount of time, it MAY issue a
            // connection error of type SETTINGS_TIMEOUT."
            let kind = ConnectionErrorKind::SettingsTimeout;
            return self.fail(ConnectionError::local(ErrorCode::SETTINGS_TIMEOUT, kind));
        }
        if self.keepalive_deadline().is_some_and(|t| t <= now) {
            if self.keepalive_sent.is_some() {
                let kind = ConnectionErrorKind::KeepaliveTimeout;
                return self.fail(ConnectionError::local(ErrorCode::NO_ERROR, kind));
            }
            self.keepalive_sent = Some(now);
            self.control.push_back(Frame::Ping(Ping { ack: false, payload: ping_payload::KEEPALIVE }));
        }
        if self.idle_deadline().is_some_and(|t| t <= now) {
            self.queue_goaway(self.last_peer_id, ErrorCode::NO_ERROR, Bytes::from_static(b"idle"));
            self.phase = Phase::Closing;
            return;
        }
        if self.age_deadline().is_some_and(|t| t <= now) {
            self.shutdown(now);
        }
        match self.shutdown {
            Some(Shutdown::AwaitingPing { .. }) if self.shutdown_deadline().is_some_and(|t| t <= now) => {
                // The PING went unanswered: send the final GOAWAY anyway.
                self.on_shutdown_ping_timeout(now);
            }
            Some(Shutdown::Draining { deadline }) if deadline <= now => {
                // Grace is over: whatever still runs is cut off.
                self.queue_goaway(self.last_peer_id, ErrorCode::NO_ERROR, Bytes::new());
                self.phase = Phase::Closing;
            }
            _ => {}
        }
    }

    fn on_shutdown_ping_timeout(&mut self, now: Instant) {
        self.queue_goaway(self.last_peer_id, ErrorCode::NO_ERROR, Bytes::new());
        self.shutdown = Some(Shutdown::Draining { deadline: now + self.config.shutdown_grace });
        self.check_drained();
    }

    fn settings_deadline(&self) -> Option<Instant> {
        self.local.oldest_pending().map(|t| t + self.config.settings_ack_timeout)
    }

    fn keepalive_deadline(&self) -> Option<Instant> {
        let interval = self.config.keepalive_interval?;
        if let Some(sent) = self.keepalive_sent {
            return Some(sent + self.config.keepalive_timeout);
        }
        let busy = self.active_local + self.active_peer > 0;
        (busy || self.config.keepalive_while_idle).then(|| self.last_recv_at + interval)
    }

    fn idle_deadline(&self) -> Option<Instant> {
        let timeout = self.config.idle_timeout?;
        self.idle_since.map(|t| t + timeout)
    }

    fn age_deadline(&self) -> Option<Instant> {
        if self.shutdown.is_some() {
            return None;
        }
        self.config.max_connection_age.map(|age| self.created_at + age)
    }

    fn shutdown_deadline(&self) -> Option<Instant> {
        match self.shutdown? {
            Shutdown::AwaitingPing { started } => {
                Some(started + self.config.settings_ack_timeout.min(self.config.shutdown_grace))
            }
            Shutdown::Draining { deadline } => Some(deadline),
        }
    }
}
