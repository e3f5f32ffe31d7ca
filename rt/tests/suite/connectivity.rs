//! The channel's connectivity state (`Channel::state`,
//! `Channel::wait_for_state_change`) and idle mode.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use bytes::Bytes;
use futures::future::{Either, select};
use weir_rt::runtime::Net;
use weir_rt::stats::CallCounters;
use weir_rt::{Backoff, Channel, ConnectivityState, Endpoint};

use super::{req, spawn_bound, test_server};

use ConnectivityState::*;

/// Follows the state until it is `target` (or fails after `limit`), adding
/// every state seen to `seen` once per change.
async fn follow_until<R: Net>(
    rt: &R,
    ch: &Channel,
    seen: &mut Vec<ConnectivityState>,
    target: ConnectivityState,
    limit: Duration,
) {
    let give_up = rt.now() + limit;
    loop {
        let now = ch.state(false);
        if seen.last() != Some(&now) {
            seen.push(now);
        }
        if now == target {
            return;
        }
        let left = give_up.saturating_duration_since(rt.now());
        assert!(!left.is_zero(), "no {target:?} within {limit:?}; seen {seen:?}");
        let change = Box::pin(ch.wait_for_state_change(now));
        if let Either::Right(_) = select(change, Box::pin(rt.sleep_until(rt.now() + left))).await {
            panic!("no {target:?} within {limit:?}; seen {seen:?}");
        }
    }
}

/// True when `path` occurs in `seen` in order (other states may come between).
fn passes_through(seen: &[ConnectivityState], path: &[ConnectivityState]) -> bool {
    let mut want = path.iter().peekable();
    for s in seen {
        if want.peek() == Some(&s) {
            want.next();
        }
    }
    want.peek().is_none()
}

/// A scripted run with no call driving it: IDLE until asked to connect,
/// CONNECTING, TRANSIENT_FAILURE while the backend is down, READY once it
/// is up (redialled when the backoff ends), TRANSIENT_FAILURE when it is
/// killed (the lost connection is redialled at once and refused), READY
/// again when it is back.
pub async fn channel_state_follows_the_backend<R: Net + Default>(rt: R) {
    let addr = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
    let backoff = Backoff {
        initial: Duration::from_millis(50),
        multiplier: 1.0,
        jitter: 0.0,
        max: Duration::from_millis(50),
    };
    let ch = Endpoint::<R>::with_runtime(rt.clone(), format!("http://{addr}"))
        .unwrap()
        .backoff(backoff)
        .connect_lazy()
        .unwrap();
    let mut seen = vec![ch.state(false)];
    assert_eq!(seen, [Idle], "a lazy channel starts idle");
    ch.state(true);
    follow_until(&rt, &ch, &mut seen, TransientFailure, Duration::from_secs(5)).await;

    let server =
        test_server(rt.clone(), Default::default()).bind(addr).await.expect("bind the backend's port");
    let running = spawn_bound(&rt, server);
    follow_until(&rt, &ch, &mut seen, Ready, Duration::from_secs(5)).await;
    let answer = ch.unary("/test.Test/Unary", req(&b"up"[..])).await.expect("a call on the ready channel");
    assert_eq!(answer.into_inner(), Bytes::from_static(b"up"));

    running.stop().await;
    follow_until(&rt, &ch, &mut seen, TransientFailure, Duration::from_secs(5)).await;

    let server = test_server(rt.clone(), Default::default()).bind(addr).await.expect("bind the port again");
    let running = spawn_bound(&rt, server);
    follow_until(&rt, &ch, &mut seen, Ready, Duration::from_secs(5)).await;
    let answer = ch.unary("/test.Test/Unary", req(&b"back"[..])).await.expect("a call once it is back");
    assert_eq!(answer.into_inner(), Bytes::from_static(b"back"));
    eprintln!("states seen: {seen:?}");
    assert!(
        passes_through(&seen, &[Idle, Connecting, TransientFailure, Ready, TransientFailure, Ready]),
        "{seen:?}"
    );
    running.stop().await;
}

/// Announces one address, then waits for re-resolution requests until its
/// link closes; counts its runs and their ends.
struct Counting {
    address: std::net::SocketAddr,
    runs: Arc<AtomicUsize>,
    ended: Arc<AtomicUsize>,
}

impl weir_rt::client::Resolver for Counting {
    fn run(&self, updates: weir_rt::client::ResolverUpdates) -> weir_rt::runtime::BoxFuture<'static, ()> {
        self.runs.fetch_add(1, Ordering::SeqCst);
        let (address, ended) = (self.address, self.ended.clone());
        Box::pin(async move {
            updates.update(vec![weir_rt::client::Address::Tcp(address)]);
            while updates.resolve_requested().await {}
            ended.fetch_add(1, Ordering::SeqCst);
        })
    }
}

/// After `idle_timeout` without calls the channel closes its connection,
/// stops its resolver and reports IDLE; the next call restarts the resolver
/// and reconnects by itself.
pub async fn idle_channel_closes_its_connection_and_reconnects<R: Net + Default>(rt: R) {
    let server =
        test_server(rt.clone(), Default::default()).bind("127.0.0.1:0".parse().unwrap()).await.unwrap();
    let addr = server.local_addr().expect("a TCP address");
    let running = spawn_bound(&rt, server);
    let counters = Arc::new(CallCounters::new());
    let (runs, ended) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    let ch = Endpoint::<R>::with_runtime(rt.clone(), format!("http://{addr}"))
        .unwrap()
        .resolver(Counting { address: addr, runs: runs.clone(), ended: ended.clone() })
        .idle_timeout(Some(Duration::from_millis(200)))
        .stats_handler(counters.clone())
        .connect_lazy()
        .unwrap();
    ch.unary("/test.Test/Unary", req(&b"one"[..])).await.expect("first call");
    assert_eq!(ch.state(false), Ready);
    assert_eq!(counters.connections_opened(), 1);

    let mut seen = vec![Ready];
    follow_until(&rt, &ch, &mut seen, Idle, Duration::from_secs(5)).await;
    let closed_by = rt.now() + Duration::from_secs(5);
    while counters.connections_closed() < 1 {
        assert!(rt.now() < closed_by, "idle mode closes the connection");
        rt.sleep_until(rt.now() + Duration::from_millis(10)).await;
    }
    assert_eq!(ch.state(false), Idle, "nothing redials an idle channel");
    while ended.load(Ordering::SeqCst) < 1 {
        assert!(rt.now() < closed_by, "idle mode stops the resolver");
        rt.sleep_until(rt.now() + Duration::from_millis(10)).await;
    }
    assert_eq!(runs.load(Ordering::SeqCst), 1);

    let answer = ch.unary("/test.Test/Unary", req(&b"two"[..])).await.expect("the next call reconnects");
    assert_eq!(answer.into_inner(), Bytes::from_static(b"two"));
    assert_eq!(counters.connections_opened(), 2, "a new connection");
    // The resolver is started again from a task of its own.
    let restarted_by = rt.now() + Duration::from_secs(5);
    while runs.load(Ordering::SeqCst) < 2 {
        assert!(rt.now() < restarted_by, "the resolver runs again");
        rt.sleep_until(rt.now() + Duration::from_millis(5)).await;
    }
    assert_eq!(runs.load(Ordering::SeqCst), 2, "once");
    assert_eq!(ch.state(false), Ready);
    running.stop().await;
}
