#!/usr/bin/env bash
# One command for the end-to-end comparison with tonic: builds the bench
# binaries (release), makes sure h2load is installed, runs every scenario
# and rewrites BENCHMARKS.md. Usage: benches/run.sh [--seconds N]
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/install-h2load.sh
cargo build --release -p weir-benches --bins
BIN=${CARGO_TARGET_DIR:-target}/release
# Bounded: each scenario has its own limit inside the harness too.
timeout 3600 "$BIN/bench-harness" --out BENCHMARKS.md "$@"
