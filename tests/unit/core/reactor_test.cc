// The reactor: timers, cross-core messages and switches, spawned tasks, shutdown (cancellable
// operations end, block I/O completes), and what idling costs.
#include "core/reactor.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <future>
#include <memory>
#include <optional>
#include <thread>
#include <vector>

#include "core/runtime.h"
#include "test_util.h"

namespace ms {
namespace {

using namespace std::chrono_literals;
using test::Clock;

// A timeout through plain uring_op: block-I/O-like, so shutdown does not cancel it.
Task<int> uring_timeout(std::chrono::milliseconds d) {
    __kernel_timespec ts{};
    ts.tv_sec = d.count() / 1000;
    ts.tv_nsec = (d.count() % 1000) * 1'000'000;
    co_return co_await uring_op([&](io_uring_sqe* sqe) { io_uring_prep_timeout(sqe, &ts, 0, 0); });
}

struct SleepResult {
    bool completed;
    Clock::duration elapsed;
};

Task<SleepResult> timed_sleep(std::chrono::nanoseconds d) {
    auto t0 = Clock::now();
    bool completed = co_await sleep_for(d);
    co_return SleepResult{completed, Clock::now() - t0};
}

TEST(Reactor, CurrentIsNullOffReactor) {
    EXPECT_EQ(Reactor::current(), nullptr);
}

TEST(Reactor, SleepForHonoursTheDuration) {
    Runtime rt({});
    for (std::chrono::nanoseconds d :
         {std::chrono::nanoseconds(100us), std::chrono::nanoseconds(1ms), std::chrono::nanoseconds(10ms),
          std::chrono::nanoseconds(50ms), std::chrono::nanoseconds(1100ms)}) {
        SleepResult r = run_on(rt.reactor(0), [d] { return timed_sleep(d); });
        EXPECT_TRUE(r.completed) << d.count() << " ns";
        EXPECT_GE(r.elapsed, d) << "woke early";
        EXPECT_LT(r.elapsed, d + 500ms) << "woke far too late";
    }
}

TEST(Reactor, SleepForZeroCompletesAtOnce) {
    Runtime rt({});
    SleepResult r = run_on(rt.reactor(0), [] { return timed_sleep(0ns); });
    EXPECT_TRUE(r.completed);
    EXPECT_LT(r.elapsed, 100ms);
}

struct SleepTally {
    int done = 0;
    int failed = 0;
    int early = 0;
};

Task<void> counted_sleep(SleepTally* tally, std::chrono::milliseconds d) {
    auto t0 = Clock::now();
    bool completed = co_await sleep_for(d);
    if (!completed) {
        ++tally->failed;
    }
    if (Clock::now() - t0 < d) {
        ++tally->early;
    }
    ++tally->done;
}

TEST(Reactor, ManyConcurrentSleeps) {
    Runtime rt({});
    SleepTally tally;
    constexpr int kSleeps = 3000;  // more than the ring's queue depth
    auto elapsed = run_on(rt.reactor(0), [&]() -> Task<Clock::duration> {
        auto t0 = Clock::now();
        for (int i = 0; i < kSleeps; ++i) {
            Reactor::current()->spawn(counted_sleep(&tally, std::chrono::milliseconds(1 + i % 50)));
        }
        while (tally.done < kSleeps && Clock::now() - t0 < 10s) {
            co_await sleep_for(5ms);
        }
        co_return Clock::now() - t0;
    });
    EXPECT_EQ(tally.done, kSleeps);
    EXPECT_EQ(tally.failed, 0);
    EXPECT_EQ(tally.early, 0);
    EXPECT_LT(elapsed, 2s) << "concurrent sleeps must overlap";
}

TEST(Reactor, ManySleepsEndingTogether) {
    // More simultaneous completions than the completion queue holds.
    Runtime rt({});
    SleepTally tally;
    constexpr int kSleeps = 6000;
    run_on(rt.reactor(0), [&]() -> Task<void> {
        auto t0 = Clock::now();
        for (int i = 0; i < kSleeps; ++i) {
            Reactor::current()->spawn(counted_sleep(&tally, 20ms));
        }
        while (tally.done < kSleeps && Clock::now() - t0 < 10s) {
            co_await sleep_for(5ms);
        }
    });
    EXPECT_EQ(tally.done, kSleeps);
    EXPECT_EQ(tally.failed, 0);
    EXPECT_EQ(tally.early, 0);
}

struct Where {
    unsigned reactor;
    std::thread::id thread;
};

Where here() {
    return Where{Reactor::current()->id(), std::this_thread::get_id()};
}

TEST(Reactor, SwitchToRunsOnTheTargetReactorThread) {
    Runtime rt(test::runtime_options(test::two_cpus()));
    Reactor& r0 = rt.reactor(0);
    Reactor& r1 = rt.reactor(1);
    Where w0 = run_on(r0, []() -> Task<Where> { co_return here(); });
    Where w1 = run_on(r1, []() -> Task<Where> { co_return here(); });
    ASSERT_EQ(w0.reactor, 0u);
    ASSERT_EQ(w1.reactor, 1u);
    ASSERT_NE(w0.thread, w1.thread);
    ASSERT_NE(w0.thread, std::this_thread::get_id());

    std::vector<Where> trail = run_on(r0, [&]() -> Task<std::vector<Where>> {
        std::vector<Where> t;
        t.push_back(here());
        co_await switch_to(r1);
        t.push_back(here());
        co_await switch_to(r1);  // already there: no-op
        t.push_back(here());
        co_await switch_to(r0);
        t.push_back(here());
        co_return t;
    });
    ASSERT_EQ(trail.size(), 4u);
    EXPECT_EQ(trail[0].reactor, 0u);
    EXPECT_EQ(trail[0].thread, w0.thread);
    EXPECT_EQ(trail[1].reactor, 1u);
    EXPECT_EQ(trail[1].thread, w1.thread);
    EXPECT_EQ(trail[2].reactor, 1u);
    EXPECT_EQ(trail[2].thread, w1.thread);
    EXPECT_EQ(trail[3].reactor, 0u);
    EXPECT_EQ(trail[3].thread, w0.thread);
}

TEST(Reactor, ManySwitchesBackAndForth) {
    Runtime rt(test::runtime_options(test::two_cpus()));
    Reactor& r0 = rt.reactor(0);
    Reactor& r1 = rt.reactor(1);
    int wrong = run_on(r0, [&]() -> Task<int> {
        int wrong = 0;
        for (int i = 0; i < 20000; ++i) {
            Reactor& target = i % 2 == 0 ? r1 : r0;
            co_await switch_to(target);
            if (Reactor::current() != &target) {
                ++wrong;
            }
        }
        co_await switch_to(r0);
        co_return wrong;
    });
    EXPECT_EQ(wrong, 0);
}

Task<unsigned> hop_to(Reactor* target) {
    co_await switch_to(*target);
    co_return Reactor::current()->id();
}

// The awaited task finishes on another reactor's thread, possibly while its awaiter is still
// suspending on this one: the awaiter must be resumed exactly once, on the other reactor.
TEST(Reactor, AwaitedTaskFinishingOnAnotherReactorResumesTheAwaiterThere) {
    Runtime rt(test::runtime_options(test::two_cpus()));
    Reactor& r0 = rt.reactor(0);
    Reactor& r1 = rt.reactor(1);
    auto wrong = run_on(r0, [&]() -> Task<int> {
        int wrong = 0;
        for (int i = 0; i < 20000; ++i) {
            Reactor& from = i % 2 == 0 ? r0 : r1;
            Reactor& to = i % 2 == 0 ? r1 : r0;
            if (Reactor::current() != &from) {
                ++wrong;
            }
            unsigned got = co_await hop_to(&to);
            if (got != to.id() || Reactor::current() != &to) {
                ++wrong;
            }
        }
        co_await switch_to(r0);
        co_return wrong;
    });
    EXPECT_EQ(wrong, 0);
}

TEST(Reactor, PostFromAForeignThreadRunsOnTheReactor) {
    Runtime rt({});
    Reactor& r = rt.reactor(0);
    Where w = run_on(r, []() -> Task<Where> { co_return here(); });
    std::promise<Where> seen;
    std::thread foreign([&] { r.post([&] { seen.set_value(here()); }); });
    Where got = seen.get_future().get();
    foreign.join();
    EXPECT_EQ(got.reactor, 0u);
    EXPECT_EQ(got.thread, w.thread);
}

// An intrusive message: no allocation per post.
class SeqMessage final : public Message {
   public:
    SeqMessage() = default;
    void set(std::vector<int>* last, int* violations, std::atomic<int>* ran, int sender, int seq) {
        _last = last;
        _violations = violations;
        _ran = ran;
        _sender = sender;
        _seq = seq;
    }
    void run() override {
        int& last = (*_last)[_sender];
        if (_seq != last + 1) {
            ++*_violations;
        }
        last = _seq;
        _ran->fetch_add(1, std::memory_order_release);
    }

