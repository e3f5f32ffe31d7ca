#!/usr/bin/env python3
"""grpc.testing.TestService on grpcio, the Python peer of Weir's interop tests.

    interop_server.py --port N [--use_tls[=true|false]]

Prints ``interop server listening on 127.0.0.1:<port>`` (flushed) once it
serves.  ``--port 0`` picks a free port.  TLS uses interop/certs/server1.*.

Semantics follow grpc/grpc doc/interop-test-descriptions.md ("Server"):
EmptyCall, UnaryCall, CacheableUnaryCall, StreamingOutputCall,
StreamingInputCall, FullDuplexCall, HalfDuplexCall, echo status, echo
metadata, interval_us, CompressedRequest and CompressedResponse.
UnimplementedCall is deliberately not registered (UNIMPLEMENTED).

CompressedRequest (``expect_compressed``): the server runs with
``grpc.per_message_decompression=0`` and so sees each request exactly as it
arrived; see interop_common for why that observes the per-message compressed
flag.  As in the C++ reference server: expected compressed but not →
INVALID_ARGUMENT; not expected but compressed → INVALID_ARGUMENT.
"""

import argparse
import os
import signal
import sys
import threading
import time
from concurrent import futures

import grpc

sys.dont_write_bytecode = True  # keep __pycache__ out of the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import interop_common as common  # noqa: E402  pylint: disable=wrong-import-position

empty_pb2, messages_pb2 = common.load_protos()

SERVICE = "grpc.testing.TestService"
INITIAL_KEY = "x-grpc-test-echo-initial"
TRAILING_KEY = "x-grpc-test-echo-trailing-bin"
CODES = {s.value[0]: s for s in grpc.StatusCode}


def _echo_metadata(context):
    """Echoes x-grpc-test-echo-initial / -trailing-bin; call after set_compression."""
    initial, trailing = [], []
    for key, value in context.invocation_metadata():
        if key == INITIAL_KEY:
            initial.append((key, value))
        elif key == TRAILING_KEY:
            trailing.append((key, value))
    if initial:
        context.send_initial_metadata(initial)
    if trailing:
        context.set_trailing_metadata(trailing)


def _maybe_echo_status(request, context):
    """Ends the call with request.response_status when it is set and not OK."""
    if request.HasField("response_status") and request.response_status.code != 0:
        code = CODES.get(request.response_status.code, grpc.StatusCode.UNKNOWN)
        context.abort(code, request.response_status.message)


def _check_compression(received, expect_compressed, context):
    if expect_compressed and not received.compressed:
        context.abort(
            grpc.StatusCode.INVALID_ARGUMENT,
            "Expected compressed request but the message's compressed flag was not set",
        )
    if not expect_compressed and received.compressed:
        context.abort(
            grpc.StatusCode.INVALID_ARGUMENT,
            "Did not expect compression but the message's compressed flag was set",
        )


def _payload(size):
    return messages_pb2.Payload(type=messages_pb2.COMPRESSABLE, body=b"\x00" * size)


def _sleep_us(interval_us):
    if interval_us > 0:
        time.sleep(interval_us / 1e6)


def _stream_response(params):
    _sleep_us(params.interval_us)
    return messages_pb2.StreamingOutputCallResponse(payload=_payload(params.size))


