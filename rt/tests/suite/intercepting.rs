//! Interceptors run exactly once per call on both sides, for every call kind
//! and outcome; typed extensions reach the handler; a handler's deadline
//! carries over to the calls it makes.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures::StreamExt;
use futures::future::select;
use weir_rt::interceptor::Interceptor;
use weir_rt::runtime::{BoxFuture, Net, Runtime};
use weir_rt::server::ResponseStream;
use weir_rt::{CallInfo, Channel, Code, Endpoint, Method, Request, RequestHead, Response, Server, Status};

use super::{req, start};

/// Counts `before` calls and records the status each `after` saw.
#[derive(Default)]
struct Recorder {
    before: AtomicUsize,
    after: Mutex<Vec<Code>>,
}

impl Recorder {
    fn take(&self) -> (usize, Vec<Code>) {
        (self.before.swap(0, Ordering::SeqCst), std::mem::take(&mut *self.after.lock().unwrap()))
    }
}

struct Hooks(Arc<Recorder>);

impl Interceptor for Hooks {
    fn before<'a>(&'a self, _: &'a CallInfo, head: &'a mut RequestHead) -> BoxFuture<'a, Result<(), Status>> {
        self.0.before.fetch_add(1, Ordering::SeqCst);
        head.extensions.insert(Caller("ann".into()));
        Box::pin(async { Ok(()) })
    }

    fn after<'a>(&'a self, _: &'a CallInfo, status: &'a mut Status) -> BoxFuture<'a, ()> {
        self.0.after.lock().unwrap().push(status.code);
        Box::pin(async {})
    }
}

/// What the server's interceptor found out, for the handler.
#[derive(Clone, Debug, PartialEq)]
struct Caller(String);

#[derive(Clone, Copy, Debug, PartialEq)]
enum Kind {
    Unary,
    ClientStreaming,
    ServerStreaming,
    Bidi,
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum Outcome {
    Ok,
    Error,
    Cancel,
}

/// The handlers' behaviour, chosen by the request's first byte.
fn outcome_of(b: &[u8]) -> Outcome {
    match b.first() {
        Some(0) => Outcome::Ok,
        Some(1) => Outcome::Error,
        _ => Outcome::Cancel,
    }
}

/// Waits (handler side) for a cancellation that drops this future.
async fn hang<R: Runtime>(rt: &R) {
    rt.sleep_until(rt.now() + Duration::from_secs(30)).await;
}

fn server<R: Net>(rt: R, hooks: Arc<Recorder>, started: Arc<AtomicUsize>) -> Server<R> {
    let (rt1, rt2, rt3, rt4) = (rt.clone(), rt.clone(), rt.clone(), rt.clone());
    let (s1, s2, s3, s4) = (started.clone(), started.clone(), started.clone(), started);
    Server::new(rt)
        .interceptor(Arc::new(Hooks(hooks)))
        .route(
            "/i.I/Unary",
            Method::unary(move |r| {
                let (rt, started) = (rt1.clone(), s1.clone());
                async move {
                    started.fetch_add(1, Ordering::SeqCst);
                    match outcome_of(r.get_ref()) {
                        Outcome::Ok => Ok(Response::new(r.into_inner())),
                        Outcome::Error => Err(Status::new(Code::Internal, "boom")),
                        Outcome::Cancel => {
                            hang(&rt).await;
                            Ok(Response::new(Bytes::new()))
                        }
                    }
                }
            }),
        )
        .route(
            "/i.I/ClientStreaming",
            Method::client_streaming(move |r| {
                let (rt, started) = (rt2.clone(), s2.clone());
                async move {
                    started.fetch_add(1, Ordering::SeqCst);
                    let first = r.into_inner().message().await?.unwrap_or_default();
                    match outcome_of(&first) {
                        Outcome::Ok => Ok(Response::new(first)),
                        Outcome::Error => Err(Status::new(Code::Internal, "boom")),
                        Outcome::Cancel => {
                            hang(&rt).await;
                            Ok(Response::new(Bytes::new()))
                        }
                    }
                }
            }),
        )
        .route(
            "/i.I/ServerStreaming",
            Method::server_streaming(move |r| {
                let (rt, started) = (rt3.clone(), s3.clone());
                async move {
                    started.fetch_add(1, Ordering::SeqCst);
                    match outcome_of(r.get_ref()) {
                        Outcome::Ok => {
                            let s: ResponseStream =
                                Box::pin(futures::stream::iter([Ok(Bytes::from("a").into())]));
                            Ok(Response::new(s))
                        }
                        // Fails before returning its stream.
                        Outcome::Error => Err(Status::new(Code::Internal, "boom")),
                        Outcome::Cancel => {
                            let s: ResponseStream = Box::pin(futures::stream::once(async move {
                                hang(&rt).await;
                                Ok(Bytes::new().into())
                            }));
                            Ok(Response::new(s))
                        }
                    }
                }
            }),
        )
        .route(
            "/i.I/Bidi",
            Method::bidi(move |r| {
                let (rt, started) = (rt4.clone(), s4.clone());
                async move {
                    started.fetch_add(1, Ordering::SeqCst);
                    let mut requests = r.into_inner();
                    let first = requests.message().await?.unwrap_or_default();
                    match outcome_of(&first) {
                        Outcome::Ok => {
                            let s: ResponseStream = Box::pin(futures::stream::iter([Ok(first.into())]));
                            Ok(Response::new(s))
                        }
                        Outcome::Error => Err(Status::new(Code::Internal, "boom")),
                        Outcome::Cancel => {
                            let s: ResponseStream = Box::pin(futures::stream::once(async move {
                                hang(&rt).await;
                                Ok(Bytes::new().into())
                            }));
                            Ok(Response::new(s))
                        }
                    }
                }
            }),
        )
}

/// Makes one call of `kind` asking for `outcome`; for a cancellation, drops
/// it once the server's handler has started.
async fn call<R: Net>(rt: &R, ch: &Channel, kind: Kind, outcome: Outcome, started: &AtomicUsize) {
    let body = Bytes::from(vec![outcome as u8]);
    let before = started.load(Ordering::SeqCst);
    let started_now = async {
        while started.load(Ordering::SeqCst) == before {
            rt.sleep_until(rt.now() + Duration::from_millis(2)).await;
        }
        // The handler runs; give its response stream a moment to start too.
        rt.sleep_until(rt.now() + Duration::from_millis(20)).await;
    };
    let the_call: BoxFuture<'_, ()> = match kind {
        Kind::Unary => Box::pin(async move {
            let _ = ch.unary("/i.I/Unary", req(body)).await;
        }),
        Kind::ClientStreaming => Box::pin(async move {
            let _ = ch
                .client_streaming("/i.I/ClientStreaming", Request::new(futures::stream::iter([body])))
                .await;
        }),
        Kind::ServerStreaming => Box::pin(async move {
            if let Ok(resp) = ch.server_streaming("/i.I/ServerStreaming", req(body)).await {
                let mut s = resp.into_inner();
                while let Some(Ok(_)) = s.next().await {}
            }
        }),
        Kind::Bidi => Box::pin(async move {
            let requests = futures::stream::iter([body]).chain(futures::stream::pending());
            if let Ok(resp) = ch.streaming("/i.I/Bidi", Request::new(requests)).await {
                let mut s = resp.into_inner();
                while let Some(Ok(_)) = s.next().await {}
            }
        }),
    };
    if outcome == Outcome::Cancel {
        // Whichever comes first; dropping the call cancels it.
        let _ = select(the_call, Box::pin(started_now)).await;
    } else {
        the_call.await;
    }
}

