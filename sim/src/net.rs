//! The simulated network: hosts with addresses, links with latency, jitter,
//! loss and bandwidth, partitions, crashes, and TCP-like streams between
//! them (ordered and reliable: a lost segment is retransmitted, which shows
//! as delay, as in TCP).

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::io::{self, IoSlice};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, Weak};
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use bytes::{Buf, Bytes, BytesMut};
use weir_rt::runtime::{Io, Listener, PeerInfo};

use crate::HostId;
use crate::world::World;

/// How one direction between two hosts behaves.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Link {
    /// One-way delay.
    pub latency: Duration,
    /// Up to this much more, uniformly at random per segment.
    pub jitter: Duration,
    /// Probability that a segment is lost; TCP retransmits it after `rto`
    /// (doubling each time it is lost again), so loss shows as delay.
    pub loss: f64,
    /// The retransmission timeout of a lost segment.
    pub rto: Duration,
    /// Octets per second (`None`: unlimited).
    pub bandwidth: Option<u64>,
}

impl Link {
    fn check(&self) {
        assert!(
            (0.0..1.0).contains(&self.loss),
            "loss must be in [0, 1): a link that loses everything is a partition"
        );
    }
}

impl Default for Link {
    /// 1 ms one way, no jitter, no loss, RTO 200 ms (Linux's minimum).
    fn default() -> Self {
        Link {
            latency: Duration::from_millis(1),
            jitter: Duration::ZERO,
            loss: 0.0,
            rto: Duration::from_millis(200),
            bandwidth: None,
        }
    }
}

pub(crate) struct Host {
    pub(crate) name: String,
    pub(crate) ip: IpAddr,
    pub(crate) up: bool,
    next_port: u16,
}

/// Everything the network knows.
#[derive(Default)]
pub(crate) struct Network {
    pub(crate) hosts: Vec<Host>,
    default_link: Link,
    links: BTreeMap<(HostId, HostId), Link>,
    partitions: BTreeSet<(HostId, HostId)>,
    listeners: BTreeMap<SocketAddr, Arc<Mutex<Backlog>>>,
    /// Every pipe ever opened that still lives (for heals and crashes).
    pipes: Vec<Weak<Pipe>>,
}

impl Network {
    pub(crate) fn add_host(&mut self, name: &str) -> HostId {
        let n = self.hosts.len();
        let ip = IpAddr::V4(Ipv4Addr::new(10, 0, (n / 250) as u8, (n % 250 + 1) as u8));
        self.hosts.push(Host { name: name.into(), ip, up: true, next_port: 40_000 });
        HostId(n)
    }

    pub(crate) fn host_of(&self, ip: IpAddr) -> Option<HostId> {
        self.hosts.iter().position(|h| h.ip == ip).map(HostId)
    }

    pub(crate) fn set_default_link(&mut self, link: Link) {
        link.check();
        self.default_link = link;
    }

    pub(crate) fn set_link(&mut self, a: HostId, b: HostId, link: Link) {
        link.check();
        self.links.insert((a, b), link);
        self.links.insert((b, a), link);
    }

    fn link(&self, from: HostId, to: HostId) -> Link {
        self.links.get(&(from, to)).copied().unwrap_or(self.default_link)
    }

    fn pair(a: HostId, b: HostId) -> (HostId, HostId) {
        if a <= b { (a, b) } else { (b, a) }
    }

    pub(crate) fn partitioned(&self, a: HostId, b: HostId) -> bool {
        a != b && self.partitions.contains(&Self::pair(a, b))
    }

    pub(crate) fn partition(&mut self, a: HostId, b: HostId) {
        self.partitions.insert(Self::pair(a, b));
    }

    /// Heals a partition; returns the live pipes (to wake them).
    pub(crate) fn heal(&mut self, a: HostId, b: HostId) -> Vec<Arc<Pipe>> {
        self.partitions.remove(&Self::pair(a, b));
        self.live_pipes()
    }

    fn live_pipes(&mut self) -> Vec<Arc<Pipe>> {
        self.pipes.retain(|p| p.strong_count() > 0);
        self.pipes.iter().filter_map(Weak::upgrade).collect()
    }

