#!/usr/bin/env bash
# Builds the gRPC-Go interop peers (interop/go/{server,client}) into
# target/go-interop/{go-interop-server,go-interop-client}, installing Go and
# gRPC-Go from Debian (golang-go, golang-google-grpc-dev) first if missing.
# Idempotent: a binary is rebuilt only when a source is newer. Builds in
# GOPATH mode against /usr/share/gocode; all other state stays under
# target/go-interop. Diagnostics go to stderr; the last stdout line is the
# bin directory.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
OUT=$ROOT/target/go-interop
GOCODE=/usr/share/gocode
GRPC_VERSION_FILE=$GOCODE/src/google.golang.org/grpc/version.go

# --- install ------------------------------------------------------------------
have_go() { command -v go >/dev/null 2>&1 && [ -f "$GRPC_VERSION_FILE" ]; }
if ! have_go; then
    echo "== installing golang-go and golang-google-grpc-dev" >&2
    if [ "$(id -u)" = 0 ]; then
        SUDO=()
    elif command -v sudo >/dev/null 2>&1; then
        SUDO=(sudo -n)
    else
        echo "error: Go/gRPC-Go missing and cannot be installed: not root and no sudo" \
            "(apt-get install golang-go golang-google-grpc-dev)" >&2
        exit 1
    fi
    PKGS=(golang-go golang-google-grpc-dev)
    if ! timeout 600 "${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y "${PKGS[@]}" >&2; then
        timeout 600 "${SUDO[@]}" apt-get update >&2
        timeout 600 "${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y "${PKGS[@]}" >&2
    fi
    have_go || { echo "error: go or gRPC-Go still missing after apt-get install" >&2; exit 1; }
fi

# --- build --------------------------------------------------------------------
# The peers import their shared package as "weirinterop/common": a private
# GOPATH entry links weirinterop to interop/go.
mkdir -p "$OUT/gopath/src"
ln -sfn "$ROOT/interop/go" "$OUT/gopath/src/weirinterop"
export GO111MODULE=off GOFLAGS= GOPATH="$OUT/gopath:$GOCODE" GOCACHE="$OUT/cache"

build() { # NAME DIR: interop/go/DIR (+ common) -> target/go-interop/NAME
    local bin=$OUT/$1 src=("$ROOT/interop/go/$2" "$ROOT/interop/go/common")
    if [ -x "$bin" ] && [ "$bin" -nt "$GRPC_VERSION_FILE" ] &&
        [ -z "$(find "${src[@]}" -name '*.go' -newer "$bin" -print -quit)" ]; then
        return 0
    fi
    echo "== go build weirinterop/$2 -> $bin" >&2
    timeout 900 go build -buildvcs=false -o "$bin.tmp" "weirinterop/$2" >&2
    mv -f "$bin.tmp" "$bin"
}
build go-interop-server server
build go-interop-client client

echo "$OUT"
