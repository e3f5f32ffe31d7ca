"""grpcio-channelz's stubs (grpcio, the C core) read a Weir server's channelz.

  channelz.py PORT   the server on PORT carries the admin bundle; before this
                     runs, a Weir channel registered with the same registry
                     (target http://127.0.0.1:PORT) made 2 OK and 1 failing
                     health Check calls and stays open. This script makes its
                     own calls, then checks what channelz reports about the
                     server, its sockets, the Weir channel, its subchannel and
                     socket against the calls both made; one PASS/FAIL line
                     each, exit 0 when all pass.
"""

import ipaddress
import sys
import time

import grpc
from google.protobuf.descriptor_pool import DescriptorPool
from grpc_channelz.v1 import channelz_pb2, channelz_pb2_grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha.proto_reflection_descriptor_database import ProtoReflectionDescriptorDatabase

TIMEOUT = 10
# The Weir channel's calls (made by services/tests/python.rs).
WEIR_OK, WEIR_FAILED = 2, 1


def check(cond, what):
    if not cond:
        print(f"FAIL {what}", flush=True)
        sys.exit(1)
    print(f"PASS {what}", flush=True)


class Counted:
    """Calls made on this script's channel: OK ones and failed ones."""

    def __init__(self, channel):
        self.channelz = channelz_pb2_grpc.ChannelzStub(channel)
        self.health = health_pb2_grpc.HealthStub(channel)
        self.ok = 0
        self.failed = 0

    def call(self, method, request):
        try:
            reply = method(request, timeout=TIMEOUT)
        except grpc.RpcError:
            self.failed += 1
            raise
        self.ok += 1
        return reply

    def made(self):
        return self.ok + self.failed


def tcp(address):
    a = address.tcpip_address
    return str(ipaddress.ip_address(a.ip_address)), a.port


def recent(ts):
    return ts.seconds > 0 and abs(time.time() - ts.ToSeconds()) < 120


