//! Interceptors: async hooks around every call, on servers and clients. One
//! runs before the call (read or change the request metadata, store typed
//! extensions for the handler, or reject the call with a status) and after
//! it (see and change the final status), which is enough to wrap a call
//! with timing, logging, auth or metrics.
//!
//! Every call whose `before` hooks ran gets its `after` hooks exactly once,
//! whatever its kind (unary, client, server or bidirectional streaming) and
//! outcome (OK, an error, cancelled): on a client, when the response (or the
//! response stream's end) reaches the caller, or with CANCELLED on a task of
//! its own when the caller drops the call first; on a server, before the
//! status is sent, or with the cancellation's status when the call is
//! cancelled (client cancel, deadline, lost connection). On a client, only
//! interceptors whose `before` returned are owed an `after`: a rejection
//! stops the chain (the rejecting hook's `after` sees its status), and a
//! call dropped during a `before` hook owes nothing to that hook or the
//! ones after it.

use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use weir_core::grpc::{Metadata, Status};

use crate::request::{CallInfo, RequestHead};
use crate::runtime::BoxFuture;
use crate::stats::{ClientCall, ClientCallEnd};

/// An async hook around calls.
pub trait Interceptor: Send + Sync + 'static {
    /// Before the call. Server: the request metadata as received, and
    /// extensions the handler will see; client: the metadata about to be
    /// sent, and the extensions the caller set. An error rejects the call
    /// with that status.
    fn before<'a>(
        &'a self,
        call: &'a CallInfo,
        head: &'a mut RequestHead,
    ) -> BoxFuture<'a, Result<(), Status>>;

    /// After the call, with its final status (which may be changed: server
    /// side before it is sent, client side before the caller sees it).
    fn after<'a>(&'a self, call: &'a CallInfo, status: &'a mut Status) -> BoxFuture<'a, ()> {
        let _ = (call, status);
        Box::pin(async {})
    }
}

/// An interceptor from a synchronous function of the metadata.
pub fn from_fn<F>(f: F) -> Arc<dyn Interceptor>
where
    F: Fn(&CallInfo, &mut Metadata) -> Result<(), Status> + Send + Sync + 'static,
{
    struct FnInterceptor<F>(F);
    impl<F> Interceptor for FnInterceptor<F>
    where
        F: Fn(&CallInfo, &mut Metadata) -> Result<(), Status> + Send + Sync + 'static,
    {
        fn before<'a>(
            &'a self,
            call: &'a CallInfo,
            head: &'a mut RequestHead,
        ) -> BoxFuture<'a, Result<(), Status>> {
            let r = (self.0)(call, &mut head.metadata);
            Box::pin(async move { r })
        }
    }
    Arc::new(FnInterceptor(f))
}

/// Runs the `before` hooks in order; stops at the first rejection.
pub(crate) async fn run_before(
    chain: &[Arc<dyn Interceptor>],
    call: &CallInfo,
    head: &mut RequestHead,
) -> Result<(), Status> {
    for i in chain {
        i.before(call, head).await?;
    }
    Ok(())
}

/// Runs the `after` hooks in reverse order (innermost first).
pub(crate) async fn run_after(chain: &[Arc<dyn Interceptor>], call: &CallInfo, status: &mut Status) {
    for i in chain.iter().rev() {
        i.after(call, status).await;
    }
}

/// The `after` hooks one server call owes, run exactly once: by the call's
/// own end (the handler's result or its stream's end) or, when it is
/// cancelled first, with the cancellation's status.
pub(crate) struct AfterOnce {
    chain: Arc<[Arc<dyn Interceptor>]>,
    info: Arc<CallInfo>,
    claimed: std::sync::atomic::AtomicBool,
}

impl AfterOnce {
    /// `None` when there are no interceptors: nothing is owed.
    pub fn new(chain: &Arc<[Arc<dyn Interceptor>]>, info: &Arc<CallInfo>) -> Option<Arc<Self>> {
        (!chain.is_empty()).then(|| {
            Arc::new(AfterOnce { chain: chain.clone(), info: info.clone(), claimed: Default::default() })
        })
    }

    /// Runs the hooks on `status` unless they already ran (or are running).
    pub async fn run(&self, status: &mut Status) {
        if !self.claimed.swap(true, std::sync::atomic::Ordering::AcqRel) {
            run_after(&self.chain, &self.info, status).await;
        }
    }
}

