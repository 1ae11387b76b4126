// all_of: every task runs, results land in their slots, the awaiter resumes once, whether the
// tasks finish at once, later, or on another reactor.
#include "nexus/fan_out.h"

#include <gtest/gtest.h>

#include <array>

#include "core/runtime.h"

namespace ms::nexus {
namespace {

Task<int> now(int v) {
    co_return v;
}

Task<int> later(int v) {
    co_await yield();
    co_await yield();
    co_return v * 10;
}

Task<int> elsewhere(Reactor* other, int v) {
    co_await switch_to(*other);
    co_return v * 100;
}

RuntimeOptions two() {
    RuntimeOptions o;
    o.cpus = {0, 1};
    return o;
}

TEST(FanOutTest, EmptySynchronousAsynchronousAndRemote) {
    Runtime rt(two());
    Reactor* other = &rt.reactor(1);
    auto out = run_on(rt.reactor(0), [other]() -> Task<std::vector<int>> {
        std::vector<int> got;
        std::array<int, 6> r{};
        co_await all_of(std::span<int>(r.data(), 0), [](std::size_t) { return now(1); });
        co_await all_of(std::span<int>(r.data(), 3),
                        [](std::size_t i) { return now(static_cast<int>(i) + 1); });
        got.insert(got.end(), r.begin(), r.begin() + 3);
        Reactor* home = Reactor::current();
        co_await all_of(std::span<int>(r), [other](std::size_t i) {
            int v = static_cast<int>(i) + 1;
            return i % 3 == 0 ? now(v) : i % 3 == 1 ? later(v) : elsewhere(other, v);
        });
        got.insert(got.end(), r.begin(), r.end());
        got.push_back(Reactor::current() == home ? 1 : 0);
        co_return got;
    });
    std::vector<int> expected{1, 2, 3, 1, 20, 300, 4, 50, 600, 1};
    EXPECT_EQ(out, expected);
}

TEST(FanOutTest, ManyRounds) {
    Runtime rt(two());
    Reactor* other = &rt.reactor(1);
    auto sum = run_on(rt.reactor(0), [other]() -> Task<long> {
        long total = 0;
        for (int round = 0; round < 2000; ++round) {
            std::array<int, 4> r{};
            co_await all_of(std::span<int>(r), [other, round](std::size_t i) {
                return (round + i) % 2 == 0 ? later(1) : elsewhere(other, 1);
            });
            for (int v : r) {
                total += v;
            }
        }
        co_return total;
    });
    EXPECT_EQ(sum, 2000L * (2 * 10 + 2 * 100));
}

}  // namespace
}  // namespace ms::nexus