/// Waits (bounded) until `rec` recorded an `after`; then a little longer, so
/// that a second one would show.
async fn settled<R: Runtime>(rt: &R, rec: &Recorder) -> (usize, Vec<Code>) {
    let deadline = Instant::now() + Duration::from_secs(5);
    while rec.after.lock().unwrap().is_empty() && Instant::now() < deadline {
        rt.sleep_until(rt.now() + Duration::from_millis(5)).await;
    }
    rt.sleep_until(rt.now() + Duration::from_millis(30)).await;
    rec.take()
}

/// Every kind × outcome: `before` once and `after` once on each side, with
/// the call's final status.
pub async fn interceptors_run_once_per_call<R: Net + Default>(rt: R) {
    let (server_hooks, client_hooks) = (Arc::new(Recorder::default()), Arc::new(Recorder::default()));
    let started = Arc::new(AtomicUsize::new(0));
    let running = start(&rt, server(rt.clone(), server_hooks.clone(), started.clone())).await;
    let ch = Endpoint::<R>::with_runtime(rt.clone(), running.url())
        .unwrap()
        .interceptor(Arc::new(Hooks(client_hooks.clone())))
        .connect()
        .await
        .unwrap();
    let kinds = [Kind::Unary, Kind::ClientStreaming, Kind::ServerStreaming, Kind::Bidi];
    let outcomes =
        [(Outcome::Ok, Code::Ok), (Outcome::Error, Code::Internal), (Outcome::Cancel, Code::Cancelled)];
    for kind in kinds {
        for (outcome, code) in outcomes {
            call(&rt, &ch, kind, outcome, &started).await;
            let client = settled(&rt, &client_hooks).await;
            let server = settled(&rt, &server_hooks).await;
            assert_eq!(client, (1, vec![code]), "client hooks, {kind:?} {outcome:?}");
            assert_eq!(server, (1, vec![code]), "server hooks, {kind:?} {outcome:?}");
        }
    }
    running.stop().await;
}

/// A `before` hook that never finishes (an auth lookup that hangs).
struct Stuck(Arc<Recorder>);

