"""Python grpcio peer for Weir's integration tests (no generated code: the
test service works on raw bytes, like the Rust side's byte-level router).

  peer.py server       serves /test.Test/* on 127.0.0.1, prints "LISTENING <port>",
                       stops when stdin closes
  peer.py client PORT  calls every method of a Weir server, exits 0 when all pass
"""

import struct
import sys
from concurrent import futures

import grpc

SERVICE = "test.Test"


def unary(request, context):
    return request


def server_stream(request, context):
    count, size = struct.unpack(">II", request)
    for _ in range(count):
        yield b"\xab" * size


def client_stream(request_iterator, context):
    total = sum(len(m) for m in request_iterator)
    return struct.pack(">Q", total)


def bidi(request_iterator, context):
    for m in request_iterator:
        yield m


def serve():
    # Responses are deflate-compressed (Weir's client advertises deflate).
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=8), compression=grpc.Compression.Deflate)
    handlers = {
        "Unary": grpc.unary_unary_rpc_method_handler(unary),
        "ServerStream": grpc.unary_stream_rpc_method_handler(server_stream),
        "ClientStream": grpc.stream_unary_rpc_method_handler(client_stream),
        "Bidi": grpc.stream_stream_rpc_method_handler(bidi),
    }
    server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler(SERVICE, handlers),))
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    print(f"LISTENING {port}", flush=True)
    sys.stdin.read()
    server.stop(grace=1)


def check(cond, what):
    if not cond:
        print(f"FAIL {what}", flush=True)
        sys.exit(1)
    print(f"PASS {what}", flush=True)


def client(port):
    with grpc.insecure_channel(f"127.0.0.1:{port}") as ch:
        grpc.channel_ready_future(ch).result(timeout=10)
        u = ch.unary_unary(f"/{SERVICE}/Unary")
        check(u(b"hello from python", timeout=10) == b"hello from python", "unary")
        big = bytes(range(256)) * 4096
        check(u(big, timeout=10) == big, "unary 1 MiB")
        check(u(big, timeout=10, compression=grpc.Compression.Gzip) == big, "unary, gzip request")
        check(u(big, timeout=10, compression=grpc.Compression.Deflate) == big, "unary, deflate request")

        ss = ch.unary_stream(f"/{SERVICE}/ServerStream")
        got = list(ss(struct.pack(">II", 20, 1000), timeout=10))
        check(len(got) == 20 and all(m == b"\xab" * 1000 for m in got), "server streaming")

        cs = ch.stream_unary(f"/{SERVICE}/ClientStream")
        total = struct.unpack(">Q", cs(iter([b"x" * 100] * 50), timeout=10))[0]
        check(total == 5000, "client streaming")

        bd = ch.stream_stream(f"/{SERVICE}/Bidi")
        msgs = [bytes([i]) * (i + 1) for i in range(30)]
        check(list(bd(iter(msgs), timeout=10)) == msgs, "bidi streaming")

        try:
            ch.unary_unary("/test.Test/Missing")(b"", timeout=10)
            check(False, "unimplemented method")
        except grpc.RpcError as e:
            check(e.code() == grpc.StatusCode.UNIMPLEMENTED, "unimplemented method")
    print("OK", flush=True)


if __name__ == "__main__":
    if sys.argv[1] == "server":
        serve()
    else:
        client(int(sys.argv[2]))
