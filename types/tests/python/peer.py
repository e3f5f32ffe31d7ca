"""grpcio peer for weir-types' rich error details tests: google.rpc.Status in
grpc-status-details-bin, written and read by grpcio-status (grpc_status.rpc_status)
with googleapis-common-protos' google.rpc messages. No generated stubs: the
method works on raw bytes.

  peer.py server       serves /weir.test.Details/Fail on 127.0.0.1, which aborts every
                       call with the rich status below; prints "LISTENING <port>",
                       stops when stdin closes
  peer.py client PORT  calls /weir.test.Details/Fail on a Weir server, reads the rich
                       status with rpc_status.from_call (which checks that its code and
                       message match the call's) and prints it as one JSON line

The server's status is the same as the Rust test's `rich_details()` fixture.
"""

import json
import sys
from concurrent import futures

import grpc
from google.protobuf import any_pb2, duration_pb2, json_format, wrappers_pb2
from google.rpc import code_pb2, error_details_pb2 as ed, status_pb2
from grpc_status import rpc_status

METHOD = "/weir.test.Details/Fail"
MESSAGE = "invalid request ☺ 100%"

# What a client can unpack: the google.rpc details and one other type.
KNOWN = [
    ed.RetryInfo,
    ed.DebugInfo,
    ed.QuotaFailure,
    ed.ErrorInfo,
    ed.PreconditionFailure,
    ed.BadRequest,
    ed.RequestInfo,
    ed.ResourceInfo,
    ed.Help,
    ed.LocalizedMessage,
    wrappers_pb2.StringValue,
]


def rich_details():
    """Every standard detail, in weir-types' order, then a StringValue."""
    return [
        ed.RetryInfo(retry_delay=duration_pb2.Duration(seconds=3, nanos=250_000_000)),
        ed.DebugInfo(stack_entries=["at a()", "at b()"], detail="boom"),
        ed.QuotaFailure(
            violations=[
                ed.QuotaFailure.Violation(
                    subject="user:42",
                    description="daily limit",
                    api_service="example.com",
                    quota_metric="example.com/requests",
                    quota_id="RequestsPerDay",
                    quota_dimensions={"region": "eu"},
                    quota_value=100,
                    future_quota_value=200,
                )
            ]
        ),
        ed.ErrorInfo(reason="QUOTA_EXCEEDED", domain="example.com", metadata={"limit": "100", "unit": "requests/day"}),
        ed.PreconditionFailure(
            violations=[ed.PreconditionFailure.Violation(type="TOS", subject="example.com/terms", description="not accepted")]
        ),
        ed.BadRequest(
            field_violations=[
                ed.BadRequest.FieldViolation(
                    field="name",
                    description="must not be empty",
                    reason="EMPTY",
                    localized_message=ed.LocalizedMessage(locale="de-DE", message="darf nicht leer sein"),
                ),
                ed.BadRequest.FieldViolation(field="age", description="must be positive"),
            ]
        ),
        ed.RequestInfo(request_id="req-7", serving_data="opaque"),
        ed.ResourceInfo(resource_type="table", resource_name="users", owner="team:core", description="read-only"),
        ed.Help(links=[ed.Help.Link(description="docs", url="https://example.com/help")]),
        ed.LocalizedMessage(locale="fr-FR", message="requête invalide ☺"),
        wrappers_pb2.StringValue(value="extra"),
    ]


def fail(request, context):
    status = status_pb2.Status(code=code_pb2.INVALID_ARGUMENT, message=MESSAGE)
    for msg in rich_details():
        packed = any_pb2.Any()
        packed.Pack(msg)
        status.details.append(packed)
    context.abort_with_status(rpc_status.to_status(status))


def serve():
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
    service, method = METHOD[1:].split("/")
    handlers = {method: grpc.unary_unary_rpc_method_handler(fail)}
    server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler(service, handlers),))
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    print(f"LISTENING {port}", flush=True)
    sys.stdin.read()
    server.stop(grace=1)


def unpack(packed):
    for cls in KNOWN:
        if packed.Is(cls.DESCRIPTOR):
            msg = cls()
            packed.Unpack(msg)
            return {"type": cls.DESCRIPTOR.full_name, "value": json_format.MessageToDict(msg, preserving_proto_field_name=True)}
    return {"type_url": packed.type_url, "value_hex": packed.value.hex()}


def client(port):
    with grpc.insecure_channel(f"127.0.0.1:{port}") as ch:
        grpc.channel_ready_future(ch).result(timeout=10)
        try:
            ch.unary_unary(METHOD)(b"", timeout=10)
            print("FAIL the call succeeded", flush=True)
            sys.exit(1)
        except grpc.RpcError as call:
            status = rpc_status.from_call(call)
            if status is None:
                print("FAIL no grpc-status-details-bin", flush=True)
                sys.exit(1)
            out = {
                "call_code": call.code().name,
                "call_message": call.details(),
                "code": status.code,
                "message": status.message,
                "details": [unpack(d) for d in status.details],
            }
            print(json.dumps(out, ensure_ascii=False), flush=True)


if __name__ == "__main__":
    if sys.argv[1] == "server":
        serve()
    else:
        client(int(sys.argv[2]))
