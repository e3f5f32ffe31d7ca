//! Whole systems on virtual time, written only against public APIs and the
//! application's generated code (`helloworld.Greeter` from weir-examples):
//! hedged calls across three servers under 20 % loss, a 30 s partition
//! healed with gRPC connection backoff (grpc/doc/connection-backoff.md)
//! checked to the millisecond, keepalive finding a silently dead server at
//! keepalive time + timeout, and runs that repeat exactly from a seed.
//! Each run prints its seed and event log on failure; `WEIR_SIM_SEED`
//! reruns one.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use futures::StreamExt;
use weir_examples::helloworld::greeter_client::GreeterClient;
use weir_examples::helloworld::greeter_server::{Greeter, GreeterServer};
use weir_examples::helloworld::{HelloReply, HelloRequest};
use weir_rt::client::{HedgingPolicy, RetryPolicy, RoundRobin};
use weir_rt::runtime::Runtime;
use weir_rt::{Backoff, Code, Endpoint, Request, Response, Server, Status, Streaming};
use weir_sim::{HostId, Link, Sim, SimRt};

const PORT: u16 = 50051;

/// The application's Greeter, as a user writes it: answers after `delay`
/// (on the runtime's clock), and counts the calls it saw.
struct SlowGreeter {
    rt: SimRt,
    delay: Duration,
    calls: Arc<AtomicUsize>,
}

impl Greeter for SlowGreeter {
    async fn say_hello(&self, request: Request<HelloRequest>) -> Result<Response<HelloReply>, Status> {
        self.calls.fetch_add(1, Ordering::Relaxed);
        if !self.delay.is_zero() {
            self.rt.sleep_until(self.rt.now() + self.delay).await;
        }
        let name = request.into_inner().name;
        Ok(Response::new(HelloReply { message: format!("Hello {name}") }))
    }

    type SayHelloStreamReplyStream = futures::stream::BoxStream<'static, Result<HelloReply, Status>>;

    async fn say_hello_stream_reply(
        &self,
        _request: Request<HelloRequest>,
    ) -> Result<Response<Self::SayHelloStreamReplyStream>, Status> {
        Err(Status::new(Code::Unimplemented, "not in this test"))
    }

    type SayHelloBidiStreamStream = futures::stream::BoxStream<'static, Result<HelloReply, Status>>;

    async fn say_hello_bidi_stream(
        &self,
        request: Request<Streaming<HelloRequest>>,
    ) -> Result<Response<Self::SayHelloBidiStreamStream>, Status> {
        let replies =
            request.into_inner().map(|r| r.map(|req| HelloReply { message: format!("Hello {}", req.name) }));
        Ok(Response::new(replies.boxed()))
    }
}

/// A host serving the Greeter on `PORT`, pings allowed every 100 ms.
fn greeter_host(sim: &mut Sim, name: &str, delay: Duration) -> (HostId, Arc<AtomicUsize>) {
    greeter_host_until(sim, name, delay, None)
}

/// The same, shutting down gracefully (GOAWAY, calls in flight finish) at
/// `stop` of virtual time, when given.
fn greeter_host_until(
    sim: &mut Sim,
    name: &str,
    delay: Duration,
    stop: Option<Duration>,
) -> (HostId, Arc<AtomicUsize>) {
    let calls = Arc::new(AtomicUsize::new(0));
    let seen = calls.clone();
    let control = sim.control();
    let host = sim.host(name, move |rt| {
        let greeter = SlowGreeter { rt: rt.clone(), delay, calls: seen.clone() };
        let stop_in = stop.map(|at| at.saturating_sub(control.elapsed()));
        async move {
            let start = rt.now();
            let bound = Server::new(rt.clone())
                .keepalive_policy(Duration::from_millis(100), true)
                .add_service(GreeterServer::new(greeter))
                .bind(([0, 0, 0, 0], PORT).into())
                .await
                .expect("bind");
            let _ = match stop_in {
                Some(after) => bound.serve_with_shutdown(rt.sleep_until(start + after)).await,
                None => bound.serve().await,
            };
        }
    });
    (host, calls)
}

fn hello(name: &str, timeout: Duration) -> Request<HelloRequest> {
    let mut req = Request::new(HelloRequest { name: name.into() });
    req.set_timeout(timeout);
    req
}

