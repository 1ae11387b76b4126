// CRC-32C: known values, the hardware path (serial and three interleaved streams, joined) equal
// to the portable table for every length around the block boundaries, at unaligned addresses,
// and chaining across any split.
#include "core/crc32c.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <random>
#include <string_view>
#include <vector>

namespace ms {
namespace {

std::span<const uint8_t> bytes(std::string_view s) {
    return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}

std::vector<uint8_t> random_data(std::size_t n, uint64_t seed) {
    std::mt19937_64 rng(seed);
    std::vector<uint8_t> v(n);
    for (auto& b : v) {
        b = static_cast<uint8_t>(rng());
    }
    return v;
}

TEST(Crc32c, KnownValues) {
    EXPECT_EQ(crc32c(bytes("123456789")), 0xE3069283u);
    EXPECT_EQ(crc32c(bytes("")), 0u);
    std::vector<uint8_t> zeros(32, 0);
    EXPECT_EQ(crc32c(zeros), 0x8A9136AAu);  // RFC 3720 B.4
    std::vector<uint8_t> ones(32, 0xff);
    EXPECT_EQ(crc32c(ones), 0x62A8AB43u);  // RFC 3720 B.4
}

TEST(Crc32c, EqualsTheTableAtEveryLengthAndAlignment) {
    auto data = random_data(3 * 4096 * 3 + 1000, 7);
    std::vector<std::size_t> lengths;
    for (std::size_t n = 0; n < 1600; ++n) {
        lengths.push_back(n);
    }
    for (std::size_t base : {3 * 4096, 2 * 3 * 4096, 3 * 3 * 4096}) {
        for (std::size_t d = 0; d < 20; ++d) {
            lengths.push_back(base - 10 + d);
        }
    }
    lengths.push_back(128 * 1024 - 2000);
    for (std::size_t n : lengths) {
        for (std::size_t off : {0, 1, 3}) {
            if (off + n > data.size()) {
                continue;
            }
            auto s = std::span<const uint8_t>(data).subspan(off, n);
            ASSERT_EQ(crc32c(s), crc32c_table(s)) << "length " << n << " offset " << off;
            ASSERT_EQ(crc32c(s, 0x12345678u), crc32c_table(s, 0x12345678u)) << "length " << n;
        }
    }
}

TEST(Crc32c, ChainsAcrossAnySplit) {
    auto data = random_data(40000, 9);
    auto all = std::span<const uint8_t>(data);
    const uint32_t whole = crc32c(all);
    for (std::size_t cut : {0, 1, 100, 767, 768, 12287, 12288, 30001, 40000}) {
        EXPECT_EQ(crc32c(all.subspan(cut), crc32c(all.first(cut))), whole) << cut;
    }
}

}  // namespace
}  // namespace ms
