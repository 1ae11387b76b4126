#!/usr/bin/env bash
# The guest half of nvmf_kernel_host.sh, run INSIDE the QEMU guest (vm-run.sh): the Linux
# kernel's nvme-tcp host against a target that the host serves on 127.0.0.1:PORT (10.0.2.2:PORT
# from the guest).
#   nvme discover (NQN must be listed), nvme connect, wait for the namespace's block device, its
#   size must be SIZE bytes, fio random writes of WRITTEN_MIB MiB with crc32c verification, a
#   second verify-only pass, prints "GUEST SHA256 <sum>" of the first WRITTEN_MIB MiB, nvme
#   disconnect, the device must go away. Then, if DIGEST_PORT is given: connect again on that
#   port with header and data digests (CRC32C), verify-only and a write+verify pass over the
#   same data, disconnect.
# Usage: nvmf_guest_check.sh NQN PORT SIZE WRITTEN_MIB [DIGEST_PORT [ADDR]]   (ADDR 10.0.2.2)
# Prints "GUEST PASS: ..." per step; the first failure prints "GUEST FAIL: ..." and exits 1.
set -uo pipefail
NQN=${1:?usage: nvmf_guest_check.sh NQN PORT SIZE WRITTEN_MIB [DIGEST_PORT [ADDR]]}
PORT=${2:?port}; SIZE=${3:?size}; WRITTEN_MIB=${4:?written MiB}; DIGEST_PORT=${5:-}; ADDR=${6:-10.0.2.2}
[ "${VMH_IN_GUEST:-}" = 1 ] || { echo "nvmf_guest_check.sh: runs inside the vm-run.sh guest only" >&2; exit 2; }
gfail() { echo "GUEST FAIL: $*"; dmesg | grep -i nvme | tail -n 20; exit 1; }
gpass() { echo "GUEST PASS: $*"; }
work=$(mktemp -d)
modprobe nvme-tcp || gfail "modprobe nvme-tcp"
echo "--- nvme discover -t tcp -a $ADDR -s $PORT"
disc=$(nvme discover -t tcp -a "$ADDR" -s "$PORT" 2>&1); rc=$?
echo "$disc"
[ $rc = 0 ] || gfail "nvme discover (rc $rc)"
grep -q "subnqn: *$NQN\$" <<<"$disc" || gfail "the discovery log does not list $NQN"
gpass "discovery lists $NQN"
# connect_ns PORT [nvme connect options...]: connects and sets $dev to the namespace's device.
connect_ns() {
  local port=$1; shift
  out=$(nvme connect -t tcp -a "$ADDR" -s "$port" -n "$NQN" "$@" 2>&1) || gfail "nvme connect $*: $out"
  echo "$out"
  dev=""
  for i in $(seq 200); do
    for b in /sys/block/nvme*; do
      [ -e "$b" ] || continue
      n=${b##*/}
      [[ $n =~ ^nvme[0-9]+n[0-9]+$ ]] || continue   # not the hidden multipath paths nvmeXcYnZ
      [ "$(cat "$b/device/subsysnqn" 2>/dev/null)" = "$NQN" ] && { dev=$n; break 2; }
    done
    sleep 0.1
  done
  [ -n "$dev" ] || { ls /sys/block; gfail "no namespace block device of $NQN within 20 s"; }
  if [ ! -b "/dev/$dev" ]; then
    IFS=: read -r maj min < "/sys/block/$dev/dev"; mknod "/dev/$dev" b "$maj" "$min" || gfail "mknod /dev/$dev"
  fi
}
# disconnect_ns: nvme disconnect, and the device goes away.
disconnect_ns() {
  out=$(nvme disconnect -n "$NQN" 2>&1) || gfail "nvme disconnect: $out"
  echo "$out"
  grep -q "disconnected 1 controller" <<<"$out" || gfail "nvme disconnect did not disconnect one controller"
  for i in $(seq 100); do [ -e "/sys/block/$dev" ] || break; sleep 0.1; done
  [ ! -e "/sys/block/$dev" ] || gfail "/dev/$dev still there 10 s after nvme disconnect"
}
connect_ns "$PORT"
gpass "connected: /dev/$dev"
nvme list 2>&1
size=$(blockdev --getsize64 "/dev/$dev") || gfail "blockdev --getsize64 /dev/$dev"
[ "$size" = "$SIZE" ] || gfail "/dev/$dev is $size bytes, the nexus $SIZE"
gpass "/dev/$dev is $size bytes"
job=(--name=v --filename="/dev/$dev" --direct=1 --rw=randwrite --bs=4k --iodepth=16 --ioengine=libaio
     --size=${WRITTEN_MIB}M --verify=crc32c --do_verify=1 --output-format=terse --terse-version=3)
fio "${job[@]}" >$work/fio1.out 2>&1 || { cat $work/fio1.out; gfail "fio write + verify"; }
gpass "fio randwrite ${WRITTEN_MIB} MiB bs=4k iodepth=16 with crc32c verify"
fio "${job[@]}" --verify_only >$work/fio2.out 2>&1 || { cat $work/fio2.out; gfail "fio verify-only pass"; }
gpass "fio read-back verify pass"
sum=$(dd if="/dev/$dev" bs=1M count="$WRITTEN_MIB" iflag=direct status=none | sha256sum | cut -d' ' -f1)
[ -n "$sum" ] || gfail "reading /dev/$dev"
echo "GUEST SHA256 $sum"
disconnect_ns
gpass "disconnected, /dev/$dev gone"
[ -n "$DIGEST_PORT" ] || exit 0

# Again with header and data digests, on the other port.
connect_ns "$DIGEST_PORT" --hdr-digest --data-digest
grep -q . "/sys/class/nvme/${dev%n*}/address" 2>/dev/null && cat "/sys/class/nvme/${dev%n*}/address"
gpass "connected with header and data digests on port $DIGEST_PORT: /dev/$dev"
fio "${job[@]}" --verify_only >$work/fio3.out 2>&1 || { cat $work/fio3.out; gfail "fio verify-only with digests"; }
gpass "fio read-back verify with digests"
fio "${job[@]}" --offset=${WRITTEN_MIB}M --size=4M >$work/fio4.out 2>&1 || { cat $work/fio4.out; gfail "fio write + verify with digests"; }
gpass "fio randwrite 4 MiB after the first ${WRITTEN_MIB} MiB with digests, crc32c verify"
disconnect_ns
gpass "disconnected (digests), /dev/$dev gone"
