// `rebuild progress --follow` against an in-process fake server that plays a scripted job: the
// lines it prints (stdout is not a terminal here), its exit status when the job completes, fails
// or is stopped, and the terminal bar.
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "mayastor-client/cli.h"
#include "mayastor-client/nexus_view.h"
#include "mayastor.grpc.pb.h"

namespace ms::client {
namespace {

const std::string kUuid = "6f3c2a1e-9b4d-4e7a-8c5f-0d1e2f3a4b5c";
const std::string kUri = "bdev:///r2";

// One poll of the job: what GetRebuildState answers (no job when `gone`) and the progress.
struct Step {
    std::string state;
    uint32_t progress = 0;
    bool gone = false;
};
const Step kGone{"", 0, true};

class FakeRebuild final : public mayastor::Mayastor::Service {
   public:
    // The job's answers, one per GetRebuildState; the child's states once the job is gone, one
    // per ListNexus (the last one repeated).
    void play(std::vector<Step> steps, std::vector<mayastor::ChildState> child_after) {
        std::lock_guard lock(mu_);
        steps_.assign(steps.begin(), steps.end());
        child_after_.assign(child_after.begin(), child_after.end());
        state_calls_ = 0;
        list_calls_ = 0;
    }
    int list_calls() {
        std::lock_guard lock(mu_);
        return list_calls_;
    }
    int state_calls() {
        std::lock_guard lock(mu_);
        return state_calls_;
    }

    grpc::Status GetRebuildState(grpc::ServerContext*, const mayastor::RebuildStateRequest* req,
                                 mayastor::RebuildStateReply* rep) override {
        std::lock_guard lock(mu_);
        ++state_calls_;
        if (req->uuid() != kUuid || req->uri() != kUri) {
            return {grpc::StatusCode::INTERNAL, "wrong request"};
        }
        if (steps_.size() > 1) {
            steps_.pop_front();
        }
        if (steps_.front().gone) {
            return {grpc::StatusCode::INTERNAL, "no rebuild job for " + kUri};
        }
        rep->set_state(steps_.front().state);
        return grpc::Status::OK;
    }
    grpc::Status GetRebuildProgress(grpc::ServerContext*, const mayastor::RebuildProgressRequest*,
                                    mayastor::RebuildProgressReply* rep) override {
        std::lock_guard lock(mu_);
        if (steps_.front().gone) {
            return {grpc::StatusCode::INTERNAL, "no rebuild job for " + kUri};
        }
        rep->set_progress(steps_.front().progress);
        return grpc::Status::OK;
    }
    grpc::Status ListNexus(grpc::ServerContext*, const mayastor::Null*,
                           mayastor::ListNexusReply* rep) override {
        std::lock_guard lock(mu_);
        ++list_calls_;
        auto* n = rep->add_nexus_list();
        n->set_uuid(kUuid);
        auto* c = n->add_children();
        c->set_uri(kUri);
        c->set_state(child_after_.front());
        if (child_after_.size() > 1) {
            child_after_.pop_front();
        }
        return grpc::Status::OK;
    }

   private:
    std::mutex mu_;
    // The front is the current answer; a placeholder first so the first call pops it.
    std::deque<Step> steps_;
    std::deque<mayastor::ChildState> child_after_;
    int state_calls_ = 0;
    int list_calls_ = 0;
};

struct Outcome {
    int exit = -1;
    std::string out;
    std::string err;
};

class RebuildFollowTest : public ::testing::Test {
   protected:
    static void SetUpTestSuite() {
        grpc::ServerBuilder builder;
        builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port_);
        builder.RegisterService(&fake_);
        server_ = builder.BuildAndStart();
        ASSERT_NE(server_, nullptr);
    }
    static void TearDownTestSuite() {
        server_->Shutdown();
        server_.reset();
    }

    // Plays `steps` (after a placeholder) and runs mayastor-client with `args`.
    static Outcome follow(std::vector<Step> steps, std::vector<mayastor::ChildState> child_after,
                          std::vector<std::string> extra = {}) {
        steps.insert(steps.begin(), Step{});
        fake_.play(std::move(steps), child_after);
        std::vector<std::string> args = {"mayastor-client", "-b", "127.0.0.1:" + std::to_string(port_)};
        args.insert(args.end(), extra.begin(), extra.end());
        for (const auto& a : {"rebuild", "progress", "--follow"}) {
            args.emplace_back(a);
        }
        args.push_back(kUuid);
        args.push_back(kUri);
        std::vector<char*> argv;
        for (auto& a : args) {
            argv.push_back(a.data());
        }
        Outcome r;
        ::testing::internal::CaptureStdout();
        ::testing::internal::CaptureStderr();
        {
            Cli cli;
            add_all_commands(cli);
            r.exit = cli.run(static_cast<int>(argv.size()), argv.data());
        }
        r.out = ::testing::internal::GetCapturedStdout();
        r.err = ::testing::internal::GetCapturedStderr();
        return r;
    }

