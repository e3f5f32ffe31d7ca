//! gRPC's wait-for-ready: a call may wait for a backend instead of failing
//! while none is ready.

use std::time::Duration;

use bytes::Bytes;
use futures::channel::oneshot;
use weir_rt::runtime::Net;
use weir_rt::{Backoff, Code, Endpoint};

use super::{req, spawn_bound, test_server};

/// A call started while the only backend is down fails with UNAVAILABLE at
/// once; with wait-for-ready (per call, or from the method's service
/// config) it gets DEADLINE_EXCEEDED at its deadline if the backend stays
/// down, and succeeds once the backend comes up.
pub async fn wait_for_ready_waits_for_the_backend<R: Net + Default>(rt: R) {
    // A loopback port nothing listens on yet.
    let addr = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
    let url = format!("http://{addr}");
    let backoff = Backoff {
        initial: Duration::from_millis(50),
        multiplier: 1.0,
        jitter: 0.0,
        max: Duration::from_millis(50),
    };
    let ch = Endpoint::<R>::with_runtime(rt.clone(), url.clone())
        .unwrap()
        .backoff(backoff.clone())
        .connect_lazy()
        .unwrap();

    let started = rt.now();
    let fast = ch.unary("/test.Test/Unary", req(&b"x"[..])).await.unwrap_err();
    assert_eq!(fast.code, Code::Unavailable, "{fast:?}");
    assert!(rt.now() - started < Duration::from_secs(2), "fails at once without wait-for-ready");

    let mut waits = req(&b"x"[..]);
    waits.set_wait_for_ready(true);
    waits.set_timeout(Duration::from_millis(300));
    let started = rt.now();
    let late = ch.unary("/test.Test/Unary", waits).await.unwrap_err();
    let took = rt.now() - started;
    assert_eq!(late.code, Code::DeadlineExceeded, "{late:?}");
    assert!(took >= Duration::from_millis(250) && took < Duration::from_secs(3), "at the deadline: {took:?}");

    // The method's service config says wait-for-ready: the same, without
    // the call asking.
    let configured = Endpoint::<R>::with_runtime(rt.clone(), url)
        .unwrap()
        .backoff(backoff)
        .default_service_config(
            r#"{"methodConfig": [{"name": [{}], "waitForReady": true, "timeout": "0.3s"}]}"#,
        )
        .unwrap()
        .connect_lazy()
        .unwrap();
    let late = configured.unary("/test.Test/Unary", req(&b"x"[..])).await.unwrap_err();
    assert_eq!(late.code, Code::DeadlineExceeded, "the config's waitForReady: {late:?}");

    // A waiting call succeeds once the backend comes up.
    let (tx, rx) = oneshot::channel();
    let waiting = ch.clone();
    rt.spawn(async move {
        let mut r = req(&b"waited"[..]);
        r.set_wait_for_ready(true);
        r.set_timeout(Duration::from_secs(10));
        let _ = tx.send(waiting.unary("/test.Test/Unary", r).await);
    });
    rt.sleep_until(rt.now() + Duration::from_millis(300)).await;
    let server =
        test_server(rt.clone(), Default::default()).bind(addr).await.expect("bind the backend's port");
    let running = spawn_bound(&rt, server);
    let answered = rx.await.expect("the call finished").expect("the call succeeds once the backend is up");
    assert_eq!(answered.into_inner(), Bytes::from_static(b"waited"));
    running.stop().await;
}
