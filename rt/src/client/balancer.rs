//! Load-balancing policies, on gRPC-Go's picker model: whenever the address
//! list or an address's state changes, the channel asks its [`Balancer`]
//! for a new [`Picker`], a snapshot of the states, and calls pick with that
//! snapshot without taking any channel lock. Policies: [`PickFirst`] (the
//! default), [`RoundRobin`], [`LeastRequest`] (gRFC A48),
//! [`WeightedRoundRobin`] (address weights) and [`RingHash`] (gRFC A42,
//! keyed by a request header as in gRFC A76).

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use weir_core::grpc::Metadata;

use super::address::Address;
use super::driver::ConnHandle;
use super::xxhash::xxh64;

/// The connectivity state of one address (gRPC's subchannel states).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ConnectivityState {
    /// Not connected; connects when a policy asks.
    Idle,
    /// A connection attempt is under way.
    Connecting,
    /// Connected: calls can go there.
    Ready,
    /// The last attempt failed (or outlier detection ejected the address);
    /// waiting out its backoff before the address may be tried again.
    TransientFailure,
}

/// The live count of calls running on one address's connection, read at
/// pick time (what `least_request` compares). Cheap to clone.
#[derive(Clone, Default)]
pub struct Load(LoadSource);

#[derive(Clone, Default)]
enum LoadSource {
    #[default]
    None,
    Conn(Arc<ConnHandle>),
    Fixed(usize),
}

impl Load {
    pub(crate) fn of(conn: Arc<ConnHandle>) -> Self {
        Load(LoadSource::Conn(conn))
    }

    /// A constant load, for testing a policy.
    pub fn fixed(calls: usize) -> Self {
        Load(LoadSource::Fixed(calls))
    }

    /// Calls picked for this connection and not finished yet.
    pub fn outstanding(&self) -> usize {
        match &self.0 {
            LoadSource::None => 0,
            LoadSource::Conn(c) => c.outstanding.load(Ordering::Acquire),
            LoadSource::Fixed(n) => *n,
        }
    }
}

impl std::fmt::Debug for Load {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Load({})", self.outstanding())
    }
}

/// What a policy sees of one address when it builds a picker.
#[derive(Clone, Debug)]
pub struct Subchannel<'a> {
    /// The address.
    pub address: &'a Address,
    /// Its connection's state.
    pub state: ConnectivityState,
    /// Its weight from the resolver (1 unless given): what
    /// `weighted_round_robin` and `ring_hash` share calls by.
    pub weight: u32,
    /// Calls running on its connection, live.
    pub load: Load,
}

/// What a picker sees of a call.
#[derive(Clone, Copy, Debug)]
pub struct PickInfo<'a> {
    /// The method path, `/package.Service/Method`.
    pub path: &'a [u8],
    /// The request metadata, after the client interceptors.
    pub metadata: &'a Metadata,
}

/// A picker's decision for one call.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Pick {
    /// Send the call on this READY subchannel (its index in the list the
    /// picker was built from).
    Ready(usize),
    /// Wait for the next picker; first start connecting this IDLE
    /// subchannel, if given.
    Wait(Option<usize>),
    /// No subchannel can take the call: it fails with the latest connection
    /// error (UNAVAILABLE), or waits if it is wait-for-ready.
    Fail,
}

/// Picks for calls from one snapshot of the subchannels' states. Called
/// concurrently by every call on the channel, so keep it quick and
/// lock-free.
pub trait Picker: Send + Sync + 'static {
    /// Decides for one call.
    fn pick(&self, call: &PickInfo<'_>) -> Pick;
}

/// A balancer's answer to a change of states.
pub struct Update {
    /// The picker calls use until the next change.
    pub picker: Box<dyn Picker>,
    /// IDLE subchannels to connect now (a policy that connects eagerly
    /// names them all; `pick_first` the next in order).
    pub connect: Vec<usize>,
}

impl std::fmt::Debug for Update {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Update").field("connect", &self.connect).finish_non_exhaustive()
    }
}

