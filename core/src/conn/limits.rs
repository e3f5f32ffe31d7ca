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
}
