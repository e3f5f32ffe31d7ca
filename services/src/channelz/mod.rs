//! channelz v1 (`grpc.channelz.v1.Channelz`, gRFC A14): what a process's
//! servers and channels are doing, read at run time by grpcdebug, grpcio's
//! and gRPC-Go's channelz clients, or grpcurl.
//!
//! A [`Channelz`] registry learns everything from Weir's stats hook
//! ([`weir_rt::stats`]): register [`Channelz::server_handler`] on a server
//! and [`Channelz::channel_handler`] on a channel's endpoint, and serve
//! [`Channelz::service`]. It reports:
//!
//! - **servers**: calls started, succeeded (OK) and failed (any other
//!   status), the last call's start, the listening sockets (the addresses
//!   connections arrived on, or those given to
//!   [`ServerHandler::add_listen_address`]);
//! - **server sockets** (one per open connection): streams started,
//!   succeeded and failed, messages sent and received, when the last stream
//!   was created and the last message sent and received, local and remote
//!   addresses;
//! - **top channels** (one per channel handler): the target, calls as the
//!   application made them, the connectivity state, and one **subchannel**
//!   per backend address connected to, each with its attempts and sockets.
//!
//! What the stats hook does not tell is left unset: message counts grow when
//! a call ends (not per message), so a stream in progress shows its messages
//! once it ends; a stream "succeeded" when its status was OK; keepalive
//! counts, flow-control windows, socket options, TLS details and channel
//! trace events are absent; a client socket has no local address. A
//! channel's state is READY while it has a connection open, otherwise
//! TRANSIENT_FAILURE when its last call failed UNAVAILABLE, otherwise IDLE,
//! unless [`ChannelHandler::watch`] hands it the channel to ask.
//!
//! Ids are positive and never reused (one sequence for every kind). A
//! server or channel is listed for as long as its handler lives (the server
//! or channel holds it), a socket while its connection is open: closed
//! sockets are forgotten at once, and at most
//! [`DEFAULT_MAX_SOCKETS`] sockets are tracked
//! ([`Channelz::with_max_sockets`]); past it new connections are served and
//! counted in their server's or channel's totals but get no socket of their
//! own ([`Channelz::untracked_sockets`]). A channel keeps at most 32
//! subchannels with no connection open (the one idle the longest goes when
//! a new address comes).
//!
//! ```no_run
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! use weir_services::channelz::Channelz;
//! let channelz = Channelz::new();
//! let server = weir_tokio::Server::builder()
//!     .stats_handler(channelz.server_handler())
//!     .add_service(channelz.service());
//! let channel = weir_tokio::Endpoint::new("http://backend:50051")?
//!     .stats_handler(channelz.channel_handler("http://backend:50051"))
//!     .connect()
//!     .await?;
//! # let _ = (server, channel); Ok(()) }
//! ```

mod nodes;
mod service;

use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex, RwLock, Weak};

use weir_rt::Channel;
use weir_rt::Code;
use weir_rt::stats::{CallEnd, CallMeta, ClientCall, ClientCallEnd, ConnEnd, ConnInfo, StatsHandler};

use crate::pb::channelz_v1::channelz_server::ChannelzServer;
use nodes::{
    ChannelConns, ChannelNode, IDLE_SUBCHANNELS_KEPT, Registry, ServerNode, SubchannelNode, lock, now_nanos,
    read, write,
};
pub use service::{ChannelzService, DEFAULT_PAGE, MAX_PAGE};

/// Sockets a [`Channelz`] tracks at most by default (the default
/// `Server::max_connections`).
pub const DEFAULT_MAX_SOCKETS: usize = 10_000;

/// The channelz registry: hands out the stats handlers that feed it and the
/// service that reads it. Cheap to clone; clones share the registry.
#[derive(Clone, Debug)]
pub struct Channelz {
    registry: Arc<Registry>,
}

impl Default for Channelz {
    fn default() -> Self {
        Channelz::new()
    }
}

impl Channelz {
    /// An empty registry tracking at most [`DEFAULT_MAX_SOCKETS`] sockets.
    pub fn new() -> Self {
        Channelz::with_max_sockets(DEFAULT_MAX_SOCKETS)
    }

