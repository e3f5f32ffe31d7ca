//! The retry buffer of client-streaming and bidi calls (gRFC A6): the
//! request messages an attempt sent are kept so that a retry can send them
//! again, until the call commits. A call commits when an attempt receives
//! response headers, or when its kept messages would pass the per-call limit
//! (gRPC-Go: 256 KiB) or the channel's total for all calls; from then on it
//! keeps nothing and is not retried.

use std::collections::VecDeque;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll};

use futures_core::Stream;

use crate::request::OutMessage;

/// How much a channel's calls may keep for retries.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RetryBufferLimits {
    /// Per call (gRPC-Go's default: 256 KiB).
    pub per_call: usize,
    /// For all the channel's calls together (grpc-java's default: 16 MiB).
    pub per_channel: usize,
}

impl Default for RetryBufferLimits {
    fn default() -> Self {
        RetryBufferLimits { per_call: 256 * 1024, per_channel: 16 * 1024 * 1024 }
    }
}

/// The bytes a channel's calls keep for retries now.
#[derive(Debug, Default)]
pub(crate) struct ChannelBuffer {
    used: AtomicUsize,
}

impl ChannelBuffer {
    fn reserve(&self, n: usize, limit: usize) -> bool {
        self.used
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |used| {
                used.checked_add(n).filter(|&total| total <= limit)
            })
            .is_ok()
    }

    fn release(&self, n: usize) {
        self.used.fetch_sub(n, Ordering::AcqRel);
    }

    /// Bytes kept now.
    #[cfg(test)]
    pub fn used(&self) -> usize {
        self.used.load(Ordering::Acquire)
    }
}

struct Inner<S> {
    /// The application's request stream, until it ends.
    source: Option<Pin<Box<S>>>,
    /// Messages from index `first` on, kept for a retry.
    kept: VecDeque<OutMessage>,
    first: usize,
    bytes: usize,
    /// No more attempts: nothing new is kept, and what is kept goes as the
    /// committed attempt sends it.
    committed: bool,
    /// The attempt whose sender reads now (earlier ones get nothing more).
    attempt: u32,
}

/// One call's request messages, read from the application's stream once
/// and sent by each attempt from the start.
pub(crate) struct Replay<S> {
    inner: Mutex<Inner<S>>,
    limits: RetryBufferLimits,
    channel: Arc<ChannelBuffer>,
}

impl<S> Replay<S> {
    pub fn new(source: S, limits: RetryBufferLimits, channel: Arc<ChannelBuffer>) -> Arc<Self> {
        Arc::new(Replay {
            inner: Mutex::new(Inner {
                source: Some(Box::pin(source)),
                kept: VecDeque::new(),
                first: 0,
                bytes: 0,
                committed: false,
                attempt: 0,
            }),
            limits,
            channel,
        })
    }

    fn lock(&self) -> MutexGuard<'_, Inner<S>> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// True once the call may not be retried (headers came, or the buffer
    /// overflowed).
    pub fn committed(&self) -> bool {
        self.lock().committed
    }

    /// A new attempt starts: its sender reads from message 0, and the
    /// previous attempts' senders get no more messages.
    pub fn begin_attempt(&self) -> u32 {
        let mut g = self.lock();
        g.attempt += 1;
        g.attempt
    }

    /// Commits the call to its current attempt: no more retries. Messages
    /// that attempt has not sent yet stay until it sends them, no longer
    /// counted in the channel's buffer.
    pub fn commit(&self) {
        let mut g = self.lock();
        self.commit_locked(&mut g);
    }

    fn commit_locked(&self, g: &mut Inner<S>) {
        if !g.committed {
            g.committed = true;
            self.channel.release(std::mem::take(&mut g.bytes));
        }
    }
}

impl<S, I> Replay<S>
where
    S: Stream<Item = I>,
    I: Into<OutMessage>,
{
    /// Message `index` of the call: a kept one, or the next from the
    /// application's stream (kept while the limits allow). `None` at the
    /// end, and for an index no longer kept (a committed call has no
    /// further attempt that would ask).
    pub fn poll_message(&self, cx: &mut Context<'_>, attempt: u32, index: usize) -> Poll<Option<OutMessage>> {
        let mut g = self.lock();
        // A superseded attempt's sender must not poll the source (it would
        // take the source's waker from the current one).
        if attempt != g.attempt || index < g.first {
            return Poll::Ready(None);
        }
        if let Some(m) = g.kept.get(index - g.first) {
            let m = m.clone();
            if g.committed {
                // Only the committed attempt reads on: drop what it sent.
                let sent = index + 1 - g.first;
                g.kept.drain(..sent);
                g.first = index + 1;
            }
            return Poll::Ready(Some(m));
        }
        let Some(source) = g.source.as_mut() else { return Poll::Ready(None) };
        match source.as_mut().poll_next(cx) {
            Poll::Pending => Poll::Pending,
            Poll::Ready(None) => {
                g.source = None;
                Poll::Ready(None)
            }
            Poll::Ready(Some(item)) => {
                let msg: OutMessage = item.into();
                if !g.committed
                    && g.bytes + msg.len() <= self.limits.per_call
                    && self.channel.reserve(msg.len(), self.limits.per_channel)
                {
                    g.bytes += msg.len();
                    g.kept.push_back(msg.clone());
                } else {
                    // Past a limit (or committed): this attempt is the last,
                    // and it has sent everything kept (it reads the source
                    // only at the end of the kept messages).
                    self.commit_locked(&mut g);
                    g.first = index + 1;
                    g.kept.clear();
                }
                Poll::Ready(Some(msg))
            }
        }
    }
}

