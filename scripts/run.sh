#!/usr/bin/env bash
# THE MAIN JOB: installs the dependencies, builds, and runs the mayastor daemon in the
# foreground, ready to use: a pool `pool0` on a 1 GiB sparse file (created, or imported when
# the file already holds it), a 256 MiB thin replica `replica0` on it, a nexus over it
# published over NVMe-oF/TCP (port 8420; `nvme connect` from any Linux host), a 64 MiB RAM
# disk, the gRPC API on 0.0.0.0:10124 and the JSON-RPC socket /var/tmp/mayastor.sock.
# Stop it with Ctrl-C (SIGINT) or SIGTERM. Extra arguments go to mayastor (e.g. -m 0x3).
# Usage: sudo bash scripts/run.sh [MAYASTOR_OPTIONS...]
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

bash scripts/install-deps.sh
bash scripts/build.sh build

disk=${MAYASTOR_DISK:-/var/tmp/mayastor-disk.img}
if [[ ! -e $disk ]]; then
    truncate -s 1G "$disk"
    echo "run: created a 1 GiB sparse file $disk"
fi

pools=${MAYASTOR_POOLS:-/var/tmp/mayastor-pools.yaml}
if [[ ! -e $pools ]]; then
    printf 'pools:\n  - name: pool0\n    disks: ["uring://%s"]\n' "$disk" >"$pools"
    echo "run: wrote $pools (pool0 on $disk)"
fi

client=build/tools/mayastor-client/mayastor-client
cmd=(build/tools/mayastor/mayastor -P "$pools" -d 'malloc:///malloc0?size_mb=64' "$@")
echo "run: ${cmd[*]}"
"${cmd[@]}" &
pid=$!
trap 'kill -TERM "$pid" 2>/dev/null || true' INT TERM

for ((i = 0; i < 300; i++)); do
    if "$client" pool list >/dev/null 2>&1; then
        break
    fi
    kill -0 "$pid" 2>/dev/null || { wait "$pid"; exit $?; }
    sleep 0.1
done
# Idempotent: an existing replica0, nexus and publication are left as they are.
nexus=${MAYASTOR_NEXUS_UUID:-8ba5e1d2-3c4f-4a6b-9d7e-0f1a2b3c4d5e}
if "$client" -q pool list 2>/dev/null | grep -q '^pool0 '; then
    "$client" replica create pool0 replica0 --size=256 --thin || true
    "$client" nexus create "$nexus" 256MiB bdev:///replica0 || true
    "$client" nexus publish -p nvmf "$nexus" >/dev/null || true
fi
"$client" pool list || true
"$client" replica list || true
"$client" nexus list || true
uri=$("$client" -q nexus list 2>/dev/null | awk -v u="$nexus" '$1 == u {print $NF}')
if [[ $uri =~ ^nvmf://([^/:]+):([0-9]+)/(.+)$ ]]; then
    echo "run: the nexus is published at $uri; from a Linux host:"
    echo "run:   nvme connect -t tcp -a ${BASH_REMATCH[1]} -s ${BASH_REMATCH[2]} -n ${BASH_REMATCH[3]}"
fi
# The RAM disk over NBD (idempotent): any NBD client reaches it (nbdinfo, qemu-img, nbd-client).
if nbd=$("$client" -v bdev share malloc0 -p nbd 2>/dev/null | tail -n 1) && [[ $nbd == nbd://* ]]; then
    echo "run: malloc0 is shared at $nbd; try: nbdinfo $nbd"
fi
echo "run: mayastor (pid $pid) runs in the foreground; stop it with Ctrl-C (or: kill -TERM $pid)"
echo "run: try 'build/tools/mayastor-client/mayastor-client --help'"
rc=0
wait "$pid" || rc=$?
# A signal interrupts the first wait; wait again for the daemon's own exit status.
if kill -0 "$pid" 2>/dev/null; then
    wait "$pid" || rc=$?
fi
exit "$rc"
