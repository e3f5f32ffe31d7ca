//! Memory budgets: what one server connection holds on behalf of its calls,
//! and what all connections of a server hold together.
//!
//! Counted against a connection's budget, each in bytes:
//! - response messages a handler handed over and the core has not taken yet
//!   (reserved before the handler's `send` returns);
//! - the core's own send buffer (every stream's queued DATA), which the
//!   connection driver reports after each pass;
//! - request messages pulled out of the core, *decompressed*, that no handler
//!   has taken yet.
//!
//! Enforcement is backpressure first: a handler's send waits while its
//! connection is over budget (or the server is), and the driver stops
//! pulling request messages, which leaves them compressed in the core where
//! flow control pushes back on the client. Requests are pulled ahead of the
//! handlers only while those queued hold less than a quarter of the budget,
//! so the rest is always there for responses. A message is always let through
//! on a connection that holds nothing, so one larger than the budget still
//! goes, one at a time, and a connection always makes progress whatever the
//! others hold. Refusal comes second (the server driver refuses new calls on
//! a connection that stays over budget because its client does not read).
//!
//! The hot path is two atomic additions per message; locks are taken only
//! when someone waits.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};

/// Default budget of one server connection: 32 MiB.
pub const DEFAULT_CONNECTION_BUDGET: usize = 32 << 20;
/// Default budget of a whole server: 512 MiB.
pub const DEFAULT_SERVER_BUDGET: usize = 512 << 20;

/// Tasks waiting for room, woken together when room is made.
#[derive(Default)]
struct Waiters {
    any: AtomicBool,
    wakers: Mutex<Vec<Waker>>,
}

impl Waiters {
    fn register(&self, cx: &Context<'_>) {
        let mut w = self.wakers.lock().unwrap_or_else(|e| e.into_inner());
        if !w.iter().any(|x| x.will_wake(cx.waker())) {
            w.push(cx.waker().clone());
        }
        self.any.store(true, Ordering::SeqCst);
    }

    /// Releases happen per message, waiters rarely: the check is inline,
    /// the waking is not.
    #[inline]
    fn wake_all(&self) {
        if self.any.load(Ordering::SeqCst) {
            self.wake_all_now();
        }
    }

    #[cold]
    fn wake_all_now(&self) {
        if !self.any.swap(false, Ordering::SeqCst) {
            return;
        }
        let wakers = std::mem::take(&mut *self.wakers.lock().unwrap_or_else(|e| e.into_inner()));
        wakers.into_iter().for_each(Waker::wake);
    }
}

/// The budget of a whole server, shared by its connections.
pub(crate) struct ServerBudget {
    limit: usize,
    used: AtomicUsize,
    waiters: Waiters,
}

impl ServerBudget {
    pub fn new(limit: usize) -> Arc<Self> {
        Arc::new(ServerBudget { limit, used: AtomicUsize::new(0), waiters: Waiters::default() })
    }

    /// Bytes held by every connection now.
    #[inline]
    pub fn used(&self) -> usize {
        self.used.load(Ordering::SeqCst)
    }

    #[inline]
    fn add(&self, n: usize) {
        self.used.fetch_add(n, Ordering::SeqCst);
    }

    #[inline]
    fn sub(&self, n: usize) {
        self.used.fetch_sub(n, Ordering::SeqCst);
        self.waiters.wake_all();
    }

    #[inline]
    fn has_room(&self, n: usize) -> bool {
        self.used() + n <= self.limit
    }
}

/// The budget of one connection.
pub(crate) struct ConnBudget {
    limit: usize,
    /// Reserved responses and queued requests.
    used: AtomicUsize,
    /// The core's send buffer, as last reported by the driver.
    core_send: AtomicUsize,
    /// The queued requests among `used` ([`ConnBudget::charge_inbound`]).
    inbound: AtomicUsize,
    server: Arc<ServerBudget>,
    waiters: Waiters,
}

