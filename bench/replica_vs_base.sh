#!/usr/bin/env bash
# A replica against its own base device, in one run, on the same core and file:
#
#   thick-randread / thick-randwrite   mayastor-perf on a thick replica   vs  on uring:///FILE (raw)
#   thin-first-write  (sequential)     first writes into a fresh thin replica  vs  a thick replica
#   thin-first-randwrite               the same with random offsets (nearly every write allocates)
#
# The raw rows use the whole file; the replica rows a pool on the same file (`--pool`,
# `--replica`, reached as `-u bdev:///NAME`). Both sides of the read rows are written in full
# first (--prefill) so that reads hit real blocks, not holes or unwritten extents. The thin
# rows start from a fresh pool each run, so every cluster a write touches is allocated
# (zeroed, mapped, metadata made durable) on the way.
#
# Builds and installs nothing. Environment:
#   MAYASTOR_PERF   path of mayastor-perf (default: build/tools/perf/mayastor-perf)
#   BENCH_SECONDS   seconds per run (default 10)        BENCH_CPU  the CPU (default 0)
#   BENCH_QD        queue depth (default 32)            BENCH_BS   I/O size (default 4k)
#   BENCH_REPEAT    runs of each pair, alternating; the best of each side (default 1)
#   BENCH_DIR       where the file goes (default /var/tmp)
#   BENCH_FILE_MB   file size (default 2048); the replicas take half of it
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
perf_bin=${MAYASTOR_PERF:-$root/build/tools/perf/mayastor-perf}
seconds=${BENCH_SECONDS:-10}
cpu=${BENCH_CPU:-0}
qd=${BENCH_QD:-32}
bs=${BENCH_BS:-4k}
repeat=${BENCH_REPEAT:-1}
dir=${BENCH_DIR:-/var/tmp}
file_mb=${BENCH_FILE_MB:-2048}
replica_mb=$((file_mb / 2))

[[ -x $perf_bin ]] || { echo "replica_vs_base: no mayastor-perf at $perf_bin (bash scripts/build.sh)" >&2; exit 1; }
file=$(mktemp "$dir/replica-bench.XXXXXX")
trap 'rm -f "$file"' EXIT

# IOPS of one run: perf's "total" line, second column.
iops() {
    "$perf_bin" -l "$cpu" -q "$qd" -o "$bs" -t "$seconds" "$@" | awk '$1 == "total" {print $2}'
}

best() {
    awk -v a="$1" -v b="$2" 'BEGIN {print (a > b ? a : b)}'
}

row() {
    printf '%-22s %14.0f %14.0f %8.3f\n' "$1" "$2" "$3" "$(awk -v a="$2" -v b="$3" 'BEGIN {print a / b}')"
}

echo "replica_vs_base: ${bs} I/O, queue depth ${qd}, ${seconds} s per run, CPU ${cpu}, best of ${repeat}"
echo "file: $file (${file_mb} MiB on $(df --output=fstype "$dir" | tail -1)), replicas of ${replica_mb} MiB"
printf '%-22s %14s %14s %8s\n' row "ours (IOPS)" "baseline" ratio

truncate -s "${file_mb}M" "$file"
for w in randread randwrite; do
    ours=0 base=0
    for ((i = 0; i < repeat; i++)); do
        base=$(best "$base" "$(iops -w "$w" --prefill -u "uring://$file")")
        ours=$(best "$ours" "$(iops -w "$w" --prefill --pool "bench=uring://$file" \
            --replica "bench/thick:${replica_mb}m" -u bdev:///thick)")
        # The pool's labels are gone after the next raw write run anyway; wipe them now so that
        # each replica run formats a fresh pool.
        dd if=/dev/zero of="$file" bs=1M count=8 conv=notrunc,fsync status=none
    done
    row "thick-$w" "$ours" "$base"
done

for w in write randwrite; do
    ours=0 base=0
    for ((i = 0; i < repeat; i++)); do
        dd if=/dev/zero of="$file" bs=1M count=8 conv=notrunc,fsync status=none
        base=$(best "$base" "$(iops -w "$w" --pool "bench=uring://$file" --replica "bench/thick:${replica_mb}m" \
            -u bdev:///thick)")
        dd if=/dev/zero of="$file" bs=1M count=8 conv=notrunc,fsync status=none
        ours=$(best "$ours" "$(iops -w "$w" --pool "bench=uring://$file" --replica "bench/thin:${replica_mb}m:thin" \
            -u bdev:///thin)")
    done
    row "thin-first-$w" "$ours" "$base"
done
echo "ratio = ours / baseline; the thin rows are first writes (allocation on the way) against a thick replica"
