#!/usr/bin/env bash
# mayastor-perf next to fio, in one run, on the same core, with the same block size, queue
# depth and duration; prints each pair's IOPS and their ratio (ours / fio).
#
#   malloc  randread/randwrite   mayastor-perf on malloc:///      vs  fio --ioengine=null
#   null    randread             mayastor-perf on null:///        vs  fio --ioengine=null
#   file    randread/randwrite   mayastor-perf on uring:///FILE   vs  fio --ioengine=io_uring on FILE
#
# FILE is a 1 GiB file in /dev/shm that this script creates and removes. Our uring device opens
# its file with O_DIRECT and falls back to buffered I/O where the file system refuses; the
# script checks which one the file system does and gives fio the same --direct.
#
# Builds and installs nothing. Environment:
#   MAYASTOR_PERF   path of mayastor-perf (default: build-perf/tools/perf/mayastor-perf)
#   BENCH_SECONDS   seconds per run (default 10)
#   BENCH_CPU       the one CPU both tools run on (default 0)
#   BENCH_BS        I/O size (default 4k)
#   BENCH_QD        queue depth (default 32)
#   BENCH_REPEAT    runs of each pair, alternating; the best of each side is reported (default 1)
#   BENCH_DIR       where the file goes (default /dev/shm)
#   BENCH_FILE_MB   file size (default 1024); BENCH_MALLOC_MB malloc device size (default 1024)
#   BENCH_ONLY      space-separated row names to run (default: all), e.g. "file-randread"
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
perf_bin=${MAYASTOR_PERF:-$root/build-perf/tools/perf/mayastor-perf}
seconds=${BENCH_SECONDS:-10}
cpu=${BENCH_CPU:-0}
bs=${BENCH_BS:-4k}
qd=${BENCH_QD:-32}
repeat=${BENCH_REPEAT:-1}
dir=${BENCH_DIR:-/dev/shm}
file_mb=${BENCH_FILE_MB:-1024}
malloc_mb=${BENCH_MALLOC_MB:-1024}
only=${BENCH_ONLY:-}

die() {
    echo "bdev_vs_fio: $*" >&2
    exit 1
}

command -v fio >/dev/null || die "fio is not installed (Debian: apt-get install fio)"
command -v python3 >/dev/null || die "python3 is needed to read the JSON results"
[[ -x $perf_bin ]] || die "no mayastor-perf at $perf_bin (build it: cmake -S . -B build-perf -G Ninja -DCMAKE_BUILD_TYPE=Release && ninja -C build-perf mayastor-perf; or set MAYASTOR_PERF)"

file=$dir/bdev_vs_fio.$$.img
results=$(mktemp -d)
cleanup() { rm -rf "$file" "$results"; }
trap cleanup EXIT

# measure OUT CMD...: runs CMD with its stdout in OUT; prints the CPU seconds (user + system, all
# threads and children, the kernel's io_uring workers included) it used.
measure() {
    python3 - "$@" <<'EOF2'
import resource, subprocess, sys
with open(sys.argv[1], 'w') as out:
    subprocess.run(sys.argv[2:], stdout=out, check=True)
ru = resource.getrusage(resource.RUSAGE_CHILDREN)
print(ru.ru_utime + ru.ru_stime)
EOF2
}

# field FILE EXPR: a number out of a JSON result, EXPR being Python on `j`.
field() {
    python3 - "$1" "$2" <<'EOF2'
import json, sys
text = open(sys.argv[1]).read()
# fio may print notes before its JSON.
j = json.loads(text[text.index('{'):])
print(eval(sys.argv[2], {'j': j}))
EOF2
}

fio_common=(--bs="$bs" --iodepth="$qd" --numjobs=1 --time_based --runtime="$seconds" --cpus_allowed="$cpu"
            --norandommap --randrepeat=0 --group_reporting --output-format=json)

