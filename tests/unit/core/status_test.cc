// Errors as values: codes, messages and errno conversion.
#include "core/status.h"

#include <gtest/gtest.h>

#include <cstring>
#include <memory>

namespace ms {
namespace {

TEST(Status, OkAndErrors) {
    Status s = ok();
    EXPECT_TRUE(s.has_value());
    Status e = make_error(ENOENT, "no such thing");
    ASSERT_FALSE(e.has_value());
    EXPECT_EQ(e.error().code, ENOENT);
    EXPECT_EQ(e.error().message, "no such thing");
}

TEST(Status, ErrorfFormats) {
    Result<int> r = errorf(EINVAL, "bad {} at {}", "thing", 42);
    ASSERT_FALSE(r.has_value());
    EXPECT_EQ(r.error().code, EINVAL);
    EXPECT_EQ(r.error().message, "bad thing at 42");
}

TEST(Status, ErrnoErrorAcceptsBothSigns) {
    auto neg = errno_error(-ECONNREFUSED, "connect");
    auto pos = errno_error(ECONNREFUSED, "connect");
    EXPECT_EQ(neg.error().code, ECONNREFUSED);
    EXPECT_EQ(pos.error().code, ECONNREFUSED);
    EXPECT_EQ(neg.error().message, std::string("connect: ") + std::strerror(ECONNREFUSED));
    EXPECT_EQ(neg.error().message, pos.error().message);
}

TEST(Status, ToStringIncludesMessageAndErrnoText) {
    Error e{EIO, "read failed"};
    EXPECT_EQ(e.to_string(), std::string("read failed (") + std::strerror(EIO) + ")");
    Error d;
    EXPECT_EQ(d.code, EIO) << "the default code is EIO";
}

TEST(Status, ResultCarriesMoveOnlyValues) {
    Result<std::unique_ptr<int>> r = std::make_unique<int>(3);
    ASSERT_TRUE(r.has_value());
    auto p = std::move(*r);
    EXPECT_EQ(*p, 3);
}

}  // namespace
}  // namespace ms
