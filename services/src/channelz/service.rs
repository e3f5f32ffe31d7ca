//! The `grpc.channelz.v1.Channelz` service: the registry's nodes as the
//! proto's messages, paginated as the proto documents (`start_*_id`
//! inclusive, `max_results`, `end`).

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use weir_rt::stats::Side;
use weir_rt::{Code, ConnectivityState, Request, Response, Status};

use super::nodes::{ChannelNode, Registry, ServerNode, SocketNode, SubchannelNode, lock, read, timestamp};
use crate::pb::channelz_v1 as pb;
use pb::channel_connectivity_state::State;

/// Results per page when the request does not say (`max_results` 0).
pub const DEFAULT_PAGE: usize = 100;

/// Results per page at most, whatever the request asks.
pub const MAX_PAGE: usize = 1000;

/// The `grpc.channelz.v1.Channelz` implementation; made by
/// [`Channelz::service`](super::Channelz::service). Lists come in pages of
/// [`DEFAULT_PAGE`] results when `max_results` is 0, at most [`MAX_PAGE`]
/// whatever it asks (a negative one is INVALID_ARGUMENT); GetSocket's
/// `summary` changes nothing (every field reported is cheap).
pub struct ChannelzService {
    pub(super) registry: Arc<Registry>,
}

impl std::fmt::Debug for ChannelzService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChannelzService").finish_non_exhaustive()
    }
}

fn page_size(max_results: i64) -> Result<usize, Status> {
    match max_results {
        0 => Ok(DEFAULT_PAGE),
        n if n < 0 => Err(Status::new(Code::InvalidArgument, "max_results must not be negative")),
        n => Ok(usize::try_from(n).unwrap_or(MAX_PAGE).min(MAX_PAGE)),
    }
}

/// The entries of `map` from id `start` on, at most `max_results` of them,
/// and whether they are the last.
fn page<T: Clone>(map: &BTreeMap<i64, T>, start: i64, max_results: i64) -> Result<(Vec<T>, bool), Status> {
    let size = page_size(max_results)?;
    let mut entries = map.range(start.max(0)..).map(|(_, v)| v.clone());
    let page: Vec<T> = entries.by_ref().take(size).collect();
    Ok((page, entries.next().is_none()))
}

fn not_found(what: &str, id: i64) -> Status {
    Status::new(Code::NotFound, format!("no {what} with id {id}"))
}

/// The entity `id` of one table (`what` names its kind for NOT_FOUND).
fn find<T>(table: &BTreeMap<i64, Arc<T>>, what: &str, id: i64) -> Result<Arc<T>, Status> {
    table.get(&id).cloned().ok_or_else(|| not_found(what, id))
}

fn trace(created: i64) -> Option<pb::ChannelTrace> {
    Some(pb::ChannelTrace { creation_timestamp: timestamp(created), ..Default::default() })
}

fn address(addr: Option<SocketAddr>) -> Option<pb::Address> {
    let addr = addr?;
    let ip_address = match addr {
        SocketAddr::V4(a) => a.ip().octets().to_vec(),
        SocketAddr::V6(a) => a.ip().octets().to_vec(),
    };
    Some(pb::Address {
        address: Some(pb::address::Address::TcpipAddress(pb::address::TcpIpAddress {
            ip_address,
            port: i32::from(addr.port()),
        })),
    })
}

fn socket_ref(s: &SocketNode) -> pb::SocketRef {
    pb::SocketRef { socket_id: s.id, name: s.name() }
}

fn socket(s: &SocketNode) -> pb::Socket {
    let (started, succeeded, failed, last_started) = s.streams.get();
    let (local_stream, remote_stream) = match s.side {
        Some(Side::Client) => (timestamp(last_started), None),
        Some(Side::Server) => (None, timestamp(last_started)),
        None => (None, None),
    };
    pb::Socket {
        r#ref: Some(socket_ref(s)),
        data: Some(pb::SocketData {
            streams_started: started,
            streams_succeeded: succeeded,
            streams_failed: failed,
            messages_sent: s.messages_sent.load(Ordering::Relaxed),
            messages_received: s.messages_received.load(Ordering::Relaxed),
            last_local_stream_created_timestamp: local_stream,
            last_remote_stream_created_timestamp: remote_stream,
            last_message_sent_timestamp: timestamp(s.last_message_sent.load(Ordering::Relaxed)),
            last_message_received_timestamp: timestamp(s.last_message_received.load(Ordering::Relaxed)),
            ..Default::default()
        }),
        local: address(s.local),
        remote: address(s.remote),
        security: None,
        remote_name: String::new(),
    }
}

fn server(s: &ServerNode) -> pb::Server {
    let (started, succeeded, failed, last_started) = s.calls.get();
    let mut listen: Vec<pb::SocketRef> = read(&s.sockets).listen.iter().map(|l| socket_ref(l)).collect();
    listen.sort_by_key(|r| r.socket_id);
    pb::Server {
        r#ref: Some(pb::ServerRef { server_id: s.id, name: s.name.clone() }),
        data: Some(pb::ServerData {
            trace: trace(s.created),
            calls_started: started,
            calls_succeeded: succeeded,
            calls_failed: failed,
            last_call_started_timestamp: timestamp(last_started),
        }),
        listen_socket: listen,
    }
}

fn state(s: State) -> Option<pb::ChannelConnectivityState> {
    Some(pb::ChannelConnectivityState { state: s as i32 })
}

