//! Retries of client-streaming and bidi calls (gRFC A6): the request
//! messages are kept in a bounded replay buffer, and an attempt refused
//! before response headers is retried with all of them; past the buffer's
//! limit the call commits and is not retried.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use futures::StreamExt;
use futures::channel::mpsc;
use weir_rt::client::{RetryBufferLimits, RetryPolicy};
use weir_rt::runtime::{Net, Runtime};
use weir_rt::server::ResponseStream;
use weir_rt::{Channel, Code, Endpoint, Method, Request, Response, Server, Status, Streaming};

use super::{Running, start, wait_until};

/// The `grpc-previous-rpc-attempts` of each attempt the server saw.
type Attempts = Arc<Mutex<Vec<String>>>;

/// The first attempt reads `fail-after` messages, then fails UNAVAILABLE
/// before sending anything; later attempts take every message.
/// `Collect` answers with each message's first byte, `Echo` echoes them.
async fn replay_server<R: Net>(rt: &R) -> (Running, Attempts) {
    let attempts: Attempts = Arc::default();
    let first_attempt_fails = |attempts: Attempts, req: &Request<Streaming<Bytes>>| {
        let mut seen = attempts.lock().unwrap();
        seen.push(req.metadata().get_str("grpc-previous-rpc-attempts").unwrap_or("").to_owned());
        let fail_after: usize = req.metadata().get_str("fail-after").unwrap().parse().unwrap();
        (seen.len() == 1).then_some(fail_after)
    };
    async fn refuse(s: &mut Streaming<Bytes>, after: usize) -> Status {
        for _ in 0..after {
            s.message().await.unwrap().expect("a message");
        }
        Status::new(Code::Unavailable, "the first attempt is refused")
    }
    let (a1, a2) = (attempts.clone(), attempts.clone());
    let server = Server::new(rt.clone())
        .route(
            "/replay.Test/Collect",
            Method::client_streaming(move |req| {
                let fail = first_attempt_fails(a1.clone(), &req);
                async move {
                    let mut s = req.into_inner();
                    if let Some(after) = fail {
                        return Err(refuse(&mut s, after).await);
                    }
                    let mut firsts = Vec::new();
                    while let Some(m) = s.message().await? {
                        firsts.push(m[0]);
                    }
                    Ok(Response::new(Bytes::from(firsts)))
                }
            }),
        )
        .route(
            "/replay.Test/Echo",
            Method::bidi(move |req| {
                let fail = first_attempt_fails(a2.clone(), &req);
                async move {
                    let mut s = req.into_inner();
                    if let Some(after) = fail {
                        return Err(refuse(&mut s, after).await);
                    }
                    let out: ResponseStream = Box::pin(s.map(|r| r.map(weir_rt::OutMessage::from)));
                    Ok(Response::new(out))
                }
            }),
        );
    (start(rt, server).await, attempts)
}

fn policy() -> RetryPolicy {
    RetryPolicy {
        max_attempts: 3,
        initial_backoff: Duration::from_millis(5),
        max_backoff: Duration::from_millis(20),
        backoff_multiplier: 2.0,
        retryable_status_codes: vec![Code::Unavailable],
    }
}

async fn channel<R: Net + Default>(server: &Running, limits: RetryBufferLimits) -> Channel {
    Endpoint::<R>::new(server.url())
        .unwrap()
        .retry_policy(policy())
        .retry_buffer(limits)
        .connect()
        .await
        .unwrap()
}

/// 1 KiB message number `i` (its first byte).
fn msg(i: u8) -> Bytes {
    let mut v = vec![i; 1024];
    v[0] = i;
    Bytes::from(v)
}

fn request(rx: mpsc::UnboundedReceiver<Bytes>, fail_after: usize) -> Request<mpsc::UnboundedReceiver<Bytes>> {
    let mut req = Request::new(rx);
    req.metadata_mut().append("fail-after", &fail_after.to_string()).unwrap();
    req
}

