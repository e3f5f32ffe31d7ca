#!/usr/bin/env bash
# The whole test suite: what the README's test command and CI run.
set -euo pipefail
cd "$(dirname "$0")/.."
# A one-off build gains nothing from incremental state, which would be
# several GB on disk beside the test binaries.
export CARGO_INCREMENTAL="${CARGO_INCREMENTAL:-0}"
# The Python grpcio peer the interop tests call (installed once into .venv).
./scripts/setup-python.sh > /dev/null
# The real etcd weir-etcd's tests start and stop (Debian's etcd-server).
./scripts/setup-etcd.sh
# Prometheus and promtool, which scrape and lint the metrics example.
./scripts/setup-prometheus.sh
# Debian's chromium and examples/web's npm packages and bundle, for the browser test.
./scripts/setup-browser.sh > /dev/null
cargo fmt --all -- --check
cargo clippy --workspace --all-targets -- -D warnings
# The adapters also build without TLS.
cargo clippy -p weir-rt -p weir-tokio -p weir-smol -p weir-compio --no-default-features -- -D warnings
# Code generation needs no protoc: build the examples with PROTOC pointing
# nowhere (prost-build would fail if anything tried to run it).
PROTOC=/nonexistent/protoc cargo build -p weir-examples
cargo test --workspace
# Documentation builds without a warning (broken links, bad code blocks).
RUSTDOCFLAGS="-D warnings" cargo doc --workspace --no-deps
# Every publishable crate packages: metadata, license, readme, versioned
# dependencies (what crates.io checks before building anything).
cargo package --no-verify --allow-dirty -p weir-core -p weir-rt -p weir-tokio -p weir-smol \
    -p weir-build -p weir-services -p weir-types -p weir-etcd -p weir-otel -p weir-sim -p weir-compio
# Interop matrix against grpcio (Python, C core) and h2load; prints a table.
./scripts/interop.sh
