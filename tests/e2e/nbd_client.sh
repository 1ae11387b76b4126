#!/usr/bin/env bash
# End-to-end test of an NBD export against the Linux kernel's nbd driver and Debian's
# nbd-client:
#
#   host:  the NBD server on 127.0.0.1:PORT exporting a 64 MiB device (below: our daemon by
#          default, or a peer server to compare with)
#   guest: (vm-run.sh: Debian's kernel in QEMU, TCG; runs nbd_client_guest_check.sh)
#          nbd-client -N NAME 10.0.2.2 PORT /dev/nbd0 (QEMU's address for the host's
#          127.0.0.1), size check, mkfs.ext4 on the first 48 MiB, mount, files written, sync,
#          umount, fsck.ext4 -n clean, read-only remount and every file checked; fio random
#          writes with crc32c verification over the last 16 MiB, a verify-only pass; nbd-client -d
#   host:  reads the whole export back over NBD with nbdcopy (libnbd): e2fsck -n clean, the big
#          files (debugfs cat) and the fio range hold exactly what the guest saw (our daemon:
#          also the device itself, read with JSON-RPC bdev_read); then the server is stopped
#          (our daemon: bdev unshare, bdev destroy, SIGTERM -> exit 0)
#
# Usage: nbd_client.sh PATH/TO/mayastor PATH/TO/mayastor-client
# Environment:
#   E2E_NBD_SERVER     mayastor (default), qsd (qemu-storage-daemon over a file) or nbdkit
#                      (nbdkit memory): which server the guest talks to. Only start_server_*
#                      below differs between them.
#   E2E_GUEST_TIMEOUT  seconds, default 300, bounds the guest.
# Exit: 0 when every step passed, 1 otherwise. Registered with ctest as e2e.nbd_client (tests/CMakeLists.txt).
# Kills only the processes it started (by PID / its QEMU's process group) and removes its
# scratch directory, whatever happens.
set -uo pipefail

mayastor_bin=${1:?usage: nbd_client.sh PATH/TO/mayastor PATH/TO/mayastor-client}
client_bin=${2:?usage: nbd_client.sh PATH/TO/mayastor PATH/TO/mayastor-client}
here=$(cd "$(dirname "$0")" && pwd)
guest_timeout=${E2E_GUEST_TIMEOUT:-300}
server_kind=${E2E_NBD_SERVER:-mayastor}

MiB=$((1024 * 1024))
export_size=$((64 * MiB))
fs_mib=48  # the ext4 file system's size; fio writes the rest

tmp=$(mktemp -d "${TMPDIR:-/tmp}/mayastor-e2e.XXXXXX")
server_pid=""
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
    if [[ -n $server_pid ]] && alive "$server_pid"; then
        kill -KILL "$server_pid" 2>/dev/null || true
        wait "$server_pid" 2>/dev/null || true
    fi
    rm -rf "$tmp"
}
trap cleanup EXIT
trap 'echo "FAIL: interrupted" >&2; exit 1' INT TERM

pass() { echo "PASS: $*"; }

fail() {
    echo "FAIL: $*" >&2
    if [[ -s $tmp/server.stderr ]]; then
        echo "--- $server_kind stderr (last 40 lines):" >&2
        tail -n 40 "$tmp/server.stderr" >&2
    fi
    exit 1
}

# Reports a failed check but goes on (the checks after the guest, so that one run shows
# everything that is wrong).
check_failed() {
    echo "FAIL: $*" >&2
    failed=1
}

for t in qemu-system-x86_64 python3 nbdcopy e2fsck debugfs; do
    command -v "$t" >/dev/null || fail "$t not found (bash scripts/install-deps.sh)"
done

free_ports() {  # free_ports N: N distinct TCP ports nobody listens on now
    python3 -c '
import socket, sys
socks = [socket.socket() for _ in range(int(sys.argv[1]))]
for s in socks:
    s.bind(("127.0.0.1", 0))
print(*(s.getsockname()[1] for s in socks))' "$1"
}

# Waits up to 10 s for 127.0.0.1:$1 to accept connections while process $2 lives.
wait_listening() {
    for ((i = 0; i < 100; i++)); do
        python3 -c 'import socket, sys; socket.create_connection(("127.0.0.1", int(sys.argv[1])), 1).close()' \
            "$1" 2>/dev/null && return 0
        alive "$2" || return 1
        sleep 0.1
    done
    return 1
}

# ------------------------------------------------------------- the NBD servers ----
# start_server_KIND starts the server exporting $export_size bytes on 127.0.0.1:$nbd_port and
# sets server_pid and export_name; stop_server_KIND stops it and checks that it stopped well.

