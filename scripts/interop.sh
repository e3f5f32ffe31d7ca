#!/usr/bin/env bash
# gRPC interop matrix: Weir's interop-server/-client against three other
# implementations, both directions, both runtimes, h2c and TLS: grpcio
# (Python, C core; interop/python), gRPC-Go (Debian's golang-google-grpc-dev;
# interop/go) and grpc-js (Node; interop/node); Weir against itself; a
# gRPC-Web client (@connectrpc/connect-node over HTTP/1.1 and HTTP/2,
# interop/node/web_client.js) against the Weir server with --grpc_web; and an
# h2load run against the Weir interop server. Against gRPC-Go and grpc-js,
# every row also repeats large_unary and server_streaming_4mib (four 1 MiB
# responses) REPEAT times: responses written over several flow-control
# windows are where gRPC-Go's BDP pings meet the server's ping policy.
# Prints a pass table, writes it to target/interop-results.txt and exits
# non-zero if any row failed.
#
# Bounded: every wait has a timeout and every process started here is
# stopped (by its pid) on exit. Logs: target/interop-logs/.
set -euo pipefail
cd "$(dirname "$0")/.."

SERVER_START_TIMEOUT=60  # s, until a server reports it is listening
CLIENT_TIMEOUT=300       # s, one client run (all cases)
H2LOAD_TIMEOUT=300       # s
H2LOAD_REQUESTS=100000
REPEAT=${INTEROP_REPEAT:-20} # large_unary and server_streaming_4mib, per row
OVERRIDE=foo.test.google.fr
CA_FILE=interop/certs/ca.pem

# --- processes ------------------------------------------------------------
# shellcheck source=scripts/lib/processes.sh
source scripts/lib/processes.sh

# --- setup -----------------------------------------------------------------
echo "== Python peer"
PY=$(timeout 900 ./scripts/setup-python.sh | tail -n 1)
"$PY" -c "import grpc; print('grpcio', grpc.__version__)"

echo "== cargo build --release -p weir-interop -p weir-embed-mio"
cargo build --release -p weir-interop -p weir-embed-mio
BIN=${CARGO_TARGET_DIR:-target}/release
SERVER_BIN=$BIN/interop-server
CLIENT_BIN=$BIN/interop-client
MIO_BIN=$BIN/mio-interop-server
for b in "$SERVER_BIN" "$CLIENT_BIN" "$MIO_BIN"; do
    [ -x "$b" ] || { echo "error: $b was not built" >&2; exit 1; }
done

./scripts/install-h2load.sh

echo "== gRPC-Go peer"
GO_BIN=$(timeout 1800 ./scripts/setup-go.sh | tail -n 1)
GO_SERVER=$GO_BIN/go-interop-server
GO_CLIENT=$GO_BIN/go-interop-client
echo "gRPC-Go $(sed -n 's/^const Version = "\(.*\)"/\1/p' /usr/share/gocode/src/google.golang.org/grpc/version.go)"

echo "== grpc-js peer"
NODE_DIR=$(timeout 900 ./scripts/setup-node.sh | tail -n 1)
(cd "$NODE_DIR" && node -e 'console.log("grpc-js", require("@grpc/grpc-js/package.json").version)')
for pkg in @connectrpc/connect-node @bufbuild/protobuf; do # no ./package.json in their exports
    echo "$pkg $(sed -n 's/^  "version": "\(.*\)",$/\1/p' "$NODE_DIR/node_modules/$pkg/package.json")"
done

RUNTIMES=(tokio smol)

LOGS=target/interop-logs
rm -rf "$LOGS"
mkdir -p "$LOGS"

# --- helpers -----------------------------------------------------------------
ROWS=()  # "direction|runtime|transport|passed|failed"
ANY_FAILED=0
record() {
    ROWS+=("$1|$2|$3|$4|$5")
    if [ "$5" != 0 ] && [ "$5" != - ]; then ANY_FAILED=1; fi
}

