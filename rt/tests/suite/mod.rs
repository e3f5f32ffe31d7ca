//! The integration suite, written once and run on every runtime: each
//! scenario is generic over the adapter's `Net` implementation. Runtime test
//! files (`tokio.rs`, `smol.rs`, `cross.rs`) instantiate them.
#![allow(dead_code)]

pub mod balancing;
pub mod certs;
pub mod churning;
pub mod compressing;
pub mod connectivity;
pub mod in_memory;
pub mod intercepting;
pub mod limits;
pub mod picking;
pub mod refusing;
pub mod replaying;
pub mod retrying;
pub mod runners;
pub mod waiting;

#[allow(unused_imports)]
pub use {
    balancing::*, churning::*, compressing::*, connectivity::*, in_memory::*, intercepting::*, limits::*,
    picking::*, refusing::*, replaying::*, retrying::*, waiting::*,
};

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use certs::TestPki;
use futures::StreamExt;
use futures::channel::oneshot;
use weir_rt::runtime::{Net, Runtime};
use weir_rt::server::ResponseStream;
use weir_rt::tls::{ClientTlsConfig, Identity, ServerTlsConfig};
use weir_rt::{Backoff, Channel, Code, Endpoint, Method, Request, Response, Server, Status};

/// One `#[test]` per scenario, each run by `$run` (a runner of
/// [`runners`]): what a runtime's test file declares.
#[allow(unused_macros)]
macro_rules! scenario_tests {
    ($run:path) => {
        $crate::suite::scenario_tests!(
            @each $run;
            all_kinds_over_tcp,
            all_kinds_over_tls,
            mutual_tls,
            alpn_mismatch_is_an_error,
            all_kinds_over_unix_socket,
            thousand_concurrent_unary_calls,
            large_streams_both_ways,
            many_small_message_streams,
            busy_echo_handlers_neither_hang_nor_get_new_calls_refused,
            stalled_uploads_do_not_hold_up_other_calls,
            deadline_exceeded,
            client_cancel_reaches_the_handler,
            graceful_shutdown_finishes_in_flight_calls,
            reconnect_after_server_restart,
            interceptor_rejects_and_wraps,
            metadata_and_status_details_round_trip,
            panicking_handler_fails_only_its_call,
            round_robin_spreads_calls_evenly,
            pick_first_fails_over_when_a_server_stops,
            resolver_updates_are_applied,
            dropped_address_connection_is_closed,
            dns_target_resolves_through_the_runtime,
            connection_failure_asks_for_re_resolution,
            retries_unavailable_until_success,
            gives_up_after_max_attempts,
            non_retryable_codes_are_not_retried,
            per_method_policy_overrides_the_channel_default,
            server_streaming_retries_before_commit,
            retry_throttling_stops_retries,
            hedging_first_answer_wins,
            hedging_non_fatal_failure_sends_the_next_copy,
            refused_stream_is_retried_transparently,
            stream_above_goaway_is_retried_transparently,
            transparent_retry_happens_once,
            every_algorithm_compresses_both_ways,
            unsupported_encoding_is_unimplemented,
            burst_on_a_fresh_channel_through_a_slow_link,
            cut_connections_fail_no_call,
            accept_burst_connects_promptly,
            abrupt_close_errors_say_what_happened,
            interceptors_run_once_per_call,
            extensions_reach_the_handler,
            a_call_dropped_during_a_before_hook_owes_only_the_hooks_that_ran,
            deadlines_carry_over_to_downstream_calls,
            endpoint_message_size_limits,
            service_config_json_sets_timeouts_and_limits,
            wait_for_ready_waits_for_the_backend,
            channel_state_follows_the_backend,
            idle_channel_closes_its_connection_and_reconnects,
            resolver_service_config_applies_and_an_invalid_one_keeps_the_last,
            least_request_sends_calls_to_the_least_loaded_backend,
            eight_threads_pick_without_the_channel_lock,
            weighted_round_robin_follows_resolver_weights,
            ring_hash_keeps_each_key_on_its_backend,
            outlier_detection_ejects_a_failing_backend_and_returns_it,
            client_streaming_retry_replays_every_message,
            bidi_retry_replays_every_message,
            streaming_call_past_the_replay_buffer_is_not_retried,
            in_memory_transport_serves_every_kind,
        );
    };
    (@each $run:path; $($name:ident),* $(,)?) => {
        $(
            #[test]
            fn $name() {
                $run($crate::suite::$name);
            }
        )*
    };
}
#[allow(unused_imports)]
pub(crate) use scenario_tests;

