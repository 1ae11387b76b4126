#!/usr/bin/env bash
# Installs every Debian 12 package that the build, the tests and the benchmarks need. Does
# nothing (and needs no root) when all of them are installed already, so re-runs are fast.
# Usage: [sudo] bash scripts/install-deps.sh
set -euo pipefail

packages=(
    # toolchain and build
    build-essential g++ cmake ninja-build pkg-config
    # libraries
    liburing-dev libaio-dev libfmt-dev libspdlog-dev libcli11-dev nlohmann-json3-dev libyaml-cpp-dev
    libblkid-dev
    # NBD: libnbd (nbd:// devices; the NBD server tests' client library), nbdinfo/nbdcopy,
    # nbdkit and qemu-storage-daemon (peer servers to test against and compare with); qemu-img
    # and qemu-io (qemu-utils, below) and fio's nbd engine are clients too
    libnbd-dev libnbd-bin nbdkit qemu-system-common
    # gRPC management API: C++ runtime and code generators
    libgrpc++-dev libprotobuf-dev protobuf-compiler protobuf-compiler-grpc
    # tests; fuzzers (clang 19 and its libFuzzer/sanitizer runtimes: clang 14 cannot compile
    # std::expected with libstdc++ 12); benchmarks
    libgtest-dev libgmock-dev libbenchmark-dev clang-19 libclang-rt-19-dev fio
    # integration tests: a gRPC client we did not write (Debian's Python gRPC), loop devices
    python3 python3-grpcio python3-protobuf mount
    # the store's etcd backend: its unit tests start a real etcd (/usr/bin/etcd) on 127.0.0.1
    etcd-server
    # tools the scripts use: taskset, getconf, timeout, ps
    util-linux libc-bin coreutils procps
    # NBD guest tests (tests/e2e/nbd_*): the kernel's nbd driver with Debian's nbd-client, ext4
    # made and checked in the guest and on the host (debugfs reads files back), nbdcopy (libnbd)
    # reads the export on the host; peer NBD servers to prove the test against
    # (E2E_NBD_SERVER=qsd|nbdkit)
    nbd-client e2fsprogs libnbd-bin nbdkit qemu-system-common
    # end-to-end tests (tests/e2e): a throw-away QEMU guest (TCG) running Debian's kernel, whose
    # nvme-tcp host (nvme-cli) and fio check the NVMe-oF/TCP export; busybox/cpio/kmod build its
    # initramfs, iproute2 sets up its network
    qemu-system-x86 qemu-utils linux-image-amd64 busybox-static cpio kmod iproute2 nvme-cli
)

missing=()
for p in "${packages[@]}"; do
    if [[ $(dpkg-query -W -f='${db:Status-Abbrev}' "$p" 2>/dev/null) != ii* ]]; then
        missing+=("$p")
    fi
done

if [[ ${#missing[@]} -eq 0 ]]; then
    echo "install-deps: all ${#packages[@]} packages are installed"
    exit 0
fi

echo "install-deps: installing ${missing[*]}"
sudo=()
if [[ $EUID -ne 0 ]]; then
    if command -v sudo >/dev/null; then
        sudo=(sudo)
    else
        echo "install-deps: missing packages (${missing[*]}) and not root: run 'sudo bash scripts/install-deps.sh'" >&2
        exit 1
    fi
fi
export DEBIAN_FRONTEND=noninteractive
"${sudo[@]}" apt-get update -q
"${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}" </dev/null
echo "install-deps: done"
