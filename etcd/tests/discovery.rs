//! Service discovery against a real etcd (Debian's etcd 3.4, a gRPC-Go
//! server), on tokio and on smol: registration under leases, the watching
//! resolver, a killed instance's lease expiry, a new instance joining, an
//! etcd restart, and a compaction that forces the resolver to read again.

mod support;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures::channel::oneshot;
use weir_etcd::{EtcdClient, EtcdResolver, Registration, ResolverView};
use weir_rt::client::RoundRobin;
use weir_rt::runtime::{Net, Runtime};
use weir_rt::{Channel, Endpoint, Method, Request, Response, Server};

use support::{Etcd, Proxy};

const WHO: &str = "/lb.Test/Who";
const PREFIX: &str = "/services/greeter/";

/// A backend answering `Who` with its number.
struct Backend {
    addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    done: oneshot::Receiver<()>,
}

impl Backend {
    async fn start<R: Net>(rt: &R, id: u8) -> Backend {
        let server = Server::new(rt.clone())
            .route(WHO, Method::unary(move |_req| async move { Ok(Response::new(Bytes::from(vec![id]))) }));
        let bound = server.bind("127.0.0.1:0".parse().unwrap()).await.unwrap();
        let addr = bound.local_addr().unwrap();
        let (stop, stopped) = oneshot::channel::<()>();
        let (finished, done) = oneshot::channel();
        rt.spawn(async move {
            let _ = bound
                .serve_with_shutdown(async move {
                    let _ = stopped.await;
                })
                .await;
            let _ = finished.send(());
        });
        Backend { addr, stop: Some(stop), done }
    }

    async fn stop(mut self) {
        let _ = self.stop.take().unwrap().send(());
        let _ = (&mut self.done).await;
    }
}

fn register<R: Runtime>(rt: &R, etcd: &EtcdClient, id: u8, addr: SocketAddr, ttl: u64) -> Registration {
    Registration::start(
        rt.clone(),
        etcd.clone(),
        format!("{PREFIX}{id}"),
        addr.to_string(),
        Duration::from_secs(ttl),
    )
}

/// A round_robin channel resolving through etcd, and the resolver's view.
fn channel<R: Net + Default>(rt: &R, etcd: EtcdClient) -> (Channel, ResolverView) {
    let resolver = EtcdResolver::new(rt.clone(), etcd, PREFIX);
    let view = resolver.view();
    let ch = Endpoint::<R>::new("http://greeter")
        .unwrap()
        .resolver(resolver)
        .balancer(RoundRobin::default())
        .connect_lazy()
        .unwrap();
    (ch, view)
}

async fn who(ch: &Channel) -> Result<u8, weir_rt::Status> {
    let mut req = Request::new(Bytes::new());
    req.set_timeout(Duration::from_secs(5));
    Ok(ch.unary(WHO, req).await?.into_inner()[0])
}

/// Calls until each of `ids` answered; fails after `within`.
async fn until_answered(ch: &Channel, ids: &[u8], within: Duration) -> Duration {
    let start = Instant::now();
    let mut seen = Vec::new();
    while !ids.iter().all(|i| seen.contains(i)) {
        assert!(start.elapsed() < within, "{ids:?} did not all answer within {within:?}; saw {seen:?}");
        if let Ok(id) = who(ch).await {
            seen.push(id);
        }
    }
    start.elapsed()
}

async fn sleep<R: Runtime>(rt: &R, d: Duration) {
    rt.sleep_until(rt.now() + d).await;
}

/// Runs blocking work (starting or restarting etcd) on its own thread, so
/// the runtime's threads keep serving.
async fn off_thread<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    let (tx, rx) = oneshot::channel();
    std::thread::spawn(move || {
        let _ = tx.send(f());
    });
    rx.await.expect("blocking work panicked")
}

/// Waits until `cond` holds, polling every 20 ms; fails after `within`.
async fn wait_for<R: Runtime>(rt: &R, within: Duration, what: &str, cond: impl Fn() -> bool) -> Duration {
    let start = Instant::now();
    while !cond() {
        assert!(start.elapsed() < within, "{what}: not within {within:?}");
        sleep(rt, Duration::from_millis(20)).await;
    }
    start.elapsed()
}