class TestService:
    """The handlers; requests arrive as common.Received."""

    def EmptyCall(self, received, context):  # pylint: disable=invalid-name
        del received
        _echo_metadata(context)
        return empty_pb2.Empty()

    def UnaryCall(self, received, context):  # pylint: disable=invalid-name
        req = received.msg
        if req.response_compressed.value:
            context.set_compression(grpc.Compression.Gzip)
        _echo_metadata(context)
        _check_compression(received, req.expect_compressed.value, context)
        _maybe_echo_status(req, context)
        return messages_pb2.SimpleResponse(payload=_payload(req.response_size))

    def CacheableUnaryCall(self, received, context):  # pylint: disable=invalid-name
        del received
        context.send_initial_metadata((("cache-control", "max-age=60, public"),))
        body = str(time.time_ns()).encode()
        return messages_pb2.SimpleResponse(
            payload=messages_pb2.Payload(type=messages_pb2.COMPRESSABLE, body=body)
        )

    def StreamingOutputCall(self, received, context):  # pylint: disable=invalid-name
        req = received.msg
        any_compressed = any(p.compressed.value for p in req.response_parameters)
        if any_compressed:
            context.set_compression(grpc.Compression.Gzip)
        _echo_metadata(context)
        for params in req.response_parameters:
            response = _stream_response(params)
            if any_compressed and not params.compressed.value:
                context.disable_next_message_compression()
            yield response
        _maybe_echo_status(req, context)

    def StreamingInputCall(self, request_iterator, context):  # pylint: disable=invalid-name
        _echo_metadata(context)
        total = 0
        for received in request_iterator:
            _check_compression(received, received.msg.expect_compressed.value, context)
            total += len(received.msg.payload.body)
        return messages_pb2.StreamingInputCallResponse(aggregated_payload_size=total)

    def FullDuplexCall(self, request_iterator, context):  # pylint: disable=invalid-name
        _echo_metadata(context)
        for received in request_iterator:
            _maybe_echo_status(received.msg, context)
            for params in received.msg.response_parameters:
                yield _stream_response(params)

    def HalfDuplexCall(self, request_iterator, context):  # pylint: disable=invalid-name
        _echo_metadata(context)
        requests = [received.msg for received in request_iterator]
        for req in requests:
            _maybe_echo_status(req, context)
            for params in req.response_parameters:
                yield _stream_response(params)


def _handler():
    svc = TestService()
    ser = lambda m: m.SerializeToString()  # noqa: E731
    de = common.deserializer
    return grpc.method_handlers_generic_handler(
        SERVICE,
        {
            "EmptyCall": grpc.unary_unary_rpc_method_handler(
                svc.EmptyCall, request_deserializer=de(empty_pb2.Empty), response_serializer=ser
            ),
            "UnaryCall": grpc.unary_unary_rpc_method_handler(
                svc.UnaryCall,
                request_deserializer=de(messages_pb2.SimpleRequest),
                response_serializer=ser,
            ),
            "CacheableUnaryCall": grpc.unary_unary_rpc_method_handler(
                svc.CacheableUnaryCall,
                request_deserializer=de(messages_pb2.SimpleRequest),
                response_serializer=ser,
            ),
            "StreamingOutputCall": grpc.unary_stream_rpc_method_handler(
                svc.StreamingOutputCall,
                request_deserializer=de(messages_pb2.StreamingOutputCallRequest),
                response_serializer=ser,
            ),
            "StreamingInputCall": grpc.stream_unary_rpc_method_handler(
                svc.StreamingInputCall,
                request_deserializer=de(messages_pb2.StreamingInputCallRequest),
                response_serializer=ser,
            ),
            "FullDuplexCall": grpc.stream_stream_rpc_method_handler(
                svc.FullDuplexCall,
                request_deserializer=de(messages_pb2.StreamingOutputCallRequest),
                response_serializer=ser,
            ),
            "HalfDuplexCall": grpc.stream_stream_rpc_method_handler(
                svc.HalfDuplexCall,
                request_deserializer=de(messages_pb2.StreamingOutputCallRequest),
                response_serializer=ser,
            ),
            # UnimplementedCall: deliberately absent.
        },
    )


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=0, help="port (0 = pick a free one)")
    common.add_bool_flag(parser, "use_tls", "serve TLS with interop/certs/server1.*")
    args = parser.parse_args(argv)

    server = grpc.server(
        futures.ThreadPoolExecutor(max_workers=64),
        options=[common.NO_DECOMPRESSION],
    )
    server.add_generic_rpc_handlers((_handler(),))
    address = "127.0.0.1:%d" % args.port
    if args.use_tls:
        key = common.read_file(os.path.join(common.CERT_DIR, "server1.key"))
        cert = common.read_file(os.path.join(common.CERT_DIR, "server1.pem"))
        port = server.add_secure_port(address, grpc.ssl_server_credentials(((key, cert),)))
    else:
        port = server.add_insecure_port(address)
    if port == 0:
        print("cannot bind %s" % address, file=sys.stderr)
        return 1
    server.start()
    print("interop server listening on 127.0.0.1:%d" % port, flush=True)

    done = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: done.set())
    while not done.wait(3600):
        pass
    server.stop(grace=1).wait(5)
    return 0


if __name__ == "__main__":
    sys.exit(main())
