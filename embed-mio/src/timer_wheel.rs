//! A hashed timing wheel: the loop's one timer for every connection.
//!
//! Time is cut into ticks; a timer sits in the slot of its tick modulo the
//! wheel's size, so inserting and cancelling cost one small vector search,
//! and each turn of the loop looks only at the slots whose ticks passed.
//! Timers further out than one turn of the wheel wait in their slot until
//! their own tick comes round. Deadlines are rounded *up* to a tick: a timer
//! never fires early, and late by less than a tick.

use std::time::{Duration, Instant};

/// Where a timer sits, for [`TimerWheel::cancel`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TimerKey {
    tick: u64,
}

/// Timers carrying a `T` each (a connection's token, say).
#[derive(Debug)]
pub struct TimerWheel<T> {
    origin: Instant,
    tick: Duration,
    slots: Vec<Vec<(u64, T)>>,
    /// Every tick before this one has been expired.
    next_tick: u64,
    len: usize,
}

impl<T: PartialEq> TimerWheel<T> {
    /// A wheel of `slots` slots of `tick` each, starting at `now`.
    pub fn new(now: Instant, tick: Duration, slots: usize) -> Self {
        assert!(!tick.is_zero() && slots > 0, "a wheel needs a tick and a slot");
        TimerWheel {
            origin: now,
            tick,
            slots: (0..slots).map(|_| Vec::new()).collect(),
            next_tick: 0,
            len: 0,
        }
    }

    /// Timers set and not yet fired or cancelled.
    pub fn len(&self) -> usize {
        self.len
    }