free_port() {
    "$PY" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# start_server LOG CMD... : sets SERVER_PID and SERVER_PORT (the CMD's --port is
# a free port appended here). Returns 1 if the server never became ready.
start_server() {
    local log=$1 port i
    shift
    port=$(free_port)
    "$@" --port "$port" >"$log" 2>&1 &
    SERVER_PID=$!
    PIDS+=("$SERVER_PID")
    SERVER_PORT=$port
    for ((i = 0; i < SERVER_START_TIMEOUT * 10; i++)); do
        if grep -q "interop server listening on 127.0.0.1:$port" "$log" 2>/dev/null; then return 0; fi
        if ! kill -0 "$SERVER_PID" 2>/dev/null; then
            echo "   server exited before listening: $*" >&2
            sed 's/^/   | /' "$log" >&2
            return 1
        fi
        if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then return 0; fi
        sleep 0.1
    done
    echo "   server not listening after ${SERVER_START_TIMEOUT}s: $*" >&2
    sed 's/^/   | /' "$log" >&2
    return 1
}

stop_server() {
    local pid=$SERVER_PID p rest=()
    stop_pid "$pid"
    for p in "${PIDS[@]}"; do [ "$p" = "$pid" ] || rest+=("$p"); done
    PIDS=("${rest[@]}")
}

# run_client DIRECTION RUNTIME TRANSPORT LOG CMD... : runs a client, records a row.
run_client() {
    local dir=$1 rt=$2 tr=$3 log=$4 rc=0 passed failed
    shift 4
    echo "-- $dir [$rt, $tr]"
    timeout "$CLIENT_TIMEOUT" "$@" >"$log" 2>&1 || rc=$?
    sed 's/^/   /' "$log"
    passed=$(grep -c '^PASS ' "$log" || true)
    failed=$(grep -c '^FAIL ' "$log" || true)
    if [ "$rc" != 0 ] && [ "$failed" = 0 ]; then
        failed=1
        if [ "$rc" = 124 ]; then
            echo "   client timed out after ${CLIENT_TIMEOUT}s"
        else
            echo "   client exited with status $rc"
        fi
    fi
    if [ "$passed" = 0 ] && [ "$failed" = 0 ]; then failed=1; fi
    record "$dir" "$rt" "$tr" "$passed" "$failed"
}

tls_flags() { # TRANSPORT: client TLS flags
    if [ "$1" = tls ]; then
        echo "--use_tls=true --server_host_override $OVERRIDE --ca_file $CA_FILE"
    else
        echo "--use_tls=false"
    fi
}

server_tls_flag() { if [ "$1" = tls ]; then echo "--use_tls=true"; else echo "--use_tls=false"; fi; }

# --- other implementations, both directions ----------------------------------------
# repeated NAME: NAME REPEAT times, comma-separated.
repeated() {
    local out="" i
    for ((i = 0; i < REPEAT; i++)); do out+="${out:+,}$1"; done
    echo "$out"
}
REPEATS="$(repeated large_unary),$(repeated server_streaming_4mib)"
# Neither gRPC-Go 1.33's server nor grpc-js's compresses responses on request
# (response_compressed), so Weir's client runs every other standard case.
PEER_SERVER_CASES="empty_unary,large_unary,client_streaming,server_streaming,ping_pong,empty_stream"
PEER_SERVER_CASES+=",timeout_on_sleeping_server,cancel_after_begin,cancel_after_first_response"
PEER_SERVER_CASES+=",status_code_and_message,special_status_message,unimplemented_method"
PEER_SERVER_CASES+=",unimplemented_service,custom_metadata,client_compressed_unary,client_compressed_streaming"

# peer_rows NAME SERVER_CMD CLIENT_CMD CLIENT_CASES SERVER_CASES: NAME's client
# (running CLIENT_CASES) -> Weir server, and Weir's client (running
# SERVER_CASES) -> NAME's server, each on both runtimes and both transports.
peer_rows() {
    local name=$1 server_cmd=$2 client_cmd=$3 client_cases=$4 server_cases=$5 rt tr dir
    for rt in "${RUNTIMES[@]}"; do
        for tr in h2c tls; do
            dir="$name client -> weir server"
            # shellcheck disable=SC2046
            if ! start_server "$LOGS/weir-server-$name-$rt-$tr.log" "$SERVER_BIN" --runtime "$rt" $(server_tls_flag "$tr"); then
                record "$dir" "$rt" "$tr" 0 "server did not start"
                stop_server
                continue
            fi
            # shellcheck disable=SC2046,SC2086
            run_client "$dir" "$rt" "$tr" "$LOGS/$name-client-weir-$rt-$tr.log" \
                $client_cmd --server_host 127.0.0.1 --server_port "$SERVER_PORT" \
                --test_case "$client_cases" $(tls_flags "$tr")
            stop_server
        done
    done
    for tr in h2c tls; do
        dir="weir client -> $name server"
        # shellcheck disable=SC2046,SC2086
        if ! start_server "$LOGS/$name-server-$tr.log" $server_cmd $(server_tls_flag "$tr"); then
            for rt in "${RUNTIMES[@]}"; do record "$dir" "$rt" "$tr" 0 "server did not start"; done
            stop_server
            continue
        fi
        for rt in "${RUNTIMES[@]}"; do
            # shellcheck disable=SC2046
            run_client "$dir" "$rt" "$tr" "$LOGS/weir-client-$name-$rt-$tr.log" \
                "$CLIENT_BIN" --runtime "$rt" --server_host 127.0.0.1 --server_port "$SERVER_PORT" \
                --test_case "$server_cases" $(tls_flags "$tr")
        done
        stop_server
    done
}

# grpcio's client knows the standard cases only.
peer_rows python "$PY interop/python/interop_server.py" "$PY interop/python/interop_client.py" \
    all "all,$REPEATS"
peer_rows go "$GO_SERVER" "$GO_CLIENT" "all,$REPEATS" "$PEER_SERVER_CASES,$REPEATS"
peer_rows grpc-js "node $NODE_DIR/server.js" "node $NODE_DIR/client.js" "all,$REPEATS" "$PEER_SERVER_CASES,$REPEATS"

# --- gRPC-Web client (connect-node) -> Weir server ---------------------------------
# The cases gRPC-Web carries (no client streaming or bidi), on the server's
# one port with --grpc_web, over HTTP/1.1 (web-h1: cleartext told from HTTP/2
# by its first octets; web-h1-tls: the client offers http/1.1 alone by ALPN)
# and over HTTP/2 (web-h2: h2c with prior knowledge; web-h2-tls: the client
# offers h2 and http/1.1, as browsers do, and the server must choose h2).
dir="connect-web client -> weir server"
WEB_CASES="all,$REPEATS"
for rt in "${RUNTIMES[@]}"; do
    for hv in 1.1 2; do
        for tr in h2c tls; do
            label="web-h${hv%%.*}"
            if [ "$tr" = tls ]; then label="$label-tls"; fi
            # shellcheck disable=SC2046
            if ! start_server "$LOGS/weir-server-$label-$rt.log" "$SERVER_BIN" --runtime "$rt" --grpc_web $(server_tls_flag "$tr"); then
                record "$dir" "$rt" "$label" 0 "server did not start"
                stop_server
                continue
            fi
            # shellcheck disable=SC2046
            run_client "$dir" "$rt" "$label" "$LOGS/connect-web-client-weir-$label-$rt.log" \
                node "$NODE_DIR/web_client.js" --server_host 127.0.0.1 --server_port "$SERVER_PORT" \
                --test_case "$WEB_CASES" --http_version "$hv" $(tls_flags "$tr")
            stop_server
        done
    done
done

# --- Weir's gRPC-Web client (HTTP/1.1) -> Weir's server and Weir in axum -----------
# interop-client --grpc_web: every case but the two that need a full-duplex
# stream; against Weir's own HTTP/1.1 driver (cleartext and TLS, both
# runtimes each side) and against hyper's (Weir's services in axum).
dir="weir web client -> weir server"
for rt in "${RUNTIMES[@]}"; do
    for tr in h2c tls; do
        label="web-h1"
        if [ "$tr" = tls ]; then label="web-h1-tls"; fi
        # shellcheck disable=SC2046
        if ! start_server "$LOGS/weir-server-webclient-$label-$rt.log" "$SERVER_BIN" --runtime "$rt" --grpc_web $(server_tls_flag "$tr"); then
            for crt in "${RUNTIMES[@]}"; do record "$dir" "$crt->$rt" "$label" 0 "server did not start"; done
            stop_server
            continue
        fi
        for crt in "${RUNTIMES[@]}"; do
            # shellcheck disable=SC2046
            run_client "$dir" "$crt->$rt" "$label" "$LOGS/weir-web-client-$crt-weir-$label-$rt.log" \
                "$CLIENT_BIN" --runtime "$crt" --grpc_web --server_host 127.0.0.1 --server_port "$SERVER_PORT" \
                --test_case "all,$REPEATS" $(tls_flags "$tr")
        done
        stop_server
    done
done
if start_server "$LOGS/weir-server-axum-webclient.log" "$SERVER_BIN" --runtime axum; then
    run_client "weir web client -> weir in axum" "tokio->axum" web-h1 "$LOGS/weir-web-client-axum.log" \
        "$CLIENT_BIN" --runtime tokio --grpc_web --server_host 127.0.0.1 --server_port "$SERVER_PORT" \
        --test_case "all,$REPEATS" --use_tls=false
else
    record "weir web client -> weir in axum" "tokio->axum" web-h1 0 "server did not start"
fi
stop_server

# peer_client NAME: sets cmd and cases to run NAME's interop client (python,
# go, grpc-js or weir) against a Weir server.
peer_client() {
    case $1 in
        python) cmd="$PY interop/python/interop_client.py" cases=all ;;
        go) cmd="$GO_CLIENT" cases="all,$REPEATS" ;;
        grpc-js) cmd="node $NODE_DIR/client.js" cases="all,$REPEATS" ;;
        weir) cmd="$CLIENT_BIN --runtime tokio" cases="all,$REPEATS" ;;
    esac
}

