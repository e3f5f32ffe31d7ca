//! What the registry keeps: one node per server, channel, subchannel and
//! socket, with atomic counters the stats callbacks update without the
//! registry's lock, and the tables the queries read.

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, RwLock, RwLockReadGuard, RwLockWriteGuard, Weak};
use std::time::{SystemTime, UNIX_EPOCH};

use weir_rt::Channel;
use weir_rt::stats::Side;

/// Idle subchannels (no open socket) a channel keeps; past it the one idle
/// the longest is forgotten when a new address appears.
pub(crate) const IDLE_SUBCHANNELS_KEPT: usize = 32;

pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

pub(crate) fn read<T>(m: &RwLock<T>) -> RwLockReadGuard<'_, T> {
    m.read().unwrap_or_else(|p| p.into_inner())
}

pub(crate) fn write<T>(m: &RwLock<T>) -> RwLockWriteGuard<'_, T> {
    m.write().unwrap_or_else(|p| p.into_inner())
}

/// Now, in nanoseconds since the Unix epoch (what the atomics store; 0 is
/// "never").
pub(crate) fn now_nanos() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(1, |d| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX))
}

/// A timestamp stored by [`now_nanos`], `None` when never set.
pub(crate) fn timestamp(nanos: i64) -> Option<prost_types::Timestamp> {
    (nanos != 0).then(|| prost_types::Timestamp {
        seconds: nanos.div_euclid(1_000_000_000),
        nanos: nanos.rem_euclid(1_000_000_000) as i32,
    })
}

/// Calls (or streams) started, succeeded and failed, and when the last one
/// started.
#[derive(Debug, Default)]
pub(crate) struct Calls {
    pub started: AtomicI64,
    pub succeeded: AtomicI64,
    pub failed: AtomicI64,
    pub last_started: AtomicI64,
}

impl Calls {
    pub fn start(&self, now: i64) {
        self.started.fetch_add(1, Ordering::Relaxed);
        self.last_started.fetch_max(now, Ordering::Relaxed);
    }

    pub fn end(&self, ok: bool) {
        let counter = if ok { &self.succeeded } else { &self.failed };
        counter.fetch_add(1, Ordering::Relaxed);
    }

    /// `(started, succeeded, failed, last started)`.
    pub fn get(&self) -> (i64, i64, i64, i64) {
        (
            self.started.load(Ordering::Relaxed),
            self.succeeded.load(Ordering::Relaxed),
            self.failed.load(Ordering::Relaxed),
            self.last_started.load(Ordering::Relaxed),
        )
    }
}

/// A connection (or, with `side` `None`, a listening socket).
#[derive(Debug)]
pub(crate) struct SocketNode {
    pub id: i64,
    /// `None`: a server's listening socket.
    pub side: Option<Side>,
    pub local: Option<SocketAddr>,
    pub remote: Option<SocketAddr>,
    pub streams: Calls,
    pub messages_sent: AtomicI64,
    pub messages_received: AtomicI64,
    pub last_message_sent: AtomicI64,
    pub last_message_received: AtomicI64,
}

impl SocketNode {
    pub fn new(id: i64, side: Option<Side>, local: Option<SocketAddr>, remote: Option<SocketAddr>) -> Self {
        SocketNode {
            id,
            side,
            local,
            remote,
            streams: Calls::default(),
            messages_sent: AtomicI64::new(0),
            messages_received: AtomicI64::new(0),
            last_message_sent: AtomicI64::new(0),
            last_message_received: AtomicI64::new(0),
        }
    }

    /// A stream ended having sent and received this many messages.
    pub fn end_stream(&self, ok: bool, sent: u64, received: u64, now: i64) {
        self.streams.end(ok);
        if sent > 0 {
            self.messages_sent.fetch_add(clamp(sent), Ordering::Relaxed);
            self.last_message_sent.fetch_max(now, Ordering::Relaxed);
        }
        if received > 0 {
            self.messages_received.fetch_add(clamp(received), Ordering::Relaxed);
            self.last_message_received.fetch_max(now, Ordering::Relaxed);
        }
    }

    /// How the socket is named in refs: its remote address (a listening
    /// socket: its local one).
    pub fn name(&self) -> String {
        match (self.side, self.remote, self.local) {
            (Some(_), Some(remote), _) => remote.to_string(),
            (None, _, Some(local)) => format!("listening on {local}"),
            _ => String::new(),
        }
    }
}

