#!/usr/bin/env bash
# Installs the Node.js interop peers' packages (@grpc/grpc-js, @grpc/proto-loader;
# @connectrpc/connect, @connectrpc/connect-node, @bufbuild/protobuf for the
# gRPC-Web client; pinned in interop/node/package-lock.json) with `npm ci`, when node_modules is
# missing or older than package-lock.json. Idempotent. Diagnostics go to
# stderr; the last stdout line is the absolute path of interop/node.
set -euo pipefail
cd "$(dirname "$0")/.."

NPM_TIMEOUT=${NPM_TIMEOUT:-600} # s, one `npm ci`
DIR=$PWD/interop/node
STAMP=$DIR/node_modules/.package-lock.json # npm writes it on every install

for tool in node npm; do
    command -v "$tool" >/dev/null 2>&1 || { echo "setup-node: $tool not found" >&2; exit 1; }
done

if [ ! -f "$STAMP" ] || [ "$DIR/package-lock.json" -nt "$STAMP" ] || [ "$DIR/package.json" -nt "$STAMP" ]; then
    echo "setup-node: npm ci in $DIR (node $(node --version))" >&2
    (cd "$DIR" && timeout "$NPM_TIMEOUT" npm ci --ignore-scripts --no-audit --no-fund --loglevel=error) >&2
    touch "$STAMP"
else
    echo "setup-node: $DIR/node_modules is up to date" >&2
fi

# A last check that the packages load.
(cd "$DIR" && node -e '
for (const p of ["@grpc/grpc-js", "@grpc/proto-loader", "@connectrpc/connect", "@connectrpc/connect-node",
                 "@bufbuild/protobuf", "@bufbuild/protobuf/wkt"]) require(p);') >&2
echo "$DIR"