# --- every gRPC client -> Weir's services mounted in axum -----------------------
# `interop-server --runtime axum`: Server::into_service as the fallback of an
# axum Router beside a REST route, served by axum (hyper's HTTP/2), cleartext.
if start_server "$LOGS/weir-server-axum.log" "$SERVER_BIN" --runtime axum; then
    for peer in python go grpc-js weir; do
        peer_client "$peer"
        # shellcheck disable=SC2086
        run_client "$peer client -> weir in axum" axum h2c "$LOGS/$peer-client-weir-axum.log" \
            $cmd --server_host 127.0.0.1 --server_port "$SERVER_PORT" --test_case "$cases" --use_tls=false
    done
    stop_server
else
    for peer in python go grpc-js weir; do record "$peer client -> weir in axum" axum h2c 0 "server did not start"; done
    stop_server
fi

# --- every gRPC client -> weir-core in a mio event loop -----------------------------
# embed-mio's mio-interop-server: the Sans-IO core driven by one mio thread,
# TLS through rustls's own ServerConnection, no async runtime.
for tr in h2c tls; do
    # shellcheck disable=SC2046
    if ! start_server "$LOGS/mio-server-$tr.log" "$MIO_BIN" $(server_tls_flag "$tr"); then
        for peer in python go grpc-js weir; do record "$peer client -> weir in mio" mio "$tr" 0 "server did not start"; done
        stop_server
        continue
    fi
    for peer in python go grpc-js weir; do
        peer_client "$peer"
        # shellcheck disable=SC2046,SC2086
        run_client "$peer client -> weir in mio" mio "$tr" "$LOGS/$peer-client-mio-$tr.log" \
            $cmd --server_host 127.0.0.1 --server_port "$SERVER_PORT" --test_case "$cases" $(tls_flags "$tr")
    done
    stop_server
