//! The shared state of one simulation: virtual time and its timers, the
//! seeded random source, and the event log. One thread runs everything; the
//! locks only satisfy the `Send + Sync` bounds of weir-rt's traits.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::Waker;
use std::time::{Duration, Instant};

use crate::executor::Executor;
use crate::net::Network;

/// SplitMix64: small, seedable, and the same everywhere.
#[derive(Clone, Debug)]
pub(crate) struct Rng(u64);

impl Rng {
    pub(crate) fn new(seed: u64) -> Self {
        Rng(seed)
    }

    pub(crate) fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in [0, 1).
    pub(crate) fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// Virtual time: an offset from a real instant taken once (an `Instant`
/// cannot be made any other way), and the timers waiting on it, ordered by
/// due time and then by creation, so equal times fire in a fixed order.
pub(crate) struct Clock {
    base: Instant,
    now: Duration,
    timers: BTreeMap<(Duration, u64), Waker>,
    next_id: u64,
}

impl Clock {
    fn offset(&self, at: Instant) -> Duration {
        at.saturating_duration_since(self.base)
    }

    /// A fresh timer id (timers with the same due time fire by id).
    pub(crate) fn id(&mut self) -> u64 {
        self.next_id += 1;
        self.next_id
    }
}

/// One simulation's state.
pub(crate) struct World {
    pub(crate) clock: Mutex<Clock>,
    pub(crate) rng: Mutex<Rng>,
    pub(crate) log: Mutex<Vec<String>>,
    pub(crate) net: Mutex<Network>,
    pub(crate) executor: Executor,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl World {
    pub(crate) fn new(seed: u64) -> Arc<World> {
        Arc::new(World {
            clock: Mutex::new(Clock {
                base: Instant::now(),
                now: Duration::ZERO,
                timers: BTreeMap::new(),
                next_id: 0,
            }),
            rng: Mutex::new(Rng::new(seed)),
            log: Mutex::new(Vec::new()),
            net: Mutex::new(Network::default()),
            executor: Executor::default(),
        })
    }

    pub(crate) fn clock(&self) -> MutexGuard<'_, Clock> {
        lock(&self.clock)
    }

    pub(crate) fn net(&self) -> MutexGuard<'_, Network> {
        lock(&self.net)
    }

    pub(crate) fn rng(&self) -> MutexGuard<'_, Rng> {
        lock(&self.rng)
    }

    /// The virtual now, as an `Instant`.
    pub(crate) fn now(&self) -> Instant {
        let c = self.clock();
        c.base + c.now
    }

    /// Virtual time since the start.
    pub(crate) fn elapsed(&self) -> Duration {
        self.clock().now
    }

    /// The instant `d` after the start.
    pub(crate) fn at(&self, d: Duration) -> Instant {
        self.clock().base + d
    }

    /// Wakes `waker` at `at` (once). Returns the timer's key, for `cancel`.
    pub(crate) fn wake_at(&self, at: Instant, id: u64, waker: &Waker) -> (Duration, u64) {
        let mut c = self.clock();
        let key = (c.offset(at), id);
        c.timers.insert(key, waker.clone());
        key
    }

    pub(crate) fn cancel(&self, key: (Duration, u64)) {
        self.clock().timers.remove(&key);
    }

    /// Moves the clock forward by `d` (timers due by then fire as time
    /// moves on, earliest first).
    pub(crate) fn step(&self, d: Duration) {
        self.clock().now += d;
    }

    /// Moves time to the earliest timer and wakes every timer due then;
    /// false when no timer is set.
    pub(crate) fn advance(&self) -> bool {
        let wakers: Vec<Waker> = {
            let mut c = self.clock();
            let Some((&(at, _), _)) = c.timers.first_key_value() else { return false };
            c.now = c.now.max(at);
            let later = c.timers.split_off(&(at, u64::MAX));
            std::mem::replace(&mut c.timers, later).into_values().collect()
        };
        wakers.into_iter().for_each(Waker::wake);
        true
    }

    /// Appends a line to the event log, stamped with virtual time.
    pub(crate) fn log(&self, event: impl std::fmt::Display) {
        let t = self.elapsed();
        lock(&self.log).push(format!("{:>5}.{:06} {event}", t.as_secs(), t.subsec_micros()));
    }

    pub(crate) fn log_lines(&self) -> Vec<String> {
        lock(&self.log).clone()
    }
}
