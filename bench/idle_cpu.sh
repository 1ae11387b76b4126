#!/usr/bin/env bash
# Idle CPU of the mayastor daemon: starts it with two reactors (-m 0x3) and a malloc device,
# waits for its ready line, then samples its CPU time while it has nothing to do, and prints
# the CPU used as a percentage of one core. A measurement, not a test: it never fails on the
# figure. The baseline is zero: an idle reactor should sleep in the kernel.
#
# Two readings of the same interval:
#   utime+stime  /proc/PID/stat fields 14+15 (clock ticks, usually 10 ms each)
#   on-CPU time  sum of /proc/PID/task/*/schedstat (nanoseconds, when the kernel has schedstats)
#
# Usage: bash bench/idle_cpu.sh [SECONDS]     (default 30; or IDLE_SECONDS=N)
#        MAYASTOR=path/to/mayastor MASK=0x1 bash bench/idle_cpu.sh
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

seconds=${1:-${IDLE_SECONDS:-30}}
mask=${MASK:-0x3}
bin=${MAYASTOR:-build/tools/mayastor/mayastor}
if [[ ! -x $bin ]]; then
    echo "idle_cpu: $bin not found: build first (bash scripts/build.sh)" >&2
    exit 1
fi

log=$(mktemp "${TMPDIR:-/tmp}/idle_cpu.XXXXXX")
"$bin" -m "$mask" -d 'malloc:///m0?size_mb=64' 2>"$log" &
pid=$!
cleanup() {
    if kill -0 "$pid" 2>/dev/null; then
        kill -TERM "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    fi
    rm -f "$log"
}
trap cleanup EXIT

for ((i = 0; i < 300; i++)); do
    grep -q 'mayastor ready' "$log" && break
    kill -0 "$pid" 2>/dev/null || { cat "$log" >&2; echo "idle_cpu: mayastor exited" >&2; exit 1; }
    sleep 0.1
done
grep -q 'mayastor ready' "$log" || { cat "$log" >&2; echo "idle_cpu: mayastor not ready in 30 s" >&2; exit 1; }
sleep 1

ticks() { sed 's/.*) //' "/proc/$pid/stat" | awk '{print $12 + $13}'; }
oncpu_ns() { cat /proc/"$pid"/task/*/schedstat 2>/dev/null | awk '{s += $1; n++} END {printf "%d\n", n ? s : -1}'; }

hz=$(getconf CLK_TCK)
threads=$(ls /proc/"$pid"/task | wc -l)
t0=$(ticks)
n0=$(oncpu_ns)
start_ns=$(date +%s%N)
sleep "$seconds"
t1=$(ticks)
n1=$(oncpu_ns)
end_ns=$(date +%s%N)

awk -v t="$((t1 - t0))" -v hz="$hz" -v ns="$((n0 < 0 || n1 < 0 ? -1 : n1 - n0))" -v wall="$((end_ns - start_ns))" \
    -v startup="$n0" -v mask="$mask" -v threads="$threads" -v secs="$seconds" 'BEGIN {
    printf "idle_cpu: mayastor -m %s (%d threads), idle for %d s\n", mask, threads, secs
    printf "idle_cpu: utime+stime %d ticks = %.3f%% of one core\n", t, 100 * t / hz / (wall / 1e9)
    if (ns >= 0) {
        printf "idle_cpu: on-CPU time %.3f ms = %.4f%% of one core (schedstat; start-up before it took %.3f ms)\n",
               ns / 1e6, 100 * ns / wall, startup / 1e6
    }
}'

kill -TERM "$pid"
rc=0
wait "$pid" || rc=$?
if [[ $rc -ne 0 ]]; then
    echo "idle_cpu: mayastor exited with $rc after SIGTERM" >&2
    exit 1
fi
