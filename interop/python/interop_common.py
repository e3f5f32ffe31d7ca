"""Shared pieces of the Python (grpcio) interop peer.

* ``load_protos()`` compiles interop/proto/*.proto with grpc_tools.protoc into a
  temporary directory at start-up (no generated code is committed) and returns
  the ``empty_pb2`` and ``messages_pb2`` modules.
* Observing the per-message *compressed* flag.  grpcio never exposes the flag
  of a received message, and ``grpc-encoding`` is not in the invocation
  metadata.  Both the client and the server therefore open their channel /
  server with ``grpc.per_message_decompression=0``: the C core then hands the
  application the message bytes exactly as they arrived.  A message whose
  compressed flag was set arrives as a gzip (or zlib/deflate) stream and one
  whose flag was clear arrives as plain protobuf.  The two cannot be confused
  for gzip: a protobuf message never begins with 0x1f (wire type 7 does not
  exist).  ``decode()`` undoes the compression and reports which it was.
* Sending one uncompressed message on a compressed client call.  grpcio's
  client API has no per-message write flags (the server has
  ``disable_next_message_compression``), so ``install_no_compress_hook()``
  wraps the ``SendMessageOperation`` constructor grpc._channel uses: a message
  serialized to ``NoCompressBytes`` is sent with GRPC_WRITE_NO_COMPRESS.
"""

import argparse
import atexit
import gzip
import os
import shutil
import sys
import tempfile
import zlib

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
PROTO_DIR = os.path.join(ROOT, "interop", "proto")
CERT_DIR = os.path.join(ROOT, "interop", "certs")

# Channel/server option: leave received messages compressed (see above).
NO_DECOMPRESSION = ("grpc.per_message_decompression", 0)

TRUE_WORDS = ("true", "1", "yes", "on")
FALSE_WORDS = ("false", "0", "no", "off")


def parse_bool(text):
    low = str(text).lower()
    if low in TRUE_WORDS:
        return True
    if low in FALSE_WORDS:
        return False
    raise argparse.ArgumentTypeError("expected true or false, got %r" % text)


def add_bool_flag(parser, name, help_text):
    """``--name``, ``--name=true|false`` and ``--name true|false``."""
    parser.add_argument(
        "--" + name,
        nargs="?",
        const=True,
        default=False,
        type=parse_bool,
        help=help_text,
    )


_PROTOS = None


def load_protos():
    """Compiles the protos into a temp dir once; returns (empty_pb2, messages_pb2)."""
    global _PROTOS
    if _PROTOS is not None:
        return _PROTOS
    from grpc_tools import protoc  # pylint: disable=import-outside-toplevel

    out = tempfile.mkdtemp(prefix="weir-interop-py-")
    atexit.register(shutil.rmtree, out, True)
    files = ["empty.proto", "messages.proto", "test.proto"]
    rc = protoc.main(
        ["grpc_tools.protoc", "-I" + PROTO_DIR, "--python_out=" + out, "--grpc_python_out=" + out]
        + files
    )
    if rc != 0:
        raise RuntimeError("grpc_tools.protoc failed (%d) on %s" % (rc, PROTO_DIR))
    sys.path.insert(0, out)
    import empty_pb2  # pylint: disable=import-error,import-outside-toplevel
    import messages_pb2  # pylint: disable=import-error,import-outside-toplevel

    _PROTOS = (empty_pb2, messages_pb2)
    return _PROTOS


def read_file(path):
    with open(path, "rb") as f:
        return f.read()


class Received:
    """A decoded message plus whether it arrived with the compressed flag set."""

    __slots__ = ("msg", "compressed")

    def __init__(self, msg, compressed):
        self.msg = msg
        self.compressed = compressed


def _looks_zlib(data):
    return len(data) >= 2 and (data[0] & 0x0F) == 8 and ((data[0] << 8) | data[1]) % 31 == 0


def decode(data):
    """Returns (plain protobuf bytes, was_compressed) for raw received bytes."""
    if data[:2] == b"\x1f\x8b":
        return gzip.decompress(data), True
    if _looks_zlib(data):
        # A zlib header is also a valid protobuf tag (field 15, varint); none of
        # the grpc.testing request/response messages has a field 15, so a
        # successful inflate means the message was deflate-compressed.
        try:
            return zlib.decompress(data), True
        except zlib.error:
            pass
    return data, False


def deserializer(message_cls):
    def deserialize(data):
        plain, compressed = decode(data)
        return Received(message_cls.FromString(plain), compressed)

    return deserialize


class NoCompressBytes(bytes):
    """Serialized message to send with GRPC_WRITE_NO_COMPRESS (see module doc)."""


class NoCompress:
    """Wraps a request message so that it is sent uncompressed."""

    __slots__ = ("msg",)

    def __init__(self, msg):
        self.msg = msg


def serialize(obj):
    if isinstance(obj, NoCompress):
        return NoCompressBytes(obj.msg.SerializeToString())
    return obj.SerializeToString()


_HOOK_INSTALLED = False


def install_no_compress_hook():
    """Returns True when per-message no-compress writes are available."""
    global _HOOK_INSTALLED
    if _HOOK_INSTALLED:
        return True
    try:
        import grpc._channel as channel_mod  # pylint: disable=import-outside-toplevel

        real = channel_mod.cygrpc
        no_compress = int(real.WriteFlag.no_compress)
        real_send = real.SendMessageOperation
    except (ImportError, AttributeError):
        return False

    class _CygrpcProxy:
        def __getattr__(self, name):
            return getattr(real, name)

        @staticmethod
        def SendMessageOperation(data, flags):  # pylint: disable=invalid-name
            if type(data) is NoCompressBytes:  # pylint: disable=unidiomatic-typecheck
                return real_send(bytes(data), flags | no_compress)
            return real_send(data, flags)

    channel_mod.cygrpc = _CygrpcProxy()
    _HOOK_INSTALLED = True
    return True