async fn instances_register_and_the_channel_balances_over_them<R: Net + Default>(rt: R) {
    let etcd = off_thread(Etcd::start).await;
    let client = EtcdClient::connect::<R>(&etcd.url()).await.unwrap();
    let backends = [Backend::start(&rt, 0).await, Backend::start(&rt, 1).await, Backend::start(&rt, 2).await];
    let regs: Vec<Registration> =
        (0..3).map(|i| register(&rt, &client, i as u8, backends[i].addr, 5)).collect();
    wait_for(&rt, Duration::from_secs(5), "registered", || regs.iter().all(|r| r.lease().is_some())).await;
    let (ch, view) = channel(&rt, client.clone());
    until_answered(&ch, &[0, 1, 2], Duration::from_secs(5)).await;
    assert_eq!(view.addresses().len(), 3);
    let mut counts = [0usize; 3];
    for _ in 0..30 {
        counts[usize::from(who(&ch).await.unwrap())] += 1;
    }
    assert_eq!(counts, [10, 10, 10], "round robin over the registered instances");
    // A graceful deregistration deletes the key at once.
    let mut regs = regs;
    let gone = backends[1].addr;
    regs.remove(1).deregister().await;
    let (keys, _) = client.get_prefix(PREFIX.as_bytes()).await.unwrap();
    assert_eq!(keys.len(), 2, "the key is deleted at deregistration");
    wait_for(&rt, Duration::from_secs(1), "the resolver drops it", || !view.addresses().contains(&gone))
        .await;
    for _ in 0..10 {
        assert_ne!(who(&ch).await.unwrap(), 1);
    }
    for b in backends {
        b.stop().await;
    }
}

/// An instance that dies without deregistering (its keep-alives stop, its
/// server goes away) leaves the list when its 2 s lease expires, within
/// TTL + 1 s; every call meanwhile succeeds on the others. A new instance
/// gets calls within a second of registering.
async fn a_killed_instance_expires_and_a_new_one_joins<R: Net + Default>(rt: R) {
    let etcd = off_thread(Etcd::start).await;
    let client = EtcdClient::connect::<R>(&etcd.url()).await.unwrap();
    let mut backends = vec![Backend::start(&rt, 0).await, Backend::start(&rt, 1).await];
    let mut regs: Vec<Registration> =
        (0..2).map(|i| register(&rt, &client, i as u8, backends[i].addr, 2)).collect();
    wait_for(&rt, Duration::from_secs(5), "registered", || regs.iter().all(|r| r.lease().is_some())).await;
    let (ch, view) = channel(&rt, client.clone());
    until_answered(&ch, &[0, 1], Duration::from_secs(5)).await;
    // "SIGKILL" instance 1: no deregistration, the server gone.
    let killed = backends[1].addr;
    let killed_at = Instant::now();
    regs.remove(1).abandon().await;
    backends.remove(1).stop().await;
    let calls = async {
        let (mut ok, mut failed) = (0, 0);
        while view.addresses().contains(&killed) && killed_at.elapsed() < Duration::from_secs(5) {
            match who(&ch).await {
                Ok(id) => {
                    assert_eq!(id, 0);
                    ok += 1;
                }
                Err(status) => {
                    println!("call failed: {status}");
                    failed += 1;
                }
            }
            sleep(&rt, Duration::from_millis(10)).await;
        }
        (ok, failed)
    };
    let (ok, failed) = calls.await;
    let expired_after = killed_at.elapsed();
    println!("killed instance left the list after {expired_after:?}; {ok} calls succeeded meanwhile");
    assert!(!view.addresses().contains(&killed), "still listed after 5 s");
    assert!(expired_after <= Duration::from_secs(3), "TTL 2 s + 1 s, took {expired_after:?}");
    assert_eq!(failed, 0, "calls kept succeeding on the other instance");
    assert!(ok > 0);
    // A new instance joins.
    backends.push(Backend::start(&rt, 2).await);
    let joined = Instant::now();
    let reg = register(&rt, &client, 2, backends[1].addr, 2);
    let took = until_answered(&ch, &[2], Duration::from_secs(1)).await;
    println!("the new instance answered {took:?} after registering ({:?} since start)", joined.elapsed());
    drop((reg, regs));
    for b in backends {
        b.stop().await;
    }
}

