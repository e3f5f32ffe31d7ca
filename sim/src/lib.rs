//! Deterministic simulation of whole gRPC systems on Weir: servers and
//! channels running the application's real generated services, on virtual
//! time, over a simulated network, in one thread.
//!
//! A test declares hosts (each with the code it runs, again after every
//! restart), shapes the network (latency, jitter, loss, bandwidth per link),
//! and runs a body on one host. Inside, the body can partition hosts, heal
//! them, crash and restart them. Deadlines, keepalive, retries, hedging,
//! backoff, GOAWAY and balancing all run on the simulation's clock, so
//! thirty seconds of partition take milliseconds. Time moves only when no
//! task can run, straight to the next timer.
//!
//! Every run is reproducible from its seed: tasks run in wake order on one
//! thread, every random choice (link jitter and loss, and weir-rt's own
//! backoff and retry jitter, through
//! [`weir_rt::runtime::seed_thread_randomness`]) comes from the seed, and
//! [`Sim::log`] records what crossed the network, when. A test that fails
//! prints its seed and the log's tail; `WEIR_SIM_SEED` reruns that seed
//! ([`Sim::from_env`]).
//!
//! ```no_run
//! use std::time::Duration;
//! use weir_sim::{Link, Sim};
//!
//! let mut sim = Sim::new(42);
//! let server = sim.host("server", |rt| async move {
//!     // serve the application's services on `rt`, port 50051
//!     # let _ = rt;
//! });
//! let client = sim.client("client");
//! sim.set_default_link(Link { latency: Duration::from_millis(20), loss: 0.1, ..Link::default() });
//! let ok = sim.run(client, move |rt, net| async move {
//!     net.partition(client, server);
//!     # let _ = rt;
//!     // ... calls fail, time passes (virtually) ...
//!     net.heal(client, server);
//!     true
//! });
//! assert!(ok);
//! ```
//!
//! Clock steps move the one monotonic clock forward for every host at once
//! ([`Control::step_clock`], a suspended machine resuming); weir-rt reads
//! no wall clock, so there is no per-host skew to model. Not modelled:
//! packet reordering (streams are TCP: ordered, and loss shows as
//! retransmission delay), TLS, and Unix sockets.

mod executor;
mod net;
mod rt;
mod world;

use std::collections::BTreeMap;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

pub use net::Link;
pub use rt::{SimRt, SimTimer};
use weir_rt::runtime::BoxFuture;
use world::World;

/// A host of the simulation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct HostId(pub(crate) usize);

type Init = Arc<dyn Fn(SimRt) -> BoxFuture<'static, ()> + Send + Sync>;

/// Polls at one virtual instant past which a run is a livelock.
const MAX_POLLS_PER_INSTANT: u64 = 10_000_000;

/// Changes the network while a simulation runs (cheap to clone, usable from
/// any task).
#[derive(Clone)]
pub struct Control {
    world: Arc<World>,
    inits: Arc<Mutex<BTreeMap<HostId, Init>>>,
}

impl Control {
    /// Cuts every packet between `a` and `b` (both ways) until [`Control::heal`]:
    /// segments wait, connects go unanswered.
    pub fn partition(&self, a: HostId, b: HostId) {
        self.world.net().partition(a, b);
        self.world.log(format_args!("partition {} | {}", self.name(a), self.name(b)));
    }

    /// Ends a partition; what waited is delivered.
    pub fn heal(&self, a: HostId, b: HostId) {
        let pipes = self.world.net().heal(a, b);
        self.world.log(format_args!("heal {} | {}", self.name(a), self.name(b)));
        pipes.iter().for_each(|p| p.wake_all());
    }

    /// Powers a host off: its tasks stop, its listeners close, and nothing
    /// leaves it, not even a FIN or RST. Its peers see silence.
    pub fn crash(&self, host: HostId) {
        assert_ne!(executor::current_host(), Some(host), "a host cannot crash itself from its own task");
        let pipes = self.world.net().crash(host);
        self.world.log(format_args!("crash {}", self.name(host)));
        self.world.executor.kill_host(host);
        pipes.iter().for_each(|p| p.wake_all());
    }