    /// An empty registry tracking at most `max` sockets (connections and
    /// listening sockets together).
    pub fn with_max_sockets(max: usize) -> Self {
        Channelz { registry: Arc::new(Registry::new(max)) }
    }

    /// A new server entity, and the stats handler that feeds it: register
    /// it with `Server::stats_handler`. The server is listed until the
    /// handler is dropped (with the server, once its connections closed).
    pub fn server_handler(&self) -> Arc<ServerHandler> {
        self.server_handler_named("")
    }

    /// [`Channelz::server_handler`], with a name shown in its `ServerRef`.
    pub fn server_handler_named(&self, name: impl Into<String>) -> Arc<ServerHandler> {
        let node = Arc::new(ServerNode {
            id: self.registry.next_id(),
            name: name.into(),
            created: now_nanos(),
            calls: Default::default(),
            sockets: RwLock::default(),
        });
        lock(&self.registry.tables).servers.insert(node.id, node.clone());
        Arc::new(ServerHandler { registry: self.registry.clone(), node })
    }

    /// A new top-level channel to `target`, and the stats handler that
    /// feeds it: register it with `Endpoint::stats_handler`. The channel is
    /// listed until the handler is dropped (with the channel and its
    /// connections).
    pub fn channel_handler(&self, target: impl Into<String>) -> Arc<ChannelHandler> {
        let node = Arc::new(ChannelNode {
            id: self.registry.next_id(),
            target: target.into(),
            created: now_nanos(),
            calls: Default::default(),
            last_unavailable: Default::default(),
            watched: Mutex::new(Weak::new()),
            conns: RwLock::default(),
        });
        lock(&self.registry.tables).channels.insert(node.id, node.clone());
        Arc::new(ChannelHandler { registry: self.registry.clone(), node })
    }

    /// The `grpc.channelz.v1.Channelz` service over this registry.
    pub fn service(&self) -> ChannelzServer<ChannelzService> {
        ChannelzServer::new(ChannelzService { registry: self.registry.clone() })
    }

    /// Sockets tracked now.
    pub fn sockets(&self) -> usize {
        lock(&self.registry.tables).sockets.len()
    }

    /// Sockets never tracked because the limit was reached.
    pub fn untracked_sockets(&self) -> u64 {
        self.registry.untracked.load(Ordering::Relaxed)
    }
}

/// Feeds one server entity of a [`Channelz`]; made by
/// [`Channelz::server_handler`]. Dropping it removes the server and its
/// sockets.
#[derive(Debug)]
pub struct ServerHandler {
    registry: Arc<Registry>,
    node: Arc<ServerNode>,
}

impl ServerHandler {
    /// The server's channelz id.
    pub fn id(&self) -> i64 {
        self.node.id
    }

    /// Lists `addr` among the server's listening sockets now (they are
    /// otherwise learnt from the connections that arrive). Returns the
    /// socket's id; `None` when the socket limit is reached.
    pub fn add_listen_address(&self, addr: SocketAddr) -> Option<i64> {
        let mut sockets = write(&self.node.sockets);
        if let Some(s) = sockets.listen.iter().find(|s| s.local == Some(addr)) {
            return Some(s.id);
        }
        let socket = self.registry.add_socket(None, Some(addr), None)?;
        sockets.listen.push(socket.clone());
        Some(socket.id)
    }

    fn socket(&self, conn: u64) -> Option<Arc<nodes::SocketNode>> {
        read(&self.node.sockets).by_conn.get(&conn).cloned()
    }
}

impl StatsHandler for ServerHandler {
    fn conn_open(&self, conn: &ConnInfo) {
        if let Some(local) = conn.local {
            let known = read(&self.node.sockets).listen.iter().any(|s| s.local == Some(local));
            if !known {
                self.add_listen_address(local);
            }
        }
        if let Some(socket) = self.registry.add_socket(Some(conn.side), conn.local, conn.peer) {
            write(&self.node.sockets).by_conn.insert(conn.id, socket);
        }
    }

