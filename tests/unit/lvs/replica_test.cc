// Replicas through the public API: thick and thin allocation, zeros, ENOSPC, data through the
// replica devices (on every reactor), persistence across export and import, share, stats.
#include "lvs_test_util.h"

namespace ms::test {
namespace {

class ReplicaTest : public LvsTest, public ::testing::WithParamInterface<uint32_t> {
   protected:
    uint32_t bs() const { return GetParam(); }
    // A 100 MiB pool "p0" on malloc device "m0" (96 MiB, 24 clusters of 4 MiB).
    void make_pool(uint8_t fill = 0) {
        _disk = malloc_disk("m0", 100, bs());
        if (fill != 0) {
            fill_device("m0", fill);
        }
        ASSERT_TRUE(is_ok(create_pool(_rt, "p0", _disk)));
    }
    void reimport() {
        ASSERT_TRUE(is_ok(export_pool(_rt, "p0")));
        ASSERT_TRUE(is_ok(import_pool(_rt, "p0", _disk)));
    }
    uint64_t used() { return pools().get("p0")->used; }
    std::string _disk;
};

TEST_P(ReplicaTest, ThickAndThinAccounting) {
    make_pool();
    auto thick = create_replica(_rt, "p0", "thick", 10 * MiB, false);
    ASSERT_TRUE(is_ok(thick));
    EXPECT_EQ(thick->size, 10 * MiB);
    EXPECT_FALSE(thick->thin);
    EXPECT_EQ(thick->allocated, 12 * MiB);  // 3 clusters
    EXPECT_EQ(thick->pool, "p0");
    EXPECT_EQ(thick->kind, lvs::LvolKind::Replica);
    EXPECT_EQ(used(), 12 * MiB);
    auto thin = create_replica(_rt, "p0", "thin", 40 * MiB, true);
    ASSERT_TRUE(is_ok(thin));
    EXPECT_TRUE(thin->thin);
    EXPECT_EQ(thin->allocated, 0u);
    EXPECT_EQ(used(), 12 * MiB);
    // The device is exactly the size asked for.
    auto dev = DeviceRegistry::instance().lookup("thick");
    ASSERT_TRUE(dev);
    EXPECT_EQ(dev->geometry().size_bytes(), 10 * MiB);
    EXPECT_EQ(dev->block_size(), bs());
    EXPECT_EQ(dev->uuid(), thick->uuid);
    // First writes allocate one cluster each, once.
    ASSERT_TRUE(is_ok(write_to(_rt, "thin", 0, pattern(4096, 1))));
    ASSERT_TRUE(is_ok(write_to(_rt, "thin", 8192, pattern(4096, 2))));
    EXPECT_EQ(replica("thin").allocated, 4 * MiB);
    ASSERT_TRUE(is_ok(write_to(_rt, "thin", 21 * MiB, pattern(8192, 3))));
    EXPECT_EQ(replica("thin").allocated, 8 * MiB);
    EXPECT_EQ(used(), 20 * MiB);
    // A write across a cluster boundary allocates both sides.
    ASSERT_TRUE(is_ok(write_to(_rt, "thin", 12 * MiB - 4096, pattern(8192, 4))));
    EXPECT_EQ(replica("thin").allocated, 16 * MiB);
    // Idempotent create: the existing replica, unchanged.
    auto again = create_replica(_rt, "p0", "thin", 4 * MiB, false);
    ASSERT_TRUE(is_ok(again));
    EXPECT_EQ(again->uuid, thin->uuid);
    EXPECT_EQ(again->size, 40 * MiB);
    // Everything survives export and import.
    reimport();
    EXPECT_EQ(replica("thick").allocated, 12 * MiB);
    EXPECT_EQ(replica("thin").allocated, 16 * MiB);
    EXPECT_EQ(replica("thin").uuid, thin->uuid);
    EXPECT_EQ(used(), 28 * MiB);
    EXPECT_TRUE(same_bytes(read_from(_rt, "thin", 8192, 4096), pattern(4096, 2)));
    EXPECT_TRUE(same_bytes(read_from(_rt, "thin", 12 * MiB - 4096, 8192), pattern(8192, 4)));
    // Destroy returns the clusters.
    ASSERT_TRUE(is_ok(destroy_replica(_rt, "thick")));
    ASSERT_TRUE(is_ok(destroy_replica(_rt, "thin")));
    EXPECT_EQ(used(), 0u);
    EXPECT_TRUE(pools().list_replicas().empty());
    reimport();
    EXPECT_EQ(used(), 0u);
}

TEST_P(ReplicaTest, ThinMayOvercommit) {
    make_pool();
    auto big = create_replica(_rt, "p0", "big", 1000 * MiB, true);
    ASSERT_TRUE(is_ok(big));
    EXPECT_EQ(big->size, 1000 * MiB);
    EXPECT_TRUE(fails_with(create_replica(_rt, "p0", "big2", 1000 * MiB, false), ENOSPC));
    EXPECT_TRUE(same_bytes(read_from(_rt, "big", 999 * MiB, 4096), pattern(4096, 0)));
}

TEST_P(ReplicaTest, BadReplicaArguments) {
    make_pool();
    EXPECT_TRUE(fails_with(create_replica(_rt, "p0", "r", 0, false), EINVAL));
    EXPECT_TRUE(fails_with(create_replica(_rt, "p0", "r", 1000, false), EINVAL));
    EXPECT_TRUE(fails_with(create_replica(_rt, "p0", "", 4 * MiB, false), EINVAL));
    EXPECT_TRUE(fails_with(create_replica(_rt, "nopool", "r", 4 * MiB, false), ENOENT));
    // A name taken by another device.
    EXPECT_TRUE(fails_with(create_replica(_rt, "p0", "m0", 4 * MiB, false), EEXIST));
    EXPECT_TRUE(fails_with(set_share(_rt, "nosuch", lvs::ShareProtocol::Nvmf), ENOENT));
    EXPECT_TRUE(fails_with(snapshot(_rt, "nosuch", "s"), ENOENT));
    EXPECT_TRUE(pools().list_replicas().empty());
    EXPECT_EQ(used(), 0u);
}

TEST_P(ReplicaTest, SameNameInTwoPoolsIsRefused) {
    make_pool();
    auto d1 = malloc_disk("m1", 64, bs());
    ASSERT_TRUE(is_ok(create_pool(_rt, "p1", d1)));
    ASSERT_TRUE(is_ok(create_replica(_rt, "p0", "r0", 4 * MiB, true)));
    EXPECT_TRUE(fails_with(create_replica(_rt, "p1", "r0", 4 * MiB, true), EEXIST, {"p0"}));
}

TEST_P(ReplicaTest, NewReplicasReadZerosOnADirtyDisk) {
    make_pool(0xAB);
    ASSERT_TRUE(is_ok(create_replica(_rt, "p0", "thick", 24 * MiB, false)));
    ASSERT_TRUE(is_ok(create_replica(_rt, "p0", "thin", 24 * MiB, true)));
    for (const char* r : {"thick", "thin"}) {
        auto all = read_from(_rt, r, 0, 24 * MiB);
        EXPECT_TRUE(all_zero(all)) << r;
    }
    // A thin first write: the rest of its cluster reads zeros.
    auto data = random_bytes(3 * 4096, 7);
    ASSERT_TRUE(is_ok(write_to(_rt, "thin", 4 * MiB + 8192, data)));
    auto cluster = read_from(_rt, "thin", 4 * MiB, 4 * MiB);
    EXPECT_TRUE(all_zero(std::span(cluster).first(8192)));
    EXPECT_TRUE(same_bytes(std::span(cluster).subspan(8192, data.size()), data));
    EXPECT_TRUE(all_zero(std::span(cluster).subspan(8192 + data.size())));
    // Fill a thick replica with data, destroy it, and the next replica on its clusters reads
    // zeros, thick or thin.
    auto d = open_device("thick");
    auto junk = pattern(4 * MiB, 0xCD);
    for (uint64_t at = 0; at < 24 * MiB; at += 4 * MiB) {
        ASSERT_TRUE(is_ok(write(_rt, *d, at, junk)));
    }
    d.reset();
    ASSERT_TRUE(is_ok(destroy_replica(_rt, "thick")));
    ASSERT_TRUE(is_ok(create_replica(_rt, "p0", "again", 20 * MiB, false)));
    EXPECT_TRUE(all_zero(read_from(_rt, "again", 0, 20 * MiB)));
    ASSERT_TRUE(is_ok(destroy_replica(_rt, "again")));
    ASSERT_TRUE(is_ok(create_replica(_rt, "p0", "thin2", 20 * MiB, true)));
    ASSERT_TRUE(is_ok(write_to(_rt, "thin2", 4096, pattern(4096, 9))));
    auto first = read_from(_rt, "thin2", 0, 4 * MiB);
    EXPECT_TRUE(all_zero(std::span(first).first(4096)));
    EXPECT_TRUE(all_zero(std::span(first).subspan(8192)));
}

TEST_P(ReplicaTest, NoSpaceLeavesNothingHalfMade) {
    make_pool();
    ASSERT_TRUE(is_ok(create_replica(_rt, "p0", "a", 80 * MiB, false)));
    const auto before = pools().list_replicas().size();
    EXPECT_TRUE(fails_with(create_replica(_rt, "p0", "b", 20 * MiB, false), ENOSPC, {"p0"}));
    EXPECT_EQ(pools().list_replicas().size(), before);
    EXPECT_FALSE(DeviceRegistry::instance().lookup("b"));
    EXPECT_EQ(used(), 80 * MiB);
    // 16 MiB left: a thick replica that fits still works.
    ASSERT_TRUE(is_ok(create_replica(_rt, "p0", "c", 16 * MiB, false)));
    EXPECT_EQ(used(), 96 * MiB);
    // A thin first write on a full pool fails with ENOSPC, and nothing else breaks.
    ASSERT_TRUE(is_ok(create_replica(_rt, "p0", "t", 40 * MiB, true)));
    EXPECT_TRUE(fails_with(write_to(_rt, "t", 0, pattern(4096, 1)), ENOSPC));
    EXPECT_EQ(replica("t").allocated, 0u);
    EXPECT_TRUE(all_zero(read_from(_rt, "t", 0, 4096)));
    ASSERT_TRUE(is_ok(write_to(_rt, "a", 0, pattern(4096, 2))));
    EXPECT_TRUE(same_bytes(read_from(_rt, "a", 0, 4096), pattern(4096, 2)));
    // Space freed: the thin write goes through.
    ASSERT_TRUE(is_ok(destroy_replica(_rt, "c")));
    ASSERT_TRUE(is_ok(write_to(_rt, "t", 0, pattern(4096, 3))));
    EXPECT_EQ(replica("t").allocated, 4 * MiB);
    reimport();
    EXPECT_EQ(used(), 84 * MiB);
    EXPECT_TRUE(same_bytes(read_from(_rt, "t", 0, 4096), pattern(4096, 3)));
}

TEST_P(ReplicaTest, DataRoundTripsOnEveryReactorAndSurvivesImport) {
    make_pool();
    ASSERT_TRUE(is_ok(create_replica(_rt, "p0", "thick", 16 * MiB, false)));
    ASSERT_TRUE(is_ok(create_replica(_rt, "p0", "thin", 16 * MiB, true)));
    for (const char* r : {"thick", "thin"}) {
        SCOPED_TRACE(r);
        auto d = open_device(r);
        ASSERT_TRUE(d);
        check_round_trips(_rt, *d, 11);
        // From the other reactor: hops to the pool's reactor and back.
        auto data = random_bytes(3 * MiB, 5);
        ASSERT_TRUE(is_ok(write(_rt, *d, 3 * MiB, data, 7, 1)));
        auto back = read(_rt, *d, 3 * MiB, data.size(), 3, 1);
        ASSERT_TRUE(is_ok(back));
        EXPECT_TRUE(same_bytes(*back, data));
    }
    std::map<std::string, std::vector<uint8_t>> content;
    for (const char* r : {"thick", "thin"}) {
        content[r] = read_from(_rt, r, 0, 16 * MiB);
    }
    reimport();
    for (const char* r : {"thick", "thin"}) {
        EXPECT_TRUE(same_bytes(read_from(_rt, r, 0, 16 * MiB), content[r])) << r;
    }
}

TEST_P(ReplicaTest, ReplicaDeviceChecksRequests) {
    make_pool();
    ASSERT_TRUE(is_ok(create_replica(_rt, "p0", "r0", 8 * MiB, false)));
    auto d = open_device("r0");
    ASSERT_TRUE(d);
    check_rejects_bad_io(_rt, *d);
    check_read_only(_rt, *d);
    check_zeroing(_rt, *d);
    check_many_concurrent(_rt, *d, 256);
}

TEST_P(ReplicaTest, ThinZeroingAndUnmap) {
    make_pool(0x5A);
    ASSERT_TRUE(is_ok(create_replica(_rt, "p0", "t", 16 * MiB, true)));
    auto d = open_device("t");
    ASSERT_TRUE(d);
    // Write-zeroes and unmap of unallocated clusters allocate nothing.
    ASSERT_TRUE(is_ok(write_zeroes(_rt, *d, 0, 8 * MiB)));
    ASSERT_TRUE(is_ok(unmap(_rt, *d, 8 * MiB, 8 * MiB)));
    EXPECT_EQ(replica("t").allocated, 0u);
    ASSERT_TRUE(is_ok(write(_rt, *d, 0, pattern(64 * 1024, 7))));
    ASSERT_TRUE(is_ok(unmap(_rt, *d, 4096, 8192)));
    auto back = read(_rt, *d, 0, 64 * 1024);
    ASSERT_TRUE(is_ok(back));
    auto expected = pattern(64 * 1024, 7);
    std::fill(expected.begin() + 4096, expected.begin() + 3 * 4096, 0);
    EXPECT_TRUE(same_bytes(*back, expected));
}

TEST_P(ReplicaTest, ShareAndStats) {
    make_pool();
    ASSERT_TRUE(is_ok(create_replica(_rt, "p0", "r0", 8 * MiB, false)));
    EXPECT_EQ(replica("r0").share, lvs::ShareProtocol::None);
    ASSERT_TRUE(is_ok(set_share(_rt, "r0", lvs::ShareProtocol::Nvmf)));
    EXPECT_EQ(replica("r0").share, lvs::ShareProtocol::Nvmf);
    ASSERT_TRUE(is_ok(write_to(_rt, "r0", 0, pattern(8192, 1))));
    ASSERT_TRUE(is_ok(write_to(_rt, "r0", 0, pattern(4096, 1), 1)));
    (void)read_from(_rt, "r0", 0, 4096);
    auto st = replica("r0").stats;
    EXPECT_EQ(st.num_write_ops, 2u);
    EXPECT_EQ(st.bytes_written, 12288u);
    EXPECT_EQ(st.num_read_ops, 1u);
    EXPECT_EQ(st.bytes_read, 4096u);
    reimport();
    EXPECT_EQ(replica("r0").share, lvs::ShareProtocol::Nvmf);
    ASSERT_TRUE(is_ok(set_share(_rt, "r0", lvs::ShareProtocol::None)));
    reimport();
    EXPECT_EQ(replica("r0").share, lvs::ShareProtocol::None);
}

TEST_P(ReplicaTest, ConcurrentFirstWritesShareMetadataFlushes) {
    make_pool();
    ASSERT_TRUE(is_ok(create_replica(_rt, "p0", "t", 96 * MiB, true)));
    auto pool = lvs::registered_pool("p0");
    const auto before = pool->metadata().stats();
    auto d = open_device("t");
    ASSERT_TRUE(d);
    constexpr int kWrites = 24;
    std::vector<DmaBuf> bufs;
    for (int i = 0; i < kWrites; ++i) {
        bufs.push_back(*d->dma_malloc(4096));
        bufs.back().fill(static_cast<uint8_t>(i + 1));
    }
    std::atomic<int> failed{0};
    // Every write to a different cluster, and a second write to each cluster at once (it
    // waits for the first one's allocation).
    run_on(_rt.reactor(0), [&]() -> Task<void> {
        int left = 2 * kWrites;
        std::coroutine_handle<> waiter;
        auto one = [&](int i, uint64_t off) -> Task<void> {
            if (!co_await d->write_at(off, bufs[i])) {
                ++failed;
            }
            if (--left == 0 && waiter) {
                Reactor::current()->schedule(waiter);
            }
        };
        for (int i = 0; i < kWrites; ++i) {
            Reactor::current()->spawn(one(i, uint64_t(i) * 4 * MiB));
            Reactor::current()->spawn(one(i, uint64_t(i) * 4 * MiB + 65536));
        }
        struct Await {
            std::coroutine_handle<>* w;
            int* left;
            bool await_ready() { return *left == 0; }
            void await_suspend(std::coroutine_handle<> h) { *w = h; }
            void await_resume() {}
        };
        co_await Await{&waiter, &left};
    });
    EXPECT_EQ(failed.load(), 0);
    const auto after = pool->metadata().stats();
    EXPECT_EQ(after.records - before.records, uint64_t(kWrites));
    EXPECT_LT(after.batches - before.batches, uint64_t(kWrites) / 2) << "records were not grouped";
    EXPECT_EQ(replica("t").allocated, uint64_t(kWrites) * 4 * MiB);
    for (int i = 0; i < kWrites; ++i) {
        EXPECT_TRUE(same_bytes(read_from(_rt, "t", uint64_t(i) * 4 * MiB + 65536, 4096),
                               pattern(4096, static_cast<uint8_t>(i + 1))));
    }
}

INSTANTIATE_TEST_SUITE_P(BlockSizes, ReplicaTest, ::testing::Values(512u, 4096u),
                         [](const auto& info) { return "bs" + std::to_string(info.param); });

}  // namespace
}  // namespace ms::test
