//! Fixed-window event counters for the flood limits.

use std::time::{Duration, Instant};

/// Counts events in fixed windows of time; reports when a window holds more
/// than the limit.
#[derive(Clone, Debug)]
pub(crate) struct RateCounter {
    limit: u32,
    window: Duration,
    window_start: Option<Instant>,
    count: u32,
}

impl RateCounter {
    pub fn new(limit: u32, window: Duration) -> Self {
        RateCounter { limit, window, window_start: None, count: 0 }
    }

    /// Records one event at `now`; true when the limit is exceeded.
    pub fn record(&mut self, now: Instant) -> bool {
        match self.window_start {
            Some(start) if now.saturating_duration_since(start) < self.window => {}
            _ => {
                self.window_start = Some(now);
                self.count = 0;
            }
        }
        self.count = self.count.saturating_add(1);
        self.count > self.limit
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exceeds_within_a_window_and_resets_after() {
        let t0 = Instant::now();
        let mut c = RateCounter::new(3, Duration::from_secs(1));
        assert!(!c.record(t0));
        assert!(!c.record(t0));
        assert!(!c.record(t0 + Duration::from_millis(500)));
        assert!(c.record(t0 + Duration::from_millis(900)));
        assert!(!c.record(t0 + Duration::from_secs(2)), "a new window starts fresh");
    }

    /// The transport's `close_flush_timeout` (slow-read defence) relies on
    /// this: once an error is pending the connection is no longer open and
    /// has no timer of its own, even while its GOAWAY is still unwritten
    /// (the peer does not read), so only the transport's deadline ends it.
    #[test]
    fn a_failed_connection_is_not_open_before_its_goaway_is_written() {
        use crate::conn::{Config, Connection, PREFACE, Role};
        let t0 = Instant::now();
        let cfg = Config::default();
        assert!(
            cfg.close_flush_timeout > Duration::ZERO && cfg.close_flush_timeout <= Duration::from_secs(30)
        );
        let mut c = Connection::new(Role::Server, cfg, t0);
        c.handle_input(t0, PREFACE);
        // Not SETTINGS first: a connection error (§3.4).
        c.handle_input(t0, &[0, 0, 8, 6, 0, 0, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8]);
        assert!(c.error().is_some());
        assert!(!c.is_open(), "closing as soon as the error is known");
        assert!(!c.is_closed(), "the GOAWAY is not written yet");
        assert_eq!(c.poll_timeout(), None, "no timer of the core's own");
    }
}
