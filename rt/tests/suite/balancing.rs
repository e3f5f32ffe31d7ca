//! Name resolution and load balancing over three loopback servers: each
//! answers `/lb.Test/Who` with its own number, so the caller sees where
//! every call went.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures::StreamExt;
use futures::channel::mpsc;
use weir_rt::client::{Address, Resolver, ResolverUpdates, RoundRobin};
use weir_rt::runtime::{BoxFuture, Net};
use weir_rt::{Backoff, Channel, Code, Endpoint, Method, Request, Response, Server};

use super::{Running, start};

pub(super) const WHO: &str = "/lb.Test/Who";

/// A server that answers `Who` with `id`.
pub(super) async fn numbered<R: Net>(rt: &R, id: u8) -> Running {
    let server = Server::new(rt.clone())
        .route(WHO, Method::unary(move |_req| async move { Ok(Response::new(Bytes::from(vec![id]))) }));
    start(rt, server).await
}

pub(super) async fn three<R: Net>(rt: &R) -> [Running; 3] {
    [numbered(rt, 0).await, numbered(rt, 1).await, numbered(rt, 2).await]
}

pub(super) fn addr(r: &Running) -> Address {
    Address::Tcp(r.addr.expect("tcp server"))
}

pub(super) fn list(servers: &[&Running]) -> String {
    let addrs: Vec<String> = servers.iter().map(|s| s.addr.unwrap().to_string()).collect();
    format!("ipv4:{}", addrs.join(","))
}

pub(super) fn quick_backoff() -> Backoff {
    Backoff { initial: Duration::from_millis(20), max: Duration::from_millis(100), ..Backoff::default() }
}

/// Which server answered.
pub(super) async fn who(ch: &Channel) -> Result<u8, weir_rt::Status> {
    let r = ch.unary(WHO, Request::new(Bytes::new())).await?;
    Ok(r.into_inner()[0])
}

/// Calls `n` times; counts the answers per server.
pub(super) async fn tally(ch: &Channel, n: usize) -> [usize; 3] {
    let mut counts = [0; 3];
    for _ in 0..n {
        counts[usize::from(who(ch).await.expect("call"))] += 1;
    }
    counts
}

/// Calls until every server in `ids` answered (round_robin connects to all
/// of them in the background), for up to five seconds.
pub(super) async fn until_all_answer(ch: &Channel, ids: &[u8]) {
    let deadline = Instant::now() + Duration::from_secs(5);
    let mut seen = Vec::new();
    while !ids.iter().all(|i| seen.contains(i)) {
        assert!(Instant::now() < deadline, "servers {ids:?} did not all answer; saw {seen:?}");
        seen.push(who(ch).await.expect("call"));
    }
}

pub async fn round_robin_spreads_calls_evenly<R: Net + Default>(rt: R) {
    let servers = three(&rt).await;
    let target = list(&[&servers[0], &servers[1], &servers[2]]);
    let ch = Endpoint::<R>::new(target).unwrap().balancer(RoundRobin::default()).connect().await.unwrap();
    until_all_answer(&ch, &[0, 1, 2]).await;
    let counts = tally(&ch, 300).await;
    println!("round_robin distribution over 300 calls: {counts:?}");
    for c in counts {
        assert!((90..=110).contains(&c), "uneven: {counts:?}");
    }
    // Concurrent calls spread too.
    let calls = (0..300).map(|_| who(&ch));
    let mut counts = [0usize; 3];
    for r in futures::future::join_all(calls).await {
        counts[usize::from(r.unwrap())] += 1;
    }
    println!("round_robin distribution over 300 concurrent calls: {counts:?}");
    for c in counts {
        assert!((90..=110).contains(&c), "uneven: {counts:?}");
    }
    for s in servers {
        s.stop().await;
    }
}

pub async fn pick_first_fails_over_when_a_server_stops<R: Net + Default>(rt: R) {
    let [a, b, c] = three(&rt).await;
    let ch =
        Endpoint::<R>::new(list(&[&a, &b, &c])).unwrap().backoff(quick_backoff()).connect().await.unwrap();
    assert_eq!(tally(&ch, 20).await, [20, 0, 0], "pick_first sticks to the first address");
    a.stop().await;
    assert_eq!(tally(&ch, 20).await, [0, 20, 0], "every call after the stop goes to the next address");
    b.stop().await;
    assert_eq!(tally(&ch, 20).await, [0, 0, 20], "and to the third when the second stops");
    c.stop().await;
    let err = who(&ch).await.unwrap_err();
    assert_eq!(err.code, Code::Unavailable, "{err}");
}

/// A resolver fed by the test: every list sent on the channel is pushed.
pub(super) struct Pushed(pub(super) Mutex<Option<mpsc::UnboundedReceiver<Vec<Address>>>>);

