#!/usr/bin/env bash
# End-to-end test of the NVMe-oF/TCP nexus export against the Linux kernel's nvme-tcp host:
#
#   host:  mayastor on free ports (gRPC, JSON-RPC socket, NVMe-oF replica and nexus ports),
#          two 64 MiB pool files, one 48 MiB replica on each, a 48 MiB nexus over the two,
#          `nexus publish -p nvmf` -> nvmf://ADDR:PORT/NQN
#   guest: (vm-run.sh: Debian's kernel in QEMU, TCG; runs nvmf_guest_check.sh) modprobe
#          nvme-tcp, nvme discover (the nexus NQN must be listed), nvme connect to 10.0.2.2:PORT
#          (QEMU's address for the host's 127.0.0.1), the namespace's size must be the nexus
#          size, fio random writes with crc32c verification, a second verify-only pass, the
#          checksum of the written 16 MiB, nvme disconnect, the device must go away
#   host:  both replicas, read through the daemon's JSON-RPC `bdev_read`, hold exactly what the
#          guest read through the nexus; unpublish and destroy the nexus; SIGTERM -> exit 0
#
# Usage: nvmf_kernel_host.sh PATH/TO/mayastor PATH/TO/mayastor-client
# Environment: E2E_GUEST_TIMEOUT (seconds, default 300) bounds the guest.
# The daemon gets free NVMe-oF ports with --nvmf-port and --nvmf-nexus-port (defaults 8420 and
# 4421); a daemon without those options (no NVMe-oF target yet) is started without them, and the
# test then fails at `nexus publish`.
# Prints PASS/FAIL lines; exit 0 only when every step passed. Registered with ctest as
# e2e.nvmf_kernel_host (tests/CMakeLists.txt) when QEMU and a guest kernel are installed
# (scripts/install-deps.sh). Kills only the processes it started (by PID) and removes its
# scratch directory, whatever happens.
set -uo pipefail

mayastor_bin=${1:?usage: nvmf_kernel_host.sh PATH/TO/mayastor PATH/TO/mayastor-client}
client_bin=${2:?usage: nvmf_kernel_host.sh PATH/TO/mayastor PATH/TO/mayastor-client}
here=$(cd "$(dirname "$0")" && pwd)
guest_timeout=${E2E_GUEST_TIMEOUT:-300}

MiB=$((1024 * 1024))
pool_size=$((64 * MiB))
volume_size=$((48 * MiB))
written_mib=16  # fio --size, the range checked on the replicas afterwards

tmp=$(mktemp -d "${TMPDIR:-/tmp}/mayastor-e2e.XXXXXX")
daemon_pid=""
vm_pid=""
failed=0

alive() {  # alive PID: running and not a zombie
    [[ -n $1 && -r /proc/$1/stat ]] && [[ $(awk '{print $3}' "/proc/$1/stat" 2>/dev/null) != Z ]]
}

cleanup() {
    trap - EXIT INT TERM
    if [[ -n $vm_pid ]] && alive "$vm_pid"; then
        # vm-run.sh was started with setsid: its process group is QEMU and its helpers only.
        kill -TERM -- "-$vm_pid" 2>/dev/null || true
        sleep 1
        kill -KILL -- "-$vm_pid" 2>/dev/null || true
        wait "$vm_pid" 2>/dev/null || true
    fi
    if [[ -n $daemon_pid ]] && alive "$daemon_pid"; then
        kill -KILL "$daemon_pid" 2>/dev/null || true
        wait "$daemon_pid" 2>/dev/null || true
    fi
    rm -rf "$tmp"
}
trap cleanup EXIT
trap 'echo "FAIL: interrupted" >&2; exit 1' INT TERM

pass() { echo "PASS: $*"; }

fail() {
    echo "FAIL: $*" >&2
    if [[ -s $tmp/mayastor.stderr ]]; then
        echo "--- mayastor stderr (last 40 lines):" >&2
        tail -n 40 "$tmp/mayastor.stderr" >&2
    fi
    exit 1
}

# Reports a failed check but goes on (used for the checks after the guest, so that one run shows
# everything that is wrong).
check_failed() {
    echo "FAIL: $*" >&2
    failed=1
}

for t in "$mayastor_bin" "$client_bin"; do
    [[ -x $t ]] || fail "$t is not an executable"
done
for t in qemu-system-x86_64 python3; do
    command -v "$t" >/dev/null || fail "$t not found (bash scripts/install-deps.sh)"
