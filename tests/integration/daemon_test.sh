#!/usr/bin/env bash
# Integration tests of the real `mayastor` daemon binary (registered with ctest in
# tests/CMakeLists.txt, one ctest test per case):
#   start_stop   malloc + uring devices, ready line, SIGTERM/SIGINT -> exit 0 within 5 s
#   bad_options  bad options and devices -> exit 1 with a clear message
#   idle_cpu     sanity bound, not a perf test: idle for 3 s the daemon uses < 5% of one core
#   config       -y config file (settings, pools; unknown keys rejected) and -P pools file,
#                JSON-RPC over the socket with the jsonrpc tool, pools imported again on restart
#   store        the store: --store-dir (made 0700), store_dir in the config file, etcd (-p) when
#                /usr/bin/etcd exists; no start without a store (bad directory, etcd down)
# Usage: daemon_test.sh PATH/TO/mayastor CASE
# The daemon always gets its own gRPC port and JSON-RPC socket, so cases can run in parallel.
set -euo pipefail

bin=${1:?usage: daemon_test.sh PATH/TO/mayastor start_stop|bad_options|idle_cpu|config|store}
case_name=${2:?usage: daemon_test.sh PATH/TO/mayastor start_stop|bad_options|idle_cpu|config|store}

tmp=$(mktemp -d "${TMPDIR:-/tmp}/mayastor-it.XXXXXX")
pid=""
etcd_pid=""

alive() {
    # A child that exited but was not reaped yet is a zombie: not alive.
    [[ -n $pid && -r /proc/$pid/stat ]] && [[ $(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null) != Z ]]
}

cleanup() {
    if alive; then
        kill -KILL "$pid" 2>/dev/null || true
    fi
    if [[ -n $etcd_pid ]]; then
        kill -KILL "$etcd_pid" 2>/dev/null || true
        wait "$etcd_pid" 2>/dev/null || true
    fi
    rm -rf "$tmp"
}
trap cleanup EXIT

fail() {
    echo "FAIL: $*" >&2
    if [[ -s $tmp/stderr ]]; then
        echo "--- daemon stderr:" >&2
        cat "$tmp/stderr" >&2
    fi
    exit 1
}

jsonrpc_bin=$(dirname "$bin")/../jsonrpc/jsonrpc
sock=$tmp/mayastor.sock

# A TCP port nobody listens on now.
free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# Starts the daemon in the background with "$@" (plus a free gRPC port, the test's socket and
# store directory) and waits for its ready line (30 s at most: sanitizer builds on a loaded
# machine start slowly).
start_daemon() {
    start_daemon_raw -g "127.0.0.1:$(free_port)" -r "$sock" --store-dir "$tmp/store" --nvmf-port 0 \
        --nvmf-nexus-port 0 --nbd-port 0 "$@"
}

start_daemon_raw() {
    : >"$tmp/stderr"
    "$bin" "$@" 2>"$tmp/stderr" &
    pid=$!
    local i
    for ((i = 0; i < 300; i++)); do
        if grep -q 'mayastor ready' "$tmp/stderr"; then
            return 0
        fi
        alive || fail "daemon exited before it was ready ($*)"
        sleep 0.1
    done
    fail "daemon not ready within 30 s ($*)"
}

# Sends signal $1 and requires a clean exit (status 0) within 5 s.
stop_daemon() {
    local sig=$1 i rc=0
    kill "-$sig" "$pid"
    for ((i = 0; i < 50; i++)); do
        alive || break
        sleep 0.1
    done
    alive && fail "daemon still running 5 s after SIG$sig"
    wait "$pid" || rc=$?
    pid=""
    [[ $rc -eq 0 ]] || fail "daemon exited with status $rc after SIG$sig (expected 0)"
    grep -q "received SIG$sig, shutting down" "$tmp/stderr" || fail "no shutdown line after SIG$sig"
    if grep -q -E '^\[[^]]* (error|critical) ' "$tmp/stderr"; then
        fail "daemon logged an error"
    fi
}

