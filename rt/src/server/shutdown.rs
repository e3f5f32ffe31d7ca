//! Graceful shutdown signalling between a server and its connections, and
//! the count of live connections it waits on.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};

#[derive(Default)]
struct Signal {
    triggered: AtomicBool,
    next_key: AtomicU64,
    /// The wakers of live listeners, by listener; a listener removes its own
    /// when its connection ends, so this holds one per live connection.
    /// Ordered: connections are told in the order they came (a simulation
    /// replaying a seed sees the same order every time).
    wakers: Mutex<BTreeMap<u64, Waker>>,
}

/// A one-shot broadcast to every connection driver of a server.
#[derive(Clone, Default)]
pub(crate) struct Shutdown(Arc<Signal>);

impl Shutdown {
    pub fn trigger(&self) {
        self.0.triggered.store(true, Ordering::SeqCst);
        let wakers = std::mem::take(&mut *self.0.wakers.lock().unwrap_or_else(|e| e.into_inner()));
        wakers.into_values().for_each(Waker::wake);
    }

    /// A listener for one connection.
    pub fn listener(&self) -> Listener {
        let key = self.0.next_key.fetch_add(1, Ordering::Relaxed);
        Listener { signal: self.0.clone(), key, registered: None }
    }

    /// Listeners registered now (one per live connection that polled).
    #[cfg(test)]
    fn registered(&self) -> usize {
        self.0.wakers.lock().unwrap_or_else(|e| e.into_inner()).len()
    }
}

/// One connection's view of the [`Shutdown`] signal.
pub(crate) struct Listener {
    signal: Arc<Signal>,
    key: u64,
    /// The waker last registered, to skip the lock while it stays the same.
    registered: Option<Waker>,
}

impl Listener {
    pub fn poll_triggered(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        if self.signal.triggered.load(Ordering::SeqCst) {
            return Poll::Ready(());
        }
        if self.registered.as_ref().is_some_and(|w| w.will_wake(cx.waker())) {
            return Poll::Pending;
        }
        let mut w = self.signal.wakers.lock().unwrap_or_else(|e| e.into_inner());
        if self.signal.triggered.load(Ordering::SeqCst) {
            return Poll::Ready(());
        }
        w.insert(self.key, cx.waker().clone());
        self.registered = Some(cx.waker().clone());
        Poll::Pending
    }
}

impl Drop for Listener {
    fn drop(&mut self) {
        if self.registered.is_some() {
            self.signal.wakers.lock().unwrap_or_else(|e| e.into_inner()).remove(&self.key);
        }
    }
}

#[derive(Default)]
struct Count {
    live: AtomicUsize,
    waker: Mutex<Option<Waker>>,
}

/// Counts live connections; the server waits for zero when draining.
#[derive(Clone, Default)]
pub(crate) struct Tracker(Arc<Count>);

/// Held by a connection task for its lifetime.
pub(crate) struct Guard(Arc<Count>);

impl Tracker {
    pub fn enter(&self) -> Guard {
        self.0.live.fetch_add(1, Ordering::SeqCst);
        Guard(self.0.clone())
    }

    pub fn live(&self) -> usize {
        self.0.live.load(Ordering::SeqCst)
    }

    pub fn poll_empty(&self, cx: &mut Context<'_>) -> Poll<()> {
        *self.0.waker.lock().unwrap_or_else(|e| e.into_inner()) = Some(cx.waker().clone());
        if self.live() == 0 { Poll::Ready(()) } else { Poll::Pending }
    }
}

impl Drop for Guard {
    fn drop(&mut self) {
        if self.0.live.fetch_sub(1, Ordering::SeqCst) == 1
            && let Some(w) = self.0.waker.lock().unwrap_or_else(|e| e.into_inner()).take()
        {
            w.wake();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listeners_deregister_when_their_connection_ends() {
        let shutdown = Shutdown::default();
        let mut cx = Context::from_waker(Waker::noop());
        for _ in 0..1000 {
            let mut l = shutdown.listener();
            for _ in 0..10 {
                assert!(l.poll_triggered(&mut cx).is_pending());
            }
        }
        assert_eq!(shutdown.registered(), 0, "every ended connection took its waker away");
        let mut live = shutdown.listener();
        assert!(live.poll_triggered(&mut cx).is_pending());
        assert_eq!(shutdown.registered(), 1);
        shutdown.trigger();
        assert!(live.poll_triggered(&mut cx).is_ready());
        assert!(shutdown.listener().poll_triggered(&mut cx).is_ready(), "late listeners see it too");
    }
}
