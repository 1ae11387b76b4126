#include "bdev/block_device.h"

#include <gtest/gtest.h>

#include <thread>

#include "bdev/device_registry.h"
#include "bdev_test_util.h"

namespace ms::test {
namespace {

TEST(BlockDevice, IoTypeNames) {
    EXPECT_EQ(to_string(IoType::Read), "read");
    EXPECT_EQ(to_string(IoType::Write), "write");
    EXPECT_EQ(to_string(IoType::Flush), "flush");
    EXPECT_EQ(to_string(IoType::Unmap), "unmap");
    EXPECT_EQ(to_string(IoType::WriteZeroes), "write_zeroes");
    EXPECT_EQ(to_string(IoType::Reset), "reset");
}

TEST(BlockDevice, GeometrySizeDoesNotOverflow32Bits) {
    Geometry g{.block_size = 4096, .num_blocks = uint64_t{1} << 32};
    EXPECT_EQ(g.size_bytes(), uint64_t{1} << 44);
}

TEST(BlockDevice, Claims) {
    FakeDevice dev("claims", Geometry{.block_size = 512, .num_blocks = 8});
    EXPECT_EQ(dev.claimed_by(), "");
    EXPECT_TRUE(fails_with(dev.claim(""), EINVAL));
    ASSERT_TRUE(is_ok(dev.claim("pool-a")));
    EXPECT_EQ(dev.claimed_by(), "pool-a");
    // The owner may claim again; anyone else is refused with the owner's name.
    EXPECT_TRUE(is_ok(dev.claim("pool-a")));
    EXPECT_TRUE(fails_with(dev.claim("nexus-b"), EBUSY, {"claims", "pool-a"}));
    EXPECT_EQ(dev.claimed_by(), "pool-a");
    // Only the owner releases.
    dev.release_claim("nexus-b");
    EXPECT_EQ(dev.claimed_by(), "pool-a");
    dev.release_claim("pool-a");
    EXPECT_EQ(dev.claimed_by(), "");
    ASSERT_TRUE(is_ok(dev.claim("nexus-b")));
    EXPECT_EQ(dev.claimed_by(), "nexus-b");
    EXPECT_TRUE(fails_with(dev.claim("pool-a"), EBUSY, {"nexus-b"}));
    dev.release_claim("nexus-b");
    // Releasing an unclaimed device is harmless.
    dev.release_claim("nexus-b");
    EXPECT_EQ(dev.claimed_by(), "");
}

TEST(BlockDevice, ClaimDecidesWhoOpensReadWrite) {
    auto dev = std::make_shared<FakeDevice>("opens", Geometry{.block_size = 512, .num_blocks = 8});
    {
        // Unclaimed: anyone opens either way.
        auto rw = Descriptor::open(dev, OpenMode::ReadWrite);
        ASSERT_TRUE(is_ok(rw));
        EXPECT_EQ((*rw)->mode(), OpenMode::ReadWrite);
        auto rw2 = Descriptor::open(dev, OpenMode::ReadWrite, "someone");
        ASSERT_TRUE(is_ok(rw2));
        EXPECT_EQ(dev->open_count(), 2);
    }
    EXPECT_EQ(dev->open_count(), 0);
    ASSERT_TRUE(is_ok(dev->claim("pool-a")));
    EXPECT_TRUE(fails_with(Descriptor::open(dev, OpenMode::ReadWrite), EPERM, {"opens", "pool-a"}));
    EXPECT_TRUE(fails_with(Descriptor::open(dev, OpenMode::ReadWrite, "nexus-b"), EPERM, {"pool-a"}));
    EXPECT_EQ(dev->open_count(), 0);
    {
        auto ro = Descriptor::open(dev, OpenMode::ReadOnly);
        ASSERT_TRUE(is_ok(ro));
        auto ro2 = Descriptor::open(dev, OpenMode::ReadOnly, "nexus-b");
        ASSERT_TRUE(is_ok(ro2));
        auto owner = Descriptor::open(dev, OpenMode::ReadWrite, "pool-a");
        ASSERT_TRUE(is_ok(owner));
        EXPECT_EQ(dev->open_count(), 3);
        // A claim taken while someone else has it open read-write: new opens obey it.
        dev->release_claim("pool-a");
        ASSERT_TRUE(is_ok(dev->claim("nexus-b")));
        EXPECT_TRUE(fails_with(Descriptor::open(dev, OpenMode::ReadWrite, "pool-a"), EPERM, {"nexus-b"}));
        EXPECT_TRUE(is_ok(Descriptor::open(dev, OpenMode::ReadWrite, "nexus-b")));
    }
    EXPECT_EQ(dev->open_count(), 0);
    EXPECT_TRUE(fails_with(Descriptor::open(nullptr, OpenMode::ReadOnly), ENODEV));
}

// destroy_device refuses a device that is claimed or open, and it stays registered and usable.
TEST(BlockDevice, DestroyOfClaimedOrOpenDeviceIsEbusy) {
    Runtime rt({});
    auto dev = create(rt, "malloc:///busy?size_mb=1");
    ASSERT_TRUE(is_ok(dev));
    auto d = open_rw(*dev);
    auto data = random_bytes(4096, 1);
    ASSERT_TRUE(is_ok(write(rt, *d, 0, data)));

    EXPECT_TRUE(fails_with(destroy(rt, "malloc:///busy"), EBUSY, {"busy", "open"}));
    EXPECT_EQ(DeviceRegistry::instance().lookup("busy"), *dev);
    d.reset();
    ASSERT_TRUE(is_ok((*dev)->claim("pool-a")));
    EXPECT_TRUE(fails_with(destroy(rt, "malloc:///busy"), EBUSY, {"pool-a"}));
    EXPECT_TRUE(fails_with(destroy(rt, "busy"), EBUSY, {"pool-a"}));
    EXPECT_EQ(DeviceRegistry::instance().lookup("busy"), *dev);
    // Still the same device with the same data.
    auto owner = Descriptor::open(*dev, OpenMode::ReadWrite, "pool-a");
    ASSERT_TRUE(is_ok(owner));
    auto back = read(rt, **owner, 0, 4096);
    ASSERT_TRUE(is_ok(back));
    EXPECT_TRUE(same_bytes(*back, data));
    owner->reset();
    (*dev)->release_claim("pool-a");
    dev->reset();
    EXPECT_TRUE(is_ok(destroy(rt, "malloc:///busy")));
    EXPECT_EQ(DeviceRegistry::instance().lookup("busy"), nullptr);
}

TEST(BlockDevice, IoChannelRecordsCounters) {
    IoChannel ch;
    iovec v{};
    ch.record(IoRequest{IoType::Read, 0, 2, {&v, 1}}, 512, true);
    ch.record(IoRequest{IoType::Write, 0, 3, {&v, 1}}, 512, true);
    ch.record(IoRequest{IoType::Write, 0, 1, {&v, 1}}, 512, true);
    ch.record(IoRequest{IoType::Unmap, 0, 4, {}}, 512, true);
    ch.record(IoRequest{IoType::WriteZeroes, 0, 4, {}}, 512, true);
    ch.record(IoRequest{IoType::Flush, 0, 0, {}}, 512, true);
    ch.record(IoRequest{IoType::Read, 0, 8, {&v, 1}}, 512, false);
    ch.record(IoRequest{IoType::Write, 0, 8, {&v, 1}}, 512, false);
    IoStats s;
    ch.add_to(s);
    ch.add_to(s);  // adds, does not overwrite
    EXPECT_EQ(s.num_read_ops, 2u);
    EXPECT_EQ(s.bytes_read, 2u * 1024);
    EXPECT_EQ(s.num_write_ops, 4u);
    EXPECT_EQ(s.bytes_written, 2u * 2048);
    EXPECT_EQ(s.num_unmap_ops, 2u);
    EXPECT_EQ(s.bytes_unmapped, 2u * 2048);
    EXPECT_EQ(s.num_errors, 4u);
}

// Each reactor gets its own channel, made once, on first use.
TEST(BlockDevice, OneChannelPerReactor) {
    Runtime rt(two_cores());
    FakeDevice dev("chans", Geometry{.block_size = 512, .num_blocks = 8});
    auto channel_on = [&](std::size_t i) {
        return run_on(rt.reactor(i), [&]() -> Task<IoChannel*> { co_return dev.channel(); });
    };
    IoChannel* c0 = channel_on(0);
    IoChannel* c1 = channel_on(1);
    ASSERT_NE(c0, nullptr);
    ASSERT_NE(c1, nullptr);
    EXPECT_NE(c0, c1);
    EXPECT_EQ(channel_on(0), c0);
    EXPECT_EQ(channel_on(1), c1);
    EXPECT_EQ(dev.channels_created.load(), 2);
}

// Stats add up the counters of every core that did I/O on the device.
TEST(BlockDevice, StatsAddUpAcrossCores) {
    Runtime rt(two_cores());
    TempDir dir;
    std::string file = dir.file("stats.img");
    make_file(file, 8 << 20);
    for (std::string uri : {std::string("malloc:///stats?size_mb=8"), "uring://" + file, "aio://" + file}) {
        SCOPED_TRACE(uri);
        auto dev = create(rt, uri);
        ASSERT_TRUE(is_ok(dev));
        auto d = open_rw(*dev);
        auto work = [&](std::size_t core, int writes, int reads, uint64_t chunk) {
            uint64_t base = core * (4 << 20);
            for (int i = 0; i < writes; ++i) {
                EXPECT_TRUE(is_ok(write(rt, *d, base + i * chunk, random_bytes(chunk, i), 1, core)));
            }
            for (int i = 0; i < reads; ++i) {
                EXPECT_TRUE(is_ok(read(rt, *d, base, chunk, 2, core)));
            }
        };
        std::thread t0([&] { work(0, 10, 5, 4096); });
        std::thread t1([&] { work(1, 7, 3, 8192); });
        t0.join();
        t1.join();
        ASSERT_TRUE(
            is_ok(run_on(rt.reactor(1), [&]() -> Task<Status> { co_return co_await d->unmap(0, 1 << 20); })));
        ASSERT_TRUE(
            is_ok(run_on(rt.reactor(0), [&]() -> Task<Status> { co_return co_await d->unmap(0, 4096); })));
        // A request the descriptor rejects never reaches the device, so it is no device error.
        EXPECT_FALSE(write(rt, *d, 1, random_bytes(512, 1)).has_value());
        IoStats s = (*dev)->stats();
        EXPECT_EQ(s.num_write_ops, 17u);
        EXPECT_EQ(s.bytes_written, 10u * 4096 + 7u * 8192);
        EXPECT_EQ(s.num_read_ops, 8u);
        EXPECT_EQ(s.bytes_read, 5u * 4096 + 3u * 8192);
        EXPECT_EQ(s.num_unmap_ops, 2u);
        EXPECT_EQ(s.bytes_unmapped, (1u << 20) + 4096);
        EXPECT_EQ(s.num_errors, 0u);
        d.reset();
        dev->reset();
        EXPECT_TRUE(is_ok(destroy(rt, uri)));
    }
}

}  // namespace
}  // namespace ms::test
