//! The in-memory transport (`weir_rt::memory`): a server and a channel in
//! one process with no port, every call kind, interceptors on both sides,
//! deadlines, and what happens once the server is gone.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use weir_rt::interceptor::Interceptor;
use weir_rt::runtime::{BoxFuture, Net};
use weir_rt::{CallInfo, Code, Endpoint, RequestHead, Status};

use super::{Observed, call_kinds_against_any_server, ms, req, spawn_bound, test_server, wait_until};

/// Counts the calls it sees, before and after.
#[derive(Default)]
struct Counting {
    before: AtomicUsize,
    after: AtomicUsize,
}

struct Hooks(Arc<Counting>);

impl Interceptor for Hooks {
    fn before<'a>(&'a self, _: &'a CallInfo, _: &'a mut RequestHead) -> BoxFuture<'a, Result<(), Status>> {
        self.0.before.fetch_add(1, Ordering::SeqCst);
        Box::pin(async { Ok(()) })
    }

    fn after<'a>(&'a self, _: &'a CallInfo, _: &'a mut Status) -> BoxFuture<'a, ()> {
        self.0.after.fetch_add(1, Ordering::SeqCst);
        Box::pin(async {})
    }
}

pub async fn in_memory_transport_serves_every_kind<R: Net + Default>(rt: R) {
    let obs = Arc::new(Observed::default());
    let (server_hooks, client_hooks) = (Arc::new(Counting::default()), Arc::new(Counting::default()));
    let (listener, connector) = weir_rt::memory::channel();
    let bound = test_server(rt.clone(), obs.clone())
        .interceptor(Arc::new(Hooks(server_hooks.clone())))
        .with_listener(Box::new(listener));
    assert_eq!(bound.local_addr(), None, "no port");
    let running = spawn_bound(&rt, bound);
    let ch = Endpoint::<R>::with_runtime(rt.clone(), "http://in-memory")
        .unwrap()
        .in_memory(connector)
        .interceptor(Arc::new(Hooks(client_hooks.clone())))
        .connect()
        .await
        .expect("connects in memory");

    // Unary, server streaming, client streaming and bidi, with their checks.
    call_kinds_against_any_server(&ch).await;
    let calls = client_hooks.before.load(Ordering::SeqCst);
    assert!(calls >= 4, "the client interceptor saw every call ({calls})");
    wait_until(&rt, || server_hooks.after.load(Ordering::SeqCst) == calls).await;
    assert_eq!(server_hooks.before.load(Ordering::SeqCst), calls, "and the server's");

    // Deadlines: the client gives up at its deadline, the handler is cancelled.
    let mut r = req(ms(5_000));
    r.set_timeout(Duration::from_millis(100));
    let t0 = Instant::now();
    let err = ch.unary("/test.Test/Sleep", r).await.unwrap_err();
    assert_eq!(err.code, Code::DeadlineExceeded, "{err}");
    assert!(t0.elapsed() < Duration::from_secs(2), "at the deadline");
    wait_until(&rt, || obs.cancelled.load(Ordering::SeqCst) == 1).await;

    // The server stops: calls fail UNAVAILABLE, no connection can be made.
    running.stop().await;
    let err = ch.unary("/test.Test/Unary", req(&b"late"[..])).await.unwrap_err();
    assert_eq!(err.code, Code::Unavailable, "{err}");
}