/// What the test service observed (shared with the test body).
#[derive(Default)]
pub struct Observed {
    pub cancelled: AtomicUsize,
    pub started: AtomicUsize,
    pub finished: AtomicUsize,
}

/// A running server and how to stop it.
pub struct Running {
    pub addr: Option<SocketAddr>,
    stop: Option<oneshot::Sender<()>>,
    done: oneshot::Receiver<()>,
}

impl Running {
    /// Graceful shutdown; resolves when the server's serve loop returned.
    pub async fn stop(mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        let _ = self.done.await;
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr.expect("tcp server"))
    }

    pub fn tls_url(&self) -> String {
        format!("https://localhost:{}", self.addr.expect("tcp server").port())
    }
}

fn u32_at(b: &[u8], i: usize) -> u32 {
    u32::from_be_bytes([b[i], b[i + 1], b[i + 2], b[i + 3]])
}

/// The test service at the byte level:
/// - `Unary`: echo;
/// - `ServerStream`: request = count (u32) + size (u32): `count` messages of `size` bytes;
/// - `ClientStream`: the total length received, as u64;
/// - `Bidi`: echo each message;
/// - `Sleep`: waits the requested milliseconds (u32), counting cancellations.
pub fn test_server<R: Net>(rt: R, obs: Arc<Observed>) -> Server<R> {
    let sleep_rt = rt.clone();
    let sleep_obs = obs.clone();
    Server::new(rt)
        .route("/test.Test/Unary", Method::unary(|req| async move { Ok(Response::new(req.into_inner())) }))
        .route(
            "/test.Test/ServerStream",
            Method::server_streaming(|req| async move {
                let b = req.into_inner();
                if b.len() != 8 {
                    return Err(Status::new(Code::InvalidArgument, "need count and size"));
                }
                let (count, size) = (u32_at(&b, 0), u32_at(&b, 4) as usize);
                let msg = Bytes::from(vec![0xab; size]);
                let s: ResponseStream =
                    Box::pin(futures::stream::iter((0..count).map(move |_| Ok(msg.clone().into()))));
                Ok(Response::new(s))
            }),
        )
        .route(
            "/test.Test/ClientStream",
            Method::client_streaming(|req| async move {
                let mut s = req.into_inner();
                let mut total = 0u64;
                while let Some(m) = s.message().await? {
                    total += m.len() as u64;
                }
                Ok(Response::new(Bytes::copy_from_slice(&total.to_be_bytes())))
            }),
        )
        .route(
            "/test.Test/Bidi",
            Method::bidi(|req| async move {
                let s = req.into_inner();
                let out: ResponseStream = Box::pin(s.map(|r| r.map(weir_rt::OutMessage::from)));
                Ok(Response::new(out))
            }),
        )
        .route(
            "/test.Test/Sleep",
            Method::unary(move |req| {
                let rt = sleep_rt.clone();
                let obs = sleep_obs.clone();
                async move {
                    obs.started.fetch_add(1, Ordering::SeqCst);
                    let guard = CountOnDrop(obs.clone());
                    let ms = u32_at(req.get_ref(), 0);
                    rt.sleep_until(rt.now() + Duration::from_millis(ms.into())).await;
                    std::mem::forget(guard);
                    obs.finished.fetch_add(1, Ordering::SeqCst);
                    Ok(Response::new(Bytes::from_static(b"slept")))
                }
            }),
        )
}

/// Counts a handler dropped before it finished (the server cancelled it).
struct CountOnDrop(Arc<Observed>);

impl Drop for CountOnDrop {
    fn drop(&mut self) {
        self.0.cancelled.fetch_add(1, Ordering::SeqCst);
    }
}

/// Starts `server` on a free loopback port.
pub async fn start<R: Net>(rt: &R, server: Server<R>) -> Running {
    let bound = server.bind("127.0.0.1:0".parse().unwrap()).await.expect("bind");
    spawn_bound(rt, bound)
}

