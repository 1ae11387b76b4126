#!/usr/bin/env bash
# The guest half of nbd_client.sh, run INSIDE the QEMU guest (vm-run.sh): the Linux kernel's
# nbd driver, connected by Debian's nbd-client to an NBD export that the host serves on
# 127.0.0.1:PORT (10.0.2.2:PORT from the guest).
#   nbd-client -N NAME ADDR PORT /dev/nbd0, the device's size must be SIZE bytes; an ext4 file
#   system on its first FS_MIB MiB (mkfs.ext4 with its size argument), mounted, files written
#   (prints "GUEST FILE <path> <sha256>" for each), sync, umount, fsck.ext4 -n clean, mounted
#   again read-only after dropping the caches and every file checked; then fio random writes
#   (4-64 KiB) with crc32c verification over the rest of the device [FS_MIB MiB, SIZE), a verify-only
#   pass, prints "GUEST SHA256 <sum>" of that range; nbd-client -d, the device must be free; the
#   kernel log must hold no error of the nbd driver (unexpected replies, failed sends...).
# Usage: nbd_client_guest_check.sh NAME PORT SIZE FS_MIB [ADDR]   (ADDR 10.0.2.2)
# Prints "GUEST PASS: ..." per step; the first failure prints "GUEST FAIL: ..." and exits 1.
set -uo pipefail
NAME=${1:?usage: nbd_client_guest_check.sh NAME PORT SIZE FS_MIB [ADDR]}
PORT=${2:?port}; SIZE=${3:?size}; FS_MIB=${4:?fs MiB}; ADDR=${5:-10.0.2.2}
[ "${VMH_IN_GUEST:-}" = 1 ] || { echo "nbd_client_guest_check.sh: runs inside the vm-run.sh guest only" >&2; exit 2; }
dev=/dev/nbd0
mnt=/mnt/e2e-nbd
gfail() { echo "GUEST FAIL: $*"; dmesg | grep -iE 'nbd|ext4|block' | tail -n 20; exit 1; }
gpass() { echo "GUEST PASS: $*"; }
t0=$(cut -d' ' -f1 /proc/uptime)
elapsed() { awk -v a="$t0" -v b="$(cut -d' ' -f1 /proc/uptime)" 'BEGIN{printf "%.1f s", b - a}'; }
work=$(mktemp -d)

modprobe nbd || gfail "modprobe nbd"
out=$(nbd-client -N "$NAME" -t 30 "$ADDR" "$PORT" "$dev" 2>&1); rc=$?
echo "$out"
[ $rc = 0 ] || gfail "nbd-client -N $NAME $ADDR $PORT $dev (rc $rc)"
for i in $(seq 100); do [ "$(cat /sys/block/nbd0/size)" != 0 ] && break; sleep 0.1; done
size=$(blockdev --getsize64 "$dev") || gfail "blockdev --getsize64 $dev"
[ "$size" = "$SIZE" ] || gfail "$dev is $size bytes, the export $SIZE"
gpass "nbd-client connected $dev to $ADDR:$PORT export '$NAME', $size bytes ($(elapsed))"

# ---- a file system on the first FS_MIB MiB ----
mkfs.ext4 -q -F -b 4096 -L e2e-nbd "$dev" "${FS_MIB}M" >$work/mkfs.out 2>&1 || { cat $work/mkfs.out; gfail "mkfs.ext4"; }
mkdir -p "$mnt"
mount -t ext4 "$dev" "$mnt" || gfail "mount $dev"
mkdir -p "$mnt/big" "$mnt/small"
for i in 1 2 3; do
  head -c $((i * 1048576 + i * 4099)) /dev/urandom > "$mnt/big/f$i" || gfail "writing big/f$i"
done
for i in $(seq 100); do  # builtins only: a fork costs milliseconds under TCG
  printf 'small file %d %d %d %d\n' "$i" $RANDOM $RANDOM $RANDOM > "$mnt/small/s$i" || gfail "writing small/s$i"
done
(cd "$mnt" && find big small -type f | sort | xargs sha256sum) > $work/sums || gfail "sha256sum"
sync || gfail "sync"
umount "$mnt" || gfail "umount"
gpass "ext4 on the first ${FS_MIB} MiB: 3 files of 1-3 MiB and 100 small ones written, synced, unmounted ($(elapsed))"
fsck.ext4 -n -f "$dev" >$work/fsck.out 2>&1; rc=$?
[ $rc = 0 ] || { cat $work/fsck.out; gfail "fsck.ext4 -n -f $dev: rc $rc"; }
gpass "fsck.ext4 -n -f: clean"
echo 3 > /proc/sys/vm/drop_caches
blockdev --flushbufs "$dev"
mount -t ext4 -o ro "$dev" "$mnt" || gfail "mount -o ro $dev"
(cd "$mnt" && sha256sum --quiet -c $work/sums) || gfail "files differ after remount"
umount "$mnt" || gfail "umount (ro)"
gpass "remounted read-only after dropping caches: every file reads back"
awk '$2 ~ /^big\// {print "GUEST FILE /" $2, $1}' $work/sums

# ---- fio over the rest of the device ----
rest_mib=$(( SIZE / 1048576 - FS_MIB ))
job=(--name=v --filename="$dev" --direct=1 --rw=randwrite --bsrange=4k-64k --iodepth=16 --ioengine=libaio
     --offset=${FS_MIB}M --size=${rest_mib}M --verify=crc32c --do_verify=1
     --output-format=terse --terse-version=3)
fio "${job[@]}" >$work/fio1.out 2>&1 || { cat $work/fio1.out; gfail "fio write + verify"; }
gpass "fio randwrite ${rest_mib} MiB at ${FS_MIB} MiB, bs=4k-64k iodepth=16, crc32c verify ($(elapsed))"
fio "${job[@]}" --verify_only >$work/fio2.out 2>&1 || { cat $work/fio2.out; gfail "fio verify-only pass"; }
gpass "fio read-back verify pass"
sum=$(dd if="$dev" bs=1M skip="$FS_MIB" count="$rest_mib" iflag=direct status=none | sha256sum | cut -d' ' -f1)
[ -n "$sum" ] || gfail "reading $dev"
echo "GUEST SHA256 $sum"

# ---- disconnect ----
out=$(nbd-client -d "$dev" 2>&1) || gfail "nbd-client -d $dev: $out"
for i in $(seq 100); do [ "$(cat /sys/block/nbd0/size)" = 0 ] && break; sleep 0.1; done
[ "$(cat /sys/block/nbd0/size)" = 0 ] || gfail "$dev still has a size 10 s after nbd-client -d"
nbd-client -c "$dev" >/dev/null 2>&1 && gfail "nbd-client -c: $dev still connected"
gpass "disconnected ($(elapsed) in all)"
# The driver's own complaints (a reply it did not expect, a broken send...) fail the test even
# when the data checked out.
nbd_errors=$(dmesg | grep -E 'nbd[0-9]+: (Unexpected reply|Wrong magic|Suspicious reply|Double reply|Receive control failed|Receive data failed|Send control failed|Send data failed|Send disconnect failed|Connection timed out|Dead connection)')
[ -z "$nbd_errors" ] || gfail "the kernel's nbd driver logged errors: $nbd_errors"
gpass "no errors from the nbd driver in the kernel log"