    fn conn_close(&self, conn: &ConnInfo, _: &ConnEnd) {
        let removed = write(&self.node.sockets).by_conn.remove(&conn.id);
        if let Some(socket) = removed {
            self.registry.remove_sockets([socket.id]);
        }
    }

    fn call_start(&self, call: &CallMeta<'_>) {
        let now = now_nanos();
        self.node.calls.start(now);
        if let Some(socket) = self.socket(call.conn) {
            socket.streams.start(now);
        }
    }

    fn call_end(&self, call: &CallMeta<'_>, end: &CallEnd) {
        let ok = end.code == Code::Ok;
        self.node.calls.end(ok);
        if let Some(socket) = self.socket(call.conn) {
            socket.end_stream(ok, end.response_messages, end.request_messages, now_nanos());
        }
    }
}

impl Drop for ServerHandler {
    fn drop(&mut self) {
        let sockets = std::mem::take(&mut *write(&self.node.sockets));
        let ids = sockets.by_conn.values().chain(&sockets.listen).map(|s| s.id);
        let mut tables = lock(&self.registry.tables);
        tables.servers.remove(&self.node.id);
        for id in ids {
            tables.sockets.remove(&id);
        }
    }
}

/// Feeds one top-level channel of a [`Channelz`]; made by
/// [`Channelz::channel_handler`]. Dropping it removes the channel, its
/// subchannels and their sockets.
#[derive(Debug)]
pub struct ChannelHandler {
    registry: Arc<Registry>,
    node: Arc<ChannelNode>,
}

/// Keeps a channel's connectivity state reported; made by
/// [`ChannelHandler::watch`]. Holds a clone of the channel: drop it with
/// the channel (the state is then inferred from connections again).
#[derive(Debug)]
#[must_use = "the state is reported only while the watch lives"]
pub struct ChannelWatch {
    _channel: Arc<Channel>,
}

impl ChannelHandler {
    /// The channel's channelz id.
    pub fn id(&self) -> i64 {
        self.node.id
    }

    /// Reports `channel`'s own connectivity state (IDLE, CONNECTING, READY,
    /// TRANSIENT_FAILURE) while the returned watch lives. The handler cannot
    /// hold the channel itself: the channel holds the handler, and neither
    /// would ever be dropped.
    pub fn watch(&self, channel: &Channel) -> ChannelWatch {
        let channel = Arc::new(channel.clone());
        *lock(&self.node.watched) = Arc::downgrade(&channel);
        ChannelWatch { _channel: channel }
    }

    /// The subchannel for `addr`, made (and an idle one forgotten, past
    /// [`IDLE_SUBCHANNELS_KEPT`]) if needed.
    fn subchannel(&self, conns: &mut ChannelConns, addr: Option<SocketAddr>) -> Arc<SubchannelNode> {
        if let Some(sub) = conns.subchannels.iter().find(|s| s.addr == addr) {
            return sub.clone();
        }
        let idle = conns.subchannels.iter().filter(|s| s.open.load(Ordering::Relaxed) == 0).count();
        if idle >= IDLE_SUBCHANNELS_KEPT
            && let Some(oldest) = conns
                .subchannels
                .iter()
                .filter(|s| s.open.load(Ordering::Relaxed) == 0)
                .min_by_key(|s| s.last_active.load(Ordering::Relaxed))
                .map(|s| s.id)
        {
            conns.subchannels.retain(|s| s.id != oldest);
            lock(&self.registry.tables).subchannels.remove(&oldest);
        }
        let now = now_nanos();
        let sub = Arc::new(SubchannelNode {
            id: self.registry.next_id(),
            addr,
            target: addr.map_or_else(|| self.node.target.clone(), |a| a.to_string()),
            created: now,
            calls: Default::default(),
            open: Default::default(),
            last_active: now.into(),
            sockets: Mutex::default(),
        });
        conns.subchannels.push(sub.clone());
        lock(&self.registry.tables).subchannels.insert(sub.id, sub.clone());
        sub
    }

