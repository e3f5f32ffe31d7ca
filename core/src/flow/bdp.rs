//! Bandwidth-delay-product estimation (as gRPC-Go's `bdpEstimator`): a PING
//! goes out with the first DATA after the previous sample; the octets received
//! until its ACK, over the measured RTT, estimate the BDP. When a sample fills
//! most of the current window, the window doubles past the sample.
//!
//! Unlike gRPC-Go, sampling backs off while the estimate is stable (as hyper's
//! does): after two samples in a row that do not grow the window, the next
//! ping waits 10 ms, then four times longer each time, up to 10 s. A sample
//! that grows the window, or a window's worth of data arriving since the last
//! sample, ends the back-off. Without it a busy connection of small calls
//! pays a PING round trip per call.

use std::time::{Duration, Instant};

/// The estimator's state. Pure: the connection sends the ping and passes time in.
#[derive(Clone, Debug)]
pub struct BdpEstimator {
    /// Current window the estimator recommends.
    window: u32,
    /// Upper bound for growth.
    max_window: u32,
    /// Octets received since the ping went out.
    sample: u64,
    /// When the outstanding ping was sent.
    sent_at: Option<Instant>,
    /// Smoothed RTT.
    rtt: Option<Duration>,
    /// Highest bandwidth sample seen (octets per second).
    best_bandwidth: f64,
    /// Back-off between samples while the estimate is stable.
    delay: Duration,
    /// No ping before this instant (unless a window's worth arrived).
    quiet_until: Option<Instant>,
    /// Samples in a row that did not grow the window.
    stable: u8,
    /// Octets received since the last ACK, while backing off.
    since_ack: u64,
}

/// The first back-off step once the estimate is stable.
const FIRST_DELAY: Duration = Duration::from_millis(10);
/// The longest back-off between samples.
const MAX_DELAY: Duration = Duration::from_secs(10);

/// The opaque payload of BDP pings, so the connection can tell their ACKs apart.
pub const BDP_PING_PAYLOAD: [u8; 8] = *b"weir-bdp";

impl BdpEstimator {
    /// Starts from `initial_window`, growing up to `max_window`.
    pub fn new(initial_window: u32, max_window: u32) -> Self {
        BdpEstimator {
            window: initial_window,
            max_window,
            sample: 0,
            sent_at: None,
            rtt: None,
            best_bandwidth: 0.0,
            delay: Duration::ZERO,
            quiet_until: None,
            stable: 0,
            since_ack: 0,
        }
    }

    /// The window the estimator currently recommends.
    pub fn window(&self) -> u32 {
        self.window
    }

    /// Records `len` received DATA octets; returns true when a BDP ping should
    /// be sent now.
    pub fn on_data(&mut self, len: usize, now: Instant) -> bool {
        if self.window >= self.max_window {
            return false;
        }
        if self.sent_at.is_some() {
            self.sample += len as u64;
            return false;
        }
        self.since_ack += len as u64;
        let quiet = self.quiet_until.is_some_and(|t| now < t);
        if quiet && self.since_ack < u64::from(self.window) {
            return false;
        }
        self.sample = len as u64;
        self.sent_at = Some(now);
        true
    }

    /// True while a BDP ping is in flight.
    pub fn ping_outstanding(&self) -> bool {
        self.sent_at.is_some()
    }

    /// Handles the BDP ping's ACK; returns the new window when it grew.
    pub fn on_ack(&mut self, now: Instant) -> Option<u32> {
        let sent = self.sent_at.take()?;
        let rtt = now.saturating_duration_since(sent).max(Duration::from_micros(1));
        self.rtt = Some(match self.rtt {
            None => rtt,
            Some(prev) => (prev * 9 + rtt) / 10,
        });
        let sample = std::mem::take(&mut self.sample);
        let bandwidth = sample as f64 / rtt.as_secs_f64();
        // gRPC-Go: grow when the sample fills 2/3 of the window and bandwidth is
        // at a new high; the new window is twice the sample.
        let grown = if sample as f64 >= self.window as f64 * 2.0 / 3.0 && bandwidth >= self.best_bandwidth {
            self.best_bandwidth = bandwidth;
            let grown = (sample.saturating_mul(2)).min(u64::from(self.max_window)) as u32;
            (grown > self.window).then(|| {
                self.window = grown;
                grown
            })
        } else {
            None
        };
        self.back_off(now, grown.is_some());
        grown
    }