/// Sends messages 0..3, waits until the retry reached the server, then
/// sends 3..10 and ends the stream: the first attempt failed mid-stream.
async fn feed<R: Runtime>(rt: R, tx: mpsc::UnboundedSender<Bytes>, attempts: Attempts) {
    for i in 0..3 {
        tx.unbounded_send(msg(i)).unwrap();
    }
    wait_until(&rt, || attempts.lock().unwrap().len() == 2).await;
    for i in 3..10 {
        tx.unbounded_send(msg(i)).unwrap();
    }
}

pub async fn client_streaming_retry_replays_every_message<R: Net + Default>(rt: R) {
    let (server, attempts) = replay_server(&rt).await;
    let ch = channel::<R>(&server, RetryBufferLimits::default()).await;
    let (tx, rx) = mpsc::unbounded();
    let call = ch.client_streaming("/replay.Test/Collect", request(rx, 2));
    let (result, ()) = futures::join!(call, feed(rt.clone(), tx, attempts.clone()));
    let firsts = result.expect("the second attempt succeeds").into_inner();
    assert_eq!(&firsts[..], &(0..10).collect::<Vec<u8>>()[..], "every message, in order, once");
    assert_eq!(*attempts.lock().unwrap(), ["", "1"]);
    server.stop().await;
}

pub async fn bidi_retry_replays_every_message<R: Net + Default>(rt: R) {
    let (server, attempts) = replay_server(&rt).await;
    let ch = channel::<R>(&server, RetryBufferLimits::default()).await;
    let (tx, rx) = mpsc::unbounded();
    let call = ch.streaming("/replay.Test/Echo", request(rx, 2));
    let (result, ()) = futures::join!(call, feed(rt.clone(), tx, attempts.clone()));
    let mut echoes = result.expect("the second attempt is committed").into_inner();
    let mut firsts = Vec::new();
    while let Some(m) = echoes.message().await.unwrap() {
        assert_eq!(m.len(), 1024);
        firsts.push(m[0]);
    }
    assert_eq!(firsts, (0..10).collect::<Vec<u8>>(), "every message echoed, in order, once");
    assert_eq!(*attempts.lock().unwrap(), ["", "1"]);
    server.stop().await;
}

/// With a 2 KiB buffer, the third 1 KiB message commits the call: the
/// refusal after it is final.
pub async fn streaming_call_past_the_replay_buffer_is_not_retried<R: Net + Default>(rt: R) {
    let (server, attempts) = replay_server(&rt).await;
    let limits = RetryBufferLimits { per_call: 2048, ..RetryBufferLimits::default() };
    let ch = channel::<R>(&server, limits).await;
    for path in ["/replay.Test/Collect", "/replay.Test/Echo"] {
        attempts.lock().unwrap().clear();
        let (tx, rx) = mpsc::unbounded();
        for i in 0..5 {
            tx.unbounded_send(msg(i)).unwrap();
        }
        drop(tx);
        let status = match path {
            "/replay.Test/Collect" => ch.client_streaming(path, request(rx, 3)).await.unwrap_err(),
            _ => ch.streaming(path, request(rx, 3)).await.unwrap_err(),
        };
        assert_eq!(status.code, Code::Unavailable, "{path}: {status}");
        assert_eq!(*attempts.lock().unwrap(), [""], "{path}: committed, not retried");
    }
    // Within the buffer, the same refusal is retried.
    attempts.lock().unwrap().clear();
    let (tx, rx) = mpsc::unbounded();
    tx.unbounded_send(msg(0)).unwrap();
    tx.unbounded_send(msg(1)).unwrap();
    drop(tx);
    let firsts = ch.client_streaming("/replay.Test/Collect", request(rx, 2)).await.unwrap().into_inner();
    assert_eq!(&firsts[..], &[0, 1]);
    assert_eq!(*attempts.lock().unwrap(), ["", "1"]);
    server.stop().await;
}
