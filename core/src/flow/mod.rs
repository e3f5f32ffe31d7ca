//! Flow control (RFC 9113 §5.2, §6.9): send and receive windows for streams and
//! the connection, the WINDOW_UPDATE batching rule, and BDP-based window growth.

mod bdp;
mod recv;
mod send;

pub use bdp::{BDP_PING_PAYLOAD, BdpEstimator};
pub use recv::RecvWindow;
pub use send::SendWindow;

/// A flow-control violation by the peer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FlowError {
    /// A WINDOW_UPDATE or SETTINGS change would push a window above 2^31-1 (§6.9.1).
    Overflow,
    /// The peer sent more than the window it was given (§6.9.1).
    Exceeded,
}