impl<S> Drop for Replay<S> {
    fn drop(&mut self) {
        let bytes = match self.inner.get_mut() {
            Ok(inner) => inner.bytes,
            Err(poisoned) => poisoned.into_inner().bytes,
        };
        self.channel.release(bytes);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;

    fn next<S: Stream<Item = Bytes> + Unpin>(r: &Replay<S>, index: usize) -> Option<usize> {
        let attempt = r.lock().attempt;
        let waker = std::task::Waker::noop();
        match r.poll_message(&mut Context::from_waker(waker), attempt, index) {
            Poll::Ready(m) => m.map(|m| m.len()),
            Poll::Pending => panic!("pending"),
        }
    }

    fn messages(sizes: &[usize]) -> impl Stream<Item = Bytes> + Unpin {
        futures_util_iter(sizes.iter().map(|&n| Bytes::from(vec![0u8; n])).collect())
    }

    /// A ready stream over a list (no futures-util in the library).
    fn futures_util_iter(items: Vec<Bytes>) -> impl Stream<Item = Bytes> + Unpin {
        struct Iter(std::vec::IntoIter<Bytes>);
        impl Stream for Iter {
            type Item = Bytes;
            fn poll_next(mut self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<Option<Bytes>> {
                Poll::Ready(self.0.next())
            }
        }
        Iter(items.into_iter())
    }

    #[test]
    fn a_retry_replays_every_message_and_the_buffer_is_released() {
        let channel = Arc::new(ChannelBuffer::default());
        let r = Replay::new(messages(&[10, 20, 30]), RetryBufferLimits::default(), channel.clone());
        let first = r.begin_attempt();
        assert_eq!((next(&r, 0), next(&r, 1)), (Some(10), Some(20)));
        assert_eq!(channel.used(), 30);
        // The second attempt starts over; the first gets nothing more.
        r.begin_attempt();
        let waker = std::task::Waker::noop();
        let stale = r.poll_message(&mut Context::from_waker(waker), first, 2);
        assert_eq!(stale, Poll::Ready(None), "a superseded sender stops");
        assert_eq!(next(&r, 0), Some(10));
        // Headers commit the call before it resent everything: what it has
        // not sent yet is still sent, and released as it goes.
        r.commit();
        assert_eq!(channel.used(), 0, "committed: no longer counted");
        assert_eq!((next(&r, 1), next(&r, 2), next(&r, 3)), (Some(20), Some(30), None));
        assert!(r.lock().kept.is_empty(), "sent messages are dropped after the commit");
    }

    #[test]
    fn passing_a_limit_commits_the_call() {
        let channel = Arc::new(ChannelBuffer::default());
        let limits = RetryBufferLimits { per_call: 25, per_channel: 1000 };
        let r = Replay::new(messages(&[10, 10, 10, 10]), limits, channel.clone());
        r.begin_attempt();
        assert_eq!((next(&r, 0), next(&r, 1)), (Some(10), Some(10)));
        assert!(!r.committed());
        assert_eq!(next(&r, 2), Some(10), "the third passes 25 bytes: still sent");
        assert!(r.committed());
        assert_eq!(channel.used(), 0, "committed: nothing kept");
        assert_eq!(next(&r, 3), Some(10));
        assert_eq!(next(&r, 4), None);
        // The channel's total applies across calls.
        let limits = RetryBufferLimits { per_call: 100, per_channel: 15 };
        let a = Replay::new(messages(&[10]), limits, channel.clone());
        let b = Replay::new(messages(&[10]), limits, channel.clone());
        a.begin_attempt();
        b.begin_attempt();
        assert_eq!(next(&a, 0), Some(10));
        assert_eq!(next(&b, 0), Some(10));
        assert!(!a.committed() && b.committed(), "b found the channel's buffer full");
        drop(a);
        assert_eq!(channel.used(), 0, "a dropped call releases what it kept");
    }
}
