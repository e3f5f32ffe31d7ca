//! One address's connection and its state: idle, connecting, ready, or
//! in transient failure until its backoff ends.

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Instant;

use super::address::Address;
use super::balancer::ConnectivityState;
use super::driver::{ClientCmd, ConnHandle};
use super::health_check::health;
use super::outlier::{Ejection, Outcomes};
use std::sync::atomic::Ordering;

enum State {
    Idle,
    Connecting,
    Ready(Arc<ConnHandle>),
    Failed { until: Instant },
}

struct Inner {
    state: State,
    /// Consecutive failed attempts (the backoff exponent).
    failures: u32,
    /// Outlier detection's verdict.
    ejection: Ejection,
}

/// The connection to one address.
pub(crate) struct AddressConn {
    pub address: Address,
    /// Its calls' outcomes, for outlier detection (across reconnections).
    pub outcomes: Arc<Outcomes>,
    inner: Mutex<Inner>,
}

/// What observing a subchannel found.
pub(crate) struct Observed {
    pub state: ConnectivityState,
    /// Its connection was found lost (a reason to re-resolve).
    pub lost: bool,
}

impl AddressConn {
    pub fn new(address: Address) -> Arc<Self> {
        Arc::new(AddressConn {
            address,
            outcomes: Arc::default(),
            inner: Mutex::new(Inner { state: State::Idle, failures: 0, ejection: Ejection::default() }),
        })
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The state now: a lost connection becomes idle, and so does a
    /// failure whose backoff is over.
    pub fn observe(&self, now: Instant) -> Observed {
        let mut g = self.lock();
        let mut lost = false;
        match &g.state {
            State::Ready(h) if !h.usable() => {
                g.state = State::Idle;
                lost = true;
            }
            State::Failed { until } if now >= *until => g.state = State::Idle,
            _ => {}
        }
        Observed { state: reported(&g.state), lost }
    }

    /// The state as the channel reports it, changing nothing: a failed
    /// address stays TRANSIENT_FAILURE until its next attempt starts (gRPC
    /// goes from TRANSIENT_FAILURE to CONNECTING), a lost connection is IDLE.
    pub fn peek(&self) -> ConnectivityState {
        reported(&self.lock().state)
    }

    /// The live connection, when ready.
    pub fn ready(&self) -> Option<Arc<ConnHandle>> {
        match &self.lock().state {
            State::Ready(h) if h.usable() && h.health.load(Ordering::Acquire) == health::SERVING => {
                Some(h.clone())
            }
            _ => None,
        }
    }

    /// Moves an idle subchannel to connecting; returns the number of
    /// failures so far (for the backoff), or `None` when it was not idle.
    pub fn begin_connect(&self) -> Option<u32> {
        let mut g = self.lock();
        match g.state {
            State::Idle => {
                g.state = State::Connecting;
                Some(g.failures)
            }
            _ => None,
        }
    }

    /// When a failed address may be tried again.
    pub fn retry_at(&self) -> Option<Instant> {
        match self.lock().state {
            State::Failed { until } => Some(until),
            _ => None,
        }
    }

    /// The attempt succeeded.
    pub fn connected(&self, handle: Arc<ConnHandle>) {
        let mut g = self.lock();
        g.failures = 0;
        g.state = State::Ready(handle);
    }

    /// Ejected by outlier detection.
    pub fn ejected(&self) -> bool {
        self.lock().ejection.since.is_some()
    }

    /// Runs `f` on its ejection state.
    pub fn with_ejection<T>(&self, f: impl FnOnce(&mut Ejection) -> T) -> T {
        f(&mut self.lock().ejection)
    }

    /// Calls running on its connection.
    pub fn calls(&self) -> usize {
        self.count(|h| &h.active_calls)
    }

    /// One of its connection's counters; 0 without a connection.
    fn count(&self, counter: impl Fn(&ConnHandle) -> &std::sync::atomic::AtomicUsize) -> usize {
        match &self.lock().state {
            State::Ready(h) => counter(h).load(Ordering::Acquire),
            _ => 0,
        }
    }

    /// Idle mode: closes the connection (gracefully, once its calls end)
    /// and forgets failures; the next pick connects afresh.
    pub fn go_idle(&self) {
        let mut g = self.lock();
        if let State::Ready(handle) = &g.state {
            let _ = handle.cmds.push(ClientCmd::Shutdown);
        }
        if !matches!(g.state, State::Connecting) {
            g.state = State::Idle;
            g.failures = 0;
        }
    }

    /// The attempt failed: transient failure until `until`.
    pub fn failed(&self, until: Instant) {
        let mut g = self.lock();
        g.failures = g.failures.saturating_add(1);
        g.state = State::Failed { until };
    }
}

/// What a subchannel in `state` reports: a connection that stopped taking
/// calls is IDLE, a connected one READY only while its health check says
/// SERVING.
fn reported(state: &State) -> ConnectivityState {
    match state {
        State::Idle => ConnectivityState::Idle,
        State::Connecting => ConnectivityState::Connecting,
        State::Ready(h) if !h.usable() => ConnectivityState::Idle,
        State::Ready(h) => match h.health.load(Ordering::Acquire) {
            health::SERVING => ConnectivityState::Ready,
            health::UNKNOWN => ConnectivityState::Connecting,
            _ => ConnectivityState::TransientFailure,
        },
        State::Failed { .. } => ConnectivityState::TransientFailure,
    }
}

impl Drop for AddressConn {
    /// The address left the list (or the channel is gone): its connection
    /// closes gracefully once its calls end, instead of lingering.
    fn drop(&mut self) {
        let state = match self.inner.get_mut() {
            Ok(inner) => &inner.state,
            Err(poisoned) => &poisoned.into_inner().state,
        };
        if let State::Ready(handle) = state {
            let _ = handle.cmds.push(ClientCmd::Shutdown);
        }
    }
}
