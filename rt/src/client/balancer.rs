//! Load-balancing policies: the [`Balancer`] trait a channel consults for
//! every call, and gRPC's two standard policies, [`PickFirst`] and
//! [`RoundRobin`].

use std::sync::atomic::{AtomicUsize, Ordering};

use super::address::Address;

/// The connectivity state of one address (gRPC's subchannel states).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ConnectivityState {
    /// Not connected; connects when a policy asks.
    Idle,
    /// A connection attempt is under way.
    Connecting,
    /// Connected: calls can go there.
    Ready,
    /// The last attempt failed; waiting out its backoff before the address
    /// may be tried again.
    TransientFailure,
}

/// What a policy sees of one address.
#[derive(Clone, Copy, Debug)]
pub struct Subchannel<'a> {
    /// The address.
    pub address: &'a Address,
    /// Its connection's state.
    pub state: ConnectivityState,
    /// Calls running on its connection, counted from their pick to their
    /// end (what `least_request` compares).
    pub outstanding: usize,
}

/// A policy's decision for one call.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Pick {
    /// The READY subchannel (index) to send the call on. `None`: the call
    /// waits for a state change while some subchannel is connecting, and
    /// fails (UNAVAILABLE, with the latest connection error) otherwise.
    pub ready: Option<usize>,
    /// Subchannels to start connecting; only IDLE ones are acted on.
    pub connect: Vec<usize>,
}

