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

#[cfg(test)]
mod tests {
    use super::ConnectivityState::*;
    use super::*;

    fn with<T>(states: &[ConnectivityState], f: impl FnOnce(&[Subchannel<'_>]) -> T) -> T {
        let addrs: Vec<Address> =
            (0..states.len()).map(|i| Address::Tcp(([127, 0, 0, 1], 1000 + i as u16).into())).collect();
        let subs: Vec<Subchannel<'_>> =
            addrs.iter().zip(states).map(|(address, &state)| Subchannel { address, state }).collect();
        f(&subs)
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
