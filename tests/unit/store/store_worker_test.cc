// The store's executor: blocking work on one worker thread, the awaiting coroutine back on its
// own reactor.
#include "store/store_worker.h"

#include <gtest/gtest.h>

#include <atomic>
#include <future>
#include <set>

#include "../core/test_util.h"

namespace ms::test {
namespace {

using store::StoreWorker;

struct Where {
    Reactor* job_reactor = nullptr;  // Reactor::current() inside the job
    pid_t job_thread = 0;
    Reactor* resumed_on = nullptr;  // Reactor::current() after the co_await
    int value = 0;
};

Task<Where> call_and_see(StoreWorker& worker, int x) {
    Where w;
    w.value = co_await worker.call<int>([&w, x] {
        w.job_reactor = Reactor::current();
        w.job_thread = thread_id();
        return x * 2;
    });
    w.resumed_on = Reactor::current();
    co_return w;
}

TEST(StoreWorker, RunsTheJobOffTheReactorAndResumesOnTheCallersReactor) {
    Runtime rt(runtime_options(two_cpus()));
    StoreWorker worker("test_worker");
    for (std::size_t r = 0; r < rt.size(); ++r) {
        Where w = run_on(rt.reactor(r), [&worker] { return call_and_see(worker, 21); });
        EXPECT_EQ(w.value, 42);
        EXPECT_EQ(w.job_reactor, nullptr) << "the job ran on a reactor";
        EXPECT_NE(w.job_thread, thread_id());
        EXPECT_EQ(w.resumed_on, &rt.reactor(r));
    }
}

TEST(StoreWorker, OneThreadRunsJobsInSubmissionOrder) {
    StoreWorker worker("test_worker");
    std::vector<int> order;
    std::set<pid_t> threads;
    for (int i = 0; i < 100; ++i) {
        worker.submit([&order, &threads, i] {
            order.push_back(i);
            threads.insert(thread_id());
        });
    }
    worker.drain();
    ASSERT_EQ(order.size(), 100u);
    for (int i = 0; i < 100; ++i) {
        EXPECT_EQ(order[i], i);
    }
    EXPECT_EQ(threads.size(), 1u);
}

TEST(StoreWorker, ManyConcurrentCallersAllComeBack) {
    Runtime rt(runtime_options(two_cpus()));
    StoreWorker worker("test_worker");
    std::atomic<int> sum{0};
    auto many = [&](std::size_t r) -> Task<void> {
        for (int i = 0; i < 50; ++i) {
            Where w = co_await call_and_see(worker, i);
            EXPECT_EQ(w.resumed_on, &rt.reactor(r));
            sum += w.value;
        }
    };
    std::vector<std::thread> threads;
    for (std::size_t r = 0; r < rt.size(); ++r) {
        threads.emplace_back([&, r] { run_on(rt.reactor(r), [&many, r] { return many(r); }); });
    }
    for (auto& t : threads) {
        t.join();
    }
    EXPECT_EQ(sum.load(), static_cast<int>(rt.size()) * 2 * (49 * 50 / 2));
}

// Off-reactor the call runs inline: the coroutine finishes without any reactor.
TEST(StoreWorker, OffReactorTheCallRunsInline) {
    StoreWorker worker("test_worker");
    Task<Where> t = call_and_see(worker, 5);
    t.handle().resume();
    ASSERT_TRUE(t.done());
    Where w = t.handle().promise().take();
    EXPECT_EQ(w.value, 10);
    EXPECT_EQ(w.job_thread, thread_id());
    EXPECT_EQ(w.resumed_on, nullptr);
}

TEST(StoreWorker, DestructionRunsWhatWasQueued) {
    std::atomic<int> ran{0};
    {
        StoreWorker worker("test_worker");
        std::promise<void> release;
        auto gate = release.get_future().share();
        worker.submit([gate] { gate.wait(); });
        for (int i = 0; i < 10; ++i) {
            worker.submit([&ran] { ++ran; });
        }
        release.set_value();
    }
    EXPECT_EQ(ran.load(), 10);
}

}  // namespace
}  // namespace ms::test