pub fn spawn_bound<R: Net>(rt: &R, bound: weir_rt::BoundServer<R>) -> Running {
    let addr = bound.local_addr();
    let (stop, stop_rx) = oneshot::channel();
    let (done_tx, done) = oneshot::channel();
    rt.spawn(async move {
        let _ = bound
            .serve_with_shutdown(async move {
                let _ = stop_rx.await;
            })
            .await;
        let _ = done_tx.send(());
    });
    Running { addr, stop: Some(stop), done }
}

pub async fn channel<R: Net + Default>(url: &str) -> Channel {
    Endpoint::<R>::new(url).unwrap().connect().await.expect("connect")
}

/// The test service over TLS with the test PKI's server identity.
pub fn tls_server<R: Net>(rt: R, obs: Arc<Observed>, pki: &TestPki) -> Server<R> {
    let tls = ServerTlsConfig::new(Identity::from_pem(&pki.server_cert, &pki.server_key).unwrap());
    test_server(rt, obs).tls_config(tls).unwrap()
}

/// A TLS channel to `server` trusting the test PKI's CA.
pub async fn tls_channel<R: Net + Default>(server: &Running, pki: &TestPki) -> Channel {
    let tls = ClientTlsConfig::new().ca_pem(&pki.ca).unwrap();
    Endpoint::<R>::new(server.tls_url()).unwrap().tls_config(tls).connect().await.expect("connect")
}

fn req(b: impl Into<Bytes>) -> Request<Bytes> {
    Request::new(b.into())
}

fn count_size(count: u32, size: u32) -> Bytes {
    let mut v = count.to_be_bytes().to_vec();
    v.extend_from_slice(&size.to_be_bytes());
    v.into()
}

/// Unary, server streaming, client streaming and bidi over one channel,
/// against any implementation of the test service (Weir's or grpcio's).
pub async fn call_kinds_against_any_server(ch: &Channel) {
    let r = ch.unary("/test.Test/Unary", req(&b"hello"[..])).await.unwrap();
    assert_eq!(r.into_inner(), Bytes::from_static(b"hello"));

    let mut s =
        ch.server_streaming("/test.Test/ServerStream", req(count_size(5, 100))).await.unwrap().into_inner();
    let mut n = 0;
    while let Some(m) = s.message().await.unwrap() {
        assert_eq!(m.len(), 100);
        n += 1;
    }
    assert_eq!(n, 5);

    let upload = futures::stream::iter((0..10).map(|i| Bytes::from(vec![i as u8; 1000])));
    let r = ch.client_streaming("/test.Test/ClientStream", Request::new(upload)).await.unwrap();
    assert_eq!(u64::from_be_bytes(r.into_inner()[..].try_into().unwrap()), 10_000);

    let (tx, rx) = futures::channel::mpsc::unbounded::<Bytes>();
    let mut replies = ch.streaming("/test.Test/Bidi", Request::new(rx)).await.unwrap().into_inner();
    for i in 0..10u8 {
        tx.unbounded_send(Bytes::from(vec![i; 10])).unwrap();
        let m = replies.message().await.unwrap().expect("echo");
        assert_eq!(m, Bytes::from(vec![i; 10]), "ping-pong {i}");
    }
    drop(tx);
    assert!(replies.message().await.unwrap().is_none());
    replies.trailers().await.unwrap();
}

/// The four call kinds, plus Weir's UNIMPLEMENTED messages.
pub async fn four_call_kinds(ch: &Channel) {
    call_kinds_against_any_server(ch).await;
    let err = ch.unary("/test.Test/Nope", req(Bytes::new())).await.unwrap_err();
    assert_eq!(err.code, Code::Unimplemented);
    let err = ch.unary("/other.Svc/Nope", req(Bytes::new())).await.unwrap_err();
    assert_eq!((err.code, err.message.as_str()), (Code::Unimplemented, "unknown service other.Svc"));
}

pub async fn all_kinds_over_tcp<R: Net + Default>(rt: R) {
    let server = start(&rt, test_server(rt.clone(), Default::default())).await;
    let ch = channel::<R>(&server.url()).await;
    four_call_kinds(&ch).await;
    server.stop().await;
}

pub async fn all_kinds_over_tls<R: Net + Default>(rt: R) {
    let pki = certs::generate();
    let server = start(&rt, tls_server(rt.clone(), Default::default(), &pki)).await;
    let ch = tls_channel::<R>(&server, &pki).await;
    four_call_kinds(&ch).await;
    server.stop().await;
}