impl ConnBudget {
    pub fn new(limit: usize, server: Arc<ServerBudget>) -> Arc<Self> {
        Arc::new(ConnBudget {
            limit,
            used: AtomicUsize::new(0),
            core_send: AtomicUsize::new(0),
            inbound: AtomicUsize::new(0),
            server,
            waiters: Waiters::default(),
        })
    }

    /// Bytes this connection holds now.
    #[inline]
    pub fn used(&self) -> usize {
        self.used.load(Ordering::SeqCst) + self.core_send.load(Ordering::SeqCst)
    }

    /// True when `n` more bytes fit (always, on a connection holding nothing).
    #[inline]
    fn fits(&self, n: usize) -> bool {
        let used = self.used();
        used == 0 || (used + n <= self.limit && self.server.has_room(n))
    }

    /// True while the connection is over its budget, or within a
    /// thirty-second of it (a typical message no longer fits).
    pub fn exhausted(&self) -> bool {
        self.used() + self.limit / 32 >= self.limit
    }

    #[inline]
    fn add(&self, n: usize) {
        self.used.fetch_add(n, Ordering::SeqCst);
        self.server.add(n);
    }

    /// Gives back `n` bytes of what [`ConnBudget::poll_reserve`] or
    /// [`ConnBudget::charge_inbound`] took.
    #[inline]
    pub fn release(&self, n: usize) {
        if n == 0 {
            return;
        }
        self.used.fetch_sub(n, Ordering::SeqCst);
        self.server.sub(n);
        self.waiters.wake_all();
    }

    /// Reserves `n` bytes for a response message, waiting while they do not fit.
    #[inline]
    pub fn poll_reserve(&self, cx: &mut Context<'_>, n: usize) -> Poll<()> {
        if self.fits(n) {
            self.add(n);
            return Poll::Ready(());
        }
        self.register(cx);
        // Room made between the check and the registration is not missed.
        if self.fits(n) {
            self.add(n);
            return Poll::Ready(());
        }
        Poll::Pending
    }

    /// Wakes `cx` once room is made here or on the server.
    pub fn register(&self, cx: &Context<'_>) {
        self.waiters.register(cx);
        self.server.waiters.register(cx);
    }

    /// True when the driver may pull another request message (which may
    /// then overshoot the budget by its own size).
    #[inline]
    pub fn can_pull(&self) -> bool {
        self.fits(1)
    }
    /// How many bytes of request messages the driver may pull out of the
    /// core ahead of the handlers now (a batch may overshoot by one message):
    /// none while [`ConnBudget::can_pull`] says no, and the queued requests
    /// together stay under a quarter of the budget. Handlers that wait to
    /// send their responses then always find the rest of it free: when
    /// queued requests could fill it, 64 echo calls blocked on their
    /// responses held the whole 32 MiB in requests they could not take
    /// until they had sent, and the connection stopped for good.
    #[inline]
    pub fn pull_ahead_room(&self) -> usize {
        if !self.can_pull() {
            return 0;
        }
        let room = (self.limit / 4).saturating_sub(self.inbound.load(Ordering::SeqCst));
        // A connection holding nothing still gets one message through.
        if self.used() == 0 { room.max(1) } else { room }
    }

    /// Counts a request message pulled out of the core.
    #[inline]
    pub fn charge_inbound(&self, n: usize) {
        self.inbound.fetch_add(n, Ordering::SeqCst);
        self.add(n);
    }

    /// A handler took (or dropped) `n` bytes of queued request messages.
    #[inline]
    pub fn release_inbound(&self, n: usize) {
        if n == 0 {
            return;
        }
        self.inbound.fetch_sub(n, Ordering::SeqCst);
        self.release(n);
    }

    /// The driver reports the core's send buffer.
    #[inline]
    pub fn set_core_send(&self, n: usize) {
        // Only the driver writes it: unchanged (the usual case between
        // writes) costs a load.
        if self.core_send.load(Ordering::Relaxed) == n {
            return;
        }
        let old = self.core_send.swap(n, Ordering::SeqCst);
        if n > old {
            self.server.add(n - old);
        } else if n < old {
            self.server.sub(old - n);
            self.waiters.wake_all();
        }
    }
}

