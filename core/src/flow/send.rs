//! The window for what we send (credit the peer gave us).

use super::FlowError;
use crate::frame::MAX_WINDOW_SIZE;

/// Credit the peer granted us. Signed: a SETTINGS_INITIAL_WINDOW_SIZE decrease
/// can make a stream window negative (RFC 9113 §6.9.2).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SendWindow {
    available: i64,
}

impl SendWindow {
    /// A window starting at `initial` octets.
    pub fn new(initial: u32) -> Self {
        SendWindow { available: i64::from(initial) }
    }

    /// Octets that may be sent now (0 when the window is negative).
    pub fn available(&self) -> u32 {
        self.available.clamp(0, i64::from(MAX_WINDOW_SIZE)) as u32
    }

    /// The raw, possibly negative, window.
    pub fn raw(&self) -> i64 {
        self.available
    }

    /// Applies a WINDOW_UPDATE increment.
    pub fn grow(&mut self, increment: u32) -> Result<(), FlowError> {
        self.adjust(i64::from(increment))
    }

    /// Applies the difference between a new and an old SETTINGS_INITIAL_WINDOW_SIZE (§6.9.2).
    pub fn adjust(&mut self, delta: i64) -> Result<(), FlowError> {
        let next = self.available + delta;
        if next > i64::from(MAX_WINDOW_SIZE) {
            return Err(FlowError::Overflow);
        }
        self.available = next;
        Ok(())
    }

    /// Records `len` octets sent. The caller never sends more than `available()`.
    pub fn consume(&mut self, len: u32) {
        debug_assert!(i64::from(len) <= self.available);
        self.available -= i64::from(len);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grows_consumes_and_detects_overflow() {
        let mut w = SendWindow::new(65_535);
        w.consume(65_535);
        assert_eq!(w.available(), 0);
        w.grow(10).unwrap();
        assert_eq!(w.available(), 10);
        assert_eq!(w.grow(MAX_WINDOW_SIZE), Err(FlowError::Overflow));
        assert_eq!(w.available(), 10, "a rejected update leaves the window unchanged");
    }

    #[test]
    fn settings_decrease_can_make_the_window_negative() {
        let mut w = SendWindow::new(100);
        w.consume(80);
        w.adjust(-50).unwrap();
        assert_eq!(w.raw(), -30);
        assert_eq!(w.available(), 0);
        w.grow(40).unwrap();
        assert_eq!(w.available(), 10);
    }
}