impl Resolver for Pushed {
    fn run(&self, updates: ResolverUpdates) -> BoxFuture<'static, ()> {
        let rx = self.0.lock().unwrap().take();
        Box::pin(async move {
            let Some(mut rx) = rx else { return };
            while let Some(list) = rx.next().await {
                if !updates.update(list) {
                    return;
                }
            }
        })
    }
}

pub async fn resolver_updates_are_applied<R: Net + Default>(rt: R) {
    let servers = three(&rt).await;
    let (tx, rx) = mpsc::unbounded();
    tx.unbounded_send(vec![addr(&servers[0])]).unwrap();
    let ch = Endpoint::<R>::new("http://lb.test")
        .unwrap()
        .resolver(Pushed(Mutex::new(Some(rx))))
        .balancer(RoundRobin::default())
        .connect()
        .await
        .unwrap();
    assert_eq!(tally(&ch, 10).await, [10, 0, 0]);
    // The new list replaces the old: server 0 gets no more calls.
    tx.unbounded_send(vec![addr(&servers[1]), addr(&servers[2])]).unwrap();
    let deadline = Instant::now() + Duration::from_secs(5);
    while who(&ch).await.unwrap() == 0 {
        assert!(Instant::now() < deadline, "update not applied");
    }
    until_all_answer(&ch, &[1, 2]).await;
    let counts = tally(&ch, 100).await;
    println!("after the update, 100 calls: {counts:?}");
    assert_eq!(counts[0], 0, "{counts:?}");
    assert!((45..=55).contains(&counts[1]) && (45..=55).contains(&counts[2]), "{counts:?}");
    // An empty list: calls fail at once.
    tx.unbounded_send(Vec::new()).unwrap();
    let deadline = Instant::now() + Duration::from_secs(5);
    let err = loop {
        match who(&ch).await {
            Err(e) => break e,
            Ok(_) => assert!(Instant::now() < deadline, "empty list not applied"),
        }
    };
    assert_eq!(err.code, Code::Unavailable, "{err}");
    for s in servers {
        s.stop().await;
    }
}

/// An address the resolver drops has its connection closed (gracefully,
/// once its calls ended), not left open: the dropped server sees it close.
pub async fn dropped_address_connection_is_closed<R: Net + Default>(rt: R) {
    let stats = Arc::new(weir_rt::CallCounters::new());
    let dropped = Server::new(rt.clone())
        .stats_handler(stats.clone())
        .route(WHO, Method::unary(|_req| async move { Ok(Response::new(Bytes::from(vec![0u8]))) }));
    let dropped = start(&rt, dropped).await;
    let kept = numbered(&rt, 1).await;
    let (tx, rx) = mpsc::unbounded();
    tx.unbounded_send(vec![addr(&dropped)]).unwrap();
    let ch = Endpoint::<R>::new("http://lb.test")
        .unwrap()
        .resolver(Pushed(Mutex::new(Some(rx))))
        .connect()
        .await
        .unwrap();
    assert_eq!(who(&ch).await.unwrap(), 0);
    assert_eq!((stats.connections_opened(), stats.connections_closed()), (1, 0));
    tx.unbounded_send(vec![addr(&kept)]).unwrap();
    let deadline = Instant::now() + Duration::from_secs(5);
    while who(&ch).await.unwrap() == 0 {
        assert!(Instant::now() < deadline, "update not applied");
    }
    while stats.connections_closed() == 0 {
        assert!(Instant::now() < deadline, "the dropped address's connection stayed open");
        rt.sleep_until(Instant::now() + Duration::from_millis(5)).await;
    }
    assert_eq!(who(&ch).await.unwrap(), 1, "calls go on through the kept address");
    dropped.stop().await;
    kept.stop().await;
}

pub async fn dns_target_resolves_through_the_runtime<R: Net + Default>(rt: R) {
    let server = numbered(&rt, 7).await;
    let port = server.addr.unwrap().port();
    // localhost may resolve to ::1 first, where nothing listens: the
    // channel fails over to 127.0.0.1.
    let ch = Endpoint::<R>::new(format!("dns:///localhost:{port}")).unwrap().connect().await.unwrap();
    assert_eq!(who(&ch).await.unwrap(), 7);
    let err = Endpoint::<R>::new("dns:///no-such-host.invalid:1").unwrap().connect().await.unwrap_err();
    assert_eq!(err.code, Code::Unavailable, "{err}");
    server.stop().await;
}

/// A resolver that gives `first`, then `then` whenever the channel asks
/// for a new resolution, counting the requests.
struct Moving {
    first: Address,
    then: Address,
    requests: Arc<AtomicUsize>,
}

impl Resolver for Moving {
    fn run(&self, updates: ResolverUpdates) -> BoxFuture<'static, ()> {
        let (first, then, requests) = (self.first.clone(), self.then.clone(), self.requests.clone());
        Box::pin(async move {
            updates.update(vec![first]);
            while updates.resolve_requested().await {
                requests.fetch_add(1, Ordering::SeqCst);
                if !updates.update(vec![then.clone()]) {
                    return;
                }
            }
        })
    }
}