# Two reactors when the machine lets this process run on cores 0 and 1, else one.
core_mask() {
    if taskset -pc $$ 2>/dev/null | grep -q -E ': (0-|0,1)'; then
        echo 0x3
    else
        echo 0x1
    fi
}

case_start_stop() {
    truncate -s 64M "$tmp/disk.img"
    start_daemon -m "$(core_mask)" -d 'malloc:///m0?size_mb=64' -d "uring://$tmp/disk.img?blk_size=4096"
    grep -q 'm0 (Malloc disk' "$tmp/stderr" || fail "ready line does not list m0"
    grep -q "$tmp/disk.img (io_uring disk" "$tmp/stderr" || fail "ready line does not list the uring device"
    stop_daemon TERM
    echo "ok: SIGTERM -> exit 0"

    start_daemon -d 'malloc:///m0?size_mb=16' -d "uring://$tmp/disk.img" -d 'error:///e0?base=m0&fail=write'
    stop_daemon INT
    echo "ok: SIGINT -> exit 0 (with an error device over m0)"
}

# expect_usage_error REGEX ARGS...: the daemon must exit 1 within 10 s and stderr must match.
expect_usage_error() {
    local want=$1 rc=0
    shift
    # Free NVMe-oF ports (the target starts before devices and pools are made), unless the case
    # names its own.
    local nvmf=(--nvmf-port 0 --nvmf-nexus-port 0 --nbd-port 0)
    [[ " $* " == *" --nvmf-port "* ]] && nvmf=(--nbd-port 0)
    [[ " $* " == *" --nbd-port "* ]] && nvmf=(--nvmf-port 0 --nvmf-nexus-port 0)
    timeout 10 "$bin" "$@" "${nvmf[@]}" >"$tmp/stdout" 2>"$tmp/stderr" || rc=$?
    [[ $rc -eq 1 ]] || fail "'mayastor $*' exited with $rc (expected 1)"
    grep -q -E -- "$want" "$tmp/stderr" || fail "'mayastor $*': stderr does not match '$want'"
    echo "ok: mayastor $* -> exit 1: $(grep -E -- "$want" "$tmp/stderr" | head -n 1)"
}

