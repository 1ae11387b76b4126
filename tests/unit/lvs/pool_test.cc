// Pools through the public API (lvs.h): create, import, idempotency and error codes,
// capacity, export and re-import, destroy.
#include "lvs_test_util.h"

namespace ms::test {
namespace {

class PoolTest : public LvsTest, public ::testing::WithParamInterface<uint32_t> {
   protected:
    uint32_t bs() const { return GetParam(); }
};

TEST_P(PoolTest, HundredMiBDiskShows96MiB) {
    auto disk = malloc_disk("m0", 100, bs());
    auto p = create_pool(_rt, "p0", disk);
    ASSERT_TRUE(is_ok(p));
    EXPECT_EQ(p->name, "p0");
    EXPECT_EQ(p->capacity, 96 * MiB);
    EXPECT_EQ(p->used, 0u);
    EXPECT_EQ(p->cluster_size, 4 * MiB);
    EXPECT_EQ(p->block_size, bs());
    EXPECT_FALSE(p->uuid.is_nil());
    EXPECT_NE(p->disk.find("uuid="), std::string::npos) << p->disk;
    EXPECT_TRUE(p->disk.starts_with("malloc:///m0?")) << p->disk;
    auto listed = pools().list();
    ASSERT_EQ(listed.size(), 1u);
    EXPECT_EQ(listed[0].capacity, 96 * MiB);
    // The pool claims its disk.
    EXPECT_EQ(DeviceRegistry::instance().lookup("m0")->claimed_by(), "lvs:p0");
}

TEST_P(PoolTest, CreateIsIdempotentAndErrorsAreDistinct) {
    auto d0 = malloc_disk("m0", 64, bs());
    auto d1 = malloc_disk("m1", 64, bs());
    auto p = create_pool(_rt, "p0", d0);
    ASSERT_TRUE(is_ok(p));
    // Same name, same disk (given again, or as the URI the pool reports): the same pool.
    auto again = create_pool(_rt, "p0", d0);
    ASSERT_TRUE(is_ok(again));
    EXPECT_EQ(again->uuid, p->uuid);
    EXPECT_TRUE(is_ok(create_pool(_rt, "p0", p->disk)));
    EXPECT_TRUE(is_ok(create_pool(_rt, "p0", "bdev:///m0")));
    // Same name, another disk.
    EXPECT_TRUE(fails_with(create_pool(_rt, "p0", d1), EEXIST, {"p0"}));
    // Another name, the disk of p0 (imported, and after export from the disk's label).
    EXPECT_TRUE(fails_with(create_pool(_rt, "p1", d0), EXDEV, {"p0"}));
    ASSERT_TRUE(is_ok(export_pool(_rt, "p0")));
    EXPECT_TRUE(fails_with(create_pool(_rt, "p1", d0), EXDEV, {"p0"}));
    EXPECT_TRUE(fails_with(import_pool(_rt, "p1", d0), EXDEV, {"p0"}));
    EXPECT_EQ(DeviceRegistry::instance().lookup("m0")->claimed_by(), "");
    // Import only: a disk with no pool.
    EXPECT_TRUE(fails_with(import_pool(_rt, "p1", d1), ENOMEDIUM));
    EXPECT_TRUE(pools().list().empty());
    // Re-import by create_or_import.
    auto back = create_pool(_rt, "p0", d0);
    ASSERT_TRUE(is_ok(back));
    EXPECT_EQ(back->uuid, p->uuid);
    EXPECT_EQ(back->capacity, p->capacity);
}

TEST_P(PoolTest, BadArguments) {
    auto d0 = malloc_disk("m0", 64, bs());
    EXPECT_TRUE(fails_with(create_pool(_rt, "", d0), EINVAL));
    EXPECT_TRUE(fails_with(create_pool(_rt, std::string(256, 'x'), d0), EINVAL));
    EXPECT_TRUE(fails_with(create_pool(_rt, "p0", "nosuch:///x"), EINVAL));
    EXPECT_TRUE(fails_with(create_pool(_rt, "p0", "uring:///nonexistent/file.img"), ENOENT));
    CreatePoolOptions o;
    o.cluster_size = 3 * MiB;
    EXPECT_TRUE(fails_with(create_pool(_rt, "p0", d0, o), EINVAL, {"cluster"}));
    o.cluster_size = 64 * MiB;
    EXPECT_TRUE(fails_with(create_pool(_rt, "p0", d0, o), ENOSPC));
    // Nothing was left behind: the disk is unclaimed and still there.
    EXPECT_TRUE(pools().list().empty());
    EXPECT_EQ(DeviceRegistry::instance().lookup("m0")->claimed_by(), "");
    // A disk claimed by someone else.
    ASSERT_TRUE(is_ok(DeviceRegistry::instance().lookup("m0")->claim("nexus")));
    EXPECT_TRUE(fails_with(create_pool(_rt, "p0", d0), EBUSY));
    DeviceRegistry::instance().lookup("m0")->release_claim("nexus");
}

TEST_P(PoolTest, PoolOnMallocUriOwnsTheDevice) {
    // Made by create_or_import: the pool destroys it on export and destroy.
    auto p = create_pool(_rt, "p0", "malloc:///own0?size_mb=32&blk_size=" + std::to_string(bs()));
    ASSERT_TRUE(is_ok(p));
    EXPECT_TRUE(DeviceRegistry::instance().lookup("own0"));
    ASSERT_TRUE(is_ok(destroy_pool(_rt, "p0")));
    EXPECT_FALSE(DeviceRegistry::instance().lookup("own0"));
    EXPECT_TRUE(is_ok(destroy_pool(_rt, "p0")));  // unknown: ok
    EXPECT_TRUE(fails_with(export_pool(_rt, "p0"), ENOENT));
}

TEST_P(PoolTest, DestroyWipesTheLabels) {
    auto d0 = malloc_disk("m0", 64, bs());
    auto p = create_pool(_rt, "p0", d0);
    ASSERT_TRUE(is_ok(p));
    ASSERT_TRUE(is_ok(create_replica(_rt, "p0", "r0", 8 * MiB, false)));
    ASSERT_TRUE(is_ok(destroy_pool(_rt, "p0")));
    EXPECT_FALSE(DeviceRegistry::instance().lookup("r0"));
    EXPECT_TRUE(fails_with(import_pool(_rt, "p0", d0), ENOMEDIUM));
    auto fresh = create_pool(_rt, "p0", d0);
    ASSERT_TRUE(is_ok(fresh));
    EXPECT_NE(fresh->uuid, p->uuid);
    EXPECT_TRUE(pools().list_replicas().empty());
}

TEST_P(PoolTest, DestroyAndExportRefuseOpenReplicas) {
    auto d0 = malloc_disk("m0", 64, bs());
    ASSERT_TRUE(is_ok(create_pool(_rt, "p0", d0)));
    ASSERT_TRUE(is_ok(create_replica(_rt, "p0", "r0", 8 * MiB, true)));
    {
        auto d = open_device("r0");
        ASSERT_TRUE(d);
        EXPECT_TRUE(fails_with(destroy_pool(_rt, "p0"), EBUSY, {"r0"}));
        EXPECT_TRUE(fails_with(export_pool(_rt, "p0"), EBUSY, {"r0"}));
        EXPECT_TRUE(fails_with(destroy_replica(_rt, "r0"), EBUSY));
        // Nothing changed.
        EXPECT_TRUE(DeviceRegistry::instance().lookup("r0"));
        EXPECT_EQ(pools().list().size(), 1u);
    }
    EXPECT_TRUE(is_ok(destroy_replica(_rt, "r0")));
    EXPECT_TRUE(is_ok(destroy_replica(_rt, "r0")));  // unknown: ok
}

TEST_P(PoolTest, OneMiBClusters) {
    auto d0 = malloc_disk("m0", 100, bs());
    CreatePoolOptions o;
    o.cluster_size = MiB;
    auto p = create_pool(_rt, "p0", d0, o);
    ASSERT_TRUE(is_ok(p));
    EXPECT_EQ(p->cluster_size, MiB);
    // 100 clusters; the metadata (2 superblocks, 2 images and the log) takes 2 of them.
    EXPECT_EQ(p->capacity, 98 * MiB);
    ASSERT_TRUE(is_ok(export_pool(_rt, "p0")));
    auto back = import_pool(_rt, "p0", d0);
    ASSERT_TRUE(is_ok(back));
    EXPECT_EQ(back->cluster_size, MiB);
}

TEST_P(PoolTest, PoolOnAnotherReactor) {
    auto d0 = malloc_disk("m0", 64, bs());
    ASSERT_TRUE(is_ok(create_pool(_rt, "p0", d0, {}, 1)));
    EXPECT_EQ(&lvs::registered_pool("p0")->reactor(), &_rt.reactor(1));
    // Calls from reactor 0 hop there and back.
    ASSERT_TRUE(is_ok(create_replica(_rt, "p0", "r0", 8 * MiB, false, 0)));
    auto data = random_bytes(64 * 1024, 1);
    ASSERT_TRUE(is_ok(write_to(_rt, "r0", 4096, data, 0)));
    EXPECT_TRUE(same_bytes(read_from(_rt, "r0", 4096, data.size(), 1), data));
    EXPECT_TRUE(same_bytes(read_from(_rt, "r0", 4096, data.size(), 0), data));
}

TEST_P(PoolTest, ReplicasAreDevicesByName) {
    auto d0 = malloc_disk("m0", 64, bs());
    ASSERT_TRUE(is_ok(create_pool(_rt, "p0", d0)));
    auto r = create_replica(_rt, "p0", "r0", 8 * MiB, false);
    ASSERT_TRUE(is_ok(r));
    // bdev:///name reaches it (how a nexus names a local replica).
    auto dev = create(_rt, "bdev:///r0");
    ASSERT_TRUE(is_ok(dev));
    EXPECT_EQ((*dev)->name(), "r0");
    EXPECT_EQ((*dev)->uuid(), r->uuid);
    EXPECT_EQ((*dev)->product(), "Logical volume");
    EXPECT_TRUE(is_ok(create(_rt, "bdev:///r0?uuid=" + r->uuid.to_string())));
    // A device kept after its pool is gone fails I/O cleanly.
    std::shared_ptr<BlockDevice> kept = *dev;
    dev = std::unexpected(Error{});
    ASSERT_TRUE(is_ok(export_pool(_rt, "p0")));
    EXPECT_FALSE(DeviceRegistry::instance().lookup("r0"));
    auto d = Descriptor::open(kept, OpenMode::ReadWrite);
    ASSERT_TRUE(is_ok(d));
    EXPECT_TRUE(fails_with(read(_rt, **d, 0, 4096), ENODEV));
    EXPECT_TRUE(fails_with(write(_rt, **d, 0, pattern(4096, 1), 1, 1), ENODEV));
}

INSTANTIATE_TEST_SUITE_P(BlockSizes, PoolTest, ::testing::Values(512u, 4096u),
                         [](const auto& info) { return "bs" + std::to_string(info.param); });

}  // namespace
}  // namespace ms::test
