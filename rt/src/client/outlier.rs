//! Outlier detection (gRFC A50): every `interval` the channel looks at each
//! address's call outcomes since the last look, ejects the ones whose
//! success rate is far below the others' (success-rate ejection) or whose
//! failure percentage is above a threshold (failure-percentage ejection),
//! and returns ejected addresses after their ejection time. The balancer
//! sees an ejected address as TRANSIENT_FAILURE; its connection stays open.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// Outlier detection's settings (gRFC A50's `outlier_detection_experimental`
/// config; the defaults are A50's).
#[derive(Clone, Debug, PartialEq)]
pub struct OutlierDetection {
    /// Time between two sweeps (10 s).
    pub interval: Duration,
    /// An ejection lasts this long times the address's ejection count
    /// (30 s)...
    pub base_ejection_time: Duration,
    /// ...but no longer than this (or `base_ejection_time`, if more; 300 s).
    pub max_ejection_time: Duration,
    /// Never eject more than this percentage of the addresses (10).
    pub max_ejection_percent: u32,
    /// Success-rate ejection, when set.
    pub success_rate: Option<SuccessRateEjection>,
    /// Failure-percentage ejection, when set.
    pub failure_percentage: Option<FailurePercentageEjection>,
}

impl Default for OutlierDetection {
    fn default() -> Self {
        OutlierDetection {
            interval: Duration::from_secs(10),
            base_ejection_time: Duration::from_secs(30),
            max_ejection_time: Duration::from_secs(300),
            max_ejection_percent: 10,
            success_rate: None,
            failure_percentage: None,
        }
    }
}

/// Ejects addresses whose success rate is below the mean by more than
/// `stdev_factor / 1000` standard deviations.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SuccessRateEjection {
    /// In thousandths of a standard deviation (1900).
    pub stdev_factor: u32,
    /// The chance, in percent, that an outlier found is ejected (100).
    pub enforcement_percentage: u32,
    /// Fewer addresses with enough calls than this: no ejection (5).
    pub minimum_hosts: u32,
    /// Calls in the interval for an address to count (100).
    pub request_volume: u32,
}

impl Default for SuccessRateEjection {
    fn default() -> Self {
        SuccessRateEjection {
            stdev_factor: 1900,
            enforcement_percentage: 100,
            minimum_hosts: 5,
            request_volume: 100,
        }
    }
}

/// Ejects addresses whose calls failed more than `threshold` percent.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FailurePercentageEjection {
    /// Failure percentage above which an address is ejected (85).
    pub threshold: u32,
    /// The chance, in percent, that an outlier found is ejected (100).
    pub enforcement_percentage: u32,
    /// Fewer addresses with enough calls than this: no ejection (5).
    pub minimum_hosts: u32,
    /// Calls in the interval for an address to count (50).
    pub request_volume: u32,
}

impl Default for FailurePercentageEjection {
    fn default() -> Self {
        FailurePercentageEjection {
            threshold: 85,
            enforcement_percentage: 100,
            minimum_hosts: 5,
            request_volume: 50,
        }
    }
}

/// One address's call outcomes since the last sweep (recorded as calls end).
#[derive(Debug, Default)]
pub(crate) struct Outcomes {
    successes: AtomicU64,
    failures: AtomicU64,
}

impl Outcomes {
    pub fn record(&self, ok: bool) {
        let counter = if ok { &self.successes } else { &self.failures };
        counter.fetch_add(1, Ordering::Relaxed);
    }

    /// `(successes, failures)` since the last call, and starts counting anew.
    pub fn take(&self) -> (u64, u64) {
        (self.successes.swap(0, Ordering::Relaxed), self.failures.swap(0, Ordering::Relaxed))
    }
}

/// One address's ejection state.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Ejection {
    /// Since when it is ejected.
    pub since: Option<Instant>,
    /// How many times it was ejected lately (grows per ejection, shrinks
    /// per sweep it is not ejected).
    pub multiplier: u32,
}

/// What a sweep looks at of one address.
pub(crate) struct Tracked<'a> {
    pub successes: u64,
    pub failures: u64,
    pub ejection: &'a mut Ejection,
}

impl Tracked<'_> {
    fn volume(&self) -> u64 {
        self.successes + self.failures
    }
}

