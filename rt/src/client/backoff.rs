//! Exponential backoff with jitter: gRPC's connection backoff
//! (grpc/doc/connection-backoff.md) and the randomness it needs.

use std::time::Duration;

/// Connection backoff (grpc/doc/connection-backoff.md): after the n-th
/// consecutive failure to connect to an address, wait
/// `min(initial * multiplier^n, max)`, moved by up to `jitter` either way.
#[derive(Clone, Debug)]
pub struct Backoff {
    /// First delay after a failed attempt.
    pub initial: Duration,
    /// Growth per further failure.
    pub multiplier: f64,
    /// Randomisation: each delay is moved by up to this fraction either way.
    pub jitter: f64,
    /// Largest delay.
    pub max: Duration,
}

impl Default for Backoff {
    fn default() -> Self {
        Backoff {
            initial: Duration::from_secs(1),
            multiplier: 1.6,
            jitter: 0.2,
            max: Duration::from_secs(120),
        }
    }
}

impl Backoff {
    /// The delay before retrying after `failures` consecutive failures
    /// (the first failure is 0), jitter included.
    pub fn delay(&self, failures: u32) -> Duration {
        let spread = 1.0 + self.jitter * (2.0 * random_unit() - 1.0);
        Duration::from_secs_f64((self.unjittered(failures) * spread).max(0.0))
    }

    /// The delay without jitter, in seconds.
    fn unjittered(&self, failures: u32) -> f64 {
        let exp = i32::try_from(failures).unwrap_or(i32::MAX);
        let base = self.initial.as_secs_f64() * self.multiplier.max(1.0).powi(exp);
        if base.is_finite() { base.min(self.max.as_secs_f64()) } else { self.max.as_secs_f64() }
    }
}

/// A number in [0, 1) (see [`random_u64`]).
pub(crate) fn random_unit() -> f64 {
    (random_u64() >> 11) as f64 / (1u64 << 53) as f64
}

/// 64 random bits: from this thread's seeded sequence when a simulator set
/// one ([`crate::runtime::seed_thread_randomness`]), else from the standard
/// library's randomly keyed hasher.
pub(crate) fn random_u64() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    crate::runtime::seeded_u64()
        .unwrap_or_else(|| std::collections::hash_map::RandomState::new().build_hasher().finish())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grows_by_the_multiplier_up_to_the_cap_within_the_jitter() {
        let b = Backoff::default();
        for (n, expect) in [(0, 1.0), (1, 1.6), (2, 2.56), (20, 120.0), (u32::MAX, 120.0)] {
            let d = b.delay(n).as_secs_f64();
            assert!(d >= expect * 0.8 - 1e-9 && d <= expect * 1.2 + 1e-9, "failure {n}: {d}");
        }
    }

    #[test]
    fn no_jitter_is_exact() {
        let b = Backoff { jitter: 0.0, initial: Duration::from_millis(100), ..Backoff::default() };
        assert_eq!(b.delay(0), Duration::from_millis(100));
        assert_eq!(b.delay(1), Duration::from_millis(160));
    }

    #[test]
    fn random_unit_is_in_range_and_varies() {
        let xs: Vec<f64> = (0..32).map(|_| random_unit()).collect();
        assert!(xs.iter().all(|x| (0.0..1.0).contains(x)));
        assert!(xs.iter().any(|&x| x != xs[0]));
    }

    #[test]
    fn a_seeded_thread_repeats_its_jitter_and_another_seed_differs() {
        let b = Backoff::default();
        let run = |seed| {
            crate::runtime::seed_thread_randomness(Some(seed));
            let ds: Vec<Duration> = (0..8).map(|n| b.delay(n)).collect();
            crate::runtime::seed_thread_randomness(None);
            ds
        };
        assert_eq!(run(7), run(7));
        assert_ne!(run(7), run(8));
    }
}
