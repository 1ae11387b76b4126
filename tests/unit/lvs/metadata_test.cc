// The metadata on disk through import: damaged superblocks, images and log pages are detected
// and named (EUCLEAN) or, for a superblock copy, repaired from the other; checkpoints; and the
// scale of a pool with a thousand replicas.
#include <chrono>

#include "lvs/format.h"
#include "lvs_test_util.h"

namespace ms::test {
namespace {

using lvs::kPageSize;

class MetadataTest : public LvsTest {
   protected:
    void make_pool(CreatePoolOptions o = {}) {
        _disk = malloc_disk("m0", 100);
        ASSERT_TRUE(is_ok(create_pool(_rt, "p0", _disk, o)));
        _layout = lvs::registered_pool("p0")->layout();
    }
    // Replicas r0..r{n-1} (thin, 8 MiB), each with 4 KiB of data at 0.
    void make_replicas(int n, int from = 0) {
        for (int i = from; i < from + n; ++i) {
            std::string name = "r" + std::to_string(i);
            ASSERT_TRUE(is_ok(create_replica(_rt, "p0", name, 8 * MiB, true)));
            ASSERT_TRUE(is_ok(write_to(_rt, name, 0, pattern(4096, static_cast<uint8_t>(i + 1)))));
        }
    }
    void check_replicas(int n) {
        EXPECT_EQ(pools().list_replicas().size(), static_cast<std::size_t>(n));
        for (int i = 0; i < n; ++i) {
            std::string name = "r" + std::to_string(i);
            EXPECT_TRUE(same_bytes(read_from(_rt, name, 0, 4096), pattern(4096, static_cast<uint8_t>(i + 1))))
                << name;
        }
    }
    uint64_t log_offset(uint64_t page) const { return (_layout.log_page() + page) * kPageSize; }
    uint64_t image_offset(unsigned area) const { return _layout.image_page(area) * kPageSize; }
    std::vector<uint8_t> metadata() { return raw_read(_rt, "m0", 0, _layout.metadata_pages() * kPageSize); }

    // Import fails with EUCLEAN naming `words`, leaves the disk as it was and unclaimed.
    void expect_damaged(std::vector<std::string> words) {
        auto before = metadata();
        EXPECT_TRUE(fails_with(import_pool(_rt, "p0", _disk), EUCLEAN, words));
        EXPECT_TRUE(fails_with(create_pool(_rt, "p0", _disk), EUCLEAN, words));
        EXPECT_TRUE(pools().list().empty());
        EXPECT_EQ(DeviceRegistry::instance().lookup("m0")->claimed_by(), "");
        EXPECT_TRUE(same_bytes(metadata(), before)) << "a failed import wrote to the disk";
    }