case_bad_options() {
    expect_usage_error "unknown URI scheme 'foo'" -d 'foo:///x'
    expect_usage_error "bad core mask '0xZ'" -m 0xZ
    expect_usage_error "core mask '0x0' selects no core" -m 0x0
    expect_usage_error "cannot be used together" -m 0x1 -l 0
    expect_usage_error "core 1023 is not available" -l 1023
    expect_usage_error "unknown parameter 'bogus'" -d 'malloc:///m0?size_mb=8&bogus=1'
    expect_usage_error "give exactly one of size_mb and num_blocks" -d 'malloc:///m0'
    expect_usage_error "cannot open '$tmp/missing.img'" -d "uring://$tmp/missing.img"
    expect_usage_error "a device named 'm0' already exists" -d 'malloc:///m0?size_mb=8' -d 'malloc:///m0?size_mb=8'
    expect_usage_error "log-level" -L loud
    expect_usage_error "-g: bad endpoint" -g 1.2.3.4:0
    expect_usage_error "not expected" --no-such-option
    MY_POD_IP=not-an-ip expect_usage_error "MY_POD_IP='not-an-ip' is not an IPv4 address"
    expect_usage_error "--nvmf-address: 'x' is not an IPv4 address" --nvmf-address x
    expect_usage_error "--nvmf-port and --nvmf-nexus-port are both 9999" --nvmf-port 9999 --nvmf-nexus-port 9999
    # A port the target cannot bind (taken by a running daemon) stops the start.
    local busy busy_nbd rc=0
    busy=$(free_port)
    busy_nbd=$(free_port)
    start_daemon_raw -g "127.0.0.1:$(free_port)" -r "$sock" --store-dir "$tmp/store" --nvmf-port "$busy" \
        --nvmf-nexus-port 0 --nbd-port "$busy_nbd"
    timeout 10 "$bin" -g "127.0.0.1:$(free_port)" -r "$tmp/other.sock" --store-dir "$tmp/store2" \
        --nvmf-port "$busy" --nvmf-nexus-port 0 --nbd-port 0 >"$tmp/stdout" 2>"$tmp/busy.stderr" || rc=$?
    [[ $rc -eq 1 ]] || fail "a second daemon on NVMe-oF port $busy exited with $rc (expected 1)"
    grep -q -E "cannot start the NVMe-oF target on 0.0.0.0 \(ports $busy and 0\): .*in use" "$tmp/busy.stderr" ||
        fail "no clear message for a busy NVMe-oF port: $(cat "$tmp/busy.stderr")"
    echo "ok: busy NVMe-oF port -> exit 1: $(grep 'NVMe-oF target' "$tmp/busy.stderr")"
    # The same for the NBD server's port (the running daemon serves NBD on $busy_nbd).
    rc=0
    timeout 10 "$bin" -g "127.0.0.1:$(free_port)" -r "$tmp/other.sock" --store-dir "$tmp/store2" \
        --nvmf-port 0 --nvmf-nexus-port 0 --nbd-port "$busy_nbd" >"$tmp/stdout" 2>"$tmp/busy.stderr" || rc=$?
    [[ $rc -eq 1 ]] || fail "a second daemon on NBD port $busy_nbd exited with $rc (expected 1)"
    grep -q -E "cannot start the NBD server on 0.0.0.0 port $busy_nbd: .*in use" "$tmp/busy.stderr" ||
        fail "no clear message for a busy NBD port: $(cat "$tmp/busy.stderr")"
    echo "ok: busy NBD port -> exit 1: $(grep 'NBD server' "$tmp/busy.stderr")"
    expect_usage_error "--nbd-address: 'y' is not an IPv4 address" --nbd-address y
    stop_daemon TERM

    local rc=0
    "$bin" --help >"$tmp/stdout" 2>&1 || rc=$?
    [[ $rc -eq 0 ]] || fail "--help exited with $rc"
    grep -q 'Serve the gRPC API' "$tmp/stdout" || fail "--help does not describe -g"
    grep -q -- '--store-dir DIR' "$tmp/stdout" || fail "--help does not describe --store-dir"
    echo "ok: --help -> exit 0"
}

# jsonrpc METHOD [PARAMS]: one call on the daemon's socket; the result on stdout.
jsonrpc() {
    "$jsonrpc_bin" -s "$sock" -t 10 raw "$@"
}

