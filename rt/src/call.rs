//! State shared by one call's handle (the application side) and its
//! connection driver. One small lock per call: calls never share a lock, and
//! the lock is never held across I/O or an await.

use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll, Waker};

use bytes::Bytes;
use weir_core::grpc::{Metadata, Received, Rest, Status};

use crate::budget::ConnBudget;
use crate::trace::CallObserver;

/// Messages the driver pulls ahead of the application per call, counted in
/// bytes: small messages flow in batches (one hand-off per many messages),
/// large ones at least one at a time. The application takes the whole queue
/// at once ([`CallShared::poll_batch`]), and the driver refills it while
/// that batch is worked through, so a call holds at most twice this (or two
/// messages). Beyond it the driver leaves data in the core, whose stream
/// window then pushes back on the peer. Every byte of it is in the
/// connection's and the server's budgets. At 32 KiB, a 64 B message stream
/// went back and forth between driver and application every 250 messages;
/// 256 KiB made one upload call 30 % faster with two server threads (386 →
/// 503 MB/s, context switches halved) and one echo call 40 % faster with
/// one (341 → 482 MB/s).
pub(crate) const QUEUE_BYTES: usize = 256 << 10;
/// The least a call's queue gets when many calls share one connection
/// ([`queue_limit`]).
pub(crate) const QUEUE_BYTES_MIN: usize = 32 << 10;
/// What all the queues of one client connection pull ahead together, while
/// each call still gets [`QUEUE_BYTES_MIN`] (a server uses an eighth of its
/// connection budget, 4 MiB by default).
pub(crate) const CLIENT_QUEUE_SHARE: usize = 4 << 20;
/// The least number of messages queued ahead, whatever their size.
pub(crate) const QUEUE_MIN_MESSAGES: usize = 1;

/// Outgoing bytes a call may have queued toward its driver before `send`
/// waits (the core holds another window's worth), each message counted as
/// its bytes plus [`SEND_MESSAGE_COST`].
pub(crate) const SEND_LIMIT: usize = 1 << 20;

/// What one outgoing message counts against [`SEND_LIMIT`] and the budgets
/// besides its bytes. Encoding a small message costs its sender about what
/// copying this many bytes does, so a stream of small messages runs about as
/// far ahead of its driver, in time, as one of large ones. Counted in bytes
/// alone, a handler sharing one thread with its driver encoded some 15,000
/// messages of 64 B before the driver wrote any, and the peer waited (64 B
/// server streaming, one call: 350 MB/s; counted so, 560 MB/s).
pub(crate) const SEND_MESSAGE_COST: usize = 512;

/// What one queued message costs besides its bytes (queue slot, buffer
/// handles), counted in every queue bound and budget so that a flood of
/// empty messages is not free.
pub(crate) const MESSAGE_COST: usize = 64;

#[derive(Default)]
struct State {
    /// Received messages with their compressed flag.
    messages: Received,
    /// Bytes in `messages`.
    queued_bytes: usize,
    /// What the batch last taken by the application costs: counted in the
    /// connection's budget until the application comes back for the next
    /// batch (or lets go of its stream).
    handed: usize,
    /// The driver stopped pulling because the queue was full.
    core_has_more: bool,
    /// The queue's bound in bytes, as the driver last set it
    /// ([`queue_limit`]); zero until then, read as [`QUEUE_BYTES`].
    limit: usize,
    /// Client: the messages the finished call still held, after `messages`
    /// (cut from the received octets as the application takes them); their
    /// cost ([`rest_cost`]) is in `queued_bytes` until the application takes
    /// them.
    rest: Option<Rest>,
    /// The message stream ended: `Ok` after the peer's last message, `Err`
    /// when the call failed.
    end: Option<Result<(), Status>>,
    /// Client: the response header metadata.
    headers: Option<Metadata>,
    /// Client: the server sent response headers (not a trailers-only answer).
    headers_received: bool,
    /// Client: the final status and trailers.
    finished: Option<(Status, Metadata)>,
    recv_waker: Option<Waker>,
    /// Bytes handed to the driver but not yet accepted by the core.
    send_queued: usize,
    send_waker: Option<Waker>,
    /// The call is over for the sender (cancelled, finished or failed).
    send_closed: Option<Status>,
    /// Wakers of `cancelled()` futures and the like.
    watchers: Vec<Waker>,
}

