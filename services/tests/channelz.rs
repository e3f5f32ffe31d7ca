//! channelz over loopback on tokio and smol: a server carrying the admin
//! bundle and a channel registered with the same registry make OK and
//! failing calls; a second, unregistered channel asks the generated
//! channelz client for servers, server sockets, top channels, subchannels
//! and sockets, and the counts, ids, addresses, pagination and NOT_FOUND
//! answers are checked. Then the registered channel is dropped and its
//! sockets disappear.

mod runners;
use runners::{on_smol, on_tokio};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use weir_rt::runtime::Net;
use weir_rt::{Channel, Code, Endpoint, Server};
use weir_services::admin::Admin;
use weir_services::health::HealthClient;
use weir_services::pb::channelz_v1 as pb;
use weir_services::pb::channelz_v1::channel_connectivity_state::State;
use weir_services::pb::channelz_v1::channelz_client::ChannelzClient;

/// A server with the admin bundle; its address.
async fn serve<R: Net>(rt: R, admin: &Admin) -> SocketAddr {
    let bound = admin.register(Server::new(rt.clone())).bind("127.0.0.1:0".parse().unwrap()).await.unwrap();
    let addr = bound.local_addr().unwrap();
    rt.spawn(async move {
        let _ = bound.serve().await;
    });
    addr
}

/// Three OK calls and two NOT_FOUND ones (health Check).
async fn calls(channel: &Channel) {
    let health = HealthClient::new(channel.clone());
    for _ in 0..3 {
        health.check("").await.unwrap();
    }
    for _ in 0..2 {
        assert_eq!(health.check("no.Such").await.unwrap_err().code, Code::NotFound);
    }
}

fn tcp(addr: &Option<pb::Address>) -> Option<SocketAddr> {
    match addr.as_ref()?.address.as_ref()? {
        pb::address::Address::TcpipAddress(a) => {
            let ip: std::net::IpAddr = match a.ip_address.len() {
                4 => <[u8; 4]>::try_from(&a.ip_address[..]).unwrap().into(),
                16 => <[u8; 16]>::try_from(&a.ip_address[..]).unwrap().into(),
                n => panic!("{n}-byte IP address"),
            };
            Some(SocketAddr::new(ip, u16::try_from(a.port).unwrap()))
        }
        other => panic!("not TCP: {other:?}"),
    }
}

async fn socket(client: &ChannelzClient, id: i64) -> pb::Socket {
    let r = client.get_socket(pb::GetSocketRequest { socket_id: id, summary: false }).await.unwrap();
    r.into_inner().socket.expect("a socket")
}

/// `(started, succeeded, failed, sent, received)` of a socket.
fn streams(s: &pb::Socket) -> (i64, i64, i64, i64, i64) {
    let d = s.data.as_ref().unwrap();
    (d.streams_started, d.streams_succeeded, d.streams_failed, d.messages_sent, d.messages_received)
}

fn calls_of(d: &Option<pb::ChannelData>) -> (i64, i64, i64) {
    let d = d.as_ref().unwrap();
    (d.calls_started, d.calls_succeeded, d.calls_failed)
}