    std::string _disk;
    lvs::Layout _layout;
};

TEST_F(MetadataTest, EitherSuperblockCopyIsEnoughAndIsRepaired) {
    make_pool();
    make_replicas(3);
    for (uint64_t slot : {0u, 1u}) {
        SCOPED_TRACE(slot);
        ASSERT_TRUE(is_ok(export_pool(_rt, "p0")));
        auto good = raw_read(_rt, "m0", slot * kPageSize, kPageSize);
        raw_write(_rt, "m0", slot * kPageSize, pattern(kPageSize, 0));
        ASSERT_TRUE(is_ok(import_pool(_rt, "p0", _disk)));
        check_replicas(3);
        // The import wrote the lost copy back.
        EXPECT_TRUE(same_bytes(raw_read(_rt, "m0", slot * kPageSize, kPageSize), good));
    }
}

TEST_F(MetadataTest, NoSuperblockIsNoPool) {
    make_pool();
    ASSERT_TRUE(is_ok(export_pool(_rt, "p0")));
    raw_write(_rt, "m0", 0, pattern(2 * kPageSize, 0));
    EXPECT_TRUE(fails_with(import_pool(_rt, "p0", _disk), ENOMEDIUM));
}

TEST_F(MetadataTest, DamagedSuperblocksAreNamed) {
    make_pool();
    ASSERT_TRUE(is_ok(export_pool(_rt, "p0")));
    flip_byte(_rt, "m0", 0x40);
    flip_byte(_rt, "m0", kPageSize + 0x100);
    expect_damaged({"superblock A", "superblock B", "checksum", "byte offset 4096"});
}

TEST_F(MetadataTest, DamagedImageIsNamed) {
    make_pool();
    make_replicas(2);
    ASSERT_TRUE(is_ok(export_pool(_rt, "p0")));
    // The only image (sequence 0) is in area 0.
    flip_byte(_rt, "m0", image_offset(0) + 100);
    expect_damaged({"no valid checkpoint image", "image area 0", "page 2", "checksum"});
}

TEST_F(MetadataTest, DamagedLogBatchIsNamed) {
    make_pool();
    make_replicas(4);  // create + map-cluster batches
    ASSERT_TRUE(is_ok(export_pool(_rt, "p0")));
    flip_byte(_rt, "m0", log_offset(1) + 300);
    expect_damaged({"log is damaged at page " + std::to_string(_layout.log_page() + 1), "checksum"});
}

TEST_F(MetadataTest, ZeroedLogBlockIsNamed) {
    make_pool();
    make_replicas(4);
    ASSERT_TRUE(is_ok(export_pool(_rt, "p0")));
    raw_write(_rt, "m0", log_offset(2), pattern(512, 0));
    expect_damaged({"log is damaged", "byte offset " + std::to_string(log_offset(2))});
}

TEST_F(MetadataTest, DamageToTheLastBatchLooksLikeACrashDuringIt) {
    // Documented limit: the last batch, damaged, cannot be told from one torn by a crash, so
    // the pool imports without it (the state before that batch, never a mix).
    make_pool();
    make_replicas(2);
    ASSERT_TRUE(is_ok(create_replica(_rt, "p0", "last", 8 * MiB, true)));
    auto pool = lvs::registered_pool("p0");
    const uint64_t tail = pool->metadata().tail();
    ASSERT_TRUE(is_ok(export_pool(_rt, "p0")));
    flip_byte(_rt, "m0", log_offset(tail - 1) + 200);
    ASSERT_TRUE(is_ok(import_pool(_rt, "p0", _disk)));
    check_replicas(2);
    EXPECT_FALSE(pools().get_replica("last"));
    // The log goes on from there.
    ASSERT_TRUE(is_ok(create_replica(_rt, "p0", "next", 8 * MiB, true)));
    ASSERT_TRUE(is_ok(export_pool(_rt, "p0")));
    ASSERT_TRUE(is_ok(import_pool(_rt, "p0", _disk)));
    EXPECT_TRUE(pools().get_replica("next"));
    EXPECT_FALSE(pools().get_replica("last"));
    EXPECT_EQ(pools().list_replicas().size(), 3u);
}

TEST_F(MetadataTest, CheckpointsWhenTheLogIsFull) {
    CreatePoolOptions o;
    o.log_pages = 8;
    make_pool(o);
    auto pool = lvs::registered_pool("p0");
    make_replicas(20);
    for (int i = 0; i < 20; i += 3) {
        ASSERT_TRUE(is_ok(destroy_replica(_rt, "r" + std::to_string(i))));
    }
    ASSERT_TRUE(is_ok(snapshot(_rt, "r1", "s1")));
    ASSERT_TRUE(is_ok(clone(_rt, "s1", "c1")));
    ASSERT_TRUE(is_ok(set_share(_rt, "r2", lvs::ShareProtocol::Iscsi)));
    EXPECT_GE(pool->metadata().stats().checkpoints, 4u);
    auto before = pools().list_replicas();
    const uint64_t used = pools().get("p0")->used;
    ASSERT_TRUE(is_ok(export_pool(_rt, "p0")));
    ASSERT_TRUE(is_ok(import_pool(_rt, "p0", _disk)));
    auto after = pools().list_replicas();
    ASSERT_EQ(after.size(), before.size());
    for (std::size_t i = 0; i < after.size(); ++i) {
        EXPECT_EQ(after[i].name, before[i].name);
        EXPECT_EQ(after[i].uuid, before[i].uuid);
        EXPECT_EQ(after[i].allocated, before[i].allocated);
        EXPECT_EQ(after[i].parent, before[i].parent);
        EXPECT_EQ(after[i].share, before[i].share);
    }
    EXPECT_EQ(pools().get("p0")->used, used);
    EXPECT_EQ(replica("r2").share, lvs::ShareProtocol::Iscsi);
    for (int i = 1; i < 20; ++i) {
        if (i % 3 != 0) {
            EXPECT_TRUE(
                same_bytes(read_from(_rt, "r" + std::to_string(i), 0, 4096), pattern(4096, uint8_t(i + 1))));
        }
    }
    // A damaged current image is not silently replaced by the older one.
    pool = lvs::registered_pool("p0");
    make_replicas(10, 100);
    const unsigned area = pool->metadata().image_area();
    ASSERT_GE(pool->metadata().stats().checkpoints, 1u);
    ASSERT_GE(pool->metadata().tail(), 1u);
    ASSERT_TRUE(is_ok(export_pool(_rt, "p0")));
    flip_byte(_rt, "m0", image_offset(area) + 100);
    expect_damaged({"image area " + std::to_string(area), "log is damaged at page"});
}

TEST_F(MetadataTest, ThousandReplicas) {
    make_pool();
    constexpr int kCount = 1000;
    auto t0 = std::chrono::steady_clock::now();
    for (int i = 0; i < kCount; ++i) {
        ASSERT_TRUE(is_ok(create_replica(_rt, "p0", fmt::format("replica-{:05}", i), 64 * MiB, true)));
    }
    // A few of them thick and written.
    for (int i = 0; i < 8; ++i) {
        ASSERT_TRUE(is_ok(create_replica(_rt, "p0", fmt::format("thick-{}", i), 4 * MiB, false)));
        ASSERT_TRUE(
            is_ok(write_to(_rt, fmt::format("replica-{:05}", i * 100), 0, pattern(4096, uint8_t(i + 1)))));
    }
    auto t1 = std::chrono::steady_clock::now();
    auto listed = pools().list_replicas();
    auto t2 = std::chrono::steady_clock::now();
    EXPECT_EQ(listed.size(), std::size_t(kCount + 8));
    ASSERT_TRUE(is_ok(export_pool(_rt, "p0")));
    auto t3 = std::chrono::steady_clock::now();
    ASSERT_TRUE(is_ok(import_pool(_rt, "p0", _disk)));
    auto t4 = std::chrono::steady_clock::now();
    EXPECT_EQ(pools().list_replicas().size(), std::size_t(kCount + 8));
    EXPECT_EQ(pools().get("p0")->used, 16 * 4 * MiB);
    for (int i = 0; i < 8; ++i) {
        EXPECT_TRUE(same_bytes(read_from(_rt, fmt::format("replica-{:05}", i * 100), 0, 4096),
                               pattern(4096, uint8_t(i + 1))));
    }
    auto secs = [](auto a, auto b) { return std::chrono::duration<double>(b - a).count(); };
    std::printf("1000 replicas: create %.3f s, list %.4f s, export %.3f s, import %.3f s\n", secs(t0, t1),
                secs(t1, t2), secs(t2, t3), secs(t3, t4));
    EXPECT_LT(secs(t0, t1), 30.0);
    EXPECT_LT(secs(t3, t4), 10.0);
    // Destroying them all is as quick, and leaves an empty pool that imports empty.
    for (int i = 0; i < kCount; ++i) {
        ASSERT_TRUE(is_ok(destroy_replica(_rt, fmt::format("replica-{:05}", i))));
    }
    ASSERT_TRUE(is_ok(export_pool(_rt, "p0")));
    ASSERT_TRUE(is_ok(import_pool(_rt, "p0", _disk)));
    EXPECT_EQ(pools().list_replicas().size(), 8u);
    EXPECT_EQ(pools().get("p0")->used, 8 * 4 * MiB);
}

TEST_F(MetadataTest, LvolLimitIsENOSPC) {
    CreatePoolOptions o;
    o.max_lvols = 4;
    make_pool(o);
    make_replicas(3);
    ASSERT_TRUE(is_ok(snapshot(_rt, "r0", "s0")));
    EXPECT_TRUE(fails_with(create_replica(_rt, "p0", "x", 4 * MiB, true), ENOSPC));
    EXPECT_TRUE(fails_with(snapshot(_rt, "r1", "s1"), ENOSPC));
    EXPECT_TRUE(fails_with(clone(_rt, "s0", "c0"), ENOSPC));
    ASSERT_TRUE(is_ok(destroy_replica(_rt, "r2")));
    EXPECT_TRUE(is_ok(clone(_rt, "s0", "c0")));
}

}  // namespace
}  // namespace ms::test