    /// The socket (when tracked) and subchannel of connection `conn`.
    fn attempt_of(&self, conn: u64) -> Option<(Option<Arc<nodes::SocketNode>>, Arc<SubchannelNode>)> {
        read(&self.node.conns).by_conn.get(&conn).cloned()
    }
}

impl StatsHandler for ChannelHandler {
    fn conn_open(&self, conn: &ConnInfo) {
        let mut conns = write(&self.node.conns);
        let sub = self.subchannel(&mut conns, conn.peer);
        sub.open.fetch_add(1, Ordering::Relaxed);
        sub.last_active.store(now_nanos(), Ordering::Relaxed);
        let socket = self.registry.add_socket(Some(conn.side), conn.local, conn.peer);
        if let Some(socket) = &socket {
            lock(&sub.sockets).insert(socket.id, socket.clone());
        }
        conns.by_conn.insert(conn.id, (socket, sub));
        self.node.last_unavailable.store(false, Ordering::Relaxed);
    }

    fn conn_close(&self, conn: &ConnInfo, _: &ConnEnd) {
        let conns = &mut *write(&self.node.conns);
        let Some((socket, sub)) = conns.by_conn.remove(&conn.id) else { return };
        sub.open.fetch_sub(1, Ordering::Relaxed);
        sub.last_active.store(now_nanos(), Ordering::Relaxed);
        if let Some(socket) = socket {
            lock(&sub.sockets).remove(&socket.id);
            self.registry.remove_sockets([socket.id]);
        }
    }

    fn call_start(&self, call: &CallMeta<'_>) {
        let Some((socket, sub)) = self.attempt_of(call.conn) else { return };
        let now = now_nanos();
        sub.calls.start(now);
        if let Some(socket) = socket {
            socket.streams.start(now);
        }
    }

    fn call_end(&self, call: &CallMeta<'_>, end: &CallEnd) {
        let Some((socket, sub)) = self.attempt_of(call.conn) else { return };
        let ok = end.code == Code::Ok;
        sub.calls.end(ok);
        if let Some(socket) = socket {
            socket.end_stream(ok, end.request_messages, end.response_messages, now_nanos());
        }
    }

    fn client_call_start(&self, _: &ClientCall<'_>) {
        self.node.calls.start(now_nanos());
    }

    fn client_call_end(&self, _: &ClientCall<'_>, end: &ClientCallEnd) {
        self.node.calls.end(end.code == Code::Ok);
        self.node.last_unavailable.store(end.code == Code::Unavailable, Ordering::Relaxed);
    }
}