    /// Takes a host down: its listeners go, and every pipe from it stops
    /// sending (nothing more leaves it, not even a FIN) while pipes to it
    /// swallow what is written. Returns the pipes to wake.
    pub(crate) fn crash(&mut self, host: HostId) -> Vec<Arc<Pipe>> {
        self.hosts[host.0].up = false;
        let ip = self.hosts[host.0].ip;
        self.listeners.retain(|addr, _| addr.ip() != ip);
        let pipes = self.live_pipes();
        for p in &pipes {
            let mut s = p.state();
            if s.from == host {
                s.frozen = true;
                s.in_flight.clear();
            }
            if s.to == host {
                s.black_hole = true;
            }
        }
        pipes
    }

    /// Brings a host back. Connections from before its crash are reset:
    /// the peer's next read or write fails, as a fresh stack's RST makes it.
    pub(crate) fn restart(&mut self, host: HostId) -> Vec<Arc<Pipe>> {
        self.hosts[host.0].up = true;
        let pipes = self.live_pipes();
        for p in &pipes {
            let mut s = p.state();
            if (s.to == host && s.black_hole) || (s.from == host && s.frozen) {
                s.reset = true;
            }
        }
        pipes
    }
}

/// What travels one direction of a connection.
enum Segment {
    Data(Bytes),
    /// The writer closed its side.
    Fin,
    /// The reader's end is gone: the answer to data sent to it.
    Rst,
}

/// One direction of a connection.
pub(crate) struct Pipe {
    state: Mutex<PipeState>,
}

struct PipeState {
    from: HostId,
    to: HostId,
    /// Segments on the wire, with the time each arrives.
    in_flight: VecDeque<(Duration, Segment)>,
    /// Arrived, not yet read.
    ready: BytesMut,
    /// When the last segment arrives (order is kept: a later segment never
    /// overtakes an earlier one), and when the link is free to send again.
    last_arrival: Duration,
    busy_until: Duration,
    /// The writer closed its side (a FIN is on its way): no more writes.
    fin_sent: bool,
    /// The FIN arrived: reads end once `ready` is empty.
    fin_received: bool,
    /// The reader is gone: what is written here is answered by a RST.
    reader_gone: bool,
    /// The sending host crashed: nothing more arrives, no FIN either.
    frozen: bool,
    /// The receiving host crashed: writes are accepted and lost.
    black_hole: bool,
    /// A crashed host came back, or a RST arrived: the connection is reset.
    reset: bool,
    /// A RST answered data sent to a closed reader already.
    rst_sent: bool,
    reader: Option<Waker>,
    writer: Option<Waker>,
    /// The timed wake set for the reader, if any.
    timer: Option<(Duration, u64)>,
}

/// Octets one direction holds (in flight and unread) before writes wait.
const PIPE_CAPACITY: usize = 4 << 20;

impl Pipe {
    fn new(from: HostId, to: HostId) -> Arc<Pipe> {
        Arc::new(Pipe {
            state: Mutex::new(PipeState {
                from,
                to,
                in_flight: VecDeque::new(),
                ready: BytesMut::new(),
                last_arrival: Duration::ZERO,
                busy_until: Duration::ZERO,
                fin_sent: false,
                fin_received: false,
                reader_gone: false,
                frozen: false,
                black_hole: false,
                reset: false,
                rst_sent: false,
                reader: None,
                writer: None,
                timer: None,
            }),
        })
    }

    fn state(&self) -> MutexGuard<'_, PipeState> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Wakes whoever waits on this pipe (a heal, a crash).
    pub(crate) fn wake_all(&self) {
        let (r, w) = {
            let mut s = self.state();
            (s.reader.take(), s.writer.take())
        };
        r.into_iter().chain(w).for_each(Waker::wake);
    }
}

/// One end of a simulated TCP connection.
pub(crate) struct SimStream {
    world: Arc<World>,
    rx: Arc<Pipe>,
    tx: Arc<Pipe>,
    label: String,
}