impl Interceptor for Stuck {
    fn before<'a>(&'a self, _: &'a CallInfo, _: &'a mut RequestHead) -> BoxFuture<'a, Result<(), Status>> {
        self.0.before.fetch_add(1, Ordering::SeqCst);
        Box::pin(std::future::pending())
    }

    fn after<'a>(&'a self, _: &'a CallInfo, status: &'a mut Status) -> BoxFuture<'a, ()> {
        self.0.after.lock().unwrap().push(status.code);
        Box::pin(async {})
    }
}

/// A client call dropped while a `before` hook is still running: the hooks
/// whose `before` returned get their `after` (CANCELLED), the one still
/// running and those after it get none, and a rejection's `after` sees it.
pub async fn a_call_dropped_during_a_before_hook_owes_only_the_hooks_that_ran<R: Net + Default>(rt: R) {
    let (first, stuck, last) =
        (Arc::new(Recorder::default()), Arc::new(Recorder::default()), Arc::new(Recorder::default()));
    let running = start(
        &rt,
        Server::new(rt.clone()).route(
            "/i.I/Echo",
            Method::unary(|r: Request<Bytes>| async move { Ok(Response::new(r.into_inner())) }),
        ),
    )
    .await;
    let ch = Endpoint::<R>::with_runtime(rt.clone(), running.url())
        .unwrap()
        .interceptor(Arc::new(Hooks(first.clone())))
        .interceptor(Arc::new(Stuck(stuck.clone())))
        .interceptor(Arc::new(Hooks(last.clone())))
        .connect()
        .await
        .unwrap();
    let the_call = Box::pin(ch.unary("/i.I/Echo", req(&b"x"[..])));
    let _ = select(the_call, rt.sleep_until(rt.now() + Duration::from_millis(50))).await;
    assert_eq!(settled(&rt, &first).await, (1, vec![Code::Cancelled]), "the hook that ran");
    assert_eq!(stuck.take(), (1, vec![]), "the hook still running when the call was dropped");
    assert_eq!(last.take(), (0, vec![]), "the hook after it never ran");
    running.stop().await;
}

/// What a server interceptor stores in the request's extensions reaches the
/// handler, typed.
pub async fn extensions_reach_the_handler<R: Net + Default>(rt: R) {
    let hooks = Arc::new(Recorder::default());
    let server = Server::new(rt.clone()).interceptor(Arc::new(Hooks(hooks))).route(
        "/i.I/WhoAmI",
        Method::unary(|r: Request<Bytes>| async move {
            let caller = r
                .extensions()
                .get::<Caller>()
                .cloned()
                .ok_or_else(|| Status::new(Code::Internal, "no caller"))?;
            Ok(Response::new(Bytes::from(caller.0)))
        }),
    );
    let running = start(&rt, server).await;
    let ch = Endpoint::<R>::with_runtime(rt.clone(), running.url()).unwrap().connect().await.unwrap();
    let reply = ch.unary("/i.I/WhoAmI", req(&b""[..])).await.unwrap();
    assert_eq!(reply.into_inner(), Bytes::from_static(b"ann"));
    running.stop().await;
}

/// A handler that calls another service passes its own deadline on
/// (`Request::with_deadline_of`): the downstream call sees the same
/// deadline, not none.
pub async fn deadlines_carry_over_to_downstream_calls<R: Net + Default>(rt: R) {
    let downstream = Server::new(rt.clone()).route(
        "/i.I/Remaining",
        Method::unary(|r: Request<Bytes>| async move {
            let left =
                r.time_remaining().ok_or_else(|| Status::new(Code::FailedPrecondition, "no deadline"))?;
            Ok(Response::new(Bytes::from((left.as_millis() as u64).to_be_bytes().to_vec())))
        }),
    );
    let downstream = start(&rt, downstream).await;
    let down = Endpoint::<R>::with_runtime(rt.clone(), downstream.url()).unwrap().connect().await.unwrap();
    let front = Server::new(rt.clone()).route(
        "/i.I/Front",
        Method::unary(move |r: Request<Bytes>| {
            let down = down.clone();
            async move {
                let child = Request::new(Bytes::new()).with_deadline_of(&r);
                down.unary("/i.I/Remaining", child).await
            }
        }),
    );
    let front = start(&rt, front).await;
    let ch = Endpoint::<R>::with_runtime(rt.clone(), front.url()).unwrap().connect().await.unwrap();
    let mut request = req(&b""[..]);
    request.set_timeout(Duration::from_secs(5));
    let left = ch.unary("/i.I/Front", request).await.expect("the deadline was passed on").into_inner();
    let left = Duration::from_millis(u64::from_be_bytes(left[..].try_into().unwrap()));
    assert!(left <= Duration::from_secs(5) && left > Duration::from_secs(4), "{left:?} left downstream");
    front.stop().await;
    downstream.stop().await;
}