/// A load-balancing policy: given the state of every address, which one a
/// call goes to, and which addresses to connect to. Called for each call
/// and again whenever a waiting call sees a state change; keep it quick
/// and lock-free where possible.
pub trait Balancer: Send + Sync + 'static {
    /// Decides for one call.
    fn pick(&self, subchannels: &[Subchannel<'_>]) -> Pick;
}

/// gRPC's `pick_first`: tries the addresses in order and sends every call to
/// the first that connects; when that connection is lost, starts over from
/// the first address, failing over to the next ones. The default policy.
#[derive(Clone, Copy, Debug, Default)]
pub struct PickFirst;

impl Balancer for PickFirst {
    fn pick(&self, subchannels: &[Subchannel<'_>]) -> Pick {
        use ConnectivityState::*;
        if let Some(i) = subchannels.iter().position(|s| s.state == Ready) {
            return Pick { ready: Some(i), connect: Vec::new() };
        }
        if subchannels.iter().any(|s| s.state == Connecting) {
            return Pick::default();
        }
        let connect = subchannels.iter().position(|s| s.state == Idle).into_iter().collect();
        Pick { ready: None, connect }
    }
}

/// gRPC's `round_robin`: connects to every address and sends calls to the
/// ready ones in turn.
#[derive(Debug, Default)]
pub struct RoundRobin {
    next: AtomicUsize,
}

impl Balancer for RoundRobin {
    fn pick(&self, subchannels: &[Subchannel<'_>]) -> Pick {
        let connect =
            (0..subchannels.len()).filter(|&i| subchannels[i].state == ConnectivityState::Idle).collect();
        let ready = subchannels.iter().filter(|s| s.state == ConnectivityState::Ready).count();
        if ready == 0 {
            return Pick { ready: None, connect };
        }
        let nth = self.next.fetch_add(1, Ordering::Relaxed) % ready;
        let index =
            (0..subchannels.len()).filter(|&i| subchannels[i].state == ConnectivityState::Ready).nth(nth);
        Pick { ready: index, connect }
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

impl Balancer for LeastRequest {
    fn pick(&self, subchannels: &[Subchannel<'_>]) -> Pick {
        let connect =
            (0..subchannels.len()).filter(|&i| subchannels[i].state == ConnectivityState::Idle).collect();
        let ready: Vec<usize> =
            (0..subchannels.len()).filter(|&i| subchannels[i].state == ConnectivityState::Ready).collect();
        let candidates: Vec<usize> = if ready.len() <= self.choice_count {
            ready
        } else {
            (0..self.choice_count).map(|_| ready[random_below(ready.len())]).collect()
        };
        // Ties go to a random one of the least loaded, not always the first.
        let least = candidates.iter().map(|&i| subchannels[i].outstanding).min();
        let tied: Vec<usize> =
            candidates.into_iter().filter(|&i| Some(subchannels[i].outstanding) == least).collect();
        let index = (!tied.is_empty()).then(|| tied[random_below(tied.len())]);
        Pick { ready: index, connect }
    }
}

fn random_below(n: usize) -> usize {
    ((super::backoff::random_unit() * n as f64) as usize).min(n.saturating_sub(1))
}

#[cfg(test)]
mod tests {
    use super::ConnectivityState::*;
    use super::*;

    fn with<T>(states: &[ConnectivityState], f: impl FnOnce(&[Subchannel<'_>]) -> T) -> T {
        let addrs: Vec<Address> =
            (0..states.len()).map(|i| Address::Tcp(([127, 0, 0, 1], 1000 + i as u16).into())).collect();
        let subs: Vec<Subchannel<'_>> = addrs
            .iter()
            .zip(states)
            .map(|(address, &state)| Subchannel { address, state, outstanding: 0 })
            .collect();
        f(&subs)
    }

    #[test]
    fn least_request_goes_to_the_least_loaded_ready_address() {
        let addrs: Vec<Address> = (0..4).map(|i| Address::Tcp(([127, 0, 0, 1], 2000 + i).into())).collect();
        let sub = |i: usize, state, outstanding| Subchannel { address: &addrs[i], state, outstanding };
        let p = LeastRequest::default();
        for _ in 0..50 {
            let subs = [sub(0, Ready, 7), sub(1, Idle, 0), sub(2, Ready, 2), sub(3, TransientFailure, 0)];
            assert_eq!(p.pick(&subs), Pick { ready: Some(2), connect: vec![1] });
        }
        // More ready than choices: two random draws, so the least loaded of
        // all wins often, the most loaded only when drawn twice.
        let wide = LeastRequest::new(2);
        let mut counts = [0usize; 4];
        for _ in 0..4000 {
            let subs = [sub(0, Ready, 0), sub(1, Ready, 1), sub(2, Ready, 2), sub(3, Ready, 3)];
            counts[wide.pick(&subs).ready.unwrap()] += 1;
        }
        assert!(counts[0] > counts[1] && counts[1] > counts[2] && counts[2] > counts[3], "{counts:?}");
        assert!(counts[3] < 600, "the busiest only when drawn twice (1/16): {counts:?}");
        // Ties are spread.
        let mut tie = [0usize; 2];
        for _ in 0..1000 {
            tie[p.pick(&[sub(0, Ready, 1), sub(1, Ready, 1)]).ready.unwrap()] += 1;
        }
        assert!(tie[0] > 300 && tie[1] > 300, "{tie:?}");
        assert_eq!(p.pick(&[sub(0, Connecting, 0)]), Pick::default());
    }

    #[test]
    fn pick_first_uses_the_first_ready_and_connects_in_order() {
        let p = PickFirst;
        assert_eq!(with(&[Idle, Idle], |s| p.pick(s)), Pick { ready: None, connect: vec![0] });
        assert_eq!(with(&[Connecting, Idle], |s| p.pick(s)), Pick::default());
        assert_eq!(with(&[TransientFailure, Idle], |s| p.pick(s)), Pick { ready: None, connect: vec![1] });
        assert_eq!(with(&[Idle, Ready], |s| p.pick(s)), Pick { ready: Some(1), connect: vec![] });
        assert_eq!(with(&[TransientFailure, TransientFailure], |s| p.pick(s)), Pick::default());
    }

    #[test]
    fn round_robin_rotates_over_ready_and_connects_idle() {
        let p = RoundRobin::default();
        let picks: Vec<_> =
            (0..6).map(|_| with(&[Ready, Idle, Ready, TransientFailure], |s| p.pick(s))).collect();
        assert!(picks.iter().all(|p| p.connect == vec![1]));
        let order: Vec<_> = picks.iter().map(|p| p.ready.unwrap()).collect();
        assert_eq!(order, vec![0, 2, 0, 2, 0, 2]);
        assert_eq!(with(&[Connecting, Idle], |s| p.pick(s)), Pick { ready: None, connect: vec![1] });
    }
}