start_server_mayastor() {
    for t in "$mayastor_bin" "$client_bin"; do
        [[ -x $t ]] || fail "$t is not an executable"
    done
    local grpc_port nvmf_port nexus_port
    read -r grpc_port nvmf_port nexus_port < <(free_ports 3)
    endpoint=127.0.0.1:$grpc_port
    : >"$tmp/server.stderr"
    # MY_POD_IP: the address the daemon puts in the URIs it returns. Every listener on 127.0.0.1.
    MY_POD_IP=127.0.0.1 "$mayastor_bin" -g "$endpoint" -r "$tmp/mayastor.sock" --store-dir "$tmp/store" \
        -N e2e-node --nvmf-address 127.0.0.1 --nvmf-port "$nvmf_port" --nvmf-nexus-port "$nexus_port" \
        --nbd-address 127.0.0.1 --nbd-port "$nbd_port" 2>"$tmp/server.stderr" </dev/null >/dev/null &
    server_pid=$!
    for ((i = 0; i < 300; i++)); do
        grep -q 'mayastor ready' "$tmp/server.stderr" && break
        alive "$server_pid" || fail "mayastor exited at start"
        sleep 0.1
    done
    grep -q 'mayastor ready' "$tmp/server.stderr" || fail "mayastor not ready within 30 s"
    local out uri
    out=$("$client_bin" -b "$endpoint" bdev create "malloc:///e2e-nbd?size_mb=$((export_size / MiB))" 2>&1) ||
        fail "bdev create: $out"
    out=$("$client_bin" -b "$endpoint" -v bdev share -p nbd e2e-nbd 2>&1) || fail "bdev share -p nbd e2e-nbd: $out"
    uri=$(tail -n 1 <<<"$out")
    # nbd://HOST:PORT/NAME
    [[ $uri =~ ^nbd://([^/:]+):([0-9]+)/(.+)$ ]] || fail "bdev share -p nbd printed '$out', not nbd://HOST:PORT/NAME"
    [[ ${BASH_REMATCH[2]} == "$nbd_port" ]] || fail "the share URI $uri is not on --nbd-port $nbd_port"
    export_name=${BASH_REMATCH[3]}
    pass "mayastor (pid $server_pid) shares malloc device e2e-nbd over NBD: $uri"
}

stop_server_mayastor() {
    local out sum
    # The device itself (JSON-RPC bdev_read), not only what the NBD server serves of it.
    sum=$(python3 "$here/bdev_sha256.py" "$tmp/mayastor.sock" e2e-nbd "$rest_mib" "$fs_mib" 2>&1)
    if [[ -n $guest_sum && $sum == "$guest_sum" ]]; then
        pass "the daemon's device e2e-nbd holds what fio wrote (bdev_read, sha256 $sum)"
    else
        check_failed "the daemon's device e2e-nbd, MiB $fs_mib..: sha256 '$sum', the guest read '$guest_sum'"
    fi
    if ! out=$("$client_bin" -b "$endpoint" bdev unshare e2e-nbd 2>&1); then
        check_failed "bdev unshare e2e-nbd: $out"
    elif ! out=$("$client_bin" -b "$endpoint" bdev destroy e2e-nbd 2>&1); then
        check_failed "bdev destroy e2e-nbd: $out"
    else
        pass "unshared and destroyed e2e-nbd"
    fi
    stop_by_sigterm mayastor 0
}

start_server_qsd() {
    command -v qemu-storage-daemon >/dev/null || fail "qemu-storage-daemon not found"
    truncate -s "$export_size" "$tmp/export.img"
    : >"$tmp/server.stderr"
    qemu-storage-daemon --blockdev "driver=file,node-name=n0,filename=$tmp/export.img" \
        --nbd-server "addr.type=inet,addr.host=127.0.0.1,addr.port=$nbd_port" \
        --export type=nbd,id=e0,node-name=n0,writable=on 2>"$tmp/server.stderr" </dev/null >/dev/null &
    server_pid=$!
    wait_listening "$nbd_port" "$server_pid" || fail "qemu-storage-daemon not listening on $nbd_port"
    export_name=n0
    pass "qemu-storage-daemon (pid $server_pid) exports $tmp/export.img as nbd://127.0.0.1:$nbd_port/n0"
}

stop_server_qsd() { stop_by_sigterm qemu-storage-daemon 0; }

start_server_nbdkit() {
    command -v nbdkit >/dev/null || fail "nbdkit not found"
    : >"$tmp/server.stderr"
    nbdkit -f -i 127.0.0.1 -p "$nbd_port" memory "$export_size" 2>"$tmp/server.stderr" </dev/null >/dev/null &
    server_pid=$!
    wait_listening "$nbd_port" "$server_pid" || fail "nbdkit not listening on $nbd_port"
    export_name=e2e  # nbdkit serves any name
    pass "nbdkit memory (pid $server_pid) on nbd://127.0.0.1:$nbd_port/"
}

stop_server_nbdkit() { stop_by_sigterm nbdkit 0; }

stop_by_sigterm() {  # stop_by_sigterm WHAT EXPECTED_STATUS
    kill -TERM "$server_pid"
    for ((i = 0; i < 100; i++)); do
        alive "$server_pid" || break
        sleep 0.1
    done
    if alive "$server_pid"; then
        check_failed "$1 still running 10 s after SIGTERM"
        return
    fi
    local rc=0
    wait "$server_pid" || rc=$?
    server_pid=""
    if [[ $rc -ne $2 ]]; then check_failed "$1 exited with status $rc after SIGTERM"; else pass "$1 stopped (exit $rc)"; fi
}

case $server_kind in
    mayastor | qsd | nbdkit) ;;
    *) fail "E2E_NBD_SERVER=$server_kind: expected mayastor, qsd or nbdkit" ;;
