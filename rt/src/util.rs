//! Small future combinators (no dependency on a futures utility crate).

use std::future::Future;
use std::pin::pin;
use std::task::{Context, Poll};
use std::time::Instant;

use crate::runtime::{Runtime, Timer};

/// Which of two futures finished first.
pub(crate) enum Either<A, B> {
    Left(A),
    Right(B),
}

/// Polls both futures; returns the first output (left wins ties).
pub(crate) async fn select<A: Future, B: Future>(a: A, b: B) -> Either<A::Output, B::Output> {
    let mut a = pin!(a);
    let mut b = pin!(b);
    std::future::poll_fn(|cx| {
        if let Poll::Ready(v) = a.as_mut().poll(cx) {
            return Poll::Ready(Either::Left(v));
        }
        if let Poll::Ready(v) = b.as_mut().poll(cx) {
            return Poll::Ready(Either::Right(v));
        }
        Poll::Pending
    })
    .await
}

/// Polls a future, turning a panic into an error: one handler's bug must
/// not take down its connection's other calls.
pub(crate) struct CatchUnwind<F>(pub F);

impl<F: Future + Unpin> Future for CatchUnwind<F> {
    type Output = Result<F::Output, String>;

    fn poll(mut self: std::pin::Pin<&mut Self>, cx: &mut std::task::Context<'_>) -> Poll<Self::Output> {
        let inner = &mut self.0;
        match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| std::pin::Pin::new(inner).poll(cx))) {
            Ok(Poll::Ready(v)) => Poll::Ready(Ok(v)),
            Ok(Poll::Pending) => Poll::Pending,
            Err(payload) => {
                let msg = payload
                    .downcast_ref::<&str>()
                    .map(|s| s.to_string())
                    .or_else(|| payload.downcast_ref::<String>().cloned())
                    .unwrap_or_else(|| "panic".to_owned());
                Poll::Ready(Err(msg))
            }
        }
    }
}

/// A map keyed by call or stream ids, hashed with the core's one-multiply
/// `FxBuild` (SipHash per message was a tenth of a streaming server's time).
pub(crate) type IdMap<K, V> = std::collections::HashMap<K, V, weir_core::hash::FxBuild>;

/// Removes `key`, and frees the map's slots when it was the last entry: an
/// idle connection then holds none (heap per idle connection, mem-probe).
pub(crate) fn remove_id<K: std::hash::Hash + Eq, V>(map: &mut IdMap<K, V>, key: &K) -> Option<V> {
    let v = map.remove(key);
    if v.is_some() && map.is_empty() {
        map.shrink_to_fit();
    }
    v
}

/// One timer, re-armed only when the instant it waits for changes.
pub(crate) struct Alarm<R: Runtime> {
    timer: Option<R::Timer>,
    at: Option<Instant>,
}

impl<R: Runtime> Default for Alarm<R> {
    fn default() -> Self {
        Alarm { timer: None, at: None }
    }
}

impl<R: Runtime> Alarm<R> {
    /// True once `at` has come (`None`: never); until then the timer is
    /// armed for it and wakes `cx`.
    pub fn poll(&mut self, rt: &R, cx: &mut Context<'_>, at: Option<Instant>) -> bool {
        let Some(at) = at else {
            self.at = None;
            return false;
        };
        if at <= rt.now() {
            return true;
        }
        if self.at != Some(at) {
            match &mut self.timer {
                Some(t) => t.reset(at),
                None => self.timer = Some(rt.timer(at)),
            }
            self.at = Some(at);
        }
        if !self.timer.as_mut().is_some_and(|t| std::pin::Pin::new(t).poll(cx).is_ready()) {
            return false;
        }
        self.at = None;
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn removing_the_last_id_frees_the_map() {
        let mut map: IdMap<u32, u64> = IdMap::default();
        map.insert(1, 10);
        map.insert(2, 20);
        assert_eq!(remove_id(&mut map, &1), Some(10));
        assert!(map.capacity() > 0);
        assert_eq!(remove_id(&mut map, &7), None);
        assert_eq!(remove_id(&mut map, &2), Some(20));
        assert_eq!(map.capacity(), 0);
    }
}