/// Spawns a detached task (the client's runtime).
pub(crate) type Spawn = Arc<dyn Fn(BoxFuture<'static, ()>) + Send + Sync>;

/// The `after` hooks a client call owes its caller, and its report to the
/// stats handler ([`CallTiming`]). Run them on the final status with
/// [`Owed::settle`]; if the caller drops the call first, the owed hooks run
/// on a task of their own with CANCELLED (the value's `Drop`).
pub(crate) struct Owed {
    hooks: Option<OwedHooks>,
    /// How many interceptors' `before` hooks completed: only their `after`
    /// hooks are owed (a call dropped during a `before` hook owes the
    /// earlier ones theirs, and nothing to the later ones).
    ran: usize,
    timing: Option<CallTiming>,
}

/// The chain, the call, and where to run them if the call is dropped.
type OwedHooks = (Arc<[Arc<dyn Interceptor>]>, Arc<CallInfo>, Spawn);

/// A client call's start, for [`StatsHandler::client_call_end`]: the
/// channel holds the handler, the target and the clock.
pub(crate) struct CallTiming {
    pub channel: crate::Channel,
    pub method: Bytes,
    pub started: Instant,
}

impl CallTiming {
    /// Tells the channel's handler the call started (when it has one); the
    /// value reports its end.
    pub fn start(channel: &crate::Channel, method: &Bytes) -> Option<Self> {
        let handler = channel.stats()?;
        let timing = CallTiming { channel: channel.clone(), method: method.clone(), started: channel.now() };
        handler.client_call_start(&timing.call());
        Some(timing)
    }

    fn call(&self) -> ClientCall<'_> {
        ClientCall {
            method: std::str::from_utf8(&self.method).unwrap_or("<invalid UTF-8>"),
            target: self.channel.target(),
        }
    }

    /// Reports the end with the status the caller gets.
    pub fn end(self, code: weir_core::grpc::Code) {
        let duration = self.channel.now().saturating_duration_since(self.started);
        if let Some(handler) = self.channel.stats() {
            handler.client_call_end(&self.call(), &ClientCallEnd { code, duration });
        }
    }
}

impl Owed {
    /// Owes nothing when there are no interceptors and no stats handler.
    pub fn new(
        chain: &Arc<[Arc<dyn Interceptor>]>,
        info: &Arc<CallInfo>,
        spawn: impl FnOnce() -> Spawn,
        timing: Option<CallTiming>,
    ) -> Self {
        Owed { hooks: (!chain.is_empty()).then(|| (chain.clone(), info.clone(), spawn())), ran: 0, timing }
    }

    /// Runs the `before` hooks in order on `head`, stopping at the first
    /// rejection, and counts those that returned (the rejecting one too: its
    /// `after` sees the rejection).
    pub async fn run_before(&mut self, head: &mut RequestHead) -> Result<(), Status> {
        let Some((chain, info, _)) = &self.hooks else { return Ok(()) };
        let (chain, info) = (chain.clone(), info.clone());
        for i in chain.iter() {
            let verdict = i.before(&info, head).await;
            self.ran += 1;
            verdict?;
        }
        Ok(())
    }

    /// Runs the hooks on `status` (which they may change).
    pub fn settle(mut self, status: Status) -> BoxFuture<'static, Status> {
        let hooks = self.hooks.take();
        let ran = self.ran;
        let timing = self.timing.take();
        Box::pin(async move {
            let mut status = status;
            if let Some((chain, info, _)) = hooks {
                run_after(&chain[..ran], &info, &mut status).await;
            }
            if let Some(t) = timing {
                t.end(status.code);
            }
            status
        })
    }

    /// Runs the hooks on `status` on a task of their own.
    pub fn settle_detached(mut self, status: Status) {
        let timing = self.timing.take();
        let ran = self.ran;
        match self.hooks.take().filter(|_| ran > 0) {
            Some((chain, info, spawn)) => spawn(Box::pin(async move {
                let mut status = status;
                run_after(&chain[..ran], &info, &mut status).await;
                if let Some(t) = timing {
                    t.end(status.code);
                }
            })),
            None => {
                if let Some(t) = timing {
                    t.end(status.code);
                }
            }
        }
    }

    /// True when hooks or a report are owed.
    pub fn is_owed(&self) -> bool {
        self.hooks.is_some() || self.timing.is_some()
    }
}

impl Drop for Owed {
    fn drop(&mut self) {
        if self.is_owed() {
            let owed = Owed { hooks: self.hooks.take(), ran: self.ran, timing: self.timing.take() };
            owed.settle_detached(Status::new(
                weir_core::grpc::Code::Cancelled,
                "call cancelled by the caller",
            ));
        }
    }
}
