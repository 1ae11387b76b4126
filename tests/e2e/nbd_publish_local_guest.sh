#!/usr/bin/env bash
# The guest half of nbd_publish_local.sh, run INSIDE the QEMU guest (vm-run.sh): the daemon
# itself runs in the guest, whose kernel has the nbd driver, and publishes a nexus over NBD
# locally (PublishNexus with NEXUS_NBD: the kernel's /dev/nbdN attached to the daemon's own NBD
# export, device URI file:///dev/nbdN).
#   mayastor on 127.0.0.1 (gRPC, JSON-RPC socket, store in /tmp); nbd is NOT loaded beforehand
#   (the daemon loads it); a 48 MiB nexus over a malloc child (malloc:///m0?size_mb=64) and a
#   file child (uring:///FILE, 64 MiB); `nexus publish UUID` (no -p: NBD) -> file:///dev/nbdN,
#   the device's size must be the nexus size, publishing again gives the same URI; fio random
#   writes (4-64 KiB) with crc32c verification over the first WRITTEN_MIB MiB, a verify-only
#   pass, their sha256 ("GUEST SHA256"); `nexus unpublish`, the device's size must drop to 0;
#   both children hold the data from offset 0 (the malloc child read with JSON-RPC bdev_read,
#   the file child's file read directly); nexus destroy; SIGTERM -> exit 0; the kernel log must
#   hold no error of the nbd driver.
# Usage: nbd_publish_local_guest.sh PATH/TO/mayastor PATH/TO/mayastor-client
# Prints "GUEST PASS: ..." per step; the first failure prints "GUEST FAIL: ..." and exits 1.
set -uo pipefail
mayastor_bin=${1:?usage: nbd_publish_local_guest.sh PATH/TO/mayastor PATH/TO/mayastor-client}
client_bin=${2:?usage: nbd_publish_local_guest.sh PATH/TO/mayastor PATH/TO/mayastor-client}
[ "${VMH_IN_GUEST:-}" = 1 ] || { echo "nbd_publish_local_guest.sh: runs inside the vm-run.sh guest only" >&2; exit 2; }
here=$(cd "$(dirname "$0")" && pwd)
MiB=$((1024 * 1024))
nexus_mib=48
written_mib=16
work=$(mktemp -d /tmp/e2e-nbd-local.XXXXXX)
sock=$work/mayastor.sock
endpoint=127.0.0.1:10124
daemon_pid=""
t0=$(cut -d' ' -f1 /proc/uptime)
elapsed() { awk -v a="$t0" -v b="$(cut -d' ' -f1 /proc/uptime)" 'BEGIN{printf "%.1f s", b - a}'; }
gpass() { echo "GUEST PASS: $*"; }
gfail() {
  echo "GUEST FAIL: $*"
  if [ -s "$work/mayastor.stderr" ]; then echo "--- mayastor stderr (last 30 lines):"; tail -n 30 "$work/mayastor.stderr"; fi
  dmesg | grep -i nbd | tail -n 10
  [ -n "$daemon_pid" ] && kill -KILL "$daemon_pid" 2>/dev/null
  exit 1
}
client() { "$client_bin" -b "$endpoint" "$@"; }

lsmod | grep -q '^nbd ' && gfail "nbd is loaded already (the daemon is to load it)"
MY_POD_IP=127.0.0.1 "$mayastor_bin" -g "$endpoint" -r "$sock" --store-dir "$work/store" -N e2e-guest \
  --nvmf-address 127.0.0.1 2>"$work/mayastor.stderr" </dev/null >/dev/null &
daemon_pid=$!
for i in $(seq 600); do
  grep -q 'mayastor ready' "$work/mayastor.stderr" && break
  kill -0 "$daemon_pid" 2>/dev/null || gfail "mayastor exited at start"
  sleep 0.1
done
grep -q 'mayastor ready' "$work/mayastor.stderr" || gfail "mayastor not ready within 60 s"
for i in $(seq 100); do client pool list >/dev/null 2>&1 && break; sleep 0.1; done
gpass "mayastor started in the guest (pid $daemon_pid) ($(elapsed))"

truncate -s $((64 * MiB)) "$work/child.img"
children=("malloc:///m0?size_mb=64" "uring://$work/child.img")
uuid=$(cat /proc/sys/kernel/random/uuid)  # no python start-up under TCG
out=$(client nexus create "$uuid" "$((nexus_mib * MiB))" "${children[@]}" 2>&1) || gfail "nexus create: $out"
gpass "nexus $uuid (${nexus_mib} MiB) over ${children[*]}"

