// Creating, listing and destroying nexuses: geometry, errors (each code), idempotence, and
// that nothing is left behind by a failed create.
#include "nexus_test_util.h"

namespace ms::test {
namespace {

class NexusCreateTest : public NexusTest {};

TEST_F(NexusCreateTest, CreateListGetDestroy) {
    auto a = disk("c1", 8);
    auto b = disk("c2", 16);
    Uuid u = Uuid::generate();
    auto made = create_nexus(_rt, "nexus-a", 4 * MiB, u, {a, b});
    ASSERT_TRUE(is_ok(made));
    EXPECT_EQ(made->name, "nexus-a");
    EXPECT_EQ(made->uuid, u);
    EXPECT_EQ(made->size, 4 * MiB);
    EXPECT_EQ(made->block_size, 512u);
    EXPECT_EQ(made->state, NexusState::Online);
    ASSERT_EQ(made->children.size(), 2u);
    EXPECT_EQ(made->children[0].uri, a);
    EXPECT_EQ(made->children[1].uri, b);
    for (const auto& c : made->children) {
        EXPECT_EQ(c.state, ChildState::Open);
        EXPECT_EQ(c.rebuild_progress, -1);
    }
    EXPECT_EQ(made->rebuilds, 0u);

    // The nexus is a device: geometry, uuid, claims on its children.
    auto dev = DeviceRegistry::instance().lookup("nexus-a");
    ASSERT_TRUE(dev);
    EXPECT_EQ(dev->uuid(), u);
    EXPECT_EQ(dev->block_size(), 512u);
    EXPECT_EQ(dev->num_blocks(), 4 * MiB / 512);
    EXPECT_TRUE(dev->io_type_supported(IoType::Unmap));
    EXPECT_EQ(DeviceRegistry::instance().lookup("c1")->claimed_by(), "nexus-a");
    EXPECT_EQ(DeviceRegistry::instance().lookup("c2")->claimed_by(), "nexus-a");

    auto listed = nexuses().list();
    ASSERT_EQ(listed.size(), 1u);
    EXPECT_EQ(listed[0].uuid, u);
    EXPECT_TRUE(is_ok(nexuses().get(u)));
    EXPECT_TRUE(fails_with(nexuses().get(Uuid::generate()), ENOENT));

    // Idempotent: the same uuid returns the nexus as it is (other arguments ignored).
    auto again = create_nexus(_rt, "nexus-a", 4 * MiB, u, {a}, 1);
    ASSERT_TRUE(is_ok(again));
    EXPECT_EQ(again->children.size(), 2u);

    dev.reset();
    EXPECT_TRUE(is_ok(destroy_nexus(_rt, u)));
    EXPECT_FALSE(DeviceRegistry::instance().lookup("nexus-a"));
    EXPECT_EQ(DeviceRegistry::instance().lookup("c1")->claimed_by(), "");
    EXPECT_EQ(DeviceRegistry::instance().lookup("c2")->claimed_by(), "");
    EXPECT_TRUE(nexuses().list().empty());
    // Unknown: ok.
    EXPECT_TRUE(is_ok(destroy_nexus(_rt, u)));
}

TEST_F(NexusCreateTest, ChildrenMadeFromUrisAreDestroyedWithTheNexus) {
    Uuid u = Uuid::generate();
    auto made = create_nexus(_rt, "nexus-m", 2 * MiB, u, {malloc_uri("own1", 4), malloc_uri("own2", 4)});
    ASSERT_TRUE(is_ok(made));
    EXPECT_TRUE(DeviceRegistry::instance().lookup("own1"));
    EXPECT_TRUE(DeviceRegistry::instance().lookup("own2"));
    EXPECT_TRUE(is_ok(destroy_nexus(_rt, u)));
    EXPECT_FALSE(DeviceRegistry::instance().lookup("own1"));
    EXPECT_FALSE(DeviceRegistry::instance().lookup("own2"));
}

TEST_F(NexusCreateTest, Errors) {
    auto a = disk("e1", 8);
    auto b4k = disk("e4k", 8, 4096);
    auto small = disk("esmall", 1);
    const auto before = registry_names();
    auto expect_fails = [&](std::vector<std::string> children, uint64_t size, int code,
                            std::vector<std::string> words) {
        SCOPED_TRACE(children.empty() ? std::string("no children") : children.back());
        EXPECT_TRUE(
            fails_with(create_nexus(_rt, "nexus-bad", size, Uuid::generate(), children), code, words));
        EXPECT_EQ(registry_names(), before);
        EXPECT_TRUE(nexuses().list().empty());
        EXPECT_EQ(DeviceRegistry::instance().lookup("e1")->claimed_by(), "");
    };
    expect_fails({}, 4 * MiB, EINVAL, {"child"});
    expect_fails({a}, 0, EINVAL, {"size"});
    expect_fails({a}, 4 * MiB + 100, EINVAL, {"multiple"});
    expect_fails({a, "bdev:///missing"}, 4 * MiB, EINVAL, {"bdev:///missing"});
    expect_fails({a, "nope://x"}, 4 * MiB, EINVAL, {"nope://x"});
    expect_fails({a, "malloc:///made?size_mb=0"}, 4 * MiB, EINVAL, {"made"});
    expect_fails({a, a}, 4 * MiB, EINVAL, {"twice"});
    expect_fails({a, b4k}, 4 * MiB, EINVAL, {"e4k", "4096"});
    expect_fails({a, small}, 4 * MiB, EFBIG, {"esmall"});
    // A child URI that creates a device is not left behind when a later child fails.
    expect_fails({malloc_uri("transient", 4), small}, 2 * MiB, EFBIG, {"esmall"});

    // A device claimed by someone else.
    auto dev = DeviceRegistry::instance().lookup("e1");
    ASSERT_TRUE(is_ok(dev->claim("pool-x")));
    EXPECT_TRUE(fails_with(create_nexus(_rt, "nexus-bad", 4 * MiB, Uuid::generate(), {a}), EINVAL, {"e1"}));
    dev->release_claim("pool-x");

    // The name of another device.
    EXPECT_TRUE(fails_with(create_nexus(_rt, "e4k", 4 * MiB, Uuid::generate(), {a}), EEXIST, {"e4k"}));
    EXPECT_EQ(registry_names(), before);
}

TEST_F(NexusCreateTest, ChildInUseByAnotherNexus) {
    auto a = disk("u1", 8);
    auto b = disk("u2", 8);
    Uuid u1 = Uuid::generate();
    ASSERT_TRUE(is_ok(create_nexus(_rt, "nexus-1", 4 * MiB, u1, {a})));
    EXPECT_TRUE(fails_with(create_nexus(_rt, "nexus-2", 4 * MiB, Uuid::generate(), {b, a}), EINVAL, {"u1"}));
    EXPECT_EQ(DeviceRegistry::instance().lookup("u2")->claimed_by(), "");
    EXPECT_EQ(DeviceRegistry::instance().lookup("u1")->claimed_by(), "nexus-1");
    EXPECT_EQ(nexuses().list().size(), 1u);
}

TEST_F(NexusCreateTest, DestroyRefusedWhileOpen) {
    auto a = disk("o1", 8);
    Uuid u = Uuid::generate();
    ASSERT_TRUE(is_ok(create_nexus(_rt, "nexus-o", 4 * MiB, u, {a})));
    auto d = open_nexus(u);
    ASSERT_TRUE(d);
    EXPECT_TRUE(fails_with(destroy_nexus(_rt, u), EBUSY));
    EXPECT_EQ(info(u).state, NexusState::Online);
    d.reset();
    EXPECT_TRUE(is_ok(destroy_nexus(_rt, u)));
}

TEST_F(NexusCreateTest, IoTypesAreThoseEveryChildSupports) {
    // null devices support everything; a FakeDevice without unmap takes it away.
    auto fake = std::make_shared<FakeDevice>("fake-nounmap", Geometry{512, 8192, 1},
                                             ~0u & ~(1u << static_cast<unsigned>(IoType::Unmap)));
    ASSERT_TRUE(is_ok(DeviceRegistry::instance().add(fake)));
    _gates.push_back("fake-nounmap");
    auto a = disk("t1", 8);
    Uuid u = Uuid::generate();
    ASSERT_TRUE(is_ok(create_nexus(_rt, "nexus-t", 4 * MiB, u, {a, "bdev:///fake-nounmap"})));
    auto dev = DeviceRegistry::instance().lookup("nexus-t");
    EXPECT_TRUE(dev->io_type_supported(IoType::Read));
    EXPECT_TRUE(dev->io_type_supported(IoType::Write));
    EXPECT_TRUE(dev->io_type_supported(IoType::Flush));
    EXPECT_TRUE(dev->io_type_supported(IoType::WriteZeroes));
    EXPECT_FALSE(dev->io_type_supported(IoType::Unmap));
    dev.reset();
    fake.reset();
}

TEST_F(NexusCreateTest, UnknownNexusCallsFailWithEnoent) {
    Uuid u = Uuid::generate();
    EXPECT_TRUE(fails_with(add_child(_rt, u, "bdev:///x", true), ENOENT));
    EXPECT_TRUE(fails_with(remove_child(_rt, u, "bdev:///x"), ENOENT));
    EXPECT_TRUE(fails_with(fault_child(_rt, u, "bdev:///x"), ENOENT));
    EXPECT_TRUE(fails_with(offline_child(_rt, u, "bdev:///x"), ENOENT));
    EXPECT_TRUE(fails_with(online_child(_rt, u, "bdev:///x"), ENOENT));
    EXPECT_TRUE(fails_with(start_rebuild(_rt, u, "bdev:///x"), ENOENT));
    EXPECT_TRUE(fails_with(nexuses().rebuild_state(u, "bdev:///x"), ENOENT));
    EXPECT_TRUE(fails_with(nexuses().device(u), ENOENT));
}

}  // namespace
}  // namespace ms::test
