#!/usr/bin/env python3
"""Writes one gRPC-framed grpc.testing.SimpleRequest, the request body h2load
sends to /grpc.testing.TestService/UnaryCall:

    make_h2load_body.py OUT [--response_size 10] [--payload_size 16]

Frame: 1 byte compressed flag (0) + 4 byte big-endian length + message.
"""

import argparse
import os
import struct
import sys

sys.dont_write_bytecode = True  # keep __pycache__ out of the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import interop_common as common  # noqa: E402  pylint: disable=wrong-import-position


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out")
    parser.add_argument("--response_size", type=int, default=10)
    parser.add_argument("--payload_size", type=int, default=16)
    args = parser.parse_args()
    _, messages_pb2 = common.load_protos()
    msg = messages_pb2.SimpleRequest(
        response_type=messages_pb2.COMPRESSABLE,
        response_size=args.response_size,
        payload=messages_pb2.Payload(body=b"\x00" * args.payload_size),
    ).SerializeToString()
    with open(args.out, "wb") as f:
        f.write(struct.pack(">BI", 0, len(msg)) + msg)
    return 0


if __name__ == "__main__":
    sys.exit(main())
