//! Bandwidth-delay-product estimation (as gRPC-Go's `bdpEstimator`): a PING
//! goes out with the first DATA after the previous sample; the octets received
//! until its ACK, over the measured RTT, estimate the BDP. When a sample fills
//! most of the current window, the window doubles past the sample.

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
}

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
        self.sample += len as u64;
        if self.sent_at.is_none() {
            self.sent_at = Some(now);
            return true;
        }
        false
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
        if sample as f64 >= self.window as f64 * 2.0 / 3.0 && bandwidth >= self.best_bandwidth {
            self.best_bandwidth = bandwidth;
            let grown = (sample.saturating_mul(2)).min(u64::from(self.max_window)) as u32;
            if grown > self.window {
                self.window = grown;
                return Some(grown);
            }
        }
        None
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
}
