#!/bin/bash
# vm-run.sh - boot a throw-away Debian-kernel QEMU guest (KVM or TCG) whose root filesystem is
# the HOST's root (shared read-only over virtio-9p, with a tmpfs overlay on top,
# virtme-style), run a shell command inside it, print its output, power off and
# exit with the guest command's exit status.
#
# Usage:
#   vm-run.sh [options] -- 'shell commands to run in the guest'
# Options:
#   --vhost-user-blk SOCK   attach a vhost-user-blk-pci device served on unix
#                           socket SOCK (repeatable; guest sees /dev/vda, vdb, ...)
#   --share DIR             share host DIR read-write at the same path in the
#                           guest (repeatable; default: none besides the run dir)
#   --mem SIZE              guest RAM in MiB (default 1024)
#   --cpus N                guest vCPUs (default 2)
#   --timeout SEC           kill the VM after SEC seconds (default 600) -> rc 124
#   --kernel KVER           guest kernel version (default: newest *-amd64 in /boot
#                           that has 9p modules, i.e. linux-image-amd64, not cloud)
#   --no-net                no network device
#   --hostfwd SPEC          slirp host->guest forward, e.g. tcp:127.0.0.1:4430-:4420
#                           (always give the 127.0.0.1 host address; repeatable)
#   --tcg / --kvm           force the accelerator. Default: KVM only if a hardware
#                           KVM (kvm_intel/kvm_amd) is loaded; on this machine
#                           /dev/kvm is PVM (kvm_pvm), which cannot run a stock
#                           Debian kernel, so the default there is TCG.
#   --console               also copy the guest kernel console to stderr
#   --keep                  keep the run directory (default: removed on success)
#   --qemu-arg ARG          extra raw QEMU argument (repeatable)
#
# Inside the guest:
#   * host's /, read-only underneath, writes go to a RAM overlay (lost at exit)
#   * /vmh = per-run directory on the host (read-write), also the cwd
#   * network: QEMU user-mode (slirp). guest eth0 10.0.2.15/24; the address
#     10.0.2.2 is translated by QEMU into the HOST's 127.0.0.1, so a server the
#     host runs on 127.0.0.1:PORT is reached from the guest as 10.0.2.2:PORT.
#     Nothing leaves the QEMU process except loopback connections on the host.
#   * modules are loaded with the host's modprobe from /lib/modules/<guest kver>
#   * VMH_IN_GUEST=1 is set in the environment
#
# Environment:
#   VMH_BASE                where the cached initramfs and the per-run directories
#                           live (default ${TMPDIR:-/tmp}/mayastor-e2e-vm)
#
# Exit status: the guest command's; 124 on timeout, 125 if the guest never reported
# one (boot failure: the tail of the console log is printed and the run dir kept),
# 2 on a usage error or a missing package.
#
# This is the repository's own copy of the harness described in TESTING.md ("A guest
# kernel for the kernel initiators and vhost-user"); packages: scripts/install-deps.sh.
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
BASE=${VMH_BASE:-${TMPDIR:-/tmp}/mayastor-e2e-vm}
MEM=1024; CPUS=2; TIMEOUT=600; KVER=""; NET=1; ACCEL=auto; CONSOLE=0; KEEP=0
VUB=(); SHARES=(); EXTRA=(); HOSTFWD=""
while [ $# -gt 0 ]; do
  case "$1" in
    --vhost-user-blk) VUB+=("$2"); shift 2;;
    --share) SHARES+=("$(cd "$2" && pwd)"); shift 2;;
    --mem) MEM=$2; shift 2;;
    --cpus) CPUS=$2; shift 2;;
    --timeout) TIMEOUT=$2; shift 2;;
    --kernel) KVER=$2; shift 2;;
    --no-net) NET=0; shift;;
    --hostfwd) HOSTFWD+=",hostfwd=$2"; shift 2;;
    --tcg) ACCEL=tcg; shift;;
    --kvm) ACCEL=kvm; shift;;
    --console) CONSOLE=1; shift;;
    --keep) KEEP=1; shift;;
    --qemu-arg) EXTRA+=("$2"); shift 2;;
    --) shift; break;;
    -h|--help) sed -n '2,/^set -u/p' "$0" | sed '$d'; exit 0;;
    *) echo "vm-run.sh: unknown option $1" >&2; exit 2;;
  esac
