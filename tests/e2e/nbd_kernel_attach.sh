#!/usr/bin/env bash
# End-to-end test of the kernel NBD attach (src/target/nbd/kernel_nbd.cc: generic netlink,
# family "nbd") against the Linux kernel's nbd driver, in a vm-run.sh guest (Debian's kernel in
# QEMU, TCG). The guest runs the build tree's nbd_attach_check, which serves the driver's
# sockets itself (see its header). nbd is NOT loaded beforehand: loading it with `modprobe nbd`
# is part of what is checked. Errors the driver logs (unexpected replies, failed sends) fail the
# test too.
#
# Usage: nbd_kernel_attach.sh PATH/TO/nbd_attach_check
# Environment: E2E_GUEST_TIMEOUT (seconds, default 240) bounds the guest.
# Prints PASS/FAIL lines; exit 0 only when the guest's check passed. Registered with ctest as
# e2e.nbd_kernel_attach (tests/CMakeLists.txt). Kills only the QEMU it started (its own process
# group) and removes its scratch directory, whatever happens.
set -uo pipefail

check_bin=${1:?usage: nbd_kernel_attach.sh PATH/TO/nbd_attach_check}
here=$(cd "$(dirname "$0")" && pwd)
guest_timeout=${E2E_GUEST_TIMEOUT:-240}
check_bin=$(cd "$(dirname "$check_bin")" && pwd)/$(basename "$check_bin")
[[ -x $check_bin ]] || { echo "FAIL: $check_bin is not an executable" >&2; exit 1; }
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
    "lsmod | grep -q '^nbd ' && echo 'nbd already loaded'; $(printf %q "$check_bin"); rc=\$?
     e=\$(dmesg | grep -E 'nbd[0-9]+: (Unexpected reply|Wrong magic|Suspicious reply|Receive control failed|Send (control|data|disconnect) failed|Connection timed out)')
     [ -z \"\$e\" ] || { echo \"GUEST FAIL: the nbd driver logged errors: \$e\"; exit 1; }; exit \$rc" \
    >"$tmp/guest.out" 2>&1 </dev/null &
vm_pid=$!
wait "$vm_pid"
guest_rc=$?
vm_pid=""
sed 's/^/guest| /' "$tmp/guest.out"
tr -d '\r' <"$tmp/guest.out" | grep -q '^nbd_attach_check: PASS' && [[ $guest_rc -eq 0 ]] || {
    echo "FAIL: e2e.nbd_kernel_attach (vm-run.sh rc $guest_rc; 124 = timeout, 125 = no status from the guest)" >&2
    exit 1
}
echo "PASS: e2e.nbd_kernel_attach ($(($(date +%s) - start)) s with the guest's boot)"