impl SimStream {
    /// A connection between `a` (at `a_addr`) and `b` (at `b_addr`): the
    /// two ends, registered with the network.
    fn pair(world: &Arc<World>, a: (HostId, SocketAddr), b: (HostId, SocketAddr)) -> (SimStream, SimStream) {
        let ab = Pipe::new(a.0, b.0);
        let ba = Pipe::new(b.0, a.0);
        {
            let mut net = world.net();
            net.pipes.push(Arc::downgrade(&ab));
            net.pipes.push(Arc::downgrade(&ba));
        }
        let end = |rx: &Arc<Pipe>, tx: &Arc<Pipe>, me: SocketAddr, peer: SocketAddr| SimStream {
            world: world.clone(),
            rx: rx.clone(),
            tx: tx.clone(),
            label: format!("{me}->{peer}"),
        };
        (end(&ba, &ab, a.1, b.1), end(&ab, &ba, b.1, a.1))
    }
}

impl Io for SimStream {
    fn poll_read_buf(&mut self, cx: &mut Context<'_>, buf: &mut bytes::BytesMut) -> Poll<io::Result<usize>> {
        let now = self.world.elapsed();
        let (from, to) = {
            let s = self.rx.state();
            (s.from, s.to)
        };
        let partitioned = self.world.net().partitioned(from, to);
        let mut s = self.rx.state();
        if let Some(key) = s.timer.take() {
            self.world.cancel(key);
        }
        if s.reset {
            return Poll::Ready(Err(io::ErrorKind::ConnectionReset.into()));
        }
        if !partitioned && !s.frozen {
            while s.in_flight.front().is_some_and(|(at, _)| *at <= now) {
                match s.in_flight.pop_front().expect("front").1 {
                    Segment::Data(seg) => s.ready.extend_from_slice(&seg),
                    Segment::Fin => s.fin_received = true,
                    Segment::Rst => s.reset = true,
                }
            }
        }
        if !s.ready.is_empty() && !s.reset {
            if buf.capacity() == buf.len() {
                buf.reserve(8 << 10);
            }
            let n = s.ready.len().min(buf.capacity() - buf.len());
            buf.extend_from_slice(&s.ready[..n]);
            s.ready.advance(n);
            let writer = s.writer.take();
            drop(s);
            if let Some(w) = writer {
                w.wake();
            }
            return Poll::Ready(Ok(n));
        }
        if s.reset {
            return Poll::Ready(Err(io::ErrorKind::ConnectionReset.into()));
        }
        if s.fin_received {
            return Poll::Ready(Ok(0));
        }
        s.reader = Some(cx.waker().clone());
        // The next segment's arrival wakes us (a heal does, while partitioned).
        if !partitioned
            && !s.frozen
            && let Some(&(at, _)) = s.in_flight.front()
        {
            let id = self.world.clock().id();
            s.timer = Some(self.world.wake_at(self.world.at(at), id, cx.waker()));
        }
        Poll::Pending
    }