pub async fn mutual_tls<R: Net + Default>(rt: R) {
    let pki = certs::generate();
    let tls = ServerTlsConfig::new(Identity::from_pem(&pki.server_cert, &pki.server_key).unwrap())
        .client_ca_pem(&pki.ca)
        .unwrap();
    let server = start(&rt, test_server(rt.clone(), Default::default()).tls_config(tls).unwrap()).await;
    let with_id = ClientTlsConfig::new()
        .ca_pem(&pki.ca)
        .unwrap()
        .identity(Identity::from_pem(&pki.client_cert, &pki.client_key).unwrap());
    let ch = Endpoint::<R>::new(server.tls_url()).unwrap().tls_config(with_id).connect().await.unwrap();
    ch.unary("/test.Test/Unary", req(&b"mtls"[..])).await.unwrap();
    // Without a client certificate the handshake fails.
    let without = ClientTlsConfig::new().ca_pem(&pki.ca).unwrap();
    let ch = Endpoint::<R>::new(server.tls_url()).unwrap().tls_config(without).connect_lazy().unwrap();
    let err = ch.unary("/test.Test/Unary", req(&b"x"[..])).await.unwrap_err();
    assert_eq!(err.code, Code::Unavailable, "{err}");
    server.stop().await;
}

pub async fn alpn_mismatch_is_an_error<R: Net + Default>(rt: R) {
    let pki = certs::generate();
    let server = start(&rt, tls_server(rt.clone(), Default::default(), &pki)).await;
    let http1 = ClientTlsConfig::new().ca_pem(&pki.ca).unwrap().alpn_protocols(vec![b"http/1.1".to_vec()]);
    let err = Endpoint::<R>::new(server.tls_url()).unwrap().tls_config(http1).connect().await.unwrap_err();
    assert_eq!(err.code, Code::Unavailable);
    let text = format!("{err} {:?}", err.source);
    assert!(text.contains("ApplicationProtocol") || text.to_lowercase().contains("alpn"), "{text}");
    server.stop().await;
}

