#!/usr/bin/env bash
# Installs the Node.js interop peers' packages (@grpc/grpc-js, @grpc/proto-loader;
# @connectrpc/connect, @connectrpc/connect-node, @bufbuild/protobuf for the
# gRPC-Web client; pinned in interop/node/package-lock.json) with `npm ci`, when node_modules is
# missing or older than package-lock.json. Idempotent. Diagnostics go to
# stderr; the last stdout line is the absolute path of interop/node.
set -euo pipefail
cd "$(dirname "$0")/.."

DIR=$PWD/interop/node
. scripts/lib/npm.sh
npm_ci_if_stale setup-node "$DIR"

# A last check that the packages load.
(cd "$DIR" && node -e '
for (const p of ["@grpc/grpc-js", "@grpc/proto-loader", "@connectrpc/connect", "@connectrpc/connect-node",
                 "@bufbuild/protobuf", "@bufbuild/protobuf/wkt"]) require(p);') >&2
echo "$DIR"
