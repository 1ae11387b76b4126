// Log levels: the names accepted, and a clear error for anything else.
#include "core/log.h"

#include <gtest/gtest.h>

namespace ms {
namespace {

TEST(Log, AcceptsKnownLevels) {
    for (const char* level : {"trace", "debug", "info", "warn", "error", "critical", "off"}) {
        EXPECT_TRUE(log::set_level(level).has_value()) << level;
    }
    EXPECT_TRUE(log::set_level("debug"));
    EXPECT_EQ(spdlog::get_level(), spdlog::level::debug);
    EXPECT_TRUE(log::set_level("off"));
    EXPECT_EQ(spdlog::get_level(), spdlog::level::off);
    EXPECT_TRUE(log::set_level("info"));
}

TEST(Log, RejectsUnknownLevels) {
    for (const char* level : {"", "verbose", "INFO ", "offf", "of"}) {
        auto s = log::set_level(level);
        ASSERT_FALSE(s.has_value()) << "'" << level << "' accepted";
        EXPECT_EQ(s.error().code, EINVAL);
        EXPECT_NE(s.error().message.find(std::string("'") + level + "'"), std::string::npos)
            << s.error().message;
    }
    EXPECT_EQ(spdlog::get_level(), spdlog::level::info) << "a rejected level leaves the level unchanged";
}

}  // namespace
}  // namespace ms
