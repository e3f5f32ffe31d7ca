#!/usr/bin/env bash
# Makes sure an etcd server is on PATH for weir-etcd's tests and example:
# installs Debian's etcd-server package (etcd 3.4) with apt-get (as root, or
# through passwordless sudo). The tests start and stop etcd themselves, on
# loopback ports with a temporary data directory.
set -euo pipefail
command -v etcd >/dev/null 2>&1 && exit 0
echo "== installing etcd (etcd-server)" >&2
if [ "$(id -u)" = 0 ]; then
    SUDO=()
elif command -v sudo >/dev/null 2>&1; then
    SUDO=(sudo -n)
else
    echo "error: etcd is missing and cannot be installed: not root and no sudo (apt-get install etcd-server)" >&2
    exit 1
fi
# The package's service must not start a system etcd on the default ports.
export DEBIAN_FRONTEND=noninteractive
if [ ! -e /usr/sbin/policy-rc.d ] && [ "$(id -u)" = 0 ]; then
    printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d
    trap 'rm -f /usr/sbin/policy-rc.d' EXIT
fi
if ! timeout 600 "${SUDO[@]}" apt-get install -y --no-install-recommends etcd-server >&2; then
    timeout 600 "${SUDO[@]}" apt-get update >&2
    timeout 600 "${SUDO[@]}" apt-get install -y --no-install-recommends etcd-server >&2
fi
command -v etcd >/dev/null 2>&1 || { echo "error: etcd still missing after installing etcd-server" >&2; exit 1; }
