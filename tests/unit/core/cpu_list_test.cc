// Core selections: hex masks (-m) and lists (-l), and the malformed forms both must refuse.
#include "core/cpu_list.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace ms {
namespace {

using Cpus = std::vector<int>;

void expect_bad_mask(std::string_view mask) {
    auto r = parse_core_mask(mask);
    ASSERT_FALSE(r.has_value()) << "mask '" << mask << "' accepted (" << r->size() << " cores)";
    EXPECT_EQ(r.error().code, EINVAL) << mask;
    EXPECT_FALSE(r.error().message.empty());
}

void expect_bad_list(std::string_view list) {
    auto r = parse_core_list(list);
    ASSERT_FALSE(r.has_value()) << "list '" << list << "' accepted (" << r->size() << " cores)";
    EXPECT_EQ(r.error().code, EINVAL) << list;
    EXPECT_NE(r.error().message.find(std::string(list)), std::string::npos)
        << "message does not quote the input: " << r.error().message;
}

TEST(CoreMask, Masks) {
    EXPECT_EQ(parse_core_mask("0x1").value(), (Cpus{0}));
    EXPECT_EQ(parse_core_mask("0x3").value(), (Cpus{0, 1}));
    EXPECT_EQ(parse_core_mask("0xF0").value(), (Cpus{4, 5, 6, 7}));
    EXPECT_EQ(parse_core_mask("0xf0").value(), (Cpus{4, 5, 6, 7}));
    EXPECT_EQ(parse_core_mask("0XA").value(), (Cpus{1, 3}));
    EXPECT_EQ(parse_core_mask("5").value(), (Cpus{0, 2})) << "the 0x prefix is optional";
    EXPECT_EQ(parse_core_mask("100").value(), (Cpus{8}));
    EXPECT_EQ(parse_core_mask("0x0001").value(), (Cpus{0})) << "leading zeros";
    EXPECT_EQ(parse_core_mask("0x8000000000000000").value(), (Cpus{63}));
    EXPECT_EQ(parse_core_mask("0x10000000000000000").value(), (Cpus{64})) << "more than 64 bits";
}

TEST(CoreMask, LargestMask) {
    std::string mask = "0x8" + std::string(255, '0');
    EXPECT_EQ(parse_core_mask(mask).value(), (Cpus{1023}));
    auto all = parse_core_mask("0x" + std::string(256, 'f'));
    ASSERT_TRUE(all.has_value());
    EXPECT_EQ(all->size(), 1024u);
    EXPECT_EQ(all->front(), 0);
    EXPECT_EQ(all->back(), 1023);
}

TEST(CoreMask, RejectsMalformedMasks) {
    expect_bad_mask("");
    expect_bad_mask("0x");
    expect_bad_mask("0x0");
    expect_bad_mask("0");
    expect_bad_mask("0x000");
    expect_bad_mask("0xg");
    expect_bad_mask("0x1g");
    expect_bad_mask("x1");
    expect_bad_mask("-1");
    expect_bad_mask("0x 1");
    expect_bad_mask("1,2");
    expect_bad_mask("0x1" + std::string(256, '0'));  // beyond core 1023
}

TEST(CoreList, Lists) {
    EXPECT_EQ(parse_core_list("0").value(), (Cpus{0}));
    EXPECT_EQ(parse_core_list("0,2-3").value(), (Cpus{0, 2, 3}));
    EXPECT_EQ(parse_core_list("1-1").value(), (Cpus{1}));
    EXPECT_EQ(parse_core_list("3,1,2").value(), (Cpus{1, 2, 3})) << "sorted";
    EXPECT_EQ(parse_core_list("1,1,0-1").value(), (Cpus{0, 1})) << "duplicates merged";
    EXPECT_EQ(parse_core_list("1023").value(), (Cpus{1023}));
    EXPECT_EQ(parse_core_list("0-1023").value().size(), 1024u);
}

TEST(CoreList, RejectsMalformedLists) {
    expect_bad_list("");
    expect_bad_list("3-1");
    expect_bad_list("1,,2");
    expect_bad_list("a");
    expect_bad_list("1,");
    expect_bad_list(",1");
    expect_bad_list("-1");
    expect_bad_list("1-");
    expect_bad_list("1-2-3");
    expect_bad_list(" 1");
    expect_bad_list("1 ");
    expect_bad_list("0x1");
    expect_bad_list("1024");
    expect_bad_list("0-1024");
    expect_bad_list("99999999999999999999");
    expect_bad_list("4294967296");
    expect_bad_list("+1");
}

}  // namespace
}  // namespace ms