case_config() {
    truncate -s 64M "$tmp/pool.img"
    local port
    port=$(free_port)

    printf 'node_name: n1\ngrpc_port: 10124\n' >"$tmp/bad.yaml"
    expect_usage_error "unknown key 'grpc_port'" -y "$tmp/bad.yaml"
    printf 'pools:\n  - name: p\n    disks: [a]\n    extra: 1\n' >"$tmp/bad.yaml"
    expect_usage_error "unknown key 'extra' in pool entry" -y "$tmp/bad.yaml"
    expect_usage_error "cannot read '$tmp/missing.yaml'" -y "$tmp/missing.yaml"
    printf 'pools: [{name: p}]\n' >"$tmp/bad-pools.yaml"
    expect_usage_error "exactly one disk" -P "$tmp/bad-pools.yaml" -g "127.0.0.1:$port" -r "$sock"

    cat >"$tmp/config.yaml" <<EOF
# every kind of setting, and a pool
node_name: config-node
log_level: info
grpc_endpoint: "127.0.0.1:$port"
json_rpc_socket: $sock
store_dir: $tmp/config-store
nvmf_address: "127.0.0.1"
nvmf_replica_port: 0
nvmf_nexus_port: 0
nbd_address: "127.0.0.1"
nbd_port: 0
devices: ["malloc:///m0?size_mb=16"]
pools_file: $tmp/pools.yaml
pools:
  - name: mpool
    disks: ["malloc:///mdisk?size_mb=64"]
EOF
    cat >"$tmp/pools.yaml" <<EOF
pools:
  - name: fpool
    disks: ["uring://$tmp/pool.img"]
EOF
    start_daemon_raw -y "$tmp/config.yaml"
    grep -q 'node config-node' "$tmp/stderr" || fail "node name from the config file not used"
    grep -q "gRPC on 127.0.0.1:$port" "$tmp/stderr" || fail "gRPC endpoint from the config file not used"
    grep -q "store: file:$tmp/config-store" "$tmp/stderr" || fail "store_dir from the config file not used"
    grep -q "NVMe-oF/TCP on 127.0.0.1 ports" "$tmp/stderr" || fail "nvmf_address from the config file not used"
    grep -q "NBD on 127.0.0.1:" "$tmp/stderr" || fail "nbd_address from the config file not used"
    grep -q "NBD on 127.0.0.1:10809 " "$tmp/stderr" && fail "nbd_port from the config file not used"
    grep -q "NVMe-oF/TCP on 127.0.0.1 ports 8420 " "$tmp/stderr" && fail "nvmf_replica_port from the config file not used"
    grep -q 'pools: mpool (' "$tmp/stderr" || fail "config pool not created"
    grep -q 'fpool (uring://' "$tmp/stderr" || fail "pools-file pool not created"
    jsonrpc pool_list >"$tmp/out" || fail "pool_list failed"
    grep -q '"name": "fpool"' "$tmp/out" || fail "pool_list does not show fpool"
    jsonrpc bdev_create '{"uri": "malloc:///api0?size_mb=8"}' >"$tmp/out" || fail "bdev_create failed"
    grep -qx '"api0"' "$tmp/out" || fail "bdev_create did not print the name"
    jsonrpc bdev_write '{"name": "m0", "offset": 0, "pattern": 171, "length": 4096}' >/dev/null ||
        fail "bdev_write failed"
    jsonrpc bdev_read '{"name": "m0", "offset": 0, "length": 3}' 2>"$tmp/err" && fail "unaligned read succeeded"
    grep -q 'error -32602' "$tmp/err" || fail "unaligned read is not -32602: $(cat "$tmp/err")"
    jsonrpc bdev_destroy '{"name": "nope"}' 2>"$tmp/err" && fail "destroying an unknown device succeeded"
    grep -q 'error -2:' "$tmp/err" || fail "unknown device is not -2: $(cat "$tmp/err")"
    jsonrpc no_such_method 2>"$tmp/err" && fail "unknown method succeeded"
    grep -q 'error -32601' "$tmp/err" || fail "unknown method is not -32601"
    jsonrpc get_version '{not json' 2>/dev/null && fail "bad params accepted"
    stop_daemon TERM
    [[ ! -e $sock ]] || fail "the JSON-RPC socket is left after exit"
    echo "ok: config file, pools file and JSON-RPC"

    # The command line wins over the config file; the file pool is imported again.
    start_daemon -y "$tmp/config.yaml" -N cli-node
    grep -q 'node cli-node' "$tmp/stderr" || fail "-N does not override the config file"
    grep -q 'fpool (uring://' "$tmp/stderr" || fail "fpool not imported again on restart"
    stop_daemon INT
    echo "ok: restart imports the pools again; the command line overrides the config file"
}