fn clamp(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

/// A server's sockets: its connections by [`weir_rt::stats::ConnInfo::id`]
/// and the addresses it listens on.
#[derive(Debug, Default)]
pub(crate) struct ServerSockets {
    pub by_conn: HashMap<u64, Arc<SocketNode>>,
    pub listen: Vec<Arc<SocketNode>>,
}

#[derive(Debug)]
pub(crate) struct ServerNode {
    pub id: i64,
    pub name: String,
    pub created: i64,
    pub calls: Calls,
    pub sockets: RwLock<ServerSockets>,
}

/// A channel's connections and the subchannels (backend addresses) they go to.
#[derive(Debug, Default)]
pub(crate) struct ChannelConns {
    pub subchannels: Vec<Arc<SubchannelNode>>,
    /// Every open connection of the channel, tracked socket or not (the
    /// channel's own connections: bounded by what it dials).
    pub by_conn: HashMap<u64, (Option<Arc<SocketNode>>, Arc<SubchannelNode>)>,
}

#[derive(Debug)]
pub(crate) struct ChannelNode {
    pub id: i64,
    pub target: String,
    pub created: i64,
    /// Calls as the application made them.
    pub calls: Calls,
    /// The last call failed UNAVAILABLE (the state without a watched channel).
    pub last_unavailable: AtomicBool,
    /// The channel whose state is reported, while its watch lives.
    pub watched: Mutex<Weak<Channel>>,
    pub conns: RwLock<ChannelConns>,
}

#[derive(Debug)]
pub(crate) struct SubchannelNode {
    pub id: i64,
    pub addr: Option<SocketAddr>,
    pub target: String,
    pub created: i64,
    /// Attempts (streams) sent to this address.
    pub calls: Calls,
    /// Connections open to it.
    pub open: AtomicU64,
    /// When its last connection opened or closed (eviction order).
    pub last_active: AtomicI64,
    /// Its tracked sockets, by id.
    pub sockets: Mutex<BTreeMap<i64, Arc<SocketNode>>>,
}

/// Everything the queries can find, by id.
#[derive(Debug, Default)]
pub(crate) struct Tables {
    pub servers: BTreeMap<i64, Arc<ServerNode>>,
    pub channels: BTreeMap<i64, Arc<ChannelNode>>,
    pub subchannels: BTreeMap<i64, Arc<SubchannelNode>>,
    pub sockets: BTreeMap<i64, Arc<SocketNode>>,
}

/// The shared state behind a `Channelz`. Lock order: a node's own lock
/// (`ServerNode::sockets`, `ChannelNode::conns`, then
/// `SubchannelNode::sockets`) before `tables`, never the other way.
#[derive(Debug)]
pub(crate) struct Registry {
    next_id: AtomicI64,
    pub max_sockets: usize,
    /// Sockets not tracked because `max_sockets` were.
    pub untracked: AtomicU64,
    pub tables: Mutex<Tables>,
}

impl Registry {
    pub fn new(max_sockets: usize) -> Self {
        Registry {
            next_id: AtomicI64::new(1),
            max_sockets,
            untracked: AtomicU64::new(0),
            tables: Mutex::default(),
        }
    }

    /// A fresh id (positive, never reused: one sequence for every kind, as
    /// gRPC's own implementations do).
    pub fn next_id(&self) -> i64 {
        self.next_id.fetch_add(1, Ordering::Relaxed)
    }

    /// Tracks a new socket, unless `max_sockets` already are.
    pub fn add_socket(
        &self,
        side: Option<Side>,
        local: Option<SocketAddr>,
        remote: Option<SocketAddr>,
    ) -> Option<Arc<SocketNode>> {
        let mut tables = lock(&self.tables);
        if tables.sockets.len() >= self.max_sockets {
            drop(tables);
            self.untracked.fetch_add(1, Ordering::Relaxed);
            return None;
        }
        let node = Arc::new(SocketNode::new(self.next_id(), side, local, remote));
        tables.sockets.insert(node.id, node.clone());
        Some(node)
    }

    pub fn remove_sockets(&self, ids: impl IntoIterator<Item = i64>) {
        let mut tables = lock(&self.tables);
        for id in ids {
            tables.sockets.remove(&id);
        }
    }
}