impl Drop for ConnBudget {
    fn drop(&mut self) {
        // Whatever is still counted leaves the server's total with the connection.
        let left = *self.used.get_mut() + *self.core_send.get_mut();
        if left > 0 {
            self.server.sub(left);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicUsize;
    use std::task::Wake;

    struct Count(AtomicUsize);
    impl Wake for Count {
        fn wake(self: Arc<Self>) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }

    fn cx_counter() -> (Waker, Arc<Count>) {
        let c = Arc::new(Count(AtomicUsize::new(0)));
        (Waker::from(c.clone()), c)
    }

    #[test]
    fn reservations_wait_at_the_limit_and_wake_on_release() {
        let server = ServerBudget::new(1 << 30);
        let conn = ConnBudget::new(100, server.clone());
        let (w, woken) = cx_counter();
        let mut cx = Context::from_waker(&w);
        assert!(conn.poll_reserve(&mut cx, 60).is_ready());
        assert!(conn.poll_reserve(&mut cx, 40).is_ready(), "exactly at the limit");
        assert!(conn.poll_reserve(&mut cx, 1).is_pending());
        assert_eq!((conn.used(), server.used()), (100, 100));
        conn.release(60);
        assert!(woken.0.load(Ordering::SeqCst) >= 1, "the waiter was woken");
        assert!(conn.poll_reserve(&mut cx, 50).is_ready());
        assert_eq!(server.used(), 90);
    }

    #[test]
    fn an_empty_connection_takes_any_one_message() {
        let server = ServerBudget::new(10);
        let conn = ConnBudget::new(100, server.clone());
        let (w, _) = cx_counter();
        let mut cx = Context::from_waker(&w);
        assert!(conn.poll_reserve(&mut cx, 1000).is_ready(), "larger than both budgets, but alone");
        assert!(conn.poll_reserve(&mut cx, 1).is_pending());
        // Another connection of the same (now full) server still gets one message through.
        let other = ConnBudget::new(100, server.clone());
        assert!(other.poll_reserve(&mut cx, 5).is_ready());
        assert!(other.poll_reserve(&mut cx, 5).is_pending(), "the server is over its budget");
        drop(other);
        assert_eq!(server.used(), 1000, "a dropped connection leaves the server's total");
    }

    #[test]
    fn the_core_send_buffer_and_inbound_messages_count_too() {
        let server = ServerBudget::new(1 << 30);
        let conn = ConnBudget::new(100, server.clone());
        conn.set_core_send(70);
        assert!(conn.can_pull());
        conn.charge_inbound(40);
        assert!(!conn.can_pull() && conn.exhausted());
        assert_eq!(server.used(), 110);
        conn.release_inbound(40);
        conn.set_core_send(0);
        assert_eq!((conn.used(), server.used()), (0, 0));
    }

    #[test]
    fn requests_pulled_ahead_stay_under_a_quarter_of_the_budget() {
        let server = ServerBudget::new(1 << 30);
        let conn = ConnBudget::new(400, server.clone());
        assert_eq!(conn.pull_ahead_room(), 100, "a quarter of the budget");
        conn.charge_inbound(70);
        assert_eq!(conn.pull_ahead_room(), 30);
        conn.charge_inbound(50);
        assert_eq!(conn.pull_ahead_room(), 0, "past the quarter (one message may overshoot it)");
        assert!(conn.can_pull(), "while the budget itself has room for responses");
        conn.release_inbound(120);
        conn.set_core_send(400);
        assert_eq!(conn.pull_ahead_room(), 0, "a full budget pulls nothing");
        conn.set_core_send(0);
        let tiny = ConnBudget::new(2, server);
        assert_eq!(tiny.pull_ahead_room(), 1, "a connection holding nothing takes one message");
    }
}
