#include "bdev/loopback.h"

#include <gtest/gtest.h>

#include "bdev/device_registry.h"
#include "bdev_test_util.h"

namespace ms::test {
namespace {

// bdev:///name and loopback:///name give back the device of that name: data written through
// either is the device's data.
class LoopbackTest : public ::testing::TestWithParam<std::tuple<std::string, uint32_t>> {
   protected:
    Runtime _rt{RuntimeOptions{}};
};

TEST_P(LoopbackTest, IsTheSameDevice) {
    const auto& [scheme, bs] = GetParam();
    auto base = create(_rt, "malloc:///lbase?size_mb=8&blk_size=" + std::to_string(bs));
    ASSERT_TRUE(is_ok(base));
    const auto before = registry_names();
    auto same = create(_rt, scheme + ":///lbase");
    ASSERT_TRUE(is_ok(same));
    EXPECT_EQ(*same, *base);
    EXPECT_EQ(registry_names(), before);

    auto d = open_rw(*same);
    ASSERT_NO_FATAL_FAILURE(check_round_trips(_rt, *d, bs));
    ASSERT_NO_FATAL_FAILURE(check_rejects_bad_io(_rt, *d));
    ASSERT_NO_FATAL_FAILURE(check_zeroing(_rt, *d));
    auto data = random_bytes(8 * bs, 3);
    ASSERT_TRUE(is_ok(write(_rt, *d, 4 * bs, data, 2)));
    auto direct = open_rw(*base);
    auto back = read(_rt, *direct, 4 * bs, 8 * bs);
    ASSERT_TRUE(is_ok(back));
    EXPECT_TRUE(same_bytes(*back, data));
    direct.reset();
    d.reset();
    same->reset();

    // Destroying through the loopback URI leaves the device to whoever made it.
    EXPECT_TRUE(is_ok(destroy(_rt, scheme + ":///lbase")));
    EXPECT_EQ(DeviceRegistry::instance().lookup("lbase"), *base);
    base->reset();
    EXPECT_TRUE(is_ok(destroy(_rt, "malloc:///lbase")));
}

INSTANTIATE_TEST_SUITE_P(Schemes, LoopbackTest,
                         ::testing::Combine(::testing::Values("bdev", "loopback"),
                                            ::testing::Values(512u, 4096u)),
                         [](const auto& info) {
                             return std::get<0>(info.param) + "_bs" + std::to_string(std::get<1>(info.param));
                         });

TEST(Loopback, UuidMustMatchWhenGiven) {
    Runtime rt({});
    const std::string uuid = "0b5a7c3e-1d2f-4a6b-8c9d-0e1f2a3b4c5d";
    auto base = create(rt, "malloc:///luuid?size_mb=1&uuid=" + uuid);
    ASSERT_TRUE(is_ok(base));
    auto same = create(rt, "bdev:///luuid?uuid=" + uuid);
    ASSERT_TRUE(is_ok(same));
    EXPECT_EQ(*same, *base);
    EXPECT_TRUE(fails_with(create(rt, "bdev:///luuid?uuid=11111111-2222-4333-8444-555555555555"), EINVAL,
                           {"luuid", uuid, "11111111-2222-4333-8444-555555555555"}));
    EXPECT_TRUE(fails_with(create(rt, "loopback:///luuid?uuid=garbage"), EINVAL, {"uuid"}));
    same->reset();
    base->reset();
    EXPECT_TRUE(is_ok(destroy(rt, "malloc:///luuid")));
}

TEST(Loopback, BadUrisFailCleanly) {
    Runtime rt({});
    auto base = create(rt, "malloc:///lbad?size_mb=1");
    ASSERT_TRUE(is_ok(base));
    const auto before = registry_names();
    EXPECT_TRUE(fails_with(create(rt, "bdev:///nosuch"), ENODEV, {"nosuch"}));
    EXPECT_TRUE(fails_with(create(rt, "bdev:///lbad?size_mb=1"), EINVAL, {"unknown parameter 'size_mb'"}));
    EXPECT_TRUE(fails_with(create(rt, "bdev:///lbad?uuid=a&uuid=b"), EINVAL, {"more than once"}));
    EXPECT_TRUE(fails_with(create(rt, "bdev:///"), EINVAL, {"names no device"}));
    EXPECT_TRUE(fails_with(create(rt, "loopback://host/lbad"), EINVAL, {"host"}));
    EXPECT_EQ(registry_names(), before);
    // A loopback reference never claims or opens the device.
    EXPECT_EQ((*base)->claimed_by(), "");
    EXPECT_EQ((*base)->open_count(), 0);
    base->reset();
    EXPECT_TRUE(is_ok(destroy(rt, "malloc:///lbad")));
}

}  // namespace
}  // namespace ms::test