esac
read -r nbd_port < <(free_ports 1)
[[ -n ${nbd_port:-} ]] || fail "could not pick a free port"
"start_server_$server_kind"

# ------------------------------------------------------------------- the guest ----
echo "--- guest (timeout ${guest_timeout} s; QEMU under TCG boots in 15-30 s)"
start=$(date +%s)
# Own session (setsid), so that cleanup can stop QEMU and its helpers by this one process group.
# The guest sees the host's root read-only, so it runs nbd_client_guest_check.sh from here.
VMH_BASE=$tmp/vm setsid bash "$here/vm-run.sh" --timeout "$guest_timeout" -- \
    "bash $(printf %q "$here/nbd_client_guest_check.sh") $(printf %q "$export_name") $nbd_port $export_size $fs_mib" \
    >"$tmp/guest.out" 2>&1 </dev/null &
vm_pid=$!
wait "$vm_pid"
guest_rc=$?
vm_pid=""
sed 's/^/guest| /' "$tmp/guest.out"
# The guest's console may end lines with CR.
tr -d '\r' <"$tmp/guest.out" >"$tmp/guest.txt"
grep -q "^GUEST PASS: no errors from the nbd driver" "$tmp/guest.txt" && [[ $guest_rc -eq 0 ]] ||
    fail "the guest's checks (vm-run.sh rc $guest_rc; 124 = timeout, 125 = no status from the guest)"
pass "kernel nbd + nbd-client against $server_kind: connect, ext4 mkfs/mount/write/fsck/remount, fio write+verify, verify-only, disconnect ($(($(date +%s) - start)) s with the guest's boot)"

# ---------------------------------------------------------- host-side checks ----
guest_sum=$(awk '$1 == "GUEST" && $2 == "SHA256" {print $3}' "$tmp/guest.txt")
rest_mib=$((export_size / MiB - fs_mib))
# The whole export, read back over NBD by another client (libnbd's nbdcopy).
if ! out=$(nbdcopy "nbd://127.0.0.1:$nbd_port/$export_name" "$tmp/readback.img" 2>&1); then
    check_failed "nbdcopy of the export: $out"
else
    if out=$(e2fsck -n -f "$tmp/readback.img" 2>&1); then
        pass "the export read back on the host: e2fsck -n -f clean"
    else
        check_failed "e2fsck -n -f of the export read back: $out"
    fi
    while read -r _ path sum; do
        got=$(debugfs -R "cat $path" "$tmp/readback.img" 2>/dev/null | sha256sum | cut -d' ' -f1)
        if [[ $got == "$sum" ]]; then
            pass "the export holds $path as the guest wrote it (sha256 $sum)"
        else
            check_failed "$path in the export read back: sha256 $got, the guest wrote $sum"
        fi
    done < <(awk '$1 == "GUEST" && $2 == "FILE" {print $2, $3, $4}' "$tmp/guest.txt")
    sum=$(dd if="$tmp/readback.img" bs=1M skip="$fs_mib" count="$rest_mib" status=none | sha256sum | cut -d' ' -f1)
    if [[ -n $guest_sum && $sum == "$guest_sum" ]]; then
        pass "the export's last $rest_mib MiB hold what fio wrote (sha256 $sum)"
    else
        check_failed "the export's last $rest_mib MiB: sha256 $sum, the guest read '$guest_sum'"
    fi
fi

"stop_server_$server_kind"

if [[ $failed -ne 0 ]]; then
    fail "e2e.nbd_client ($server_kind)"
fi
echo "PASS: e2e.nbd_client ($server_kind)"