/// etcd killed and started again on its data directory: the registrations
/// keep their keys (alive past the TTL), and the resolver follows changes
/// made after the restart.
async fn registration_and_resolver_survive_an_etcd_restart<R: Net + Default>(rt: R) {
    let etcd = Arc::new(Mutex::new(off_thread(Etcd::start).await));
    let url = etcd.lock().unwrap().url();
    let client = EtcdClient::connect::<R>(&url).await.unwrap();
    let backends = [Backend::start(&rt, 0).await, Backend::start(&rt, 1).await, Backend::start(&rt, 2).await];
    let regs: Vec<Registration> =
        (0..2).map(|i| register(&rt, &client, i as u8, backends[i].addr, 4)).collect();
    wait_for(&rt, Duration::from_secs(5), "registered", || regs.iter().all(|r| r.lease().is_some())).await;
    let (ch, view) = channel(&rt, client.clone());
    until_answered(&ch, &[0, 1], Duration::from_secs(5)).await;
    let restarting = etcd.clone();
    off_thread(move || restarting.lock().unwrap().restart()).await;
    // Past the TTL: the leases were kept alive through the restart.
    sleep(&rt, Duration::from_secs(5)).await;
    let fresh = EtcdClient::connect::<R>(&url).await.unwrap();
    let (keys, _) = fresh.get_prefix(PREFIX.as_bytes()).await.unwrap();
    assert_eq!(keys.len(), 2, "both instances are still registered: {keys:?}");
    println!(
        "registrations after the restart: {:?}",
        regs.iter().map(|r| r.registrations()).collect::<Vec<_>>()
    );
    // The resolver watches again: a third instance shows up.
    let third = register(&rt, &client, 2, backends[2].addr, 4);
    let took = until_answered(&ch, &[2], Duration::from_secs(3)).await;
    println!("after the restart, a new instance answered within {took:?}");
    assert_eq!(view.addresses().len(), 3);
    until_answered(&ch, &[0, 1, 2], Duration::from_secs(2)).await;
    drop((third, regs));
    for b in backends {
        b.stop().await;
    }
}

/// The resolver is cut off etcd (a proxy between them) while instances
/// change and etcd compacts its history: when it reconnects, the watch it
/// resumes is refused as compacted, and it reads the prefix again instead
/// of missing the changes.
async fn a_compaction_forces_a_clean_resync<R: Net + Default>(rt: R) {
    let etcd = off_thread(Etcd::start).await;
    let direct = EtcdClient::connect::<R>(&etcd.url()).await.unwrap();
    let proxy = Proxy::start(etcd.addr());
    let proxied = EtcdClient::connect::<R>(&format!("http://{}", proxy.addr)).await.unwrap();
    let addr = |i: u16| SocketAddr::from(([127, 0, 0, 1], 40_000 + i));
    for i in 0..2u16 {
        direct.put(format!("{PREFIX}{i}").as_bytes(), addr(i).to_string().as_bytes(), 0).await.unwrap();
    }
    let resolver = EtcdResolver::new(rt.clone(), proxied, PREFIX);
    let view = resolver.view();
    let ch = Endpoint::<R>::new("http://greeter").unwrap().resolver(resolver).connect_lazy().unwrap();
    // Any call starts the resolver; nothing listens on these addresses.
    let _ = ch.state(true);
    wait_for(&rt, Duration::from_secs(5), "first read", || view.addresses() == [addr(0), addr(1)]).await;
    assert_eq!(view.syncs(), 1);
    proxy.cut();
    direct.delete(format!("{PREFIX}0").as_bytes()).await.unwrap();
    direct.put(format!("{PREFIX}2").as_bytes(), addr(2).to_string().as_bytes(), 0).await.unwrap();
    let mut revision = 0;
    for n in 0..5 {
        revision = direct.put(b"/other/noise", format!("{n}").as_bytes(), 0).await.unwrap();
    }
    direct.compact(revision).await.unwrap();
    proxy.resume();
    let took = wait_for(&rt, Duration::from_secs(10), "re-sync after compaction", || {
        view.addresses() == [addr(1), addr(2)]
    })
    .await;
    println!("re-synced {took:?} after reconnecting; reads of the prefix: {}", view.syncs());
    assert_eq!(view.syncs(), 2, "the compacted watch made it read the prefix again");
    drop(ch);
}