/// A load-balancing policy: turns the states of a channel's addresses into
/// a [`Picker`]. Called under the channel's lock each time the address list
/// or a state changes (never per call).
pub trait Balancer: Send + Sync + 'static {
    /// The picker for these states, and which addresses to connect.
    fn update(&self, subchannels: &[Subchannel<'_>]) -> Update;
}

/// A picker that always decides the same.
pub(crate) struct Always(pub Pick);

impl Picker for Always {
    fn pick(&self, _: &PickInfo<'_>) -> Pick {
        self.0
    }
}

/// Every IDLE subchannel.
fn all_idle(subchannels: &[Subchannel<'_>]) -> Vec<usize> {
    indices(subchannels, ConnectivityState::Idle)
}

fn indices(subchannels: &[Subchannel<'_>], state: ConnectivityState) -> Vec<usize> {
    (0..subchannels.len()).filter(|&i| subchannels[i].state == state).collect()
}

/// With no READY subchannel: wait while one connects (or is about to),
/// fail otherwise.
fn not_ready(subchannels: &[Subchannel<'_>], connect: Vec<usize>) -> Update {
    let connecting =
        !connect.is_empty() || subchannels.iter().any(|s| s.state == ConnectivityState::Connecting);
    let pick = if connecting { Pick::Wait(None) } else { Pick::Fail };
    Update { picker: Box::new(Always(pick)), connect }
}

/// gRPC's `pick_first`: tries the addresses in order and sends every call to
/// the first that connects; when that connection is lost, starts over from
/// the first address, failing over to the next ones. The default policy.
#[derive(Clone, Copy, Debug, Default)]
pub struct PickFirst;

impl Balancer for PickFirst {
    fn update(&self, subchannels: &[Subchannel<'_>]) -> Update {
        use ConnectivityState::*;
        if let Some(i) = subchannels.iter().position(|s| s.state == Ready) {
            return Update { picker: Box::new(Always(Pick::Ready(i))), connect: Vec::new() };
        }
        let connect = match subchannels.iter().any(|s| s.state == Connecting) {
            true => Vec::new(),
            false => subchannels.iter().position(|s| s.state == Idle).into_iter().collect(),
        };
        not_ready(subchannels, connect)
    }
}

/// gRPC's `round_robin`: connects to every address and sends calls to the
/// ready ones in turn.
#[derive(Debug, Default)]
pub struct RoundRobin {
    /// Shared by its pickers, so the rotation continues across changes.
    next: Arc<AtomicUsize>,
}

impl Balancer for RoundRobin {
    fn update(&self, subchannels: &[Subchannel<'_>]) -> Update {
        let connect = all_idle(subchannels);
        let ready = indices(subchannels, ConnectivityState::Ready);
        if ready.is_empty() {
            return not_ready(subchannels, connect);
        }
        // Round robin is a schedule of every READY address once.
        Update { picker: Box::new(ScheduledPicker { schedule: ready, next: self.next.clone() }), connect }
    }
}

/// gRPC's `least_request` (gRFC A48): connects to every address and sends
/// each call to the one with the fewest calls running among `choice_count`
/// READY addresses drawn at random (all of them when there are no more
/// than that), so a slow or overloaded backend gets fewer new calls.
#[derive(Debug)]
pub struct LeastRequest {
    choice_count: usize,
}

impl LeastRequest {
    /// Compares `choice_count` random candidates per call (gRFC A48: 2 by
    /// default, clamped to 2..=10).
    pub fn new(choice_count: u32) -> Self {
        LeastRequest { choice_count: choice_count.clamp(2, 10) as usize }
    }
}

impl Default for LeastRequest {
    fn default() -> Self {
        LeastRequest::new(2)
    }
}

struct LeastRequestPicker {
    /// READY subchannels: (index, live load).
    ready: Vec<(usize, Load)>,
    choice_count: usize,
}

impl Picker for LeastRequestPicker {
    fn pick(&self, _: &PickInfo<'_>) -> Pick {
        let n = self.ready.len();
        let mut best: Option<(usize, usize)> = None;
        let mut ties = 0usize;
        let mut consider = |slot: usize| {
            let load = self.ready[slot].1.outstanding();
            match best {
                Some((_, least)) if load > least => {}
                Some((_, least)) if load == least => {
                    // Ties go to a random one of the least loaded
                    // (reservoir sampling), not always the first.
                    ties += 1;
                    if random_below(ties) == 0 {
                        best = Some((slot, load));
                    }
                }
                _ => {
                    best = Some((slot, load));
                    ties = 1;
                }
            }
        };
        if n <= self.choice_count {
            (0..n).for_each(&mut consider);
        } else {
            (0..self.choice_count).for_each(|_| consider(random_below(n)));
        }
        match best {
            Some((slot, _)) => Pick::Ready(self.ready[slot].0),
            None => Pick::Fail,
        }
    }
}

impl Balancer for LeastRequest {
    fn update(&self, subchannels: &[Subchannel<'_>]) -> Update {
        let connect = all_idle(subchannels);
        let ready: Vec<(usize, Load)> = indices(subchannels, ConnectivityState::Ready)
            .into_iter()
            .map(|i| (i, subchannels[i].load.clone()))
            .collect();
        if ready.is_empty() {
            return not_ready(subchannels, connect);
        }
        Update { picker: Box::new(LeastRequestPicker { ready, choice_count: self.choice_count }), connect }
    }
}

/// Weighted round robin over the resolver's address weights
/// ([`ResolverUpdates::update_weighted`](super::ResolverUpdates::update_weighted)):
/// connects to every address and gives each READY one a share of the calls
/// proportional to its weight, interleaved (nginx's smooth weighted
/// round robin), not in runs.
#[derive(Debug, Default)]
pub struct WeightedRoundRobin {
    next: Arc<AtomicUsize>,
}

/// The longest schedule a picker holds; larger weight sums are scaled down.
const MAX_SCHEDULE: u64 = 4096;

/// Walks one period of picks over and over (round robin, and weighted
/// round robin's smooth schedule).
struct ScheduledPicker {
    /// One period of picks (subchannel indices).
    schedule: Vec<usize>,
    next: Arc<AtomicUsize>,
}

impl Picker for ScheduledPicker {
    fn pick(&self, _: &PickInfo<'_>) -> Pick {
        let nth = self.next.fetch_add(1, Ordering::Relaxed) % self.schedule.len();
        Pick::Ready(self.schedule[nth])
    }
}

/// One period of smooth weighted round robin over `(index, weight)`.
fn smooth_schedule(weighted: &[(usize, u64)]) -> Vec<usize> {
    let total: u64 = weighted.iter().map(|w| w.1).sum();
    let weights: Vec<i64> = if total > MAX_SCHEDULE {
        weighted.iter().map(|w| ((w.1 * MAX_SCHEDULE / total).max(1)) as i64).collect()
    } else {
        weighted.iter().map(|w| w.1 as i64).collect()
    };
    let total: i64 = weights.iter().sum();
    let mut current = vec![0i64; weights.len()];
    (0..total)
        .map(|_| {
            let mut best = 0;
            for i in 0..weights.len() {
                current[i] += weights[i];
                if current[i] > current[best] {
                    best = i;
                }
            }
            current[best] -= total;
            weighted[best].0
        })
        .collect()
}

impl Balancer for WeightedRoundRobin {
    fn update(&self, subchannels: &[Subchannel<'_>]) -> Update {
        let connect = all_idle(subchannels);
        let weighted: Vec<(usize, u64)> = indices(subchannels, ConnectivityState::Ready)
            .into_iter()
            .map(|i| (i, subchannels[i].weight.max(1) as u64))
            .collect();
        if weighted.is_empty() {
            return not_ready(subchannels, connect);
        }
        let schedule = smooth_schedule(&weighted);
        Update { picker: Box::new(ScheduledPicker { schedule, next: self.next.clone() }), connect }
    }
}

/// gRPC's `ring_hash` (gRFC A42): consistent hashing. Each address owns
/// points on a ring (XXH64 of `"<address>_<n>"`, as many as its weight's
/// share of the ring); a call goes to the first address at or after the
/// XXH64 of its request key, the value of `hash_header` (gRFC A76; a random
/// key without one). The same key always reaches the same backend, and
/// removing a backend moves only the keys it had. Connects lazily: only the
/// addresses calls land on.
#[derive(Clone, Debug)]
pub struct RingHash {
    min_ring_size: u64,
    max_ring_size: u64,
    hash_header: Option<String>,
}

/// gRFC A42's defaults and the cap gRPC applies by default.
const RING_DEFAULT_MIN: u64 = 1024;
const RING_CAP: u64 = 4096;

impl RingHash {
    /// A ring of `min_ring_size..=max_ring_size` entries (capped at 4096,
    /// gRPC's default cap), keyed by the request header `hash_header`
    /// (lower case; several values are joined with `,`).
    pub fn new(min_ring_size: u64, max_ring_size: u64, hash_header: Option<&str>) -> Self {
        let max_ring_size = max_ring_size.clamp(1, RING_CAP);
        RingHash {
            min_ring_size: min_ring_size.clamp(1, max_ring_size),
            max_ring_size,
            hash_header: hash_header.map(|h| h.to_ascii_lowercase()),
        }
    }

    /// gRFC A42's default ring sizes, keyed by `hash_header`.
    pub fn with_header(hash_header: &str) -> Self {
        RingHash::new(RING_DEFAULT_MIN, RING_CAP, Some(hash_header))
    }

    /// The ring for these `(address, weight)`: sorted `(hash, index)`.
    fn ring(&self, addresses: &[(String, u64)]) -> Vec<(u64, usize)> {
        let total: u64 = addresses.iter().map(|a| a.1).sum();
        if total == 0 {
            return Vec::new();
        }
        let normalized: Vec<f64> = addresses.iter().map(|a| a.1 as f64 / total as f64).collect();
        let min_weight = normalized.iter().copied().fold(f64::INFINITY, f64::min);
        let scale =
            ((min_weight * self.min_ring_size as f64).ceil() / min_weight).min(self.max_ring_size as f64);
        let mut ring = Vec::with_capacity(scale.ceil() as usize);
        let (mut current, mut target) = (0.0f64, 0.0f64);
        // In name order, as gRPC-Go builds it: the resolver's order must not
        // move the points.
        let mut order: Vec<usize> = (0..addresses.len()).collect();
        order.sort_by(|&a, &b| addresses[a].0.cmp(&addresses[b].0));
        for i in order {
            let name = &addresses[i].0;
            target += scale * normalized[i];
            let mut n = 0u64;
            while current < target {
                ring.push((xxh64(format!("{name}_{n}").as_bytes(), 0), i));
                n += 1;
                current += 1.0;
            }
        }
        ring.sort_unstable();
        ring
    }
}

impl Default for RingHash {
    fn default() -> Self {
        RingHash::new(RING_DEFAULT_MIN, RING_CAP, None)
    }
}

struct RingPicker {
    ring: Vec<(u64, usize)>,
    states: Vec<ConnectivityState>,
    hash_header: Option<String>,
}

impl RingPicker {
    /// The XXH64 of the request's key, when it has one.
    fn request_hash(&self, call: &PickInfo<'_>) -> Option<u64> {
        let name = self.hash_header.as_deref()?;
        let values: Vec<&[u8]> = call.metadata.get_all(name).map(|v| v.as_ref()).collect();
        (!values.is_empty()).then(|| xxh64(&values.join(&b","[..]), 0))
    }

    /// The distinct subchannels in ring order from `hash`.
    fn walk(&self, hash: u64) -> impl Iterator<Item = usize> + '_ {
        let start = self.ring.partition_point(|e| e.0 < hash);
        let mut seen = vec![false; self.states.len()];
        (0..self.ring.len())
            .map(move |k| self.ring[(start + k) % self.ring.len()].1)
            .filter(move |&i| !std::mem::replace(&mut seen[i], true))
    }

    /// A call without a key (gRFC A76): the first READY address from a
    /// random point; with none, connect one IDLE address unless one is
    /// connecting already, and wait.
    fn pick_random(&self) -> Pick {
        use ConnectivityState::*;
        let hash = super::backoff::random_u64();
        if let Some(i) = self.walk(hash).find(|&i| self.states[i] == Ready) {
            return Pick::Ready(i);
        }
        if self.states.contains(&Connecting) {
            return Pick::Wait(None);
        }
        match self.walk(hash).find(|&i| self.states[i] == Idle) {
            Some(i) => Pick::Wait(Some(i)),
            None => Pick::Fail,
        }
    }
}

impl Picker for RingPicker {
    /// gRFC A42: the first entry's address if READY; wait for it while it
    /// connects (starting it when IDLE); past a failed one, the next
    /// distinct addresses the same way; fail when all have failed.
    fn pick(&self, call: &PickInfo<'_>) -> Pick {
        use ConnectivityState::*;
        let Some(hash) = self.request_hash(call) else { return self.pick_random() };
        for index in self.walk(hash) {
            match self.states[index] {
                Ready => return Pick::Ready(index),
                Idle => return Pick::Wait(Some(index)),
                Connecting => return Pick::Wait(None),
                TransientFailure => {}
            }
        }
        Pick::Fail
    }
}

impl Balancer for RingHash {
    fn update(&self, subchannels: &[Subchannel<'_>]) -> Update {
        let addresses: Vec<(String, u64)> =
            subchannels.iter().map(|s| (s.address.to_string(), s.weight.max(1) as u64)).collect();
        let ring = self.ring(&addresses);
        if ring.is_empty() {
            return not_ready(subchannels, Vec::new());
        }
        let states = subchannels.iter().map(|s| s.state).collect();
        let picker = RingPicker { ring, states, hash_header: self.hash_header.clone() };
        Update { picker: Box::new(picker), connect: Vec::new() }
    }
}

fn random_below(n: usize) -> usize {
    ((super::backoff::random_unit() * n as f64) as usize).min(n.saturating_sub(1))
}

#[cfg(test)]
mod tests {
    use super::ConnectivityState::*;
    use super::*;

    fn addrs(n: usize) -> Vec<Address> {
        (0..n).map(|i| Address::Tcp(([127, 0, 0, 1], 1000 + i as u16).into())).collect()
    }

    fn views<'a>(addrs: &'a [Address], states: &[ConnectivityState]) -> Vec<Subchannel<'a>> {
        addrs
            .iter()
            .zip(states)
            .map(|(address, &state)| Subchannel { address, state, weight: 1, load: Load::default() })
            .collect()
    }

    fn md() -> Metadata {
        Metadata::new()
    }

    fn pick(b: &dyn Balancer, states: &[ConnectivityState]) -> (Pick, Vec<usize>) {
        let a = addrs(states.len());
        let u = b.update(&views(&a, states));
        let md = md();
        (u.picker.pick(&PickInfo { path: b"/s/m", metadata: &md }), u.connect)
    }

    #[test]
    fn least_request_goes_to_the_least_loaded_ready_address() {
        let a = addrs(4);
        let sub =
            |i: usize, state, load| Subchannel { address: &a[i], state, weight: 1, load: Load::fixed(load) };
        let md = md();
        let call = PickInfo { path: b"/s/m", metadata: &md };
        let p = LeastRequest::default();
        let u = p.update(&[sub(0, Ready, 7), sub(1, Idle, 0), sub(2, Ready, 2), sub(3, TransientFailure, 0)]);
        assert_eq!(u.connect, vec![1]);
        for _ in 0..50 {
            assert_eq!(u.picker.pick(&call), Pick::Ready(2));
        }
        // More ready than choices: two random draws, so the least loaded of
        // all wins often, the most loaded only when drawn twice.
        let u = LeastRequest::new(2).update(&[
            sub(0, Ready, 0),
            sub(1, Ready, 1),
            sub(2, Ready, 2),
            sub(3, Ready, 3),
        ]);
        let mut counts = [0usize; 4];
        for _ in 0..4000 {
            let Pick::Ready(i) = u.picker.pick(&call) else { panic!() };
            counts[i] += 1;
        }
        assert!(counts[0] > counts[1] && counts[1] > counts[2] && counts[2] > counts[3], "{counts:?}");
        assert!(counts[3] < 600, "the busiest only when drawn twice (1/16): {counts:?}");
        // Ties are spread.
        let u = p.update(&[sub(0, Ready, 1), sub(1, Ready, 1)]);
        let mut tie = [0usize; 2];
        for _ in 0..1000 {
            let Pick::Ready(i) = u.picker.pick(&call) else { panic!() };
            tie[i] += 1;
        }
        assert!(tie[0] > 300 && tie[1] > 300, "{tie:?}");
        assert_eq!(pick(&p, &[Connecting]), (Pick::Wait(None), vec![]));
    }

    #[test]
    fn pick_first_uses_the_first_ready_and_connects_in_order() {
        let p = PickFirst;
        assert_eq!(pick(&p, &[Idle, Idle]), (Pick::Wait(None), vec![0]));
        assert_eq!(pick(&p, &[Connecting, Idle]), (Pick::Wait(None), vec![]));
        assert_eq!(pick(&p, &[TransientFailure, Idle]), (Pick::Wait(None), vec![1]));
        assert_eq!(pick(&p, &[Idle, Ready]), (Pick::Ready(1), vec![]));
        assert_eq!(pick(&p, &[TransientFailure, TransientFailure]), (Pick::Fail, vec![]));
    }

    #[test]
    fn round_robin_rotates_over_ready_and_connects_idle() {
        let p = RoundRobin::default();
        let a = addrs(4);
        let u = p.update(&views(&a, &[Ready, Idle, Ready, TransientFailure]));
        assert_eq!(u.connect, vec![1]);
        let md = md();
        let order: Vec<_> =
            (0..6).map(|_| u.picker.pick(&PickInfo { path: b"/s/m", metadata: &md })).collect();
        use Pick::Ready as R;
        assert_eq!(order, vec![R(0), R(2), R(0), R(2), R(0), R(2)]);
        assert_eq!(pick(&p, &[Connecting, Idle]), (Pick::Wait(None), vec![1]));
        assert_eq!(pick(&p, &[TransientFailure]), (Pick::Fail, vec![]));
    }

    #[test]
    fn weighted_round_robin_shares_calls_by_weight_interleaved() {
        let a = addrs(4);
        let weights = [1u32, 3, 6, 9];
        let states = [Ready, Ready, Ready, TransientFailure];
        let subs: Vec<Subchannel<'_>> = (0..4)
            .map(|i| Subchannel {
                address: &a[i],
                state: states[i],
                weight: weights[i],
                load: Load::default(),
            })
            .collect();
        let u = WeightedRoundRobin::default().update(&subs);
        let md = md();
        let picks: Vec<usize> = (0..100)
            .map(|_| match u.picker.pick(&PickInfo { path: b"/s/m", metadata: &md }) {
                Pick::Ready(i) => i,
                other => panic!("{other:?}"),
            })
            .collect();
        let count = |i| picks.iter().filter(|&&p| p == i).count();
        assert_eq!((count(0), count(1), count(2), count(3)), (10, 30, 60, 0));
        // Smooth: the heaviest never runs three times in a row here (6 of 10).
        assert!(!picks.windows(3).any(|w| w.iter().all(|&p| p == 2)), "{picks:?}");
        // Huge weights are scaled into a bounded schedule, keeping the ratio.
        let schedule = smooth_schedule(&[(0, 1_000_000), (1, 3_000_000)]);
        assert!(schedule.len() as u64 <= MAX_SCHEDULE);
        let ones = schedule.iter().filter(|&&i| i == 1).count();
        assert_eq!(ones * 4, schedule.len() * 3);
    }

    fn ring_pick(u: &Update, key: &str) -> Pick {
        let mut md = Metadata::new();
        md.append("x-user", key).unwrap();
        u.picker.pick(&PickInfo { path: b"/s/m", metadata: &md })
    }

    #[test]
    fn ring_hash_keeps_keys_on_their_backend_and_moves_only_a_removed_ones() {
        let a = addrs(4);
        let ring = RingHash::with_header("X-User");
        let all = ring.update(&views(&a, &[Ready; 4]));
        let keys: Vec<String> = (0..400).map(|k| format!("user-{k}")).collect();
        let placed: Vec<Pick> = keys.iter().map(|k| ring_pick(&all, k)).collect();
        assert_eq!(placed, keys.iter().map(|k| ring_pick(&all, k)).collect::<Vec<_>>(), "stable");
        for i in 0..4 {
            let n = placed.iter().filter(|&&p| p == Pick::Ready(i)).count();
            assert!((50..=150).contains(&n), "backend {i} got {n} of 400 keys");
        }
        // Without backend 2, its keys move to the others. gRFC A42 keeps the
        // ring at least `min_ring_size` long, so the others gain points
        // (256 → 342 each here); a key of theirs moves only when one of those
        // new points now comes first, never onto an old point.
        let kept = [a[0].clone(), a[1].clone(), a[3].clone()];
        let three = ring.update(&views(&kept, &[Ready; 3]));
        let names = |list: &[Address]| list.iter().map(|x| (x.to_string(), 1)).collect::<Vec<_>>();
        let old_points: std::collections::HashSet<u64> =
            ring.ring(&names(&a)).into_iter().map(|e| e.0).collect();
        let new_ring = ring.ring(&names(&kept));
        let mut moved = 0;
        for (key, before) in keys.iter().zip(&placed) {
            let after = match ring_pick(&three, key) {
                Pick::Ready(i) => [0, 1, 3][i],
                other => panic!("{other:?}"),
            };
            assert_ne!(after, 2);
            if *before != Pick::Ready(2) && Pick::Ready(after) != *before {
                let hash = xxh64(key.as_bytes(), 0);
                let owner = new_ring[new_ring.partition_point(|e| e.0 < hash) % new_ring.len()].0;
                assert!(!old_points.contains(&owner), "{key} moved onto an old point");
                moved += 1;
            }
        }
        let others = placed.iter().filter(|&&p| p != Pick::Ready(2)).count();
        assert!(moved * 4 < others, "{moved} of {others} keys of the kept backends moved");
        // A key on a failed backend goes to the next on the ring; an idle
        // one is connected and waited for.
        let key = keys.iter().find(|k| ring_pick(&all, k) == Pick::Ready(1)).unwrap();
        let failed = ring.update(&views(&a, &[Ready, TransientFailure, Ready, Ready]));
        assert!(matches!(ring_pick(&failed, key), Pick::Ready(i) if i != 1));
        let idle = ring.update(&views(&a, &[Ready, Idle, Ready, Ready]));
        assert_eq!(ring_pick(&idle, key), Pick::Wait(Some(1)));
        assert!(idle.connect.is_empty(), "ring_hash connects lazily");
        let down = ring.update(&views(&a, &[TransientFailure; 4]));
        assert_eq!(ring_pick(&down, key), Pick::Fail);
    }

    #[test]
    fn ring_hash_without_a_key_takes_a_ready_address_or_connects_one() {
        let a = addrs(3);
        let ring = RingHash::with_header("x-user");
        let md = md();
        let call = PickInfo { path: b"/s/m", metadata: &md };
        let u = ring.update(&views(&a, &[Idle, Ready, TransientFailure]));
        for _ in 0..50 {
            assert_eq!(u.picker.pick(&call), Pick::Ready(1), "no key: any READY address");
        }
        let u = ring.update(&views(&a, &[Idle, TransientFailure, Idle]));
        assert!(matches!(u.picker.pick(&call), Pick::Wait(Some(0 | 2))), "one IDLE address is connected");
        let u = ring.update(&views(&a, &[Idle, Connecting, Idle]));
        assert_eq!(u.picker.pick(&call), Pick::Wait(None), "not another while one connects");
        let u = ring.update(&views(&a, &[TransientFailure; 3]));
        assert_eq!(u.picker.pick(&call), Pick::Fail);
        // The resolver's order does not move the points.
        let names = |order: [usize; 3]| order.map(|i| (a[i].to_string(), 1)).to_vec();
        let one = ring.ring(&names([0, 1, 2]));
        let other = ring.ring(&names([2, 0, 1]));
        let owner = |r: &[(u64, usize)], order: [usize; 3]| r.iter().map(|e| order[e.1]).collect::<Vec<_>>();
        assert_eq!(owner(&one, [0, 1, 2]), owner(&other, [2, 0, 1]));
    }

    #[test]
    fn ring_hash_entries_follow_weights_and_sizes() {
        let ring = RingHash::new(100, 1000, None);
        let entries = ring.ring(&[("a".into(), 1), ("b".into(), 3)]);
        // A42: scale = ceil(0.25 * 100) / 0.25 = 100 entries, 25 and 75.
        assert_eq!(entries.len(), 100);
        assert_eq!(entries.iter().filter(|e| e.1 == 0).count(), 25);
        assert!(entries.windows(2).all(|w| w[0].0 <= w[1].0), "sorted");
        assert_eq!(RingHash::new(1 << 20, 1 << 23, None).ring(&[("a".into(), 1)]).len() as u64, RING_CAP);
    }
}