#[cfg(unix)]
pub async fn all_kinds_over_unix_socket<R: Net + Default>(rt: R) {
    let dir = std::env::temp_dir().join(format!("weir-test-{}-{}", std::process::id(), unique()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("grpc.sock");
    let bound = test_server(rt.clone(), Default::default()).bind_unix(&path).unwrap();
    let server = spawn_bound(&rt, bound);
    let ch = channel::<R>(&format!("unix:{}", path.display())).await;
    four_call_kinds(&ch).await;
    server.stop().await;
    let _ = std::fs::remove_dir_all(dir);
}

fn unique() -> usize {
    static N: AtomicUsize = AtomicUsize::new(0);
    N.fetch_add(1, Ordering::SeqCst)
}

/// 1,000 concurrent unary calls multiplexed on one connection.
pub async fn thousand_concurrent_unary_calls<R: Net + Default>(rt: R) {
    let server = start(&rt, test_server(rt.clone(), Default::default()).max_concurrent_streams(100)).await;
    let ch = channel::<R>(&server.url()).await;
    let calls = (0..1000u32).map(|i| {
        let ch = ch.clone();
        async move {
            let r = ch.unary("/test.Test/Unary", req(i.to_be_bytes().to_vec())).await.unwrap();
            assert_eq!(&r.into_inner()[..], &i.to_be_bytes());
        }
    });
    futures::future::join_all(calls).await;
    server.stop().await;
}

/// 64 client-streaming and 64 server-streaming calls at once, 5,000 small
/// messages each, on a server and client that run on two threads: messages
/// move in batches between drivers and calls on other threads. (A request
/// for more lost between a driver and its call once stalled such calls in
/// the release benchmark; `call.rs`'s unit tests check the rule that
/// prevents it.)
pub async fn many_small_message_streams<R: Net + Default>(rt: R) {
    let server = start(&rt, test_server(rt.clone(), Default::default())).await;
    let ch = channel::<R>(&server.url()).await;
    let uploads = (0..64).map(|_| {
        let ch = ch.clone();
        async move {
            let msg = Bytes::from(vec![1u8; 64]);
            let upload = futures::stream::iter((0..5000).map(move |_| msg.clone()));
            let r = ch.client_streaming("/test.Test/ClientStream", Request::new(upload)).await.unwrap();
            assert_eq!(u64::from_be_bytes(r.into_inner()[..].try_into().unwrap()), 5000 * 64);
        }
    });
    let downloads = (0..64).map(|_| {
        let ch = ch.clone();
        async move {
            let mut s = ch
                .server_streaming("/test.Test/ServerStream", req(count_size(5000, 64)))
                .await
                .unwrap()
                .into_inner();
            let mut n = 0;
            while s.message().await.unwrap().is_some() {
                n += 1;
            }
            assert_eq!(n, 5000);
        }
    });
    futures::future::join(futures::future::join_all(uploads), futures::future::join_all(downloads)).await;
    server.stop().await;
}

/// 64 MiB each way on one stream.
pub async fn large_streams_both_ways<R: Net + Default>(rt: R) {
    let server = start(&rt, test_server(rt.clone(), Default::default())).await;
    let ch = channel::<R>(&server.url()).await;
    large_transfers(&ch).await;
    server.stop().await;
}

/// 64 MiB from the server, then 64 MiB to it, each on one stream.
pub async fn large_transfers(ch: &Channel) {
    // Server to client: 64 messages of 1 MiB.
    let mut s = ch
        .server_streaming("/test.Test/ServerStream", req(count_size(64, 1 << 20)))
        .await
        .unwrap()
        .into_inner();
    let mut total = 0;
    while let Some(m) = s.message().await.unwrap() {
        assert!(m.iter().all(|&b| b == 0xab));
        total += m.len();
    }
    assert_eq!(total, 64 << 20);
    // Client to server: 64 MiB in 256 KiB messages.
    let chunk = Bytes::from(vec![7u8; 256 << 10]);
    let upload = futures::stream::iter((0..256).map(move |_| chunk.clone()));
    let r = ch.client_streaming("/test.Test/ClientStream", Request::new(upload)).await.unwrap();
    assert_eq!(u64::from_be_bytes(r.into_inner()[..].try_into().unwrap()), 64 << 20);
}

fn ms(n: u32) -> Bytes {
    Bytes::copy_from_slice(&n.to_be_bytes())
}

pub async fn deadline_exceeded<R: Net + Default>(rt: R) {
    let obs = Arc::new(Observed::default());
    let server = start(&rt, test_server(rt.clone(), obs.clone())).await;
    let ch = channel::<R>(&server.url()).await;
    let mut r = req(ms(5_000));
    r.set_timeout(Duration::from_millis(100));
    let t0 = Instant::now();
    let err = ch.unary("/test.Test/Sleep", r).await.unwrap_err();
    assert_eq!(err.code, Code::DeadlineExceeded, "{err}");
    assert!(t0.elapsed() < Duration::from_secs(2), "returned at the deadline");
    // The server's handler was cancelled too (its own deadline timer).
    wait_until(&rt, || obs.cancelled.load(Ordering::SeqCst) == 1).await;
    assert_eq!(obs.finished.load(Ordering::SeqCst), 0);
    server.stop().await;
}

pub async fn client_cancel_reaches_the_handler<R: Net + Default>(rt: R) {
    let obs = Arc::new(Observed::default());
    let server = start(&rt, test_server(rt.clone(), obs.clone())).await;
    let ch = channel::<R>(&server.url()).await;
    let call = Box::pin({
        let ch = ch.clone();
        async move { ch.unary("/test.Test/Sleep", req(ms(10_000))).await }
    });
    // Drop the call future once the handler has started: that cancels it.
    let obs2 = obs.clone();
    let rt2 = rt.clone();
    let started =
        Box::pin(async move { wait_until(&rt2, || obs2.started.load(Ordering::SeqCst) == 1).await });
    match futures::future::select(call, started).await {
        futures::future::Either::Left((r, _)) => panic!("call finished early: {r:?}"),
        futures::future::Either::Right(((), call)) => drop(call),
    }
    wait_until(&rt, || obs.cancelled.load(Ordering::SeqCst) == 1).await;
    // The connection is fine afterwards.
    ch.unary("/test.Test/Unary", req(&b"still here"[..])).await.unwrap();
    server.stop().await;
}

pub async fn graceful_shutdown_finishes_in_flight_calls<R: Net + Default>(rt: R) {
    let obs = Arc::new(Observed::default());
    let server =
        start(&rt, test_server(rt.clone(), obs.clone()).shutdown_grace(Duration::from_secs(5))).await;
    let ch = channel::<R>(&server.url()).await;
    let in_flight: Vec<_> = (0..5)
        .map(|_| {
            let ch = ch.clone();
            async move { ch.unary("/test.Test/Sleep", req(ms(300))).await }
        })
        .collect();
    let calls = futures::future::join_all(in_flight);
    let obs2 = obs.clone();
    let rt2 = rt.clone();
    let stop = async move {
        wait_until(&rt2, || obs2.started.load(Ordering::SeqCst) == 5).await;
        server.stop().await;
    };
    let (results, ()) = futures::join!(calls, stop);
    for r in results {
        assert_eq!(r.unwrap().into_inner(), Bytes::from_static(b"slept"), "in-flight call completed");
    }
    assert_eq!(obs.finished.load(Ordering::SeqCst), 5);
    // The server is gone: new calls fail.
    let err = ch.unary("/test.Test/Unary", req(Bytes::new())).await.unwrap_err();
    assert_eq!(err.code, Code::Unavailable);
}

pub async fn reconnect_after_server_restart<R: Net + Default>(rt: R) {
    let first = start(&rt, test_server(rt.clone(), Default::default())).await;
    let addr = first.addr.unwrap();
    let backoff =
        Backoff { initial: Duration::from_millis(20), max: Duration::from_millis(100), ..Backoff::default() };
    let ch = Endpoint::<R>::new(first.url()).unwrap().backoff(backoff).connect().await.unwrap();
    ch.unary("/test.Test/Unary", req(&b"one"[..])).await.unwrap();
    first.stop().await;
    // While down, calls fail fast.
    let err = ch.unary("/test.Test/Unary", req(&b"down"[..])).await.unwrap_err();
    assert_eq!(err.code, Code::Unavailable);
    // Restart on the same port; the channel reconnects by itself.
    let bound = test_server(rt.clone(), Default::default()).bind(addr).await.expect("rebind");
    let second = spawn_bound(&rt, bound);
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        match ch.unary("/test.Test/Unary", req(&b"two"[..])).await {
            Ok(r) => {
                assert_eq!(r.into_inner(), Bytes::from_static(b"two"));
                break;
            }
            Err(e) if Instant::now() < deadline => {
                assert_eq!(e.code, Code::Unavailable);
                rt.sleep_until(rt.now() + Duration::from_millis(20)).await;
            }
            Err(e) => panic!("did not reconnect: {e}"),
        }
    }
    second.stop().await;
}

pub async fn interceptor_rejects_and_wraps<R: Net + Default>(rt: R) {
    let seen = Arc::new(AtomicUsize::new(0));
    let seen2 = seen.clone();
    let auth = weir_rt::interceptor::from_fn(move |_, md| {
        seen2.fetch_add(1, Ordering::SeqCst);
        match md.get_str("authorization") {
            Some("Bearer let-me-in") => {
                md.append("x-user", "tester").unwrap();
                Ok(())
            }
            _ => Err(Status::new(Code::Unauthenticated, "missing token")),
        }
    });
    let server = start(
        &rt,
        test_server(rt.clone(), Default::default()).interceptor(auth).route(
            "/test.Test/WhoAmI",
            Method::unary(|req| async move {
                Ok(Response::new(Bytes::copy_from_slice(
                    req.metadata().get("x-user").map(|v| &v[..]).unwrap_or(b"?"),
                )))
            }),
        ),
    )
    .await;
    let ch = channel::<R>(&server.url()).await;
    let err = ch.unary("/test.Test/WhoAmI", req(Bytes::new())).await.unwrap_err();
    assert_eq!((err.code, err.message.as_str()), (Code::Unauthenticated, "missing token"));
    // A client interceptor adds the token.
    let token = weir_rt::interceptor::from_fn(|_, md| {
        md.append("authorization", "Bearer let-me-in").unwrap();
        Ok(())
    });
    let ch = Endpoint::<R>::new(server.url()).unwrap().interceptor(token).connect().await.unwrap();
    let r = ch.unary("/test.Test/WhoAmI", req(Bytes::new())).await.unwrap();
    assert_eq!(r.into_inner(), Bytes::from_static(b"tester"));
    assert_eq!(seen.load(Ordering::SeqCst), 2);
    server.stop().await;
}

pub async fn metadata_and_status_details_round_trip<R: Net + Default>(rt: R) {
    let server = start(
        &rt,
        Server::new(rt.clone()).route(
            "/test.Test/Meta",
            Method::unary(|req| async move {
                let id = req.metadata().get_str("x-id").unwrap_or("none").to_owned();
                let bin = req.metadata().get("x-blob-bin").cloned().unwrap_or_default();
                if id == "fail" {
                    let mut md = weir_rt::Metadata::new();
                    md.append("x-why", "asked to").unwrap();
                    return Err(Status::new(Code::Aborted, "failing ☹")
                        .with_details(vec![1u8, 2, 3])
                        .with_metadata(md));
                }
                let mut resp = Response::new(bin);
                resp.metadata_mut().append("x-echo-id", &id).unwrap();
                resp.trailers_mut().append_bin("x-trailer-bin", vec![0u8, 255]).unwrap();
                Ok(resp)
            }),
        ),
    )
    .await;
    let ch = channel::<R>(&server.url()).await;
    let mut r = req(Bytes::new());
    r.metadata_mut().append("x-id", "42").unwrap();
    r.metadata_mut().append_bin("x-blob-bin", vec![9u8, 8, 7]).unwrap();
    let resp = ch.unary("/test.Test/Meta", r).await.unwrap();
    assert_eq!(resp.metadata().get_str("x-echo-id"), Some("42"));
    assert_eq!(&resp.trailers().get("x-trailer-bin").unwrap()[..], &[0, 255]);
    assert_eq!(&resp.get_ref()[..], &[9, 8, 7]);
    let mut r = req(Bytes::new());
    r.metadata_mut().append("x-id", "fail").unwrap();
    let err = ch.unary("/test.Test/Meta", r).await.unwrap_err();
    assert_eq!(
        (err.code, err.message.as_str(), &err.details[..]),
        (Code::Aborted, "failing ☹", &[1u8, 2, 3][..])
    );
    assert_eq!(err.metadata.get_str("x-why"), Some("asked to"));
    server.stop().await;
}

/// A handler that panics fails its own call with INTERNAL; the connection
/// and its other calls go on (inline-polled and spawned handlers alike).
pub async fn panicking_handler_fails_only_its_call<R: Net + Default>(rt: R) {
    let sleeper = rt.clone();
    let server = start(
        &rt,
        test_server(rt.clone(), Default::default())
            .route("/test.Test/PanicNow", Method::unary(|_req| async move { panic!("boom now") }))
            .route(
                "/test.Test/PanicLater",
                Method::unary(move |_req| {
                    let rt = sleeper.clone();
                    async move {
                        rt.sleep_until(rt.now() + Duration::from_millis(10)).await;
                        panic!("boom later")
                    }
                }),
            ),
    )
    .await;
    let ch = channel::<R>(&server.url()).await;
    for (path, msg) in [("/test.Test/PanicNow", "boom now"), ("/test.Test/PanicLater", "boom later")] {
        let err = ch.unary(path, req(Bytes::new())).await.unwrap_err();
        assert_eq!(err.code, Code::Internal, "{err}");
        assert!(err.message.contains(msg), "{err}");
        ch.unary("/test.Test/Unary", req(&b"alive"[..])).await.unwrap();
    }
    server.stop().await;
}

/// Polls `cond` every few milliseconds for up to five seconds.
pub async fn wait_until<R: Runtime>(rt: &R, cond: impl Fn() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(5);
    while !cond() {
        assert!(Instant::now() < deadline, "condition not reached in 5 s");
        rt.sleep_until(rt.now() + Duration::from_millis(5)).await;
    }
}

/// Drains a stream of results into a vector (helper for callers).
pub async fn collect<T>(s: impl futures::Stream<Item = Result<T, Status>>) -> Result<Vec<T>, Status> {
    futures::pin_mut!(s);
    let mut out = Vec::new();
    while let Some(x) = s.next().await {
        out.push(x?);
    }
    Ok(out)
}
