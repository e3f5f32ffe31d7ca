//! Per-channel message size limits set with the endpoint's builder.

use std::time::Duration;

use bytes::Bytes;
use weir_rt::runtime::Net;
use weir_rt::{Code, Endpoint};

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
