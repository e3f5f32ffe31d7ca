#!/usr/bin/env bash
# Makes sure an etcd server is on PATH for weir-etcd's tests and example:
# installs Debian's etcd-server package (etcd 3.4) with apt-get (as root, or
# through passwordless sudo). The tests start and stop etcd themselves, on
# loopback ports with a temporary data directory.
set -euo pipefail
cd "$(dirname "$0")"
. lib/apt.sh
apt_install etcd etcd-server