    static inline FakeRebuild fake_;
    static inline std::unique_ptr<grpc::Server> server_;
    static inline int port_ = 0;
};

TEST_F(RebuildFollowTest, JobThatDisappearsWithTheChildOnlineCompleted) {
    auto r = follow({{"running", 10}, {"running", 10}, {"running", 60}, kGone}, {mayastor::CHILD_ONLINE});
    EXPECT_EQ(r.exit, 0) << r.err;
    EXPECT_EQ(r.out, "progress: 10%\nprogress: 60%\nprogress: 100%\n");  // a line per change
    EXPECT_EQ(r.err, "");
    EXPECT_EQ(fake_.state_calls(), 4);
}

TEST_F(RebuildFollowTest, CompletedState) {
    auto r = follow({{"paused", 40}, {"running", 70}, {"completed", 100}}, {mayastor::CHILD_ONLINE});
    EXPECT_EQ(r.exit, 0) << r.err;
    EXPECT_EQ(r.out, "progress: 40%\nprogress: 70%\nprogress: 100%\n");
}

TEST_F(RebuildFollowTest, ChildGoingOnlineAMomentAfterTheJobCompleted) {
    // The store records the child as current before it opens it.
    auto r = follow({{"running", 99}, kGone},
                    {mayastor::CHILD_DEGRADED, mayastor::CHILD_DEGRADED, mayastor::CHILD_ONLINE});
    EXPECT_EQ(r.exit, 0) << r.err;
    EXPECT_EQ(r.out, "progress: 99%\nprogress: 100%\n");
    EXPECT_EQ(fake_.list_calls(), 3);
}

TEST_F(RebuildFollowTest, StoppedJobFails) {
    auto r = follow({{"running", 30}, kGone}, {mayastor::CHILD_DEGRADED});
    EXPECT_EQ(r.exit, 1);
    EXPECT_GT(fake_.list_calls(), 10);  // degraded for the whole settle time
    EXPECT_EQ(r.out, "progress: 30%\n");
    EXPECT_EQ(r.err,
              "Error: GrpcStatus { source: Status { code: Aborted, message: \"rebuild of bdev:///r2 ended "
              "without completing: the child is degraded\" } }\n");
}

TEST_F(RebuildFollowTest, FailedJobFails) {
    auto r = follow({{"running", 30}, {"failed", 30}}, {mayastor::CHILD_FAULTED});
    EXPECT_EQ(r.exit, 1);
    EXPECT_EQ(
        r.err,
        "Error: GrpcStatus { source: Status { code: Internal, message: \"rebuild of bdev:///r2 failed\" } "
        "}\n");
    r = follow({{"running", 30}, kGone}, {mayastor::CHILD_FAULTED});
    EXPECT_EQ(r.exit, 1);
    EXPECT_NE(r.err.find("code: Internal"), std::string::npos) << r.err;
    EXPECT_NE(r.err.find("the child is faulted"), std::string::npos) << r.err;
}

TEST_F(RebuildFollowTest, NoJobAtAllIsTheServersError) {
    auto r = follow({kGone}, {mayastor::CHILD_ONLINE});
    EXPECT_EQ(r.exit, 1);
    EXPECT_EQ(r.out, "");
    EXPECT_EQ(r.err,
              "Error: GrpcStatus { source: Status { code: Internal, message: \"no rebuild job for "
              "bdev:///r2\" } }\n");
    EXPECT_EQ(fake_.state_calls(), 1);
}

TEST_F(RebuildFollowTest, QuietPrintsNothing) {
    auto r = follow({{"running", 50}, {"completed", 100}}, {mayastor::CHILD_ONLINE}, {"-q"});
    EXPECT_EQ(r.exit, 0);
    EXPECT_EQ(r.out, "");
}

TEST(RebuildProgressBar, FillsFortyColumns) {
    EXPECT_EQ(rebuild_progress_bar(0), "\r[" + std::string(40, ' ') + "]   0%");
    EXPECT_EQ(rebuild_progress_bar(50), "\r[" + std::string(20, '#') + std::string(20, ' ') + "]  50%");
    EXPECT_EQ(rebuild_progress_bar(100), "\r[" + std::string(40, '#') + "] 100%");
    EXPECT_EQ(rebuild_progress_bar(250), rebuild_progress_bar(100));
    EXPECT_EQ(rebuild_progress_line(7), "progress: 7%\n");
}

}  // namespace
}  // namespace ms::client