    /// Sets when the next sample may start.
    fn back_off(&mut self, now: Instant, grew: bool) {
        self.since_ack = 0;
        if grew {
            self.delay = Duration::ZERO;
            self.stable = 0;
        } else {
            self.stable += 1;
            if self.stable >= 2 {
                self.stable = 0;
                self.delay = (self.delay * 4).clamp(FIRST_DELAY, MAX_DELAY);
            }
        }
        self.quiet_until = (!self.delay.is_zero()).then(|| now + self.delay);
    }

    /// The smoothed RTT measured so far.
    pub fn rtt(&self) -> Option<Duration> {
        self.rtt
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grows_when_a_sample_fills_the_window() {
        let t0 = Instant::now();
        let mut b = BdpEstimator::new(65_535, 1 << 24);
        assert!(b.on_data(16_384, t0), "first data starts a sample");
        assert!(!b.on_data(50_000, t0), "one ping at a time");
        let grown = b.on_ack(t0 + Duration::from_millis(1)).unwrap();
        assert_eq!(grown, 2 * 66_384);
        assert_eq!(b.window(), grown);
        assert!(b.rtt().is_some());
    }

    #[test]
    fn small_samples_do_not_grow_and_growth_is_capped() {
        let t0 = Instant::now();
        let mut b = BdpEstimator::new(65_535, 100_000);
        b.on_data(100, t0);
        assert_eq!(b.on_ack(t0 + Duration::from_millis(1)), None);
        b.on_data(90_000, t0);
        assert_eq!(b.on_ack(t0 + Duration::from_millis(2)), Some(100_000));
        assert!(!b.on_data(1, t0), "at the cap no more pings");
    }

    #[test]
    fn stable_samples_back_off_and_growth_or_a_full_window_resumes() {
        let t0 = Instant::now();
        let mut b = BdpEstimator::new(65_535, 1 << 24);
        let mut t = t0;
        // Two samples that do not grow the window: pinging pauses 10 ms.
        for _ in 0..2 {
            assert!(b.on_data(10, t));
            t += Duration::from_micros(50);
            assert_eq!(b.on_ack(t), None);
        }
        assert!(!b.on_data(10, t), "backing off");
        assert!(!b.on_data(10, t + Duration::from_millis(9)), "still backing off");
        t += Duration::from_millis(10);
        assert!(b.on_data(10, t), "the back-off is over");
        // The pause stays while samples are stable, and after two more it
        // grows fourfold.
        assert_eq!(b.on_ack(t), None);
        assert!(!b.on_data(10, t + Duration::from_millis(9)));
        t += Duration::from_millis(10);
        assert!(b.on_data(10, t));
        assert_eq!(b.on_ack(t), None);
        assert!(!b.on_data(10, t + Duration::from_millis(39)));
        assert!(b.on_data(10, t + Duration::from_millis(40)));
        assert_eq!(b.on_ack(t + Duration::from_millis(40)), None);
        t += Duration::from_millis(40);
        // A window's worth of data while backing off starts a sample at once.
        assert!(!b.on_data(60_000, t + Duration::from_millis(1)));
        assert!(b.on_data(5_535, t + Duration::from_millis(1)));
        assert_eq!(b.on_ack(t + Duration::from_millis(2)), None, "the sample starts at the ping");
        // A growing sample ends the back-off.
        assert!(b.on_data(65_535, t + Duration::from_millis(2)));
        assert!(!b.on_data(40_000, t + Duration::from_millis(2)));
        assert!(b.on_ack(t + Duration::from_millis(3)).is_some());
        assert!(b.on_data(1, t + Duration::from_millis(3)), "no pause after growth");
    }
}