impl OutlierDetection {
    /// One sweep (gRFC A50's algorithm): ejects outliers, returns the
    /// addresses whose time is up. `percent` draws a number in 0..100 for
    /// the enforcement percentages. True when any address changed.
    pub(crate) fn sweep(
        &self,
        now: Instant,
        addrs: &mut [Tracked<'_>],
        mut percent: impl FnMut() -> u32,
    ) -> bool {
        let mut changed = false;
        let total = addrs.len().max(1) as u64;
        let mut ejected = addrs.iter().filter(|a| a.ejection.since.is_some()).count() as u64;
        let mut eject = |a: &mut Tracked<'_>, enforcement: u32, ejected: &mut u64| {
            if a.ejection.since.is_none() && percent() < enforcement {
                a.ejection.since = Some(now);
                a.ejection.multiplier += 1;
                *ejected += 1;
                changed = true;
            }
        };
        let room = |ejected: u64| ejected * 100 < total * self.max_ejection_percent as u64;
        if let Some(sr) = self.success_rate {
            let candidates: Vec<usize> =
                (0..addrs.len()).filter(|&i| addrs[i].volume() >= sr.request_volume as u64).collect();
            if candidates.len() >= sr.minimum_hosts as usize && !candidates.is_empty() {
                let rate = |a: &Tracked<'_>| a.successes as f64 / a.volume() as f64;
                let n = candidates.len() as f64;
                let mean = candidates.iter().map(|&i| rate(&addrs[i])).sum::<f64>() / n;
                let variance = candidates.iter().map(|&i| (rate(&addrs[i]) - mean).powi(2)).sum::<f64>() / n;
                let required = mean - variance.sqrt() * (sr.stdev_factor as f64 / 1000.0);
                for &i in &candidates {
                    if !room(ejected) {
                        break;
                    }
                    if rate(&addrs[i]) < required {
                        eject(&mut addrs[i], sr.enforcement_percentage, &mut ejected);
                    }
                }
            }
        }
        if let Some(fp) = self.failure_percentage {
            let candidates: Vec<usize> =
                (0..addrs.len()).filter(|&i| addrs[i].volume() >= fp.request_volume as u64).collect();
            if candidates.len() >= fp.minimum_hosts as usize {
                for &i in &candidates {
                    if !room(ejected) {
                        break;
                    }
                    let a = &addrs[i];
                    if a.failures * 100 > fp.threshold as u64 * a.volume() {
                        eject(&mut addrs[i], fp.enforcement_percentage, &mut ejected);
                    }
                }
            }
        }
        let longest = self.max_ejection_time.max(self.base_ejection_time);
        for a in addrs.iter_mut() {
            let e = &mut *a.ejection;
            match e.since {
                None => e.multiplier = e.multiplier.saturating_sub(1),
                Some(since) => {
                    let lasts = self.base_ejection_time.saturating_mul(e.multiplier).min(longest);
                    if now >= since + lasts {
                        e.since = None;
                        changed = true;
                    }
                }
            }
        }
        changed
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sweep(
        od: &OutlierDetection,
        now: Instant,
        counts: &[(u64, u64)],
        states: &mut [Ejection],
    ) -> Vec<bool> {
        let mut tracked: Vec<Tracked<'_>> = counts
            .iter()
            .zip(states.iter_mut())
            .map(|(&(successes, failures), ejection)| Tracked { successes, failures, ejection })
            .collect();
        od.sweep(now, &mut tracked, || 0);
        states.iter().map(|e| e.since.is_some()).collect()
    }

    #[test]
    fn failure_percentage_ejects_above_the_threshold_and_returns_after_the_ejection_time() {
        let od = OutlierDetection {
            max_ejection_percent: 50,
            failure_percentage: Some(FailurePercentageEjection {
                minimum_hosts: 3,
                request_volume: 10,
                ..Default::default()
            }),
            ..Default::default()
        };
        let t0 = Instant::now();
        let mut st = [Ejection::default(); 3];
        // 90 % failures > 85: ejected; 80 % is not.
        assert_eq!(sweep(&od, t0, &[(1, 9), (2, 8), (10, 0)], &mut st), [true, false, false]);
        // Two addresses with 10 calls are fewer than minimum_hosts.
        let mut few = [Ejection::default(); 3];
        assert_eq!(sweep(&od, t0, &[(0, 10), (0, 10), (0, 9)], &mut few), [false; 3]);
        assert_eq!(st[0].multiplier, 1);
        // Still out within base_ejection_time × 1, back after.
        assert_eq!(sweep(&od, t0 + Duration::from_secs(29), &[(0, 0); 3], &mut st), [true, false, false]);
        assert_eq!(sweep(&od, t0 + Duration::from_secs(30), &[(0, 0); 3], &mut st), [false; 3]);
        // Ejected again at once: the multiplier makes it last 60 s.
        let t1 = t0 + Duration::from_secs(40);
        assert_eq!(sweep(&od, t1, &[(0, 20), (10, 0), (10, 0)], &mut st), [true, false, false]);
        assert_eq!(st[0].multiplier, 2);
        sweep(&od, t1 + Duration::from_secs(59), &[(0, 0); 3], &mut st);
        assert!(st[0].since.is_some());
        sweep(&od, t1 + Duration::from_secs(60), &[(0, 0); 3], &mut st);
        assert!(st[0].since.is_none());
    }

    #[test]
    fn success_rate_ejects_far_below_the_mean_within_the_max_percent() {
        let od = OutlierDetection {
            max_ejection_percent: 10,
            success_rate: Some(SuccessRateEjection {
                stdev_factor: 1000,
                minimum_hosts: 5,
                request_volume: 100,
                ..Default::default()
            }),
            ..Default::default()
        };
        let t0 = Instant::now();
        let mut st = [Ejection::default(); 6];
        let counts = [(100, 0), (99, 1), (100, 0), (98, 2), (40, 60), (35, 65)];
        // Both below mean − 1 stdev (0.49), but with one of 6 out (17 %)
        // the 10 % cap is reached: A50 checks it before each ejection.
        let out = sweep(&od, t0, &counts, &mut st);
        assert_eq!(out.iter().filter(|&&e| e).count(), 1, "{out:?}");
        assert!(out[4] || out[5]);
        // Below minimum_hosts (4 with 100 calls): nothing.
        let mut st = [Ejection::default(); 6];
        let few = [(100, 0), (100, 0), (100, 0), (10, 90), (5, 5), (5, 5)];
        assert_eq!(sweep(&od, t0, &few, &mut st), [false; 6]);
        // Enforcement 0 %: found but never ejected.
        let never = OutlierDetection {
            success_rate: Some(SuccessRateEjection { enforcement_percentage: 0, ..od.success_rate.unwrap() }),
            ..od.clone()
        };
        let mut st = [Ejection::default(); 6];
        assert_eq!(sweep(&never, t0, &counts, &mut st), [false; 6]);
    }
}