/// Virtual times (seconds) of the log lines ending with `needle`.
fn times_of(log: &[String], needle: &str) -> Vec<f64> {
    log.iter()
        .filter(|l| l.ends_with(needle))
        .map(|l| l.split_whitespace().next().and_then(|t| t.parse().ok()).expect("a timestamp"))
        .collect()
}

/// What the hedging scenario reports.
struct Hedged {
    ok: usize,
    slowest: Duration,
    server_calls: [usize; 3],
    log: Vec<String>,
}

/// 60 calls, each hedged up to 3 times 100 ms apart, round robin over three
/// servers, one of which takes 3 s to answer; every link loses 20 % of its
/// segments (each retransmitted after 200 ms, doubling). Deadline 2 s per
/// call.
fn hedged_calls_under_loss(seed: u64) -> Hedged {
    let mut sim = Sim::new(seed);
    let (s0, c0) = greeter_host(&mut sim, "slow", Duration::from_secs(3));
    let (s1, c1) = greeter_host(&mut sim, "fast-1", Duration::ZERO);
    let (s2, c2) = greeter_host(&mut sim, "fast-2", Duration::ZERO);
    let client = sim.client("client");
    sim.set_default_link(Link {
        latency: Duration::from_millis(10),
        jitter: Duration::from_millis(5),
        loss: 0.2,
        ..Link::default()
    });
    let target = format!("ipv4:{},{},{}", sim.addr(s0, PORT), sim.addr(s1, PORT), sim.addr(s2, PORT));
    let deadline = Duration::from_secs(2);
    let (ok, slowest) = sim.run(client, move |rt, net| async move {
        let hedging = HedgingPolicy {
            max_attempts: 3,
            hedging_delay: Duration::from_millis(100),
            non_fatal_status_codes: vec![Code::Unavailable],
        };
        let channel = Endpoint::with_runtime(rt, target)
            .expect("target")
            .balancer(RoundRobin::default())
            .hedging_policy(hedging)
            .connect()
            .await
            .expect("connect");
        let greeter = GreeterClient::new(channel);
        let (mut ok, mut slowest) = (0, Duration::ZERO);
        // One call at a time: a call's copies are consecutive picks of the
        // round robin, so they reach three different servers.
        for i in 0..60 {
            let start = net.elapsed();
            let r = greeter.say_hello(hello(&format!("call {i}"), deadline)).await;
            let took = net.elapsed() - start;
            let message =
                r.unwrap_or_else(|e| panic!("call {i} failed after {took:?}: {e}")).into_inner().message;
            assert_eq!(message, format!("Hello call {i}"));
            ok += 1;
            slowest = slowest.max(took);
        }
        (ok, slowest)
    });
    let server_calls = [c0.load(Ordering::Relaxed), c1.load(Ordering::Relaxed), c2.load(Ordering::Relaxed)];
    Hedged { ok, slowest, server_calls, log: sim.log() }
}

/// (a) Every hedged call finishes within its deadline, though one server in
/// three takes 3 s and a fifth of all segments are lost: the copies sent to
/// the other servers answer.
#[test]
fn hedged_calls_across_three_servers_beat_loss_and_a_slow_server() {
    let wall = Instant::now();
    let h = hedged_calls_under_loss(Sim::from_env(7).seed());
    assert_eq!(h.ok, 60);
    assert!(h.slowest < Duration::from_secs(2), "slowest call {:?}", h.slowest);
    // The slow server got its share of first copies and never answered in
    // time; the hedges went to the others.
    assert!(h.server_calls[0] >= 10, "{:?}", h.server_calls);
    assert!(h.server_calls.iter().sum::<usize>() > 60, "no call was hedged: {:?}", h.server_calls);
    // Loss happened: some segment took a retransmission or more.
    let retransmitted = h.log.iter().filter(|l| {
        let mut w = l.split_whitespace();
        let sent: f64 = w.next().and_then(|t| t.parse().ok()).unwrap_or(0.0);
        let arrives: f64 = l.rsplit(' ').next().and_then(|t| t.parse().ok()).unwrap_or(0.0);
        l.contains("arrives at") && arrives - sent > 0.2
    });
    assert!(retransmitted.count() > 10, "too little loss to test anything");
    assert!(wall.elapsed() < Duration::from_secs(2), "took {:?} of real time", wall.elapsed());
}

