#include "api/jsonrpc/base64.h"

#include <gtest/gtest.h>

namespace ms::api {
namespace {

std::vector<uint8_t> bytes(std::string_view s) {
    return {s.begin(), s.end()};
}

TEST(Base64, EncodesRfc4648Vectors) {
    EXPECT_EQ(base64_encode(bytes("")), "");
    EXPECT_EQ(base64_encode(bytes("f")), "Zg==");
    EXPECT_EQ(base64_encode(bytes("fo")), "Zm8=");
    EXPECT_EQ(base64_encode(bytes("foo")), "Zm9v");
    EXPECT_EQ(base64_encode(bytes("foob")), "Zm9vYg==");
    EXPECT_EQ(base64_encode(bytes("fooba")), "Zm9vYmE=");
    EXPECT_EQ(base64_encode(bytes("foobar")), "Zm9vYmFy");
}

TEST(Base64, DecodesWhatItEncodes) {
    std::vector<uint8_t> all(1000);
    for (std::size_t i = 0; i < all.size(); ++i) {
        all[i] = static_cast<uint8_t>(i * 7);
    }
    for (std::size_t n : {0u, 1u, 2u, 3u, 4u, 511u, 512u, 1000u}) {
        std::vector<uint8_t> v(all.begin(), all.begin() + n);
        auto d = base64_decode(base64_encode(v));
        ASSERT_TRUE(d) << n;
        EXPECT_EQ(*d, v) << n;
    }
}

TEST(Base64, RejectsMalformedText) {
    for (std::string_view bad : {"Zg=", "Zg", "Z===", "Zm9v!A==", "=Zm9", "Zg==Zg==", "Zm=v", "Zm 9v"}) {
        auto d = base64_decode(bad);
        ASSERT_FALSE(d) << bad;
        EXPECT_EQ(d.error().code, EINVAL);
    }
}

}  // namespace
}  // namespace ms::api
