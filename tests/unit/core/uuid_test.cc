// UUIDs: canonical text form both ways, strict parsing, random version-4 generation.
#include "core/uuid.h"

#include <gtest/gtest.h>

#include <set>
#include <string>
#include <thread>
#include <vector>

namespace ms {
namespace {

TEST(Uuid, ParseAndFormatRoundTrip) {
    const std::string text = "0123abcd-4567-89ef-0a1b-2c3d4e5f6789";
    auto u = Uuid::parse(text);
    ASSERT_TRUE(u.has_value()) << u.error().message;
    EXPECT_EQ(u->to_string(), text);
    std::array<uint8_t, 16> bytes{0x01, 0x23, 0xab, 0xcd, 0x45, 0x67, 0x89, 0xef,
                                  0x0a, 0x1b, 0x2c, 0x3d, 0x4e, 0x5f, 0x67, 0x89};
    EXPECT_EQ(u->bytes(), bytes);
    EXPECT_EQ(Uuid(bytes), *u);
    EXPECT_FALSE(u->is_nil());
}

TEST(Uuid, UpperCaseIsAcceptedAndFormattedLower) {
    auto u = Uuid::parse("0123ABCD-4567-89EF-0A1B-2C3D4E5F6789");
    ASSERT_TRUE(u.has_value());
    EXPECT_EQ(u->to_string(), "0123abcd-4567-89ef-0a1b-2c3d4e5f6789");
    EXPECT_EQ(*u, Uuid::parse("0123abcd-4567-89ef-0a1b-2c3d4e5f6789").value());
}

TEST(Uuid, NilAndMax) {
    Uuid nil;
    EXPECT_TRUE(nil.is_nil());
    EXPECT_EQ(nil.to_string(), "00000000-0000-0000-0000-000000000000");
    auto parsed = Uuid::parse("00000000-0000-0000-0000-000000000000");
    ASSERT_TRUE(parsed.has_value());
    EXPECT_TRUE(parsed->is_nil());
    EXPECT_EQ(*parsed, nil);
    auto max = Uuid::parse("ffffffff-ffff-ffff-ffff-ffffffffffff");
    ASSERT_TRUE(max.has_value());
    EXPECT_FALSE(max->is_nil());
    for (auto b : max->bytes()) {
        EXPECT_EQ(b, 0xff);
    }
}

TEST(Uuid, RejectsBadInput) {
    for (const char* bad : {
             "",
             "0123abcd-4567-89ef-0a1b-2c3d4e5f678",    // 35 characters
             "0123abcd-4567-89ef-0a1b-2c3d4e5f67890",  // 37 characters
             "0123abcd4567-89ef-0a1b-2c3d4e5f67890",   // dash missing, right length
             "0123abcd-456789ef-0a1b-2c3d4e5f6789a",
             "0123abcd-4567-89ef0-a1b-2c3d4e5f6789",
             "0123abcd-4567-89ef-0a1b2-c3d4e5f6789",
             "0123abcg-4567-89ef-0a1b-2c3d4e5f6789",  // g
             "0123abcd-4567-89ef-0a1b-2c3d4e5f678 ",  // space
             "0123abcd-4567-89ef-0a1b-2c3d4e5f678-",  // dash in a digit's place
             "+123abcd-4567-89ef-0a1b-2c3d4e5f6789",
             "{0123abcd-4567-89ef-0a1b-2c3d4e5f6789}",
             "0123abcd_4567_89ef_0a1b_2c3d4e5f6789",
             "0123abcd0456708ef00a1b02c3d4e5f6789",
             "0123abcd-4567-89ef-0a1b-2c3d4e5f678\xc3",
         }) {
        auto u = Uuid::parse(bad);
        EXPECT_FALSE(u.has_value()) << "'" << bad << "' parsed as " << u->to_string();
        if (!u) {
            EXPECT_EQ(u.error().code, EINVAL);
            EXPECT_NE(u.error().message.find(bad), std::string::npos) << u.error().message;
        }
    }
    // An embedded NUL at a digit position.
    std::string with_nul = "0123abcd-4567-89ef-0a1b-2c3d4e5f6789";
    with_nul[3] = '\0';
    EXPECT_FALSE(Uuid::parse(with_nul).has_value());
}

TEST(Uuid, GenerateGivesVersion4AndTheRfcVariant) {
    for (int i = 0; i < 1000; ++i) {
        Uuid u = Uuid::generate();
        EXPECT_EQ(u.bytes()[6] >> 4, 4) << u.to_string();
        EXPECT_EQ(u.bytes()[8] & 0xc0, 0x80) << u.to_string();
        std::string s = u.to_string();
        EXPECT_EQ(s[14], '4') << s;
        EXPECT_NE(std::string("89ab").find(s[19]), std::string::npos) << s;
        EXPECT_EQ(Uuid::parse(s).value(), u);
        EXPECT_FALSE(u.is_nil());
    }
}

TEST(Uuid, GenerateGivesDistinctValues) {
    std::set<Uuid> seen;
    for (int i = 0; i < 100000; ++i) {
        EXPECT_TRUE(seen.insert(Uuid::generate()).second) << "duplicate after " << i;
    }
}

TEST(Uuid, GenerateOnDifferentThreadsGivesDistinctValues) {
    // Each thread has its own generator; they must not be seeded alike.
    std::vector<Uuid> firsts(8);
    std::vector<std::thread> threads;
    for (std::size_t i = 0; i < firsts.size(); ++i) {
        threads.emplace_back([&firsts, i] { firsts[i] = Uuid::generate(); });
    }
    for (auto& t : threads) {
        t.join();
    }
    std::set<Uuid> distinct(firsts.begin(), firsts.end());
    EXPECT_EQ(distinct.size(), firsts.size());
}

TEST(Uuid, OrderingAndEquality) {
    auto a = Uuid::parse("00000000-0000-0000-0000-000000000001").value();
    auto b = Uuid::parse("00000000-0000-0000-0000-000000000002").value();
    auto c = Uuid::parse("01000000-0000-0000-0000-000000000000").value();
    EXPECT_LT(a, b);
    EXPECT_LT(b, c);
    EXPECT_NE(a, b);
    EXPECT_EQ(a, Uuid::parse("00000000-0000-0000-0000-000000000001").value());
}

}  // namespace
}  // namespace ms
