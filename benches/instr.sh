#!/usr/bin/env bash
# Instructions per streamed message, Weir and tonic, counted by callgrind (no
# timing noise): stream-instr runs one call of N and one of 2N messages in one
# process on one thread (server and client together); the difference of the
# two totals over N is one message's cost. Usage: benches/instr.sh [SIZE] [N]
# [MODES] [CALLS] (CALLS calls at once, N messages each); prints one line
# per stack and mode.
set -euo pipefail
cd "$(dirname "$0")/.."
SIZE=${1:-1024}; N=${2:-20000}; MODES=${3:-"download upload echo"}; CALLS=${4:-1}
cargo build --release -q -p weir-benches --bin stream-instr
BIN=${CARGO_TARGET_DIR:-target}/release/stream-instr
OUT=$(mktemp -d); trap 'rm -rf "$OUT"' EXIT
total() {
    valgrind --tool=callgrind --callgrind-out-file="$OUT/cg" "$BIN" --impl "$1" --mode "$2" --size "$SIZE" --count "$3" --calls "$CALLS" >/dev/null 2>"$OUT/err" \
        || { cat "$OUT/err" >&2; exit 1; }
    grep -m1 '^summary:' "$OUT/cg" | awk '{print $2}'
}
for mode in $MODES; do
    for stack in weir tonic; do
        a=$(total "$stack" "$mode" "$N"); b=$(total "$stack" "$mode" $((2 * N)))
        echo "$stack mode=$mode size=$SIZE calls=$CALLS instructions_per_message=$(( (b - a) / (N * CALLS) ))"
    done
done
