//! Graceful shutdown signalling between a server and its connections, and
//! the count of live connections it waits on.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};

#[derive(Default)]
struct Signal {
    triggered: AtomicBool,
    wakers: Mutex<Vec<Waker>>,
}

/// A one-shot broadcast: every connection driver polls it.
#[derive(Clone, Default)]
pub(crate) struct Shutdown(Arc<Signal>);

impl Shutdown {
    pub fn trigger(&self) {
        self.0.triggered.store(true, Ordering::SeqCst);
        let wakers = std::mem::take(&mut *self.0.wakers.lock().unwrap_or_else(|e| e.into_inner()));
        wakers.into_iter().for_each(Waker::wake);
    }

    pub fn poll_triggered(&self, cx: &mut Context<'_>) -> Poll<()> {
        if self.0.triggered.load(Ordering::SeqCst) {
            return Poll::Ready(());
        }
        let mut w = self.0.wakers.lock().unwrap_or_else(|e| e.into_inner());
        if self.0.triggered.load(Ordering::SeqCst) {
            return Poll::Ready(());
        }
        if !w.iter().any(|x| x.will_wake(cx.waker())) {
            w.push(cx.waker().clone());
        }
        Poll::Pending
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
