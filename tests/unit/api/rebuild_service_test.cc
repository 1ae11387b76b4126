// Mayastor rebuild RPCs (Start/Stop/Pause/ResumeRebuild, GetRebuildState/Stats/Progress) through
// the real gRPC C++ client: status codes, the job's states and counters, Nexus.rebuilds and
// Child.rebuild_progress, and the rebuilt child's data. Jobs are slowed down by the nexus's
// rebuild rate limit so that a test sees them running.
#include "nexus_test_util.h"

namespace ms::api::test {
namespace {

using grpc::StatusCode;

const std::string kM1 = "malloc:///m1?size_mb=16";
const std::string kM2 = "malloc:///m2?size_mb=16";
const std::string kM3 = "malloc:///m3?size_mb=16";
const std::string kDev = std::string("nexus-") + kNexus1;
constexpr uint64_t kSize = 16 * kMiB;

class RebuildServiceTest : public NexusFixture {
   protected:
    void SetUp() override {
        NexusFixture::SetUp();
        // A nexus takes the options when it is made.
        set_rate_limit(rate_limit());
        auto [s, n] = create(kNexus1, kSize, {kM1});
        ASSERT_TRUE(s.ok()) << s.error_message();
        write(kDev, 0, _data_head);
        write(kDev, kSize - kMiB, _data_tail);
        // m2 joins out of sync, without a job.
        ASSERT_TRUE(add(kNexus1, kM2, true).first.ok());
    }
    void TearDown() override {
        stop();
        set_rate_limit(0);
    }
    // A full rebuild of 16 MiB takes 8 s.
    virtual uint64_t rate_limit() const { return 2 * kMiB; }
    void set_rate_limit(uint64_t bytes_per_second) {
        nexus::NexusOptions o;
        o.rebuild.rate_limit = bytes_per_second;
        nexus::NexusRegistry::instance().set_options(o);
    }

    std::pair<grpc::Status, std::string> state(const std::string& uri = kM2,
                                               const std::string& uuid = kNexus1) {
        auto [s, rep] = rebuild(&Stub::GetRebuildState, uuid, uri);
        return {s, rep.state()};
    }
    grpc::Status start(const std::string& uri = kM2, const std::string& uuid = kNexus1) {
        return rebuild(&Stub::StartRebuild, uuid, uri).first;
    }
    grpc::Status stop_job(const std::string& uri = kM2, const std::string& uuid = kNexus1) {
        return rebuild(&Stub::StopRebuild, uuid, uri).first;
    }
    grpc::Status pause(const std::string& uri = kM2, const std::string& uuid = kNexus1) {
        return rebuild(&Stub::PauseRebuild, uuid, uri).first;
    }
    grpc::Status resume(const std::string& uri = kM2, const std::string& uuid = kNexus1) {
        return rebuild(&Stub::ResumeRebuild, uuid, uri).first;
    }