case_store() {
    local port
    start_daemon_raw -g "127.0.0.1:$(free_port)" -r "$sock" --store-dir "$tmp/a/b/store" --nvmf-port 0 --nvmf-nexus-port 0 --nbd-port 0
    grep -q "store: file:$tmp/a/b/store" "$tmp/stderr" || fail "no 'store: file:' line"
    [[ $(stat -c %a "$tmp/a/b/store") == 700 ]] || fail "the store directory is not 0700"
    stop_daemon TERM
    echo "ok: --store-dir made (0700) and used"

    : >"$tmp/not-a-dir"
    expect_usage_error "cannot open the store: store directory: '$tmp/not-a-dir' exists and is not a directory" \
        -g "127.0.0.1:$(free_port)" -r "$sock" --store-dir "$tmp/not-a-dir"
    expect_usage_error "cannot be used together" -p 127.0.0.1 --store-dir "$tmp/store"
    port=$(free_port)
    expect_usage_error "cannot open the store: etcd at 127.0.0.1:$port is unreachable" \
        -g "127.0.0.1:$(free_port)" -r "$sock" -p "127.0.0.1:$port"

    if [[ ! -x /usr/bin/etcd ]]; then
        echo "skip: /usr/bin/etcd is missing (Debian's etcd-server): no daemon run on etcd"
        return 0
    fi
    local client peer i
    client=$(free_port)
    peer=$(free_port)
    /usr/bin/etcd --name=it --data-dir="$tmp/etcd" --listen-client-urls="http://127.0.0.1:$client" \
        --advertise-client-urls="http://127.0.0.1:$client" --listen-peer-urls="http://127.0.0.1:$peer" \
        --initial-advertise-peer-urls="http://127.0.0.1:$peer" --initial-cluster="it=http://127.0.0.1:$peer" \
        >"$tmp/etcd.log" 2>&1 &
    etcd_pid=$!
    # The daemon waits up to 5 s for etcd to answer; etcd serves about a second after it starts.
    for ((i = 0; i < 100; i++)); do
        grep -q 'ready to serve client requests' "$tmp/etcd.log" && break
        kill -0 "$etcd_pid" 2>/dev/null || fail "etcd exited: $(tail -n 5 "$tmp/etcd.log")"
        sleep 0.1
    done
    start_daemon_raw -g "127.0.0.1:$(free_port)" -r "$sock" -p "127.0.0.1:$client" --nvmf-port 0 --nvmf-nexus-port 0 --nbd-port 0
    grep -q "store: etcd:127.0.0.1:$client" "$tmp/stderr" || fail "no 'store: etcd:' line"
    stop_daemon TERM
    kill -TERM "$etcd_pid"
    wait "$etcd_pid" || true
    etcd_pid=""
    echo "ok: -p uses etcd"
}

proc_ticks() {
    # utime + stime (fields 14 and 15), counted after the ')' that ends the command name.
    sed 's/.*) //' "/proc/$pid/stat" | awk '{print $12 + $13}'
}

case_idle_cpu() {
    local mask seconds=3 hz t0 t1
    mask=$(core_mask)
    start_daemon -m "$mask" -d 'malloc:///m0?size_mb=64'
    sleep 0.5
    hz=$(getconf CLK_TCK)
    t0=$(proc_ticks)
    sleep "$seconds"
    alive || fail "daemon died while idle"
    t1=$(proc_ticks)
    local used=$((t1 - t0))
    local limit=$((hz * seconds * 5 / 100))
    echo "idle: $used ticks of utime+stime in ${seconds} s (${hz} ticks/s, -m $mask); bound: < $limit"
    [[ $used -lt $limit ]] || fail "idle daemon used $used ticks in ${seconds} s (>= 5% of a core)"
    stop_daemon TERM
    echo "ok: idle CPU below 5% of one core"
}

case "$case_name" in
    start_stop) case_start_stop ;;
    bad_options) case_bad_options ;;
    idle_cpu) case_idle_cpu ;;
    config) case_config ;;
    store) case_store ;;
    *) fail "unknown case '$case_name'" ;;
esac