    /// Powers a crashed host on again: its start code runs anew, and its
    /// connections from before the crash are reset.
    pub fn restart(&self, host: HostId) {
        let pipes = self.world.net().restart(host);
        self.world.log(format_args!("restart {}", self.name(host)));
        pipes.iter().for_each(|p| p.wake_all());
        self.start(host);
    }

    /// Changes the link between `a` and `b` (both ways).
    pub fn set_link(&self, a: HostId, b: HostId, link: Link) {
        self.world.net().set_link(a, b, link);
    }

    /// Steps the clock forward by `d` at once, as a machine suspended and
    /// resumed sees it: every timer that came due in between fires now, in
    /// order (deadlines expire, keepalive pings go out). Segments in flight
    /// arrive as they would have.
    pub fn step_clock(&self, d: Duration) {
        self.world.step(d);
        self.world.log(format_args!("clock stepped by {d:?}"));
    }

    /// Virtual time since the simulation started.
    pub fn elapsed(&self) -> Duration {
        self.world.elapsed()
    }

    /// Adds a line of the test's own to the event log.
    pub fn log(&self, event: impl std::fmt::Display) {
        self.world.log(event);
    }

    /// A host's address with `port`.
    pub fn addr(&self, host: HostId, port: u16) -> SocketAddr {
        SocketAddr::new(self.world.net().hosts[host.0].ip, port)
    }

    fn name(&self, host: HostId) -> String {
        self.world.net().hosts[host.0].name.clone()
    }

    fn start(&self, host: HostId) {
        let init = self.inits.lock().unwrap_or_else(PoisonError::into_inner).get(&host).cloned();
        if let Some(init) = init {
            let rt = SimRt { world: self.world.clone() };
            self.world.executor.spawn(host, executor::as_host(host, || init(rt)));
        }
    }
}

/// A simulation: hosts, the network between them, and one clock.
pub struct Sim {
    seed: u64,
    control: Control,
    started: bool,
    /// The body's run stops past this much virtual time.
    pub time_limit: Duration,
    real_time: Duration,
}

impl Sim {
    /// An empty simulation whose every choice derives from `seed`.
    pub fn new(seed: u64) -> Sim {
        let control = Control { world: World::new(seed), inits: Arc::default() };
        Sim {
            seed,
            control,
            started: false,
            time_limit: Duration::from_secs(3600),
            real_time: Duration::ZERO,
        }
    }

    /// `Sim::new` with the seed from `WEIR_SIM_SEED` when set (to rerun a
    /// failing seed), else `seed`.
    pub fn from_env(seed: u64) -> Sim {
        let seed = std::env::var("WEIR_SIM_SEED").ok().and_then(|s| s.parse().ok()).unwrap_or(seed);
        Sim::new(seed)
    }

    /// The seed.
    pub fn seed(&self) -> u64 {
        self.seed
    }

