#!/usr/bin/env bash
# Integration tests of the real `mayastor` daemon binary (registered with ctest in
# tests/CMakeLists.txt, one ctest test per case):
#   start_stop   malloc + uring devices, ready line, SIGTERM/SIGINT -> exit 0 within 5 s
#   bad_options  bad options and devices -> exit 1 with a clear message
#   idle_cpu     sanity bound, not a perf test: idle for 3 s the daemon uses < 5% of one core
# Usage: daemon_test.sh PATH/TO/mayastor CASE
set -euo pipefail

bin=${1:?usage: daemon_test.sh PATH/TO/mayastor start_stop|bad_options|idle_cpu}
case_name=${2:?usage: daemon_test.sh PATH/TO/mayastor start_stop|bad_options|idle_cpu}

tmp=$(mktemp -d "${TMPDIR:-/tmp}/mayastor-it.XXXXXX")
pid=""

alive() {
    # A child that exited but was not reaped yet is a zombie: not alive.
    [[ -n $pid && -r /proc/$pid/stat ]] && [[ $(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null) != Z ]]
}

cleanup() {
    if alive; then
        kill -KILL "$pid" 2>/dev/null || true
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

# Starts the daemon in the background with "$@" and waits for its ready line (30 s at most:
# sanitizer builds on a loaded machine start slowly).
start_daemon() {
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
    timeout 10 "$bin" "$@" >"$tmp/stdout" 2>"$tmp/stderr" || rc=$?
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

    local rc=0
    "$bin" --help >"$tmp/stdout" 2>&1 || rc=$?
    [[ $rc -eq 0 ]] || fail "--help exited with $rc"
    grep -q 'not served until' "$tmp/stdout" || fail "--help does not say what is not served yet"
    echo "ok: --help -> exit 0"
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
    *) fail "unknown case '$case_name'" ;;
esac
