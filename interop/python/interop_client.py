#!/usr/bin/env python3
"""grpcio interop client, the Python peer of Weir's interop tests.

    interop_client.py --server_host H --server_port P
        --test_case NAME[,NAME...|all] [--use_tls[=true|false]]
        [--server_host_override foo.test.google.fr] [--ca_file PATH]

Runs the standard cases of grpc/grpc doc/interop-test-descriptions.md (plus
special_status_message), printing ``PASS <case>`` or ``FAIL <case>: <why>``
for each and finally ``N passed, M failed``; exits 1 if any case failed.
Every RPC has a deadline and every case a watchdog, so nothing hangs.

What grpcio can and cannot check (see interop_common for the mechanisms):
* The compressed flag of *received* messages IS checked
  (server_compressed_unary / _streaming): the channel runs with
  ``grpc.per_message_decompression=0`` so each response arrives as sent and a
  gzip/deflate stream means the flag was set.  Which algorithm the
  ``grpc-encoding`` header named is not visible (gzip vs deflate is told from
  the bytes).
* Sending a compressed then an uncompressed message on one call
  (client_compressed_streaming) uses a hook that adds GRPC_WRITE_NO_COMPRESS
  to that message; grpcio has no public client API for it.
* empty_unary checks the response decoded to an Empty of 0 serialized bytes;
  the request's size on the wire is not observable (grpcio serializes it).
* cancel_after_begin / cancel_after_first_response: grpcio reports CANCELLED
  locally once the client cancels (RST_STREAM is sent by the C core); whether
  the server noticed is not observable from the client.
"""

import argparse
import os
import queue
import sys
import threading
import traceback

import grpc

sys.dont_write_bytecode = True  # keep __pycache__ out of the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import interop_common as common  # noqa: E402  pylint: disable=wrong-import-position

empty_pb2, messages_pb2 = common.load_protos()

DEADLINE = 20.0  # seconds, every RPC
CASE_TIMEOUT = 30.0  # seconds, watchdog per case

INITIAL_KEY = "x-grpc-test-echo-initial"
INITIAL_VALUE = "test_initial_metadata_value"
TRAILING_KEY = "x-grpc-test-echo-trailing-bin"
TRAILING_VALUE = b"\xab\xab\xab"
SPECIAL_MESSAGE = "\t\ntest with whitespace\r\nand Unicode BMP \u263a and non-BMP \U0001f608\t\n"

CASES = [
    "empty_unary",
    "large_unary",
    "client_streaming",
    "server_streaming",
    "ping_pong",
    "empty_stream",
    "timeout_on_sleeping_server",
    "cancel_after_begin",
    "cancel_after_first_response",
    "status_code_and_message",
    "special_status_message",
    "unimplemented_method",
    "unimplemented_service",
    "custom_metadata",
    "client_compressed_unary",
    "server_compressed_unary",
    "client_compressed_streaming",
    "server_compressed_streaming",
]


class CaseFailure(Exception):
    pass


def expect(cond, why):
    if not cond:
        raise CaseFailure(why)


def zeros(n):
    return messages_pb2.Payload(body=b"\x00" * n)


def check_payload(received, size, what="response"):
    payload = received.msg.payload
    expect(
        payload.type == messages_pb2.COMPRESSABLE,
        "%s payload type %d, want COMPRESSABLE" % (what, payload.type),
    )
    expect(
        len(payload.body) == size,
        "%s payload is %d bytes, want %d" % (what, len(payload.body), size),
    )
    expect(payload.body == b"\x00" * size, "%s payload is not all zeros" % what)


def expect_status(err, code, details=None, what="call"):
    """err: grpc.RpcError (or a Call/iterator that has ended)."""
    got = err.code()
    expect(got == code, "%s: status %s (%r), want %s" % (what, got, err.details(), code))
    if details is not None:
        expect(
            err.details() == details,
            "%s: status message %r, want %r" % (what, err.details(), details),
        )


