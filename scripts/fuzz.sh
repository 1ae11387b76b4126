#!/usr/bin/env bash
# Builds the libFuzzer targets in build-fuzz/ (clang, -fsanitize=fuzzer,address,undefined) and
# runs the URI fuzzer for SECONDS (default 60), starting from the seed corpus in
# tests/fuzz/corpus/uri/. New inputs go to build-fuzz/corpus/uri/, crashes to build-fuzz/.
# Needs a clang that can compile std::expected with libstdc++ 12: clang 19 (Debian 12:
# clang-19 libclang-rt-19-dev; installed here when missing). Clang 14 cannot.
# Usage: bash scripts/fuzz.sh [SECONDS]
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
seconds=${1:-60}

has_expected() {
    command -v "$1" >/dev/null &&
        printf '#include <expected>\nint main() { std::expected<int, int> e{1}; return *e - 1; }\n' |
        "$1" -std=c++2b -fsyntax-only -x c++ - 2>/dev/null
}

find_clang() {
    for c in clang++-19 clang++-20 clang++-21 clang++-22 clang++; do
        if has_expected "$c"; then
            echo "$c"
            return 0
        fi
    done
    return 1
}

if ! cxx=$(find_clang); then
    echo "fuzz.sh: no clang++ here compiles std::expected; installing clang-19 libclang-rt-19-dev"
    sudo=()
    if [[ $EUID -ne 0 ]]; then
        sudo=(sudo)
    fi
    "${sudo[@]}" apt-get update -q
    "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
        clang-19 libclang-rt-19-dev </dev/null
    cxx=$(find_clang)
fi

configure=(cmake -S . -B build-fuzz -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_CXX_COMPILER="$cxx"
           -DMS_FUZZ=ON -DMS_BUILD_TESTS=OFF)
if [[ ! -f build-fuzz/CMakeCache.txt ]] && command -v ninja >/dev/null; then
    configure+=(-G Ninja)
fi
"${configure[@]}" >/dev/null
cmake --build build-fuzz --target uri_fuzz

corpus=build-fuzz/corpus/uri
mkdir -p "$corpus"
echo "fuzz.sh: uri_fuzz for ${seconds} s ($cxx)"
build-fuzz/tests/fuzz/uri_fuzz -max_total_time="$seconds" -max_len=512 -dict=tests/fuzz/uri.dict \
    -artifact_prefix=build-fuzz/ -print_final_stats=1 "$corpus" tests/fuzz/corpus/uri