def main(port):
    with grpc.insecure_channel(f"127.0.0.1:{port}") as ch:
        grpc.channel_ready_future(ch).result(timeout=TIMEOUT)
        c = Counted(ch)
        for _ in range(3):
            c.call(c.health.Check, health_pb2.HealthCheckRequest(service=""))
        for _ in range(2):
            try:
                c.call(c.health.Check, health_pb2.HealthCheckRequest(service="no.Such"))
            except grpc.RpcError as e:
                assert e.code() == grpc.StatusCode.NOT_FOUND, e
        z = c.channelz

        # The server: every call of both channels, this one running (started,
        # not ended: `c.ok - 1` below, as for every call that reads counts).
        servers = c.call(z.GetServers, channelz_pb2.GetServersRequest(start_server_id=0))
        check(servers.end and len(servers.server) == 1, "GetServers lists one server")
        server = servers.server[0]
        server_id = server.ref.server_id
        d = server.data
        check(
            (d.calls_started, d.calls_succeeded, d.calls_failed)
            == (WEIR_OK + WEIR_FAILED + c.made(), WEIR_OK + c.ok - 1, WEIR_FAILED + c.failed),
            f"server call counts ({d.calls_started}, {d.calls_succeeded}, {d.calls_failed})",
        )
        check(recent(d.last_call_started_timestamp), "server last call started just now")
        check(len(server.listen_socket) == 1, "one listening socket")
        listen = c.call(z.GetSocket, channelz_pb2.GetSocketRequest(socket_id=server.listen_socket[0].socket_id))
        check(tcp(listen.socket.local) == ("127.0.0.1", port), "listening socket address")

        # Its sockets: the Weir channel's connection and this one, a page at a time.
        everything = c.call(z.GetServerSockets, channelz_pb2.GetServerSocketsRequest(server_id=server_id))
        ids = [r.socket_id for r in everything.socket_ref]
        check(everything.end and len(ids) == 2 and ids == sorted(ids), f"GetServerSockets lists 2 sockets {ids}")
        first = c.call(
            z.GetServerSockets, channelz_pb2.GetServerSocketsRequest(server_id=server_id, max_results=1)
        )
        rest = c.call(
            z.GetServerSockets,
            channelz_pb2.GetServerSocketsRequest(
                server_id=server_id, start_socket_id=first.socket_ref[0].socket_id + 1, max_results=1
            ),
        )
        check(
            [r.socket_id for r in first.socket_ref] == ids[:1] and not first.end
            and [r.socket_id for r in rest.socket_ref] == ids[1:] and rest.end,
            "GetServerSockets pages",
        )
        mine = weirs = None
        for socket_id in ids:
            s = c.call(z.GetSocket, channelz_pb2.GetSocketRequest(socket_id=socket_id)).socket
            if s.data.streams_started == WEIR_OK + WEIR_FAILED:
                weirs = s
            else:
                mine, made, ok, failed = s, c.made(), c.ok - 1, c.failed
        check(weirs is not None and mine is not None, "one socket per channel")
        # This channel's socket, read during its `made`-th call: every call
        # ended but that one; each sent one request, the OK ones got one
        # response.
        d = mine.data
        check(
            (d.streams_started, d.streams_succeeded, d.streams_failed) == (made, ok, failed),
            f"our socket's streams ({d.streams_started}, {d.streams_succeeded}, {d.streams_failed})",
        )
        check(
            (d.messages_received, d.messages_sent) == (made - 1, ok),
            f"our socket's messages (received {d.messages_received}, sent {d.messages_sent})",
        )
        check(
            recent(d.last_remote_stream_created_timestamp) and recent(d.last_message_received_timestamp),
            "our socket's timestamps",
        )
        check(tcp(mine.local) == ("127.0.0.1", port) and tcp(mine.remote)[0] == "127.0.0.1", "our socket's addresses")
        d = weirs.data
        check(
            (d.streams_started, d.streams_succeeded, d.streams_failed, d.messages_received, d.messages_sent)
            == (3, WEIR_OK, WEIR_FAILED, 3, WEIR_OK),
            "the Weir channel's socket, seen by the server",
        )

        # The Weir channel, its subchannel and its socket.
        top = c.call(z.GetTopChannels, channelz_pb2.GetTopChannelsRequest(start_channel_id=0))
        check(top.end and len(top.channel) == 1, "GetTopChannels lists the Weir channel")
        channel = top.channel[0]
        d = channel.data
        check(d.target == f"http://127.0.0.1:{port}", f"channel target {d.target}")
        check(d.state.state == channelz_pb2.ChannelConnectivityState.READY, "channel READY")
        check((d.calls_started, d.calls_succeeded, d.calls_failed) == (3, WEIR_OK, WEIR_FAILED), "channel calls")
        got = c.call(z.GetChannel, channelz_pb2.GetChannelRequest(channel_id=channel.ref.channel_id))
        check(got.channel.ref == channel.ref, "GetChannel")
        check(len(channel.subchannel_ref) == 1, "one subchannel")
        sub = c.call(
            z.GetSubchannel,
            channelz_pb2.GetSubchannelRequest(subchannel_id=channel.subchannel_ref[0].subchannel_id),
        ).subchannel
        d = sub.data
        check(
            d.target == f"127.0.0.1:{port}" and (d.calls_started, d.calls_succeeded, d.calls_failed) == (3, 2, 1),
            "subchannel target and attempts",
        )
        check(len(sub.socket_ref) == 1, "one subchannel socket")
        s = c.call(z.GetSocket, channelz_pb2.GetSocketRequest(socket_id=sub.socket_ref[0].socket_id)).socket
        d = s.data
        check(
            (d.streams_started, d.streams_succeeded, d.streams_failed, d.messages_sent, d.messages_received)
            == (3, WEIR_OK, WEIR_FAILED, 3, WEIR_OK)
            and recent(d.last_local_stream_created_timestamp),
            "the Weir channel's socket, seen by the channel",
        )
        check(tcp(s.remote) == ("127.0.0.1", port), "client socket's remote address")

        # Unknown ids.
        for method, request in [
            (z.GetServer, channelz_pb2.GetServerRequest(server_id=1 << 40)),
            (z.GetChannel, channelz_pb2.GetChannelRequest(channel_id=1 << 40)),
            (z.GetSubchannel, channelz_pb2.GetSubchannelRequest(subchannel_id=server_id)),
            (z.GetSocket, channelz_pb2.GetSocketRequest(socket_id=1 << 40)),
        ]:
            try:
                c.call(method, request)
                check(False, f"{request.DESCRIPTOR.name} of an unknown id")
            except grpc.RpcError as e:
                check(e.code() == grpc.StatusCode.NOT_FOUND, f"{request.DESCRIPTOR.name} of an unknown id is NOT_FOUND")

        # GetServer at the end: the totals still add up.
        d = c.call(z.GetServer, channelz_pb2.GetServerRequest(server_id=server_id)).server.data
        check(
            (d.calls_started, d.calls_succeeded, d.calls_failed)
            == (WEIR_OK + WEIR_FAILED + c.made(), WEIR_OK + c.ok - 1, WEIR_FAILED + c.failed),
            f"server call counts at the end ({d.calls_started}, {d.calls_succeeded}, {d.calls_failed})",
        )

    # Reflection (the admin bundle's) describes channelz with its imports.
    with grpc.insecure_channel(f"127.0.0.1:{port}") as ch:
        pool = DescriptorPool(ProtoReflectionDescriptorDatabase(ch))
        svc = pool.FindServiceByName("grpc.channelz.v1.Channelz")
        check(len(svc.methods) == 7, "reflection describes grpc.channelz.v1.Channelz")
        ts = pool.FindMessageTypeByName("grpc.channelz.v1.ServerData").fields_by_name["last_call_started_timestamp"]
        check(ts.message_type.full_name == "google.protobuf.Timestamp", "with its well-known imports")
    print("OK", flush=True)


if __name__ == "__main__":
    main(int(sys.argv[1]))