/// etcd loses the lease (revoked from outside, as after an expiry the
/// instance did not see): the registration writes its key again under a
/// new lease at its next keep-alive.
async fn a_lost_lease_is_registered_again<R: Net + Default>(rt: R) {
    let etcd = off_thread(Etcd::start).await;
    let client = EtcdClient::connect::<R>(&etcd.url()).await.unwrap();
    let addr = SocketAddr::from(([127, 0, 0, 1], 40_001));
    let reg = register(&rt, &client, 0, addr, 3);
    wait_for(&rt, Duration::from_secs(5), "registered", || reg.lease().is_some()).await;
    let first = reg.lease().unwrap();
    client.revoke(first).await.unwrap();
    assert!(client.get_prefix(PREFIX.as_bytes()).await.unwrap().0.is_empty(), "revoked: key gone");
    let took = wait_for(&rt, Duration::from_secs(3), "registered again", || reg.registrations() == 2).await;
    let (keys, _) = client.get_prefix(PREFIX.as_bytes()).await.unwrap();
    assert_eq!(keys.len(), 1, "the key is back");
    assert_ne!(keys[0].lease, first, "under a new lease");
    assert_eq!(keys[0].value, addr.to_string().as_bytes());
    println!("registered again {took:?} after the lease was revoked");
    reg.deregister().await;
}

/// `deregister_on` as the server's shutdown signal: the key is gone by the
/// time the server stopped.
async fn graceful_shutdown_deletes_the_key<R: Net + Default>(rt: R) {
    let etcd = off_thread(Etcd::start).await;
    let client = EtcdClient::connect::<R>(&etcd.url()).await.unwrap();
    let server = Server::new(rt.clone())
        .route(WHO, Method::unary(|_req| async move { Ok(Response::new(Bytes::from_static(&[7]))) }));
    let bound = server.bind("127.0.0.1:0".parse().unwrap()).await.unwrap();
    let reg = register(&rt, &client, 7, bound.local_addr().unwrap(), 30);
    wait_for(&rt, Duration::from_secs(5), "registered", || reg.lease().is_some()).await;
    let (stop, stopped) = oneshot::channel::<()>();
    let (finished, done) = oneshot::channel();
    rt.spawn(async move {
        let signal = async move {
            let _ = stopped.await;
        };
        let _ = bound.serve_with_shutdown(reg.deregister_on(signal)).await;
        let _ = finished.send(());
    });
    assert_eq!(client.get_prefix(PREFIX.as_bytes()).await.unwrap().0.len(), 1);
    stop.send(()).unwrap();
    done.await.unwrap();
    assert!(
        client.get_prefix(PREFIX.as_bytes()).await.unwrap().0.is_empty(),
        "deleted, not left to its 30 s lease"
    );
}

/// etcd with authentication on: a client that authenticated registers,
/// resolves and watches; one that did not is refused.
async fn an_authenticated_client_registers_and_resolves<R: Net + Default>(rt: R) {
    use weir_etcd::pb::etcdserverpb::auth_client::AuthClient;
    use weir_etcd::pb::etcdserverpb::{
        AuthEnableRequest, AuthRoleAddRequest, AuthUserAddRequest, AuthUserGrantRoleRequest,
    };
    let etcd = off_thread(Etcd::start).await;
    let admin = EtcdClient::connect::<R>(&etcd.url()).await.unwrap();
    let auth = AuthClient::new(admin.channel().clone());
    auth.user_add(AuthUserAddRequest { name: "root".into(), password: "s3cret".into() }).await.unwrap();
    // etcd 3.4 creates the root role on first use; adding it may say it exists.
    let _ = auth.role_add(AuthRoleAddRequest { name: "root".into() }).await;
    auth.user_grant_role(AuthUserGrantRoleRequest { user: "root".into(), role: "root".into() })
        .await
        .unwrap();
    auth.auth_enable(AuthEnableRequest {}).await.unwrap();

    let anonymous = EtcdClient::connect::<R>(&etcd.url()).await.unwrap();
    let refused = anonymous.get_prefix(PREFIX.as_bytes()).await.unwrap_err();
    println!("without a token: {refused}");
    let client = EtcdClient::connect::<R>(&etcd.url()).await.unwrap();
    client.authenticate("root", "s3cret").await.unwrap();
    let backend = Backend::start(&rt, 4).await;
    let reg = register(&rt, &client, 4, backend.addr, 5);
    wait_for(&rt, Duration::from_secs(5), "registered", || reg.lease().is_some()).await;
    let (ch, _) = channel(&rt, client.clone());
    until_answered(&ch, &[4], Duration::from_secs(5)).await;
    assert!(client.authenticate("root", "wrong").await.is_err(), "a wrong password is refused");
    reg.deregister().await;
    backend.stop().await;
}