def expect_rpc_error(fn, code, details=None, what="call"):
    try:
        fn()
    except grpc.RpcError as err:
        expect_status(err, code, details, what)
        return err
    raise CaseFailure("%s succeeded, want status %s" % (what, code))


class Pipe:
    """Request iterator the test feeds one message at a time; close() half-closes."""

    _END = object()

    def __init__(self):
        self._q = queue.Queue()

    def __iter__(self):
        return self

    def __next__(self):
        item = self._q.get()
        if item is Pipe._END:
            raise StopIteration
        return item

    def put(self, msg):
        self._q.put(msg)

    def close(self):
        self._q.put(Pipe._END)


def metadata_value(md, key):
    values = [v for k, v in (md or ()) if k == key]
    return values


def check_echoed_metadata(call, what):
    initial = metadata_value(call.initial_metadata(), INITIAL_KEY)
    expect(
        initial == [INITIAL_VALUE],
        "%s: initial metadata %s = %r, want [%r]" % (what, INITIAL_KEY, initial, INITIAL_VALUE),
    )
    trailing = metadata_value(call.trailing_metadata(), TRAILING_KEY)
    expect(
        trailing == [TRAILING_VALUE],
        "%s: trailing metadata %s = %r, want [%r]" % (what, TRAILING_KEY, trailing, TRAILING_VALUE),
    )


