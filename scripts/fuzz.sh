#!/usr/bin/env bash
# Builds the libFuzzer targets in build-fuzz/ (clang, -fsanitize=fuzzer,address,undefined) and
# runs each of them for its share of SECONDS (default 60, split evenly), starting from its seed
# corpus in tests/fuzz/corpus/<name>/. New inputs go to build-fuzz/corpus/<name>/, crashes to
# build-fuzz/. Targets: uri (the URI parser), lvs (the pool metadata loader), nvmf_pdu (the
# NVMe/TCP PDU codec), nbd (the NBD codec: handshake options, requests, replies).
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
# name, binary, max input length, dictionary
targets=(
    "uri uri_fuzz 512 tests/fuzz/uri.dict"
    "lvs lvs_metadata_fuzz 65536 tests/fuzz/lvs.dict"
    "nvmf_pdu nvmf_pdu_fuzz 16384 tests/fuzz/nvmf_pdu.dict"
    "nbd nbd_codec_fuzz 16384 tests/fuzz/nbd_codec.dict"
)
binaries=()
for t in "${targets[@]}"; do
    read -r _ bin _ _ <<<"$t"
    binaries+=("$bin")
done
cmake --build build-fuzz --target "${binaries[@]}"

share=$((seconds / ${#targets[@]}))
if ((share < 1)); then
    share=1
fi
for t in "${targets[@]}"; do
    read -r name bin max_len dict <<<"$t"
    corpus=build-fuzz/corpus/$name
    mkdir -p "$corpus"
    echo "fuzz.sh: $bin for ${share} s ($cxx)"
    "build-fuzz/tests/fuzz/$bin" -max_total_time="$share" -max_len="$max_len" -dict="$dict" \
        -artifact_prefix=build-fuzz/ -print_final_stats=1 "$corpus" "tests/fuzz/corpus/$name"
done