/// One call's shared state.
#[derive(Default)]
pub(crate) struct CallShared {
    state: Mutex<State>,
    /// The connection's memory budget (server calls), which counts this
    /// call's queued request messages and reserved response bytes too.
    budget: Option<Arc<ConnBudget>>,
}

/// What popping a message (or a batch) asks of the caller.
pub(crate) struct Popped<T = (Bytes, bool)> {
    /// The next item: a message and its compressed flag (or a batch), the
    /// end (`None`), or the call's failure.
    pub item: Poll<Option<Result<T, Status>>>,
    /// The driver must be asked to pull more from the core.
    pub pull: bool,
}

impl std::fmt::Debug for CallShared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CallShared")
    }
}

impl CallShared {
    pub fn new() -> Arc<Self> {
        Arc::new(CallShared::default())
    }

    /// A call whose queues count against a connection's budget.
    pub fn with_budget(budget: Arc<ConnBudget>) -> Arc<Self> {
        Arc::new(CallShared { state: Mutex::default(), budget: Some(budget) })
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn wake_receivers(s: &mut State) -> Vec<Waker> {
        let mut w: Vec<Waker> = s.recv_waker.take().into_iter().collect();
        w.append(&mut s.watchers);
        w
    }

    // ----- driver side ----------------------------------------------------------

    /// Delivers a message; returns false once the queue is full (stop pulling).
    #[cfg(test)]
    pub fn push_message(&self, msg: Bytes, compressed: bool) -> bool {
        let mut batch = Received::from_iter([(msg, compressed)]);
        let cost = msg_cost(&batch);
        self.push_messages(&mut batch, cost);
        self.wants_messages()
    }

    /// Delivers the messages in `batch`
    /// with one lock and at most one wake-up; leaves `batch` empty. `cost`
    /// counts each message's bytes plus [`MESSAGE_COST`].
    #[cfg(test)]
    pub fn push_messages(&self, batch: &mut Received, cost: usize) {
        self.push_batch(batch, cost, false);
    }

    /// [`CallShared::push_messages`]; `more`: messages were left in the core,
    /// which the application asks for when it takes these (set under the
    /// same lock as the push, so that it cannot be missed).
    fn push_batch(&self, batch: &mut Received, cost: usize, more: bool) {
        if batch.is_empty() {
            if more {
                self.lock().core_has_more = true;
            }
            return;
        }
        if let Some(b) = &self.budget {
            b.charge_inbound(cost);
        }
        let waker = {
            let mut s = self.lock();
            s.queued_bytes += cost;
            s.core_has_more |= more;
            if s.messages.is_empty() {
                // The usual case: the application took the last batch.
                std::mem::swap(&mut s.messages, batch);
            } else {
                s.messages.append(batch);
            }
            s.recv_waker.take()
        };
        if let Some(w) = waker {
            w.wake();
        }
    }

    /// Client: hands over what the finished call still held, after the
    /// messages queued (reported to `obs` at once, as the call is over).
    pub fn deliver_rest(&self, rest: Rest, obs: Option<&mut CallObserver>) {
        let (messages, payload) = rest.size();
        if let Some(obs) = obs {
            obs.received_many(messages, payload);
        }
        let cost = rest_cost(&rest);
        if let Some(b) = &self.budget {
            b.charge_inbound(cost);
        }
        let waker = {
            let mut s = self.lock();
            s.queued_bytes += cost;
            s.rest = Some(rest);
            s.recv_waker.take()
        };
        if let Some(w) = waker {
            w.wake();
        }
    }

    /// Delivers a batch the core produced: each message reported to `obs`,
    /// then all of them charged and handed over at once; `more`: the core
    /// holds more (the batch filled the queue).
    pub fn deliver(&self, batch: &mut Received, obs: Option<&mut CallObserver>, more: bool) {
        if let Some(obs) = obs {
            obs.received_many(batch.len() as u64, batch.payload() as u64);
        }
        self.push_batch(batch, msg_cost(batch), more);
    }

    /// What is queued now: messages and their cost. The driver pulls while
    /// [`queue_room`] leaves room under `limit`, the bound it gives the
    /// queue from now on (the application only ever takes messages away
    /// meanwhile).
    pub fn queue_len(&self, limit: usize) -> (usize, usize) {
        let mut s = self.lock();
        s.limit = limit;
        (s.messages.len(), s.queued_bytes)
    }

    /// What the queued request messages cost (bytes and bookkeeping),
    /// with the batch the application is working through.
    #[cfg(test)]
    pub fn queued_bytes(&self) -> usize {
        let s = self.lock();
        s.queued_bytes + s.handed
    }

    /// True when the queue has room for another message.
    #[cfg(test)]
    pub fn wants_messages(&self) -> bool {
        let (messages, bytes) = self.queue_len(QUEUE_BYTES);
        queue_room(messages, bytes, QUEUE_BYTES) > 0
    }

    /// The driver left messages in the core because the queue was full: the
    /// application asks for more when it takes the queue. False when it
    /// already took it (the driver goes on at once): checked under the same
    /// lock, so the request cannot fall between the two.
    pub fn set_core_has_more(&self) -> bool {
        let mut s = self.lock();
        if s.messages.is_empty() {
            return false;
        }
        s.core_has_more = true;
        true
    }

    /// Ends the message stream (`Ok`: the peer finished; `Err`: the call failed).
    pub fn end_messages(&self, result: Result<(), Status>) {
        let wakers = {
            let mut s = self.lock();
            if s.end.is_none() {
                s.end = Some(result);
            }
            Self::wake_receivers(&mut s)
        };
        wakers.into_iter().for_each(Waker::wake);
    }

    /// Client: the response headers arrived.
    pub fn set_headers(&self, md: Metadata) {
        let wakers = {
            let mut s = self.lock();
            s.headers = Some(md);
            s.headers_received = true;
            Self::wake_receivers(&mut s)
        };
        wakers.into_iter().for_each(Waker::wake);
    }

    /// Client: the call finished with `status`. The message stream ends with it.
    pub fn finish(&self, status: Status, trailers: Metadata) {
        let wakers = {
            let mut s = self.lock();
            if s.finished.is_none() {
                if s.end.is_none() {
                    s.end = Some(if status.is_ok() { Ok(()) } else { Err(status.clone()) });
                }
                if s.headers.is_none() {
                    s.headers = Some(Metadata::new());
                }
                s.send_closed.get_or_insert_with(|| status.clone());
                s.finished = Some((status, trailers));
            }
            let mut w = Self::wake_receivers(&mut s);
            w.extend(s.send_waker.take());
            w
        };
        wakers.into_iter().for_each(Waker::wake);
    }

    /// The call can no longer send (server: cancelled; either: connection lost).
    pub fn close_send(&self, reason: Status) {
        let wakers = {
            let mut s = self.lock();
            s.send_closed.get_or_insert(reason);
            let mut w: Vec<Waker> = s.send_waker.take().into_iter().collect();
            w.append(&mut s.watchers);
            w
        };
        wakers.into_iter().for_each(Waker::wake);
    }

    /// The core accepted `messages` queued messages of `bytes` bytes in all.
    pub fn credit(&self, bytes: usize, messages: usize) {
        let waker = {
            let mut s = self.lock();
            let n = (bytes + messages * SEND_MESSAGE_COST).min(s.send_queued);
            s.send_queued -= n;
            if let Some(b) = &self.budget {
                b.release(n);
            }
            s.send_waker.take()
        };
        if let Some(w) = waker {
            w.wake();
        }
    }

    // ----- handle side ----------------------------------------------------------

    /// The next message, the end, or the failure.
    pub fn poll_message(&self, cx: &mut Context<'_>) -> Popped {
        let mut s = self.lock();
        if let Some(m) = s.messages.pop_front() {
            let cost = m.0.len() + MESSAGE_COST;
            s.queued_bytes -= cost;
            if let Some(b) = &self.budget {
                b.release_inbound(cost);
            }
            // Ask for more once half the budget is free, not at every message.
            let limit = if s.limit == 0 { QUEUE_BYTES } else { s.limit };
            let low = s.messages.len() < QUEUE_MIN_MESSAGES || s.queued_bytes < limit / 2;
            let pull = s.core_has_more && low;
            if pull {
                s.core_has_more = false;
            }
            return Popped { item: Poll::Ready(Some(Ok(m))), pull };
        }
        if let Some(rest) = &mut s.rest {
            if let Some(m) = rest.next_message() {
                return Popped { item: Poll::Ready(Some(Ok((m, false)))), pull: false };
            }
            let cost = rest_cost(rest);
            s.rest = None;
            s.queued_bytes -= cost;
            if let Some(b) = &self.budget {
                b.release_inbound(cost);
            }
        }
        match &s.end {
            Some(Ok(())) => Popped { item: Poll::Ready(None), pull: false },
            Some(Err(status)) => Popped { item: Poll::Ready(Some(Err(status.clone()))), pull: false },
            None => {
                let pull = std::mem::take(&mut s.core_has_more);
                if !s.recv_waker.as_ref().is_some_and(|w| w.will_wake(cx.waker())) {
                    s.recv_waker = Some(cx.waker().clone());
                }
                Popped { item: Poll::Pending, pull }
            }
        }
    }

    /// Takes every queued message into `out` (which must be empty) with
    /// one lock: `Ready(Some(Ok))` with messages, the end (`None`) or the
    /// call's failure once nothing is queued. The previous batch's cost
    /// leaves the budget now; this one's stays counted until the next call
    /// (or [`CallShared::release_handed`]).
    pub fn poll_batch(
        &self,
        cx: &mut Context<'_>,
        out: &mut Received,
        rest: &mut Option<Rest>,
    ) -> Popped<()> {
        let mut s = self.lock();
        let done = std::mem::take(&mut s.handed);
        if let Some(b) = &self.budget {
            b.release_inbound(done);
        }
        // The queue is empty after this either way: the driver may refill
        // it while the application works through the batch.
        let pull = std::mem::take(&mut s.core_has_more);
        if !s.messages.is_empty() {
            std::mem::swap(&mut s.messages, out);
            let rest_cost = s.rest.as_ref().map_or(0, rest_cost);
            s.handed = s.queued_bytes - rest_cost;
            s.queued_bytes = rest_cost;
            return Popped { item: Poll::Ready(Some(Ok(()))), pull };
        }
        if let Some(r) = s.rest.take() {
            let cost = rest_cost(&r);
            *rest = Some(r);
            s.queued_bytes -= cost;
            s.handed = cost;
            return Popped { item: Poll::Ready(Some(Ok(()))), pull };
        }
        let item = match &s.end {
            Some(Ok(())) => Poll::Ready(None),
            Some(Err(status)) => Poll::Ready(Some(Err(status.clone()))),
            None => {
                if !s.recv_waker.as_ref().is_some_and(|w| w.will_wake(cx.waker())) {
                    s.recv_waker = Some(cx.waker().clone());
                }
                Poll::Pending
            }
        };
        Popped { item, pull }
    }

    /// The application let go of the batch it took last.
    pub fn release_handed(&self) {
        let done = std::mem::take(&mut self.lock().handed);
        if let Some(b) = &self.budget {
            b.release_inbound(done);
        }
    }

    /// Client: the response headers, once known.
    pub fn poll_headers(&self, cx: &mut Context<'_>) -> Poll<Result<Metadata, Status>> {
        let mut s = self.lock();
        if let Some(md) = &s.headers {
            return Poll::Ready(Ok(md.clone()));
        }
        if let Some((status, _)) = &s.finished {
            return Poll::Ready(Err(status.clone()));
        }
        watch(&mut s.watchers, cx);
        Poll::Pending
    }

    /// Client: the final status and trailers.
    pub fn poll_finished(&self, cx: &mut Context<'_>) -> Poll<(Status, Metadata)> {
        let mut s = self.lock();
        if let Some(f) = &s.finished {
            return Poll::Ready(f.clone());
        }
        watch(&mut s.watchers, cx);
        Poll::Pending
    }

    /// Client: true once the server sent response headers (which commits a
    /// call: it is no longer retried).
    pub fn headers_received(&self) -> bool {
        self.lock().headers_received
    }

    /// True once the final status is known.
    pub fn is_finished(&self) -> bool {
        self.lock().finished.is_some()
    }

    /// Client: whether the call ended with OK, once it ended.
    pub fn finished_ok(&self) -> Option<bool> {
        self.lock().finished.as_ref().map(|(s, _)| s.is_ok())
    }

    /// Client: the final status, once known.
    pub fn finished_status(&self) -> Option<Status> {
        self.lock().finished.as_ref().map(|(s, _)| s.clone())
    }

    /// Waits until `messages` messages of `n` bytes in all (a batch, or
    /// one) may be queued; reserves room for them. Fails when the call can
    /// no longer send.
    pub fn poll_reserve(&self, cx: &mut Context<'_>, n: usize, messages: usize) -> Poll<Result<(), Status>> {
        let n = n + messages * SEND_MESSAGE_COST;
        let mut s = self.lock();
        if let Some(reason) = &s.send_closed {
            return Poll::Ready(Err(reason.clone()));
        }
        if s.send_queued == 0 || s.send_queued + n <= SEND_LIMIT {
            if let Some(b) = &self.budget
                && b.poll_reserve(cx, n).is_pending()
            {
                return Poll::Pending;
            }
            s.send_queued += n;
            return Poll::Ready(Ok(()));
        }
        if !s.send_waker.as_ref().is_some_and(|w| w.will_wake(cx.waker())) {
            s.send_waker = Some(cx.waker().clone());
        }
        Poll::Pending
    }

    /// Why sending is over, if it is.
    pub fn send_closed(&self) -> Option<Status> {
        self.lock().send_closed.clone()
    }

    /// Resolves once the call can no longer send (server: the client
    /// cancelled, the deadline passed, or the connection went away).
    pub fn poll_send_closed(&self, cx: &mut Context<'_>) -> Poll<Status> {
        let mut s = self.lock();
        if let Some(reason) = &s.send_closed {
            return Poll::Ready(reason.clone());
        }
        watch(&mut s.watchers, cx);
        Poll::Pending
    }
}

/// What a batch of received messages costs in queue bounds and budgets:
/// their bytes plus [`MESSAGE_COST`] each.
fn msg_cost(batch: &Received) -> usize {
    batch.payload() + batch.len() * MESSAGE_COST
}

/// What a finished call's [`Rest`] costs: as it was handed over, whatever
/// was taken from it since.
fn rest_cost(rest: &Rest) -> usize {
    rest.held_at_first() + rest.size().0 as usize * MESSAGE_COST
}

/// How many more bytes of messages a queue holding `messages` that cost
/// `bytes` takes under its bound `limit` (at least one message's worth when
/// it holds none).
pub(crate) fn queue_room(messages: usize, bytes: usize, limit: usize) -> usize {
    if messages < QUEUE_MIN_MESSAGES {
        limit.saturating_sub(bytes).max(1)
    } else {
        limit.saturating_sub(bytes)
    }
}

/// The bound of each call's queue when `calls` calls share one connection
/// whose queues may pull ahead `share` bytes together: [`QUEUE_BYTES`] for
/// a few calls, less for many, never under [`QUEUE_BYTES_MIN`]. A call
/// holds at most twice its bound (the queue and the batch its application
/// works through), so a server's calls hold at most a quarter of the
/// connection's budget (up to `share / QUEUE_BYTES_MIN` calls): at 256 KiB
/// each, 64 calls whose handlers were busy sending held the whole 32 MiB,
/// and the server refused new calls as if the client were holding memory.
pub(crate) fn queue_limit(calls: usize, share: usize) -> usize {
    (share / calls.max(1)).clamp(QUEUE_BYTES_MIN, QUEUE_BYTES)
}

/// Registers a waker once: a task polled again and again while it waits
/// (every message of a long stream) must not add one each time.
fn watch(watchers: &mut Vec<Waker>, cx: &Context<'_>) {
    if !watchers.iter().any(|w| w.will_wake(cx.waker())) {
        watchers.push(cx.waker().clone());
    }
}

impl Drop for CallShared {
    fn drop(&mut self) {
        if let Some(b) = &self.budget {
            let s = self.state.get_mut().unwrap_or_else(|e| e.into_inner());
            b.release_inbound(s.queued_bytes + s.handed);
            b.release(s.send_queued);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use weir_core::grpc::Code;

    #[test]
    fn messages_then_end_and_pull_requests() {
        let c = CallShared::new();
        let mut cx = Context::from_waker(Waker::noop());
        let big = QUEUE_BYTES / 2;
        assert!(c.push_message(Bytes::from(vec![0u8; big]), false), "below both bounds: room");
        assert!(!c.push_message(Bytes::from(vec![1u8; big]), false), "byte budget reached: full");
        let small = CallShared::new();
        for _ in 0..100 {
            assert!(small.push_message(Bytes::from(vec![0u8; 10]), false), "small messages batch up");
        }
        assert!(c.set_core_has_more(), "the queue holds messages");
        let p = c.poll_message(&mut cx);
        assert!(matches!(p.item, Poll::Ready(Some(Ok(_)))));
        assert!(!p.pull, "still half full: no pull yet");
        let p = c.poll_message(&mut cx);
        assert!(p.pull, "below target with more in the core: ask for a pull");
        assert!(!c.poll_message(&mut cx).pull, "asked once");
        c.end_messages(Ok(()));
        assert!(matches!(c.poll_message(&mut cx).item, Poll::Ready(None)));
    }

    #[test]
    fn batches_are_taken_whole_and_counted_until_the_next_one() {
        let server = crate::budget::ServerBudget::new(1 << 30);
        let budget = ConnBudget::new(1 << 20, server.clone());
        let c = CallShared::with_budget(budget.clone());
        let mut cx = Context::from_waker(Waker::noop());
        let mut batch: Received = (0..3).map(|i| (Bytes::from(vec![i; 100]), false)).collect();
        c.push_messages(&mut batch, 3 * (100 + MESSAGE_COST));
        assert!(batch.is_empty(), "handed over");
        let cost = 3 * (100 + MESSAGE_COST);
        assert_eq!(budget.used(), cost);
        assert!(c.set_core_has_more(), "the queue holds messages");
        let mut taken = Received::new();
        let p = c.poll_batch(&mut cx, &mut taken, &mut None);
        assert!(matches!(p.item, Poll::Ready(Some(Ok(())))));
        assert!(p.pull, "the queue is empty again: the driver may refill it");
        assert_eq!(taken.len(), 3, "one lock for the whole batch");
        assert_eq!(c.queue_len(QUEUE_BYTES), (0, 0), "the queue has room for the next batch");
        assert_eq!(c.queued_bytes(), cost, "the batch being worked through still counts");
        assert_eq!(budget.used(), cost, "and stays in the budget");
        taken.clear();
        assert!(!c.set_core_has_more(), "the application took the queue: the driver goes on itself");
        assert!(c.poll_batch(&mut cx, &mut taken, &mut None).item.is_pending());
        assert_eq!(budget.used(), 0, "given back when the application came back");
        let mut more = Received::from_iter([(Bytes::from_static(b"x"), true)]);
        c.deliver(&mut more, None, true);
        let p = c.poll_batch(&mut cx, &mut taken, &mut None);
        assert!(p.item.is_ready());
        assert!(p.pull, "more left in the core, told with the batch: asked for at once");
        c.release_handed();
        assert_eq!(budget.used(), 0, "a stream that lets go gives its batch back");
        taken.clear();
        c.end_messages(Err(Status::new(Code::Aborted, "stop")));
        assert!(matches!(c.poll_batch(&mut cx, &mut taken, &mut None).item, Poll::Ready(Some(Err(_)))));
        assert_eq!(server.used(), 0);
    }

    #[test]
    fn send_credit_bounds_queued_bytes() {
        let c = CallShared::new();
        let mut cx = Context::from_waker(Waker::noop());
        assert!(c.poll_reserve(&mut cx, SEND_LIMIT * 2, 1).is_ready(), "one message always fits");
        assert!(c.poll_reserve(&mut cx, 1, 1).is_pending());
        c.credit(SEND_LIMIT * 2, 1);
        assert!(c.poll_reserve(&mut cx, 1, 1).is_ready());
        c.close_send(Status::new(Code::Cancelled, "gone"));
        assert!(matches!(c.poll_reserve(&mut cx, 1, 1), Poll::Ready(Err(s)) if s.code == Code::Cancelled));
    }

    #[test]
    fn a_batch_counts_each_of_its_messages() {
        let c = CallShared::new();
        let mut cx = Context::from_waker(Waker::noop());
        let fill = SEND_LIMIT / SEND_MESSAGE_COST;
        assert!(c.poll_reserve(&mut cx, 0, fill / 2).is_ready());
        assert!(c.poll_reserve(&mut cx, 0, fill / 2).is_ready(), "exactly at the limit");
        assert!(c.poll_reserve(&mut cx, 0, 1).is_pending(), "empty messages are not free");
        c.credit(0, fill / 2);
        assert!(c.poll_reserve(&mut cx, 0, 1).is_ready(), "credit counts messages the same way");
    }
}
