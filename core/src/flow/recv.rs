//! The window for what we receive (credit we gave the peer) and the rule for
//! when to hand more credit back.

use super::FlowError;
use crate::frame::MAX_WINDOW_SIZE;

/// Receive-side window accounting.
///
/// `window` is what the peer may still send. Octets the peer sent are charged
/// on arrival; when the application consumes them they become `unclaimed`
/// credit, and a WINDOW_UPDATE is due once `unclaimed` reaches half of the
/// `target` window (python-h2's and gRPC-Go's rule): one update per half window,
/// never one per DATA frame.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RecvWindow {
    window: i64,
    target: u32,
    unclaimed: u32,
}

impl RecvWindow {
    /// A window of `initial` octets, which is also the target size.
    pub fn new(initial: u32) -> Self {
        RecvWindow { window: i64::from(initial), target: initial, unclaimed: 0 }
    }

    /// What the peer may still send.
    pub fn window(&self) -> i64 {
        self.window
    }

    /// The window size we aim to keep open.
    pub fn target(&self) -> u32 {
        self.target
    }

    /// Charges `len` received octets; fails if the peer exceeded the window.
    pub fn receive(&mut self, len: u32) -> Result<(), FlowError> {
        if i64::from(len) > self.window {
            return Err(FlowError::Exceeded);
        }
        self.window -= i64::from(len);
        Ok(())
    }

    /// Marks `len` octets as consumed by the application (or discarded).
    pub fn release(&mut self, len: u32) {
        self.unclaimed = self.unclaimed.saturating_add(len);
    }

    /// Changes the target window (SETTINGS_INITIAL_WINDOW_SIZE acknowledged, or
    /// BDP growth). For a stream window the peer applies the same delta on its
    /// side, so the current window moves by it too (§6.9.2).
    pub fn set_target_with_settings(&mut self, target: u32) {
        self.window += i64::from(target) - i64::from(self.target);
        self.target = target;
    }

    /// Grows the target without a settings change (connection window, which
    /// only WINDOW_UPDATE can change): the extra credit goes out with the next
    /// update.
    pub fn grow_target(&mut self, target: u32) {
        if target > self.target {
            self.unclaimed = self.unclaimed.saturating_add(target - self.target);
            self.target = target;
        }
    }

    /// True when [`RecvWindow::take_update`] might announce credit now.
    #[inline]
    pub fn update_due(&self) -> bool {
        self.unclaimed != 0 && self.unclaimed >= self.target / 2
    }

    /// The increment to announce now, if one is due; claims it.
    pub fn take_update(&mut self) -> Option<u32> {
        if self.unclaimed == 0 || self.unclaimed < self.target / 2 {
            return None;
        }
        let room = i64::from(MAX_WINDOW_SIZE) - self.window;
        let inc = i64::from(self.unclaimed).min(room);
        if inc <= 0 {
            return None;
        }
        self.unclaimed -= inc as u32;
        self.window += inc;
        Some(inc as u32)
    }

    /// Forces out all unclaimed credit regardless of the batching rule.
    pub fn take_all(&mut self) -> Option<u32> {
        let saved = self.target;
        self.target = 0;
        let update = self.take_update();
        self.target = saved;
        update
    }

    /// Validates a peer-announced increment against overflow (used by tests
    /// and the send side symmetry).
    pub fn check_increment(window: i64, inc: u32) -> Result<(), FlowError> {
        if window + i64::from(inc) > i64::from(MAX_WINDOW_SIZE) { Err(FlowError::Overflow) } else { Ok(()) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn updates_are_batched_at_half_the_window() {
        let mut w = RecvWindow::new(1000);
        for _ in 0..4 {
            w.receive(100).unwrap();
            w.release(100);
            assert_eq!(w.take_update(), None, "below half: no update yet");
        }
        w.receive(100).unwrap();
        w.release(100);
        assert_eq!(w.take_update(), Some(500));
        assert_eq!(w.window(), 1000);
        assert_eq!(w.take_update(), None);
    }

    #[test]
    fn peer_exceeding_the_window_is_an_error() {
        let mut w = RecvWindow::new(10);
        w.receive(10).unwrap();
        assert_eq!(w.receive(1), Err(FlowError::Exceeded));
    }

    #[test]
    fn settings_change_moves_the_window_and_growth_adds_credit() {
        let mut w = RecvWindow::new(100);
        w.receive(60).unwrap();
        w.set_target_with_settings(50);
        assert_eq!(w.window(), -10);
        let mut c = RecvWindow::new(100);
        c.grow_target(1000);
        assert_eq!(c.take_update(), Some(900));
        assert_eq!(c.window(), 1000);
    }

    #[test]
    fn take_all_ignores_the_threshold() {
        let mut w = RecvWindow::new(1000);
        w.receive(1).unwrap();
        w.release(1);
        assert_eq!(w.take_update(), None);
        assert_eq!(w.take_all(), Some(1));
    }
}
