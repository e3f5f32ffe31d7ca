//! The health service over loopback (Check, Watch, run-time status changes)
//! on tokio and smol, and the health-aware channel (`Endpoint::health_check`)
//! steering round-robin traffic away from a NOT_SERVING backend.

mod runners;
use runners::{on_smol, on_tokio};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures::StreamExt;
use weir_rt::client::RoundRobin;
use weir_rt::runtime::Net;
use weir_rt::{Channel, Code, Endpoint, Method, Request, Response, Server};
use weir_services::health::{HealthClient, HealthReporter, ServingStatus};
use weir_services::pb::health_v1::HealthCheckRequest;
use weir_services::pb::health_v1::health_client::HealthClient as RawClient;

const WHO: &str = "/test.Who/Am";

/// A server answering [`WHO`] with `id`, with a health service.
async fn backend<R: Net>(rt: R, id: u8) -> (SocketAddr, HealthReporter) {
    let (reporter, health) = HealthReporter::new();
    let server = Server::new(rt.clone())
        .add_service(health)
        .route(WHO, Method::unary(move |_req| async move { Ok(Response::new(Bytes::from(vec![id]))) }));
    let bound = server.bind("127.0.0.1:0".parse().unwrap()).await.unwrap();
    let addr = bound.local_addr().unwrap();
    rt.spawn(async move {
        let _ = bound.serve().await;
    });
    (addr, reporter)
}

async fn channel<R: Net + Default>(addr: SocketAddr) -> Channel {
    Endpoint::<R>::new(format!("http://{addr}")).unwrap().connect().await.unwrap()
}

/// Check and Watch semantics of the health-checking protocol.
async fn check_and_watch<R: Net + Default>(rt: R) {
    let (addr, reporter) = backend(rt, 0).await;
    let ch = channel::<R>(addr).await;
    let client = HealthClient::new(ch.clone());
    assert_eq!(client.check("").await.unwrap(), ServingStatus::Serving, "the server starts SERVING");
    let err = client.check("no.Such").await.unwrap_err();
    assert_eq!(err.code, Code::NotFound, "{err}");

    let raw = RawClient::new(ch);
    let mut watch = raw
        .watch(HealthCheckRequest { service: "test.Who".into() })
        .await
        .unwrap()
        .into_inner()
        .map(|r| ServingStatusOf(r.map(|r| r.status)));
    assert_eq!(watch.next().await.unwrap().0, Ok(3), "SERVICE_UNKNOWN before it is set");
    reporter.set("test.Who", ServingStatus::Serving);
    assert_eq!(watch.next().await.unwrap().0, Ok(1), "SERVING");
    reporter.set("other.Service", ServingStatus::NotServing);
    reporter.set("test.Who", ServingStatus::NotServing);
    assert_eq!(watch.next().await.unwrap().0, Ok(2), "NOT_SERVING, nothing for other services");
    assert_eq!(client.check("test.Who").await.unwrap(), ServingStatus::NotServing);
    reporter.shutdown();
    assert_eq!(client.check("").await.unwrap(), ServingStatus::NotServing, "shutdown: all NOT_SERVING");
}

/// A Watch item's status code (wrapped so assertions print it).
#[derive(Debug)]
struct ServingStatusOf(Result<i32, weir_rt::Status>);

/// Which backend answers, over `n` calls.
async fn tally(ch: &Channel, n: usize) -> [usize; 2] {
    let mut counts = [0; 2];
    for _ in 0..n {
        let r = ch.unary(WHO, Request::new(Bytes::new())).await.unwrap();
        counts[r.into_inner()[0] as usize] += 1;
    }
    counts
}

/// Calls until only `want` answers (bounded), then counts. While the two
/// watches report their changes, both backends may be out for a moment:
/// calls then fail fast with UNAVAILABLE (gRPC's rule when no address is
/// ready), which only delays settling.
async fn settle_on(ch: &Channel, want: usize) -> [usize; 2] {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let mut counts = [0; 2];
        for _ in 0..10 {
            match ch.unary(WHO, Request::new(Bytes::new())).await {
                Ok(r) => counts[r.into_inner()[0] as usize] += 1,
                Err(e) => assert_eq!(e.code, Code::Unavailable, "{e}"),
            }
        }
        if counts[1 - want] == 0 && counts[want] == 10 {
            return tally(ch, 20).await;
        }
        assert!(Instant::now() < deadline, "traffic never left the unhealthy backend: {counts:?}");
    }
}

/// The health-aware channel: round robin over two backends, and traffic
/// follows their health as it changes at run time.
async fn health_aware_channel<R: Net + Default>(rt: R) {
    let (a, health_a) = backend(rt.clone(), 0).await;
    let (b, health_b) = backend(rt, 1).await;
    let ch = Endpoint::<R>::new(format!("ipv4:{a},{b}"))
        .unwrap()
        .balancer(RoundRobin::default())
        .health_check("")
        .connect()
        .await
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(5);
    while tally(&ch, 20).await.contains(&0) {
        assert!(Instant::now() < deadline, "both backends never served");
    }
    health_a.set("", ServingStatus::NotServing);
    assert_eq!(settle_on(&ch, 1).await, [0, 20]);
    health_a.set("", ServingStatus::Serving);
    health_b.set("", ServingStatus::NotServing);
    assert_eq!(settle_on(&ch, 0).await, [20, 0]);
    // Nobody serving: calls fail rather than go to a NOT_SERVING backend.
    health_a.set("", ServingStatus::NotServing);
    let deadline = Instant::now() + Duration::from_secs(5);
    let err = loop {
        match ch.unary(WHO, Request::new(Bytes::new())).await {
            Err(e) => break e,
            Ok(_) => assert!(Instant::now() < deadline, "calls still reach NOT_SERVING backends"),
        }
    };
    assert_eq!(err.code, Code::Unavailable, "{err}");
}

/// A backend without the health service counts as healthy (gRPC's rule for
/// UNIMPLEMENTED).
async fn server_without_health_is_healthy<R: Net + Default>(rt: R) {
    let server = Server::new(rt.clone())
        .route(WHO, Method::unary(|_req| async move { Ok(Response::new(Bytes::from_static(&[7]))) }));
    let bound = server.bind("127.0.0.1:0".parse().unwrap()).await.unwrap();
    let addr = bound.local_addr().unwrap();
    rt.spawn(async move {
        let _ = bound.serve().await;
    });
    let ch = Endpoint::<R>::new(format!("http://{addr}")).unwrap().health_check("").connect().await.unwrap();
    let r = ch.unary(WHO, Request::new(Bytes::new())).await.unwrap();
    assert_eq!(&r.into_inner()[..], &[7]);
}

#[test]
fn check_and_watch_on_tokio() {
    on_tokio(check_and_watch);
}

#[test]
fn check_and_watch_on_smol() {
    on_smol(check_and_watch);
}

#[test]
fn health_aware_channel_on_tokio() {
    on_tokio(health_aware_channel);
}

#[test]
fn health_aware_channel_on_smol() {
    on_smol(health_aware_channel);
}

#[test]
fn server_without_health_is_healthy_on_tokio() {
    on_tokio(server_without_health_is_healthy);
}
