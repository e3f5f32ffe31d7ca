#!/usr/bin/env bash
# Makes sure h2load and nghttp (Debian/Ubuntu package nghttp2-client) are on
# PATH: installs them with apt-get (as root, or through passwordless sudo).
set -euo pipefail
command -v h2load >/dev/null 2>&1 && command -v nghttp >/dev/null 2>&1 && exit 0
echo "== installing h2load and nghttp (nghttp2-client)" >&2
if [ "$(id -u)" = 0 ]; then
    SUDO=()
elif command -v sudo >/dev/null 2>&1; then
    SUDO=(sudo -n)
else
    echo "error: h2load is missing and cannot be installed: not root and no sudo (apt-get install nghttp2-client)" >&2
    exit 1
fi
if ! timeout 600 "${SUDO[@]}" apt-get install -y nghttp2-client >&2; then
    timeout 600 "${SUDO[@]}" apt-get update >&2
    timeout 600 "${SUDO[@]}" apt-get install -y nghttp2-client >&2
fi
command -v h2load >/dev/null 2>&1 || { echo "error: h2load still missing after installing nghttp2-client" >&2; exit 1; }
