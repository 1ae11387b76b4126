#include "bdev/device_registry.h"

#include <gtest/gtest.h>

#include <thread>

#include "bdev_test_util.h"

namespace ms::test {
namespace {

std::shared_ptr<FakeDevice> fake(const std::string& name) {
    return std::make_shared<FakeDevice>(name, Geometry{.block_size = 512, .num_blocks = 128});
}

TEST(DeviceRegistry, AddLookupListRemove) {
    auto& reg = DeviceRegistry::instance();
    auto a = fake("reg-a");
    auto b = fake("reg-b");
    ASSERT_TRUE(is_ok(reg.add(a)));
    ASSERT_TRUE(is_ok(reg.add(b)));
    EXPECT_EQ(reg.lookup("reg-a"), a);
    EXPECT_EQ(reg.lookup("reg-b"), b);
    EXPECT_EQ(reg.lookup("reg-c"), nullptr);
    EXPECT_EQ(reg.lookup(""), nullptr);
    EXPECT_EQ(reg.lookup("REG-A"), nullptr);
    EXPECT_EQ(reg.lookup_uuid(a->uuid()), a);
    EXPECT_EQ(reg.lookup_uuid(b->uuid()), b);
    EXPECT_EQ(reg.lookup_uuid(Uuid::generate()), nullptr);
    auto names = registry_names();
    EXPECT_NE(std::find(names.begin(), names.end(), "reg-a"), names.end());
    EXPECT_NE(std::find(names.begin(), names.end(), "reg-b"), names.end());

    auto removed = reg.remove("reg-a");
    ASSERT_TRUE(is_ok(removed));
    EXPECT_EQ(*removed, a);
    EXPECT_EQ(reg.lookup("reg-a"), nullptr);
    EXPECT_EQ(reg.lookup_uuid(a->uuid()), nullptr);
    EXPECT_TRUE(fails_with(reg.remove("reg-a"), ENODEV, {"reg-a"}));
    EXPECT_TRUE(is_ok(reg.remove("reg-b")));
}

TEST(DeviceRegistry, DuplicateNameIsEexistAndKeepsTheFirst) {
    auto& reg = DeviceRegistry::instance();
    auto first = fake("reg-dup");
    auto second = fake("reg-dup");
    ASSERT_TRUE(is_ok(reg.add(first)));
    EXPECT_TRUE(fails_with(reg.add(second), EEXIST, {"reg-dup"}));
    EXPECT_EQ(reg.lookup("reg-dup"), first);
    EXPECT_EQ(reg.lookup_uuid(second->uuid()), nullptr);
    EXPECT_TRUE(is_ok(reg.remove("reg-dup")));
}

TEST(DeviceRegistry, ClaimedOrOpenDevicesAreNotRemoved) {
    auto& reg = DeviceRegistry::instance();
    auto dev = fake("reg-busy");
    ASSERT_TRUE(is_ok(reg.add(dev)));

    ASSERT_TRUE(is_ok(dev->claim("nexus-1")));
    EXPECT_TRUE(fails_with(reg.remove("reg-busy"), EBUSY, {"nexus-1"}));
    EXPECT_EQ(reg.lookup("reg-busy"), dev);
    dev->release_claim("nexus-1");

    {
        auto ro = Descriptor::open(dev, OpenMode::ReadOnly);
        ASSERT_TRUE(is_ok(ro));
        auto rw = Descriptor::open(dev, OpenMode::ReadWrite);
        ASSERT_TRUE(is_ok(rw));
        EXPECT_TRUE(fails_with(reg.remove("reg-busy"), EBUSY, {"2 open"}));
        EXPECT_EQ(reg.lookup("reg-busy"), dev);
    }
    EXPECT_EQ(dev->open_count(), 0);
    EXPECT_TRUE(is_ok(reg.remove("reg-busy")));
    EXPECT_EQ(reg.lookup("reg-busy"), nullptr);
}

// Management threads add, look up and remove devices at the same time.
TEST(DeviceRegistry, ConcurrentUse) {
    auto& reg = DeviceRegistry::instance();
    constexpr int kThreads = 4;
    constexpr int kRounds = 200;
    std::atomic<int> failures{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t) {
        threads.emplace_back([&, t] {
            for (int i = 0; i < kRounds; ++i) {
                std::string name = "reg-par-" + std::to_string(t) + "-" + std::to_string(i % 8);
                auto dev = fake(name);
                if (!reg.add(dev) || reg.lookup(name) != dev || reg.lookup_uuid(dev->uuid()) != dev) {
                    ++failures;
                }
                (void)reg.list();
                auto removed = reg.remove(name);
                if (!removed || *removed != dev) {
                    ++failures;
                }
            }
        });
    }
    for (auto& th : threads) {
        th.join();
    }
    EXPECT_EQ(failures.load(), 0);
    for (const auto& name : registry_names()) {
        EXPECT_FALSE(name.starts_with("reg-par-")) << name;
    }
}

}  // namespace
}  // namespace ms::test
