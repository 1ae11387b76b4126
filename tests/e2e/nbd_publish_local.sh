#!/usr/bin/env bash
# End-to-end test of publishing a nexus locally over NBD (PublishNexus, share NEXUS_NBD: the
# daemon's NBD export attached to the kernel's nbd driver, device URI file:///dev/nbdN). The host
# kernel has no nbd driver, so the daemon itself runs INSIDE a vm-run.sh guest (Debian's kernel
# in QEMU, TCG; the guest sees the host's root, hence the build tree's binaries), driven by
# nbd_publish_local_guest.sh: nexus over a malloc and a file child, publish, fio with crc32c
# verification on /dev/nbdN, unpublish, both children hold the data (see that script).
#
# Usage: nbd_publish_local.sh PATH/TO/mayastor PATH/TO/mayastor-client
# Environment: E2E_GUEST_TIMEOUT (seconds, default 300) bounds the guest.
# Exit: 0 when every step passed, 1 otherwise. Registered with ctest as e2e.nbd_publish_local
# (tests/CMakeLists.txt). Kills only the QEMU it started (its own process group) and removes its
# scratch directory, whatever happens.
set -uo pipefail

mayastor_bin=${1:?usage: nbd_publish_local.sh PATH/TO/mayastor PATH/TO/mayastor-client}
client_bin=${2:?usage: nbd_publish_local.sh PATH/TO/mayastor PATH/TO/mayastor-client}
here=$(cd "$(dirname "$0")" && pwd)
guest_timeout=${E2E_GUEST_TIMEOUT:-300}
abs() { echo "$(cd "$(dirname "$1")" && pwd)/$(basename "$1")"; }
mayastor_bin=$(abs "$mayastor_bin")
client_bin=$(abs "$client_bin")
for t in "$mayastor_bin" "$client_bin"; do
    [[ -x $t ]] || { echo "FAIL: $t is not an executable" >&2; exit 1; }
done
command -v qemu-system-x86_64 >/dev/null || { echo "FAIL: qemu-system-x86_64 not found (bash scripts/install-deps.sh)" >&2; exit 1; }

tmp=$(mktemp -d "${TMPDIR:-/tmp}/mayastor-e2e.XXXXXX")
vm_pid=""
cleanup() {
    trap - EXIT INT TERM
    if [[ -n $vm_pid ]] && kill -0 "$vm_pid" 2>/dev/null; then
        kill -TERM -- "-$vm_pid" 2>/dev/null || true
        sleep 1
        kill -KILL -- "-$vm_pid" 2>/dev/null || true
        wait "$vm_pid" 2>/dev/null || true
    fi
    rm -rf "$tmp"
}
trap cleanup EXIT
trap 'echo "FAIL: interrupted" >&2; exit 1' INT TERM

echo "--- guest (timeout ${guest_timeout} s; QEMU under TCG boots in 15-30 s)"
start=$(date +%s)
# Own session (setsid), so that cleanup can stop QEMU and its helpers by this one process group.
VMH_BASE=$tmp/vm setsid bash "$here/vm-run.sh" --no-net --timeout "$guest_timeout" -- \
    "bash $(printf %q "$here/nbd_publish_local_guest.sh") $(printf %q "$mayastor_bin") $(printf %q "$client_bin")" \
    >"$tmp/guest.out" 2>&1 </dev/null &
vm_pid=$!
wait "$vm_pid"
guest_rc=$?
vm_pid=""
sed 's/^/guest| /' "$tmp/guest.out"
tr -d '\r' <"$tmp/guest.out" | grep -q '^GUEST PASS: nexus destroyed, mayastor stopped' && [[ $guest_rc -eq 0 ]] || {
    echo "FAIL: e2e.nbd_publish_local (vm-run.sh rc $guest_rc; 124 = timeout, 125 = no status from the guest)" >&2
    exit 1
}
echo "PASS: e2e.nbd_publish_local ($(($(date +%s) - start)) s with the guest's boot)"