fn channel_state(c: &ChannelNode) -> State {
    let watched = lock(&c.watched).upgrade();
    if let Some(channel) = watched {
        return match channel.state(false) {
            ConnectivityState::Idle => State::Idle,
            ConnectivityState::Connecting => State::Connecting,
            ConnectivityState::Ready => State::Ready,
            ConnectivityState::TransientFailure => State::TransientFailure,
        };
    }
    if !read(&c.conns).by_conn.is_empty() {
        State::Ready
    } else if c.last_unavailable.load(Ordering::Relaxed) {
        State::TransientFailure
    } else {
        State::Idle
    }
}

fn channel(c: &ChannelNode) -> pb::Channel {
    let (started, succeeded, failed, last_started) = c.calls.get();
    let mut subchannels: Vec<pb::SubchannelRef> = read(&c.conns)
        .subchannels
        .iter()
        .map(|s| pb::SubchannelRef { subchannel_id: s.id, name: s.target.clone() })
        .collect();
    subchannels.sort_by_key(|r| r.subchannel_id);
    pb::Channel {
        r#ref: Some(pb::ChannelRef { channel_id: c.id, name: c.target.clone() }),
        data: Some(pb::ChannelData {
            state: state(channel_state(c)),
            target: c.target.clone(),
            trace: trace(c.created),
            calls_started: started,
            calls_succeeded: succeeded,
            calls_failed: failed,
            last_call_started_timestamp: timestamp(last_started),
            max_connections_per_subchannel: 0,
        }),
        channel_ref: Vec::new(),
        subchannel_ref: subchannels,
        socket_ref: Vec::new(),
    }
}

fn subchannel(s: &SubchannelNode) -> pb::Subchannel {
    let (started, succeeded, failed, last_started) = s.calls.get();
    let open = s.open.load(Ordering::Relaxed) > 0;
    pb::Subchannel {
        r#ref: Some(pb::SubchannelRef { subchannel_id: s.id, name: s.target.clone() }),
        data: Some(pb::ChannelData {
            state: state(if open { State::Ready } else { State::Idle }),
            target: s.target.clone(),
            trace: trace(s.created),
            calls_started: started,
            calls_succeeded: succeeded,
            calls_failed: failed,
            last_call_started_timestamp: timestamp(last_started),
            max_connections_per_subchannel: 0,
        }),
        channel_ref: Vec::new(),
        subchannel_ref: Vec::new(),
        socket_ref: lock(&s.sockets).values().map(|s| socket_ref(s)).collect(),
    }
}

impl ChannelzService {
    fn tables(&self) -> std::sync::MutexGuard<'_, super::nodes::Tables> {
        lock(&self.registry.tables)
    }
}

impl pb::channelz_server::Channelz for ChannelzService {
    async fn get_top_channels(
        &self,
        request: Request<pb::GetTopChannelsRequest>,
    ) -> Result<Response<pb::GetTopChannelsResponse>, Status> {
        let r = request.into_inner();
        let (nodes, end) = page(&self.tables().channels, r.start_channel_id, r.max_results)?;
        Ok(Response::new(pb::GetTopChannelsResponse {
            channel: nodes.iter().map(|c| channel(c)).collect(),
            end,
        }))
    }

    async fn get_servers(
        &self,
        request: Request<pb::GetServersRequest>,
    ) -> Result<Response<pb::GetServersResponse>, Status> {
        let r = request.into_inner();
        let (nodes, end) = page(&self.tables().servers, r.start_server_id, r.max_results)?;
        Ok(Response::new(pb::GetServersResponse { server: nodes.iter().map(|s| server(s)).collect(), end }))
    }

    async fn get_server(
        &self,
        request: Request<pb::GetServerRequest>,
    ) -> Result<Response<pb::GetServerResponse>, Status> {
        let id = request.into_inner().server_id;
        let node = find(&self.tables().servers, "server", id)?;
        Ok(Response::new(pb::GetServerResponse { server: Some(server(&node)) }))
    }

    async fn get_server_sockets(
        &self,
        request: Request<pb::GetServerSocketsRequest>,
    ) -> Result<Response<pb::GetServerSocketsResponse>, Status> {
        let r = request.into_inner();
        let node = find(&self.tables().servers, "server", r.server_id)?;
        let sockets: BTreeMap<i64, Arc<SocketNode>> =
            read(&node.sockets).by_conn.values().map(|s| (s.id, s.clone())).collect();
        let (sockets, end) = page(&sockets, r.start_socket_id, r.max_results)?;
        Ok(Response::new(pb::GetServerSocketsResponse {
            socket_ref: sockets.iter().map(|s| socket_ref(s)).collect(),
            end,
        }))
    }

    async fn get_channel(
        &self,
        request: Request<pb::GetChannelRequest>,
    ) -> Result<Response<pb::GetChannelResponse>, Status> {
        let id = request.into_inner().channel_id;
        let node = find(&self.tables().channels, "channel", id)?;
        Ok(Response::new(pb::GetChannelResponse { channel: Some(channel(&node)) }))
    }

    async fn get_subchannel(
        &self,
        request: Request<pb::GetSubchannelRequest>,
    ) -> Result<Response<pb::GetSubchannelResponse>, Status> {
        let id = request.into_inner().subchannel_id;
        let node = find(&self.tables().subchannels, "subchannel", id)?;
        Ok(Response::new(pb::GetSubchannelResponse { subchannel: Some(subchannel(&node)) }))
    }

    async fn get_socket(
        &self,
        request: Request<pb::GetSocketRequest>,
    ) -> Result<Response<pb::GetSocketResponse>, Status> {
        let id = request.into_inner().socket_id;
        let node = find(&self.tables().sockets, "socket", id)?;
        Ok(Response::new(pb::GetSocketResponse { socket: Some(socket(&node)) }))
    }
}