done

# --- Weir client -> Weir server, across runtimes ---------------------------------
dir="weir client -> weir server"
for srt in "${RUNTIMES[@]}"; do
    if ! start_server "$LOGS/weir-server-self-$srt.log" "$SERVER_BIN" --runtime "$srt" --use_tls=false; then
        for crt in "${RUNTIMES[@]}"; do record "$dir" "$crt->$srt" h2c 0 "server did not start"; done
        stop_server
        continue
    fi
    for crt in "${RUNTIMES[@]}"; do
        run_client "$dir" "$crt->$srt" h2c "$LOGS/weir-client-$crt-weir-$srt.log" \
            "$CLIENT_BIN" --runtime "$crt" --server_host 127.0.0.1 --server_port "$SERVER_PORT" \
            --test_case all --use_tls=false
    done
    stop_server
done

# --- h2load -> Weir server -------------------------------------------------------
dir="h2load -> weir server"
echo "-- $dir [tokio, h2c]: $H2LOAD_REQUESTS UnaryCall, -c 10 -m 10"
BODY=$LOGS/h2load-body.bin
"$PY" interop/python/make_h2load_body.py "$BODY" --response_size 10 --payload_size 16
if start_server "$LOGS/weir-server-h2load.log" "$SERVER_BIN" --runtime tokio --use_tls=false; then
    # h2load counts HTTP 2xx only; first check (nghttp, same package) that this
    # body really is a good UnaryCall: grpc-status 0 in the trailers.
    preflight_ok=1
    if command -v nghttp >/dev/null 2>&1; then
        timeout 30 nghttp -v -H 'content-type: application/grpc' -H 'te: trailers' -d "$BODY" \
            "http://127.0.0.1:$SERVER_PORT/grpc.testing.TestService/UnaryCall" >"$LOGS/nghttp.log" 2>&1 || true
        if grep -aq 'grpc-status: 0' "$LOGS/nghttp.log"; then
            echo "   preflight: one UnaryCall with this body ends with grpc-status 0"
        else
            preflight_ok=0
            echo "   preflight failed: no 'grpc-status: 0' for one UnaryCall with this body:"
            sed 's/^/   | /' "$LOGS/nghttp.log" | tail -n 30
        fi
    fi
    rc=0
    timeout "$H2LOAD_TIMEOUT" h2load -n "$H2LOAD_REQUESTS" -c 10 -m 10 \
        -H 'content-type: application/grpc' -H 'te: trailers' -d "$BODY" \
        "http://127.0.0.1:$SERVER_PORT/grpc.testing.TestService/UnaryCall" \
        >"$LOGS/h2load.log" 2>&1 || rc=$?
    summary=$(grep -E '^requests: ' "$LOGS/h2load.log" || true)
    rate=$(grep -E '^finished in ' "$LOGS/h2load.log" || true)
    echo "   ${summary:-no requests: line (h2load exit $rc)}"
    echo "   ${rate:-no finished line}"
    grep -E '^status codes: ' "$LOGS/h2load.log" | sed 's/^/   /' || true
    ok=$(sed -n 's/.* \([0-9][0-9]*\) succeeded.*/\1/p' <<<"$summary")
    bad=$(sed -n 's/.* \([0-9][0-9]*\) failed.*/\1/p' <<<"$summary")
    err=$(sed -n 's/.* \([0-9][0-9]*\) errored.*/\1/p' <<<"$summary")
    if [ "$preflight_ok" = 1 ] && [ "$rc" = 0 ] && [ "${ok:-0}" = "$H2LOAD_REQUESTS" ] && [ "${bad:-x}" = 0 ] && [ "${err:-x}" = 0 ]; then
        record "$dir" tokio h2c "${ok}" 0
    else
        [ "$rc" = 0 ] || echo "   h2load exited with status $rc"
        sed 's/^/   | /' "$LOGS/h2load.log" | tail -n 20
        missing=$((H2LOAD_REQUESTS - ${ok:-0}))
        record "$dir" tokio h2c "${ok:-0}" "$((missing > 0 ? missing : 1))"
    fi
else
    record "$dir" tokio h2c 0 "server did not start"
fi
stop_server

# --- table ----------------------------------------------------------------------
mkdir -p target
{
    printf '%-34s %-12s %-10s %8s %8s\n' direction runtime transport passed failed
    for row in "${ROWS[@]}"; do
        IFS='|' read -r d r t p f <<<"$row"
        printf '%-34s %-12s %-10s %8s %8s\n' "$d" "$r" "$t" "$p" "$f"
    done
} >target/interop-results.txt
echo
echo "== interop results (target/interop-results.txt)"
cat target/interop-results.txt
if [ "$ANY_FAILED" != 0 ]; then
    echo "interop: FAILED" >&2
    exit 1
fi
echo "interop: all rows passed"
