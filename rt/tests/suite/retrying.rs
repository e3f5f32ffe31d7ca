//! Retries and hedging (gRFC A6) against a server whose methods fail as
//! told, recording every attempt's `grpc-previous-rpc-attempts`.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use weir_rt::client::{CallPolicy, HedgingPolicy, RetryPolicy, RetryThrottling};
use weir_rt::runtime::Net;
use weir_rt::server::ResponseStream;
use weir_rt::{Channel, Code, Endpoint, Metadata, Method, Request, Response, Server, Status};

use super::{Running, start, wait_until};

/// What the flaky server saw.
#[derive(Default)]
struct Seen {
    /// `grpc-previous-rpc-attempts` of each attempt ("" when absent).
    attempts: Mutex<Vec<String>>,
    /// Hedged attempts dropped before they finished.
    cancelled: AtomicUsize,
}

impl Seen {
    fn attempts(&self) -> Vec<String> {
        self.attempts.lock().unwrap().clone()
    }
    fn count(&self) -> usize {
        self.attempts.lock().unwrap().len()
    }
}

fn record(seen: &Seen, md: &Metadata) -> usize {
    let mut a = seen.attempts.lock().unwrap();
    a.push(md.get_str("grpc-previous-rpc-attempts").unwrap_or("").to_owned());
    a.len()
}

fn u32_of(b: &[u8]) -> u32 {
    u32::from_be_bytes(b[..4].try_into().unwrap())
}

/// Request: failures (u32), code (u32). The first `failures` attempts (as
/// counted by the server) fail with `code`; later ones echo "ok".
/// `/retry.Test/Pushback` always fails UNAVAILABLE with a pushback of -1.
/// `/retry.Test/Stream` is the server-streaming flavour (3 messages).
/// `/retry.Test/Hedge`: the first attempt hangs, later ones answer.
fn flaky_server<R: Net>(rt: R, seen: Arc<Seen>) -> Server<R> {
    let (s1, s2, s3, s4) = (seen.clone(), seen.clone(), seen.clone(), seen);
    let sleeper = rt.clone();
    Server::new(rt)
        .route(
            "/retry.Test/Flaky",
            Method::unary(move |req| {
                let n = record(&s1, req.metadata());
                let (failures, code) = (u32_of(req.get_ref()), u32_of(&req.get_ref()[4..]));
                async move {
                    if n <= failures as usize {
                        return Err(Status::new(Code::from_i32(code as i32), format!("attempt {n} fails")));
                    }
                    Ok(Response::new(Bytes::from_static(b"ok")))
                }
            }),
        )
        .route(
            "/retry.Test/Pushback",
            Method::unary(move |req| {
                record(&s2, req.metadata());
                async move {
                    let mut md = Metadata::new();
                    md.append("grpc-retry-pushback-ms", "-1").unwrap();
                    Err::<Response<Bytes>, _>(Status::new(Code::Unavailable, "go away").with_metadata(md))
                }
            }),
        )
        .route(
            "/retry.Test/Stream",
            Method::server_streaming(move |req| {
                let n = record(&s3, req.metadata());
                async move {
                    if n == 1 {
                        return Err(Status::new(Code::Unavailable, "first attempt fails"));
                    }
                    let s: ResponseStream =
                        Box::pin(futures::stream::iter((0..3u8).map(|i| Ok(Bytes::from(vec![i]).into()))));
                    Ok(Response::new(s))
                }
            }),
        )
        .route(
            "/retry.Test/Hedge",
            Method::unary(move |req| {
                let n = record(&s4, req.metadata());
                let rt = sleeper.clone();
                let seen = s4.clone();
                async move {
                    if n == 1 {
                        let guard = CountDrop(seen);
                        rt.sleep_until(rt.now() + Duration::from_secs(10)).await;
                        std::mem::forget(guard);
                        return Ok(Response::new(Bytes::from_static(b"slow")));
                    }
                    Ok(Response::new(Bytes::from_static(b"hedge")))
                }
            }),
        )
}