    /// No timer is set.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    fn tick_at_or_after(&self, at: Instant) -> u64 {
        let ns = at.saturating_duration_since(self.origin).as_nanos();
        let tick = self.tick.as_nanos();
        u64::try_from(ns.div_ceil(tick)).unwrap_or(u64::MAX)
    }

    fn ticks_passed(&self, now: Instant) -> u64 {
        let ns = now.saturating_duration_since(self.origin).as_nanos();
        u64::try_from(ns / self.tick.as_nanos()).unwrap_or(u64::MAX)
    }

    fn slot(&self, tick: u64) -> usize {
        (tick % self.slots.len() as u64) as usize
    }

    /// Sets a timer for `at` (a time already past fires at the next expiry).
    pub fn insert(&mut self, at: Instant, item: T) -> TimerKey {
        let tick = self.tick_at_or_after(at).max(self.next_tick);
        let slot = self.slot(tick);
        self.slots[slot].push((tick, item));
        self.len += 1;
        TimerKey { tick }
    }

    /// Removes the timer set at `key` for `item`; false if it already fired.
    pub fn cancel(&mut self, key: TimerKey, item: &T) -> bool {
        let slot = self.slot(key.tick);
        let entries = &mut self.slots[slot];
        match entries.iter().position(|(t, i)| *t == key.tick && i == item) {
            Some(at) => {
                entries.swap_remove(at);
                self.len -= 1;
                true
            }
            None => false,
        }
    }

    /// Moves every timer due at `now` into `out`.
    pub fn expire(&mut self, now: Instant, out: &mut Vec<T>) {
        let passed = self.ticks_passed(now);
        if passed < self.next_tick {
            return;
        }
        // More than a turn behind: every slot is looked at once.
        let turns = (passed - self.next_tick + 1).min(self.slots.len() as u64);
        for i in 0..turns {
            let slot = self.slot(self.next_tick + i);
            let entries = &mut self.slots[slot];
            let mut at = 0;
            while at < entries.len() {
                if entries[at].0 <= passed {
                    out.push(entries.swap_remove(at).1);
                    self.len -= 1;
                } else {
                    at += 1;
                }
            }
        }
        self.next_tick = passed + 1;
    }

    /// When the loop must wake next: the earliest timer within one turn of
    /// the wheel, or one turn from now when every timer is further out.
    pub fn next_deadline(&self) -> Option<Instant> {
        if self.len == 0 {
            return None;
        }
        let n = self.slots.len() as u64;
        let due =
            (0..n).map(|i| self.next_tick + i).find(|&t| self.slots[self.slot(t)].iter().any(|e| e.0 == t));
        let tick = due.unwrap_or(self.next_tick + n);
        let ns = u64::try_from(self.tick.as_nanos()).unwrap_or(u64::MAX).saturating_mul(tick);
        Some(self.origin + Duration::from_nanos(ns))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: Duration = Duration::from_millis(1);

    fn wheel() -> (TimerWheel<u32>, Instant) {
        let t0 = Instant::now();
        (TimerWheel::new(t0, MS, 8), t0)
    }

    #[test]
    fn fires_at_its_deadline_never_before() {
        let (mut w, t0) = wheel();
        w.insert(t0 + MS * 3 + Duration::from_micros(500), 1);
        let mut out = Vec::new();
        w.expire(t0 + MS * 3, &mut out);
        assert!(out.is_empty(), "fired before its deadline");
        assert_eq!(w.next_deadline(), Some(t0 + MS * 4));
        w.expire(t0 + MS * 4, &mut out);
        assert_eq!(out, [1]);
        assert!(w.is_empty());
        assert_eq!(w.next_deadline(), None);
    }

    #[test]
    fn timers_beyond_one_turn_wait_for_their_own_tick() {
        let (mut w, t0) = wheel();
        w.insert(t0 + MS * 2, 1);
        w.insert(t0 + MS * 18, 2); // the slot of tick 2, two turns later
        let mut out = Vec::new();
        w.expire(t0 + MS * 2, &mut out);
        assert_eq!(out, [1]);
        // Nothing within a turn: wake one turn on, and find it then.
        assert_eq!(w.next_deadline(), Some(t0 + MS * 11));
        w.expire(t0 + MS * 17, &mut out);
        assert_eq!(out, [1]);
        w.expire(t0 + MS * 18, &mut out);
        assert_eq!(out, [1, 2]);
    }

    #[test]
    fn a_late_expiry_fires_everything_due_once() {
        let (mut w, t0) = wheel();
        for i in 0..20 {
            w.insert(t0 + MS * i, i);
        }
        w.insert(t0 + MS * 100, 100);
        let mut out = Vec::new();
        w.expire(t0 + MS * 50, &mut out);
        out.sort();
        assert_eq!(out, (0..20).collect::<Vec<_>>());
        assert_eq!(w.len(), 1);
        out.clear();
        w.expire(t0 + MS * 100, &mut out);
        assert_eq!(out, [100]);
    }

    /// Past 2³² ticks (49.7 days of 1 ms ticks) deadlines still come out
    /// right, not clamped into the past (which would spin the loop).
    #[test]
    fn deadlines_stay_right_after_months_of_ticks() {
        let (mut w, t0) = wheel();
        let later = t0 + Duration::from_millis(5_000_000_000); // about 58 days
        let mut out = Vec::new();
        w.expire(later, &mut out);
        w.insert(later + MS * 3, 1);
        assert_eq!(w.next_deadline(), Some(later + MS * 3));
        w.expire(later + MS * 3, &mut out);
        assert_eq!(out, [1]);
    }

    #[test]
    fn cancelled_timers_never_fire_and_past_times_fire_next() {
        let (mut w, t0) = wheel();
        let k = w.insert(t0 + MS * 5, 1);
        w.insert(t0 + MS * 5, 2);
        assert!(w.cancel(k, &1));
        assert!(!w.cancel(k, &1), "cancelled twice");
        let mut out = Vec::new();
        w.expire(t0 + MS * 6, &mut out);
        assert_eq!(out, [2]);
        // A deadline already past goes to the next tick to expire.
        w.insert(t0, 3);
        assert_eq!(w.next_deadline(), Some(t0 + MS * 7));
        w.expire(t0 + MS * 7, &mut out);
        assert_eq!(out, [2, 3]);
    }
}