    fn poll_write_vectored(&mut self, cx: &mut Context<'_>, bufs: &[IoSlice<'_>]) -> Poll<io::Result<usize>> {
        let len: usize = bufs.iter().map(|b| b.len()).sum();
        let (from, to) = {
            let s = self.tx.state();
            (s.from, s.to)
        };
        let (link, back) = {
            let net = self.world.net();
            (net.link(from, to), net.link(to, from))
        };
        let now = self.world.elapsed();
        if self.rx.state().reset || self.tx.state().reset {
            return Poll::Ready(Err(io::ErrorKind::ConnectionReset.into()));
        }
        let mut s = self.tx.state();
        if s.fin_sent {
            return Poll::Ready(Err(io::ErrorKind::BrokenPipe.into()));
        }
        if s.reader_gone {
            // The data reaches a closed socket, whose RST comes back.
            let rst_sent = std::mem::replace(&mut s.rst_sent, true);
            drop(s);
            if !rst_sent {
                self.arrive(&self.rx, now + link.latency + back.latency, Segment::Rst);
            }
            return Poll::Ready(Ok(len));
        }
        if s.black_hole || s.frozen {
            drop(s);
            self.world.log(format_args!("{} {len} B, lost (host down)", self.label));
            return Poll::Ready(Ok(len));
        }
        let held: usize = s.ready.len()
            + s.in_flight
                .iter()
                .map(|(_, seg)| if let Segment::Data(b) = seg { b.len() } else { 0 })
                .sum::<usize>();
        if held >= PIPE_CAPACITY {
            s.writer = Some(cx.waker().clone());
            return Poll::Pending;
        }
        let n = len.min(PIPE_CAPACITY - held);
        let mut seg = BytesMut::with_capacity(n);
        for b in bufs {
            let take = b.len().min(n - seg.len());
            seg.extend_from_slice(&b[..take]);
        }
        // Serialization on the link, then latency, jitter and retransmissions.
        let start = now.max(s.busy_until);
        let wire =
            link.bandwidth.map_or(Duration::ZERO, |bw| Duration::from_secs_f64(n as f64 / bw.max(1) as f64));
        s.busy_until = start + wire;
        let mut delay = link.latency;
        {
            let mut rng = self.world.rng();
            if !link.jitter.is_zero() {
                delay += link.jitter.mul_f64(rng.unit());
            }
            // Each loss costs a retransmission timeout, doubling up to
            // Linux's 120 s, for at most 15 retransmissions (tcp_retries2).
            let mut rto = link.rto;
            for _ in 0..15 {
                if rng.unit() >= link.loss {
                    break;
                }
                delay += rto;
                rto = rto.saturating_mul(2).min(Duration::from_secs(120));
            }
        }
        let arrival = (s.busy_until + delay).max(s.last_arrival);
        s.last_arrival = arrival;
        s.in_flight.push_back((arrival, Segment::Data(seg.freeze())));
        let reader = s.reader.take();
        drop(s);
        self.world.log(format_args!("{} {n} B, arrives at {:.6}", self.label, arrival.as_secs_f64()));
        if let Some(r) = reader {
            r.wake();
        }
        Poll::Ready(Ok(n))
    }

    fn poll_flush(&mut self, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(&mut self, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.close_write();
        Poll::Ready(Ok(()))
    }
}

impl SimStream {
    /// Puts `segment` on `pipe`, arriving at `at` (never before what is
    /// already on its way), and wakes its reader.
    fn arrive(&self, pipe: &Pipe, at: Duration, segment: Segment) {
        let reader = {
            let mut s = pipe.state();
            if s.frozen {
                return;
            }
            let at = at.max(s.last_arrival);
            s.last_arrival = at;
            s.in_flight.push_back((at, segment));
            s.reader.take()
        };
        if let Some(r) = reader {
            r.wake();
        }
    }

    fn close_write(&self) {
        let (from, to) = {
            let mut s = self.tx.state();
            if s.fin_sent || s.frozen {
                return;
            }
            s.fin_sent = true;
            (s.from, s.to)
        };
        let latency = self.world.net().link(from, to).latency;
        self.world.log(format_args!("{} FIN", self.label));
        self.arrive(&self.tx, self.world.elapsed() + latency, Segment::Fin);
    }
}

impl Drop for SimStream {
    fn drop(&mut self) {
        self.close_write();
        let writer = {
            let mut s = self.rx.state();
            // A crashed host's sockets vanish without a word.
            s.reader_gone = !s.black_hole;
            if let Some(key) = s.timer.take() {
                self.world.cancel(key);
            }
            s.writer.take()
        };
        if let Some(w) = writer {
            w.wake();
        }
    }
}

/// Connections waiting to be accepted.
#[derive(Default)]
pub(crate) struct Backlog {
    queue: VecDeque<(SimStream, SocketAddr)>,
    waker: Option<Waker>,
}

/// A listening socket of a host.
pub(crate) struct SimListener {
    world: Arc<World>,
    addr: SocketAddr,
    backlog: Arc<Mutex<Backlog>>,
}

impl SimListener {
    /// Binds `addr` (its IP replaced by `host`'s; port 0 picks one).
    pub(crate) fn bind(world: &Arc<World>, host: HostId, addr: SocketAddr) -> io::Result<SimListener> {
        let mut net = world.net();
        let h = &mut net.hosts[host.0];
        let port = match addr.port() {
            0 => {
                h.next_port += 1;
                h.next_port
            }
            p => p,
        };
        let addr = SocketAddr::new(h.ip, port);
        if net.listeners.contains_key(&addr) {
            return Err(io::ErrorKind::AddrInUse.into());
        }
        let backlog = Arc::new(Mutex::new(Backlog::default()));
        net.listeners.insert(addr, backlog.clone());
        drop(net);
        world.log(format_args!("{addr} listening"));
        Ok(SimListener { world: world.clone(), addr, backlog })
    }
}

