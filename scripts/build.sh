#!/usr/bin/env bash
# Configures and builds the project. Works from any directory.
# Usage: bash scripts/build.sh [BUILD_DIR [CMAKE_ARGS...]]
#   bash scripts/build.sh                         -> build/ (RelWithDebInfo)
#   bash scripts/build.sh build-asan -DMS_SANITIZE=ON -DCMAKE_BUILD_TYPE=Debug
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

build_dir=${1:-build}
shift || true

configure=(cmake -S . -B "$build_dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo)
# Keep the generator of an existing build directory; new ones use Ninja when it is there.
if [[ ! -f $build_dir/CMakeCache.txt ]] && command -v ninja >/dev/null; then
    configure+=(-G Ninja)
fi
"${configure[@]}" "$@"
cmake --build "$build_dir" -j "$(nproc)"
