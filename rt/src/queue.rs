//! The one-way command queue from call handles to a connection driver: many
//! producers, one consumer that takes everything queued with one lock and
//! processes it without holding the lock.

use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll, Waker};

struct Inner<T> {
    items: Vec<T>,
    waker: Option<Waker>,
    closed: bool,
}

/// A multi-producer, single-consumer queue with a waker for the consumer.
pub(crate) struct CommandQueue<T> {
    inner: Mutex<Inner<T>>,
}

impl<T> CommandQueue<T> {
    pub fn new() -> Arc<Self> {
        Arc::new(CommandQueue { inner: Mutex::new(Inner { items: Vec::new(), waker: None, closed: false }) })
    }

    fn lock(&self) -> MutexGuard<'_, Inner<T>> {
        // A panic while holding this lock cannot leave the queue inconsistent
        // (pushes and swaps are single operations), so poisoning is ignored.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Queues an item and wakes the consumer; gives the item back when the
    /// consumer is gone.
    pub fn push(&self, item: T) -> Result<(), T> {
        let waker = {
            let mut g = self.lock();
            if g.closed {
                return Err(item);
            }
            g.items.push(item);
            g.waker.take()
        };
        if let Some(w) = waker {
            w.wake();
        }
        Ok(())
    }

    /// Takes everything queued into `out` (swapping buffers), registering the
    /// consumer's waker; `Pending` when nothing was queued.
    pub fn poll_drain(&self, cx: &mut Context<'_>, out: &mut Vec<T>) -> Poll<()> {
        let mut g = self.lock();
        if g.items.is_empty() {
            if !g.waker.as_ref().is_some_and(|w| w.will_wake(cx.waker())) {
                g.waker = Some(cx.waker().clone());
            }
            return Poll::Pending;
        }
        std::mem::swap(&mut g.items, out);
        Poll::Ready(())
    }

    /// Refuses further pushes; returns what was still queued.
    pub fn close(&self) -> Vec<T> {
        let mut g = self.lock();
        g.closed = true;
        std::mem::take(&mut g.items)
    }

    /// True once closed.
    pub fn is_closed(&self) -> bool {
        self.lock().closed
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::task::Wake;

    struct CountWake(AtomicUsize);
    impl Wake for CountWake {
        fn wake(self: Arc<Self>) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }

    #[test]
    fn push_wakes_the_registered_consumer_and_drain_takes_all() {
        let q = CommandQueue::new();
        let counter = Arc::new(CountWake(AtomicUsize::new(0)));
        let waker = Waker::from(counter.clone());
        let mut cx = Context::from_waker(&waker);
        let mut out = Vec::new();
        assert!(q.poll_drain(&mut cx, &mut out).is_pending());
        q.push(1).unwrap();
        q.push(2).unwrap();
        assert_eq!(counter.0.load(Ordering::SeqCst), 1, "one wake until the consumer polls again");
        assert!(q.poll_drain(&mut cx, &mut out).is_ready());
        assert_eq!(out, vec![1, 2]);
        assert_eq!(q.close(), Vec::<i32>::new());
        assert_eq!(q.push(3), Err(3));
    }
}
