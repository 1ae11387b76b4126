// Signals on the reactor: a blocked signal sent to the process is received by wait_for_signal.
#include "core/signals.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <optional>
#include <thread>

#include "core/reactor.h"
#include "core/runtime.h"
#include "test_util.h"

namespace ms {
namespace {

using namespace std::chrono_literals;
using test::Clock;

// Blocks the signals in this (the main) thread before any reactor thread starts, so that every
// thread of the process has them blocked, and unblocks them at the end.
class Signals : public ::testing::Test {
   protected:
    void SetUp() override { block_signals({SIGUSR1, SIGUSR2}); }
    void TearDown() override {
        // Nothing may be left pending: unblocking would then run the default action (exit).
        sigset_t pending;
        sigpending(&pending);
        EXPECT_FALSE(sigismember(&pending, SIGUSR1));
        EXPECT_FALSE(sigismember(&pending, SIGUSR2));
        sigset_t set;
        sigemptyset(&set);
        sigaddset(&set, SIGUSR1);
        sigaddset(&set, SIGUSR2);
        if (!sigismember(&pending, SIGUSR1) && !sigismember(&pending, SIGUSR2)) {
            pthread_sigmask(SIG_UNBLOCK, &set, nullptr);
        }
    }
};

TEST_F(Signals, BlockSignalsBlocksThem) {
    sigset_t current;
    pthread_sigmask(SIG_BLOCK, nullptr, &current);
    EXPECT_TRUE(sigismember(&current, SIGUSR1));
    EXPECT_TRUE(sigismember(&current, SIGUSR2));
}

TEST_F(Signals, WaitForSignalReceivesSigusr1) {
    Runtime rt({});
    std::atomic<bool> started{false};
    std::optional<Result<int>> got;
    rt.reactor(0).post([&] {
        Reactor::current()->spawn(
            [](std::atomic<bool>* started, std::optional<Result<int>>* got) -> Task<void> {
                started->store(true);
                // Made apart from the co_await: GCC 12 cannot keep a braced list's array in a
                // coroutine frame ("array used as initializer"). The list dies before the task starts.
                Task<Result<int>> wait = wait_for_signal({SIGUSR1, SIGTERM});
                got->emplace(co_await std::move(wait));
            }(&started, &got));
    });
    ASSERT_TRUE(test::eventually([&] { return started.load(); }, 5s));
    std::this_thread::sleep_for(20ms);  // let the read reach the kernel
    ASSERT_EQ(::kill(::getpid(), SIGUSR1), 0);
    rt.stop();  // would wait for ever, were the signal not received (it is cancelled otherwise)
    ASSERT_TRUE(got.has_value());
    ASSERT_TRUE(got->has_value()) << got->error().message;
    EXPECT_EQ(**got, SIGUSR1);
}

TEST_F(Signals, SignalSentBeforeTheWaitIsNotLost) {
    ASSERT_EQ(::kill(::getpid(), SIGUSR2), 0);  // stays pending: it is blocked
    auto rt = std::make_unique<Runtime>(RuntimeOptions{});
    std::optional<Result<int>> got;
    rt->reactor(0).post([&] {
        Reactor::current()->spawn([](std::optional<Result<int>>* got) -> Task<void> {
            // The task is made by a plain function whose braced list is gone when it starts.
            auto make = [] { return wait_for_signal({SIGUSR1, SIGUSR2}); };
            Task<Result<int>> wait = make();
            got->emplace(co_await std::move(wait));
        }(&got));
    });
    // Bounded: were the list misread, the wait would never end by itself.
    bool received = test::eventually(
        [&] { return run_on(rt->reactor(0), [&]() -> Task<bool> { co_return got.has_value(); }); }, 3s);
    rt->stop();
    EXPECT_TRUE(received);
    ASSERT_TRUE(got.has_value());
    ASSERT_TRUE(got->has_value()) << got->error().message;
    EXPECT_EQ(**got, SIGUSR2);
}

TEST_F(Signals, WaitIsCancelledAtShutdown) {
    auto rt = std::make_unique<Runtime>(RuntimeOptions{});
    std::atomic<bool> started{false};
    std::optional<Result<int>> got;
    rt->reactor(0).post([&] {
        Reactor::current()->spawn(
            [](std::atomic<bool>* started, std::optional<Result<int>>* got) -> Task<void> {
                started->store(true);
                Task<Result<int>> wait = wait_for_signal({SIGUSR1});
                got->emplace(co_await std::move(wait));
            }(&started, &got));
    });
    ASSERT_TRUE(test::eventually([&] { return started.load(); }, 5s));
    std::this_thread::sleep_for(20ms);
    auto t0 = Clock::now();
    rt->stop();
    EXPECT_LT(Clock::now() - t0, 2s);
    ASSERT_TRUE(got.has_value());
    ASSERT_FALSE(got->has_value());
    EXPECT_EQ(got->error().code, ECANCELED) << got->error().message;
}

}  // namespace
}  // namespace ms
