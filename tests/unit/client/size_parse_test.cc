// Size arguments: the API sheet's examples, units, fractions, the MiB default of
// `replica create`, and what must be refused.
#include "mayastor-client/size_parse.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <optional>
#include <string>

namespace ms::client {
namespace {

constexpr uint64_t KiB = 1024;
constexpr uint64_t MiB = KiB * 1024;
constexpr uint64_t GiB = MiB * 1024;
constexpr uint64_t TiB = GiB * 1024;
constexpr uint64_t PiB = TiB * 1024;
constexpr uint64_t EiB = PiB * 1024;

TEST(SizeParse, SheetExamples) {
    EXPECT_EQ(parse_size("10MiB"), 10485760u);
    EXPECT_EQ(parse_size("1000Mib"), 1048576000u);
    EXPECT_EQ(parse_size("64mb"), 64000000u);
    EXPECT_EQ(parse_size("1G"), 1000000000u);
}

TEST(SizeParse, BareNumberIsBytesOrTheGivenUnit) {
    EXPECT_EQ(parse_size("0"), 0u);
    EXPECT_EQ(parse_size("4096"), 4096u);
    EXPECT_EQ(parse_size("18446744073709551615"), UINT64_MAX);
    // replica create: a bare number is MiB (the README's `--size=10`).
    EXPECT_EQ(parse_size("10", kMiB), 10 * MiB);
    EXPECT_EQ(parse_size("1000", kMiB), 1000 * MiB);
    EXPECT_EQ(parse_size("0.5", kMiB), MiB / 2);
    // ... but a unit is exact.
    EXPECT_EQ(parse_size("10B", kMiB), 10u);
    EXPECT_EQ(parse_size("10MiB", kMiB), 10 * MiB);
    EXPECT_EQ(parse_size("1GiB", kMiB), GiB);
    EXPECT_EQ(parse_size("64mb", kMiB), 64000000u);
}

TEST(SizeParse, DecimalUnits) {
    EXPECT_EQ(parse_size("1B"), 1u);
    EXPECT_EQ(parse_size("1b"), 1u);
    EXPECT_EQ(parse_size("1K"), 1000u);
    EXPECT_EQ(parse_size("1kb"), 1000u);
    EXPECT_EQ(parse_size("1KB"), 1000u);
    EXPECT_EQ(parse_size("1M"), 1000000u);
    EXPECT_EQ(parse_size("1T"), 1000000000000u);
    EXPECT_EQ(parse_size("1TB"), 1000000000000u);
    EXPECT_EQ(parse_size("1P"), 1000000000000000u);
    EXPECT_EQ(parse_size("1E"), 1000000000000000000u);
    EXPECT_EQ(parse_size("18E"), 18000000000000000000u);
}

TEST(SizeParse, BinaryUnits) {
    EXPECT_EQ(parse_size("1Ki"), KiB);
    EXPECT_EQ(parse_size("1KiB"), KiB);
    EXPECT_EQ(parse_size("1kib"), KiB);
    EXPECT_EQ(parse_size("1KIB"), KiB);
    EXPECT_EQ(parse_size("2Mi"), 2 * MiB);
    EXPECT_EQ(parse_size("3GiB"), 3 * GiB);
    EXPECT_EQ(parse_size("1PiB"), PiB);
    EXPECT_EQ(parse_size("15EiB"), 15 * EiB);
}

TEST(SizeParse, TebibyteIsTwoToTheForty) {
    // The v0.8 client's parser multiplied TiB by 2^30; this client does not keep that quirk.
    EXPECT_EQ(parse_size("1TiB"), TiB);
    EXPECT_EQ(parse_size("1Ti"), TiB);
    EXPECT_EQ(parse_size("2tib"), 2 * TiB);
    EXPECT_EQ(parse_size("1TiB"), uint64_t{1} << 40);
}

TEST(SizeParse, FractionsAreTruncatedToWholeBytes) {
    EXPECT_EQ(parse_size("1.5KiB"), 1536u);
    EXPECT_EQ(parse_size("1.5K"), 1500u);
    EXPECT_EQ(parse_size("0.5"), 0u);
    EXPECT_EQ(parse_size("2.9"), 2u);
    EXPECT_EQ(parse_size("1.1GB"), 1100000000u);  // exact, no floating point error
    EXPECT_EQ(parse_size("0.1GiB"), 107374182u);  // 107374182.4
    EXPECT_EQ(parse_size("10."), 10u);
    EXPECT_EQ(parse_size("0.000001MiB"), 1u);  // 1.048576
    EXPECT_EQ(parse_size("0.001ZB"), 1000000000000000000u);
}

TEST(SizeParse, SpacesBeforeTheUnitAndAround) {
    EXPECT_EQ(parse_size("10 MiB"), 10 * MiB);
    EXPECT_EQ(parse_size("10   mb"), 10000000u);
    EXPECT_EQ(parse_size(" 10MiB "), 10 * MiB);
    EXPECT_EQ(parse_size("10\tK"), 10000u);
}

TEST(SizeParse, Refused) {
    for (const char* bad :
         {"",        " ",      "MiB", "abc", "-1",   "+1",    "1e3",  ".5",   "1..2",  "1.2.3",
          "10 M iB", "10MiBs", "10X", "10Q", "10bb", "10ibb", "1,5G", "0x10", "10 10", "1Bi"}) {
        EXPECT_EQ(parse_size(bad), std::nullopt) << "'" << bad << "' accepted";
        EXPECT_EQ(parse_size(bad, kMiB), std::nullopt) << "'" << bad << "' accepted";
    }
}

TEST(SizeParse, OverflowIsRefused) {
    EXPECT_EQ(parse_size("18446744073709551616"), std::nullopt);
    EXPECT_EQ(parse_size("99999999999999999999999999999"), std::nullopt);
    EXPECT_EQ(parse_size("16EiB"), std::nullopt);
    EXPECT_EQ(parse_size("19E"), std::nullopt);
    EXPECT_EQ(parse_size("1Z"), std::nullopt);
    EXPECT_EQ(parse_size("1ZiB"), std::nullopt);
    EXPECT_EQ(parse_size("17592186044416", kMiB), std::nullopt);  // 2^44 MiB = 2^64 bytes
    EXPECT_EQ(parse_size("17592186044415.99999", kMiB), UINT64_MAX - 10);
    EXPECT_EQ(parse_size("17592186044416.0", kMiB), std::nullopt);
    EXPECT_EQ(parse_size("17592186044415", kMiB), uint64_t{17592186044415} * MiB);
    EXPECT_EQ(parse_size("15.9999999999EiB").has_value(), true);
}

}  // namespace
}  // namespace ms::client
