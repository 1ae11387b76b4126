#!/usr/bin/env bash
# Our nbd:// device next to fio's own nbd engine (libnbd too), in one run, against the same
# nbdkit memory server on a Unix socket: 4 KiB random reads and writes at queue depth 32 by
# default. Prints each pair's IOPS, client CPU per I/O and the ratio (ours / fio).
#
#   mayastor-perf -u 'nbd+unix:///?socket=S'    vs   fio --ioengine=nbd --uri='nbd+unix:///?socket=S'
#
# The server runs on BENCH_SERVER_CPU, both clients on BENCH_CPU (one at a time). The server is
# a process this script starts and stops by PID. A program that prints figures, not a test.
#
# Environment:
#   MAYASTOR_PERF     path of mayastor-perf (default: build/tools/perf/mayastor-perf)
#   BENCH_SECONDS     seconds per run (default 10)
#   BENCH_CPU         the CPU the clients run on (default 1)
#   BENCH_SERVER_CPU  the CPU nbdkit runs on (default 0)
#   BENCH_BS          I/O size (default 4k)
#   BENCH_QD          queue depth (default 32)
#   BENCH_REPEAT      runs of each pair, alternating; the best of each side is reported (default 1)
#   BENCH_SIZE        nbdkit memory size (default 1G)
#   BENCH_THREADS     nbdkit worker threads (default: nbdkit's 16)
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
perf_bin=${MAYASTOR_PERF:-$root/build/tools/perf/mayastor-perf}
seconds=${BENCH_SECONDS:-10}
cpu=${BENCH_CPU:-1}
server_cpu=${BENCH_SERVER_CPU:-0}
bs=${BENCH_BS:-4k}
qd=${BENCH_QD:-32}
repeat=${BENCH_REPEAT:-1}
size=${BENCH_SIZE:-1G}
threads=${BENCH_THREADS:-}

die() {
    echo "nbd_child_perf: $*" >&2
    exit 1
}

command -v fio >/dev/null || die "fio is not installed (scripts/install-deps.sh)"
command -v nbdkit >/dev/null || die "nbdkit is not installed (scripts/install-deps.sh)"
command -v python3 >/dev/null || die "python3 is needed to read the JSON results"
fio --enghelp=nbd >/dev/null 2>&1 || die "this fio has no nbd engine"
[[ -x $perf_bin ]] || die "no mayastor-perf at $perf_bin (cmake --build build --target mayastor-perf; or set MAYASTOR_PERF)"

dir=$(mktemp -d)
sock=$dir/nbd.sock
server_pid=
cleanup() {
    if [[ -n $server_pid ]]; then
        kill "$server_pid" 2>/dev/null || true
        wait "$server_pid" 2>/dev/null || true
    fi
    rm -rf "$dir"
}
trap cleanup EXIT

server_args=(--foreground --exit-with-parent -U "$sock")
[[ -n $threads ]] && server_args+=(--threads "$threads")
taskset -c "$server_cpu" nbdkit "${server_args[@]}" memory "$size" &
server_pid=$!
for _ in $(seq 200); do
    [[ -S $sock ]] && break
    sleep 0.05
done
[[ -S $sock ]] || die "nbdkit did not start"
uri="nbd+unix:///?socket=$sock"

# measure OUT CMD...: runs CMD with its stdout in OUT; prints the CPU seconds it used.
measure() {
    python3 - "$@" <<'EOF2'
import resource, subprocess, sys
with open(sys.argv[1], 'w') as out:
    subprocess.run(sys.argv[2:], stdout=out, check=True)
ru = resource.getrusage(resource.RUSAGE_CHILDREN)
print(ru.ru_utime + ru.ru_stime)
EOF2
}

field() {
    python3 - "$1" "$2" <<'EOF2'
import json, sys
text = open(sys.argv[1]).read()
j = json.loads(text[text.index('{'):])
print(eval(sys.argv[2], {'j': j}))
EOF2
}

# Fill the memory disk once, so that reads return data rather than holes.
fio --name=fill --ioengine=nbd --uri="$uri" --rw=write --bs=1m --iodepth=8 --size="$size" \
    --output-format=terse >/dev/null

rows=()
run_pair() {
    local op=$1 rw=read
    [[ $op == *write ]] && rw=write
    local ours_args=(-u "$uri" -w "$op" -o "$bs" -q "$qd" -t "$seconds" -l "$cpu" --json)
    local fio_args=(--name="nbd-$op" --ioengine=nbd --uri="$uri" --rw="$op" --bs="$bs" --iodepth="$qd"
                    --size="$size" --numjobs=1 --time_based --runtime="$seconds" --cpus_allowed="$cpu"
                    --norandommap --randrepeat=0 --output-format=json)
    echo "== $op"
    echo "   ours: mayastor-perf ${ours_args[*]}"
    echo "   fio:  fio ${fio_args[*]}"
    local i iops cpu_io ours_iops=0 fio_iops=0 ours_cpu=inf fio_cpu=inf
    for ((i = 0; i < repeat; i++)); do
        "$perf_bin" "${ours_args[@]}" >"$dir/ours.json"
        iops=$(field "$dir/ours.json" "j['total']['iops']")
        cpu_io=$(field "$dir/ours.json" "j['cpu_seconds'] / (j['total']['reads'] + j['total']['writes']) * 1e6")
        printf '   ours: %.0f IOPS, %.2f us client CPU per I/O\n' "$iops" "$cpu_io"
        ours_iops=$(python3 -c "print(max($ours_iops, $iops))")
        ours_cpu=$(python3 -c "print(min(float('$ours_cpu'), $cpu_io))")
        local fio_cpu_s
        fio_cpu_s=$(measure "$dir/fio.json" fio "${fio_args[@]}")
        iops=$(field "$dir/fio.json" "j['jobs'][0]['$rw']['iops']")
        cpu_io=$(field "$dir/fio.json" "$fio_cpu_s / j['jobs'][0]['$rw']['total_ios'] * 1e6")
        printf '   fio:  %.0f IOPS, %.2f us client CPU per I/O\n' "$iops" "$cpu_io"
        fio_iops=$(python3 -c "print(max($fio_iops, $iops))")
        fio_cpu=$(python3 -c "print(min(float('$fio_cpu'), $cpu_io))")
    done
    rows+=("$op $ours_iops $fio_iops $ours_cpu $fio_cpu")
}

run_pair randread
run_pair randwrite

echo
echo "nbdkit memory $size on cpu $server_cpu, clients on cpu $cpu; bs=$bs qd=$qd ${seconds}s repeat=$repeat" \
     "($(date -u +%Y-%m-%dT%H:%MZ), $(uname -r), $(nproc) cpus)"
echo "ratio = ours / fio IOPS; CPU ratio = fio / ours client CPU per I/O (above 1: we use less)"
printf '%-10s %12s %12s %7s %12s %12s %9s\n' workload "ours IOPS" "fio IOPS" ratio "ours us/IO" "fio us/IO" "CPU ratio"
for row in "${rows[@]}"; do
    python3 -c "
import sys
n, o, b, oc, fc = sys.argv[1], *map(float, sys.argv[2:])
print(f'{n:<10} {o:>12,.0f} {b:>12,.0f} {o / b:>7.2f} {oc:>12.2f} {fc:>12.2f} {fc / oc:>9.2f}')" $row
done