pub async fn connection_failure_asks_for_re_resolution<R: Net + Default>(rt: R) {
    let [a, b, c] = three(&rt).await;
    let requests = Arc::new(AtomicUsize::new(0));
    let resolver = Moving { first: addr(&a), then: addr(&b), requests: requests.clone() };
    let ch = Endpoint::<R>::new("http://moving.test")
        .unwrap()
        .resolver(resolver)
        .backoff(quick_backoff())
        .connect()
        .await
        .unwrap();
    assert_eq!(tally(&ch, 5).await, [5, 0, 0]);
    assert_eq!(requests.load(Ordering::SeqCst), 0, "no failure, no re-resolution");
    a.stop().await;
    // The lost connection asks the resolver again; its new list moves the
    // calls to server 1.
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        match who(&ch).await {
            Ok(1) => break,
            Ok(other) => panic!("answered by {other}"),
            Err(e) => {
                assert_eq!(e.code, Code::Unavailable, "{e}");
                assert!(Instant::now() < deadline, "never moved: {e}");
            }
        }
    }
    assert!(requests.load(Ordering::SeqCst) >= 1);
    assert_eq!(tally(&ch, 5).await, [0, 5, 0]);
    b.stop().await;
    c.stop().await;
}

/// Streams `id` once, then stays open until the client drops the call.
const HOLD: &str = "/lb.Test/Hold";

async fn holding<R: Net>(rt: &R, id: u8) -> Running {
    let server = Server::new(rt.clone())
        .route(WHO, Method::unary(move |_req| async move { Ok(Response::new(Bytes::from(vec![id]))) }))
        .route(
            HOLD,
            Method::server_streaming(move |_req| async move {
                let first = futures::stream::iter([Ok(Bytes::from(vec![id]).into())]);
                let s: weir_rt::server::ResponseStream = Box::pin(first.chain(futures::stream::pending()));
                Ok(Response::new(s))
            }),
        );
    start(rt, server).await
}

/// Opens a held call and says which backend took it.
async fn hold(ch: &Channel) -> (u8, weir_rt::Streaming<Bytes>) {
    let mut s = ch.server_streaming(HOLD, Request::new(Bytes::new())).await.unwrap().into_inner();
    let first = s.message().await.unwrap().expect("the backend's number");
    (first[0], s)
}

/// gRFC A48 `least_request`, chosen by the service config: with four calls
/// held on backend 0 (the only address at first), every new call goes to
/// backend 1 until the two carry the same load, where round_robin would
/// alternate; the calls held spread evenly, and ending the calls on
/// backend 1 sends the next ones there again.
pub async fn least_request_sends_calls_to_the_least_loaded_backend<R: Net + Default>(rt: R) {
    let servers = [holding(&rt, 0).await, holding(&rt, 1).await];
    let (tx, rx) = mpsc::unbounded();
    tx.unbounded_send(vec![addr(&servers[0])]).unwrap();
    let ch = Endpoint::<R>::new("http://lb.test")
        .unwrap()
        .resolver(Pushed(Mutex::new(Some(rx))))
        .default_service_config(
            r#"{"loadBalancingConfig": [{"least_request_experimental": {"choiceCount": 2}}]}"#,
        )
        .unwrap()
        .connect()
        .await
        .unwrap();
    let mut held = Vec::new();
    for _ in 0..4 {
        held.push(hold(&ch).await);
    }
    assert!(held.iter().all(|(who, _)| *who == 0));
    tx.unbounded_send(vec![addr(&servers[0]), addr(&servers[1])]).unwrap();
    let deadline = Instant::now() + Duration::from_secs(5);
    while who(&ch).await.unwrap() != 1 {
        assert!(Instant::now() < deadline, "backend 1 never became ready");
    }
    let mut added = Vec::new();
    for _ in 0..4 {
        added.push(hold(&ch).await);
    }
    let went: Vec<u8> = added.iter().map(|(who, _)| *who).collect();
    assert_eq!(went, [1, 1, 1, 1], "the least loaded backend takes the new calls");
    let mut more = Vec::new();
    for _ in 0..6 {
        more.push(hold(&ch).await);
    }
    let ones = more.iter().filter(|(who, _)| *who == 1).count();
    assert_eq!(
        ones,
        3,
        "at equal load the calls spread evenly: {:?}",
        more.iter().map(|m| m.0).collect::<Vec<_>>()
    );
    drop(added);
    let mut after = Vec::new();
    for _ in 0..4 {
        after.push(hold(&ch).await.0);
    }
    assert_eq!(after, [1, 1, 1, 1], "backend 1's calls ended: it is the least loaded again");
    drop((held, more));
    for s in servers {
        s.stop().await;
    }
}