/// Values that are not `ip:port` are skipped (with a warning, and listed by
/// the view); the others are used.
async fn values_that_are_not_addresses_are_skipped<R: Net + Default>(rt: R) {
    let etcd = off_thread(Etcd::start).await;
    let client = EtcdClient::connect::<R>(&etcd.url()).await.unwrap();
    let backend = Backend::start(&rt, 5).await;
    for (key, value) in [("a", "not an address"), ("b", "greeter.internal:50051"), ("c", "")] {
        client.put(format!("{PREFIX}{key}").as_bytes(), value.as_bytes(), 0).await.unwrap();
    }
    client.put(format!("{PREFIX}d").as_bytes(), backend.addr.to_string().as_bytes(), 0).await.unwrap();
    let (ch, view) = channel(&rt, client.clone());
    until_answered(&ch, &[5], Duration::from_secs(5)).await;
    assert_eq!(view.addresses(), [backend.addr]);
    let skipped: Vec<String> =
        view.skipped().iter().map(|k| String::from_utf8_lossy(k).into_owned()).collect();
    assert_eq!(skipped, [format!("{PREFIX}a"), format!("{PREFIX}b"), format!("{PREFIX}c")]);
    backend.stop().await;
}

/// etcd unreachable when the channel starts: a call fails at once with
/// UNAVAILABLE saying etcd could not be read; a wait-for-ready call waits,
/// until its deadline, or until etcd comes up and lists a backend.
async fn unreachable_etcd_fails_calls_or_lets_them_wait<R: Net + Default>(rt: R) {
    let port = support::free_port();
    let client = EtcdClient::connect::<R>(&format!("http://{port}")).await.unwrap();
    let (ch, _view) = channel(&rt, client.clone());
    let status = who(&ch).await.unwrap_err();
    assert_eq!(status.code, weir_rt::Code::Unavailable, "{status}");
    assert!(status.message.contains("etcd resolver: cannot read"), "a clear error: {status}");
    println!("etcd down: {status}");
    let waiting = |timeout: Duration| {
        let mut req = Request::new(Bytes::new());
        req.set_timeout(timeout);
        req.set_wait_for_ready(true);
        ch.unary(WHO, req)
    };
    let status = waiting(Duration::from_millis(300)).await.unwrap_err();
    assert_eq!(
        status.code,
        weir_rt::Code::DeadlineExceeded,
        "wait-for-ready waits until its deadline: {status}"
    );
    // etcd comes up on that port and an instance registers: a waiting call
    // goes through.
    let backend = Backend::start(&rt, 6).await;
    let call = waiting(Duration::from_secs(20));
    let start = async {
        let etcd = off_thread(move || Etcd::start_on(port)).await;
        let reg = register(&rt, &client, 6, backend.addr, 5);
        (etcd, reg)
    };
    let (answer, (etcd, reg)) = futures::join!(call, start);
    assert_eq!(&answer.expect("answered once etcd listed the backend").into_inner()[..], &[6]);
    drop((reg, etcd));
    backend.stop().await;
}

// ----- runners ------------------------------------------------------------------

// The rt suite's runners: two threads driving tasks, 60 s at most.
#[path = "../../rt/tests/suite/runners.rs"]
mod runners;
use runners::{run_on_smol as on_smol, run_on_tokio as on_tokio};

macro_rules! on_both {
    ($($name:ident),* $(,)?) => {
        mod tokio_runtime {
            $(#[test] fn $name() { super::on_tokio(super::$name); })*
        }
        mod smol_runtime {
            $(#[test] fn $name() { super::on_smol(super::$name); })*
        }
    };
}

on_both!(
    instances_register_and_the_channel_balances_over_them,
    a_killed_instance_expires_and_a_new_one_joins,
    registration_and_resolver_survive_an_etcd_restart,
    a_compaction_forces_a_clean_resync,
    a_lost_lease_is_registered_again,
    graceful_shutdown_deletes_the_key,
    an_authenticated_client_registers_and_resolves,
    values_that_are_not_addresses_are_skipped,
    unreachable_etcd_fails_calls_or_lets_them_wait,
);