impl Drop for SimListener {
    fn drop(&mut self) {
        let mut net = self.world.net();
        if net.listeners.get(&self.addr).is_some_and(|b| Arc::ptr_eq(b, &self.backlog)) {
            net.listeners.remove(&self.addr);
        }
    }
}

impl Listener for SimListener {
    fn accept(&mut self) -> weir_rt::runtime::BoxFuture<'_, io::Result<(Box<dyn Io>, PeerInfo)>> {
        Box::pin(std::future::poll_fn(move |cx| {
            let mut b = self.backlog.lock().unwrap_or_else(PoisonError::into_inner);
            match b.queue.pop_front() {
                Some((stream, peer)) => Poll::Ready(Ok((
                    Box::new(stream) as Box<dyn Io>,
                    PeerInfo { addr: Some(peer), ..PeerInfo::default() },
                ))),
                None => {
                    b.waker = Some(cx.waker().clone());
                    Poll::Pending
                }
            }
        }))
    }

    fn local_addr(&self) -> Option<SocketAddr> {
        Some(self.addr)
    }
}

/// Linux's SYN retransmissions: 1 s after the first SYN, doubling, six times
/// (`tcp_syn_retries`), then `ETIMEDOUT`.
const SYN_RETRIES: u32 = 6;

/// Connects from `host` to `addr`: established after a round trip; refused
/// after one if nothing listens. A SYN to a host that is down or cut off
/// goes unanswered and is sent again as Linux does (1 s, 2 s, 4 s...), so a
/// host that comes back, or a partition that heals, answers a later one.
pub(crate) async fn connect(world: Arc<World>, host: HostId, addr: SocketAddr) -> io::Result<SimStream> {
    let (target, rtt, local) = {
        let mut net = world.net();
        let target = net.host_of(addr.ip());
        let rtt = target.map_or(Duration::ZERO, |t| net.link(host, t).latency + net.link(t, host).latency);
        let h = &mut net.hosts[host.0];
        h.next_port = h.next_port.wrapping_add(1).max(40_000);
        (target, rtt, SocketAddr::new(h.ip, h.next_port))
    };
    world.log(format_args!("{local} connect {addr}"));
    let Some(target) = target else {
        return Err(io::Error::new(io::ErrorKind::HostUnreachable, format!("no host at {}", addr.ip())));
    };
    let first = world.now();
    let mut rto = Duration::from_secs(1);
    let mut next_syn = first + rto;
    let backlog = loop {
        crate::rt::sleep(&world, world.now() + rtt).await;
        let (up, partitioned, backlog) = {
            let net = world.net();
            (net.hosts[target.0].up, net.partitioned(host, target), net.listeners.get(&addr).cloned())
        };
        if up && !partitioned {
            break backlog;
        }
        if next_syn >= first + Duration::from_secs((1 << (SYN_RETRIES + 1)) - 1) {
            world.log(format_args!("{local} connect {addr}: timed out"));
            return Err(io::ErrorKind::TimedOut.into());
        }
        world.log(format_args!("{local} connect {addr}: no answer"));
        crate::rt::sleep(&world, next_syn).await;
        rto *= 2;
        next_syn += rto;
        world.log(format_args!("{local} connect {addr}: SYN again"));
    };
    let Some(backlog) = backlog else {
        world.log(format_args!("{local} connect {addr}: refused"));
        return Err(io::ErrorKind::ConnectionRefused.into());
    };
    let (mine, theirs) = SimStream::pair(&world, (host, local), (target, addr));
    let waker = {
        let mut b = backlog.lock().unwrap_or_else(PoisonError::into_inner);
        b.queue.push_back((theirs, local));
        b.waker.take()
    };
    world.log(format_args!("{local} connected {addr}"));
    if let Some(w) = waker {
        w.wake();
    }
    Ok(mine)
}