class Client:
    def __init__(self, channel):
        self.channel = channel
        de = common.deserializer
        ser = common.serialize

        def uu(path, resp):
            return channel.unary_unary(path, request_serializer=ser, response_deserializer=de(resp))

        svc = "/grpc.testing.TestService/"
        self.empty_call = uu(svc + "EmptyCall", empty_pb2.Empty)
        self.unary_call = uu(svc + "UnaryCall", messages_pb2.SimpleResponse)
        self.unimplemented_method_rpc = uu(svc + "UnimplementedCall", empty_pb2.Empty)
        self.unimplemented_service_rpc = uu(
            "/grpc.testing.UnimplementedService/UnimplementedCall", empty_pb2.Empty
        )
        self.streaming_output = channel.unary_stream(
            svc + "StreamingOutputCall",
            request_serializer=ser,
            response_deserializer=de(messages_pb2.StreamingOutputCallResponse),
        )
        self.streaming_input = channel.stream_unary(
            svc + "StreamingInputCall",
            request_serializer=ser,
            response_deserializer=de(messages_pb2.StreamingInputCallResponse),
        )
        self.full_duplex = channel.stream_stream(
            svc + "FullDuplexCall",
            request_serializer=ser,
            response_deserializer=de(messages_pb2.StreamingOutputCallResponse),
        )

    # --- cases -----------------------------------------------------------

    def empty_unary(self):
        resp = self.empty_call(empty_pb2.Empty(), timeout=DEADLINE)
        expect(resp is not None and isinstance(resp.msg, empty_pb2.Empty), "response is not an Empty")
        expect(resp.msg.ByteSize() == 0, "response Empty has %d bytes" % resp.msg.ByteSize())

    @staticmethod
    def _large_request(**extra):
        return messages_pb2.SimpleRequest(
            response_type=messages_pb2.COMPRESSABLE,
            response_size=314159,
            payload=zeros(271828),
            **extra,
        )

    def large_unary(self):
        resp = self.unary_call(self._large_request(), timeout=DEADLINE)
        check_payload(resp, 314159)

    def client_streaming(self):
        sizes = (27182, 8, 1828, 45904)
        reqs = [messages_pb2.StreamingInputCallRequest(payload=zeros(n)) for n in sizes]
        resp = self.streaming_input(iter(reqs), timeout=DEADLINE)
        got = resp.msg.aggregated_payload_size
        expect(got == 74922, "aggregated_payload_size %d, want 74922" % got)

    def server_streaming(self):
        sizes = (31415, 9, 2653, 58979)
        req = messages_pb2.StreamingOutputCallRequest(
            response_type=messages_pb2.COMPRESSABLE,
            response_parameters=[messages_pb2.ResponseParameters(size=n) for n in sizes],
        )
        call = self.streaming_output(req, timeout=DEADLINE)
        responses = list(call)
        expect(len(responses) == 4, "%d responses, want 4" % len(responses))
        for i, (resp, n) in enumerate(zip(responses, sizes)):
            check_payload(resp, n, "response %d" % i)
        expect_status(call, grpc.StatusCode.OK)

    def ping_pong(self):
        resp_sizes = (31415, 9, 2653, 58979)
        req_sizes = (27182, 8, 1828, 45904)
        pipe = Pipe()
        call = self.full_duplex(pipe, timeout=DEADLINE)
        try:
            for i, (rs, qs) in enumerate(zip(resp_sizes, req_sizes)):
                pipe.put(
                    messages_pb2.StreamingOutputCallRequest(
                        response_type=messages_pb2.COMPRESSABLE,
                        response_parameters=[messages_pb2.ResponseParameters(size=rs)],
                        payload=zeros(qs),
                    )
                )
                try:
                    resp = next(call)
                except StopIteration:
                    raise CaseFailure("stream ended after %d responses, want 4" % i) from None
                check_payload(resp, rs, "response %d" % i)
        finally:
            pipe.close()
        rest = list(call)
        expect(not rest, "%d responses after the 4th, want none" % len(rest))
        expect_status(call, grpc.StatusCode.OK)

    def empty_stream(self):
        pipe = Pipe()
        pipe.close()
        call = self.full_duplex(pipe, timeout=DEADLINE)
        responses = list(call)
        expect(not responses, "%d responses, want 0" % len(responses))
        expect_status(call, grpc.StatusCode.OK)

    def timeout_on_sleeping_server(self):
        pipe = Pipe()
        call = self.full_duplex(pipe, timeout=0.001)
        pipe.put(messages_pb2.StreamingOutputCallRequest(payload=zeros(27182)))
        try:
            expect_rpc_error(lambda: list(call), grpc.StatusCode.DEADLINE_EXCEEDED)
        finally:
            pipe.close()

    def cancel_after_begin(self):
        pipe = Pipe()
        future = self.streaming_input.future(pipe, timeout=DEADLINE)
        try:
            future.cancel()
            expect(future.cancelled(), "future.cancelled() is False after cancel()")
            expect_status(future, grpc.StatusCode.CANCELLED)
        finally:
            pipe.close()

    def cancel_after_first_response(self):
        pipe = Pipe()
        call = self.full_duplex(pipe, timeout=DEADLINE)
        try:
            pipe.put(
                messages_pb2.StreamingOutputCallRequest(
                    response_type=messages_pb2.COMPRESSABLE,
                    response_parameters=[messages_pb2.ResponseParameters(size=31415)],
                    payload=zeros(27182),
                )
            )
            try:
                check_payload(next(call), 31415, "first response")
            except StopIteration:
                raise CaseFailure("stream ended before the first response") from None
            call.cancel()
            expect_rpc_error(lambda: list(call), grpc.StatusCode.CANCELLED, what="after cancel")
            expect_status(call, grpc.StatusCode.CANCELLED)
        finally:
            pipe.close()

    def _echo_status(self, message, duplex):
        status = messages_pb2.EchoStatus(code=2, message=message)
        req = messages_pb2.SimpleRequest(response_status=status)
        expect_rpc_error(
            lambda: self.unary_call(req, timeout=DEADLINE),
            grpc.StatusCode.UNKNOWN,
            message,
            "UnaryCall",
        )
        if duplex:
            dreq = messages_pb2.StreamingOutputCallRequest(response_status=status)
            call = self.full_duplex(iter([dreq]), timeout=DEADLINE)
            expect_rpc_error(lambda: list(call), grpc.StatusCode.UNKNOWN, message, "FullDuplexCall")

    def status_code_and_message(self):
        self._echo_status("test status message", duplex=True)

    def special_status_message(self):
        self._echo_status(SPECIAL_MESSAGE, duplex=False)

    def unimplemented_method(self):
        expect_rpc_error(
            lambda: self.unimplemented_method_rpc(empty_pb2.Empty(), timeout=DEADLINE),
            grpc.StatusCode.UNIMPLEMENTED,
        )

    def unimplemented_service(self):
        expect_rpc_error(
            lambda: self.unimplemented_service_rpc(empty_pb2.Empty(), timeout=DEADLINE),
            grpc.StatusCode.UNIMPLEMENTED,
        )

    def custom_metadata(self):
        md = ((INITIAL_KEY, INITIAL_VALUE), (TRAILING_KEY, TRAILING_VALUE))
        resp, call = self.unary_call.with_call(self._large_request(), metadata=md, timeout=DEADLINE)
        check_payload(resp, 314159, "UnaryCall response")
        check_echoed_metadata(call, "UnaryCall")

        req = messages_pb2.StreamingOutputCallRequest(
            response_type=messages_pb2.COMPRESSABLE,
            response_parameters=[messages_pb2.ResponseParameters(size=314159)],
            payload=zeros(271828),
        )
        call = self.full_duplex(iter([req]), metadata=md, timeout=DEADLINE)
        responses = list(call)
        expect(len(responses) == 1, "FullDuplexCall: %d responses, want 1" % len(responses))
        check_payload(responses[0], 314159, "FullDuplexCall response")
        expect_status(call, grpc.StatusCode.OK, what="FullDuplexCall")
        check_echoed_metadata(call, "FullDuplexCall")

    def client_compressed_unary(self):
        probe = self._large_request(expect_compressed=messages_pb2.BoolValue(value=True))
        expect_rpc_error(
            lambda: self.unary_call(probe, timeout=DEADLINE),
            grpc.StatusCode.INVALID_ARGUMENT,
            what="probe (uncompressed, expect_compressed=true)",
        )
        for compressed in (True, False):
            req = self._large_request(expect_compressed=messages_pb2.BoolValue(value=compressed))
            try:
                resp = self.unary_call(
                    req,
                    timeout=DEADLINE,
                    compression=grpc.Compression.Gzip if compressed else None,
                )
            except grpc.RpcError as err:
                raise CaseFailure(
                    "compressed=%s call failed: %s %r" % (compressed, err.code(), err.details())
                ) from None
            check_payload(resp, 314159, "compressed=%s response" % compressed)

    def server_compressed_unary(self):
        for compressed in (True, False):
            req = self._large_request(response_compressed=messages_pb2.BoolValue(value=compressed))
            resp = self.unary_call(req, timeout=DEADLINE)
            check_payload(resp, 314159, "response_compressed=%s response" % compressed)
            expect(
                resp.compressed == compressed,
                "response_compressed=%s but the response's compressed flag is %s"
                % (compressed, "set" if resp.compressed else "clear"),
            )

    def client_compressed_streaming(self):
        expect(
            common.install_no_compress_hook(),
            "this grpcio cannot send an uncompressed message on a compressed call",
        )
        probe = messages_pb2.StreamingInputCallRequest(
            expect_compressed=messages_pb2.BoolValue(value=True), payload=zeros(27182)
        )
        expect_rpc_error(
            lambda: self.streaming_input(iter([probe]), timeout=DEADLINE),
            grpc.StatusCode.INVALID_ARGUMENT,
            what="probe (uncompressed, expect_compressed=true)",
        )
        reqs = [
            probe,  # sent compressed: the call's compression is gzip
            common.NoCompress(
                messages_pb2.StreamingInputCallRequest(
                    expect_compressed=messages_pb2.BoolValue(value=False), payload=zeros(45904)
                )
            ),
        ]
        try:
            resp = self.streaming_input(
                iter(reqs), timeout=DEADLINE, compression=grpc.Compression.Gzip
            )
        except grpc.RpcError as err:
            raise CaseFailure("call failed: %s %r" % (err.code(), err.details())) from None
        got = resp.msg.aggregated_payload_size
        expect(got == 73086, "aggregated_payload_size %d, want 73086" % got)

    def server_compressed_streaming(self):
        params = ((True, 31415), (False, 92653))
        req = messages_pb2.StreamingOutputCallRequest(
            response_parameters=[
                messages_pb2.ResponseParameters(
                    compressed=messages_pb2.BoolValue(value=c), size=n
                )
                for c, n in params
            ]
        )
        call = self.streaming_output(req, timeout=DEADLINE)
        responses = list(call)
        expect(len(responses) == 2, "%d responses, want 2" % len(responses))
        for i, (resp, (c, n)) in enumerate(zip(responses, params)):
            check_payload(resp, n, "response %d" % i)
            expect(
                resp.compressed == c,
                "response %d: compressed=%s requested but the flag is %s"
                % (i, c, "set" if resp.compressed else "clear"),
            )
        expect_status(call, grpc.StatusCode.OK)