out=$(client -v nexus publish "$uuid" 2>&1) || gfail "nexus publish (NBD): $out"
uri=$(tail -n 1 <<<"$out")
[[ $uri =~ ^file:///dev/(nbd[0-9]+)$ ]] || gfail "nexus publish printed '$out', not file:///dev/nbdN"
nbd=${BASH_REMATCH[1]}
dev=/dev/$nbd
lsmod | grep -q '^nbd ' || gfail "published over NBD, yet the nbd module is not loaded"
[ -b "$dev" ] || gfail "$dev is not a block device"
size=$(blockdev --getsize64 "$dev") || gfail "blockdev --getsize64 $dev"
[ "$size" = $((nexus_mib * MiB)) ] || gfail "$dev is $size bytes, the nexus $((nexus_mib * MiB))"
gpass "published locally: $uri, $size bytes ($(elapsed))"
out=$(client -v nexus publish "$uuid" 2>&1) || gfail "nexus publish again: $out"
[ "$(tail -n 1 <<<"$out")" = "$uri" ] || gfail "publishing again gave '$out', not $uri"
gpass "publishing again gives the same URI"

job=(--name=v --filename="$dev" --direct=1 --rw=randwrite --bsrange=4k-64k --iodepth=16 --ioengine=libaio
     --size=${written_mib}M --verify=crc32c --do_verify=1 --output-format=terse --terse-version=3)
fio "${job[@]}" >$work/fio1.out 2>&1 || { cat $work/fio1.out; gfail "fio write + verify on $dev"; }
gpass "fio randwrite ${written_mib} MiB bs=4k-64k iodepth=16 with crc32c verify on $dev ($(elapsed))"
fio "${job[@]}" --verify_only >$work/fio2.out 2>&1 || { cat $work/fio2.out; gfail "fio verify-only pass"; }
gpass "fio read-back verify pass"
sum=$(dd if="$dev" bs=1M count="$written_mib" iflag=direct status=none | sha256sum | cut -d' ' -f1)
echo "GUEST SHA256 $sum"

out=$(client nexus unpublish "$uuid" 2>&1) || gfail "nexus unpublish: $out"
for i in $(seq 100); do [ "$(cat /sys/block/$nbd/size)" = 0 ] && break; sleep 0.1; done
[ "$(cat /sys/block/$nbd/size)" = 0 ] || gfail "$dev still has a size 10 s after unpublish"
out=$(client nexus list 2>&1) || gfail "nexus list: $out"
grep -q "file:///dev/$nbd" <<<"$out" && gfail "nexus list still shows $uri after unpublish: $out"
gpass "unpublished: $dev detached ($(elapsed))"

got=$(python3 "$here/bdev_sha256.py" "$sock" m0 "$written_mib" 2>&1)
[ "$got" = "$sum" ] || gfail "malloc child m0: first ${written_mib} MiB sha256 '$got', the nexus read $sum"
gpass "malloc child m0 holds the data (bdev_read, sha256 $got)"
got=$(dd if="$work/child.img" bs=1M count="$written_mib" status=none | sha256sum | cut -d' ' -f1)
[ "$got" = "$sum" ] || gfail "file child $work/child.img: first ${written_mib} MiB sha256 '$got', the nexus read $sum"
gpass "file child holds the data (its file read directly, sha256 $got)"

out=$(client nexus destroy "$uuid" 2>&1) || gfail "nexus destroy: $out"
kill -TERM "$daemon_pid"
for i in $(seq 100); do kill -0 "$daemon_pid" 2>/dev/null || break; sleep 0.1; done
kill -0 "$daemon_pid" 2>/dev/null && gfail "mayastor still running 10 s after SIGTERM"
rc=0; wait "$daemon_pid" || rc=$?
daemon_pid=""
[ $rc = 0 ] || gfail "mayastor exited with status $rc after SIGTERM"
# The driver's own complaints (a reply it did not expect, a broken send...) fail the test even
# when the data checked out.
nbd_errors=$(dmesg | grep -E 'nbd[0-9]+: (Unexpected reply|Wrong magic|Suspicious reply|Double reply|Receive control failed|Receive data failed|Send control failed|Send data failed|Send disconnect failed|Connection timed out|Dead connection)')
[ -z "$nbd_errors" ] || gfail "the kernel's nbd driver logged errors: $nbd_errors"
gpass "no errors from the nbd driver in the kernel log"
gpass "nexus destroyed, mayastor stopped (exit 0) ($(elapsed) in all)"
