//! The picker model: calls pick from a snapshot without the channel's lock,
//! and the policies that need it: `weighted_round_robin` over resolver
//! weights, `ring_hash` keyed by a header (gRFC A42/A76), and outlier
//! detection (gRFC A50). Three loopback servers answer with their number.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures::channel::mpsc;
use weir_rt::client::{Address, Resolver, ResolverUpdates, RoundRobin};
use weir_rt::runtime::{BoxFuture, Net};
use weir_rt::{Channel, Code, Endpoint, Method, Request, Response, Server, Status};

use super::balancing::{Pushed, WHO, addr, three, until_all_answer, who};
use super::{Running, start};

/// Eight OS threads call at once through one round_robin channel with a
/// ready picker: no pick takes the channel's state lock (its counter does
/// not move), and the shared rotation still splits the 1,600 calls exactly.
pub async fn eight_threads_pick_without_the_channel_lock<R: Net + Default>(rt: R) {
    let servers = three(&rt).await;
    let target = super::balancing::list(&[&servers[0], &servers[1], &servers[2]]);
    let ch = Endpoint::<R>::new(target).unwrap().balancer(RoundRobin::default()).connect().await.unwrap();
    until_all_answer(&ch, &[0, 1, 2]).await;
    let locked_before = ch.locked_picks();
    // Plain OS threads, awaited without blocking this task (the runtime
    // must keep serving the connections).
    let done: Vec<_> = (0..8)
        .map(|_| {
            let ch = ch.clone();
            let (tx, rx) = futures::channel::oneshot::channel();
            std::thread::spawn(move || {
                let counts = futures::executor::block_on(async {
                    let mut counts = [0usize; 3];
                    for _ in 0..200 {
                        counts[usize::from(who(&ch).await.expect("call"))] += 1;
                    }
                    counts
                });
                let _ = tx.send(counts);
            });
            rx
        })
        .collect();
    let counts: Vec<[usize; 3]> = futures::future::join_all(done)
        .await
        .into_iter()
        .map(|r| r.expect("a calling thread failed"))
        .collect();
    let total: Vec<usize> = (0..3).map(|i| counts.iter().map(|c| c[i]).sum()).collect();
    println!("8 threads × 200 calls: {total:?}; picks under the lock: {}", ch.locked_picks() - locked_before);
    assert_eq!(ch.locked_picks(), locked_before, "a pick took the channel's lock");
    assert_eq!(total.iter().sum::<usize>(), 1600);
    assert!(total.iter().all(|&n| (533..=534).contains(&n)), "one rotation for all threads: {total:?}");
    for s in servers {
        s.stop().await;
    }
}

/// A resolver that announces weighted addresses once.
struct Weighted(Vec<(Address, u32)>);

impl Resolver for Weighted {
    fn run(&self, updates: ResolverUpdates) -> BoxFuture<'static, ()> {
        let list = self.0.clone();
        Box::pin(async move {
            updates.update_weighted(list);
        })
    }
}