def run_case(client, name):
    """Returns None on success, else the reason."""
    result = {}

    def body():
        try:
            getattr(client, name)()
            result["ok"] = True
        except CaseFailure as err:
            result["why"] = str(err)
        except grpc.RpcError as err:
            result["why"] = "unexpected RPC error: %s %r" % (err.code(), err.details())
        except Exception as err:  # pylint: disable=broad-except
            result["why"] = "%s: %s\n%s" % (type(err).__name__, err, traceback.format_exc())

    thread = threading.Thread(target=body, name=name, daemon=True)
    thread.start()
    thread.join(CASE_TIMEOUT)
    if thread.is_alive():
        return "timed out after %d s" % CASE_TIMEOUT
    return None if result.get("ok") else result.get("why", "no result")


def make_channel(args):
    target = "%s:%d" % (args.server_host, args.server_port)
    options = [common.NO_DECOMPRESSION]
    if not args.use_tls:
        return grpc.insecure_channel(target, options=options)
    ca_file = args.ca_file or os.path.join(common.CERT_DIR, "ca.pem")
    creds = grpc.ssl_channel_credentials(root_certificates=common.read_file(ca_file))
    if args.server_host_override:
        options += [
            ("grpc.ssl_target_name_override", args.server_host_override),
            ("grpc.default_authority", args.server_host_override),
        ]
    return grpc.secure_channel(target, creds, options=options)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--server_host", default="localhost")
    parser.add_argument("--server_port", type=int, required=True)
    parser.add_argument("--test_case", default="all", help="NAME[,NAME...] or all")
    common.add_bool_flag(parser, "use_tls", "connect with TLS")
    common.add_bool_flag(parser, "use_test_ca", "accepted; the test CA is always used")
    parser.add_argument("--server_host_override", default=None)
    parser.add_argument("--ca_file", default=None, help="default interop/certs/ca.pem")
    args = parser.parse_args(argv)

    names = CASES if args.test_case == "all" else [n for n in args.test_case.split(",") if n]
    channel = make_channel(args)
    client = Client(channel)
    passed = failed = 0
    for name in names:
        why = "unknown test case" if name not in CASES else run_case(client, name)
        if why is None:
            passed += 1
            print("PASS %s" % name, flush=True)
        else:
            failed += 1
            print("FAIL %s: %s" % (name, why), flush=True)
    print("%d passed, %d failed" % (passed, failed), flush=True)
    sys.stderr.flush()
    # os._exit: a case that timed out may still hold a grpc thread.
    os._exit(0 if failed == 0 else 1)


if __name__ == "__main__":
    main()
