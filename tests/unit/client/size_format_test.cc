// Size cells: the sheet's -u i / -u d form, the human form of pool and replica list, raw bytes.
#include "mayastor-client/size_format.h"

#include <gtest/gtest.h>

#include <cstdint>

namespace ms::client {
namespace {

constexpr uint64_t KiB = 1024;
constexpr uint64_t MiB = KiB * 1024;
constexpr uint64_t GiB = MiB * 1024;
constexpr uint64_t TiB = GiB * 1024;
constexpr uint64_t EiB = TiB * 1024 * 1024;

TEST(SizeFormat, ParseUnits) {
    EXPECT_EQ(parse_units(""), Units::Default);
    EXPECT_EQ(parse_units("i"), Units::Binary);
    EXPECT_EQ(parse_units("d"), Units::Decimal);
    EXPECT_EQ(parse_units("b"), Units::Bytes);
    EXPECT_EQ(parse_units("x"), std::nullopt);
    EXPECT_EQ(parse_units("ib"), std::nullopt);
}

TEST(SizeFormat, ScaledBinaryAsTheSheet) {
    EXPECT_EQ(format_scaled(100 * MiB + 1, true), "100.00 MiB");
    EXPECT_EQ(format_scaled(10000 * MiB, true), "9.77 GiB");
    EXPECT_EQ(format_scaled(MiB, true), "1024.00 KiB");  // strictly greater than the unit
    EXPECT_EQ(format_scaled(MiB + 1, true), "1.00 MiB");
    EXPECT_EQ(format_scaled(KiB, true), "1024 B");
    EXPECT_EQ(format_scaled(KiB + 1, true), "1.00 KiB");
    EXPECT_EQ(format_scaled(0, true), "0 B");
    EXPECT_EQ(format_scaled(1, true), "1 B");
    EXPECT_EQ(format_scaled(1536, true), "1.50 KiB");
    EXPECT_EQ(format_scaled(5 * TiB, true), "5.00 TiB");
    EXPECT_EQ(format_scaled(2 * EiB, true), "2.00 EiB");
    EXPECT_EQ(format_scaled(UINT64_MAX, true), "16.00 EiB");
}

TEST(SizeFormat, ScaledDecimalAsTheSheet) {
    EXPECT_EQ(format_scaled(1000, false), "1000 B");
    EXPECT_EQ(format_scaled(1001, false), "1.00 KB");
    EXPECT_EQ(format_scaled(100 * MiB, false), "104.86 MB");
    EXPECT_EQ(format_scaled(1000000, false), "1000.00 KB");
    EXPECT_EQ(format_scaled(1500000000, false), "1.50 GB");
    EXPECT_EQ(format_scaled(2000000000000000001, false), "2.00 EB");
    EXPECT_EQ(format_scaled(UINT64_MAX, false), "18.45 EB");
}

TEST(SizeFormat, HumanAsTheReadmeTranscript) {
    EXPECT_EQ(format_human(0), "0 B");
    EXPECT_EQ(format_human(512), "512 B");
    EXPECT_EQ(format_human(999), "999 B");
    EXPECT_EQ(format_human(96 * MiB), "96.0 MiB");
    EXPECT_EQ(format_human(10 * MiB), "10.0 MiB");
    EXPECT_EQ(format_human(1000 * MiB), "1.0 GiB");  // replica2 of the transcript (--size=1000)
    EXPECT_EQ(format_human(GiB), "1.0 GiB");
}

TEST(SizeFormat, HumanEdges) {
    EXPECT_EQ(format_human(1000), "1.0 KiB");
    EXPECT_EQ(format_human(1024), "1.0 KiB");
    EXPECT_EQ(format_human(1536), "1.5 KiB");
    EXPECT_EQ(format_human(999 * KiB), "999.0 KiB");
    EXPECT_EQ(format_human(MiB - 1), "1.0 MiB");  // 1023.999 KiB
    EXPECT_EQ(format_human(999 * MiB + 972 * KiB), "999.9 MiB");
    EXPECT_EQ(format_human(999 * MiB + 1000 * KiB), "1.0 GiB");  // 999.98 would print as 1000.0
    EXPECT_EQ(format_human(4 * MiB + 200 * KiB), "4.2 MiB");
    EXPECT_EQ(format_human(123 * TiB), "123.0 TiB");
    EXPECT_EQ(format_human(UINT64_MAX), "16.0 EiB");
}

TEST(SizeFormat, ChoiceByUnits) {
    EXPECT_EQ(format_size(96 * MiB, Units::Default), "100663296");
    EXPECT_EQ(format_size(96 * MiB, Units::Bytes), "100663296");
    EXPECT_EQ(format_size(96 * MiB, Units::Binary), "96.00 MiB");
    EXPECT_EQ(format_size(96 * MiB, Units::Decimal), "100.66 MB");
    EXPECT_EQ(format_size_human(96 * MiB, Units::Default), "96.0 MiB");
    EXPECT_EQ(format_size_human(96 * MiB, Units::Bytes), "100663296");
    EXPECT_EQ(format_size_human(96 * MiB, Units::Binary), "96.00 MiB");
    EXPECT_EQ(format_size_human(96 * MiB, Units::Decimal), "100.66 MB");
    EXPECT_EQ(format_size_human(0, Units::Binary), "0 B");
}

}  // namespace
}  // namespace ms::client