/// `weighted_round_robin` from the service config: weights 1, 2 and 3
/// from the resolver give each backend exactly its share of 600 calls.
pub async fn weighted_round_robin_follows_resolver_weights<R: Net + Default>(rt: R) {
    let servers = three(&rt).await;
    let weighted = (0..3).map(|i| (addr(&servers[i]), i as u32 + 1)).collect();
    let ch = Endpoint::<R>::new("http://lb.test")
        .unwrap()
        .resolver(Weighted(weighted))
        .default_service_config(r#"{"loadBalancingConfig": [{"weighted_round_robin": {}}]}"#)
        .unwrap()
        .connect()
        .await
        .unwrap();
    until_all_answer(&ch, &[0, 1, 2]).await;
    let counts = super::balancing::tally(&ch, 600).await;
    println!("weighted_round_robin 1:2:3 over 600 calls: {counts:?}");
    assert_eq!(counts, [100, 200, 300]);
    for s in servers {
        s.stop().await;
    }
}

/// Which server answered a call keyed by `user`.
async fn who_for(ch: &Channel, user: &str) -> Result<u8, Status> {
    let mut req = Request::new(Bytes::new());
    req.metadata_mut().append("x-user", user).unwrap();
    // A stuck call fails the scenario with a message, not its time limit.
    req.set_timeout(Duration::from_secs(10));
    Ok(ch.unary(WHO, req).await?.into_inner()[0])
}

/// `ring_hash_experimental` keyed by the `x-user` header (gRFC A76): every
/// key lands on one backend every time, the keys spread over all three,
/// and when the resolver drops a backend its keys go to the others while
/// most keys of the others stay where they were (gRFC A42 grows the kept
/// backends' share of the ring, which moves a few of theirs).
pub async fn ring_hash_keeps_each_key_on_its_backend<R: Net + Default>(rt: R) {
    let servers = three(&rt).await;
    let (tx, rx) = mpsc::unbounded();
    tx.unbounded_send(servers.iter().map(addr).collect()).unwrap();
    let ch = Endpoint::<R>::new("http://lb.test")
        .unwrap()
        .resolver(Pushed(Mutex::new(Some(rx))))
        .default_service_config(
            r#"{"loadBalancingConfig": [{"ring_hash_experimental": {"requestHashHeader": "x-user"}}]}"#,
        )
        .unwrap()
        .connect()
        .await
        .unwrap();
    let users: Vec<String> = (0..90).map(|k| format!("user-{k}")).collect();
    let mut home = HashMap::new();
    for user in &users {
        home.insert(user.clone(), who_for(&ch, user).await.expect("call"));
    }
    for _ in 0..2 {
        for user in &users {
            assert_eq!(who_for(&ch, user).await.unwrap(), home[user], "{user} changed backend");
        }
    }
    let per: Vec<usize> = (0..3).map(|i| home.values().filter(|&&b| b == i).count()).collect();
    println!("ring_hash: 90 keys per backend {per:?}");
    assert!(per.iter().all(|&n| n >= 10), "keys spread over all three: {per:?}");
    // Backend 1 leaves the list.
    tx.unbounded_send(vec![addr(&servers[0]), addr(&servers[2])]).unwrap();
    let deadline = Instant::now() + Duration::from_secs(5);
    let moved_user = users.iter().find(|u| home[*u] == 1).unwrap();
    while who_for(&ch, moved_user).await.unwrap() == 1 {
        assert!(Instant::now() < deadline, "the new list was not applied");
    }
    let (mut kept, mut others) = (0, 0);
    for user in &users {
        let now = who_for(&ch, user).await.unwrap();
        assert_ne!(now, 1, "{user} still goes to the removed backend");
        if home[user] != 1 {
            others += 1;
            kept += usize::from(now == home[user]);
        }
    }
    println!("ring_hash: after removing backend 1, {kept} of {others} keys of the others stayed");
    assert!(kept * 3 >= others * 2, "{kept} of {others} stayed");
    for s in servers {
        s.stop().await;
    }
}

/// Backend `id`, failing every call with UNAVAILABLE when `failing`.
async fn flaky<R: Net>(rt: &R, id: u8, failing: bool) -> Running {
    let server = Server::new(rt.clone()).route(
        WHO,
        Method::unary(move |_req| async move {
            match failing {
                true => Err(Status::new(Code::Unavailable, format!("backend {id} is broken"))),
                false => Ok(Response::new(Bytes::from(vec![id]))),
            }
        }),
    );
    start(rt, server).await
}

/// Outlier detection (gRFC A50, failure-percentage ejection) around
/// round_robin: the backend failing every call is ejected at a sweep, the
/// others take every call, and it gets calls again once its ejection time
/// (800 ms) is over.
pub async fn outlier_detection_ejects_a_failing_backend_and_returns_it<R: Net + Default>(rt: R) {
    let servers = [flaky(&rt, 0, false).await, flaky(&rt, 1, false).await, flaky(&rt, 2, true).await];
    let target = super::balancing::list(&[&servers[0], &servers[1], &servers[2]]);
    let config = r#"{"loadBalancingConfig": [{"outlier_detection_experimental": {
        "interval": "0.1s", "baseEjectionTime": "0.8s", "maxEjectionPercent": 50,
        "failurePercentageEjection": {"threshold": 50, "minimumHosts": 3, "requestVolume": 5},
        "childPolicy": [{"round_robin": {}}]}}]}"#;
    let ch =
        Endpoint::<R>::new(target).unwrap().default_service_config(config).unwrap().connect().await.unwrap();
    let call = |ch: Channel| async move {
        match who(&ch).await {
            Ok(id) => id,
            Err(status) => {
                assert!(status.message.contains("backend 2"), "{status}");
                2
            }
        }
    };
    // Until 30 calls in a row miss backend 2: it was ejected.
    let deadline = Instant::now() + Duration::from_secs(5);
    let (mut failures, mut clean) = (0, 0);
    while clean < 30 {
        assert!(Instant::now() < deadline, "backend 2 was never ejected");
        if call(ch.clone()).await == 2 {
            failures += 1;
            clean = 0;
        } else {
            clean += 1;
        }
    }
    let ejected_seen = Instant::now();
    println!("ejected after {failures} failed calls");
    assert!(failures >= 1, "backend 2 took calls before its ejection");
    // Out for its ejection time; back after it.
    let mut back = None;
    while back.is_none() {
        assert!(ejected_seen.elapsed() < Duration::from_secs(5), "backend 2 never returned");
        if call(ch.clone()).await == 2 {
            back = Some(ejected_seen.elapsed());
        }
    }
    let back = back.unwrap();
    println!("backend 2 took calls again {back:?} after its ejection was seen");
    assert!(back >= Duration::from_millis(500), "returned after {back:?}, before its ejection time");
    for s in servers {
        s.stop().await;
    }
}
