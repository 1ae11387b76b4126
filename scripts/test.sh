#!/usr/bin/env bash
# ALL TESTS: installs the dependencies, builds a normal (build/) and an ASan+UBSan
# (build-asan/) tree, runs the fuzzers briefly (scripts/fuzz.sh), then every ctest test in
# both trees. Exits non-zero on any failure; the last lines are ctest's summary.
# Usage: sudo bash scripts/test.sh
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
started=$SECONDS

step() { echo; echo "== test.sh: $* ($((SECONDS - started)) s)"; }

step "dependencies"
bash scripts/install-deps.sh

step "build (RelWithDebInfo) in build/"
# Optimised like RelWithDebInfo but without debug info: the tests need no debugger, and debug
# info roughly doubles what the compiler and linker write (CI's 40-minute budget).
bash scripts/build.sh build -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O2 -DNDEBUG"

step "io_uring check"
if ! build/tools/uring-support/uring-support; then
    echo "test.sh: io_uring does not work on this machine, and every reactor needs it" >&2
    exit 1
fi

step "build (Debug, ASan+UBSan) in build-asan/"
# MS_SANITIZE also sets -O1 and the sanitizer options the tests run with (CMakeLists.txt).
# -g1: line tables only, enough for the sanitizers' stack traces. No benchmark programs: no test
# runs them, and they are built (and compiled with -Werror) in build/ already.
bash scripts/build.sh build-asan -DMS_SANITIZE=ON -DCMAKE_BUILD_TYPE=Debug -DCMAKE_CXX_FLAGS_DEBUG=-g1 -DMS_BUILD_BENCH=OFF

if [[ -d tests/fuzz && -f scripts/fuzz.sh ]]; then
    step "fuzzing for 30 s"
    bash scripts/fuzz.sh 30
fi

# Both test runs happen whatever the first one gives; the exit status is non-zero if either
# failed, and the last lines printed are ctest's own summary.
rc=0
step "tests (build/)"
ctest --test-dir build --output-on-failure -j2 || rc=1

step "tests under ASan+UBSan (build-asan/)"
ctest --test-dir build-asan --output-on-failure -j2 || rc=1
exit "$rc"
