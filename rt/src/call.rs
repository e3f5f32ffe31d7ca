//! State shared by one call's handle (the application side) and its
//! connection driver. One small lock per call: calls never share a lock, and
//! the lock is never held across I/O or an await.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll, Waker};

use bytes::Bytes;
use weir_core::grpc::{Metadata, Status};

use crate::budget::ConnBudget;

/// Messages the driver pulls ahead of the application per call, counted in
/// bytes: small messages flow in batches (one hand-off per many messages),
/// large ones at least a few at a time. Beyond this the driver leaves data in
/// the core, whose stream window then pushes back on the peer.
pub(crate) const QUEUE_BYTES: usize = 64 << 10;
/// The least number of messages queued ahead, whatever their size.
pub(crate) const QUEUE_MIN_MESSAGES: usize = 2;

/// Outgoing bytes a call may have queued toward its driver before `send`
/// waits (the core holds another window's worth).
pub(crate) const SEND_LIMIT: usize = 1 << 20;

/// What one queued message costs besides its bytes (queue slot, buffer
/// handles), counted in every queue bound and budget so that a flood of
/// empty messages is not free.
pub(crate) const MESSAGE_COST: usize = 64;

#[derive(Default)]
struct State {
    /// Received messages with their compressed flag.
    messages: VecDeque<(Bytes, bool)>,
    /// Bytes in `messages`.
    queued_bytes: usize,
    /// The driver stopped pulling because the queue was full.
    core_has_more: bool,
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

/// What popping a message asks of the caller.
pub(crate) struct Popped {
    /// The next item: a message and its compressed flag, the end (`None`),
    /// or the call's failure.
    pub item: Poll<Option<Result<(Bytes, bool), Status>>>,
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
    pub fn push_message(&self, msg: Bytes, compressed: bool) -> bool {
        let cost = msg.len() + MESSAGE_COST;
        if let Some(b) = &self.budget {
            b.charge_inbound(cost);
        }
        let (waker, room) = {
            let mut s = self.lock();
            s.queued_bytes += cost;
            s.messages.push_back((msg, compressed));
            (s.recv_waker.take(), Self::has_room(&s))
        };
        if let Some(w) = waker {
            w.wake();
        }
        room
    }

    fn has_room(s: &State) -> bool {
        s.messages.len() < QUEUE_MIN_MESSAGES || s.queued_bytes < QUEUE_BYTES
    }

    /// What the queued request messages cost (bytes and bookkeeping).
    pub fn queued_bytes(&self) -> usize {
        self.lock().queued_bytes
    }

    /// True when the queue has room for another message.
    pub fn wants_messages(&self) -> bool {
        Self::has_room(&self.lock())
    }

    /// The driver left messages in the core; a pop below target asks for more.
    pub fn set_core_has_more(&self) {
        self.lock().core_has_more = true;
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
            let n = (bytes + messages * MESSAGE_COST).min(s.send_queued);
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
            let low = s.messages.len() < QUEUE_MIN_MESSAGES || s.queued_bytes < QUEUE_BYTES / 2;
            let pull = s.core_has_more && low;
            if pull {
                s.core_has_more = false;
            }
            return Popped { item: Poll::Ready(Some(Ok(m))), pull };
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

    /// Client: the final status, once known.
    pub fn finished_status(&self) -> Option<Status> {
        self.lock().finished.as_ref().map(|(s, _)| s.clone())
    }

    /// Waits until a message of `n` bytes may be queued; reserves room for
    /// it. Fails when the call can no longer send.
    pub fn poll_reserve(&self, cx: &mut Context<'_>, n: usize) -> Poll<Result<(), Status>> {
        let n = n + MESSAGE_COST;
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
            b.release_inbound(s.queued_bytes);
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
        c.set_core_has_more();
        let p = c.poll_message(&mut cx);
        assert!(matches!(p.item, Poll::Ready(Some(Ok(_)))));
        assert!(p.pull, "below target with more in the core: ask for a pull");
        let p = c.poll_message(&mut cx);
        assert!(!p.pull, "asked once");
        c.end_messages(Ok(()));
        while let Poll::Ready(Some(_)) = c.poll_message(&mut cx).item {}
        assert!(matches!(c.poll_message(&mut cx).item, Poll::Ready(None)));
    }

    #[test]
    fn send_credit_bounds_queued_bytes() {
        let c = CallShared::new();
        let mut cx = Context::from_waker(Waker::noop());
        assert!(c.poll_reserve(&mut cx, SEND_LIMIT * 2).is_ready(), "one message always fits");
        assert!(c.poll_reserve(&mut cx, 1).is_pending());
        c.credit(SEND_LIMIT * 2, 1);
        assert!(c.poll_reserve(&mut cx, 1).is_ready());
        c.close_send(Status::new(Code::Cancelled, "gone"));
        assert!(matches!(c.poll_reserve(&mut cx, 1), Poll::Ready(Err(s)) if s.code == Code::Cancelled));
    }
}