impl Drop for ChannelHandler {
    fn drop(&mut self) {
        let conns = std::mem::take(&mut *write(&self.node.conns));
        let sockets: Vec<i64> =
            conns.by_conn.values().filter_map(|(s, _)| s.as_ref().map(|s| s.id)).collect();
        let mut tables = lock(&self.registry.tables);
        tables.channels.remove(&self.node.id);
        for sub in &conns.subchannels {
            tables.subchannels.remove(&sub.id);
        }
        for id in sockets {
            tables.sockets.remove(&id);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use weir_rt::stats::Side;

    use super::*;

    fn conn(id: u64, side: Side, peer: u16, local: Option<u16>) -> ConnInfo {
        let at = |port| SocketAddr::from(([127, 0, 0, 1], port));
        ConnInfo { side, peer: Some(at(peer)), local: local.map(at), id }
    }

    fn end() -> ConnEnd {
        ConnEnd { duration: Duration::ZERO, calls: 0, data_sent: 0, data_received: 0, error: None }
    }

    fn call(side: Side, conn: u64) -> CallMeta<'static> {
        CallMeta { side, method: "/a.B/C", peer: None, conn, target: None }
    }

    fn ended(code: Code, requests: u64, responses: u64) -> CallEnd {
        CallEnd {
            code,
            request_messages: requests,
            request_bytes: 0,
            response_messages: responses,
            response_bytes: 0,
            request_wire_bytes: 0,
            response_wire_bytes: 0,
            latency: Duration::ZERO,
        }
    }

    #[test]
    fn sockets_past_the_limit_are_not_tracked_but_their_calls_count() {
        let channelz = Channelz::with_max_sockets(3);
        let server = channelz.server_handler();
        for id in 1..=5 {
            server.conn_open(&conn(id, Side::Server, 40_000 + id as u16, Some(50_051)));
        }
        // The listening socket and two connections.
        assert_eq!((channelz.sockets(), channelz.untracked_sockets()), (3, 3));
        for id in 1..=5 {
            server.call_start(&call(Side::Server, id));
            server.call_end(&call(Side::Server, id), &ended(Code::Ok, 1, 1));
        }
        assert_eq!(server.node.calls.get().0, 5, "untracked connections' calls count too");
        let tracked: i64 = read(&server.node.sockets).by_conn.values().map(|s| s.streams.get().0).sum();
        assert_eq!(tracked, 2);
        // Closing frees room: the next connection is tracked.
        server.conn_close(&conn(1, Side::Server, 40_001, Some(50_051)), &end());
        server.conn_open(&conn(6, Side::Server, 40_006, Some(50_051)));
        assert_eq!((channelz.sockets(), channelz.untracked_sockets()), (3, 3));
    }

    #[test]
    fn connection_churn_leaves_nothing_behind() {
        let channelz = Channelz::new();
        let server = channelz.server_handler();
        let channel = channelz.channel_handler("dns:///backends");
        for id in 0..2_000u64 {
            let port = 1 + (id % 500) as u16;
            server.conn_open(&conn(id, Side::Server, port, Some(50_051)));
            channel.conn_open(&conn(10_000 + id, Side::Client, port, None));
            channel.call_start(&call(Side::Client, 10_000 + id));
            channel.call_end(&call(Side::Client, 10_000 + id), &ended(Code::Unavailable, 1, 0));
            server.conn_close(&conn(id, Side::Server, port, Some(50_051)), &end());
            channel.conn_close(&conn(10_000 + id, Side::Client, port, None), &end());
        }
        assert_eq!(channelz.sockets(), 1, "only the listening socket");
        let subchannels = lock(&channelz.registry.tables).subchannels.len();
        assert_eq!(subchannels, IDLE_SUBCHANNELS_KEPT, "idle subchannels beyond the limit are forgotten");
        assert_eq!(read(&channel.node.conns).subchannels.len(), IDLE_SUBCHANNELS_KEPT);
        drop((server, channel));
        let tables = lock(&channelz.registry.tables);
        assert!(tables.servers.is_empty() && tables.channels.is_empty());
        assert!(tables.subchannels.is_empty() && tables.sockets.is_empty());
    }

    #[test]
    fn busy_subchannels_are_kept_and_counted_per_address() {
        let channelz = Channelz::new();
        let channel = channelz.channel_handler("ipv4:127.0.0.1:1,127.0.0.1:2");
        channel.conn_open(&conn(1, Side::Client, 1, None));
        channel.conn_open(&conn(2, Side::Client, 2, None));
        channel.conn_open(&conn(3, Side::Client, 1, None));
        for (conn, code) in [(1, Code::Ok), (2, Code::Ok), (3, Code::Internal)] {
            channel.call_start(&call(Side::Client, conn));
            channel.call_end(&call(Side::Client, conn), &ended(code, 2, 1));
        }
        let conns = read(&channel.node.conns);
        let counts: Vec<_> = conns
            .subchannels
            .iter()
            .map(|s| {
                let (started, succeeded, failed, _) = s.calls.get();
                (s.target.as_str(), started, succeeded, failed)
            })
            .collect();
        assert_eq!(counts, [("127.0.0.1:1", 2, 1, 1), ("127.0.0.1:2", 1, 1, 0)]);
        assert_eq!(lock(&conns.subchannels[0].sockets).len(), 2);
        let socket = conns.by_conn[&3].0.clone().unwrap();
        assert_eq!(socket.streams.get().2, 1);
        assert_eq!(socket.messages_sent.load(Ordering::Relaxed), 2, "requests are sent by a client");
        assert_eq!(socket.messages_received.load(Ordering::Relaxed), 1);
    }
}