done

# Three distinct TCP ports nobody listens on now: gRPC, NVMe-oF replica port, nexus port.
read -r grpc_port nvmf_port nexus_port < <(python3 -c '
import socket
socks = [socket.socket() for _ in range(3)]
for s in socks:
    s.bind(("127.0.0.1", 0))
print(*(s.getsockname()[1] for s in socks))')
[[ -n ${nexus_port:-} ]] || fail "could not pick free ports"
endpoint=127.0.0.1:$grpc_port
sock=$tmp/mayastor.sock

client() { "$client_bin" -b "$endpoint" "$@"; }

# sha256 of the first LEN_MIB MiB of device NAME, read 1 MiB at a time with bdev_read.
device_sha256() {
    python3 - "$sock" "$1" "$2" <<'EOF'
import base64, hashlib, json, socket, sys
path, name, mib = sys.argv[1], sys.argv[2], int(sys.argv[3])
h = hashlib.sha256()
for i in range(mib):
    req = {"jsonrpc": "2.0", "id": i, "method": "bdev_read",
           "params": {"name": name, "offset": i << 20, "length": 1 << 20}}
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.settimeout(60)
        s.connect(path)
        s.sendall(json.dumps(req).encode())
        buf, dec = b"", json.JSONDecoder()
        while True:
            chunk = s.recv(1 << 20)
            if not chunk:
                sys.exit(f"bdev_read {name}: socket closed without a reply")
            buf += chunk
            try:
                reply, _ = dec.raw_decode(buf.decode())
                break
            except ValueError:
                continue
    if reply.get("error"):
        sys.exit(f"bdev_read {name} @{i} MiB: {reply['error']}")
    data = base64.b64decode(reply["result"])
    if len(data) != 1 << 20:
        sys.exit(f"bdev_read {name} @{i} MiB: {len(data)} bytes")
    h.update(data)
print(h.hexdigest())
EOF
}

# ---------------------------------------------------------------- the daemon ----
# The NVMe-oF ports are options of the daemon (defaults 8420 and 4421); this test always passes
# free ones so that it can run beside anything else.
nvmf_args=(--nvmf-port "$nvmf_port" --nvmf-nexus-port "$nexus_port")
if ! "$mayastor_bin" --help 2>/dev/null | grep -q -- '--nvmf-nexus-port'; then
    echo "NOTE: $mayastor_bin has no --nvmf-port/--nvmf-nexus-port options (no NVMe-oF target in this build?);" \
         "starting it without them, the publish step will tell" >&2
    nvmf_args=()
fi

: >"$tmp/mayastor.stderr"
# MY_POD_IP: the address the daemon puts in the URIs it returns.
MY_POD_IP=127.0.0.1 "$mayastor_bin" -g "$endpoint" -r "$sock" --store-dir "$tmp/store" -N e2e-node \
    "${nvmf_args[@]}" 2>"$tmp/mayastor.stderr" </dev/null >/dev/null &
daemon_pid=$!
for ((i = 0; i < 300; i++)); do
    grep -q 'mayastor ready' "$tmp/mayastor.stderr" && break
    alive "$daemon_pid" || fail "mayastor exited at start"
    sleep 0.1
done
grep -q 'mayastor ready' "$tmp/mayastor.stderr" || fail "mayastor not ready within 30 s"
for ((i = 0; i < 100; i++)); do
    client pool list >/dev/null 2>&1 && break
    sleep 0.1
done
pass "mayastor started (pid $daemon_pid, gRPC $endpoint, NVMe-oF ports $nvmf_port/$nexus_port)"

# ------------------------------------------------------- pools, replicas, nexus ----
uuid() { python3 -c 'import uuid; print(uuid.uuid4())'; }
nexus_uuid=$(uuid)
replica_uuids=()
replica_uris=()
for p in 1 2; do
    truncate -s "$pool_size" "$tmp/pool$p.img"
    out=$(client pool create "e2e-pool$p" "$tmp/pool$p.img" 2>&1) || fail "pool create e2e-pool$p: $out"
    r=$(uuid)
    out=$(client -v replica create "e2e-pool$p" "$r" --size "${volume_size}B" 2>&1) ||
        fail "replica create on e2e-pool$p: $out"
    uri=$(tail -n 1 <<<"$out")
    [[ $uri == bdev:///* ]] || fail "replica create on e2e-pool$p printed '$out', not a bdev:/// URI"
    replica_uuids+=("$r")
    replica_uris+=("$uri")
done
pass "two pools, one $((volume_size / MiB)) MiB replica on each: ${replica_uris[*]}"

out=$(client nexus create "$nexus_uuid" "$volume_size" "${replica_uris[@]}" 2>&1) || fail "nexus create: $out"
pass "nexus $nexus_uuid created over both replicas"

out=$(client -v nexus publish -p nvmf "$nexus_uuid" 2>&1) || fail "nexus publish -p nvmf: $out"
nexus_uri=$(tail -n 1 <<<"$out")
# nvmf://HOST:PORT/NQN[?query]
if [[ ! $nexus_uri =~ ^nvmf://([^/:]+):([0-9]+)/([^?]+) ]]; then
    fail "nexus publish printed '$out', not nvmf://HOST:PORT/NQN"
fi
uri_port=${BASH_REMATCH[2]}
nqn=${BASH_REMATCH[3]}
[[ $nqn == nqn.* ]] || fail "'$nqn' (from $nexus_uri) is not an NQN"
# The fact sheet: every NVMf URI the API returns names the replica port (8420 by default); the
# nexus port serves the same subsystems.
if [[ ${#nvmf_args[@]} -gt 0 && $uri_port != "$nvmf_port" ]]; then
    fail "the nexus URI $nexus_uri is not on the NVMe-oF port $nvmf_port (--nvmf-port)"
fi
pass "nexus published: $nexus_uri (NQN $nqn, port $uri_port)"

# ------------------------------------------------------------------- the guest ----
echo "--- guest (timeout ${guest_timeout} s; QEMU under TCG boots in 15-30 s)"
# Own session (setsid), so that cleanup can stop QEMU and its helpers by this one process group.
# The guest sees the host's root read-only, so it runs nvmf_guest_check.sh from here.
VMH_BASE=$tmp/vm setsid bash "$here/vm-run.sh" --timeout "$guest_timeout" -- \
    "bash $(printf %q "$here/nvmf_guest_check.sh") $(printf %q "$nqn") $uri_port $volume_size $written_mib $nexus_port" \
    >"$tmp/guest.out" 2>&1 </dev/null &
vm_pid=$!
wait "$vm_pid"
guest_rc=$?
vm_pid=""
sed 's/^/guest| /' "$tmp/guest.out"
grep -q '^GUEST PASS: disconnected' "$tmp/guest.out" && [[ $guest_rc -eq 0 ]] ||
    fail "the guest's checks (vm-run.sh rc $guest_rc; 124 = timeout, 125 = no status from the guest)"
pass "kernel nvme-tcp host: discover, connect, size, fio write+verify, verify-only, disconnect; again with digests on the nexus port"
# The guest's console may end lines with CR.
guest_sum=$(tr -d '\r' <"$tmp/guest.out" | awk '$1 == "GUEST" && $2 == "SHA256" {print $3}')

# ---------------------------------------------------------- host-side checks ----
# Both replicas hold, from offset 0, what the guest read through the nexus.
for i in 0 1; do
    r=${replica_uuids[$i]}
    sum=$(device_sha256 "$r" "$written_mib" 2>&1)
    if [[ $sum != "$guest_sum" ]]; then
        check_failed "replica $r: first $written_mib MiB sha256 '$sum', the guest read '$guest_sum'"
    else
        pass "replica $r holds the $written_mib MiB the guest wrote (sha256 $sum)"
    fi
done

if ! out=$(client nexus unpublish "$nexus_uuid" 2>&1); then
    check_failed "nexus unpublish: $out"
elif ! out=$(client nexus destroy "$nexus_uuid" 2>&1); then
    check_failed "nexus destroy: $out"
else
    pass "nexus unpublished and destroyed"
fi

kill -TERM "$daemon_pid"
for ((i = 0; i < 100; i++)); do
    alive "$daemon_pid" || break
    sleep 0.1
done
if alive "$daemon_pid"; then
    check_failed "mayastor still running 10 s after SIGTERM"
else
    rc=0
    wait "$daemon_pid" || rc=$?
    daemon_pid=""
    if [[ $rc -ne 0 ]]; then check_failed "mayastor exited with status $rc after SIGTERM"; else pass "mayastor stopped (exit 0)"; fi
fi

if [[ $failed -ne 0 ]]; then
    fail "e2e.nvmf_kernel_host"
fi
echo "PASS: e2e.nvmf_kernel_host"
