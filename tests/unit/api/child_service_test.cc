// Mayastor child RPCs (AddChildNexus, RemoveChildNexus, FaultNexusChild, ChildOperation)
// through the real gRPC C++ client: status codes, idempotency, child and nexus states as the
// fact sheet maps them, and the data of a child rebuilt after it was added or came back.
#include "nexus_test_util.h"

namespace ms::api::test {
namespace {

using grpc::StatusCode;

const std::string kM1 = "malloc:///m1?size_mb=16";
const std::string kM2 = "malloc:///m2?size_mb=16";
const std::string kM3 = "malloc:///m3?size_mb=16";
const std::string kDev = std::string("nexus-") + kNexus1;
constexpr int kOffline = mayastor::offline;
constexpr int kOnline = mayastor::online;

class ChildServiceTest : public NexusFixture {
   protected:
    void SetUp() override {
        NexusFixture::SetUp();
        auto [s, n] = create(kNexus1, 8 * kMiB, {kM1, kM2});
        ASSERT_TRUE(s.ok()) << s.error_message();
    }
};

TEST_F(ChildServiceTest, AddWithoutRebuildThenRemove) {
    auto [s, c] = add(kNexus1, kM3, true);
    ASSERT_TRUE(s.ok()) << s.error_message();
    EXPECT_EQ(c.uri(), kM3);
    EXPECT_EQ(c.state(), mayastor::CHILD_DEGRADED);  // out of sync
    auto n = get(kNexus1);
    EXPECT_EQ(n.state(), mayastor::NEXUS_DEGRADED);
    ASSERT_EQ(n.children_size(), 3);
    EXPECT_EQ(n.children(2).uri(), kM3);
    EXPECT_EQ(n.children(2).rebuild_progress(), -1);
    EXPECT_EQ(n.rebuilds(), 0u);

    EXPECT_TRUE(remove(kNexus1, kM3).ok());
    n = get(kNexus1);
    EXPECT_EQ(n.children_size(), 2);
    EXPECT_EQ(n.state(), mayastor::NEXUS_ONLINE);
    // Not a child (any more): OK.
    EXPECT_TRUE(remove(kNexus1, kM3).ok());
    EXPECT_TRUE(remove(kNexus1, "malloc:///never?size_mb=16").ok());
}

TEST_F(ChildServiceTest, AddErrors) {
    EXPECT_EQ(add("bad", kM3).first.error_code(), StatusCode::INVALID_ARGUMENT);
    EXPECT_EQ(add(kNexus2, kM3).first.error_code(), StatusCode::NOT_FOUND);
    EXPECT_EQ(add(kNexus1, kM2).first.error_code(), StatusCode::INTERNAL);  // already a child
    EXPECT_EQ(add(kNexus1, "nope:///x").first.error_code(), StatusCode::INVALID_ARGUMENT);
    EXPECT_EQ(add(kNexus1, "bdev:///missing").first.error_code(), StatusCode::INVALID_ARGUMENT);
    EXPECT_EQ(add(kNexus1, "malloc:///m5?size_mb=16&blk_size=4096").first.error_code(),
              StatusCode::INVALID_ARGUMENT);  // another block size
    EXPECT_EQ(add(kNexus1, "malloc:///m6?size_mb=4").first.error_code(),
              StatusCode::INVALID_ARGUMENT);  // smaller than the nexus
    EXPECT_EQ(get(kNexus1).children_size(), 2);
    EXPECT_EQ(get(kNexus1).state(), mayastor::NEXUS_ONLINE);
    for (const char* name : {"x", "m5", "m6"}) {
        EXPECT_FALSE(has_device(name)) << name;
    }
}

TEST_F(ChildServiceTest, RemoveErrors) {
    EXPECT_EQ(remove("bad", kM1).error_code(), StatusCode::INVALID_ARGUMENT);
    EXPECT_EQ(remove(kNexus2, kM1).error_code(), StatusCode::NOT_FOUND);
    EXPECT_TRUE(remove(kNexus1, kM2).ok());
    EXPECT_EQ(remove(kNexus1, kM1).error_code(), StatusCode::INVALID_ARGUMENT);  // the last child
    EXPECT_EQ(get(kNexus1).children_size(), 1);
}

TEST_F(ChildServiceTest, AddedChildIsRebuilt) {
    auto data = pattern(kMiB, 11);
    write(kDev, 5 * kMiB, data);
    auto [s, c] = add(kNexus1, kM3);
    ASSERT_TRUE(s.ok()) << s.error_message();
    EXPECT_NE(c.state(), mayastor::CHILD_FAULTED);
    ASSERT_TRUE(wait_child_state(kNexus1, kM3, mayastor::CHILD_ONLINE));
    auto n = get(kNexus1);
    EXPECT_EQ(n.state(), mayastor::NEXUS_ONLINE);
    EXPECT_EQ(child(kNexus1, kM3).rebuild_progress(), -1);
    EXPECT_EQ(read("m3", 5 * kMiB, kMiB), data);
    EXPECT_TRUE(same_data("m1", "m3", 8 * kMiB));
}

TEST_F(ChildServiceTest, Fault) {
    EXPECT_EQ(fault("bad", kM2).error_code(), StatusCode::INVALID_ARGUMENT);
    EXPECT_EQ(fault(kNexus2, kM2).error_code(), StatusCode::NOT_FOUND);
    EXPECT_EQ(fault(kNexus1, kM3).error_code(), StatusCode::NOT_FOUND);  // not a child
    ASSERT_TRUE(fault(kNexus1, kM2).ok());
    EXPECT_EQ(child(kNexus1, kM2).state(), mayastor::CHILD_FAULTED);
    EXPECT_EQ(get(kNexus1).state(), mayastor::NEXUS_DEGRADED);
    // The last healthy child: INTERNAL, and it stays online.
    EXPECT_EQ(fault(kNexus1, kM1).error_code(), StatusCode::INTERNAL);
    EXPECT_EQ(child(kNexus1, kM1).state(), mayastor::CHILD_ONLINE);
    // The nexus keeps serving from m1; m2 no longer gets writes.
    auto data = pattern(4096, 21);
    write(kDev, 0, data);
    EXPECT_EQ(read(kDev, 0, 4096), data);
    EXPECT_EQ(read("m1", 0, 4096), data);
    EXPECT_NE(read("m2", 0, 4096), data);
}

TEST_F(ChildServiceTest, FaultTheOnlyChild) {
    ASSERT_TRUE(create(kNexus2, 8 * kMiB, {kM3}).first.ok());
    EXPECT_EQ(fault(kNexus2, kM3).error_code(), StatusCode::INTERNAL);
    EXPECT_EQ(child(kNexus2, kM3).state(), mayastor::CHILD_ONLINE);
}

TEST_F(ChildServiceTest, OfflineAndOnlineRebuildsWhatWasMissed) {
    EXPECT_EQ(child_op("bad", kM2, kOffline).error_code(), StatusCode::INVALID_ARGUMENT);
    EXPECT_EQ(child_op(kNexus2, kM2, kOffline).error_code(), StatusCode::NOT_FOUND);
    EXPECT_EQ(child_op(kNexus1, kM3, kOffline).error_code(), StatusCode::NOT_FOUND);
    EXPECT_EQ(child_op(kNexus1, kM2, 7).error_code(), StatusCode::INVALID_ARGUMENT);
    EXPECT_EQ(child_op(kNexus1, kM1, kOnline).error_code(), StatusCode::INTERNAL);  // already open

    auto before = pattern(kMiB, 1);
    write(kDev, 0, before);
    ASSERT_TRUE(child_op(kNexus1, kM2, kOffline).ok());
    EXPECT_EQ(child(kNexus1, kM2).state(), mayastor::CHILD_DEGRADED);  // closed
    EXPECT_EQ(get(kNexus1).state(), mayastor::NEXUS_DEGRADED);
    EXPECT_EQ(child_op(kNexus1, kM1, kOffline).error_code(), StatusCode::INTERNAL);  // the last healthy one
    EXPECT_EQ(child(kNexus1, kM1).state(), mayastor::CHILD_ONLINE);

    // Written while m2 is away: m2 misses it until it is back and rebuilt.
    auto missed = pattern(kMiB, 2);
    write(kDev, 6 * kMiB, missed);
    ASSERT_TRUE(child_op(kNexus1, kM2, kOnline).ok());
    ASSERT_TRUE(wait_child_state(kNexus1, kM2, mayastor::CHILD_ONLINE));
    EXPECT_EQ(get(kNexus1).state(), mayastor::NEXUS_ONLINE);
    EXPECT_EQ(read("m2", 0, kMiB), before);
    EXPECT_EQ(read("m2", 6 * kMiB, kMiB), missed);
    EXPECT_TRUE(same_data("m1", "m2", 8 * kMiB));
}

TEST_F(ChildServiceTest, FaultedChildComesBackOnline) {
    ASSERT_TRUE(fault(kNexus1, kM2).ok());
    auto missed = pattern(kMiB, 4);
    write(kDev, 2 * kMiB, missed);
    ASSERT_TRUE(child_op(kNexus1, kM2, kOnline).ok());
    ASSERT_TRUE(wait_child_state(kNexus1, kM2, mayastor::CHILD_ONLINE));
    EXPECT_EQ(read("m2", 2 * kMiB, kMiB), missed);
}

}  // namespace
}  // namespace ms::api::test
