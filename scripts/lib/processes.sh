# Sourced by scripts that start background processes (interop.sh, soak.sh):
# every pid added to PIDS is stopped on exit (SIGTERM, then SIGKILL after 5 s).

PIDS=()

# stop_pid PID: asks the process to stop, waits up to 5 s, then kills it.
stop_pid() {
    local pid=$1 i
    kill "$pid" 2>/dev/null || return 0
    for ((i = 0; i < 50; i++)); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
}

cleanup() {
    local pid
    for pid in "${PIDS[@]}"; do stop_pid "$pid"; done
    PIDS=()
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