   private:
    std::vector<int>* _last = nullptr;
    int* _violations = nullptr;
    std::atomic<int>* _ran = nullptr;
    int _sender = 0;
    int _seq = 0;
};

TEST(Reactor, MessagesRunInFifoOrderPerSender) {
    Runtime rt(test::runtime_options(test::two_cpus()));
    Reactor& r0 = rt.reactor(0);
    Reactor& r1 = rt.reactor(1);
    constexpr int kThreads = 4;
    constexpr int kPerSender = 20000;
    constexpr int kSenders = kThreads + 2;  // + r1 + std::function posts
    // Touched only on r0 (by the messages) and read after they all ran.
    std::vector<int> last(kSenders, -1);
    int violations = 0;
    std::atomic<int> ran{0};
    std::vector<std::vector<SeqMessage>> msgs(kSenders, std::vector<SeqMessage>(kPerSender));
    for (int s = 0; s < kSenders; ++s) {
        for (int i = 0; i < kPerSender; ++i) {
            msgs[s][i].set(&last, &violations, &ran, s, i);
        }
    }
    std::vector<std::thread> threads;
    for (int s = 0; s < kThreads; ++s) {
        threads.emplace_back([&, s] {
            for (int i = 0; i < kPerSender; ++i) {
                r0.post(&msgs[s][i]);
            }
        });
    }
    // A reactor as a sender.
    r1.post([&] {
        for (int i = 0; i < kPerSender; ++i) {
            r0.post(&msgs[kThreads][i]);
        }
    });
    // std::function messages from this thread.
    for (int i = 0; i < kPerSender; ++i) {
        r0.post([m = &msgs[kThreads + 1][i]] { m->run(); });
    }
    for (auto& t : threads) {
        t.join();
    }
    ASSERT_TRUE(
        test::eventually([&] { return ran.load(std::memory_order_acquire) == kSenders * kPerSender; }, 20s))
        << ran.load() << " of " << kSenders * kPerSender << " messages ran";
    int v = run_on(r0, [&]() -> Task<int> { co_return violations; });
    EXPECT_EQ(v, 0);
    for (int s = 0; s < kSenders; ++s) {
        EXPECT_EQ(last[s], kPerSender - 1) << "sender " << s;
    }
    uint64_t counted = run_on(r0, [&]() -> Task<uint64_t> { co_return r0.stats().messages; });
    EXPECT_GE(counted, static_cast<uint64_t>(kSenders * kPerSender));
}

Task<void> yielder(std::vector<char>* order, char name, int rounds, int* finished) {
    for (int i = 0; i < rounds; ++i) {
        order->push_back(name);
        co_await yield();
    }
    ++*finished;
}

TEST(Reactor, SpawnedTasksRunAndYieldInterleaves) {
    Runtime rt({});
    std::vector<char> order;
    int finished = 0;
    run_on(rt.reactor(0), [&]() -> Task<void> {
        Reactor::current()->spawn(yielder(&order, 'a', 3, &finished));
        Reactor::current()->spawn(yielder(&order, 'b', 3, &finished));
        while (finished < 2) {
            co_await yield();
        }
    });
    EXPECT_EQ(std::string(order.begin(), order.end()), "ababab");
}

TEST(Reactor, LiveTasksCountsSpawnedTasks) {
    Runtime rt({});
    Reactor& r = rt.reactor(0);
    auto counts = run_on(r, [&]() -> Task<std::array<uint64_t, 3>> {
        uint64_t before = r.live_tasks();  // run_on's own task
        r.spawn([]() -> Task<void> { co_await sleep_for(20ms); }());
        r.spawn([]() -> Task<void> { co_await sleep_for(20ms); }());
        uint64_t during = r.live_tasks();
        co_await sleep_for(100ms);
        co_return std::array<uint64_t, 3>{before, during, r.live_tasks()};
    });
    EXPECT_EQ(counts[1], counts[0] + 2);
    EXPECT_EQ(counts[2], counts[0]);
}

TEST(Reactor, StopWaitsForSpawnedTasks) {
    auto rt = std::make_unique<Runtime>(RuntimeOptions{});
    std::atomic<bool> started{false};
    bool finished = false;
    int res = 0;
    rt->reactor(0).post([&] {
        Reactor::current()->spawn([](std::atomic<bool>* started, bool* finished, int* res) -> Task<void> {
            started->store(true);
            *res = co_await uring_timeout(150ms);
            *finished = true;
        }(&started, &finished, &res));
    });
    ASSERT_TRUE(test::eventually([&] { return started.load(); }, 5s));
    auto t0 = Clock::now();
    rt->stop();
    EXPECT_TRUE(finished);
    EXPECT_EQ(res, -ETIME) << "a non-cancellable operation must run to its end";
    EXPECT_GE(Clock::now() - t0, 100ms);
}

TEST(Reactor, RequestStopCancelsAPendingSleep) {
    auto rt = std::make_unique<Runtime>(RuntimeOptions{});
    std::atomic<bool> started{false};
    std::optional<SleepResult> result;
    rt->reactor(0).post([&] {
        Reactor::current()->spawn(
            [](std::atomic<bool>* started, std::optional<SleepResult>* result) -> Task<void> {
                started->store(true);
                result->emplace(co_await timed_sleep(30s));
            }(&started, &result));
    });
    ASSERT_TRUE(test::eventually([&] { return started.load(); }, 5s));
    std::this_thread::sleep_for(20ms);  // let the timeout reach the kernel
    auto t0 = Clock::now();
    rt->stop();
    auto stop_took = Clock::now() - t0;
    ASSERT_TRUE(result.has_value());
    EXPECT_FALSE(result->completed) << "a sleep cut short by shutdown returns false";
    EXPECT_LT(result->elapsed, 5s);
    EXPECT_LT(stop_took, 2s);
}

TEST(Reactor, SleepAfterStopIsRequestedReturnsAtOnce) {
    auto rt = std::make_unique<Runtime>(RuntimeOptions{});
    std::optional<SleepResult> result;
    rt->reactor(0).post([&] {
        Reactor::current()->spawn([](std::optional<SleepResult>* result) -> Task<void> {
            // Keeps the task alive past the stop request with a non-cancellable wait.
            co_await uring_timeout(100ms);
            result->emplace(co_await timed_sleep(30s));
        }(&result));
        Reactor::current()->request_stop();
    });
    auto t0 = Clock::now();
    rt->stop();
    EXPECT_LT(Clock::now() - t0, 2s);
    ASSERT_TRUE(result.has_value());
    EXPECT_FALSE(result->completed);
    EXPECT_LT(result->elapsed, 1s);
}

struct TempFile {
    std::string path;
    int fd = -1;
    TempFile() {
        const char* dir = std::getenv("TMPDIR");
        path = std::string(dir != nullptr ? dir : "/tmp") + "/ms_reactor_test_XXXXXX";
        fd = ::mkstemp(path.data());
    }
    ~TempFile() {
        if (fd >= 0) {
            ::close(fd);
            ::unlink(path.c_str());
        }
    }
};

TEST(Reactor, StopCompletesEveryFileIoInFlightExactlyOnce) {
    constexpr std::size_t kBlock = 4096;
    constexpr std::size_t kBlocks = 256;
    constexpr int kTasks = 128;
    constexpr int kReadsPerTask = 8;
    TempFile file;
    ASSERT_GE(file.fd, 0);
    std::vector<uint8_t> content(kBlock * kBlocks);
    for (std::size_t i = 0; i < content.size(); ++i) {
        content[i] = static_cast<uint8_t>((i / kBlock) * 31 + i % 251);
    }
    ASSERT_EQ(::pwrite(file.fd, content.data(), content.size(), 0), static_cast<ssize_t>(content.size()));
    int rfd = ::open(file.path.c_str(), O_RDONLY | O_CLOEXEC);
    ASSERT_GE(rfd, 0);

    struct Tally {
        std::array<int, kTasks * kReadsPerTask> completions{};
        int short_or_failed = 0;
        int mismatched = 0;
    } tally;

    auto rt = std::make_unique<Runtime>(RuntimeOptions{});
    std::promise<void> stop_requested;
    rt->reactor(0).post([&] {
        Reactor* r = Reactor::current();
        for (int t = 0; t < kTasks; ++t) {
            r->spawn([](int fd, int t, Tally* tally, const std::vector<uint8_t>* content) -> Task<void> {
                std::vector<uint8_t> buf(kBlock);
                for (int j = 0; j < kReadsPerTask; ++j) {
                    std::size_t block = (static_cast<std::size_t>(t) * kReadsPerTask + j) % kBlocks;
                    off_t off = static_cast<off_t>(block * kBlock);
                    int res = co_await uring_op(
                        [&](io_uring_sqe* sqe) { io_uring_prep_read(sqe, fd, buf.data(), kBlock, off); });
                    ++tally->completions[t * kReadsPerTask + j];
                    if (res != static_cast<int>(kBlock)) {
                        ++tally->short_or_failed;
                    } else if (std::memcmp(buf.data(), content->data() + off, kBlock) != 0) {
                        ++tally->mismatched;
                    }
                }
            }(rfd, t, &tally, &content));
        }
        // Stop while every read is still to be submitted or in flight.
        r->request_stop();
        stop_requested.set_value();
    });
    stop_requested.get_future().wait();
    rt->stop();
    ::close(rfd);
    for (std::size_t i = 0; i < tally.completions.size(); ++i) {
        EXPECT_EQ(tally.completions[i], 1) << "read " << i;
    }
    EXPECT_EQ(tally.short_or_failed, 0);
    EXPECT_EQ(tally.mismatched, 0);
}

TEST(Reactor, IdleReactorSleepsInTheKernel) {
    Runtime rt({});
    Reactor& r = rt.reactor(0);
    auto stats = [&] { return run_on(r, [&]() -> Task<ReactorStats> { co_return r.stats(); }); };
    clockid_t cpu = run_on(r, []() -> Task<clockid_t> { co_return test::this_thread_cpu_clock(); });
    std::this_thread::sleep_for(20ms);
    ReactorStats a = stats();
    auto cpu0 = test::cpu_time(cpu);
    std::this_thread::sleep_for(200ms);
    auto cpu1 = test::cpu_time(cpu);
    ReactorStats b = stats();
    EXPECT_LT(b.loops - a.loops, 20u) << "an idle reactor must not spin";
    EXPECT_GE(b.sleeps - a.sleeps, 1u);
    EXPECT_LT(b.sleeps - a.sleeps, 10u);
    EXPECT_LT(cpu1 - cpu0, 20ms) << "an idle reactor must not burn CPU";
}

TEST(Reactor, ReactorWaitingOnATimerSleepsInTheKernel) {
    Runtime rt({});
    Reactor& r = rt.reactor(0);
    auto d = run_on(r, [&]() -> Task<std::pair<ReactorStats, ReactorStats>> {
        ReactorStats a = r.stats();
        co_await sleep_for(200ms);
        co_return std::pair{a, r.stats()};
    });
    EXPECT_LT(d.second.loops - d.first.loops, 10u);
    EXPECT_GE(d.second.sleeps - d.first.sleeps, 1u);
}

TEST(Reactor, BusyPollSpinsAfterActivityThenSleeps) {
    constexpr auto kWindow = 150ms;
    Runtime rt(test::runtime_options({}, test::busy_poll_options(kWindow)));
    Reactor& r = rt.reactor(0);
    clockid_t cpu = run_on(r, []() -> Task<clockid_t> { co_return test::this_thread_cpu_clock(); });
    struct Window {
        ReactorStats a, b;
        std::chrono::nanoseconds cpu;
    };
    Window w = run_on(r, [&]() -> Task<Window> {
        ReactorStats a = r.stats();
        auto c0 = test::cpu_time(cpu);
        co_await sleep_for(50ms);  // inside the window that the message just opened
        co_return Window{a, r.stats(), test::cpu_time(cpu) - c0};
    });
    EXPECT_GT(w.b.loops - w.a.loops, 1000u) << "busy polling must spin during the window";
    EXPECT_GT(w.cpu, 10ms) << "busy polling burns CPU during the window";

    // Once the window has passed with nothing to do, the reactor sleeps in the kernel.
    std::this_thread::sleep_for(kWindow + 100ms);
    auto c0 = test::cpu_time(cpu);
    std::this_thread::sleep_for(200ms);
    auto idle_cpu = test::cpu_time(cpu) - c0;
    EXPECT_LT(idle_cpu, 20ms) << "busy polling must stop after the window";
    ReactorStats after = run_on(r, [&]() -> Task<ReactorStats> { co_return r.stats(); });
    EXPECT_GT(after.sleeps, w.b.sleeps);
}

TEST(Reactor, NoBusyPollMeansNoSpinningWhileWaiting) {
    Runtime rt({});
    Reactor& r = rt.reactor(0);
    auto d = run_on(r, [&]() -> Task<uint64_t> {
        uint64_t a = r.stats().loops;
        co_await sleep_for(50ms);
        co_return r.stats().loops - a;
    });
    EXPECT_LT(d, 10u);
}

Task<void> ends_elsewhere(Reactor* other, std::atomic<bool>* ended) {
    co_await switch_to(*other);
    co_await uring_timeout(100ms);
    ended->store(true);
}

// A task spawned on r0 that finishes on r1 must still let r0 see it finish: r0 is stopping and
// asleep in the kernel, waiting for its last spawned task.
TEST(Reactor, StoppingReactorNoticesItsTaskEndingOnAnotherReactor) {
    Runtime rt(test::runtime_options(test::two_cpus()));
    Reactor& r0 = rt.reactor(0);
    Reactor& r1 = rt.reactor(1);
    pid_t tid0 = run_on(r0, []() -> Task<pid_t> { co_return test::thread_id(); });
    std::atomic<bool> ended{false};
    r0.post([&] { Reactor::current()->spawn(ends_elsewhere(&r1, &ended)); });
    r0.request_stop();
    ASSERT_TRUE(test::eventually([&] { return ended.load(); }, 5s));
    bool exited = test::wait_thread_exit(tid0, 3s);
    EXPECT_TRUE(exited) << "reactor 0 never finished: its spawned task ended on reactor 1 unnoticed";
    if (!exited) {
        r0.post([] {});  // wake it so that the runtime can be stopped
    }
    rt.stop();
}

TEST(Reactor, RunsOnTheThreadThatCreatedIt) {
    int steps = 0;
    {
        Reactor r(7, ReactorOptions{});
        EXPECT_EQ(Reactor::current(), &r);
        EXPECT_EQ(r.id(), 7u);
        EXPECT_THROW({ Reactor second(8, ReactorOptions{}); }, std::logic_error)
            << "a thread owns at most one reactor";
        EXPECT_EQ(Reactor::current(), &r);
        r.spawn([](int* steps) -> Task<void> {
            ++*steps;
            co_await sleep_for(5ms);
            ++*steps;
            co_await yield();
            ++*steps;
            Reactor::current()->request_stop();
        }(&steps));
        EXPECT_FALSE(r.stopping());
        r.run();
        EXPECT_TRUE(r.stopping());
        EXPECT_EQ(r.live_tasks(), 0u);
        EXPECT_EQ(r.inflight(), 0u);
    }
    EXPECT_EQ(steps, 3);
    EXPECT_EQ(Reactor::current(), nullptr);
}

TEST(Reactor, StopRequestedBeforeRunStillRunsQueuedWork) {
    int ran = 0;
    Reactor r(0, ReactorOptions{});
    r.post([&] { ++ran; });
    r.spawn([](int* ran) -> Task<void> {
        ++*ran;
        co_return;
    }(&ran));
    r.request_stop();
    r.run();
    EXPECT_EQ(ran, 2);
}

}  // namespace
}  // namespace ms