# run_pair NAME OP OURS_URI FIO_ARGS...: runs both sides $repeat times, alternating; keeps each
# side's best IOPS and its lowest CPU time per I/O.
rows=()
run_pair() {
    local name=$1 op=$2 uri=$3
    shift 3
    if [[ -n $only && " $only " != *" $name "* ]]; then
        return
    fi
    local rw=read
    [[ $op == *write ]] && rw=write
    local ours_args=(-u "$uri" -w "$op" -o "$bs" -q "$qd" -t "$seconds" -l "$cpu" --json)
    [[ $uri == malloc:* ]] && ours_args+=(--prefill)
    local fio_args=(--name="$name" --rw="$op" "${fio_common[@]}" "$@")
    echo "== $name"
    echo "   ours: mayastor-perf ${ours_args[*]}"
    echo "   fio:  fio ${fio_args[*]}"
    local i iops cpu_io
    local ours_iops=0 fio_iops=0 ours_cpu=inf fio_cpu=inf
    for ((i = 0; i < repeat; i++)); do
        # Ours reports the CPU of its run phase (not of creating and prefilling the device).
        "$perf_bin" "${ours_args[@]}" >"$results/ours.json"
        iops=$(field "$results/ours.json" "j['total']['iops']")
        cpu_io=$(field "$results/ours.json" "j['cpu_seconds'] / (j['total']['reads'] + j['total']['writes']) * 1e6")
        printf '   ours: %.0f IOPS, %.3f us CPU per I/O\n' "$iops" "$cpu_io"
        ours_iops=$(python3 -c "print(max($ours_iops, $iops))")
        ours_cpu=$(python3 -c "print(min(float('$ours_cpu'), $cpu_io))")
        # fio's is the whole process's, start-up included (a few ms in a run of seconds).
        local fio_cpu_s
        fio_cpu_s=$(measure "$results/fio.json" fio "${fio_args[@]}")
        iops=$(field "$results/fio.json" "j['jobs'][0]['$rw']['iops']")
        cpu_io=$(field "$results/fio.json" "$fio_cpu_s / j['jobs'][0]['$rw']['total_ios'] * 1e6")
        printf '   fio:  %.0f IOPS, %.3f us CPU per I/O\n' "$iops" "$cpu_io"
        fio_iops=$(python3 -c "print(max($fio_iops, $iops))")
        fio_cpu=$(python3 -c "print(min(float('$fio_cpu'), $cpu_io))")
    done
    rows+=("$name $ours_iops $fio_iops $ours_cpu $fio_cpu")
}

run_pair malloc-randread randread "malloc:///bench_m0?size_mb=$malloc_mb" --ioengine=null --size="${malloc_mb}m"
run_pair malloc-randwrite randwrite "malloc:///bench_m0?size_mb=$malloc_mb" --ioengine=null --size="${malloc_mb}m"
run_pair null-randread randread "null:///bench_n0?size_mb=$malloc_mb" --ioengine=null --size="${malloc_mb}m"

if [[ -z $only || $only == *file-* ]]; then
    dd if=/dev/urandom of="$file" bs=1M count="$file_mb" status=none
    direct=$(python3 -c "
import os, sys
try:
    os.close(os.open(sys.argv[1], os.O_RDWR | os.O_DIRECT))
    print(1)
except OSError:
    print(0)" "$file")
    echo "== $file: O_DIRECT $([[ $direct == 1 ]] && echo accepted || echo refused), fio --direct=$direct"
    run_pair file-randread randread "uring://$file" --ioengine=io_uring --direct="$direct" --filename="$file"
    run_pair file-randwrite randwrite "uring://$file" --ioengine=io_uring --direct="$direct" --filename="$file"
fi

echo
echo "bs=$bs qd=$qd ${seconds}s cpu=$cpu repeat=$repeat ($(date -u +%Y-%m-%dT%H:%MZ), $(uname -r), $(nproc) cpus)"
echo "ratio = ours / fio IOPS; CPU ratio = fio / ours CPU time per I/O (above 1: we use less)"
printf '%-18s %12s %12s %7s %12s %12s %9s\n' workload "ours IOPS" "fio IOPS" ratio "ours us/IO" "fio us/IO" "CPU ratio"
for row in "${rows[@]}"; do
    python3 -c "
import sys
n, o, b, oc, fc = sys.argv[1], *map(float, sys.argv[2:])
print(f'{n:<18} {o:>12,.0f} {b:>12,.0f} {o / b:>7.2f} {oc:>12.3f} {fc:>12.3f} {fc / oc:>9.2f}')" $row
done
