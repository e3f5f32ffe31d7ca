//! Hedging (gRFC A6): copies of a call sent `hedging_delay` apart, the
//! first success or fatal status winning.

use std::future::Future;
use std::pin::Pin;
use std::task::Poll;
use std::time::Instant;

use weir_core::grpc::Status;

use super::retry::{Attempt, Clock, HedgingPolicy, Pushback, Throttle, pushback};
use crate::runtime::BoxFuture;

/// The hedging context of one call.
pub(crate) struct HedgeCtx<'a> {
    pub clock: &'a dyn Clock,
    pub policy: &'a HedgingPolicy,
    pub throttle: Option<&'a Throttle>,
}

/// Sends copies made by `attempt` (given the number sent before it) until
/// one succeeds, is committed or fails fatally; the others are dropped,
/// which cancels them. A non-fatal failure sends the next copy at once, or
/// after the server's pushback.
pub(crate) async fn hedged<T, F, Fut>(ctx: HedgeCtx<'_>, mut attempt: F) -> Result<T, Status>
where
    F: FnMut(u32) -> Fut,
    Fut: Future<Output = Attempt<T>>,
{
    let max = ctx.policy.attempts().max(1);
    let mut running: Vec<Pin<Box<Fut>>> = Vec::new();
    let mut sent = 0u32;
    let mut next_at: Option<Instant> = Some(ctx.clock.now());
    let mut timer: Option<BoxFuture<'static, ()>> = None;
    let mut last: Option<Result<T, Status>> = None;
    loop {
        if let Some(at) = next_at
            && at <= ctx.clock.now()
        {
            next_at = None;
            timer = None;
            if sent < max && (sent == 0 || ctx.throttle.is_none_or(Throttle::allows)) {
                running.push(Box::pin(attempt(sent)));
                sent += 1;
                if sent < max {
                    let at = ctx.clock.now() + ctx.policy.hedging_delay;
                    next_at = Some(at);
                    timer = Some(ctx.clock.sleep_until(at));
                }
            }
        }
        if running.is_empty() && next_at.is_none() {
            return last
                .unwrap_or_else(|| Err(Status::new(weir_core::grpc::Code::Unavailable, "no attempt made")));
        }
        let event = std::future::poll_fn(|cx| {
            for (i, f) in running.iter_mut().enumerate() {
                if let Poll::Ready(out) = f.as_mut().poll(cx) {
                    return Poll::Ready(Some((i, out)));
                }
            }
            if let Some(t) = timer.as_mut()
                && t.as_mut().poll(cx).is_ready()
            {
                return Poll::Ready(None);
            }
            Poll::Pending
        })
        .await;
        let Some((i, out)) = event else { continue };
        drop(running.swap_remove(i));
        let Some(status) = out.failure else {
            if out.result.is_ok()
                && let Some(t) = ctx.throttle
            {
                t.success();
            }
            return out.result;
        };
        if !ctx.policy.non_fatal_status_codes.contains(&status.code) {
            return out.result;
        }
        if let Some(t) = ctx.throttle {
            t.failure();
        }
        last = Some(out.result);
        if sent < max {
            let at = match pushback(&status) {
                Pushback::Stop => None,
                Pushback::Delay(d) => Some(ctx.clock.now() + d),
                Pushback::None => Some(ctx.clock.now()),
            };
            next_at = at;
            timer = at.map(|at| ctx.clock.sleep_until(at));
        }
    }
}
