#!/usr/bin/env bash
# THE MAIN JOB: installs the dependencies, builds, and runs the mayastor daemon in the
# foreground with an io_uring device on a 1 GiB sparse file and a 64 MiB RAM disk.
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

cmd=(build/tools/mayastor/mayastor -d "uring://$disk" -d 'malloc:///malloc0?size_mb=64' "$@")
echo "run: ${cmd[*]}"
echo "run: mayastor runs in the foreground; stop it with Ctrl-C (or: kill -TERM <pid>)"
exec "${cmd[@]}"