struct CountDrop(Arc<Seen>);

impl Drop for CountDrop {
    fn drop(&mut self) {
        self.0.cancelled.fetch_add(1, Ordering::SeqCst);
    }
}

fn failing(failures: u32, code: Code) -> Request<Bytes> {
    let mut v = failures.to_be_bytes().to_vec();
    v.extend_from_slice(&(code as u32).to_be_bytes());
    Request::new(Bytes::from(v))
}

fn policy(max_attempts: u32) -> RetryPolicy {
    RetryPolicy {
        max_attempts,
        initial_backoff: Duration::from_millis(5),
        max_backoff: Duration::from_millis(20),
        backoff_multiplier: 2.0,
        retryable_status_codes: vec![Code::Unavailable, Code::ResourceExhausted],
    }
}

async fn serve<R: Net>(rt: &R) -> (Running, Arc<Seen>) {
    let seen = Arc::new(Seen::default());
    (start(rt, flaky_server(rt.clone(), seen.clone())).await, seen)
}

async fn retrying<R: Net + Default>(server: &Running, p: RetryPolicy) -> Channel {
    Endpoint::<R>::new(server.url()).unwrap().retry_policy(p).connect().await.unwrap()
}

pub async fn retries_unavailable_until_success<R: Net + Default>(rt: R) {
    let (server, seen) = serve(&rt).await;
    let ch = retrying::<R>(&server, policy(3)).await;
    let r = ch.unary("/retry.Test/Flaky", failing(2, Code::Unavailable)).await.unwrap();
    assert_eq!(r.into_inner(), Bytes::from_static(b"ok"));
    assert_eq!(seen.attempts(), ["", "1", "2"], "three attempts, numbered");
    server.stop().await;
}

pub async fn gives_up_after_max_attempts<R: Net + Default>(rt: R) {
    let (server, seen) = serve(&rt).await;
    let ch = retrying::<R>(&server, policy(3)).await;
    let err = ch.unary("/retry.Test/Flaky", failing(10, Code::Unavailable)).await.unwrap_err();
    assert_eq!((err.code, err.message.as_str()), (Code::Unavailable, "attempt 3 fails"));
    assert_eq!(seen.count(), 3);
    // max_attempts above 5 counts as 5.
    let ch = retrying::<R>(&server, policy(9)).await;
    ch.unary("/retry.Test/Flaky", failing(100, Code::Unavailable)).await.unwrap_err();
    assert_eq!(seen.count(), 3 + 5);
    server.stop().await;
}

pub async fn non_retryable_codes_are_not_retried<R: Net + Default>(rt: R) {
    let (server, seen) = serve(&rt).await;
    let ch = retrying::<R>(&server, policy(5)).await;
    let err = ch.unary("/retry.Test/Flaky", failing(1, Code::InvalidArgument)).await.unwrap_err();
    assert_eq!(err.code, Code::InvalidArgument);
    assert_eq!(seen.count(), 1);
    // Without a policy nothing is retried.
    let plain = super::channel::<R>(&server.url()).await;
    let err = plain.unary("/retry.Test/Flaky", failing(100, Code::Unavailable)).await.unwrap_err();
    assert_eq!(err.code, Code::Unavailable);
    assert_eq!(seen.count(), 2);
    // A negative pushback forbids retrying.
    let err = ch.unary("/retry.Test/Pushback", Request::new(Bytes::new())).await.unwrap_err();
    assert_eq!(err.code, Code::Unavailable);
    assert_eq!(seen.count(), 3);
    server.stop().await;
}

pub async fn per_method_policy_overrides_the_channel_default<R: Net + Default>(rt: R) {
    let (server, seen) = serve(&rt).await;
    let ch = Endpoint::<R>::new(server.url())
        .unwrap()
        .retry_policy(policy(5))
        .method_policy("retry.Test/Flaky", CallPolicy::Retry(policy(2)))
        .connect()
        .await
        .unwrap();
    ch.unary("/retry.Test/Flaky", failing(10, Code::Unavailable)).await.unwrap_err();
    assert_eq!(seen.count(), 2, "the method's own policy: 2 attempts");
    server.stop().await;
}