done
[ $# -ge 1 ] || { echo "usage: vm-run.sh [options] -- 'guest commands'" >&2; exit 2; }
GUEST_CMD="$*"
for t in qemu-system-x86_64 modprobe cpio gzip; do
  command -v "$t" >/dev/null || { echo "vm-run.sh: $t not found (bash scripts/install-deps.sh)" >&2; exit 2; }
done

if [ -z "$KVER" ]; then
  for k in $(ls -1 /lib/modules | sort -rV); do
    [ -f /boot/vmlinuz-$k ] && modprobe -S "$k" --show-depends 9p >/dev/null 2>&1 && { KVER=$k; break; }
  done
fi
[ -n "$KVER" ] && [ -f /boot/vmlinuz-$KVER ] || { echo "vm-run.sh: no usable guest kernel (apt-get install linux-image-amd64)" >&2; exit 2; }

if [ "$ACCEL" = auto ]; then
  if [ -w /dev/kvm ] && { [ -d /sys/module/kvm_intel ] || [ -d /sys/module/kvm_amd ]; }; then ACCEL=kvm; else ACCEL=tcg; fi
fi

# ---- initramfs (busybox + the modules needed to mount the 9p root), cached ----
CACHE=$BASE/cache; mkdir -p "$CACHE"
INITRD=$CACHE/initramfs-$KVER.cpio.gz
if [ ! -s "$INITRD" ] || [ "$INITRD" -ot "$0" ]; then
  B=$(mktemp -d "$CACHE/build.XXXXXX")
  mkdir -p "$B"/{bin,mods,proc,sys,dev,lower,rw,newroot}
  cp /bin/busybox "$B/bin/busybox" || { echo "need busybox-static" >&2; exit 2; }
  for m in virtio_pci 9pnet_virtio 9p overlay virtio_console; do
    modprobe -S "$KVER" --show-depends $m | awk '$1=="insmod"{print $2}'
  done | awk '!s[$0]++' > "$B/order.full"
  : > "$B/mods/order"
  while read -r f; do
    n=$(basename "$f"); cp "$f" "$B/mods/$n"; echo "$n" >> "$B/mods/order"
  done < "$B/order.full"; rm "$B/order.full"
  cat > "$B/init" <<'EOF'
#!/bin/busybox sh
/bin/busybox --install -s /bin
export PATH=/bin
mount -t proc proc /proc; mount -t sysfs sys /sys; mount -t devtmpfs dev /dev
for m in $(cat /mods/order); do insmod /mods/$m; done
mount -t 9p -o trans=virtio,version=9p2000.L,ro,msize=524288,cache=loose hostroot /lower || { echo "9p root mount failed"; sh; }
mount -t tmpfs -o mode=0755 tmpfs /rw && mkdir -p /rw/upper /rw/work
mount -t overlay -o lowerdir=/lower,upperdir=/rw/upper,workdir=/rw/work overlay /newroot || { echo "overlay failed"; sh; }
mkdir -p /newroot/vmh
mount -t 9p -o trans=virtio,version=9p2000.L,msize=524288,cache=none vmh /newroot/vmh || { echo "vmh mount failed"; sh; }
mount --move /proc /newroot/proc; mount --move /sys /newroot/sys; mount --move /dev /newroot/dev
exec switch_root /newroot /bin/bash /vmh/stage2.sh
EOF
  chmod +x "$B/init"
  (cd "$B" && find . | cpio -o -H newc --quiet | gzip -1) > "$B.cpio.gz" && mv "$B.cpio.gz" "$INITRD"
  rm -rf "$B"
fi

# ---- per-run directory ----
mkdir -p "$BASE/runs"
RUN=$(mktemp -d "$BASE/runs/run.XXXXXX")
printf '%s\n' "$GUEST_CMD" > "$RUN/cmd.sh"
{
  echo '#!/bin/bash'
  echo "SHARES=(${SHARES[*]+$(printf '%q ' "${SHARES[@]}")})"
  echo "NET=$NET"
  cat <<'EOF'
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
export HOME=/root TERM=dumb VMH_IN_GUEST=1
mkdir -p /dev/pts /dev/shm
mount -t devpts devpts /dev/pts; mount -t tmpfs tmpfs /dev/shm
mount -t tmpfs -o mode=0755 tmpfs /run
modprobe configfs 2>/dev/null; mount -t configfs configfs /sys/kernel/config 2>/dev/null
mount -t debugfs debugfs /sys/kernel/debug 2>/dev/null
mount -t tmpfs tmpfs /mnt            # hide host mounts below /mnt
i=0; for d in "${SHARES[@]}"; do
  mkdir -p "$d"; mount -t 9p -o trans=virtio,version=9p2000.L,msize=524288,cache=none share$i "$d"; i=$((i+1))
done
hostname vmguest
ln -sf /proc/self/fd /dev/fd 2>/dev/null
for m in virtio_blk virtio_net virtio_rng sd_mod; do modprobe $m 2>/dev/null; done
ip link set lo up
if [ "$NET" = 1 ]; then
  for t in $(seq 100); do [ -e /sys/class/net/eth0 ] && break; sleep 0.01; done
  ip link set eth0 up && ip addr add 10.0.2.15/24 dev eth0 && ip route add default via 10.0.2.2
fi
OUT=/dev/hvc0
stty -F $OUT raw -echo 2>/dev/null
cd /vmh
cut -d" " -f1 /proc/uptime > /vmh/t_cmd_start
bash /vmh/cmd.sh < /dev/null > $OUT 2>&1
echo $? > /vmh/rc
sync
echo o > /proc/sysrq-trigger
sleep 10
EOF
} > "$RUN/stage2.sh"

ARGS=(-nodefaults -no-user-config -display none -no-reboot
  -machine q35,memory-backend=mem
  -object memory-backend-memfd,id=mem,size=${MEM}M,share=on
  -m ${MEM}M -smp $CPUS
  -kernel /boot/vmlinuz-$KVER -initrd "$INITRD"
  -append "console=ttyS0 panic=-1 quiet loglevel=4 rdinit=/init"
  -serial file:"$RUN/console.log"
  -chardev stdio,id=out,signal=off -device virtio-serial-pci -device virtconsole,chardev=out
  -fsdev local,id=fsroot,path=/,security_model=none,readonly=on,multidevs=remap
  -device virtio-9p-pci,fsdev=fsroot,mount_tag=hostroot
  -fsdev local,id=fsvmh,path="$RUN",security_model=none
  -device virtio-9p-pci,fsdev=fsvmh,mount_tag=vmh
  -device virtio-rng-pci)
if [ "$ACCEL" = kvm ]; then ARGS+=(-accel kvm -cpu host,-arch-capabilities); else ARGS+=(-accel tcg,thread=multi,tb-size=256 -cpu max); fi
i=0; for d in ${SHARES[@]+"${SHARES[@]}"}; do
  ARGS+=(-fsdev local,id=fss$i,path="$d",security_model=none -device virtio-9p-pci,fsdev=fss$i,mount_tag=share$i); i=$((i+1)); done
[ "$NET" = 1 ] && ARGS+=(-netdev user,id=n0,net=10.0.2.0/24,host=10.0.2.2$HOSTFWD -device virtio-net-pci,netdev=n0)
i=0; for s in ${VUB[@]+"${VUB[@]}"}; do
  ARGS+=(-chardev socket,id=vub$i,path="$s" -device vhost-user-blk-pci,chardev=vub$i,num-queues=$CPUS); i=$((i+1)); done
ARGS+=(${EXTRA[@]+"${EXTRA[@]}"})

T0=$(date +%s.%N)
if [ "$CONSOLE" = 1 ]; then touch "$RUN/console.log"; tail -f "$RUN/console.log" >&2 & TAILPID=$!; fi
timeout --foreground -k 5 "$TIMEOUT" qemu-system-x86_64 "${ARGS[@]}" < /dev/null
QRC=$?
T1=$(date +%s.%N)
[ -n "${TAILPID:-}" ] && { sleep 0.2; kill "$TAILPID" 2>/dev/null; }
if [ -f "$RUN/rc" ]; then RC=$(cat "$RUN/rc")
elif [ $QRC = 124 ] || [ $QRC = 137 ]; then RC=124; echo "vm-run.sh: timeout after ${TIMEOUT}s" >&2
else RC=125; echo "vm-run.sh: guest did not report a status (qemu rc=$QRC); console log:" >&2; tail -30 "$RUN/console.log" >&2; KEEP=1; fi
if [ -f "$RUN/t_cmd_start" ]; then
  echo "vm-run.sh: guest uptime at command start $(cat "$RUN/t_cmd_start") s, host wall total $(awk "BEGIN{printf \"%.2f\", $T1 - $T0}") s, rc=$RC" >&2
fi
[ "$KEEP" = 1 ] && echo "vm-run.sh: run dir kept: $RUN" >&2 || rm -rf "$RUN"
exit "$RC"
