//! Per-channel message size limits set with the endpoint's builder.

use std::time::Duration;

use bytes::Bytes;
use weir_rt::runtime::Net;
use weir_rt::{Code, Endpoint, Request};

use super::{req, start, test_server};

/// `max_recv_message_size` refuses a larger response, and
/// `max_send_message_size` a larger request, with RESOURCE_EXHAUSTED; both
/// let smaller ones through.
pub async fn endpoint_message_size_limits<R: Net + Default>(rt: R) {
    let server = start(&rt, test_server(rt.clone(), Default::default())).await;
    let ch = Endpoint::<R>::with_runtime(rt.clone(), server.url())
        .unwrap()
        .max_recv_message_size(64 << 10)
        .max_send_message_size(96 << 10)
        .connect()
        .await
        .unwrap();
    // The test service echoes: what is sent comes back.
    let ok = ch.unary("/test.Test/Unary", req(Bytes::from(vec![1u8; 60 << 10]))).await.unwrap();
    assert_eq!(ok.into_inner().len(), 60 << 10);
    let too_big_back = ch.unary("/test.Test/Unary", req(Bytes::from(vec![1u8; 80 << 10]))).await.unwrap_err();
    assert_eq!(too_big_back.code, Code::ResourceExhausted, "{too_big_back:?}");
    let too_big_out = ch.unary("/test.Test/Unary", req(Bytes::from(vec![1u8; 100 << 10]))).await.unwrap_err();
    assert_eq!(too_big_out.code, Code::ResourceExhausted, "{too_big_out:?}");
    assert!(too_big_out.message.contains("send"), "{too_big_out:?}");
    server.stop().await;
}

/// A service config in its JSON form drives the channel (gRFC A2): the
/// method's `timeout` bounds the call, `maxRequestMessageBytes` and
/// `maxResponseMessageBytes` refuse larger messages with RESOURCE_EXHAUSTED
/// for the methods they name only, and the default entry covers the rest.
pub async fn service_config_json_sets_timeouts_and_limits<R: Net + Default>(rt: R) {
    let server = start(&rt, test_server(rt.clone(), Default::default())).await;
    let config = r#"{
      "loadBalancingConfig": [{"round_robin": {}}],
      "methodConfig": [
        {"name": [{"service": "test.Test", "method": "Sleep"}], "timeout": "0.2s"},
        {"name": [{"service": "test.Test", "method": "Unary"}],
         "maxRequestMessageBytes": 1000, "maxResponseMessageBytes": 500},
        {"name": [{"service": "test.Test", "method": "ServerStream"}], "maxResponseMessageBytes": 100},
        {"name": [{}], "timeout": "30s"}
      ]
    }"#;
    let ch = Endpoint::<R>::with_runtime(rt.clone(), server.url())
        .unwrap()
        .default_service_config(config)
        .unwrap()
        .connect()
        .await
        .unwrap();
    let started = rt.now();
    let slow = ch.unary("/test.Test/Sleep", req(super::ms(5_000))).await.unwrap_err();
    assert_eq!(slow.code, Code::DeadlineExceeded, "{slow:?}");
    let took = rt.now() - started;
    assert!(took < std::time::Duration::from_secs(3), "the config's 0.2 s timeout, not the sleep: {took:?}");
    let fits = ch.unary("/test.Test/Unary", req(vec![1u8; 400])).await.unwrap();
    assert_eq!(fits.into_inner().len(), 400);
    let out = ch.unary("/test.Test/Unary", req(vec![1u8; 1200])).await.unwrap_err();
    assert_eq!(out.code, Code::ResourceExhausted, "request over maxRequestMessageBytes: {out:?}");
    let back = ch.unary("/test.Test/Unary", req(vec![1u8; 800])).await.unwrap_err();
    assert_eq!(back.code, Code::ResourceExhausted, "response over maxResponseMessageBytes: {back:?}");
    let mut stream = ch
        .server_streaming("/test.Test/ServerStream", req(super::count_size(3, 200)))
        .await
        .unwrap()
        .into_inner();
    let err = loop {
        match stream.message().await {
            Ok(Some(_)) => continue,
            Ok(None) => panic!("200-byte messages must be refused under a 100-byte limit"),
            Err(e) => break e,
        }
    };
    assert_eq!(err.code, Code::ResourceExhausted, "{err:?}");
    let big = ch.unary("/test.Test/Unary", req(vec![1u8; 500])).await.unwrap();
    assert_eq!(big.into_inner().len(), 500, "exactly at the limit");
    assert!(
        Endpoint::<R>::with_runtime(rt.clone(), server.url())
            .unwrap()
            .default_service_config(r#"{"methodConfig": [{"timeout": "soon"}]}"#)
            .is_err(),
        "an invalid config is refused"
    );
    server.stop().await;
}