    /// A host that runs `start` when the simulation starts and again after
    /// every restart (a server: bind, serve).
    pub fn host<F, Fut>(&mut self, name: &str, start: F) -> HostId
    where
        F: Fn(SimRt) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let id = self.client(name);
        let init: Init = Arc::new(move |rt| Box::pin(start(rt)));
        self.control.inits.lock().unwrap_or_else(PoisonError::into_inner).insert(id, init);
        id
    }

    /// A host that runs nothing by itself (where a test body runs).
    pub fn client(&mut self, name: &str) -> HostId {
        self.control.world.net().add_host(name)
    }

    /// Every link not set otherwise.
    pub fn set_default_link(&mut self, link: Link) {
        self.control.world.net().set_default_link(link);
    }

    /// The link between `a` and `b` (both ways).
    pub fn set_link(&mut self, a: HostId, b: HostId, link: Link) {
        self.control.set_link(a, b, link);
    }

    /// A host's address with `port` (10.0.x.y).
    pub fn addr(&self, host: HostId, port: u16) -> SocketAddr {
        self.control.addr(host, port)
    }

    /// The handle that changes the network during a run.
    pub fn control(&self) -> Control {
        self.control.clone()
    }

    /// Starts the hosts, runs `body` as a task of `on`, and returns its
    /// output once it finishes. Then every task is dropped: a simulation
    /// runs one body.
    ///
    /// # Panics
    ///
    /// When a task panics, when no task can run and no timer is set before
    /// the body finished (a deadlock), or past [`Sim::time_limit`]; the
    /// panic message gives the seed and the last lines of the log.
    pub fn run<T, F, Fut>(&mut self, on: HostId, body: F) -> T
    where
        F: FnOnce(SimRt, Control) -> Fut,
        Fut: Future<Output = T> + Send + 'static,
        T: Send + 'static,
    {
        assert!(!self.started, "a simulation runs one body");
        self.started = true;
        let world = self.control.world.clone();
        let _report = PanicReport { world: world.clone(), seed: self.seed };
        // weir-rt's own choices come from a stream of their own, so they do
        // not mirror the network's.
        weir_rt::runtime::seed_thread_randomness(Some(self.seed ^ 0xA5A5_A5A5_5A5A_5A5A));
        let hosts: Vec<HostId> =
            self.control.inits.lock().unwrap_or_else(PoisonError::into_inner).keys().copied().collect();
        hosts.into_iter().for_each(|h| self.control.start(h));
        let out = Arc::new(Mutex::new(None));
        let fut = executor::as_host(on, || body(SimRt { world: world.clone() }, self.control.clone()));
        let slot = out.clone();
        world.executor.spawn(on, async move {
            let v = fut.await;
            *slot.lock().unwrap_or_else(PoisonError::into_inner) = Some(v);
        });
        let started = Instant::now();
        let done = || out.lock().unwrap_or_else(PoisonError::into_inner).is_some();
        while !done() {
            // Tasks that keep waking each other without time moving.
            let mut polls = 0u64;
            while world.executor.run_one() {
                polls += 1;
                assert!(polls < MAX_POLLS_PER_INSTANT, "livelock: {polls} polls without time moving");
                if done() {
                    break;
                }
            }
            if done() {
                break;
            }
            assert!(world.elapsed() <= self.time_limit, "virtual time passed {:?}", self.time_limit);
            assert!(world.advance(), "deadlock: no task can run and no timer is set");
        }
        world.log(format_args!("body done after {:?} of virtual time", world.elapsed()));
        self.real_time = started.elapsed();
        weir_rt::runtime::seed_thread_randomness(None);
        // What is left (servers, drivers) is dropped, and so is whatever
        // dropping it spawned.
        for _ in 0..8 {
            if world.executor.clear() == 0 {
                break;
            }
        }
        let v = out.lock().unwrap_or_else(PoisonError::into_inner).take();
        v.expect("the body finished")
    }

    /// Virtual time since the start.
    pub fn elapsed(&self) -> Duration {
        self.control.world.elapsed()
    }

    /// Real time the last `run` took.
    pub fn real_time(&self) -> Duration {
        self.real_time
    }

    /// The event log: connects, segments (size and arrival time), FINs,
    /// partitions, crashes and the test's own lines, each stamped with
    /// virtual time. The same seed gives the same log.
    pub fn log(&self) -> Vec<String> {
        self.control.world.log_lines()
    }
}

/// Prints the seed and the log's tail if a run panics.
struct PanicReport {
    world: Arc<World>,
    seed: u64,
}

impl Drop for PanicReport {
    fn drop(&mut self) {
        if std::thread::panicking() {
            weir_rt::runtime::seed_thread_randomness(None);
            let log = self.world.log_lines();
            let tail = &log[log.len().saturating_sub(40)..];
            eprintln!(
                "weir-sim: failed with seed {} (rerun: WEIR_SIM_SEED={}); last events:",
                self.seed, self.seed
            );
            for line in tail {
                eprintln!("  {line}");
            }
        }
    }
}