/// (d) The same seed gives the same event log, line for line; another seed
/// gives another order. (Fixed seeds: `WEIR_SIM_SEED` does not apply.)
#[test]
fn a_seed_replays_the_same_events_and_another_seed_does_not() {
    let a = hedged_calls_under_loss(11).log;
    let b = hedged_calls_under_loss(11).log;
    assert!(a.len() > 100, "{} events", a.len());
    assert_eq!(a, b, "same seed, different event log");
    let c = hedged_calls_under_loss(12).log;
    assert_ne!(a, c, "another seed gave the same event log");
}

/// (b) The link to the only server is cut for 30 s. Keepalive (1 s + 1 s)
/// finds the connection dead; the channel then tries again and again, each
/// attempt starting `min(1 s × 1.6^n, 10 s)` after the one before (jitter 0,
/// so exactly); the attempt under way at the heal connects at its next SYN
/// (resent 1 s, 3 s, 7 s... after the first, as Linux does). A call made
/// during the partition with wait-for-ready waits for that connection and
/// succeeds.
#[test]
fn a_partition_heals_and_the_channel_reconnects_on_the_backoff_schedule() {
    let wall = Instant::now();
    let mut sim = Sim::from_env(3);
    let (server, _) = greeter_host(&mut sim, "server", Duration::ZERO);
    let client = sim.client("client");
    sim.set_default_link(Link { latency: Duration::from_millis(10), ..Link::default() });
    let addr: SocketAddr = sim.addr(server, PORT);
    let backoff = Backoff {
        initial: Duration::from_secs(1),
        multiplier: 1.6,
        jitter: 0.0,
        max: Duration::from_secs(10),
    };
    let schedule = backoff.clone();
    let (cut, healed, answered) = sim.run(client, move |rt, net| async move {
        let channel = Endpoint::with_runtime(rt.clone(), format!("http://{addr}"))
            .expect("target")
            .keepalive(Duration::from_secs(1), Duration::from_secs(1), true)
            .backoff(schedule)
            .connect_timeout(Duration::from_millis(100))
            .connect()
            .await
            .expect("connect");
        let greeter = GreeterClient::new(channel);
        greeter.say_hello(hello("before", Duration::from_secs(1))).await.expect("before the partition");
        let cut = net.elapsed();
        net.partition(client, server);
        let call = {
            let (g, rt) = (greeter.clone(), rt.clone());
            async move {
                // Once keepalive has closed the connection (a call already
                // sent on it would fail with it, wait-for-ready or not).
                rt.sleep_until(rt.now() + Duration::from_secs(3)).await;
                let mut req = hello("during", Duration::from_secs(60));
                req.set_wait_for_ready(true);
                g.say_hello(req).await
            }
        };
        let heal = {
            let (rt, net) = (rt.clone(), net.clone());
            async move {
                rt.sleep_until(rt.now() + Duration::from_secs(30)).await;
                net.heal(client, server);
                net.elapsed()
            }
        };
        let (answer, healed) = futures::future::join(call, heal).await;
        let answered = net.elapsed();
        assert_eq!(answer.expect("the call made during the partition").into_inner().message, "Hello during");
        (cut, healed, answered)
    });
    let log = sim.log();
    let connects = times_of(&log, &format!(" connect {addr}"));
    // The first connect, then the reconnects after keepalive gave up.
    let attempts: Vec<f64> = connects[1..].to_vec();
    assert!(attempts.len() >= 6, "attempts at {attempts:?}");
    let dead = attempts[0] - cut.as_secs_f64();
    // Keepalive: a ping after 1 s without activity, then 1 s to answer.
    assert!((2.0..2.2).contains(&dead), "first reconnect {dead} s after the cut");
    for (n, pair) in attempts.windows(2).enumerate() {
        let want = backoff.delay(n as u32).as_secs_f64();
        let got = pair[1] - pair[0];
        assert!(
            (got - want).abs() < 0.002,
            "attempt {} came {got:.4} s after the one before, want {want:.4}",
            n + 1
        );
    }
    // The attempt under way at the heal connects at its first SYN sent
    // after the heal (Linux resends a SYN 1 s, 3 s, 7 s... after the first).
    let healed = healed.as_secs_f64();
    let last = *attempts.last().expect("attempts");
    assert!(last < healed && attempts.len() == connects.len() - 1, "{attempts:?}");
    let syn = [0.0, 1.0, 3.0, 7.0, 15.0]
        .iter()
        .map(|d| last + d)
        .find(|&t| t >= healed)
        .expect("a SYN after the heal");
    let connected = *times_of(&log, &format!(" connected {addr}")).last().expect("connected");
    assert!(
        (connected - (syn + 0.02)).abs() < 0.001,
        "connected at {connected}, SYN at {syn}, healed at {healed}"
    );
    assert!(answered.as_secs_f64() - connected < 0.05, "answered at {answered:?}, connected at {connected}");
    assert!(wall.elapsed() < Duration::from_secs(2), "took {:?} of real time", wall.elapsed());
}