    std::vector<uint8_t> _data_head = pattern(kMiB, 31);
    std::vector<uint8_t> _data_tail = pattern(kMiB, 77);
};

TEST_F(RebuildServiceTest, NoJob) {
    EXPECT_EQ(state().first.error_code(), StatusCode::INTERNAL);
    EXPECT_EQ(rebuild(&Stub::GetRebuildStats, kNexus1, kM2).first.error_code(), StatusCode::INTERNAL);
    EXPECT_EQ(rebuild(&Stub::GetRebuildProgress, kNexus1, kM2).first.error_code(), StatusCode::INTERNAL);
    EXPECT_EQ(pause().error_code(), StatusCode::INTERNAL);
    EXPECT_EQ(resume().error_code(), StatusCode::INTERNAL);
    EXPECT_TRUE(stop_job().ok());
    EXPECT_EQ(get(kNexus1).rebuilds(), 0u);
}

TEST_F(RebuildServiceTest, UuidAndNexusChecks) {
    for (const std::string& uuid : {std::string("bad"), std::string(kNexus2)}) {
        StatusCode code = uuid == "bad" ? StatusCode::INVALID_ARGUMENT : StatusCode::NOT_FOUND;
        EXPECT_EQ(start(kM2, uuid).error_code(), code) << uuid;
        EXPECT_EQ(stop_job(kM2, uuid).error_code(), code) << uuid;
        EXPECT_EQ(pause(kM2, uuid).error_code(), code) << uuid;
        EXPECT_EQ(resume(kM2, uuid).error_code(), code) << uuid;
        EXPECT_EQ(state(kM2, uuid).first.error_code(), code) << uuid;
        EXPECT_EQ(rebuild(&Stub::GetRebuildStats, uuid, kM2).first.error_code(), code) << uuid;
        EXPECT_EQ(rebuild(&Stub::GetRebuildProgress, uuid, kM2).first.error_code(), code) << uuid;
    }
}

TEST_F(RebuildServiceTest, StartErrors) {
    EXPECT_EQ(start(kM3).error_code(), StatusCode::NOT_FOUND);  // not a child
    EXPECT_EQ(start(kM1).error_code(), StatusCode::INTERNAL);   // not out of sync
    EXPECT_EQ(get(kNexus1).rebuilds(), 0u);
}

TEST_F(RebuildServiceTest, PauseResumeStop) {
    ASSERT_TRUE(start().ok());
    EXPECT_EQ(state().second, "running");
    EXPECT_EQ(get(kNexus1).rebuilds(), 1u);
    EXPECT_EQ(child(kNexus1, kM2).state(), mayastor::CHILD_DEGRADED);

    ASSERT_TRUE(pause().ok());
    EXPECT_EQ(state().second, "paused");
    auto [ss, stats] = rebuild(&Stub::GetRebuildStats, kNexus1, kM2);
    ASSERT_TRUE(ss.ok()) << ss.error_message();
    EXPECT_EQ(stats.block_size(), 512u);
    EXPECT_EQ(stats.blocks_total(), kSize / 512);
    EXPECT_LT(stats.blocks_recovered(), stats.blocks_total());
    EXPECT_LT(stats.progress(), 100u);
    EXPECT_EQ(stats.progress(), stats.blocks_recovered() * 100 / stats.blocks_total());
    EXPECT_GT(stats.segment_size_blks(), 0u);
    EXPECT_GT(stats.tasks_total(), 0u);
    EXPECT_LE(stats.tasks_active(), stats.tasks_total());
    auto [ps, progress] = rebuild(&Stub::GetRebuildProgress, kNexus1, kM2);
    ASSERT_TRUE(ps.ok());
    EXPECT_LT(progress.progress(), 100u);
    int32_t child_progress = child(kNexus1, kM2).rebuild_progress();
    EXPECT_GE(child_progress, 0);
    EXPECT_LT(child_progress, 100);
    EXPECT_EQ(resume(kM1).error_code(), StatusCode::INTERNAL);  // no job into m1

    ASSERT_TRUE(resume().ok());
    EXPECT_EQ(state().second, "running");
    EXPECT_EQ(resume().error_code(), StatusCode::INTERNAL);  // not paused

    // A stopped job disappears; the child stays out of sync.
    ASSERT_TRUE(stop_job().ok());
    EXPECT_EQ(state().first.error_code(), StatusCode::INTERNAL);
    EXPECT_EQ(get(kNexus1).rebuilds(), 0u);
    EXPECT_EQ(child(kNexus1, kM2).state(), mayastor::CHILD_DEGRADED);
    EXPECT_EQ(child(kNexus1, kM2).rebuild_progress(), -1);
    EXPECT_TRUE(stop_job().ok());
}

class FastRebuildServiceTest : public RebuildServiceTest {
   protected:
    uint64_t rate_limit() const override { return 0; }
};

TEST_F(FastRebuildServiceTest, RebuildCompletesWithTheData) {
    // Written while m2 is out of sync: goes to m1 and m2 alike.
    auto during = pattern(kMiB, 55);
    write(kDev, 8 * kMiB, during);
    ASSERT_TRUE(start().ok());
    ASSERT_TRUE(wait_child_state(kNexus1, kM2, mayastor::CHILD_ONLINE));
    EXPECT_EQ(get(kNexus1).state(), mayastor::NEXUS_ONLINE);
    EXPECT_EQ(get(kNexus1).rebuilds(), 0u);
    EXPECT_EQ(read("m2", 0, kMiB), _data_head);
    EXPECT_EQ(read("m2", kSize - kMiB, kMiB), _data_tail);
    EXPECT_EQ(read("m2", 8 * kMiB, kMiB), during);
    EXPECT_TRUE(same_data("m1", "m2", kSize));
    // A completed job is not paused or resumed any more.
    EXPECT_EQ(pause().error_code(), StatusCode::INTERNAL);
}

TEST_F(RebuildServiceTest, RemovingTheChildCancelsItsJob) {
    ASSERT_TRUE(start().ok());
    EXPECT_EQ(get(kNexus1).rebuilds(), 1u);
    ASSERT_TRUE(remove(kNexus1, kM2).ok());
    EXPECT_EQ(get(kNexus1).rebuilds(), 0u);
    EXPECT_EQ(state().first.error_code(), StatusCode::INTERNAL);
    EXPECT_EQ(get(kNexus1).state(), mayastor::NEXUS_ONLINE);
}

TEST_F(RebuildServiceTest, DestroyWhileRebuilding) {
    ASSERT_TRUE(start().ok());
    ASSERT_TRUE(destroy(kNexus1).ok());
    EXPECT_EQ(list().nexus_list_size(), 0);
    EXPECT_EQ(state().first.error_code(), StatusCode::NOT_FOUND);
}

}  // namespace
}  // namespace ms::api::test
