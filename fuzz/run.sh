#!/usr/bin/env bash
# Runs one fuzz target with libFuzzer on the stable toolchain.
#
#   fuzz/run.sh <target> [seconds] [extra libFuzzer flags...]
#
# - builds with cargo-fuzz (`cargo install cargo-fuzz`); RUSTC_BOOTSTRAP=1
#   lets stable rustc accept the -Z flags cargo-fuzz passes;
# - one job (-jobs=1), for `seconds` (default 60);
# - new inputs go to target/fuzz-corpus/<target> (git-ignored); the committed
#   seeds in fuzz/corpus/<target> are read, never written;
# - crashes land in fuzz/artifacts/<target>/ (git-ignored, and replayed by
#   `cargo test -p weir-fuzz-targets`); libFuzzer's log in
#   target/fuzz-logs/<target>/fuzz-0.log.
set -euo pipefail
target=${1:?usage: fuzz/run.sh <target> [seconds] [libFuzzer flags...]}
secs=${2:-60}
shift $(( $# >= 2 ? 2 : 1 ))
root=$(cd "$(dirname "$0")/.." && pwd)
work="$root/target/fuzz-corpus/$target"
logs="$root/target/fuzz-logs/$target"
mkdir -p "$work" "$logs"
cd "$logs"
RUSTC_BOOTSTRAP=1 cargo fuzz run \
    --fuzz-dir "$root/fuzz" \
    --target-dir "${CARGO_TARGET_DIR:-$root/target/fuzz-run}" \
    "$target" "$work" "$root/fuzz/corpus/$target" -- \
    -jobs=1 -max_total_time="$secs" "$@"
