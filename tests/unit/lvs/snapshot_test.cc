// Snapshots and clones: isolation, copy-on-write, listing, destroy rules and merge, and
// persistence of all of it across export and import.
#include "lvs_test_util.h"

namespace ms::test {
namespace {

class SnapshotTest : public LvsTest, public ::testing::WithParamInterface<bool> {
   protected:
    bool thin() const { return GetParam(); }
    void SetUp() override {
        _disk = malloc_disk("m0", 100);
        fill_device("m0", 0x77);
        ASSERT_TRUE(is_ok(create_pool(_rt, "p0", _disk)));
        ASSERT_TRUE(is_ok(create_replica(_rt, "p0", "r", 12 * MiB, thin())));
    }
    void reimport() {
        ASSERT_TRUE(is_ok(export_pool(_rt, "p0")));
        ASSERT_TRUE(is_ok(import_pool(_rt, "p0", _disk)));
    }
    uint64_t used() { return pools().get("p0")->used; }
    std::vector<uint8_t> all(const std::string& name) { return read_from(_rt, name, 0, 12 * MiB); }
    std::vector<std::string> names(const std::vector<ReplicaInfo>& v) {
        std::vector<std::string> out;
        for (const auto& r : v) {
            out.push_back(r.name);
        }
        std::sort(out.begin(), out.end());
        return out;
    }
    std::string _disk;
};

TEST_P(SnapshotTest, SnapshotKeepsItsPointInTime) {
    auto v1 = random_bytes(12 * MiB, 1);
    ASSERT_TRUE(is_ok(write_to(_rt, "r", 0, v1)));
    const uint64_t used_before = used();
    auto s = snapshot(_rt, "r", "s1");
    ASSERT_TRUE(is_ok(s));
    EXPECT_EQ(s->kind, lvs::LvolKind::Snapshot);
    EXPECT_EQ(s->parent, "r");
    EXPECT_EQ(s->size, 12 * MiB);
    EXPECT_EQ(s->allocated, 12 * MiB);
    EXPECT_EQ(replica("r").allocated, 0u);
    EXPECT_EQ(replica("r").parent, "s1");
    EXPECT_TRUE(replica("r").thin);  // its clusters went to the snapshot
    EXPECT_EQ(used(), used_before);
    // Idempotent for the same pair; the name is taken for anything else.
    EXPECT_EQ(snapshot(_rt, "r", "s1")->uuid, s->uuid);
    EXPECT_TRUE(fails_with(create_replica(_rt, "p0", "s1", 4 * MiB, true), EEXIST));
    EXPECT_TRUE(fails_with(snapshot(_rt, "s1", "s2"), EINVAL, {"snapshot"}));
    // Reads through: the replica still shows v1.
    EXPECT_TRUE(same_bytes(all("r"), v1));
    // Write after the snapshot: partial cluster (copy-on-write) and whole cluster.
    auto patch = random_bytes(8192, 2);
    ASSERT_TRUE(is_ok(write_to(_rt, "r", 4 * MiB + 4096, patch)));
    auto whole = random_bytes(4 * MiB, 3);
    ASSERT_TRUE(is_ok(write_to(_rt, "r", 8 * MiB, whole)));
    EXPECT_EQ(replica("r").allocated, 8 * MiB);
    auto v2 = v1;
    std::copy(patch.begin(), patch.end(), v2.begin() + 4 * MiB + 4096);
    std::copy(whole.begin(), whole.end(), v2.begin() + 8 * MiB);
    EXPECT_TRUE(same_bytes(all("r"), v2));
    EXPECT_TRUE(same_bytes(all("s1"), v1));
    // The snapshot device is read-only.
    {
        auto d = open_device("s1");
        ASSERT_TRUE(d);
        EXPECT_FALSE(is_ok(write(_rt, *d, 0, pattern(4096, 1))));
        EXPECT_FALSE(d->device().io_type_supported(IoType::Write));
    }
    // All of it survives export and import.
    reimport();
    EXPECT_TRUE(same_bytes(all("r"), v2));
    EXPECT_TRUE(same_bytes(all("s1"), v1));
    EXPECT_EQ(replica("r").parent, "s1");
    EXPECT_EQ(names(pools().list_snapshots()), std::vector<std::string>{"s1"});
    EXPECT_EQ(names(pools().list_replicas()), std::vector<std::string>{"r"});
}

TEST_P(SnapshotTest, ChainOfSnapshotsAndMerge) {
    auto v1 = random_bytes(12 * MiB, 1);
    ASSERT_TRUE(is_ok(write_to(_rt, "r", 0, v1)));
    ASSERT_TRUE(is_ok(snapshot(_rt, "r", "s1")));
    auto v2 = v1;
    auto p2 = random_bytes(4096, 2);
    ASSERT_TRUE(is_ok(write_to(_rt, "r", 4096, p2)));
    std::copy(p2.begin(), p2.end(), v2.begin() + 4096);
    ASSERT_TRUE(is_ok(snapshot(_rt, "r", "s2")));
    EXPECT_EQ(replica("s2").parent, "r");
    EXPECT_EQ(replica("r").parent, "s2");
    EXPECT_TRUE(replica("s1").clones.empty());
    auto v3 = v2;
    auto p3 = random_bytes(4096, 3);
    ASSERT_TRUE(is_ok(write_to(_rt, "r", 9 * MiB, p3)));
    std::copy(p3.begin(), p3.end(), v3.begin() + 9 * MiB);
    EXPECT_TRUE(same_bytes(all("s1"), v1));
    EXPECT_TRUE(same_bytes(all("s2"), v2));
    EXPECT_TRUE(same_bytes(all("r"), v3));
    const uint64_t used3 = used();
    // Destroy the older snapshot: merged into s2 (s2 still shows v2).
    ASSERT_TRUE(is_ok(destroy_snapshot(_rt, "s1")));
    EXPECT_EQ(names(pools().list_snapshots()), std::vector<std::string>{"s2"});
    EXPECT_TRUE(same_bytes(all("s2"), v2));
    EXPECT_TRUE(same_bytes(all("r"), v3));
    // s1's copy of the cluster s2 rewrote is freed.
    EXPECT_EQ(used(), used3 - 4 * MiB);
    // Destroy s2: merged into r.
    ASSERT_TRUE(is_ok(destroy_snapshot(_rt, "s2")));
    EXPECT_TRUE(pools().list_snapshots().empty());
    EXPECT_TRUE(same_bytes(all("r"), v3));
    EXPECT_EQ(replica("r").parent, "");
    EXPECT_EQ(replica("r").allocated, 12 * MiB);
    EXPECT_EQ(used(), 12 * MiB);
    reimport();
    EXPECT_TRUE(same_bytes(all("r"), v3));
    EXPECT_EQ(used(), 12 * MiB);
    EXPECT_TRUE(is_ok(destroy_snapshot(_rt, "s2")));  // unknown: ok
}

TEST_P(SnapshotTest, ClonesCopyOnWrite) {
    auto v1 = random_bytes(12 * MiB, 1);
    ASSERT_TRUE(is_ok(write_to(_rt, "r", 0, v1)));
    ASSERT_TRUE(is_ok(snapshot(_rt, "r", "s1")));
    auto c = clone(_rt, "s1", "c1");
    ASSERT_TRUE(is_ok(c));
    EXPECT_EQ(c->kind, lvs::LvolKind::Clone);
    EXPECT_TRUE(c->thin);
    EXPECT_EQ(c->parent, "s1");
    EXPECT_EQ(c->allocated, 0u);
    EXPECT_EQ(c->size, 12 * MiB);
    EXPECT_EQ(clone(_rt, "s1", "c1")->uuid, c->uuid);  // idempotent
    EXPECT_TRUE(fails_with(clone(_rt, "r", "c2"), EINVAL));
    EXPECT_TRUE(fails_with(clone(_rt, "nosuch", "c2"), ENOENT));
    ASSERT_TRUE(is_ok(clone(_rt, "s1", "c2")));
    EXPECT_EQ(replica("s1").clones, (std::vector<std::string>{"c1", "c2"}));
    EXPECT_TRUE(same_bytes(all("c1"), v1));
    // Writes to a clone, the replica and the other clone are all independent.
    auto pc = random_bytes(4096, 5);
    ASSERT_TRUE(is_ok(write_to(_rt, "c1", 4096, pc)));
    auto pr = random_bytes(4096, 6);
    ASSERT_TRUE(is_ok(write_to(_rt, "r", 4096, pr)));
    auto vc = v1, vr = v1;
    std::copy(pc.begin(), pc.end(), vc.begin() + 4096);
    std::copy(pr.begin(), pr.end(), vr.begin() + 4096);
    EXPECT_TRUE(same_bytes(all("c1"), vc));
    EXPECT_TRUE(same_bytes(all("r"), vr));
    EXPECT_TRUE(same_bytes(all("c2"), v1));
    EXPECT_TRUE(same_bytes(all("s1"), v1));
    EXPECT_EQ(replica("c1").allocated, 4 * MiB);
    // Listed with the replicas; the snapshot with its clones.
    EXPECT_EQ(names(pools().list_replicas()), (std::vector<std::string>{"c1", "c2", "r"}));
    // A snapshot with clones cannot go.
    EXPECT_TRUE(fails_with(destroy_snapshot(_rt, "s1"), EBUSY, {"c1"}));
    EXPECT_TRUE(fails_with(destroy_replica(_rt, "s1"), EINVAL));
    EXPECT_TRUE(fails_with(destroy_snapshot(_rt, "r"), EINVAL));
    // A snapshot of a clone, and a clone of that.
    ASSERT_TRUE(is_ok(snapshot(_rt, "c1", "cs")));
    ASSERT_TRUE(is_ok(clone(_rt, "cs", "cc")));
    EXPECT_TRUE(same_bytes(all("cc"), vc));
    reimport();
    EXPECT_TRUE(same_bytes(all("c1"), vc));
    EXPECT_TRUE(same_bytes(all("cc"), vc));
    EXPECT_TRUE(same_bytes(all("r"), vr));
    EXPECT_TRUE(same_bytes(all("s1"), v1));
    EXPECT_EQ(replica("s1").clones, (std::vector<std::string>{"c1", "c2"}));
    // Take the clones away, and the snapshot merges into the replica.
    ASSERT_TRUE(is_ok(destroy_replica(_rt, "cc")));
    ASSERT_TRUE(is_ok(destroy_snapshot(_rt, "cs")));
    ASSERT_TRUE(is_ok(destroy_replica(_rt, "c1")));
    EXPECT_TRUE(fails_with(destroy_snapshot(_rt, "s1"), EBUSY, {"c2"}));
    ASSERT_TRUE(is_ok(destroy_replica(_rt, "c2")));
    ASSERT_TRUE(is_ok(destroy_snapshot(_rt, "s1")));
    EXPECT_TRUE(same_bytes(all("r"), vr));
    EXPECT_EQ(used(), 12 * MiB);
}

TEST_P(SnapshotTest, SnapshotOfAReplicaThatIsGone) {
    ASSERT_TRUE(is_ok(write_to(_rt, "r", 0, pattern(4096, 3))));
    ASSERT_TRUE(is_ok(snapshot(_rt, "r", "s1")));
    ASSERT_TRUE(is_ok(destroy_replica(_rt, "r")));
    EXPECT_EQ(replica("s1").parent, "");  // its replica is gone
    EXPECT_TRUE(same_bytes(read_from(_rt, "s1", 0, 4096), pattern(4096, 3)));
    ASSERT_TRUE(is_ok(clone(_rt, "s1", "c")));
    EXPECT_TRUE(same_bytes(read_from(_rt, "c", 0, 4096), pattern(4096, 3)));
    ASSERT_TRUE(is_ok(destroy_replica(_rt, "c")));
    ASSERT_TRUE(is_ok(destroy_snapshot(_rt, "s1")));
    EXPECT_EQ(used(), 0u);
}

TEST_P(SnapshotTest, SnapshotWaitsForWritesInFlight) {
    // Writes keep coming from the other reactor while snapshots are taken: each snapshot
    // holds a whole number of writes, never a torn one, and the replica ends with all.
    auto d = open_device("r");
    ASSERT_TRUE(d);
    constexpr int kRounds = 40;
    std::atomic<bool> stop{false};
    std::thread writer([&] {
        auto buf = d->dma_malloc(64 * 1024);
        for (int i = 1; i <= kRounds; ++i) {
            buf->fill(static_cast<uint8_t>(i));
            Status s =
                run_on(_rt.reactor(1), [&]() -> Task<Status> { co_return co_await d->write_at(0, *buf); });
            EXPECT_TRUE(is_ok(s));
        }
        stop = true;
    });
    std::vector<std::string> snaps;
    for (int i = 0; !stop && i < 8; ++i) {
        snaps.push_back("snap" + std::to_string(i));
        ASSERT_TRUE(is_ok(snapshot(_rt, "r", snaps.back())));
    }
    writer.join();
    for (const auto& s : snaps) {
        auto data = read_from(_rt, s, 0, 64 * 1024);
        ASSERT_EQ(data.size(), 64u * 1024);
        EXPECT_TRUE(same_bytes(data, pattern(data.size(), data[0]))) << s << " holds a torn write";
    }
    EXPECT_TRUE(same_bytes(read_from(_rt, "r", 0, 64 * 1024), pattern(64 * 1024, kRounds)));
}

INSTANTIATE_TEST_SUITE_P(Replicas, SnapshotTest, ::testing::Values(false, true),
                         [](const auto& info) { return info.param ? "thin" : "thick"; });

}  // namespace
}  // namespace ms::test
