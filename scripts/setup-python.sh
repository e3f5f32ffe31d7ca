#!/usr/bin/env bash
# Installs the Python gRPC peer (grpcio on the C core, grpcio-tools for stubs,
# grpcio-status with googleapis-common-protos for rich error details, the
# health, reflection and channelz clients) into .venv, once. Idempotent;
# prints the interpreter path.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=.venv
if [ ! -x "$VENV/bin/python" ]; then
    python3 -m venv "$VENV"
fi
if ! "$VENV/bin/python" -c "import grpc, grpc_tools, grpc_health, grpc_reflection, grpc_status, grpc_channelz" 2>/dev/null; then
    "$VENV/bin/pip" install --quiet --disable-pip-version-check \
        "grpcio>=1.60" "grpcio-tools>=1.60" "grpcio-health-checking>=1.60" "grpcio-reflection>=1.60" \
        "grpcio-status>=1.60" "grpcio-channelz>=1.60"
fi
echo "$PWD/$VENV/bin/python"