/// (c) The server is powered off in the middle of an open call: no FIN, no
/// RST, nothing. Keepalive (10 s, 5 s timeout) sends its ping 10 s after
/// the last octets arrived and gives up 5 s later; the call fails
/// UNAVAILABLE exactly then.
#[test]
fn keepalive_finds_a_silently_dead_server_at_time_plus_timeout() {
    let mut sim = Sim::from_env(5);
    let (server, _) = greeter_host(&mut sim, "server", Duration::ZERO);
    let client = sim.client("client");
    sim.set_default_link(Link { latency: Duration::from_millis(10), ..Link::default() });
    let addr = sim.addr(server, PORT);
    let (failed_at, code) = sim.run(client, move |rt, net| async move {
        let channel = Endpoint::with_runtime(rt.clone(), format!("http://{addr}"))
            .expect("target")
            .keepalive(Duration::from_secs(10), Duration::from_secs(5), false)
            .connect()
            .await
            .expect("connect");
        let greeter = GreeterClient::new(channel);
        // One request answered, then the stream stays open and quiet.
        let (tx, rx) = futures::channel::mpsc::unbounded();
        tx.unbounded_send(HelloRequest { name: "first".into() }).expect("send");
        let mut replies = greeter.say_hello_bidi_stream(rx).await.expect("call").into_inner();
        assert_eq!(replies.message().await.expect("reply").expect("a reply").message, "Hello first");
        rt.sleep_until(rt.now() + Duration::from_secs(2)).await;
        net.crash(server);
        let err = replies.message().await.expect_err("the server is dead");
        drop(tx);
        (net.elapsed(), err.code)
    });
    assert_eq!(code, Code::Unavailable);
    let log = sim.log();
    // The last octets the client received before the crash.
    let from_server = format!("{addr}->");
    let last_activity = log
        .iter()
        .filter(|l| l.contains(&from_server) && l.contains("arrives at"))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .fold(0.0, f64::max);
    let took = failed_at.as_secs_f64() - last_activity;
    assert!((15.0..15.05).contains(&took), "failed {took:.4} s after the last activity, want 10 s + 5 s");
}

/// Retries (gRFC A6) ride out a crash, a restart and a graceful GOAWAY:
/// two servers behind round robin; `a` is powered off at 1 s and on again at
/// 3 s, `b` shuts down gracefully at 5 s. Keepalive (250 ms + 250 ms) finds
/// `a` dead, the calls caught on it fail UNAVAILABLE and are retried on `b`;
/// after the restart `a` takes calls again, and after `b`'s GOAWAY it takes
/// them all. Every one of 140 calls (one each 50 ms) succeeds within its
/// 2 s deadline.
#[test]
fn retries_ride_out_a_crash_a_restart_and_a_goaway() {
    let (ok, a_after_restart, b_after_goaway, log) = crash_restart_goaway(Sim::from_env(17).seed());
    assert_eq!(ok, 140);
    assert!(log.iter().any(|l| l.ends_with("restart a")), "no restart in the log");
    // After its restart `a` served calls again; after its GOAWAY `b` took
    // none (every later call went to `a`).
    assert!(a_after_restart > 40, "a served {a_after_restart} calls after its restart");
    assert_eq!(b_after_goaway, 0, "b served calls after its GOAWAY");
}

