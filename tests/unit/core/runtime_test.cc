// The runtime: reactor threads (pinned when asked), run_on from ordinary threads, and stop.
#include "core/runtime.h"

#include <gtest/gtest.h>
#include <sched.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "test_util.h"

namespace ms {
namespace {

using namespace std::chrono_literals;
using test::Clock;

TEST(Runtime, OneUnpinnedReactorByDefault) {
    Runtime rt({});
    ASSERT_EQ(rt.size(), 1u);
    EXPECT_EQ(rt.cpu(0), -1);
    EXPECT_EQ(rt.reactor(0).id(), 0u);
    EXPECT_THROW(rt.reactor(1), std::out_of_range);
}

TEST(Runtime, RunOnReturnsValuesAndRunsOnTheReactorThread) {
    Runtime rt({});
    Reactor& r = rt.reactor(0);
    EXPECT_EQ(run_on(r, []() -> Task<int> { co_return 42; }), 42);
    EXPECT_EQ(run_on(r, []() -> Task<std::string> { co_return "text"; }), "text");
    auto p = run_on(r, []() -> Task<std::unique_ptr<int>> { co_return std::make_unique<int>(5); });
    EXPECT_EQ(*p, 5);
    bool ran = false;
    run_on(r, [&]() -> Task<void> {
        ran = true;
        co_return;
    });
    EXPECT_TRUE(ran);
    auto where = run_on(r, [&]() -> Task<std::pair<Reactor*, std::thread::id>> {
        co_return std::pair{Reactor::current(), std::this_thread::get_id()};
    });
    EXPECT_EQ(where.first, &r);
    EXPECT_NE(where.second, std::this_thread::get_id());
}

TEST(Runtime, RunOnKeepsTheLambdaCapturesAliveAcrossSuspension) {
    Runtime rt({});
    std::string prefix = "value:";
    std::string got = run_on(rt.reactor(0), [prefix, n = std::make_shared<int>(7)]() -> Task<std::string> {
        co_await sleep_for(5ms);
        co_await yield();
        co_return prefix + std::to_string(*n);
    });
    EXPECT_EQ(got, "value:7");
}

TEST(Runtime, RunOnManyTimesAndFromManyThreads) {
    Runtime rt({});
    Reactor& r = rt.reactor(0);
    long sum = 0;
    for (int i = 0; i < 2000; ++i) {
        sum += run_on(r, [i]() -> Task<int> { co_return i; });
    }
    EXPECT_EQ(sum, 1999L * 2000 / 2);
    std::atomic<long> total{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < 4; ++t) {
        threads.emplace_back([&] {
            for (int i = 0; i < 500; ++i) {
                total += run_on(r, []() -> Task<int> {
                    co_await yield();
                    co_return 1;
                });
            }
        });
    }
    for (auto& t : threads) {
        t.join();
    }
    EXPECT_EQ(total.load(), 2000);
}

TEST(Runtime, ReactorsArePinnedToTheirCpus) {
    auto cpus = test::two_cpus();
    Runtime rt(test::runtime_options(cpus));
    ASSERT_EQ(rt.size(), 2u);
    for (std::size_t i = 0; i < 2; ++i) {
        EXPECT_EQ(rt.cpu(i), cpus[i]);
        EXPECT_EQ(rt.reactor(i).id(), i);
        auto seen = run_on(rt.reactor(i), []() -> Task<std::pair<int, int>> {
            cpu_set_t set;
            CPU_ZERO(&set);
            sched_getaffinity(0, sizeof set, &set);
            co_return std::pair{sched_getcpu(), CPU_COUNT(&set)};
        });
        EXPECT_EQ(seen.first, cpus[i]);
        EXPECT_EQ(seen.second, 1) << "reactor " << i << " may run on other cpus";
    }
}

TEST(Runtime, ACpuThatCannotBeUsedIsNotFatal) {
    Runtime rt(test::runtime_options({CPU_SETSIZE - 1}));
    EXPECT_EQ(run_on(rt.reactor(0), []() -> Task<int> { co_return 1; }), 1);
}

TEST(Runtime, StopIsIdempotentAndJoins) {
    Runtime rt(test::runtime_options(test::two_cpus()));
    auto tid = run_on(rt.reactor(1), []() -> Task<pid_t> { co_return test::thread_id(); });
    rt.stop();
    EXPECT_TRUE(test::wait_thread_exit(tid, 0ms)) << "stop() must join the reactor threads";
    rt.stop();
}

TEST(Runtime, StopWaitsForSpawnedTasksOnEveryReactor) {
    std::array<bool, 2> finished{};
    {
        Runtime rt(test::runtime_options(test::two_cpus()));
        for (std::size_t i = 0; i < 2; ++i) {
            run_on(rt.reactor(i), [&, i]() -> Task<void> {
                Reactor::current()->spawn([](bool* f) -> Task<void> {
                    for (int k = 0; k < 100; ++k) {
                        co_await yield();
                    }
                    *f = true;
                }(&finished[i]));
                co_return;
            });
        }
    }
    EXPECT_TRUE(finished[0]);
    EXPECT_TRUE(finished[1]);
}

TEST(Runtime, AReactorThatCannotStartMakesTheConstructorThrow) {
    // A queue depth of 0 is refused by io_uring_setup.
    EXPECT_THROW(Runtime(test::runtime_options({}, test::queue_depth_options(0))), std::runtime_error);
    EXPECT_THROW(Runtime(test::runtime_options(test::two_cpus(), test::queue_depth_options(0))),
                 std::runtime_error);
}

}  // namespace
}  // namespace ms
