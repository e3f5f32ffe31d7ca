"""grpcio (the C core) against a Weir server's standard services.

  peer.py PORT   checks health (grpcio-health-checking) and reflection
                 (grpcio-reflection's descriptor database, v1alpha; v1 through
                 the same wire-identical messages); one PASS/FAIL line each,
                 exit 0 when all pass.
"""

import sys

import grpc
from google.protobuf.descriptor_pool import DescriptorPool
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2
from grpc_reflection.v1alpha.proto_reflection_descriptor_database import ProtoReflectionDescriptorDatabase


def check(cond, what):
    if not cond:
        print(f"FAIL {what}", flush=True)
        sys.exit(1)
    print(f"PASS {what}", flush=True)


def main(port):
    with grpc.insecure_channel(f"127.0.0.1:{port}") as ch:
        grpc.channel_ready_future(ch).result(timeout=10)

        health = health_pb2_grpc.HealthStub(ch)
        serving = health_pb2.HealthCheckResponse.SERVING
        check(health.Check(health_pb2.HealthCheckRequest(service=""), timeout=10).status == serving, "health Check")
        try:
            health.Check(health_pb2.HealthCheckRequest(service="no.Such"), timeout=10)
            check(False, "health Check of an unknown service is NOT_FOUND")
        except grpc.RpcError as e:
            check(e.code() == grpc.StatusCode.NOT_FOUND, "health Check of an unknown service is NOT_FOUND")
        watch = health.Watch(health_pb2.HealthCheckRequest(service="test.Svc"), timeout=10)
        check(next(watch).status == serving, "health Watch first answer")
        watch.cancel()

        db = ProtoReflectionDescriptorDatabase(ch)
        services = set(db.get_services())
        check({"grpc.health.v1.Health", "grpc.reflection.v1alpha.ServerReflection"} <= services, "reflection services")
        pool = DescriptorPool(db)
        svc = pool.FindServiceByName("grpc.health.v1.Health")
        check([m.name for m in svc.methods] == ["Check", "Watch"], "reflection service descriptor")
        msg = pool.FindMessageTypeByName("grpc.health.v1.HealthCheckResponse")
        check(msg.enum_types_by_name["ServingStatus"].values_by_name["SERVING"].number == 1, "reflection message")
        check(db.FindFileByName("grpc/health/v1/health.proto").package == "grpc.health.v1", "reflection file by name")
        try:
            db.FindFileContainingSymbol("no.Such.Symbol")
            check(False, "reflection unknown symbol")
        except KeyError:
            check(True, "reflection unknown symbol")

        v1 = ch.stream_stream(
            "/grpc.reflection.v1.ServerReflection/ServerReflectionInfo",
            request_serializer=reflection_pb2.ServerReflectionRequest.SerializeToString,
            response_deserializer=reflection_pb2.ServerReflectionResponse.FromString,
        )
        replies = list(v1(iter([reflection_pb2.ServerReflectionRequest(list_services="")]), timeout=10))
        names = [s.name for s in replies[0].list_services_response.service]
        check("grpc.reflection.v1.ServerReflection" in names, "reflection v1 list services")
    print("OK", flush=True)


if __name__ == "__main__":
    main(int(sys.argv[1]))