pub async fn server_streaming_retries_before_commit<R: Net + Default>(rt: R) {
    let (server, seen) = serve(&rt).await;
    let ch = retrying::<R>(&server, policy(3)).await;
    let mut s =
        ch.server_streaming("/retry.Test/Stream", Request::new(Bytes::new())).await.unwrap().into_inner();
    let mut got = Vec::new();
    while let Some(m) = s.message().await.unwrap() {
        got.push(m[0]);
    }
    assert_eq!(got, [0, 1, 2]);
    assert_eq!(seen.attempts(), ["", "1"]);
    server.stop().await;
}

pub async fn retry_throttling_stops_retries<R: Net + Default>(rt: R) {
    let (server, seen) = serve(&rt).await;
    let ch = Endpoint::<R>::new(server.url())
        .unwrap()
        .retry_policy(policy(5))
        .retry_throttling(RetryThrottling { max_tokens: 4, token_ratio: 0.5 })
        .connect()
        .await
        .unwrap();
    // 4 tokens, threshold 2: the first failure leaves 3 (retry), the second 2 (stop).
    ch.unary("/retry.Test/Flaky", failing(100, Code::Unavailable)).await.unwrap_err();
    assert_eq!(seen.count(), 2);
    // Throttled: one attempt only.
    ch.unary("/retry.Test/Flaky", failing(100, Code::Unavailable)).await.unwrap_err();
    assert_eq!(seen.count(), 3);
    // Successes refill the bucket (0.5 each) until retries are allowed again.
    for _ in 0..5 {
        ch.unary("/retry.Test/Flaky", failing(0, Code::Unavailable)).await.unwrap();
    }
    assert_eq!(seen.count(), 8);
    let before = seen.count();
    ch.unary("/retry.Test/Flaky", failing(before as u32 + 1, Code::Unavailable)).await.unwrap();
    assert_eq!(seen.count(), before + 2, "retried again after the refill");
    server.stop().await;
}

pub async fn hedging_first_answer_wins<R: Net + Default>(rt: R) {
    let (server, seen) = serve(&rt).await;
    let hedging = HedgingPolicy {
        max_attempts: 2,
        hedging_delay: Duration::from_millis(50),
        non_fatal_status_codes: vec![Code::Unavailable],
    };
    let ch = Endpoint::<R>::new(server.url()).unwrap().hedging_policy(hedging).connect().await.unwrap();
    let r = ch.unary("/retry.Test/Hedge", Request::new(Bytes::new())).await.unwrap();
    assert_eq!(r.into_inner(), Bytes::from_static(b"hedge"), "the second copy answered first");
    assert_eq!(seen.attempts(), ["", "1"]);
    // The losing copy is cancelled.
    wait_until(&rt, || seen.cancelled.load(Ordering::SeqCst) == 1).await;
    server.stop().await;
}

pub async fn hedging_non_fatal_failure_sends_the_next_copy<R: Net + Default>(rt: R) {
    let (server, seen) = serve(&rt).await;
    let hedging = HedgingPolicy {
        max_attempts: 3,
        // Long: the copies are sent because the earlier ones failed.
        hedging_delay: Duration::from_secs(30),
        non_fatal_status_codes: vec![Code::Unavailable],
    };
    let ch = Endpoint::<R>::new(server.url()).unwrap().hedging_policy(hedging).connect().await.unwrap();
    let r = ch.unary("/retry.Test/Flaky", failing(2, Code::Unavailable)).await.unwrap();
    assert_eq!(r.into_inner(), Bytes::from_static(b"ok"));
    assert_eq!(seen.count(), 3);
    // A fatal code ends the call at once.
    let err = ch.unary("/retry.Test/Flaky", failing(100, Code::PermissionDenied)).await.unwrap_err();
    assert_eq!(err.code, Code::PermissionDenied);
    assert_eq!(seen.count(), 4);
    server.stop().await;
}