/// The same seed replays a run with a crash, a restart, retries and a
/// graceful shutdown of a server with two connections (whose drivers it
/// tells in order) line for line; another seed does not.
#[test]
fn a_seed_replays_crashes_retries_and_a_goaway_too() {
    let a = crash_restart_goaway(23).3;
    assert_eq!(a, crash_restart_goaway(23).3, "same seed, different event log");
    assert_ne!(a, crash_restart_goaway(24).3, "another seed gave the same event log");
}

/// The scenario of the test above, on two channels (so `b` has two
/// connections to tell of its shutdown): calls answered, calls `a` served
/// after its restart, calls `b` served after its GOAWAY, the event log.
fn crash_restart_goaway(seed: u64) -> (usize, usize, usize, Vec<String>) {
    let mut sim = Sim::new(seed);
    let (a, a_calls) = greeter_host(&mut sim, "a", Duration::ZERO);
    let (b, b_calls) = greeter_host_until(&mut sim, "b", Duration::ZERO, Some(Duration::from_secs(5)));
    let client = sim.client("client");
    sim.set_default_link(Link {
        latency: Duration::from_millis(5),
        jitter: Duration::from_millis(1),
        ..Link::default()
    });
    let target = format!("ipv4:{},{}", sim.addr(a, PORT), sim.addr(b, PORT));
    let counts = (a_calls, b_calls);
    let (ok, a_after_restart, b_after_goaway) = sim.run(client, move |rt, net| async move {
        let channel = |target: String| {
            Endpoint::with_runtime(rt.clone(), target)
                .expect("target")
                .balancer(RoundRobin::default())
                .retry_policy(RetryPolicy {
                    max_attempts: 4,
                    initial_backoff: Duration::from_millis(50),
                    max_backoff: Duration::from_millis(200),
                    backoff_multiplier: 2.0,
                    retryable_status_codes: vec![Code::Unavailable],
                })
                .keepalive(Duration::from_millis(250), Duration::from_millis(250), true)
                .backoff(Backoff {
                    initial: Duration::from_millis(100),
                    max: Duration::from_millis(500),
                    ..Backoff::default()
                })
                .connect()
        };
        let greeters = [
            GreeterClient::new(channel(target.clone()).await.expect("connect")),
            GreeterClient::new(channel(target).await.expect("connect")),
        ];
        let events = {
            let (rt, net) = (rt.clone(), net.clone());
            async move {
                rt.sleep_until(rt.now() + Duration::from_secs(1)).await;
                net.crash(a);
                rt.sleep_until(rt.now() + Duration::from_secs(2)).await;
                net.restart(a);
            }
        };
        let (tx, mut results) = futures::channel::mpsc::unbounded();
        let calls = async {
            for i in 0..140 {
                let (g, tx) = (greeters[i % 2].clone(), tx.clone());
                rt.spawn(async move {
                    let r = g.say_hello(hello(&format!("{i}"), Duration::from_secs(2))).await;
                    let _ = tx.unbounded_send((i, r));
                });
                rt.sleep_until(rt.now() + Duration::from_millis(50)).await;
            }
        };
        let a_restarted = {
            let (rt, counts) = (rt.clone(), counts.clone());
            async move {
                rt.sleep_until(rt.now() + Duration::from_millis(3100)).await;
                counts.0.load(Ordering::Relaxed)
            }
        };
        let b_stopping = {
            let (rt, counts) = (rt.clone(), counts.clone());
            async move {
                rt.sleep_until(rt.now() + Duration::from_millis(5000)).await;
                counts.1.load(Ordering::Relaxed)
            }
        };
        let ((), (), a_at_restart, b_at_goaway) = futures::join!(calls, events, a_restarted, b_stopping);
        drop(tx);
        let mut ok = 0;
        while let Some((i, r)) = results.next().await {
            let reply = r.unwrap_or_else(|e| panic!("call {i} failed: {e}"));
            assert_eq!(reply.into_inner().message, format!("Hello {i}"));
            ok += 1;
        }
        let a_after_restart = counts.0.load(Ordering::Relaxed) - a_at_restart;
        let b_after_goaway = counts.1.load(Ordering::Relaxed) - b_at_goaway;
        (ok, a_after_restart, b_after_goaway)
    });
    (ok, a_after_restart, b_after_goaway, sim.log())
}
