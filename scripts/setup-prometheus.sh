#!/usr/bin/env bash
# Makes sure Prometheus and promtool are on PATH for the metrics example's
# test (examples/tests/prometheus.rs): installs Debian's prometheus package
# with apt-get (as root, or through passwordless sudo). The test starts its
# own Prometheus on a loopback port with a temporary data directory.
set -euo pipefail
cd "$(dirname "$0")"
. lib/apt.sh
apt_install prometheus prometheus
apt_install promtool prometheus