async fn servers_sockets_channels<R: Net + Default>(rt: R) {
    let admin = Admin::new();
    let addr = serve(rt.clone(), &admin).await;
    let target = format!("http://{addr}");
    let handler = admin.channelz().channel_handler(target.clone());
    let channel_id = handler.id();
    let channel = Endpoint::<R>::new(&target).unwrap().stats_handler(handler).connect().await.unwrap();
    calls(&channel).await;

    // The observer: its own connection, not registered with channelz.
    let client = ChannelzClient::new(Endpoint::<R>::new(&target).unwrap().connect().await.unwrap());

    // Servers: one, counting the five calls and the GetServers call running.
    let r = client.get_servers(pb::GetServersRequest::default()).await.unwrap().into_inner();
    assert!(r.end);
    let [server] = &r.server[..] else { panic!("one server: {r:?}") };
    let server_id = server.r#ref.as_ref().unwrap().server_id;
    assert!(server_id > 0);
    let data = server.data.as_ref().unwrap();
    assert_eq!((data.calls_started, data.calls_succeeded, data.calls_failed), (6, 3, 2));
    assert!(data.last_call_started_timestamp.is_some());
    let [listen] = &server.listen_socket[..] else { panic!("one listening socket: {server:?}") };
    let listening = socket(&client, listen.socket_id).await;
    assert_eq!(tcp(&listening.local), Some(addr));
    assert_eq!(tcp(&listening.remote), None);

    // GetServer: the same server, now with two more calls started.
    let one = client.get_server(pb::GetServerRequest { server_id }).await.unwrap().into_inner();
    let data = one.server.unwrap().data.unwrap();
    assert_eq!((data.calls_started, data.calls_succeeded, data.calls_failed), (8, 5, 2));

    // Server sockets: the registered channel's and the observer's, one page
    // at a time.
    let page =
        |start, max| pb::GetServerSocketsRequest { server_id, start_socket_id: start, max_results: max };
    let all = client.get_server_sockets(page(0, 0)).await.unwrap().into_inner();
    assert!(all.end);
    assert_eq!(all.socket_ref.len(), 2, "{all:?}");
    assert!(all.socket_ref[0].socket_id < all.socket_ref[1].socket_id, "ascending ids");
    let first = client.get_server_sockets(page(0, 1)).await.unwrap().into_inner();
    assert_eq!((first.socket_ref.len(), first.end), (1, false));
    assert_eq!(first.socket_ref[0], all.socket_ref[0]);
    let next = first.socket_ref[0].socket_id + 1;
    let second = client.get_server_sockets(page(next, 1)).await.unwrap().into_inner();
    assert_eq!((second.socket_ref.len(), second.end), (1, true));
    assert_eq!(second.socket_ref[0], all.socket_ref[1]);
    // The registered channel's connection, seen from the server: five
    // streams, five requests received, three responses sent.
    let mut seen = Vec::new();
    for r in &all.socket_ref {
        seen.push(socket(&client, r.socket_id).await);
    }
    let from_channel = seen.iter().find(|s| streams(s).0 == 5).expect("the channel's socket");
    assert_eq!(streams(from_channel), (5, 3, 2, 3, 5));
    assert_eq!(tcp(&from_channel.local), Some(addr));
    assert!(tcp(&from_channel.remote).unwrap().ip().is_loopback());
    let d = from_channel.data.as_ref().unwrap();
    assert!(
        d.last_remote_stream_created_timestamp.is_some() && d.last_local_stream_created_timestamp.is_none()
    );
    assert!(d.last_message_sent_timestamp.is_some() && d.last_message_received_timestamp.is_some());
    let server_side_socket = from_channel.r#ref.as_ref().unwrap().socket_id;

    // Top channels: the registered one, its calls as the application made
    // them, READY, one subchannel to the server's address.
    let r = client.get_top_channels(pb::GetTopChannelsRequest::default()).await.unwrap().into_inner();
    assert!(r.end);
    let [top] = &r.channel[..] else { panic!("one channel: {r:?}") };
    assert_eq!(top.r#ref.as_ref().unwrap().channel_id, channel_id);
    let data = top.data.as_ref().unwrap();
    assert_eq!(data.target, target);
    assert_eq!(data.state.unwrap().state, State::Ready as i32);
    assert_eq!(calls_of(&top.data), (5, 3, 2));
    let got = client.get_channel(pb::GetChannelRequest { channel_id }).await.unwrap().into_inner();
    assert_eq!(got.channel.as_ref(), Some(top));
    let [sub_ref] = &top.subchannel_ref[..] else { panic!("one subchannel: {top:?}") };
    let sub = client
        .get_subchannel(pb::GetSubchannelRequest { subchannel_id: sub_ref.subchannel_id })
        .await
        .unwrap()
        .into_inner()
        .subchannel
        .unwrap();
    assert_eq!(sub.data.as_ref().unwrap().target, addr.to_string());
    assert_eq!(calls_of(&sub.data), (5, 3, 2), "attempts");
    let [client_socket] = &sub.socket_ref[..] else { panic!("one socket: {sub:?}") };
    let client_socket_id = client_socket.socket_id;
    let seen_by_client = socket(&client, client_socket_id).await;
    assert_eq!(streams(&seen_by_client), (5, 3, 2, 5, 3));
    assert_eq!(tcp(&seen_by_client.remote), Some(addr));
    let d = seen_by_client.data.as_ref().unwrap();
    assert!(
        d.last_local_stream_created_timestamp.is_some() && d.last_remote_stream_created_timestamp.is_none()
    );

    // Ids are one sequence: every one seen is distinct.
    let mut ids = vec![server_id, listen.socket_id, channel_id, sub_ref.subchannel_id, client_socket_id];
    ids.extend(all.socket_ref.iter().map(|r| r.socket_id));
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), 7, "{ids:?}");

    // Unknown ids are NOT_FOUND; a negative page size is refused.
    let unknown = 1 << 40;
    let err = client.get_server(pb::GetServerRequest { server_id: unknown }).await.unwrap_err();
    assert_eq!(err.code, Code::NotFound, "{err}");
    let err = client.get_channel(pb::GetChannelRequest { channel_id: unknown }).await.unwrap_err();
    assert_eq!(err.code, Code::NotFound, "{err}");
    let err = client.get_subchannel(pb::GetSubchannelRequest { subchannel_id: server_id }).await.unwrap_err();
    assert_eq!(err.code, Code::NotFound, "a server's id is no subchannel's: {err}");
    let err =
        client.get_socket(pb::GetSocketRequest { socket_id: unknown, summary: true }).await.unwrap_err();
    assert_eq!(err.code, Code::NotFound, "{err}");
    let err = client
        .get_server_sockets(pb::GetServerSocketsRequest { server_id: unknown, ..page(0, 0) })
        .await
        .unwrap_err();
    assert_eq!(err.code, Code::NotFound, "{err}");
    let err =
        client.get_servers(pb::GetServersRequest { start_server_id: 0, max_results: -1 }).await.unwrap_err();
    assert_eq!(err.code, Code::InvalidArgument, "{err}");

    // The channel gone, its sockets go (on both sides) and so does it.
    drop(channel);
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let client_gone =
            client.get_socket(pb::GetSocketRequest { socket_id: client_socket_id, summary: false });
        let server_gone =
            client.get_socket(pb::GetSocketRequest { socket_id: server_side_socket, summary: false });
        let top = client.get_top_channels(pb::GetTopChannelsRequest::default()).await.unwrap().into_inner();
        if client_gone.await.is_err() && server_gone.await.is_err() && top.channel.is_empty() {
            break;
        }
        assert!(Instant::now() < deadline, "the dropped channel's sockets are still listed");
        rt.sleep_until(Instant::now() + Duration::from_millis(20)).await;
    }
    assert_eq!(admin.channelz().sockets(), 2, "the listening socket and the observer's connection");
}