/// Hands its `ResolverUpdates` to the test: the test plays the resolver.
struct Scripted {
    address: std::net::SocketAddr,
    config: &'static str,
    updates: std::sync::Arc<std::sync::Mutex<Option<weir_rt::client::ResolverUpdates>>>,
}

impl weir_rt::client::Resolver for Scripted {
    fn run(&self, updates: weir_rt::client::ResolverUpdates) -> weir_rt::runtime::BoxFuture<'static, ()> {
        updates.service_config(self.config).expect("a valid first config");
        updates.update(vec![weir_rt::client::Address::Tcp(self.address)]);
        *self.updates.lock().unwrap() = Some(updates);
        Box::pin(async {})
    }
}

/// A service config delivered by the resolver replaces the application's
/// (gRFC A2): its method timeout cuts a call the application's default
/// config let run; an invalid one is refused naming its field and the
/// channel keeps the config it had; a later valid one applies.
pub async fn resolver_service_config_applies_and_an_invalid_one_keeps_the_last<R: Net + Default>(rt: R) {
    let server = start(&rt, test_server(rt.clone(), Default::default())).await;
    let address = server.addr.expect("a TCP server");
    let updates = std::sync::Arc::new(std::sync::Mutex::new(None));
    let resolver = Scripted {
        address,
        config: r#"{"methodConfig": [{"name": [{"service": "test.Test", "method": "Sleep"}], "timeout": "0.2s"}]}"#,
        updates: updates.clone(),
    };
    let ch = Endpoint::<R>::with_runtime(rt.clone(), server.url())
        .unwrap()
        .resolver(resolver)
        .default_service_config(r#"{"methodConfig": [{"name": [{}], "timeout": "30s"}]}"#)
        .unwrap()
        .connect_lazy()
        .unwrap();
    let cut_after = |rt: R, ch: weir_rt::Channel, sleep_ms: u32| async move {
        let started = rt.now();
        let outcome = ch.unary("/test.Test/Sleep", req(super::ms(sleep_ms))).await;
        (outcome.map(|_| ()).map_err(|s| s.code), rt.now() - started)
    };
    let (outcome, took) = cut_after(rt.clone(), ch.clone(), 5_000).await;
    assert_eq!(outcome, Err(Code::DeadlineExceeded), "the resolver's 0.2 s timeout");
    assert!(took < Duration::from_secs(3), "{took:?}");

    let resolver_side = updates.lock().unwrap().clone().expect("the resolver ran");
    let refused = resolver_side
        .service_config(r#"{"methodConfig": [{"name": [{}], "timeout": "soon"}]}"#)
        .expect_err("an invalid config is refused");
    assert!(refused.to_string().contains("timeout"), "names the field: {refused}");
    let (outcome, took) = cut_after(rt.clone(), ch.clone(), 5_000).await;
    assert_eq!(outcome, Err(Code::DeadlineExceeded), "the last valid config still applies");
    assert!(took < Duration::from_secs(3), "{took:?}");

    let applied = resolver_side
        .service_config(r#"{"methodConfig": [{"name": [{"service": "test.Test"}], "timeout": "2s"}]}"#)
        .expect("a valid config");
    assert!(applied, "the channel is alive");
    let (outcome, took) = cut_after(rt.clone(), ch.clone(), 400).await;
    assert_eq!(outcome, Ok(()), "the new config's 2 s timeout lets a 0.4 s call finish");
    assert!(took >= Duration::from_millis(350), "{took:?}");
    server.stop().await;
}

/// Bidi echo calls whose handlers wait to send, to a client that reads
/// slowly but steadily (small windows, as gRPC-Go's and tonic's clients
/// start with): the calls finish and the client's new calls are served.
/// The requests the server pulls ahead of its handlers stay under a quarter
/// of the connection's budget (`ConnBudget::pull_ahead_room`, divided among
/// the calls by `call::queue_limit`), so handlers blocked on their
/// responses find room for them. With 256 KiB pulled ahead per call
/// whatever their number, 16 calls filled a 2 MiB budget with requests
/// their handlers could not take before sending, and the connection hung
/// (the same at the default 32 MiB with 64 calls); without the quarter, so
/// did 64 calls at 32 KiB each.
pub async fn busy_echo_handlers_neither_hang_nor_get_new_calls_refused<R: Net + Default>(rt: R) {
    let server =
        start(&rt, test_server(rt.clone(), Default::default()).connection_memory_budget(2 << 20)).await;
    let mut endpoint = Endpoint::<R>::with_runtime(rt.clone(), server.url()).unwrap();
    let h2 = &mut endpoint.config_mut().h2;
    (h2.initial_stream_window, h2.initial_connection_window, h2.bdp_window_growth) =
        (16 << 10, 64 << 10, false);
    let ch = endpoint.connect().await.unwrap();
    for (calls, messages) in [(16, 1024), (64, 512)] {
        let run = Box::pin(slow_echoes_beside_new_calls(&rt, &ch, calls, messages));
        let hung = Box::pin(rt.sleep_until(rt.now() + Duration::from_secs(20)));
        if let futures::future::Either::Right(_) = futures::future::select(run, hung).await {
            panic!("{calls} echo calls of {messages} messages hung");
        }
    }
    server.stop().await;
}

/// One echo call (`/test.Test/Bidi`) of `messages` messages of `size` bytes,
/// read 8 messages per 5 ms; returns how many came back.
pub async fn slow_echo<R: Net>(
    rt: &R,
    ch: &weir_rt::Channel,
    messages: usize,
    size: usize,
) -> Result<usize, weir_rt::Status> {
    let msg = Bytes::from(vec![5u8; size]);
    let requests = futures::stream::iter((0..messages).map(move |_| msg.clone()));
    let mut replies = ch.streaming("/test.Test/Bidi", Request::new(requests)).await?.into_inner();
    let mut n = 0;
    while let Some(m) = replies.message().await? {
        assert_eq!(m.len(), size);
        n += 1;
        if n % 8 == 0 {
            rt.sleep_until(rt.now() + Duration::from_millis(5)).await;
        }
    }
    Ok(n)
}

/// `calls` echo calls of `messages` 4 KiB messages each, read 8 messages per
/// 5 ms, while a unary call goes every 20 ms; all must succeed.
async fn slow_echoes_beside_new_calls<R: Net>(rt: &R, ch: &weir_rt::Channel, calls: usize, messages: usize) {
    const SIZE: usize = 4 << 10;
    let echoes = (0..calls).map(|_| {
        let (ch, rt) = (ch.clone(), rt.clone());
        async move { slow_echo(&rt, &ch, messages, SIZE).await }
    });
    let done = std::sync::atomic::AtomicBool::new(false);
    let probes = async {
        let mut outcomes = Vec::new();
        while !done.load(std::sync::atomic::Ordering::SeqCst) {
            rt.sleep_until(rt.now() + Duration::from_millis(20)).await;
            outcomes.push(ch.unary("/test.Test/Unary", req(vec![1u8; 10])).await.map(|_| ()));
        }
        outcomes
    };
    let echoed = async {
        let all = futures::future::join_all(echoes).await;
        done.store(true, std::sync::atomic::Ordering::SeqCst);
        all
    };
    let (echoed, probed) = futures::future::join(echoed, probes).await;
    for e in echoed {
        assert_eq!(e.expect("an echo call"), messages, "{calls} calls");
    }
    let refused: Vec<_> = probed.iter().filter_map(|p| p.as_ref().err()).collect();
    assert!(probed.len() >= 10, "{calls} calls: calls made while the echoes ran: {}", probed.len());
    assert!(
        refused.is_empty(),
        "{calls} calls: {} of {} new calls refused: {:?}",
        refused.len(),
        probed.len(),
        refused.first()
    );
}

/// Three 4 MiB uploads whose handlers do not read yet (busy elsewhere) do
/// not hold up the connection's other calls: each holds its own stream
/// window, and the connection's credit returns as their octets arrive, up
/// to `conn::Config::early_connection_credit` (4 MiB) or the connection
/// window if larger. Before, connection credit waited for the handlers too,
/// and one such upload, its stream window grown by BDP estimation to the
/// connection's, stopped every call on it (without the early credit, three
/// still do).
pub async fn stalled_uploads_do_not_hold_up_other_calls<R: Net + Default>(rt: R) {
    use std::sync::{Arc, Mutex};
    const UPLOADS: usize = 3;
    let gates: Arc<Mutex<Vec<futures::channel::oneshot::Sender<()>>>> = Arc::default();
    let handler_gates = gates.clone();
    let server = weir_rt::Server::new(rt.clone())
        .route(
            "/t.T/Unary",
            weir_rt::Method::unary(|req| async move { Ok(weir_rt::Response::new(req.into_inner())) }),
        )
        .route(
            "/t.T/Later",
            weir_rt::Method::client_streaming(move |req| {
                let (open, gate) = futures::channel::oneshot::channel();
                handler_gates.lock().unwrap().push(open);
                async move {
                    let _ = gate.await;
                    let mut s = req.into_inner();
                    let mut total = 0u64;
                    while let Some(m) = s.message().await? {
                        total += m.len() as u64;
                    }
                    Ok(weir_rt::Response::new(Bytes::copy_from_slice(&total.to_be_bytes())))
                }
            }),
        );
    let server = start(&rt, server).await;
    let ch = Endpoint::<R>::with_runtime(rt.clone(), server.url()).unwrap().connect().await.unwrap();
    let uploads: Vec<_> = (0..UPLOADS)
        .map(|_| {
            let ch = ch.clone();
            let chunk = Bytes::from(vec![1u8; 16 << 10]);
            let up = futures::stream::iter((0..256).map(move |_| chunk.clone()));
            async move { ch.client_streaming("/t.T/Later", Request::new(up)).await }
        })
        .collect();
    let uploads = futures::future::join_all(uploads);
    let probe = async {
        // Until both handlers started, then while their uploads fill windows.
        while gates.lock().unwrap().len() < UPLOADS {
            rt.sleep_until(rt.now() + Duration::from_millis(10)).await;
        }
        rt.sleep_until(rt.now() + Duration::from_millis(300)).await;
        let unary = Box::pin(ch.unary("/t.T/Unary", req(vec![2u8; 100])));
        let late = Box::pin(rt.sleep_until(rt.now() + Duration::from_secs(5)));
        let answered = match futures::future::select(unary, late).await {
            futures::future::Either::Left((r, _)) => Some(r.map(|r| r.into_inner().len())),
            futures::future::Either::Right(_) => None,
        };
        for gate in gates.lock().unwrap().drain(..) {
            let _ = gate.send(());
        }
        answered
    };
    let (uploaded, answered) = futures::future::join(uploads, probe).await;
    assert_eq!(answered.expect("the unary call waited behind uploads nobody read").unwrap(), 100);
    for r in uploaded {
        let total = u64::from_be_bytes(r.expect("an upload").into_inner()[..].try_into().unwrap());
        assert_eq!(total, 256 * (16 << 10));
    }
    server.stop().await;
}