/// Servers page by id; a server stops being listed when it is dropped.
async fn servers_page_and_go<R: Net + Default>(rt: R) {
    let admin = Admin::new();
    let addr = serve(rt.clone(), &admin).await;
    let second = admin.channelz().server_handler_named("second");
    let client =
        ChannelzClient::new(Endpoint::<R>::new(format!("http://{addr}")).unwrap().connect().await.unwrap());
    let page = |start, max| pb::GetServersRequest { start_server_id: start, max_results: max };
    let all = client.get_servers(page(0, 0)).await.unwrap().into_inner();
    assert!(all.end);
    let ids: Vec<i64> = all.server.iter().map(|s| s.r#ref.as_ref().unwrap().server_id).collect();
    assert_eq!(ids.len(), 2);
    assert!(ids[0] < ids[1]);
    assert_eq!(ids[1], second.id());
    assert_eq!(all.server[1].r#ref.as_ref().unwrap().name, "second");
    let first = client.get_servers(page(0, 1)).await.unwrap().into_inner();
    assert_eq!((first.server.len(), first.end), (1, false));
    let rest = client.get_servers(page(ids[0] + 1, 1)).await.unwrap().into_inner();
    assert_eq!((rest.server.len(), rest.end), (1, true));
    assert_eq!(rest.server[0].r#ref.as_ref().unwrap().server_id, ids[1]);
    let past = client.get_servers(page(ids[1] + 1, 0)).await.unwrap().into_inner();
    assert_eq!((past.server.len(), past.end), (0, true));

    drop(second);
    let err = client.get_server(pb::GetServerRequest { server_id: ids[1] }).await.unwrap_err();
    assert_eq!(err.code, Code::NotFound, "{err}");
    let all = client.get_servers(page(0, 0)).await.unwrap().into_inner();
    assert_eq!(all.server.len(), 1);
}

#[test]
fn servers_sockets_and_channels_on_tokio() {
    on_tokio(servers_sockets_channels);
}

#[test]
fn servers_sockets_and_channels_on_smol() {
    on_smol(servers_sockets_channels);
}

#[test]
fn servers_page_and_go_on_tokio() {
    on_tokio(servers_page_and_go);
}

#[test]
fn servers_page_and_go_on_smol() {
    on_smol(servers_page_and_go);
}
